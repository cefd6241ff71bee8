"""samples/python: counts the words of its arguments (or of standard input)."""

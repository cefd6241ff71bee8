"""A box around a line of text."""


def banner(text: str) -> str:
    line = "+" + "-" * (len(text) + 2) + "+"
    return f"{line}\n| {text} |\n{line}"

"""A small Python package run from inside a XAR: code and data come from the image."""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def words():
    """The words of the data file shipped inside the package."""
    return (DATA / "words.txt").read_text(encoding="utf-8").split()

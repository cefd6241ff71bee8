"""wordcount [--about] [--exit N] [--spawn] [WORDS...]: counts words, without the stop words, most common first."""
import collections
import importlib.metadata
import importlib.resources
import sys

# Set up by the *-nspkg.pth file of xarsample-banner when site processed the directory, if it did.
NAMESPACE_FROM_PTH = "xarsample" in sys.modules

import fastcount  # noqa: E402  (the C extension)
from xarsample.banner import banner  # noqa: E402  (the namespace package)


def stop_words() -> set[str]:
    text = importlib.resources.files("wordcount").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return set(text.split())


def about() -> None:
    version = importlib.metadata.version
    print(f"wordcount {version('wordcount')} (fastcount {version('fastcount')}, xarsample-banner {version('xarsample-banner')})")
    print(f"argv0: {sys.argv[0]}")
    print(f"fastcount: {fastcount.__file__}")
    print(f"namespace: {'xarsample from nspkg.pth' if NAMESPACE_FROM_PTH else 'xarsample imported late'}")
    scripts = [e.name for e in importlib.metadata.entry_points(group="console_scripts") if e.value.startswith("wordcount")]
    print(f"console scripts: {' '.join(scripts)}")


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--about"]:
        about()
        return 0
    if args[:1] == ["--exit"] and len(args) == 2:
        return int(args[1])
    if args[:1] == ["--spawn"]:
        # The C extension called in a child process started afresh (multiprocessing's spawn), not forked.
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            print(f"spawned: {pool.apply(fastcount.count_words, (' '.join(args[1:]),))}")
        return 0
    text = " ".join(args) if args else sys.stdin.read()
    stop = stop_words()
    counts = collections.Counter(w for w in text.lower().split() if w not in stop)
    print(banner(f"{fastcount.count_words(text)} words, {len(counts)} distinct"))
    for word, n in counts.most_common(3):
        print(f"{n} {word}")
    return 0

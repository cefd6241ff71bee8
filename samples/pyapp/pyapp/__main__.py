import collections
import os
import sys

import pyapp


def main(argv):
    words = pyapp.words()
    counts = collections.Counter(w.lower().strip(".,") for w in words)
    print(f"pyapp: {len(words)} words, {len(counts)} distinct; most common: "
          + ", ".join(f"{w} ({n})" for w, n in counts.most_common(3)))
    print(f"imported from: {os.path.dirname(pyapp.__file__)}")
    print(f"python: {sys.executable} {sys.version.split()[0]}")
    if argv:
        print("arguments: " + " ".join(f"[{a}]" for a in argv))
    return 0


sys.exit(main(sys.argv[1:]))

#!/usr/bin/env bash
# bench/python.sh: how fast a `xar python` file starts (not in CI; needs root or FUSE, python3 with pip,
# venv, setuptools, wheel, gcc and its headers: make deps).
#   sample = samples/python (wordcount: a console script, a C extension, a namespace package), run as `wordcount a b c`
#   stdlib = a one-module app that imports much of the standard library (json, email, http, asyncio, decimal,
#            argparse, logging, xml, csv, sqlite3, ssl, ...) and prints one line
#   pip    = pip itself (the interpreter's own pip wheel: Debian's python-wheels or ensurepip's), run as
#            `pip list --no-index`: a pure-Python app of some 700 modules, where a zipapp compiles what it imports
# Each app, in the same interleaved rounds (BENCH_ROUNDS, default 20; each command once per round, after
# 3 warm-up runs), median wall time and mean CPU time (user + system) in ms:
#   xar warm     xarexec APP.xar (mounted by an earlier run)
#   xar cached   XAR_EXTRACT=1 xarexec APP.xar (extracted into the cache by an earlier run)
#   xar bundled  the --bundle-python build, warm (its standard library from the image too)
#   venv         the same app installed by pip into a venv on local disk, its console script / python -m
#   zipapp       the same app as `python3 -m zipapp` makes it (dependencies installed into it; .so files
#                cannot be imported from a zip, so the sample, with its C extension, has none)
# and, apart (BENCH_COLD_RUNS, default 10), the first run after a fresh mount (unmounted before each run).
# Targets (issue 13): xar warm <= 1.0 x venv, <= 0.5 x zipapp.
# The interpreter is BENCH_PYTHON (default /usr/bin/python3, not a version manager's shim).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
BIN=${XAR_BIN:-$(cd .. && pwd)/out/bin}
WORK=${BENCH_WORK:-$HERE/work}/python
PY=${BENCH_PYTHON:-/usr/bin/python3}
ROUNDS=${BENCH_ROUNDS:-20}
COLD=${BENCH_COLD_RUNS:-10}
for t in "$PY" gcc fusermount3; do command -v "$t" >/dev/null || { echo "python.sh: needs $t" >&2; exit 1; }; done
[[ -x $BIN/xarexec && -e $BIN/xar ]] || { echo "python.sh: no xar/xarexec in $BIN (make publish)" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/mnt" "$WORK/cache" "$WORK/src"
chmod 1777 "$WORK/mnt"
export XAR_MOUNT_ROOT="$WORK/mnt" XAR_CACHE_DIR="$WORK/cache" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
unset XAR_EXTRACT XAR_MOUNT_SEED XAR_MOUNT_TIMEOUT
cleanup() { for m in "$WORK"/mnt/uid-*/*; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m"; done; rm -rf "$WORK"; }
trap cleanup EXIT

# The stdlib-heavy app, a project of its own.
mkdir -p "$WORK/src/stdheavy"
cat > "$WORK/src/stdheavy/stdheavy.py" <<'PY'
import argparse, asyncio, csv, dataclasses, datetime, decimal, email.parser, http.client, json, logging
import pathlib, sqlite3, ssl, subprocess, tarfile, typing, unittest.mock, urllib.request, uuid, xml.etree.ElementTree, zipfile


def main():
    print(json.dumps({"decimal": str(decimal.Decimal("1.1") * 3), "uuid": len(str(uuid.UUID(int=0)))}))
    return 0
PY
cat > "$WORK/src/stdheavy/setup.py" <<'PY'
from setuptools import setup
setup(name="stdheavy", version="1.0", py_modules=["stdheavy"], entry_points={"console_scripts": ["stdheavy = stdheavy:main"]})
PY
cp -r "$HERE/../samples/python/." "$WORK/src/"
"$PY" -m pip wheel -q --no-index --no-build-isolation --no-deps -w "$WORK/wheels" \
    "$WORK/src/fastcount" "$WORK/src/banner" "$WORK/src/wordcount" "$WORK/src/stdheavy" >/dev/null
PIPWHEEL=$(ls /usr/share/python-wheels/pip-*.whl 2>/dev/null | head -n1 || true)
[[ -n $PIPWHEEL ]] || PIPWHEEL=$(ls "$("$PY" -c 'import ensurepip, os; print(os.path.dirname(ensurepip.__file__))')"/_bundled/pip-*.whl | head -n1)
for app in wordcount stdheavy pip; do
    case $app in
        pip) what=("$PIPWHEEL"); main=pip._internal.cli.main ;;
        wordcount) what=(--find-links "$WORK/wheels" wordcount); main=wordcount.cli ;;
        *) what=(--find-links "$WORK/wheels" $app); main=$app ;;
    esac
    "$BIN/xar" python --no-index "${what[@]}" -o "$WORK/$app.xar" --console-script $app --python "$PY" -q
    "$BIN/xar" python --no-index "${what[@]}" -o "$WORK/$app-bundled.xar" --console-script $app --python "$PY" --bundle-python -q
    "$PY" -m venv "$WORK/venv-$app"   # has pip already (the same wheel)
    [[ $app == pip ]] || "$WORK/venv-$app/bin/pip" install -q --no-index "${what[@]}"
    "$PY" -m pip install -q --no-index --target "$WORK/zip-$app" --no-compile "${what[@]}"
    rm -rf "$WORK/zip-$app/bin"
    printf 'import sys\nfrom %s import main\nsys.exit(main())\n' "$main" > "$WORK/zip-$app/__main__.py"
    "$PY" -m zipapp "$WORK/zip-$app" -o "$WORK/$app.pyz" -p "$PY"
done

"$PY" - "$WORK" "$BIN" "$ROUNDS" "$COLD" <<'PY'
import os, statistics, subprocess, sys, time
work, bin_, rounds, cold_runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env = dict(os.environ, PATH=f"{bin_}:/usr/bin:/bin")
xarexec = f"{bin_}/xarexec"
args = {"wordcount": ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"], "stdheavy": [], "pip": ["list", "--no-index"]}

def run(cmd, extra=None):
    """Wall and CPU (user + system of the children) time of one run, in ms; the output must be what it should."""
    e = dict(env, **(extra or {}))
    before = os.times()
    start = time.perf_counter()
    p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = (time.perf_counter() - start) * 1000
    after = os.times()
    if p.returncode != 0:
        raise SystemExit(f"python.sh: {' '.join(cmd)}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-400:]}")
    return wall, (after.children_user - before.children_user + after.children_system - before.children_system) * 1000

def mount_of(xar):
    return subprocess.run([xarexec, "-n", xar], env=env, stdout=subprocess.PIPE, text=True).stdout.strip()

rows = []
for app in ("wordcount", "stdheavy", "pip"):
    a = args[app]
    xar, bundled = f"{work}/{app}.xar", f"{work}/{app}-bundled.xar"
    commands = {
        "xar warm": ([xarexec, xar] + a, None),
        "xar cached": ([xarexec, xar] + a, {"XAR_EXTRACT": "1"}),
        "xar bundled": ([xarexec, bundled] + a, None),
        "venv": ([f"{work}/venv-{app}/bin/{app}"] + a, None),
    }
    zip_ok = subprocess.run([f"{work}/{app}.pyz"] + a, env=env, capture_output=True).returncode == 0
    if zip_ok:
        commands["zipapp"] = ([f"{work}/{app}.pyz"] + a, None)
    for name, (cmd, extra) in commands.items():
        for _ in range(3):
            run(cmd, extra)
    times = {name: [] for name in commands}
    for _ in range(rounds):
        for name, (cmd, extra) in commands.items():
            times[name].append(run(cmd, extra))
    cold = []
    mnt = mount_of(xar)
    for _ in range(cold_runs):
        subprocess.run(["fusermount3", "-u", "-z", mnt], stderr=subprocess.DEVNULL)
        cold.append(run([xarexec, xar] + a))
    med = {name: (statistics.median(w for w, _ in t), statistics.mean(c for _, c in t)) for name, t in times.items()}
    med["xar first run after mount"] = (statistics.median(w for w, _ in cold), statistics.mean(c for _, c in cold))
    rows.append((app, med, zip_ok))

print(f"| app | {' | '.join(['xar warm', 'xar cached', 'xar bundled', 'xar first run after mount', 'venv', 'zipapp', 'warm/venv', 'warm/zipapp'])} |")
print("|" + " --- |" * 9)
for app, med, zip_ok in rows:
    cells = [f"{med[n][0]:.1f}/{med[n][1]:.1f}" for n in ("xar warm", "xar cached", "xar bundled", "xar first run after mount", "venv")]
    cells.append(f"{med['zipapp'][0]:.1f}/{med['zipapp'][1]:.1f}" if zip_ok else "cannot run (a C extension does not load from a zip)")
    cells.append(f"{med['xar warm'][0] / med['venv'][0]:.2f}")
    cells.append(f"{med['xar warm'][0] / med['zipapp'][0]:.2f}" if zip_ok else "-")
    print(f"| {app} | {' | '.join(cells)} |")
print(f"\nCells: median wall ms / mean CPU ms (user + system) of {rounds} interleaved runs (first run after mount: {cold_runs} runs).")
print(f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs).")
PY

# bench/lib.sh: what the launcher benchmarks share; sourced by launch.sh and frontends.sh (not run by itself).
# The sourcing script sets BIN (xar and xarexec), WORK (its work folder), RUNS and ROUNDS first.

# require_tools SCRIPT TOOL...: stops unless every tool is on PATH and xar/xarexec are in $BIN.
require_tools() {
    local script=$1 t; shift
    for t in "$@"; do command -v "$t" >/dev/null || { echo "$script: needs $t" >&2; exit 1; }; done
    [[ -x $BIN/xarexec && -e $BIN/xar ]] || { echo "$script: no xar/xarexec in $BIN (make publish)" >&2; exit 1; }
}

# launcher_sandbox: a fresh $WORK with a mount root (mode 1777) and a cache of its own for the launcher, $BIN first
# on PATH and no inherited XAR_* settings; on exit, whatever is mounted there is unmounted and $WORK removed (cleanup).
launcher_sandbox() {
    rm -rf "$WORK"
    mkdir -p "$WORK/mnt" "$WORK/cache"
    chmod 1777 "$WORK/mnt"
    export PATH="$BIN:$PATH" XAR_MOUNT_ROOT="$WORK/mnt" XAR_CACHE_DIR="$WORK/cache"
    unset XAR_EXTRACT XAR_MOUNT_SEED XAR_MOUNT_TIMEOUT
    trap cleanup EXIT
}
cleanup() { for m in "$WORK"/mnt/uid-*/*; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m"; done; rm -rf "$WORK"; }

# median NAME ARGS...: runs hyperfine, prints "MEDIAN_MS/CPU_MS": the median wall time, and the mean
# CPU time (user + system), which a machine shared with other work disturbs far less.
median() {
    local name=$1; shift
    hyperfine -N --style none --export-json "$WORK/$name.json" "$@" >/dev/null 2>&1 \
        || hyperfine -N --export-json "$WORK/$name.json" "$@" >&2
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.2f/%.2f" % (r["median"] * 1000, (r["user"] + r["system"]) * 1000))' "$WORK/$name.json"
}

# interleaved NAME=CMD...: ROUNDS rounds, each running every command RUNS/ROUNDS times in turn, so a
# slow drift of the machine (other work, page cache, the VM's memory daemon) hits all of them
# alike; prints "NAME MEDIAN_MS/CPU_MS" per command: the median of the rounds' medians, mean CPU.
interleaved() {
    local r spec per=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
    for ((r = 0; r < ROUNDS; r++)); do
        for spec in "$@"; do
            median "${spec%%=*}-r$r" -w 3 -r "$per" "${spec#*=}" >/dev/null
        done
    done
    for spec in "$@"; do
        python3 - "$WORK" "${spec%%=*}" "$ROUNDS" <<'PY'
import json, statistics, sys
work, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
rs = [json.load(open(f"{work}/{name}-r{r}.json"))["results"][0] for r in range(rounds)]
print("%s %.2f/%.2f" % (name, statistics.median(r["median"] for r in rs) * 1000,
                        statistics.mean(r["user"] + r["system"] for r in rs) * 1000))
PY
    done
}

# value NAME < interleaved output: the measurement of NAME ("MEDIAN_MS/CPU_MS"); wall and cpu: either part.
value() { awk -v n="$1" '$1 == n { print $2 }'; }
wall() { value "$1" | cut -d/ -f1; }
cpu() { value "$1" | cut -d/ -f2; }

# ratio A B: A / B to two decimals.
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

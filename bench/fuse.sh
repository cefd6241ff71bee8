#!/usr/bin/env bash
# bench/fuse.sh - the built-in FUSE server (xarexec --fuse-serve) side by side with squashfuse_ll,
# and the kernel's squashfs (loop mount) as the floor, on the same images, in one run:
#   read    python-stdlib: every file read once, in find's order (find -print0 | xargs -0 cat)
#   import  python-stdlib as the interpreter's whole stdlib (PYTHONHOME on the mount), cold:
#           python3 -S -c 'import json, email, http.client, asyncio'
#   find    dotnet-sdk: find -ls of the whole tree
#   RSS     peak resident memory of the server process (VmHWM), over all its runs
# Every measurement starts cold: a fresh mount and `sync; echo 3 > /proc/sys/vm/drop_caches`.
# The three readers take turns within each round (RUNS rounds, default 5); medians are printed,
# then the ratios to squashfuse_ll. Targets (issue #11): read <= 0.6, import and find <= 1.0,
# server RSS <= 64 MiB.
#
# Usage: bench/fuse.sh      (root: mounts and drop_caches; not part of CI)
# Environment: XAR_BIN (dir with xar and xarexec; default ../out/bin), BENCH_WORK (default
#   bench/work; corpora are built into $BENCH_WORK/corpora by corpus.sh when missing, images into
#   $BENCH_WORK/fuse), RUNS (default 5), COMP (xar pack codec; default zstd), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")"
BIN=${XAR_BIN:-$(cd .. && pwd)/out/bin}
WORK=${BENCH_WORK:-$(pwd)/work}
RUNS=${RUNS:-5}
COMP=${COMP:-zstd}
PYTHON=$(command -v "${PYTHON:-python3}")
[[ $(id -u) -eq 0 ]] || { echo "fuse.sh: needs root (loop mounts, drop_caches)" >&2; exit 1; }
[[ -x $BIN/xarexec && -e $BIN/xar ]] || { echo "fuse.sh: no xar/xarexec in $BIN (make publish)" >&2; exit 1; }
command -v squashfuse_ll >/dev/null || { echo "fuse.sh: needs squashfuse_ll" >&2; exit 1; }
# The interpreter itself, not a wrapper (pyenv's shims are shell scripts).
PYTHON=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

T=$WORK/fuse
mkdir -p "$T"
for c in python-stdlib dotnet-sdk; do
    [[ -d $WORK/corpora/$c ]] || bash corpus.sh "$WORK/corpora" "$c" >/dev/null
    [[ -f $T/$c.sqfs ]] || "$BIN/xar" pack "$WORK/corpora/$c" -o "$T/$c.sqfs" --format squashfs -c "$COMP" -q
done
MNT=$T/mnt
mkdir -p "$MNT"
# PYTHONHOME=$T/home finds the stdlib at lib/pythonX.Y, which is the mount.
mkdir -p "$T/home/lib"
ln -sfn "$MNT" "$T/home/lib/python$PYVER"

PID=
unmount() { if mountpoint -q "$MNT"; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; fi; }
trap 'unmount; rm -rf "$T/home"' EXIT

# mount READER IMAGE: mounts, sets PID to the server's pid (empty for the kernel)
mount_with() {
    unmount
    case $1 in
        xar)
            "$BIN/xarexec" --fuse-serve --image-fd 3 --timeout 0 -- "$MNT" 3<"$2"
            PID=$(pgrep -n -x xarexec-fuse) ;;
        squashfuse_ll)
            squashfuse_ll "$2" "$MNT"
            PID=$(pgrep -n -x squashfuse_ll) ;;
        kernel)
            mount -t squashfs -o loop,ro "$2" "$MNT"
            PID= ;;
    esac
}

# cold TEST READER IMAGE COMMAND...: fresh mount, dropped caches; appends the wall seconds of COMMAND
# to TIMES[READER.TEST] and the server's peak RSS to PEAK[READER]
cold() {
    local test=$1; shift
    local reader=$1 image=$2; shift 2
    mount_with "$reader" "$image"
    sync; echo 3 > /proc/sys/vm/drop_caches
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    if [[ -n $PID ]]; then
        local hwm
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
        (( hwm > ${PEAK[$reader]:-0} )) && PEAK[$reader]=$hwm
    fi
    unmount
    TIMES[$reader.$test]+="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }') "
}

read_all() ( cd "$MNT" && find . -type f -print0 | xargs -0 cat )
import_cold() ( cd / && PYTHONHOME=$T/home "$PYTHON" -S -c 'import json, email, http.client, asyncio' )
find_ls() ( find "$MNT" -ls )

declare -A PEAK TIMES
READERS=(xar squashfuse_ll kernel)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); images: $COMP, xar pack defaults"
for ((r = 0; r < RUNS; r++)); do
    # Rotate who goes first, so no reader always follows the same one.
    for ((k = 0; k < ${#READERS[@]}; k++)); do
        reader=${READERS[$(((k + r) % ${#READERS[@]}))]}
        cold read "$reader" "$T/python-stdlib.sqfs" read_all
        cold import "$reader" "$T/python-stdlib.sqfs" import_cold
        cold find "$reader" "$T/dotnet-sdk.sqfs" find_ls
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo
echo "| test | xar --fuse-serve s | squashfuse_ll s | kernel s | xar / squashfuse_ll | kernel / squashfuse_ll | target |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for t in read import find; do
    x=$(median <<<"${TIMES[xar.$t]}"); s=$(median <<<"${TIMES[squashfuse_ll.$t]}"); k=$(median <<<"${TIMES[kernel.$t]}")
    case $t in read) goal="<= 0.60" label="read python-stdlib (every file)" ;;
        import) goal="<= 1.00" label="import json, email, http.client, asyncio" ;;
        find) goal="<= 1.00" label="find -ls dotnet-sdk" ;; esac
    awk -v l="$label" -v x="$x" -v s="$s" -v k="$k" -v g="$goal" 'BEGIN {
        printf "| %s | %.3f | %.3f | %.3f | %.2f | %.2f | %s |\n", l, x, s, k, (s > 0 ? x / s : 0), (s > 0 ? k / s : 0), g }'
done
awk -v x="${PEAK[xar]:-0}" -v s="${PEAK[squashfuse_ll]:-0}" 'BEGIN {
    printf "| peak server RSS (MiB) | %.1f | %.1f | | | | xar <= 64 |\n", x / 1024, s / 1024 }'
echo
echo "all runs (s): $(for k in "${!TIMES[@]}"; do printf '%s=[%s] ' "$k" "${TIMES[$k]% }"; done)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# bench/extract.sh - `xar extract` against `unsquashfs -d` (same image, same thread count) on the
# three real corpora: median wall time of RUNS runs each, the ratio ours/theirs, and peak RSS.
# Then `xar cat` of one small file from the largest image against a full `xar extract` of it
# (random access: should be a few percent at most).
#
# Usage: bench/extract.sh            (called by bench/run.sh; not part of CI)
# Environment: XAR_BIN (dir with xar; default ../out/bin), BENCH_WORK (default bench/work;
#   corpora are built into $BENCH_WORK/corpora by corpus.sh when missing), RUNS (default 3),
#   JOBS (threads for both tools; default nproc), COMP (mksquashfs compressor; default zstd),
#   OUT_DIR (where both tools extract to; default $BENCH_WORK/extract. OUT_DIR=/dev/shm measures
#   the tools rather than the disk: on a busy ext4, inode allocation after the previous run's
#   delete dominates and swings either tool's time by 2x).
set -euo pipefail
cd "$(dirname "$0")"
XAR=${XAR_BIN:-$(cd .. && pwd)/out/bin}/xar
WORK=${BENCH_WORK:-$(pwd)/work}
RUNS=${RUNS:-3}
JOBS=${JOBS:-$(nproc)}
COMP=${COMP:-zstd}
UNSQUASHFS=$(command -v unsquashfs || echo /usr/bin/unsquashfs)
MKSQUASHFS=$(command -v mksquashfs || echo /usr/bin/mksquashfs)
[[ -x $XAR ]] || { echo "extract.sh: $XAR not found (make publish, or set XAR_BIN)" >&2; exit 1; }
mkdir -p "$WORK/extract"
T=$WORK/extract
O=${OUT_DIR:-$T}/xar-extract-bench.$$

# measure CMD... -> prints "seconds maxrss_kb" of one run (the output dir is removed before and after)
measure() {
    rm -rf "$O"
    /usr/bin/time -f "%e %M" -o "$T/time.txt" "$@" >/dev/null 2>"$T/err.txt" || { cat "$T/err.txt" >&2; exit 1; }
    rm -rf "$O"
    cat "$T/time.txt"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "extracting into: ${OUT_DIR:-$T} ($(stat -f -c %T "${OUT_DIR:-$T}"))"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo
echo "| corpus | image MiB | unsquashfs -p $JOBS s | xar extract -j $JOBS s | ratio | unsquashfs RSS MiB | xar RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
largest= largest_size=0 largest_corpus=
for c in python-stdlib usr-share-doc dotnet-sdk; do
    [[ -d $WORK/corpora/$c ]] || bash corpus.sh "$WORK/corpora" "$c" >/dev/null
    img=$T/$c.sqfs
    [[ -f $img ]] || "$MKSQUASHFS" "$WORK/corpora/$c" "$img" -comp "$COMP" -noappend -no-progress -quiet >/dev/null
    size=$(stat -c %s "$img")
    if (( size > largest_size )); then largest=$img largest_size=$size largest_corpus=$c; fi
    : > "$T/u.txt"; : > "$T/x.txt"
    for ((i = 0; i < RUNS; i++)); do   # alternate, so both see the same machine load
        measure "$UNSQUASHFS" -q -p "$JOBS" -d "$O" "$img" >> "$T/u.txt"
        measure "$XAR" extract -q -j "$JOBS" -o "$O" "$img" >> "$T/x.txt"
    done
    ut=$(cut -d' ' -f1 "$T/u.txt" | median); xt=$(cut -d' ' -f1 "$T/x.txt" | median)
    ur=$(cut -d' ' -f2 "$T/u.txt" | sort -n | tail -1); xr=$(cut -d' ' -f2 "$T/x.txt" | sort -n | tail -1)
    awk -v c="$c" -v s="$size" -v ut="$ut" -v xt="$xt" -v ur="$ur" -v xr="$xr" 'BEGIN {
        printf "| %s | %.1f | %.2f | %.2f | %.2f | %.0f | %.0f |\n", c, s / 1048576, ut, xt, (ut > 0 ? xt / ut : 0), ur / 1024, xr / 1024 }'
done

# Random access: one small file out of the largest image, against extracting all of it.
small=$(cd "$WORK/corpora/$largest_corpus" && find . -type f -size +1k -size -20k -print | LC_ALL=C sort | awk 'NR == 1 {sub(/^\.\//, ""); print}')
: > "$T/c.txt"; : > "$T/x.txt"
for ((i = 0; i < RUNS; i++)); do
    /usr/bin/time -f "%e" -o "$T/time.txt" "$XAR" cat "$largest" "$small" >/dev/null; cat "$T/time.txt" >> "$T/c.txt"
    measure "$XAR" extract -q -j "$JOBS" -o "$O" "$largest" | cut -d' ' -f1 >> "$T/x.txt"
done
ct=$(median < "$T/c.txt"); xt=$(median < "$T/x.txt")
echo
echo "| xar cat of one file ($(basename "$largest" .sqfs): $small) | s | share of a full xar extract |"
echo "| --- | ---: | ---: |"
awk -v ct="$ct" -v xt="$xt" 'BEGIN { printf "| cat | %.3f | %.1f%% (extract %.2f s) |\n", ct, (xt > 0 ? 100 * ct / xt : 0), xt }'
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

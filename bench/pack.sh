#!/usr/bin/env bash
# pack.sh - `xar pack --format squashfs` side by side with mksquashfs, in one run.
#
# Usage: pack.sh [CORPUS...]        (default: python-stdlib dotnet-sdk usr-share-doc)
# For each corpus and codec both tools pack the same tree with the same compressor, level (each
# codec's mksquashfs default: gzip 9, zstd 15, xz preset 6, lz4 fast), block size (128K) and
# thread count (xar -j N, mksquashfs -processors N); each tool otherwise keeps its defaults.
# Prints one row per corpus and codec: wall time ours/theirs, size ours/theirs, both peak RSS
# (/usr/bin/time -v), and CPU time (user + system) ours/theirs, as a markdown table. On a shared,
# busy machine wall time swings with the other load; the CPU ratio is the steadier signal.
#
# Environment:
#   XAR_BIN=DIR          where the xar program is (default: ../out/bin; run `make publish` first)
#   BENCH_WORK=DIR       corpora in DIR/corpora (built with corpus.sh if missing)
#   BENCH_CODECS="..."   codecs to run (default: "zstd gzip xz lz4")
#   BENCH_JOBS=N         threads for both tools (default: nproc)
set -euo pipefail
cd "$(dirname "$0")"
XAR_BIN=${XAR_BIN:-$(cd .. && pwd)/out/bin}
WORK=${BENCH_WORK:-$(pwd)/work}
CODECS=${BENCH_CODECS:-zstd gzip xz lz4}
JOBS=${BENCH_JOBS:-$(nproc)}
CORPORA=("$@")
[[ ${#CORPORA[@]} -gt 0 ]] || CORPORA=(python-stdlib dotnet-sdk usr-share-doc)
XAR=$XAR_BIN/xar
[[ -x $XAR ]] || { echo "pack.sh: $XAR not found (make publish, or set XAR_BIN)" >&2; exit 1; }
command -v mksquashfs >/dev/null || { echo "pack.sh: mksquashfs not found (apt-get install squashfs-tools)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "pack.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
mkdir -p "$WORK/corpora"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/packbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# measure OUTVAR_PREFIX CMD...: runs CMD under /usr/bin/time -v; sets ${prefix}_s and ${prefix}_kb
measure() {
    local prefix=$1; shift
    /usr/bin/time -v -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; echo "pack.sh: failed: $*" >&2; exit 1; }
    local wall rss user sys
    wall=$(sed -nE 's/.*Elapsed \(wall clock\) time.*: (.*)$/\1/p' "$TMP/time")
    user=$(sed -nE 's/.*User time \(seconds\): (.*)$/\1/p' "$TMP/time")
    sys=$(sed -nE 's/.*System time \(seconds\): (.*)$/\1/p' "$TMP/time")
    rss=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$TMP/time")
    # wall is [h:]m:ss.ss
    wall=$(awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }' <<<"$wall")
    printf -v "${prefix}_s" '%s' "$wall"
    printf -v "${prefix}_kb" '%s' "$rss"
    printf -v "${prefix}_cpu" '%s' "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
}

echo "pack: xar $(git -C .. rev-parse --short HEAD 2>/dev/null || echo '?'), $(mksquashfs -version 2>&1 | head -n1), $JOBS threads, 128K blocks, $(date -u +%Y-%m-%d)"
echo
echo "| corpus | codec | ours s | mksquashfs s | time ratio | ours bytes | mksquashfs bytes | size ratio | ours RSS MiB | mksquashfs RSS MiB | CPU s ours / theirs | CPU ratio |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for corpus in "${CORPORA[@]}"; do
    src=$WORK/corpora/$corpus
    [[ -d $src ]] || bash corpus.sh "$WORK/corpora" "$corpus" >/dev/null
    for codec in $CODECS; do
        # warm the page cache equally for both
        find "$src" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true
        measure ours "$XAR" pack "$src" -o "$TMP/ours.sqfs" --format squashfs -c "$codec" -b 128K -j "$JOBS" --quiet
        measure theirs mksquashfs "$src" "$TMP/theirs.sqfs" -comp "$codec" -b 131072 -processors "$JOBS" -noappend -no-progress -quiet
        o=$(stat -c %s "$TMP/ours.sqfs"); t=$(stat -c %s "$TMP/theirs.sqfs")
        awk -v c="$corpus" -v k="$codec" -v os="$ours_s" -v ts="$theirs_s" -v ob="$o" -v tb="$t" -v om="$ours_kb" -v tm="$theirs_kb" \
            -v oc="$ours_cpu" -v tc="$theirs_cpu" \
            'BEGIN { printf "| %s | %s | %.2f | %.2f | %.2f | %d | %d | %.4f | %.0f | %.0f | %.1f / %.1f | %.2f |\n", c, k, os, ts, os / ts, ob, tb, ob / tb, om / 1024, tm / 1024, oc, tc, oc / tc }'
        rm -f "$TMP/ours.sqfs" "$TMP/theirs.sqfs"
    done
done

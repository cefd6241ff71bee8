#!/usr/bin/env bash
# make bench: every side-by-side benchmark, one after the other (each prints its own table).
# Builds the corpora once into bench/work (git-ignored). Needs root for the launcher's mounts.
set -euo pipefail
cd "$(dirname "$0")"
export XAR_BIN=${XAR_BIN:-$(cd .. && pwd)/out/bin}
WORK=${BENCH_WORK:-$(pwd)/work}
mkdir -p "$WORK"
for c in python-stdlib dotnet-sdk usr-share-doc; do
    [[ -d $WORK/corpora/$c ]] || bash corpus.sh "$WORK/corpora" "$c" >/dev/null
done
echo "== codecs (one thread, 128 KiB blocks of python-stdlib)"
dotnet run -c Release --project CodecBench -- "$WORK/corpora/python-stdlib" 64
for b in pack extract launch fuse frontends python; do
    if [[ -f $b.sh ]]; then
        echo "== $b"
        BENCH_WORK=$WORK bash "$b.sh"
    fi
done

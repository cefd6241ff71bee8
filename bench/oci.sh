#!/usr/bin/env bash
# bench/oci.sh - `xar push` / `xar pull` against `curl` moving the same blob through the same registry in the
# same run: Debian's docker-registry (Distribution 2.8) on 127.0.0.1, plain HTTP, no auth, storage under
# $BENCH_WORK/oci. Two files: the python-stdlib corpus packed into a XAR, and a 1 GiB XAR (random bytes, stored).
#   push: `xar push FILE` (hash, HEAD, chunked upload, config, manifest) to a repository the blob is not in yet,
#         with an empty cache (no digest recorded by an earlier push),
#         against curl's monolithic upload of the blob alone (POST, then PUT ?digest= with `curl -T`);
#   pull: `xar pull` with an empty cache (manifest, download into the cache while hashing, copy out), against
#         `curl -o` of the blob alone, and against curl with the digest checked as it lands
#         (`curl | tee FILE | openssl dgst -sha256`, what a careful script would run: xar checks every pull;
#         openssl, as coreutils' sha256sum takes 3.5x as long here).
# Prints the median wall time of RUNS alternating runs, the ratio xar/curl and both peak RSS. Targets: ratio <= 1.2,
# xar's peak RSS <= 64 MiB whatever the size.
#
# Usage: bench/oci.sh            (not part of CI; needs docker-registry, curl and openssl: `make deps`)
# Environment: XAR_BIN (dir with xar; default ../out/bin), BENCH_WORK (default bench/work), RUNS (default 3),
#   BIG_MIB (size of the large XAR's payload, default 1024).
set -euo pipefail
cd "$(dirname "$0")"
XAR=${XAR_BIN:-$(cd .. && pwd)/out/bin}/xar
WORK=${BENCH_WORK:-$(pwd)/work}
RUNS=${RUNS:-3}
BIG_MIB=${BIG_MIB:-1024}
REGISTRY=$(command -v docker-registry || command -v registry || echo /usr/bin/docker-registry)
[[ -x $XAR ]] || { echo "oci.sh: $XAR not found (make publish, or set XAR_BIN)" >&2; exit 1; }
[[ -x $REGISTRY ]] || { echo "oci.sh: docker-registry not found (apt-get install docker-registry)" >&2; exit 1; }
T=$WORK/oci
rm -rf "$T/storage" "$T/pulled" "$T/cache"
mkdir -p "$T/storage" "$T/pulled"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$port
cat > "$T/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/storage
http:
  addr: $ADDR
YML
"$REGISTRY" serve "$T/config.yml" > "$T/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null; wait $registry_pid 2>/dev/null || true; rm -rf "$T/storage" "$T/pulled" "$T/cache"' EXIT
for _ in $(seq 100); do curl -sf "http://$ADDR/v2/" >/dev/null && break; sleep 0.1; done

# The two files.
[[ -d $WORK/corpora/python-stdlib ]] || bash corpus.sh "$WORK/corpora" python-stdlib >/dev/null
[[ -f $T/stdlib.xar ]] || "$XAR" pack "$WORK/corpora/python-stdlib" -o "$T/stdlib.xar" -q
if [[ ! -f $T/big.xar || $(stat -c %s "$T/big.xar") -lt $((BIG_MIB << 20)) ]]; then
    rm -rf "$T/big-tree" && mkdir -p "$T/big-tree"
    head -c "$((BIG_MIB << 20))" /dev/urandom > "$T/big-tree/payload.bin"
    "$XAR" pack "$T/big-tree" -o "$T/big.xar" -c none -q
    rm -rf "$T/big-tree"
fi

# timed OUT CMD... -> appends "seconds maxrss_kb" of one run to OUT. `sync` first: the previous run's gigabyte of
# dirty pages would otherwise be written back during this one, and throttle its writes (a 1 GiB pull took 1.4 s
# or 7.4 s depending on what ran before it).
timed() {
    local out=$1; shift
    sync
    /usr/bin/time -f "%e %M" -o "$T/time.txt" "$@" >/dev/null 2>"$T/err.txt" || { cat "$T/err.txt" >&2; exit 1; }
    cat "$T/time.txt" >> "$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
curl_push() { # FILE REPO DIGEST: the blob alone, as one monolithic upload
    local location
    location=$(curl -sf -X POST -D - -o /dev/null "http://$ADDR/v2/$2/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [[ $location == http* ]] || location="http://$ADDR$location"
    curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$1" -o /dev/null "$location&digest=$3"
}
export -f curl_push
export ADDR

echo "registry: docker-registry $("$REGISTRY" --version 2>/dev/null | awk '{print $NF}') on $ADDR (loopback, plain HTTP)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo
echo "| file | MiB | op | curl s | xar s | ratio | curl checked s | ratio to it | curl RSS MiB | xar RSS MiB |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in stdlib big; do
    f=$T/$name.xar
    digest=sha256:$(sha256sum "$f" | cut -d' ' -f1)
    : > "$T/cp.txt"; : > "$T/xp.txt"; : > "$T/cl.txt"; : > "$T/xl.txt"; : > "$T/cv.txt"
    for ((i = 0; i < RUNS; i++)); do   # alternate, so both see the same machine load
        timed "$T/cp.txt" bash -c 'curl_push "$0" "$1" "$2"' "$f" "bench/$name-curl-$i" "$digest"
        rm -rf "$T/cache"   # no digest recorded by an earlier push: this measures a first push, hash and all
        timed "$T/xp.txt" env XAR_CACHE_DIR="$T/cache" "$XAR" push "$f" "$ADDR/bench/$name-xar-$i:1" --plain-http
        rm -f "$T/pulled/curl"
        timed "$T/cl.txt" curl -sf -o "$T/pulled/curl" "http://$ADDR/v2/bench/$name-curl-$i/blobs/$digest"
        rm -f "$T/pulled/curl-checked"
        timed "$T/cv.txt" bash -o pipefail -c 'curl -sf "$0" | tee "$1" | openssl dgst -sha256 -r | grep -q "^${2#sha256:} "' \
            "http://$ADDR/v2/bench/$name-curl-$i/blobs/$digest" "$T/pulled/curl-checked" "$digest"
        rm -rf "$T/cache" "$T/pulled/xar"
        timed "$T/xl.txt" env XAR_CACHE_DIR="$T/cache" "$XAR" pull "$ADDR/bench/$name-xar-$i:1" -o "$T/pulled/xar" --plain-http
        cmp -s "$T/pulled/xar" "$f" && cmp -s "$T/pulled/curl" "$f" && cmp -s "$T/pulled/curl-checked" "$f" || { echo "oci.sh: a pulled copy differs from $f" >&2; exit 1; }
    done
    for op in push pull; do
        if [[ $op == push ]]; then c=$T/cp.txt x=$T/xp.txt; else c=$T/cl.txt x=$T/xl.txt; fi
        ct=$(cut -d' ' -f1 "$c" | median); xt=$(cut -d' ' -f1 "$x" | median)
        vt=0; [[ $op == pull ]] && vt=$(cut -d' ' -f1 "$T/cv.txt" | median)
        cr=$(cut -d' ' -f2 "$c" | sort -n | tail -1); xr=$(cut -d' ' -f2 "$x" | sort -n | tail -1)
        awk -v n="$name" -v s="$(stat -c %s "$f")" -v op="$op" -v ct="$ct" -v xt="$xt" -v vt="$vt" -v cr="$cr" -v xr="$xr" 'BEGIN {
            checked = vt > 0 ? sprintf("%.2f | %.2f", vt, xt / vt) : "- | -"
            printf "| %s | %.1f | %s | %.2f | %.2f | %.2f | %s | %.0f | %.0f |\n", n, s / 1048576, op, ct, xt, (ct > 0 ? xt / ct : 0), checked, cr / 1024, xr / 1024 }'
    done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

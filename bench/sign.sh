#!/usr/bin/env bash
# bench/sign.sh: `xar sign` against `minisign -S -H` on the same file (the python-stdlib corpus packed into a XAR),
# with a key made by `minisign -G -W` (no password, so no scrypt in either). minisign writes FILE.minisig beside
# the file; xar sign rewrites the file with the signature in its header (one pass: the copy is hashed as it is
# written), so the ratio is what putting the signature inside the file costs. Prints the median wall and mean CPU
# time of hyperfine runs, interleaved in BENCH_ROUNDS rounds (default 6), and the peak RSS of one run of each.
# Needs hyperfine, minisign, python3 and /usr/bin/time. Usage: bench/sign.sh
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
REPO=$(cd .. && pwd)
BIN=${XAR_BIN:-$REPO/out/bin}
WORK=${BENCH_WORK:-$HERE/work}/sign
RUNS=${BENCH_RUNS:-30}
ROUNDS=${BENCH_ROUNDS:-6}
source "$HERE/lib.sh"
require_tools sign.sh hyperfine minisign python3 /usr/bin/time
STDLIB=${BENCH_WORK:-$HERE/work}/corpora/python-stdlib
[[ -d $STDLIB ]] || bash corpus.sh "$(dirname "$STDLIB")" python-stdlib >/dev/null
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

"$BIN/xar" pack "$STDLIB" -o "$WORK/stdlib.xar" --quiet
cp "$WORK/stdlib.xar" "$WORK/theirs.xar"
minisign -G -W -p "$WORK/key.pub" -s "$WORK/key.sec" >/dev/null
ours="$BIN/xar sign -q $WORK/stdlib.xar --key $WORK/key.sec"
theirs="minisign -S -H -s $WORK/key.sec -m $WORK/theirs.xar -x $WORK/theirs.xar.minisig"
m=$(interleaved "ours=$ours" "theirs=$theirs")
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
ours_rss=$(rss $ours); theirs_rss=$(rss $theirs)
# Both signatures hold, each checked by the other's verifier.
"$BIN/xar" verify "$WORK/stdlib.xar" --key "$WORK/key.pub" >/dev/null
minisign -V -q -p "$WORK/key.pub" -m "$WORK/theirs.xar" -x "$WORK/theirs.xar.minisig"
size=$(stat -c %s "$WORK/stdlib.xar")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<TABLE
Commit $(git -C "$REPO" rev-parse --short HEAD), $(date -u +%Y-%m-%d), the python-stdlib XAR ($(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576))' "$size") MiB), $RUNS runs in $ROUNDS interleaved rounds; load average before $load_before, after $load_after.

| | wall ms | CPU ms | peak RSS MiB |
| --- | ---: | ---: | ---: |
| \`xar sign\` (signature in the header, file rewritten) | $(wall ours <<<"$m") | $(cpu ours <<<"$m") | $(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1024))' "$ours_rss") |
| \`minisign -S -H\` (FILE.minisig beside it) | $(wall theirs <<<"$m") | $(cpu theirs <<<"$m") | $(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1024))' "$theirs_rss") |
| ratio ours / minisign | $(ratio "$(wall ours <<<"$m")" "$(wall theirs <<<"$m")") | $(ratio "$(cpu ours <<<"$m")" "$(cpu theirs <<<"$m")") | |
TABLE

#!/usr/bin/env bash
# bench/frontends.sh: what `xar dotnet` and `xar node` give against the platforms' own ways (not in CI; needs root
# or FUSE, hyperfine, python3, dotnet, node and npm).
#   .NET: samples/dotnet-app packed by `xar dotnet` against the same app published PublishSingleFile, plain and
#         with EnableCompressionInSingleFile (both self-contained, Release, this machine's RID): file size, and
#         warm start (the XAR mounted already; ./greet.xar started as a user starts it, through the shebang).
#         Targets: size <= 0.5x plain single-file; warm start <= 1.1x plain single-file and <= 0.7x compressed.
#         A third row packs the single-file publish itself (`xar dotnet ... -- -p:PublishSingleFile=true`): one
#         file in the mount instead of ~190, the faster start from FUSE (README, `xar dotnet`).
#   Node: samples/node-app packed by `xar node` against `node bin/greet.js` run from the project's folder (after
#         npm ci there): warm start. Target <= 1.05x.
# Medians of hyperfine runs; the commands of each app run interleaved in BENCH_ROUNDS rounds (default 6), so
# a drift of the shared machine hits all of them alike. Prints the table and the load average before and after.
# Usage: bench/frontends.sh
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
REPO=$(cd .. && pwd)
BIN=${XAR_BIN:-$REPO/out/bin}
WORK=${BENCH_WORK:-$HERE/work}/frontends
RUNS=${BENCH_RUNS:-60}
ROUNDS=${BENCH_ROUNDS:-6}
source "$HERE/lib.sh"
require_tools frontends.sh hyperfine python3 dotnet node npm fusermount3
launcher_sandbox
export DOTNET_NOLOGO=1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

size() { stat -c %s "$1"; }
mib() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576))' "$1"; }

# .NET: the XAR and the two single-file publishes of the same project, RID and configuration.
rid=linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')
app=$REPO/samples/dotnet-app
xar dotnet "$app" -o "$WORK/greet.xar" --quiet
xar dotnet "$app" -o "$WORK/greet-single.xar" --quiet -- -p:PublishSingleFile=true
publish() { dotnet publish "$app" -c Release -r "$rid" --self-contained true -nologo -v q -tl:off -p:PublishSingleFile=true \
    --artifacts-path "$WORK/artifacts-$1" -o "$WORK/$1" "${@:2}" >/dev/null; }
publish single
publish single-compressed -p:EnableCompressionInSingleFile=true
"$BIN/xarexec" -m "$WORK/greet.xar" >/dev/null   # warm: mounted before the runs
"$BIN/xarexec" -m "$WORK/greet-single.xar" >/dev/null
m=$(interleaved "xar=$WORK/greet.xar" "xarsingle=$WORK/greet-single.xar" "single=$WORK/single/greet" "compressed=$WORK/single-compressed/greet")
xar_ms=$(wall xar <<<"$m"); single_ms=$(wall single <<<"$m"); compressed_ms=$(wall compressed <<<"$m"); xarsingle_ms=$(wall xarsingle <<<"$m")
xar_cpu=$(cpu xar <<<"$m"); single_cpu=$(cpu single <<<"$m"); compressed_cpu=$(cpu compressed <<<"$m"); xarsingle_cpu=$(cpu xarsingle <<<"$m")
xar_size=$(size "$WORK/greet.xar"); single_size=$(size "$WORK/single/greet"); compressed_size=$(size "$WORK/single-compressed/greet")
xarsingle_size=$(size "$WORK/greet-single.xar")

# Node: the XAR against the project's folder with its dependencies installed (a copy, as npm ci leaves it).
cp -a "$REPO/samples/node-app" "$WORK/node-app"
rm -rf "$WORK/node-app/node_modules"
(cd "$WORK/node-app" && npm ci --omit=dev --no-audit --no-fund >/dev/null 2>&1)
xar node "$REPO/samples/node-app" -o "$WORK/node.xar" --quiet
"$BIN/xarexec" -m "$WORK/node.xar" >/dev/null
nodebin=$(command -v node)
m=$(interleaved "nodexar=$WORK/node.xar" "folder=$nodebin $WORK/node-app/bin/greet.js")
nodexar_ms=$(wall nodexar <<<"$m"); folder_ms=$(wall folder <<<"$m")
nodexar_cpu=$(cpu nodexar <<<"$m"); folder_cpu=$(cpu folder <<<"$m")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<TABLE
Commit $(git -C "$REPO" rev-parse --short HEAD), $(date -u +%Y-%m-%d), $RUNS runs in $ROUNDS interleaved rounds per command; load average before $load_before, after $load_after.

| app | ours | theirs | size MiB (ours / theirs) | size ratio | warm start ms (ours / theirs) | time ratio | CPU ms (ours / theirs) | CPU ratio | target |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
| dotnet-app | \`xar dotnet\` | PublishSingleFile | $(mib "$xar_size") / $(mib "$single_size") | $(ratio "$xar_size" "$single_size") | $xar_ms / $single_ms | $(ratio "$xar_ms" "$single_ms") | $xar_cpu / $single_cpu | $(ratio "$xar_cpu" "$single_cpu") | size <= 0.5, time <= 1.1 |
| dotnet-app | \`xar dotnet -- -p:PublishSingleFile=true\` | PublishSingleFile | $(mib "$xarsingle_size") / $(mib "$single_size") | $(ratio "$xarsingle_size" "$single_size") | $xarsingle_ms / $single_ms | $(ratio "$xarsingle_ms" "$single_ms") | $xarsingle_cpu / $single_cpu | $(ratio "$xarsingle_cpu" "$single_cpu") | size <= 0.5, time <= 1.1 |
| dotnet-app | \`xar dotnet\` | PublishSingleFile + EnableCompressionInSingleFile | $(mib "$xar_size") / $(mib "$compressed_size") | $(ratio "$xar_size" "$compressed_size") | $xar_ms / $compressed_ms | $(ratio "$xar_ms" "$compressed_ms") | $xar_cpu / $compressed_cpu | $(ratio "$xar_cpu" "$compressed_cpu") | time <= 0.7 |
| node-app | \`xar node\` | \`node bin/greet.js\` in the project's folder | | | $nodexar_ms / $folder_ms | $(ratio "$nodexar_ms" "$folder_ms") | $nodexar_cpu / $folder_cpu | $(ratio "$nodexar_cpu" "$folder_cpu") | time <= 1.05 |
TABLE

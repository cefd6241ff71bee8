#!/usr/bin/env bash
# make demo: pack samples/hello and samples/pyapp into XARs with `xar pack --exec`, run them
# (mounted with the launcher's own FUSE server, or extracted once into the cache where FUSE cannot
# serve), unmount.
# $1 = folder with xar, xarexec and xarexec_fuse.
set -euo pipefail
BIN=$(cd "${1:?usage: demo.sh BINDIR}" && pwd)
SAMPLES=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xar-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# The shebang is #!/usr/bin/env xarexec_fuse: make this build's launcher the one it finds.
export PATH="$BIN:$PATH"

step() { printf '\n$'; printf ' %q' "$@"; printf '\n'; "$@"; }

step xar pack "$SAMPLES/hello" -o "$WORK/hello.xar" --exec hello --quiet
step xar info "$WORK/hello.xar"
step "$WORK/hello.xar" "one arg" 'two "quoted"'
step xar run "$WORK/hello.xar" --flags-go-to-the-app
step xarexec -n "$WORK/hello.xar"

step xar pack "$SAMPLES/pyapp" -o "$WORK/pyapp.xar" --exec bin/pyapp --quiet
step "$WORK/pyapp.xar" --verbose

printf '\nwithout FUSE (XAR_EXTRACT=1): extracted once, then started from the cache\n'
export XAR_CACHE_DIR="$WORK/cache"
step env XAR_EXTRACT=1 "$WORK/hello.xar" cached
step env XAR_EXTRACT=1 "$WORK/hello.xar" cached again
unset XAR_CACHE_DIR

for x in hello pyapp; do
    if mountpoint -q "$(xarexec -n "$WORK/$x.xar")" 2>/dev/null; then
        step xar unmount "$WORK/$x.xar"
    fi
done

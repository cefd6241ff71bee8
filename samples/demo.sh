#!/usr/bin/env bash
# make demo: pack samples/hello into a XAR and run it. $1 = folder with xar and xarexec.
set -euo pipefail
BIN=${1:?usage: demo.sh BINDIR}
"$BIN/xar" --help

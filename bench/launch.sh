#!/usr/bin/env bash
# bench/launch.sh: what the launcher costs (not in CI; needs root or FUSE, hyperfine, python3).
#   hello  = samples/hello packed with `xar pack --exec hello`
#   stdlib = python3's stdlib (corpus python-stdlib) packed with a run.sh doing
#            PYTHONPATH=$XAR_MOUNT/lib python3 -S -c 'import json,email,http.client'
# For each: the app's entrypoint run directly from the mount/cache (ROOT/ENTRYPOINT, with the XAR_PATH and
# XAR_MOUNT its bootstrap would set: the overhead is over the app itself) against ./X.xar warm (mounted), cold (unmounted before each
# run), on the extraction path cached, and first run (cache emptied before each run); plus the
# first extraction of stdlib against unsquashfs of the same image. Medians of hyperfine runs; the
# direct, warm and cached commands run interleaved in BENCH_ROUNDS rounds (default 6). As root,
# every measurement is repeated with `xar binfmt install` in effect (rows APP+binfmt).
# XAR_REFERENCE_LAUNCHER=PATH (optional): another XAR launcher, e.g. Facebook's xarexec_fuse built
# from source, measured warm on hello in the same interleaved rounds as ours (both started directly,
# no env hop), so the ratio ours/theirs holds whatever the machine's speed that day; then cold the same
# way (each unmounted before every run, alternating in rounds): xarexec, the reference and the
# self-contained hello.
# The pre-runtime fast start: xarexec warm and cold on hello as it ships and with XAREXEC_NO_FAST_START=1
# (the same launch core run from Main, after the .NET runtime started), and cold with XAR_FUSE=squashfuse
# (squashfuse_ll mounts instead of the built-in server), in the same rounds; with
# XAR_BASELINE_LAUNCHER=PATH (optional: an xarexec built from an earlier commit) that one too, so a
# change is measured before and after in one run.
# As root (BENCH_NONROOT=0 leaves it out): hello cold as nobody, through fusermount3, against squashfuse_ll and the baseline.
# With minisign installed: rows with a trust policy in force (signed files, a trusted key; see below).
# Usage: bench/launch.sh [--record]   (--record writes the table into bench/RESULTS.md, "## Launch")
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
BIN=${XAR_BIN:-$(cd .. && pwd)/out/bin}
WORK=${BENCH_WORK:-$HERE/work}/launch
RUNS=${BENCH_RUNS:-60}
ROUNDS=${BENCH_ROUNDS:-6}
SLOW_RUNS=${BENCH_SLOW_RUNS:-5}
RECORD=${1:-}
REFERENCE=${XAR_REFERENCE_LAUNCHER:-}
BASELINE=${XAR_BASELINE_LAUNCHER:-}
[[ -z $BASELINE || -x $BASELINE ]] || { echo "launch.sh: XAR_BASELINE_LAUNCHER=$BASELINE is not executable" >&2; exit 1; }
[[ -z $REFERENCE || -x $REFERENCE ]] || { echo "launch.sh: XAR_REFERENCE_LAUNCHER=$REFERENCE is not executable" >&2; exit 1; }
source "$HERE/lib.sh"
require_tools launch.sh hyperfine python3 unsquashfs fusermount3
launcher_sandbox

PY=$(python3 -c 'import sys; print(sys.executable)')   # the interpreter itself, not a pyenv shim
STDLIB=${BENCH_WORK:-$HERE/work}/corpora/python-stdlib
[[ -d $STDLIB ]] || bash corpus.sh "$(dirname "$STDLIB")" python-stdlib >/dev/null

# One image time, so hello.xar and its self-contained twin hold the same image (one UUID, one mount, one cache entry).
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} xar pack ../samples/hello -o "$WORK/hello.xar" --exec hello --quiet
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} xar pack ../samples/hello -o "$WORK/hello-sc" --exec hello --quiet --self-contained --runtime "$BIN/xarexec"
mkdir -p "$WORK/stdlib-tree"
cp -a "$STDLIB" "$WORK/stdlib-tree/lib"
printf '#!/bin/sh\nPYTHONPATH="$XAR_MOUNT/lib" exec %s -S -c "import json,email,http.client"\n' "$PY" > "$WORK/stdlib-tree/run.sh"
chmod 755 "$WORK/stdlib-tree/run.sh"
xar pack "$WORK/stdlib-tree" -o "$WORK/stdlib.xar" --exec run.sh --quiet
rm -rf "$WORK/stdlib-tree"

# With root, each app is measured twice: started through the shebang's /usr/bin/env (as on any
# machine), and with `xar binfmt install` (the kernel starts xarexec directly); rows "APP+binfmt".
BINFMT_NAME=xar-bench-$$
modes=env
if [[ $(id -u) == 0 ]] && "$BIN/xar" binfmt install --no-persist --name "$BINFMT_NAME" --launcher "$BIN/xarexec" >/dev/null 2>&1; then
    "$BIN/xar" binfmt uninstall --name "$BINFMT_NAME" >/dev/null
    modes="env binfmt"
fi
trap '"$BIN/xar" binfmt uninstall --name "$BINFMT_NAME" >/dev/null 2>&1; cleanup' EXIT

rows=()
for app in hello stdlib; do
  for mode in $modes; do
    label=$app
    if [[ $mode == binfmt ]]; then
        "$BIN/xar" binfmt install --no-persist --name "$BINFMT_NAME" --launcher "$BIN/xarexec" >/dev/null
        label=$app+binfmt
    fi
    xar=$WORK/$app.xar
    field() { python3 -c 'import sys; print([l.split("\"")[1] for l in open(sys.argv[1], "rb").read(8192).decode("utf-8", "replace").split("\n") if l.startswith(sys.argv[2] + "=")][0])' "$xar" "$1"; }
    uuid=$(field UUID)
    entry=$(field XAR_EXEC)
    mnt=$(xarexec -m "$xar")
    # direct = the app itself, with the two variables its bootstrap would set: overhead is over the app.
    export XAR_PATH=$xar XAR_MOUNT=$mnt
    m=$(interleaved "direct=$mnt/$entry" "warm=$xar" "warmx=$BIN/xarexec $xar")
    direct=$(value direct <<<"$m"); warm=$(value warm <<<"$m"); warm_x=$(value warmx <<<"$m")
    if [[ -n $REFERENCE && $app == hello && $mode == env ]]; then
        refmnt=$("$REFERENCE" -m "$xar")
        m=$(interleaved "odirect=$mnt/$entry" "ours=$BIN/xarexec $xar" \
            "rdirect=$refmnt/$entry" "theirs=$REFERENCE $xar")
        reference=$(python3 -c 'import sys
o, od, t, td = (float(x.split("/")[0]) for x in sys.argv[1:5])
print(f"Reference launcher `{sys.argv[5]}`, warm on hello, both started directly (no env), same rounds: "
      f"ours {o - od:+.2f} ms, reference {t - td:+.2f} ms over the entrypoint; ratio ours/reference {(o - od) / (t - td):.2f}.")' \
            "$(value ours <<<"$m")" "$(value odirect <<<"$m")" "$(value theirs <<<"$m")" "$(value rdirect <<<"$m")" "$REFERENCE")
        # Cold, both started directly: each unmounted before every run, alternating in rounds.
        # The self-contained twin too (issue 12's target: its cold start at most the reference's).
        oc=() tc=() scc=()
        for ((r = 0; r < ROUNDS; r++)); do
            "$BIN/xarexec" -m "$xar" >/dev/null
            oc+=("$(median "oursc-r$r" -r $(( (RUNS + ROUNDS - 1) / ROUNDS )) -p "fusermount3 -u -z $mnt" "$BIN/xarexec $xar")")
            tc+=("$(median "theirsc-r$r" -r $(( (RUNS + ROUNDS - 1) / ROUNDS )) -p "fusermount3 -u -z $refmnt" "$REFERENCE $xar")")
            scc+=("$(median "screfc-r$r" -r $(( (RUNS + ROUNDS - 1) / ROUNDS )) -p "fusermount3 -u -z $mnt" "$WORK/hello-sc")")
        done
        reference+=$(python3 -c 'import statistics, sys
third = len(sys.argv) // 3
o, t, s = (statistics.median(float(x.split("/")[0]) for x in sys.argv[1 + i * third:1 + (i + 1) * third]) for i in range(3))
print(f" Cold (unmounted before each run), same way: ours {o:.2f} ms, reference {t:.2f} ms; ratio {o / t:.2f};"
      f" the self-contained hello {s:.2f} ms, ratio to the reference {s / t:.2f}.")' "${oc[@]}" "${tc[@]}" "${scc[@]}")
        fusermount3 -u -z "$refmnt" 2>/dev/null || true
        "$BIN/xarexec" -m "$xar" >/dev/null
    fi
    if [[ $app == hello && $mode == env ]]; then
        # Warm and cold, started directly, alternating in rounds: as shipped, without the fast start, and the baseline.
        fw=() nw=() bw=() fc=() nc=() bc=() sc=()
        per=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
        for ((r = 0; r < ROUNDS; r++)); do
            "$BIN/xarexec" -m "$xar" >/dev/null
            fw+=("$(median "fsw-r$r" -w 3 -r "$per" "$BIN/xarexec $xar")")
            nw+=("$(XAREXEC_NO_FAST_START=1 median "nfsw-r$r" -w 3 -r "$per" "$BIN/xarexec $xar")")
            [[ -n $BASELINE ]] && bw+=("$(median "basew-r$r" -w 3 -r "$per" "$BASELINE $xar")")
            fc+=("$(median "fsc-r$r" -r "$per" -p "fusermount3 -u -z $mnt" "$BIN/xarexec $xar")")
            nc+=("$(XAREXEC_NO_FAST_START=1 median "nfsc-r$r" -r "$per" -p "fusermount3 -u -z $mnt" "$BIN/xarexec $xar")")
            [[ -n $BASELINE ]] && bc+=("$(median "basec-r$r" -r "$per" -p "fusermount3 -u -z $mnt" "$BASELINE $xar")")
            sc+=("$(XAR_FUSE=squashfuse median "sqfc-r$r" -r "$per" -p "fusermount3 -u -z $mnt" "$BIN/xarexec $xar")")
        done
        "$BIN/xarexec" -m "$xar" >/dev/null
        faststart=$(python3 - "$direct" "${#fw[@]}" "${fw[@]}" "${nw[@]}" "${fc[@]}" "${nc[@]}" "${sc[@]}" "${bw[@]}" "${bc[@]}" <<'PY'
import statistics, sys
direct = float(sys.argv[1].split("/")[0])
n = int(sys.argv[2])
vals = sys.argv[3:]
def med(i):
    part = vals[i * n:(i + 1) * n]
    return statistics.median(float(x.split("/")[0]) for x in part) if len(part) == n else None
fw, nw, fc, nc, sc, bw, bc = (med(i) for i in range(7))
rows = ["| xarexec hello.xar, started directly | warm | warm overhead | cold |", "| --- | ---: | ---: | ---: |"]
for name, w, c in (("as shipped (fast start)", fw, fc), ("XAREXEC_NO_FAST_START=1", nw, nc), ("baseline (XAR_BASELINE_LAUNCHER)", bw, bc)):
    if w is not None:
        rows.append(f"| {name} | {w:.2f} | {w - direct:+.2f} | {c:.2f} |")
rows.append(f"| XAR_FUSE=squashfuse (cold mounts with squashfuse_ll; warm is the same mount) | | | {sc:.2f} |")
print("\n".join(rows))
PY
)
    fi
    if [[ $app == hello && $mode == env && $(id -u) == 0 && ${BENCH_NONROOT:-1} != 0 ]] && command -v setpriv >/dev/null; then
        # Cold as a user who is not root (nobody), who mounts through fusermount3, with /dev/fuse made 0666 for
        # these runs (as on Debian desktops): as shipped, the baseline, and XAR_FUSE=squashfuse, alternating in rounds.
        fuse_mode=$(stat -c %a /dev/fuse)
        chmod 0666 /dev/fuse
        mkdir -p "$WORK/nonroot" && chmod 0777 "$WORK/nonroot"
        as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$WORK/nonroot" "$@"; }
        nobody_median() {
            local name=$1; shift
            as_nobody hyperfine -N --style none --export-json "$WORK/nonroot/$name.json" "$@" >/dev/null 2>&1 \
                || as_nobody hyperfine -N --export-json "$WORK/nonroot/$name.json" "$@" >&2
            python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$WORK/nonroot/$name.json"
        }
        nmnt=$(as_nobody "$BIN/xarexec" -m "$xar")
        nf=() nb=() ns=()
        per=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
        for ((r = 0; r < ROUNDS; r++)); do
            nf+=("$(nobody_median "nrf-r$r" -r "$per" -p "fusermount3 -u -z -q $nmnt" "$BIN/xarexec $xar")")
            [[ -n $BASELINE ]] && nb+=("$(nobody_median "nrb-r$r" -r "$per" -p "fusermount3 -u -z -q $nmnt" "$BASELINE $xar")")
            ns+=("$(XAR_FUSE=squashfuse nobody_median "nrs-r$r" -r "$per" -p "fusermount3 -u -z -q $nmnt" "$BIN/xarexec $xar")")
        done
        as_nobody fusermount3 -u -z -q "$nmnt" 2>/dev/null || true
        chmod "$fuse_mode" /dev/fuse
        nonroot=$(python3 - "${#nf[@]}" "${nf[@]}" "${ns[@]}" "${nb[@]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
vals = sys.argv[2:]
f, s, b = (statistics.median(float(x) for x in vals[i * n:(i + 1) * n]) if len(vals) >= (i + 1) * n else None for i in range(3))
line = f"Not root (nobody, through fusermount3; /dev/fuse 0666 for these runs), hello cold, median of {n} rounds: {f:.2f} ms as shipped"
if b is not None:
    line += f", {b:.2f} ms for the baseline"
print(line + f", {s:.2f} ms with XAR_FUSE=squashfuse (squashfuse_ll); ratio {f / s:.2f}.")
PY
)
    fi
    if [[ $app == hello && $mode == env ]]; then
        # The self-contained executable (xar pack --self-contained): the same image, so the same mount and
        # cache entry; warm and cached interleaved with the entrypoint run directly, cold unmounted before each run.
        m=$(interleaved "scdirect=$mnt/$entry" "scwarm=$WORK/hello-sc")
        sc_direct=$(value scdirect <<<"$m"); sc_warm=$(value scwarm <<<"$m")
        sc_cold=$(median sc-cold -r "$RUNS" -p "fusermount3 -u -z $mnt" "$WORK/hello-sc")
        "$BIN/xarexec" -m "$xar" >/dev/null
    fi
    cold=$(median "$label-cold" -r "$RUNS" -p "fusermount3 -u -z $mnt" "$xar")
    fusermount3 -u -z "$mnt" 2>/dev/null || true
    export XAR_EXTRACT=1
    "$xar" >/dev/null 2>&1
    export XAR_MOUNT=$WORK/cache/$uuid
    m=$(interleaved "cdirect=$WORK/cache/$uuid/$entry" "cached=$xar")
    unset XAR_PATH XAR_MOUNT
    cached_direct=$(value cdirect <<<"$m"); cached=$(value cached <<<"$m")
    if [[ $app == hello && $mode == env ]]; then
        export XAR_PATH=$WORK/hello-sc XAR_MOUNT=$WORK/cache/$uuid
        m=$(interleaved "sccdirect=$WORK/cache/$uuid/$entry" "sccached=$WORK/hello-sc")
        unset XAR_PATH XAR_MOUNT
        selfcontained=$(python3 - "$sc_direct" "$sc_warm" "$sc_cold" "$(value sccdirect <<<"$m")" "$(value sccached <<<"$m")" <<'PY'
import sys
(d, dc), (w, wc), (c, cc), (cd, cdc), (ca, cac) = (map(float, x.split("/")) for x in sys.argv[1:6])
print("| hello, `xar pack --self-contained` (runtime + XAR in one file) | direct | started | **overhead** |\n| --- | ---: | ---: | ---: |")
print(f"| warm (mounted) | {d:.2f} / {dc:.2f} | {w:.2f} / {wc:.2f} | **{w - d:+.2f} / {wc - dc:+.2f}** |")
print(f"| cold (unmounted before each run) | {d:.2f} / {dc:.2f} | {c:.2f} / {cc:.2f} | **{c - d:+.2f} / {cc - dc:+.2f}** |")
print(f"| cached extraction (XAR_EXTRACT=1) | {cd:.2f} / {cdc:.2f} | {ca:.2f} / {cac:.2f} | **{ca - cd:+.2f} / {cac - cdc:+.2f}** |")
PY
)
    fi
    first=$(median "$label-first" -r "$SLOW_RUNS" -p "rm -rf $WORK/cache/$uuid $WORK/cache/lockfile.$uuid" "$xar")
    unset XAR_EXTRACT
    [[ $mode == binfmt ]] && "$BIN/xar" binfmt uninstall --name "$BINFMT_NAME" >/dev/null
    rows+=("$label $direct $warm $warm_x $cold $cached_direct $cached $first")
  done
done
# A trust policy in force (docs/ARCHITECTURE.md, "Signatures"): the same files signed with a minisign key that a
# HOME of the bench's own trusts (~/.config/xar/trusted-keys.d, so no root is needed), against the same HOME hop
# without keys, in the same rounds. Warm on hello (the mount made from the checked file: the policy costs reading
# the key directory and the lock file's record); cold on stdlib (unmounted before each run, as the cold column
# above; the lock file keeps the record of the checked file, so nothing is hashed again); and stdlib's first start
# as a file never seen before (its lock file removed too: the whole file is hashed and the signature checked before
# the mount). Targets: warm +0.2 ms, cold +10%.
trust=""
if command -v minisign >/dev/null; then
    mkdir -p "$WORK/keys" "$WORK/home-none" "$WORK/home-policy/.config/xar/trusted-keys.d"
    minisign -G -W -p "$WORK/keys/bench.pub" -s "$WORK/keys/bench.key" >/dev/null
    cp "$WORK/keys/bench.pub" "$WORK/home-policy/.config/xar/trusted-keys.d/"
    for app in hello stdlib; do
        cp "$WORK/$app.xar" "$WORK/$app-signed.xar"
        "$BIN/xar" sign -q "$WORK/$app-signed.xar" --key "$WORK/keys/bench.key"
    done
    none="env HOME=$WORK/home-none $BIN/xarexec" policy="env HOME=$WORK/home-policy $BIN/xarexec"
    hs=$WORK/hello-signed.xar ss=$WORK/stdlib-signed.xar
    HOME=$WORK/home-policy "$BIN/xarexec" -m "$hs" >/dev/null
    m=$(interleaved "tnone=$none $hs" "tpolicy=$policy $hs")
    tw_none=$(value tnone <<<"$m"); tw_policy=$(value tpolicy <<<"$m")
    smnt=$(HOME=$WORK/home-policy "$BIN/xarexec" -m "$ss")
    slock="$(dirname "$smnt")/lockfile.$(basename "$smnt")"
    per=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
    nc=() pc=() nf=() pf=()
    for ((r = 0; r < ROUNDS; r++)); do
        nc+=("$(median "tcnone-r$r" -r "$per" -p "fusermount3 -u -z $smnt" "$none $ss")")
        pc+=("$(median "tcpolicy-r$r" -r "$per" -p "fusermount3 -u -z $smnt" "$policy $ss")")
        fresh="sh -c 'fusermount3 -u -z $smnt 2>/dev/null; rm -f $slock'"
        nf+=("$(median "tfnone-r$r" -r "$SLOW_RUNS" -p "$fresh" "$none $ss")")
        pf+=("$(median "tfpolicy-r$r" -r "$SLOW_RUNS" -p "$fresh" "$policy $ss")")
    done
    fusermount3 -u -z "$smnt" 2>/dev/null || true
    trust=$(python3 - "$tw_none" "$tw_policy" "$(stat -c %s "$ss")" "${#nc[@]}" "${nc[@]}" "${pc[@]}" "${nf[@]}" "${pf[@]}" <<'PY'
import statistics, sys
wn, wp = (float(x.split("/")[0]) for x in sys.argv[1:3])
size, n = int(sys.argv[3]), int(sys.argv[4])
vals = sys.argv[5:]
cn, cp, fn, fp = (statistics.median(float(x.split("/")[0]) for x in vals[i * n:(i + 1) * n]) for i in range(4))
print("| trust policy (signed files; an `env HOME=...` hop in both) | no policy | policy | overhead |\n| --- | ---: | ---: | ---: |")
print(f"| hello warm | {wn:.2f} | {wp:.2f} | {wp - wn:+.2f} ms (target +0.2) |")
print(f"| stdlib cold (unmounted before each run) | {cn:.2f} | {cp:.2f} | {(cp / cn - 1) * 100:+.1f}% (target +10%) |")
print(f"| stdlib first start of a file not checked before (lock file removed too: {size / 1e6:.0f} MB hashed) | {fn:.2f} | {fp:.2f} | {(fp / fn - 1) * 100:+.1f}% ({fp - fn:+.1f} ms) |")
PY
)
fi

# What any launcher pays before doing its work: the shebang's /usr/bin/env hop (with this LANG),
# and a process start: a C program, and xarexec printing its help (process + NativeAOT runtime).
m=$(interleaved "true=/bin/true" "envtrue=/usr/bin/env true" "help=$BIN/xarexec -h")
floor="Floors in the same run (median ms): \`/bin/true\` $(wall true <<<"$m"), \`/usr/bin/env true\` $(wall envtrue <<<"$m") (LANG=${LANG:-unset}), \`xarexec -h\` $(wall help <<<"$m")."
unsq=$(median unsquashfs -r "$SLOW_RUNS" -p "rm -rf $WORK/unsq" "unsquashfs -q -n -o 4096 -d $WORK/unsq $WORK/stdlib.xar")
ours=$(median extract-only -r "$SLOW_RUNS" -p "rm -rf $WORK/ours" "$BIN/xar extract $WORK/stdlib.xar -o $WORK/ours --quiet")

table=$(python3 - "$unsq" "$ours" "${rows[@]}" <<'PY'
import sys
def pair(text):
    wall, cpu = text.split("/")
    return float(wall), float(cpu)
unsq, ours = pair(sys.argv[1])[0], pair(sys.argv[2])[0]
out = ["| app | direct | warm | **warm overhead** | cold | **cold overhead** | cache direct | cached | **cached overhead** | first extraction run |",
       "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
first_stdlib = None
for row in sys.argv[3:]:
    app, direct, warm, warm_x, cold, cdirect, cached, first = row.split()
    (d, dc), (w, wc), (c, cc), (cd, cdc), (ca, cac), (f, _) = map(pair, (direct, warm, cold, cdirect, cached, first))
    cell = lambda wall, cpu: f"{wall:.2f} / {cpu:.2f}"
    over = lambda a, ac, b, bc: f"**{a - b:+.2f} / {ac - bc:+.2f}**"
    out.append(f"| {app} | {cell(d, dc)} | {cell(w, wc)} | {over(w, wc, d, dc)} | {cell(c, cc)} | {over(c, cc, d, dc)} "
               f"| {cell(cd, cdc)} | {cell(ca, cac)} | {over(ca, cac, cd, cdc)} | {f:.1f} |")
    if app == "stdlib":
        first_stdlib = f
out.append("")
out.append("Cells are median wall time / mean CPU time (user + system) in ms; overhead = ./X.xar minus the entrypoint run directly.")
out.append(f"First extraction of stdlib.xar: launcher first run {first_stdlib:.0f} ms (extraction + start), "
           f"`xar extract` {ours:.0f} ms, `unsquashfs -o 4096` {unsq:.0f} ms: "
           f"ratio {first_stdlib / unsq:.2f} (launcher) / {ours / unsq:.2f} (extract only).")
print("\n".join(out))
PY
)
table="$table
$floor${reference:+
$reference}${faststart:+

$faststart}${nonroot:+

$nonroot}${selfcontained:+

$selfcontained}${trust:+

$trust}"
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "Launch times (load average $load on $(nproc) cores)."
echo "$table"

if [[ $RECORD == --record ]]; then
    commit=$(git -C .. rev-parse --short HEAD)
    python3 - "$HERE/RESULTS.md" "$commit" "$table" "$RUNS" "$SLOW_RUNS" "$load" "$WORK" <<'PY'
import sys, re, datetime
path, commit, table, runs, slow, load, work = sys.argv[1:]
text = open(path).read()
# A new subsection on top of the Launch section; earlier runs stay below it as history.
head = "## Launch (bench/launch.sh)\n\n"
sub = (f"### Commit {commit}, {datetime.date.today()}\n\n`bench/launch.sh --record`, work files under {work}, "
       f"medians of {runs} runs ({slow} for extraction), times in ms. direct = the app's entrypoint `ROOT/ENTRYPOINT` "
       "run by itself (XAR_PATH and XAR_MOUNT set as its bootstrap sets them); warm = mounted; cold = unmounted before each run (the built-in FUSE server starts; the fast-start table also has XAR_FUSE=squashfuse); "
       "cached / first = XAR_EXTRACT=1 with the cache entry present / removed before each run. "
       "Rows APP+binfmt: the same with `xar binfmt install` (the kernel starts xarexec itself, no /usr/bin/env). "
       "Targets: warm overhead <= 2 ms, cold <= 5 ms, cached <= 2 ms, first stdlib extraction <= 1.2 x unsquashfs; "
       "self-contained: warm and cached overhead <= 1.0 ms, cold <= Facebook's xarexec_fuse cold (XAR_REFERENCE_LAUNCHER). "
       f"Load average when it finished: {load} on 2 cores.\n\n" + table + "\n\n")
if head in text:
    text = text.replace(head, head + sub, 1)
else:
    text = text.rstrip("\n") + "\n\n" + head + sub
open(path, "w").write(text)
PY
    echo "recorded in bench/RESULTS.md"
fi

#!/usr/bin/env bash
# corpus.sh: builds the trees the benchmarks (bench/*.sh) and the tests (tests/Common/TestEnv.cs,
# Corpus) pack, extract and compare. The same machine gets the same trees on every run.
#
#   bash bench/corpus.sh OUTDIR [NAME...]      NAME: python-stdlib dotnet-sdk usr-share-doc edge
#                                              (none given: all four)
#
# Each tree appears as OUTDIR/NAME only once it is complete (built beside it, then renamed); an
# OUTDIR/NAME that exists already is refused. One summary line per tree goes to stdout and is
# appended to OUTDIR/CORPORA.txt.
#
#   python-stdlib  python3's standard library directory, without site-packages (which holds
#                  whatever pip put on this machine)
#   dotnet-sdk     the newest installed .NET SDK: big, thousands of DLLs, many equal files
#   usr-share-doc  /usr/share/doc: thousands of small files and relative symlinks
#   edge           made here, byte for byte and attribute for attribute the same every time:
#                  empty files and directories; sizes around 4K/64K/128K/1M block boundaries;
#                  50 MiB of random bytes and 50 MiB of zeros left as one hole; files with holes
#                  at the start, middle and end; equal files and equal tails (dedup); a directory
#                  of exactly 5000 entries; names with space, tab, newline, backslash, quotes,
#                  glob characters, control bytes, bytes that are not UTF-8, UTF-8, 255 bytes;
#                  40 nested directories; symlinks relative, absolute, dangling, looping, to a
#                  directory, with a 1000- and a 4095-byte target and a non-UTF-8 target; hard
#                  links of a file, an empty file, a symlink and a fifo; a fifo and a socket;
#                  character and block devices up to major 4095 / minor 1048575; setuid, setgid,
#                  sticky and unusual modes; unusual uid/gid; xattrs user.* (one empty, one
#                  binary, one of 3000 bytes) and trusted.*; mtimes 0, 1, 2^31-1, 2^31, 2^32-1
#                  and one with nanoseconds, everything else 2024-01-01T00:00:00Z.
#
# Environment:
#   PYTHON=python3       whose standard library python-stdlib copies
#   DOTNET_SDK_DIR=DIR   the SDK dotnet-sdk copies (default: the newest `dotnet --list-sdks` shows)
#   DOC_DIR=DIR          what usr-share-doc copies (default /usr/share/doc)
#   EDGE_HUGE=1          edge also gets files/huge-4G: 4 GiB + 4097 bytes, data at both ends, a
#                        hole between (files over 4 GiB; slow to pack and to compare)
#
# Needs coreutils, findutils, python3 (random bytes, the socket) and setfattr (attr). Device
# nodes, owners and trusted.* xattrs need root: without it they are left out with a warning, so
# root's edge tree and another user's differ.
set -euo pipefail

say() { echo "corpus.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0"; }
if [[ $# -eq 0 ]]; then usage >&2; exit 2; fi
if [[ $1 == -h || $1 == --help ]]; then usage; exit 0; fi
mkdir -p -- "$1"
OUTDIR=$(cd -- "$1" && pwd)
shift
NAMES=("$@")
[[ ${#NAMES[@]} -gt 0 ]] || NAMES=(python-stdlib dotnet-sdk usr-share-doc edge)
AS_ROOT=false
[[ $(id -u) -eq 0 ]] && AS_ROOT=true
# Modes of what we create must not depend on the caller.
umask 022

# Copies the directory $1 to $2 (which must not exist) with modes, owners, times, xattrs and hard
# links; top-level entries named in $3... are left out.
copy_tree() {
    local from=$1 to=$2
    shift 2
    [[ -d $from ]] || fail "$from: no such directory"
    if [[ $# -eq 0 ]]; then
        cp -a -- "$from" "$to"
        return
    fi
    local keep=() name skip
    while IFS= read -r -d '' name; do
        for skip in "$@"; do [[ ${name##*/} == "$skip" ]] && continue 2; done
        keep+=("$name")
    done < <(find "$from" -mindepth 1 -maxdepth 1 -print0)
    mkdir -- "$to"
    # One cp for all of them: hard links between entries stay hard links.
    [[ ${#keep[@]} -eq 0 ]] || cp -a -t "$to" -- "${keep[@]}"
    chmod --reference="$from" -- "$to"
    if $AS_ROOT; then chown --reference="$from" -- "$to"; fi
    touch --reference="$from" -- "$to"
}

build_python_stdlib() {
    local python=${PYTHON:-python3} lib
    lib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])') || fail "$python cannot name its stdlib"
    copy_tree "$lib" "$1" site-packages
    SOURCE="$lib without site-packages ($("$python" -V 2>&1))"
}

build_dotnet_sdk() {
    local sdk=${DOTNET_SDK_DIR:-} line
    if [[ -z $sdk ]] && command -v dotnet >/dev/null; then
        # Lines look like "10.0.401 [/usr/share/dotnet/sdk]"; the newest version comes last.
        line=$(dotnet --list-sdks 2>/dev/null | sort -V | tail -n 1)
        [[ $line =~ ^([^ ]+)\ \[(.*)\]$ ]] && sdk=${BASH_REMATCH[2]}/${BASH_REMATCH[1]}
    fi
    if [[ -z $sdk ]]; then
        sdk=$(ls -d /usr/share/dotnet/sdk/*/ /usr/lib/dotnet/sdk/*/ 2>/dev/null | sort -V | tail -n 1)
        sdk=${sdk%/}
    fi
    [[ -n $sdk ]] || fail "no .NET SDK found (set DOTNET_SDK_DIR)"
    copy_tree "$sdk" "$1"
    SOURCE=$sdk
}

build_usr_share_doc() {
    copy_tree "${DOC_DIR:-/usr/share/doc}" "$1"
    SOURCE=${DOC_DIR:-/usr/share/doc}
}

# ---- edge ----

# noise FILE SEED SIZE: SIZE bytes that depend only on SEED (SHAKE-256 of it).
noise() {
    python3 -c 'import hashlib, sys; sys.stdout.buffer.write(hashlib.shake_256(sys.argv[1].encode()).digest(int(sys.argv[2])))' \
        "$2" "$3" > "$1"
}

# put FILE OFFSET SEED SIZE: writes SIZE random bytes into FILE at OFFSET, keeping the rest.
put() {
    python3 -c '
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.pwrite(fd, hashlib.shake_256(sys.argv[3].encode()).digest(int(sys.argv[4])), int(sys.argv[2]))
os.close(fd)' "$@"
}

EDGE_TIME=1704067200   # 2024-01-01T00:00:00Z: every edge entry without a time of its own

build_edge() {
    command -v python3 >/dev/null || fail "edge needs python3"
    local top=$1 i n
    mkdir -- "$top"
    cd -- "$top"

    mkdir empty-dir

    mkdir files
    : > files/empty
    : > files/empty-too
    printf '1' > files/one-byte
    for n in 4095 4096 4097 65535 65536 65537 131071 131072 131073 262144 1048575 1048576 1048577; do
        noise "files/size-$n" "size $n" "$n"
    done
    noise files/random-50M "incompressible" $((50 << 20))
    truncate -s $((50 << 20)) files/zeros-50M                  # one hole, no data at all
    truncate -s $((6 << 20)) files/holes                       # data, hole, data, hole
    put files/holes 0 "holes 1" $((1 << 20))
    put files/holes $((3 << 20)) "holes 2" $((1 << 20))
    truncate -s $((2 << 20)) files/hole-first                  # hole, then data
    put files/hole-first $((3 << 19)) "hole first" $((1 << 19))
    for ((i = 0; i < 20000; i++)); do echo "line $i: pack me small, pack me well"; done > files/text
    if [[ ${EDGE_HUGE:-0} == 1 ]]; then
        put files/huge-4G 0 "huge head" 4097
        put files/huge-4G $((4 << 30)) "huge tail" 4097
    fi

    # Equal content: whole files (block dedup), equal tails (fragment dedup), one equal to a file elsewhere.
    mkdir dedup
    noise dedup/whole-1 "dedup whole" $((1 << 20))
    for i in 2 3 4; do cp dedup/whole-1 "dedup/whole-$i"; done
    noise dedup/tail-1 "dedup tail" 1000
    cp dedup/tail-1 dedup/tail-2
    cp files/size-131073 dedup/like-size-131073
    cp dedup/whole-1 dedup/same-start                          # first block equal, last one not
    put dedup/same-start $((1 << 20)) "other end" 5000

    # Exactly 5000 entries: 4990 files of distinct content and 10 directories.
    mkdir many
    for ((i = 0; i < 4990; i++)); do printf 'entry number %d\n' "$i" > "many/file-$(printf '%04d' "$i")"; done
    for ((i = 0; i < 10; i++)); do mkdir "many/dir-$i"; done

    mkdir names
    local odd=(
        'a space' ' spaces around ' $'a\ttab' $'a\nnewline' $'\nfirst-newline' 'back\slash' 'double"quote'
        "single'quote" '-dash-first' '.dot-first' '..dots' '*?[glob]{x}' '$dollar`tick`' '%percent#hash&amp'
        'çà et là' 'ファイル' 'emoji 🙂' $'latin1-\xe9-\xff\xfe' $'lone-continuation-\x80' $'controls-\x01\x1b\x7f'
        "$(head -c 255 /dev/zero | tr '\0' n)" "$(for ((i = 0; i < 85; i++)); do printf '語'; done)"   # 255 bytes each
    )
    for n in "${odd[@]}"; do printf '%s\n' "$n" > "names/$n"; done
    mkdir names/'a directory' names/'ディレクトリ' names/$'dir-\xff'
    echo inside > names/'a directory'/'a file'
    echo inside > names/'ディレクトリ'/'ファイル'
    echo inside > names/$'dir-\xff'/$'file-\xfe'

    n=deep
    for ((i = 1; i <= 40; i++)); do n+=/level-$i; done
    mkdir -p "$n"
    echo 'at the bottom' > "$n/leaf"

    mkdir links
    echo 'the target' > links/target
    ln -s target links/relative
    ln -s ../files/one-byte links/up-and-over
    ln -s ../deep links/to-directory
    ln -s /etc/os-release links/absolute
    ln -s /no/such/place links/absolute-dangling
    ln -s no-such-file links/dangling
    ln -s itself links/itself
    ln -s loop-b links/loop-a
    ln -s loop-a links/loop-b
    ln -s 'çà et là ✓ with spaces' links/odd-target
    ln -s $'not-utf8-\xff' links/non-utf8-target
    ln -s "$(for ((i = 0; i < 250; i++)); do printf 'abc/'; done)" links/target-1000
    ln -s "$(head -c 4095 /dev/zero | tr '\0' t)" links/target-4095

    mkdir -p hardlinks/sub
    echo 'one inode, three names' > hardlinks/file
    ln hardlinks/file hardlinks/file-2
    ln hardlinks/file hardlinks/sub/file-3
    : > hardlinks/empty
    ln hardlinks/empty hardlinks/sub/empty-2
    ln -s file hardlinks/symlink
    ln -P hardlinks/symlink hardlinks/sub/symlink-2
    mkfifo hardlinks/fifo
    ln hardlinks/fifo hardlinks/sub/fifo-2
    noise hardlinks/big "hard linked, three blocks" 300000
    ln hardlinks/big hardlinks/sub/big-2

    mkdir special
    mkfifo special/fifo
    # A relative path: sun_path holds 108 bytes, OUTDIR may be longer.
    (cd special && python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("socket")')
    if $AS_ROOT; then
        mknod special/null-like c 1 3
        mknod special/loop-like b 7 0
        mknod special/char-max c 4095 1048575                  # the largest major and minor
        mknod special/block-259-65536 b 259 65536
        mknod -m 0600 special/char-0-0 c 0 0
    else
        say "warning: not root, so edge has no device nodes"
    fi

    mkdir modes
    for n in 4755 2755 6755 7777 1644 4000 0000 0111 0400 0604 0750; do
        echo "mode $n" > "modes/file-$n"
        chmod "$n" "modes/file-$n"
    done
    for n in 1777 2775 0700 0555 0000; do mkdir "modes/dir-$n"; done
    echo inside > modes/dir-0700/file
    echo inside > modes/dir-0555/file
    chmod 1777 modes/dir-1777
    chmod 2775 modes/dir-2775
    chmod 0700 modes/dir-0700
    # dir-0555 and dir-0000 get their modes last: until then the times below are set inside them.

    mkdir owners
    if $AS_ROOT; then
        for n in 1:1 1000:1000 65534:65534 65535:65536 1234:5678 0:4321 2147483647:2147483648 4294967294:4294967293; do
            echo "owner $n" > "owners/file-${n/:/-}"
            chown "$n" "owners/file-${n/:/-}"
        done
        mkdir owners/dir-1000-1000
        chown 1000:1000 owners/dir-1000-1000
        ln -s file-1000-1000 owners/symlink-1000-1000
        chown -h 1000:1000 owners/symlink-1000-1000
    else
        say "warning: not root, so edge's owners are all $(id -u):$(id -g)"
    fi

    mkdir -p xattrs/dir
    command -v setfattr >/dev/null || fail "edge needs setfattr (package attr)"
    echo 'with xattrs' > xattrs/file
    setfattr -n user.text -v 'some words' xattrs/file
    setfattr -n user.empty xattrs/file
    setfattr -n user.binary -v 0x00ff7f80feed xattrs/file
    setfattr -n user.utf8 -v 'çà et là ✓' xattrs/file
    setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' v)" xattrs/file
    setfattr -n user.on-dir -v yes xattrs/dir
    for n in 1 2 3; do                                          # one xattr set, shared
        echo "same xattrs $n" > "xattrs/same-$n"
        setfattr -n user.a -v 'first' "xattrs/same-$n"
        setfattr -n user.b -v 'second' "xattrs/same-$n"
    done
    echo 'no xattrs' > xattrs/none
    echo 'linked, with xattrs' > xattrs/linked
    setfattr -n user.linked -v 'on the inode' xattrs/linked
    ln xattrs/linked xattrs/linked-2
    if $AS_ROOT; then
        echo 'trusted' > xattrs/trusted
        setfattr -n trusted.one -v 'only root sees this' xattrs/trusted
        setfattr -n trusted.empty xattrs/trusted
        ln -s file xattrs/symlink                               # user.* cannot go on a symlink
        setfattr -h -n trusted.on-link -v 'a symlink' xattrs/symlink
    else
        say "warning: not root, so edge has no trusted.* xattrs"
    fi

    mkdir times
    for n in 0 1 2147483647 2147483648 4294967295 nanoseconds; do echo "$n" > "times/file-$n"; done
    mkdir times/dir-0 times/dir-4294967295
    ln -s file-1 times/symlink-0
    ln -s file-1 times/symlink-4294967295

    # Times last (creating an entry changes its directory's time), deepest first.
    find . -depth -exec touch -h -d "@$EDGE_TIME" -- {} +
    for n in 0 1 2147483647 2147483648 4294967295; do touch -d "@$n" "times/file-$n"; done
    touch -d @1704067200.123456789 times/file-nanoseconds      # SquashFS keeps the seconds only
    touch -d @0 times/dir-0
    touch -d @4294967295 times/dir-4294967295
    touch -h -d @0 times/symlink-0
    touch -h -d @4294967295 times/symlink-4294967295
    # Symlink atimes far ahead, so no read ever updates them: mksquashfs 4.5.1 takes two names of
    # one inode for hard links only if their whole struct stat is equal, and reading a hard-linked
    # symlink between the two stats (relatime: atime older than ctime) would split it in two.
    find . -type l -exec touch -h -a -d @4294967295 -- {} +
    chmod 0555 modes/dir-0555                                   # a mode change leaves mtimes alone
    chmod 0000 modes/dir-0000
    cd "$OUTDIR"
    SOURCE="made by bench/corpus.sh$(${AS_ROOT} || echo ' (not as root)')"
}

# summary NAME DIR: one line of counts (what a non-root user cannot enter is not counted).
summary() {
    local dir=$2
    count() { { find "$dir" "$@" -printf . 2>/dev/null || true; } | wc -c; }
    local bytes
    bytes=$({ find "$dir" -type f -printf '%s\n' 2>/dev/null || true; } | awk '{ s += $1 } END { printf "%.0f", s }')
    printf '%s: %d files, %d directories, %d symlinks, %d other, %d with more than one link, %s bytes in files; from %s\n' \
        "$1" "$(count -type f)" "$(count -type d)" "$(count -type l)" "$(count ! -type f ! -type d ! -type l)" \
        "$(count ! -type d -links +1)" "$bytes" "$SOURCE" | tee -a "$OUTDIR/CORPORA.txt"
}

for name in "${NAMES[@]}"; do
    case $name in
        python-stdlib | dotnet-sdk | usr-share-doc | edge) ;;
        *) fail "unknown corpus '$name' (python-stdlib dotnet-sdk usr-share-doc edge)" ;;
    esac
    [[ ! -e $OUTDIR/$name ]] || fail "$OUTDIR/$name exists already; remove it first"
    partial=$OUTDIR/.$name.partial.$$
    trap 'chmod -R u+rwX "$partial" 2>/dev/null; rm -rf "$partial"' EXIT
    SOURCE=
    "build_${name//-/_}" "$partial"
    mv -T -- "$partial" "$OUTDIR/$name"
    trap - EXIT
    summary "$name" "$OUTDIR/$name"
done

#!/usr/bin/env bash
# run-storage.sh - storage append benchmark: Brook's partition log
# (build/bin/bench-storage, bench/storage.c) against the raw sequential
# write rate of this machine (dd and fio), same block sizes, same bytes,
# same filesystem (a temp dir under build/, removed at exit). Prints one
# table. Not a test; see bench/README.md for what the numbers mean.
#
# Environment:
#   BENCH_STORAGE        the binary (default build/bin/bench-storage)
#   BENCH_DIR            parent of the temp dir (default build/; keep it on
#                        the repo's filesystem)
#   BENCH_SIZES          batch sizes in bytes (default "1024 16384 262144 1048576")
#   BENCH_SECONDS        time bound of each Brook run (default 5)
#   BENCH_NOFSYNC_BYTES  byte bound of a no-fsync run (default 512 MiB)
#   BENCH_FSYNC_BYTES    byte bound of an fsync run (default 512 MiB)
#   BENCH_REPEAT         runs per cell; the table shows the median (default 3)
#   BENCH_MODES          "nofsync fsync" (default) or one of them
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BENCH_STORAGE:-build/bin/bench-storage}
SIZES=${BENCH_SIZES:-"1024 16384 262144 1048576"}
SECS=${BENCH_SECONDS:-5}
NOFSYNC_BYTES=${BENCH_NOFSYNC_BYTES:-536870912}
FSYNC_BYTES=${BENCH_FSYNC_BYTES:-536870912}
REPEAT=${BENCH_REPEAT:-3}
PY=/usr/bin/python3

[ -x "$BIN" ] || { echo "run-storage: $BIN not built" >&2; exit 1; }
mkdir -p "${BENCH_DIR:-build}"
tmp=$(mktemp -d "${BENCH_DIR:-build}/bench-storage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
have_fio=0
command -v fio >/dev/null && have_fio=1

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# brook MODE BS -> "mbps batches_per_s bytes"
brook() {
    local mode=$1 bs=$2 max=$NOFSYNC_BYTES flag=
    if [ "$mode" = fsync ]; then max=$FSYNC_BYTES; flag=--fsync; fi
    rm -rf "$tmp/brook"; mkdir "$tmp/brook"; sync
    local line
    line=$("$BIN" "$tmp/brook" --batch "$bs" $flag --max-bytes "$max" --seconds "$SECS")
    rm -rf "$tmp/brook"
    echo "$line" | sed -E 's/.*bytes=([0-9]+) .*mbps=([0-9.]+) batches_per_s=([0-9]+).*/\2 \3 \1/'
}

# dd MODE BS BYTES -> mbps (plain writes; oflag=dsync in fsync mode)
ddrate() {
    local mode=$1 bs=$2 bytes=$3 flag=
    [ "$mode" = fsync ] && flag=oflag=dsync
    rm -f "$tmp/dd"; sync
    local out
    out=$(LC_ALL=C dd if=/dev/zero of="$tmp/dd" bs="$bs" count=$((bytes / bs)) $flag 2>&1 | tail -1)
    rm -f "$tmp/dd"
    # "N bytes (...) copied, S s, R MB/s": recompute from bytes and seconds
    echo "$out" | awk '{for (i = 1; i <= NF; i++) if ($i == "copied,") s = $(i + 1);
                       printf "%.1f\n", $1 / s / 1e6}'
}

# fio MODE BS BYTES -> mbps (psync writes, appending: no preallocation;
# fdatasync after every write in fsync mode)
fiorate() {
    local mode=$1 bs=$2 bytes=$3 flag=
    [ "$mode" = fsync ] && flag=--fdatasync=1
    rm -f "$tmp/fio"; sync
    fio --name=seqwrite --filename="$tmp/fio" --rw=write --bs="$bs" --size=$(((bytes / bs) * bs)) \
        --ioengine=psync --fallocate=none $flag --output-format=json 2>/dev/null |
        $PY -c 'import json, sys; print("%.1f" % (json.load(sys.stdin)["jobs"][0]["write"]["bw_bytes"] / 1e6))'
    rm -f "$tmp/fio"
}

t0=$(date +%s)
echo "# storage append benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) cores,"
echo "# fs: $(df -T "$tmp" | awk 'NR==2 {print $2 " on " $1}'), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# median of $REPEAT runs; MB = 10^6 bytes; rows bounded at ${SECS} s or $((NOFSYNC_BYTES >> 20)) MiB (no fsync) / $((FSYNC_BYTES >> 20)) MiB (fsync)"
printf '%-8s %8s | %10s %11s | %10s %10s | %8s %8s\n' mode batch "Brook MB/s" "batches/s" "dd MB/s" "fio MB/s" Brook/dd Brook/fio
printf -- '---------------------------------------------------------------------------------------------\n'
for mode in ${BENCH_MODES:-nofsync fsync}; do
    for bs in $SIZES; do
        bm=(); bb=(); dm=(); fm=()
        for ((i = 0; i < REPEAT; i++)); do
            read -r mbps bps bytes < <(brook "$mode" "$bs")
            bm+=("$mbps"); bb+=("$bps")
            dm+=("$(ddrate "$mode" "$bs" "$bytes")")
            if [ $have_fio = 1 ]; then fm+=("$(fiorate "$mode" "$bs" "$bytes")"); else fm+=(0); fi
        done
        b=$(median "${bm[@]}"); n=$(median "${bb[@]}"); d=$(median "${dm[@]}"); f=$(median "${fm[@]}")
        if [ "$bs" -ge 1048576 ]; then label="$((bs >> 20)) MiB"; else label="$((bs >> 10)) KiB"; fi
        awk -v m="$mode" -v l="$label" -v b="$b" -v n="$n" -v d="$d" -v f="$f" 'BEGIN {
            printf "%-8s %8s | %10.1f %11d | %10.1f %10s | %7.0f%% %7s\n", m, l, b, n, d,
                   (f > 0 ? sprintf("%.1f", f) : "-"), 100 * b / d,
                   (f > 0 ? sprintf("%.0f%%", 100 * b / f) : "-") }'
    done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); total $(( $(date +%s) - t0 )) s"

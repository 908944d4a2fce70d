#!/usr/bin/env bash
# run-cleaner.sh - log cleaner benchmark (bench/README.md): cleaning MB/s per
# codec and append latency on the loop thread while the cleaner runs
# (build/bin/bench-cleaner, bench/cleaner.c), then produce latency through
# brookd with the cleaner on and off (bench/cleaner_e2e.py). Not a test.
#
# Environment:
#   BENCH_CLEANER   the binary (default build/bin/bench-cleaner)
#   BENCH_DIR       parent of the temp dir (default build/)
#   BENCH_MB        MB of updates per codec row (default 256)
#   BENCH_CODECS    default "none,gzip,snappy,lz4,zstd"
#   BENCH_PREFILL, BENCH_RATE, BENCH_SECONDS   see bench/cleaner_e2e.py
#   BENCH_E2E=0     skip the brookd part
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BENCH_CLEANER:-build/bin/bench-cleaner}
[ -x "$BIN" ] || { echo "run-cleaner: $BIN not built (make bench-cleaner)" >&2; exit 1; }
mkdir -p "${BENCH_DIR:-build}"
tmp=$(mktemp -d "${BENCH_DIR:-build}/bench-cleaner.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" "$tmp" --mb "${BENCH_MB:-256}" --codecs "${BENCH_CODECS:-none,gzip,snappy,lz4,zstd}"
if [ "${BENCH_E2E:-1}" != 0 ]; then
    echo
    BENCH_DIR="$tmp" /usr/bin/python3 bench/cleaner_e2e.py
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

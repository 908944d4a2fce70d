#!/usr/bin/env bash
# Run each libFuzzer target for SECONDS on a scratch copy of its seed corpus
# (fuzz/corpus/<name> minus the fuzz_ prefix). New inputs stay in
# build/fuzz/work/; crashes are written to build/fuzz/crashes/ and fail the run.
# Usage: scripts/fuzz.sh SECONDS TARGET...
set -u
secs=${1:?seconds}; shift
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fail=0
mkdir -p build/fuzz/crashes
for t in "$@"; do
  seeds=fuzz/corpus/${t#fuzz_}
  work=build/fuzz/work/$t
  mkdir -p "$work"
  log=build/fuzz/$t.log
  echo "fuzz: $t for ${secs}s (seeds: $seeds)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build/fuzz/bin/$t -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix=build/fuzz/crashes/$t- -print_final_stats=1 \
      -dict=fuzz/kafka.dict "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "fuzz: $t exit=$rc executions=${execs:-?}"
  if [ $rc -ne 0 ]; then
    fail=1
    grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" | head -20
  fi
done
exit $fail

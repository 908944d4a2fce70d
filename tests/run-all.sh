#!/usr/bin/env bash
# run-all.sh - every test stage, in order, as `make test` runs it (after
# `make deps`). Keeps going after a failure so one run reports everything.
#
#   build      make all
#   gen-check  make gen-check (committed generated code is up to date)
#   unit       build/bin/unit             -> "unit: N passed, M failed"
#   itest      tests/run-itest.sh         -> pytest summary
#   codec      pytest tests/codec         (only if that directory has tests)
#   san        make san-test              (ASan+UBSan build, unit + itest -m smoke)
#   fuzz       make fuzz FUZZ_SECONDS=15  (every libFuzzer target, briefly)
#
# Prints a table (stage, PASS/FAIL, seconds, cases) and ends with exactly one
# line "brook: N passed, M failed" where N/M count test cases (unit cases +
# pytest tests of every stage). A failing stage that reported no failed case
# (build error, crash, timeout) counts as one failed case, so M > 0 whenever
# the exit status is non-zero.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

PY=/usr/bin/python3
LOGDIR=build/test-logs
mkdir -p "$LOGDIR"
JOBS=$(nproc 2>/dev/null || echo 2)

names=() results=() secs=() counts=()
total_pass=0 total_fail=0

# parse_counts LOG -> "P F": sums the unit runner's line and pytest's final
# summary line(s) found in LOG.
parse_counts() {
    "$PY" - "$1" <<'PYEOF'
import re, sys
p = f = 0
text = open(sys.argv[1], errors="replace").read()
for line in text.splitlines():
    m = re.match(r"^\s*unit: (\d+) passed, (\d+) failed\s*$", line)
    if m:
        p += int(m.group(1)); f += int(m.group(2)); continue
    # pytest: "3 failed, 40 passed, 1 skipped in 12.3s" (with or without ===)
    s = line.strip().strip("=").strip()
    if re.search(r"\bin [0-9.]+s\b", s) and re.match(r"^\d+ \w+", s):
        for n, what in re.findall(r"(\d+) (passed|failed|errors?|xpassed)", s):
            if what == "passed" or what == "xpassed":
                p += int(n)
            else:
                f += int(n)
print(p, f)
PYEOF
}

stage() {
    local name=$1
    shift
    local log="$LOGDIR/$name.log"
    echo
    echo "=== [$name] $*"
    local t0 rc
    t0=$(date +%s)
    "$@" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local dt=$(($(date +%s) - t0))
    local p f
    read -r p f < <(parse_counts "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # the stage failed without naming a failed case
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    names+=("$name")
    if [ "$rc" -eq 0 ]; then results+=(PASS); else results+=("FAIL($rc)"); fi
    secs+=("$dt")
    counts+=("$p passed, $f failed")
}

stage build make -j"$JOBS" all
stage gen-check make gen-check
stage unit build/bin/unit
stage itest tests/run-itest.sh
if compgen -G "tests/codec/test_*.py" >/dev/null || compgen -G "tests/codec/*_test.py" >/dev/null; then
    stage codec timeout -k 15 900 "$PY" -m pytest tests/codec -q -p no:cacheprovider
fi
stage san make san-test
# A short libFuzzer run of every target on its corpus (regressions; the long
# runs are `make fuzz FUZZ_SECONDS=600`).
stage fuzz make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}"

echo
echo "=== summary (logs in $LOGDIR/)"
printf '%-10s %-9s %6s  %s\n' stage result seconds cases
for i in "${!names[@]}"; do
    printf '%-10s %-9s %6s  %s\n' "${names[$i]}" "${results[$i]}" "${secs[$i]}" "${counts[$i]}"
done
echo "brook: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

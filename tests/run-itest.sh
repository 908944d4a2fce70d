#!/usr/bin/env bash
# run-itest.sh [pytest args] - run the integration tests (tests/itest) against
# a real brookd (BROOKD, default build/bin/brookd), e.g.
#   tests/run-itest.sh                    everything
#   tests/run-itest.sh -m smoke           the quick set (make san-test uses it)
#   tests/run-itest.sh -k metadata -x     pytest selection as usual
#
# The whole run is bounded by ITEST_TIMEOUT seconds (default 900); timeout's
# SIGTERM reaches the brokers too (same process group) and conftest kills them.
# Exit code is pytest's, except that "no tests collected" (5) is a failure.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1

PY=/usr/bin/python3   # Debian's interpreter: it has pytest and the Kafka clients
limit=${ITEST_TIMEOUT:-900}

# Most of the run is waiting (ZooKeeper session timeouts, broker restarts,
# linger), not CPU: test files run in ITEST_JOBS parallel workers
# (pytest-xdist, Debian python3-pytest-xdist; one file stays on one
# worker). ITEST_JOBS=1 runs them one after another.
jobs=${ITEST_JOBS:-3}
par=()
if [ "$jobs" -gt 1 ] && "$PY" -c "import xdist" 2>/dev/null; then
    par=(-n "$jobs" --dist loadfile)
fi
timeout -k 15 "$limit" "$PY" -m pytest tests/itest -q "${par[@]}" "$@"
rc=$?
case $rc in
    124|137) echo "run-itest: global timeout of ${limit}s reached" >&2 ;;
    5) echo "run-itest: no tests were collected" >&2 ;;
esac
exit $rc

#!/usr/bin/env bash
# run-e2e.sh [e2e options] - the end-to-end client benchmark (issue 4 item 8).
#
# Builds bench/e2e.c against librdkafka (build/bin/e2e), starts a fresh brookd
# (BROOKD, default build/bin/brookd; `make all` first) with a temp data dir
# under build/ (on /work, not tmpfs) on a free 127.0.0.1 port, then runs the
# same workload against Brook and against librdkafka's mock cluster in one
# e2e process and prints one table (see bench/e2e.c). The broker is stopped
# (SIGTERM, then SIGKILL) and its data dir removed at the end; its log is
# kept in build/e2e-last-brookd.log.
#
#   bench/run-e2e.sh                       default sizes (~1-2 min)
#   bench/run-e2e.sh --n100 100000 --n1k 20000 --lat-seconds 3   quick
#   bench/run-e2e.sh --no-brook            only the mock rows
#   E2E_KEEP=1 bench/run-e2e.sh            keep the data dir
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

CC=${CC:-cc}
BIN=build/bin/e2e
mkdir -p build/bin
if [ ! -x "$BIN" ] || [ bench/e2e.c -nt "$BIN" ]; then
    echo "run-e2e: building $BIN" >&2
    $CC -O2 -g -Wall -Wextra -o "$BIN" bench/e2e.c -lrdkafka -lpthread -lm || exit 1
fi

brook=1
args=()
for a in "$@"; do
    if [ "$a" = "--no-brook" ]; then brook=0; else args+=("$a"); fi
done

if [ "$brook" = 0 ]; then
    exec "$BIN" "${args[@]}"
fi

BROOKD=${BROOKD:-build/bin/brookd}
if [ ! -x "$BROOKD" ]; then
    echo "run-e2e: $BROOKD not found (make all)" >&2
    exit 1
fi

work=$(mktemp -d "$PWD/build/e2e.XXXXXX")
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tlsport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# TLS rows (issue 11): a throw-away self-signed certificate for 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" \
    >/dev/null 2>&1 || { echo "run-e2e: openssl failed" >&2; exit 1; }
cat "$work/key.pem" "$work/cert.pem" >"$work/broker.pem"
cat >"$work/server.properties" <<EOF
broker.id=0
listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$tlsport
ssl.keystore.type=PEM
ssl.keystore.location=$work/broker.pem
log.dirs=$work/data
num.partitions=6
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
EOF

"$BROOKD" "$work/server.properties" >"$work/brookd.log" 2>&1 &
bpid=$!
cleanup() {
    if kill -0 "$bpid" 2>/dev/null; then
        kill -TERM "$bpid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$bpid" 2>/dev/null
    fi
    wait "$bpid" 2>/dev/null
    cp "$work/brookd.log" build/e2e-last-brookd.log 2>/dev/null
    [ -n "${E2E_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

up=0
for _ in $(seq 1 100); do
    if ! kill -0 "$bpid" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
    sleep 0.1
done
if [ "$up" != 1 ]; then
    echo "run-e2e: brookd did not come up on port $port; log:" >&2
    cat "$work/brookd.log" >&2
    exit 1
fi

"$BIN" --brook "127.0.0.1:$port" --brook-tls "127.0.0.1:$tlsport" --tls-ca "$work/cert.pem" "${args[@]}"
rc=$?
if ! kill -0 "$bpid" 2>/dev/null; then
    echo "run-e2e: brookd died during the run; see build/e2e-last-brookd.log" >&2
    rc=1
fi
exit $rc

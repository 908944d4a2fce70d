#!/usr/bin/env bash
# deps.sh - install what Brook needs to build and test, on Debian 12, as root.
#
# Idempotent and fast when everything is present: dpkg-query decides what is
# missing; only then does it run `apt-get update` once and install the missing
# packages. Afterwards it installs kafkajs (pinned in tests/node/package.json)
# into tests/node/node_modules unless that exact version is already there.
#
# Every name below exists in Debian 12 (checked with apt-cache policy).
set -euo pipefail

cd "$(dirname "$0")/.."

PKGS=(
    build-essential make clang libclang-rt-14-dev llvm
    python3 python3-pytest python3-pytest-timeout python3-pytest-xdist
    python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard kcat librdkafka-dev
    zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libssl-dev openssl
    libjansson-dev libzookeeper-mt-dev zookeeper python3-kazoo
    netcat-openbsd procps fio iproute2 prometheus
)
# node is usually present already (possibly not from Debian); install Debian's
# nodejs/npm only when the commands are missing, so we never fight another
# node installation.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
# issue 10 (lag): Burrow for tests/itest/test_burrow.py; promtool (package
# prometheus) for tests/itest/test_dashboards.py.
PKGS+=(burrow prometheus python3-yaml)
# issue 11 (SASL/GSSAPI): Cyrus SASL with MIT Kerberos for the broker; an MIT
# KDC, kadmin.local and kinit for tests/itest/test_security_gssapi.py.
PKGS+=(libsasl2-dev libsasl2-modules-gssapi-mit krb5-kdc krb5-admin-server krb5-user)

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: need root to install packages (run as root or install them by hand)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# kafkajs, project-local. Skip when the pinned version is already installed.
want=$(sed -n 's/.*"kafkajs"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' tests/node/package.json)
have=$(node -p 'require("./tests/node/node_modules/kafkajs/package.json").version' 2>/dev/null || true)
if [ "$have" != "$want" ]; then
    echo "deps: npm install kafkajs@$want into tests/node"
    (cd tests/node && npm install --no-audit --no-fund --loglevel=error </dev/null)
fi

echo "deps: ok"

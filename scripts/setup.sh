#!/bin/sh
# Run by `npm run build` (so by every npm script) and first by `npm test`, so that a fresh clone on a
# fresh machine needs nothing typed before the README's two commands. `setup.sh test` also
# installs what the test suite drives for real: Docker's engine, a static busybox for the test
# image, a registry for the managed-plugin test and openssl for the Kafka TLS tests' certificates
# (Debian's packages, as root).
set -eu
cd "$(dirname "$0")/.."

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing the npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

[ "${1:-}" = test ] || exit 0

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing="$missing busybox-static"
command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
# The Kafka TLS tests make their CA and certificates with openssl at test time.
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: the tests need$missing; install them (Debian: apt-get install -y$missing) and run npm test again" >&2
  exit 1
fi
echo "setup: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing

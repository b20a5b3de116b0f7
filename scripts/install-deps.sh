#!/usr/bin/env bash
# Installs the Debian 12 packages runbookd needs to build, run and test.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

build_pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev libssl-dev libpq-dev
  libsqlite3-dev sqlite3 libcriterion-dev"
test_pkgs="prometheus-alertmanager prometheus postgresql wrk curl python3
  python3-yaml jq iproute2 procps openssl chromium nodejs fonts-dejavu-core"

want="$build_pkgs"
case "${1:-all}" in
  build) ;;
  all|test) want="$build_pkgs $test_pkgs" ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian starts the services these packages ship; runbookd's tests start
# their own instances on loopback, so policy-rc.d keeps the daemons down.
if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

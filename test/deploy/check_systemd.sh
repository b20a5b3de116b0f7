#!/usr/bin/env bash
# deploy/systemd/runbookd.service passes `systemd-analyze verify` and keeps its
# sandboxing. verify needs ExecStart's binary to exist, so it checks a copy
# that runs /bin/true instead. Skips (77) where systemd-analyze is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
unit="$root/deploy/systemd/runbookd.service"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found: skipped"
  exit 77
fi
fail=0
for opt in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
           PrivateDevices=yes CapabilityBoundingSet= RestrictAddressFamilies= \
           SystemCallFilter=@system-service MemoryDenyWriteExecute=yes StateDirectory=runbookd \
           User=runbookd "ExecReload=/bin/kill -HUP \$MAINPID"; do
  grep -q -F -e "$opt" "$unit" || {
    echo "FAIL systemd: $opt missing from $unit" >&2; fail=1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's#^ExecStart=[^ ]*#ExecStart=/bin/true#' "$unit" > "$tmp/runbookd.service"
grep -q '^ExecStart=/bin/true' "$tmp/runbookd.service"
# Warnings about the unit fail the test too; ones about other units of the
# host (which verify loads as dependencies) do not.
if ! out=$(systemd-analyze verify --man=no "$tmp/runbookd.service" 2>&1) \
   || grep -q 'runbookd\.service' <<<"$out"; then
  echo "FAIL systemd: systemd-analyze verify:" >&2
  echo "$out" >&2
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok systemd"
exit "$fail"

#!/usr/bin/env bash
# `systemd-analyze verify` on the unit `cmake --install` writes. The container this runs in has
# no systemd as PID 1, which verify does not need; it does need the ExecStart program to exist,
# so the unit is installed into a scratch directory and checked with ExecStart pointing at the
# daemon installed beside it (the unit's own path is checked as text). verify returns 0 even for
# an unknown key or a bad value: any output at all fails the test.
# Usage: unit_verify_test.sh BUILD_DIR
set -u
BUILD=$1
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fwrescue-unit-XXXXXX")
trap '[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$TEST_DIR"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

root=$TEST_DIR/root
DESTDIR=$root cmake --install "$BUILD" --prefix /usr >"$TEST_DIR/install.log" 2>&1 ||
  { cat "$TEST_DIR/install.log"; fail "cmake --install"; exit 1; }
unit=$root/usr/lib/systemd/system/fwrescued.service
[ -f "$unit" ] || { fail "no unit at /usr/lib/systemd/system/fwrescued.service"; exit 1; }
grep -qx 'ExecStart=/usr/bin/fwrescued --config /etc/fwrescue/fwrescued.toml' "$unit" ||
  fail "ExecStart is not the installed daemon with the installed configuration"
for key in Type=notify NotifyAccess=main WatchdogSec=30s Restart=on-failure \
  'ExecReload=/bin/kill -HUP $MAINPID' StateDirectory=fwrescue RuntimeDirectory=fwrescue \
  ProtectSystem=strict PrivateTmp=yes NoNewPrivileges=yes CapabilityBoundingSet= \
  SystemCallFilter=@system-service; do
  grep -qxF -- "$key" "$unit" || fail "the unit lacks $key"
done

mkdir -p "$TEST_DIR/check"
sed "s|^ExecStart=/usr/bin/fwrescued |ExecStart=$root/usr/bin/fwrescued |" "$unit" \
  >"$TEST_DIR/check/fwrescued.service"
out=$(systemd-analyze verify --man=no "$TEST_DIR/check/fwrescued.service" 2>&1)
rc=$?
[ "$rc" = 0 ] || fail "systemd-analyze verify exited with $rc"
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify reported the above"; }

# The check itself can fail: a misspelt key is reported.
sed 's/^ProtectSystem=/ProtectSistem=/' "$TEST_DIR/check/fwrescued.service" >"$TEST_DIR/bad.service"
systemd-analyze verify --man=no "$TEST_DIR/bad.service" 2>&1 | grep -q "Unknown key 'ProtectSistem'" ||
  fail "verify did not report a misspelt key"

[ "$failed" = 0 ] && echo "unit verified: $(systemd-analyze --version | head -1)"
exit "$failed"

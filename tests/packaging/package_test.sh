#!/usr/bin/env bash
# The Debian package as a user gets it: `cpack -G DEB` over this build, its file list and control
# fields, then the package installed with dpkg into a scratch root this test makes, and the
# installed programs run from there. The scratch root is empty apart from the package: the
# libraries it depends on come from this machine, so dpkg is told to ignore its Depends (the
# list itself is checked below).
# Usage: package_test.sh BUILD_DIR
set -u
BUILD=$1
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fwrescue-pkg-XXXXXX")
trap '[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$TEST_DIR"' EXIT
passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what"
  fi
}
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps)"; exit 77; }
done

# The package goes to a directory of the test's: the build directory keeps only what building
# and installing always write there.
if ! cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TEST_DIR/pkg" >"$TEST_DIR/cpack.log" 2>&1; then
  cat "$TEST_DIR/cpack.log"
  echo "FAIL: cpack -G DEB"
  exit 1
fi
deb=$(ls "$TEST_DIR"/pkg/fwrescue_*.deb 2>/dev/null | head -1)
check "cpack made fwrescue_VERSION_ARCH.deb" test -f "$deb"
[ -f "$deb" ] || { cat "$TEST_DIR/cpack.log"; echo "$passed passed, $failed failed"; exit 1; }

dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' >"$TEST_DIR/files"
has() { grep -q -- " ./$1\$" "$TEST_DIR/files"; }
for f in usr/bin/fwrescued usr/bin/fwrescue usr/bin/fwrescue-icmb-bus \
  lib/systemd/system/fwrescued.service etc/fwrescue/fwrescued.toml \
  usr/share/doc/fwrescue/README.md usr/share/doc/fwrescue/service.md \
  usr/share/doc/fwrescue/configuration.md usr/share/doc/fwrescue/examples/peer.toml \
  usr/share/doc/fwrescue/examples/console.toml; do
  # The unit lies under /usr/lib on a merged /usr (every Debian 12), where systemd reads it.
  [ "$f" = lib/systemd/system/fwrescued.service ] && f=usr/$f
  check "the package holds /$f" has "$f"
done
check "every file belongs to root" sh -c "! awk '\$2 != \"root/root\"' '$TEST_DIR/files' | grep -q ."
check "the programs are executable" grep -q '^-rwxr-xr-x root/root ./usr/bin/fwrescued$' "$TEST_DIR/files"
check "nothing lands in /usr/local or the build tree" sh -c "! grep -Eq '/usr/local|$BUILD' '$TEST_DIR/files'"

dpkg-deb -f "$deb" Package Version Architecture Depends >"$TEST_DIR/control"
check "Package: fwrescue" grep -qx 'Package: fwrescue' "$TEST_DIR/control"
check "Architecture: $(dpkg --print-architecture)" \
  grep -qx "Architecture: $(dpkg --print-architecture)" "$TEST_DIR/control"
# dpkg-shlibdeps computed these from the programs' libraries.
for lib in libc6 libsodium23 libsystemd0 libcaf-core libcapnp libfmt9 libflashrom1 libcurl4; do
  check "Depends names $lib" grep -Eq "^Depends: .*\\b$lib" "$TEST_DIR/control"
done
dpkg-deb -e "$deb" "$TEST_DIR/control.d"
check "the configuration is a conffile" grep -qx /etc/fwrescue/fwrescued.toml "$TEST_DIR/control.d/conffiles"

# dpkg's own install into a scratch root: its database there, not the machine's.
root=$TEST_DIR/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
: >"$root/var/lib/dpkg/status"
if dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" >"$TEST_DIR/dpkg.log" 2>&1; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: dpkg --root installs the package"
  cat "$TEST_DIR/dpkg.log"
fi
check "dpkg lists it installed" \
  sh -c "dpkg --root='$root' -s fwrescue | grep -qx 'Status: install ok installed'"
unit=$root/usr/lib/systemd/system/fwrescued.service
check "the unit starts the installed daemon with the installed configuration" \
  grep -qx 'ExecStart=/usr/bin/fwrescued --config /etc/fwrescue/fwrescued.toml' "$unit"
check "installed fwrescued --help runs" sh -c "'$root/usr/bin/fwrescued' --help | grep -q -- --config"
check "installed fwrescue --help runs" sh -c "'$root/usr/bin/fwrescue' --help | grep -q keygen"
# The bus emulator has no --help: with no arguments it prints its usage.
check "installed fwrescue-icmb-bus runs" \
  sh -c "'$root/usr/bin/fwrescue-icmb-bus' 2>&1 | grep -q 'usage: fwrescue-icmb-bus'"
# The default configuration parses, and the first thing missing on a fresh install is the node
# key: one line saying which file and how to make it.
"$root/usr/bin/fwrescued" --config "$root/etc/fwrescue/fwrescued.toml" >"$TEST_DIR/out" 2>&1
rc=$?
check "without a node key the daemon stops with exit code 2" test "$rc" = 2
check "in one line" test "$(wc -l <"$TEST_DIR/out")" = 1
check "naming the key and the keygen command" \
  grep -q '^fwrescued: node key: .*/var/lib/fwrescue/node.sec.*fwrescue keygen --secret-key /var/lib/fwrescue/node.sec' \
  "$TEST_DIR/out"
check "dpkg removes it again, keeping the conffile" \
  sh -c "dpkg --root='$root' --force-script-chrootless -r fwrescue && test ! -e '$root/usr/bin/fwrescued' && test -f '$root/etc/fwrescue/fwrescued.toml'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

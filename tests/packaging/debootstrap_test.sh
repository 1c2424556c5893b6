#!/usr/bin/env bash
# The Debian package on a fresh Debian 12: a minimal bookworm made with debootstrap, the package
# installed there with apt (which fetches its Depends from the archive), and the installed
# programs run in that root. Needs root (debootstrap, chroot) and the Debian archive
# ($FWRESCUE_DEBIAN_MIRROR, http://deb.debian.org/debian by default); skips without either.
# About two minutes, most of it debootstrap.
# Usage: debootstrap_test.sh BUILD_DIR
set -u
BUILD=$1
MIRROR=${FWRESCUE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "SKIP: debootstrap and chroot need root"; exit 77; }
for tool in debootstrap chroot cpack curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
curl -sfI --max-time 10 "$MIRROR/dists/bookworm/Release" >/dev/null ||
  { echo "SKIP: the Debian archive $MIRROR cannot be reached"; exit 77; }
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fwrescue-bookworm-XXXXXX")
trap '[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf --one-file-system "$TEST_DIR"' EXIT
passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@" >"$TEST_DIR/last.log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what"
    tail -20 "$TEST_DIR/last.log"
  fi
}

cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TEST_DIR/pkg" >"$TEST_DIR/cpack.log" 2>&1 ||
  { cat "$TEST_DIR/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1; }
deb=$(ls "$TEST_DIR"/pkg/fwrescue_*.deb | head -1)
root=$TEST_DIR/root
start=$SECONDS
if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$TEST_DIR/debootstrap.log" 2>&1; then
  tail -20 "$TEST_DIR/debootstrap.log"
  echo "FAIL: debootstrap --variant=minbase bookworm"
  exit 1
fi
echo "debootstrap: $((SECONDS - start)) s"
cp "$deb" "$root/tmp/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" sh -c "$1"; }
start=$SECONDS
check "apt installs the package and its Depends" in_root \
  "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb")"
echo "apt-get install: $((SECONDS - start)) s"
check "fwrescued --help runs" in_root "fwrescued --help | grep -q -- --config"
check "fwrescue --help runs" in_root "fwrescue --help | grep -q keygen"
check "the unit is where systemd looks" test -f "$root/lib/systemd/system/fwrescued.service"
check "the configuration is a conffile" \
  in_root "dpkg-query -W -f='\${Conffiles}' fwrescue | grep -q /etc/fwrescue/fwrescued.toml"
# Following docs/service.md: with the node key made, the next thing missing is the release key.
check "the README's keygen makes the node key" in_root "mkdir -p /var/lib/fwrescue && \
  fwrescue keygen --secret-key /var/lib/fwrescue/node.sec --public-key /var/lib/fwrescue/node.pub"
check "the daemon then asks for the release key in one line" in_root \
  "fwrescued --config /etc/fwrescue/fwrescued.toml 2>&1 | grep -q '^fwrescued: trusted key: public key /etc/fwrescue/release.pub: cannot open'"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

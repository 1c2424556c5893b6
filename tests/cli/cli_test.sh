#!/usr/bin/env bash
# Drives the fwrescue binary as an operator or a script would and checks exit codes and output.
# Usage: cli_test.sh PATH/TO/fwrescue
set -u
fwrescue=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

# expect CODE PATTERN -- COMMAND...: runs COMMAND, checks its exit code and that its combined
# output matches the extended regex PATTERN.
expect() {
  local want=$1 pattern=$2
  shift 3
  local out code
  out=$("$@" 2>&1)
  code=$?
  checks=$((checks + 1))
  if [ "$code" != "$want" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    failures=$((failures + 1))
    printf 'FAIL: %s\n  wanted exit %s and /%s/, got exit %s:\n%s\n' "$*" "$want" "$pattern" \
      "$code" "$out"
  fi
}

# one_line COMMAND...: the command's stderr is exactly one line (errors never dump a trace).
one_line() {
  local lines
  lines=$("$@" 2>&1 >/dev/null | wc -l)
  checks=$((checks + 1))
  if [ "$lines" != 1 ]; then
    failures=$((failures + 1))
    printf 'FAIL: %s printed %s lines on stderr, wanted 1\n' "$*" "$lines"
  fi
}

cd "$work"
head -c $((300 * 4096 + 123)) /dev/urandom >image.bin

# keygen
expect 0 '^key [0-9a-f]{16} written' -- "$fwrescue" keygen --secret-key k.sec --public-key k.pub
expect 0 '' -- test "$(stat -c %a k.sec)" = 600
cp k.pub k.pub.orig
expect 2 'k.sec already exists; pass --force' -- "$fwrescue" keygen --secret-key k.sec --public-key new.pub
expect 1 '' -- test -e new.pub
expect 0 '' -- cmp k.pub k.pub.orig
chmod 644 k.sec
expect 0 'written' -- "$fwrescue" keygen --secret-key k.sec --public-key k.pub --force
expect 0 '' -- test "$(stat -c %a k.sec)" = 600
expect 1 '' -- cmp -s k.pub k.pub.orig
expect 0 'written' -- "$fwrescue" keygen --secret-key other.sec --public-key other.pub

# sign
expect 0 '^signed Acme:X11 bios 1\.2\.3 svn 7: 1228923 bytes in 301 blocks of 4096, blake2b root [0-9a-f]{64}' -- \
  "$fwrescue" sign --secret-key k.sec --image image.bin --platform Acme:X11 --version 1.2.3 --svn 7 --out m.fwm
expect 0 'sha256' -- "$fwrescue" sign --secret-key k.sec --image image.bin --platform Acme:X11 \
  --version 1.2.3 --svn 7 --hash sha256 --block-size 65536 --out m256.fwm
expect 2 'svn "-1" is not a number' -- "$fwrescue" sign --secret-key k.sec --image image.bin \
  --platform Acme:X11 --version 1 --svn -1 --out x.fwm
expect 2 'svn "4294967296"' -- "$fwrescue" sign --secret-key k.sec --image image.bin \
  --platform Acme:X11 --version 1 --svn 4294967296 --out x.fwm
expect 2 'block size 1000 is not a power of two' -- "$fwrescue" sign --secret-key k.sec \
  --image image.bin --platform Acme:X11 --version 1 --svn 1 --block-size 1000 --out x.fwm
expect 2 'hash "md5" is not blake2b or sha256' -- "$fwrescue" sign --secret-key k.sec \
  --image image.bin --platform Acme:X11 --version 1 --svn 1 --hash md5 --out x.fwm
expect 2 'platform "AcmeX11" is not VENDOR:BOARD' -- "$fwrescue" sign --secret-key k.sec \
  --image image.bin --platform AcmeX11 --version 1 --svn 1 --out x.fwm
expect 2 'platform board is empty' -- "$fwrescue" sign --secret-key k.sec \
  --image image.bin --platform Acme: --version 1 --svn 1 --out x.fwm
expect 2 'secret key k.pub: not a secret key file|k.pub: not a secret key file' -- \
  "$fwrescue" sign --secret-key k.pub --image image.bin --platform Acme:X11 --version 1 --svn 1 --out x.fwm
expect 2 'image missing.bin: cannot open' -- "$fwrescue" sign --secret-key k.sec \
  --image missing.bin --platform Acme:X11 --version 1 --svn 1 --out x.fwm
expect 2 'component "NIC" is not 1 to 32 characters of a-z, 0-9 and' -- "$fwrescue" sign \
  --secret-key k.sec --image image.bin --platform Acme:X11 --version 1 --svn 1 --component NIC \
  --out x.fwm
one_line "$fwrescue" sign --secret-key k.sec --image image.bin --platform Acme:X11 --version 1 \
  --svn 1 --component $'nic\nx' --out x.fwm
expect 0 '^signed Acme:X11 nic 4\.0 svn 2:' -- "$fwrescue" sign --secret-key k.sec \
  --image image.bin --platform Acme:X11 --version 4.0 --svn 2 --component nic --out nic.fwm
expect 2 'required' -- "$fwrescue" sign --secret-key k.sec --image image.bin
expect 1 '' -- test -e x.fwm

# verify
expect 0 '^OK Acme:X11 bios 1\.2\.3 svn 7: 1228923 bytes in 301 blocks match root' -- \
  "$fwrescue" verify --public-key k.pub --manifest m.fwm --image image.bin
expect 0 '^OK' -- "$fwrescue" verify --public-key other.pub --public-key k.pub --manifest m256.fwm --image image.bin
expect 0 '^OK Acme:X11 nic 4\.0 svn 2:' -- "$fwrescue" verify --public-key k.pub --manifest nic.fwm \
  --image image.bin
expect 1 'signature: signed by key [0-9a-f]{16}, which is not among the 1 trusted key' -- \
  "$fwrescue" verify --public-key other.pub --manifest m.fwm --image image.bin
cp image.bin bad.bin
printf '\x00\x01\x02' | dd of=bad.bin bs=1 seek=$((291 * 4096 + 10)) conv=notrunc status=none
printf '\x00\x01\x02' | dd of=bad.bin bs=1 seek=$((295 * 4096)) conv=notrunc status=none
expect 1 '^FAILED content: 2 of 301 blocks do not match, first bad block 291 at 0x123000$' -- \
  "$fwrescue" verify --public-key k.pub --manifest m.fwm --image bad.bin
head -c 1000000 image.bin >short.bin
expect 1 '^FAILED size: image is 1000000 bytes, the manifest says 1228923$' -- \
  "$fwrescue" verify --public-key k.pub --manifest m.fwm --image short.bin
cp m.fwm tampered.fwm
# Change svn 7 to 8 inside the signed body. The body follows the magic (8 bytes), the envelope's
# segment table and root pointer (16) and its three pointers (24); inside the body, svn sits
# after its own segment table and root pointer (16) at data byte 4: 8+16+24+16+4 = 68.
expect 0 '' -- test "$(od -An -tu1 -j68 -N1 m.fwm | tr -d ' ')" = 7
printf '\x08' | dd of=tampered.fwm bs=1 seek=68 conv=notrunc status=none
expect 1 '^FAILED signature: signature does not verify with key' -- \
  "$fwrescue" verify --public-key k.pub --manifest tampered.fwm --image image.bin
# The block digest list is not signed: a file whose list was altered must fail as a whole, even
# against the genuine image. The list is the file's last 301 * 32 bytes; flip one of its bytes.
cp m.fwm digests.fwm
size=$(stat -c %s digests.fwm)
printf '\x5a' | dd of=digests.fwm bs=1 seek=$((size - 100)) conv=notrunc status=none
expect 0 'they do NOT build the Merkle root' -- "$fwrescue" inspect digests.fwm
expect 1 '^FAILED manifest: its block digest list does not build the signed Merkle root' -- \
  "$fwrescue" verify --public-key k.pub --manifest digests.fwm --image image.bin
head -c 200 /dev/urandom >junk.fwm
expect 2 'junk.fwm: malformed manifest: not a manifest file' -- \
  "$fwrescue" verify --public-key k.pub --manifest junk.fwm --image image.bin
one_line "$fwrescue" verify --public-key k.pub --manifest junk.fwm --image image.bin
head -c 100 m.fwm >trunc.fwm
expect 2 'trunc.fwm: malformed manifest' -- \
  "$fwrescue" verify --public-key k.pub --manifest trunc.fwm --image image.bin
one_line "$fwrescue" verify --public-key k.pub --manifest trunc.fwm --image image.bin
expect 2 'public key nope.pub: cannot open' -- \
  "$fwrescue" verify --public-key nope.pub --manifest m.fwm --image image.bin
expect 2 'image nope.bin: cannot open' -- \
  "$fwrescue" verify --public-key k.pub --manifest m.fwm --image nope.bin
expect 2 'manifest nope.fwm: cannot open' -- \
  "$fwrescue" verify --public-key k.pub --manifest nope.fwm --image image.bin
expect 2 'public-key is required|--public-key' -- "$fwrescue" verify --manifest m.fwm --image image.bin
expect 2 'frobnicate' -- "$fwrescue" verify --public-key k.pub --manifest m.fwm --image image.bin --frobnicate

# inspect
expect 0 'svn +7' -- "$fwrescue" inspect m.fwm
expect 0 'component +bios' -- "$fwrescue" inspect m.fwm
expect 0 'component +nic' -- "$fwrescue" inspect nic.fwm
expect 0 '"component":"nic"' -- "$fwrescue" inspect nic.fwm --json
expect 0 'block digests +301 \(they build the Merkle root\)' -- "$fwrescue" inspect m.fwm
expect 0 '^\{"format_version":1,"platform":\{"vendor":"Acme","board":"X11"\},"component":"bios","version":"1\.2\.3","svn":7,"image_size":1228923,"block_size":4096,"block_count":301,"hash":"blake2b","merkle_root":"[0-9a-f]{64}"' -- \
  "$fwrescue" inspect m.fwm --json
expect 0 '"hash":"sha256"' -- "$fwrescue" inspect m256.fwm --json
expect 2 'junk.fwm: malformed manifest' -- "$fwrescue" inspect junk.fwm

# help on every subcommand
for sub in keygen sign verify inspect; do
  expect 0 "Usage: .*$sub" -- "$fwrescue" "$sub" --help
done
expect 0 'keygen' -- "$fwrescue" --help
expect 2 'subcommand' -- "$fwrescue"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" = 0 ]

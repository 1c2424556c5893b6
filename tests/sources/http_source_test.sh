#!/usr/bin/env bash
# A node with no peer reachable recovers from a web server (a real lighttpd on loopback),
# downloading only the blocks that differ; an image signed for another component is passed
# over. With the server down the attempt fails, says why in status, and the next attempt
# recovers once the server is back.
source "$(dirname "$0")/../integration/testlib.sh" "$@"
cluster_init "$TEST_DIR"
www=$TEST_DIR/www
mkdir -p "$www"
cp "$TEST_DIR/images/bios.fd" "$www/bios.fd"
cp "$TEST_DIR/images/bios.fwm" "$www/bios.fd.fwm"
# A NIC's firmware, signed by the same key for the same platform, with a higher svn: it must
# never be taken for the BIOS.
head -c 65536 /dev/urandom >"$www/nic.bin"
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$www/nic.bin" \
  --platform QEMU:q35 --version 9.0 --svn 9 --component nic --out "$www/nic.bin.fwm" >/dev/null
printf '# images for the q35 test boards\nnic.bin.fwm\nbios.fd.fwm\n' >"$www/index"

source "$(dirname "$0")/web.sh"
web_start_free_port "$www"
url=http://127.0.0.1:$port
cluster_node bmc-c peer 'recovery.sources=["http"]' "http.url=\"$url/\"" http.allow_http=true \
  recovery.max_attempts=20 recovery.backoff_initial_ms=500 recovery.backoff_max_ms=1000
cluster_corrupt bmc-c 0x100000 65536
cluster_start bmc-c
log=$TEST_DIR/logs/bmc-c.log
check "bmc-c recovers from the web server" \
  cluster_wait_log bmc-c "recovered bmc-c from http $url/bios.fd in [0-9]+ ms" 60
check "bmc-c's flash verifies" cluster_verify bmc-c
check "only the 16 damaged blocks were downloaded" grep -q "reading 16 in 1 run" "$log"
# The index, two manifests (about 28 KiB each: 892 block digests) and 64 KiB of blocks, with
# headers: far less than the 3.5 MiB image.
got=$(sed -n 's/.*(\([0-9]*\) bytes from the location).*/\1/p' "$log" | head -1)
check "the download is the damaged bytes and the manifests ($got bytes)" test "${got:-0}" -lt 200000
check "status names the web server" status_has bmc-c "\"source\":\"http\",\"result\":\"served http $url/bios.fd\""

# The server goes away: the attempt fails with the reason, then the server comes back.
web_stop
cluster_corrupt bmc-c 0x104000 8192
check "a recovery is started by hand" "$FWRESCUE" recover --socket "$TEST_DIR/bmc-c/state/admin.sock"
check "with the server down the attempt fails naming the index" \
  cluster_wait_log bmc-c "attempt 1 of 20 failed: .*$url/index" 20
check "status says why" status_has bmc-c "\"source\":\"http\",\"result\":\"[^\"]*$url/index"
check "the server comes back" web_start "$www" "$port"
check "and the next attempt recovers" \
  cluster_wait_log bmc-c "flash written: 2 of [0-9]+ sectors differed" 30
check "bmc-c's flash verifies again" cluster_verify bmc-c
check "the NIC's image never reached the BIOS flash" \
  test "$(grep -c "nic.bin" "$TEST_DIR/logs/bmc-c.log")" = 0
finish

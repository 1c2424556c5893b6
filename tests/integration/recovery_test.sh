#!/usr/bin/env bash
# The main scenario: a console and a peer hold the signed image; the recipient's flash is
# corrupt. It detects, discovers both, picks the console (prefer-console), pulls, flashes and
# verifies; the flash then verifies against the manifest.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer
cluster_node bmc-c peer
cluster_corrupt bmc-c 0x100000 65536
cluster_corrupt bmc-c 0x300000 4096
bad=$(cluster_verify bmc-c | sed -n 's/.*content: \([0-9]*\) of.*/\1/p')
check "the corrupted flash does not verify" test -n "$bad"
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
cluster_start bmc-c
check "bmc-c recovers from the console" cluster_wait_log bmc-c "recovered bmc-c from console in [0-9]+ ms" 60
check "bmc-c's flash verifies against the manifest" cluster_verify bmc-c
check "bmc-c saw both offers" grep -q "offer from bmc-b" "$TEST_DIR/logs/bmc-c.log"
check "only the $bad differing blocks were pulled" grep -q "pulling $bad\$" "$TEST_DIR/logs/bmc-c.log"
check "status says done" wait_status bmc-c '"state":"done"' 5
check "status names the donor" status_has bmc-c '"last_recovery":{"succeeded":true,"donor":"console"'
check "status explains the negotiation" status_has bmc-c '"policy":"prefer-console","accepted":"console","offers":\[{'
check "the host is powered on again" grep -qx on "$TEST_DIR/bmc-c/state/host_power"
check "the journal is cleared" test ! -e "$TEST_DIR/bmc-c/state/journal"
check "the console served bmc-c" grep -q "serving catalog image" "$TEST_DIR/logs/console.log"
# An operator's recover on a healthy node writes nothing, and so never touches the host.
power_stamp=$(stat -c %.9Y "$TEST_DIR/bmc-c/state/host_power")
check "recover is taken" "$FWRESCUE" recover --socket "$TEST_DIR/bmc-c/state/admin.sock"
check "the second recovery ends" cluster_wait_log bmc-c "flash written: 0 of [0-9]+ sectors differed" 60
check "the host was not touched" test "$(stat -c %.9Y "$TEST_DIR/bmc-c/state/host_power")" = "$power_stamp"
check "the host is still on" grep -qx on "$TEST_DIR/bmc-c/state/host_power"
finish

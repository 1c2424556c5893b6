#!/usr/bin/env bash
# No compatible donor: the donors hold an image for another platform, or one below the
# recipient's svn floor. The recipient reports "no compatible image" and its flash is untouched.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer
# bmc-x is another board: nobody holds its image. bmc-s demands svn 5; the images are svn 1.
CLUSTER_BOARD=other-board cluster_node bmc-x peer recovery.max_attempts=2 recovery.discovery_window_ms=200
cluster_node bmc-s peer trust.svn_floor=5 recovery.max_attempts=2 recovery.discovery_window_ms=200
cluster_corrupt bmc-x 0x100000 8192
cluster_corrupt bmc-s 0x100000 8192
cp "$TEST_DIR/bmc-x/flash.fd" "$TEST_DIR/bmc-x.before"
cp "$TEST_DIR/bmc-s/flash.fd" "$TEST_DIR/bmc-s.before"
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b
cluster_start bmc-x
cluster_start bmc-s
check "wrong platform: no compatible image" \
  cluster_wait_log bmc-x "recovery failed after 2 attempt\(s\): no compatible image" 30
check "svn floor: no compatible image" \
  cluster_wait_log bmc-s "recovery failed after 2 attempt\(s\): no compatible image" 30
check "wrong platform: flash untouched" cmp "$TEST_DIR/bmc-x/flash.fd" "$TEST_DIR/bmc-x.before"
check "svn floor: flash untouched" cmp "$TEST_DIR/bmc-s/flash.fd" "$TEST_DIR/bmc-s.before"
check "status says failed" status_has bmc-s '"state":"failed"'
check "status gives the reason" status_has bmc-s 'no compatible image'
check "the donors never offered to the wrong platform" \
  test "$(grep -c "to bmc-x" "$TEST_DIR/logs/console.log")" = 0
finish

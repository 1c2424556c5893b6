#!/usr/bin/env bash
# Policies: the same cluster picks different donors under two policies, and a policy swapped on
# a running daemon (fwrescue reload, SIGHUP) governs its next recovery; a bad new configuration
# is refused and the old one stays in force.
source "$(dirname "$0")/testlib.sh" "$@"
cluster_init "$TEST_DIR"
cluster_node console console donor.serve_installed=false monitor.auto_recover=false
cluster_node bmc-b peer
cluster_node bmc-c peer recovery.policy='"prefer-console"'
cluster_node bmc-d peer recovery.policy='"least-loaded"'
cluster_corrupt bmc-c 0x100000 65536
cluster_corrupt bmc-d 0x100000 65536
cluster_start console
cluster_start bmc-b
cluster_wait_ready console
cluster_wait_ready bmc-b

# Two policies, one cluster: prefer-console takes the console; least-loaded, with every donor
# idle, takes the lowest node id (bmc-b).
cluster_start bmc-c
check "prefer-console picks the console" cluster_wait_log bmc-c "recovered bmc-c from console" 60
cluster_start bmc-d
check "least-loaded picks bmc-b" cluster_wait_log bmc-d "recovered bmc-d from bmc-b" 60
check "status explains the choice" \
  status_has bmc-d '"last_negotiation":{"policy":"least-loaded","accepted":"bmc-b","offers":\['
check "every offer is listed with its rank" status_has bmc-d '"donor":"console","role":"console","version":"2022.11","svn":1,"compatible":true,"reason":"","rank":3'

# Swap bmc-c's policy while it runs; its next recovery follows the new one.
sed -i 's/^policy = "prefer-console"/policy = "least-loaded"/' "$TEST_DIR/bmc-c/node.toml"
check "reload answers with the policy in force" \
  sh -c "'$FWRESCUE' reload --config '$TEST_DIR/bmc-c/node.toml' | grep -q 'policy least-loaded'"
check "status shows the new policy" status_has bmc-c '"policy":"least-loaded"'
cluster_corrupt bmc-c 0x200000 8192
check "an operator starts a recovery" \
  sh -c "'$FWRESCUE' recover --config '$TEST_DIR/bmc-c/node.toml' | grep -q 'recovery started'"
check "the next recovery follows the new policy" cluster_wait_log bmc-c "recovered bmc-c from bmc-b" 60
check "the flash verifies" cluster_verify bmc-c

# A bad configuration is refused; the old one stays and the daemon keeps running.
sed -i 's/^policy = "least-loaded"/policy = "no-such-policy"/' "$TEST_DIR/bmc-c/node.toml"
out=$("$FWRESCUE" reload --config "$TEST_DIR/bmc-c/node.toml" 2>&1)
check "reload refuses an unknown policy" test $? = 2
check "the refusal names the known policies" grep -q "recovery.policy 'no-such-policy' is unknown (known: fastest-link, first-responder" <<<"$out"
check "the old policy stays in force" status_has bmc-c '"policy":"least-loaded"'
printf 'bogus_key = 1\n' >>"$TEST_DIR/bmc-c/node.toml"
cluster_kill bmc-c HUP
check "SIGHUP with a bad file is refused with the reason" \
  cluster_wait_log bmc-c "reload refused, the previous configuration stays: .*unknown key 'supervisor.bogus_key'|reload refused, the previous configuration stays: .*bogus_key" 10
check "the daemon still answers" status_has bmc-c '"policy":"least-loaded"'
sed -i '/^bogus_key/d; s/^policy = "no-such-policy"/policy = "newest"/' "$TEST_DIR/bmc-c/node.toml"
cluster_kill bmc-c HUP
check "SIGHUP applies a good file" cluster_wait_log bmc-c "configuration reloaded from .*: policy newest" 10
check "a fixed setting cannot change on reload" sh -c "
  sed -i 's/^id = \"bmc-c\"/id = \"bmc-z\"/' '$TEST_DIR/bmc-c/node.toml'
  '$FWRESCUE' reload --socket '$TEST_DIR/bmc-c/state/admin.sock' 2>&1 | grep -q 'node.id cannot change without a restart'"
finish

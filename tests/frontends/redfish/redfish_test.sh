#!/usr/bin/env bash
# The Redfish service of a running node, over HTTPS with a certificate made here, driven by
# redfishtool (and curl where a body must be read on an error status, which redfishtool does
# not print): the service root, the inventory, a SimpleUpdate to a newer image from a web server
# followed to Completed through its task monitor, and the refusals: wrong password (401), an
# ImageURI that is not a usable URL, malformed JSON, an unknown target (400, nothing started),
# and an image whose manifest does not verify (its task ends in Exception, the flash untouched).
source "$(dirname "$0")/../../integration/testlib.sh" "$@"
command -v redfishtool >/dev/null || { echo "redfishtool is not installed"; exit 1; }
cluster_init "$TEST_DIR"

# The newer image: the same firmware with a few bytes changed, signed with a higher svn.
www=$TEST_DIR/www
mkdir -p "$www"
cp "$TEST_DIR/images/bios.fd" "$www/bios-new.fd"
printf 'fwrescue-redfish-update' | dd of="$www/bios-new.fd" bs=1 seek=$((0x200000)) conv=notrunc status=none
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/release.sec" --image "$www/bios-new.fd" \
  --platform QEMU:q35 --version 2023.1 --svn 2 --out "$www/bios-new.fd.fwm" >/dev/null
# An image signed by a key the node does not trust.
"$FWRESCUE" keygen --secret-key "$TEST_DIR/keys/rogue.sec" --public-key "$TEST_DIR/keys/rogue.pub" >/dev/null
cp "$www/bios-new.fd" "$www/rogue.fd"
printf 'rogue' | dd of="$www/rogue.fd" bs=1 seek=$((0x100000)) conv=notrunc status=none
"$FWRESCUE" sign --secret-key "$TEST_DIR/keys/rogue.sec" --image "$www/rogue.fd" \
  --platform QEMU:q35 --version 6.6.6 --svn 9 --out "$www/rogue.fd.fwm" >/dev/null
: >"$www/index"
source "$(dirname "$0")/../../sources/web.sh"
web_start_free_port "$www"
web=http://127.0.0.1:$port

# The service's certificate and the operator's credentials.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$TEST_DIR/redfish.key" -out "$TEST_DIR/redfish.crt" 2>/dev/null
echo 'correct horse' | "$FWRESCUE" passwd admin >"$TEST_DIR/redfish.users"
check "passwd prints a user:argon2id line" grep -q '^admin:\$argon2id\$' "$TEST_DIR/redfish.users"
rport=$((20000 + RANDOM % 20000))
cluster_node bmc-r peer redfish.enabled=true "redfish.listen=\"127.0.0.1:$rport\"" \
  "redfish.cert_file=\"$TEST_DIR/redfish.crt\"" "redfish.key_file=\"$TEST_DIR/redfish.key\"" \
  "redfish.credentials=\"$TEST_DIR/redfish.users\"" http.allow_http=true
cluster_start bmc-r
check "the Redfish service starts" cluster_wait_log bmc-r "redfish on https://127.0.0.1:$rport" 30

rf() { redfishtool -r "127.0.0.1:$rport" -S Always -u admin -p 'correct horse' "$@" 2>>"$TEST_DIR/logs/redfishtool.log"; }
rf_has() { local path=$1; shift; rf raw GET "$path" | tr -d ' \n' | grep -q -- "$@"; }
# curl_rf METHOD PATH [DATA]: the HTTP status, then the body, of a request as admin.
curl_rf() {
  curl -sk -u 'admin:correct horse' -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} -w '\n%{http_code}' "https://127.0.0.1:$rport$2"
}
post_update() { curl_rf POST /redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate "$1"; }
recoveries() { cluster_status bmc-r | grep -o '"recoveries":[0-9]*' | head -1; }

check "the service root names the UpdateService and TaskService" \
  rf_has /redfish/v1 '"UpdateService":{"@odata.id":"/redfish/v1/UpdateService"}'
check "the inventory has one member per target" \
  rf_has /redfish/v1/UpdateService/FirmwareInventory '"Members@odata.count":1'
member=$(rf raw GET /redfish/v1/UpdateService/FirmwareInventory | tr -d ' \n' |
  grep -o '/redfish/v1/UpdateService/FirmwareInventory/[a-z0-9_-]*' | head -1)
root=$("$FWRESCUE" inspect "$TEST_DIR/images/bios.fwm" --json 2>/dev/null | tr -d ' \n' |
  grep -o '"merkle_root":"[0-9a-f]*"' | cut -d'"' -f4)
check "the member shows the installed version" rf_has "$member" '"Version":"2022.11"'
check "and its svn" rf_has "$member" '"Svn":1'
check "and its root (${root:-none})" rf_has "$member" "\"Root\":\"${root:-none}\""
check "and that it can be updated" rf_has "$member" '"Updateable":true'

# Wrong credentials.
check "redfishtool with a wrong password is refused" \
  bash -c "! redfishtool -r 127.0.0.1:$rport -S Always -u admin -p wrong raw GET /redfish/v1/UpdateService"
out=$(curl -sk -u admin:wrong -D - -o "$TEST_DIR/401.json" -w '%{http_code}' "https://127.0.0.1:$rport/redfish/v1/TaskService")
check "a wrong password gets 401" grep -q '401$' <<<"$out"
check "with WWW-Authenticate: Basic" grep -qi '^WWW-Authenticate: Basic' <<<"$out"
check "and a Redfish error body" grep -q '"@Message.ExtendedInfo"' "$TEST_DIR/401.json"
check "no credentials get 401 too" \
  test "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$rport/redfish/v1/UpdateService")" = 401

# Bad requests start nothing.
before=$(recoveries)
out=$(post_update '{"ImageURI":"not a url"}')
check "an ImageURI that is not a URL gets 400" test "$(tail -1 <<<"$out")" = 400
check "with ActionParameterValueFormatError" grep -q 'Base.1.8.1.ActionParameterValueFormatError' <<<"$out"
out=$(post_update '{"ImageURI":"ftp://127.0.0.1/bios.fd"}')
check "an ftp:// ImageURI gets 400 saying it is not https" \
  bash -c 'grep -q "is not https" <<<"$1" && test "$(tail -1 <<<"$1")" = 400' _ "$out"
out=$(post_update '{"ImageURI": ')
check "malformed JSON gets 400 MalformedJSON" \
  bash -c 'grep -q "Base.1.8.1.MalformedJSON" <<<"$1" && test "$(tail -1 <<<"$1")" = 400' _ "$out"
out=$(post_update "{\"ImageURI\":\"$web/bios-new.fd\",\"Targets\":[\"/redfish/v1/UpdateService/FirmwareInventory/cpld\"]}")
check "an unknown target gets 400 naming the node's targets" \
  bash -c 'grep -q "this node has" <<<"$1" && test "$(tail -1 <<<"$1")" = 400' _ "$out"
head -c 70000 /dev/zero | tr '\0' ' ' >"$TEST_DIR/big.json"
out=$(curl -sk -u 'admin:correct horse' -H 'Content-Type: application/json' --data-binary "@$TEST_DIR/big.json" \
  -w '\n%{http_code}' "https://127.0.0.1:$rport/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate")
check "a body over max_body_kib gets 413" test "$(tail -1 <<<"$out")" = 413
check "a GET on the action gets 405" \
  test "$(curl_rf GET /redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate | tail -1)" = 405
check "none of them started a recovery ($before)" test "$(recoveries)" = "$before"

# The update: redfishtool posts it and follows the task monitor until the task is done.
rf raw POST /redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate \
  -d "{\"ImageURI\":\"$web/bios-new.fd\",\"TransferProtocol\":\"HTTP\",\"Targets\":[\"$member\"]}" \
  >"$TEST_DIR/update.json"
check "redfishtool followed the update's task to Completed" \
  grep -q '"TaskState": "Completed"' "$TEST_DIR/update.json"
check "at 100 percent" grep -q '"PercentComplete": 100' "$TEST_DIR/update.json"
check "with TaskCompletedOK" grep -q 'TaskEvent.1.0.TaskCompletedOK' "$TEST_DIR/update.json"
check "the flash now holds the new image" \
  "$FWRESCUE" verify --public-key "$TEST_DIR/keys/release.pub" \
  --manifest "$www/bios-new.fd.fwm" --image "$TEST_DIR/bmc-r/flash.fd"
check "only the changed blocks were read from the web server" \
  grep -q "reading 1 in 1 run" "$TEST_DIR/logs/bmc-r.log"
check "the inventory shows the new version" rf_has "$member" '"Version":"2023.1"'
check "and svn" rf_has "$member" '"Svn":2'
check "the task is in the collection" rf_has /redfish/v1/TaskService/Tasks '"Members@odata.count":1'
# The Prometheus text on the Redfish listener, behind its authentication.
check "/metrics on the Redfish listener counts the update" \
  bash -c "curl_out=\$(curl -sk -u 'admin:correct horse' https://127.0.0.1:$rport/metrics) && grep -q '^fwrescue_recoveries_total{.*outcome=\"succeeded\".*} 1\$' <<<\"\$curl_out\""
check "/metrics there needs credentials" \
  test "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$rport/metrics")" = 401

# An image whose manifest does not verify: accepted as a request, refused by the recovery.
out=$(post_update "{\"ImageURI\":\"$web/rogue.fd\"}")
check "a SimpleUpdate of an untrusted image is accepted (202)" test "$(tail -1 <<<"$out")" = 202
monitor=$(grep -o '"TaskMonitor":"[^"]*"' <<<"$out" | cut -d'"' -f4)
check "and names its task monitor ($monitor)" test -n "$monitor"
for _ in $(seq 100); do
  out=$(curl_rf GET "$monitor")
  [ "$(tail -1 <<<"$out")" != 202 ] && break
  sleep 0.2
done
check "its task ends in Exception" grep -q '"TaskState":"Exception"' <<<"$out"
check "with TaskAborted naming the reason" \
  bash -c 'grep -q "TaskEvent.1.0.TaskAborted" <<<"$1" && grep -q "rogue.fd" <<<"$1"' _ "$out"
check "the flash still holds the image it had" \
  "$FWRESCUE" verify --public-key "$TEST_DIR/keys/release.pub" \
  --manifest "$www/bios-new.fd.fwm" --image "$TEST_DIR/bmc-r/flash.fd"

# A recovery the daemon starts without Redfish gets a task too.
"$FWRESCUE" recover --socket "$TEST_DIR/bmc-r/state/admin.sock" >/dev/null 2>&1
check "a recovery started over the admin socket shows as task 3" \
  bash -c 'for _ in $(seq 50); do test "$(curl -sk -u "admin:correct horse" -o /dev/null -w "%{http_code}" "$1")" = 200 && exit 0; sleep 0.1; done; exit 1' \
  _ "https://127.0.0.1:$rport/redfish/v1/TaskService/Tasks/3"

# A service that cannot start (its port taken by the first node's) is one line in the log, and
# the node runs on without it.
cluster_node bmc-s peer redfish.enabled=true "redfish.listen=\"127.0.0.1:$rport\"" \
  "redfish.cert_file=\"$TEST_DIR/redfish.crt\"" "redfish.key_file=\"$TEST_DIR/redfish.key\"" \
  "redfish.credentials=\"$TEST_DIR/redfish.users\""
cluster_start bmc-s
check "a Redfish service that cannot listen says why in one line" \
  cluster_wait_log bmc-s "redfish: cannot listen on 127.0.0.1:$rport: .*; running without Redfish" 30
check "and the node still serves its admin socket" cluster_wait_log bmc-s "admin socket" 30
check "and answers status" status_has bmc-s '"state":"idle"'
finish

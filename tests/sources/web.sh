# A real web server (lighttpd) for the tests of the http source, on a loopback port, recorded
# in the cluster's pid file so cluster_stop ends it. Sourced after testlib.sh.
command -v lighttpd >/dev/null || PATH=$PATH:/usr/sbin
web_pid=

# web_start ROOT PORT: serves ROOT on 127.0.0.1:PORT; waits until it answers.
web_start() {
  cat >"$CLUSTER_DIR/lighttpd.conf" <<CONF
server.document-root = "$1"
server.bind = "127.0.0.1"
server.port = $2
server.errorlog = "$CLUSTER_DIR/logs/lighttpd.log"
mimetype.assign = ("" => "application/octet-stream")
CONF
  lighttpd -D -f "$CLUSTER_DIR/lighttpd.conf" &
  web_pid=$!
  echo "lighttpd $web_pid" >>"$CLUSTER_DIR/pids"
  for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$2/index" && return 0
    kill -0 "$web_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# web_start_free_port ROOT: web_start on a free port, which it leaves in $port.
web_start_free_port() {
  for _ in 1 2 3 4 5; do
    port=$((30000 + RANDOM % 20000))
    web_start "$1" "$port" && return 0
  done
  return 1
}

web_stop() { kill "$web_pid" 2>/dev/null; wait "$web_pid" 2>/dev/null || true; }

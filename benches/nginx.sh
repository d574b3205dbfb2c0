#!/usr/bin/env bash
# Requests per second through nginx: wrk → nginx → one bench-server kind
# over a keep-alive TCP upstream, the kinds alternating round by round so
# that machine noise hits them alike; prints min / median / max per kind.
#
# Usage: benches/nginx.sh [ROUNDS] [SECONDS] [CONNECTIONS]   (defaults 5 5 32)
# KINDS picks the upstream servers (bench-server kinds; default
# "raw-minimal demo": a minimal raw hyper hello against the demo's whole
# stack). The path is / for a hello kind and /whoami for `demo` (its
# plain-text page: through ProxyHeaders, RequestId, AccessLog to stdout,
# Metrics, Mount, Sessions (no cookie: no store call), SessionAuth and
# Csrf); LOAD_PATH overrides both.
#
# Placement on 2 cores: the upstream server on CPU 0 (current-thread
# runtime), nginx (one worker) and wrk (one thread) on CPU 1. nginx is the
# same for every kind; the last column is each median over the first
# kind's. The `fastcgi` kind is reached through `fastcgi_pass` (keep-alive),
# every other one through `proxy_pass`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-5}
CONNS=${3:-32}
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
need wrk
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is required (apt-get install nginx)" >&2; exit 1; }
build_bins
make_work
KINDS=${KINDS:-raw-minimal demo}
# path_for KIND: the path wrk asks KIND for.
path_for() {
  if [ -n "${LOAD_PATH:-}" ]; then echo "$LOAD_PATH"
  elif [ "$1" = demo ]; then echo /whoami
  else echo /; fi
}
# A free port for nginx (NGINX_PORT overrides).
NGINX_PORT=${NGINX_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

mkdir -p "$WORK/nginx"
# location_for KIND: the location's body; `fastcgi` is reached over
# FastCGI (the params of deploy/nginx/fastcgi.conf, keep-alive), every
# other kind over HTTP.
location_for() {
  if [ "$1" = fastcgi ]; then
    cat <<'LOC'
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REQUEST_SCHEME $scheme;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_PORT $remote_port;
            fastcgi_param SERVER_ADDR $server_addr;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param SERVER_NAME $server_name;
            fastcgi_keep_conn on;
            fastcgi_pass backend;
LOC
  else
    cat <<'LOC'
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
LOC
  fi
}
nginx_start() {
  local path=$2
  cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
master_process off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream backend { server $1; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
$(location_for "$3")
        }
    }
}
CONF
  "$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
  NGINX_PID=$!
  for _ in $(seq 1 100); do
    kill -0 "$NGINX_PID" 2>/dev/null || { echo "nginx exited" >&2; cat "$WORK/nginx/error.log" >&2; exit 1; }
    curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT$path" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nginx did not start" >&2
  cat "$WORK/nginx/error.log" >&2
  exit 1
}
nginx_stop() {
  kill -TERM "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
  for kind in $KINDS; do
    start_server taskset -c 0 -- "$kind" "$WORK/log.$kind.$round"
    path=$(path_for "$kind")
    nginx_start "$SERVER_ADDR" "$path" "$kind"
    rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$NGINX_PORT$path" |
      awk '/^Requests\/sec:/ {print $2} /Non-2xx/ {print "non-2xx " $0 > "/dev/stderr"}')
    nginx_stop
    stop_server
    echo "$rps" >>"$WORK/rps.$kind"
    echo "round $round $kind $rps"
  done
done

FIRST=${KINDS%% *}
BASE=$(median "$WORK/rps.$FIRST")
printf '%-18s %10s %10s %10s %8s\n' upstream min median max "vs $FIRST"
for kind in $KINDS; do
  sort -n "$WORK/rps.$kind" | awk -v k="$kind" -v base="$BASE" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%-18s %10.0f %10.0f %10.0f %8.3f\n", k, v[1], m, v[NR], m / base }'
done

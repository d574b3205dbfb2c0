#!/usr/bin/env bash
# Static files: gateway-hyper + `StaticFiles` (`static-gateway`) against
# tower-http's `ServeDir` on hyper (`static-servedir`) and nginx (Debian's
# package: one worker, `sendfile on`, `open_file_cache`), on three files
# made in a temporary directory:
#
#   html    GET /index.html   1 KiB
#   js-br   GET /app.js       100 KiB, `Accept-Encoding: br`, served from
#                             the precompressed sibling app.js.br
#   big     GET /big.bin      10 MiB of random bytes
#
# For each file and server it measures (each part can be left out, see
# PARTS):
#
#   callgrind  user-space instructions per request, as benches/callgrind.sh
#              does: two runs (N1 and N2 requests on one keep-alive
#              connection, sent by `load`), the difference over the extra
#              requests (nginx as one process, `master_process off`);
#   strace     syscalls per request under `strace -c -f`, the same way;
#   wrk        requests/s (MB/s = 10^6 bytes/s for the 10 MiB file, from
#              wrk's Transfer/sec): server pinned to CPU 0, wrk to CPU 1,
#              each round running every file on every server in turn;
#              min / median / max, with the load averages of each round.
#
# Every response is checked first (status 200, the same bytes as on disk,
# `content-encoding: br` for app.js), and a wrk run reporting socket
# errors or non-2xx responses fails the script.
#
# Usage: benches/static.sh [ROUNDS] [SECONDS] [CONNECTIONS]   (defaults 5 5 64)
# Environment: SERVERS (default "static-gateway static-servedir nginx"),
# FILES (default "html js-br big"), PARTS (default "callgrind strace wrk"),
# BIG_CONNS (wrk connections for the 10 MiB file, default 16), CG_N1/CG_N2
# (default 1000/6000; 10/60 for the 10 MiB file: CG_BIG_N1/CG_BIG_N2),
# ST_N1/ST_N2 (default 2000/12000; 20/120: ST_BIG_N1/ST_BIG_N2),
# NGINX_PORT (default: the first free port from 18080), STATIC_BLOCK_SIZE
# (static-gateway's streaming block, default StaticFiles'), KEEP=1 keeps the
# temporary directory (profiles, logs, nginx.conf) and prints its path.
#
# Needs valgrind, strace, wrk, curl, nginx, and brotli (Debian packages
# `brotli` and `libnginx-mod-http-brotli-static`); without the brotli CLI
# it tries python3's `brotli` module, and without either it falls back to
# gzip (`app.js.gz`, `Accept-Encoding: gzip`, nginx `gzip_static`) and
# says so.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-5}
CONNS=${3:-64}
BIG_CONNS=${BIG_CONNS:-16}
SERVERS=${SERVERS:-static-gateway static-servedir nginx}
FILES=${FILES:-html js-br big}
PARTS=${PARTS:-callgrind strace wrk}
NGINX=${NGINX:-/usr/sbin/nginx}
BROTLI_MODULE=${BROTLI_MODULE:-/usr/lib/nginx/modules/ngx_http_brotli_static_module.so}
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
need curl
has_part callgrind && need valgrind
has_part strace && need strace
has_part wrk && need wrk
case " $SERVERS " in *" nginx "*) [ -x "$NGINX" ] || { echo "nginx is required (apt-get install nginx)" >&2; exit 1; } ;; esac
build_bins
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    pkill -KILL -P "$SERVER_PID" 2>/dev/null || true
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# nginx's worker may run as an unprivileged user: it must read the files.
chmod 755 "$WORK"
FIX=$WORK/files
mkdir "$FIX"
export STATIC_DIR=$FIX

# --- The fixture --------------------------------------------------------
# 1 KiB of HTML, 100 KiB of JavaScript-like text, 10 MiB of random bytes.
awk 'BEGIN {
  printf "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>bench</title></head><body>\n"
  for (i = 0; i < 60; i++) printf "<p>paragraph %d of the benchmark page</p>\n", i * 7919 % 10007
}' >"$FIX/index.html"
truncate -s 1009 "$FIX/index.html"
printf '</body></html>\n' >>"$FIX/index.html"
awk 'BEGIN {
  for (i = 0; i < 4000; i++)
    printf "function f%d(a, b) { const k = %d; return a.map((x) => x * k + b.length); }\n", i, i * 7919 % 10007
}' >"$FIX/app.js"
truncate -s 102400 "$FIX/app.js"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$FIX/big.bin"
if command -v brotli >/dev/null; then
  brotli -q 11 -c "$FIX/app.js" >"$FIX/app.js.br"
  ENC=br ENC_HOW="brotli CLI, quality 11"
elif python3 -c 'import brotli' 2>/dev/null; then
  python3 -c 'import brotli, sys; sys.stdout.buffer.write(brotli.compress(open(sys.argv[1], "rb").read(), quality=11))' \
    "$FIX/app.js" >"$FIX/app.js.br"
  ENC=br ENC_HOW="python3 brotli module, quality 11"
else
  gzip -9 -c "$FIX/app.js" >"$FIX/app.js.gz"
  ENC=gzip ENC_HOW="gzip -9: NO BROTLI COMPRESSOR FOUND, the js file is served gzip instead of br"
fi
EXT=$([ "$ENC" = br ] && echo br || echo gz)
chmod 644 "$FIX"/*
echo "fixture: index.html $(wc -c <"$FIX/index.html") B, app.js $(wc -c <"$FIX/app.js") B," \
  "app.js.$EXT $(wc -c <"$FIX/app.js.$EXT") B ($ENC_HOW), big.bin $(wc -c <"$FIX/big.bin") B"

# file_path FILE / file_header FILE / file_body FILE: the request and the
# bytes the response body must be.
file_path() { case $1 in html) echo /index.html ;; js-br) echo /app.js ;; big) echo /big.bin ;; esac; }
file_header() { if [ "$1" = js-br ]; then echo "accept-encoding: $ENC"; fi; }
file_body() { case $1 in html) echo "$FIX/index.html" ;; js-br) echo "$FIX/app.js.$EXT" ;; big) echo "$FIX/big.bin" ;; esac; }

# --- nginx ----------------------------------------------------------------
if [ -z "${NGINX_PORT:-}" ]; then
  NGINX_PORT=18080
  while ss -Hltn "sport = :$NGINX_PORT" | grep -q .; do NGINX_PORT=$((NGINX_PORT + 1)); done
fi
mkdir "$WORK/nginx"
if [ "$ENC" = br ]; then
  [ -f "$BROTLI_MODULE" ] || { echo "$BROTLI_MODULE missing (apt-get install libnginx-mod-http-brotli-static)" >&2; exit 1; }
  NGINX_LOAD="load_module $BROTLI_MODULE;"
  NGINX_STATIC="brotli_static on;"
else
  NGINX_LOAD=""
  NGINX_STATIC="gzip_static on;"
fi
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_LOAD
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    # hyper has no per-connection request limit (nginx's default is 1000).
    keepalive_requests 100000000;
    open_file_cache max=1000 inactive=20s;
    open_file_cache_valid 1s;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    gzip_vary on;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $FIX;
        location / { $NGINX_STATIC }
    }
}
EOF

# start_nginx WRAPPER... -- MODE LOG: as start_server, for nginx in the
# foreground, either as one process (MODE single: callgrind and strace) or
# as a master with one worker (MODE master: wrk).
start_nginx() {
  local wrapper=()
  while [ "$1" != "--" ]; do wrapper+=("$1"); shift; done
  shift
  local mode=$1 log=$2 global="daemon off;"
  [ "$mode" = single ] && global="daemon off; master_process off;"
  "${wrapper[@]}" "$NGINX" -p "$WORK/nginx/" -e "$WORK/nginx/error.log" \
    -c "$WORK/nginx/nginx.conf" -g "$global" >"$log" 2>"$log.err" &
  SERVER_PID=$!
  SERVER_ADDR=127.0.0.1:$NGINX_PORT
  for _ in $(seq 1 600); do
    ss -Hltn "sport = :$NGINX_PORT" | grep -q . && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  echo "nginx did not start" >&2
  cat "$log.err" "$WORK/nginx/error.log" >&2 || true
  exit 1
}

# start SERVER WRAPPER...: starts a bench-server kind or nginx.
start() {
  local server=$1 log=$WORK/log.$1.$RANDOM
  shift
  if [ "$server" = nginx ]; then
    local mode=single
    [ "${1:-}" = taskset ] && mode=master
    start_nginx "$@" -- "$mode" "$log"
  else
    start_server "$@" -- "$server" "$log"
  fi
}

# stop: stops the server started last. Under strace the server is the
# tracer's child (strace does not forward signals); otherwise the process
# started is the server itself (valgrind and taskset exec it; nginx's
# master stops its worker).
stop() {
  local target=$SERVER_PID
  if [ "$(cat "/proc/$SERVER_PID/comm" 2>/dev/null)" = strace ]; then
    target=$(pgrep -P "$SERVER_PID" | head -1)
  fi
  kill -TERM "$target"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

# load_file FILE N: N requests for FILE on one connection.
load_file() {
  local header
  header=$(file_header "$1")
  if [ -n "$header" ]; then
    "$BIN/load" "$SERVER_ADDR" 1 "$2" "$(file_path "$1")" "$header"
  else
    "$BIN/load" "$SERVER_ADDR" 1 "$2" "$(file_path "$1")"
  fi
}

# --- Check every response --------------------------------------------------
for server in $SERVERS; do
  start "$server"
  for file in $FILES; do
    out=$WORK/body.$server.$file
    header=$(file_header "$file")
    curl -sS -o "$out" -D "$out.head" ${header:+-H "$header"} "http://$SERVER_ADDR$(file_path "$file")"
    status=$(head -1 "$out.head" | tr -d '\r')
    cenc=$(sed -n 's/^[Cc]ontent-[Ee]ncoding: *//p' "$out.head" | tr -d '\r')
    if [ "${status#HTTP/1.1 200}" = "$status" ] || ! cmp -s "$out" "$(file_body "$file")" ||
      { [ "$file" = js-br ] && [ "$cenc" != "$ENC" ]; }; then
      echo "$server $file: wrong response ($status, content-encoding '$cenc')" >&2
      cat "$out.head" >&2
      exit 1
    fi
  done
  stop
  echo "checked $server: 200, same bytes, content-encoding $ENC for app.js"
done

# --- callgrind -------------------------------------------------------------
# total_ir SERVER FILE N: sets RESULT to the server's instructions for N
# requests. (Results go through a variable, not `$(...)`, so that the
# server is started by this shell and the exit trap can stop it.)
total_ir() {
  local out=$WORK/cg.$1.$2.$3
  start "$1" valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$out"
  load_file "$2" "$3"
  stop
  RESULT=$(grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}')
}

if has_part callgrind; then
  echo
  echo "== callgrind: instructions per request (1 connection)"
  printf '%-16s %-6s %14s %14s %12s\n' server file Ir@N1 Ir@N2 Ir/request
  for file in $FILES; do
    n1=${CG_N1:-1000} n2=${CG_N2:-6000}
    [ "$file" = big ] && n1=${CG_BIG_N1:-10} n2=${CG_BIG_N2:-60}
    need_more "$n1" "$n2"
    for server in $SERVERS; do
      total_ir "$server" "$file" "$n1"
      a=$RESULT
      total_ir "$server" "$file" "$n2"
      b=$RESULT
      printf '%-16s %-6s %14s %14s %12s\n' "$server" "$file" "$a" "$b" $(( (b - a) / (n2 - n1) ))
    done
  done
fi

# --- strace ----------------------------------------------------------------
# syscalls SERVER FILE N: "name calls" lines for N requests.
syscalls() {
  local out=$WORK/st.$1.$2.$3
  start "$1" strace -c -f -o "$out"
  load_file "$2" "$3"
  stop
  # Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { print $NF, $4 }' "$out"
}

if has_part strace; then
  echo
  echo "== strace -c -f: syscalls per request (1 connection)"
  for file in $FILES; do
    n1=${ST_N1:-2000} n2=${ST_N2:-12000}
    [ "$file" = big ] && n1=${ST_BIG_N1:-20} n2=${ST_BIG_N2:-120}
    need_more "$n1" "$n2"
    for server in $SERVERS; do
      syscalls "$server" "$file" "$n1" >"$WORK/a"
      syscalls "$server" "$file" "$n2" >"$WORK/b"
      awk -v extra=$((n2 - n1)) -v s="$server" -v f="$file" '
        NR == FNR { a[$1] = $2; next }
        { d = ($2 - a[$1]) / extra; if (d >= 0.005) { per[$1] = d; total += d } }
        END {
          line = sprintf("%-16s %-6s total %.2f:", s, f, total)
          for (k in per) line = line sprintf(" %s %.2f", k, per[k])
          print line
        }' "$WORK/a" "$WORK/b"
    done
  done
fi

# --- wrk -------------------------------------------------------------------
# wrk_once SERVER FILE: one wrk run against a server started on CPU 0;
# sets RESULT to req/s, or MB/s for the 10 MiB file.
wrk_once() {
  local server=$1 file=$2 conns=$CONNS header out=$WORK/wrk.$1.$2.$RANDOM
  [ "$file" = big ] && conns=$BIG_CONNS
  header=$(file_header "$file")
  start "$server" taskset -c 0
  taskset -c 1 wrk -t1 -c"$conns" -d"${SECS}s" ${header:+-H "$header"} \
    "http://$SERVER_ADDR$(file_path "$file")" >"$out"
  stop
  if grep -qE 'Non-2xx|Socket errors' "$out"; then
    echo "$server $file: wrk saw errors:" >&2
    cat "$out" >&2
    exit 1
  fi
  if [ "$file" = big ]; then
    # wrk's units are binary (KB = 1024 B); MB/s here is 10^6 B/s.
    RESULT=$(awk '/^Transfer\/sec:/ { v = $2; u = substr(v, length(v) - 1); v = substr(v, 1, length(v) - 2)
      m = (u == "GB") ? 1073741824 : (u == "MB") ? 1048576 : (u == "KB") ? 1024 : 1
      printf "%.0f\n", v * m / 1e6 }' "$out")
  else
    RESULT=$(awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$out")
  fi
  [ -n "$RESULT" ] || { echo "$server $file: no result from wrk" >&2; cat "$out" >&2; exit 1; }
}

if has_part wrk; then
  echo
  echo "== wrk -t1 -c$CONNS (-c$BIG_CONNS for big) -d${SECS}s, $ROUNDS rounds: req/s (MB/s for big)"
  # Each round runs every file on every server, so that the machine's
  # load changes hit all of them alike.
  for round in $(seq 1 "$ROUNDS"); do
    echo "round $round: $(uptime | sed 's/.*load average/load average/')"
    for file in $FILES; do
      line=""
      for server in $SERVERS; do
        wrk_once "$server" "$file"
        echo "$RESULT" >>"$WORK/rate.$server.$file"
        line="$line $server $RESULT"
      done
      echo "  $file:$line"
    done
  done
  echo "after: $(uptime | sed 's/.*load average/load average/')"
  echo
  printf '%-16s %-6s %10s %10s %10s %9s %9s\n' server file min median max "/ nginx" "/ ServeDir"
  for file in $FILES; do
    ref_nginx="" ref_sd=""
    [ -f "$WORK/rate.nginx.$file" ] && ref_nginx=$(median "$WORK/rate.nginx.$file")
    [ -f "$WORK/rate.static-servedir.$file" ] && ref_sd=$(median "$WORK/rate.static-servedir.$file")
    for server in $SERVERS; do
      sort -n "$WORK/rate.$server.$file" | awk -v s="$server" -v f="$file" -v n="$ref_nginx" -v d="$ref_sd" '
        { v[NR] = $1 } END {
          m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          rn = (n != "") ? sprintf("%.2f", m / n) : "-"
          rd = (d != "") ? sprintf("%.2f", m / d) : "-"
          printf "%-16s %-6s %10.0f %10.0f %10.0f %9s %9s\n", s, f, v[1], m, v[NR], rn, rd }'
    done
  done
fi

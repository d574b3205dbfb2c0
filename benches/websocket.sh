#!/usr/bin/env bash
# WebSocket echo round trips on 127.0.0.1: gateway (`gateway_core::websocket`
# on gateway-hyper) against axum's WebSocket, the same client (`ws-load`:
# tokio-tungstenite, one thread) for both. Each server pinned to CPU 0, the
# client to CPU 1; the servers alternate round by round so that machine
# noise hits both alike. Prints, per server, the round trips per second
# (min / median / max) and the server's CPU time per round trip (median,
# from /proc: user + system, handshakes and warm-up included), each median
# also over axum's.
#
# Usage: benches/websocket.sh [ROUNDS] [SECONDS] [CONNECTIONS] [SIZE]
#        (defaults 5 5 64 64: 64 connections, 64-byte binary messages)
#
# With MODE=instructions, instead: the servers' user-space instructions per
# round trip under callgrind, which machine load does not change — each
# server run twice, for N1 and N2 round trips on each of CONNECTIONS
# connections, the difference divided by the extra round trips:
#   MODE=instructions benches/websocket.sh [CONNECTIONS] [N1] [N2]
#        (defaults 1 1000 6000)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
KINDS=${KINDS:-ws-axum ws-gateway}

if [ "${MODE:-}" = instructions ]; then
  CONNS=${1:-1}
  N1=${2:-1000}
  N2=${3:-6000}
  need_more "$N1" "$N2"
  need valgrind
  build_bins
  make_work
  total_ir() {
    local kind=$1 n=$2 out="$WORK/cg.$1.$2"
    start_server valgrind --tool=callgrind --callgrind-out-file="$out" -- "$kind" "$WORK/log.$1.$2"
    "$BIN/ws-load" "$SERVER_ADDR" "$CONNS" "x$n" >/dev/null
    stop_server
    grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
  }
  BASE=""
  printf '%-12s %16s %8s\n' server "Ir/round trip" "vs axum"
  for kind in $KINDS; do
    a=$(total_ir "$kind" "$N1")
    b=$(total_ir "$kind" "$N2")
    per=$(awk -v a="$a" -v b="$b" -v n="$(((N2 - N1) * CONNS))" 'BEGIN { printf "%.0f", (b - a) / n }')
    [ "$kind" = ws-axum ] && BASE=$per
    ratio=$(awk -v p="$per" -v b="$BASE" 'BEGIN { print (b != "") ? sprintf("%.3f", p / b) : "-" }')
    printf '%-12s %16s %8s\n' "$kind" "$per" "$ratio"
  done
  exit 0
fi

ROUNDS=${1:-5}
SECS=${2:-5}
CONNS=${3:-64}
SIZE=${4:-64}
build_bins
make_work
TICK=$(getconf CLK_TCK)

# cpu_ticks PID: the process's user + system time, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

for round in $(seq 1 "$ROUNDS"); do
  for kind in $KINDS; do
    start_server taskset -c 0 -- "$kind" "$WORK/log.$kind.$round"
    before=$(cpu_ticks "$SERVER_PID")
    read -r rate total < <(taskset -c 1 "$BIN/ws-load" "$SERVER_ADDR" "$CONNS" "$SECS" "$SIZE")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    cpu=$(awk -v t="$((after - before))" -v n="$total" -v hz="$TICK" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
    echo "$rate" >>"$WORK/rate.$kind"
    echo "$cpu" >>"$WORK/cpu.$kind"
    echo "round $round $kind $rate round trips/s, server $cpu us CPU per round trip"
  done
done

# stats FILE: min median max of the numbers in FILE.
stats() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s %s\n", v[1], m, v[NR] }'
}
BASE_RATE="" BASE_CPU=""
if [ -f "$WORK/rate.ws-axum" ]; then
  read -r _ BASE_RATE _ < <(stats "$WORK/rate.ws-axum")
  read -r _ BASE_CPU _ < <(stats "$WORK/cpu.ws-axum")
fi
printf '%-12s %9s %9s %9s %8s %12s %8s\n' server min median max "vs axum" "us CPU/rt" "vs axum"
for kind in $KINDS; do
  read -r lo mid hi < <(stats "$WORK/rate.$kind")
  read -r _ cpu _ < <(stats "$WORK/cpu.$kind")
  awk -v k="$kind" -v lo="$lo" -v mid="$mid" -v hi="$hi" -v cpu="$cpu" \
    -v br="$BASE_RATE" -v bc="$BASE_CPU" 'BEGIN {
    r = (br != "") ? sprintf("%.3f", mid / br) : "-"
    c = (bc != "") ? sprintf("%.3f", cpu / bc) : "-"
    printf "%-12s %9.0f %9.0f %9.0f %8s %12.3f %8s\n", k, lo, mid, hi, r, cpu, c }'
done

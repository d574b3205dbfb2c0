#!/usr/bin/env bash
# WebSocket echo round trips per second on 127.0.0.1: gateway
# (`gateway_core::websocket` on gateway-hyper) against axum's WebSocket,
# the same client (`ws-load`: tokio-tungstenite, one thread) for both. Each
# server pinned to CPU 0, the client to CPU 1; the servers alternate round
# by round so that machine noise hits both alike; prints min / median / max
# per server, and each median over axum's.
#
# Usage: benches/websocket.sh [ROUNDS] [SECONDS] [CONNECTIONS] [SIZE]
#        (defaults 5 5 64 64: 64 connections, 64-byte binary messages)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-5}
CONNS=${3:-64}
SIZE=${4:-64}
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
build_bins
make_work
KINDS=${KINDS:-ws-axum ws-gateway}

for round in $(seq 1 "$ROUNDS"); do
  for kind in $KINDS; do
    start_server taskset -c 0 -- "$kind" "$WORK/log.$kind.$round"
    rate=$(taskset -c 1 "$BIN/ws-load" "$SERVER_ADDR" "$CONNS" "$SECS" "$SIZE")
    stop_server
    echo "$rate" >>"$WORK/rate.$kind"
    echo "round $round $kind $rate"
  done
done

BASE=""
[ -f "$WORK/rate.ws-axum" ] && BASE=$(median "$WORK/rate.ws-axum")
printf '%-12s %10s %10s %10s %8s\n' server min median max "vs axum"
for kind in $KINDS; do
  sort -n "$WORK/rate.$kind" | awk -v k="$kind" -v base="$BASE" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = (base != "") ? sprintf("%.3f", m / base) : "-"
    printf "%-12s %10.0f %10.0f %10.0f %8s\n", k, v[1], m, v[NR], r }'
done

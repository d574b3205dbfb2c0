#!/usr/bin/env bash
# Requests per second with wrk on 127.0.0.1: each server pinned to CPU 0,
# wrk (one thread) to CPU 1; the servers alternate round by round so that
# machine noise hits both alike; prints min / median / max per server.
#
# Usage: benches/wrk.sh [ROUNDS] [SECONDS] [CONNECTIONS]   (defaults 5 5 64)
# KINDS picks the servers (any `bench-server` kind, default "raw gateway"),
# e.g. KINDS="raw raw-direct axum gateway gateway-mw5 gateway-mw5-async".
# The last column is each median over raw's median, when raw is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-5}
CONNS=${3:-64}
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
need wrk
build_bins
make_work
KINDS=${KINDS:-raw gateway}

for round in $(seq 1 "$ROUNDS"); do
  for kind in $KINDS; do
    start_server taskset -c 0 -- "$kind" "$WORK/log.$kind.$round"
    rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://$SERVER_ADDR/" | awk '/^Requests\/sec:/ {print $2}')
    stop_server
    echo "$rps" >>"$WORK/rps.$kind"
    echo "round $round $kind $rps"
  done
done

RAW_MEDIAN=""
[ -f "$WORK/rps.raw" ] && RAW_MEDIAN=$(median "$WORK/rps.raw")
printf '%-18s %10s %10s %10s %8s\n' server min median max "vs raw"
for kind in $KINDS; do
  sort -n "$WORK/rps.$kind" | awk -v k="$kind" -v raw="$RAW_MEDIAN" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = (raw != "") ? sprintf("%.3f", m / raw) : "-"
    printf "%-18s %10.0f %10.0f %10.0f %8s\n", k, v[1], m, v[NR], r }'
done

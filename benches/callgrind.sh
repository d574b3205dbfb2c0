#!/usr/bin/env bash
# User-space instructions per request under callgrind, for the hello
# servers in this crate (see src/lib.rs): gateway-hyper, the minimal raw
# hyper server with the same connection setup, bare HTTP/1-only hyper, and
# the raw hyper servers configured alike (the like-for-like baselines).
#
# Each server runs under `valgrind --tool=callgrind` twice, once for N1 and
# once for N2 requests per connection, sent by the deterministic `load`
# client over CONNS keep-alive connections; the difference divided by the
# extra requests cancels start-up and shutdown. Counts are instructions,
# not time, so they do not depend on machine load.
#
# Usage: benches/callgrind.sh [CONNS] [N1] [N2]   (defaults 1 1000 6000)
# KINDS picks the servers (any `bench-server` kind, default
# "bare raw-minimal raw raw-direct gateway"); a ratio line is printed only
# when both of its servers were measured. Every server gets the same
# request: `GET /` unless LOAD_METHOD, LOAD_PATH and LOAD_HEADERS (header
# lines separated by `|`) say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-1}
N1=${2:-1000}
N2=${3:-6000}
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
need_more "$N1" "$N2"
need valgrind
build_bins
make_work

# Runs one server under callgrind for N requests per connection; prints Ir.
total_ir() {
  local kind=$1 n=$2 out="$WORK/cg.$1.$2"
  start_server valgrind --tool=callgrind --callgrind-out-file="$out" -- "$kind" "$WORK/log.$1.$2"
  "$BIN/load" "$SERVER_ADDR" "$CONNS" "$n" "${LOAD_PATH:-/}" "${HEADERS[@]}"
  stop_server
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}

HEADERS=()
if [ -n "${LOAD_HEADERS:-}" ]; then IFS='|' read -ra HEADERS <<<"$LOAD_HEADERS"; fi
export LOAD_METHOD="${LOAD_METHOD:-GET}"

printf '%-18s %14s %14s %12s\n' server "Ir@$N1" "Ir@$N2" "Ir/request"
declare -A PER
for kind in ${KINDS:-bare raw-minimal raw raw-direct gateway}; do
  a=$(total_ir "$kind" "$N1")
  b=$(total_ir "$kind" "$N2")
  per=$(( (b - a) / ((N2 - N1) * CONNS) ))
  PER[$kind]=$per
  printf '%-18s %14s %14s %12s\n' "$kind" "$a" "$b" "$per"
done
ratio() {
  if [ -n "${PER[$1]:-}" ] && [ -n "${PER[$2]:-}" ]; then
    awk -v a="${PER[$1]}" -v b="${PER[$2]}" -v t="$3" 'BEGIN { printf "%s: %.3f\n", t, a / b }'
  fi
}
ratio gateway raw-minimal "gateway / minimal raw hyper (same connection setup)"
ratio gateway bare "gateway / bare HTTP/1 hyper"
ratio gateway raw-direct "gateway / raw hyper connecting alike (peek + hyper's own servers)"
ratio gateway raw "gateway / raw hyper through hyper-util auto"
ratio axum raw "axum / raw hyper through hyper-util auto"
ratio axum raw-direct "axum / raw hyper connecting alike"
ratio gateway axum "gateway / axum"
ratio gateway-mw5 gateway "gateway with 5 forwarding middleware / gateway"
ratio gateway-mw5-async gateway "gateway with 5 async fn middleware / gateway"
ratio session-cookie axum-sessions "gateway + Sessions, cookie store / axum + tower-sessions (target <= 0.8)"
ratio session-memory axum-sessions "gateway + Sessions, memory store / axum + tower-sessions (target <= 0.8)"
ratio axum-sessions axum "axum + tower-sessions / axum"
ratio basic-auth gateway "gateway + BasicAuth::single / gateway, same request (target <= 1.05)"
ratio metrics gateway "gateway + Metrics / gateway (AccessLog + RequestId + Metrics target <= 1.15)"
ratio csrf gateway "gateway + Csrf, same-origin POST / unchecked POST (same request)"
ratio access-log gateway "gateway + AccessLog to a buffered io::sink / gateway"
ratio request-id gateway "gateway + RequestId (a made id) / gateway"
ratio observed gateway "gateway + RequestId + AccessLog + Metrics / gateway (target <= 1.15)"
ratio blocking gateway "blocking hello on a Blocking pool of 4 / async hello"
ratio session-untouched gateway "gateway + Sessions never touched / gateway (target <= 1.02)"
for kind in gateway-mw5 gateway-mw5-async; do
  if [ -n "${PER[$kind]:-}" ] && [ -n "${PER[gateway]:-}" ]; then
    echo "$kind - gateway: $(( PER[$kind] - PER[gateway] )) Ir/request ($(( (PER[$kind] - PER[gateway]) / 5 )) per layer)"
  fi
done
for kind in access-log request-id metrics observed; do
  if [ -n "${PER[$kind]:-}" ] && [ -n "${PER[gateway]:-}" ]; then
    echo "$kind - gateway: $(( PER[$kind] - PER[gateway] )) Ir/request"
  fi
done

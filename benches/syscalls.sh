#!/usr/bin/env bash
# Syscalls per request under `strace -c -f`, for the hello servers in this
# crate. Each server runs twice (N1 and N2 requests per connection over
# CONNS keep-alive connections, sent by the deterministic `load` client);
# the difference divided by the extra requests cancels start-up and
# shutdown.
#
# Usage: benches/syscalls.sh [CONNS] [N1] [N2]   (defaults 1 2000 12000)
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-1}
N1=${2:-2000}
N2=${3:-12000}
# shellcheck source-path=SCRIPTDIR/..
source benches/common.sh
need_more "$N1" "$N2"
need strace
build_bins
make_work

# Runs one server under strace for N requests per connection; prints
# "total_calls name:calls name:calls ..." for the calls made.
counts() {
  local kind=$1 n=$2 out="$WORK/st.$1.$2"
  start_server strace -c -f -o "$out" -- "$kind" "$WORK/log.$1.$2"
  "$BIN/load" "$SERVER_ADDR" "$CONNS" "$n"
  stop_server
  # Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { print $NF, $4 }' "$out"
}

printf '%-8s %s\n' server "syscalls/request (by call)"
for kind in ${KINDS:-raw gateway}; do
  counts "$kind" "$N1" >"$WORK/a"
  counts "$kind" "$N2" >"$WORK/b"
  awk -v extra=$(( (N2 - N1) * CONNS )) -v kind="$kind" '
    NR == FNR { a[$1] = $2; next }
    { d = ($2 - a[$1]) / extra; if (d >= 0.005) { per[$1] = d; total += d } }
    END {
      line = sprintf("%-8s total %.2f:", kind, total)
      for (k in per) line = line sprintf(" %s %.2f", k, per[k])
      print line
    }' "$WORK/a" "$WORK/b"
done

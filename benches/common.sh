# shellcheck shell=bash
# Shared by the benchmark scripts: `source benches/common.sh`.

# need TOOL [PACKAGE]: fails unless TOOL is on PATH.
need() {
  command -v "$1" >/dev/null || { echo "$1 is required (apt-get install ${2:-$1})" >&2; exit 1; }
}

# need_more N1 N2: fails unless N2 > N1 (the runs' difference is divided
# by N2 - N1).
need_more() {
  [ "$2" -gt "$1" ] || { echo "N2 must be larger than N1" >&2; exit 2; }
}

# build_bins: builds `bench-server` and `load` (release) and sets BIN to
# their directory. When KINDS names `axum-sessions`, also builds a
# `bench-server` with the `axum-sessions` feature in a target directory of
# its own (BIN_SESSIONS), used for that kind only: tower-sessions turns on
# tracing's `log` feature, which would make every other kind's spans dearer.
# BENCH_FEATURES (e.g. `axum-sessions`) builds every kind with those
# features of gateway-benches: to measure them as they were measured
# before the feature was split off.
build_bins() {
  cargo build --release -q -p gateway-benches --bins --features "${BENCH_FEATURES:-}"
  BIN=${CARGO_TARGET_DIR:-target}/release
  BIN_SESSIONS=$BIN
  case " ${KINDS:-} " in
  *" axum-sessions "*)
    local dir="${CARGO_TARGET_DIR:-target}/axum-sessions"
    cargo build --release -q -p gateway-benches --bin bench-server \
      --features axum-sessions --target-dir "$dir"
    BIN_SESSIONS=$dir/release
    ;;
  esac
}

# make_work: sets WORK to a new temporary directory, removed on exit.
make_work() {
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# start_server WRAPPER... -- KIND LOG: starts `bench-server KIND 127.0.0.1:0`
# under the given wrapper command (valgrind, strace, taskset, or nothing),
# waits until it prints its address, and sets SERVER_PID (the wrapper's
# PID) and SERVER_ADDR. Fails if the server does not start in 30 s.
start_server() {
  local wrapper=()
  while [ "$1" != "--" ]; do wrapper+=("$1"); shift; done
  shift
  local kind=$1 log=$2
  local bin=$BIN
  [ "$kind" = axum-sessions ] && bin=$BIN_SESSIONS
  "${wrapper[@]}" "$bin/bench-server" "$kind" 127.0.0.1:0 >"$log" 2>"$log.err" &
  SERVER_PID=$!
  SERVER_ADDR=""
  for _ in $(seq 1 300); do
    SERVER_ADDR=$(sed -n 's|^listening on http://||p' "$log" 2>/dev/null || true)
    [ -n "$SERVER_ADDR" ] && return 0
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  echo "server $kind did not start" >&2
  cat "$log.err" >&2
  exit 1
}

# stop_server: stops the server started last (its own process, since
# strace does not forward signals) and waits for the wrapper to exit.
stop_server() {
  local target
  target=$(pgrep -P "$SERVER_PID" -f bench-server || echo "$SERVER_PID")
  kill -TERM "$target"
  wait "$SERVER_PID" || true
}

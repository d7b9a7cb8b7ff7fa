#!/usr/bin/env bash
# latency-ab.sh - the latency case (1 publisher -> 1 subscriber, 1,000
# msg/s, QoS 0, 64 B) against Mosquitto and one or more tern binaries,
# interleaved: every repetition runs each broker once, freshly started, in
# an order that rotates with the repetition, with the same ternbench and
# the same broker settings as bench/compare.sh. Every run's report (p50,
# p90, p99, p99.9, the latency bands) goes to $OUT.jsonl, its per-message
# log (ternbench --latency-log) to $OUT.d/, and the load average before
# each repetition to $OUT.uptime.
#
# Usage:
#   TERNS="base=/path/tern new=/path/tern" REPS=5 DURATION=10s \
#     OUT=/tmp/lat bash bench/latency-ab.sh
#
# Knobs: TRANSPORT=tcp|ws (default tcp), TERNBENCH (default: built from
# this tree), MOSQUITTO (default /usr/sbin/mosquitto; MOSQUITTO= to skip),
# NICE (e.g. -10: all processes under nice), RT=1 (brokers and ternbench
# under SCHED_FIFO priority 10, chrt: other users' processes on a shared
# machine no longer preempt them; for measuring the brokers rather than the
# machine), SIMUL=1 (every broker at the same time, each with its own
# ternbench: the other load's stalls fall on all of them alike, and the
# ratio within a repetition is far steadier than between runs taken one
# after the other), LOGS=0 (no per-message logs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPS=${REPS:-5}
DURATION=${DURATION:-10s}
TRANSPORT=${TRANSPORT:-tcp}
OUT=${OUT:-/tmp/latency-ab}
MOSQUITTO=${MOSQUITTO-/usr/sbin/mosquitto}
TERNS=${TERNS:?TERNS="label=/path/to/tern ..."}
LOGS=${LOGS:-1}
SIMUL=${SIMUL:-}
NICE=${NICE:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/latab.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${TERNBENCH:-}" ]; then
  go build -o "$work/ternbench" ./cmd/ternbench
  TERNBENCH=$work/ternbench
fi
chmod o+x "$work"
mkdir -p "$OUT.d"
: >"$OUT.jsonl"
: >"$OUT.uptime"

RT=${RT:-}
pre=()
if [ -n "$NICE" ]; then pre=(nice -n "$NICE"); fi
if [ -n "$RT" ]; then pre+=(chrt -f 10); fi

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "no free port" >&2
  exit 1
}

wait_port() {
  for _ in $(seq 250); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.02
  done
  return 1
}

brokers=()
if [ -n "$MOSQUITTO" ]; then brokers+=(mosquitto); fi
for t in $TERNS; do brokers+=("$t"); done

pids=()
cleanup_pids() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'cleanup_pids; cleanup' EXIT

# start LABEL[=BINARY] I: starts a broker on fresh ports (its configuration
# file is the I-th); sets label, bpid (its process) and url.
start() {
  local b=$1 i=$2 bin tcp ws
  tcp=$(free_port)
  ws=$(free_port)
  while [ "$ws" = "$tcp" ]; do ws=$(free_port); done
  if [ "$b" = mosquitto ]; then
    label=mosquitto
    printf '%s\n' "per_listener_settings false" "allow_anonymous true" "persistence false" \
      "max_queued_messages 10000" "max_inflight_messages 1000" "max_packet_size 1048576" \
      "set_tcp_nodelay true" "log_dest stderr" "log_type error" \
      "listener $tcp 127.0.0.1" "listener $ws 127.0.0.1" "protocol websockets" >"$work/mosq.$i.conf"
    "${pre[@]}" "$MOSQUITTO" -c "$work/mosq.$i.conf" >>"$work/broker.log" 2>&1 &
  else
    label=${b%%=*}
    bin=${b#*=}
    "${pre[@]}" "$bin" --mqtt "127.0.0.1:$tcp" --http "127.0.0.1:$ws" --mqtts "" --log-level warn \
      --max-queued 10000 --max-inflight 1000 --max-packet-size 1048576 --in-memory >>"$work/broker.log" 2>&1 &
  fi
  bpid=$!
  pids+=("$bpid")
  wait_port "$tcp" && wait_port "$ws" || {
    tail -5 "$work/broker.log" >&2
    exit 1
  }
  url=tcp://127.0.0.1:$tcp
  if [ "$TRANSPORT" = ws ]; then url=ws://127.0.0.1:$ws/mqtt; fi
}

# bench LABEL URL PID REP: one ternbench latency run.
bench() {
  local log=()
  if [ "$LOGS" = 1 ]; then log=(--latency-log "$OUT.d/$1.$4.txt"); fi
  "${pre[@]}" "$TERNBENCH" --url "$2" --scenario latency --rate 1000 --duration "$DURATION" \
    --broker "$1" --name "latency-$TRANSPORT" --broker-pid "$3" --json "$OUT.jsonl" "${log[@]}" >>"$work/runs.$1.txt" 2>&1 ||
    echo "latency-ab: $1 rep $4 failed: $(tail -1 "$work/runs.$1.txt")" >&2
}

n=${#brokers[@]}
for rep in $(seq "$REPS"); do
  echo "rep $rep $(uptime)" >>"$OUT.uptime"
  if [ -n "$SIMUL" ]; then
    # All brokers at once, each with its own ternbench: the same moments
    # of the machine's other load fall on every broker.
    benches=()
    for i in $(seq 0 $((n - 1))); do
      start "${brokers[$i]}" "$i"
      bench "$label" "$url" "$bpid" "$rep" &
      benches+=($!)
    done
    wait "${benches[@]}"
    cleanup_pids
  else
    for i in $(seq 0 $((n - 1))); do
      start "${brokers[$(((i + rep) % n))]}" 0
      bench "$label" "$url" "$bpid" "$rep"
      cleanup_pids
    done
  fi
  echo "latency-ab: rep $rep/$REPS done" >&2
done
echo "end $(uptime)" >>"$OUT.uptime"

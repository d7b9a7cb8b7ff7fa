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
# machine), LOGS=0 (no per-message logs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPS=${REPS:-5}
DURATION=${DURATION:-10s}
TRANSPORT=${TRANSPORT:-tcp}
OUT=${OUT:-/tmp/latency-ab}
MOSQUITTO=${MOSQUITTO-/usr/sbin/mosquitto}
TERNS=${TERNS:?TERNS="label=/path/to/tern ..."}
LOGS=${LOGS:-1}
NICE=${NICE:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/latab.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
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

one() { # one LABEL[=BINARY] REP
  local b=$1 rep=$2 label bin tcp ws url
  tcp=$(free_port)
  ws=$(free_port)
  while [ "$ws" = "$tcp" ]; do ws=$(free_port); done
  if [ "$b" = mosquitto ]; then
    label=mosquitto
    printf '%s\n' "per_listener_settings false" "allow_anonymous true" "persistence false" \
      "max_queued_messages 10000" "max_inflight_messages 1000" "max_packet_size 1048576" \
      "set_tcp_nodelay true" "log_dest stderr" "log_type error" \
      "listener $tcp 127.0.0.1" "listener $ws 127.0.0.1" "protocol websockets" >"$work/mosq.conf"
    "${pre[@]}" "$MOSQUITTO" -c "$work/mosq.conf" >>"$work/broker.log" 2>&1 &
  else
    label=${b%%=*}
    bin=${b#*=}
    "${pre[@]}" "$bin" --mqtt "127.0.0.1:$tcp" --http "127.0.0.1:$ws" --mqtts "" --log-level warn \
      --max-queued 10000 --max-inflight 1000 --max-packet-size 1048576 --in-memory >>"$work/broker.log" 2>&1 &
  fi
  pid=$!
  wait_port "$tcp" && wait_port "$ws" || {
    tail -5 "$work/broker.log" >&2
    exit 1
  }
  url=tcp://127.0.0.1:$tcp
  if [ "$TRANSPORT" = ws ]; then url=ws://127.0.0.1:$ws/mqtt; fi
  local log=()
  if [ "$LOGS" = 1 ]; then log=(--latency-log "$OUT.d/$label.$rep.txt"); fi
  "${pre[@]}" "$TERNBENCH" --url "$url" --scenario latency --rate 1000 --duration "$DURATION" \
    --broker "$label" --name "latency-$TRANSPORT" --broker-pid "$pid" --json "$OUT.jsonl" "${log[@]}" >>"$work/runs.txt" 2>&1 ||
    echo "latency-ab: $label rep $rep failed: $(tail -1 "$work/runs.txt")" >&2
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

n=${#brokers[@]}
for rep in $(seq "$REPS"); do
  echo "rep $rep $(uptime)" >>"$OUT.uptime"
  for i in $(seq 0 $((n - 1))); do
    one "${brokers[$(((i + rep) % n))]}" "$rep"
  done
  echo "latency-ab: rep $rep/$REPS done" >&2
done
echo "end $(uptime)" >>"$OUT.uptime"

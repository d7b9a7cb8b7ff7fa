#!/usr/bin/env bash
# connect-ab.sh - broker CPU per TCP connect, brokers side by side.
#
#   bench/connect-ab.sh REPS BROKER...
#
# Each BROKER is a tern binary (started as bench/compare.sh starts tern
# for its connections cases: in memory, no HTTP port, log level warn) or
# the word "mosquitto" (Debian's, configured as compare.sh configures it,
# without the WebSocket listener). Every run starts the broker fresh,
# makes CONNS (10000) connects from 16 dialers with bench/connectcpu and
# prints its JSON line (broker CPU µs per connect, context switches,
# rate); the order of the brokers is reversed every other repetition.
# Needs an open-file limit of at least CONNS + a few hundred (raised here
# when the hard limit allows).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=$1
shift
CONNS=${CONNS:-10000}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
ulimit -n "$((CONNS + 1000))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d "${TMPDIR:-/tmp}/connect-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/connectcpu" ./bench/connectcpu
# Ports below the ephemeral range (32768-60999): the closed clients of
# one run hold ports of that range in TIME_WAIT.
port=$((12000 + RANDOM % 15000))
for r in $(seq "$reps"); do
  order=("$@")
  if [ $((r % 2)) -eq 0 ]; then mapfile -t order < <(printf '%s\n' "$@" | tac); fi
  for b in "${order[@]}"; do
    port=$((port + 1))
    if [ "$b" = mosquitto ]; then
      printf 'allow_anonymous true\npersistence false\nmax_queued_messages 10000\nmax_inflight_messages 1000\nmax_packet_size 1048576\nset_tcp_nodelay true\nlog_dest stderr\nlog_type error\nlog_type warning\nlistener %d 127.0.0.1\n' "$port" >"$work/mosquitto.conf"
      "$MOSQUITTO" -c "$work/mosquitto.conf" >>"$work/broker.log" 2>&1 &
    else
      "$b" --mqtt "127.0.0.1:$port" --http "" --mqtts "" --log-level warn --max-queued 10000 --max-inflight 1000 \
        --max-packet-size 1048576 --in-memory >>"$work/broker.log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 100); do
      if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      sleep 0.05
    done
    "$work/connectcpu" -addr "127.0.0.1:$port" -pid "$pid" -label "$(basename "$b")" -n "$CONNS" || tail -3 "$work/broker.log" >&2
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
done

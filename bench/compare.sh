#!/usr/bin/env bash
# compare.sh - run the same load scenarios against Mosquitto and Tern on
# loopback and print a markdown table: per case the median and the spread
# (min–max) over the repetitions, the ratio tern/mosquitto and the target
# from the performance issue. The table is also written to
# bench/results/<date>.md.
#
# Each run gets a freshly started broker (so memory and retained state do
# not carry over), the brokers alternate (mosquitto first in odd
# repetitions, tern first in even ones), and both use the same settings:
# loopback listeners for TCP and WebSocket, anonymous access, no
# persistence, 10000 queued and 1000 in-flight messages per client,
# TCP_NODELAY (Go sets it on every connection), 1 MiB packets.
#
# Knobs (environment):
#   REPS=3             repetitions of every case for each broker
#   DURATION=5s        how long publishers send in throughput and latency cases
#   CONNS=10000        idle connections in the connections cases
#   RETAINED=10000     retained messages in the retained cases
#   MQTT_VERSION=3.1.1 protocol of every client (3.1.1 or 5)
#   CASES="..."        a subset of: fanin-tcp fanin-ws fanout pairs fanin-qos1
#                      latency conns-tcp conns-ws retained-tcp retained-ws
#   OUT=bench/results/<date>.md   where the table goes (OUT= to skip)
#   NOTE="..."         a line added under the table's title
#   MOSQUITTO=/usr/sbin/mosquitto
#
# A full run (defaults) takes about 5 minutes on 2 cores. The machine should
# be otherwise idle: both brokers and the generator share its cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

REPS=${REPS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-10000}
RETAINED=${RETAINED:-10000}
MQTT_VERSION=${MQTT_VERSION:-3.1.1}
CASES=${CASES:-fanin-tcp fanin-ws fanout pairs fanin-qos1 latency conns-tcp conns-ws retained-tcp retained-ws}
OUT=${OUT-bench/results/$(date -u +%Y-%m-%d).md}
NOTE=${NOTE:-}
MOSQUITTO=${MOSQUITTO:-}

say() { echo "compare: $*" >&2; }
die() {
  echo "compare: error: $*" >&2
  exit 1
}

# --- what this needs -------------------------------------------------------
command -v go >/dev/null 2>&1 || die "Go is not installed: install Go $(sed -n 's/^go //p' go.mod) or newer (https://go.dev/dl/) and put it on PATH"

find_mosquitto() {
  if [ -n "$MOSQUITTO" ]; then
    [ -x "$MOSQUITTO" ] || die "MOSQUITTO=$MOSQUITTO is not an executable"
    return
  fi
  for m in /usr/sbin/mosquitto /usr/local/sbin/mosquitto "$(command -v mosquitto 2>/dev/null || true)"; do
    if [ -n "$m" ] && [ -x "$m" ]; then
      MOSQUITTO=$m
      return
    fi
  done
}
find_mosquitto
if [ -z "$MOSQUITTO" ]; then
  install="apt-get install -y --no-install-recommends mosquitto"
  if ! command -v apt-get >/dev/null 2>&1; then
    die "mosquitto is missing and apt-get is not available: install mosquitto 2.x with WebSocket support and set MOSQUITTO=/path/to/mosquitto"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    say "installing mosquitto: apt-get update && $install"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive $install >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    say "installing mosquitto: sudo apt-get update && sudo $install"
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive $install >/dev/null
  else
    die "mosquitto is missing: run 'sudo apt-get update && sudo $install' (or scripts/setup.sh) and start again"
  fi
  find_mosquitto
  [ -n "$MOSQUITTO" ] || die "mosquitto is still missing after apt-get install"
fi

# 10,000 connections need 10,000 descriptors in the broker and in the
# generator (Go raises its own soft limit; mosquitto does not).
need_fds=$((CONNS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
  die "open-file limit is $(ulimit -n) (hard $(ulimit -Hn)); CONNS=$CONNS needs $need_fds: raise it (ulimit -n 65536 as root, or /etc/security/limits.conf) or lower CONNS"
fi

# --- build ---------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/ternbench.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say "building tern and ternbench"
go build -o "$work/tern" ./cmd/tern
go build -o "$work/ternbench" ./cmd/ternbench
results=$work/results.jsonl
: >"$results"

# --- brokers ---------------------------------------------------------------
# free_port prints a loopback TCP port nobody listens on, below the
# ephemeral range so that no outgoing connection can take it meanwhile.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

wait_port() {
  for _ in $(seq 250); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

# start BROKER: starts it on fresh ports and sets pid, tcp_url and ws_url.
start() {
  local tcp ws
  tcp=$(free_port)
  ws=$(free_port)
  while [ "$ws" = "$tcp" ]; do ws=$(free_port); done
  case $1 in
  mosquitto)
    cat >"$work/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
persistence false
max_queued_messages 10000
max_inflight_messages 1000
max_packet_size 1048576
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
listener $tcp 127.0.0.1
listener $ws 127.0.0.1
protocol websockets
EOF
    "$MOSQUITTO" -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
    ;;
  tern)
    "$work/tern" --mqtt "127.0.0.1:$tcp" --http "127.0.0.1:$ws" --mqtts "" --log-level warn \
      --max-queued 10000 --max-inflight 1000 --max-packet-size 1048576 >>"$work/tern.log" 2>&1 &
    ;;
  esac
  pid=$!
  if ! wait_port "$tcp" || ! wait_port "$ws"; then
    tail -5 "$work/$1.log" >&2 || true
    die "$1 did not start"
  fi
  tcp_url="tcp://127.0.0.1:$tcp"
  ws_url="ws://127.0.0.1:$ws/mqtt"
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

# args CASE: the ternbench flags of a case.
args() {
  case $1 in
  fanin-tcp) echo "--url $tcp_url --scenario fan-in --publishers 8 --duration $DURATION" ;;
  fanin-ws) echo "--url $ws_url --scenario fan-in --publishers 8 --duration $DURATION" ;;
  fanout) echo "--url $tcp_url --scenario fan-out --subscribers 16 --duration $DURATION" ;;
  pairs) echo "--url $tcp_url --scenario pairs --pairs 16 --duration $DURATION" ;;
  fanin-qos1) echo "--url $tcp_url --scenario fan-in --publishers 8 --qos 1 --duration $DURATION" ;;
  latency) echo "--url $tcp_url --scenario latency --rate 1000 --duration $DURATION" ;;
  conns-tcp) echo "--url $tcp_url --scenario connections --conns $CONNS" ;;
  conns-ws) echo "--url $ws_url --scenario connections --conns $CONNS" ;;
  retained-tcp) echo "--url $tcp_url --scenario retained --retained $RETAINED" ;;
  retained-ws) echo "--url $ws_url --scenario retained --retained $RETAINED" ;;
  *) die "unknown case $1" ;;
  esac
}

# --- runs ------------------------------------------------------------------
start_time=$(date +%s)
for rep in $(seq "$REPS"); do
  order="mosquitto tern"
  if [ $((rep % 2)) -eq 0 ]; then order="tern mosquitto"; fi
  for c in $CASES; do
    for b in $order; do
      start "$b"
      # shellcheck disable=SC2046 # the flags are split on purpose
      if ! "$work/ternbench" $(args "$c") --mqtt-version "$MQTT_VERSION" --broker "$b" --name "$c" \
        --broker-pid "$pid" --json "$results" >>"$work/runs.txt" 2>&1; then
        say "  $b $c reported an error (kept in the table): $(tail -1 "$work/runs.txt")"
      fi
      stop
      say "rep $rep/$REPS  $c  $b  done ($(($(date +%s) - start_time))s)"
    done
  done
done

# --- table -----------------------------------------------------------------
table=$work/table.md
{
  echo "# Tern vs Mosquitto, $(date -u +%Y-%m-%d)"
  echo
  if [ -n "$NOTE" ]; then
    echo "$NOTE"
    echo
  fi
  echo "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(uname -sr);" \
    "$(go version | cut -d' ' -f3), $("$MOSQUITTO" -h 2>/dev/null | sed -n 's/^mosquitto version /mosquitto /p' | head -1)," \
    "tern $(git describe --always --dirty 2>/dev/null || echo unknown)."
  echo "REPS=$REPS DURATION=$DURATION CONNS=$CONNS RETAINED=$RETAINED MQTT_VERSION=$MQTT_VERSION;" \
    "64-byte payloads, ternbench defaults otherwise (--window 1000). Run time $(($(date +%s) - start_time)) s."
  echo
  "$work/ternbench" summarize "$results"
  echo
  echo "Medians over REPS runs per broker, spread min–max; ratio = tern median / mosquitto median."
  echo "RSS per connection is the broker's VmRSS growth divided by the connections, 2 s after the last CONNACK."
} >"$table"
cat "$table"
if [ -n "$OUT" ]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$table" "$OUT"
  cp "$results" "${OUT%.md}.jsonl"
  say "wrote $OUT and ${OUT%.md}.jsonl"
fi

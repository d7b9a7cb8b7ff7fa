#!/usr/bin/env bash
# compare.sh - run the same load scenarios against Mosquitto and Tern on
# loopback and print a markdown table: per case the median and the spread
# (min–max) over the repetitions, the ratio tern/mosquitto and the target
# from the performance issue. The table is also written to
# bench/results/<date>.md.
#
# Each run gets a freshly started broker (so memory and retained state do
# not carry over), the brokers alternate (their order is reversed in even
# repetitions), and all use the same settings: loopback listeners for TCP
# and WebSocket, anonymous access, 10000 queued and 1000 in-flight
# messages per client, TCP_NODELAY (Go sets it on every connection), 1 MiB
# packets.
#
# Four brokers, each case runs against the ones it is about:
#   mosquitto          persistence false
#   mosquitto-durable  persistence true, persistence_location <fresh dir>/,
#                      autosave_interval $MOSQ_AUTOSAVE (default 60 s),
#                      autosave_on_changes false. Mosquitto keeps everything
#                      in memory and writes a snapshot of it every
#                      autosave_interval seconds and on a clean shutdown; it
#                      never syncs per message, so a crash (kill -9) loses all
#                      since the last snapshot and its throughput in a run
#                      shorter than the interval includes no disk work at
#                      all. That is a weaker promise than a store that
#                      commits before it acknowledges: compare with that in
#                      mind. (autosave_on_changes with a small count would
#                      rewrite the whole database every few messages.)
#   tern               $TERN_MEMORY_FLAGS (default --in-memory, or nothing
#                      when this tern has no such flag: today's tern)
#   tern-durable       $TERN_DURABLE_FLAGS with {dir} replaced by a fresh
#                      directory (default --data {dir}); skipped, with a
#                      note, when this tern has no --data flag and
#                      TERN_DURABLE_FLAGS is not set
#
# Knobs (environment):
#   REPS=3             repetitions of every case for each broker
#   DURATION=5s        how long publishers send in throughput and latency cases
#   CONNS=10000        idle connections in the connections cases (conns-tcp,
#                      conns-tls, conns-ws): RSS per connection 2 s after the
#                      last CONNACK, and again 2 s after every client has sent
#                      one PINGREQ and read its PINGRESP (ternbench --ping).
#                      conns-tls: MQTT over TLS with a certificate from
#                      `tern gencert` (both brokers; tern then gets --mqtts,
#                      --tls-cert and --tls-key in that case only). In
#                      conns-tcp and conns-tls tern runs without its HTTP
#                      port (--http ""): the web client's assets, compressed
#                      at start, leave tens of MB of idle heap that new
#                      connections first reuse and that the runtime returns
#                      to the system over minutes, which would swamp the
#                      figure (Mosquitto serves no web client either).
#   RETAINED=10000     retained messages in the retained cases
#   MQTT_VERSION=3.1.1 protocol of every client (3.1.1 or 5)
#   CASES="..."        a subset of: fanin-tcp fanin-ws fanout pairs fanin-qos1
#                      latency latency-ws conns-tcp conns-tls conns-ws retained-tcp retained-ws
#                      (the group "perf", the default) and of the durable-store
#                      cases (the group "durable"):
#                        durable-fanin-qos1  16 QoS 1 publishers, --inflight $INFLIGHT
#                                            each (closed loop on PUBACK), into one
#                                            persistent QoS 1 subscriber: acknowledged
#                                            and delivered msg/s
#                        store-fanin store-fanout   QoS 0 fan-in 8→1 / fan-out 1→16
#                                            on all four brokers (durable/memory ratio)
#                        openloop-tcp-RATE openloop-ws-RATE   open-loop QoS 1 fan-in
#                                            8→1 at RATE msg/s offered in total (20k,
#                                            50000, ...); the group has one per RATES
#                        restart restart-kill   fill SESSIONS×QUEUED queued + RESTART_RETAINED
#                                            retained, SIGTERM / SIGKILL, restart:
#                                            time to the first CONNACK, RSS
#                        queued-mem          MEM_SESSIONS offline sessions × MEM_QUEUED
#                                            100-byte messages: bytes per queued delivery
#                      and of the password cases (the group "auth"):
#                        auth-101 auth-1000 (auth-N for any N)   CONNECT with a
#                                            password: AUTH_CONNECTORS clients each
#                                            connect, wait for the CONNACK (success),
#                                            disconnect and start again; connects/s
#                                            and p50/p99 CONNECT→CONNACK. Both brokers
#                                            get the same password file of AUTH_USERS
#                                            users, $7$ (PBKDF2-SHA512) with N
#                                            iterations, written by mosquitto_passwd;
#                                            mosquitto: password_file + allow_anonymous
#                                            false, tern: --password-file. Connector k
#                                            logs in users k, k+C, ...: first each once
#                                            (first logins: Tern's cache of verified
#                                            passwords, keyed by user+password, misses;
#                                            the pass ends after DURATION or when a
#                                            connector has used all its users), then
#                                            the same users again for DURATION (repeat
#                                            logins: cache hits in Tern; Mosquitto
#                                            2.0.11 has no cache and hashes each time).
#                      "all" is the groups perf and durable.
#   RATES="20k 50k 100k"   offered rates of the open-loop cases in the group
#   INFLIGHT=32        durable-fanin-qos1: unacknowledged messages per publisher
#   SESSIONS=1000 QUEUED=1000 RESTART_RETAINED=100000   restart cases (1M queued)
#   MEM_SESSIONS=10000 MEM_QUEUED=100   queued-mem
#   MOSQ_AUTOSAVE=60   mosquitto-durable's autosave_interval in seconds
#   AUTH_USERS=5000 AUTH_CONNECTORS=8   auth cases: users in the password file
#                      (its hashes take mosquitto_passwd about 20 s per 1000 users
#                      at 1000 iterations on 2 cores; it is written once per N)
#   TERN_MEMORY_FLAGS, TERN_DURABLE_FLAGS   see above
#   OUT=bench/results/<date>.md   where the table goes (OUT= to skip)
#   NOTE="..."         a line added under the table's title
#   MOSQUITTO=/usr/sbin/mosquitto
#
# A full run of the default cases takes about 5 minutes on 2 cores; CASES=durable
# with REPS=1 DURATION=5s and the default sizes about 6 minutes (the restart
# cases fill a million messages). The machine should
# be otherwise idle: both brokers and the generator share its cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

REPS=${REPS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-10000}
RETAINED=${RETAINED:-10000}
MQTT_VERSION=${MQTT_VERSION:-3.1.1}
CASES=${CASES:-perf}
RATES=${RATES:-20k 50k 100k}
INFLIGHT=${INFLIGHT:-32}
SESSIONS=${SESSIONS:-1000}
QUEUED=${QUEUED:-1000}
RESTART_RETAINED=${RESTART_RETAINED:-100000}
MEM_SESSIONS=${MEM_SESSIONS:-10000}
MEM_QUEUED=${MEM_QUEUED:-100}
MOSQ_AUTOSAVE=${MOSQ_AUTOSAVE:-60}
AUTH_USERS=${AUTH_USERS:-5000}
AUTH_CONNECTORS=${AUTH_CONNECTORS:-8}
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
# A CA and a server certificate for 127.0.0.1, for the TLS cases.
"$work/tern" gencert -dir "$work/tls" -host 127.0.0.1 >/dev/null 2>&1 || die "tern gencert failed"
if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
  chmod o+x "$work" "$work/tls"
  chown mosquitto: "$work/tls/server.key"
fi
results=$work/results.jsonl
: >"$results"

# What this tern can do: today's tern keeps everything in memory and has
# neither --in-memory nor --data.
tern_help=$("$work/tern" -h 2>&1 || true)
if [ -z "${TERN_MEMORY_FLAGS+set}" ]; then
  TERN_MEMORY_FLAGS=
  if grep -q -- '-in-memory' <<<"$tern_help"; then TERN_MEMORY_FLAGS=--in-memory; fi
fi
durable_note=
if [ -z "${TERN_DURABLE_FLAGS+set}" ]; then
  if grep -q -- '-data' <<<"$tern_help"; then
    TERN_DURABLE_FLAGS='--data {dir}'
  else
    durable_note="This tern has no --data flag (no durable store yet): the tern-durable runs were skipped."
    say "$durable_note"
  fi
fi

# --- cases ---------------------------------------------------------------
# expand: CASES with the groups and open-loop rates spelled out.
expand() {
  local c r
  for c in $CASES; do
    case $c in
    perf) echo fanin-tcp fanin-ws fanout pairs fanin-qos1 latency latency-ws conns-tcp conns-tls conns-ws retained-tcp retained-ws ;;
    durable)
      echo durable-fanin-qos1 store-fanin store-fanout
      for r in $RATES; do echo "openloop-tcp-$r openloop-ws-$r"; done
      echo restart restart-kill queued-mem
      ;;
    auth) echo auth-101 auth-1000 ;;
    all) CASES="perf durable" expand ;;
    *) echo "$c" ;;
    esac
  done
}
CASES=$(expand | tr '\n' ' ')

# brokers CASE: the brokers a case runs against.
brokers() {
  case $1 in
  store-* | queued-mem) echo mosquitto mosquitto-durable tern tern-durable ;;
  durable-fanin-qos1 | restart*) echo mosquitto-durable tern tern-durable ;;
  openloop-*) echo mosquitto tern tern-durable ;;
  *) echo mosquitto tern ;;
  esac
}

# rate 20k|50000: messages per second.
rate() {
  case $1 in
  *k) echo $((${1%k} * 1000)) ;;
  *[!0-9]* | '') die "open-loop rate $1: want a number, or a number followed by k" ;;
  *) echo "$1" ;;
  esac
}

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

# mosquitto_conf DURABLE: the configuration on the prepared ports.
mosquitto_conf() {
  echo "per_listener_settings false"
  if [ -n "$auth_file" ]; then
    echo "allow_anonymous false"
    echo "password_file $auth_file"
  else
    echo "allow_anonymous true"
  fi
  if [ "$1" = yes ]; then
    echo "persistence true"
    echo "persistence_location $data/"
    echo "autosave_interval $MOSQ_AUTOSAVE"
    echo "autosave_on_changes false"
  else
    echo "persistence false"
  fi
  echo "max_queued_messages 10000"
  echo "max_inflight_messages 1000"
  echo "max_packet_size 1048576"
  echo "set_tcp_nodelay true"
  echo "log_dest stderr"
  echo "log_type error"
  echo "log_type warning"
  echo "listener $tcp 127.0.0.1"
  if [ -n "$want_tls" ]; then
    echo "listener $tlsp 127.0.0.1"
    echo "certfile $work/tls/server.pem"
    echo "keyfile $work/tls/server.key"
  fi
  echo "listener $ws 127.0.0.1"
  echo "protocol websockets"
}

# prepare BROKER: fresh ports and data directory; sets cmd (the broker's
# command line), data, tcp, ws, tcp_url, ws_url and pprof_url.
runs=0
prepare() {
  local pp conf flags
  tcp=$(free_port)
  ws=$(free_port)
  while [ "$ws" = "$tcp" ]; do ws=$(free_port); done
  pp=$(free_port)
  tlsp=$(free_port)
  while [ "$tlsp" = "$tcp" ] || [ "$tlsp" = "$ws" ]; do tlsp=$(free_port); done
  runs=$((runs + 1))
  data=$work/data.$runs
  mkdir -p "$data"
  pprof_url=
  case $1 in
  mosquitto | mosquitto-durable)
    conf=$work/mosquitto.$runs.conf
    if [ "$1" = mosquitto-durable ]; then mosquitto_conf yes >"$conf"; else mosquitto_conf no >"$conf"; fi
    # As root, mosquitto drops to its own user, who must reach and write
    # the directory.
    if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
      chmod o+x "$work"
      chown mosquitto: "$data"
    fi
    cmd=("$MOSQUITTO" -c "$conf")
    ;;
  tern | tern-durable)
    flags=$TERN_MEMORY_FLAGS
    if [ "$1" = tern-durable ]; then flags=${TERN_DURABLE_FLAGS//\{dir\}/$data}; fi
    # shellcheck disable=SC2206 # the flags are split on purpose
    http=127.0.0.1:$ws
    if [ -n "$no_http" ]; then http=; fi
    cmd=("$work/tern" --mqtt "127.0.0.1:$tcp" --http "$http" --mqtts "" --log-level warn
      --max-queued 10000 --max-inflight 1000 --max-packet-size 1048576 $flags)
    if [ -n "$auth_file" ]; then cmd+=(--password-file "$auth_file"); fi
    if [ -n "$want_tls" ]; then # only here: --tls-cert makes the HTTP port HTTPS too
      cmd+=(--mqtts "127.0.0.1:$tlsp" --tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key")
    fi
    if [ -n "$want_pprof" ]; then # only where the heap is read: the other cases run as before
      cmd+=(--pprof "127.0.0.1:$pp")
      pprof_url=http://127.0.0.1:$pp
    fi
    ;;
  esac
  tcp_url="tcp://127.0.0.1:$tcp"
  ws_url="ws://127.0.0.1:$ws/mqtt"
  tls_url="mqtts://127.0.0.1:$tlsp"
}

# --- password files ---------------------------------------------------------
AUTH_PASSWORD=tb-secret
# auth_iterations CASE: the N of auth-N.
auth_iterations() {
  local n=${1#auth-}
  case $n in
  '' | *[!0-9]*) die "case $1: want auth-N, N the PBKDF2 iterations (auth-101, auth-1000)" ;;
  esac
  echo "$n"
}

# password_file N: prints the path of a file of AUTH_USERS users tb0 ..
# tb<AUTH_USERS-1>, all with password $AUTH_PASSWORD, hashed $7$ with N
# iterations by mosquitto_passwd; written once per N. mosquitto_passwd -U
# converts a plain file in one go but 2.0.11 ignores -I there (it writes
# its default, 101), so it is used only when the result has N iterations;
# otherwise each user is hashed with -c -b -I N into a file of its own.
password_file() {
  local n=$1 f=$work/passwd.$1 parts i
  if [ ! -s "$f" ]; then
    command -v mosquitto_passwd >/dev/null 2>&1 || die "mosquitto_passwd is missing (Debian's mosquitto package has it)"
    say "writing $AUTH_USERS users, \$7\$ with $n iterations, with mosquitto_passwd"
    for ((i = 0; i < AUTH_USERS; i++)); do echo "tb$i:$AUTH_PASSWORD"; done >"$f.tmp"
    if mosquitto_passwd -I "$n" -U "$f.tmp" >/dev/null 2>&1 && [ "$(head -1 "$f.tmp" | cut -d'$' -f1-3)" = "tb0:\$7\$$n" ]; then
      mv "$f.tmp" "$f"
    else
      rm -f "$f.tmp"
      parts=$work/passwd.$n.d
      mkdir -p "$parts"
      seq 0 $((AUTH_USERS - 1)) | xargs -P "$(nproc)" -I{} \
        mosquitto_passwd -c -b -I "$n" "$parts/{}" "tb{}" "$AUTH_PASSWORD" ||
        die "mosquitto_passwd -c -b -I $n failed"
      find "$parts" -type f -exec cat {} + >"$f"
      rm -rf "$parts"
    fi
    [ "$(cut -d'$' -f2-3 "$f" | grep -cx "7\$$n")" -eq "$AUTH_USERS" ] || die "$f: want $AUTH_USERS \$7\$$n\$ lines"
    chmod 600 "$f"
    # As root, mosquitto reads it after dropping to its own user; tern
    # (root) reads it anyway.
    if [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1; then
      chmod o+x "$work"
      chown mosquitto: "$f"
    fi
  fi
  echo "$f"
}

# start BROKER: prepares it and starts it; sets pid.
start() {
  prepare "$1"
  "${cmd[@]}" >>"$work/${1%-durable}.log" 2>&1 &
  pid=$!
  local ports=("$tcp" "$ws")
  if [ -n "$no_http" ] && [[ $1 == tern* ]]; then ports=("$tcp"); fi
  if [ -n "$want_tls" ]; then ports+=("$tlsp"); fi
  local up=1 p
  for p in "${ports[@]}"; do wait_port "$p" || up=; done
  if [ -z "$up" ]; then
    tail -5 "$work/${1%-durable}.log" >&2 || true
    die "$1 did not start"
  fi
}

stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=
  rm -rf "$data"
}

# args CASE: the ternbench flags of a case.
args() {
  local url kill
  case $1 in
  fanin-tcp | store-fanin) echo "--url $tcp_url --scenario fan-in --publishers 8 --duration $DURATION" ;;
  fanin-ws) echo "--url $ws_url --scenario fan-in --publishers 8 --duration $DURATION" ;;
  fanout | store-fanout) echo "--url $tcp_url --scenario fan-out --subscribers 16 --duration $DURATION" ;;
  pairs) echo "--url $tcp_url --scenario pairs --pairs 16 --duration $DURATION" ;;
  fanin-qos1) echo "--url $tcp_url --scenario fan-in --publishers 8 --qos 1 --duration $DURATION" ;;
  latency) echo "--url $tcp_url --scenario latency --rate 1000 --duration $DURATION" ;;
  latency-ws) echo "--url $ws_url --scenario latency --rate 1000 --duration $DURATION" ;;
  conns-tcp) echo "--url $tcp_url --scenario connections --conns $CONNS --ping" ;;
  conns-tls) echo "--url $tls_url --cafile $work/tls/ca.pem --scenario connections --conns $CONNS --ping" ;;
  conns-ws) echo "--url $ws_url --scenario connections --conns $CONNS --ping" ;;
  retained-tcp) echo "--url $tcp_url --scenario retained --retained $RETAINED" ;;
  retained-ws) echo "--url $ws_url --scenario retained --retained $RETAINED" ;;
  durable-fanin-qos1)
    echo "--url $tcp_url --scenario fan-in --publishers 16 --qos 1 --window 0 --inflight $INFLIGHT --persistent --duration $DURATION"
    ;;
  openloop-tcp-* | openloop-ws-*)
    url=$tcp_url
    case $1 in openloop-ws-*) url=$ws_url ;; esac
    echo "--url $url --scenario open-loop --publishers 8 --qos 1 --inflight 256 --rate $(rate "${1##*-}") --duration $DURATION"
    ;;
  restart | restart-kill)
    kill=term
    if [ "$1" = restart-kill ]; then kill=kill; fi
    echo "--url $tcp_url --scenario restart --kill $kill --sessions $SESSIONS --queued $QUEUED --retained $RESTART_RETAINED"
    ;;
  auth-*)
    echo "--url $tcp_url --scenario connect-rate --connectors $AUTH_CONNECTORS --username tb --password $AUTH_PASSWORD" \
      "--users $AUTH_USERS --duration $DURATION --warm $DURATION"
    ;;
  queued-mem)
    echo "--url $tcp_url --scenario queued-memory --sessions $MEM_SESSIONS --queued $MEM_QUEUED --payload 100${pprof_url:+ --pprof-url $pprof_url}"
    ;;
  *) die "unknown case $1" ;;
  esac
}

# run_case CASE BROKER: one run, its report appended to $results. The
# restart cases start (and stop) the broker inside ternbench, which must
# see the process start.
run_case() {
  local c=$1 b=$2 self= extra n
  case $c in restart*) self=1 ;; esac
  want_pprof= auth_file= want_tls= no_http=
  if [ "$c" = queued-mem ]; then want_pprof=1; fi
  if [ "$c" = conns-tls ]; then want_tls=1; fi
  case $c in conns-tcp | conns-tls) no_http=1 ;; esac
  if [[ $c == auth-* ]]; then
    n=$(auth_iterations "$c")
    auth_file=$(password_file "$n")
  fi
  if [ -n "$self" ]; then prepare "$b"; else start "$b"; fi
  extra=(--broker-pid "$pid")
  if [ -n "$self" ]; then extra=(-- "${cmd[@]}"); fi
  # shellcheck disable=SC2046 # the flags are split on purpose
  if ! "$work/ternbench" $(args "$c") --mqtt-version "$MQTT_VERSION" --broker "$b" --name "$c" \
    --json "$results" "${extra[@]}" >>"$work/runs.txt" 2>&1; then
    say "  $b $c reported an error (kept in the table): $(tail -1 "$work/runs.txt")"
  fi
  stop
}

# --- runs ------------------------------------------------------------------
want_pprof= pprof_url= auth_file= want_tls= no_http=
tcp_url=tcp://127.0.0.1:1 ws_url=ws://127.0.0.1:1/mqtt tls_url=mqtts://127.0.0.1:1
for c in $CASES; do args "$c" >/dev/null; done # unknown cases stop here
for c in $CASES; do
  if [[ $c == auth-* ]]; then # the files are written before the clock starts
    n=$(auth_iterations "$c")
    password_file "$n" >/dev/null
  fi
done
start_time=$(date +%s)
for rep in $(seq "$REPS"); do
  for c in $CASES; do
    order=$(brokers "$c")
    if [ $((rep % 2)) -eq 0 ]; then order=$(tr ' ' '\n' <<<"$order" | tac | tr '\n' ' '); fi
    for b in $order; do
      if [ "$b" = tern-durable ] && [ -z "${TERN_DURABLE_FLAGS+set}" ]; then continue; fi
      run_case "$c" "$b"
      say "rep $rep/$REPS  $c  $b  done ($(($(date +%s) - start_time))s)"
    done
  done
done

# --- table -----------------------------------------------------------------
# has BROKER: whether the results have runs of BROKER.
has() { grep -q "\"broker\":\"$1\"" "$results"; }

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
  echo "Brokers: tern '$TERN_MEMORY_FLAGS'; tern-durable '${TERN_DURABLE_FLAGS-(skipped)}';" \
    "mosquitto-durable: persistence true, autosave_interval $MOSQ_AUTOSAVE s (snapshots only, see bench/compare.sh)."
  if [ -n "$durable_note" ]; then
    echo
    echo "$durable_note"
  fi
  for pair in "mosquitto tern" "mosquitto-durable tern-durable" "tern tern-durable" "mosquitto-durable tern" "mosquitto mosquitto-durable"; do
    read -r base cand <<<"$pair"
    if has "$base" && has "$cand"; then
      echo
      echo "## $cand / $base"
      echo
      "$work/ternbench" summarize --both --base "$base" --cand "$cand" "$results"
    fi
  done
  echo
  echo "Medians over REPS runs per broker, spread min–max; ratio = the second broker's median / the first's."
  echo "RSS per connection is the broker's VmRSS growth divided by the connections, 2 s after the last CONNACK;" \
    "after PINGREQ: the same growth (from before the connections) 2 s after every client has sent one PINGREQ and read its PINGRESP."
  if grep -q '"scenario":"connect-rate"' "$results"; then
    echo "auth-N: the same password file ($AUTH_USERS users, \$7\$ PBKDF2-SHA512 with N iterations, mosquitto_passwd) for both;" \
      "$AUTH_CONNECTORS connectors each connect, wait for the CONNACK, disconnect, again; latency is CONNECT written → CONNACK read." \
      "First logins: each user once, so none is in Tern's cache of verified passwords (keyed by user+password, empty at the broker's start);" \
      "that pass ends after DURATION or when a connector has used all its users (its seconds are in the .jsonl)." \
      "Repeat logins: the same users again for DURATION, every one a cache hit in Tern; Mosquitto 2.0.11 keeps no such cache and hashes every login."
  fi
} >"$table"
cat "$table"
if [ -n "$OUT" ]; then
  mkdir -p "$(dirname "$OUT")"
  cp "$table" "$OUT"
  cp "$results" "${OUT%.md}.jsonl"
  say "wrote $OUT and ${OUT%.md}.jsonl"
fi

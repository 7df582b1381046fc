#!/usr/bin/env bash
# The benchmark kit in one run: builds release, starts the mock provider, oauth-broker (one
# process, then two replicas sharing Redis with --redis) and the Tableau Node sample, drives each
# with the same load generator on this machine, and prints the tables of BENCHMARKS.md.
#
#   scripts/bench.sh [--redis] [--redis3] [--quick] [--no-experiments] [--no-sample]
#                    [--only startup,idle,flows,redis,redis3]
#
# --redis3: three replicas sharing one Redis over TLS (a CA and certificate made here with
# openssl, an ACL user with a password), each user's WebSocket on one replica and its /signin
# and /complete on the next, so every delivery crosses replicas.
#
# Besides the broker as built, the flows are run once more with TCP_NODELAY forced on the
# broker's accepted sockets by an LD_PRELOAD shim (built here with cc): the measured effect of
# the one-line fix BENCHMARKS.md recommends. --no-experiments skips those rows; --no-sample skips
# the Tableau sample's rows (for comparing two builds of ours, scripts/bench-ab.sh).
#
# Knobs (environment): DURATION (s per flows scenario, 10), WARMUP (2), CONCURRENCY ("1 64"),
# SESSIONS (idle sessions; default: open-file limit - 100), HOLD (s to hold idle sessions, 30),
# THREADS (load generator threads, 1), LOG_LEVEL (broker log level, info as shipped),
# MAX_LOAD (1-minute load average to wait below before the run, 1.0), BUSY_MAX (% of all CPUs
# that others may use before each scenario, 30),
# BROKER_BIN (another oauth-broker build to measure) with LABEL_SUFFIX (marks its rows),
# NO_BUILD=1 (use the release binaries already built, in RELEASE_DIR, target/release by default),
# OMIT_ENV (settings to leave out for an older BROKER_BIN, e.g. BROKER__LIMITS__SESSIONS_PER_CLIENT),
# OUT (results directory, target/bench/<time>), PEER_DIR (where the sample is installed).
# Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS=0
ONLY="startup,idle,flows"
QUICK=0
EXPERIMENTS=1
SAMPLE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --redis) REDIS=1 ;;
    --redis3) ONLY="$ONLY,redis3" ;;
    --quick) QUICK=1 ;;
    --no-experiments) EXPERIMENTS=0 ;;
    --no-sample) SAMPLE=0 ;;
    --only) ONLY="$2"; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$REDIS" = 1 ] && ONLY="$ONLY,redis"
want() { [[ ",$ONLY," == *",$1,"* ]]; }

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONCURRENCY=${CONCURRENCY:-"1 64"}
HOLD=${HOLD:-30}
THREADS=${THREADS:-1}
LOG_LEVEL=${LOG_LEVEL:-info}
MAX_LOAD=${MAX_LOAD:-1.0}
if [ "$QUICK" = 1 ]; then
  DURATION=${QUICK_DURATION:-3}; WARMUP=1; HOLD=5; SESSIONS=${SESSIONS:-2000}
fi
OUT=${OUT:-target/bench/$(date +%Y%m%d-%H%M%S)}
PEER_DIR=${PEER_DIR:-${TMPDIR:-/tmp}/oauth-broker-bench/peer}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

MOCK_PORT=18090 BROKER_PORT=18080 REPLICA_A_PORT=18081 REPLICA_B_PORT=18082 SAMPLE_PORT=18083
REPLICA_C_PORT=18084 REDIS_PORT=16379 REDIS_TLS_PORT=16380
RELEASE_DIR=${RELEASE_DIR:-$PWD/target/release}
LOADGEN=$RELEASE_DIR/examples/loadgen
BROKER=${BROKER_BIN:-$RELEASE_DIR/oauth-broker}
SUFFIX=${LABEL_SUFFIX:-}

for port in $MOCK_PORT $BROKER_PORT $REPLICA_A_PORT $REPLICA_B_PORT $REPLICA_C_PORT $SAMPLE_PORT \
  $REDIS_PORT $REDIS_TLS_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "127.0.0.1:$port is taken; stop what listens there first" >&2
    exit 1
  fi
done

STARTED=()
cleanup() {
  for pid in "${STARTED[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

log() { printf '\n== %s\n' "$*" >&2; }

# Other work on this machine pollutes the figures. Before the run: wait (polling every 30 s, up
# to 15 min) until the 1-minute load average is at most MAX_LOAD. Before each scenario the load
# average still carries this script's own previous scenario, so there the test is the CPU that
# others use right now: all cores busy at most BUSY_MAX % over 2 s while our processes idle.
BUSY_MAX=${BUSY_MAX:-30}
cpu_busy_percent() {
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local busy=0 total=0 i d
  for i in 1 2 3 4 5 6 7 8; do
    d=$(( b[i] - a[i] )); total=$(( total + d ))
    [ "$i" != 4 ] && [ "$i" != 5 ] && busy=$(( busy + d ))
  done
  echo $(( 100 * busy / (total > 0 ? total : 1) ))
}
FIRST_CHECK=1
quiet_machine() {
  local waited=0 load busy=""
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [ "$FIRST_CHECK" = 1 ]; then
      awk -v l="$load" -v m="$MAX_LOAD" 'BEGIN { exit !(l <= m) }' && break
      echo "load $load > $MAX_LOAD; waiting 30 s" >&2
    else
      busy=$(cpu_busy_percent)
      [ "$busy" -le "$BUSY_MAX" ] && break
      echo "others keep the CPUs $busy % busy (> $BUSY_MAX %); waiting 30 s" >&2
    fi
    if [ "$waited" -ge 900 ]; then
      echo "still busy after 15 min; measuring anyway (noted in load.txt)" >&2
      break
    fi
    sleep 30; waited=$((waited + 30))
  done
  FIRST_CHECK=0
  echo "$(date +%T) $1: 1-minute load $load${busy:+, CPUs $busy % busy before start}, waited ${waited} s" >> "$OUT/load.txt"
}

wait_http() { # url
  for _ in $(seq 1 500); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.02
  done
  echo "no answer from $1" >&2; return 1
}

wait_port() { # port
  for _ in $(seq 1 500); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.02
  done
  echo "nothing listens on 127.0.0.1:$1" >&2; return 1
}

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

broker_env() { # port confirm [redis_url]
  local port=$1
  echo BROKER__SERVER__BIND=127.0.0.1:$port \
    BROKER__SERVER__PUBLIC_URL=http://localhost:$port \
    BROKER__SERVER__CALLBACK_URL=http://127.0.0.1:$port \
    BROKER__SERVER__METRICS_BIND= \
    BROKER__SERVER__SHUTDOWN_GRACE_SECS=1 \
    BROKER__LOG__LEVEL=$LOG_LEVEL \
    BROKER__PROVIDERS__DEMO__ENABLED=false \
    BROKER__PROVIDERS__MOCK__CLIENT_ID=bench-client \
    BROKER__PROVIDERS__MOCK__CLIENT_SECRET=bench-secret \
    BROKER__PROVIDERS__MOCK__AUTHORIZE_URL=http://127.0.0.1:$MOCK_PORT/authorize \
    BROKER__PROVIDERS__MOCK__TOKEN_URL=http://127.0.0.1:$MOCK_PORT/token \
    BROKER__SIGNIN__CONFIRM_CODE=$2 \
    BROKER__LIMITS__SIGNIN_LINKS_PER_SESSION=0 \
    BROKER__LIMITS__SIGNIN_LINKS_PER_CLIENT=0 \
    BROKER__LIMITS__REQUESTS_PER_CLIENT=0 \
    BROKER__LIMITS__CONNECTIONS_PER_CLIENT=0 \
    BROKER__LIMITS__CONFIRM_ATTEMPTS_PER_CLIENT=0 \
    $(omit BROKER__LIMITS__SESSIONS_PER_CLIENT=0)
  if [ -n "${3:-}" ]; then
    echo BROKER__STORE__REDIS_URL="$3" BROKER__SECRETS__SEAL_KEY="$SEAL_KEY"
  fi
  if [ -n "${REDIS_CA:-}" ]; then
    echo BROKER__STORE__TLS_CA="$REDIS_CA"
  fi
}

# A setting an older build (BROKER_BIN) does not know is refused as an unknown key:
# OMIT_ENV="NAME ..." leaves those variables out.
omit() { # NAME=value -> itself, unless NAME is in OMIT_ENV
  local name=${1%%=*}
  [[ " ${OMIT_ENV:-} " == *" $name "* ]] || echo "$1"
}

start_broker() { # name port confirm [redis_url] -> sets PID; PRELOAD: a library to preload
  # shellcheck disable=SC2046
  env ${PRELOAD:+LD_PRELOAD=$PRELOAD} $(broker_env "$2" "$3" "${4:-}") "$BROKER" \
    > "$OUT/$1.log" 2>&1 &
  PID=$!
  STARTED+=("$PID")
  wait_http "http://127.0.0.1:$2/readyz"
}

start_sample() { # -> sets PID
  (cd "$PEER_DIR" && PORT=$SAMPLE_PORT HOST=127.0.0.1 \
    TOKEN_URL=http://127.0.0.1:$MOCK_PORT/api/token \
    AUTHORIZE_URL=http://127.0.0.1:$MOCK_PORT/authorize \
    REDIRECT_URI=http://127.0.0.1:$SAMPLE_PORT/complete \
    SPOTIFY_CLIENT_ID=bench-client SPOTIFY_CLIENT_SECRET=bench-secret \
    exec node server.js) > "$OUT/sample.log" 2>&1 &
  PID=$!
  STARTED+=("$PID")
  wait_http "http://127.0.0.1:$SAMPLE_PORT/"
}

log "machine"
{
  echo "date: $(date -Is)"
  echo "kernel: $(uname -srm)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "memory: $(free -m | awk '/Mem:/ {print $2}') MiB"
  echo "open-file limit (ulimit -n): $(ulimit -n)"
  echo "rustc: $(rustc --version)"
  echo "node: $(node --version)"
  echo "redis: $(redis-server --version | cut -d' ' -f3)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted changes')"
} | tee "$OUT/machine.txt" >&2

if [ "${NO_BUILD:-0}" != 1 ]; then
  log "build (release)"
  cargo build --release --bin oauth-broker
  cargo build --release --example loadgen --example mock_provider
fi

# TCP_NODELAY on every socket the broker accepts, without changing its code.
NODELAY_SHIM=""
if [ "$EXPERIMENTS" = 1 ] && command -v cc > /dev/null; then
  cat > "$OUT/nodelay.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static int nodelay(int fd) {
  if (fd >= 0) { int saved = errno, one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); errno = saved; }
  return fd;
}
int accept4(int s, struct sockaddr *a, socklen_t *l, int f) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = dlsym(RTLD_NEXT, "accept4");
  return nodelay(real(s, a, l, f));
}
int accept(int s, struct sockaddr *a, socklen_t *l) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "accept");
  return nodelay(real(s, a, l));
}
EOF
  cc -shared -fPIC -O2 -o "$OUT/nodelay.so" "$OUT/nodelay.c" -ldl && NODELAY_SHIM="$OUT/nodelay.so"
fi
VARIANTS=("")
[ -n "$NODELAY_SHIM" ] && VARIANTS+=("$NODELAY_SHIM")
variant_label() { [ -n "$1" ] && echo " + TCP_NODELAY (LD_PRELOAD)"; true; }

if [ "$SAMPLE" = 1 ] && [ ! -d "$PEER_DIR/node_modules" ]; then
  log "install the Tableau sample in $PEER_DIR (shared/ is read-only)"
  mkdir -p "$PEER_DIR"
  cp -r ../shared/peer-node-sample/. "$PEER_DIR/"
  (cd "$PEER_DIR" && npm install --no-audit --no-fund)
fi

"$RELEASE_DIR/examples/mock_provider" --bind 127.0.0.1:$MOCK_PORT --workers 1 > "$OUT/mock.log" 2>&1 &
MOCK_PID=$!
STARTED+=("$MOCK_PID")
wait_port $MOCK_PORT

if want startup; then
  log "start to /readyz"
  quiet_machine startup
  # shellcheck disable=SC2046
  env $(broker_env $BROKER_PORT false) "$LOADGEN" startup --target 127.0.0.1:$BROKER_PORT \
    --path /readyz --runs 20 --label "oauth-broker (memory store)$SUFFIX" --json "$RESULTS" -- "$BROKER"
  if [ "$SAMPLE" = 1 ]; then
    (cd "$PEER_DIR" && PORT=$SAMPLE_PORT HOST=127.0.0.1 "$LOADGEN" startup \
      --target 127.0.0.1:$SAMPLE_PORT --path / --runs 20 --label "sample (node server.js, GET /)" \
      --json "$RESULTS" -- node server.js)
  fi
fi

idle_args=()
[ -n "${SESSIONS:-}" ] && idle_args+=(--sessions "$SESSIONS")
if want idle; then
  log "idle sessions: oauth-broker"
  start_broker broker-idle $BROKER_PORT true
  quiet_machine idle-broker
  "$LOADGEN" idle --service broker --target 127.0.0.1:$BROKER_PORT --server-pid "$PID" \
    --hold-secs "$HOLD" --label "oauth-broker$SUFFIX" --json "$RESULTS" "${idle_args[@]}"
  stop "$PID"

  if [ "$SAMPLE" = 1 ]; then
    log "idle sessions: sample"
    start_sample
    quiet_machine idle-sample
    "$LOADGEN" idle --service socketio --target 127.0.0.1:$SAMPLE_PORT --server-pid "$PID" \
      --hold-secs "$HOLD" --label "sample (Socket.IO)" --json "$RESULTS" "${idle_args[@]}"
    stop "$PID"
  fi
fi

flows() { # label service ws http pids...
  local label=$1 service=$2 ws=$3 http=$4; shift 4
  for c in $CONCURRENCY; do
    quiet_machine "flows $label C=$c"
    "$LOADGEN" flows --service "$service" --ws "$ws" --http "$http" --concurrency "$c" \
      --duration-secs "$DURATION" --warmup-secs "$WARMUP" --threads "$THREADS" \
      --label "$label" --json "$RESULTS" "$@"
  done
}

onoff() { [ "$1" = true ] && echo on || echo off; }

if want flows; then
  for PRELOAD in "${VARIANTS[@]}"; do
    for confirm in false true; do
      log "flows: oauth-broker, confirm_code=$confirm$(variant_label "$PRELOAD")"
      start_broker "broker-flows-$confirm" $BROKER_PORT $confirm
      flows "oauth-broker, confirm $(onoff $confirm)$(variant_label "$PRELOAD")$SUFFIX" broker \
        127.0.0.1:$BROKER_PORT 127.0.0.1:$BROKER_PORT --pid "broker=$PID" --pid "mock=$MOCK_PID"
      stop "$PID"
    done
  done
  PRELOAD=""
  if [ "$SAMPLE" = 1 ]; then
    log "flows: sample"
    start_sample
    flows "sample (Socket.IO)" socketio 127.0.0.1:$SAMPLE_PORT 127.0.0.1:$SAMPLE_PORT \
      --pid "sample=$PID" --pid "mock=$MOCK_PID"
    stop "$PID"
  fi
fi

if want redis; then
  log "flows: two replicas through Redis (WebSocket on A, /signin and /complete on B)"
  SEAL_KEY=$(head -c 32 /dev/urandom | base64)
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no \
    > "$OUT/redis.log" 2>&1 &
  REDIS_PID=$!
  STARTED+=("$REDIS_PID")
  wait_port $REDIS_PORT
  for PRELOAD in "${VARIANTS[@]}"; do
    for confirm in false true; do
      redis-cli -p $REDIS_PORT flushall > /dev/null
      start_broker "replica-a-$confirm" $REPLICA_A_PORT $confirm "redis://127.0.0.1:$REDIS_PORT/"
      A=$PID
      start_broker "replica-b-$confirm" $REPLICA_B_PORT $confirm "redis://127.0.0.1:$REDIS_PORT/"
      B=$PID
      flows "oauth-broker ×2 via redis, confirm $(onoff $confirm)$(variant_label "$PRELOAD")$SUFFIX" \
        broker 127.0.0.1:$REPLICA_A_PORT 127.0.0.1:$REPLICA_B_PORT \
        --pid "replica-a=$A" --pid "replica-b=$B" --pid "redis=$REDIS_PID" --pid "mock=$MOCK_PID"
      stop "$A"; stop "$B"
    done
  done
  PRELOAD=""
  stop "$REDIS_PID"
fi

if want redis3; then
  log "flows: three replicas through Redis over TLS (WebSocket on one, /signin and /complete on the next)"
  SEAL_KEY=$(head -c 32 /dev/urandom | base64)
  TLS_DIR="$OUT/redis-tls"
  mkdir -p "$TLS_DIR"
  # A CA, and a certificate for 127.0.0.1 signed by it (the broker checks the name).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2> /dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2> /dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$TLS_DIR/san.ext"
  openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
    -CAcreateserial -days 2 -extfile "$TLS_DIR/san.ext" -out "$TLS_DIR/server.pem" 2> /dev/null
  REDIS_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  # TLS only (no plain port), the default user off, one ACL user: as a managed Redis runs.
  redis-server --port 0 --tls-port $REDIS_TLS_PORT --bind 127.0.0.1 --save "" --appendonly no \
    --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key" \
    --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients no \
    --user default off --user broker on ">$REDIS_PASSWORD" "~*" "&*" "+@all" \
    > "$OUT/redis-tls.log" 2>&1 &
  REDIS_PID=$!
  STARTED+=("$REDIS_PID")
  wait_port $REDIS_TLS_PORT
  REDIS_CLI=(redis-cli --tls --cacert "$TLS_DIR/ca.pem" -p $REDIS_TLS_PORT --user broker
    --pass "$REDIS_PASSWORD" --no-auth-warning)
  REDIS_CA="$TLS_DIR/ca.pem"
  URL="rediss://broker:$REDIS_PASSWORD@127.0.0.1:$REDIS_TLS_PORT/"
  REPLICAS="127.0.0.1:$REPLICA_A_PORT,127.0.0.1:$REPLICA_B_PORT,127.0.0.1:$REPLICA_C_PORT"
  for confirm in false true; do
    "${REDIS_CLI[@]}" flushall > /dev/null
    start_broker "tls-replica-a-$confirm" $REPLICA_A_PORT $confirm "$URL"
    A=$PID
    start_broker "tls-replica-b-$confirm" $REPLICA_B_PORT $confirm "$URL"
    B=$PID
    start_broker "tls-replica-c-$confirm" $REPLICA_C_PORT $confirm "$URL"
    C=$PID
    flows "oauth-broker ×3 via Redis over TLS, confirm $(onoff $confirm)$SUFFIX" \
      broker "$REPLICAS" "$REPLICAS" \
      --pid "replica-a=$A" --pid "replica-b=$B" --pid "replica-c=$C" --pid "redis=$REDIS_PID" \
      --pid "mock=$MOCK_PID"
    stop "$A"; stop "$B"; stop "$C"
  done
  REDIS_CA=""
  stop "$REDIS_PID"
fi

log "results ($RESULTS)"
"$LOADGEN" report "$RESULTS" | tee "$OUT/table.md"
echo "load averages at each measurement: $OUT/load.txt" >&2

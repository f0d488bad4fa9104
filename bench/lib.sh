# bench/lib.sh — settings and helpers shared by the benchmark scripts
# (run.sh now; the replication benchmarks of issue 7 later). Sourced, not run.
#
# Everything lives under $BENCH_WORK (default /tmp/vcdb-bench), servers listen
# on 127.0.0.1 only, every wait is bounded, and `bench_cleanup` (installed as
# an EXIT trap by bench_start) stops exactly the servers these scripts started.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
VCDB=${VCDB_BIN:-$REPO/bin/vcdb}

BENCH_WORK=${BENCH_WORK:-/tmp/vcdb-bench}
HOST=127.0.0.1
# Fixed ports below the ephemeral range, so tests that listen on :0 never
# take them; override when they are in use.
PG_PORT=${BENCH_PG_PORT:-5440}
VCDB_PORT=${BENCH_VCDB_PORT:-26260}
VCDB_HTTP_PORT=${BENCH_VCDB_HTTP_PORT:-8090}

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGDATA_DIR=$BENCH_WORK/pg
VCDB_STORE=$BENCH_WORK/vcdb

PG_URL="postgresql://postgres@$HOST:$PG_PORT/postgres?sslmode=disable"
VCDB_URL="postgresql://root@$HOST:$VCDB_PORT/defaultdb?sslmode=disable"

# Quick mode smoke-tests the harness in about two minutes: short runs, one
# repetition, a small table, no profiles.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  : "${BENCH_DURATION:=3s}" "${BENCH_RAMP:=1s}" "${BENCH_REPS:=1}" "${BENCH_KV_ROWS:=10000}"
  : "${BENCH_PROFILE:=0}" "${BENCH_QUIET_MAX:=0}"
fi
BENCH_DURATION=${BENCH_DURATION:-15s}
BENCH_RAMP=${BENCH_RAMP:-2s}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_KV_ROWS=${BENCH_KV_ROWS:-1000000}
BENCH_PROFILE=${BENCH_PROFILE:-1}
BENCH_QUIET_MAX=${BENCH_QUIET_MAX:-10}
BENCH_SYSTEMS=${BENCH_SYSTEMS:-"pg vcdb"}

log() { echo "# $(date +%H:%M:%S) $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# url_of SYSTEM prints the SQL URL of pg or vcdb.
url_of() { case $1 in pg) echo "$PG_URL" ;; vcdb) echo "$VCDB_URL" ;; *) die "unknown system $1" ;; esac; }
name_of() { case $1 in pg) echo "PostgreSQL 15" ;; vcdb) echo "vcdb" ;; esac; }

# --- PostgreSQL ---------------------------------------------------------------

# as_pg runs a command as the postgres OS user when we are root (PostgreSQL
# refuses to run as root), else as ourselves.
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd /tmp && runuser -u postgres -- "$@"); else "$@"; fi
}

# pg_install installs PostgreSQL 15 from Debian's packages when its server
# binaries are missing. Debian's package creates and starts a "15/main"
# cluster on port 5432; we stop it, since it is not ours to measure.
pg_install() {
  [ -x "$PGBIN/postgres" ] && return 0
  [ "$(id -u)" = 0 ] || die "PostgreSQL 15 is not installed and installing it needs root: apt-get install -y postgresql-15"
  log "installing postgresql-15"
  if ! apt-cache policy postgresql-15 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  [ -x "$PGBIN/postgres" ] || die "postgresql-15 installed but $PGBIN/postgres is missing"
  if command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 *main .*online'; then
    pg_ctlcluster 15 main stop || true
  fi
}

# pg_start creates a fresh data directory and starts PostgreSQL configured as
# the anchor (../shared/reference/postgres-anchor/00_setup.sh): durable
# commits (fsync, synchronous_commit on: the defaults), shared_buffers=1GB so
# the data set fits in memory, max_wal_size=8GB and checkpoint_timeout=15min
# so no checkpoint is forced inside a run, TCP on 127.0.0.1 only. The
# replication settings are the anchor's too, so that the replication
# benchmarks can add a standby to this same primary.
pg_start() {
  pg_install
  pg_stop
  rm -rf "$PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA_DIR"
  as_pg "$PGBIN/initdb" -D "$PGDATA_DIR/data" -U postgres --auth-local=trust --auth-host=trust >/dev/null
  cat >> "$PGDATA_DIR/data/postgresql.conf" <<CONF
# --- vcdb bench: as the PostgreSQL anchor ---
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 15min
max_connections = 100
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
CONF
  cat > "$PGDATA_DIR/data/pg_hba.conf" <<HBA
host    all          all          $HOST/32   trust
host    replication  all          $HOST/32   trust
HBA
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/log" -w -t 60 start >/dev/null ||
    { tail -20 "$PGDATA_DIR/log" >&2; die "PostgreSQL did not start"; }
  PG_STARTED=1
}

pg_stop() {
  if [ -f "$PGDATA_DIR/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -t 60 stop >/dev/null || true
  fi
}

pg_psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h $HOST -p "$PG_PORT" -U postgres -d postgres "$@"; }

# --- vcdb ---------------------------------------------------------------------

# Nodes this script started, by name: pid, and their log files. The
# single-node benchmark uses one node, "main"; the replication benchmarks
# start a primary and a standby the same way.
declare -A VCDB_PIDS=()

# vcdb_start_node NAME SQL_PORT HTTP_PORT STORE [FLAGS...] starts a vcdb node
# on a fresh store and waits (bounded, 60 s) until it answers SQL as root.
vcdb_start_node() {
  local name=$1 port=$2 http=$3 store=$4; shift 4
  [ -x "$VCDB" ] || die "$VCDB is missing: run make build"
  vcdb_stop_node "$name"
  rm -rf "$store"
  mkdir -p "$BENCH_WORK"
  "$VCDB" start-single-node --insecure --store="$store" \
    --listen-addr=$HOST:"$port" --http-addr=$HOST:"$http" "$@" \
    > "$BENCH_WORK/vcdb-$name.log" 2>&1 &
  VCDB_PIDS[$name]=$!
  local i url="postgresql://root@$HOST:$port/defaultdb?sslmode=disable"
  for i in $(seq 1 600); do
    if "$PGBIN/psql" -X -q -At "$url" -c "SELECT 1" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${VCDB_PIDS[$name]}" 2>/dev/null; then
      tail -20 "$BENCH_WORK/vcdb-$name.log" >&2; die "vcdb node $name exited during start-up"
    fi
    sleep 0.1
  done
  tail -20 "$BENCH_WORK/vcdb-$name.log" >&2
  die "vcdb node $name did not accept SQL within 60 s"
}

# vcdb_stop_node NAME stops a node this script started: SIGTERM, then
# SIGKILL after 30 s.
vcdb_stop_node() {
  local pid=${VCDB_PIDS[$1]:-} i
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  unset "VCDB_PIDS[$1]"
}

# vcdb_cache_flag prints the flag that gives vcdb's block cache the memory
# PostgreSQL's shared_buffers has (BENCH_VCDB_CACHE, default 1GiB), when the
# binary has a --cache flag; nothing otherwise (the kv default then applies).
vcdb_cache_flag() {
  if "$VCDB" start-single-node --help 2>/dev/null | grep -q -- '--cache'; then
    echo "--cache=${BENCH_VCDB_CACHE:-1GiB}"
  fi
}

# vcdb_start starts the benchmark's node. Its commits are durable: the
# Pebble WAL is synced before a commit is acknowledged (DESIGN.md), as
# PostgreSQL's are with synchronous_commit=on.
vcdb_start() {
  # shellcheck disable=SC2046
  vcdb_start_node main "$VCDB_PORT" "$VCDB_HTTP_PORT" "$VCDB_STORE" $(vcdb_cache_flag)
}

# vcdb_pids prints the pids of our vcdb nodes (for CPU accounting).
vcdb_pids() { echo "${VCDB_PIDS[@]}"; }
pg_pids() { [ -f "$PGDATA_DIR/data/postmaster.pid" ] && head -1 "$PGDATA_DIR/data/postmaster.pid" || true; }

bench_cleanup() {
  local n
  for n in "${!VCDB_PIDS[@]}"; do vcdb_stop_node "$n"; done
  [ "${PG_STARTED:-0}" = 1 ] && pg_stop
  return 0
}

# bench_start installs the cleanup trap; call it once, before starting servers.
bench_start() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$BENCH_WORK"
}

# --- CPU accounting (as the anchor's common.sh) --------------------------------
# The machine is shared: before each measurement wait (bounded) for a quiet
# window, and record how much CPU went to processes that are not ours.

# cpu_ticks prints "busy_ticks steal_ticks ours_ticks": all CPUs' busy time
# from /proc/stat, and the time of our servers (PostgreSQL's postmaster and
# its children, vcdb) plus the reaped children of shell CLIENT_PID (the
# workload clients it ran), when given.
cpu_ticks() {
  local pids busy steal ours me=${1:-0}
  pids="$(pg_pids) $(vcdb_pids)"
  read -r busy steal < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $9}' /proc/stat)
  ours=$({ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pids="$pids" -v me="$me" '
    BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) p[a[i]] = 1 }
    { pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
      if (pid in p)        t += f[12] + f[13] + f[14] + f[15]
      else if (f[2] in p)  t += f[12] + f[13]
      else if (pid == me)  t += f[14] + f[15] }
    END { print t + 0 }')
  echo "$busy $steal $ours"
}

# other_load SECONDS: cores used by processes that are not ours over a window.
other_load() {
  local a b
  a=$(cpu_ticks); sleep "$1"; b=$(cpu_ticks)
  echo "$a $b" | awk -v w="$1" '{ o = (($4 - $1) - ($6 - $3)) / 100 / w; if (o < 0) o = 0; printf "%.2f\n", o }'
}

# wait_quiet: wait at most BENCH_QUIET_MAX seconds for a 2 s window in which
# other processes use under 0.2 of a core; prints the last figure.
wait_quiet() {
  local start=$SECONDS o
  [ "$BENCH_QUIET_MAX" -gt 0 ] || { echo "-"; return 0; }
  while :; do
    o=$(other_load 2)
    if awk -v o="$o" 'BEGIN { exit !(o < 0.20) }' || [ $((SECONDS - start)) -ge "$BENCH_QUIET_MAX" ]; then
      echo "$o"; return 0
    fi
  done
}

# --- running a workload --------------------------------------------------------

# run_workload SYSTEM OUTBASE ARGS...: runs `vcdb workload ARGS... URL` against
# SYSTEM, bounded by a timeout, writing OUTBASE.out (the text output) and
# OUTBASE.json (--histograms), and prints the cores other processes used
# meanwhile (other_cpu, from the machine's busy time minus ours).
run_workload() {
  local sys=$1 base=$2; shift 2
  local a b secs rc=0 me=$BASHPID
  a=$(cpu_ticks "$me"); secs=$SECONDS
  timeout -k 10 "${BENCH_RUN_TIMEOUT:-300}" "$VCDB" workload "$@" --histograms="$base.json" "$(url_of "$sys")" \
    > "$base.out" 2>&1 || rc=$?
  b=$(cpu_ticks "$me")
  if [ $rc != 0 ]; then
    tail -5 "$base.out" >&2
    die "workload $* against $sys failed (exit $rc): see $base.out"
  fi
  echo "$a $b" | awk -v w=$((SECONDS - secs)) '{ if (w < 1) w = 1; o = (($4 - $1) - ($6 - $3)) / 100 / w; if (o < 0) o = 0; printf "%.2f\n", o }'
}

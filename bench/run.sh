#!/usr/bin/env bash
# bench/run.sh — `make bench`: vcdb against PostgreSQL 15 on this machine, in
# one script. Both servers run on 127.0.0.1 with durable commits (PostgreSQL
# configured as ../shared/reference/postgres-anchor/), the same client (`vcdb
# workload`) drives both, runs of the two systems are interleaved (PG, vcdb,
# then vcdb, PG, ...) because the machine is noisy, and the report quotes
# medians and the ratio vcdb/PostgreSQL.
#
# Rows: kv95 and kv0 (write-only upserts) at 8 and 32 connections, point
# SELECT, single-row INSERT and bank, each for $BENCH_DURATION after a
# $BENCH_RAMP ramp, $BENCH_REPS times per system. Then bank's invariant is
# checked on both, and (BENCH_PROFILE=1) CPU and allocation profiles of vcdb
# are taken in a separate pass, so that profiling does not slow the measured
# runs.
#
# Output: bench/results/<date>.md (quick mode: <date>-quick.md), raw outputs
# in bench/results/<date>.raw/ (not committed), profiles in
# bench/results/<date>-profiles/, and the table in BENCHMARKS.md.
#
# Environment: BENCH_QUICK=1 (smoke test: 3 s runs, one repetition, 10,000
# rows), BENCH_DURATION, BENCH_RAMP, BENCH_REPS, BENCH_KV_ROWS,
# BENCH_PROFILE=0|1, BENCH_QUIET_MAX (seconds to wait for a quiet machine
# before each run), BENCH_SYSTEMS ("pg vcdb"; one of them alone checks the
# harness), BENCH_ROWS (a subset of the row names below), BENCH_*_PORT,
# BENCH_VCDB_CACHE (default 1GiB), BENCH_TAG (names the results, default the
# date).
source "$(dirname "$0")/lib.sh"

DATE=$(date +%Y-%m-%d)
TAG=$DATE
[ "${BENCH_QUICK:-0}" = 1 ] && TAG=$DATE-quick
TAG=${BENCH_TAG:-$TAG}
RESULTS=$REPO/bench/results
RAW=$RESULTS/$TAG.raw
PROFILES=$RESULTS/$TAG-profiles
RUNS=$RAW/runs.tsv

# Every kv row uses the anchor's table: keys 1..1,000,000 (BENCH_KV_ROWS),
# 64-byte values, uniform keys over the loaded range.
KV="--min-block-bytes=64 --max-block-bytes=64 --cycle-length=$BENCH_KV_ROWS"
COMMON="--duration=$BENCH_DURATION --ramp=$BENCH_RAMP --display-every=5s"

# name|description|connections|workload arguments (before the URL)
ROW_SPECS=(
  "kv95-c8|kv95 (95% point SELECT, 5% upsert)|8|run kv --read-percent=95 --concurrency=8 $KV"
  "kv95-c32|kv95 (95% point SELECT, 5% upsert)|32|run kv --read-percent=95 --concurrency=32 $KV"
  "kv0-c8|kv0 (100% upsert)|8|run kv --read-percent=0 --concurrency=8 $KV"
  "kv0-c32|kv0 (100% upsert)|32|run kv --read-percent=0 --concurrency=32 $KV"
  "select-c8|point SELECT (kv100)|8|run kv --read-percent=100 --concurrency=8 $KV"
  "insert-c8|single-row INSERT (new keys)|8|run kv --read-percent=0 --insert-only --sequential --concurrency=8 $KV"
  "bank-c8|bank (serializable transfer)|8|run bank --concurrency=8 --rows=1000"
)
PROFILE_ROWS=${BENCH_PROFILE_ROWS:-"kv95-c8 kv0-c8 select-c8 insert-c8 bank-c8"}

row_field() { echo "$1" | cut -d'|' -f"$2"; }
selected() { [ -z "${BENCH_ROWS:-}" ] || [[ " $BENCH_ROWS " == *" $1 "* ]]; }

# workload_args ROWSPEC SYSTEM REP: the row's arguments for one run. INSERT
# runs need keys nobody wrote: each run starts its sequence at its own
# offset, far above the loaded keys.
workload_args() {
  local name args
  name=$(row_field "$1" 1); args=$(row_field "$1" 4)
  if [ "$name" = insert-c8 ]; then
    args="${args/--cycle-length=$BENCH_KV_ROWS/--cycle-length=9000000000000000000} --write-seq=$(( $3 * 1000000000000 ))"
  fi
  echo "$args $COMMON"
}

bench_start
# Measure a private copy of the binary: `make test` or `make build` elsewhere
# in the work tree must not swap the client (or the profiled server) in the
# middle of a run.
cp "$VCDB" "$BENCH_WORK/vcdb-bin"
VCDB=$BENCH_WORK/vcdb-bin
rm -rf "$RAW" "$PROFILES"
mkdir -p "$RAW"
printf 'row\tsystem\trep\tjson\tother_cpu\tquiet_before\tretries\n' > "$RUNS"

# --- the machine and the servers -----------------------------------------------
log "building the report tool"
(cd "$REPO" && go build -o "$BENCH_WORK/bench-report" ./bench/report)

for sys in $BENCH_SYSTEMS; do
  case $sys in
    pg)   log "starting PostgreSQL on $HOST:$PG_PORT"; pg_start ;;
    vcdb) log "starting vcdb on $HOST:$VCDB_PORT"; vcdb_start ;;
    *)    die "BENCH_SYSTEMS: unknown system $sys" ;;
  esac
done

{
  echo "date: $(date -Is)"
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
  echo "disk: $(df -hT "$BENCH_WORK" | awk 'NR==2 {print $2 " on " $1}')"
  # The binary is built from the work tree: say so when it differs from the
  # commit.
  dirty=$(cd "$REPO" && git status --porcelain --untracked-files=no -- . ':!bench/results' 2>/dev/null | grep -c . || true)
  echo "vcdb: $("$VCDB" version 2>/dev/null | head -1), commit $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$([ "${dirty:-0}" -gt 0 ] && echo " with $dirty modified files in the work tree")"
  if [[ " $BENCH_SYSTEMS " == *" pg "* ]]; then
    echo "postgresql: $(pg_psql -At -c 'SHOW server_version')"
    echo "postgresql settings: $(pg_psql -At -F '=' -c "SELECT name, current_setting(name) FROM pg_settings WHERE name IN
      ('shared_buffers','max_wal_size','checkpoint_timeout','synchronous_commit','fsync','full_page_writes','wal_level')
      ORDER BY name" | paste -sd ' ')"
  fi
  echo "vcdb block cache: $(c=$(vcdb_cache_flag); echo "${c:-the kv default (this binary has no --cache flag)}")"
  echo "runs: $BENCH_REPS per system and row, $BENCH_RAMP ramp + $BENCH_DURATION measured, interleaved"
  echo "client: vcdb workload (pgx, prepared statements: --method=cache_statement), on the same machine"
} > "$RAW/machine.txt"
if [ "${BENCH_QUICK:-0}" != 1 ] && [[ " $BENCH_SYSTEMS " == *" pg "* ]]; then
  # How expensive a WAL flush is here decides how much durability costs.
  (cd /tmp && timeout 120 "$PGBIN/pg_test_fsync" -s 1 -f "$BENCH_WORK/fsync_test" 2>/dev/null) |
    grep -E '^ +fdatasync ' | head -1 | sed -e 's/^ */pg_test_fsync, 8 kB writes: /' -e 's/  */ /g' >> "$RAW/machine.txt" || true
  rm -f "$BENCH_WORK/fsync_test"
fi
cat "$RAW/machine.txt" >&2

# --- load ---------------------------------------------------------------------
for sys in $BENCH_SYSTEMS; do
  log "$sys: loading kv ($BENCH_KV_ROWS rows of 64 bytes) and bank (1000 accounts)"
  t0=$SECONDS
  timeout 1200 "$VCDB" workload init kv --drop --insert-count="$BENCH_KV_ROWS" \
    --min-block-bytes=64 --max-block-bytes=64 "$(url_of "$sys")" > "$RAW/init-kv-$sys.out" 2>&1 ||
    { cat "$RAW/init-kv-$sys.out" >&2; die "kv init on $sys failed"; }
  timeout 300 "$VCDB" workload init bank --drop --rows=1000 "$(url_of "$sys")" > "$RAW/init-bank-$sys.out" 2>&1 ||
    { cat "$RAW/init-bank-$sys.out" >&2; die "bank init on $sys failed"; }
  if [ "$sys" = pg ]; then
    # As the anchor did after its load: statistics, visibility map and hint
    # bits set, and a checkpoint, so the runs do not pay for the load.
    pg_psql -c "VACUUM ANALYZE kv.kv" -c "VACUUM ANALYZE bank.bank" -c "CHECKPOINT"
  fi
  echo "load $sys: $((SECONDS - t0)) s" >> "$RAW/machine.txt"
  log "$sys: loaded in $((SECONDS - t0)) s"
done

# --- measured runs, interleaved -----------------------------------------------------
for spec in "${ROW_SPECS[@]}"; do
  name=$(row_field "$spec" 1)
  selected "$name" || continue
  for rep in $(seq 1 "$BENCH_REPS"); do
    order=$BENCH_SYSTEMS
    # Alternate which system goes first, so that drift over time favours
    # neither.
    if [ $((rep % 2)) = 0 ]; then order=$(echo "$BENCH_SYSTEMS" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}'); fi
    for sys in $order; do
      [ "$sys" = pg ] && pg_psql -c "CHECKPOINT"
      quiet=$(wait_quiet)
      base=$RAW/$name-$sys-$rep
      # shellcheck disable=SC2046
      other=$(run_workload "$sys" "$base" $(workload_args "$spec" "$sys" "$rep"))
      retries=$(awk '/transaction retries$/ {print $2}' "$base.out")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$sys" "$rep" "$base.json" "$other" "$quiet" "${retries:--}" >> "$RUNS"
      log "$name $sys #$rep: $(awk '/__result$/ {getline; print $4 " ops/s, p50 " $6 " ms, p99 " $8 " ms"}' "$base.out") (other load $other cores)"
    done
  done
done

# --- bank's invariant after all those transfers -----------------------------------
: > "$RAW/checks.txt"
for sys in $BENCH_SYSTEMS; do
  out=$("$VCDB" workload check bank "$(url_of "$sys")" 2>&1) || { echo "$sys: $out" >> "$RAW/checks.txt"; die "bank check failed on $sys: $out"; }
  echo "$(name_of "$sys"): $out" >> "$RAW/checks.txt"
  if [ "$sys" = vcdb ]; then
    out=$("$VCDB" workload check bank --as-of=-1s "$(url_of "$sys")" 2>&1) || { echo "$sys AS OF SYSTEM TIME '-1s': $out" >> "$RAW/checks.txt"; die "bank check AS OF SYSTEM TIME failed on vcdb: $out"; }
    echo "vcdb, AS OF SYSTEM TIME '-1s': $out" >> "$RAW/checks.txt"
  fi
done
cat "$RAW/checks.txt" >&2

# --- profiles of vcdb (separate pass) -------------------------------------------------
# profile_row SPEC: one more vcdb run of a row, during which the CPU profile
# covers the measured part, and the allocation profile is the difference of
# two snapshots around the run. The text tops go into the report.
profile_row() {
  local spec=$1 name base http=http://$HOST:$VCDB_HTTP_PORT secs wpid
  name=$(row_field "$spec" 1); base=$PROFILES/$name
  secs=$(( ${BENCH_DURATION%s} - 2 )); [ "$secs" -ge 1 ] || secs=1
  curl -sf -m 30 -o "$base-allocs-before.pb.gz" "$http/debug/pprof/allocs" || { log "no /debug/pprof on vcdb's HTTP port"; return 1; }
  # shellcheck disable=SC2046
  ( run_workload vcdb "$RAW/profile-$name" $(workload_args "$spec" vcdb 99) >/dev/null ) &
  wpid=$!
  sleep $(( ${BENCH_RAMP%s} + 1 ))
  curl -sf -m $((secs + 30)) -o "$base-cpu.pb.gz" "$http/debug/pprof/profile?seconds=$secs" || log "$name: CPU profile failed"
  wait "$wpid" || return 1
  curl -sf -m 30 -o "$base-allocs.pb.gz" "$http/debug/pprof/allocs" || return 1
  go tool pprof -top -nodecount=25 "$base-cpu.pb.gz" > "$base-cpu.txt" 2>/dev/null || true
  go tool pprof -sample_index=alloc_space -diff_base="$base-allocs-before.pb.gz" -top -nodecount=25 \
    "$base-allocs.pb.gz" > "$base-allocs.txt" 2>/dev/null || true
  log "profiled $name: $base-cpu.pb.gz"
}

if [ "$BENCH_PROFILE" = 1 ] && [[ " $BENCH_SYSTEMS " == *" vcdb "* ]]; then
  mkdir -p "$PROFILES"
  for spec in "${ROW_SPECS[@]}"; do
    name=$(row_field "$spec" 1)
    selected "$name" && [[ " $PROFILE_ROWS " == *" $name "* ]] || continue
    profile_row "$spec" || { log "profiling $name failed; the measurements stand"; break; }
  done
fi

# --- report -------------------------------------------------------------------------
OUT=$RESULTS/$TAG.md
args=(-runs "$RUNS" -machine "$RAW/machine.txt" -checks "$RAW/checks.txt" -out "$OUT" -title "$TAG")
for spec in "${ROW_SPECS[@]}"; do args+=(-row "$(row_field "$spec" 1)|$(row_field "$spec" 2)|$(row_field "$spec" 3)"); done
[ -d "$PROFILES" ] && args+=(-profiles "$PROFILES" -profiles-link "$TAG-profiles")
[ "${BENCH_QUICK:-0}" != 1 ] && args+=(-benchmarks "$REPO/BENCHMARKS.md")
"$BENCH_WORK/bench-report" "${args[@]}"
log "wrote $OUT"

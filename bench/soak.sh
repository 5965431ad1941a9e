#!/usr/bin/env bash
# Soak / load test: can a fleet lean on the server?  A throw-away cluster
# as scripts/server.sh runs it (fsync on, 2 HTTP workers, 2 query workers,
# the compactor running every 15 s with the default one-minute windows),
# with an hour of history of PUSHERS services already stored and compacted
# (one pprof every HISTORY_STEP seconds per service),
# then for SECONDS seconds (bench/soak.py):
#   - PUSHERS services pushing real Go pprofs of the corpus, re-stamped and
#     gzipped as the SDKs send them, every PUSH_INTERVAL seconds each;
#   - a probe measuring push -> queryable (a pprof with its own function
#     name, then flame graphs until that name is in one);
#   - HEAVY clients repeating a flame graph of every service over the last
#     hour, SERIES clients repeating SelectSeries of every service;
#   - the resident memory of every worker sampled every 2 s.
# Prints push latency p50/p99, push -> queryable p99, query latencies,
# errors by kind, and each worker's memory (start, after WARMUP seconds,
# peak, end), with the goals of issue 11 marked met or not.  Reports; does
# not fail on a missed goal (tests never assert timings).
#
#   bench/soak.sh [--seconds N]          (as root; default 180 s)
#
# Env: PUSHERS (8) PUSH_INTERVAL (1) HEAVY (2) SERIES (1) WARMUP (60)
#      HISTORY_STEP (2: seconds between two pprofs of a service in the history)
#      BENCH_PGPORT (54351) BENCH_HTTP_PORT (54352)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=180
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) SECS=$2; shift 2 ;;
		*) echo "usage: bench/soak.sh [--seconds N]" >&2; exit 2 ;;
	esac
done
PUSHERS=${PUSHERS:-8}
PUSH_INTERVAL=${PUSH_INTERVAL:-1}
HEAVY=${HEAVY:-2}
SERIES=${SERIES:-1}
WARMUP=${WARMUP:-60}
HISTORY_STEP=${HISTORY_STEP:-2}
PORT=${BENCH_PGPORT:-54351}
HTTP_PORT=${BENCH_HTTP_PORT:-54352}
CORPUS=$( [ -d ../shared/testdata/pprof ] && echo ../shared/testdata/pprof || echo test/data/pprof )

. bench/lib.sh
bench_require_install
. scripts/cluster.sh
DIR=$(mktemp -d /tmp/pyroscope-soak.XXXXXX)
trap 'cluster_stop "$DIR"; rm -rf "$DIR"' EXIT
cluster_start "$DIR" $PORT
cat >> "$DIR/data/postgresql.conf" <<CONF
fsync = on
pyroscope.http_port = $HTTP_PORT
pyroscope.http_workers = 2
pyroscope.http_query_workers = 2
pyroscope.compactor = on
pyroscope.compaction_interval = '15s'
CONF
as_postgres $PG_BIN/pg_ctl -D "$DIR/data" -l "$DIR/log" -w restart >/dev/null
P=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p $PORT -U postgres -d postgres)

# real pprofs of the corpus, without their time (bench/query_data.py)
mkdir -p "$DIR/dataset"
python3 bench/query_data.py prepare "$CORPUS" "$DIR/dataset" > "$DIR/dataset/sources.tsv"
chmod -R a+rX "$DIR/dataset"

# an hour of history for every service, one pprof per HISTORY_STEP s, compacted
"${P[@]}" <<SQL
CREATE EXTENSION pyroscope;
CREATE TEMP TABLE src AS
SELECT row_number() OVER () AS n, pg_read_binary_file('$DIR/dataset/src/' || f) AS body
  FROM pg_ls_dir('$DIR/dataset/src') f;
SELECT count(pyroscope.ingest_pprof(s.body, jsonb_build_object('service_name', 'soak-' || i, 'pod', 'p1'),
		'anonymous', now() - interval '1 hour' + g * interval '$HISTORY_STEP s'))
  FROM generate_series(0, $PUSHERS - 1) i, generate_series(0, 3600 / $HISTORY_STEP - 1) g
  JOIN src s ON s.n = 1 + g % (SELECT count(*) FROM src);
SELECT pyroscope.compact() IS NOT NULL;
SQL
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null && break
	sleep 0.1
done
PM_PID=$(head -1 "$DIR/data/postmaster.pid")

echo "soak: ${SECS}s, $PUSHERS services pushing every ${PUSH_INTERVAL}s, $HEAVY heavy flame-graph clients," \
	"$SERIES SelectSeries clients, a push->queryable probe; compactor every 15 s" >&2
RES=$(python3 bench/soak.py "$(python3 -c 'import json, sys; print(json.dumps({
	"port": int(sys.argv[1]), "seconds": int(sys.argv[2]), "pushers": int(sys.argv[3]),
	"push_interval": float(sys.argv[4]), "heavy": int(sys.argv[5]), "series": int(sys.argv[6]),
	"warmup": int(sys.argv[7]), "src_dir": sys.argv[8], "postmaster_pid": int(sys.argv[9])}))' \
	"$HTTP_PORT" "$SECS" "$PUSHERS" "$PUSH_INTERVAL" "$HEAVY" "$SERIES" "$WARMUP" "$DIR/dataset/src" "$PM_PID")")
JOBS=$("${P[@]}" -c "SELECT count(*) || ' runs, ' || coalesce(sum(units_failed), 0) || ' failed units'
	FROM pyroscope.job_runs WHERE job = 'compaction' AND trigger <> 'sql'")
METRICS=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -E '^pyroscope_http_queries_(rejected|cancelled|timed_out)_total|^pyroscope_http_errors_total' | grep -v ' 0$' | tr '\n' ' ' || true)

python3 - "$RES" "$JOBS" "$METRICS" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
def ms(x): return '%8.1f ms' % (x * 1e3) if x is not None else '       -   '
def mb(x): return '%6.1f MB' % (x / 1e6)
print()
print('soak results over %d s' % r['seconds'])
for k, label in (('push', 'push (/ingest, 200)'), ('probe', 'push -> queryable'),
                 ('heavy', 'flame graph, all services, 1 h'), ('series', 'SelectSeries, 1 h, 15 s')):
    s = r[k]
    print('  %-32s n=%5d  p50 %s  p99 %s  max %s' % (label, s['n'], ms(s['p50']), ms(s['p99']), ms(s['max'])))
print('  errors by kind: %s' % (json.dumps(r['errors']) if r['errors'] else 'none'))
print('  compactor: %s;  /metrics: %s' % (sys.argv[2], sys.argv[3].strip() or 'no errors counted'))
print()
print('  resident memory (VmRSS, shared buffers touched included / RssAnon, private)')
print('  %-44s %19s %19s %19s %19s' % ('process', 'start', 'after warm-up', 'peak', 'end'))
worst_peak = 0
flat = True
for name, m in sorted(r['memory'].items()):
    print('  %-44s %s/%s %s/%s %s/%s %s/%s' % (name[:44], mb(m['start']), mb(m['anon_start']),
          mb(m['after_warmup']), mb(m['anon_after_warmup']), mb(m['peak']), mb(m['anon_peak']),
          mb(m['end']), mb(m['anon_end'])))
    worst_peak = max(worst_peak, m['peak'])
    if m['anon_end'] > 1.1 * m['anon_after_warmup'] and m['anon_end'] - m['anon_after_warmup'] > 4e6:
        flat = False
print()
def goal(ok, text): print('  [%s] %s' % ('met ' if ok else 'MISS', text))
goal(r['push']['p99'] is not None and r['push']['p99'] <= 0.1, 'push p99 <= 100 ms while heavy queries run')
goal(r['probe']['p99'] is not None and r['probe']['p99'] <= 1.0, 'push -> queryable p99 <= 1 s')
goal(worst_peak <= 256e6, 'no worker over 256 MB resident (shared buffers touched included)')
goal(flat, 'memory flat: private memory at the end <= 1.1x after warm-up (or within 4 MB)')
PY

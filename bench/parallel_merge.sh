#!/usr/bin/env bash
# pyroscope.merge in parallel (issue 14, second and third points): the
# single-node speedup of PostgreSQL's parallel aggregation with WORKERS (2)
# workers,
# which calls the aggregate's combine, serialize and deserialize functions,
# on a 24 h flame graph of all services merged in SQL, over the query
# bench's data (bench/query_data.py: SERVICES x PODS x 4 kinds of real
# pprofs every INTERVAL s for a day): all in head, read by head_profile()
# and by pprof_part(); then compacted as the server does, read from blocks
# (block_profile()) and head (pprof_part()) under one Parallel Append.  Serial
# (max_parallel_workers_per_gather = 0) and parallel (WORKERS) runs
# interleave, a new connection each; wall time of each, the median of the
# pair ratios, and the answers compared; the first run of each connection
# (cold: the backend's head cache empty) apart from the second (warm).  The
# workers a parallel run was given (EXPLAIN ANALYZE's "Workers Launched")
# are printed beside those planned: the server may have fewer free slots.
#
#   bench/parallel_merge.sh [DATA_DIR]    (run as root; about 2 minutes)
#
# Env: SERVICES (4) PODS (2) INTERVAL (300) PAIRS (5) WORKERS (2) BENCH_PGPORT (54344)
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-4}
PODS=${PODS:-2}
INTERVAL=${INTERVAL:-300}
PAIRS=${PAIRS:-5}
WORKERS=${WORKERS:-2}
DIR=${1:-$( [ -d ../shared/testdata/pprof ] && echo ../shared/testdata/pprof || echo test/data/pprof )}
END_S=1900000800

. bench/lib.sh
bench_require_install
. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-pmbench.XXXXXX)
PORT=${BENCH_PGPORT:-54344}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p $PORT -U postgres -d postgres)

DATA=$BENCH_DIR/dataset
mkdir -p "$DATA"
python3 bench/query_data.py prepare "$DIR" "$DATA" > "$DATA/sources.tsv"
python3 bench/query_data.py schedule "$DATA" "$SERVICES" "$PODS" "$INTERVAL" 1 "$END_S"
chmod -R a+rX "$DATA"
echo "parallel merge bench: $(wc -l < "$DATA/schedule.tsv") pprofs from $DIR, one day, all in head" >&2

"${PSQL[@]}" >/dev/null <<SQL
CREATE EXTENSION pyroscope;
CREATE TABLE bench_src (src int PRIMARY KEY, kind text, name text, body bytea, gz_size int);
CREATE TABLE bench_sched (ts_ns bigint, service text, pod text, kind text, src int, tail text);
\copy bench_sched FROM '$DATA/schedule.tsv'
CREATE TEMP TABLE s (src int, kind text, name text, len int, gz int, samples int);
\copy s FROM '$DATA/sources.tsv'
INSERT INTO bench_src SELECT src, kind, name, pg_read_binary_file('$DATA/src/' || src || '.pb'), gz FROM s;
SELECT count(pyroscope.ingest_pprof(b.body || decode(j.tail, 'hex'),
		jsonb_build_object('service_name', j.service, 'pod', j.pod), 'bench'))
  FROM bench_sched j JOIN bench_src b USING (src);
VACUUM ANALYZE;
SQL
CPU=$("${PSQL[@]}" -c "SELECT t FROM pyroscope.profile_types('bench') t WHERE t LIKE 'process_cpu:cpu:nanoseconds:%' LIMIT 1")
LO="to_timestamp($END_S - 86400)"
HI="to_timestamp($END_S)"
IN_TYPE="SELECT series_id FROM pyroscope.series WHERE tenant = 'bench' AND profile_type = '$CPU'"
# the head table of one day is small (its pprofs live in head_pprof): let
# the planner consider a parallel scan of it at all
SMALL="SET min_parallel_table_scan_size = 0"
cat > "$BENCH_DIR/time.py" <<'PY'
import statistics, subprocess, sys
pairs, label, q, small, workers, psql = (int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4],
                                         int(sys.argv[5]), sys.argv[6:])

def run(workers):
	# a new connection: the first run finds the backend's head cache empty
	# (cold; parallel workers start empty every time), the second warm
	sql = (f"{small};\nSET max_parallel_workers_per_gather = {workers};\n"
	       f"SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset\n{q};\n"
	       f"SELECT extract(epoch FROM clock_timestamp()) - :t0;\n"
	       f"SELECT extract(epoch FROM clock_timestamp()) AS t1 \\gset\n{q};\n"
	       f"SELECT extract(epoch FROM clock_timestamp()) - :t1;")
	out = subprocess.run(psql, input=sql, check=True, capture_output=True, text=True).stdout.split()
	return float(out[1]), float(out[3]), out[0], out[2]

res = {"cold": ([], [], []), "warm": ([], [], [])}
for _ in range(pairs):
	sc, sw, h1, h2 = run(0)
	pc, pw, h3, h4 = run(workers)
	if len({h1, h2, h3, h4}) != 1:
		sys.exit("the parallel answer differs from the serial one")
	for k, a, b in (("cold", sc, pc), ("warm", sw, pw)):
		res[k][0].append(a); res[k][1].append(b); res[k][2].append(a / b)
for k in ("cold", "warm"):
	a, b, r = res[k]
	print(f"{label}, {k}: serial {statistics.median(a) * 1000:.0f} ms, "
	      f"{workers} parallel workers {statistics.median(b) * 1000:.0f} ms; speedup {statistics.median(r):.2f}x "
	      f"(median of {pairs} interleaved pairs); answers identical")

PY

measure() {	# label, query
	local plan
	plan=$("${PSQL[@]}" -c "$SMALL" -c "SET max_parallel_workers_per_gather = $WORKERS" \
		-c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $2" |
		{ grep -o 'Partial Aggregate\|Parallel Append\|Workers Planned: [0-9]*\|Workers Launched: [0-9]*' || true; } |
		tr '\n' ' ')
	echo "$1 -- parallel plan: $plan" >&2
	case "$plan" in *"Partial Aggregate"*) ;; *) echo "no parallel plan:" >&2; "${PSQL[@]}" -c "$SMALL" -c "SET max_parallel_workers_per_gather = $WORKERS" -c "EXPLAIN $2" >&2; exit 1 ;; esac
	python3 "$BENCH_DIR/time.py" "$PAIRS" "$1" "$2" "$SMALL" "$WORKERS" "${PSQL[@]}"
}

ROWS=$("${PSQL[@]}" -c "SELECT count(*) FROM pyroscope.head h
	WHERE h.tenant = 'bench' AND h.ts >= $LO AND h.ts < $HI AND h.series_id IN ($IN_TYPE)")
echo "a 24 h flame graph of all services merges $ROWS CPU profiles" >&2

measure "24 h in head, merge(head_profile(h))" \
	"SELECT md5(pyroscope.flamegraph(pyroscope.merge(pyroscope.head_profile(h)), 16384)::text)
	   FROM pyroscope.head h
	  WHERE h.tenant = 'bench' AND h.ts >= $LO AND h.ts < $HI AND h.series_id IN ($IN_TYPE)"
measure "24 h in head, merge(pprof_part(...))" \
	"SELECT md5(pyroscope.flamegraph(pyroscope.merge(pyroscope.pprof_part(hp.data, h.part)), 16384)::text)
	   FROM pyroscope.head h JOIN pyroscope.head_pprof hp USING (shard_key, pprof_id)
	  WHERE h.tenant = 'bench' AND h.ts >= $LO AND h.ts < $HI AND h.series_id IN ($IN_TYPE)"

# compacted as the server does: hour blocks, the newest hour in one-minute
# windows, its last minute in head
"${PSQL[@]}" >/dev/null <<SQL
SET pyroscope.compact_after = '1h';
SET pyroscope.block_window = '1h';
SELECT pyroscope.compact($HI, 'bench');
RESET pyroscope.compact_after;
RESET pyroscope.block_window;
SELECT pyroscope.compact($HI, 'bench');
VACUUM ANALYZE;
SQL
echo "compacted: $("${PSQL[@]}" -c "SELECT count(*) FROM pyroscope.blocks") blocks, $("${PSQL[@]}" -c "SELECT count(*) FROM pyroscope.head") head rows" >&2
# the series of the type as a literal (a sub-select there would be an
# InitPlan, evaluated above the workers)
IDS=$("${PSQL[@]}" -c "SELECT array_agg(series_id ORDER BY series_id) FROM ($IN_TYPE) s")
measure "24 h over blocks and head, block_profile + pprof_part" \
	"SELECT md5(pyroscope.flamegraph(pyroscope.merge(x.p), 16384)::text) FROM (
	   SELECT pyroscope.pprof_part(hp.data, h.part) AS p
	     FROM pyroscope.head h JOIN pyroscope.head_pprof hp USING (shard_key, pprof_id)
	    WHERE h.tenant = 'bench' AND h.ts >= $LO AND h.ts < $HI AND h.series_id IN ($IN_TYPE)
	   UNION ALL
	   SELECT pyroscope.block_profile(b.data, '$IDS', $LO, $HI - interval '1 microsecond')
	     FROM pyroscope.blocks b
	    WHERE b.tenant = 'bench' AND b.min_ts < $HI AND b.max_ts >= $LO) x"
echo "(warm: the serial backend's head cache holds decoded pprofs for head_profile(); parallel workers are new processes each time)"

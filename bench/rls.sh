#!/usr/bin/env bash
# What row-level security costs queries (issue 16; goal: <= 5 % slower).
#
# The dataset of bench/query.sh, smaller (SERVICES services x PODS pods x 4
# profile kinds, one real pprof per kind every INTERVAL seconds for one
# day, bench/query_data.py), ingested into tenant "bench" and compacted as
# the server does (hour blocks, the newest hour in one-minute windows, its
# last minute in head).  Then the same queries, in one warm connection, as
# the superuser (row-level security bypassed: what every query cost before
# 1.6) and as a role that reads the tenant through pyroscope.tenant_grants
# (the policies applied), as interleaved pairs A B A B ...: wall time and
# the backend's CPU time of each run, the median of the pair ratios
# (role / superuser; above 1 is slower under RLS).  The first run of each
# side on a new connection is reported apart ("first ratio").
#
#   bench/rls.sh [DATA_DIR]        (run as root; about 2 minutes)
#
# Env: SERVICES (4) PODS (2) INTERVAL (300) PAIRS (7) BENCH_PGPORT (54343)
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-4}
PODS=${PODS:-2}
INTERVAL=${INTERVAL:-300}
PAIRS=${PAIRS:-7}
DIR=${1:-$( [ -d ../shared/testdata/pprof ] && echo ../shared/testdata/pprof || echo test/data/pprof )}
END_S=1900000800			# a fixed "now", minute-aligned
END_TS="to_timestamp($END_S)"

. bench/lib.sh
bench_require_install
. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-rlsbench.XXXXXX)
PORT=${BENCH_PGPORT:-54343}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p $PORT -U postgres -d postgres)
say() { printf '%s\n' "$*" >&2; }

DATA=$BENCH_DIR/dataset
mkdir -p "$DATA"
python3 bench/query_data.py prepare "$DIR" "$DATA" > "$DATA/sources.tsv"
python3 bench/query_data.py schedule "$DATA" "$SERVICES" "$PODS" "$INTERVAL" 1 "$END_S"
chmod -R a+rX "$DATA"
say "rls bench: $(wc -l < "$DATA/schedule.tsv") pprofs from $DIR, one day"

"${PSQL[@]}" <<SQL
CREATE EXTENSION pyroscope;
CREATE TABLE bench_src (src int PRIMARY KEY, kind text, name text, body bytea, gz_size int);
CREATE TABLE bench_sched (ts_ns bigint, service text, pod text, kind text, src int, tail text);
\copy bench_sched FROM '$DATA/schedule.tsv'
CREATE TEMP TABLE s (src int, kind text, name text, len int, gz int, samples int);
\copy s FROM '$DATA/sources.tsv'
INSERT INTO bench_src SELECT src, kind, name, pg_read_binary_file('$DATA/src/' || src || '.pb'), gz FROM s;
INSERT INTO pyroscope.tenant_retention VALUES ('bench', '365 days');
SELECT count(pyroscope.ingest_pprof(b.body || decode(j.tail, 'hex'),
		jsonb_build_object('service_name', j.service, 'pod', j.pod), 'bench'))
  FROM bench_sched j JOIN bench_src b USING (src);
-- other tenants' rows for the policies to filter out: the same series again
INSERT INTO pyroscope.series (tenant, profile_type, service_name, labels, fingerprint, first_seen, last_seen,
							  shard_key)
	SELECT 'other-' || g, profile_type, service_name, labels, fingerprint, first_seen, last_seen,
		   pyroscope.shard_key('other-' || g, service_name)
	  FROM pyroscope.series, generate_series(1, 3) g;
VACUUM ANALYZE;

-- the reader: the tenant granted, and what the timing function reads
CREATE ROLE bench_reader LOGIN IN ROLE pyroscope_reader, pg_read_server_files;
GRANT EXECUTE ON FUNCTION pg_read_file(text) TO bench_reader;
INSERT INTO pyroscope.tenant_grants VALUES ('bench_reader', 'bench', true, false),
	('bench_reader', 'other-1', true, false);

CREATE FUNCTION bench_q(q text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	c0 bigint;
	r text;
BEGIN
	c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	t0 := clock_timestamp();
	EXECUTE q INTO r;
	RETURN format('%s %s %s', extract(epoch FROM clock_timestamp() - t0),
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9,
				  md5(coalesce(r, '')));
END \$\$;
SQL
CPU_TYPE=$("${PSQL[@]}" -c "SELECT t FROM pyroscope.profile_types('bench') t
	WHERE t LIKE 'process_cpu:cpu:nanoseconds:%' LIMIT 1")
SVC=$(awk -F"\t" 'NR == 1 { print $2; exit }' "$DATA/schedule.tsv")

cat > "$BENCH_DIR/time.py" <<'PY'
import statistics, subprocess, sys

pairs, cpu, svc, end, phase = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
psql = sys.argv[6:]
def ts(s):
	return f"to_timestamp({s})"
sel = '{service_name="%s"}' % svc
queries = [
	("flame graph 1h in head, one service", f"SELECT pyroscope.flamegraph('{cpu}', '{sel}', {ts(end - 3600)}, {ts(end)}, 16384, 'bench')::text"),
	("select_series 24h in head", f"SELECT string_agg(x::text, ',') FROM pyroscope.select_series('{cpu}', '{{}}', {ts(end - 86400)}, {ts(end)}, 'bench') x"),
] if phase == "head" else [
	("flame graph 1h, one service", f"SELECT pyroscope.flamegraph('{cpu}', '{sel}', {ts(end - 3600)}, {ts(end)}, 16384, 'bench')::text"),
	("flame graph 24h, one service", f"SELECT pyroscope.flamegraph('{cpu}', '{sel}', {ts(end - 86400)}, {ts(end)}, 16384, 'bench')::text"),
	("flame graph 24h, all services", f"SELECT pyroscope.flamegraph('{cpu}', '{{}}', {ts(end - 86400)}, {ts(end)}, 16384, 'bench')::text"),
	("select_series 24h, 60 s steps", f"SELECT string_agg(x::text, ',') FROM pyroscope.select_series('{cpu}', '{{}}', {ts(end - 86400)}, {ts(end)}, 'bench') x"),
	("label_values 24h", f"SELECT string_agg(v, ',') FROM pyroscope.label_values('pod', '{{}}', {ts(end - 86400)}, {ts(end)}, 'bench') v"),
	("head scan, SQL", "SELECT count(*) || ' ' || sum(total) FROM pyroscope.head WHERE tenant = 'bench'"),
]

def run(role, q, first=False):
	setrole = "SET ROLE bench_reader;" if role else ""
	sql = f"{setrole} SELECT bench_q($q${q}$q$);"
	out = subprocess.run(psql + ["-c", sql], check=True, capture_output=True, text=True).stdout.split()
	return float(out[0]), float(out[1]), out[2]

# warm: one connection per side would need a session driver; psql -c is a
# new connection each time, so each run is preceded by a warm-up in the
# same session: the function is called twice and the second call timed
def run_warm(role, q):
	setrole = "SET ROLE bench_reader;" if role else ""
	sql = f"{setrole} SELECT bench_q($q${q}$q$); SELECT bench_q($q${q}$q$);"
	out = subprocess.run(psql + ["-c", sql], check=True, capture_output=True, text=True).stdout.split()
	return float(out[3]), float(out[4]), out[5]

if phase == "head":
	print(f"{'query':36} {'superuser wall':>14} {'role wall':>10} {'wall ratio':>10} {'CPU ratio':>9} {'first ratio':>11}")
worst = []
for name, q in queries:
	cold_a = run(False, q)
	cold_b = run(True, q)
	if cold_a[2] != cold_b[2]:
		sys.exit(f"{name}: the role's answer differs from the superuser's")
	wr, cr, wa, wb = [], [], [], []
	for _ in range(pairs):
		a = run_warm(False, q)
		b = run_warm(True, q)
		if a[2] != b[2]:
			sys.exit(f"{name}: the role's answer differs from the superuser's")
		wa.append(a[0]); wb.append(b[0])
		wr.append(b[0] / a[0])
		if a[1] > 0 and b[1] > 0:	# the kernel's CPU clock of a task moves at its switches
			cr.append(b[1] / a[1])
	w, c = statistics.median(wr), statistics.median(cr) if cr else float("nan")
	worst.append((name, w, c))
	print(f"{name:36} {statistics.median(wa) * 1000:11.1f} ms {statistics.median(wb) * 1000:7.1f} ms"
		  f" {w:10.3f} {c:9.3f} {cold_b[0] / cold_a[0]:11.3f}")
with open(sys.argv[0] + ".worst", "a") as f:
	for name, w, c in worst:
		f.write(f"{name}\t{w}\t{c}\n")
PY
timing() { python3 "$BENCH_DIR/time.py" "$PAIRS" "$CPU_TYPE" "$SVC" "$END_S" "$1" "${PSQL[@]}"; }

say "timing the newest hour all in head ..."
timing head
"${PSQL[@]}" <<SQL
SET pyroscope.compact_after = '1h';
SET pyroscope.block_window = '1h';
SELECT pyroscope.compact($END_TS, 'bench') IS NOT NULL;
RESET pyroscope.compact_after;
RESET pyroscope.block_window;
SELECT pyroscope.compact($END_TS, 'bench') IS NOT NULL;
VACUUM ANALYZE;
SQL
say "timing after compaction ..."
timing blocks
python3 - "$BENCH_DIR/time.py.worst" "$PAIRS" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
w = [float(r[1]) for r in rows]
c = [float(r[2]) for r in rows if r[2] != "nan"]
print(f"\nrow-level security over {len(rows)} queries ({sys.argv[2]} interleaved warm pairs each; answers identical):"
      f" median wall ratio {statistics.median(w):.3f}, worst {max(w):.3f};"
      f" median CPU ratio {statistics.median(c):.3f}, worst {max(c):.3f} (goal <= 1.05)")
PY

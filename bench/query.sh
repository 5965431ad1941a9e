#!/usr/bin/env bash
# Query benchmark (issue 4, DESIGN.md §7): storage after compaction, flame
# graph times over 1 h / 24 h / 7 d against Google's `pprof -proto` merging
# the same files, bytes read per query, and peak memory of the compaction
# and of a 7-day query.  Everything is measured in one run on one machine.
#
# Dataset: SERVICES Go services x PODS pods x 4 profile kinds (CPU, heap,
# goroutine, contention), one push per kind every INTERVAL seconds for DAYS
# days, ending at a fixed time.  Each push is a real pprof of the corpus
# (rotating over 7 CPU, 5 heap, 1 goroutine and 4 contention files; all
# files of a kind have identical sample types, so pprof can merge any mix)
# re-encoded with its own time_nanos (field 9 stripped, a new one appended:
# bench/query_data.py), so ingest_pprof() stores it at its push time; no
# row is moved after ingest.  Then pyroscope.compact(<end>, 'bench') with
# compact_after = 1 h turns all but the last hour into blocks (level 0 per
# hour, merged into hour and day blocks), so queries read both tiers.
#
# Compaction as the server does it: everything older than the newest hour
# in hour blocks (merged into days), then the newest hour with the default
# one-minute level-0 windows (blocks of the hour still filling merged every
# eight), leaving its last minute in head.
#
# Flame graphs of the CPU type against `pprof -proto f1 f2 ... > /dev/null`
# over the exact pprof bytes ingested for the same range, as interleaved
# pairs (ours, pprof, ours, pprof, ...; bench/query_time.py): cold (page
# cache dropped where the kernel allows, server restarted, a new
# connection) apart from warm (one connection after a first run, files in
# the page cache); wall time and CPU time of the process doing the work
# (our backend, pprof) side by side; the median of the pair ratios.  The
# newest hour is measured twice: all in head (before compaction, what the
# server did before one-minute windows) and as the server keeps it.  Above
# PPROF_MAX_FILES files, pprof runs on an evenly spread subset and its times
# are scaled linearly (labelled "extrap.").
#
#   bench/query.sh [DATA_DIR]      (run as root; about 3-4 minutes, more on a loaded machine)
#
# Env: SERVICES (4) PODS (2) INTERVAL (180) DAYS (7) PAIRS (3)
#      PPROF_MAX_FILES (8640) BENCH_PGPORT (54341) BENCH_JOBS (2)
# DATA_DIR defaults to ../shared/testdata/pprof when present, else
# test/data/pprof.  Starts its own throw-away cluster and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SERVICES=${SERVICES:-4}
PODS=${PODS:-2}
INTERVAL=${INTERVAL:-180}
DAYS=${DAYS:-7}
PAIRS=${PAIRS:-3}
PPROF_MAX_FILES=${PPROF_MAX_FILES:-8640}
JOBS=${BENCH_JOBS:-2}
DIR=${1:-$( [ -d ../shared/testdata/pprof ] && echo ../shared/testdata/pprof || echo test/data/pprof )}
END_S=1900000800			# 2030-03-17 15:20 UTC, a fixed "now" (minute-aligned)
END_TS="to_timestamp($END_S)"

. bench/lib.sh
bench_require_install
PPROF=$(scripts/pprof_reference.sh)

. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-qbench.XXXXXX)
PORT=${BENCH_PGPORT:-54341}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p $PORT -U postgres -d postgres)

now() { date +%s.%N; }
say() { printf '%s\n' "$*" >&2; }

# ---- dataset ---------------------------------------------------------------
DATA=$BENCH_DIR/dataset
mkdir -p "$DATA"
python3 bench/query_data.py prepare "$DIR" "$DATA" > "$DATA/sources.tsv"
python3 bench/query_data.py schedule "$DATA" "$SERVICES" "$PODS" "$INTERVAL" "$DAYS" "$END_S"
chmod -R a+rX "$DATA"
NPUSH=$(wc -l < "$DATA/schedule.tsv")
say "query bench: $SERVICES services x $PODS pods x $(cut -f2 "$DATA/sources.tsv" | sort -u | wc -l) kinds," \
	"every ${INTERVAL}s for ${DAYS}d = $NPUSH pprofs from $DIR"

"${PSQL[@]}" <<SQL
CREATE EXTENSION pyroscope;
CREATE TABLE bench_src (src int PRIMARY KEY, kind text, name text, body bytea, gz_size int);
CREATE TABLE bench_sched (ts_ns bigint, service text, pod text, kind text, src int, tail text);
\copy bench_sched FROM '$DATA/schedule.tsv'
CREATE TEMP TABLE s (src int, kind text, name text, len int, gz int, samples int);
\copy s FROM '$DATA/sources.tsv'
INSERT INTO bench_src
SELECT src, kind, name, pg_read_binary_file('$DATA/src/' || src || '.pb'), gz FROM s;
INSERT INTO pyroscope.tenant_retention VALUES ('bench', '365 days');
SQL

# ingest: one backend per group of services (disjoint series), in parallel
t0=$(now)
pids=()
for ((j = 0; j < JOBS; j++)); do
	"${PSQL[@]}" -c "SELECT count(pyroscope.ingest_pprof(b.body || decode(j.tail, 'hex'),
			jsonb_build_object('service_name', j.service, 'pod', j.pod), 'bench'))
		  FROM (SELECT *, dense_rank() OVER (ORDER BY service) AS sn FROM bench_sched) j
		  JOIN bench_src b USING (src)
		 WHERE j.sn % $JOBS = $j" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
INGEST_S=$(echo "$(now) - $t0" | bc)

read -r HEAD_ROWS HEAD_SAMPLES GZ_IN RAW_IN < <("${PSQL[@]}" -F ' ' -c "
	SELECT (SELECT count(*) FROM pyroscope.head), (SELECT sum(nsamples) FROM pyroscope.head),
		   (SELECT sum(b.gz_size) FROM bench_sched j JOIN bench_src b USING (src)),
		   (SELECT sum(length(b.body) + length(j.tail) / 2) FROM bench_sched j JOIN bench_src b USING (src))")
CPU_TYPE=$("${PSQL[@]}" -c "SELECT t FROM pyroscope.profile_types('bench') t
	WHERE t LIKE 'process_cpu:cpu:nanoseconds:%' LIMIT 1")
[ -n "$CPU_TYPE" ] || { say "no CPU profile type"; exit 1; }

# ---- the timing function: wall time and the backend's CPU time --------------
"${PSQL[@]}" <<SQL
CREATE FUNCTION bench_fg(sel text, lo bigint, hi bigint) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	c0 bigint;
	fg jsonb;
BEGIN
	c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	t0 := clock_timestamp();
	fg := pyroscope.flamegraph('$CPU_TYPE', sel, to_timestamp(lo), to_timestamp(hi) - interval '1 microsecond',
							   16384, 'bench');
	RETURN format('%s %s %s', extract(epoch FROM clock_timestamp() - t0),
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9,
				  fg ->> 'numTicks');
END \$\$;
SQL
SVC=$(awk -F"\t" 'NR == 1 { print $2; exit }' "$DATA/schedule.tsv")
RESTART="cd / && runuser -u postgres -- env GLIBC_TUNABLES=$PG_MALLOC_TUNABLES $PG_BIN/pg_ctl -D $BENCH_DIR/data -l $BENCH_DIR/log -w restart || { tail -n 20 $BENCH_DIR/log >&2; false; }"
timing() {	# JSON list of queries [floor function] -> JSON result
	python3 bench/query_time.py "$(python3 -c 'import json, sys; print(json.dumps({
		"psql": sys.argv[1].split(), "restart": sys.argv[2], "pprof": sys.argv[3], "data": sys.argv[4],
		"tmp": sys.argv[5], "query_data": "bench/query_data.py", "end": int(sys.argv[6]),
		"pairs": int(sys.argv[7]), "pprof_max_files": int(sys.argv[8]), "queries": json.loads(sys.argv[9]),
		"floor": sys.argv[10] or None}))' \
		"${PSQL[*]}" "$RESTART" "$PPROF" "$DATA" "$BENCH_DIR" "$END_S" "$PAIRS" "$PPROF_MAX_FILES" "$1" "${2:-}")"
}

# ---- the newest hour, all in head (before any compaction) ----------------------
say "timing the newest hour in head ..."
HEAD_JSON=$(timing "[[\"1h in head\", \"{service_name=\\\"$SVC\\\"}\", \"$SVC\", 3600]]")

# ---- compaction in a dedicated backend ----------------------------------------
"${PSQL[@]}" -c "VACUUM ANALYZE pyroscope.head" >/dev/null
COMPACT=$("${PSQL[@]}" -F ' ' <<SQL
CREATE FUNCTION pg_temp.mem(field text) RETURNS bigint LANGUAGE sql AS \$\$
	SELECT (regexp_match(pg_read_file('/proc/self/status'), field || ':\s+(\d+) kB'))[1]::bigint * 1024
\$\$;
SELECT pg_temp.mem('VmHWM');
-- the history: hour blocks, merged into days
SET pyroscope.compact_after = '1h';
SET pyroscope.block_window = '1h';
SELECT extract(epoch FROM clock_timestamp()) \gset t_
SELECT pyroscope.compact($END_TS, 'bench') \gset
SELECT extract(epoch FROM clock_timestamp()) - :t_extract,
	   pg_temp.mem('VmHWM'), pg_temp.mem('RssShmem'), (:'compact'::jsonb ->> 'peak_memory'),
	   (:'compact'::jsonb ->> 'head_rows_compacted'), (:'compact'::jsonb ->> 'blocks_written'),
	   (:'compact'::jsonb ->> 'blocks_merged');
-- the newest hour as the server keeps it: one-minute windows (the defaults)
RESET pyroscope.compact_after;
RESET pyroscope.block_window;
SELECT extract(epoch FROM clock_timestamp()) \gset t_
SELECT pyroscope.compact($END_TS, 'bench') \gset
SELECT extract(epoch FROM clock_timestamp()) - :t_extract, (:'compact'::jsonb ->> 'head_rows_compacted');
SQL
)
read -r C_BASE C_SECS C_HWM C_SHMEM C_PEAK C_ROWS C_WRITTEN C_MERGED N_SECS N_ROWS <<<"$(echo $COMPACT)"
"${PSQL[@]}" -c "VACUUM ANALYZE pyroscope.head, pyroscope.blocks" >/dev/null

LEVELS=$("${PSQL[@]}" -c "SELECT string_agg('L' || level || '=' || n, ' ' ORDER BY level)
	FROM (SELECT level, count(*) n FROM pyroscope.blocks GROUP BY 1) l")
NEWEST=$("${PSQL[@]}" -c "SELECT count(*) || ' blocks (' || string_agg(DISTINCT 'L' || level, '+') || ')'
	FROM pyroscope.blocks WHERE service_name = '$SVC' AND max_ts >= to_timestamp($END_S - 3600)")
NEWEST_HEAD=$("${PSQL[@]}" -c "SELECT count(*) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
	WHERE s.service_name = '$SVC' AND h.ts >= to_timestamp($END_S - 3600)")
read -r NBLOCKS BLK_BYTES BLK_SAMPLES BLK_PROFILES LEFT_HEAD BLK_REL < <("${PSQL[@]}" -F ' ' -c "
	SELECT count(*), sum(size), sum(nsamples), sum(nprofiles), (SELECT count(*) FROM pyroscope.head),
		   pg_total_relation_size('pyroscope.blocks') FROM pyroscope.blocks")
read -r CMP_GZ CMP_PPROFS < <("${PSQL[@]}" -F ' ' -c "
	SELECT sum(b.gz_size), count(*) FROM bench_sched j JOIN bench_src b USING (src)
	 WHERE j.ts_ns < ($END_S - 60)::bigint * 1000000000")

# ---- PostgreSQL's own first-query cost of the tables a flame graph reads ------------
# The first statement touching a table in a new backend pays for loading its
# relation, indexes, statistics and operators into the backend's caches, and
# for mapping the shared buffers it reads; every flame graph reads series,
# head and blocks (and a block's TOAST; head_pprof only for head rows in its
# range).  bench_floor() times lookups of no row in series and head and a
# 16-byte slice of one block, timed like bench_fg.  (W + floor first - floor
# warm) / W is the first/warm ratio this cost alone gives a query of warm
# time W (a flame graph's own first run pays it too, though not exactly: it
# uses other operators and statistics).
read -r FLOOR_KEY FLOOR_BLOCK < <("${PSQL[@]}" -F ' ' -c "SELECT shard_key, block_id FROM pyroscope.blocks
	WHERE data IS NOT NULL ORDER BY block_id LIMIT 1")
"${PSQL[@]}" <<SQL
CREATE FUNCTION bench_floor(sel text, lo bigint, hi bigint) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	c0 bigint;
BEGIN
	c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	t0 := clock_timestamp();
	PERFORM 1 FROM pyroscope.series WHERE shard_key = 0 AND series_id = -1;
	PERFORM 1 FROM pyroscope.head WHERE series_id = -1 AND ts = 'epoch';
	PERFORM substring(data FROM 1 FOR 16) FROM pyroscope.blocks WHERE shard_key = $FLOOR_KEY AND block_id = $FLOOR_BLOCK;
	RETURN format('%s %s 0', extract(epoch FROM clock_timestamp() - t0),
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9);
END \$\$;
SQL

# ---- flame graphs over every tier -------------------------------------------------
say "timing flame graphs after compaction ..."
Q_JSON=$(timing "[[\"1h\", \"{service_name=\\\"$SVC\\\"}\", \"$SVC\", 3600],
	[\"24h\", \"{service_name=\\\"$SVC\\\"}\", \"$SVC\", 86400],
	[\"${DAYS}d\", \"{service_name=\\\"$SVC\\\"}\", \"$SVC\", $((DAYS * 86400))],
	[\"24h all\", \"{}\", \"*\", 86400]]" bench_floor)

# ---- profile ids in the blocks, heatmaps and exemplars ------------------------------
read -r IDS_BYTES IDS_SECTIONS IDS_PROFILES < <("${PSQL[@]}" -F ' ' -c "
	SELECT coalesce(sum(s.bytes), 0), count(*), coalesce(sum(s.count), 0)
	  FROM pyroscope.blocks b, pyroscope.block_sections(b.data) s WHERE s.kind = 'ids'")
say "timing heatmaps and exemplars beside flame graphs ..."
"${PSQL[@]}" <<SQL
CREATE FUNCTION bench_view(what text, sel text, lo bigint, hi bigint) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	c0 bigint;
	n bigint;
	step interval := make_interval(secs => greatest(15, (hi - lo) / 64));
BEGIN
	c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	t0 := clock_timestamp();
	IF what = 'flamegraph' THEN
		n := (pyroscope.flamegraph('$CPU_TYPE', sel, to_timestamp(lo), to_timestamp(hi) - interval '1 microsecond',
								   16384, 'bench') ->> 'numTicks')::bigint;
	ELSIF what = 'heatmap' THEN
		n := (SELECT sum(count) FROM pyroscope.heatmap('$CPU_TYPE', sel, to_timestamp(lo), to_timestamp(hi),
													   step, 'individual', '{}', 0, 'bench'));
	ELSE
		n := (SELECT count(profile_id) FROM pyroscope.exemplars('$CPU_TYPE', sel, to_timestamp(lo), to_timestamp(hi),
																step, '{}', 'bench'));
	END IF;
	RETURN format('%s %s %s', extract(epoch FROM clock_timestamp() - t0),
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9, n);
END \$\$;
SQL
: > "$BENCH_DIR/views"
for range in 3600 86400 $((DAYS * 86400)); do
	for ((i = 0; i < PAIRS + 1; i++)); do	# the first round warms up, and is dropped
		for what in flamegraph heatmap exemplars; do
			r=$("${PSQL[@]}" -c "SELECT bench_view('$what', '{service_name=\"$SVC\"}', $END_S - $range, $END_S)")
			[ $i -gt 0 ] && echo "$range $what $r" >> "$BENCH_DIR/views"
		done
	done
done

# ---- memory of a whole-range query in a fresh backend -----------------------------
QMEM=$("${PSQL[@]}" -F ' ' <<SQL
CREATE FUNCTION pg_temp.mem(field text) RETURNS bigint LANGUAGE sql AS \$\$
	SELECT (regexp_match(pg_read_file('/proc/self/status'), field || ':\s+(\d+) kB'))[1]::bigint * 1024
\$\$;
SELECT pg_temp.mem('VmHWM');
SELECT length(pyroscope.flamegraph('$CPU_TYPE', '{service_name="$SVC"}', to_timestamp($END_S - $DAYS * 86400),
		to_timestamp($END_S) - interval '1 microsecond', 16384, 'bench')::text);
SELECT pg_temp.mem('VmHWM'), pg_temp.mem('RssShmem');
SQL
)
read -r Q_BASE _FGLEN Q_HWM Q_SHMEM <<<"$(echo $QMEM)"

# ---- report ---------------------------------------------------------------------
python3 - "$HEAD_JSON" "$Q_JSON" "$BENCH_DIR/views" <<PY
import json, statistics, sys
head, qs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
views = {}
for line in open(sys.argv[3]):
    rng, what, wall, cpu, n = line.split()
    views.setdefault((int(rng), what), []).append((float(wall), float(cpu), int(n or 0)))
def mb(x): return '%.1f MB' % (float(x) / 1e6)
services, pods, interval, days = $SERVICES, $PODS, $INTERVAL, $DAYS
npush = $NPUSH
print()
print('query benchmark: %d services x %d pods x 4 kinds (CPU, heap, goroutine, contention), one push per kind every %d s for %d d'
      % (services, pods, interval, days))
print('  %d pprofs from $DIR ingested in %.1f s ($JOBS backends, %.0f pprofs/s); %d head rows (one per sample type), %d samples as sent'
      % (npush, $INGEST_S, npush / $INGEST_S, $HEAD_ROWS, $HEAD_SAMPLES))
print('  input: %s gzipped as sent (%s decompressed)' % (mb($GZ_IN), mb($RAW_IN)))
print()
print('storage after compaction (history %.1f s: %d head rows, %d blocks written, %d merged; newest hour %.1f s: %d head rows)'
      % ($C_SECS, $C_ROWS, $C_WRITTEN, $C_MERGED, $N_SECS, $N_ROWS))
print('  blocks: $LEVELS; %d head rows left (the last minute)' % $LEFT_HEAD)
print('  the newest hour of $SVC: $NEWEST and $NEWEST_HEAD head rows')
bs, bsamp, bprof, gz, gzp = $BLK_BYTES, $BLK_SAMPLES, $BLK_PROFILES, $CMP_GZ, $CMP_PPROFS
print('  blocks: %s (table with TOAST and indexes: %s) for %d stored profiles, %d samples, from %d pprofs (%s gzipped)'
      % (mb(bs), mb($BLK_REL), bprof, bsamp, gzp, mb(gz)))
print('  %.2f bytes/sample   %.0f bytes/stored profile   %.0f bytes/pprof    gzipped pprof: %.2f bytes/sample   ratio %.3f'
      % (bs / bsamp, bs / bprof, bs / gzp, gz / bsamp, bs / gz))
ids, idsec, idprof = $IDS_BYTES, $IDS_SECTIONS, $IDS_PROFILES
print('  profile ids (16 B each, kept per block profile): %s in %d sections for %d profiles: %.1f B/profile, +%.3f B/sample'
      ' (goal <= 0.3); without them %.2f B/sample' % (mb(ids), idsec, idprof, ids / max(idprof, 1), ids / bsamp,
                                                     (bs - ids) / bsamp))
print()
print('the same range of $SVC, warm, one connection, median of $PAIRS rounds (flame graph, heatmap, exemplars interleaved):')
print('  heatmap = SelectHeatmap INDIVIDUAL in SQL (pyroscope.heatmap), exemplars = SelectSeries INDIVIDUAL (pyroscope.exemplars);'
      ' step max(15 s, range/64)')
for rng in sorted({r for r, _ in views}):
    cells = []
    for what in ('flamegraph', 'heatmap', 'exemplars'):
        v = views.get((rng, what), [])
        if v:
            cells.append('%s %7.1f/%7.1f ms (%s)' % (what, statistics.median(x[0] for x in v) * 1e3,
                                                    statistics.median(x[1] for x in v) * 1e3,
                                                    'ticks' if what == 'flamegraph' else
                                                    ('%d points' % v[0][2] if what == 'heatmap' else '%d exemplars' % v[0][2])))
    label = '%dh' % (rng // 3600) if rng < 86400 * 2 else '%dd' % (rng // 86400)
    print('  %-5s %s' % (label, '   '.join(cells)))
print()
print('flame graph of $CPU_TYPE vs pprof -proto on the same files: median of $PAIRS interleaved pairs;')
print('ratio = pprof / ours (higher is better for us), by wall time and by CPU time of the working process')
print('our CPU time is the backend\'s /proc/self/schedstat, which lags by up to one scheduler tick (4 ms at HZ=250):')
print('below ~20 ms read the wall time')
print('cold: %s, server restarted, new connection; warm: same connection, files in page cache'
      % ('page cache dropped' if head.get('drop_caches') else 'page cache NOT dropped (not permitted)'))
print('  %-11s %6s | %-41s | %-41s' % ('', '', 'cold: ours wall/cpu  pprof wall   ratio w/c', 'warm: ours wall/cpu  pprof wall   ratio w/c'))
def row(name, q):
    c, w = q['cold'], q['warm']
    ex = '' if q['pprofs'] == q['pprof_run_on'] else '  (pprof extrap. from %d files)' % q['pprof_run_on']
    print('  %-11s %6d | %7.1f/%7.1f ms %8.2f s %6.1fx/%5.1fx | %7.1f/%7.1f ms %8.2f s %6.1fx/%5.1fx%s'
          % (name, q['pprofs'], c['ours_wall'] * 1e3, c['ours_cpu'] * 1e3, c['pprof_wall'], c['ratio_wall'], c['ratio_cpu'],
             w['ours_wall'] * 1e3, w['ours_cpu'] * 1e3, w['pprof_wall'], w['ratio_wall'], w['ratio_cpu'], ex))
for name, q in head['queries'].items():
    row(name, q)
for name, q in qs['queries'].items():
    row(name, q)
print()
print('first query on a new connection (no restart) / warm median of the same connection (goal <= 2x)')
fl = qs['floor']
extra = fl['first_on_new_connection'] - fl['warm_same_connection']
print('  PostgreSQL\'s own first-run cost of the tables every flame graph reads (bench_floor: no-row lookups in series')
print('  and head, a 16-byte block slice; median of $PAIRS new connections): first %.1f ms, warm %.2f ms, so %.1f ms'
      % (fl['first_on_new_connection'] * 1e3, fl['warm_same_connection'] * 1e3, extra * 1e3))
print('  "floor" = (warm + that) / warm: the first/warm ratio that cost alone gives a query of that warm time')
for src in (head, qs):
    for name, q in src['queries'].items():
        w = q['warm_same_connection']
        print('  %-11s first %7.1f ms   warm %7.1f ms   %.2fx   (floor %.2fx; first - warm %.1f ms)'
              % (name, q['first_on_new_connection'] * 1e3, w * 1e3, q['first_over_warm'],
                 (w + extra) / w, (q['first_on_new_connection'] - w) * 1e3))
print()
print('peak memory (VmHWM of the backend; RssShmem = shared buffers touched, included in VmHWM)')
print('  compaction : fresh backend %s -> peak %s (RssShmem %s, so private peak >= %s); pyroscope peak_memory of one unit %s'
      % (mb($C_BASE), mb($C_HWM), mb($C_SHMEM), mb($C_HWM - $C_SHMEM), mb($C_PEAK)))
print('  %dd query   : fresh backend %s -> peak %s (RssShmem %s, so private peak >= %s)'
      % (days, mb($Q_BASE), mb($Q_HWM), mb($Q_SHMEM), mb($Q_HWM - $Q_SHMEM)))
PY

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
# Queries: pyroscope.flamegraph() of the CPU type, timed inside the server
# with clock_timestamp() (median of RUNS, the first run included), in one
# session; the pprof peer is `pprof -proto f1 f2 ... >/dev/null` over the
# exact pprof bytes that were ingested for the same range.  Above
# PPROF_MAX_FILES files, pprof runs on an evenly spread subset and its time
# is scaled linearly (labelled "extrap.").
#
#   bench/query.sh [DATA_DIR]      (run as root; about 3-4 minutes, more on a loaded machine)
#
# Env: SERVICES (4) PODS (2) INTERVAL (180) DAYS (7) RUNS (5)
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
RUNS=${RUNS:-5}
PPROF_MAX_FILES=${PPROF_MAX_FILES:-8640}
JOBS=${BENCH_JOBS:-2}
DIR=${1:-$( [ -d ../shared/testdata/pprof ] && echo ../shared/testdata/pprof || echo test/data/pprof )}
END_S=1900000800			# 2030-03-17 15:20 UTC, a fixed "now" (minute-aligned)
END_TS="to_timestamp($END_S)"

make -s with_llvm=no >/dev/null && make -s with_llvm=no install >/dev/null
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
DATA=$BENCH_DIR/data
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
# samples of the rows compaction will take (older than the last hour)
HEAD_CMP_SAMPLES=$("${PSQL[@]}" -c "SELECT sum(nsamples) FROM pyroscope.head WHERE ts < to_timestamp($END_S - 3600)")
CPU_TYPE=$("${PSQL[@]}" -c "SELECT t FROM pyroscope.profile_types('bench') t
	WHERE t LIKE 'process_cpu:cpu:nanoseconds:%' LIMIT 1")
[ -n "$CPU_TYPE" ] || { say "no CPU profile type"; exit 1; }

# ---- compaction in a dedicated backend ----------------------------------------
"${PSQL[@]}" -c "VACUUM ANALYZE pyroscope.head" >/dev/null
COMPACT=$("${PSQL[@]}" -F ' ' <<SQL
CREATE FUNCTION pg_temp.mem(field text) RETURNS bigint LANGUAGE sql AS \$\$
	SELECT (regexp_match(pg_read_file('/proc/self/status'), field || ':\s+(\d+) kB'))[1]::bigint * 1024
\$\$;
SELECT pg_temp.mem('VmHWM');
SET pyroscope.compact_after = '1h';
SELECT extract(epoch FROM clock_timestamp()) \gset t_
SELECT pyroscope.compact($END_TS, 'bench') \gset
SELECT extract(epoch FROM clock_timestamp()) - :t_extract,
	   pg_temp.mem('VmHWM'), pg_temp.mem('RssShmem'), (:'compact'::jsonb ->> 'peak_memory'),
	   (:'compact'::jsonb ->> 'head_rows_compacted'), (:'compact'::jsonb ->> 'blocks_written'),
	   (:'compact'::jsonb ->> 'blocks_merged');
SQL
)
read -r C_BASE C_SECS C_HWM C_SHMEM C_PEAK C_ROWS C_WRITTEN C_MERGED <<<"$(echo $COMPACT)"
"${PSQL[@]}" -c "VACUUM ANALYZE pyroscope.head, pyroscope.blocks" >/dev/null

LEVELS=$("${PSQL[@]}" -c "SELECT string_agg('L' || level || '=' || n, ' ' ORDER BY level)
	FROM (SELECT level, count(*) n FROM pyroscope.blocks GROUP BY 1) l")
read -r NBLOCKS BLK_BYTES BLK_SAMPLES BLK_PROFILES LEFT_HEAD BLK_REL < <("${PSQL[@]}" -F ' ' -c "
	SELECT count(*), sum(size), sum(nsamples), sum(nprofiles), (SELECT count(*) FROM pyroscope.head),
		   pg_total_relation_size('pyroscope.blocks') FROM pyroscope.blocks")
# the pprofs that were compacted (not the last hour left in head)
read -r CMP_GZ CMP_PPROFS < <("${PSQL[@]}" -F ' ' -c "
	SELECT sum(b.gz_size), count(*) FROM bench_sched j JOIN bench_src b USING (src)
	 WHERE j.ts_ns < ($END_S - 3600)::bigint * 1000000000")

# ---- flame graph times ------------------------------------------------------------
SVC=$(awk -F"\t" 'NR == 1 { print $2; exit }' "$DATA/schedule.tsv")
# name, selector, service for the peer ("*" = all), range in seconds
QUERIES=("1h|{service_name=\"$SVC\"}|$SVC|3600"
		 "24h|{service_name=\"$SVC\"}|$SVC|86400"
		 "7d|{service_name=\"$SVC\"}|$SVC|$((DAYS * 86400))"
		 "24h all|{}|*|86400")
TIMER_SQL=$(cat <<SQL
SET timezone = 'UTC';
CREATE FUNCTION pg_temp.pages(rel regclass) RETURNS bigint LANGUAGE sql AS \$\$
	SELECT pg_stat_get_xact_blocks_fetched(rel) +
		   coalesce(pg_stat_get_xact_blocks_fetched((SELECT reltoastrelid FROM pg_class WHERE oid = rel)), 0)
\$\$;
CREATE FUNCTION pg_temp.bench(sel text, lo timestamptz, hi timestamptz, runs int) RETURNS text
LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	times float8[] := '{}';
	fg jsonb;
	b0 bigint; h0 bigint; bpages bigint; hpages bigint;
BEGIN
	FOR i IN 1 .. runs LOOP
		b0 := pg_temp.pages('pyroscope.blocks');
		h0 := pg_temp.pages('pyroscope.head');
		t0 := clock_timestamp();
		fg := pyroscope.flamegraph('$CPU_TYPE', sel, lo, hi, 16384, 'bench');
		times := times || extract(epoch FROM clock_timestamp() - t0)::float8;
		IF i = 1 THEN
			bpages := pg_temp.pages('pyroscope.blocks') - b0;
			hpages := pg_temp.pages('pyroscope.head') - h0;
		END IF;
	END LOOP;
	RETURN format('%s %s %s %s %s', times[1],
				  (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t),
				  fg ->> 'numTicks', bpages, hpages);
END \$\$;
SQL
)
declare -A Q_FIRST Q_MED Q_TICKS Q_BPAGES Q_HPAGES P_FILES P_RUN P_TIME P_EXTRAP
{
	echo "$TIMER_SQL"
	for q in "${QUERIES[@]}"; do
		IFS='|' read -r name sel svc span <<<"$q"
		echo "SELECT '$name', pg_temp.bench('$sel', to_timestamp($END_S - $span), to_timestamp($END_S) - interval '1 microsecond', $RUNS);"
	done
} | "${PSQL[@]}" -F '|' > "$BENCH_DIR/fg.out"
while IFS='|' read -r name res; do
	read -r first med ticks bp hp <<<"$res"
	Q_FIRST[$name]=$first; Q_MED[$name]=$med; Q_TICKS[$name]=$ticks
	Q_BPAGES[$name]=$bp; Q_HPAGES[$name]=$hp
done < "$BENCH_DIR/fg.out"

# ---- the pprof -proto peer over the same files ------------------------------------
for q in "${QUERIES[@]}"; do
	IFS='|' read -r name sel svc span <<<"$q"
	d=$BENCH_DIR/peer
	rm -rf "$d"
	read -r total written < <(python3 bench/query_data.py write "$DATA" "$d" "$svc" cpu \
		$(( (END_S - span) * 1000000000 )) $(( END_S * 1000000000 )) "$PPROF_MAX_FILES")
	runs=1
	[ "$written" -le 1000 ] && runs=3
	best=
	for ((r = 0; r < runs; r++)); do
		t0=$(now)
		(cd "$d" && find . -name '*.pb' -print0 | xargs -0 "$PPROF" -proto > /dev/null 2>"$BENCH_DIR/pprof.err") ||
			{ cat "$BENCH_DIR/pprof.err" >&2; exit 1; }
		el=$(echo "$(now) - $t0" | bc)
		if [ -z "$best" ] || [ "$(echo "$el < $best" | bc)" = 1 ]; then best=$el; fi
	done
	P_FILES[$name]=$total; P_RUN[$name]=$written
	P_TIME[$name]=$(echo "scale=3; $best * $total / $written" | bc)
	[ "$total" -ne "$written" ] && P_EXTRAP[$name]=" (extrap. from $written)" || P_EXTRAP[$name]=""
done
rm -rf "$BENCH_DIR/peer"

# ---- memory of a 7-day query in a fresh backend -----------------------------------
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
python3 - <<PY
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
print('storage after pyroscope.compact() (%.1f s; %d head rows into %d blocks: $LEVELS; %d rows of the last hour left in head)'
      % ($C_SECS, $C_ROWS, $NBLOCKS, $LEFT_HEAD))
bs, bsamp, bprof, gz, gzp = $BLK_BYTES, $BLK_SAMPLES, $BLK_PROFILES, $CMP_GZ, $CMP_PPROFS
print('  blocks: %s (table with TOAST and indexes: %s) for %d stored profiles, %d samples, from %d pprofs (%s gzipped)'
      % (mb(bs), mb($BLK_REL), bprof, bsamp, gzp, mb(gz)))
print('  (head counted %d samples as sent older than the last hour; blocks hold %d once equal stacks are merged)'
      % ($HEAD_CMP_SAMPLES, bsamp))
print('  %.2f bytes/sample   %.0f bytes/stored profile   %.0f bytes/pprof    gzipped pprof: %.2f bytes/sample, %.0f bytes/pprof   ratio %.3f'
      % (bs / bsamp, bs / bprof, bs / gzp, gz / bsamp, gz / gzp, bs / gz))
print()
print('flame graph of $CPU_TYPE (median of $RUNS; first run) vs pprof -proto on the same files')
print('  %-8s %7s %9s %9s %10s %9s %8s %12s   %s' % ('range', 'pprofs', 'median', 'first', 'read', 'numTicks', 'pprof', 'pprof/ours', ''))
qs = [('1h', '${Q_MED[1h]}', '${Q_FIRST[1h]}', '${Q_TICKS[1h]}', '${Q_BPAGES[1h]}', '${Q_HPAGES[1h]}', '${P_FILES[1h]}', '${P_TIME[1h]}', '${P_EXTRAP[1h]}'),
      ('24h', '${Q_MED[24h]}', '${Q_FIRST[24h]}', '${Q_TICKS[24h]}', '${Q_BPAGES[24h]}', '${Q_HPAGES[24h]}', '${P_FILES[24h]}', '${P_TIME[24h]}', '${P_EXTRAP[24h]}'),
      ('%dd' % days, '${Q_MED[7d]}', '${Q_FIRST[7d]}', '${Q_TICKS[7d]}', '${Q_BPAGES[7d]}', '${Q_HPAGES[7d]}', '${P_FILES[7d]}', '${P_TIME[7d]}', '${P_EXTRAP[7d]}'),
      ('24h all', '${Q_MED[24h all]}', '${Q_FIRST[24h all]}', '${Q_TICKS[24h all]}', '${Q_BPAGES[24h all]}', '${Q_HPAGES[24h all]}', '${P_FILES[24h all]}', '${P_TIME[24h all]}', '${P_EXTRAP[24h all]}')]
for name, med, first, ticks, bp, hp, pf, pt, ex in qs:
    med, first, pt = float(med), float(first), float(pt)
    read = (int(bp) + int(hp)) * 8192
    print('  %-8s %7s %8.1fms %8.1fms %10s %9s %7.2fs %11.0fx  %s'
          % (name, pf, med * 1e3, first * 1e3, mb(read), ticks, pt, pt / med, ex))
print('  read = pages of pyroscope.blocks and pyroscope.head (with TOAST) fetched by the first run x 8 KiB')
print()
print('peak memory (VmHWM of the backend; RssShmem = shared buffers touched, included in VmHWM)')
print('  compaction : fresh backend %s -> peak %s (RssShmem %s, so private peak >= %s); pyroscope peak_memory of one unit %s'
      % (mb($C_BASE), mb($C_HWM), mb($C_SHMEM), mb($C_HWM - $C_SHMEM), mb($C_PEAK)))
print('  %dd query   : fresh backend %s -> peak %s (RssShmem %s, so private peak >= %s)'
      % (days, mb($Q_BASE), mb($Q_HWM), mb($Q_SHMEM), mb($Q_HWM - $Q_SHMEM)))
if (services, pods, interval) != (1, 10, 10):
    full = 10 * 4 * 86400 // 10
    print()
    print('extrapolation only (not measured): a "realistic day" of 10 pods x 4 types at 10 s is %d pprofs/day,'
          ' %.1fx the %d pprofs/day of this run; at the bytes/pprof above its blocks would take about %s/day'
          % (full, full / (npush / days), npush // days, mb(full * bs / gzp)))
PY

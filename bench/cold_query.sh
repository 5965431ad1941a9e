#!/usr/bin/env bash
# Cold-query benchmark: a 24 h flame graph of a service over blocks held
# in the database, against the same flame graph over the same blocks
# offloaded to the object store (the directory backend) read through an
# empty cache, and through the warm cache.  The same day of real Go CPU
# pprofs is stored twice, a day apart (tenant "db" keeps its blocks in the
# database; tenant "obj", the older day, is offloaded).
#
# ROUNDS interleaved rounds of: in-database cold, object store cold,
# object store warm.  Cold = page cache dropped (when the kernel allows),
# server restarted, a new connection, and for the object store an empty
# cache directory; warm = the same connection again.  Each query reports
# the wall time and the CPU time of the backend (/proc/self/schedstat) and
# the bytes downloaded; the ratios to the in-database cold query are the
# medians of the per-round ratios.
#
#   bench/cold_query.sh [ROUNDS]     (as root; starts its own cluster; default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
. bench/lib.sh
bench_require_install
. scripts/cluster.sh
DIR=$(mktemp -d /tmp/pyroscope-bench-cold.XXXXXX)
PORT=${BENCH_PGPORT:-54397}
trap 'cluster_stop "$DIR"; rm -rf "$DIR"' EXIT
cluster_start "$DIR" $PORT
echo "pyroscope.http_listen_address = ''" >> "$DIR/data/postgresql.conf"
as_postgres $PG_BIN/pg_ctl -D "$DIR/data" -l "$DIR/log" -w restart >/dev/null
P=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p $PORT -U postgres -d postgres)
mkdir -p "$DIR/in"
cp test/data/pprof/go/cpu.pb.gz test/data/pprof/go/cpu-labels.pb.gz "$DIR/in/"
chmod -R a+rX "$DIR/in"

# a day of pushes every 2 minutes from 4 services, stored for both tenants
"${P[@]}" <<SQL >/dev/null
CREATE EXTENSION pyroscope;
SET pyroscope.block_window = '1h';
SELECT count(pyroscope.ingest_pprof(pg_read_binary_file('$DIR/in/' || f),
		jsonb_build_object('service_name', 'svc-' || s), t.tenant,
		t.day + g * interval '2 min'))
  FROM (VALUES ('obj', timestamptz '2030-01-01 00:00+00'), ('db', timestamptz '2030-01-02 00:00+00')) t(tenant, day),
	   generate_series(0, 3) s, generate_series(0, 719) g,
	   LATERAL (SELECT CASE WHEN g % 2 = 0 THEN 'cpu.pb.gz' ELSE 'cpu-labels.pb.gz' END) f(f);
SELECT pyroscope.compact('2030-01-03 01:00+00') IS NOT NULL;
SET pyroscope.offload_after = '36h';
SELECT pyroscope.offload('2030-01-03 12:00+00') IS NOT NULL;
CREATE FUNCTION bench_fg(tenant text, day timestamptz) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	c0 bigint;
	d0 bigint;
	fg jsonb;
BEGIN
	SELECT value INTO d0 FROM pyroscope.object_store_stats() WHERE counter = 'download_bytes';
	c0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	t0 := clock_timestamp();
	fg := pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="svc-1"}',
							   day, day + interval '1 day' - interval '1 microsecond', 16384, tenant);
	RETURN format('%s %s %s %s', extract(epoch FROM clock_timestamp() - t0),
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9,
				  fg ->> 'numTicks',
				  (SELECT value - d0 FROM pyroscope.object_store_stats() WHERE counter = 'download_bytes'));
END \$\$;
SQL
BLOCKS=$("${P[@]}" -c "SELECT tenant || ': ' || count(*) || ' blocks, ' || pg_size_pretty(sum(size)) ||
	CASE WHEN bool_and(object_key IS NOT NULL) THEN ' offloaded' ELSE ' in the database' END
	FROM pyroscope.blocks WHERE service_name = 'svc-1' GROUP BY tenant ORDER BY tenant" | paste -sd ';')

cold() {
	sync
	echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || true
	as_postgres $PG_BIN/pg_ctl -D "$DIR/data" -l "$DIR/log" -w restart >/dev/null
}
DB_DAY="timestamptz '2030-01-02 00:00+00'"
OBJ_DAY="timestamptz '2030-01-01 00:00+00'"
: > "$DIR/rounds"
for r in $(seq 1 "$ROUNDS"); do
	cold
	db=$("${P[@]}" -c "SELECT bench_fg('db', $DB_DAY)")
	cold
	mkdir -p "$DIR/cache-$r" && chown postgres "$DIR/cache-$r"
	IFS='|' read -r objc objw < <("${P[@]}" <<SQL | paste -sd '|'
SET pyroscope.cache_dir = '$DIR/cache-$r';
SELECT bench_fg('obj', $OBJ_DAY);
SELECT bench_fg('obj', $OBJ_DAY);
SQL
)
	echo "$db|$objc|$objw" >> "$DIR/rounds"
done
# each line: "wall cpu ticks bytes|..." for db, store cold, store warm
python3 - "$DIR/rounds" "$ROUNDS" "$BLOCKS" <<'PY'
import statistics, sys
rows = []
for line in open(sys.argv[1]):
    parts = line.strip().split('|')
    if len(parts) != 3:
        continue
    a = [p.split() for p in parts]
    rows.append([[float(x) for x in v] for v in a])
med = statistics.median
print('cold_query: 24 h flame graph of one service (%s), %s rounds' % (sys.argv[3], sys.argv[2]))
ticks = {r[0][2] for r in rows} | {r[1][2] for r in rows} | {r[2][2] for r in rows}
print('  numTicks of every answer: %s' % ('identical' if len(ticks) == 1 else 'DIFFER: %s' % sorted(ticks)))
print('  %-26s %10s %10s %14s %16s' % ('', 'wall', 'CPU', 'ratio wall/CPU', 'downloaded'))
for i, name in enumerate(('in database, cold', 'object store, cold cache', 'object store, warm cache')):
    w, c, b = med([r[i][0] for r in rows]), med([r[i][1] for r in rows]), med([r[i][3] for r in rows])
    rw = med([r[i][0] / r[0][0] for r in rows])
    rc = med([r[i][1] / max(r[0][1], 1e-6) for r in rows])
    print('  %-26s %8.1f ms %8.1f ms %6.2fx/%5.2fx %12.0f B' % (name, w * 1e3, c * 1e3, rw, rc, b))
print('  cold = page cache dropped, server restarted, new connection (object store: empty cache directory)')
print('  CPU = the backend\'s /proc/self/schedstat, which lags by up to one scheduler tick (4 ms at HZ=250)')
PY

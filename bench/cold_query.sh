#!/usr/bin/env bash
# Cold-query benchmark: the same block reads (every profile's series, time
# and total of every block, through pyroscope.read_block) over data held
# in the database, then offloaded to the object store (the filesystem
# backend) read through an empty cache, then repeated through the warm
# cache.  Prints the times as ratios to the in-database read, measured in
# one run, and the bytes transferred from the store per query.
#
#   bench/cold_query.sh [ROUNDS]     (as root; starts its own cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
. scripts/cluster.sh
DIR=$(mktemp -d /tmp/pyroscope-bench-cold.XXXXXX)
PORT=${BENCH_PGPORT:-54397}
trap 'cluster_stop "$DIR"; rm -rf "$DIR"' EXIT
cluster_start "$DIR" $PORT
P=(psql -X -q -At -h "$DIR" -p $PORT -U postgres -d postgres)
ROOT=$PWD

"${P[@]}" <<SQL
CREATE EXTENSION pyroscope;
SELECT count(pyroscope.ingest_pprof(pg_read_binary_file(f), '{"service_name": "bench"}'))
  FROM pg_catalog.unnest(ARRAY['$ROOT/test/data/pprof/go/cpu.pb.gz',
	'$ROOT/test/data/pprof/java/profile_java.pb.gz',
	'$ROOT/test/data/pprof/python/profile_python_small.pb.gz']) f, generate_series(1, 20);
UPDATE pyroscope.head SET ts = '2030-01-01 00:00+00'::timestamptz + (random() * interval '20 hours');
UPDATE pyroscope.series SET first_seen = '2030-01-01', last_seen = '2030-01-02';
SELECT pyroscope.compact('2030-01-03') IS NOT NULL;
SQL

# one query = read every block once; prints milliseconds and bytes downloaded
query() {
	"${P[@]}" <<SQL
SET pyroscope.cache_dir = '$DIR/cache-$1';
CREATE TEMP TABLE s0 AS SELECT * FROM pyroscope.object_store_stats();
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT count(*) FROM pyroscope.blocks b, pyroscope.read_block(b.block_id) \\g /dev/null
SELECT round((extract(epoch FROM clock_timestamp()) - :t0) * 1000, 2),
	   (SELECT s.value - s0.value FROM pyroscope.object_store_stats() s JOIN s0 USING (counter)
		 WHERE counter = 'download_bytes');
SQL
}

total_db=0; total_cold=0; total_warm=0; bytes_cold=0; bytes_warm=0
for r in $(seq 1 "$ROUNDS"); do
	read -r ms _ < <(query db | tr '|' ' ')
	total_db=$(echo "$total_db + $ms" | bc)
done
blocks=$("${P[@]}" -c "SELECT count(*) || ' blocks, ' || sum(size) || ' bytes' FROM pyroscope.blocks")
"${P[@]}" -c "SET pyroscope.offload_after = '1d'; SELECT pyroscope.offload('2030-01-10')" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
	read -r ms b < <(query "r$r" | tr '|' ' ')		# a fresh, empty cache
	total_cold=$(echo "$total_cold + $ms" | bc); bytes_cold=$b
	read -r ms b < <(query "r$r" | tr '|' ' ')		# the same cache, warm
	total_warm=$(echo "$total_warm + $ms" | bc); bytes_warm=$b
done
echo "cold_query: $blocks, $ROUNDS rounds"
printf "  in database         %8.2f ms/query   1.00x\n" "$(echo "$total_db / $ROUNDS" | bc -l)"
printf "  object store, cold  %8.2f ms/query   %.2fx   %s bytes downloaded/query\n" \
	"$(echo "$total_cold / $ROUNDS" | bc -l)" "$(echo "$total_cold / $total_db" | bc -l)" "$bytes_cold"
printf "  object store, warm  %8.2f ms/query   %.2fx   %s bytes downloaded/query\n" \
	"$(echo "$total_warm / $ROUNDS" | bc -l)" "$(echo "$total_warm / $total_db" | bc -l)" "$bytes_warm"

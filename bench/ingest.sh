#!/usr/bin/env bash
# Ingest benchmark: in one run, over the same pprof files, measures
#   - the ceiling: gunzipping and walking every protobuf field (C, one core)
#   - the core alone: validating and summarising, what ingest does (C, one core),
#     and normalising and encoding, what reading head rows does
#     (C, one core)
#   - pyroscope.ingest_pprof() in one backend (SQL, one core)
# and prints MB/s (of the bytes as sent), samples/s and the ratio of
# ingest_pprof to the ceiling.  Goal (DESIGN.md §7): ratio >= 0.50.
#
#   bench/ingest.sh [--seconds S] [DIR]
#
# DIR defaults to ../shared/testdata/pprof when present, else test/data/pprof.
# Starts its own throw-away cluster; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_PHASE=3
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) SECONDS_PER_PHASE=$2; shift 2 ;;
		*) DIR=$1; shift ;;
	esac
done
DIR=${DIR:-$( [ -d ../shared/testdata/pprof ] && echo ../shared/testdata/pprof || echo test/data/pprof )}

make -s with_llvm=no >/dev/null && make -s with_llvm=no install >/dev/null
make -s -f core.mk bench-build CORE_WARN="-w" >/dev/null

. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-bench.XXXXXX)
PORT=${BENCH_PGPORT:-54339}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p $PORT -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION pyroscope; CREATE TABLE bench_files (name text, data bytea);"

# every pprof file of the corpus that ingests (malformed ones are not ingest work)
while IFS= read -r f; do
	printf "INSERT INTO bench_files VALUES ('%s', '\\\\x%s');\n" "$f" "$(od -An -v -tx1 "$f" | tr -d ' \n')"
done < <(find "$DIR" -type f ! -name '*.json' ! -name '*.folded' ! -name '*.md' | sort) > "$BENCH_DIR/load.sql"
"${PSQL[@]}" -f "$BENCH_DIR/load.sql"
"${PSQL[@]}" <<'SQL'
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT name, data FROM bench_files LOOP
		BEGIN
			PERFORM pyroscope.ingest_pprof(r.data, '{}', 'probe');
		EXCEPTION WHEN OTHERS THEN
			DELETE FROM bench_files WHERE name = r.name;
		END;
	END LOOP;
END $$;
TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series;
SQL
mapfile -t FILES < <("${PSQL[@]}" -c "SELECT name FROM bench_files ORDER BY name")

core=$(./build/ingest_core --seconds "$SECONDS_PER_PHASE" "${FILES[@]}")

# SQL: rounds of ingest_pprof over every file, timed inside the server (all
# rounds run in one function call, hence one transaction).
sql=$("${PSQL[@]}" <<SQL
CREATE FUNCTION pg_temp.bench(seconds float8) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
	rounds int := 0;
	b bigint := (SELECT sum(length(data)) FROM bench_files);
	el float8;
BEGIN
	LOOP
		PERFORM pyroscope.ingest_pprof(data, '{"service_name": "bench"}'::jsonb, 'bench')
		   FROM bench_files;
		rounds := rounds + 1;
		el := extract(epoch FROM clock_timestamp() - t0);
		EXIT WHEN el >= seconds;
	END LOOP;
	RETURN format('%s %s %s', rounds, b, el);
END \$\$;
SELECT pg_temp.bench($SECONDS_PER_PHASE);
SQL
)
read -r rounds bytes elapsed <<<"$sql"

python3 - "$core" "$rounds" "$bytes" "$elapsed" "${#FILES[@]}" "$DIR" <<'PY'
import json, sys
core = json.loads(sys.argv[1])
rounds, nbytes, elapsed = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sql_mb = rounds * nbytes / elapsed / 1e6
sql_samples = rounds * core['samples'] / elapsed
print('ingest benchmark: %d pprof files from %s, %.2f MB as sent (%.2f MB decompressed), %d samples'
      % (int(sys.argv[5]), sys.argv[6], core['bytes'] / 1e6, core['raw_bytes'] / 1e6, core['samples']))
print('  gunzip + walk every field (ceiling) : %8.2f MB/s' % core['walk_mb_s'])
print('  core validate + summarise (ingest)  : %8.2f MB/s' % core['summary_mb_s'])
print('  core normalise + encode (read path) : %8.2f MB/s  %10.0f samples/s' % (core['core_mb_s'], core['core_samples_s']))
print('  pyroscope.ingest_pprof, one backend : %8.2f MB/s  %10.0f samples/s' % (sql_mb, sql_samples))
print('  ratio ingest_pprof / ceiling        : %8.2f   (goal >= 0.50)' % (sql_mb / core['walk_mb_s']))
print('  ratio core summary / ceiling        : %8.2f' % (core['summary_mb_s'] / core['walk_mb_s']))
PY

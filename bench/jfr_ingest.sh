#!/usr/bin/env bash
# JFR ingest benchmark (issue 12): pyroscope.ingest_jfr() over real JFR
# recordings against pyroscope.ingest_pprof() over the pprofs made of the
# same recordings (the comparable profiles: the same samples, stacks and
# labels), in one backend each, as PAIRS interleaved pairs (JFR, pprof,
# JFR, pprof, ...) of S seconds.  Prints MB/s of the bytes as sent and
# samples/s (pprof samples made, the same count on both sides) by wall and
# by CPU time of the backend (/proc/self/schedstat), and the ratio of JFR
# to pprof samples/s by CPU (median of the pair ratios).  Goal: >= 0.5.
#
#   bench/jfr_ingest.sh [--seconds S] [--pairs N] [DIR]
#
# DIR defaults to ../shared/testdata/jfr when present, else test/data/jfr.
# Starts its own throw-away cluster; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_PHASE=3
PAIRS=3
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) SECONDS_PER_PHASE=$2; shift 2 ;;
		--pairs) PAIRS=$2; shift 2 ;;
		*) DIR=$1; shift ;;
	esac
done
DIR=${DIR:-$( [ -d ../shared/testdata/jfr ] && echo ../shared/testdata/jfr || echo test/data/jfr )}

. bench/lib.sh
bench_require_install
make -s -f core.mk build/jfr_dump >/dev/null	# makes the comparable pprofs

. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-bench.XXXXXX)
PORT=${BENCH_PGPORT:-54341}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p $PORT -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION pyroscope;
	CREATE TABLE bench_jfr (name text, data bytea, labels bytea);
	CREATE TABLE bench_pprof (name text, data bytea);"

hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
mkdir -p "$BENCH_DIR/pprof"
n=0
while IFS= read -r f; do
	labels=$(ls "${f%.jfr.gz}".labels.pb.gz 2>/dev/null || true)
	printf "INSERT INTO bench_jfr VALUES ('%s', '\\\\x%s', %s);\n" "$f" "$(hex "$f")" \
		"$([ -n "$labels" ] && echo "'\\x$(hex "$labels")'" || echo NULL)"
	./build/jfr_dump --sample-rate 100 ${labels:+--labels "$labels"} \
		--pprof-out "$BENCH_DIR/pprof/$n" "$f" >/dev/null
	for p in "$BENCH_DIR/pprof/$n".*.pb.gz; do
		printf "INSERT INTO bench_pprof VALUES ('%s', '\\\\x%s');\n" "$p" "$(hex "$p")"
	done
	n=$((n + 1))
done < <(find "$DIR" -name '*.jfr.gz' | sort) > "$BENCH_DIR/load.sql"
"${PSQL[@]}" -f "$BENCH_DIR/load.sql"

"${PSQL[@]}" <<'SQL'
CREATE FUNCTION bench(what text, seconds float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	c0 bigint := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	rounds int := 0;
	b bigint;
	el float8;
BEGIN
	IF what = 'jfr' THEN
		b := (SELECT sum(length(data)) FROM bench_jfr);
	ELSE
		b := (SELECT sum(length(data)) FROM bench_pprof);
	END IF;
	LOOP
		IF what = 'jfr' THEN
			PERFORM pyroscope.ingest_jfr(data, labels, '{"service_name": "bench"}', 'bench')
			   FROM bench_jfr;
		ELSE
			PERFORM pyroscope.ingest_pprof(data, '{"service_name": "bench"}', 'bench')
			   FROM bench_pprof;
		END IF;
		rounds := rounds + 1;
		el := extract(epoch FROM clock_timestamp() - t0);
		EXIT WHEN el >= seconds;
	END LOOP;
	RETURN format('%s %s %s %s', rounds, b, el,
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9);
END $$;
SQL
# samples per round: what one round of ingest_jfr stores (= the pprofs')
"${PSQL[@]}" -c "SELECT pyroscope.ingest_jfr(data, labels, '{}', 'count') FROM bench_jfr" >/dev/null
samples=$("${PSQL[@]}" -c "SELECT sum(nsamples) FROM pyroscope.head WHERE tenant = 'count'")
series=$("${PSQL[@]}" -c "SELECT count(*) FROM pyroscope.head WHERE tenant = 'count'")
"${PSQL[@]}" -c "TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series"

: > "$BENCH_DIR/pairs"
for ((i = 0; i < PAIRS; i++)); do
	jfr=$("${PSQL[@]}" -c "SELECT bench('jfr', $SECONDS_PER_PHASE)")
	"${PSQL[@]}" -c "TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series"
	pprof=$("${PSQL[@]}" -c "SELECT bench('pprof', $SECONDS_PER_PHASE)")
	"${PSQL[@]}" -c "TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series"
	echo "$jfr|$pprof" >> "$BENCH_DIR/pairs"
done

python3 - "$BENCH_DIR/pairs" "$n" "$DIR" "$samples" "$series" <<'PY'
import statistics, sys
med = statistics.median
samples = int(sys.argv[4])
rows = []
for line in open(sys.argv[1]):
    sides = []
    for side in line.strip().split('|'):
        rounds, nbytes, el, cpu = side.split()
        rounds, nbytes, el, cpu = int(rounds), int(nbytes), float(el), float(cpu)
        sides.append(dict(mb_wall=rounds * nbytes / el / 1e6, mb_cpu=rounds * nbytes / cpu / 1e6,
                          s_wall=rounds * samples / el, s_cpu=rounds * samples / cpu, nbytes=nbytes))
    rows.append(sides)
print('JFR ingest benchmark: %s recordings from %s (%.2f MB as sent), making %s series of %d samples per round; %d interleaved pairs'
      % (sys.argv[2], sys.argv[3], rows[0][0]['nbytes'] / 1e6, sys.argv[5], samples, len(rows)))
for i, name in ((0, 'pyroscope.ingest_jfr   '), (1, 'pyroscope.ingest_pprof ')):
    print('  %s: %8.2f MB/s, %10.0f samples/s by wall time; %8.2f MB/s, %10.0f samples/s by CPU time'
          % (name, med([r[i]['mb_wall'] for r in rows]), med([r[i]['s_wall'] for r in rows]),
             med([r[i]['mb_cpu'] for r in rows]), med([r[i]['s_cpu'] for r in rows])))
print('  (pprof side: the same profiles as gzip pprofs, %.2f MB per round)' % (rows[0][1]['nbytes'] / 1e6))
print('  ratio JFR / pprof samples/s: %.2f by CPU time, %.2f by wall time  (goal >= 0.5; pairs %s)'
      % (med([r[0]['s_cpu'] / r[1]['s_cpu'] for r in rows]), med([r[0]['s_wall'] / r[1]['s_wall'] for r in rows]),
         ', '.join('%.2f' % (r[0]['s_cpu'] / r[1]['s_cpu']) for r in rows)))
PY

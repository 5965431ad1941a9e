#!/usr/bin/env bash
# Ingest benchmark of the other formats (issue 12): for JFR recordings and
# OTLP requests (protobuf and JSON), pyroscope.ingest_jfr() /
# ingest_otlp() against pyroscope.ingest_pprof() of the comparable profiles
# -- the gzip pprofs the same inputs are stored as (the same samples,
# stacks and labels) -- in one backend each, as PAIRS interleaved pairs
# (format, pprof, format, pprof, ...) of S seconds.  Prints MB/s of the
# bytes as sent and samples/s (the pprof samples stored: the same count on
# both sides) by wall and by CPU time of the backend (/proc/self/schedstat),
# and the ratio of the format's samples/s to pprof's by CPU (median of the
# pair ratios).  Goal: >= 0.5.
#
# For JFR it also times the core's parts of a round in one process
# (build/jfr_core: gunzip of the recordings, conversion, gzip of the
# produced pprofs) and prints the ceiling: the ratio a converter that took
# no time at all would reach, pprof's round over (pprof's round + the
# gunzip and gzip that JFR ingest does and pprof ingest does not, less the
# pprof gunzip that JFR ingest saves).  It also prints the JFR events the
# recordings hold (each a sample to the JVM's recorder) and their rate: not
# the goal's measure, since a stored pprof sample aggregates observations.
#
#   bench/ingest_formats.sh [--seconds S] [--pairs N]
#
# Inputs: ../shared/testdata/{jfr,otlp} when present, else test/data/{jfr,otlp}.
# Starts its own throw-away cluster; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_PHASE=3
PAIRS=3
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) SECONDS_PER_PHASE=$2; shift 2 ;;
		--pairs) PAIRS=$2; shift 2 ;;
		*) echo "usage: bench/ingest_formats.sh [--seconds S] [--pairs N]" >&2; exit 2 ;;
	esac
done
DATA=$( [ -d ../shared/testdata/jfr ] && echo ../shared/testdata || echo test/data )

. bench/lib.sh
bench_require_install
make -s -f core.mk build/jfr_core CORE_WARN="-w" >/dev/null
JFR_CORE=$(./build/jfr_core --seconds "$SECONDS_PER_PHASE" $(find "$DATA/jfr" -name '*.jfr.gz' | sort))

. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-bench.XXXXXX)
PORT=${BENCH_PGPORT:-54341}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p $PORT -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION pyroscope;
	CREATE TABLE bench_in (format text, name text, data bytea, labels bytea);
	CREATE TABLE bench_pprof (format text, data bytea);"

hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
{
	while IFS= read -r f; do
		labels=$(ls "${f%.jfr.gz}".labels.pb.gz 2>/dev/null || true)
		printf "INSERT INTO bench_in VALUES ('jfr', '%s', '\\\\x%s', %s);\n" "$f" "$(hex "$f")" \
			"$([ -n "$labels" ] && echo "'\\x$(hex "$labels")'" || echo NULL)"
	done < <(find "$DATA/jfr" -name '*.jfr.gz' | sort)
	for f in "$DATA"/otlp/*.pb.bin; do
		printf "INSERT INTO bench_in VALUES ('otlp', '%s', '\\\\x%s', NULL);\n" "$f" "$(hex "$f")"
	done
	for f in "$DATA"/otlp/*.pb.json; do
		printf "INSERT INTO bench_in VALUES ('otlp-json', '%s', '\\\\x%s', NULL);\n" "$f" "$(hex "$f")"
	done
} > "$BENCH_DIR/load.sql"
"${PSQL[@]}" -f "$BENCH_DIR/load.sql"

"${PSQL[@]}" <<'SQL'
CREATE FUNCTION ingest_round(fmt text, tenant text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF fmt = 'jfr' THEN
		PERFORM pyroscope.ingest_jfr(data, labels, '{"service_name": "bench"}', tenant)
		   FROM bench_in WHERE format = 'jfr';
	ELSIF fmt IN ('otlp', 'otlp-json') THEN
		PERFORM pyroscope.ingest_otlp(data, tenant) FROM bench_in WHERE format = fmt;
	ELSE
		PERFORM pyroscope.ingest_pprof(data, '{"service_name": "bench"}', tenant)
		   FROM bench_pprof WHERE format = substr(fmt, 7);
	END IF;
END $$;
CREATE FUNCTION bench(fmt text, seconds float8) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	c0 bigint := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
	rounds int := 0;
	b bigint;
	el float8;
BEGIN
	IF fmt LIKE 'pprof-%' THEN
		b := (SELECT sum(length(data)) FROM bench_pprof WHERE format = substr(fmt, 7));
	ELSE
		b := (SELECT sum(length(data)) FROM bench_in WHERE format = fmt);
	END IF;
	LOOP
		PERFORM ingest_round(fmt, 'bench');
		rounds := rounds + 1;
		el := extract(epoch FROM clock_timestamp() - t0);
		EXIT WHEN el >= seconds;
	END LOOP;
	RETURN format('%s %s %s %s', rounds, b, el,
				  (split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - c0) / 1e9);
END $$;
SQL

: > "$BENCH_DIR/pairs"
for fmt in jfr otlp otlp-json; do
	# the comparable pprofs: what one round stores, and its samples
	"${PSQL[@]}" -c "SELECT ingest_round('$fmt', 'probe-$fmt')" >/dev/null
	"${PSQL[@]}" -c "INSERT INTO bench_pprof SELECT '$fmt', data FROM pyroscope.head_pprof WHERE tenant = 'probe-$fmt'"
	samples=$("${PSQL[@]}" -c "SELECT sum(nsamples) FROM pyroscope.head WHERE tenant = 'probe-$fmt'")
	inputs=$("${PSQL[@]}" -c "SELECT count(*) FROM bench_in WHERE format = '$fmt'")
	pprofs=$("${PSQL[@]}" -c "SELECT count(*) FROM bench_pprof WHERE format = '$fmt'")
	"${PSQL[@]}" -c "TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series"
	for ((i = 0; i < PAIRS; i++)); do
		a=$("${PSQL[@]}" -c "SELECT bench('$fmt', $SECONDS_PER_PHASE)")
		"${PSQL[@]}" -c "TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series"
		b=$("${PSQL[@]}" -c "SELECT bench('pprof-$fmt', $SECONDS_PER_PHASE)")
		"${PSQL[@]}" -c "TRUNCATE pyroscope.head, pyroscope.head_pprof, pyroscope.series"
		echo "$fmt|$inputs|$pprofs|$samples|$a|$b" >> "$BENCH_DIR/pairs"
	done
done

python3 - "$BENCH_DIR/pairs" "$DATA" "$JFR_CORE" <<'PY'
import collections, json, statistics, sys
med = statistics.median
by = collections.OrderedDict()
for line in open(sys.argv[1]):
    fmt, inputs, pprofs, samples, a, b = line.strip().split('|')
    sides = []
    for side in (a, b):
        rounds, nbytes, el, cpu = side.split()
        rounds, nbytes, el, cpu = int(rounds), int(nbytes), float(el), float(cpu)
        sides.append(dict(mb_wall=rounds * nbytes / el / 1e6, mb_cpu=rounds * nbytes / cpu / 1e6,
                          s_wall=rounds * int(samples) / el, s_cpu=rounds * int(samples) / cpu,
                          nbytes=nbytes))
    by.setdefault(fmt, dict(inputs=inputs, pprofs=pprofs, samples=int(samples), rows=[]))['rows'].append(sides)
print('ingest of other formats against pprof of the same profiles, from %s; interleaved pairs' % sys.argv[2])
for fmt, d in by.items():
    rows = d['rows']
    print('%s: %s inputs (%.2f MB as sent) stored as %s gzip pprofs (%.2f MB), %d samples per round; %d pairs'
          % (fmt, d['inputs'], rows[0][0]['nbytes'] / 1e6, d['pprofs'], rows[0][1]['nbytes'] / 1e6,
             d['samples'], len(rows)))
    for i, name in ((0, fmt), (1, 'pprof')):
        print('  %-10s: %8.2f MB/s, %10.0f samples/s by wall time; %8.2f MB/s, %10.0f samples/s by CPU time'
              % (name, med([r[i]['mb_wall'] for r in rows]), med([r[i]['s_wall'] for r in rows]),
                 med([r[i]['mb_cpu'] for r in rows]), med([r[i]['s_cpu'] for r in rows])))
    print('  ratio %s / pprof samples/s: %.2f by CPU time, %.2f by wall time  (goal >= 0.5; pairs %s)'
          % (fmt, med([r[0]['s_cpu'] / r[1]['s_cpu'] for r in rows]),
             med([r[0]['s_wall'] / r[1]['s_wall'] for r in rows]),
             ', '.join('%.2f' % (r[0]['s_cpu'] / r[1]['s_cpu']) for r in rows)))
core = json.loads(sys.argv[3])
d = by.get('jfr')
if d:
    pprof_ms = med([1e3 * d['samples'] / r[1]['s_cpu'] for r in d['rows']])
    jfr_ms = med([1e3 * d['samples'] / r[0]['s_cpu'] for r in d['rows']])
    extra = core['gunzip_ms'] + core['gzip_ms'] - core['pprof_gunzip_ms']
    print('jfr round by CPU time: %.1f ms (pprof of the same profiles: %.1f ms); its core parts in one '
          'process: gunzip %.1f ms (%.2f -> %.2f MB), convert %.1f ms, gzip of the pprofs %.1f ms '
          '(%.2f -> %.2f MB), less the pprof gunzip it saves %.1f ms'
          % (jfr_ms, pprof_ms, core['gunzip_ms'], core['sent_bytes'] / 1e6, core['raw_bytes'] / 1e6,
             core['convert_ms'], core['gzip_ms'], core['pprof_bytes'] / 1e6,
             core['pprof_gz_bytes'] / 1e6, core['pprof_gunzip_ms']))
    print('  ceiling: a converter taking no time would reach %.2f (pprof %.1f ms / (%.1f + %.1f ms))'
          % (pprof_ms / (pprof_ms + extra), pprof_ms, pprof_ms, extra))
    # not the goal's measure: a pprof sample aggregates observations too
    print('  the recordings hold %d events (their own samples: %.2f per stored pprof sample): '
          '%.0f events/s by CPU time'
          % (core['events'], core['events'] / d['samples'], core['events'] * 1e3 / jfr_ms))
PY

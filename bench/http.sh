#!/usr/bin/env bash
# HTTP API benchmark: concurrent /ingest clients against SQL ingest of the
# same pprof files in the same run, push-to-queryable latency, and
# SelectMergeStacktraces requests/s (see bench/http_bench.mjs).
#
#   bench/http.sh [--seconds S] [--clients C] [DIR]
#
# Starts its own throw-away cluster with 2 HTTP workers, fsync on; run as
# root.  Env: INGEST_ROUNDS (10: passes over the files per ingest phase),
# PAIRS (3), QUERY_WORKERS (2; 0 runs queries in the HTTP workers).
set -euo pipefail
cd "$(dirname "$0")/.."

export SECONDS_PER_PHASE=5 CLIENTS=4
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) SECONDS_PER_PHASE=$2; shift 2 ;;
		--clients) CLIENTS=$2; shift 2 ;;
		*) DIR=$1; shift ;;
	esac
done
DIR=${DIR:-test/data/pprof}

. bench/lib.sh
bench_require_install

. scripts/cluster.sh
BENCH_DIR=$(mktemp -d /tmp/pyroscope-httpbench.XXXXXX)
PORT=${BENCH_PGPORT:-54349}
HTTP_PORT=${BENCH_HTTP_PORT:-54350}
trap 'cluster_stop "$BENCH_DIR"; rm -rf "$BENCH_DIR"' EXIT
cluster_start "$BENCH_DIR" $PORT
cat >> "$BENCH_DIR/data/postgresql.conf" <<CONF
pyroscope.http_port = $HTTP_PORT
pyroscope.http_workers = 2
pyroscope.http_query_workers = ${QUERY_WORKERS:-2}
fsync = on
synchronous_commit = on
CONF
as_postgres $PG_BIN/pg_ctl -D "$BENCH_DIR/data" -l "$BENCH_DIR/log" -w restart >/dev/null
psql -X -q -h "$BENCH_DIR" -p $PORT -U postgres -d postgres -c "CREATE EXTENSION pyroscope"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null && break; sleep 0.1; done

# the pprof files of the corpus that ingest (skip malformed ones)
mapfile -t FILES < <(find "$DIR" -type f \( -name '*.pb.gz' -o -name '*.pprof' -o -name '*.pb' \) ! -path '*edge-cases*' | sort)
GOOD=()
for f in "${FILES[@]}"; do
	if [ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$f" "http://127.0.0.1:$HTTP_PORT/ingest?name=probe&format=pprof")" = 200 ]; then
		GOOD+=("$f")
	fi
done
PATH=$PG_BIN:$PATH BENCH_SECONDS=$SECONDS_PER_PHASE node bench/http_bench.mjs $HTTP_PORT "$BENCH_DIR" $PORT "${GOOD[@]}"

#!/usr/bin/env bash
# Runs the TAP suites in t/ (HTTP workers against real clusters started by
# PostgreSQL::Test::Cluster).  TAP tests refuse root, so the suites and the
# test data are copied to a postgres-owned directory and prove runs as
# postgres.  The extension must already be installed.  The open-file limit
# is raised to the hard one (t/012 opens thousands of connections).
#
#   scripts/tap.sh [t/NNN_name.pl ...]
#   PG_BIN=DIR scripts/tap.sh      against another PostgreSQL (15 or 17)
#   PROVE_VERBOSE=1 scripts/tap.sh  prove -v: every test's output
set -uo pipefail

cd "$(dirname "$0")/.."
. scripts/pg_major.sh
PGXS_PERL=$PG_BIN/../lib/pgxs/src/test/perl
WORK=$(mktemp -d /tmp/pyroscope-tap.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/test"
cp -r t "$WORK/t"
cp -r test/data "$WORK/test/data"
# s3rver, for t/006_objstore_s3.pl (installed by scripts/test.sh)
[ -d test/objstore/node_modules ] && cp -r test/objstore "$WORK/test/objstore"
# the shared pprof corpus, for t/005_golden_sql_http.pl (when beside the checkout)
CORPUS=""
if [ -d ../shared/testdata/pprof ]; then
	cp -r ../shared/testdata/pprof "$WORK/corpus"
	CORPUS="$WORK/corpus"
fi
chown -R postgres:postgres "$WORK"
chmod 755 "$WORK"

tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(t/*.pl)

cd "$WORK" || exit 1
if [ "$(id -u)" -eq 0 ]; then
	RUN=(runuser -u postgres --)
else
	RUN=()
fi
"${RUN[@]}" env PATH="$PG_BIN:$PATH" PERL5LIB="$PGXS_PERL" TESTDIR="$WORK" \
	PYRO_TEST_DATA="$WORK/test/data" PG_TEST_TIMEOUT_DEFAULT=120 \
	PYRO_S3RVER_DIR="$WORK/test/objstore" PYRO_SKIP_S3="${PYRO_SKIP_S3:-}" \
	${CORPUS:+PYRO_PPROF_CORPUS="$CORPUS"} \
	PG_REGRESS=$PG_BIN/../lib/pgxs/src/test/regress/pg_regress \
	bash -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"' prove \
	prove ${PROVE_VERBOSE:+-v} --timer "${tests[@]}"
status=$?
if [ $status -ne 0 ]; then
	# the logs: tmp_check/log up to PostgreSQL 15, log from 16 on
	for f in "$WORK"/tmp_check/log/* "$WORK"/log/*; do
		[ -f "$f" ] || continue
		echo "=== $f (tail)"
		tail -n 40 "$f"
	done
fi
exit $status

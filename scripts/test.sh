#!/usr/bin/env bash
# Installs what is needed and runs every test suite of the project:
#   core unit tests (ASan/UBSan, then valgrind), fuzz corpora replay plus a
#   short fuzzing run per target, pg_regress suites, and the check of every
#   pprof in the corpus against Google's pprof tool, the TAP suites of the
#   HTTP workers and the end-to-end suite (Node SDK + Connect client).
#
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh --fuzz-seconds N  fuzz each target N seconds (default 15)
#   scripts/test.sh --only NAME     one suite: build unit pprofdiff sigv4 valgrind fuzz
#                                   regress pprofcheck s3rver tap e2e
#
# Must run as root (it installs packages and runs clusters as postgres).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PG_BIN=/usr/lib/postgresql/15/bin
export PG_CONFIG=$PG_BIN/pg_config
FUZZ_SECONDS=15
ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
		--fuzz-seconds) FUZZ_SECONDS=$2; shift 2 ;;
		--only) ONLY=$2; shift 2 ;;
		*) echo "usage: $0 [--fuzz-seconds N] [--only SUITE]" >&2; exit 2 ;;
	esac
done

scripts/install-deps.sh || exit 1

passed=0
failed=0
failures=()
run_suite() {
	local name=$1; shift
	if [ -n "$ONLY" ] && [ "$ONLY" != "$name" ]; then return; fi
	echo "=== $name"
	local start=$SECONDS
	if "$@"; then
		passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($((SECONDS - start)) s)"
	fi
}

build_extension() {
	make -s with_llvm=no WERROR=yes && make -s with_llvm=no install >/dev/null
}

# A throw-away cluster for the SQL suites, run as postgres.
. scripts/cluster.sh
TEST_PGPORT=${TEST_PGPORT:-54329}
TEST_DIR=$(mktemp -d /tmp/pyroscope-test.XXXXXX)
cleanup() {
	cluster_stop "$TEST_DIR"
	rm -rf "$TEST_DIR"
}
trap cleanup EXIT
start_cluster() {
	cluster_start "$TEST_DIR" $TEST_PGPORT
}

regress() {
	start_cluster || { cat "$TEST_DIR/log" 2>/dev/null; return 1; }
	if ! make -s with_llvm=no installcheck PGHOST="$TEST_DIR" PGPORT=$TEST_PGPORT PGUSER=postgres; then
		[ -f regression.diffs ] && head -n 200 regression.diffs
		return 1
	fi
}

pprofcheck() {
	local dir=test/data/pprof
	[ -d ../shared/testdata/pprof ] && dir=../shared/testdata/pprof
	[ -f "$TEST_DIR/data/postmaster.pid" ] || start_cluster || return 1
	scripts/pprof_reference.sh >/dev/null || return 1
	python3 scripts/check_pprof_corpus.py --host "$TEST_DIR" --port $TEST_PGPORT "$dir"
}

# s3rver (verifies SigV4) for the object-store TAP suite t/004_objstore_s3.pl
s3rver_install() {
	(cd test/objstore && npm ci --no-audit --no-fund --loglevel=error)
}

# the Node SDK and Connect client suite (starts its own cluster)
e2e() {
	(cd test/e2e && npm ci --no-audit --no-fund --loglevel=error && node --test e2e.test.mjs)
}

run_suite build build_extension
run_suite unit make -s unit
run_suite pprofdiff make -s -f core.mk pprof-diff
run_suite sigv4 test/objstore/run_unit.sh
run_suite valgrind make -s valgrind
run_suite fuzz make -s fuzz-run FUZZ_SECONDS=$FUZZ_SECONDS
run_suite regress regress
run_suite pprofcheck pprofcheck
run_suite s3rver s3rver_install
run_suite tap scripts/tap.sh
run_suite e2e e2e

echo
[ $failed -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

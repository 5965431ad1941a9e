#!/usr/bin/env bash
# Installs what is needed and runs every test suite of the project:
#   the layering of the C sources and their pgindent layout, core unit tests
#   (ASan/UBSan, then valgrind), fuzz corpora replay plus a
#   short fuzzing run per target, pg_regress suites, and the check of every
#   pprof in the corpus against Google's pprof tool, the TAP suites of the
#   HTTP workers, the end-to-end suite (Node SDK + Connect client), the
#   flame-graph explorer in headless Chromium, and the container image's
#   build script and entrypoint (docker/image.sh).
#
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh --fuzz-seconds N  fuzz each target N seconds (default 15)
#   scripts/test.sh --only NAME     one suite (and the build it needs; repeatable): layers build
#                                   format unit pprofdiff jfrexpected sigv4 valgrind
#                                   fuzz regress pprofcheck s3rver tap e2e ui docker
#   scripts/test.sh --skip NAME     leave a suite out (repeatable); `--skip s3`
#                                   leaves out the S3 server and the S3 TAP test
#
# A suite that cannot run fails; only --skip leaves one out, and the closing
# lines name what was skipped.  Must run as root (it installs packages and
# runs clusters as postgres).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
# PostgreSQL 15 on Debian 12, 17 on Debian 13 (PG_MAJOR to choose)
. scripts/pg_major.sh
export PG_MAJOR PG_BIN
export PG_CONFIG=$PG_BIN/pg_config
FUZZ_SECONDS=15
ONLY=()
SKIP=()
SUITES=" layers build format unit pprofdiff jfrexpected sigv4 valgrind fuzz regress pprofcheck s3rver tap e2e ui s3 docker "
usage() { echo "usage: $0 [--fuzz-seconds N] [--only SUITE]... [--skip SUITE]..." >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
		--fuzz-seconds) [ $# -ge 2 ] || usage; FUZZ_SECONDS=$2; shift 2 ;;
		--only) [ $# -ge 2 ] || usage; ONLY+=("$2"); shift 2 ;;
		--skip) [ $# -ge 2 ] || usage; SKIP+=("$2"); shift 2 ;;
		*) usage ;;
	esac
done
for s in "${ONLY[@]}" "${SKIP[@]}"; do
	if [ -n "$s" ] && [[ $SUITES != *" $s "* ]]; then
		echo "test.sh: no suite named '$s' (suites:$SUITES)" >&2
		exit 2
	fi
done
skipped() { [[ " ${SKIP[*]} " == *" $1 "* ]]; }
# the S3 TAP test needs the s3rver suite's install: skipping one skips both
if skipped s3 || skipped s3rver; then
	SKIP+=(s3 s3rver)
	export PYRO_SKIP_S3=1
fi

scripts/install-deps.sh test || exit 1
# a Node.js >= 20 (Debian 12 has 18; install-deps puts one in a tools directory)
NODE_DIR=$(scripts/install-deps.sh node-bin)
[ -n "$NODE_DIR" ] && export PATH="$NODE_DIR:$PATH"
# node built by nodejs.org trusts its own CA list only: add the system's
[ -f /etc/ssl/certs/ca-certificates.crt ] &&
	export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# Debian's npm, run by that node
npm() { node "$(readlink -f "$(type -P npm)")" "$@"; }

passed=0
failed=0
failures=()
skips=()
run_suite() {
	local name=$1; shift
	if [ ${#ONLY[@]} -gt 0 ] && [[ " ${ONLY[*]} " != *" $name "* ]]; then
		# what the suites asked for need: the installed extension, s3rver
		local o needed=""
		for o in "${ONLY[@]}"; do
			case "$o:$name" in
				regress:build | pprofcheck:build | tap:build | e2e:build | ui:build | tap:s3rver | format:build) needed=1 ;;
			esac
		done
		[ -n "$needed" ] || return
	fi
	if skipped "$name"; then
		skips+=("$name"); echo "=== $name: skipped (--skip)"
		return
	fi
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

# The server reads the suites' profiles (pg_read_binary_file) as postgres,
# who may not read the checkout (under /root, mode 700): the suites run
# from a copy in the cluster's directory.  regress_run MODE PGOPTIONS
# [SUITES] runs them (all by default) with those session settings.
regress_run() {
	local mode=$1 options=$2 suites=${3:-} dir=$TEST_DIR/regress-$1
	echo "--- pg_regress, $mode"
	mkdir -p "$dir/test"
	cp -r sql expected "$dir/" && cp -r test/data "$dir/test/" || return 1
	chmod -R a+rX "$dir"
	if ! PGOPTIONS="$options" make -s with_llvm=no installcheck \
		PGHOST="$TEST_DIR" PGPORT=$TEST_PGPORT PGUSER=postgres ${suites:+REGRESS="$suites"} \
		REGRESS_OPTS="--inputdir=$dir --outputdir=$dir --load-extension=pyroscope"; then
		[ -f "$dir/regression.diffs" ] && head -n 200 "$dir/regression.diffs"
		return 1
	fi
}

# The suites three ways, each answer the same as in expected/ (plans
# apart: the _1 files are the partitioned plans, the _2 files the forced
# parallel ones):
#  - plain tables;
#  - the big tables hash-partitioned by shard_key into 4 (the extension
#    reads pyroscope.hash_partitions when it creates them): PostgreSQL
#    then enforces the key rules (unique keys holding the key; a statement
#    deleting by ctid without the key deletes in every partition), and
#    shard_key.sql sees a one-service query read one partition of each;
#  - the suites of flame graphs with parallel plans forced, so that the
#    merge aggregate's combine, serialize and deserialize functions run, and
#    flame graphs merged by SQL aggregates (pyroscope.merge_pushdown = on,
#    what a Citus cluster does).
regress() {
	local force=force_parallel_mode
	[ "$PG_MAJOR" -ge 16 ] && force=debug_parallel_query
	start_cluster || { cat "$TEST_DIR/log" 2>/dev/null; return 1; }
	regress_run plain "" || return 1
	regress_run partitioned "-c pyroscope.hash_partitions=4" || return 1
	regress_run parallel "-c pyroscope.merge_pushdown=on -c $force=regress -c parallel_setup_cost=0 \
-c min_parallel_table_scan_size=0 -c min_parallel_index_scan_size=0 -c max_parallel_workers_per_gather=2" \
		"diff flamegraph merge profile_ids query_fed selectors tiers"
}

pprofcheck() {
	local dir=test/data/pprof
	[ -d ../shared/testdata/pprof ] && dir=../shared/testdata/pprof
	[ -f "$TEST_DIR/data/postmaster.pid" ] || start_cluster || return 1
	scripts/pprof_reference.sh >/dev/null || return 1
	python3 scripts/check_pprof_corpus.py --host "$TEST_DIR" --port $TEST_PGPORT "$dir"
}

# s3rver (verifies SigV4) for the object-store TAP suite t/006_objstore_s3.pl
s3rver_install() {
	(cd test/objstore && npm ci --no-audit --no-fund --loglevel=error)
}

# test/e2e's npm packages, installed once per run
E2E_DEPS=""
e2e_deps() {
	[ -n "$E2E_DEPS" ] && return 0
	(cd test/e2e && npm ci --no-audit --no-fund --loglevel=error) && E2E_DEPS=1
}

# the Node SDK and Connect client suite (starts its own cluster)
e2e() {
	e2e_deps && (cd test/e2e && node --test e2e.test.mjs)
}

# the flame-graph explorer in headless Chromium, against its own cluster fed
# by the Node SDK; screenshots of each view land in test/e2e/out
ui() {
	e2e_deps && (cd test/e2e && node --test ui.test.mjs)
}

# The container image's build script (docker/image.sh) and entrypoint, as
# the image runs them (no Docker engine here): the server comes up, answers
# /ready, a push and a query, keeps its data across a restart and stops
# cleanly on SIGTERM; the compose file's Grafana provisioning names the
# Pyroscope datasource and the Drilldown app.
docker_image() {
	local dir port pid rc ticks prov=docker/grafana/provisioning
	docker/image.sh build >/dev/null || return 1
	grep -q '^    type: grafana-pyroscope-datasource$' $prov/datasources/pyroscope.yml &&
		grep -q '^    url: http://pyroscope:4040$' $prov/datasources/pyroscope.yml &&
		grep -q '^  - type: grafana-pyroscope-app$' $prov/plugins/pyroscope-app.yml &&
		grep -q 'GF_INSTALL_PLUGINS: grafana-pyroscope-app' docker/docker-compose.yml &&
		grep -q './grafana/provisioning:/etc/grafana/provisioning' docker/docker-compose.yml ||
		{ echo "docker: the compose file's Grafana provisioning is not as expected"; return 1; }
	dir=$(mktemp -d /tmp/pyroscope-docker.XXXXXX)
	chown postgres:postgres "$dir"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	local q="query=process_cpu:cpu:nanoseconds:cpu:nanoseconds%7Bservice_name%3D%22dockerapp%22%7D&from=now-1h&until=now%2B1h"
	for round in 1 2; do
		# as the container runs it: the entrypoint itself gets the signal
		# (setpriv execs it; runuser would stand between and take it)
		(cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
			env HOME=/var/lib/postgresql PYRO_DATA="$dir/data" PYRO_HTTP_PORT="$port" \
			PYRO_SOCKET_DIR="$dir/sock" /usr/local/bin/pyroscope-docker run) >> "$dir/log" 2>&1 &
		pid=$!
		for _ in $(seq 1 300); do
			curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
			sleep 0.2
		done
		curl -fsS "http://127.0.0.1:$port/ready" >/dev/null ||
			{ echo "docker: round $round: /ready never answered"; tail -n 30 "$dir/log"; return 1; }
		if [ $round = 1 ]; then
			curl -fsS -X POST --data-binary $'main;work 60\nmain;idle 40\n' \
				"http://127.0.0.1:$port/ingest?name=dockerapp&from=$(date +%s)" >/dev/null ||
				{ echo "docker: the push failed"; return 1; }
		fi
		ticks=$(curl -fsS "http://127.0.0.1:$port/pyroscope/render?$q" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["flamebearer"]["numTicks"])')
		[ "$ticks" = 1000000000 ] ||
			{ echo "docker: round $round: the query answered $ticks ticks, not 1000000000"; return 1; }
		kill -TERM "$pid"
		rc=0
		timeout 60 tail --pid="$pid" -f /dev/null || { echo "docker: no exit 60 s after SIGTERM"; return 1; }
		wait "$pid" || rc=$?
		[ "$rc" = 0 ] || { echo "docker: round $round: exit status $rc after SIGTERM"; tail -n 30 "$dir/log"; return 1; }
		[ "$(grep -c 'database system is shut down' "$dir/log")" = $round ] ||
			{ echo "docker: round $round: PostgreSQL did not shut down cleanly"; tail -n 30 "$dir/log"; return 1; }
		echo "docker: round $round: up, answered, stopped cleanly on SIGTERM"
	done
	rm -rf "$dir"
}

# the layering of the sources, and the distribution key in every statement
# on a distributed table (with a self-test showing the check can fail)
layers() {
	scripts/check-layers.sh &&
		perl scripts/check-shard-key.pl --self-test &&
		perl scripts/check-shard-key.pl
}

run_suite layers layers
run_suite build build_extension
run_suite format scripts/pgindent.sh
run_suite unit make -s unit
run_suite pprofdiff make -s -f core.mk pprof-diff
run_suite jfrexpected make -s -f core.mk jfr-expected
run_suite sigv4 test/objstore/run_unit.sh
run_suite valgrind make -s valgrind
run_suite fuzz make -s fuzz-run FUZZ_SECONDS=$FUZZ_SECONDS
run_suite regress regress
run_suite pprofcheck pprofcheck
run_suite s3rver s3rver_install
run_suite tap scripts/tap.sh
run_suite e2e e2e
run_suite ui ui
run_suite docker docker_image

echo
[ $failed -gt 0 ] && echo "failed suites: ${failures[*]}"
[ ${#skips[@]} -gt 0 ] && echo "skipped suites (asked with --skip): ${skips[*]}"
if [ ${#skips[@]} -gt 0 ]; then
	echo "$passed passed, $failed failed, ${#skips[@]} skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]

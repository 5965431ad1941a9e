#!/usr/bin/env bash
# The steps of the container image (docker/Dockerfile), as one script that
# CI also runs (in a fresh Debian 12 root, where no Docker engine runs):
#
#   docker/image.sh build   as root, in the source tree: install what running
#                           needs (Debian packages), build and install the
#                           extension, install this script as
#                           /usr/local/bin/pyroscope-docker, make the data
#                           directory (owned by postgres)
#   docker/image.sh run     as postgres: the container's entrypoint; make the
#                           cluster in $PYRO_DATA on first start, start
#                           PostgreSQL with the extension preloaded and the
#                           HTTP API on 0.0.0.0:$PYRO_HTTP_PORT, create or
#                           update the extension, and stay in the foreground;
#                           SIGTERM (docker stop) or SIGINT stops PostgreSQL
#                           with a fast shutdown and exits 0
#
# Env: PYRO_DATA (/var/lib/pyroscope/data), PYRO_HTTP_PORT (4040),
#      PYRO_HTTP_LISTEN (0.0.0.0), PYRO_SOCKET_DIR (/var/run/pyroscope)
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
PYRO_DATA=${PYRO_DATA:-/var/lib/pyroscope/data}
PYRO_HTTP_PORT=${PYRO_HTTP_PORT:-4040}
PYRO_HTTP_LISTEN=${PYRO_HTTP_LISTEN:-0.0.0.0}
SOCK=${PYRO_SOCKET_DIR:-/var/run/pyroscope}

build() {
	cd "$(dirname "$0")/.."
	scripts/install-deps.sh run
	# curl, for the image's health check
	dpkg-query -W -f='${Status}' curl 2>/dev/null | grep -q "install ok installed" ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends curl >/dev/null; }
	make -s with_llvm=no PG_CONFIG=$PG_BIN/pg_config
	make -s with_llvm=no PG_CONFIG=$PG_BIN/pg_config install >/dev/null
	install -m 755 docker/image.sh /usr/local/bin/pyroscope-docker
	mkdir -p "$(dirname "$PYRO_DATA")" "$SOCK"
	chown postgres:postgres "$(dirname "$PYRO_DATA")" "$SOCK"
	echo "pyroscope-docker: built and installed"
}

run() {
	if [ "$(id -un)" != postgres ]; then
		echo "pyroscope-docker: run as postgres" >&2
		exit 1
	fi
	mkdir -p "$SOCK"
	if [ ! -f "$PYRO_DATA/PG_VERSION" ]; then
		$PG_BIN/initdb -D "$PYRO_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
		cat >> "$PYRO_DATA/postgresql.conf" <<CONF
# added by pyroscope-docker
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'pyroscope'
pyroscope.database = 'postgres'
logging_collector = off
CONF
	fi
	# the ports follow the environment on every start
	sed -i '/^pyroscope.http_port = /d; /^pyroscope.http_listen_address = /d' "$PYRO_DATA/postgresql.conf"
	cat >> "$PYRO_DATA/postgresql.conf" <<CONF
pyroscope.http_port = $PYRO_HTTP_PORT
pyroscope.http_listen_address = '$PYRO_HTTP_LISTEN'
CONF

	$PG_BIN/postgres -D "$PYRO_DATA" &
	local pg=$!
	stopping=0
	stop() {
		stopping=1
		echo "pyroscope-docker: stopping"
		$PG_BIN/pg_ctl -D "$PYRO_DATA" -m fast -w stop >/dev/null || kill -INT "$pg" 2>/dev/null || true
	}
	trap stop TERM INT
	for _ in $(seq 1 600); do
		$PG_BIN/pg_isready -q -h "$SOCK" && break
		kill -0 "$pg" 2>/dev/null || { wait "$pg"; exit 1; }
		sleep 0.1
	done
	env PGOPTIONS="-c client_min_messages=warning" $PG_BIN/psql -h "$SOCK" -d postgres -qAt \
		-v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS pyroscope" \
		-c "ALTER EXTENSION pyroscope UPDATE" >/dev/null
	echo "pyroscope-docker: Pyroscope HTTP API on $PYRO_HTTP_LISTEN:$PYRO_HTTP_PORT; psql -h $SOCK postgres"
	# wait for PostgreSQL; a signal interrupts the wait, the trap stops it,
	# and the second wait collects its exit
	local status=0
	wait "$pg" || status=$?
	if kill -0 "$pg" 2>/dev/null; then
		wait "$pg" || status=$?
	fi
	# the shutdown the trap asked for is a clean exit
	[ "$stopping" = 1 ] && [ "$status" -gt 128 ] && status=0
	exit "$status"
}

case "${1:-}" in
	build) build ;;
	run) run ;;
	*) echo "usage: $0 build|run" >&2; exit 2 ;;
esac

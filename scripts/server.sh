#!/usr/bin/env bash
# Runs a local PostgreSQL cluster (15; 17 on Debian 13, or PG_MAJOR) with
# the pyroscope extension preloaded and created, for use by SDKs, Grafana
# and psql.
#
#   scripts/server.sh start    install what running needs, build, install,
#                              init (first time) and start, or restart
#   scripts/server.sh stop     stop the cluster
#   scripts/server.sh status   show whether it runs
#   scripts/server.sh reset    stop and delete the cluster (all stored profiles)
#
# The cluster lives in $PYRO_DATA (default /var/lib/pyroscope-pg/data; its
# postgresql.conf is there), listens on 127.0.0.1:$PYRO_PGPORT (default
# 5432, socket in /var/run/pyroscope-pg), serves the HTTP API on
# 127.0.0.1:$PYRO_HTTP_PORT (default 4040) and runs as the postgres user.
# PYRO_PGPORT and PYRO_HTTP_PORT, when set, are written into postgresql.conf
# on every start, so they apply to an existing cluster too.
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/pg_major.sh
PYRO_DATA=$(realpath -ms "${PYRO_DATA:-/var/lib/pyroscope-pg/data}")
SOCK=$(realpath -ms "${PYRO_SOCKET_DIR:-/var/run/pyroscope-pg}")
LOG=$(dirname "$PYRO_DATA")/postgresql.log
CONF=$PYRO_DATA/postgresql.conf
# as_postgres: run as postgres from a directory it may enter, with the
# malloc settings of the server's processes (scripts/cluster.sh)
. scripts/cluster.sh
as_pg() { as_postgres "$@"; }

# set NAME = VALUE in postgresql.conf (the line server.sh wrote, or a new one)
set_conf() {
	local name=$1 value=$2
	if grep -q "^$name = " "$CONF"; then
		sed -i "s|^$name = .*|$name = $value|" "$CONF"
	else
		echo "$name = $value" >> "$CONF"
	fi
}

conf_value() {
	sed -n "s/^$1 = '\{0,1\}\([^' ]*\)'\{0,1\}.*/\1/p" "$CONF" | tail -n 1
}

start() {
	scripts/install-deps.sh run
	make -s with_llvm=no PG_CONFIG=$PG_BIN/pg_config
	make -s with_llvm=no PG_CONFIG=$PG_BIN/pg_config install >/dev/null
	mkdir -p "$(dirname "$PYRO_DATA")" "$SOCK"
	chown postgres:postgres "$(dirname "$PYRO_DATA")" "$SOCK"
	if [ ! -f "$PYRO_DATA/PG_VERSION" ]; then
		as_pg $PG_BIN/initdb -D "$PYRO_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
		cat >> "$CONF" <<CONF
# added by scripts/server.sh
listen_addresses = '127.0.0.1'
port = ${PYRO_PGPORT:-5432}
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'pyroscope'
pyroscope.http_port = ${PYRO_HTTP_PORT:-4040}
pyroscope.database = 'postgres'
CONF
		# a parallel plan runs its leader and its workers at once: on two
		# cores or fewer, PostgreSQL's default of two workers per plan is
		# slower than one (bench/parallel_merge.sh; README "Background
		# worker slots")
		local cores
		cores=$(nproc)
		if [ "$cores" -le 2 ]; then
			echo "max_parallel_workers_per_gather = $((cores - 1))" >> "$CONF"
		fi
	fi
	[ -n "${PYRO_PGPORT:-}" ] && set_conf port "$PYRO_PGPORT"
	[ -n "${PYRO_HTTP_PORT:-}" ] && set_conf pyroscope.http_port "$PYRO_HTTP_PORT"
	local pgport httpport
	pgport=$(conf_value port)
	httpport=$(conf_value pyroscope.http_port)
	if ! as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" status >/dev/null 2>&1; then
		as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" -l "$LOG" -w start >/dev/null
	else
		# running already: restart so that every process loads the library
		# just installed (the workers keep the one they started with)
		as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" -l "$LOG" -m fast -w restart >/dev/null
	fi
	# a cluster made by an earlier version gets its schema brought up to date
	as_pg env PGOPTIONS="-c client_min_messages=warning" \
		$PG_BIN/psql -h "$SOCK" -p "$pgport" -d postgres -qAt -v ON_ERROR_STOP=1 \
		-c "CREATE EXTENSION IF NOT EXISTS pyroscope" \
		-c "ALTER EXTENSION pyroscope UPDATE" >/dev/null
	echo "pyroscope is running."
	echo "  Pyroscope HTTP API: http://127.0.0.1:$httpport (SDKs push here; Grafana's Pyroscope datasource points here)"
	echo "  explorer:           http://127.0.0.1:$httpport/ (flame graphs in the browser)"
	echo "  SQL:                psql -h $SOCK -p $pgport -U postgres postgres"
	echo "  settings:           $CONF"
	echo "  log:                $LOG"
	echo "  stop:               scripts/server.sh stop     delete all data: scripts/server.sh reset"
}

stop() {
	if [ -f "$PYRO_DATA/PG_VERSION" ]; then
		as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" -m fast stop 2>/dev/null || true
	fi
}

case "${1:-start}" in
	start) start ;;
	stop) stop ;;
	status) as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" status ;;
	reset) stop; rm -rf "$PYRO_DATA"; echo "cluster removed" ;;
	*) echo "usage: $0 {start|stop|status|reset}" >&2; exit 2 ;;
esac

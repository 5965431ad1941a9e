#!/usr/bin/env bash
# Runs a local PostgreSQL 15 cluster with the pyroscope extension preloaded
# and created, for use by SDKs, Grafana and psql.
#
#   scripts/server.sh start    install packages, build, install, init and start
#   scripts/server.sh stop     stop the cluster
#   scripts/server.sh status   show whether it runs
#   scripts/server.sh reset    stop and delete the cluster (all stored profiles)
#
# The cluster lives in $PYRO_DATA (default /var/lib/pyroscope-pg/data),
# listens on 127.0.0.1:$PYRO_PGPORT (default 5432, socket in
# /var/run/pyroscope-pg) and runs as the postgres user.
set -euo pipefail

cd "$(dirname "$0")/.."
PG_BIN=/usr/lib/postgresql/15/bin
PYRO_DATA=${PYRO_DATA:-/var/lib/pyroscope-pg/data}
PYRO_PGPORT=${PYRO_PGPORT:-5432}
SOCK=${PYRO_SOCKET_DIR:-/var/run/pyroscope-pg}
LOG=$(dirname "$PYRO_DATA")/postgresql.log
as_pg() { runuser -u postgres -- "$@"; }

start() {
	scripts/install-deps.sh
	make -s with_llvm=no PG_CONFIG=$PG_BIN/pg_config
	make -s with_llvm=no PG_CONFIG=$PG_BIN/pg_config install >/dev/null
	mkdir -p "$(dirname "$PYRO_DATA")" "$SOCK"
	chown postgres:postgres "$(dirname "$PYRO_DATA")" "$SOCK"
	if [ ! -f "$PYRO_DATA/PG_VERSION" ]; then
		as_pg $PG_BIN/initdb -D "$PYRO_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
		cat >> "$PYRO_DATA/postgresql.conf" <<CONF
# added by scripts/server.sh
listen_addresses = '127.0.0.1'
port = $PYRO_PGPORT
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'pyroscope'
pyroscope.http_port = ${PYRO_HTTP_PORT:-4040}
pyroscope.database = 'postgres'
CONF
	fi
	if ! as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" status >/dev/null 2>&1; then
		as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" -l "$LOG" -w start >/dev/null
	else
		# running already: restart so that every process loads the library
		# just installed (the workers keep the one they started with)
		as_pg $PG_BIN/pg_ctl -D "$PYRO_DATA" -l "$LOG" -m fast -w restart >/dev/null
	fi
	# a cluster made by an earlier version gets its schema brought up to date
	as_pg $PG_BIN/psql -h "$SOCK" -p "$PYRO_PGPORT" -d postgres -qAt \
		-c "CREATE EXTENSION IF NOT EXISTS pyroscope" \
		-c "ALTER EXTENSION pyroscope UPDATE" >/dev/null
	echo "pyroscope is running (log: $LOG)."
	echo "Pyroscope HTTP API: http://127.0.0.1:${PYRO_HTTP_PORT:-4040} (SDKs push here; Grafana's Pyroscope datasource points here)"
	echo "Connect with:  psql -h $SOCK -p $PYRO_PGPORT -U postgres postgres"
	echo "Stop with:     scripts/server.sh stop      Delete all data: scripts/server.sh reset"
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

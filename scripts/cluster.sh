# Sourced by scripts and benchmarks: start and stop a throw-away
# PostgreSQL cluster (15, or what scripts/pg_major.sh says), run as the
# postgres user, with the extension preloaded.  cluster_start DIR PORT;
# cluster_stop DIR.
. "$(dirname "${BASH_SOURCE[0]}")/pg_major.sh"

# The server's processes use transparent huge pages for their malloc heap
# (glibc's malloc.hugetlb tunable; THP in "madvise" mode, Debian's default):
# a new backend then takes a few 2 MB page faults where it took thousands of
# 4 kB ones.  On this project's VMs a page fault costs ~10 us, which made
# the first flame graph of a new connection ~20 ms slower than the next.
PG_MALLOC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1"

# run as postgres from a directory it may enter (the checkout may be under
# /root, which postgres cannot enter)
as_postgres() { (cd / && runuser -u postgres -- env GLIBC_TUNABLES="$PG_MALLOC_TUNABLES" "$@"); }

cluster_start() {
	local dir=$1 port=$2
	mkdir -p "$dir"
	chmod 755 "$dir"
	chown postgres:postgres "$dir"
	as_postgres $PG_BIN/initdb -D "$dir/data" -U postgres --auth=trust \
		-E UTF8 --locale=C.UTF-8 >/dev/null || return 1
	cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'pyroscope'
pyroscope.compactor = off
fsync = off
# the suites and benchmarks store recorded profiles at their own (old) times
pyroscope.reject_older_than = 0
pyroscope.reject_newer_than = 0
CONF
	as_postgres $PG_BIN/pg_ctl -D "$dir/data" -l "$dir/log" -w start >/dev/null ||
		{ cat "$dir/log"; return 1; }
}

cluster_stop() {
	local dir=$1
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_postgres $PG_BIN/pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1
	fi
}

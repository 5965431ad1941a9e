#!/usr/bin/env bash
# Builds Google's pprof tool offline, from Debian's golang-go and
# golang-github-google-pprof-dev packages (GOPATH mode, no module download),
# into build/gopprof/pprof.  It is the independent reference that
# scripts/pprof_expected.py runs to check the SQL layer's results.
# Idempotent: does nothing when the binary is already there.
#
# usage: scripts/pprof_reference.sh   (from anywhere; prints the binary's path)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/gopprof"
BIN="$OUT/pprof"
SRC=/usr/share/gocode/src/github.com/google/pprof

if [ -x "$BIN" ]; then
	echo "$BIN"
	exit 0
fi
if ! command -v go >/dev/null 2>&1; then
	echo "pprof_reference: go is not installed (Debian package golang-go)" >&2
	exit 1
fi
if [ ! -f "$SRC/pprof.go" ]; then
	echo "pprof_reference: $SRC is missing (Debian package golang-github-google-pprof-dev)" >&2
	exit 1
fi

mkdir -p "$OUT"
# Build into a temporary name and rename, so an interrupted build never
# leaves a half-written binary that the check above would accept.
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$OUT/gocache" GOFLAGS= \
	go build -o "$BIN.tmp" github.com/google/pprof
mv "$BIN.tmp" "$BIN"
echo "$BIN"

#!/usr/bin/env bash
# Builds and runs the SigV4 signer's unit tests (test_sigv4.c) with
# ASan/UBSan and leak checks; the signer needs libcrypto, which the core
# unit runner does not link.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
gcc -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-Isrc/objstore src/objstore/sigv4.c test/objstore/test_sigv4.c -o build/test_sigv4 -lcrypto
ASAN_OPTIONS=detect_leaks=1 build/test_sigv4

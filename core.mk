# core.mk -- builds and tests the pure-C core without PostgreSQL:
# unit tests (plain and with ASan/UBSan), libFuzzer targets, benchmarks.
# Included by the top-level Makefile; also usable alone: make -f core.mk unit
#
#   make -f core.mk unit         unit tests, ASan + UBSan
#   make -f core.mk fuzz         build every fuzz target (clang's libFuzzer: clang-14 on
#                                Debian 12, clang-19 on 13)
#   make -f core.mk fuzz-run FUZZ_SECONDS=N   replay corpora, then fuzz each target N s
#   make -f core.mk valgrind     unit tests under valgrind (no sanitizers)
#   make -f core.mk pprof-diff   fast pprof decoder vs the protobuf-c reference
#                                over ../shared/testdata/pprof (else test/data/pprof)

CORE_CC      ?= gcc
FUZZ_CC      ?= $(firstword $(foreach v,14 19,$(shell command -v clang-$(v) 2>/dev/null)) clang)
CORE_WARN    := -Wall -Wextra -Werror -Wno-missing-field-initializers
CORE_CFLAGS  ?= -O2 -g
CORE_INC     := -Isrc/core -Isrc/core/gen
CORE_LIBS    := -lprotobuf-c -ldeflate -lzstd -lz -lm
BUILD        := build
SHELL        := /bin/bash

PROTOS       := $(wildcard proto/*.proto)
GEN_C        := $(patsubst proto/%.proto,src/core/gen/%.pb-c.c,$(PROTOS))
GEN_H        := $(GEN_C:.c=.h)
CORE_SRCS    := $(sort $(wildcard src/core/*.c)) $(GEN_C)
UNIT_SRCS    := $(sort $(wildcard test/unit/*.c))
# the protobuf-c reference pprof decoder: tests only, never in the product
REF_SRCS     := test/reference/pprof_decode.c
REF_INC      := -Itest/reference
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,$(BUILD)/%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 20

src/core/gen/%.pb-c.c src/core/gen/%.pb-c.h: proto/%.proto
	@mkdir -p src/core/gen
	protoc-c --c_out=src/core/gen -Iproto $<

.PHONY: core-gen unit unit-build valgrind fuzz fuzz-run bench-build pprof-diff jfr-expected

core-gen: $(GEN_C) $(GEN_H)

$(BUILD)/unit-asan: $(CORE_SRCS) $(REF_SRCS) $(UNIT_SRCS) $(wildcard src/core/*.h test/unit/*.h test/reference/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer $(CORE_INC) $(REF_INC) $(CORE_SRCS) $(REF_SRCS) $(UNIT_SRCS) -o $@ $(CORE_LIBS)

$(BUILD)/unit-plain: $(CORE_SRCS) $(REF_SRCS) $(UNIT_SRCS) $(wildcard src/core/*.h test/unit/*.h test/reference/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O1 -g $(CORE_INC) $(REF_INC) $(CORE_SRCS) $(REF_SRCS) $(UNIT_SRCS) -o $@ $(CORE_LIBS)

unit-build: $(BUILD)/unit-asan

unit: $(BUILD)/unit-asan
	ASAN_OPTIONS=detect_leaks=1 $(BUILD)/unit-asan

valgrind: $(BUILD)/unit-plain
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $(BUILD)/unit-plain

$(BUILD)/fuzz_%: test/fuzz/fuzz_%.c $(CORE_SRCS) $(REF_SRCS) $(wildcard src/core/*.h test/reference/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(CORE_INC) $(REF_INC) $< $(CORE_SRCS) $(REF_SRCS) -o $@ $(CORE_LIBS)

fuzz: $(FUZZ_TARGETS)

# Replay each target's corpus (test/fuzz/corpus/<target>/), then fuzz it for
# FUZZ_SECONDS into a scratch copy so the committed corpus stays as it is.
# test/fuzz/<target>.options holds extra libFuzzer flags (e.g. -max_len).
fuzz-run: $(FUZZ_TARGETS)
	@set -eo pipefail; for t in $(FUZZ_TARGETS); do \
		n=$$(basename $$t); corpus=test/fuzz/corpus/$$n; scratch=$(BUILD)/corpus-$$n; \
		mkdir -p $$scratch; [ -d $$corpus ] && cp -r $$corpus/. $$scratch/ || true; \
		echo "== $$n: replay + $(FUZZ_SECONDS)s"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
			-print_final_stats=0 $$scratch $$( [ -f test/fuzz/$$n.dict ] && echo -dict=test/fuzz/$$n.dict ) \
			$$( [ -f test/fuzz/$$n.options ] && cat test/fuzz/$$n.options ) 2>&1 | tail -n 3; \
	done

# benchmarks of the core (optimised, no sanitizers)
$(BUILD)/ingest_core: bench/ingest_core.c $(CORE_SRCS) $(wildcard src/core/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O2 -g $(CORE_INC) $< $(CORE_SRCS) -o $@ $(CORE_LIBS)

$(BUILD)/block_storage: bench/block_storage.c $(CORE_SRCS) $(wildcard src/core/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O2 -g $(CORE_INC) $< $(CORE_SRCS) -o $@ $(CORE_LIBS)

$(BUILD)/jfr_core: bench/jfr_core.c $(CORE_SRCS) $(wildcard src/core/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O2 -g $(CORE_INC) $< $(CORE_SRCS) -o $@ $(CORE_LIBS)

bench-build: $(BUILD)/ingest_core $(BUILD)/block_storage $(BUILD)/jfr_core

# differential test of the two pprof decoders over the shared test data
# (the repository's copy of a part of it when ../shared is not beside it)
PPROF_DIFF_DIR ?= $(if $(wildcard ../shared/testdata/pprof),../shared/testdata/pprof,test/data/pprof)
$(BUILD)/pprof_diff: test/tools/pprof_diff.c test/pprof_diff.h $(CORE_SRCS) $(REF_SRCS) $(wildcard src/core/*.h test/reference/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		$(CORE_INC) $(REF_INC) $< $(CORE_SRCS) $(REF_SRCS) -o $@ $(CORE_LIBS)

pprof-diff: $(BUILD)/pprof_diff
	$(BUILD)/pprof_diff $(PPROF_DIFF_DIR)

# the JFR converter against upstream's expected outputs (the repository's
# copy of the recordings when ../shared is not beside it)
JFR_DIR ?= $(if $(wildcard ../shared/testdata/jfr),../shared/testdata/jfr,test/data/jfr)
$(BUILD)/jfr_dump: test/tools/jfr_dump.c $(CORE_SRCS) $(wildcard src/core/*.h) $(GEN_H)
	@mkdir -p $(BUILD)
	$(CORE_CC) $(CORE_WARN) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		$(CORE_INC) $< $(CORE_SRCS) -o $@ $(CORE_LIBS)

jfr-expected: $(BUILD)/jfr_dump
	python3 scripts/jfr_expected.py $(BUILD)/jfr_dump $(JFR_DIR)

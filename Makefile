# Makefile for the pyroscope PostgreSQL extension (PGXS).
#
#   make && make install       build and install the extension
#   make installcheck          pg_regress suites in sql/ against a running server
#   make unit / fuzz / fuzz-run / valgrind   the pure-C core (see core.mk)

EXTENSION    = pyroscope
MODULE_big   = pyroscope
DATA         = pyroscope--1.0.sql pyroscope--1.0--1.1.sql pyroscope--1.1--1.2.sql
PGFILEDESC   = "pyroscope - continuous profiling inside PostgreSQL"

PROTO_GEN_H  = $(patsubst proto/%.proto,src/core/gen/%.pb-c.h,$(sort $(wildcard proto/*.proto)))
CORE_OBJS    = $(patsubst %.c,%.o,$(sort $(wildcard src/core/*.c))) \
               $(PROTO_GEN_H:.h=.o)
SQL_OBJS     = $(patsubst %.c,%.o,$(sort $(wildcard src/sql/*.c)))
HTTP_OBJS    = $(patsubst %.c,%.o,$(sort $(wildcard bgworkers/*.c)))
OBJS         = $(CORE_OBJS) $(SQL_OBJS) $(HTTP_OBJS)

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CPPFLAGS  = -Isrc/core -Isrc/core/gen -Isrc/sql -Ibgworkers
SHLIB_LINK   = -lprotobuf-c -ldeflate -lzstd -lz -lmicrohttpd -lcurl -lcrypto
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
               -Wno-missing-field-initializers $(if $(filter yes,$(WERROR)),-Werror)
EXTRA_CLEAN  = src/core/gen build

PG_CONFIG   ?= /usr/lib/postgresql/15/bin/pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# generated protobuf-c sources must exist before any object is compiled
$(OBJS): | $(PROTO_GEN_H)

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (a struct that grew in one object and not in another is memory
# corruption, not a build error)
$(OBJS): $(wildcard src/core/*.h src/sql/*.h bgworkers/*.h)

include core.mk

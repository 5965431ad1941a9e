# Makefile for the pyroscope PostgreSQL extension (PGXS).
#
#   make && make install       build and install the extension
#   make installcheck          pg_regress suites in sql/ against a running server
#   make unit / fuzz / fuzz-run / valgrind   the pure-C core (see core.mk)

EXTENSION    = pyroscope
MODULE_big   = pyroscope
DATA         = pyroscope--1.0.sql pyroscope--1.0--1.1.sql pyroscope--1.1--1.2.sql pyroscope--1.2--1.3.sql pyroscope--1.3--1.4.sql pyroscope--1.4--1.5.sql pyroscope--1.5--1.6.sql pyroscope--1.6--1.7.sql pyroscope--1.7--1.8.sql pyroscope--1.8--1.9.sql
PGFILEDESC   = "pyroscope - continuous profiling inside PostgreSQL"

PROTO_GEN_H  = $(patsubst proto/%.proto,src/core/gen/%.pb-c.h,$(sort $(wildcard proto/*.proto)))
srcs_of      = $(patsubst %.c,%.o,$(sort $(wildcard $(1)/*.c)))
CORE_OBJS    = $(call srcs_of,src/core) $(PROTO_GEN_H:.h=.o)
OBJSTORE_OBJS = $(call srcs_of,src/objstore)
ENGINE_OBJS  = $(call srcs_of,src/engine)
SQL_OBJS     = $(call srcs_of,src/sql)
HTTP_OBJS    = $(call srcs_of,bgworkers/http)
WORKER_OBJS  = $(call srcs_of,bgworkers)
MODULE_OBJS  = src/module.o
# the explorer's static files (ui/), compiled in by scripts/embed-ui.sh
UI_FILES     = $(sort $(wildcard ui/*.html ui/*.js ui/*.css ui/*.svg))
UI_OBJS      = build/ui_assets.o
OBJS         = $(CORE_OBJS) $(OBJSTORE_OBJS) $(ENGINE_OBJS) $(SQL_OBJS) $(HTTP_OBJS) \
               $(WORKER_OBJS) $(MODULE_OBJS) $(UI_OBJS)

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# The layers (docs/layout.md): each folder is compiled with the include
# paths of what it may use and nothing else, so an upward include does not
# compile (scripts/check-layers.sh also catches relative paths).
INC_CORE     = -Isrc/core -Isrc/core/gen
INC_OBJSTORE = -Isrc/objstore $(INC_CORE)
INC_ENGINE   = -Isrc/engine $(INC_OBJSTORE)
INC_FRONT    = -Isrc/engine $(INC_CORE)
SHLIB_LINK   = -lprotobuf-c -ldeflate -lzstd -lz -lmicrohttpd -lgnutls -lcurl -lcrypto
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
               -Wno-missing-field-initializers $(if $(filter yes,$(WERROR)),-Werror)
EXTRA_CLEAN  = src/core/gen build

# PostgreSQL 15 by default; 17 (Debian 13) with PG_MAJOR=17 or PG_CONFIG
PG_MAJOR    ?= 15
PG_CONFIG   ?= /usr/lib/postgresql/$(PG_MAJOR)/bin/pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# generated protobuf-c sources must exist before any object is compiled
$(OBJS): | $(PROTO_GEN_H)

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (a struct that grew in one object and not in another is memory
# corruption, not a build error)
$(OBJS): $(wildcard src/core/*.h src/objstore/*.h src/engine/*.h src/sql/*.h \
                   bgworkers/*.h bgworkers/http/*.h)

# pgxs.mk fixed CPPFLAGS when it was included: add each layer's paths
$(CORE_OBJS): override CPPFLAGS := $(INC_CORE) $(CPPFLAGS)
$(OBJSTORE_OBJS): override CPPFLAGS := $(INC_OBJSTORE) $(CPPFLAGS)
$(ENGINE_OBJS): override CPPFLAGS := $(INC_ENGINE) $(CPPFLAGS)
$(SQL_OBJS): override CPPFLAGS := -Isrc/sql $(INC_FRONT) $(CPPFLAGS)
$(HTTP_OBJS): override CPPFLAGS := -Ibgworkers/http $(INC_FRONT) $(CPPFLAGS)
$(WORKER_OBJS): override CPPFLAGS := -Ibgworkers $(INC_FRONT) $(CPPFLAGS)
$(MODULE_OBJS): override CPPFLAGS := -Ibgworkers/http -Ibgworkers $(INC_ENGINE) $(CPPFLAGS)
$(UI_OBJS): override CPPFLAGS := -Ibgworkers/http $(CPPFLAGS)

build/ui_assets.c: $(UI_FILES) scripts/embed-ui.sh
	@mkdir -p build
	sh scripts/embed-ui.sh $(UI_FILES) > $@.tmp && mv $@.tmp $@

include core.mk

/*-------------------------------------------------------------------------
 *
 * engine_int.h
 *	  What the engine's own files share and its front doors do not see:
 *	  reading stored blocks from either tier, and the object store below.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_ENGINE_INT_H
#define PYRO_ENGINE_INT_H

#include "engine.h"

#include "lib/qunique.h"

#include "block.h"
#include "objstore.h"

/* qsort's comparison of int32s (shard keys) */
static inline int
pyroscope_int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* qsort's comparison of profile ids: bytewise, the order blocks keep them in */
static inline int
pyroscope_uuid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(pg_uuid_t));
}

/* Sort profile ids bytewise and drop repeats, in place; returns how many remain. */
static inline int
pyroscope_sort_profile_ids(pg_uuid_t *ids, int n)
{
	if (n < 2)
		return n;
	qsort(ids, n, sizeof(pg_uuid_t), pyroscope_uuid_cmp);
	return (int) qunique(ids, n, sizeof(pg_uuid_t), pyroscope_uuid_cmp);
}

/*
 * A block of pyroscope.blocks from whichever tier holds it (block_read.c):
 * the query path opens a reader on a row (size, data, object_key) with
 * pyroscope_stored_block_open and, on failure, calls
 * pyroscope_stored_block_report (which lets a pending cancel or statement
 * timeout win over the read error).  src must outlive the reader.
 */
typedef struct StoredBlockSource
{
	bool		in_database;
	Datum		data;			/* the (toasted) bytea, when in the database */
	ObjStoreBlock cold;			/* block id, key and size, when offloaded */
} StoredBlockSource;

extern PyroStatus pyroscope_stored_block_open(StoredBlockSource *src, int64 block_id,
											  Datum data, bool data_isnull,
											  const char *object_key, int64 size,
											  PyroBlockReader **r, PyroError *err);
extern void pyroscope_stored_block_report(int64 block_id, const PyroError *err)
			pg_attribute_noreturn();

/* a statement through SPI that must return expect (bridge.c) */
extern void pyroscope_spi_run(const char *what, const char *sql, int nargs, Oid *types,
							  Datum *values, int expect);

#endif							/* PYRO_ENGINE_INT_H */

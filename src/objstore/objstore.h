/*-------------------------------------------------------------------------
 *
 * objstore.h
 *	  Object storage for cold blocks: one small interface (put, ranged get,
 *	  head, list, delete) over two backends, a local directory (default)
 *	  and any S3-compatible store through libcurl; the local cache of
 *	  fetched byte ranges; and the fetch callback that lets the block
 *	  reader read offloaded blocks.  It knows no table: what is stored
 *	  where is the engine's business (src/engine).
 *
 * Every objstore_* call NEVER throws: it returns a status and fills an
 * ObjStoreError, so it may be called from inside core callbacks (the
 * block reader's fetch) and no ereport unwinds through libcurl frames.
 * A transfer stops early when an interrupt is pending (cancel, statement
 * timeout, SIGTERM) and returns OBJ_INTERRUPTED; the caller then runs
 * CHECK_FOR_INTERRUPTS() before reporting anything else.
 *
 * Configuration (GUCs, superuser-only, defined in src/engine/guc.c):
 *	pyroscope.object_store_url   '' = directory $PGDATA/pyroscope_objects,
 *		'file:///dir' or '/dir' = a directory, 's3://bucket[/prefix]' = S3
 *	pyroscope.s3_endpoint, s3_region, s3_access_key, s3_secret_key,
 *	s3_url_style ('path' or 'virtual'), s3_multipart_threshold,
 *	s3_part_size, object_store_timeout, object_store_connect_timeout,
 *	object_store_retries, cache_dir, cache_size.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_OBJSTORE_H
#define PYRO_OBJSTORE_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "block.h"
#include "common.h"

typedef enum ObjStoreStatus
{
	OBJ_OK = 0,
	OBJ_NOT_FOUND,				/* no such object */
	OBJ_ERROR,					/* any other failure; msg says what */
	OBJ_INTERRUPTED				/* a cancel or termination is pending: stopped
								 * early */
} ObjStoreStatus;

/*
 * Whether a transfer must stop early: a cancel, a statement timeout or a
 * termination request is pending.  Other interrupts set InterruptPending
 * too (a parallel worker's message, a barrier, a request to log memory
 * contexts); they wait for the caller's next CHECK_FOR_INTERRUPTS and must
 * not fail a transfer.
 */
static inline bool
objstore_stop_requested(void)
{
	return QueryCancelPending || ProcDiePending;
}

typedef struct ObjStoreError
{
	ObjStoreStatus status;
	char		msg[256];		/* lower-case, no trailing period */
} ObjStoreError;

/* called once per listed object; return false to stop listing */
typedef bool (*ObjStoreListFn) (void *arg, const char *key, uint64 size);

/* objstore.c: configuration, dispatch and counters */
extern Size pyroscope_objstore_shmem_size(void);
extern void pyroscope_objstore_shmem_init(void);
extern const char *objstore_describe(void);
extern bool objstore_key_valid(const char *key);
extern ObjStoreStatus objstore_put(const char *key, const uint8 *data, size_t len,
								   ObjStoreError *e);
extern ObjStoreStatus objstore_get(const char *key, uint64 offset, uint64 len,
								   uint8 *buf, ObjStoreError *e);
extern ObjStoreStatus objstore_head(const char *key, uint64 *size, ObjStoreError *e);
extern ObjStoreStatus objstore_list(const char *prefix, ObjStoreListFn fn, void *arg,
									ObjStoreError *e);
extern ObjStoreStatus objstore_delete(const char *key, ObjStoreError *e);

/* ereport a failed call (after CHECK_FOR_INTERRUPTS); what = "could not ..." */
extern void objstore_report(int elevel, const ObjStoreError *e, const char *what);

/* counters behind /metrics and pyroscope.object_store_stats() */
typedef enum ObjStoreCounter
{
	OBJC_UPLOADS,
	OBJC_UPLOAD_BYTES,
	OBJC_DOWNLOADS,
	OBJC_DOWNLOAD_BYTES,
	OBJC_DELETES,
	OBJC_CACHE_HITS,
	OBJC_CACHE_MISSES,
	OBJC_CACHE_HIT_BYTES,
	OBJC_ERRORS,
	OBJC_BLOCKS_OFFLOADED,
	OBJC_NCOUNTERS
} ObjStoreCounter;

extern void objstore_count(ObjStoreCounter c, uint64 n);
extern uint64 objstore_counter(ObjStoreCounter c);

/* append the counters in Prometheus text format (for /metrics) */
extern void pyroscope_objstore_metrics(StringInfo out);

/* test hook (pyroscope.offload_test_delay/_pause): sleep at a named point */
extern bool objstore_test_pause(const char *point);

/* sleep, waking every 10 ms; false when a cancel or termination came */
extern bool objstore_sleep(long ms);

/* backend internals (objstore_fs.c, objstore_s3.c) */
typedef struct ObjStoreConfig
{
	bool		s3;
	char		dir[MAXPGPATH]; /* filesystem: absolute directory */
	char		bucket[256];	/* s3 */
	char		prefix[256];	/* s3: key prefix ("" or ending in '/') */
	char		scheme[8];		/* "http" or "https" */
	char		host[256];		/* endpoint host (name or IP literal) */
	int			port;
	bool		virtual_host;
} ObjStoreConfig;

extern ObjStoreStatus objstore_fs_put(const ObjStoreConfig *c, const char *key,
									  const uint8 *data, size_t len, ObjStoreError *e);
extern ObjStoreStatus objstore_fs_get(const ObjStoreConfig *c, const char *key, uint64 offset,
									  uint64 len, uint8 *buf, ObjStoreError *e);
extern ObjStoreStatus objstore_fs_head(const ObjStoreConfig *c, const char *key, uint64 *size,
									   ObjStoreError *e);
extern ObjStoreStatus objstore_fs_list(const ObjStoreConfig *c, const char *prefix,
									   ObjStoreListFn fn, void *arg, ObjStoreError *e);
extern ObjStoreStatus objstore_fs_delete(const ObjStoreConfig *c, const char *key,
										 ObjStoreError *e);

extern ObjStoreStatus objstore_s3_put(const ObjStoreConfig *c, const char *key,
									  const uint8 *data, size_t len, ObjStoreError *e);
extern ObjStoreStatus objstore_s3_get(const ObjStoreConfig *c, const char *key, uint64 offset,
									  uint64 len, uint8 *buf, ObjStoreError *e);
extern ObjStoreStatus objstore_s3_head(const ObjStoreConfig *c, const char *key, uint64 *size,
									   ObjStoreError *e);
extern ObjStoreStatus objstore_s3_list(const ObjStoreConfig *c, const char *prefix,
									   ObjStoreListFn fn, void *arg, ObjStoreError *e);
extern ObjStoreStatus objstore_s3_delete(const ObjStoreConfig *c, const char *key,
										 ObjStoreError *e);

extern ObjStoreStatus objstore_error(ObjStoreError *e, ObjStoreStatus s, const char *fmt,...)
			pg_attribute_printf(3, 4);

/* GUC values */
extern char *pyroscope_objstore_url;
extern char *pyroscope_s3_endpoint;
extern char *pyroscope_s3_url_style;
extern char *pyroscope_s3_region;
extern char *pyroscope_s3_access_key;
extern char *pyroscope_s3_secret_key;
extern int	pyroscope_s3_multipart_threshold;	/* kB */
extern int	pyroscope_s3_part_size; /* kB */
extern int	pyroscope_objstore_timeout; /* ms */
extern int	pyroscope_objstore_connect_timeout; /* ms */
extern int	pyroscope_objstore_retries;
extern int	pyroscope_offload_test_delay;	/* ms, tests only */
extern char *pyroscope_offload_test_pause;	/* tests only */
extern char *pyroscope_cache_dir;
extern int	pyroscope_cache_size;	/* kB */

/*
 * Cold reads (objstore_cache.c).  The block reader's fetch callback for a
 * block held in object storage: arg points to an ObjStoreBlock.  Ranges
 * come from the local cache (pyroscope.cache_dir, LRU within
 * pyroscope.cache_size) or from a ranged GET that is then cached.  On
 * failure err names the block and the store; if an interrupt is pending
 * the caller must CHECK_FOR_INTERRUPTS() before reporting err.
 */
typedef struct ObjStoreBlock
{
	int64		block_id;
	const char *object_key;
	uint64		size;			/* bytes of the whole block */
	/* filled in while reading */
	uint64		bytes_downloaded;
	uint64		bytes_from_cache;
} ObjStoreBlock;

extern PyroStatus pyroscope_objstore_block_fetch(void *arg, uint64_t offset, uint64_t len,
												 uint8_t **data, PyroError *err);

/* remove cached ranges of an object (after its deletion) */
extern void objstore_cache_forget(const char *key);

#endif							/* PYRO_OBJSTORE_H */

/*-------------------------------------------------------------------------
 *
 * objstore.c
 *	  The object-storage interface of objstore.h: its GUCs, the parsing of
 *	  pyroscope.object_store_url into a backend configuration, dispatch to
 *	  the filesystem or S3 backend, and the counters shown by /metrics
 *	  (in shared memory when preloaded, else per process).
 *
 * Nothing here throws once the GUCs are defined: configuration errors
 * come back as OBJ_ERROR with a message naming the setting.
 *
 *-------------------------------------------------------------------------
 */
#include "objstore.h"

#include <limits.h>

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

char	   *pyroscope_objstore_url = NULL;
char	   *pyroscope_s3_endpoint = NULL;
char	   *pyroscope_s3_url_style = NULL;
char	   *pyroscope_s3_region = NULL;
char	   *pyroscope_s3_access_key = NULL;
char	   *pyroscope_s3_secret_key = NULL;
int			pyroscope_s3_multipart_threshold = 64 * 1024;	/* kB */
int			pyroscope_s3_part_size = 16 * 1024; /* kB */
int			pyroscope_objstore_timeout = 30000; /* ms */
int			pyroscope_objstore_connect_timeout = 5000;	/* ms */
int			pyroscope_objstore_retries = 3;
int			pyroscope_offload_test_delay = 0;	/* ms */
char	   *pyroscope_offload_test_pause = NULL;

/* counters: in shared memory when preloaded, else in this process */
typedef struct ObjStoreShared
{
	pg_atomic_uint64 counters[OBJC_NCOUNTERS];
} ObjStoreShared;

static ObjStoreShared *objstore_shared = NULL;
static ObjStoreShared objstore_local;
static bool objstore_local_ready = false;

static const char *const counter_names[OBJC_NCOUNTERS][2] = {
	[OBJC_UPLOADS] = {"pyroscope_objstore_uploads_total", "Objects written to the object store."},
	[OBJC_UPLOAD_BYTES] = {"pyroscope_objstore_upload_bytes_total", "Bytes written to the object store."},
	[OBJC_DOWNLOADS] = {"pyroscope_objstore_downloads_total", "Ranged reads from the object store."},
	[OBJC_DOWNLOAD_BYTES] = {"pyroscope_objstore_download_bytes_total", "Bytes read from the object store."},
	[OBJC_DELETES] = {"pyroscope_objstore_deletes_total", "Objects deleted from the object store."},
	[OBJC_CACHE_HITS] = {"pyroscope_objstore_cache_hits_total", "Block ranges served by the local cache."},
	[OBJC_CACHE_MISSES] = {"pyroscope_objstore_cache_misses_total", "Block ranges not in the local cache."},
	[OBJC_CACHE_HIT_BYTES] = {"pyroscope_objstore_cache_hit_bytes_total", "Bytes served by the local cache."},
	[OBJC_ERRORS] = {"pyroscope_objstore_errors_total", "Failed object store operations."},
	[OBJC_BLOCKS_OFFLOADED] = {"pyroscope_objstore_blocks_offloaded_total", "Blocks moved to the object store."},
};

/* Shared memory of the object store: its counters. */
Size
pyroscope_objstore_shmem_size(void)
{
	return MAXALIGN(sizeof(ObjStoreShared));
}

/* Attach the counters (the caller holds AddinShmemInitLock). */
void
pyroscope_objstore_shmem_init(void)
{
	bool		found;

	objstore_shared = ShmemInitStruct("pyroscope objstore", sizeof(ObjStoreShared), &found);
	if (!found)
		for (int i = 0; i < OBJC_NCOUNTERS; i++)
			pg_atomic_init_u64(&objstore_shared->counters[i], 0);
}

static ObjStoreShared *
counters(void)
{
	if (objstore_shared)
		return objstore_shared;
	if (!objstore_local_ready)
	{
		for (int i = 0; i < OBJC_NCOUNTERS; i++)
			pg_atomic_init_u64(&objstore_local.counters[i], 0);
		objstore_local_ready = true;
	}
	return &objstore_local;
}

void
objstore_count(ObjStoreCounter c, uint64 n)
{
	pg_atomic_fetch_add_u64(&counters()->counters[c], n);
}

uint64
objstore_counter(ObjStoreCounter c)
{
	return pg_atomic_read_u64(&counters()->counters[c]);
}

void
pyroscope_objstore_metrics(StringInfo out)
{
	for (int i = 0; i < OBJC_NCOUNTERS; i++)
		appendStringInfo(out, "# HELP %s %s\n# TYPE %s counter\n%s " UINT64_FORMAT "\n",
						 counter_names[i][0], counter_names[i][1], counter_names[i][0],
						 counter_names[i][0], objstore_counter(i));
}

/*
 * The test pause: when pyroscope.offload_test_pause names point, sleep
 * pyroscope.offload_test_delay.  Returns false if a cancel or termination
 * arrived meanwhile (the caller stops what it is doing).  Never throws.
 */
bool
objstore_test_pause(const char *point)
{
	int			left = pyroscope_offload_test_delay;

	if (left <= 0 || pyroscope_offload_test_pause == NULL ||
		strcmp(pyroscope_offload_test_pause, point) != 0)
		return true;
	elog(LOG, "pyroscope: test pause \"%s\" for %d ms", point, left);
	return objstore_sleep(left);
}

/*
 * Sleep ms, waking every 10 ms to notice a cancel or termination; false if
 * one came (the caller stops what it is doing).  Never throws.
 */
bool
objstore_sleep(long ms)
{
	while (ms > 0)
	{
		if (objstore_stop_requested())
			return false;
		pg_usleep(10000L);
		ms -= 10;
	}
	return !objstore_stop_requested();
}

ObjStoreStatus
objstore_error(ObjStoreError *e, ObjStoreStatus s, const char *fmt,...)
{
	va_list		ap;

	e->status = s;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return s;
}

/* Keys are kept to [A-Za-z0-9/._-], not empty, no "..", no leading '/'. */
bool
objstore_key_valid(const char *key)
{
	if (key == NULL || key[0] == '\0' || key[0] == '/' || strlen(key) > 512 ||
		strstr(key, "..") != NULL || strstr(key, "//") != NULL)
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/*
 * Parse the GUCs into a configuration.  Cheap, so done on every call:
 * a SET or reload takes effect at once.
 */
static bool
get_config(ObjStoreConfig *c, ObjStoreError *e)
{
	const char *url = pyroscope_objstore_url ? pyroscope_objstore_url : "";

	memset(c, 0, sizeof(*c));
	if (url[0] == '\0')
	{
		snprintf(c->dir, sizeof(c->dir), "%s/pyroscope_objects", DataDir);
		return true;
	}
	if (strncmp(url, "file://", 7) == 0 || url[0] == '/')
	{
		const char *path = url[0] == '/' ? url : url + 7;

		if (path[0] != '/')
		{
			objstore_error(e, OBJ_ERROR, "pyroscope.object_store_url \"%s\" is not an absolute file:// URL", url);
			return false;
		}
		strlcpy(c->dir, path, sizeof(c->dir));
		/* drop trailing slashes */
		for (size_t n = strlen(c->dir); n > 1 && c->dir[n - 1] == '/'; n--)
			c->dir[n - 1] = '\0';
		return true;
	}
	if (strncmp(url, "s3://", 5) == 0)
	{
		const char *b = url + 5;
		const char *slash = strchr(b, '/');
		size_t		blen = slash ? (size_t) (slash - b) : strlen(b);
		const char *ep = pyroscope_s3_endpoint ? pyroscope_s3_endpoint : "";
		const char *hp;
		const char *colon;
		size_t		hlen;

		c->s3 = true;
		c->virtual_host = pyroscope_s3_url_style && strcmp(pyroscope_s3_url_style, "virtual") == 0;
		if (blen == 0 || blen >= sizeof(c->bucket))
		{
			objstore_error(e, OBJ_ERROR, "pyroscope.object_store_url \"%s\" names no bucket", url);
			return false;
		}
		memcpy(c->bucket, b, blen);
		c->bucket[blen] = '\0';
		for (const char *p = c->bucket; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			{
				objstore_error(e, OBJ_ERROR, "bucket name \"%s\" is not a valid S3 bucket name", c->bucket);
				return false;
			}
		if (slash && slash[1])
		{
			snprintf(c->prefix, sizeof(c->prefix), "%s%s", slash + 1,
					 slash[strlen(slash) - 1] == '/' ? "" : "/");
			if (!objstore_key_valid(c->prefix))
			{
				objstore_error(e, OBJ_ERROR, "key prefix \"%s\" may only hold A-Z a-z 0-9 / . _ -", slash + 1);
				return false;
			}
		}
		if (ep[0] == '\0')
		{
			strlcpy(c->scheme, "https", sizeof(c->scheme));
			snprintf(c->host, sizeof(c->host), "s3.%s.amazonaws.com", pyroscope_s3_region);
			c->port = 443;
			return true;
		}
		if (strncmp(ep, "http://", 7) == 0)
		{
			strlcpy(c->scheme, "http", sizeof(c->scheme));
			hp = ep + 7;
			c->port = 80;
		}
		else if (strncmp(ep, "https://", 8) == 0)
		{
			strlcpy(c->scheme, "https", sizeof(c->scheme));
			hp = ep + 8;
			c->port = 443;
		}
		else
		{
			objstore_error(e, OBJ_ERROR, "pyroscope.s3_endpoint \"%s\" is not an http:// or https:// URL", ep);
			return false;
		}
		hlen = strcspn(hp, "/");
		colon = memchr(hp, ':', hlen);
		if (colon)
		{
			char	   *end;
			long		port = strtol(colon + 1, &end, 10);

			if (end != hp + hlen || port <= 0 || port > 65535)
			{
				objstore_error(e, OBJ_ERROR, "pyroscope.s3_endpoint \"%s\" has an invalid port", ep);
				return false;
			}
			c->port = (int) port;
			hlen = colon - hp;
		}
		if (hlen == 0 || hlen >= sizeof(c->host))
		{
			objstore_error(e, OBJ_ERROR, "pyroscope.s3_endpoint \"%s\" has no host", ep);
			return false;
		}
		memcpy(c->host, hp, hlen);
		c->host[hlen] = '\0';
		return true;
	}
	objstore_error(e, OBJ_ERROR, "pyroscope.object_store_url \"%s\" is neither file:// nor s3://", url);
	return false;
}

/* A short name of the configured store, for messages. */
const char *
objstore_describe(void)
{
	static char buf[MAXPGPATH + 300];
	ObjStoreConfig c;
	ObjStoreError e;

	if (!get_config(&c, &e))
		return pyroscope_objstore_url;
	if (c.s3)
		snprintf(buf, sizeof(buf), "s3://%s/%s at %s://%s:%d", c.bucket, c.prefix,
				 c.scheme, c.host, c.port);
	else
		snprintf(buf, sizeof(buf), "file://%s", c.dir);
	return buf;
}

#define DISPATCH(call_fs, call_s3) \
	do { \
		ObjStoreConfig c; \
		ObjStoreStatus s; \
		e->status = OBJ_OK; \
		e->msg[0] = '\0'; \
		if (!objstore_key_valid(key)) \
			return objstore_error(e, OBJ_ERROR, "invalid object key \"%s\"", key); \
		if (!get_config(&c, e)) \
			s = OBJ_ERROR; \
		else \
			s = c.s3 ? (call_s3) : (call_fs); \
		if (s == OBJ_ERROR) \
			objstore_count(OBJC_ERRORS, 1); \
		return s; \
	} while (0)

ObjStoreStatus
objstore_put(const char *key, const uint8 *data, size_t len, ObjStoreError *e)
{
	DISPATCH(objstore_fs_put(&c, key, data, len, e), objstore_s3_put(&c, key, data, len, e));
}

ObjStoreStatus
objstore_get(const char *key, uint64 offset, uint64 len, uint8 *buf, ObjStoreError *e)
{
	if (!objstore_test_pause("read"))
		return objstore_error(e, OBJ_INTERRUPTED, "read of \"%s\" interrupted", key);
	DISPATCH(objstore_fs_get(&c, key, offset, len, buf, e),
			 objstore_s3_get(&c, key, offset, len, buf, e));
}

ObjStoreStatus
objstore_head(const char *key, uint64 *size, ObjStoreError *e)
{
	DISPATCH(objstore_fs_head(&c, key, size, e), objstore_s3_head(&c, key, size, e));
}

ObjStoreStatus
objstore_delete(const char *key, ObjStoreError *e)
{
	DISPATCH(objstore_fs_delete(&c, key, e), objstore_s3_delete(&c, key, e));
}

ObjStoreStatus
objstore_list(const char *prefix, ObjStoreListFn fn, void *arg, ObjStoreError *e)
{
	ObjStoreConfig c;
	ObjStoreStatus s;

	e->status = OBJ_OK;
	e->msg[0] = '\0';
	if (prefix[0] != '\0' && !objstore_key_valid(prefix))
		return objstore_error(e, OBJ_ERROR, "invalid key prefix \"%s\"", prefix);
	if (!get_config(&c, e))
		s = OBJ_ERROR;
	else
		s = c.s3 ? objstore_s3_list(&c, prefix, fn, arg, e)
			: objstore_fs_list(&c, prefix, fn, arg, e);
	if (s == OBJ_ERROR)
		objstore_count(OBJC_ERRORS, 1);
	return s;
}

/*
 * Report a failed call at elevel.  A pending interrupt wins: the error a
 * user sees after a cancel or statement timeout is the cancel itself.
 */
void
objstore_report(int elevel, const ObjStoreError *e, const char *what)
{
	if (e->status == OBJ_INTERRUPTED || InterruptPending)
		CHECK_FOR_INTERRUPTS();
	ereport(elevel,
			(errcode(e->status == OBJ_NOT_FOUND ? ERRCODE_UNDEFINED_OBJECT
					 : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("%s in object store \"%s\": %s", what, objstore_describe(), e->msg)));
}

/*-------------------------------------------------------------------------
 *
 * objstore_cache.c
 *	  Cold reads: the block reader's fetch callback for offloaded blocks,
 *	  and the local cache of the byte ranges it fetched.
 *
 * The reader asks for the ranges a query needs (footer, directory, the
 * sections of the selected series and times), so a cache miss costs one
 * ranged GET of exactly that range.  Each range is cached as a file
 * <cache_dir>/<sha256(key) prefix>-<offset>-<len>; objects never change
 * under a key (a block's key is derived from its id and holds that
 * block's bytes only), so cached ranges never go stale.  Files are written
 * to a temporary name and renamed, so concurrent backends see whole files
 * or none; a hit touches the file's mtime, and when the directory grows
 * past pyroscope.cache_size the least recently used files are removed.
 *
 * The fetch callback runs inside the core block reader: it never throws
 * (plain POSIX calls, pyro_malloc, the never-throwing objstore layer).
 *
 *-------------------------------------------------------------------------
 */
#include "objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "sigv4.h"

char	   *pyroscope_cache_dir = NULL;
int			pyroscope_cache_size = 1024 * 1024; /* kB */
static uint64 written_since_scan = 0;
static bool scanned_once = false;

#define NAME_HASH_LEN 40

/* the cache directory (created on demand); false if caching is off */
static bool
cache_dir(char *out)
{
	if (pyroscope_cache_size <= 0)
		return false;
	if (pyroscope_cache_dir && pyroscope_cache_dir[0])
		strlcpy(out, pyroscope_cache_dir, MAXPGPATH);
	else
		snprintf(out, MAXPGPATH, "%s/pyroscope_cache", DataDir);
	if (mkdir(out, S_IRWXU) != 0 && errno != EEXIST)
		return false;
	return true;
}

static void
key_hash(const char *key, char *out)
{
	char		hex[SIGV4_HEX_LEN + 1];

	sigv4_sha256_hex(key, strlen(key), hex);
	memcpy(out, hex, NAME_HASH_LEN);
	out[NAME_HASH_LEN] = '\0';
}

/* read exactly len bytes of a cached range; false on any miss */
static bool
cache_read(const char *path, uint8 *buf, uint64 len)
{
	int			fd = open(path, O_RDONLY | PG_BINARY);
	struct stat st;
	uint64		done = 0;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || (uint64) st.st_size != len)
	{
		close(fd);
		return false;
	}
	while (done < len)
	{
		ssize_t		n = read(fd, buf + done, Min(len - done, (uint64) 1 << 20));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			close(fd);
			return false;
		}
		done += n;
	}
	/* mark as recently used */
	(void) futimens(fd, NULL);
	close(fd);
	return true;
}

typedef struct CacheEntry
{
	time_t		mtime;
	uint64		size;
	char		name[NAME_HASH_LEN + 48];
} CacheEntry;

static int
cmp_entry(const void *a, const void *b)
{
	const CacheEntry *x = a,
			   *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime ? 1 : strcmp(x->name, y->name);
}

/*
 * Remove the least recently used files until the cache holds at most 90%
 * of pyroscope.cache_size.  With only_key_hash, remove that object's files
 * instead.  Memory from malloc, freed here; errors are ignored (the cache
 * is only a cache).
 */
static void
cache_evict(const char *dir, const char *only_key_hash)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	CacheEntry *ents = NULL;
	size_t		n = 0,
				cap = 0;
	uint64		total = 0;
	uint64		limit = (uint64) pyroscope_cache_size * 1024;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
	{
		char		path[MAXPGPATH];
		struct stat st;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(ents->name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (only_key_hash)
		{
			if (strncmp(de->d_name, only_key_hash, NAME_HASH_LEN) == 0)
				unlink(path);
			continue;
		}
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap)
		{
			size_t		ncap = cap ? cap * 2 : 256;
			CacheEntry *t = realloc(ents, ncap * sizeof(CacheEntry));

			if (t == NULL)
				break;
			ents = t;
			cap = ncap;
		}
		ents[n].mtime = st.st_mtime;
		ents[n].size = (uint64) st.st_size;
		strlcpy(ents[n].name, de->d_name, sizeof(ents[n].name));
		total += ents[n].size;
		n++;
	}
	closedir(d);
	if (!only_key_hash && total > limit)
	{
		qsort(ents, n, sizeof(CacheEntry), cmp_entry);
		for (size_t i = 0; i < n && total > limit / 10 * 9; i++)
		{
			char		path[MAXPGPATH];

			snprintf(path, sizeof(path), "%s/%s", dir, ents[i].name);
			if (unlink(path) == 0)
				total -= ents[i].size;
		}
	}
	free(ents);
}

/* store a fetched range: temporary file, then rename */
static void
cache_write(const char *dir, const char *path, const uint8 *buf, uint64 len)
{
	char		tmp[MAXPGPATH];
	int			fd;
	uint64		done = 0;

	if ((uint64) pyroscope_cache_size * 1024 < len)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, MyProcPid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
		return;
	while (done < len)
	{
		ssize_t		n = write(fd, buf + done, Min(len - done, (uint64) 1 << 20));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			close(fd);
			unlink(tmp);
			return;
		}
		done += n;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
	{
		unlink(tmp);
		return;
	}
	written_since_scan += len;
	if (!scanned_once || written_since_scan > (uint64) pyroscope_cache_size * 1024 / 16)
	{
		scanned_once = true;
		written_since_scan = 0;
		cache_evict(dir, NULL);
	}
}

PyroStatus
pyroscope_objstore_block_fetch(void *arg, uint64_t offset, uint64_t len, uint8_t **data,
							   PyroError *err)
{
	ObjStoreBlock *b = (ObjStoreBlock *) arg;
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];
	char		hash[NAME_HASH_LEN + 1];
	bool		cached;
	uint8	   *buf;
	ObjStoreError e;

	*data = NULL;
	if (offset > b->size || len > b->size - offset)
		return pyro_error_set(err, PYRO_ECORRUPT,
							  "range %llu+%llu is outside block %lld of %llu bytes",
							  (unsigned long long) offset, (unsigned long long) len,
							  (long long) b->block_id, (unsigned long long) b->size);
	buf = pyro_malloc(len ? len : 1);
	if (buf == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading block %lld",
							  (long long) b->block_id);
	if (len == 0)
	{
		*data = buf;
		return PYRO_OK;
	}

	cached = cache_dir(dir);
	if (cached)
	{
		key_hash(b->object_key, hash);
		snprintf(path, sizeof(path), "%s/%s-%llu-%llu", dir, hash,
				 (unsigned long long) offset, (unsigned long long) len);
		if (cache_read(path, buf, len))
		{
			objstore_count(OBJC_CACHE_HITS, 1);
			objstore_count(OBJC_CACHE_HIT_BYTES, len);
			b->bytes_from_cache += len;
			*data = buf;
			return PYRO_OK;
		}
		objstore_count(OBJC_CACHE_MISSES, 1);
	}

	if (objstore_get(b->object_key, offset, len, buf, &e) != OBJ_OK)
	{
		pyro_free(buf);
		if (e.status == OBJ_INTERRUPTED)
			return pyro_error_set(err, PYRO_EINVAL, "reading block %lld was interrupted",
								  (long long) b->block_id);
		return pyro_error_set(err, PYRO_EINVAL,
							  "could not read block %lld (object \"%s\") from object store \"%s\": %s",
							  (long long) b->block_id, b->object_key, objstore_describe(), e.msg);
	}
	b->bytes_downloaded += len;
	if (cached)
		cache_write(dir, path, buf, len);
	*data = buf;
	return PYRO_OK;
}

void
objstore_cache_forget(const char *key)
{
	char		dir[MAXPGPATH];
	char		hash[NAME_HASH_LEN + 1];

	if (!cache_dir(dir))
		return;
	key_hash(key, hash);
	cache_evict(dir, hash);
}

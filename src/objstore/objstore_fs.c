/*-------------------------------------------------------------------------
 *
 * objstore_fs.c
 *	  The filesystem backend of the object store: an object is a file
 *	  <dir>/<key>.  Writes are atomic (a temporary file in the same
 *	  directory, fsync, rename, fsync of the directory), so a reader sees
 *	  either no object or the whole of it, and a crash mid-write leaves at
 *	  most a temporary file, which listing ignores and the next write of
 *	  the same key replaces.  Ranged reads use pread.
 *
 * Like every backend it never throws (see objstore.h).
 *
 *-------------------------------------------------------------------------
 */
#include "objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"

#define TMP_MARK ".tmp."

static bool
object_path(const ObjStoreConfig *c, const char *key, char *path, ObjStoreError *e)
{
	if (snprintf(path, MAXPGPATH, "%s/%s", c->dir, key) >= MAXPGPATH)
	{
		objstore_error(e, OBJ_ERROR, "object path of key \"%s\" is too long", key);
		return false;
	}
	return true;
}

/* mkdir -p of the directories above path (which is under c->dir) */
static bool
make_parents(const char *path, ObjStoreError *e)
{
	char		buf[MAXPGPATH];

	strlcpy(buf, path, sizeof(buf));
	for (char *p = buf + 1; *p; p++)
	{
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, S_IRWXU) != 0 && errno != EEXIST)
		{
			objstore_error(e, OBJ_ERROR, "could not create directory \"%s\": %m", buf);
			return false;
		}
		*p = '/';
	}
	return true;
}

static bool
fsync_parent(const char *path, ObjStoreError *e)
{
	char		dir[MAXPGPATH];
	char	   *slash;
	int			fd;

	strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return true;
	*slash = '\0';
	fd = open(dir, O_RDONLY | PG_BINARY);
	if (fd < 0 || fsync(fd) != 0)
	{
		objstore_error(e, OBJ_ERROR, "could not fsync directory \"%s\": %m", dir);
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

static bool
write_all(int fd, const uint8 *data, size_t len, const char *path, ObjStoreError *e)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, data, Min(len, (size_t) 1 << 20));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			if (n == 0)
				errno = ENOSPC;
			objstore_error(e, OBJ_ERROR, "could not write file \"%s\": %m", path);
			return false;
		}
		data += n;
		len -= n;
	}
	return true;
}

ObjStoreStatus
objstore_fs_put(const ObjStoreConfig *c, const char *key, const uint8 *data, size_t len,
				ObjStoreError *e)
{
	char		path[MAXPGPATH];
	char		tmp[MAXPGPATH];
	int			fd;
	size_t		half = len / 2;

	if (!object_path(c, key, path, e))
		return OBJ_ERROR;
	if (snprintf(tmp, sizeof(tmp), "%s" TMP_MARK "%d", path, MyProcPid) >= (int) sizeof(tmp))
		return objstore_error(e, OBJ_ERROR, "object path of key \"%s\" is too long", key);
	if (!make_parents(path, e))
		return OBJ_ERROR;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
		return objstore_error(e, OBJ_ERROR, "could not create file \"%s\": %m", tmp);
	if (!write_all(fd, data, half, tmp, e))
		goto fail;
	if (!objstore_test_pause("upload"))
	{
		objstore_error(e, OBJ_INTERRUPTED, "upload of \"%s\" interrupted", key);
		goto fail;
	}
	if (!write_all(fd, data + half, len - half, tmp, e))
		goto fail;
	if (fsync(fd) != 0)
	{
		objstore_error(e, OBJ_ERROR, "could not fsync file \"%s\": %m", tmp);
		goto fail;
	}
	if (close(fd) != 0)
	{
		fd = -1;
		objstore_error(e, OBJ_ERROR, "could not close file \"%s\": %m", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
	{
		objstore_error(e, OBJ_ERROR, "could not rename file \"%s\" to \"%s\": %m", tmp, path);
		goto fail;
	}
	if (!fsync_parent(path, e))
		return OBJ_ERROR;
	objstore_count(OBJC_UPLOADS, 1);
	objstore_count(OBJC_UPLOAD_BYTES, len);
	return OBJ_OK;

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return e->status;
}

ObjStoreStatus
objstore_fs_get(const ObjStoreConfig *c, const char *key, uint64 offset, uint64 len,
				uint8 *buf, ObjStoreError *e)
{
	char		path[MAXPGPATH];
	int			fd;
	uint64		done = 0;

	if (!object_path(c, key, path, e))
		return OBJ_ERROR;
	fd = open(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		return objstore_error(e, errno == ENOENT ? OBJ_NOT_FOUND : OBJ_ERROR,
							  "could not open file \"%s\": %m", path);
	while (done < len)
	{
		ssize_t		n;

		if (objstore_stop_requested())
		{
			close(fd);
			return objstore_error(e, OBJ_INTERRUPTED, "read of \"%s\" interrupted", key);
		}
		n = pread(fd, buf + done, Min(len - done, (uint64) 1 << 20), (off_t) (offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			objstore_error(e, OBJ_ERROR, "could not read file \"%s\": %m", path);
			close(fd);
			return OBJ_ERROR;
		}
		if (n == 0)
		{
			close(fd);
			return objstore_error(e, OBJ_ERROR,
								  "object \"%s\" ends before byte " UINT64_FORMAT, key, offset + len);
		}
		done += n;
	}
	close(fd);
	objstore_count(OBJC_DOWNLOADS, 1);
	objstore_count(OBJC_DOWNLOAD_BYTES, len);
	return OBJ_OK;
}

ObjStoreStatus
objstore_fs_head(const ObjStoreConfig *c, const char *key, uint64 *size, ObjStoreError *e)
{
	char		path[MAXPGPATH];
	struct stat st;

	if (!object_path(c, key, path, e))
		return OBJ_ERROR;
	if (stat(path, &st) != 0)
		return objstore_error(e, errno == ENOENT ? OBJ_NOT_FOUND : OBJ_ERROR,
							  "could not stat file \"%s\": %m", path);
	*size = (uint64) st.st_size;
	return OBJ_OK;
}

ObjStoreStatus
objstore_fs_delete(const ObjStoreConfig *c, const char *key, ObjStoreError *e)
{
	char		path[MAXPGPATH];

	if (!object_path(c, key, path, e))
		return OBJ_ERROR;
	if (unlink(path) != 0 && errno != ENOENT)
		return objstore_error(e, OBJ_ERROR, "could not remove file \"%s\": %m", path);
	objstore_count(OBJC_DELETES, 1);
	return OBJ_OK;
}

/* Walk dir (relative key rel) recursively, reporting keys under prefix. */
/*
 * Remove the temporary file of an upload that can no longer finish: its
 * process (the pid after TMP_MARK) is gone, or it is over an hour old (the
 * pid may have been reused).  Listings find them, so the offloader's orphan
 * sweep clears what killed uploads left.
 */
static void
sweep_temp_file(const char *full, const char *pid_str)
{
	struct stat st;
	char	   *end;
	long		pid = strtol(pid_str, &end, 10);
	bool		gone;

	if (end == pid_str || *end != '\0' || pid <= 0 || stat(full, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	gone = kill((pid_t) pid, 0) != 0 && errno == ESRCH;
	if (gone || time(NULL) - st.st_mtime > 3600)
		(void) unlink(full);
}

static ObjStoreStatus
list_dir(const char *root, const char *rel, const char *prefix, ObjStoreListFn fn,
		 void *arg, bool *stop, int depth, ObjStoreError *e)
{
	char		path[MAXPGPATH];
	DIR		   *d;
	struct dirent *de;

	if (depth > 32)
		return OBJ_OK;
	snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	d = opendir(path);
	if (d == NULL)
	{
		if (errno == ENOENT)
			return OBJ_OK;
		return objstore_error(e, OBJ_ERROR, "could not open directory \"%s\": %m", path);
	}
	while (!*stop && (de = readdir(d)) != NULL)
	{
		char		key[MAXPGPATH];
		char		full[MAXPGPATH];
		struct stat st;
		size_t		klen;

		if (de->d_name[0] == '.')
			continue;
		if (strstr(de->d_name, TMP_MARK) != NULL)
		{
			snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
			sweep_temp_file(full, strstr(de->d_name, TMP_MARK) + strlen(TMP_MARK));
			continue;
		}
		if (snprintf(key, sizeof(key), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int) sizeof(key))
			continue;
		snprintf(full, sizeof(full), "%s/%s", root, key);
		if (stat(full, &st) != 0)
			continue;
		klen = strlen(key);
		if (S_ISDIR(st.st_mode))
		{
			/* descend only where keys under prefix can be */
			size_t		plen = strlen(prefix);

			if (strncmp(key, prefix, Min(klen, plen)) != 0)
				continue;
			if (list_dir(root, key, prefix, fn, arg, stop, depth + 1, e) != OBJ_OK)
			{
				closedir(d);
				return e->status;
			}
		}
		else if (S_ISREG(st.st_mode) && strncmp(key, prefix, strlen(prefix)) == 0)
		{
			if (!fn(arg, key, (uint64) st.st_size))
				*stop = true;
		}
	}
	closedir(d);
	return OBJ_OK;
}

ObjStoreStatus
objstore_fs_list(const ObjStoreConfig *c, const char *prefix, ObjStoreListFn fn, void *arg,
				 ObjStoreError *e)
{
	bool		stop = false;

	return list_dir(c->dir, "", prefix, fn, arg, &stop, 0, e);
}

/*-------------------------------------------------------------------------
 *
 * gzip.c
 *	  gzip compression and bounded decompression with libdeflate.
 *
 * libdeflate allocates its (de)compressor state with malloc, and its only
 * hook for that (libdeflate_set_memory_allocator) is process-global and
 * would affect every other user of the library in the backend.  So we
 * leave it alone and simply allocate and free a (de)compressor per call;
 * the state is small (a decompressor is ~10 KB, a compressor up to a few
 * hundred KB at high levels) next to the data being processed.  Output
 * buffers go through the pyro allocator as usual.
 *
 *-------------------------------------------------------------------------
 */
#include "pprof.h"

#include <libdeflate.h>

#define GUNZIP_MIN_GUESS	4096

/*
 * Decompress a gzip stream of one or more members, appending the output to
 * out.  max_out bounds the total decompressed size (0 = only the global
 * allocation cap).  The ISIZE trailer of the last member is only a hint for
 * the first buffer size: it is attacker-controlled and, with several
 * members, not even the total.
 */
PyroStatus
pyro_gunzip(const uint8_t *data, size_t len, size_t max_out, PyroBuf *out,
			PyroError *err)
{
	struct libdeflate_decompressor *d;
	size_t		start = out->len;
	size_t		produced = 0;
	size_t		pos = 0;
	size_t		guess;
	PyroStatus	st = PYRO_OK;

	if (max_out == 0 || max_out > PYRO_MAX_ALLOC - 1)
		max_out = PYRO_MAX_ALLOC - 1;
	if (data == NULL || len < 18 || !pyro_is_gzip(data, len))
		return pyro_error_set(err, PYRO_EINVAL, "invalid gzip data");

	/* initial guess: ISIZE of the last member, clamped */
	guess = (size_t) data[len - 4] | ((size_t) data[len - 3] << 8) |
		((size_t) data[len - 2] << 16) | ((size_t) data[len - 1] << 24);
	if (guess < GUNZIP_MIN_GUESS)
		guess = GUNZIP_MIN_GUESS;
	if (guess > max_out)
		guess = max_out;

	d = libdeflate_alloc_decompressor();
	if (d == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory allocating a gzip decompressor");

	while (pos < len)
	{
		size_t		avail = guess;
		size_t		in_used = 0;
		size_t		out_used = 0;
		enum libdeflate_result res;

		if (avail > max_out - produced)
			avail = max_out - produced;
		for (;;)
		{
			if (!pyro_buf_reserve(out, avail))
			{
				st = pyro_error_set(err, PYRO_ENOMEM, "out of memory decompressing gzip data");
				goto done;
			}
			res = libdeflate_gzip_decompress_ex(d, data + pos, len - pos,
												out->data + out->len, avail,
												&in_used, &out_used);
			if (res != LIBDEFLATE_INSUFFICIENT_SPACE)
				break;
			if (avail >= max_out - produced)
			{
				st = pyro_error_set(err, PYRO_ELIMIT,
									"decompressed size exceeds limit of %zu bytes", max_out);
				goto done;
			}
			/* grow geometrically, but never past the limit */
			avail = avail > (max_out - produced) / 2 ? max_out - produced : avail * 2;
		}
		if (res != LIBDEFLATE_SUCCESS || in_used == 0)
		{
			st = pyro_error_set(err, PYRO_EINVAL, "invalid gzip data");
			goto done;
		}
		out->len += out_used;
		out->data[out->len] = '\0';
		produced += out_used;
		pos += in_used;
		/* a following member is probably of similar size */
		guess = out_used < GUNZIP_MIN_GUESS ? GUNZIP_MIN_GUESS : out_used;
	}

done:
	libdeflate_free_decompressor(d);
	if (st != PYRO_OK)
	{
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return st;
}

/* Compress data as one gzip member at level (clamped to 0..12), appending to out. */
PyroStatus
pyro_gzip(const uint8_t *data, size_t len, int level, PyroBuf *out,
		  PyroError *err)
{
	struct libdeflate_compressor *c;
	size_t		bound;
	size_t		n;
	static const uint8_t empty[1] = {0};

	if (level < 0)
		level = 0;
	if (level > 12)
		level = 12;
	if (data == NULL)
	{
		if (len != 0)
			return pyro_error_set(err, PYRO_EINVAL, "no data to compress");
		data = empty;
	}
	c = libdeflate_alloc_compressor(level);
	if (c == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory allocating a gzip compressor");
	bound = libdeflate_gzip_compress_bound(c, len);
	if (bound < len || !pyro_buf_reserve(out, bound))
	{
		libdeflate_free_compressor(c);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory compressing gzip data");
	}
	n = libdeflate_gzip_compress(c, data, len, out->data + out->len, bound);
	libdeflate_free_compressor(c);
	if (n == 0)
		return pyro_error_set(err, PYRO_ENOMEM, "could not compress gzip data");
	out->len += n;
	out->data[out->len] = '\0';
	return PYRO_OK;
}

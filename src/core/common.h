/*-------------------------------------------------------------------------
 *
 * common.h
 *	  Basic definitions shared by the pure-C core of the pyroscope extension:
 *	  the allocator hooks, error reporting, growable byte buffers and varint
 *	  helpers.
 *
 * The core never includes postgres.h.  All of its memory goes through the
 * hooks below; the engine points them at memory contexts, the unit tests
 * and fuzzers at malloc.  An allocation failure returns NULL (it never
 * longjmps), and every core function reports failure through a PyroError.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_COMMON_H
#define PYRO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Status codes.  The engine maps them to SQLSTATEs, the HTTP layer to
 * status codes and Connect error codes.
 */
typedef enum PyroStatus
{
	PYRO_OK = 0,
	PYRO_ENOMEM,				/* allocation failed or memory budget exceeded */
	PYRO_EINVAL,				/* malformed input (bad bytes, bad syntax) */
	PYRO_ELIMIT,				/* input over a configured limit */
	PYRO_ECORRUPT				/* stored data failed validation */
} PyroStatus;

/* Error detail filled in by any core function that fails. */
typedef struct PyroError
{
	PyroStatus	code;
	char		msg[256];		/* lower-case, no trailing period */
} PyroError;

/*
 * Allocator hooks.  Backends are single-threaded, so a process-global table
 * is enough.  realloc_fn receives the old size so that an accounting
 * allocator can keep a budget.
 */
typedef struct PyroAllocator
{
	void	   *(*alloc_fn) (void *ctx, size_t size);
	void	   *(*realloc_fn) (void *ctx, void *ptr, size_t old_size, size_t new_size);
	void		(*free_fn) (void *ctx, void *ptr);
	void	   *ctx;
} PyroAllocator;

/* Growable byte buffer. */
typedef struct PyroBuf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	bool		oom;			/* an append failed; contents are truncated */
} PyroBuf;

#define PYRO_MAX_ALLOC	((size_t) 0x3FFFFFFF * 4)	/* 4 GiB - 4: sanity cap */

/* varint / zigzag helpers (protobuf wire compatible) */
static inline uint64_t
pyro_zigzag_enc(int64_t v)
{
	return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static inline int64_t
pyro_zigzag_dec(uint64_t v)
{
	return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

/*
 * Read one varint from [*p, end).  Returns false on truncation or on a varint
 * longer than 10 bytes; *p is advanced on success.
 */
static inline bool
pyro_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	const uint8_t *q = *p;
	uint64_t	v = 0;
	int			shift = 0;

	while (q < end)
	{
		uint8_t		b = *q++;

		if (shift == 63 && b > 1)
			return false;
		v |= (uint64_t) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
		{
			*p = q;
			*out = v;
			return true;
		}
		shift += 7;
		if (shift > 63)
			return false;
	}
	return false;
}

/* allocator */
extern void pyro_set_allocator(const PyroAllocator *a);
extern const PyroAllocator *pyro_get_allocator(void);
extern void *pyro_malloc(size_t size);
extern void *pyro_calloc(size_t n, size_t size);
extern void *pyro_realloc(void *ptr, size_t old_size, size_t new_size);
extern void pyro_free(void *ptr);
extern char *pyro_strndup(const char *s, size_t len);

/* overflow-checked size arithmetic; return false on overflow */
extern bool pyro_size_mul(size_t a, size_t b, size_t *out);
extern bool pyro_size_add(size_t a, size_t b, size_t *out);

/*
 * Grow an array of elements of elem_size so that it can hold at least need
 * elements.  *cap is updated.  Returns false on overflow or allocation
 * failure (the old array is left intact).
 */
extern bool pyro_grow(void **arr, size_t *cap, size_t need, size_t elem_size);

/* errors */
extern PyroStatus pyro_error_set(PyroError *err, PyroStatus code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void pyro_error_clear(PyroError *err);

/* buffers */
extern void pyro_buf_init(PyroBuf *b);
extern void pyro_buf_free(PyroBuf *b);
extern bool pyro_buf_reserve(PyroBuf *b, size_t extra);
extern void pyro_buf_append(PyroBuf *b, const void *data, size_t len);
extern void pyro_buf_append_byte(PyroBuf *b, uint8_t c);
extern void pyro_buf_append_str(PyroBuf *b, const char *s);
extern void pyro_buf_printf(PyroBuf *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void pyro_buf_append_varint(PyroBuf *b, uint64_t v);

/* append code point cp as UTF-8; surrogates and values past U+10FFFF become U+FFFD */
extern void pyro_buf_append_utf8(PyroBuf *b, uint32_t cp);

/* append s as a JSON string literal, quotes included; invalid UTF-8 bytes become U+FFFD */
extern void pyro_buf_append_json_str(PyroBuf *b, const char *s, size_t len);
extern void pyro_buf_append_int64(PyroBuf *b, int64_t v);

/* hashing (64-bit, not cryptographic) */
extern uint64_t pyro_hash_bytes(const void *data, size_t len, uint64_t seed);
static inline uint64_t
pyro_hash_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDULL;
	h ^= h >> 33;
	return h;
}

/* UTF-8 validation */
extern bool pyro_utf8_valid(const char *s, size_t len);

/* the value of a hexadecimal digit, or -1 */
extern int	pyro_hex_digit(int c);

#endif							/* PYRO_COMMON_H */

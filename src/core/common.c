/*-------------------------------------------------------------------------
 *
 * common.c
 *	  Allocator hooks, error reporting, byte buffers, hashing and UTF-8
 *	  checks for the pure-C core.
 *
 *-------------------------------------------------------------------------
 */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *
default_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size ? size : 1);
}

static void *
default_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	(void) ctx;
	(void) old_size;
	return realloc(ptr, new_size ? new_size : 1);
}

static void
default_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static PyroAllocator current_allocator = {
	default_alloc, default_realloc, default_free, NULL
};

void
pyro_set_allocator(const PyroAllocator *a)
{
	if (a == NULL)
	{
		current_allocator.alloc_fn = default_alloc;
		current_allocator.realloc_fn = default_realloc;
		current_allocator.free_fn = default_free;
		current_allocator.ctx = NULL;
	}
	else
		current_allocator = *a;
}

const PyroAllocator *
pyro_get_allocator(void)
{
	return &current_allocator;
}

void *
pyro_malloc(size_t size)
{
	if (size > PYRO_MAX_ALLOC)
		return NULL;
	return current_allocator.alloc_fn(current_allocator.ctx, size);
}

void *
pyro_calloc(size_t n, size_t size)
{
	size_t		total;
	void	   *p;

	if (!pyro_size_mul(n, size, &total) || total > PYRO_MAX_ALLOC)
		return NULL;
	p = current_allocator.alloc_fn(current_allocator.ctx, total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *
pyro_realloc(void *ptr, size_t old_size, size_t new_size)
{
	if (new_size > PYRO_MAX_ALLOC)
		return NULL;
	if (ptr == NULL)
		return current_allocator.alloc_fn(current_allocator.ctx, new_size);
	return current_allocator.realloc_fn(current_allocator.ctx, ptr, old_size, new_size);
}

void
pyro_free(void *ptr)
{
	if (ptr)
		current_allocator.free_fn(current_allocator.ctx, ptr);
}

char *
pyro_strndup(const char *s, size_t len)
{
	char	   *r;

	if (len >= PYRO_MAX_ALLOC)
		return NULL;
	r = pyro_malloc(len + 1);
	if (r == NULL)
		return NULL;
	if (len)
		memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

bool
pyro_size_mul(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

bool
pyro_size_add(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

bool
pyro_grow(void **arr, size_t *cap, size_t need, size_t elem_size)
{
	size_t		newcap;
	size_t		oldbytes;
	size_t		newbytes;
	void	   *p;

	if (need <= *cap)
		return true;
	newcap = *cap < 16 ? 16 : *cap;
	while (newcap < need)
	{
		if (!pyro_size_mul(newcap, 2, &newcap))
			return false;
	}
	if (!pyro_size_mul(newcap, elem_size, &newbytes) ||
		!pyro_size_mul(*cap, elem_size, &oldbytes))
		return false;
	p = pyro_realloc(*arr, oldbytes, newbytes);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = newcap;
	return true;
}

PyroStatus
pyro_error_set(PyroError *err, PyroStatus code, const char *fmt,...)
{
	if (err)
	{
		va_list		ap;

		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void
pyro_error_clear(PyroError *err)
{
	if (err)
	{
		err->code = PYRO_OK;
		err->msg[0] = '\0';
	}
}

void
pyro_buf_init(PyroBuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = false;
}

void
pyro_buf_free(PyroBuf *b)
{
	pyro_free(b->data);
	pyro_buf_init(b);
}

bool
pyro_buf_reserve(PyroBuf *b, size_t extra)
{
	size_t		need;

	if (b->oom)
		return false;
	/* fast path: room for extra bytes and the NUL already */
	if (b->cap > b->len && b->cap - b->len > extra)
		return true;
	if (!pyro_size_add(b->len, extra, &need) ||
		!pyro_size_add(need, 1, &need) ||	/* room for a NUL */
		!pyro_grow((void **) &b->data, &b->cap, need, 1))
	{
		b->oom = true;
		return false;
	}
	return true;
}

void
pyro_buf_append(PyroBuf *b, const void *data, size_t len)
{
	if (!pyro_buf_reserve(b, len))
		return;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
pyro_buf_append_byte(PyroBuf *b, uint8_t c)
{
	if (!pyro_buf_reserve(b, 1))
		return;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void
pyro_buf_append_str(PyroBuf *b, const char *s)
{
	pyro_buf_append(b, s, strlen(s));
}

void
pyro_buf_printf(PyroBuf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !pyro_buf_reserve(b, (size_t) n))
	{
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

void
pyro_buf_append_varint(PyroBuf *b, uint64_t v)
{
	uint8_t    *p;

	if ((b->oom || b->cap - b->len <= 10) && !pyro_buf_reserve(b, 10))
		return;
	p = b->data + b->len;
	while (v >= 0x80)
	{
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	b->len = (size_t) (p - b->data);
	b->data[b->len] = '\0';
}

void
pyro_buf_append_utf8(PyroBuf *b, uint32_t cp)
{
	uint8_t		u[4];

	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp < 0x80)
		pyro_buf_append_byte(b, (uint8_t) cp);
	else if (cp < 0x800)
	{
		u[0] = (uint8_t) (0xC0 | (cp >> 6));
		u[1] = (uint8_t) (0x80 | (cp & 0x3F));
		pyro_buf_append(b, u, 2);
	}
	else if (cp < 0x10000)
	{
		u[0] = (uint8_t) (0xE0 | (cp >> 12));
		u[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		u[2] = (uint8_t) (0x80 | (cp & 0x3F));
		pyro_buf_append(b, u, 3);
	}
	else
	{
		u[0] = (uint8_t) (0xF0 | (cp >> 18));
		u[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
		u[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		u[3] = (uint8_t) (0x80 | (cp & 0x3F));
		pyro_buf_append(b, u, 4);
	}
}

void
pyro_buf_append_int64(PyroBuf *b, int64_t v)
{
	char		tmp[24];
	char	   *p = tmp + sizeof(tmp);
	uint64_t	u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

	do
	{
		*--p = (char) ('0' + (u % 10));
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	pyro_buf_append(b, p, (size_t) (tmp + sizeof(tmp) - p));
}

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there
 * are not valid UTF-8.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (avail >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF)
	{
		if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0)
			return 0;			/* overlong */
		if (c == 0xED && s[1] >= 0xA0)
			return 0;			/* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4)
	{
		if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
			(s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90)
			return 0;
		if (c == 0xF4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

bool
pyro_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		size_t		n;

		/* runs of ASCII, eight bytes at a time (most strings are ASCII) */
		while (len - i >= 8)
		{
			uint64_t	w;

			memcpy(&w, p + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (p[i] < 0x80)
		{
			i++;
			continue;
		}
		n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void
pyro_buf_append_json_str(PyroBuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	pyro_buf_append_byte(b, '"');
	while (i < len)
	{
		unsigned char c = p[i];
		size_t		run = i;

		/* copy runs of plain ASCII in one go */
		while (run < len && p[run] >= 0x20 && p[run] < 0x80 &&
			   p[run] != '"' && p[run] != '\\')
			run++;
		if (run > i)
		{
			pyro_buf_append(b, p + i, run - i);
			i = run;
			continue;
		}
		if (c == '"' || c == '\\')
		{
			char		e[2] = {'\\', (char) c};

			pyro_buf_append(b, e, 2);
			i++;
		}
		else if (c < 0x20)
		{
			char		e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			switch (c)
			{
				case '\n':
					pyro_buf_append(b, "\\n", 2);
					break;
				case '\t':
					pyro_buf_append(b, "\\t", 2);
					break;
				case '\r':
					pyro_buf_append(b, "\\r", 2);
					break;
				default:
					pyro_buf_append(b, e, 6);
			}
			i++;
		}
		else
		{
			size_t		n = utf8_seq_len(p + i, len - i);

			if (n == 0)
			{
				pyro_buf_append(b, "\xEF\xBF\xBD", 3);	/* U+FFFD */
				i++;
			}
			else
			{
				pyro_buf_append(b, p + i, n);
				i += n;
			}
		}
	}
	pyro_buf_append_byte(b, '"');
}

/*
 * 64-bit hash of a byte string: a simple multiply-xorshift over 8-byte
 * words, good enough for hash tables (not for anything adversarial beyond
 * bucket distribution; tables also compare keys).
 */
uint64_t
pyro_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t	h = seed ^ (0x9E3779B97F4A7C15ULL * (len + 1));

	while (len >= 8)
	{
		uint64_t	w;

		memcpy(&w, p, 8);
		h ^= w * 0xBF58476D1CE4E5B9ULL;
		h = (h << 27) | (h >> 37);
		h *= 0x94D049BB133111EBULL;
		p += 8;
		len -= 8;
	}
	if (len)
	{
		uint64_t	w = 0;

		memcpy(&w, p, len);
		h ^= w * 0xBF58476D1CE4E5B9ULL;
		h = (h << 27) | (h >> 37);
		h *= 0x94D049BB133111EBULL;
	}
	h ^= h >> 31;
	h *= 0xD6E8FEB86659FD93ULL;
	h ^= h >> 32;
	return h;
}

int
pyro_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

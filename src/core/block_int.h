/*-------------------------------------------------------------------------
 *
 * block_int.h
 *	  Private definitions shared by the PYB1 block writer and reader:
 *	  section kinds, the footer layout, limits, zstd contexts backed by the
 *	  pyro allocator, checksums and a bounds-checked byte reader.
 *
 * The format itself is described in docs/block-format.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_BLOCK_INT_H
#define PYRO_BLOCK_INT_H

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "block.h"

#define PYB1_MAGIC			"PYB1"
#define PYB1_VERSION		1
#define PYB1_HEADER_SIZE	8	/* magic, version, 3 zero bytes */
#define PYB1_FOOTER_SIZE	40

/* section kinds */
#define PYB1_KIND_SYMBOLS	1
#define PYB1_KIND_INDEX		2
#define PYB1_KIND_SAMPLES	3
#define PYB1_KIND_AGG		4
#define PYB1_KIND_IDS		5	/* profile ids, beside each INDEX chunk */
#define PYB1_KIND_TRACES	6	/* span -> trace ids, beside each INDEX chunk */
#define PYB1_NKINDS			7

/* directory flags */
#define PYB1_DIR_IDS		0x01	/* IDS entries present */
#define PYB1_DIR_TRACES		0x02	/* TRACES entries present */

/* sample chunk flags */
#define PYB1_CHUNK_SPANS	0x01

/*
 * Limits.  A section never decompresses to more than PYB1_MAX_RAW bytes
 * nor to more than PYB1_MAX_RATIO times its compressed length (zstd cannot
 * do better than about 43690:1, one 3-byte block header per 128 KiB).
 */
#define PYB1_MAX_RAW		((uint64_t) 1 << 30)
#define PYB1_MAX_RATIO		65536
#define PYB1_MAX_RES		((int64_t) 1 << 40) /* ~34 years in ms */
#define PYB1_MAX_TS			((int64_t) 1 << 62)
#define PYB1_MAX_SERIES		(1u << 24)

/* writer chunking */
#define PYB1_SAMPLE_CHUNK_MS	INT64_C(3600000)	/* one hour */
#define PYB1_INDEX_CHUNK_MS		INT64_C(86400000)	/* one day */
#define PYB1_CHUNK_TARGET_RAW	((size_t) 4 << 20)	/* split bigger chunks */
#define PYB1_INDEX_CHUNK_MAX	65536	/* profiles per index chunk */
#define PYB1_AGG_BUCKETS_PER_CHUNK	60

/* One directory entry (see docs/block-format.md). */
typedef struct PyroBlockEntry
{
	uint32_t	kind;
	uint32_t	series;			/* series index (chunks) */
	uint32_t	level;			/* aggregate resolution index */
	int64_t		t_lo;
	int64_t		t_hi;
	uint64_t	first;			/* first profile ordinal / 0 */
	uint64_t	count;			/* profiles / buckets in the chunk */
	uint64_t	offset;
	uint64_t	clen;
	uint64_t	rawlen;
	uint32_t	crc;
} PyroBlockEntry;

/* floor division and alignment for bucket arithmetic (|t| < 2^62) */
static inline int64_t
pyb1_floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b) != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static inline int64_t
pyb1_align_down(int64_t t, int64_t res)
{
	return pyb1_floor_div(t, res) * res;
}

static inline void
pyb1_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline void
pyb1_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint32_t
pyb1_get_u32(const uint8_t *p)
{
	uint32_t	v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t
pyb1_get_u64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * block_reader.c: for fuzzing only.  When set, section and footer
 * checksums are not enforced, so that a fuzzer can reach the decoders
 * behind them.  Never set in production code.
 */
extern bool pyb1_fuzz_skip_checksums;

/* block_writer.c */
extern uint32_t pyb1_crc32(const uint8_t *data, size_t len);
extern ZSTD_customMem pyb1_zstd_mem(void);

/*
 * A bounds-checked reader over decompressed section bytes.  Every failure
 * sets err (PYRO_ECORRUPT) naming the section.
 */
typedef struct Pyb1Rd
{
	const uint8_t *p;
	const uint8_t *end;
	const char *what;			/* section name for messages */
	PyroError  *err;
} Pyb1Rd;

static inline size_t
pyb1_left(const Pyb1Rd *r)
{
	return (size_t) (r->end - r->p);
}

static inline bool
pyb1_varint(Pyb1Rd *r, uint64_t *v)
{
	if (pyro_read_varint(&r->p, r->end, v))
		return true;
	pyro_error_set(r->err, PYRO_ECORRUPT, "block %s is truncated or malformed", r->what);
	return false;
}

static inline bool
pyb1_svarint(Pyb1Rd *r, int64_t *v)
{
	uint64_t	u;

	if (!pyb1_varint(r, &u))
		return false;
	*v = pyro_zigzag_dec(u);
	return true;
}

/*
 * Read a count of entries that take at least min_size bytes each and check
 * that they can fit in what is left, so that no count can make a reader
 * allocate more than the bytes that could hold it.
 */
static inline bool
pyb1_count(Pyb1Rd *r, size_t min_size, uint64_t limit, uint64_t *out, const char *name)
{
	uint64_t	v;

	if (!pyb1_varint(r, &v))
		return false;
	if (v > limit || (min_size > 0 && v > pyb1_left(r) / min_size))
	{
		pyro_error_set(r->err, PYRO_ECORRUPT,
					   "block %s: %s count %llu exceeds the remaining %zu bytes",
					   r->what, name, (unsigned long long) v, pyb1_left(r));
		return false;
	}
	*out = v;
	return true;
}

/* Read an index below limit. */
static inline bool
pyb1_index(Pyb1Rd *r, uint32_t limit, uint32_t *out, const char *name)
{
	uint64_t	v;

	if (!pyb1_varint(r, &v))
		return false;
	if (v >= limit)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "block %s refers to unknown %s %llu",
					   r->what, name, (unsigned long long) v);
		return false;
	}
	*out = (uint32_t) v;
	return true;
}

#endif							/* PYRO_BLOCK_INT_H */

/*-------------------------------------------------------------------------
 *
 * block_reader.c
 *	  Reads PYB1 blocks through a fetch callback: the footer, then the
 *	  directory, then only the sections a query needs (the symbols, the
 *	  index chunks of the selected series and times, their sample chunks
 *	  or aggregate chunks), one chunk at a time.
 *
 * Nothing read is trusted: every section's checksum is verified before it
 * is decompressed, its decompressed size must equal the directory's raw
 * length (itself capped), every count is checked against the bytes left,
 * every index against its table.  A bad block gives PYRO_ECORRUPT.
 *
 *-------------------------------------------------------------------------
 */
#include "block_int.h"
#include "sample_acc.h"

#include <stdlib.h>

/* One profile of a parsed index chunk. */
typedef struct RIdx
{
	int64_t		ts;
	uint32_t	nsamples;
	int64_t		total;
	uint32_t	sample_type;
	uint32_t	sample_unit;
	uint32_t	period_type;
	uint32_t	period_unit;
	int64_t		period;
	int64_t		time_nanos;
	int64_t		duration_nanos;
	const uint8_t *id;			/* into PyroBlockReader.ids; NULL = none */
	const PyroSpanTrace *traces;	/* into PyroBlockReader.tr */
	uint32_t	ntraces;
} RIdx;

bool		pyb1_fuzz_skip_checksums = false;

/* A decoded sample chunk. */
typedef struct RChunk
{
	size_t		entry;			/* directory entry, SIZE_MAX = none */
	uint64_t	nprof;
	uint64_t   *off;			/* nprof + 1 sample offsets */
	uint32_t   *stacks;
	int64_t    *values;
	uint64_t   *spans;			/* NULL without spans */
} RChunk;

struct PyroBlockReader
{
	PyroBlockFetch fetch;
	void	   *arg;
	const uint8_t *mem;			/* open_memory */
	uint64_t	size;
	uint64_t	fetched;
	ZSTD_DCtx  *dctx;

	PyroBlockMeta meta;
	int64_t		res[4];
	int			nres;
	int64_t    *series;
	uint32_t	nseries;
	PyroBlockEntry *entries;
	size_t		nentries;
	size_t		sym_entry;

	PyroSymbols *sym;			/* loaded on first need */

	RIdx	   *idx;			/* the current index chunk */
	size_t		idx_cap;
	bool		has_ids;		/* IDS entries beside the INDEX ones */
	size_t	   *ids_entry;		/* per entry: its IDS entry (INDEX entries) */
	uint8_t    *ids;			/* the current index chunk's ids */
	bool		has_traces;		/* TRACES entries beside the INDEX ones */
	size_t	   *traces_entry;	/* per entry: its TRACES entry */
	PyroSpanTrace *tr;			/* the current index chunk's span traces */
	size_t		tr_cap;
	size_t	   *tr_off;			/* per profile of the chunk, count + 1 */
	size_t		tr_off_cap;
	RChunk		chunk;

	/* read_merged accumulation */
	PyroSampleAcc acc;
	bool		keep_spans;

	PyroProfile *result;
	PyroProfile *visit_prof;	/* reused by read_profiles */
};

/* ----------------------------------------------------------------
 * fetching and decompressing
 * ----------------------------------------------------------------
 */

static PyroStatus
memory_fetch(void *arg, uint64_t offset, uint64_t len, uint8_t **data, PyroError *err)
{
	PyroBlockReader *r = arg;
	uint8_t    *buf = pyro_malloc(len ? (size_t) len : 1);

	if (buf == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block");
	if (len)
		memcpy(buf, r->mem + offset, (size_t) len);
	*data = buf;
	return PYRO_OK;
}

/* Fetch [offset, offset + len) of the block; checked against its size. */
static PyroStatus
fetch_range(PyroBlockReader *r, uint64_t offset, uint64_t len, uint8_t **out, PyroError *err)
{
	PyroStatus	s;

	*out = NULL;
	if (offset > r->size || len > r->size - offset || len > PYB1_MAX_RAW)
		return pyro_error_set(err, PYRO_ECORRUPT,
							  "block range %llu+%llu lies outside the block of %llu bytes",
							  (unsigned long long) offset, (unsigned long long) len,
							  (unsigned long long) r->size);
	s = r->fetch(r->arg, offset, len, out, err);
	if (s != PYRO_OK)
	{
		if (*out)
			pyro_free(*out);
		*out = NULL;
		return s;
	}
	if (*out == NULL)
		return pyro_error_set(err, PYRO_ECORRUPT, "block fetch returned no data");
	r->fetched += len;
	return PYRO_OK;
}

/*
 * Fetch one section, verify its checksum and decompress it into a new
 * buffer of exactly e->rawlen bytes (*raw, freed by the caller).
 */
static PyroStatus
load_section(PyroBlockReader *r, const PyroBlockEntry *e, const char *what,
			 uint8_t **raw, PyroError *err)
{
	uint8_t    *comp;
	uint8_t    *dst;
	unsigned long long csize;
	size_t		n;
	PyroStatus	s;

	*raw = NULL;
	if ((s = fetch_range(r, e->offset, e->clen, &comp, err)) != PYRO_OK)
		return s;
	if (pyb1_crc32(comp, (size_t) e->clen) != e->crc && !pyb1_fuzz_skip_checksums)
	{
		pyro_free(comp);
		return pyro_error_set(err, PYRO_ECORRUPT, "block %s at offset %llu fails its checksum",
							  what, (unsigned long long) e->offset);
	}
	csize = ZSTD_getFrameContentSize(comp, (size_t) e->clen);
	if (csize == ZSTD_CONTENTSIZE_ERROR || csize == ZSTD_CONTENTSIZE_UNKNOWN ||
		csize != e->rawlen)
	{
		pyro_free(comp);
		return pyro_error_set(err, PYRO_ECORRUPT, "block %s has a bad zstd frame header",
							  what);
	}
	dst = pyro_malloc((size_t) e->rawlen + 1);
	if (dst == NULL)
	{
		pyro_free(comp);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading block %s", what);
	}
	n = ZSTD_decompressDCtx(r->dctx, dst, (size_t) e->rawlen, comp, (size_t) e->clen);
	pyro_free(comp);
	if (ZSTD_isError(n) || n != e->rawlen)
	{
		pyro_free(dst);
		return pyro_error_set(err, PYRO_ECORRUPT, "block %s does not decompress to %llu bytes%s%s",
							  what, (unsigned long long) e->rawlen,
							  ZSTD_isError(n) ? ": " : "",
							  ZSTD_isError(n) ? ZSTD_getErrorName(n) : "");
	}
	*raw = dst;
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * open / close
 * ----------------------------------------------------------------
 */

static bool
ts_ok(int64_t t)
{
	return t >= -PYB1_MAX_TS && t <= PYB1_MAX_TS;
}

/* Parse the decompressed directory. */
/*
 * Pair each INDEX entry with the entry of the given kind (IDS, TRACES) of
 * the same profiles: the two kinds must list the same (series, first,
 * count) in the same order.
 */
static bool
pair_with_index(PyroBlockReader *r, uint32_t kind, size_t **out, PyroError *err)
{
	size_t		j = 0;
	size_t	   *pair;

	pair = pyro_malloc((r->nentries ? r->nentries : 1) * sizeof(size_t));
	if (pair == NULL)
	{
		pyro_error_set(err, PYRO_ENOMEM, "out of memory opening a block");
		return false;
	}
	*out = pair;
	for (size_t i = 0; i < r->nentries; i++)
	{
		const PyroBlockEntry *e = &r->entries[i];

		pair[i] = SIZE_MAX;
		if (e->kind != PYB1_KIND_INDEX)
			continue;
		while (j < r->nentries && r->entries[j].kind != kind)
			j++;
		if (j == r->nentries || r->entries[j].series != e->series ||
			r->entries[j].first != e->first || r->entries[j].count != e->count ||
			(kind == PYB1_KIND_IDS && r->entries[j].rawlen != e->count * PYRO_PROFILE_ID_LEN))
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block %s do not match its index entry %zu",
						   kind == PYB1_KIND_IDS ? "profile ids" : "span traces", i);
			return false;
		}
		pair[i] = j++;
	}
	return true;
}

static bool
parse_directory(PyroBlockReader *r, Pyb1Rd *d, uint64_t dir_offset)
{
	uint64_t	v;
	uint64_t	n;
	int64_t		sv;
	uint64_t	next_idx = 0;
	uint64_t	next_smp = 0;
	uint64_t	next_ids = 0;
	uint64_t	next_traces = 0;
	bool		have_sym = false;
	const PyroBlockEntry *last[PYB1_NKINDS] = {NULL};

	if (!pyb1_varint(d, &v))
		return false;
	r->has_ids = (v & PYB1_DIR_IDS) != 0;
	r->has_traces = (v & PYB1_DIR_TRACES) != 0;
	if ((v & ~(uint64_t) (PYB1_DIR_IDS | PYB1_DIR_TRACES)) != 0)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block directory has unknown flags 0x%llx",
					   (unsigned long long) v);
		return false;
	}
	if (!pyb1_varint(d, &v))
		return false;
	if (v > 4)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block has %llu aggregate resolutions, at most 4 allowed",
					   (unsigned long long) v);
		return false;
	}
	r->nres = (int) v;
	for (int i = 0; i < r->nres; i++)
	{
		if (!pyb1_varint(d, &v))
			return false;
		if (v == 0 || v > (uint64_t) PYB1_MAX_RES || (i > 0 && (int64_t) v <= r->res[i - 1]))
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block aggregate resolution %d is invalid", i);
			return false;
		}
		r->res[i] = (int64_t) v;
	}
	if (!pyb1_svarint(d, &r->meta.min_ts) || !pyb1_varint(d, &v))
		return false;
	if (!ts_ok(r->meta.min_ts) || v > (uint64_t) PYB1_MAX_TS - (uint64_t) r->meta.min_ts)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block time range is out of bounds");
		return false;
	}
	r->meta.max_ts = r->meta.min_ts + (int64_t) v;
	if (!pyb1_varint(d, &r->meta.nprofiles) || !pyb1_varint(d, &r->meta.nsamples))
		return false;
	if (!pyb1_count(d, 1, PYB1_MAX_SERIES, &n, "series"))
		return false;
	r->nseries = (uint32_t) n;
	r->meta.nseries = r->nseries;
	r->series = pyro_calloc(n ? n : 1, sizeof(int64_t));
	if (r->series == NULL)
	{
		pyro_error_set(d->err, PYRO_ENOMEM, "out of memory opening a block");
		return false;
	}
	for (uint32_t i = 0; i < r->nseries; i++)
	{
		if (i == 0)
		{
			if (!pyb1_svarint(d, &sv))
				return false;
			r->series[0] = sv;
			continue;
		}
		if (!pyb1_varint(d, &v))
			return false;
		sv = (int64_t) ((uint64_t) r->series[i - 1] + v);
		if (v == 0 || sv <= r->series[i - 1])
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block series ids are not strictly ascending");
			return false;
		}
		r->series[i] = sv;
	}

	if (!pyb1_count(d, 11, SIZE_MAX / sizeof(PyroBlockEntry), &n, "entry"))
		return false;
	r->nentries = (size_t) n;
	r->entries = pyro_calloc(n ? n : 1, sizeof(PyroBlockEntry));
	if (r->entries == NULL)
	{
		pyro_error_set(d->err, PYRO_ENOMEM, "out of memory opening a block");
		return false;
	}
	for (size_t i = 0; i < r->nentries; i++)
	{
		PyroBlockEntry *e = &r->entries[i];
		uint64_t	kind,
					series,
					level,
					span,
					crc;

		if (!pyb1_varint(d, &kind) || !pyb1_varint(d, &series) || !pyb1_varint(d, &level) ||
			!pyb1_svarint(d, &e->t_lo) || !pyb1_varint(d, &span) ||
			!pyb1_varint(d, &e->first) || !pyb1_varint(d, &e->count) ||
			!pyb1_varint(d, &e->offset) || !pyb1_varint(d, &e->clen) ||
			!pyb1_varint(d, &e->rawlen) || !pyb1_varint(d, &crc))
			return false;
		if (kind < PYB1_KIND_SYMBOLS || kind > PYB1_KIND_TRACES ||
			(kind == PYB1_KIND_IDS && !r->has_ids) ||
			(kind == PYB1_KIND_TRACES && !r->has_traces))
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu has unknown kind %llu",
						   i, (unsigned long long) kind);
			return false;
		}
		e->kind = (uint32_t) kind;
		if (crc > UINT32_MAX || level > 3 ||
			(kind != PYB1_KIND_SYMBOLS && series >= r->nseries) ||
			(kind == PYB1_KIND_AGG && level >= (uint64_t) r->nres))
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu is invalid", i);
			return false;
		}
		e->crc = (uint32_t) crc;
		e->series = (uint32_t) series;
		e->level = (uint32_t) level;
		if (!ts_ok(e->t_lo) || span > (uint64_t) PYB1_MAX_TS - (uint64_t) e->t_lo)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu has a bad time range", i);
			return false;
		}
		e->t_hi = e->t_lo + (int64_t) span;
		if (e->offset < PYB1_HEADER_SIZE || e->offset > dir_offset ||
			e->clen > dir_offset - e->offset)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu lies outside the block data", i);
			return false;
		}
		if (e->rawlen > PYB1_MAX_RAW || e->rawlen / PYB1_MAX_RATIO > e->clen)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu has an implausible raw length %llu",
						   i, (unsigned long long) e->rawlen);
			return false;
		}

		/*
		 * Chunks of one kind come in (series, [level,] time) order and chunks
		 * of one series (and level) do not overlap in time, so no profile or
		 * bucket can be counted twice.
		 */
		if (e->kind != PYB1_KIND_SYMBOLS && last[e->kind] != NULL)
		{
			const PyroBlockEntry *p = last[e->kind];

			if (e->series < p->series ||
				(e->series == p->series && e->level < p->level) ||
				(e->series == p->series && e->level == p->level &&
				 (e->kind == PYB1_KIND_AGG ? e->t_lo <= p->t_hi : e->t_lo < p->t_hi)))
			{
				pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu is out of order", i);
				return false;
			}
		}
		if (e->kind != PYB1_KIND_AGG && e->level != 0)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu has a level", i);
			return false;
		}
		last[e->kind] = e;
		switch (e->kind)
		{
			case PYB1_KIND_SYMBOLS:
				if (have_sym)
				{
					pyro_error_set(d->err, PYRO_ECORRUPT, "block has more than one symbol section");
					return false;
				}
				have_sym = true;
				r->sym_entry = i;
				break;
			case PYB1_KIND_INDEX:
			case PYB1_KIND_SAMPLES:
			case PYB1_KIND_IDS:
			case PYB1_KIND_TRACES:
				{
					uint64_t   *next = e->kind == PYB1_KIND_INDEX ? &next_idx :
					e->kind == PYB1_KIND_IDS ? &next_ids :
					e->kind == PYB1_KIND_TRACES ? &next_traces : &next_smp;

					if (e->first != *next || e->count == 0 ||
						e->count > r->meta.nprofiles - *next)
					{
						pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu does not continue the profile sequence", i);
						return false;
					}
					*next += e->count;
					break;
				}
			case PYB1_KIND_AGG:
				if (e->count == 0)
				{
					pyro_error_set(d->err, PYRO_ECORRUPT, "block directory entry %zu has no buckets", i);
					return false;
				}
				break;
		}
	}
	if (!have_sym)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block has no symbol section");
		return false;
	}
	if (next_idx != r->meta.nprofiles || next_smp != r->meta.nprofiles ||
		(r->has_ids && next_ids != r->meta.nprofiles) ||
		(r->has_traces && next_traces != r->meta.nprofiles))
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block chunks do not cover its %llu profiles",
					   (unsigned long long) r->meta.nprofiles);
		return false;
	}
	if (d->p != d->end)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block directory has %zu trailing bytes", pyb1_left(d));
		return false;
	}
	return (!r->has_ids || pair_with_index(r, PYB1_KIND_IDS, &r->ids_entry, d->err)) &&
		(!r->has_traces || pair_with_index(r, PYB1_KIND_TRACES, &r->traces_entry, d->err));
}

static PyroStatus
open_common(PyroBlockReader *r, PyroError *err)
{
	uint8_t    *foot = NULL;
	uint8_t    *raw = NULL;
	PyroBlockEntry de;
	Pyb1Rd		d;
	PyroStatus	s;
	ZSTD_customMem mem = pyb1_zstd_mem();

	r->chunk.entry = SIZE_MAX;
	r->dctx = ZSTD_createDCtx_advanced(mem);
	if (r->dctx == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory creating a zstd context");
	if (r->size < PYB1_HEADER_SIZE + PYB1_FOOTER_SIZE)
		return pyro_error_set(err, PYRO_ECORRUPT, "block of %llu bytes is too small",
							  (unsigned long long) r->size);
	if ((s = fetch_range(r, r->size - PYB1_FOOTER_SIZE, PYB1_FOOTER_SIZE, &foot, err)) != PYRO_OK)
		return s;
	if (memcmp(foot + 36, PYB1_MAGIC, 4) != 0)
	{
		pyro_free(foot);
		return pyro_error_set(err, PYRO_ECORRUPT, "block does not end with the PYB1 magic");
	}
	if (foot[32] != PYB1_VERSION || foot[33] || foot[34] || foot[35])
	{
		unsigned	ver = foot[32];

		pyro_free(foot);
		return pyro_error_set(err, PYRO_ECORRUPT, "unsupported block format version %u", ver);
	}
	if (pyb1_crc32(foot, 28) != pyb1_get_u32(foot + 28) && !pyb1_fuzz_skip_checksums)
	{
		pyro_free(foot);
		return pyro_error_set(err, PYRO_ECORRUPT, "block footer fails its checksum");
	}
	memset(&de, 0, sizeof(de));
	de.offset = pyb1_get_u64(foot);
	de.clen = pyb1_get_u64(foot + 8);
	de.rawlen = pyb1_get_u64(foot + 16);
	de.crc = pyb1_get_u32(foot + 24);
	pyro_free(foot);
	if (de.offset < PYB1_HEADER_SIZE || de.offset > r->size - PYB1_FOOTER_SIZE ||
		de.clen != r->size - PYB1_FOOTER_SIZE - de.offset ||
		de.rawlen > PYB1_MAX_RAW || de.rawlen / PYB1_MAX_RATIO > de.clen)
		return pyro_error_set(err, PYRO_ECORRUPT, "block footer locates no valid directory");
	if ((s = load_section(r, &de, "directory", &raw, err)) != PYRO_OK)
		return s;
	d.p = raw;
	d.end = raw + de.rawlen;
	d.what = "directory";
	d.err = err;
	if (!parse_directory(r, &d, de.offset))
	{
		pyro_free(raw);
		return err->code != PYRO_OK ? err->code :
			pyro_error_set(err, PYRO_ECORRUPT, "invalid block directory");
	}
	pyro_free(raw);
	r->meta.size = r->size;
	return PYRO_OK;
}

PyroStatus
pyro_block_open(uint64_t size, PyroBlockFetch fetch, void *arg,
				PyroBlockReader **out, PyroError *err)
{
	PyroBlockReader *r;
	PyroError	local;
	PyroStatus	s;

	*out = NULL;
	if (err == NULL)
		err = &local;
	pyro_error_clear(err);
	if (fetch == NULL)
		return pyro_error_set(err, PYRO_EINVAL, "no block fetch callback");
	r = pyro_calloc(1, sizeof(PyroBlockReader));
	if (r == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory opening a block");
	r->fetch = fetch;
	r->arg = arg;
	r->size = size;
	s = open_common(r, err);
	if (s != PYRO_OK)
	{
		pyro_block_close(r);
		return s;
	}
	*out = r;
	return PYRO_OK;
}

PyroStatus
pyro_block_open_memory(const uint8_t *data, size_t len, PyroBlockReader **out,
					   PyroError *err)
{
	PyroBlockReader *r;
	PyroError	local;
	PyroStatus	s;

	*out = NULL;
	if (err == NULL)
		err = &local;
	pyro_error_clear(err);
	r = pyro_calloc(1, sizeof(PyroBlockReader));
	if (r == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory opening a block");
	r->fetch = memory_fetch;
	r->arg = r;
	r->mem = data;
	r->size = data ? len : 0;
	s = open_common(r, err);
	if (s != PYRO_OK)
	{
		pyro_block_close(r);
		return s;
	}
	*out = r;
	return PYRO_OK;
}

static void
chunk_free(RChunk *c)
{
	pyro_free(c->off);
	pyro_free(c->stacks);
	pyro_free(c->values);
	pyro_free(c->spans);
	memset(c, 0, sizeof(*c));
	c->entry = SIZE_MAX;
}

static void
drop_result(PyroBlockReader *r)
{
	if (r->result)
	{
		pyro_profile_free(r->result);
		r->result = NULL;
	}
}

void
pyro_block_close(PyroBlockReader *r)
{
	if (r == NULL)
		return;
	drop_result(r);
	if (r->visit_prof)
		pyro_profile_free(r->visit_prof);
	chunk_free(&r->chunk);
	if (r->sym)
		pyro_symbols_free(r->sym);
	if (r->dctx)
		ZSTD_freeDCtx(r->dctx);
	pyro_free(r->series);
	pyro_free(r->entries);
	pyro_free(r->idx);
	pyro_free(r->ids_entry);
	pyro_free(r->ids);
	pyro_free(r->traces_entry);
	pyro_free(r->tr);
	pyro_free(r->tr_off);
	pyro_acc_free(&r->acc);
	pyro_free(r);
}

bool
pyro_block_section(const PyroBlockReader *r, size_t i, PyroBlockSection *out)
{
	static const char *const kinds[PYB1_NKINDS] = {
		"", "symbols", "index", "samples", "aggregates", "ids", "traces"
	};
	const PyroBlockEntry *e;

	if (i >= r->nentries)
		return false;
	e = &r->entries[i];
	out->kind = kinds[e->kind];
	out->series_id = e->kind == PYB1_KIND_SYMBOLS ? 0 : r->series[e->series];
	out->count = e->count;
	out->bytes = e->clen;
	out->raw_bytes = e->rawlen;
	return true;
}

const PyroBlockMeta *
pyro_block_meta(const PyroBlockReader *r)
{
	return &r->meta;
}

const int64_t *
pyro_block_series(const PyroBlockReader *r, uint32_t *n)
{
	*n = r->nseries;
	return r->series;
}

uint64_t
pyro_block_bytes_fetched(const PyroBlockReader *r)
{
	return r->fetched;
}

/* ----------------------------------------------------------------
 * symbols
 * ----------------------------------------------------------------
 */

static bool
sym_oom(Pyb1Rd *d)
{
	pyro_error_set(d->err, PYRO_ENOMEM, "out of memory reading block symbols");
	return false;
}

static bool
parse_symbols(Pyb1Rd *d, PyroSymbols *sym)
{
	uint64_t	n,
				v,
				nl;
	const uint8_t *bytes;
	size_t		total = 0;
	uint64_t	addr = 0;
	uint32_t	lines_seen = 0;

	/* strings: lengths, then bytes; the sentinel "" exists already */
	if (!pyb1_count(d, 1, PYRO_NO_INDEX - 1, &n, "string"))
		return false;
	if (n == 0)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block string table is empty");
		return false;
	}
	{
		const uint8_t *lens = d->p;

		for (uint64_t i = 0; i < n; i++)
		{
			if (!pyb1_varint(d, &v))
				return false;
			if (v > pyb1_left(d) || (total += v) > pyb1_left(d))
			{
				pyro_error_set(d->err, PYRO_ECORRUPT, "block string %llu is longer than the remaining data",
							   (unsigned long long) i);
				return false;
			}
			if (i == 0 && v != 0)
			{
				pyro_error_set(d->err, PYRO_ECORRUPT, "block string 0 is not empty");
				return false;
			}
		}
		bytes = d->p;
		d->p += total;
		if (!pyro_sym_reserve(sym, (uint32_t) n - 1, 0, 0, 0, 0, 0))
			return sym_oom(d);
		for (uint64_t i = 0; i < n; i++)
		{
			pyro_read_varint(&lens, bytes, &v); /* validated above */
			if (i > 0 && pyro_sym_append_string(sym, (const char *) bytes, (size_t) v) == PYRO_NO_INDEX)
				return sym_oom(d);
			bytes += v;
		}
	}

	/* mappings */
	if (!pyb1_count(d, 6, PYRO_NO_INDEX - 1, &n, "mapping"))
		return false;
	if (n == 0)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block mapping table lacks the sentinel");
		return false;
	}
	if (!pyro_sym_reserve(sym, 0, (uint32_t) n - 1, 0, 0, 0, 0))
		return sym_oom(d);
	for (uint64_t i = 0; i < n; i++)
	{
		PyroMapping mp;

		if (!pyb1_varint(d, &mp.memory_start) || !pyb1_varint(d, &mp.memory_limit) ||
			!pyb1_varint(d, &mp.file_offset) ||
			!pyb1_index(d, sym->nstrings, &mp.filename, "string") ||
			!pyb1_index(d, sym->nstrings, &mp.build_id, "string") ||
			!pyb1_varint(d, &v))
			return false;
		if (v > UINT32_MAX)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block mapping %llu has invalid flags",
						   (unsigned long long) i);
			return false;
		}
		mp.flags = (uint32_t) v;
		if (i == 0)
		{
			if (mp.memory_start || mp.memory_limit || mp.file_offset || mp.filename ||
				mp.build_id || mp.flags)
			{
				pyro_error_set(d->err, PYRO_ECORRUPT, "block mapping 0 is not the empty sentinel");
				return false;
			}
			continue;
		}
		sym->mappings[sym->nmappings++] = mp;
	}

	/* functions, column-wise */
	if (!pyb1_count(d, 4, PYRO_NO_INDEX - 1, &n, "function"))
		return false;
	if (!pyro_sym_reserve(sym, 0, 0, (uint32_t) n, 0, 0, 0))
		return sym_oom(d);
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_index(d, sym->nstrings, &sym->functions[i].name, "string"))
			return false;
	}
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_index(d, sym->nstrings, &sym->functions[i].system_name, "string"))
			return false;
	}
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_index(d, sym->nstrings, &sym->functions[i].filename, "string"))
			return false;
	}
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_svarint(d, &sym->functions[i].start_line))
			return false;
	}
	sym->nfunctions = (uint32_t) n;

	/* locations and lines, column-wise */
	if (!pyb1_count(d, 3, PYRO_NO_INDEX - 1, &n, "location") ||
		!pyb1_count(d, 2, PYRO_NO_INDEX - 1, &nl, "line"))
		return false;
	if (!pyro_sym_reserve(sym, 0, 0, 0, (uint32_t) n, (uint32_t) nl, 0))
		return sym_oom(d);
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_index(d, sym->nmappings, &sym->locations[i].mapping, "mapping"))
			return false;
	}
	for (uint64_t i = 0; i < n; i++)
	{
		int64_t		delta;

		if (!pyb1_svarint(d, &delta))
			return false;
		addr += (uint64_t) delta;
		sym->locations[i].address = addr;
	}
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_varint(d, &v))
			return false;
		if (v > nl - lines_seen)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block location %llu has more lines than the line count allows",
						   (unsigned long long) i);
			return false;
		}
		sym->locations[i].first_line = lines_seen;
		sym->locations[i].nlines = (uint32_t) v;
		lines_seen += (uint32_t) v;
	}
	if (lines_seen != nl)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block locations have %u lines, expected %llu",
					   (unsigned) lines_seen, (unsigned long long) nl);
		return false;
	}
	sym->nlocations = (uint32_t) n;
	for (uint64_t i = 0; i < nl; i++)
	{
		if (!pyb1_index(d, sym->nfunctions, &sym->lines[i].function, "function"))
			return false;
	}
	for (uint64_t i = 0; i < nl; i++)
	{
		if (!pyb1_svarint(d, &sym->lines[i].line))
			return false;
	}
	sym->nlines = (uint32_t) nl;

	/* stack nodes: parent deltas, then locations; the root exists */
	if (!pyb1_count(d, 0, PYRO_NO_INDEX - 1, &n, "stack node"))
		return false;
	if (n == 0 || (n - 1) > pyb1_left(d) / 2)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block stack node count %llu is invalid",
					   (unsigned long long) n);
		return false;
	}
	if (!pyro_sym_reserve(sym, 0, 0, 0, 0, 0, (uint32_t) n - 1))
		return sym_oom(d);
	for (uint64_t i = 1; i < n; i++)
	{
		if (!pyb1_varint(d, &v))
			return false;
		if (v == 0 || v > i)
		{
			pyro_error_set(d->err, PYRO_ECORRUPT, "block stack node %llu has an invalid parent",
						   (unsigned long long) i);
			return false;
		}
		sym->stacks[i].parent = (uint32_t) (i - v);
	}
	for (uint64_t i = 1; i < n; i++)
	{
		if (!pyb1_index(d, sym->nlocations, &sym->stacks[i].location, "location"))
			return false;
	}
	sym->nstacks = (uint32_t) n;
	if (d->p != d->end)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block symbols have %zu trailing bytes", pyb1_left(d));
		return false;
	}
	return true;
}

static PyroStatus
load_symbols(PyroBlockReader *r, PyroError *err)
{
	const PyroBlockEntry *e = &r->entries[r->sym_entry];
	uint8_t    *raw;
	PyroSymbols *sym;
	PyroStatus	s;
	Pyb1Rd		d;

	if (r->sym)
		return PYRO_OK;
	if ((s = load_section(r, e, "symbols", &raw, err)) != PYRO_OK)
		return s;
	sym = pyro_symbols_create();
	if (sym == NULL)
	{
		pyro_free(raw);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading block symbols");
	}
	d.p = raw;
	d.end = raw + e->rawlen;
	d.what = "symbols";
	d.err = err;
	if (!parse_symbols(&d, sym))
	{
		pyro_free(raw);
		pyro_symbols_free(sym);
		return err->code != PYRO_OK ? err->code :
			pyro_error_set(err, PYRO_ECORRUPT, "invalid block symbols");
	}
	pyro_free(raw);
	r->sym = sym;
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * index and sample chunks
 * ----------------------------------------------------------------
 */

/* Load index chunk e into r->idx (e->count entries). */
static PyroStatus
load_index(PyroBlockReader *r, const PyroBlockEntry *e, PyroError *err)
{
	uint8_t    *raw;
	Pyb1Rd		d;
	uint64_t	n,
				v;
	int64_t		prev;
	PyroStatus	s;

	if ((s = load_section(r, e, "index chunk", &raw, err)) != PYRO_OK)
		return s;
	d.p = raw;
	d.end = raw + e->rawlen;
	d.what = "index chunk";
	d.err = err;
	if (!pyb1_count(&d, 10, UINT32_MAX, &n, "profile"))
		goto bad;
	if (n != e->count)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block index chunk holds %llu profiles, the directory says %llu",
					   (unsigned long long) n, (unsigned long long) e->count);
		goto bad;
	}
	if (!pyro_grow((void **) &r->idx, &r->idx_cap, n, sizeof(RIdx)))
	{
		pyro_free(raw);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block index");
	}
	prev = e->t_lo;
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_varint(&d, &v))
			goto bad;
		if (v > (uint64_t) (e->t_hi - prev))
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block index profile time lies outside its chunk");
			goto bad;
		}
		prev += (int64_t) v;
		r->idx[i].ts = prev;
	}
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_varint(&d, &v))
			goto bad;
		if (v > UINT32_MAX)
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block index sample count is too large");
			goto bad;
		}
		r->idx[i].nsamples = (uint32_t) v;
	}
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_svarint(&d, &r->idx[i].total))
			goto bad;
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_index(&d, UINT32_MAX, &r->idx[i].sample_type, "string"))
			goto bad;
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_index(&d, UINT32_MAX, &r->idx[i].sample_unit, "string"))
			goto bad;
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_index(&d, UINT32_MAX, &r->idx[i].period_type, "string"))
			goto bad;
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_index(&d, UINT32_MAX, &r->idx[i].period_unit, "string"))
			goto bad;
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_svarint(&d, &r->idx[i].period))
			goto bad;
	prev = 0;
	for (uint64_t i = 0; i < n; i++)
	{
		int64_t		dt;

		if (!pyb1_svarint(&d, &dt))
			goto bad;
		prev = (int64_t) ((uint64_t) prev + (uint64_t) dt);
		r->idx[i].time_nanos = prev;
	}
	for (uint64_t i = 0; i < n; i++)
		if (!pyb1_svarint(&d, &r->idx[i].duration_nanos))
			goto bad;
	if (d.p != d.end)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block index chunk has %zu trailing bytes", pyb1_left(&d));
		goto bad;
	}
	pyro_free(raw);
	return PYRO_OK;

bad:
	pyro_free(raw);
	return err->code != PYRO_OK ? err->code :
		pyro_error_set(err, PYRO_ECORRUPT, "invalid block index chunk");
}

/* Value q * gcd, or false on overflow. */
static bool
scale_value(int64_t q, int64_t g, int64_t *out)
{
	return !__builtin_mul_overflow(q, g, out);
}

/* Read a chunk's common divisor. */
static bool
read_gcd(Pyb1Rd *d, int64_t *g)
{
	uint64_t	v;

	if (!pyb1_varint(d, &v))
		return false;
	if (v == 0 || v > (uint64_t) INT64_MAX)
	{
		pyro_error_set(d->err, PYRO_ECORRUPT, "block %s has an invalid value divisor", d->what);
		return false;
	}
	*g = (int64_t) v;
	return true;
}

/* Decode sample chunk number ei into r->chunk (replacing what it held). */
static PyroStatus
load_chunk(PyroBlockReader *r, size_t ei, PyroError *err)
{
	const PyroBlockEntry *e = &r->entries[ei];
	RChunk	   *c = &r->chunk;
	uint8_t    *raw;
	Pyb1Rd		d;
	uint64_t	n,
				flags,
				v,
				total = 0;
	int64_t		g;
	PyroStatus	s;

	if (c->entry == ei)
		return PYRO_OK;
	chunk_free(c);
	if ((s = load_section(r, e, "sample chunk", &raw, err)) != PYRO_OK)
		return s;
	d.p = raw;
	d.end = raw + e->rawlen;
	d.what = "sample chunk";
	d.err = err;
	if (!pyb1_count(&d, 1, UINT32_MAX, &n, "profile"))
		goto bad;
	if (n != e->count)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block sample chunk holds %llu profiles, the directory says %llu",
					   (unsigned long long) n, (unsigned long long) e->count);
		goto bad;
	}
	if (!pyb1_varint(&d, &flags) || !read_gcd(&d, &g))
		goto bad;
	if (flags & ~(uint64_t) PYB1_CHUNK_SPANS)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block sample chunk has unknown flags");
		goto bad;
	}
	c->nprof = n;
	c->off = pyro_calloc(n + 1, sizeof(uint64_t));
	if (c->off == NULL)
		goto oom;
	for (uint64_t i = 0; i < n; i++)
	{
		if (!pyb1_varint(&d, &v))
			goto bad;
		/* each sample takes at least 2 bytes (stack delta and value) */
		if (v > pyb1_left(&d) / 2 || total + v > pyb1_left(&d) / 2)
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block sample chunk sample count exceeds its data");
			goto bad;
		}
		c->off[i] = total;
		total += v;
	}
	c->off[n] = total;
	c->stacks = pyro_calloc(total ? total : 1, sizeof(uint32_t));
	c->values = pyro_calloc(total ? total : 1, sizeof(int64_t));
	if (c->stacks == NULL || c->values == NULL)
		goto oom;
	for (uint64_t i = 0; i < n; i++)
	{
		uint64_t	stack = 0;

		for (uint64_t j = c->off[i]; j < c->off[i + 1]; j++)
		{
			if (!pyb1_varint(&d, &v))
				goto bad;
			if (v >= r->sym->nstacks || (stack += v) >= r->sym->nstacks)
			{
				pyro_error_set(err, PYRO_ECORRUPT, "block sample refers to an unknown stack node");
				goto bad;
			}
			c->stacks[j] = (uint32_t) stack;
		}
	}
	for (uint64_t j = 0; j < total; j++)
	{
		int64_t		q;

		if (!pyb1_svarint(&d, &q))
			goto bad;
		if (!scale_value(q, g, &c->values[j]))
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block sample value overflows");
			goto bad;
		}
	}
	if (flags & PYB1_CHUNK_SPANS)
	{
		if (total > pyb1_left(&d))
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block sample chunk span ids exceed its data");
			goto bad;
		}
		c->spans = pyro_calloc(total ? total : 1, sizeof(uint64_t));
		if (c->spans == NULL)
			goto oom;
		for (uint64_t j = 0; j < total; j++)
			if (!pyb1_varint(&d, &c->spans[j]))
				goto bad;
	}
	if (d.p != d.end)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block sample chunk has %zu trailing bytes", pyb1_left(&d));
		goto bad;
	}
	pyro_free(raw);
	c->entry = ei;
	return PYRO_OK;

oom:
	pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block sample chunk");
bad:
	pyro_free(raw);
	chunk_free(c);
	return err->code != PYRO_OK ? err->code :
		pyro_error_set(err, PYRO_ECORRUPT, "invalid block sample chunk");
}

/* The sample chunk entry holding profile ordinal o. */
static size_t
find_chunk(const PyroBlockReader *r, uint64_t o)
{
	size_t		lo = 0,
				hi = r->nentries;

	/* entries are grouped by kind in the writer, but do not rely on it */
	while (lo < hi)
	{
		const PyroBlockEntry *e = &r->entries[lo];

		if (e->kind == PYB1_KIND_SAMPLES && o >= e->first && o - e->first < e->count)
			return lo;
		lo++;
	}
	return SIZE_MAX;
}

/*
 * Make the samples of profile o (of series s, index entry x) available in
 * r->chunk, checking that the chunk agrees with the index; *first and *n
 * give its sample range.
 */
static PyroStatus
profile_samples(PyroBlockReader *r, uint64_t o, uint32_t s, const RIdx *x,
				size_t *hint, uint64_t *first, uint64_t *n, PyroError *err)
{
	size_t		ei = SIZE_MAX;
	const PyroBlockEntry *e;
	PyroStatus	st;
	int64_t		total = 0;

	/* the next chunk in directory order is the usual case */
	for (size_t k = *hint; k < r->nentries && k < *hint + 2; k++)
	{
		e = &r->entries[k];
		if (e->kind == PYB1_KIND_SAMPLES && o >= e->first && o - e->first < e->count)
		{
			ei = k;
			break;
		}
	}
	if (ei == SIZE_MAX)
		ei = find_chunk(r, o);
	if (ei == SIZE_MAX)
		return pyro_error_set(err, PYRO_ECORRUPT, "block has no sample chunk for profile %llu",
							  (unsigned long long) o);
	*hint = ei;
	e = &r->entries[ei];
	if (e->series != s || x->ts < e->t_lo || x->ts > e->t_hi)
		return pyro_error_set(err, PYRO_ECORRUPT, "block sample chunk %zu does not match the index of profile %llu",
							  ei, (unsigned long long) o);
	if ((st = load_chunk(r, ei, err)) != PYRO_OK)
		return st;
	*first = r->chunk.off[o - e->first];
	*n = r->chunk.off[o - e->first + 1] - *first;
	if (*n != x->nsamples)
		return pyro_error_set(err, PYRO_ECORRUPT, "block profile %llu has %llu samples, the index says %u",
							  (unsigned long long) o, (unsigned long long) *n, (unsigned) x->nsamples);
	for (uint64_t j = *first; j < *first + *n; j++)
		total = pyro_sat_add64(total, r->chunk.values[j]);
	if (total != x->total)
		return pyro_error_set(err, PYRO_ECORRUPT, "block profile %llu total does not match the index",
							  (unsigned long long) o);
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * selection
 * ----------------------------------------------------------------
 */

/* Selected series as flags; NULL series_ids = all. */
static PyroStatus
select_series(const PyroBlockReader *r, const PyroBlockQuery *q, uint8_t **sel, PyroError *err)
{
	uint8_t    *f = pyro_calloc(r->nseries ? r->nseries : 1, 1);

	*sel = NULL;
	if (f == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory selecting block series");
	if (q->series_ids == NULL)
		memset(f, 1, r->nseries);
	else
	{
		for (size_t i = 0; i < q->nseries; i++)
		{
			uint32_t	lo = 0,
						hi = r->nseries;

			while (lo < hi)
			{
				uint32_t	mid = lo + (hi - lo) / 2;

				if (r->series[mid] < q->series_ids[i])
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < r->nseries && r->series[lo] == q->series_ids[i])
				f[lo] = 1;
		}
	}
	*sel = f;
	return PYRO_OK;
}

/*
 * Visit every selected profile (ordinal, series index, index entry) in
 * (series, time) order, loading index chunks one at a time.
 */
typedef PyroStatus (*IdxVisit) (PyroBlockReader *r, void *arg, uint64_t o, uint32_t s,
								const RIdx *x, PyroError *err);

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, PYRO_PROFILE_ID_LEN);
}

/* the span traces of TRACES entry ei into r->tr, per profile at r->tr_off */
static PyroStatus
load_traces(PyroBlockReader *r, size_t ei, PyroError *err)
{
	const PyroBlockEntry *e = &r->entries[ei];
	uint8_t    *raw;
	Pyb1Rd		d;
	size_t		n = 0;
	PyroStatus	s;

	if ((s = load_section(r, e, "span traces", &raw, err)) != PYRO_OK)
		return s;
	d.p = raw;
	d.end = raw + e->rawlen;
	d.what = "span traces";
	d.err = err;
	if (!pyro_grow((void **) &r->tr_off, &r->tr_off_cap, e->count + 1, sizeof(size_t)))
	{
		pyro_free(raw);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading span traces");
	}
	for (uint64_t i = 0; i < e->count; i++)
	{
		uint64_t	k;

		r->tr_off[i] = n;
		/* a span takes 17 bytes at least */
		if (!pyb1_count(&d, 17, UINT32_MAX, &k, "span trace"))
			goto bad;
		if (!pyro_grow((void **) &r->tr, &r->tr_cap, n + k, sizeof(PyroSpanTrace)))
		{
			pyro_free(raw);
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading span traces");
		}
		for (uint64_t j = 0; j < k; j++)
		{
			PyroSpanTrace *t = &r->tr[n++];

			if (!pyb1_varint(&d, &t->span) || pyb1_left(&d) < 16)
			{
				pyro_error_set(err, PYRO_ECORRUPT, "truncated block span traces");
				goto bad;
			}
			t->trace_hi = t->trace_lo = 0;
			for (int b = 0; b < 8; b++)
			{
				t->trace_hi = (t->trace_hi << 8) | d.p[b];
				t->trace_lo = (t->trace_lo << 8) | d.p[8 + b];
			}
			d.p += 16;
		}
	}
	r->tr_off[e->count] = n;
	if (d.p != d.end)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block span traces have %zu trailing bytes", pyb1_left(&d));
		goto bad;
	}
	pyro_free(raw);
	return PYRO_OK;

bad:
	pyro_free(raw);
	return err->code != PYRO_OK ? err->code :
		pyro_error_set(err, PYRO_ECORRUPT, "invalid block span traces");
}

/* the ids of IDS entry ei into r->ids */
static PyroStatus
load_ids(PyroBlockReader *r, size_t ei, PyroError *err)
{
	uint8_t    *raw;
	PyroStatus	s;

	if ((s = load_section(r, &r->entries[ei], "profile ids", &raw, err)) != PYRO_OK)
		return s;
	pyro_free(r->ids);
	r->ids = raw;
	return PYRO_OK;
}

static PyroStatus
walk_index(PyroBlockReader *r, const PyroBlockQuery *q, int64_t lo, int64_t hi,
		   IdxVisit visit, void *arg, PyroError *err)
{
	uint8_t    *sel;
	PyroStatus	s;

	if ((s = select_series(r, q, &sel, err)) != PYRO_OK)
		return s;
	for (size_t i = 0; i < r->nentries && s == PYRO_OK; i++)
	{
		const PyroBlockEntry *e = &r->entries[i];

		if (e->kind != PYB1_KIND_INDEX || !sel[e->series] || e->t_hi < lo || e->t_lo > hi)
			continue;
		if (q->ids && !r->has_ids)
			continue;
		if ((s = load_index(r, e, err)) != PYRO_OK ||
			(r->has_ids && (s = load_ids(r, r->ids_entry[i], err)) != PYRO_OK) ||
			(r->has_traces && (s = load_traces(r, r->traces_entry[i], err)) != PYRO_OK))
			break;
		for (uint64_t k = 0; k < e->count && s == PYRO_OK; k++)
		{
			const uint8_t *id = r->has_ids ? r->ids + k * PYRO_PROFILE_ID_LEN : NULL;

			if (r->idx[k].ts < lo || r->idx[k].ts > hi)
				continue;
			r->idx[k].id = (id && pyro_profile_id_set(id)) ? id : NULL;
			r->idx[k].ntraces = r->has_traces ? (uint32_t) (r->tr_off[k + 1] - r->tr_off[k]) : 0;
			r->idx[k].traces = r->idx[k].ntraces > 0 ? r->tr + r->tr_off[k] : NULL;
			if (q->ids && (r->idx[k].id == NULL ||
						   bsearch(r->idx[k].id, q->ids, q->nids, PYRO_PROFILE_ID_LEN,
								   cmp_id) == NULL))
				continue;
			s = visit(r, arg, e->first + k, e->series, &r->idx[k], err);
		}
	}
	pyro_free(sel);
	return s;
}

/* ----------------------------------------------------------------
 * read_totals
 * ----------------------------------------------------------------
 */

typedef struct TotalsArg
{
	PyroBlockTotalVisitor visit;
	void	   *arg;
} TotalsArg;

static PyroStatus
totals_visit(PyroBlockReader *r, void *arg, uint64_t o, uint32_t s, const RIdx *x,
			 PyroError *err)
{
	TotalsArg  *t = arg;

	(void) o;
	return t->visit(t->arg, r->series[s], x->ts, x->total, x->id, err);
}

PyroStatus
pyro_block_read_totals(PyroBlockReader *r, const PyroBlockQuery *q,
					   PyroBlockTotalVisitor visit, void *arg, PyroError *err)
{
	TotalsArg	t;

	pyro_error_clear(err);
	if (q->start > q->end || r->meta.nprofiles == 0)
		return PYRO_OK;
	t.visit = visit;
	t.arg = arg;
	return walk_index(r, q, q->start, q->end, totals_visit, &t, err);
}

/* ----------------------------------------------------------------
 * read_profiles
 * ----------------------------------------------------------------
 */

typedef struct ProfilesArg
{
	PyroBlockProfileVisitor visit;
	void	   *arg;
	size_t		hint;
	bool		keep_spans;
} ProfilesArg;

static PyroStatus
check_meta(const PyroBlockReader *r, const RIdx *x, PyroError *err)
{
	uint32_t	n = r->sym->nstrings;

	if (x->sample_type >= n || x->sample_unit >= n || x->period_type >= n || x->period_unit >= n)
		return pyro_error_set(err, PYRO_ECORRUPT, "block profile metadata refers to an unknown string");
	return PYRO_OK;
}

static void
set_meta(PyroProfile *p, const RIdx *x)
{
	p->sample_type = x->sample_type;
	p->sample_unit = x->sample_unit;
	p->period_type = x->period_type;
	p->period_unit = x->period_unit;
	p->period = x->period;
	p->time_nanos = x->time_nanos;
	p->duration_nanos = x->duration_nanos;
}

static PyroStatus
profiles_visit(PyroBlockReader *r, void *arg, uint64_t o, uint32_t s, const RIdx *x,
			   PyroError *err)
{
	ProfilesArg *a = arg;
	PyroProfile *p = r->visit_prof;
	uint64_t	first,
				n;
	PyroStatus	st;

	if ((st = check_meta(r, x, err)) != PYRO_OK ||
		(st = profile_samples(r, o, s, x, &a->hint, &first, &n, err)) != PYRO_OK)
		return st;
	if (!pyro_grow((void **) &p->samples, &p->samples_cap, n ? n : 1, sizeof(PyroSample)))
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block profile");
	for (uint64_t j = 0; j < n; j++)
	{
		p->samples[j].stack = r->chunk.stacks[first + j];
		p->samples[j].value = r->chunk.values[first + j];
		p->samples[j].span_id = (a->keep_spans && r->chunk.spans) ? r->chunk.spans[first + j] : 0;
	}
	p->nsamples = (size_t) n;
	set_meta(p, x);
	if (x->id)
		memcpy(p->id, x->id, PYRO_PROFILE_ID_LEN);
	else
		memset(p->id, 0, PYRO_PROFILE_ID_LEN);
	p->ntraces = 0;
	if (x->ntraces > 0)
	{
		if (!pyro_grow((void **) &p->traces, &p->traces_cap, x->ntraces, sizeof(PyroSpanTrace)))
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block profile");
		memcpy(p->traces, x->traces, x->ntraces * sizeof(PyroSpanTrace));
		p->ntraces = x->ntraces;
	}
	return a->visit(a->arg, r->series[s], x->ts, p, err);
}

PyroStatus
pyro_block_read_profiles(PyroBlockReader *r, const PyroBlockQuery *q,
						 PyroBlockProfileVisitor visit, void *arg, PyroError *err)
{
	ProfilesArg a;
	PyroStatus	s;

	pyro_error_clear(err);
	if (q->start > q->end || r->meta.nprofiles == 0)
		return PYRO_OK;
	if ((s = load_symbols(r, err)) != PYRO_OK)
		return s;
	if (r->visit_prof == NULL)
	{
		r->visit_prof = pyro_profile_create(r->sym, false);
		if (r->visit_prof == NULL)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block profile");
	}
	a.visit = visit;
	a.arg = arg;
	a.hint = 0;
	a.keep_spans = q->keep_spans;
	s = walk_index(r, q, q->start, q->end, profiles_visit, &a, err);
	chunk_free(&r->chunk);
	return s;
}

/* ----------------------------------------------------------------
 * read_merged
 * ----------------------------------------------------------------
 */

/*
 * Add one sample to a merged read (PyroSampleAcc, sample_acc.c): zero
 * values are skipped and, without keep_spans, span ids dropped.
 */
static inline bool
acc_add(PyroBlockReader *r, uint32_t stack, uint64_t span, int64_t value)
{
	if (value == 0)
		return true;
	return pyro_acc_add(&r->acc, stack, r->keep_spans ? span : 0, value);
}

/* One interval of a read plan: [a, b) from aggregate level, or raw (-1). */
typedef struct PlanPart
{
	int			level;
	int64_t		a;
	int64_t		b;
} PlanPart;

#define MAX_PLAN	32

/*
 * Split [lo, hi) into parts: the largest resolution's whole buckets in
 * the middle, the edges recursively with smaller resolutions, then raw.
 * Written with an explicit work stack (depth is at most 4 levels).
 */
static int
make_plan(const PyroBlockReader *r, int64_t lo, int64_t hi, bool use_agg, PlanPart *out)
{
	struct
	{
		int			level;
		int64_t		a;
		int64_t		b;
	}			stack[MAX_PLAN];
	int			sp = 0;
	int			n = 0;

	stack[sp].level = use_agg ? r->nres - 1 : -1;
	stack[sp].a = lo;
	stack[sp].b = hi;
	sp++;
	while (sp > 0)
	{
		int			level;
		int64_t		a,
					b,
					R,
					A,
					B;

		sp--;
		level = stack[sp].level;
		a = stack[sp].a;
		b = stack[sp].b;
		if (a >= b)
			continue;
		if (level < 0)
		{
			out[n].level = -1;
			out[n].a = a;
			out[n].b = b;
			n++;
			continue;
		}
		R = r->res[level];
		A = pyb1_align_down(a, R);
		if (A < a)
			A += R;
		B = pyb1_align_down(b, R);
		if (A >= B)
		{
			stack[sp].level = level - 1;
			stack[sp].a = a;
			stack[sp].b = b;
			sp++;
			continue;
		}
		out[n].level = level;
		out[n].a = A;
		out[n].b = B;
		n++;

		/*
		 * right edge first so the left one is handled next; order is
		 * irrelevant
		 */
		stack[sp].level = level - 1;
		stack[sp].a = B;
		stack[sp].b = b;
		sp++;
		stack[sp].level = level - 1;
		stack[sp].a = a;
		stack[sp].b = A;
		sp++;
	}
	return n;
}

typedef struct MergedArg
{
	const PlanPart *plan;
	int			nplan;
	size_t		hint;
	bool		have_meta;
	RIdx		meta;
} MergedArg;

static PyroStatus
merged_visit(PyroBlockReader *r, void *arg, uint64_t o, uint32_t s, const RIdx *x,
			 PyroError *err)
{
	MergedArg  *m = arg;
	uint64_t	first,
				n;
	PyroStatus	st;

	if (!m->have_meta)
	{
		if ((st = check_meta(r, x, err)) != PYRO_OK)
			return st;
		m->meta = *x;
		m->have_meta = true;
	}
	for (int i = 0; i < m->nplan; i++)
	{
		if (m->plan[i].level >= 0 && x->ts >= m->plan[i].a && x->ts < m->plan[i].b)
			return PYRO_OK;		/* read from the aggregates */
	}
	if ((st = profile_samples(r, o, s, x, &m->hint, &first, &n, err)) != PYRO_OK)
		return st;
	for (uint64_t j = first; j < first + n; j++)
	{
		if (!acc_add(r, r->chunk.stacks[j], r->chunk.spans ? r->chunk.spans[j] : 0,
					 r->chunk.values[j]))
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory merging block profiles");
	}
	return PYRO_OK;
}

/* Add the buckets of aggregate chunk e that start in a plan part of its level. */
static PyroStatus
add_agg_chunk(PyroBlockReader *r, const PyroBlockEntry *e, const PlanPart *plan, int nplan,
			  PyroError *err)
{
	int64_t		res = r->res[e->level];
	uint8_t    *raw;
	Pyb1Rd		d;
	uint64_t	nb,
				v,
				total = 0;
	int64_t		g;
	int64_t		start;
	int64_t    *bst = NULL;
	uint64_t   *bcnt = NULL;
	uint32_t   *stacks = NULL;
	PyroStatus	s;

	if ((s = load_section(r, e, "aggregate chunk", &raw, err)) != PYRO_OK)
		return s;
	d.p = raw;
	d.end = raw + e->rawlen;
	d.what = "aggregate chunk";
	d.err = err;
	if (!pyb1_count(&d, 2, UINT32_MAX, &nb, "bucket"))
		goto bad;
	if (nb != e->count)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block aggregate chunk holds %llu buckets, the directory says %llu",
					   (unsigned long long) nb, (unsigned long long) e->count);
		goto bad;
	}
	if (!read_gcd(&d, &g))
		goto bad;
	bst = pyro_calloc(nb, sizeof(int64_t));
	bcnt = pyro_calloc(nb, sizeof(uint64_t));
	if (bst == NULL || bcnt == NULL)
		goto oom;
	start = e->t_lo;
	if (pyb1_align_down(start, res) != start)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block aggregate chunk is not aligned to its resolution");
		goto bad;
	}
	for (uint64_t i = 0; i < nb; i++)
	{
		if (!pyb1_varint(&d, &v))
			goto bad;
		if ((i == 0 && v != 0) || (i > 0 && v == 0) ||
			v > (uint64_t) (e->t_hi - start) / (uint64_t) res)
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block aggregate bucket lies outside its chunk");
			goto bad;
		}
		start += (int64_t) v * res;
		if (start > e->t_hi - res + 1)
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block aggregate bucket lies outside its chunk");
			goto bad;
		}
		bst[i] = start;
	}
	for (uint64_t i = 0; i < nb; i++)
	{
		if (!pyb1_varint(&d, &v))
			goto bad;
		if (v > pyb1_left(&d) / 2 || total + v > pyb1_left(&d) / 2)
		{
			pyro_error_set(err, PYRO_ECORRUPT, "block aggregate entry count exceeds its data");
			goto bad;
		}
		bcnt[i] = v;
		total += v;
	}
	stacks = pyro_calloc(total ? total : 1, sizeof(uint32_t));
	if (stacks == NULL)
		goto oom;
	total = 0;
	for (uint64_t i = 0; i < nb; i++)
	{
		uint64_t	stack = 0;

		for (uint64_t j = 0; j < bcnt[i]; j++)
		{
			if (!pyb1_varint(&d, &v))
				goto bad;
			if (v >= r->sym->nstacks || (stack += v) >= r->sym->nstacks)
			{
				pyro_error_set(err, PYRO_ECORRUPT, "block aggregate refers to an unknown stack node");
				goto bad;
			}
			stacks[total++] = (uint32_t) stack;
		}
	}
	total = 0;
	for (uint64_t i = 0; i < nb; i++)
	{
		bool		use = false;

		for (int k = 0; k < nplan && !use; k++)
			use = plan[k].level == (int) e->level && bst[i] >= plan[k].a && bst[i] < plan[k].b;

		for (uint64_t j = 0; j < bcnt[i]; j++, total++)
		{
			int64_t		q,
						val;

			if (!pyb1_svarint(&d, &q))
				goto bad;
			if (!scale_value(q, g, &val))
			{
				pyro_error_set(err, PYRO_ECORRUPT, "block aggregate value overflows");
				goto bad;
			}
			if (use && !acc_add(r, stacks[total], 0, val))
				goto oom;
		}
	}
	if (d.p != d.end)
	{
		pyro_error_set(err, PYRO_ECORRUPT, "block aggregate chunk has %zu trailing bytes", pyb1_left(&d));
		goto bad;
	}
	pyro_free(raw);
	pyro_free(bst);
	pyro_free(bcnt);
	pyro_free(stacks);
	return PYRO_OK;

oom:
	pyro_error_set(err, PYRO_ENOMEM, "out of memory reading a block aggregate chunk");
bad:
	pyro_free(raw);
	pyro_free(bst);
	pyro_free(bcnt);
	pyro_free(stacks);
	return err->code != PYRO_OK ? err->code :
		pyro_error_set(err, PYRO_ECORRUPT, "invalid block aggregate chunk");
}

static PyroStatus
build_result(PyroBlockReader *r, const MergedArg *m, PyroError *err)
{
	PyroProfile *p = pyro_profile_create(r->sym, false);

	if (p == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory merging block profiles");
	if (!pyro_acc_emit(&r->acc, p))
	{
		pyro_profile_free(p);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory merging block profiles");
	}
	if (m->have_meta)
		set_meta(p, &m->meta);
	r->result = p;
	return PYRO_OK;
}

PyroStatus
pyro_block_read_merged(PyroBlockReader *r, const PyroBlockQuery *q,
					   const PyroProfile **out, PyroError *err)
{
	PlanPart	plan[MAX_PLAN];
	MergedArg	m;
	int64_t		lo,
				hi;
	uint8_t    *sel = NULL;
	PyroStatus	s;

	*out = NULL;
	pyro_error_clear(err);
	drop_result(r);
	if ((s = load_symbols(r, err)) != PYRO_OK)
		return s;
	pyro_acc_clear(&r->acc);
	r->keep_spans = q->keep_spans;
	memset(&m, 0, sizeof(m));

	if (q->start <= q->end && r->meta.nprofiles > 0)
	{
		/* clamp to the block, widened to whole buckets of every resolution */
		int64_t		rmax = r->nres > 0 ? r->res[r->nres - 1] : 1;

		lo = q->start;
		hi = q->end;
		if (lo < pyb1_align_down(r->meta.min_ts, rmax))
			lo = pyb1_align_down(r->meta.min_ts, rmax);
		if (hi > pyb1_align_down(r->meta.max_ts, rmax) + rmax - 1)
			hi = pyb1_align_down(r->meta.max_ts, rmax) + rmax - 1;
		if (lo <= hi)
		{
			m.plan = plan;
			m.nplan = make_plan(r, lo, hi + 1,
								q->use_aggregates && !q->keep_spans && q->ids == NULL &&
								r->nres > 0,
								plan);
			s = walk_index(r, q, lo, hi, merged_visit, &m, err);
			chunk_free(&r->chunk);
			if (s == PYRO_OK && (s = select_series(r, q, &sel, err)) == PYRO_OK)
			{
				for (size_t i = 0; i < r->nentries && s == PYRO_OK; i++)
				{
					const PyroBlockEntry *e = &r->entries[i];

					if (e->kind != PYB1_KIND_AGG || !sel[e->series])
						continue;
					for (int k = 0; k < m.nplan; k++)
					{
						if (plan[k].level != (int) e->level ||
							e->t_hi < plan[k].a || e->t_lo >= plan[k].b)
							continue;
						s = add_agg_chunk(r, e, plan, m.nplan, err);
						break;
					}
				}
				pyro_free(sel);
			}
		}
	}
	if (s != PYRO_OK)
		return s;
	if ((s = build_result(r, &m, err)) != PYRO_OK)
		return s;
	*out = r->result;
	return PYRO_OK;
}

/*-------------------------------------------------------------------------
 *
 * block_writer.c
 *	  Builds PYB1 blocks: interns the symbols of every added profile into
 *	  the block's own tables (through PyroSymMap, symmap.c), keeps each profile's samples varint-encoded
 *	  in memory, and at finish writes the symbol section, the per-series
 *	  profile index chunks, the sample chunks and the aggregate chunks,
 *	  each zstd-compressed on its own, then the directory and the footer.
 *
 * The byte layout is documented in docs/block-format.md.
 *
 *-------------------------------------------------------------------------
 */
#include "block_int.h"
#include "sample_acc.h"
#include "symmap.h"

#include <stdlib.h>
#include <zlib.h>

/* ----------------------------------------------------------------
 * shared helpers (declared in block_int.h)
 * ----------------------------------------------------------------
 */

uint32_t
pyb1_crc32(const uint8_t *data, size_t len)
{
	uLong		crc = crc32(0L, Z_NULL, 0);

	while (len > 0)
	{
		uInt		n = len > (1u << 30) ? (1u << 30) : (uInt) len;

		crc = crc32(crc, data, n);
		data += n;
		len -= n;
	}
	return (uint32_t) crc;
}

static void *
zstd_alloc(void *opaque, size_t size)
{
	(void) opaque;
	return pyro_malloc(size);
}

static void
zstd_free(void *opaque, void *addr)
{
	(void) opaque;
	pyro_free(addr);
}

/* zstd allocation through pyro_malloc, so memory accounting sees it */
ZSTD_customMem
pyb1_zstd_mem(void)
{
	ZSTD_customMem m;

	m.customAlloc = zstd_alloc;
	m.customFree = zstd_free;
	m.opaque = NULL;
	return m;
}

/* ----------------------------------------------------------------
 * writer state
 * ----------------------------------------------------------------
 */

/* One added profile; its samples are encoded in the writer's arena. */
typedef struct WProf
{
	int64_t		series_id;
	int64_t		ts;
	uint64_t	seq;			/* insertion order, to keep sorting stable */
	const uint8_t *data;		/* stacks, values, [spans] varints */
	uint32_t	datalen;
	uint32_t	nsamples;
	bool		spans;
	uint32_t	series_idx;		/* set at finish */
	uint32_t	sample_type;
	uint32_t	sample_unit;
	uint32_t	period_type;
	uint32_t	period_unit;
	int64_t		period;
	int64_t		time_nanos;
	int64_t		duration_nanos;
	int64_t		total;
	uint8_t		id[PYRO_PROFILE_ID_LEN];
	size_t		traces_off;		/* into PyroBlockWriter.traces */
	uint32_t	ntraces;
} WProf;

/* Arena segment holding encoded samples. */
typedef struct WSeg
{
	struct WSeg *next;
	size_t		used;
	size_t		cap;
	uint8_t		data[];
} WSeg;

#define WSEG_SIZE	((size_t) 4 << 20)

/* A decoded sample while building chunks (ordered by pyro_sample_cmp). */
typedef PyroSample WSample;

struct PyroBlockWriter
{
	PyroBlockOptions opt;
	PyroSymbols *sym;

	WProf	   *profs;
	size_t		nprofs;
	size_t		profs_cap;
	WSeg	   *segs;
	uint64_t	nsamples;
	int64_t		min_ts;
	int64_t		max_ts;
	bool		any_id;			/* some profile has an id: write IDS */
	PyroSpanTrace *traces;		/* every profile's, sorted by span, unique */
	size_t		ntraces;
	size_t		traces_cap;

	/* maps input symbols into sym; add_shared keeps its mapping */
	PyroSymMap	map;

	/* scratch */
	WSample    *tmp;
	size_t		tmp_cap;
	PyroBuf		enc;
};

void
pyro_block_options_default(PyroBlockOptions *o)
{
	memset(o, 0, sizeof(*o));
	o->zstd_level = 3;
	o->agg_resolutions[0] = 60000;
	o->agg_resolutions[1] = 3600000;
	o->nagg_resolutions = 2;
}

/*
 * Create a writer.  Returns NULL on allocation failure or invalid options
 * (more than 4 resolutions, resolutions not positive and strictly
 * ascending, or above 2^40 ms).
 */
PyroBlockWriter *
pyro_block_writer_create(const PyroBlockOptions *opt)
{
	PyroBlockWriter *w;
	PyroBlockOptions o;

	if (opt)
		o = *opt;
	else
		pyro_block_options_default(&o);
	if (o.nagg_resolutions < 0 || o.nagg_resolutions > 4)
		return NULL;
	for (int i = 0; i < o.nagg_resolutions; i++)
	{
		if (o.agg_resolutions[i] <= 0 || o.agg_resolutions[i] > PYB1_MAX_RES ||
			(i > 0 && o.agg_resolutions[i] <= o.agg_resolutions[i - 1]))
			return NULL;
	}
	if (o.zstd_level < ZSTD_minCLevel())
		o.zstd_level = ZSTD_minCLevel();
	if (o.zstd_level > ZSTD_maxCLevel())
		o.zstd_level = ZSTD_maxCLevel();
	if (o.zstd_level == 0)
		o.zstd_level = 3;

	w = pyro_calloc(1, sizeof(PyroBlockWriter));
	if (w == NULL)
		return NULL;
	w->opt = o;
	w->sym = pyro_symbols_create();
	if (w->sym == NULL)
	{
		pyro_free(w);
		return NULL;
	}
	pyro_symmap_init(&w->map, w->sym, PYRO_EINVAL, false,
					 "out of memory adding a profile to a block");
	pyro_buf_init(&w->enc);
	return w;
}

void
pyro_block_writer_free(PyroBlockWriter *w)
{
	if (w == NULL)
		return;
	while (w->segs)
	{
		WSeg	   *n = w->segs->next;

		pyro_free(w->segs);
		w->segs = n;
	}
	pyro_symbols_free(w->sym);
	pyro_free(w->profs);
	pyro_free(w->traces);
	pyro_symmap_free(&w->map);
	pyro_free(w->tmp);
	pyro_buf_free(&w->enc);
	pyro_free(w);
}

/* ----------------------------------------------------------------
 * adding profiles
 * ----------------------------------------------------------------
 */

/* Copy len bytes into the arena; returns the stable copy or NULL. */
static const uint8_t *
arena_store(PyroBlockWriter *w, const uint8_t *data, size_t len)
{
	WSeg	   *s = w->segs;
	uint8_t    *dst;

	if (s == NULL || s->cap - s->used < len)
	{
		size_t		cap = len > WSEG_SIZE ? len : WSEG_SIZE;
		size_t		total;

		if (!pyro_size_add(cap, sizeof(WSeg), &total))
			return NULL;
		s = pyro_malloc(total);
		if (s == NULL)
			return NULL;
		s->used = 0;
		s->cap = cap;
		s->next = w->segs;
		w->segs = s;
	}
	dst = s->data + s->used;
	if (len > 0)
		memcpy(dst, data, len);
	s->used += len;
	return dst;
}

static int
span_trace_cmp(const void *a, const void *b)
{
	uint64_t	x = ((const PyroSpanTrace *) a)->span;
	uint64_t	y = ((const PyroSpanTrace *) b)->span;

	return (x > y) - (x < y);
}

static PyroStatus
writer_add(PyroBlockWriter *w, int64_t series_id, int64_t ts, const PyroProfile *p,
		   bool keep, PyroError *err)
{
	const PyroSymbols *in;
	PyroSymMap *sm;
	WProf		wp;
	uint32_t	prev;
	bool		spans = false;

	if (w == NULL || p == NULL || p->sym == NULL)
		return pyro_error_set(err, PYRO_EINVAL, "profile has no symbols");
	in = p->sym;
	sm = &w->map;
	if (in->nstrings == 0 || in->nmappings == 0 || in->nstacks == 0)
		return pyro_error_set(err, PYRO_EINVAL, "profile symbols lack their sentinels");
	if (ts < -PYB1_MAX_TS || ts > PYB1_MAX_TS)
		return pyro_error_set(err, PYRO_EINVAL, "profile time %lld is out of range",
							  (long long) ts);
	if (p->nsamples > UINT32_MAX / 2)
		return pyro_error_set(err, PYRO_ELIMIT, "profile has too many samples (%zu)",
							  p->nsamples);
	if (w->nprofs >= ((size_t) 1 << 32))
		return pyro_error_set(err, PYRO_ELIMIT, "block has too many profiles");
	if (!pyro_symmap_begin(sm, in, keep, err))
		return sm->status;

	memset(&wp, 0, sizeof(wp));
	wp.series_id = series_id;
	wp.ts = ts;
	wp.seq = w->nprofs;
	memcpy(wp.id, p->id, PYRO_PROFILE_ID_LEN);
	if (p->ntraces > 0)
	{
		size_t		k = 0;

		if (!pyro_grow((void **) &w->traces, &w->traces_cap, w->ntraces + p->ntraces,
					   sizeof(PyroSpanTrace)))
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory adding a profile to a block");
		memcpy(w->traces + w->ntraces, p->traces, p->ntraces * sizeof(PyroSpanTrace));
		qsort(w->traces + w->ntraces, p->ntraces, sizeof(PyroSpanTrace), span_trace_cmp);
		for (size_t i = 0; i < p->ntraces; i++)
			if (k == 0 || w->traces[w->ntraces + i].span != w->traces[w->ntraces + k - 1].span)
				w->traces[w->ntraces + k++] = w->traces[w->ntraces + i];
		wp.traces_off = w->ntraces;
		wp.ntraces = (uint32_t) k;
		w->ntraces += k;
	}
	if ((wp.sample_type = pyro_symmap_string(sm, p->sample_type, "metadata", 0)) == PYRO_NO_INDEX ||
		(wp.sample_unit = pyro_symmap_string(sm, p->sample_unit, "metadata", 1)) == PYRO_NO_INDEX ||
		(wp.period_type = pyro_symmap_string(sm, p->period_type, "metadata", 2)) == PYRO_NO_INDEX ||
		(wp.period_unit = pyro_symmap_string(sm, p->period_unit, "metadata", 3)) == PYRO_NO_INDEX)
		goto fail;
	wp.period = p->period;
	wp.time_nanos = p->time_nanos;
	wp.duration_nanos = p->duration_nanos;
	wp.nsamples = (uint32_t) p->nsamples;

	/* map samples to block stacks and sort them by (stack, span) */
	if (!pyro_grow((void **) &w->tmp, &w->tmp_cap, p->nsamples ? p->nsamples : 1,
				   sizeof(WSample)))
	{
		pyro_symmap_oom(sm);
		goto fail;
	}
	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];
		uint32_t	g;

		if (s->stack >= in->nstacks)
		{
			pyro_symmap_bad(sm, "sample %u refers to unknown stack node %u",
							(unsigned) i, s->stack);
			goto fail;
		}
		if ((g = pyro_symmap_stack(sm, s->stack)) == PYRO_NO_INDEX)
			goto fail;
		w->tmp[i].stack = g;
		w->tmp[i].value = s->value;
		w->tmp[i].span_id = s->span_id;
		spans |= s->span_id != 0;
		wp.total = pyro_sat_add64(wp.total, s->value);
	}
	if (p->nsamples > 0)
		qsort(w->tmp, p->nsamples, sizeof(WSample), pyro_sample_cmp);
	wp.spans = spans;

	/* encode: stack deltas, zigzag values, span ids */
	w->enc.len = 0;
	prev = 0;
	for (size_t i = 0; i < p->nsamples; i++)
	{
		pyro_buf_append_varint(&w->enc, w->tmp[i].stack - prev);
		prev = w->tmp[i].stack;
	}
	for (size_t i = 0; i < p->nsamples; i++)
		pyro_buf_append_varint(&w->enc, pyro_zigzag_enc(w->tmp[i].value));
	if (spans)
	{
		for (size_t i = 0; i < p->nsamples; i++)
			pyro_buf_append_varint(&w->enc, w->tmp[i].span_id);
	}
	if (w->enc.oom || w->enc.len > UINT32_MAX)
	{
		pyro_symmap_oom(sm);
		goto fail;
	}
	if (w->nprofs >= w->profs_cap &&
		!pyro_grow((void **) &w->profs, &w->profs_cap, w->nprofs + 1, sizeof(WProf)))
	{
		pyro_symmap_oom(sm);
		goto fail;
	}
	wp.data = arena_store(w, w->enc.data, w->enc.len);
	if (wp.data == NULL)
	{
		pyro_symmap_oom(sm);
		goto fail;
	}
	wp.datalen = (uint32_t) w->enc.len;
	if (w->nprofs == 0 || ts < w->min_ts)
		w->min_ts = ts;
	if (w->nprofs == 0 || ts > w->max_ts)
		w->max_ts = ts;
	w->profs[w->nprofs++] = wp;
	w->nsamples += p->nsamples;
	if (!w->any_id && pyro_profile_id_set(p->id))
		w->any_id = true;
	return PYRO_OK;

fail:
	/* the remap arrays may hold mappings of a half-added profile: still valid */
	return sm->status != PYRO_OK ? sm->status :
		pyro_error_set(err, PYRO_EINVAL, "invalid profile");
}

/* Add one profile of series_id at time ts (epoch ms). */
PyroStatus
pyro_block_writer_add(PyroBlockWriter *w, int64_t series_id, int64_t ts,
					  const PyroProfile *p, PyroError *err)
{
	return writer_add(w, series_id, ts, p, false, err);
}

PyroStatus
pyro_block_writer_add_shared(PyroBlockWriter *w, int64_t series_id, int64_t ts,
							 const PyroProfile *p, PyroError *err)
{
	return writer_add(w, series_id, ts, p, true, err);
}

void
pyro_block_writer_release_symbols(PyroBlockWriter *w)
{
	if (w)
		pyro_symmap_release(&w->map);
}

/* ----------------------------------------------------------------
 * finishing: sections
 * ----------------------------------------------------------------
 */

typedef struct FinishCtx
{
	PyroBlockWriter *w;
	PyroBuf    *out;
	ZSTD_CCtx  *cctx;
	PyroBlockEntry *entries;
	size_t		nentries;
	size_t		entries_cap;
	PyroBuf		raw;
	PyroBuf		col2;			/* second column scratch */
	PyroBuf		col3;
	PyroError  *err;
} FinishCtx;

static PyroStatus
fin_oom(FinishCtx *f)
{
	return pyro_error_set(f->err, PYRO_ENOMEM, "out of memory writing a block");
}

/*
 * Compress f->raw as one section of the given kind and append it to the
 * output, recording its directory entry.
 */
static PyroStatus
emit_section(FinishCtx *f, const PyroBlockEntry *tmpl)
{
	PyroBlockEntry e = *tmpl;
	size_t		bound;
	size_t		clen;

	if (f->raw.oom)
		return fin_oom(f);
	if ((uint64_t) f->raw.len > PYB1_MAX_RAW)
		return pyro_error_set(f->err, PYRO_ELIMIT, "block section of %zu bytes is too large",
							  f->raw.len);
	bound = ZSTD_compressBound(f->raw.len);
	if (!pyro_buf_reserve(f->out, bound))
		return fin_oom(f);
	clen = ZSTD_compressCCtx(f->cctx, f->out->data + f->out->len, bound,
							 f->raw.data ? f->raw.data : (const uint8_t *) "", f->raw.len,
							 f->w->opt.zstd_level);
	if (ZSTD_isError(clen))
		return pyro_error_set(f->err, PYRO_ENOMEM, "zstd compression failed: %s",
							  ZSTD_getErrorName(clen));
	e.offset = f->out->len;
	e.clen = clen;
	e.rawlen = f->raw.len;
	e.crc = pyb1_crc32(f->out->data + f->out->len, clen);
	f->out->len += clen;
	if (f->nentries >= f->entries_cap &&
		!pyro_grow((void **) &f->entries, &f->entries_cap, f->nentries + 1,
				   sizeof(PyroBlockEntry)))
		return fin_oom(f);
	f->entries[f->nentries++] = e;
	return PYRO_OK;
}

/* The symbol section: every table of the block's symbols, column-wise. */
static PyroStatus
write_symbols(FinishCtx *f)
{
	const PyroSymbols *s = f->w->sym;
	PyroBuf    *b = &f->raw;
	PyroBlockEntry e;
	uint64_t	prev_addr = 0;

	b->len = 0;
	pyro_buf_append_varint(b, s->nstrings);
	for (uint32_t i = 0; i < s->nstrings; i++)
		pyro_buf_append_varint(b, s->strings[i].len);
	for (uint32_t i = 0; i < s->nstrings; i++)
		pyro_buf_append(b, s->strings[i].ptr, s->strings[i].len);

	pyro_buf_append_varint(b, s->nmappings);
	for (uint32_t i = 0; i < s->nmappings; i++)
	{
		const PyroMapping *m = &s->mappings[i];

		pyro_buf_append_varint(b, m->memory_start);
		pyro_buf_append_varint(b, m->memory_limit);
		pyro_buf_append_varint(b, m->file_offset);
		pyro_buf_append_varint(b, m->filename);
		pyro_buf_append_varint(b, m->build_id);
		pyro_buf_append_varint(b, m->flags);
	}

	pyro_buf_append_varint(b, s->nfunctions);
	for (uint32_t i = 0; i < s->nfunctions; i++)
		pyro_buf_append_varint(b, s->functions[i].name);
	for (uint32_t i = 0; i < s->nfunctions; i++)
		pyro_buf_append_varint(b, s->functions[i].system_name);
	for (uint32_t i = 0; i < s->nfunctions; i++)
		pyro_buf_append_varint(b, s->functions[i].filename);
	for (uint32_t i = 0; i < s->nfunctions; i++)
		pyro_buf_append_varint(b, pyro_zigzag_enc(s->functions[i].start_line));

	/*
	 * locations: lines are written in location order, so first_line is
	 * implied
	 */
	pyro_buf_append_varint(b, s->nlocations);
	{
		uint64_t	nl = 0;

		for (uint32_t i = 0; i < s->nlocations; i++)
			nl += s->locations[i].nlines;
		pyro_buf_append_varint(b, nl);
	}
	for (uint32_t i = 0; i < s->nlocations; i++)
		pyro_buf_append_varint(b, s->locations[i].mapping);
	for (uint32_t i = 0; i < s->nlocations; i++)
	{
		pyro_buf_append_varint(b, pyro_zigzag_enc((int64_t) (s->locations[i].address - prev_addr)));
		prev_addr = s->locations[i].address;
	}
	for (uint32_t i = 0; i < s->nlocations; i++)
		pyro_buf_append_varint(b, s->locations[i].nlines);
	for (uint32_t i = 0; i < s->nlocations; i++)
	{
		const PyroLocation *l = &s->locations[i];

		for (uint32_t j = 0; j < l->nlines; j++)
			pyro_buf_append_varint(b, s->lines[l->first_line + j].function);
	}
	for (uint32_t i = 0; i < s->nlocations; i++)
	{
		const PyroLocation *l = &s->locations[i];

		for (uint32_t j = 0; j < l->nlines; j++)
			pyro_buf_append_varint(b, pyro_zigzag_enc(s->lines[l->first_line + j].line));
	}

	pyro_buf_append_varint(b, s->nstacks);
	for (uint32_t i = 1; i < s->nstacks; i++)
		pyro_buf_append_varint(b, i - s->stacks[i].parent);
	for (uint32_t i = 1; i < s->nstacks; i++)
		pyro_buf_append_varint(b, s->stacks[i].location);

	memset(&e, 0, sizeof(e));
	e.kind = PYB1_KIND_SYMBOLS;
	return emit_section(f, &e);
}

/*
 * The directory entry of a per-profile section (INDEX, IDS, TRACES) of
 * profiles [a, b) of one series, and its raw bytes emptied.
 */
static void
profile_chunk_entry(FinishCtx *f, uint32_t kind, size_t a, size_t b, PyroBlockEntry *e)
{
	const WProf *pr = f->w->profs;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->series = pr[a].series_idx;
	e->t_lo = pr[a].ts;
	e->t_hi = pr[b - 1].ts;
	e->first = a;
	e->count = b - a;
	f->raw.len = 0;
}

/* Index chunk for profiles [a, b) of one series. */
static PyroStatus
write_index_chunk(FinishCtx *f, size_t a, size_t b)
{
	const WProf *pr = f->w->profs;
	PyroBuf    *r = &f->raw;
	PyroBlockEntry e;
	int64_t		prev;

	profile_chunk_entry(f, PYB1_KIND_INDEX, a, b, &e);
	pyro_buf_append_varint(r, b - a);
	prev = e.t_lo;
	for (size_t i = a; i < b; i++)
	{
		pyro_buf_append_varint(r, (uint64_t) (pr[i].ts - prev));
		prev = pr[i].ts;
	}
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pr[i].nsamples);
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pyro_zigzag_enc(pr[i].total));
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pr[i].sample_type);
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pr[i].sample_unit);
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pr[i].period_type);
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pr[i].period_unit);
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pyro_zigzag_enc(pr[i].period));
	prev = 0;
	for (size_t i = a; i < b; i++)
	{
		pyro_buf_append_varint(r, pyro_zigzag_enc((int64_t) ((uint64_t) pr[i].time_nanos - (uint64_t) prev)));
		prev = pr[i].time_nanos;
	}
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pyro_zigzag_enc(pr[i].duration_nanos));
	return emit_section(f, &e);
}

/* Ids of profiles [a, b) of one series, beside their index chunk. */
static PyroStatus
write_ids_chunk(FinishCtx *f, size_t a, size_t b)
{
	const WProf *pr = f->w->profs;
	PyroBlockEntry e;

	profile_chunk_entry(f, PYB1_KIND_IDS, a, b, &e);
	for (size_t i = a; i < b; i++)
		pyro_buf_append(&f->raw, pr[i].id, PYRO_PROFILE_ID_LEN);
	return emit_section(f, &e);
}

/*
 * Span -> trace ids of profiles [a, b) of one series, beside their index
 * chunk: per profile a varint count, then per span (ascending) the varint
 * span id and the 16 bytes of its trace id.
 */
static PyroStatus
write_traces_chunk(FinishCtx *f, size_t a, size_t b)
{
	const WProf *pr = f->w->profs;
	PyroBlockEntry e;

	profile_chunk_entry(f, PYB1_KIND_TRACES, a, b, &e);
	for (size_t i = a; i < b; i++)
	{
		pyro_buf_append_varint(&f->raw, pr[i].ntraces);
		for (uint32_t k = 0; k < pr[i].ntraces; k++)
		{
			const PyroSpanTrace *t = &f->w->traces[pr[i].traces_off + k];
			uint8_t		id[16];

			for (int j = 0; j < 8; j++)
			{
				id[j] = (uint8_t) (t->trace_hi >> (56 - 8 * j));
				id[8 + j] = (uint8_t) (t->trace_lo >> (56 - 8 * j));
			}
			pyro_buf_append_varint(&f->raw, t->span);
			pyro_buf_append(&f->raw, id, sizeof(id));
		}
	}
	return emit_section(f, &e);
}

/* Decode the samples of one stored profile into w->tmp (grown as needed). */
static bool
decode_wprof(PyroBlockWriter *w, const WProf *p, WSample *out)
{
	const uint8_t *q = p->data;
	const uint8_t *end = p->data + p->datalen;
	uint32_t	stack = 0;
	uint64_t	v;

	for (uint32_t i = 0; i < p->nsamples; i++)
	{
		if (!pyro_read_varint(&q, end, &v))
			return false;
		stack += (uint32_t) v;
		out[i].stack = stack;
	}
	for (uint32_t i = 0; i < p->nsamples; i++)
	{
		if (!pyro_read_varint(&q, end, &v))
			return false;
		out[i].value = pyro_zigzag_dec(v);
		out[i].span_id = 0;
	}
	if (p->spans)
	{
		for (uint32_t i = 0; i < p->nsamples; i++)
		{
			if (!pyro_read_varint(&q, end, &out[i].span_id))
				return false;
		}
	}
	(void) w;
	return true;
}

static uint64_t
gcd_u64(uint64_t a, uint64_t b)
{
	while (b)
	{
		uint64_t	t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static uint64_t
abs_u64(int64_t v)
{
	return v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
}

/* Common divisor of values (1 when none is non-zero or it would not fit). */
static int64_t
values_gcd(const WSample *s, size_t n)
{
	uint64_t	g = 0;

	for (size_t i = 0; i < n && g != 1; i++)
	{
		if (s[i].value != 0)
			g = gcd_u64(g, abs_u64(s[i].value));
	}
	if (g == 0 || g > (uint64_t) INT64_MAX)
		return 1;
	return (int64_t) g;
}

/* Sample chunk for profiles [a, b) of one series. */
static PyroStatus
write_sample_chunk(FinishCtx *f, size_t a, size_t b)
{
	PyroBlockWriter *w = f->w;
	const WProf *pr = w->profs;
	PyroBuf    *r = &f->raw;
	PyroBlockEntry e;
	size_t		n = 0;
	bool		spans = false;
	int64_t		g;

	for (size_t i = a; i < b; i++)
	{
		n += pr[i].nsamples;
		spans |= pr[i].spans;
	}
	if (!pyro_grow((void **) &w->tmp, &w->tmp_cap, n ? n : 1, sizeof(WSample)))
		return fin_oom(f);
	n = 0;
	for (size_t i = a; i < b; i++)
	{
		if (!decode_wprof(w, &pr[i], w->tmp + n))
			return pyro_error_set(f->err, PYRO_ECORRUPT, "block writer lost sample data");
		n += pr[i].nsamples;
	}
	g = values_gcd(w->tmp, n);

	memset(&e, 0, sizeof(e));
	e.kind = PYB1_KIND_SAMPLES;
	e.series = pr[a].series_idx;
	e.t_lo = pr[a].ts;
	e.t_hi = pr[b - 1].ts;
	e.first = a;
	e.count = b - a;

	r->len = 0;
	pyro_buf_append_varint(r, b - a);
	pyro_buf_append_varint(r, spans ? PYB1_CHUNK_SPANS : 0);
	pyro_buf_append_varint(r, (uint64_t) g);
	for (size_t i = a; i < b; i++)
		pyro_buf_append_varint(r, pr[i].nsamples);
	n = 0;
	for (size_t i = a; i < b; i++)
	{
		uint32_t	prev = 0;

		for (uint32_t j = 0; j < pr[i].nsamples; j++)
		{
			pyro_buf_append_varint(r, w->tmp[n + j].stack - prev);
			prev = w->tmp[n + j].stack;
		}
		n += pr[i].nsamples;
	}
	for (size_t i = 0; i < n; i++)
		pyro_buf_append_varint(r, pyro_zigzag_enc(w->tmp[i].value / g));
	if (spans)
	{
		for (size_t i = 0; i < n; i++)
			pyro_buf_append_varint(r, w->tmp[i].span_id);
	}
	return emit_section(f, &e);
}

/*
 * Aggregates of one series at one resolution: per bucket the merged
 * (stack, value) list of all its profiles, grouped into chunks of at most
 * PYB1_AGG_BUCKETS_PER_CHUNK buckets of one aligned period.
 */
typedef struct AggState
{
	int64_t    *sums;			/* per block stack */
	uint8_t    *touched;
	uint32_t   *list;			/* touched stacks */
	size_t		nlist;
	/* pending chunk */
	WSample    *ent;			/* merged entries of the pending buckets */
	size_t		nent;
	size_t		ent_cap;
	int64_t    *bstart;			/* bucket starts */
	uint32_t   *bcount;			/* entries per bucket */
	size_t		nb;
	int64_t		period;			/* aligned chunk period of the pending chunk */
} AggState;

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;

	return (x > y) - (x < y);
}

static PyroStatus
flush_agg_chunk(FinishCtx *f, AggState *st, uint32_t series, uint32_t level, int64_t res)
{
	PyroBuf    *r = &f->raw;
	PyroBlockEntry e;
	int64_t		g;
	int64_t		prevb;
	size_t		k = 0;

	if (st->nb == 0)
		return PYRO_OK;
	g = values_gcd(st->ent, st->nent);
	memset(&e, 0, sizeof(e));
	e.kind = PYB1_KIND_AGG;
	e.series = series;
	e.level = level;
	e.t_lo = st->bstart[0];
	e.t_hi = st->bstart[st->nb - 1] + res - 1;
	e.count = st->nb;

	r->len = 0;
	pyro_buf_append_varint(r, st->nb);
	pyro_buf_append_varint(r, (uint64_t) g);
	prevb = e.t_lo;
	for (size_t i = 0; i < st->nb; i++)
	{
		pyro_buf_append_varint(r, (uint64_t) ((st->bstart[i] - prevb) / res));
		prevb = st->bstart[i];
	}
	for (size_t i = 0; i < st->nb; i++)
		pyro_buf_append_varint(r, st->bcount[i]);
	for (size_t i = 0; i < st->nb; i++)
	{
		uint32_t	prev = 0;

		for (uint32_t j = 0; j < st->bcount[i]; j++, k++)
		{
			pyro_buf_append_varint(r, st->ent[k].stack - prev);
			prev = st->ent[k].stack;
		}
	}
	for (size_t i = 0; i < st->nent; i++)
		pyro_buf_append_varint(r, pyro_zigzag_enc(st->ent[i].value / g));
	st->nb = 0;
	st->nent = 0;
	return emit_section(f, &e);
}

/* Close the bucket being accumulated into st->sums. */
static PyroStatus
close_bucket(FinishCtx *f, AggState *st, int64_t bstart, uint32_t series,
			 uint32_t level, int64_t res)
{
	int64_t		period = pyb1_floor_div(bstart, res * PYB1_AGG_BUCKETS_PER_CHUNK);
	size_t		cnt = 0;
	PyroStatus	s;

	if (st->nb > 0 &&
		(st->period != period || st->nb >= PYB1_AGG_BUCKETS_PER_CHUNK ||
		 st->nent * 6 > PYB1_CHUNK_TARGET_RAW))
	{
		if ((s = flush_agg_chunk(f, st, series, level, res)) != PYRO_OK)
			return s;
	}
	st->period = period;
	if (st->nlist > 0)
		qsort(st->list, st->nlist, sizeof(uint32_t), cmp_u32);
	if (!pyro_grow((void **) &st->ent, &st->ent_cap, st->nent + st->nlist + 1, sizeof(WSample)))
		return fin_oom(f);
	for (size_t i = 0; i < st->nlist; i++)
	{
		uint32_t	sk = st->list[i];

		if (st->sums[sk] != 0)
		{
			st->ent[st->nent].stack = sk;
			st->ent[st->nent].value = st->sums[sk];
			st->ent[st->nent].span_id = 0;
			st->nent++;
			cnt++;
		}
		st->sums[sk] = 0;
		st->touched[sk] = 0;
	}
	st->nlist = 0;
	st->bstart[st->nb] = bstart;
	st->bcount[st->nb] = (uint32_t) cnt;
	st->nb++;
	return PYRO_OK;
}

static PyroStatus
write_aggregates(FinishCtx *f, AggState *st, size_t a, size_t b, uint32_t level)
{
	PyroBlockWriter *w = f->w;
	int64_t		res = w->opt.agg_resolutions[level];
	uint32_t	series = w->profs[a].series_idx;
	int64_t		cur = 0;
	bool		open = false;
	PyroStatus	s;

	for (size_t i = a; i < b; i++)
	{
		const WProf *p = &w->profs[i];
		int64_t		bs = pyb1_align_down(p->ts, res);

		if (open && bs != cur)
		{
			if ((s = close_bucket(f, st, cur, series, level, res)) != PYRO_OK)
				return s;
		}
		cur = bs;
		open = true;
		if (!pyro_grow((void **) &w->tmp, &w->tmp_cap, p->nsamples ? p->nsamples : 1,
					   sizeof(WSample)))
			return fin_oom(f);
		if (!decode_wprof(w, p, w->tmp))
			return pyro_error_set(f->err, PYRO_ECORRUPT, "block writer lost sample data");
		for (uint32_t j = 0; j < p->nsamples; j++)
		{
			uint32_t	sk = w->tmp[j].stack;

			if (w->tmp[j].value == 0)
				continue;
			if (!st->touched[sk])
			{
				st->touched[sk] = 1;
				st->list[st->nlist++] = sk;
			}
			st->sums[sk] = pyro_sat_add64(st->sums[sk], w->tmp[j].value);
		}
	}
	if (open && (s = close_bucket(f, st, cur, series, level, res)) != PYRO_OK)
		return s;
	return flush_agg_chunk(f, st, series, level, res);
}

static int
cmp_wprof(const void *a, const void *b)
{
	const WProf *x = a;
	const WProf *y = b;

	if (x->series_id != y->series_id)
		return x->series_id < y->series_id ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Directory: meta, resolutions, series ids, entries. */
static void
write_directory(FinishCtx *f, PyroBuf *d, const int64_t *series, uint32_t nseries)
{
	PyroBlockWriter *w = f->w;

	pyro_buf_append_varint(d, (w->any_id ? PYB1_DIR_IDS : 0) |
						   (w->ntraces > 0 ? PYB1_DIR_TRACES : 0)); /* flags */
	pyro_buf_append_varint(d, (uint64_t) w->opt.nagg_resolutions);
	for (int i = 0; i < w->opt.nagg_resolutions; i++)
		pyro_buf_append_varint(d, (uint64_t) w->opt.agg_resolutions[i]);
	pyro_buf_append_varint(d, pyro_zigzag_enc(w->min_ts));
	pyro_buf_append_varint(d, (uint64_t) (w->max_ts - w->min_ts));
	pyro_buf_append_varint(d, w->nprofs);
	pyro_buf_append_varint(d, w->nsamples);
	pyro_buf_append_varint(d, nseries);
	for (uint32_t i = 0; i < nseries; i++)
	{
		if (i == 0)
			pyro_buf_append_varint(d, pyro_zigzag_enc(series[0]));
		else
			pyro_buf_append_varint(d, (uint64_t) series[i] - (uint64_t) series[i - 1]);
	}
	pyro_buf_append_varint(d, f->nentries);
	for (size_t i = 0; i < f->nentries; i++)
	{
		const PyroBlockEntry *e = &f->entries[i];

		pyro_buf_append_varint(d, e->kind);
		pyro_buf_append_varint(d, e->series);
		pyro_buf_append_varint(d, e->level);
		pyro_buf_append_varint(d, pyro_zigzag_enc(e->t_lo));
		pyro_buf_append_varint(d, (uint64_t) (e->t_hi - e->t_lo));
		pyro_buf_append_varint(d, e->first);
		pyro_buf_append_varint(d, e->count);
		pyro_buf_append_varint(d, e->offset);
		pyro_buf_append_varint(d, e->clen);
		pyro_buf_append_varint(d, e->rawlen);
		pyro_buf_append_varint(d, e->crc);
	}
}

static PyroStatus
finish_body(FinishCtx *f, int64_t **series_out, uint32_t *nseries_out, AggState *st)
{
	PyroBlockWriter *w = f->w;
	int64_t    *series = NULL;
	uint32_t	nseries = 0;
	PyroStatus	s;
	uint8_t		hdr[PYB1_HEADER_SIZE] = {'P', 'Y', 'B', '1', PYB1_VERSION, 0, 0, 0};

	if (w->nprofs > 0)
		qsort(w->profs, w->nprofs, sizeof(WProf), cmp_wprof);
	/* series table */
	for (size_t i = 0; i < w->nprofs; i++)
	{
		if (i == 0 || w->profs[i].series_id != w->profs[i - 1].series_id)
			nseries++;
	}
	if (nseries > PYB1_MAX_SERIES)
		return pyro_error_set(f->err, PYRO_ELIMIT, "block has too many series (%u)",
							  (unsigned) nseries);
	series = pyro_calloc(nseries ? nseries : 1, sizeof(int64_t));
	if (series == NULL)
		return fin_oom(f);
	*series_out = series;
	nseries = 0;
	for (size_t i = 0; i < w->nprofs; i++)
	{
		if (i == 0 || w->profs[i].series_id != w->profs[i - 1].series_id)
			series[nseries++] = w->profs[i].series_id;
		w->profs[i].series_idx = nseries - 1;
	}
	*nseries_out = nseries;

	pyro_buf_append(f->out, hdr, sizeof(hdr));
	if ((s = write_symbols(f)) != PYRO_OK)
		return s;

	/* index chunks: per series per aligned day, at most PYB1_INDEX_CHUNK_MAX */
	for (size_t a = 0; a < w->nprofs;)
	{
		size_t		b = a + 1;
		int64_t		day = pyb1_floor_div(w->profs[a].ts, PYB1_INDEX_CHUNK_MS);

		while (b < w->nprofs && w->profs[b].series_idx == w->profs[a].series_idx &&
			   pyb1_floor_div(w->profs[b].ts, PYB1_INDEX_CHUNK_MS) == day &&
			   b - a < PYB1_INDEX_CHUNK_MAX)
			b++;
		if ((s = write_index_chunk(f, a, b)) != PYRO_OK)
			return s;
		if (w->any_id && (s = write_ids_chunk(f, a, b)) != PYRO_OK)
			return s;
		if (w->ntraces > 0 && (s = write_traces_chunk(f, a, b)) != PYRO_OK)
			return s;
		a = b;
	}

	/* sample chunks: per series per aligned hour, split past the target size */
	for (size_t a = 0; a < w->nprofs;)
	{
		size_t		b = a + 1;
		size_t		bytes = w->profs[a].datalen;
		int64_t		hour = pyb1_floor_div(w->profs[a].ts, PYB1_SAMPLE_CHUNK_MS);

		while (b < w->nprofs && w->profs[b].series_idx == w->profs[a].series_idx &&
			   pyb1_floor_div(w->profs[b].ts, PYB1_SAMPLE_CHUNK_MS) == hour &&
			   bytes + w->profs[b].datalen <= PYB1_CHUNK_TARGET_RAW)
			bytes += w->profs[b++].datalen;
		if ((s = write_sample_chunk(f, a, b)) != PYRO_OK)
			return s;
		a = b;
	}

	/* aggregates: per series, per resolution */
	if (w->opt.nagg_resolutions > 0 && w->nprofs > 0)
	{
		uint32_t	ns = w->sym->nstacks;

		st->sums = pyro_calloc(ns, sizeof(int64_t));
		st->touched = pyro_calloc(ns, 1);
		st->list = pyro_calloc(ns, sizeof(uint32_t));
		st->bstart = pyro_calloc(PYB1_AGG_BUCKETS_PER_CHUNK, sizeof(int64_t));
		st->bcount = pyro_calloc(PYB1_AGG_BUCKETS_PER_CHUNK, sizeof(uint32_t));
		if (!st->sums || !st->touched || !st->list || !st->bstart || !st->bcount)
			return fin_oom(f);
		for (size_t a = 0; a < w->nprofs;)
		{
			size_t		b = a + 1;

			while (b < w->nprofs && w->profs[b].series_idx == w->profs[a].series_idx)
				b++;
			for (int l = 0; l < w->opt.nagg_resolutions; l++)
			{
				if ((s = write_aggregates(f, st, a, b, (uint32_t) l)) != PYRO_OK)
					return s;
			}
			a = b;
		}
	}
	return PYRO_OK;
}

/*
 * Write the block into out (appended; out normally starts empty so that
 * offsets are relative to the block start: the writer resets out->len to
 * 0 first).  The writer can be freed afterwards; adding after finish is
 * not supported.
 */
PyroStatus
pyro_block_writer_finish(PyroBlockWriter *w, PyroBuf *out, PyroBlockMeta *meta,
						 PyroError *err)
{
	FinishCtx	f;
	AggState	st;
	ZSTD_customMem mem = pyb1_zstd_mem();
	int64_t    *series = NULL;
	uint32_t	nseries = 0;
	PyroStatus	s;
	PyroBuf		dir;
	uint8_t		foot[PYB1_FOOTER_SIZE];
	PyroBlockEntry de;

	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	pyro_buf_init(&dir);
	if (w == NULL || out == NULL)
		return pyro_error_set(err, PYRO_EINVAL, "no block writer or output buffer");
	out->len = 0;
	out->oom = false;
	f.w = w;
	f.out = out;
	f.err = err;
	pyro_buf_init(&f.raw);
	f.cctx = ZSTD_createCCtx_advanced(mem);
	if (f.cctx == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory creating a zstd context");

	s = finish_body(&f, &series, &nseries, &st);
	if (s == PYRO_OK)
	{
		/* the directory itself is compressed like a section */
		write_directory(&f, &dir, series, nseries);
		pyro_buf_free(&f.raw);
		f.raw = dir;
		pyro_buf_init(&dir);
		memset(&de, 0, sizeof(de));
		s = emit_section(&f, &de);
	}
	if (s == PYRO_OK)
	{
		const PyroBlockEntry *d = &f.entries[f.nentries - 1];

		pyb1_put_u64(foot, d->offset);
		pyb1_put_u64(foot + 8, d->clen);
		pyb1_put_u64(foot + 16, d->rawlen);
		pyb1_put_u32(foot + 24, d->crc);
		pyb1_put_u32(foot + 28, pyb1_crc32(foot, 28));
		foot[32] = PYB1_VERSION;
		foot[33] = foot[34] = foot[35] = 0;
		memcpy(foot + 36, PYB1_MAGIC, 4);
		pyro_buf_append(out, foot, sizeof(foot));
		if (out->oom)
			s = fin_oom(&f);
	}
	if (s == PYRO_OK && meta)
	{
		meta->min_ts = w->min_ts;
		meta->max_ts = w->max_ts;
		meta->nseries = nseries;
		meta->nprofiles = w->nprofs;
		meta->nsamples = w->nsamples;
		meta->size = out->len;
	}
	ZSTD_freeCCtx(f.cctx);
	pyro_buf_free(&f.raw);
	pyro_buf_free(&f.col2);
	pyro_buf_free(&f.col3);
	pyro_buf_free(&dir);
	pyro_free(f.entries);
	pyro_free(series);
	pyro_free(st.sums);
	pyro_free(st.touched);
	pyro_free(st.list);
	pyro_free(st.ent);
	pyro_free(st.bstart);
	pyro_free(st.bcount);
	return s;
}

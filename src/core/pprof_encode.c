/*-------------------------------------------------------------------------
 *
 * pprof_encode.c
 *	  Encode a single-value PyroProfile as a raw pprof protobuf (spec §4,
 *	  §7.4), written by hand with the PyroBuf varint helpers.
 *
 * Only the symbols the samples reach are written.  Locations, functions
 * and mappings get ids index + 1 in the order of their symbol index, so the
 * output is deterministic.  Samples with a span id carry a "span_id" string
 * label of 16 lowercase hex digits, as Pyroscope's SDKs send it.
 *
 *-------------------------------------------------------------------------
 */
#include "pprof.h"

#include <stdlib.h>

/* wire types */
#define WT_VARINT	0
#define WT_LEN		2

static inline void
put_tag(PyroBuf *b, uint32_t field, uint32_t wt)
{
	pyro_buf_append_varint(b, ((uint64_t) field << 3) | wt);
}

/* A varint field, omitted when zero (proto3 default). */
static inline void
put_uint(PyroBuf *b, uint32_t field, uint64_t v)
{
	if (v == 0)
		return;
	put_tag(b, field, WT_VARINT);
	pyro_buf_append_varint(b, v);
}

/* int64 fields are plain two's-complement varints, not zig-zag */
static inline void
put_int(PyroBuf *b, uint32_t field, int64_t v)
{
	put_uint(b, field, (uint64_t) v);
}

static inline void
put_bytes(PyroBuf *b, uint32_t field, const void *data, size_t len)
{
	put_tag(b, field, WT_LEN);
	pyro_buf_append_varint(b, len);
	pyro_buf_append(b, data, len);
}

/* Append sub as an embedded message and empty it for reuse. */
static inline void
put_msg(PyroBuf *b, uint32_t field, PyroBuf *sub)
{
	put_bytes(b, field, sub->data, sub->len);
	sub->len = 0;
}

typedef struct Encoder
{
	const PyroSymbols *sym;
	uint32_t   *loc_id;			/* sym location -> pprof id, 0 = unused */
	uint32_t   *fn_id;
	uint32_t   *map_id;
	uint32_t   *str_idx;		/* sym string -> string table index, 0 = unset */
	uint8_t    *stack_seen;
	uint64_t   *spans;			/* distinct span ids, sorted */
	size_t		nspans;
	uint32_t	next_str;
} Encoder;

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Give sym string idx a place in the string table (0 stays 0). */
static inline void
use_str(Encoder *e, uint32_t idx)
{
	if (idx != 0 && e->str_idx[idx] == 0)
		e->str_idx[idx] = UINT32_MAX;	/* numbered later, in sym order */
}

static void
encoder_free(Encoder *e)
{
	pyro_free(e->loc_id);
	pyro_free(e->fn_id);
	pyro_free(e->map_id);
	pyro_free(e->str_idx);
	pyro_free(e->stack_seen);
	pyro_free(e->spans);
}

/*
 * Mark everything the samples reach and number it: locations, functions
 * and mappings get dense ids in symbol order, strings their table index.
 * extra_strings is how many table entries (after entry 0) precede the
 * symbol strings.
 */
static PyroStatus
mark_reached(Encoder *e, const PyroProfile *p, uint32_t extra_strings, PyroError *err)
{
	const PyroSymbols *sym = e->sym;
	uint32_t	n;

	e->loc_id = pyro_calloc(sym->nlocations ? sym->nlocations : 1, sizeof(uint32_t));
	e->fn_id = pyro_calloc(sym->nfunctions ? sym->nfunctions : 1, sizeof(uint32_t));
	e->map_id = pyro_calloc(sym->nmappings ? sym->nmappings : 1, sizeof(uint32_t));
	e->str_idx = pyro_calloc(sym->nstrings ? sym->nstrings : 1, sizeof(uint32_t));
	e->stack_seen = pyro_calloc(sym->nstacks ? sym->nstacks : 1, 1);
	e->spans = pyro_calloc(p->nsamples ? p->nsamples : 1, sizeof(uint64_t));
	if (!e->loc_id || !e->fn_id || !e->map_id || !e->str_idx || !e->stack_seen || !e->spans)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory encoding pprof");

	for (size_t i = 0; i < p->nsamples; i++)
	{
		uint32_t	node = p->samples[i].stack;

		if (node >= sym->nstacks)
			return pyro_error_set(err, PYRO_ECORRUPT,
								  "sample %zu refers to unknown stack %u", i, node);
		while (node != 0 && !e->stack_seen[node])
		{
			uint32_t	loc = sym->stacks[node].location;

			if (loc >= sym->nlocations)
				return pyro_error_set(err, PYRO_ECORRUPT,
									  "stack node %u refers to unknown location %u",
									  node, loc);
			e->stack_seen[node] = 1;
			e->loc_id[loc] = 1;
			node = sym->stacks[node].parent;
		}
		if (p->samples[i].span_id != 0)
			e->spans[e->nspans++] = p->samples[i].span_id;
	}

	/* locations, and through them functions and mappings */
	n = 0;
	for (uint32_t l = 0; l < sym->nlocations; l++)
	{
		const PyroLocation *loc = &sym->locations[l];

		if (!e->loc_id[l])
			continue;
		e->loc_id[l] = ++n;
		if (loc->mapping >= sym->nmappings ||
			(uint64_t) loc->first_line + loc->nlines > sym->nlines)
			return pyro_error_set(err, PYRO_ECORRUPT, "location %u is not valid", l);
		if (loc->mapping != 0)
			e->map_id[loc->mapping] = 1;
		for (uint32_t k = 0; k < loc->nlines; k++)
		{
			uint32_t	f = sym->lines[loc->first_line + k].function;

			if (f >= sym->nfunctions)
				return pyro_error_set(err, PYRO_ECORRUPT,
									  "location %u refers to unknown function %u", l, f);
			e->fn_id[f] = 1;
		}
	}
	n = 0;
	for (uint32_t f = 0; f < sym->nfunctions; f++)
	{
		const PyroFunction *fn = &sym->functions[f];

		if (!e->fn_id[f])
			continue;
		e->fn_id[f] = ++n;
		if (fn->name >= sym->nstrings || fn->system_name >= sym->nstrings ||
			fn->filename >= sym->nstrings)
			return pyro_error_set(err, PYRO_ECORRUPT, "function %u is not valid", f);
		use_str(e, fn->name);
		use_str(e, fn->system_name);
		use_str(e, fn->filename);
	}
	n = 0;
	for (uint32_t m = 1; m < sym->nmappings; m++)
	{
		const PyroMapping *map = &sym->mappings[m];

		if (!e->map_id[m])
			continue;
		e->map_id[m] = ++n;
		if (map->filename >= sym->nstrings || map->build_id >= sym->nstrings)
			return pyro_error_set(err, PYRO_ECORRUPT, "mapping %u is not valid", m);
		use_str(e, map->filename);
		use_str(e, map->build_id);
	}

	e->next_str = 1 + extra_strings;
	for (uint32_t s = 1; s < sym->nstrings; s++)
		if (e->str_idx[s])
			e->str_idx[s] = e->next_str++;

	if (e->nspans > 1)
	{
		size_t		w = 1;

		qsort(e->spans, e->nspans, sizeof(uint64_t), u64_cmp);
		for (size_t r = 1; r < e->nspans; r++)
			if (e->spans[r] != e->spans[w - 1])
				e->spans[w++] = e->spans[r];
		e->nspans = w;
	}
	return PYRO_OK;
}

/* String table index of span id v: after the symbol strings, in span order. */
static uint32_t
span_str(const Encoder *e, uint64_t v)
{
	size_t		lo = 0,
				hi = e->nspans;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (e->spans[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return e->next_str + (uint32_t) lo;
}

static void
put_value_type(PyroBuf *b, PyroBuf *sub, uint32_t field, uint32_t type, uint32_t unit)
{
	put_uint(sub, 1, type);
	put_uint(sub, 2, unit);
	put_msg(b, field, sub);
}

/* Encode p as a raw pprof with one sample type; see pprof.h. */
PyroStatus
pyro_pprof_encode(const PyroProfile *p,
				  const char *sample_type, const char *sample_unit,
				  const char *period_type, const char *period_unit,
				  int64_t period, int64_t time_nanos,
				  PyroBuf *out, PyroError *err)
{
	const PyroSymbols *sym = p->sym;
	Encoder		e;
	PyroBuf		sub,
				sub2;
	PyroStatus	st;
	const char *extra[4];
	uint32_t	extra_idx[4];
	uint32_t	nextra = 0;
	uint32_t	span_key = 0;

	memset(&e, 0, sizeof(e));
	e.sym = sym;
	pyro_buf_init(&sub);
	pyro_buf_init(&sub2);

	/* the strings that are not symbols: types/units, then "span_id" */
	extra[0] = sample_type ? sample_type : "";
	extra[1] = sample_unit ? sample_unit : "";
	extra[2] = period_type ? period_type : "";
	extra[3] = period_unit ? period_unit : "";
	for (int i = 0; i < 4; i++)
		extra_idx[i] = extra[i][0] ? 1 + nextra++ : 0;
	for (size_t i = 0; i < p->nsamples && span_key == 0; i++)
		if (p->samples[i].span_id != 0)
			span_key = 1 + nextra++;

	st = mark_reached(&e, p, nextra, err);
	if (st != PYRO_OK)
		goto done;

	/* sample_type */
	put_value_type(out, &sub, 1, extra_idx[0], extra_idx[1]);

	/* samples: location ids leaf first */
	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];

		sub2.len = 0;
		for (uint32_t node = s->stack; node != 0; node = sym->stacks[node].parent)
			pyro_buf_append_varint(&sub2, e.loc_id[sym->stacks[node].location]);
		if (sub2.len > 0)
			put_bytes(&sub, 1, sub2.data, sub2.len);
		sub2.len = 0;
		pyro_buf_append_varint(&sub2, (uint64_t) s->value);
		put_bytes(&sub, 2, sub2.data, sub2.len);
		if (s->span_id != 0)
		{
			sub2.len = 0;
			put_uint(&sub2, 1, span_key);
			put_uint(&sub2, 2, span_str(&e, s->span_id));
			put_msg(&sub, 3, &sub2);
		}
		put_msg(out, 2, &sub);
	}

	sub2.len = 0;

	/* mappings */
	for (uint32_t m = 1; m < sym->nmappings; m++)
	{
		const PyroMapping *map = &sym->mappings[m];

		if (!e.map_id[m])
			continue;
		put_uint(&sub, 1, e.map_id[m]);
		put_uint(&sub, 2, map->memory_start);
		put_uint(&sub, 3, map->memory_limit);
		put_uint(&sub, 4, map->file_offset);
		put_uint(&sub, 5, e.str_idx[map->filename]);
		put_uint(&sub, 6, e.str_idx[map->build_id]);
		put_uint(&sub, 7, (map->flags & PYRO_MAPPING_HAS_FUNCTIONS) != 0);
		put_uint(&sub, 8, (map->flags & PYRO_MAPPING_HAS_FILENAMES) != 0);
		put_uint(&sub, 9, (map->flags & PYRO_MAPPING_HAS_LINE_NUMBERS) != 0);
		put_uint(&sub, 10, (map->flags & PYRO_MAPPING_HAS_INLINE_FRAMES) != 0);
		put_msg(out, 3, &sub);
	}

	/* locations */
	for (uint32_t l = 0; l < sym->nlocations; l++)
	{
		const PyroLocation *loc = &sym->locations[l];

		if (!e.loc_id[l])
			continue;
		put_uint(&sub, 1, e.loc_id[l]);
		put_uint(&sub, 2, e.map_id[loc->mapping]);
		put_uint(&sub, 3, loc->address);
		for (uint32_t k = 0; k < loc->nlines; k++)
		{
			const PyroLine *ln = &sym->lines[loc->first_line + k];

			put_uint(&sub2, 1, e.fn_id[ln->function]);
			put_int(&sub2, 2, ln->line);
			put_msg(&sub, 4, &sub2);
		}
		put_msg(out, 4, &sub);
	}

	/* functions */
	for (uint32_t f = 0; f < sym->nfunctions; f++)
	{
		const PyroFunction *fn = &sym->functions[f];

		if (!e.fn_id[f])
			continue;
		put_uint(&sub, 1, e.fn_id[f]);
		put_uint(&sub, 2, e.str_idx[fn->name]);
		put_uint(&sub, 3, e.str_idx[fn->system_name]);
		put_uint(&sub, 4, e.str_idx[fn->filename]);
		put_int(&sub, 5, fn->start_line);
		put_msg(out, 5, &sub);
	}

	/* string table: "", extras, symbol strings, span ids */
	put_bytes(out, 6, "", 0);
	for (int i = 0; i < 4; i++)
		if (extra_idx[i])
			put_bytes(out, 6, extra[i], strlen(extra[i]));
	if (span_key)
		put_bytes(out, 6, "span_id", 7);
	for (uint32_t s = 1; s < sym->nstrings; s++)
		if (e.str_idx[s])
			put_bytes(out, 6, sym->strings[s].ptr, sym->strings[s].len);
	for (size_t i = 0; i < e.nspans; i++)
	{
		char		hex[17];
		static const char digits[] = "0123456789abcdef";

		for (int k = 0; k < 16; k++)
			hex[k] = digits[(e.spans[i] >> (60 - 4 * k)) & 0xF];
		hex[16] = '\0';
		put_bytes(out, 6, hex, 16);
	}

	put_int(out, 9, time_nanos != 0 ? time_nanos : p->time_nanos);
	put_int(out, 10, p->duration_nanos);
	if (extra_idx[2] || extra_idx[3])
		put_value_type(out, &sub, 11, extra_idx[2], extra_idx[3]);
	put_int(out, 12, period);
	put_uint(out, 14, extra_idx[0]);

	if (out->oom || sub.oom || sub2.oom)
		st = pyro_error_set(err, PYRO_ENOMEM, "out of memory encoding pprof");

done:
	pyro_buf_free(&sub);
	pyro_buf_free(&sub2);
	encoder_free(&e);
	return st;
}

/*
 * The period of a merged pprof, as upstream guesses it from the name of
 * the profile type (spec §7.4): process_cpu 1e9, memory 512 KiB, else 1.
 */
int64_t
pyro_pprof_merged_period(const char *profile_type_id)
{
	size_t		len = strcspn(profile_type_id, ":");

	if (len == strlen("process_cpu") && strncmp(profile_type_id, "process_cpu", len) == 0)
		return 1000000000;
	if (len == strlen("memory") && strncmp(profile_type_id, "memory", len) == 0)
		return 524288;
	return 1;
}

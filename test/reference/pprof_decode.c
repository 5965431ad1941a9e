/*-------------------------------------------------------------------------
 *
 * pprof_decode.c
 *	  Decode a pprof (gzip or raw) and normalise it into single-value
 *	  profiles grouped by series (spec §4, §16.1, §17), with protobuf-c.
 *	  This is the reference implementation; the hot path is the hand-written
 *	  decoder in pprof_wire.c, which must give identical results.
 *
 * The protobuf is unpacked with the protobuf-c generated code into an
 * arena (the unpacked tree is thrown away as a whole at the end), then
 * validated as upstream validates it, and finally rebuilt over one
 * PyroSymbols: strings, mappings, functions and locations are interned
 * lazily, only when a kept sample reaches them, so that symbols of dropped
 * samples never enter the result.
 *
 * What is done with the decoded values (header checks, string interning,
 * label rules, groups, metadata, series) is shared with pprof_wire.c
 * through pprof_common.c; this file is the independent reading of the
 * wire format that the fast decoder is checked against.
 *
 *-------------------------------------------------------------------------
 */
#include "pprof_int.h"
#include "pprof_reference.h"

#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <sys/types.h>

#include "pprof.pb-c.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Function PbFunction;
typedef Perftools__Profiles__Mapping PbMapping;

#define NONE	UINT32_MAX

/* ----------------------------------------------------------------
 * An arena for protobuf-c: unpacking allocates one object per message and
 * per repeated field, so a bump allocator whose free is a no-op is much
 * cheaper than pyro_malloc per object.  The blocks come from pyro_malloc.
 * ----------------------------------------------------------------
 */
typedef struct PbArenaBlock
{
	struct PbArenaBlock *next;
	size_t		used;
	size_t		cap;
	/* data follows, 16-byte aligned */
} PbArenaBlock;

#define PB_BLOCK_HDR	((sizeof(PbArenaBlock) + 15) & ~(size_t) 15)
#define PB_BLOCK_MIN	(64 * 1024)
#define PB_BLOCK_MAX	(8 * 1024 * 1024)

typedef struct PbArena
{
	PbArenaBlock *head;
	size_t		next_cap;
} PbArena;

static void *
pb_arena_alloc(void *ctx, size_t size)
{
	PbArena    *a = ctx;
	PbArenaBlock *b = a->head;
	size_t		need;

	if (!pyro_size_add(size, 15, &need))
		return NULL;
	need &= ~(size_t) 15;
	if (b == NULL || b->cap - b->used < need)
	{
		size_t		cap = a->next_cap;
		size_t		total;

		if (cap < need)
			cap = need;
		if (!pyro_size_add(cap, PB_BLOCK_HDR, &total))
			return NULL;
		b = pyro_malloc(total);
		if (b == NULL)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
		if (a->next_cap < PB_BLOCK_MAX)
			a->next_cap *= 2;
	}
	b->used += need;
	return (char *) b + PB_BLOCK_HDR + b->used - need;
}

static void
pb_arena_free(void *ctx, void *ptr)
{
	/* everything is released at once by pb_arena_release */
	(void) ctx;
	(void) ptr;
}

static void
pb_arena_release(PbArena *a)
{
	while (a->head)
	{
		PbArenaBlock *next = a->head->next;

		pyro_free(a->head);
		a->head = next;
	}
}

/* ----------------------------------------------------------------
 * Id maps: pprof ids are arbitrary non-zero uint64s.  When they are
 * 1..n in order (the common case) the map is the identity; otherwise an
 * open-addressing hash table maps id -> table position.
 * ----------------------------------------------------------------
 */
typedef struct IdMap
{
	bool		dense;
	size_t		n;
	size_t		mask;
	uint64_t   *keys;			/* 0 = empty slot (0 is never a valid id) */
	uint32_t   *vals;
} IdMap;

static inline size_t
id_slot(uint64_t id, size_t mask)
{
	return (size_t) ((id * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
}

static uint32_t
idmap_get(const IdMap *m, uint64_t id)
{
	size_t		s;

	if (m->dense)
		return (id >= 1 && id <= m->n) ? (uint32_t) (id - 1) : NONE;
	if (id == 0 || m->keys == NULL)
		return NONE;
	for (s = id_slot(id, m->mask);; s = (s + 1) & m->mask)
	{
		if (m->keys[s] == id)
			return m->vals[s];
		if (m->keys[s] == 0)
			return NONE;
	}
}

static void
idmap_free(IdMap *m)
{
	pyro_free(m->keys);
	pyro_free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
}

/*
 * Build the map for ids[0..n) (read through get(tab, i)).  Rejects id 0
 * and duplicates with an error naming what (e.g. "location").
 */
static PyroStatus
idmap_build(IdMap *m, size_t n, uint64_t (*get) (const void *tab, size_t i),
			const void *tab, const char *what, PyroError *err)
{
	size_t		cap = 16;

	memset(m, 0, sizeof(*m));
	m->n = n;
	m->dense = true;
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	id = get(tab, i);

		if (id == 0)
			return pyro_error_set(err, PYRO_EINVAL, "%s id 0 is not valid", what);
		if (id != (uint64_t) i + 1)
			m->dense = false;
	}
	if (m->dense)
		return PYRO_OK;
	if (n > UINT32_MAX / 2)
		return pyro_error_set(err, PYRO_ELIMIT, "too many %ss", what);
	while (cap < n * 2)
		cap *= 2;
	m->mask = cap - 1;
	m->keys = pyro_calloc(cap, sizeof(uint64_t));
	m->vals = pyro_calloc(cap, sizeof(uint32_t));
	if (m->keys == NULL || m->vals == NULL)
	{
		idmap_free(m);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding pprof");
	}
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	id = get(tab, i);
		size_t		s;

		for (s = id_slot(id, m->mask); m->keys[s] != 0; s = (s + 1) & m->mask)
		{
			if (m->keys[s] == id)
			{
				idmap_free(m);
				return pyro_error_set(err, PYRO_EINVAL,
									  "duplicate %s id %llu", what,
									  (unsigned long long) id);
			}
		}
		m->keys[s] = id;
		m->vals[s] = (uint32_t) i;
	}
	return PYRO_OK;
}

static uint64_t
get_mapping_id(const void *tab, size_t i)
{
	return ((PbMapping *const *) tab)[i]->id;
}

static uint64_t
get_function_id(const void *tab, size_t i)
{
	return ((PbFunction *const *) tab)[i]->id;
}

static uint64_t
get_location_id(const void *tab, size_t i)
{
	return ((PbLocation *const *) tab)[i]->id;
}

/* ----------------------------------------------------------------
 * Decoder state
 * ----------------------------------------------------------------
 */

typedef struct Decoder
{
	PyroPprofNorm nm;			/* shared normalisation state (pprof_int.h) */
	const PbProfile *pb;
	const PyroPprofLimits *lim;
	PyroError  *err;
	PyroSymbols *sym;

	/* the string table with lengths, sample and period types, for nm */
	PyroPprofStr *strings;
	PyroPprofValueType *types;
	PyroPprofValueType period_type;
	bool		has_period_type;

	/* lazily filled: pprof table position -> sym index (NONE = not yet) */

	/*
	 * One-entry stack cache per pprof location: the last (parent node ->
	 * node) it was interned under.  Most frames are always reached from the
	 * same caller, so this skips most hash lookups of pyro_sym_intern_stack.
	 */
	uint32_t   *stack_parent;
	uint32_t   *stack_node;

	IdMap		mapping_ids;
	IdMap		function_ids;
	IdMap		location_ids;

} Decoder;

static PyroStatus
oom(Decoder *d)
{
	return pyro_pprof_oom(d->err);
}

/* Check a string index from the pprof against the string table. */
static inline bool
str_ok(const Decoder *d, int64_t idx)
{
	return pyro_pprof_str_ok(d->pb->n_string_table, idx);
}

static PyroStatus
bad_str(Decoder *d, const char *what, uint64_t id, int64_t idx)
{
	return pyro_pprof_bad_str(d->err, d->pb->n_string_table, what, id, idx);
}

static uint32_t
intern_mapping(Decoder *d, uint32_t pos)
{
	const PbMapping *pm = d->pb->mapping[pos];

	return pyro_pprof_intern_mapping(&d->nm, pos, pm->memory_start, pm->memory_limit,
									 pm->file_offset, pm->filename, pm->build_id,
									 (pm->has_functions ? PYRO_MAPPING_HAS_FUNCTIONS : 0) |
									 (pm->has_filenames ? PYRO_MAPPING_HAS_FILENAMES : 0) |
									 (pm->has_line_numbers ? PYRO_MAPPING_HAS_LINE_NUMBERS : 0) |
									 (pm->has_inline_frames ? PYRO_MAPPING_HAS_INLINE_FRAMES : 0));
}

static uint32_t
intern_function(Decoder *d, uint32_t pos)
{
	const PbFunction *pf = d->pb->function[pos];

	return pyro_pprof_intern_function(&d->nm, pos, pf->name, pf->system_name,
									  pf->filename, pf->start_line);
}

/*
 * Intern location pos: its mapping and functions here, the address rule
 * in pyro_pprof_intern_location.
 */
static uint32_t
intern_location(Decoder *d, uint32_t pos)
{
	const PbLocation *pl;
	uint32_t	mapping = 0;
	PyroLine   *lines;

	if (d->nm.loc_map[pos] != NONE)
		return d->nm.loc_map[pos];
	pl = d->pb->location[pos];
	if (pl->mapping_id != 0)
	{
		mapping = intern_mapping(d, idmap_get(&d->mapping_ids, pl->mapping_id));
		if (mapping == NONE)
			return NONE;
	}
	if (!pyro_pprof_lines_reserve(&d->nm, pl->n_line))
		return NONE;
	lines = d->nm.lines;
	for (size_t i = 0; i < pl->n_line; i++)
	{
		uint32_t	fn = intern_function(d, idmap_get(&d->function_ids,
													  pl->line[i]->function_id));

		if (fn == NONE)
			return NONE;
		lines[i].function = fn;
		lines[i].line = pl->line[i]->line;
	}
	return pyro_pprof_intern_location(&d->nm, pos, mapping, pl->address, pl->n_line);
}

/* ----------------------------------------------------------------
 * Validation (spec §17 "malformed profile")
 * ----------------------------------------------------------------
 */
static PyroStatus
validate(Decoder *d)
{
	const PbProfile *pb = d->pb;
	PyroPprofHeader h;
	PyroStatus	st;

	memset(&h, 0, sizeof(h));
	h.nstrings = pb->n_string_table;
	h.first_string_len = pb->n_string_table ? strlen(pb->string_table[0]) : 0;
	h.nmapping = pb->n_mapping;
	h.nfunction = pb->n_function;
	h.nlocation = pb->n_location;
	h.types = d->types;
	h.ntypes = pb->n_sample_type;
	h.period_type = d->has_period_type ? &d->period_type : NULL;
	h.default_sample_type = pb->default_sample_type;
	h.drop_frames = pb->drop_frames;
	h.keep_frames = pb->keep_frames;
	h.comments = pb->comment;
	h.ncomments = pb->n_comment;
	st = pyro_pprof_validate_header(&h, d->err);
	if (st != PYRO_OK)
		return st;

	/* mappings */
	st = idmap_build(&d->mapping_ids, pb->n_mapping, get_mapping_id, pb->mapping,
					 "mapping", d->err);
	if (st != PYRO_OK)
		return st;
	for (size_t i = 0; i < pb->n_mapping; i++)
	{
		const PbMapping *m = pb->mapping[i];

		if (!str_ok(d, m->filename))
			return bad_str(d, "mapping", m->id, m->filename);
		if (!str_ok(d, m->build_id))
			return bad_str(d, "mapping", m->id, m->build_id);
	}

	/*
	 * functions.  The Pyroscope .NET profiler wrote profiles in which no
	 * function has an id while lines refer to functions 1..n by position;
	 * upstream repairs those ("broken dotnet pprof"), and so do we: when
	 * every function has id 0, function i gets id i + 1.
	 */
	{
		bool		all_zero = pb->n_function > 0;

		for (size_t i = 0; i < pb->n_function && all_zero; i++)
			if (pb->function[i]->id != 0)
				all_zero = false;
		if (all_zero)
		{
			memset(&d->function_ids, 0, sizeof(d->function_ids));
			d->function_ids.dense = true;
			d->function_ids.n = pb->n_function;
		}
		else
		{
			st = idmap_build(&d->function_ids, pb->n_function, get_function_id,
							 pb->function, "function", d->err);
			if (st != PYRO_OK)
				return st;
		}
	}
	for (size_t i = 0; i < pb->n_function; i++)
	{
		const PbFunction *f = pb->function[i];

		if (!str_ok(d, f->name))
			return bad_str(d, "function", f->id, f->name);
		if (!str_ok(d, f->system_name))
			return bad_str(d, "function", f->id, f->system_name);
		if (!str_ok(d, f->filename))
			return bad_str(d, "function", f->id, f->filename);
	}

	/* locations */
	st = idmap_build(&d->location_ids, pb->n_location, get_location_id, pb->location,
					 "location", d->err);
	if (st != PYRO_OK)
		return st;
	for (size_t i = 0; i < pb->n_location; i++)
	{
		const PbLocation *l = pb->location[i];

		if (l->mapping_id != 0 && idmap_get(&d->mapping_ids, l->mapping_id) == NONE)
			return pyro_error_set(d->err, PYRO_EINVAL,
								  "location %llu refers to unknown mapping %llu",
								  (unsigned long long) l->id,
								  (unsigned long long) l->mapping_id);
		for (size_t j = 0; j < l->n_line; j++)
			if (idmap_get(&d->function_ids, l->line[j]->function_id) == NONE)
				return pyro_error_set(d->err, PYRO_EINVAL,
									  "location %llu refers to unknown function %llu",
									  (unsigned long long) l->id,
									  (unsigned long long) l->line[j]->function_id);
	}

	/* samples: shape, location references and label string indexes */
	for (size_t i = 0; i < pb->n_sample; i++)
	{
		const PbSample *s = pb->sample[i];

		if (s->n_value != pb->n_sample_type)
			return pyro_error_set(d->err, PYRO_EINVAL,
								  "sample %zu has %zu values, but the profile has %zu sample types",
								  i, s->n_value, pb->n_sample_type);
		for (size_t j = 0; j < s->n_location_id; j++)
			if (idmap_get(&d->location_ids, s->location_id[j]) == NONE)
				return pyro_error_set(d->err, PYRO_EINVAL,
									  "sample %zu refers to unknown location %llu",
									  i, (unsigned long long) s->location_id[j]);
		if (d->lim->max_sample_labels && s->n_label > d->lim->max_sample_labels)
			return pyro_error_set(d->err, PYRO_ELIMIT,
								  "sample %zu has %zu labels, more than the limit of %zu",
								  i, s->n_label, d->lim->max_sample_labels);
		for (size_t j = 0; j < s->n_label; j++)
		{
			const PbLabel *l = s->label[j];

			st = pyro_pprof_check_label(d->err, pb->n_string_table, i, l->key, l->str,
										l->num_unit);
			if (st != PYRO_OK)
				return st;
		}
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Sample labels and groups
 * ----------------------------------------------------------------
 */

/*
 * The split key of sample s into d->nm.pairs (rules in pprof_common.c).
 * Returns the number of pairs, or -1 with the error set.
 */
static ssize_t
sample_key(Decoder *d, const PbSample *s, uint64_t *span_id, uint64_t *trace)
{
	size_t		n = 0;

	*span_id = 0;
	trace[0] = trace[1] = 0;
	if (s->n_label == 0)
		return 0;
	if (!pyro_pprof_key_reserve(&d->nm, s->n_label))
		return -1;
	for (size_t j = 0; j < s->n_label; j++)
		if (!pyro_pprof_key_add(&d->nm, s->label[j]->key, s->label[j]->str, &n, span_id, trace))
			return -1;
	return (ssize_t) pyro_pprof_key_finish(&d->nm, n);
}

/* ----------------------------------------------------------------
 * Samples
 * ----------------------------------------------------------------
 */

/*
 * The stack node of sample s: locations from the root (the last id) to
 * the leaf (the first), keeping the max_stack_depth root-most frames.
 */
static uint32_t
sample_stack(Decoder *d, const PbSample *s)
{
	size_t		n = s->n_location_id;
	size_t		lo = 0;
	uint32_t	node = 0;

	if (d->lim->max_stack_depth && n > d->lim->max_stack_depth)
		lo = n - d->lim->max_stack_depth;
	for (size_t j = n; j > lo; j--)
	{
		uint32_t	pos = idmap_get(&d->location_ids, s->location_id[j - 1]);
		uint32_t	loc;

		if (d->stack_parent[pos] == node)
		{
			node = d->stack_node[pos];
			continue;
		}
		loc = intern_location(d, pos);
		if (loc == NONE)
			return NONE;
		d->stack_parent[pos] = node;
		node = pyro_sym_intern_stack(d->sym, node, loc);
		if (node == NONE)
		{
			d->stack_parent[pos] = NONE;
			oom(d);
			return NONE;
		}
		d->stack_node[pos] = node;
	}
	return node;
}

static PyroStatus
process_samples(Decoder *d)
{
	const PbProfile *pb = d->pb;

	for (size_t i = 0; i < pb->n_sample; i++)
	{
		const PbSample *s = pb->sample[i];
		uint64_t	span_id;
		uint64_t	trace[2];
		ssize_t		nkey;
		uint32_t	g,
					stack;
		PyroStatus	st;

		if (!pyro_pprof_sample_kept(s->value, d->nm.ntypes))
			continue;
		nkey = sample_key(d, s, &span_id, trace);
		if (nkey < 0)
			return d->err->code;
		g = pyro_pprof_find_group(&d->nm, (size_t) nkey);
		if (g == NONE)
			return oom(d);
		stack = sample_stack(d, s);
		if (stack == NONE)
			return d->err->code;
		st = pyro_pprof_add_sample(&d->nm, g, stack, s->value, span_id, trace);
		if (st != PYRO_OK)
			return st;
	}
	return PYRO_OK;
}

static void
decoder_free(Decoder *d)
{
	pyro_free(d->strings);
	pyro_free(d->types);
	pyro_free(d->stack_parent);
	pyro_free(d->stack_node);
	idmap_free(&d->mapping_ids);
	idmap_free(&d->function_ids);
	idmap_free(&d->location_ids);
	pyro_pprof_norm_free(&d->nm);
}

/*
 * Decode and normalise a pprof with protobuf-c; see pprof.h.  This is the
 * reference implementation: pyro_pprof_normalize (pprof_wire.c) must give
 * the same result, which the differential tests and fuzz_pprof check.  On
 * success *out holds the result (possibly with no series when every sample
 * was dropped).
 */
PyroStatus
pyro_pprof_normalize_reference(const uint8_t *data, size_t len, const PyroPprofLimits *limits,
							   PyroNormalized **out, PyroError *err)
{
	PyroPprofLimits deflim;
	PyroError	localerr;
	PyroBuf		raw;
	PbArena		arena = {NULL, PB_BLOCK_MIN};
	ProtobufCAllocator alloc = {pb_arena_alloc, pb_arena_free, &arena};
	PbProfile  *pb;
	Decoder		d;
	PyroNormalized *n = NULL;
	PyroStatus	st;

	*out = NULL;
	if (err == NULL)
		err = &localerr;
	pyro_error_clear(err);
	if (limits == NULL)
	{
		pyro_pprof_limits_default(&deflim);
		limits = &deflim;
	}
	pyro_buf_init(&raw);
	memset(&d, 0, sizeof(d));

	st = pyro_pprof_prepare_input(&data, &len, limits, &raw, err);
	if (st != PYRO_OK)
	{
		pyro_buf_free(&raw);
		return st;
	}

	pb = perftools__profiles__profile__unpack(&alloc, len, data ? data : (const uint8_t *) "");
	if (pb == NULL)
	{
		pb_arena_release(&arena);
		pyro_buf_free(&raw);
		return pyro_error_set(err, PYRO_EINVAL, "could not decode pprof: malformed protobuf");
	}

	d.pb = pb;
	d.lim = limits;
	d.err = err;

	/* the shared code sees types as index pairs, strings with lengths */
	d.types = pyro_calloc(pb->n_sample_type ? pb->n_sample_type : 1,
						  sizeof(PyroPprofValueType));
	if (d.types == NULL)
	{
		st = oom(&d);
		goto done;
	}
	for (size_t i = 0; i < pb->n_sample_type; i++)
	{
		d.types[i].type = pb->sample_type[i]->type;
		d.types[i].unit = pb->sample_type[i]->unit;
	}
	if (pb->period_type)
	{
		d.has_period_type = true;
		d.period_type.type = pb->period_type->type;
		d.period_type.unit = pb->period_type->unit;
	}
	st = validate(&d);
	if (st != PYRO_OK)
		goto done;
	d.strings = pyro_calloc(pb->n_string_table, sizeof(PyroPprofStr));
	if (d.strings == NULL)
	{
		st = oom(&d);
		goto done;
	}
	for (size_t i = 0; i < pb->n_string_table; i++)
	{
		d.strings[i].p = pb->string_table[i];
		d.strings[i].len = strlen(pb->string_table[i]);
	}
	d.nm.lim = limits;
	d.nm.err = err;
	d.nm.strings = d.strings;
	d.nm.nstrings = pb->n_string_table;
	d.nm.ntypes = pb->n_sample_type;
	d.nm.nmapping = pb->n_mapping;
	d.nm.nfunction = pb->n_function;
	d.nm.nlocation = pb->n_location;
	st = pyro_pprof_norm_begin(&d.nm, pb->n_sample, len, &n);
	if (st != PYRO_OK)
		goto done;
	d.sym = d.nm.sym;
	d.stack_parent = pyro_pprof_none_array(pb->n_location);
	d.stack_node = pyro_pprof_none_array(pb->n_location);
	if (d.stack_parent == NULL || d.stack_node == NULL)
	{
		st = oom(&d);
		goto done;
	}

	st = pyro_pprof_norm_metadata(&d.nm, n, d.types,
								  d.has_period_type ? &d.period_type : NULL,
								  pb->period, pb->time_nanos, pb->duration_nanos);
	if (st == PYRO_OK)
		st = process_samples(&d);
	if (st == PYRO_OK)
		st = pyro_pprof_norm_series(&d.nm, n, true);

done:
	decoder_free(&d);
	pb_arena_release(&arena);
	pyro_buf_free(&raw);
	if (st != PYRO_OK)
	{
		pyro_normalized_free(n);
		return st;
	}
	*out = n;
	return PYRO_OK;
}

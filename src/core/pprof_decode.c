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
 *-------------------------------------------------------------------------
 */
#include "pprof.h"
#include "pprof_int.h"

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

void
pyro_pprof_limits_default(PyroPprofLimits *l)
{
	l->max_decompressed = 4 * 1024 * 1024;
	l->max_samples = 16000;
	l->max_sample_labels = 100;
	l->max_stack_depth = 1000;
	l->max_string_length = 65535;
}

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

/* One group of samples sharing the same split labels. */
typedef struct Group
{
	size_t		key_off;		/* into Decoder.keys, pairs of string indexes */
	uint32_t	key_n;			/* number of (name, value) pairs */
	uint64_t	hash;
} Group;

typedef struct Decoder
{
	const PbProfile *pb;
	const PyroPprofLimits *lim;
	PyroError  *err;
	PyroSymbols *sym;

	/* lazily filled: pprof table position -> sym index (NONE = not yet) */
	uint32_t   *str_map;
	uint32_t   *map_map;
	uint32_t   *fn_map;
	uint32_t   *loc_map;

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

	/* scratch, reused across samples */
	PyroLine   *lines;
	size_t		lines_cap;
	uint32_t   *pairs;			/* (name, value) sym string pairs */
	size_t		pairs_cap;

	/* groups */
	Group	   *groups;
	size_t		ngroups;
	size_t		groups_cap;
	uint32_t   *keys;
	size_t		nkeys;
	size_t		keys_cap;
	uint32_t   *group_hash;		/* open addressing; group index + 1, 0 = empty */
	size_t		group_hash_cap;

	/* profiles[g * ntypes + t] */
	PyroProfile **profiles;
	size_t		profiles_cap;
	size_t		ntypes;
} Decoder;

static PyroStatus
oom(Decoder *d)
{
	return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory decoding pprof");
}

/* Check a string index from the pprof against the string table. */
static inline bool
str_ok(const Decoder *d, int64_t idx)
{
	return idx >= 0 && (uint64_t) idx < d->pb->n_string_table;
}

static PyroStatus
bad_str(Decoder *d, const char *what, uint64_t id, int64_t idx)
{
	return pyro_error_set(d->err, PYRO_EINVAL,
						  "%s %llu refers to string %lld, but the string table has %zu entries",
						  what, (unsigned long long) id, (long long) idx,
						  d->pb->n_string_table);
}

/*
 * Intern pprof string idx (already range-checked) into the symbols,
 * checking UTF-8 and truncating to the last max_string_length bytes (at a
 * character boundary).  Returns NONE with the error set on failure.
 */
static uint32_t
intern_str(Decoder *d, int64_t idx)
{
	const char *s;
	size_t		len;
	size_t		max = d->lim->max_string_length;
	uint32_t	r;

	if (d->str_map[idx] != NONE)
		return d->str_map[idx];
	s = d->pb->string_table[idx];
	len = strlen(s);
	if (!pyro_utf8_valid(s, len))
	{
		pyro_error_set(d->err, PYRO_EINVAL, "string table entry %lld is not valid UTF-8",
					   (long long) idx);
		return NONE;
	}
	if (max && len > max)
	{
		size_t		start = len - max;

		while (start < len && (((unsigned char) s[start]) & 0xC0) == 0x80)
			start++;
		s += start;
		len -= start;
	}
	r = pyro_sym_intern_string(d->sym, s, len);
	if (r == NONE)
	{
		oom(d);
		return NONE;
	}
	d->str_map[idx] = r;
	return r;
}

static uint32_t
intern_mapping(Decoder *d, uint32_t pos)
{
	const PbMapping *pm;
	PyroMapping m;
	uint32_t	r;

	if (d->map_map[pos] != NONE)
		return d->map_map[pos];
	pm = d->pb->mapping[pos];
	memset(&m, 0, sizeof(m));
	m.memory_start = pm->memory_start;
	m.memory_limit = pm->memory_limit;
	m.file_offset = pm->file_offset;
	if ((m.filename = intern_str(d, pm->filename)) == NONE ||
		(m.build_id = intern_str(d, pm->build_id)) == NONE)
		return NONE;
	m.flags = (pm->has_functions ? PYRO_MAPPING_HAS_FUNCTIONS : 0) |
		(pm->has_filenames ? PYRO_MAPPING_HAS_FILENAMES : 0) |
		(pm->has_line_numbers ? PYRO_MAPPING_HAS_LINE_NUMBERS : 0) |
		(pm->has_inline_frames ? PYRO_MAPPING_HAS_INLINE_FRAMES : 0);
	r = pyro_sym_intern_mapping(d->sym, &m);
	if (r == NONE)
	{
		oom(d);
		return NONE;
	}
	d->map_map[pos] = r;
	return r;
}

static uint32_t
intern_function(Decoder *d, uint32_t pos)
{
	const PbFunction *pf;
	PyroFunction f;
	uint32_t	r;

	if (d->fn_map[pos] != NONE)
		return d->fn_map[pos];
	pf = d->pb->function[pos];
	memset(&f, 0, sizeof(f));
	if ((f.name = intern_str(d, pf->name)) == NONE ||
		(f.system_name = intern_str(d, pf->system_name)) == NONE ||
		(f.filename = intern_str(d, pf->filename)) == NONE)
		return NONE;
	f.start_line = pf->start_line;
	r = pyro_sym_intern_function(d->sym, &f);
	if (r == NONE)
	{
		oom(d);
		return NONE;
	}
	d->fn_map[pos] = r;
	return r;
}

/*
 * Intern location pos with its mapping, functions and lines.  The address
 * is kept only when some line has no function name: then the frame name
 * falls back to mapping+address, otherwise the address would only keep
 * apart frames that display the same (upstream clears addresses).
 */
static uint32_t
intern_location(Decoder *d, uint32_t pos)
{
	const PbLocation *pl;
	uint32_t	mapping = 0;
	uint64_t	address;
	bool		named = true;
	uint32_t	r;

	if (d->loc_map[pos] != NONE)
		return d->loc_map[pos];
	pl = d->pb->location[pos];
	if (pl->mapping_id != 0)
	{
		mapping = intern_mapping(d, idmap_get(&d->mapping_ids, pl->mapping_id));
		if (mapping == NONE)
			return NONE;
	}
	if (pl->n_line > UINT32_MAX ||
		!pyro_grow((void **) &d->lines, &d->lines_cap, pl->n_line, sizeof(PyroLine)))
	{
		oom(d);
		return NONE;
	}
	for (size_t i = 0; i < pl->n_line; i++)
	{
		uint32_t	fn = intern_function(d, idmap_get(&d->function_ids,
													  pl->line[i]->function_id));

		if (fn == NONE)
			return NONE;
		d->lines[i].function = fn;
		d->lines[i].line = pl->line[i]->line;
		if (d->sym->strings[d->sym->functions[fn].name].len == 0 &&
			d->sym->strings[d->sym->functions[fn].system_name].len == 0)
			named = false;
	}
	address = (pl->n_line > 0 && named) ? 0 : pl->address;
	r = pyro_sym_intern_location(d->sym, mapping, address, d->lines,
								 (uint32_t) pl->n_line);
	if (r == NONE)
	{
		oom(d);
		return NONE;
	}
	d->loc_map[pos] = r;
	return r;
}

/* ----------------------------------------------------------------
 * Validation (spec §17 "malformed profile")
 * ----------------------------------------------------------------
 */
static PyroStatus
validate(Decoder *d)
{
	const PbProfile *pb = d->pb;
	PyroStatus	st;

	if (pb->n_sample_type == 0)
		return pyro_error_set(d->err, PYRO_EINVAL, "profile has no sample types");
	if (pb->n_string_table == 0)
		return pyro_error_set(d->err, PYRO_EINVAL, "string table is empty");
	if (pb->string_table[0][0] != '\0')
		return pyro_error_set(d->err, PYRO_EINVAL, "string table entry 0 is not empty");
	if (pb->n_string_table > UINT32_MAX - 1 || pb->n_location > UINT32_MAX - 1 ||
		pb->n_function > UINT32_MAX - 1 || pb->n_mapping > UINT32_MAX - 1)
		return pyro_error_set(d->err, PYRO_ELIMIT, "profile has too many entries");

	for (size_t i = 0; i < pb->n_sample_type; i++)
	{
		const Perftools__Profiles__ValueType *vt = pb->sample_type[i];

		if (!str_ok(d, vt->type))
			return bad_str(d, "sample type", i, vt->type);
		if (!str_ok(d, vt->unit))
			return bad_str(d, "sample type", i, vt->unit);
	}
	if (pb->period_type)
	{
		if (!str_ok(d, pb->period_type->type))
			return bad_str(d, "period type", 0, pb->period_type->type);
		if (!str_ok(d, pb->period_type->unit))
			return bad_str(d, "period type", 0, pb->period_type->unit);
	}
	if (!str_ok(d, pb->default_sample_type))
		return bad_str(d, "default sample type", 0, pb->default_sample_type);
	if (!str_ok(d, pb->drop_frames))
		return bad_str(d, "drop frames", 0, pb->drop_frames);
	if (!str_ok(d, pb->keep_frames))
		return bad_str(d, "keep frames", 0, pb->keep_frames);
	for (size_t i = 0; i < pb->n_comment; i++)
		if (!str_ok(d, pb->comment[i]))
			return bad_str(d, "comment", i, pb->comment[i]);

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

			if (!str_ok(d, l->key))
				return bad_str(d, "label of sample", i, l->key);
			if (!str_ok(d, l->str))
				return bad_str(d, "label of sample", i, l->str);
			if (!str_ok(d, l->num_unit))
				return bad_str(d, "label of sample", i, l->num_unit);
		}
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Sample labels and groups
 * ----------------------------------------------------------------
 */

/* Parse up to 16 hex digits; false if s is empty, too long or not hex. */
static bool
parse_span_id(const char *s, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		n = strlen(s);

	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];
		int			x;

		if (c >= '0' && c <= '9')
			x = c - '0';
		else if (c >= 'a' && c <= 'f')
			x = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			x = c - 'A' + 10;
		else
			return false;
		v = (v << 4) | (uint64_t) x;
	}
	*out = v;
	return true;
}

static inline int
sym_str_cmp(const PyroSymbols *sym, uint32_t a, uint32_t b)
{
	const PyroStr *x = &sym->strings[a];
	const PyroStr *y = &sym->strings[b];
	uint32_t	n = x->len < y->len ? x->len : y->len;
	int			c = n ? memcmp(x->ptr, y->ptr, n) : 0;

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : (x->len > y->len ? 1 : 0);
}

/*
 * Turn the labels of sample s into its split key in d->pairs: string
 * labels with a non-empty value, minus span_id (parsed into *span_id;
 * profile_id is its legacy name) and trace_id (dropped: the stored sample
 * model has only a span id), sorted by name with the last of duplicate
 * names winning.  Returns the number of pairs, or -1 with the error set.
 */
static ssize_t
sample_key(Decoder *d, const PbSample *s, uint64_t *span_id)
{
	const PbProfile *pb = d->pb;
	size_t		n = 0;

	*span_id = 0;
	if (s->n_label == 0)
		return 0;
	if (!pyro_grow((void **) &d->pairs, &d->pairs_cap, s->n_label * 2, sizeof(uint32_t)))
	{
		oom(d);
		return -1;
	}
	for (size_t j = 0; j < s->n_label; j++)
	{
		const PbLabel *l = s->label[j];
		const char *key = pb->string_table[l->key];
		uint32_t	k,
					v;

		/* numeric labels have no str; empty values and names are dropped */
		if (pb->string_table[l->str][0] == '\0' || key[0] == '\0')
			continue;
		if (strcmp(key, "span_id") == 0 || strcmp(key, "profile_id") == 0)
		{
			uint64_t	sp;

			/* an unparseable span id is ignored; the sample is kept */
			if (parse_span_id(pb->string_table[l->str], &sp))
				*span_id = sp;
			continue;
		}
		if (strcmp(key, "trace_id") == 0)
			continue;
		if ((k = intern_str(d, l->key)) == NONE || (v = intern_str(d, l->str)) == NONE)
			return -1;

		/* insertion sort by name; stable, so equal names keep input order */
		{
			size_t		p = n;

			while (p > 0 && sym_str_cmp(d->sym, d->pairs[2 * (p - 1)], k) > 0)
			{
				d->pairs[2 * p] = d->pairs[2 * (p - 1)];
				d->pairs[2 * p + 1] = d->pairs[2 * (p - 1) + 1];
				p--;
			}
			d->pairs[2 * p] = k;
			d->pairs[2 * p + 1] = v;
			n++;
		}
	}

	/* duplicates: keep the last one (interned, so equal names = equal index) */
	if (n > 1)
	{
		size_t		w = 0;

		for (size_t r = 0; r < n; r++)
		{
			if (r + 1 < n && d->pairs[2 * r] == d->pairs[2 * (r + 1)])
				continue;
			d->pairs[2 * w] = d->pairs[2 * r];
			d->pairs[2 * w + 1] = d->pairs[2 * r + 1];
			w++;
		}
		n = w;
	}
	return (ssize_t) n;
}

/* Resize the group hash table to cap slots and re-insert every group. */
static bool
group_hash_resize(Decoder *d, size_t cap)
{
	uint32_t   *h = pyro_calloc(cap, sizeof(uint32_t));

	if (h == NULL)
		return false;
	for (size_t g = 0; g < d->ngroups; g++)
	{
		size_t		s = (size_t) d->groups[g].hash & (cap - 1);

		while (h[s] != 0)
			s = (s + 1) & (cap - 1);
		h[s] = (uint32_t) g + 1;
	}
	pyro_free(d->group_hash);
	d->group_hash = h;
	d->group_hash_cap = cap;
	return true;
}

/*
 * Find or add the group of the split key in d->pairs[0 .. 2n).  Returns
 * the group index or NONE on allocation failure.  New groups get ntypes
 * empty profile slots.
 */
static uint32_t
find_group(Decoder *d, size_t n)
{
	uint64_t	h = 0x9ae16a3b2f90404fULL ^ n;
	size_t		s;
	Group	   *g;
	size_t		need;

	for (size_t i = 0; i < 2 * n; i++)
		h = pyro_hash_mix(h, d->pairs[i]);
	if (d->group_hash_cap == 0 && !group_hash_resize(d, 64))
		return NONE;
	for (s = (size_t) h & (d->group_hash_cap - 1); d->group_hash[s] != 0;
		 s = (s + 1) & (d->group_hash_cap - 1))
	{
		g = &d->groups[d->group_hash[s] - 1];
		if (g->hash == h && g->key_n == n &&
			(n == 0 || memcmp(d->keys + g->key_off, d->pairs, 2 * n * sizeof(uint32_t)) == 0))
			return d->group_hash[s] - 1;
	}

	/* a new group */
	if (d->ngroups >= UINT32_MAX - 1 ||
		!pyro_grow((void **) &d->groups, &d->groups_cap, d->ngroups + 1, sizeof(Group)) ||
		!pyro_grow((void **) &d->keys, &d->keys_cap, d->nkeys + 2 * n, sizeof(uint32_t)) ||
		!pyro_size_mul(d->ngroups + 1, d->ntypes, &need) ||
		!pyro_grow((void **) &d->profiles, &d->profiles_cap, need, sizeof(PyroProfile *)))
		return NONE;
	memset(d->profiles + d->ngroups * d->ntypes, 0, d->ntypes * sizeof(PyroProfile *));
	if (n)
		memcpy(d->keys + d->nkeys, d->pairs, 2 * n * sizeof(uint32_t));
	g = &d->groups[d->ngroups];
	g->key_off = d->nkeys;
	g->key_n = (uint32_t) n;
	g->hash = h;
	d->nkeys += 2 * n;
	d->group_hash[s] = (uint32_t) d->ngroups + 1;
	d->ngroups++;
	if (d->ngroups * 2 > d->group_hash_cap &&
		!group_hash_resize(d, d->group_hash_cap * 2))
		return NONE;
	return (uint32_t) d->ngroups - 1;
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

static int
sample_cmp(const void *a, const void *b)
{
	const PyroSample *x = a;
	const PyroSample *y = b;

	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	if (x->span_id != y->span_id)
		return x->span_id < y->span_id ? -1 : 1;
	return 0;
}

/* Sort samples by (stack, span id) and merge equal ones, summing values. */
static void
merge_samples(PyroProfile *p)
{
	size_t		w = 0;

	if (p->nsamples < 2)
		return;
	qsort(p->samples, p->nsamples, sizeof(PyroSample), sample_cmp);
	for (size_t r = 1; r < p->nsamples; r++)
	{
		PyroSample *cur = &p->samples[w];

		if (p->samples[r].stack == cur->stack && p->samples[r].span_id == cur->span_id)
		{
			int64_t		sum;

			if (__builtin_add_overflow(cur->value, p->samples[r].value, &sum))
				sum = INT64_MAX;	/* values are positive here */
			cur->value = sum;
		}
		else
			p->samples[++w] = p->samples[r];
	}
	p->nsamples = w + 1;
}

static PyroStatus
process_samples(Decoder *d)
{
	const PbProfile *pb = d->pb;

	for (size_t i = 0; i < pb->n_sample; i++)
	{
		const PbSample *s = pb->sample[i];
		bool		keep = false;
		uint64_t	span_id;
		ssize_t		nkey;
		uint32_t	g,
					stack;

		for (size_t t = 0; t < d->ntypes; t++)
		{
			if (s->value[t] < 0)
			{
				keep = false;
				break;
			}
			if (s->value[t] != 0)
				keep = true;
		}
		if (!keep)
			continue;

		nkey = sample_key(d, s, &span_id);
		if (nkey < 0)
			return d->err->code;
		g = find_group(d, (size_t) nkey);
		if (g == NONE)
			return oom(d);
		stack = sample_stack(d, s);
		if (stack == NONE)
			return d->err->code;

		for (size_t t = 0; t < d->ntypes; t++)
		{
			PyroProfile **pp = &d->profiles[(size_t) g * d->ntypes + t];

			if (s->value[t] == 0)
				continue;
			if (*pp == NULL && (*pp = pyro_profile_create(d->sym, false)) == NULL)
				return oom(d);
			if (!pyro_profile_add_sample(*pp, stack, s->value[t], span_id))
				return oom(d);
		}
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Result
 * ----------------------------------------------------------------
 */

static bool
ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
	{
		char		x = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
		char		y = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

/*
 * Guess __name__ for clients that do not send one, from the sample and
 * period types.  mutex and block profiles have the same types
 * (contentions/delay) and cannot be told apart; they are called "block".
 */
const char *
pyro_pprof_guess_name(const PyroNormalized *n)
{
	bool		memory = false,
				goroutine = false,
				block = false,
				wall = false,
				exception = false;

	if (ieq(n->period_type, "cpu"))
		return "process_cpu";
	for (uint32_t i = 0; i < n->ntypes; i++)
	{
		const char *t = n->sample_types[i];

		if (ieq(t, "cpu"))
			return "process_cpu";
		if (strncmp(t, "alloc_", 6) == 0 || strncmp(t, "inuse_", 6) == 0 ||
			strncmp(t, "alloc-", 6) == 0 || strcmp(t, "space") == 0)
			memory = true;
		else if (strcmp(t, "goroutine") == 0 || strcmp(t, "goroutines") == 0)
			goroutine = true;
		else if (strcmp(t, "contentions") == 0 || strcmp(t, "delay") == 0)
			block = true;
		else if (strcmp(t, "wall") == 0)
			wall = true;
		else if (strcmp(t, "exception") == 0 || strcmp(t, "exceptions") == 0)
			exception = true;
	}
	if (memory || strcmp(n->period_type, "space") == 0)
		return "memory";
	if (goroutine)
		return "goroutine";
	if (block)
		return "block";
	if (wall || strcmp(n->period_type, "wall") == 0)
		return "wall";
	if (exception)
		return "exceptions";
	return "unknown";
}

void
pyro_normalized_free(PyroNormalized *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nseries; i++)
	{
		pyro_labels_free(&n->series[i].sample_labels);
		pyro_profile_free(n->series[i].profile);
	}
	pyro_free(n->series);
	if (n->sample_types)
		for (uint32_t i = 0; i < n->ntypes; i++)
			pyro_free(n->sample_types[i]);
	if (n->sample_units)
		for (uint32_t i = 0; i < n->ntypes; i++)
			pyro_free(n->sample_units[i]);
	pyro_free(n->sample_types);
	pyro_free(n->sample_units);
	pyro_free(n->period_type);
	pyro_free(n->period_unit);
	pyro_free(n->default_name);
	pyro_symbols_free(n->sym);
	pyro_free(n);
}

/* Copy an interned string out as a C string. */
static char *
sym_cstr(const PyroSymbols *sym, uint32_t idx)
{
	return pyro_strndup(sym->strings[idx].ptr, sym->strings[idx].len);
}

/*
 * Fill the metadata of *n (type names, period) and intern the strings the
 * profiles' metadata refers to.  Sample type names have '-' replaced by
 * '_': upstream does this for .NET profiles (dotnetspy) and rejects '-'
 * otherwise; we accept it from every client.
 */
static PyroStatus
build_metadata(Decoder *d, PyroNormalized *n, uint32_t *type_idx, uint32_t *unit_idx,
			   uint32_t *ptype, uint32_t *punit)
{
	const PbProfile *pb = d->pb;

	n->sample_types = pyro_calloc(d->ntypes, sizeof(char *));
	n->sample_units = pyro_calloc(d->ntypes, sizeof(char *));
	if (n->sample_types == NULL || n->sample_units == NULL)
		return oom(d);
	n->ntypes = (uint32_t) d->ntypes;
	for (size_t t = 0; t < d->ntypes; t++)
	{
		uint32_t	ti = intern_str(d, pb->sample_type[t]->type);
		uint32_t	ui = ti == NONE ? NONE : intern_str(d, pb->sample_type[t]->unit);
		char	   *name;

		if (ui == NONE)
			return d->err->code;
		name = sym_cstr(d->sym, ti);
		n->sample_types[t] = name;
		if (name == NULL || (n->sample_units[t] = sym_cstr(d->sym, ui)) == NULL)
			return oom(d);
		if (strchr(name, '-') != NULL)
		{
			for (char *c = name; *c; c++)
				if (*c == '-')
					*c = '_';
			ti = pyro_sym_intern_string(d->sym, name, strlen(name));
			if (ti == NONE)
				return oom(d);
		}
		type_idx[t] = ti;
		unit_idx[t] = ui;
	}
	*ptype = 0;
	*punit = 0;
	if (pb->period_type)
	{
		if ((*ptype = intern_str(d, pb->period_type->type)) == NONE ||
			(*punit = intern_str(d, pb->period_type->unit)) == NONE)
			return d->err->code;
	}
	n->period_type = sym_cstr(d->sym, *ptype);
	n->period_unit = sym_cstr(d->sym, *punit);
	if (n->period_type == NULL || n->period_unit == NULL)
		return oom(d);
	n->period = pb->period;
	n->time_nanos = pb->time_nanos;
	n->duration_nanos = pb->duration_nanos;
	n->default_name = pyro_strndup(pyro_pprof_guess_name(n),
								   strlen(pyro_pprof_guess_name(n)));
	if (n->default_name == NULL)
		return oom(d);
	return PYRO_OK;
}

/*
 * Move the non-empty profiles into n->series: groups in order of first
 * appearance, sample types in pprof order.
 */
static PyroStatus
build_series(Decoder *d, PyroNormalized *n, const uint32_t *type_idx,
			 const uint32_t *unit_idx, uint32_t ptype, uint32_t punit)
{
	size_t		count = 0;

	for (size_t i = 0; i < d->ngroups * d->ntypes; i++)
		if (d->profiles[i] != NULL)
			count++;
	if (count == 0)
		return PYRO_OK;
	n->series = pyro_calloc(count, sizeof(PyroSeriesProfile));
	if (n->series == NULL)
		return oom(d);
	for (size_t g = 0; g < d->ngroups; g++)
	{
		const Group *grp = &d->groups[g];

		for (size_t t = 0; t < d->ntypes; t++)
		{
			PyroProfile *p = d->profiles[g * d->ntypes + t];
			PyroSeriesProfile *sp;

			if (p == NULL)
				continue;
			merge_samples(p);
			p->sample_type = type_idx[t];
			p->sample_unit = unit_idx[t];
			p->period_type = ptype;
			p->period_unit = punit;
			p->period = n->period;
			p->time_nanos = n->time_nanos;
			p->duration_nanos = n->duration_nanos;

			sp = &n->series[n->nseries++];
			pyro_labels_init(&sp->sample_labels);
			sp->type_index = (uint32_t) t;
			sp->profile = p;
			d->profiles[g * d->ntypes + t] = NULL;
			for (uint32_t k = 0; k < grp->key_n; k++)
			{
				const PyroStr *kn = &d->sym->strings[d->keys[grp->key_off + 2 * k]];
				const PyroStr *kv = &d->sym->strings[d->keys[grp->key_off + 2 * k + 1]];

				if (!pyro_labels_set_n(&sp->sample_labels, kn->ptr, kn->len,
									   kv->ptr, kv->len))
					return oom(d);
			}
			/* keys are sorted byte-wise already; keep the set's own order rule */
			pyro_labels_sort(&sp->sample_labels);
		}
	}
	return PYRO_OK;
}

static void
decoder_free(Decoder *d)
{
	pyro_free(d->str_map);
	pyro_free(d->map_map);
	pyro_free(d->fn_map);
	pyro_free(d->loc_map);
	pyro_free(d->stack_parent);
	pyro_free(d->stack_node);
	idmap_free(&d->mapping_ids);
	idmap_free(&d->function_ids);
	idmap_free(&d->location_ids);
	pyro_free(d->lines);
	pyro_free(d->pairs);
	pyro_free(d->groups);
	pyro_free(d->keys);
	pyro_free(d->group_hash);
	if (d->profiles)
		for (size_t i = 0; i < d->ngroups * d->ntypes; i++)
			pyro_profile_free(d->profiles[i]);
	pyro_free(d->profiles);
}

static uint32_t *
none_array(size_t n)
{
	uint32_t   *a = pyro_malloc(n ? n * sizeof(uint32_t) : 1);

	if (a && n)
		memset(a, 0xFF, n * sizeof(uint32_t));
	return a;
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
	uint32_t   *type_idx = NULL;
	uint32_t   *unit_idx = NULL;
	uint32_t	ptype = 0,
				punit = 0;

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

	if (pyro_is_gzip(data, len))
	{
		st = pyro_gunzip(data, len, limits->max_decompressed, &raw, err);
		if (st != PYRO_OK)
		{
			pyro_buf_free(&raw);
			return st;
		}
		data = raw.data;
		len = raw.len;
	}
	else if (limits->max_decompressed && len > limits->max_decompressed)
		return pyro_error_set(err, PYRO_ELIMIT,
							  "profile is %zu bytes, more than the limit of %zu",
							  len, limits->max_decompressed);

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
	d.ntypes = pb->n_sample_type;

	st = validate(&d);
	if (st != PYRO_OK)
		goto done;
	if (limits->max_samples && pb->n_sample > limits->max_samples)
	{
		st = pyro_error_set(err, PYRO_ELIMIT,
							"profile has %zu samples, more than the limit of %zu",
							pb->n_sample, limits->max_samples);
		goto done;
	}

	n = pyro_calloc(1, sizeof(PyroNormalized));
	d.str_map = none_array(pb->n_string_table);
	d.map_map = none_array(pb->n_mapping);
	d.fn_map = none_array(pb->n_function);
	d.loc_map = none_array(pb->n_location);
	d.stack_parent = none_array(pb->n_location);
	d.stack_node = none_array(pb->n_location);
	type_idx = pyro_calloc(d.ntypes, sizeof(uint32_t));
	unit_idx = pyro_calloc(d.ntypes, sizeof(uint32_t));
	if (n == NULL || d.str_map == NULL || d.map_map == NULL || d.fn_map == NULL ||
		d.loc_map == NULL || d.stack_parent == NULL || d.stack_node == NULL ||
		type_idx == NULL || unit_idx == NULL ||
		(n->sym = d.sym = pyro_symbols_create()) == NULL)
	{
		st = oom(&d);
		goto done;
	}
	n->input_samples = pb->n_sample;
	n->decoded_bytes = len;

	st = build_metadata(&d, n, type_idx, unit_idx, &ptype, &punit);
	if (st == PYRO_OK)
		st = process_samples(&d);
	if (st == PYRO_OK)
		st = build_series(&d, n, type_idx, unit_idx, ptype, punit);

done:
	decoder_free(&d);
	pyro_free(type_idx);
	pyro_free(unit_idx);
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

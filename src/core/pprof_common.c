/*-------------------------------------------------------------------------
 *
 * pprof_common.c
 *	  The normalisation rules shared by both pprof decoders (spec §4, §16.1,
 *	  §17): pprof_wire.c (the ingest hot path) and test/reference/pprof_decode.c (the
 *	  protobuf-c reference).  They differ in how they read the wire format;
 *	  what they do with the decoded profile is written once, here, so that
 *	  a rule changed is changed for both.
 *
 * Also the small public entry points that belong to neither decoder:
 * default limits, the __name__ guess and freeing a result.
 *
 *-------------------------------------------------------------------------
 */
#include "pprof.h"
#include "pprof_int.h"

#include <stdlib.h>

#define NONE	PYRO_PPROF_NONE

void
pyro_pprof_limits_default(PyroPprofLimits *l)
{
	l->max_decompressed = 4 * 1024 * 1024;
	l->max_samples = 16000;
	l->max_sample_labels = 100;
	l->max_stack_depth = 1000;
	l->max_string_length = 65535;
}

PyroStatus
pyro_pprof_oom(PyroError *err)
{
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding pprof");
}

/* An array of n NONEs (never NULL for n = 0 unless out of memory). */
uint32_t *
pyro_pprof_none_array(size_t n)
{
	uint32_t   *a = pyro_malloc(n ? n * sizeof(uint32_t) : 1);

	if (a && n)
		memset(a, 0xFF, n * sizeof(uint32_t));
	return a;
}

/*
 * Gunzip *data into raw when it is gzip (then *data and *len point into raw),
 * or check the raw size against the decompressed-size limit.
 */
PyroStatus
pyro_pprof_prepare_input(const uint8_t **data, size_t *len, const PyroPprofLimits *limits,
						 PyroBuf *raw, PyroError *err)
{
	if (pyro_is_gzip(*data, *len))
	{
		PyroStatus	st = pyro_gunzip(*data, *len, limits->max_decompressed, raw, err);

		if (st != PYRO_OK)
			return st;
		*data = raw->data;
		*len = raw->len;
	}
	else if (limits->max_decompressed && *len > limits->max_decompressed)
		return pyro_error_set(err, PYRO_ELIMIT,
							  "profile is %zu bytes, more than the limit of %zu",
							  *len, limits->max_decompressed);
	return PYRO_OK;
}

/*
 * After validation: check the sample limit, then allocate the result *n
 * (with its symbols) and the shared state.  On failure *n may be set and
 * is the caller's to free.
 */
PyroStatus
pyro_pprof_norm_begin(PyroPprofNorm *nm, size_t nsample, size_t decoded_bytes,
					  PyroNormalized **n)
{
	if (nm->lim->max_samples && nsample > nm->lim->max_samples)
		return pyro_error_set(nm->err, PYRO_ELIMIT,
							  "profile has %zu samples, more than the limit of %zu",
							  nsample, nm->lim->max_samples);
	*n = pyro_calloc(1, sizeof(PyroNormalized));
	nm->str_map = pyro_pprof_none_array(nm->nstrings);
	nm->map_map = pyro_pprof_none_array(nm->nmapping);
	nm->fn_map = pyro_pprof_none_array(nm->nfunction);
	nm->loc_map = pyro_pprof_none_array(nm->nlocation);
	nm->type_idx = pyro_calloc(nm->ntypes, sizeof(uint32_t));
	nm->unit_idx = pyro_calloc(nm->ntypes, sizeof(uint32_t));
	if (*n == NULL || nm->str_map == NULL || nm->map_map == NULL ||
		nm->fn_map == NULL || nm->loc_map == NULL || nm->type_idx == NULL ||
		nm->unit_idx == NULL || ((*n)->sym = nm->sym = pyro_symbols_create()) == NULL)
		return pyro_pprof_oom(nm->err);
	(*n)->input_samples = nsample;
	(*n)->decoded_bytes = decoded_bytes;
	return PYRO_OK;
}

/* Free the shared state (not the result nor its symbols). */
void
pyro_pprof_norm_free(PyroPprofNorm *nm)
{
	pyro_free(nm->str_map);
	pyro_free(nm->map_map);
	pyro_free(nm->fn_map);
	pyro_free(nm->loc_map);
	pyro_free(nm->lines);
	pyro_free(nm->pairs);
	pyro_free(nm->groups);
	pyro_free(nm->keys);
	pyro_free(nm->group_hash);
	if (nm->profiles)
		for (size_t i = 0; i < nm->ngroups * nm->ntypes; i++)
			pyro_profile_free(nm->profiles[i]);
	pyro_free(nm->profiles);
	pyro_free(nm->stats);
	pyro_free(nm->type_idx);
	pyro_free(nm->unit_idx);
}

/* ----------------------------------------------------------------
 * Validation (spec §17 "malformed profile"), the parts that read no
 * decoder-specific structure
 * ----------------------------------------------------------------
 */

/* The error for string index idx out of a table of nstrings entries. */
PyroStatus
pyro_pprof_bad_str(PyroError *err, size_t nstrings, const char *what, uint64_t id,
				   int64_t idx)
{
	return pyro_error_set(err, PYRO_EINVAL,
						  "%s %llu refers to string %lld, but the string table has %zu entries",
						  what, (unsigned long long) id, (long long) idx, nstrings);
}

/*
 * The first checks of a decoded profile, in this order: sample types
 * present, string table present with entry 0 empty, table sizes, then
 * the string indexes of sample types, period type, default sample type,
 * drop/keep frames and comments.
 */
PyroStatus
pyro_pprof_validate_header(const PyroPprofHeader *h, PyroError *err)
{
	size_t		ns = h->nstrings;

	if (h->ntypes == 0)
		return pyro_error_set(err, PYRO_EINVAL, "profile has no sample types");
	if (ns == 0)
		return pyro_error_set(err, PYRO_EINVAL, "string table is empty");
	if (h->first_string_len != 0)
		return pyro_error_set(err, PYRO_EINVAL, "string table entry 0 is not empty");
	if (ns > UINT32_MAX - 1 || h->nlocation > UINT32_MAX - 1 ||
		h->nfunction > UINT32_MAX - 1 || h->nmapping > UINT32_MAX - 1)
		return pyro_error_set(err, PYRO_ELIMIT, "profile has too many entries");

	for (size_t i = 0; i < h->ntypes; i++)
	{
		if (!pyro_pprof_str_ok(ns, h->types[i].type))
			return pyro_pprof_bad_str(err, ns, "sample type", i, h->types[i].type);
		if (!pyro_pprof_str_ok(ns, h->types[i].unit))
			return pyro_pprof_bad_str(err, ns, "sample type", i, h->types[i].unit);
	}
	if (h->period_type)
	{
		if (!pyro_pprof_str_ok(ns, h->period_type->type))
			return pyro_pprof_bad_str(err, ns, "period type", 0, h->period_type->type);
		if (!pyro_pprof_str_ok(ns, h->period_type->unit))
			return pyro_pprof_bad_str(err, ns, "period type", 0, h->period_type->unit);
	}
	if (!pyro_pprof_str_ok(ns, h->default_sample_type))
		return pyro_pprof_bad_str(err, ns, "default sample type", 0, h->default_sample_type);
	if (!pyro_pprof_str_ok(ns, h->drop_frames))
		return pyro_pprof_bad_str(err, ns, "drop frames", 0, h->drop_frames);
	if (!pyro_pprof_str_ok(ns, h->keep_frames))
		return pyro_pprof_bad_str(err, ns, "keep frames", 0, h->keep_frames);
	for (size_t i = 0; i < h->ncomments; i++)
		if (!pyro_pprof_str_ok(ns, h->comments[i]))
			return pyro_pprof_bad_str(err, ns, "comment", i, h->comments[i]);
	return PYRO_OK;
}

/* The string indexes of label j of sample i. */
PyroStatus
pyro_pprof_check_label(PyroError *err, size_t nstrings, size_t sample, int64_t key,
					   int64_t str, int64_t num_unit)
{
	if (!pyro_pprof_str_ok(nstrings, key))
		return pyro_pprof_bad_str(err, nstrings, "label of sample", sample, key);
	if (!pyro_pprof_str_ok(nstrings, str))
		return pyro_pprof_bad_str(err, nstrings, "label of sample", sample, str);
	if (!pyro_pprof_str_ok(nstrings, num_unit))
		return pyro_pprof_bad_str(err, nstrings, "label of sample", sample, num_unit);
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Symbols
 * ----------------------------------------------------------------
 */

/*
 * Whether string table entry idx may be interned: it must be valid UTF-8.
 * False with the error set.  Summary mode checks each string the full
 * decode would intern through this, so both fail alike.
 */
bool
pyro_pprof_str_valid(PyroPprofNorm *nm, int64_t idx)
{
	if (pyro_utf8_valid(nm->strings[idx].p, nm->strings[idx].len))
		return true;
	pyro_error_set(nm->err, PYRO_EINVAL, "string table entry %lld is not valid UTF-8",
				   (long long) idx);
	return false;
}

/*
 * The cache miss of pyro_pprof_intern_str: check UTF-8, keep the last
 * max_string_length bytes (cut at a character boundary) and intern.
 */
uint32_t
pyro_pprof_intern_new(PyroPprofNorm *nm, int64_t idx)
{
	const char *s = nm->strings[idx].p;
	size_t		len = nm->strings[idx].len;
	size_t		max = nm->lim->max_string_length;
	uint32_t	r;

	if (!pyro_pprof_str_valid(nm, idx))
		return NONE;
	if (max && len > max)
	{
		size_t		start = len - max;

		while (start < len && (((unsigned char) s[start]) & 0xC0) == 0x80)
			start++;
		s += start;
		len -= start;
	}
	r = pyro_sym_intern_string(nm->sym, s, len);
	if (r == NONE)
	{
		pyro_pprof_oom(nm->err);
		return NONE;
	}
	nm->str_map[idx] = r;
	return r;
}

/*
 * Intern mapping pos (cached) from its decoded fields: its strings
 * (filename, then build id) first.  NONE with the error set on failure.
 */
uint32_t
pyro_pprof_intern_mapping(PyroPprofNorm *nm, uint32_t pos, uint64_t memory_start,
						  uint64_t memory_limit, uint64_t file_offset, int64_t filename,
						  int64_t build_id, uint32_t flags)
{
	PyroMapping m;
	uint32_t	r;

	if (nm->map_map[pos] != NONE)
		return nm->map_map[pos];
	memset(&m, 0, sizeof(m));
	m.memory_start = memory_start;
	m.memory_limit = memory_limit;
	m.file_offset = file_offset;
	if ((m.filename = pyro_pprof_intern_str(nm, filename)) == NONE ||
		(m.build_id = pyro_pprof_intern_str(nm, build_id)) == NONE)
		return NONE;
	m.flags = flags;
	r = pyro_sym_intern_mapping(nm->sym, &m);
	if (r == NONE)
	{
		pyro_pprof_oom(nm->err);
		return NONE;
	}
	nm->map_map[pos] = r;
	return r;
}

/*
 * Intern function pos (cached) from its decoded fields: its strings
 * (name, system name, file name) first.  NONE with the error set.
 */
uint32_t
pyro_pprof_intern_function(PyroPprofNorm *nm, uint32_t pos, int64_t name,
						   int64_t system_name, int64_t filename, int64_t start_line)
{
	PyroFunction f;
	uint32_t	r;

	if (nm->fn_map[pos] != NONE)
		return nm->fn_map[pos];
	memset(&f, 0, sizeof(f));
	if ((f.name = pyro_pprof_intern_str(nm, name)) == NONE ||
		(f.system_name = pyro_pprof_intern_str(nm, system_name)) == NONE ||
		(f.filename = pyro_pprof_intern_str(nm, filename)) == NONE)
		return NONE;
	f.start_line = start_line;
	r = pyro_sym_intern_function(nm->sym, &f);
	if (r == NONE)
	{
		pyro_pprof_oom(nm->err);
		return NONE;
	}
	nm->fn_map[pos] = r;
	return r;
}

/*
 * Room for the lines of one location in nm->lines; false with the error
 * set.  (nm->lines may stay NULL when nlines is 0.)
 */
bool
pyro_pprof_lines_reserve(PyroPprofNorm *nm, size_t nlines)
{
	if (nlines > UINT32_MAX ||
		!pyro_grow((void **) &nm->lines, &nm->lines_cap, nlines, sizeof(PyroLine)))
	{
		pyro_pprof_oom(nm->err);
		return false;
	}
	return true;
}

/*
 * Intern location pos (the decoder checks nm->loc_map first), whose lines
 * the decoder put in nm->lines (functions already interned).  The address is kept only when some line has no
 * function name: then the frame name falls back to mapping+address,
 * otherwise the address would only keep apart frames that display the
 * same (upstream clears addresses).
 */
uint32_t
pyro_pprof_intern_location(PyroPprofNorm *nm, uint32_t pos, uint32_t mapping,
						   uint64_t address, size_t nlines)
{
	const PyroSymbols *sym = nm->sym;
	bool		named = true;
	uint32_t	r;

	for (size_t i = 0; i < nlines; i++)
	{
		const PyroFunction *fn = &sym->functions[nm->lines[i].function];

		if (sym->strings[fn->name].len == 0 && sym->strings[fn->system_name].len == 0)
			named = false;
	}
	if (nlines > 0 && named)
		address = 0;
	r = pyro_sym_intern_location(nm->sym, mapping, address, nm->lines, (uint32_t) nlines);
	if (r == NONE)
	{
		pyro_pprof_oom(nm->err);
		return NONE;
	}
	nm->loc_map[pos] = r;
	return r;
}

/* ----------------------------------------------------------------
 * Sample labels and groups
 * ----------------------------------------------------------------
 */

/* Parse 1 to 16 hex digits (a span id). */
bool
pyro_parse_span_id(const char *s, size_t n, uint64_t *out)
{
	uint64_t	v = 0;

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

static inline bool
str_is(const PyroPprofStr *s, const char *lit, size_t litlen)
{
	return s->len == litlen && memcmp(s->p, lit, litlen) == 0;
}

/* Byte-wise order of two interned strings. */
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
 * A sample's split key is built in nm->pairs by pyro_pprof_key_reserve
 * (room for nlabels labels), pyro_pprof_key_add per label, in order, and
 * pyro_pprof_key_finish.  Reserve fails only when out of memory.
 */
bool
pyro_pprof_key_reserve(PyroPprofNorm *nm, size_t nlabels)
{
	if (!pyro_grow((void **) &nm->pairs, &nm->pairs_cap, nlabels * 2, sizeof(uint32_t)))
	{
		pyro_pprof_oom(nm->err);
		return false;
	}
	return true;
}

/*
 * Add label (key, str) (range-checked string indexes) to the n pairs of
 * the key.  Kept: string labels with a non-empty name and value (numeric
 * labels have no str), except span_id (parsed into *span_id when it is
 * 1 to 16 hex digits, ignored otherwise; profile_id is its legacy name)
 * and trace_id (dropped: the stored sample model has only a span id).
 * Pairs stay sorted by name, equal names in input order.  False with the
 * error set on failure.
 */
bool
pyro_pprof_key_add(PyroPprofNorm *nm, int64_t key, int64_t str, size_t *n,
				   uint64_t *span_id, uint64_t *trace)
{
	const PyroPprofStr *ks = &nm->strings[key];
	const PyroPprofStr *vs = &nm->strings[str];
	uint32_t   *pairs = nm->pairs;
	uint32_t	k,
				v;
	size_t		p;

	if (vs->len == 0 || ks->len == 0)
		return true;
	if (str_is(ks, "span_id", 7) || str_is(ks, "profile_id", 10))
	{
		uint64_t	sp;

		if (pyro_parse_span_id(vs->p, vs->len, &sp))
			*span_id = sp;
		return true;
	}
	if (str_is(ks, "trace_id", 8))
	{
		uint64_t	hi,
					lo;

		/* 32 hex digits; anything else is dropped, as before */
		if (vs->len == 32 && pyro_parse_span_id(vs->p, 16, &hi) &&
			pyro_parse_span_id(vs->p + 16, 16, &lo))
		{
			trace[0] = hi;
			trace[1] = lo;
		}
		return true;
	}
	if ((k = pyro_pprof_intern_str(nm, key)) == NONE ||
		(v = pyro_pprof_intern_str(nm, str)) == NONE)
		return false;
	for (p = *n; p > 0 && sym_str_cmp(nm->sym, pairs[2 * (p - 1)], k) > 0; p--)
	{
		pairs[2 * p] = pairs[2 * (p - 1)];
		pairs[2 * p + 1] = pairs[2 * (p - 1) + 1];
	}
	pairs[2 * p] = k;
	pairs[2 * p + 1] = v;
	(*n)++;
	return true;
}

/*
 * Of duplicate names keep the last (interned, so equal names are equal
 * indexes); returns the number of pairs left.
 */
size_t
pyro_pprof_key_finish(PyroPprofNorm *nm, size_t n)
{
	uint32_t   *pairs = nm->pairs;
	size_t		o = 0;

	if (n < 2)
		return n;
	for (size_t r = 0; r < n; r++)
	{
		if (r + 1 < n && pairs[2 * r] == pairs[2 * (r + 1)])
			continue;
		pairs[2 * o] = pairs[2 * r];
		pairs[2 * o + 1] = pairs[2 * r + 1];
		o++;
	}
	return o;
}

/* Resize the group hash table to cap slots and re-insert every group. */
static bool
group_hash_resize(PyroPprofNorm *nm, size_t cap)
{
	uint32_t   *h = pyro_calloc(cap, sizeof(uint32_t));

	if (h == NULL)
		return false;
	for (size_t g = 0; g < nm->ngroups; g++)
	{
		size_t		s = (size_t) nm->groups[g].hash & (cap - 1);

		while (h[s] != 0)
			s = (s + 1) & (cap - 1);
		h[s] = (uint32_t) g + 1;
	}
	pyro_free(nm->group_hash);
	nm->group_hash = h;
	nm->group_hash_cap = cap;
	return true;
}

/*
 * Find or add the group of the split key in nm->pairs[0 .. 2n).  Returns
 * the group index, or NONE when out of memory (error not set).  New
 * groups get ntypes empty profile slots.
 */
uint32_t
pyro_pprof_find_group(PyroPprofNorm *nm, size_t n)
{
	uint64_t	h = 0x9ae16a3b2f90404fULL ^ n;
	size_t		s;
	PyroPprofGroup *g;
	size_t		need;

	for (size_t i = 0; i < 2 * n; i++)
		h = pyro_hash_mix(h, nm->pairs[i]);
	if (nm->group_hash_cap == 0 && !group_hash_resize(nm, 64))
		return NONE;
	for (s = (size_t) h & (nm->group_hash_cap - 1); nm->group_hash[s] != 0;
		 s = (s + 1) & (nm->group_hash_cap - 1))
	{
		g = &nm->groups[nm->group_hash[s] - 1];
		if (g->hash == h && g->key_n == n &&
			(n == 0 || memcmp(nm->keys + g->key_off, nm->pairs,
							  2 * n * sizeof(uint32_t)) == 0))
			return nm->group_hash[s] - 1;
	}

	/* a new group */
	if (nm->ngroups >= UINT32_MAX - 1 ||
		!pyro_grow((void **) &nm->groups, &nm->groups_cap, nm->ngroups + 1,
				   sizeof(PyroPprofGroup)) ||
		!pyro_grow((void **) &nm->keys, &nm->keys_cap, nm->nkeys + 2 * n, sizeof(uint32_t)) ||
		!pyro_size_mul(nm->ngroups + 1, nm->ntypes, &need) ||
		!pyro_grow((void **) &nm->profiles, &nm->profiles_cap, need, sizeof(PyroProfile *)) ||
		!pyro_grow((void **) &nm->stats, &nm->stats_cap, need, sizeof(PyroPprofStat)))
		return NONE;
	memset(nm->profiles + nm->ngroups * nm->ntypes, 0, nm->ntypes * sizeof(PyroProfile *));
	memset(nm->stats + nm->ngroups * nm->ntypes, 0, nm->ntypes * sizeof(PyroPprofStat));
	if (n)
		memcpy(nm->keys + nm->nkeys, nm->pairs, 2 * n * sizeof(uint32_t));
	g = &nm->groups[nm->ngroups];
	g->key_off = nm->nkeys;
	g->key_n = (uint32_t) n;
	g->hash = h;
	nm->nkeys += 2 * n;
	nm->group_hash[s] = (uint32_t) nm->ngroups + 1;
	nm->ngroups++;
	if (nm->ngroups * 2 > nm->group_hash_cap &&
		!group_hash_resize(nm, nm->group_hash_cap * 2))
		return NONE;
	return (uint32_t) nm->ngroups - 1;
}

/* ----------------------------------------------------------------
 * Result
 * ----------------------------------------------------------------
 */

/* A sample type's name as the __name__ rules see it (spec §10.4). */
static const char *
display_name(const char *type, const PyroDisplayName *config, size_t nconfig, bool has_config)
{
	static const char *const builtin[][2] = {
		{"samples", "cpu"}, {"goroutine", "goroutines"},
		{"contentions", "mutex_count"}, {"delay", "mutex_duration"}
	};

	if (has_config)
	{
		for (size_t i = 0; i < nconfig; i++)
			if (strcmp(config[i].type, type) == 0 && config[i].display &&
				config[i].display[0] != '\0')
				return config[i].display;
		return type;
	}
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(type, builtin[i][0]) == 0)
			return builtin[i][1];
	return type;
}

/*
 * __name__ of a pprof whose client sent none, as upstream derives it for
 * /ingest (spec §10.7), for every ingest path alike: "wall" if a sample
 * type is exactly wall; else the first sample type whose (display) name
 * says process_cpu, memory, mutex, block or goroutines; else the last
 * (display) name.
 */
const char *
pyro_pprof_profile_name(const PyroNormalized *n, const PyroDisplayName *config, size_t nconfig,
						bool has_config)
{
	const char *last = NULL;

	for (uint32_t i = 0; i < n->ntypes; i++)
		if (strcmp(n->sample_types[i], "wall") == 0)
			return "wall";
	for (uint32_t i = 0; i < n->ntypes; i++)
	{
		const char *t = display_name(n->sample_types[i], config, nconfig, has_config);

		if (strstr(t, "cpu"))
			return "process_cpu";
		if (strstr(t, "alloc_") || strstr(t, "inuse_") || strcmp(t, "space") == 0 ||
			strcmp(t, "objects") == 0)
			return "memory";
		if (strstr(t, "mutex_"))
			return "mutex";
		if (strstr(t, "block_"))
			return "block";
		if (strstr(t, "goroutines"))
			return "goroutines";
		last = t;
	}
	return last ? last : "unknown";
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
 * Fill the metadata of *n (type names, period, default name) and intern
 * the strings the profiles' metadata refers to, in that order: for each
 * sample type its type then its unit, then the period type and unit.
 * Sample type names have '-' replaced by '_': upstream does this for .NET
 * profiles (dotnetspy) and rejects '-' otherwise; we accept it from every
 * client.  period_type is NULL when the profile has none.
 */
PyroStatus
pyro_pprof_norm_metadata(PyroPprofNorm *nm, PyroNormalized *n,
						 const PyroPprofValueType *types,
						 const PyroPprofValueType *period_type,
						 int64_t period, int64_t time_nanos, int64_t duration_nanos)
{
	const char *guess;

	n->sample_types = pyro_calloc(nm->ntypes, sizeof(char *));
	n->sample_units = pyro_calloc(nm->ntypes, sizeof(char *));
	if (n->sample_types == NULL || n->sample_units == NULL)
		return pyro_pprof_oom(nm->err);
	n->ntypes = (uint32_t) nm->ntypes;
	for (size_t t = 0; t < nm->ntypes; t++)
	{
		uint32_t	ti = pyro_pprof_intern_str(nm, types[t].type);
		uint32_t	ui = ti == NONE ? NONE : pyro_pprof_intern_str(nm, types[t].unit);
		char	   *name;

		if (ui == NONE)
			return nm->err->code;
		name = sym_cstr(nm->sym, ti);
		n->sample_types[t] = name;
		if (name == NULL || (n->sample_units[t] = sym_cstr(nm->sym, ui)) == NULL)
			return pyro_pprof_oom(nm->err);
		if (strchr(name, '-') != NULL)
		{
			for (char *c = name; *c; c++)
				if (*c == '-')
					*c = '_';
			ti = pyro_sym_intern_string(nm->sym, name, strlen(name));
			if (ti == NONE)
				return pyro_pprof_oom(nm->err);
		}
		nm->type_idx[t] = ti;
		nm->unit_idx[t] = ui;
	}
	nm->ptype = 0;
	nm->punit = 0;
	if (period_type)
	{
		if ((nm->ptype = pyro_pprof_intern_str(nm, period_type->type)) == NONE ||
			(nm->punit = pyro_pprof_intern_str(nm, period_type->unit)) == NONE)
			return nm->err->code;
	}
	n->period_type = sym_cstr(nm->sym, nm->ptype);
	n->period_unit = sym_cstr(nm->sym, nm->punit);
	if (n->period_type == NULL || n->period_unit == NULL)
		return pyro_pprof_oom(nm->err);
	n->period = period;
	n->time_nanos = time_nanos;
	n->duration_nanos = duration_nanos;
	guess = pyro_pprof_profile_name(n, NULL, 0, false);
	n->default_name = pyro_strndup(guess, strlen(guess));
	if (n->default_name == NULL)
		return pyro_pprof_oom(nm->err);
	return PYRO_OK;
}

static inline bool
sample_lt(const PyroSample *x, const PyroSample *y)
{
	return x->stack < y->stack || (x->stack == y->stack && x->span_id < y->span_id);
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

/*
 * Sort samples by (stack, span id).  They often arrive sorted (stack nodes
 * are numbered as first seen), so check first; otherwise a stable LSD
 * radix sort on the stack, 11 bits per pass and only as many passes as the
 * largest stack needs, then the runs of equal stacks by span id.  Falls
 * back to qsort for short arrays or if the buffer cannot be had.
 */
static void
sort_samples(PyroSample *s, size_t n)
{
	PyroSample *tmp;
	PyroSample *from = s;
	PyroSample *to;
	size_t		count[2048];
	uint32_t	max = 0;
	bool		sorted = true;

	for (size_t i = 0; i < n; i++)
	{
		if (i > 0 && sample_lt(&s[i], &s[i - 1]))
			sorted = false;
		if (s[i].stack > max)
			max = s[i].stack;
	}
	if (sorted)
		return;
	if (n < 256 || (tmp = pyro_malloc(n * sizeof(PyroSample))) == NULL)
	{
		qsort(s, n, sizeof(PyroSample), sample_cmp);
		return;
	}
	to = tmp;

	for (int shift = 0; shift == 0 || (shift < 32 && (max >> shift) != 0); shift += 11)
	{
		size_t		sum = 0;
		PyroSample *t;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(from[i].stack >> shift) & 0x7FF]++;
		for (size_t b = 0; b < 2048; b++)
		{
			size_t		c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			to[count[(from[i].stack >> shift) & 0x7FF]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
	if (from != s)
		memcpy(s, from, n * sizeof(PyroSample));
	pyro_free(tmp);
	/* span ids within runs of one stack */
	for (size_t i = 0; i < n;)
	{
		size_t		j = i + 1;

		while (j < n && s[j].stack == s[i].stack)
			j++;
		if (j - i > 1)
			qsort(s + i, j - i, sizeof(PyroSample), sample_cmp);
		i = j;
	}
}

/*
 * Sort by (stack, span id) and merge equal samples, summing values
 * (saturating; they are positive here).  The reference sorts with plain
 * qsort, so that the differential tests also check sort_samples.
 */
static void
merge_samples(PyroProfile *p, bool reference_sort)
{
	size_t		o = 0;

	if (p->nsamples < 2)
		return;
	if (reference_sort)
		qsort(p->samples, p->nsamples, sizeof(PyroSample), sample_cmp);
	else
		sort_samples(p->samples, p->nsamples);
	for (size_t r = 1; r < p->nsamples; r++)
	{
		PyroSample *cur = &p->samples[o];

		if (p->samples[r].stack == cur->stack && p->samples[r].span_id == cur->span_id)
		{
			int64_t		sum;

			if (__builtin_add_overflow(cur->value, p->samples[r].value, &sum))
				sum = INT64_MAX;
			cur->value = sum;
		}
		else
			p->samples[++o] = p->samples[r];
	}
	p->nsamples = o + 1;
}

/*
 * Move the non-empty profiles into n->series (after
 * pyro_pprof_norm_metadata): groups in order of first appearance, sample
 * types in pprof order, each with its group's labels, total and sample
 * count.  In summary mode there are no profiles, only the stats, and the
 * series are the same.
 */
PyroStatus
pyro_pprof_norm_series(PyroPprofNorm *nm, PyroNormalized *n, bool reference_sort)
{
	size_t		count = 0;

	for (size_t i = 0; i < nm->ngroups * nm->ntypes; i++)
		if (nm->stats[i].count > 0)
			count++;
	if (count == 0)
		return PYRO_OK;
	n->series = pyro_calloc(count, sizeof(PyroSeriesProfile));
	if (n->series == NULL)
		return pyro_pprof_oom(nm->err);
	for (size_t g = 0; g < nm->ngroups; g++)
	{
		const PyroPprofGroup *grp = &nm->groups[g];

		for (size_t t = 0; t < nm->ntypes; t++)
		{
			PyroProfile *p = nm->profiles[g * nm->ntypes + t];
			const PyroPprofStat *stat = &nm->stats[g * nm->ntypes + t];
			PyroSeriesProfile *sp;

			if (stat->count == 0)
				continue;
			if (p != NULL)
			{
				merge_samples(p, reference_sort);
				p->sample_type = nm->type_idx[t];
				p->sample_unit = nm->unit_idx[t];
				p->period_type = nm->ptype;
				p->period_unit = nm->punit;
				p->period = n->period;
				p->time_nanos = n->time_nanos;
				p->duration_nanos = n->duration_nanos;
			}

			sp = &n->series[n->nseries++];
			pyro_labels_init(&sp->sample_labels);
			sp->type_index = (uint32_t) t;
			sp->profile = p;
			sp->total = stat->total;
			sp->nsamples = stat->count;
			nm->profiles[g * nm->ntypes + t] = NULL;
			for (uint32_t k = 0; k < grp->key_n; k++)
			{
				const PyroStr *kn = &nm->sym->strings[nm->keys[grp->key_off + 2 * k]];
				const PyroStr *kv = &nm->sym->strings[nm->keys[grp->key_off + 2 * k + 1]];

				if (!pyro_labels_set_n(&sp->sample_labels, kn->ptr, kn->len,
									   kv->ptr, kv->len))
					return pyro_pprof_oom(nm->err);
			}

			/*
			 * keys are sorted byte-wise already; keep the set's own order
			 * rule
			 */
			pyro_labels_sort(&sp->sample_labels);
		}
	}
	return PYRO_OK;
}

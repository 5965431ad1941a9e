/*-------------------------------------------------------------------------
 *
 * pprof_wire.c
 *	  The hot path of ingest: a hand-written protobuf decoder for pprof that
 *	  normalises straight into PyroSymbols and per-series profiles, without
 *	  materialising protobuf-c messages (spec §4, §16.1, §17).
 *
 * It must give exactly what the protobuf-c reference in test/reference/pprof_decode.c
 * gives (same statuses and messages, same symbols in the same order), so
 * it follows the reference step by step:
 *
 *	1. one pass over the top-level message records every field occurrence
 *	   (fields may come in any order and repeat);
 *	2. every nested message is parsed into flat arrays; any malformed byte
 *	   anywhere fails here, before any semantic check, as protobuf-c does
 *	   (it accepts what protobuf-c accepts: tags of at most 5 bytes whose
 *	   first byte is not a field-0 tag, varints of at most 10 bytes,
 *	   length prefixes of at most 5 bytes, wire types 0, 1, 2 and 5;
 *	   repeated scalars packed or not, even mixed; bools decoded as
 *	   protobuf-c does, from the raw bytes whatever the wire type; of a
 *	   repeated period_type only the last occurrence counts, as in
 *	   protobuf-c, where the protobuf spec would merge them);
 *	3. validation in the reference's order;
 *	4. metadata, then the samples in order: labels into a group key,
 *	   locations interned lazily from the root, stack nodes through a
 *	   local hash whose slots hold the packed (parent, location) key.
 *
 * Strings end at their first NUL byte, as the reference sees them through
 * C strings.  The normalisation rules applied after decoding are shared
 * with the reference (pprof_common.c).
 *
 *-------------------------------------------------------------------------
 */
#include "pprof.h"
#include "pprof_int.h"

#include <stdlib.h>

#include "pbwire.h"

#define NONE	UINT32_MAX

/* ----------------------------------------------------------------
 * Flat decoded tables
 * ----------------------------------------------------------------
 */
typedef struct WRange
{
	const uint8_t *p;
	size_t		len;
} WRange;

/* strings up to their first NUL; type and unit string indexes */
typedef PyroPprofStr WStr;
typedef PyroPprofValueType WValueType;

typedef struct WMapping
{
	uint64_t	id;
	uint64_t	memory_start;
	uint64_t	memory_limit;
	uint64_t	file_offset;
	int64_t		filename;
	int64_t		build_id;
	uint32_t	flags;
} WMapping;

typedef struct WFunction
{
	uint64_t	id;
	int64_t		name;
	int64_t		system_name;
	int64_t		filename;
	int64_t		start_line;
} WFunction;

typedef struct WLine
{
	uint64_t	function_id;	/* replaced by the function position */
	int64_t		line;
} WLine;

typedef struct WLocation
{
	uint64_t	id;
	uint64_t	mapping_id;
	uint64_t	address;
	size_t		first_line;		/* into Wire.lines */
	size_t		nlines;
} WLocation;

typedef struct WLabel
{
	int64_t		key;
	int64_t		str;
	int64_t		num_unit;
} WLabel;

typedef struct WSample
{
	uint32_t	loc_off;		/* into Wire.locpos */
	uint32_t	nloc;
	uint32_t	val_off;		/* into Wire.values */
	uint32_t	nval;
	uint32_t	lab_off;		/* into Wire.labels */
	uint32_t	nlab;
} WSample;

/* Growable array helper: append one element of size elem, NULL on OOM. */
#define W_PUSH(arr, n, cap) \
	((n) < (cap) || pyro_grow((void **) &(arr), &(cap), (n) + 1, sizeof(*(arr))) ? \
	 &(arr)[(n)++] : NULL)

/* Id map: pprof id -> table position, direct when dense enough. */
typedef struct WIdMap
{
	uint32_t   *direct;			/* [0 .. max], NONE = absent */
	uint64_t	max;
	uint64_t   *keys;			/* hash: 0 = empty */
	uint32_t   *vals;
	size_t		mask;
	/* problems found while building, reported by validate() */
	bool		has_zero;		/* some id is 0 */
	bool		has_dup;		/* some id repeats; dup is the first */
	bool		too_many;
	uint64_t	dup;
} WIdMap;

typedef struct StackSlot
{
	uint64_t	key;			/* parent << 32 | location; UINT64_MAX = empty */
	uint32_t	node;
	uint32_t	pad;
} StackSlot;

#define NO_SAMPLE	SIZE_MAX
#define MAX_PENDING	64

typedef struct Wire
{
	PyroPprofNorm nm;			/* shared normalisation state (pprof_int.h) */
	const PyroPprofLimits *lim;
	PyroError  *err;
	PyroSymbols *sym;

	/* top level */
	WValueType *types;
	size_t		ntypes,
				types_cap;
	WRange	   *sample_r;
	size_t		nsample,
				sample_r_cap;
	WRange	   *mapping_r;
	size_t		nmapping,
				mapping_r_cap;
	WRange	   *location_r;
	size_t		nlocation,
				location_r_cap;
	WRange	   *function_r;
	size_t		nfunction,
				function_r_cap;
	WStr	   *strings;
	size_t		nstrings,
				strings_cap;
	int64_t    *comments;
	size_t		ncomments,
				comments_cap;
	int64_t		drop_frames,
				keep_frames,
				time_nanos,
				duration_nanos,
				period,
				default_sample_type;
	bool		has_period_type;
	WValueType	period_type;
	bool		fn_repaired;	/* every function id was 0 */

	/* nested */
	WMapping   *mappings;
	WFunction  *functions;
	WLocation  *locations;
	WLine	   *lines;
	size_t		nlines,
				lines_cap;
	WSample    *samples;
	uint32_t   *locpos;			/* sample location ids as positions */
	size_t		nlocpos,
				locpos_cap;
	size_t		bad_loc_sample; /* first sample with an unknown location id */
	uint64_t	bad_loc_id;		/* and that id */
	int64_t    *values;
	size_t		nvalues,
				values_cap;
	WLabel	   *labels;
	size_t		nlabels,
				labels_cap;

	WIdMap		mapping_ids;
	WIdMap		function_ids;
	WIdMap		location_ids;

	/* position -> sym index, filled lazily (NONE = not yet) */
	/* one-entry stack cache per location: last (parent -> node) */
	uint32_t   *stack_parent;
	uint32_t   *stack_node;

	/*
	 * Stack nodes: the first child of each node is found through
	 * first_child[], the other children through the hash.
	 */
	uint32_t   *first_child;	/* per stack node, 0 = none */
	size_t		first_child_cap;
	StackSlot  *stack_slots;
	size_t		stack_mask;
	size_t		stack_count;	/* nodes in the hash or pending */

	/*
	 * A bitmap of hashed keys (8 bits per slot): a clear bit proves a key
	 * absent, so a new node is appended without probing, and its insertion is
	 * deferred to a batch (independent stores, which overlap, instead of a
	 * dependent probe per node).
	 */
	uint64_t   *stack_bits;
	StackSlot  *pending;		/* new nodes not yet in the hash */
	size_t		npending;
	size_t		stack_hint;		/* initial number of slots */

	/* summary mode: no stacks; what the full decode would intern, checked */
	bool		summary;
	bool		all_utf8;		/* every string is valid: nothing to check */
	bool		count_locpos;	/* count sample location ids, do not keep them */
	uint8_t    *str_checked;
	uint8_t    *map_checked;
	uint8_t    *fn_checked;
	uint8_t    *loc_checked;

	/* the previous sample's kept frames, root first, and their nodes */
	uint32_t   *prev_pos;
	uint32_t   *prev_node;
	size_t		prev_n;
	size_t		prev_cap;
} Wire;

static PyroStatus
w_oom(Wire *w)
{
	return pyro_pprof_oom(w->err);
}

static PyroStatus
w_malformed(Wire *w)
{
	return pyro_error_set(w->err, PYRO_EINVAL, "could not decode pprof: malformed protobuf");
}

/* ----------------------------------------------------------------
 * Id maps
 * ----------------------------------------------------------------
 */
static inline uint32_t
idmap_get(const WIdMap *m, uint64_t id)
{
	if (m->direct)
		return id <= m->max ? m->direct[id] : NONE;
	if (id == 0 || m->keys == NULL)
		return NONE;
	for (size_t s = (size_t) ((id * 0x9E3779B97F4A7C15ULL) >> 17) & m->mask;;
		 s = (s + 1) & m->mask)
	{
		if (m->keys[s] == id)
			return m->vals[s];
		if (m->keys[s] == 0)
			return NONE;
	}
}

static void
idmap_free(WIdMap *m)
{
	pyro_free(m->direct);
	pyro_free(m->keys);
	pyro_free(m->vals);
	memset(m, 0, sizeof(*m));
}

/*
 * Build the map of ids[i] = *(uint64_t *) (base + i * stride), i < n:
 * a direct array when max id <= 4 n, a hash otherwise.  Id 0 and repeated
 * ids are not errors here (the map may be built before the checks that
 * come first in the reference's order): they are recorded, and
 * idmap_check() reports them later.  Fails only for lack of memory.
 */
static PyroStatus
idmap_build(Wire *w, WIdMap *m, const void *base, size_t stride, size_t n)
{
	uint64_t	max = 0;

	idmap_free(m);
#define ID_AT(i) (*(const uint64_t *) ((const char *) base + (i) * stride))
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	id = ID_AT(i);

		if (id == 0)
			m->has_zero = true;
		if (id > max)
			max = id;
	}
	if (n > UINT32_MAX / 2)
	{
		m->too_many = true;
		return PYRO_OK;
	}
	if (max <= (uint64_t) n * 4)
	{
		m->max = max;
		m->direct = pyro_malloc(((size_t) max + 1) * sizeof(uint32_t));
		if (m->direct == NULL)
			return w_oom(w);
		memset(m->direct, 0xFF, ((size_t) max + 1) * sizeof(uint32_t));
		for (size_t i = 0; i < n; i++)
		{
			uint64_t	id = ID_AT(i);

			if (id == 0)
				continue;
			if (m->direct[id] != NONE)
			{
				if (!m->has_dup)
					m->dup = id;
				m->has_dup = true;
				continue;
			}
			m->direct[id] = (uint32_t) i;
		}
	}
	else
	{
		size_t		cap = 16;

		while (cap < n * 2)
			cap *= 2;
		m->mask = cap - 1;
		m->keys = pyro_calloc(cap, sizeof(uint64_t));
		m->vals = pyro_calloc(cap, sizeof(uint32_t));
		if (m->keys == NULL || m->vals == NULL)
			return w_oom(w);
		for (size_t i = 0; i < n; i++)
		{
			uint64_t	id = ID_AT(i);
			size_t		s;
			bool		dup = false;

			if (id == 0)
				continue;
			for (s = (size_t) ((id * 0x9E3779B97F4A7C15ULL) >> 17) & m->mask;
				 m->keys[s] != 0; s = (s + 1) & m->mask)
			{
				if (m->keys[s] == id)
				{
					dup = true;
					break;
				}
			}
			if (dup)
			{
				if (!m->has_dup)
					m->dup = id;
				m->has_dup = true;
				continue;
			}
			m->keys[s] = id;
			m->vals[s] = (uint32_t) i;
		}
	}
#undef ID_AT
	return PYRO_OK;
}

/* The error the reference gives for the problems idmap_build recorded. */
static PyroStatus
idmap_check(Wire *w, const WIdMap *m, const char *what)
{
	if (m->has_zero)
		return pyro_error_set(w->err, PYRO_EINVAL, "%s id 0 is not valid", what);
	if (m->too_many)
		return pyro_error_set(w->err, PYRO_ELIMIT, "too many %ss", what);
	if (m->has_dup)
		return pyro_error_set(w->err, PYRO_EINVAL, "duplicate %s id %llu",
							  what, (unsigned long long) m->dup);
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Pass 1: top-level fields
 * ----------------------------------------------------------------
 */

/* ValueType {type = 1, unit = 2}; false if malformed. */
static bool
parse_value_type(const uint8_t *p, size_t len, WValueType *vt)
{
	const uint8_t *end = p + len;
	PyroPbField f;

	while (p < end)
	{
		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return false;
		if (f.field == 1 || f.field == 2)
		{
			if (f.wt != 0)
				return false;
			if (f.field == 1)
				vt->type = (int64_t) f.v;
			else
				vt->unit = (int64_t) f.v;
		}
	}
	return true;
}

/*
 * Append the values of a repeated varint field occurrence (packed or not)
 * to *arr.  Returns 1 on success, 0 if malformed, -1 on OOM.
 */
static int
push_varints(const PyroPbField *f, uint64_t **arr, size_t *n, size_t *cap)
{
	if (f->wt == 0)
	{
		uint64_t   *slot = W_PUSH(*arr, *n, *cap);

		if (slot == NULL)
			return -1;
		*slot = f->v;
		return 1;
	}
	if (f->wt == 2)
	{
		const uint8_t *p = f->data;
		const uint8_t *end = p + f->len;

		/* at most one element per byte */
		if (*n + f->len > *cap &&
			!pyro_grow((void **) arr, cap, *n + f->len, sizeof(uint64_t)))
			return -1;
		while (p < end)
		{
			if ((p = pyro_pb_varint(p, end, &(*arr)[*n])) == NULL)
				return 0;
			(*n)++;
		}
		return 1;
	}
	return 0;
}

/* Remember the first unknown location id of the first sample having one. */
static inline void
bad_location(Wire *w, size_t sample, uint64_t id)
{
	if (w->bad_loc_sample == NO_SAMPLE)
	{
		w->bad_loc_sample = sample;
		w->bad_loc_id = id;
	}
}

/*
 * One packed location id (a varint), with the common one- and two-byte
 * forms inlined; NULL if malformed.
 */
static inline const uint8_t *
location_id(const uint8_t *p, const uint8_t *end, uint64_t *id)
{
	if (p[0] < 0x80)
	{
		*id = p[0];
		return p + 1;
	}
	if (end - p >= 2 && p[1] < 0x80)
	{
		*id = (uint64_t) (p[0] & 0x7F) | ((uint64_t) p[1] << 7);
		return p + 2;
	}
	return pyro_pb_varint(p, end, id);
}

/*
 * What push_location_ids does when a summary needs no frames (every string
 * is valid UTF-8, so no frame can fail): check that each id is a known
 * location and count it in w->nlocpos, keeping nothing.  1 ok, 0 malformed.
 */
static int
check_location_ids(Wire *w, const PyroPbField *f, size_t sample)
{
	const WIdMap *m = &w->location_ids;

	if (f->wt == 0)
	{
		if (idmap_get(m, f->v) == NONE)
			bad_location(w, sample, f->v);
		w->nlocpos++;
		return 1;
	}
	if (f->wt == 2)
	{
		const uint8_t *p = f->data;
		const uint8_t *end = p + f->len;
		size_t		n = 0;

		while (p < end)
		{
			uint64_t	id;

			if ((p = location_id(p, end, &id)) == NULL)
				return 0;
			if (idmap_get(m, id) == NONE)
				bad_location(w, sample, id);
			n++;
		}
		w->nlocpos += n;
		return 1;
	}
	return 0;
}

/*
 * Append the location ids of one Sample.location_id occurrence (packed or
 * not) to w->locpos as location positions.  1 ok, 0 malformed, -1 OOM.
 */
static int
push_location_ids(Wire *w, const PyroPbField *f, size_t sample)
{
	const WIdMap *m = &w->location_ids;

	if (w->count_locpos)
		return check_location_ids(w, f, sample);
	if (f->wt == 0)
	{
		uint32_t   *slot = W_PUSH(w->locpos, w->nlocpos, w->locpos_cap);

		if (slot == NULL)
			return -1;
		if ((*slot = idmap_get(m, f->v)) == NONE)
			bad_location(w, sample, f->v);
		return 1;
	}
	if (f->wt == 2)
	{
		const uint8_t *p = f->data;
		const uint8_t *end = p + f->len;
		uint32_t   *out;

		if (!pyro_grow((void **) &w->locpos, &w->locpos_cap, w->nlocpos + f->len,
					   sizeof(uint32_t)))
			return -1;
		out = w->locpos + w->nlocpos;
		if (m->direct)
		{
			/* the common case: ids mapped through a direct table */
			while (p < end)
			{
				uint64_t	id;

				if ((p = location_id(p, end, &id)) == NULL)
					return 0;
				if ((*out = id <= m->max ? m->direct[id] : NONE) == NONE)
					bad_location(w, sample, id);
				out++;
			}
		}
		else
		{
			while (p < end)
			{
				uint64_t	id;

				if ((p = pyro_pb_varint(p, end, &id)) == NULL)
					return 0;
				if ((*out = idmap_get(m, id)) == NONE)
					bad_location(w, sample, id);
				out++;
			}
		}
		w->nlocpos = (size_t) (out - w->locpos);
		return 1;
	}
	return 0;
}

static PyroStatus
scan_top(Wire *w, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	PyroPbField f;

	while (p < end)
	{
		WRange	   *r = NULL;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return w_malformed(w);
		switch (f.field)
		{
			case 1:
				{
					WValueType *vt;

					if (f.wt != 2)
						return w_malformed(w);
					if ((vt = W_PUSH(w->types, w->ntypes, w->types_cap)) == NULL)
						return w_oom(w);
					vt->type = vt->unit = 0;
					if (!parse_value_type(f.data, f.len, vt))
						return w_malformed(w);
					break;
				}
			case 2:
				if (f.wt != 2)
					return w_malformed(w);
				r = W_PUSH(w->sample_r, w->nsample, w->sample_r_cap);
				break;
			case 3:
				if (f.wt != 2)
					return w_malformed(w);
				r = W_PUSH(w->mapping_r, w->nmapping, w->mapping_r_cap);
				break;
			case 4:
				if (f.wt != 2)
					return w_malformed(w);
				r = W_PUSH(w->location_r, w->nlocation, w->location_r_cap);
				break;
			case 5:
				if (f.wt != 2)
					return w_malformed(w);
				r = W_PUSH(w->function_r, w->nfunction, w->function_r_cap);
				break;
			case 6:
				{
					WStr	   *s;
					const char *nul;

					if (f.wt != 2)
						return w_malformed(w);
					if ((s = W_PUSH(w->strings, w->nstrings, w->strings_cap)) == NULL)
						return w_oom(w);
					s->p = (const char *) f.data;
					nul = f.len ? memchr(f.data, 0, f.len) : NULL;
					s->len = (uint32_t) (nul ? (size_t) (nul - s->p) :
										 (f.len > UINT32_MAX ? UINT32_MAX : f.len));
					break;
				}
			case 7:
			case 8:
			case 9:
			case 10:
			case 12:
			case 14:
				if (f.wt != 0)
					return w_malformed(w);
				if (f.field == 7)
					w->drop_frames = (int64_t) f.v;
				else if (f.field == 8)
					w->keep_frames = (int64_t) f.v;
				else if (f.field == 9)
					w->time_nanos = (int64_t) f.v;
				else if (f.field == 10)
					w->duration_nanos = (int64_t) f.v;
				else if (f.field == 12)
					w->period = (int64_t) f.v;
				else
					w->default_sample_type = (int64_t) f.v;
				break;
			case 11:
				{
					/*
					 * A repeated singular message: protobuf-c keeps the last
					 * occurrence whole (the protobuf spec would merge field
					 * by field); we follow the reference.
					 */
					WValueType	vt = {0, 0};

					if (f.wt != 2 || !parse_value_type(f.data, f.len, &vt))
						return w_malformed(w);
					w->period_type = vt;
					w->has_period_type = true;
					break;
				}
			case 13:
				{
					int			rc = push_varints(&f, (uint64_t **) &w->comments,
												  &w->ncomments, &w->comments_cap);

					if (rc < 0)
						return w_oom(w);
					if (rc == 0)
						return w_malformed(w);
					break;
				}
			default:
				break;			/* unknown: skipped */
		}
		if (f.field >= 2 && f.field <= 5)
		{
			if (r == NULL)
				return w_oom(w);
			r->p = f.data;
			r->len = f.len;
		}
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Pass 2: nested messages into flat arrays
 * ----------------------------------------------------------------
 */
static bool
parse_mapping(const uint8_t *p, size_t len, WMapping *m)
{
	const uint8_t *end = p + len;
	const uint8_t *next;
	PyroPbField f;

	memset(m, 0, sizeof(*m));
	while (p < end)
	{
		if ((next = pyro_pb_next(p, end, &f)) == NULL)
			return false;
		if (f.field >= 1 && f.field <= 6)
		{
			if (f.wt != 0)
				return false;
			switch (f.field)
			{
				case 1:
					m->id = f.v;
					break;
				case 2:
					m->memory_start = f.v;
					break;
				case 3:
					m->memory_limit = f.v;
					break;
				case 4:
					m->file_offset = f.v;
					break;
				case 5:
					m->filename = (int64_t) f.v;
					break;
				default:
					m->build_id = (int64_t) f.v;
					break;
			}
		}
		else if (f.field >= 7 && f.field <= 10)
		{
			uint32_t	bit = f.field == 7 ? PYRO_MAPPING_HAS_FUNCTIONS :
			f.field == 8 ? PYRO_MAPPING_HAS_FILENAMES :
			f.field == 9 ? PYRO_MAPPING_HAS_LINE_NUMBERS :
			PYRO_MAPPING_HAS_INLINE_FRAMES;

			if (pyro_pb_bool(&f, next))
				m->flags |= bit;
			else
				m->flags &= ~bit;
		}
		p = next;
	}
	return true;
}

static bool
parse_function(const uint8_t *p, size_t len, WFunction *fn)
{
	const uint8_t *end = p + len;
	PyroPbField f;

	memset(fn, 0, sizeof(*fn));
	while (p < end)
	{
		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return false;
		if (f.field >= 1 && f.field <= 5)
		{
			if (f.wt != 0)
				return false;
			switch (f.field)
			{
				case 1:
					fn->id = f.v;
					break;
				case 2:
					fn->name = (int64_t) f.v;
					break;
				case 3:
					fn->system_name = (int64_t) f.v;
					break;
				case 4:
					fn->filename = (int64_t) f.v;
					break;
				default:
					fn->start_line = (int64_t) f.v;
					break;
			}
		}
	}
	return true;
}

/* Location, appending its lines to w->lines.  1 ok, 0 malformed, -1 OOM. */
static int
parse_location(Wire *w, const uint8_t *p, size_t len, WLocation *loc)
{
	const uint8_t *end = p + len;
	PyroPbField f = {0};		/* gcc -O3 cannot see that wt 2 sets data */

	memset(loc, 0, sizeof(*loc));
	loc->first_line = w->nlines;
	while (p < end)
	{
		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return 0;
		if (f.field >= 1 && f.field <= 3)
		{
			if (f.wt != 0)
				return 0;
			if (f.field == 1)
				loc->id = f.v;
			else if (f.field == 2)
				loc->mapping_id = f.v;
			else
				loc->address = f.v;
		}
		else if (f.field == 4)
		{
			const uint8_t *q;
			const uint8_t *qend;
			WLine	   *ln;
			PyroPbField g;

			if (f.wt != 2)
				return 0;
			q = f.data;
			qend = q + f.len;
			if ((ln = W_PUSH(w->lines, w->nlines, w->lines_cap)) == NULL)
				return -1;
			ln->function_id = 0;
			ln->line = 0;
			while (q < qend)
			{
				if ((q = pyro_pb_next(q, qend, &g)) == NULL)
					return 0;
				if (g.field >= 1 && g.field <= 3)
				{
					if (g.wt != 0)
						return 0;
					if (g.field == 1)
						ln->function_id = g.v;
					else if (g.field == 2)
						ln->line = (int64_t) g.v;
				}
			}
		}
		/* is_folded (5) is a bool: any wire type, ignored */
	}
	loc->nlines = w->nlines - loc->first_line;
	return 1;
}

/*
 * Sample, appending to the flat arrays.  1 ok, 0 malformed, -1 OOM, -2
 * over 4G entries.
 */
static int
parse_sample(Wire *w, const uint8_t *p, size_t len, WSample *s, size_t index)
{
	const uint8_t *end = p + len;
	PyroPbField f;

	s->loc_off = (uint32_t) w->nlocpos;
	s->val_off = (uint32_t) w->nvalues;
	s->lab_off = (uint32_t) w->nlabels;
	while (p < end)
	{
		int			rc;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return 0;
		switch (f.field)
		{
			case 1:
				rc = push_location_ids(w, &f, index);
				if (rc <= 0)
					return rc;
				break;
			case 2:
				rc = push_varints(&f, (uint64_t **) &w->values, &w->nvalues,
								  &w->values_cap);
				if (rc <= 0)
					return rc;
				break;
			case 3:
				{
					const uint8_t *q;
					const uint8_t *qend;
					WLabel	   *l;
					PyroPbField g;

					if (f.wt != 2)
						return 0;
					q = f.data;
					qend = q + f.len;
					if ((l = W_PUSH(w->labels, w->nlabels, w->labels_cap)) == NULL)
						return -1;
					l->key = l->str = l->num_unit = 0;
					while (q < qend)
					{
						if ((q = pyro_pb_next(q, qend, &g)) == NULL)
							return 0;
						if (g.field >= 1 && g.field <= 4)
						{
							if (g.wt != 0)
								return 0;
							if (g.field == 1)
								l->key = (int64_t) g.v;
							else if (g.field == 2)
								l->str = (int64_t) g.v;
							else if (g.field == 4)
								l->num_unit = (int64_t) g.v;
						}
					}
					break;
				}
			default:
				break;
		}
	}
	/* offsets are 32-bit: a profile over 4G ids is refused (-2) */
	if (w->nlocpos > UINT32_MAX || w->nvalues > UINT32_MAX || w->nlabels > UINT32_MAX)
		return -2;
	s->nloc = (uint32_t) (w->nlocpos - s->loc_off);
	s->nval = (uint32_t) (w->nvalues - s->val_off);
	s->nlab = (uint32_t) (w->nlabels - s->lab_off);
	return 1;
}

static PyroStatus
parse_nested(Wire *w)
{
	if (w->nmapping)
	{
		w->mappings = pyro_malloc(w->nmapping * sizeof(WMapping));
		if (w->mappings == NULL)
			return w_oom(w);
	}
	for (size_t i = 0; i < w->nmapping; i++)
		if (!parse_mapping(w->mapping_r[i].p, w->mapping_r[i].len, &w->mappings[i]))
			return w_malformed(w);
	if (w->nfunction)
	{
		w->functions = pyro_malloc(w->nfunction * sizeof(WFunction));
		if (w->functions == NULL)
			return w_oom(w);
	}
	for (size_t i = 0; i < w->nfunction; i++)
		if (!parse_function(w->function_r[i].p, w->function_r[i].len, &w->functions[i]))
			return w_malformed(w);
	if (w->nlocation)
	{
		w->locations = pyro_malloc(w->nlocation * sizeof(WLocation));
		if (w->locations == NULL)
			return w_oom(w);
	}
	for (size_t i = 0; i < w->nlocation; i++)
	{
		int			rc = parse_location(w, w->location_r[i].p, w->location_r[i].len,
										&w->locations[i]);

		if (rc < 0)
			return w_oom(w);
		if (rc == 0)
			return w_malformed(w);
	}
	/* sample location ids are mapped to positions while parsed */
	if (idmap_build(w, &w->location_ids, w->locations, sizeof(WLocation),
					w->nlocation) != PYRO_OK)
		return w->err->code;
	if (w->nsample)
	{
		size_t		bytes = 0;

		w->samples = pyro_malloc(w->nsample * sizeof(WSample));
		if (w->samples == NULL)
			return w_oom(w);
		/* a guess that avoids most regrowth: about one id per byte / 2 */
		for (size_t i = 0; i < w->nsample; i++)
			bytes += w->sample_r[i].len;
		if (!w->count_locpos &&
			!pyro_grow((void **) &w->locpos, &w->locpos_cap, bytes / 2 + 16,
					   sizeof(uint32_t)))
			return w_oom(w);
	}
	for (size_t i = 0; i < w->nsample; i++)
	{
		int			rc = parse_sample(w, w->sample_r[i].p, w->sample_r[i].len,
									  &w->samples[i], i);

		if (rc == -2)
			return pyro_error_set(w->err, PYRO_ELIMIT, "profile has too many entries");
		if (rc < 0)
			return w_oom(w);
		if (rc == 0)
			return w_malformed(w);
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Pass 3: validation, in the reference's order
 * ----------------------------------------------------------------
 */
static inline bool
str_ok(const Wire *w, int64_t idx)
{
	return pyro_pprof_str_ok(w->nstrings, idx);
}

static PyroStatus
bad_str(Wire *w, const char *what, uint64_t id, int64_t idx)
{
	return pyro_pprof_bad_str(w->err, w->nstrings, what, id, idx);
}

static PyroStatus
validate(Wire *w)
{
	PyroPprofHeader h;
	PyroStatus	st;

	memset(&h, 0, sizeof(h));
	h.nstrings = w->nstrings;
	h.first_string_len = w->nstrings ? w->strings[0].len : 0;
	h.nmapping = w->nmapping;
	h.nfunction = w->nfunction;
	h.nlocation = w->nlocation;
	h.types = w->types;
	h.ntypes = w->ntypes;
	h.period_type = w->has_period_type ? &w->period_type : NULL;
	h.default_sample_type = w->default_sample_type;
	h.drop_frames = w->drop_frames;
	h.keep_frames = w->keep_frames;
	h.comments = w->comments;
	h.ncomments = w->ncomments;
	st = pyro_pprof_validate_header(&h, w->err);
	if (st != PYRO_OK)
		return st;

	/* mappings */
	st = idmap_build(w, &w->mapping_ids, w->mappings, sizeof(WMapping), w->nmapping);
	if (st == PYRO_OK)
		st = idmap_check(w, &w->mapping_ids, "mapping");
	if (st != PYRO_OK)
		return st;
	for (size_t i = 0; i < w->nmapping; i++)
	{
		const WMapping *m = &w->mappings[i];

		if (!str_ok(w, m->filename))
			return bad_str(w, "mapping", m->id, m->filename);
		if (!str_ok(w, m->build_id))
			return bad_str(w, "mapping", m->id, m->build_id);
	}

	/* functions; all ids 0 is the broken .NET profile: ids become i + 1 */
	{
		bool		all_zero = w->nfunction > 0;

		for (size_t i = 0; i < w->nfunction && all_zero; i++)
			if (w->functions[i].id != 0)
				all_zero = false;
		if (all_zero)
			for (size_t i = 0; i < w->nfunction; i++)
				w->functions[i].id = i + 1;
		w->fn_repaired = all_zero;
		st = idmap_build(w, &w->function_ids, w->functions, sizeof(WFunction),
						 w->nfunction);
		if (st == PYRO_OK)
			st = idmap_check(w, &w->function_ids, "function");
		if (st != PYRO_OK)
			return st;
	}
	for (size_t i = 0; i < w->nfunction; i++)
	{
		const WFunction *f = &w->functions[i];
		uint64_t	id = w->fn_repaired ? 0 : f->id;	/* as sent */

		if (!str_ok(w, f->name))
			return bad_str(w, "function", id, f->name);
		if (!str_ok(w, f->system_name))
			return bad_str(w, "function", id, f->system_name);
		if (!str_ok(w, f->filename))
			return bad_str(w, "function", id, f->filename);
	}

	/* locations; line function ids become positions */
	st = idmap_check(w, &w->location_ids, "location");	/* built by parse_nested */
	if (st != PYRO_OK)
		return st;
	for (size_t i = 0; i < w->nlocation; i++)
	{
		const WLocation *l = &w->locations[i];

		if (l->mapping_id != 0 && idmap_get(&w->mapping_ids, l->mapping_id) == NONE)
			return pyro_error_set(w->err, PYRO_EINVAL,
								  "location %llu refers to unknown mapping %llu",
								  (unsigned long long) l->id,
								  (unsigned long long) l->mapping_id);
		for (size_t j = 0; j < l->nlines; j++)
		{
			WLine	   *ln = &w->lines[l->first_line + j];
			uint32_t	pos = idmap_get(&w->function_ids, ln->function_id);

			if (pos == NONE)
				return pyro_error_set(w->err, PYRO_EINVAL,
									  "location %llu refers to unknown function %llu",
									  (unsigned long long) l->id,
									  (unsigned long long) ln->function_id);
			ln->function_id = pos;
		}
	}

	/* samples: shape, location references (mapped by parse_sample), labels */
	for (size_t i = 0; i < w->nsample; i++)
	{
		const WSample *s = &w->samples[i];

		if (s->nval != w->ntypes)
			return pyro_error_set(w->err, PYRO_EINVAL,
								  "sample %zu has %zu values, but the profile has %zu sample types",
								  i, (size_t) s->nval, w->ntypes);
		if (i == w->bad_loc_sample)
			return pyro_error_set(w->err, PYRO_EINVAL,
								  "sample %zu refers to unknown location %llu",
								  i, (unsigned long long) w->bad_loc_id);
		if (w->lim->max_sample_labels && s->nlab > w->lim->max_sample_labels)
			return pyro_error_set(w->err, PYRO_ELIMIT,
								  "sample %zu has %zu labels, more than the limit of %zu",
								  i, (size_t) s->nlab, w->lim->max_sample_labels);
		for (size_t j = 0; j < s->nlab; j++)
		{
			const WLabel *l = &w->labels[s->lab_off + j];

			st = pyro_pprof_check_label(w->err, w->nstrings, i, l->key, l->str,
										l->num_unit);
			if (st != PYRO_OK)
				return st;
		}
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * Interning (lazy, in the reference's order)
 * ----------------------------------------------------------------
 */

static uint32_t
intern_mapping(Wire *w, uint32_t pos)
{
	const WMapping *wm = &w->mappings[pos];

	return pyro_pprof_intern_mapping(&w->nm, pos, wm->memory_start, wm->memory_limit,
									 wm->file_offset, wm->filename, wm->build_id,
									 wm->flags);
}

static uint32_t
intern_function(Wire *w, uint32_t pos)
{
	const WFunction *wf = &w->functions[pos];

	return pyro_pprof_intern_function(&w->nm, pos, wf->name, wf->system_name,
									  wf->filename, wf->start_line);
}

/*
 * Intern location pos: its mapping and functions here, the address rule
 * in pyro_pprof_intern_location.
 */
static uint32_t
intern_location(Wire *w, uint32_t pos)
{
	const WLocation *wl = &w->locations[pos];
	uint32_t	mapping = 0;
	PyroLine   *lines;

	if (w->nm.loc_map[pos] != NONE)
		return w->nm.loc_map[pos];
	if (wl->mapping_id != 0)
	{
		mapping = intern_mapping(w, idmap_get(&w->mapping_ids, wl->mapping_id));
		if (mapping == NONE)
			return NONE;
	}
	if (!pyro_pprof_lines_reserve(&w->nm, wl->nlines))
		return NONE;
	lines = w->nm.lines;
	for (size_t i = 0; i < wl->nlines; i++)
	{
		const WLine *ln = &w->lines[wl->first_line + i];
		uint32_t	fn = intern_function(w, (uint32_t) ln->function_id);

		if (fn == NONE)
			return NONE;
		lines[i].function = fn;
		lines[i].line = ln->line;
	}
	return pyro_pprof_intern_location(&w->nm, pos, mapping, wl->address, wl->nlines);
}

/* ----------------------------------------------------------------
 * Stack nodes: a local open-addressing table over sym->stacks.  The
 * symbols are fresh and only this decoder adds stack nodes, so appending
 * directly keeps them unique; sym's own stack index catches up lazily if
 * anyone interns later.
 * ----------------------------------------------------------------
 */
static inline size_t
stack_slot_of(uint64_t key, size_t mask)
{
	uint64_t	h = (key ^ (key >> 29)) * 0x9E3779B97F4A7C15ULL;

	/* the top bits of the product depend on every bit of the key */
	return (size_t) (h >> 40 ^ h >> 20) & mask;
}

/*
 * Size the stack hash up front from the input, to avoid most regrowth:
 * about 4 hashed nodes per location, at most one per frame, at load 1/2.
 */
static bool
stack_hint(Wire *w)
{
	size_t		expect = w->nlocation * 4;
	size_t		cap = 1024;

	if (expect > w->nlocpos)
		expect = w->nlocpos;
	while (cap < expect * 2 && cap < ((size_t) 1 << 26))
		cap *= 2;
	w->stack_hint = cap;
	return true;
}

/* The bitmap bit of a key: other hash bits than the slot's. */
static inline size_t
stack_bit_of(uint64_t key, size_t bitmask)
{
	uint64_t	h = (key ^ (key >> 31)) * 0xD6E8FEB86659FD93ULL;

	return (size_t) (h >> 32) & bitmask;
}

static inline void
stack_bit_set(uint64_t *bits, uint64_t key, size_t bitmask)
{
	size_t		b = stack_bit_of(key, bitmask);

	bits[b >> 6] |= (uint64_t) 1 << (b & 63);
}

/* Insert the pending nodes into the hash (batched independent stores). */
static inline void
stack_flush(Wire *w)
{
	for (size_t i = 0; i < w->npending; i++)
	{
		size_t		s = stack_slot_of(w->pending[i].key, w->stack_mask);

		while (w->stack_slots[s].key != UINT64_MAX)
			s = (s + 1) & w->stack_mask;
		w->stack_slots[s] = w->pending[i];
	}
	w->npending = 0;
}

/* Grow the hash (or create it) and re-insert the hashed nodes. */
static bool
stack_table_grow(Wire *w)
{
	size_t		cap = w->stack_slots ? (w->stack_mask + 1) * 4 : w->stack_hint;
	StackSlot  *slots;
	uint64_t   *bits;
	PyroSymbols *sym = w->sym;
	size_t		bytes;

	if (!pyro_size_mul(cap, sizeof(StackSlot), &bytes))
		return false;
	slots = pyro_malloc(bytes);
	bits = pyro_calloc(cap / 8, sizeof(uint64_t));	/* 8 bits per slot */
	if (slots == NULL || bits == NULL)
	{
		pyro_free(slots);
		pyro_free(bits);
		return false;
	}
	memset(slots, 0xFF, bytes);
	for (uint32_t i = 1; i < sym->nstacks; i++)
	{
		uint64_t	key;
		size_t		s;

		if (w->first_child[sym->stacks[i].parent] == i)
			continue;			/* found through first_child */
		key = ((uint64_t) sym->stacks[i].parent << 32) | sym->stacks[i].location;
		s = stack_slot_of(key, cap - 1);
		while (slots[s].key != UINT64_MAX)
			s = (s + 1) & (cap - 1);
		slots[s].key = key;
		slots[s].node = i;
		stack_bit_set(bits, key, cap * 8 - 1);
	}
	pyro_free(w->stack_slots);
	pyro_free(w->stack_bits);
	w->stack_slots = slots;
	w->stack_bits = bits;
	w->stack_mask = cap - 1;
	w->npending = 0;			/* every node is in the new table */
	return true;
}

/* Append stack node (parent, loc) to the symbols; NONE on OOM. */
static inline uint32_t
stack_append(Wire *w, uint32_t parent, uint32_t loc)
{
	PyroSymbols *sym = w->sym;
	uint32_t	node = sym->nstacks;

	if (node >= PYRO_NO_INDEX - 1)
		return NONE;
	if (node >= sym->stacks_cap &&
		!pyro_grow((void **) &sym->stacks, &sym->stacks_cap, (size_t) node + 1,
				   sizeof(PyroStackNode)))
		return NONE;
	if (node >= w->first_child_cap)
	{
		size_t		old = w->first_child_cap;

		if (!pyro_grow((void **) &w->first_child, &w->first_child_cap,
					   (size_t) node + 1, sizeof(uint32_t)))
			return NONE;
		memset(w->first_child + old, 0, (w->first_child_cap - old) * sizeof(uint32_t));
	}
	sym->stacks[node].parent = parent;
	sym->stacks[node].location = loc;
	sym->nstacks++;
	return node;
}

/*
 * The node (parent, loc), added when new; NONE on OOM.  The first child
 * of a node is found through first_child[] without hashing: a node just
 * created (the rest of a new stack) has no child yet, and many nodes have
 * a single child, so most frames never touch the hash.  The other
 * children are in the open-addressing hash, whose slots hold the packed
 * key next to the node index (one cache line per probe).
 */
static inline uint32_t
stack_intern(Wire *w, uint32_t parent, uint32_t loc)
{
	uint32_t	first = w->first_child[parent];
	uint64_t	key;
	size_t		s;
	uint32_t	node;

	if (first == 0)
	{
		node = stack_append(w, parent, loc);
		if (node != NONE)
			w->first_child[parent] = node;
		return node;
	}
	if (w->sym->stacks[first].location == loc)
		return first;
	key = ((uint64_t) parent << 32) | loc;
	{
		size_t		b = stack_bit_of(key, (w->stack_mask + 1) * 8 - 1);

		if ((w->stack_bits[b >> 6] & ((uint64_t) 1 << (b & 63))) == 0)
		{
			/* certainly new: append now, hash later */
			node = stack_append(w, parent, loc);
			if (node == NONE)
				return NONE;
			w->stack_bits[b >> 6] |= (uint64_t) 1 << (b & 63);
			w->pending[w->npending].key = key;
			w->pending[w->npending].node = node;
			if (++w->npending == MAX_PENDING)
				stack_flush(w);
			if (++w->stack_count * 2 > w->stack_mask + 1 && !stack_table_grow(w))
				return NONE;
			return node;
		}
	}
	stack_flush(w);
	for (s = stack_slot_of(key, w->stack_mask);; s = (s + 1) & w->stack_mask)
	{
		if (w->stack_slots[s].key == key)
			return w->stack_slots[s].node;
		if (w->stack_slots[s].key == UINT64_MAX)
			break;
	}
	node = stack_append(w, parent, loc);
	if (node == NONE)
		return NONE;
	w->stack_slots[s].key = key;
	w->stack_slots[s].node = node;
	stack_bit_set(w->stack_bits, key, (w->stack_mask + 1) * 8 - 1);
	/* keep the load under one half */
	if (++w->stack_count * 2 > w->stack_mask + 1 && !stack_table_grow(w))
		return NONE;
	return node;
}

/*
 * The stack node of sample s: its kept frames (the max_stack_depth
 * root-most) from the root.  Frames shared with the previous sample's
 * root side reuse its nodes; then a per-location one-entry cache; then
 * the table.
 */
static uint32_t
sample_stack(Wire *w, const WSample *s)
{
	const uint32_t *pos = s->nloc ? w->locpos + s->loc_off : NULL;
	size_t		n = s->nloc;
	size_t		keep = n;
	size_t		k = 0;
	uint32_t	node = 0;

	if (w->lim->max_stack_depth && n > w->lim->max_stack_depth)
		keep = w->lim->max_stack_depth;
	if (keep > w->prev_cap)
	{
		size_t		cap2 = w->prev_cap;

		if (!pyro_grow((void **) &w->prev_pos, &w->prev_cap, keep, sizeof(uint32_t)) ||
			!pyro_grow((void **) &w->prev_node, &cap2, keep, sizeof(uint32_t)))
		{
			w_oom(w);
			return NONE;
		}
	}
	/* depth k (from the root) is pos[n - 1 - k] */
	while (k < keep && k < w->prev_n && w->prev_pos[k] == pos[n - 1 - k])
	{
		node = w->prev_node[k];
		k++;
	}
	for (; k < keep; k++)
	{
		uint32_t	p = pos[n - 1 - k];

		if (w->stack_parent[p] == node)
			node = w->stack_node[p];
		else
		{
			uint32_t	loc = intern_location(w, p);
			uint32_t	child;

			if (loc == NONE)
				return NONE;
			child = stack_intern(w, node, loc);
			if (child == NONE)
			{
				w_oom(w);
				return NONE;
			}
			w->stack_parent[p] = node;
			w->stack_node[p] = child;
			node = child;
		}
		w->prev_pos[k] = p;
		w->prev_node[k] = node;
	}
	w->prev_n = keep;
	return node;
}

/* ----------------------------------------------------------------
 * Sample labels and groups
 * ----------------------------------------------------------------
 */

/*
 * The split key of sample s into w->nm.pairs (rules in pprof_common.c).
 * Returns the number of pairs or -1 with the error set.
 */
static ssize_t
sample_key(Wire *w, const WSample *s, uint64_t *span_id, uint64_t *trace)
{
	size_t		n = 0;

	*span_id = 0;
	trace[0] = trace[1] = 0;
	if (s->nlab == 0)
		return 0;
	if (!pyro_pprof_key_reserve(&w->nm, s->nlab))
		return -1;
	for (size_t j = 0; j < s->nlab; j++)
	{
		const WLabel *l = &w->labels[s->lab_off + j];

		if (!pyro_pprof_key_add(&w->nm, l->key, l->str, &n, span_id, trace))
			return -1;
	}
	return (ssize_t) pyro_pprof_key_finish(&w->nm, n);
}

/* ----------------------------------------------------------------
 * Summary mode: instead of interning a sample's frames, check what
 * interning them would check (the UTF-8 of each string reached, in the
 * same order), so that a summary fails exactly when the full decode does
 * ----------------------------------------------------------------
 */
static inline bool
summary_str(Wire *w, int64_t idx)
{
	if (w->str_checked[idx] || w->nm.str_map[idx] != NONE)
		return true;
	if (!pyro_pprof_str_valid(&w->nm, idx))
		return false;
	w->str_checked[idx] = 1;
	return true;
}

/* As intern_location: the mapping's strings, then each line's function's. */
static bool
summary_location(Wire *w, uint32_t pos)
{
	const WLocation *wl = &w->locations[pos];

	if (wl->mapping_id != 0)
	{
		uint32_t	m = idmap_get(&w->mapping_ids, wl->mapping_id);

		if (!w->map_checked[m])
		{
			if (!summary_str(w, w->mappings[m].filename) ||
				!summary_str(w, w->mappings[m].build_id))
				return false;
			w->map_checked[m] = 1;
		}
	}
	for (size_t i = 0; i < wl->nlines; i++)
	{
		uint32_t	f = (uint32_t) w->lines[wl->first_line + i].function_id;

		if (!w->fn_checked[f])
		{
			if (!summary_str(w, w->functions[f].name) ||
				!summary_str(w, w->functions[f].system_name) ||
				!summary_str(w, w->functions[f].filename))
				return false;
			w->fn_checked[f] = 1;
		}
	}
	w->loc_checked[pos] = 1;
	return true;
}

/* The kept frames of sample s, root first, as sample_stack visits them. */
static inline bool
summary_frames(Wire *w, const WSample *s)
{
	const uint32_t *pos = w->locpos + s->loc_off;
	size_t		n = s->nloc;
	size_t		keep = n;

	if (w->lim->max_stack_depth && n > w->lim->max_stack_depth)
		keep = w->lim->max_stack_depth;
	for (size_t k = 0; k < keep; k++)
	{
		uint32_t	p = pos[n - 1 - k];

		if (!w->loc_checked[p] && !summary_location(w, p))
			return false;
	}
	return true;
}

/* ----------------------------------------------------------------
 * Pass 4: samples
 * ----------------------------------------------------------------
 */
static PyroStatus
process_samples(Wire *w)
{
	uint32_t	last_group = NONE;
	const WSample *last_s = NULL;

	for (size_t i = 0; i < w->nsample; i++)
	{
		const WSample *s = &w->samples[i];
		const int64_t *val = w->values + s->val_off;
		uint64_t	span_id = 0;
		uint64_t	trace[2] = {0, 0};
		uint32_t	g,
					stack;
		PyroStatus	st;

		if (!pyro_pprof_sample_kept(val, w->ntypes))
			continue;

		/*
		 * Samples without labels after a sample without labels share its
		 * group; otherwise compute the key.
		 */
		if (s->nlab == 0 && last_s != NULL && last_s->nlab == 0)
			g = last_group;
		else
		{
			ssize_t		nkey = sample_key(w, s, &span_id, trace);

			if (nkey < 0)
				return w->err->code;
			g = pyro_pprof_find_group(&w->nm, (size_t) nkey);
			if (g == NONE)
				return w_oom(w);
		}
		last_group = g;
		last_s = s;

		if (w->summary)
		{
			if (!w->all_utf8 && !summary_frames(w, s))
				return w->err->code;
			pyro_pprof_count_sample(&w->nm, g, val);
			continue;
		}
		stack = sample_stack(w, s);
		if (stack == NONE)
			return w->err->code;

		st = pyro_pprof_add_sample(&w->nm, g, stack, val, span_id, trace);
		if (st != PYRO_OK)
			return st;
	}
	return PYRO_OK;
}

static void
wire_free(Wire *w)
{
	pyro_free(w->types);
	pyro_free(w->sample_r);
	pyro_free(w->mapping_r);
	pyro_free(w->location_r);
	pyro_free(w->function_r);
	pyro_free(w->strings);
	pyro_free(w->comments);
	pyro_free(w->mappings);
	pyro_free(w->functions);
	pyro_free(w->locations);
	pyro_free(w->lines);
	pyro_free(w->samples);
	pyro_free(w->locpos);
	pyro_free(w->first_child);
	pyro_free(w->values);
	pyro_free(w->labels);
	idmap_free(&w->mapping_ids);
	idmap_free(&w->function_ids);
	idmap_free(&w->location_ids);
	pyro_free(w->stack_parent);
	pyro_free(w->stack_node);
	pyro_free(w->stack_slots);
	pyro_free(w->stack_bits);
	pyro_free(w->pending);
	pyro_free(w->prev_pos);
	pyro_free(w->prev_node);
	pyro_free(w->str_checked);
	pyro_free(w->map_checked);
	pyro_free(w->fn_checked);
	pyro_free(w->loc_checked);
	pyro_pprof_norm_free(&w->nm);
}

/*
 * Decode and normalise a pprof, or only summarise it; see pprof.h.  On
 * success *out holds the result (possibly with no series when every
 * sample was dropped).
 */
static PyroStatus
decode(const uint8_t *data, size_t len, const PyroPprofLimits *limits, bool summary,
	   PyroNormalized **out, PyroError *err)
{
	PyroPprofLimits deflim;
	PyroError	localerr;
	PyroBuf		raw;
	Wire		w;
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
	memset(&w, 0, sizeof(w));
	w.lim = limits;
	w.err = err;
	w.bad_loc_sample = NO_SAMPLE;

	st = pyro_pprof_prepare_input(&data, &len, limits, &raw, err);
	if (st == PYRO_OK)
		st = scan_top(&w, data ? data : (const uint8_t *) "", len);
	if (st == PYRO_OK && summary)
	{
		/*
		 * A summary checks frames only for their strings' UTF-8: when every
		 * string of the table is valid (the rule), no frame can fail, and
		 * neither the samples' location ids nor the marks of what was checked
		 * are needed.
		 */
		w.all_utf8 = true;
		for (size_t i = 0; i < w.nstrings && w.all_utf8; i++)
			w.all_utf8 = pyro_utf8_valid(w.strings[i].p, w.strings[i].len);
		w.count_locpos = w.all_utf8;
	}
	if (st == PYRO_OK)
		st = parse_nested(&w);
	if (st == PYRO_OK)
		st = validate(&w);
	if (st != PYRO_OK)
		goto done;

	w.nm.lim = limits;
	w.nm.err = err;
	w.nm.strings = w.strings;
	w.nm.nstrings = w.nstrings;
	w.nm.ntypes = w.ntypes;
	w.nm.nmapping = w.nmapping;
	w.nm.nfunction = w.nfunction;
	w.nm.nlocation = w.nlocation;
	st = pyro_pprof_norm_begin(&w.nm, w.nsample, len, &n);
	if (st != PYRO_OK)
		goto done;
	w.sym = w.nm.sym;
	w.summary = summary;
	if (summary)
	{
		if (!w.all_utf8)
		{
			w.str_checked = pyro_calloc(w.nstrings, 1);
			w.map_checked = pyro_calloc(w.nmapping ? w.nmapping : 1, 1);
			w.fn_checked = pyro_calloc(w.nfunction ? w.nfunction : 1, 1);
			w.loc_checked = pyro_calloc(w.nlocation ? w.nlocation : 1, 1);
			if (w.str_checked == NULL || w.map_checked == NULL ||
				w.fn_checked == NULL || w.loc_checked == NULL)
			{
				st = w_oom(&w);
				goto done;
			}
		}
		goto samples;
	}
	w.stack_parent = pyro_pprof_none_array(w.nlocation);
	w.stack_node = pyro_pprof_none_array(w.nlocation);
	if (w.stack_parent == NULL || w.stack_node == NULL ||
		!pyro_grow((void **) &w.first_child, &w.first_child_cap, 1024, sizeof(uint32_t)) ||
		!stack_hint(&w) ||
		(w.pending = pyro_malloc(MAX_PENDING * sizeof(StackSlot))) == NULL ||
		!stack_table_grow(&w))
	{
		st = w_oom(&w);
		goto done;
	}
	memset(w.first_child, 0, w.first_child_cap * sizeof(uint32_t));

samples:
	st = pyro_pprof_norm_metadata(&w.nm, n, w.types,
								  w.has_period_type ? &w.period_type : NULL,
								  w.period, w.time_nanos, w.duration_nanos);
	if (st == PYRO_OK)
		st = process_samples(&w);
	if (st == PYRO_OK)
		st = pyro_pprof_norm_series(&w.nm, n, false);

done:
	wire_free(&w);
	pyro_buf_free(&raw);
	if (st != PYRO_OK)
	{
		pyro_normalized_free(n);
		return st;
	}
	*out = n;
	return PYRO_OK;
}

PyroStatus
pyro_pprof_normalize(const uint8_t *data, size_t len, const PyroPprofLimits *limits,
					 PyroNormalized **out, PyroError *err)
{
	return decode(data, len, limits, false, out, err);
}

PyroStatus
pyro_pprof_summarize(const uint8_t *data, size_t len, const PyroPprofLimits *limits,
					 PyroNormalized **out, PyroError *err)
{
	return decode(data, len, limits, true, out, err);
}

/*-------------------------------------------------------------------------
 *
 * jfr.c
 *	  JFR recordings into pprof profiles (spec API-2 §1).
 *
 * A recording is a sequence of self-contained chunks.  For each chunk we
 * read the metadata event (the type system: classes and their fields in
 * encoding order), then every checkpoint (constant pools) by following
 * the chain back from the header's last one, keeping only the pools that
 * stacks, thread states and strings need, and finally the event stream,
 * where the event types upstream converts add values to one of nine
 * groups keyed by (stack, context, span, span name).  At the end of each
 * chunk the group samples are resolved into locations and functions of
 * that group's profile, because pool keys mean nothing past their chunk.
 *
 * Values are decoded generically from the metadata, never by hard-coded
 * type ids or field order.  Every read is bounded by its record, nesting
 * by MAX_DEPTH, and the number of values decoded per chunk by a budget
 * proportional to the chunk's size (a struct type with no fields makes
 * an array of 2^60 elements cost no bytes).
 *
 *-------------------------------------------------------------------------
 */
#include "jfr.h"

#include <stdio.h>
#include <stdlib.h>

#include "pbwire.h"

#define NONE			UINT32_MAX
#define HEADER_SIZE		68
#define MAX_DEPTH		32
#define MAX_CHECKPOINTS 1000000

/* ---------------------------------------------------------------------
 * A map from 64-bit keys to 32-bit values (open addressing).
 * ---------------------------------------------------------------------
 */
typedef struct MapEntry
{
	uint64_t	key;
	uint32_t	val;			/* NONE = empty slot */
} MapEntry;

/*
 * Keys beside their values: one cache miss per probe of a big map.  Small
 * keys -- pool keys of most recordings are 1, 2, 3, ... -- go to a direct
 * array instead (4 bytes a key, no hashing, no probing), as long as the
 * array stays within DIRECT_SPREAD slots per entry; larger keys go to the
 * hash table.  A key is looked up in the array first, then in the table.
 */
#define DIRECT_SPREAD	8
#define DIRECT_MIN		4096

typedef struct Map
{
	MapEntry   *e;
	size_t		cap;			/* power of two, or 0 */
	size_t		n;				/* entries, in both parts */
	size_t		nt;				/* entries in the table */
	uint32_t   *direct;			/* key -> value, NONE = absent */
	size_t		direct_cap;
} Map;

static inline size_t
map_slot(uint64_t key, size_t cap)
{
	return (size_t) pyro_hash_mix(0x6A66722D6D6170ULL, key) & (cap - 1);
}

static void
map_free(Map *m)
{
	pyro_free(m->e);
	pyro_free(m->direct);
	memset(m, 0, sizeof(*m));
}

static void
map_clear(Map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		m->e[i].val = NONE;
	if (m->direct)
		memset(m->direct, 0xFF, m->direct_cap * sizeof(uint32_t));
	m->n = 0;
	m->nt = 0;
}

static inline uint32_t
map_get(const Map *m, uint64_t key)
{
	if (key < m->direct_cap && m->direct[key] != NONE)
		return m->direct[key];
	if (m->cap == 0)
		return NONE;
	for (size_t i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1))
	{
		if (m->e[i].val == NONE)
			return NONE;
		if (m->e[i].key == key)
			return m->e[i].val;
	}
}

/*
 * Whether key belongs in the direct array, growing it if needed; false
 * when it does not (or the array could not grow: the table takes it).
 */
static bool
map_direct(Map *m, uint64_t key)
{
	size_t		limit = (m->n + 1) * DIRECT_SPREAD;
	size_t		ncap;
	uint32_t   *nd;

	if (key < m->direct_cap)
		return true;
	if (limit < DIRECT_MIN)
		limit = DIRECT_MIN;
	if (key >= limit)
		return false;
	ncap = m->direct_cap ? m->direct_cap : 256;
	while (ncap <= key)
		ncap *= 2;
	if ((nd = pyro_realloc(m->direct, m->direct_cap * sizeof(uint32_t),
						   ncap * sizeof(uint32_t))) == NULL)
		return false;
	memset(nd + m->direct_cap, 0xFF, (ncap - m->direct_cap) * sizeof(uint32_t));
	m->direct = nd;
	m->direct_cap = ncap;
	return true;
}

/* insert or replace */
static bool
map_put(Map *m, uint64_t key, uint32_t val)
{
	size_t		i;

	if (map_direct(m, key))
	{
		if (m->direct[key] == NONE)
		{
			/* an earlier value may be in the table: this one shadows it */
			m->n++;
		}
		m->direct[key] = val;
		return true;
	}
	if ((m->nt + 1) * 2 > m->cap)
	{
		size_t		ncap = m->cap ? m->cap * 2 : 64;
		MapEntry   *ne;

		if (ncap > SIZE_MAX / 2 / sizeof(MapEntry) ||
			(ne = pyro_malloc(ncap * sizeof(MapEntry))) == NULL)
			return false;
		for (size_t j = 0; j < ncap; j++)
			ne[j].val = NONE;
		for (size_t j = 0; j < m->cap; j++)
		{
			if (m->e[j].val == NONE)
				continue;
			for (i = map_slot(m->e[j].key, ncap); ne[i].val != NONE; i = (i + 1) & (ncap - 1))
				;
			ne[i] = m->e[j];
		}
		pyro_free(m->e);
		m->e = ne;
		m->cap = ncap;
	}
	for (i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1))
	{
		if (m->e[i].val == NONE)
		{
			m->e[i].key = key;
			m->e[i].val = val;
			m->n++;
			m->nt++;
			return true;
		}
		if (m->e[i].key == key)
		{
			m->e[i].val = val;
			return true;
		}
	}
}

/* append one element to a growable array; false on allocation failure */
#define APPEND(arr, n, cap, val) \
	(((n) < (cap) || pyro_grow((void **) &(arr), &(cap), (n) + 1, sizeof(*(arr)))) ? \
	 ((arr)[(n)++] = (val), true) : false)

/* ---------------------------------------------------------------------
 * Strings met while decoding: in the input, in the chunk's arena
 * (converted from UTF-16 or Latin-1), or a key of the String pool.
 * ---------------------------------------------------------------------
 */
enum
{
	JS_EMPTY = 0,
	JS_DATA,					/* off into the input */
	JS_ARENA,					/* off into Chunk.arena */
	JS_REF						/* off is a java.lang.String pool key */
};

typedef struct JStr
{
	uint8_t		kind;
	uint32_t	len;
	uint64_t	off;
} JStr;

/* the fields an event or pool value is read for */
enum
{
	S_STACKTRACE, S_STATE, S_CONTEXTID, S_SPANID, S_SPANNAME, S_SAMPLES,
	S_TLABSIZE, S_ALLOCSIZE, S_WEIGHT, S_DURATION, S_SIZE, S_NAME, S_VALUE,
	S_STRING, S_TYPE, S_METHOD, S_LINENUMBER, S_FRAMES,
	NSLOTS
};

static const char *const slot_names[NSLOTS] = {
	"stackTrace", "state", "contextId", "spanId", "spanName", "samples",
	"tlabSize", "allocationSize", "weight", "duration", "size", "name", "value",
	"string", "type", "method", "lineNumber", "frames"
};

typedef struct JVal
{
	bool		set;
	uint64_t	u;				/* integer or pool key */
	JStr		s;				/* string */
} JVal;

/* primitive kinds of a class, by name */
enum
{
	P_STRUCT = 0, P_BOOL, P_BYTE, P_CHAR, P_SHORT, P_INT, P_LONG, P_FLOAT,
	P_DOUBLE, P_STRING
};

typedef struct JClass
{
	const char *name;
	uint64_t	id;
	uint8_t		prim;
	uint32_t	first_field;
	uint32_t	nfields;
	bool		flat;			/* a struct of integers and pool references
								 * only: read by read_flat() */
} JClass;

typedef struct JField
{
	uint64_t	type_id;
	uint32_t	type;			/* class index, NONE when undeclared */
	bool		array;
	bool		cp;
	bool		one_byte;		/* a boolean or byte, not a pool reference */
	int8_t		slot;			/* -1: not read */
} JField;

typedef struct JMethod
{
	uint64_t	class_key;
	uint64_t	name_key;
} JMethod;

typedef struct JFrame
{
	uint64_t	method;
	uint32_t	line;
} JFrame;

typedef struct JStack
{
	size_t		off;			/* into Chunk.frames */
	uint32_t	n;
} JStack;

/* ---------------------------------------------------------------------
 * The nine groups of events (spec §1.5) and their profiles.
 * ---------------------------------------------------------------------
 */
enum
{
	G_CPU, G_WALL, G_TLAB_IN, G_TLAB_OUT, G_ALLOC_SAMPLE, G_LOCK, G_PARK,
	G_LIVE, G_MALLOC, NGROUPS
};

typedef struct GroupDef
{
	const char *name;
	int			ntypes;
	const char *types[2][2];	/* type, unit */
	const char *period[2];		/* type, unit; NULL = none */
} GroupDef;

static const GroupDef group_defs[NGROUPS] = {
	{"process_cpu", 1, {{"cpu", "nanoseconds"}}, {"cpu", "nanoseconds"}},
	{"wall", 1, {{"wall", "nanoseconds"}}, {"wall", "nanoseconds"}},
	{"memory", 2, {{"alloc_in_new_tlab_objects", "count"}, {"alloc_in_new_tlab_bytes", "bytes"}},
	{"space", "bytes"}},
	{"memory", 2, {{"alloc_outside_tlab_objects", "count"}, {"alloc_outside_tlab_bytes", "bytes"}},
	{"space", "bytes"}},
	{"memory", 2, {{"alloc_sample_objects", "count"}, {"alloc_sample_bytes", "bytes"}},
	{"space", "bytes"}},
	{"mutex", 2, {{"contentions", "count"}, {"delay", "nanoseconds"}}, {"mutex", "count"}},
	{"block", 2, {{"contentions", "count"}, {"delay", "nanoseconds"}}, {"block", "count"}},
	{"memory", 1, {{"live", "count"}}, {"objects", "count"}},
	{"memory", 2, {{"malloc_objects", "count"}, {"malloc_bytes", "bytes"}}, {NULL, NULL}},
};

/* a sample of a chunk, keyed by what upstream keys it by */
typedef struct CSample
{
	uint64_t	stack;
	uint64_t	context;
	uint64_t	span;
	uint64_t	span_name;
	int64_t		v[2];
} CSample;

/* a resolved sample of a group's profile */
typedef struct GSample
{
	size_t		loc_off;		/* into Group.locids */
	uint32_t	nloc;
	size_t		lab_off;		/* into Group.labels (pairs of string ids) */
	uint32_t	nlab;
	int64_t		v[2];
} GSample;

typedef struct Group
{
	/* this chunk's samples */
	CSample    *cs;
	size_t		ncs;
	size_t		cs_cap;
	uint32_t   *cs_slots;		/* open addressing over cs, NONE = empty */
	size_t		cs_slots_cap;

	/* the profile */
	PyroBuf		strbuf;			/* string bytes */
	size_t	   *str_off;		/* string i = strbuf[str_off[i] ..
								 * str_off[i+1]) */
	size_t		nstr;
	size_t		str_cap;
	uint32_t   *str_slots;
	size_t		str_slots_cap;
	Map			fn_of_str;		/* name string -> function index */
	uint32_t   *fn_of_name;		/* this chunk's method name index (of
								 * method_name()) -> function index, NONE
								 * until met */
	size_t		fn_of_name_cap;
	uint32_t   *fn_name;		/* function i's name string */
	size_t		nfn;
	size_t		fn_cap;
	uint64_t   *fn_last;		/* function i's last location: line << 32 |
								 * location index, UINT64_MAX = none; most
								 * frames repeat it (no loc_of probe) */
	size_t		fn_last_cap;
	Map			loc_of;			/* function << 32 | line -> location index */
	uint64_t   *loc_key;
	size_t		nloc;
	size_t		loc_cap;
	GSample    *samples;
	size_t		nsamples;
	size_t		samples_cap;
	uint32_t   *locids;
	size_t		nlocids;
	size_t		locids_cap;
	uint32_t   *labels;
	size_t		nlabels;
	size_t		labels_cap;
	uint64_t	nevents;
} Group;

/* ---------------------------------------------------------------------
 * LabelsSnapshot
 * ---------------------------------------------------------------------
 */
struct PyroJfrLabels
{
	const uint8_t *data;		/* copy of the input */
	Map			strings;		/* id -> index into str */
	JStr	   *str;			/* JS_DATA into data */
	size_t		nstr;
	size_t		str_cap;
	Map			contexts;		/* id -> index into ctx */
	JStack	   *ctx;			/* off/n into pairs */
	size_t		nctx;
	size_t		ctx_cap;
	uint64_t   *pairs;			/* key id, value id */
	size_t		npairs;
	size_t		pairs_cap;
};

/* ---------------------------------------------------------------------
 * Parser state
 * ---------------------------------------------------------------------
 */
typedef struct Parser
{
	const uint8_t *base;		/* the whole input */
	size_t		base_len;
	const PyroJfrLabels *labels;
	const PyroJfrOptions *opt;
	PyroError  *err;
	int64_t		period;

	/* this chunk */
	int64_t		ticks_per_second;
	uint64_t	budget;			/* values left to decode */
	PyroBuf		arena;
	PyroBuf		meta;			/* metadata strings, NUL-terminated */
	size_t	   *meta_off;
	size_t		nmeta;
	size_t		meta_cap;
	JClass	   *classes;
	size_t		nclasses;
	size_t		classes_cap;
	JField	   *fields;
	size_t		nfields;
	size_t		fields_cap;
	Map			class_of_id;
	uint32_t	cls_symbol,
				cls_string,
				cls_class,
				cls_method,
				cls_stack,
				cls_state;

	/* kept constant pools */
	Map			pool_symbol;	/* key -> index into strs */
	Map			pool_string;
	Map			pool_state;
	JStr	   *strs;
	size_t		nstrs;
	size_t		strs_cap;
	Map			pool_class;		/* key -> index into class_names */
	uint64_t   *class_names;	/* symbol keys */
	size_t		nclass_names;
	size_t		class_names_cap;
	Map			pool_method;	/* key -> index into methods */
	JMethod    *methods;
	size_t		nmethods;
	size_t		methods_cap;
	Map			pool_stack;		/* key -> index into stacks */
	JStack	   *stacks;
	size_t		nstacks;
	size_t		stacks_cap;
	JFrame	   *frames;
	size_t		nframes;
	size_t		frames_cap;
	Map			method_names;	/* method key -> index into name_off */
	size_t	   *name_off;		/* pairs: off, len into names */
	size_t		nname_off;
	size_t		name_off_cap;
	PyroBuf		names;

	/* event type id -> kind */
	Map			event_kind;

	/* across chunks */
	char	   *event_setting;
	Group		groups[NGROUPS];
} Parser;

enum
{
	E_EXECUTION, E_WALL, E_TLAB_IN, E_TLAB_OUT, E_ALLOC_SAMPLE, E_MONITOR,
	E_PARK, E_LIVE, E_MALLOC, E_SETTING, NEVENTS
};

static const char *const event_names[NEVENTS] = {
	"jdk.ExecutionSample", "profiler.WallClockSample", "jdk.ObjectAllocationInNewTLAB",
	"jdk.ObjectAllocationOutsideTLAB", "jdk.ObjectAllocationSample", "jdk.JavaMonitorEnter",
	"jdk.ThreadPark", "profiler.LiveObject", "profiler.Malloc", "jdk.ActiveSetting"
};

static bool
bad(Parser *p, const char *what)
{
	pyro_error_set(p->err, PYRO_EINVAL, "invalid JFR recording: %s", what);
	return false;
}

static bool
oom(Parser *p)
{
	pyro_error_set(p->err, PYRO_ENOMEM, "out of memory converting JFR recording");
	return false;
}

/* A reader bounded by the end of the record it reads. */
typedef struct JReader
{
	const uint8_t *p;
	const uint8_t *end;
} JReader;

/*
 * A JFR integer: unsigned LEB128, at most 9 bytes, the 9th contributing
 * all its 8 bits.  Writers may pad with redundant continuation groups.
 */
static inline bool
rd_varint(JReader *r, uint64_t *out)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
	{
		uint8_t		b;

		if (r->p >= r->end)
			return false;
		b = *r->p++;
		v |= (uint64_t) (b & 0x7F) << (7 * i);
		if ((b & 0x80) == 0)
		{
			*out = v;
			return true;
		}
	}
	if (r->p >= r->end)
		return false;
	v |= (uint64_t) (*r->p++) << 56;
	*out = v;
	return true;
}

static inline bool
rd_skip(JReader *r, size_t n)
{
	if ((size_t) (r->end - r->p) < n)
		return false;
	r->p += n;
	return true;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}


/*
 * Read a string value (spec §1.4.4) into *out (NULL: skip it); UTF-16 and
 * Latin-1 are converted into the arena.
 */
static bool
rd_string(Parser *p, JReader *r, PyroBuf *arena, JStr *out)
{
	uint64_t	n;
	uint8_t		enc;
	JStr		s = {JS_EMPTY, 0, 0};

	if (r->p >= r->end)
		return bad(p, "truncated string");
	enc = *r->p++;
	switch (enc)
	{
		case 0:
		case 1:
			break;
		case 2:
			if (!rd_varint(r, &s.off))
				return bad(p, "truncated string reference");
			s.kind = JS_REF;
			break;
		case 3:
			if (!rd_varint(r, &n) || n > (uint64_t) (r->end - r->p) || n > UINT32_MAX)
				return bad(p, "truncated string");
			s.kind = JS_DATA;
			s.off = (uint64_t) (r->p - p->base);
			s.len = (uint32_t) n;
			r->p += n;
			break;
		case 4:
		case 5:
			if (!rd_varint(r, &n) || n > (uint64_t) (r->end - r->p))
				return bad(p, "truncated string");
			s.kind = JS_ARENA;
			s.off = out ? arena->len : 0;
			for (uint64_t i = 0; i < n; i++)
			{
				uint64_t	c;

				if (enc == 5)
					c = *r->p++;
				else if (!rd_varint(r, &c))
					return bad(p, "truncated string");
				if (out == NULL)
					continue;
				c &= 0xFFFF;
				if (enc == 4 && c >= 0xD800 && c <= 0xDBFF && i + 1 < n)
				{
					/* a high surrogate: combine with the next unit if low */
					JReader		peek = *r;
					uint64_t	lo;

					if (rd_varint(&peek, &lo) && (lo & 0xFFFF) >= 0xDC00 &&
						(lo & 0xFFFF) <= 0xDFFF)
					{
						*r = peek;
						i++;
						c = 0x10000 + ((c - 0xD800) << 10) + ((lo & 0xFFFF) - 0xDC00);
					}
				}
				pyro_buf_append_utf8(arena, (uint32_t) c);
			}
			if (out)
			{
				if (arena->oom)
					return oom(p);
				if (arena->len - s.off > UINT32_MAX)
					return bad(p, "string too long");
				s.len = (uint32_t) (arena->len - s.off);
			}
			break;
		default:
			return bad(p, "unknown string encoding");
	}
	if (out)
		*out = s;
	return true;
}

/* the bytes of a string (a reference resolved through the String pool) */
static const char *
str_bytes(const Parser *p, JStr s, size_t *len)
{
	if (s.kind == JS_REF)
	{
		uint32_t	i = map_get(&p->pool_string, s.off);

		if (i == NONE || p->strs[i].kind == JS_REF)
		{
			*len = 0;
			return "";
		}
		s = p->strs[i];
	}
	*len = s.len;
	switch (s.kind)
	{
		case JS_DATA:
			return (const char *) p->base + s.off;
		case JS_ARENA:
			return (const char *) p->arena.data + s.off;
		default:
			*len = 0;
			return "";
	}
}

static bool
str_eq(const Parser *p, JStr s, const char *lit)
{
	size_t		len;
	const char *b = str_bytes(p, s, &len);

	return len == strlen(lit) && memcmp(b, lit, len) == 0;
}

/* ---------------------------------------------------------------------
 * Values (spec §1.4.7)
 * ---------------------------------------------------------------------
 */
static bool read_struct(Parser *p, JReader *r, uint32_t cls, JVal *vals, int depth);

/* one (non-array) value of class cls; cap may be NULL */
static bool
read_one(Parser *p, JReader *r, uint32_t cls, bool cp, JVal *cap, int depth)
{
	uint64_t	u = 0;

	if (p->budget-- == 0)
		return bad(p, "too many values in a chunk");
	if (cp)
	{
		if (!rd_varint(r, &u))
			return bad(p, "truncated constant pool reference");
		if (cap)
		{
			cap->set = true;
			cap->u = u;
		}
		return true;
	}
	if (cls == NONE)
		return bad(p, "value of an undeclared type");
	switch (p->classes[cls].prim)
	{
		case P_BOOL:
		case P_BYTE:
			if (r->p >= r->end)
				return bad(p, "truncated value");
			u = *r->p++;
			break;
		case P_CHAR:
		case P_SHORT:
		case P_INT:
		case P_LONG:
			if (!rd_varint(r, &u))
				return bad(p, "truncated integer");
			break;
		case P_FLOAT:
			if (!rd_skip(r, 4))
				return bad(p, "truncated float");
			break;
		case P_DOUBLE:
			if (!rd_skip(r, 8))
				return bad(p, "truncated double");
			break;
		case P_STRING:
			if (!rd_string(p, r, &p->arena, cap ? &cap->s : NULL))
				return false;
			if (cap)
				cap->set = true;
			return true;
		default:
			return read_struct(p, r, cls, NULL, depth + 1);
	}
	if (cap)
	{
		cap->set = true;
		cap->u = u;
	}
	return true;
}

/*
 * One field of a flat struct: a byte for booleans and bytes, else a varint.
 * *u is 0 when the field is truncated.
 */
static inline bool
rd_flat_field(Parser *p, JReader *r, const JField *f, uint64_t *u)
{
	*u = 0;
	if (f->one_byte)
	{
		if (r->p >= r->end)
			return bad(p, "truncated value");
		*u = *r->p++;
		return true;
	}
	if (!rd_varint(r, u))
		return bad(p, "truncated integer");
	return true;
}

/*
 * The n frames of a stack trace when their class is flat (every recording
 * seen): what read_struct does for each, without its per-value dispatch,
 * keeping only the method and the line.  Stack traces are most of a
 * recording's bytes.
 */
static bool
read_flat_frames(Parser *p, JReader *r, const JClass *fc, uint64_t n)
{
	const JField *ff = &p->fields[fc->first_field];
	uint32_t	nf = fc->nfields;

	/* a value per field, and one per frame, as read_struct counts them */
	if (n > p->budget / (nf + 1))
		return bad(p, "too many values in a chunk");
	p->budget -= n * (nf + 1);
	for (uint64_t i = 0; i < n; i++)
	{
		JFrame		fr = {0, 0};

		for (uint32_t k = 0; k < nf; k++)
		{
			uint64_t	u;

			if (!rd_flat_field(p, r, &ff[k], &u))
				return false;
			if (ff[k].slot == S_METHOD)
				fr.method = u;
			else if (ff[k].slot == S_LINENUMBER)
				fr.line = (uint32_t) u;
		}
		if (!APPEND(p->frames, p->nframes, p->frames_cap, fr))
			return oom(p);
	}
	return true;
}

static bool
read_field(Parser *p, JReader *r, const JField *f, JVal *vals, int depth)
{
	uint64_t	n;
	JVal	   *cap = (vals && f->slot >= 0) ? &vals[f->slot] : NULL;

	if (!f->array)
		return read_one(p, r, f->type, f->cp, cap, depth);
	if (!rd_varint(r, &n) || n > (uint64_t) (r->end - r->p) + p->budget)
		return bad(p, "bad array length");
	if (cap && f->slot == S_FRAMES && !f->cp && f->type != NONE &&
		p->classes[f->type].prim == P_STRUCT)
	{
		/* the frames of a stack trace: collected into p->frames */
		const JClass *fc = &p->classes[f->type];

		cap->set = true;
		cap->u = p->nframes;
		/* every frame takes a byte at least, unless its class is empty */
		if (fc->nfields > 0 && n <= (uint64_t) (r->end - r->p) &&
			p->nframes + n > p->frames_cap &&
			!pyro_grow((void **) &p->frames, &p->frames_cap, p->nframes + n, sizeof(JFrame)))
			return oom(p);
		if (fc->flat)
		{
			if (!read_flat_frames(p, r, fc, n))
				return false;
		}
		else
		{
			for (uint64_t i = 0; i < n; i++)
			{
				JVal		fv[NSLOTS];
				JFrame		fr;

				memset(fv, 0, sizeof(fv));
				if (p->budget-- == 0)
					return bad(p, "too many values in a chunk");
				if (!read_struct(p, r, f->type, fv, depth + 1))
					return false;
				fr.method = fv[S_METHOD].set ? fv[S_METHOD].u : 0;
				fr.line = (uint32_t) fv[S_LINENUMBER].u;
				if (!APPEND(p->frames, p->nframes, p->frames_cap, fr))
					return oom(p);
			}
		}
		cap->s.len = (uint32_t) (p->nframes - cap->u);
		return true;
	}
	for (uint64_t i = 0; i < n; i++)
		if (!read_one(p, r, f->type, f->cp, NULL, depth))
			return false;
	return true;
}

/*
 * A flat struct: one integer (a varint, or a byte for booleans and bytes)
 * per field, no nesting.  Most pool entries and events are flat; reading
 * them without the generic per-value dispatch is most of the decoding time
 * saved.  Only the slots of vals that the fields map to are written.
 */
static inline bool
read_flat(Parser *p, JReader *r, const JClass *c, JVal *vals)
{
	const JField *f = &p->fields[c->first_field];

	if (p->budget < c->nfields)
		return bad(p, "too many values in a chunk");
	p->budget -= c->nfields;
	for (uint32_t i = 0; i < c->nfields; i++, f++)
	{
		uint64_t	u;

		if (!rd_flat_field(p, r, f, &u))
			return false;
		if (vals && f->slot >= 0)
		{
			vals[f->slot].set = true;
			vals[f->slot].u = u;
		}
	}
	return true;
}

static bool
read_struct(Parser *p, JReader *r, uint32_t cls, JVal *vals, int depth)
{
	const JClass *c;

	if (depth > MAX_DEPTH)
		return bad(p, "values nested too deeply");
	if (cls == NONE)
		return bad(p, "value of an undeclared type");
	c = &p->classes[cls];
	if (c->flat)
		return read_flat(p, r, c, vals);
	if (c->prim != P_STRUCT)
		return read_one(p, r, cls, false, vals ? &vals[S_VALUE] : NULL, depth);
	for (uint32_t i = 0; i < c->nfields; i++)
		if (!read_field(p, r, &p->fields[c->first_field + i], vals, depth))
			return false;
	return true;
}

/* ---------------------------------------------------------------------
 * Metadata (spec §1.4.6)
 * ---------------------------------------------------------------------
 */
static const char *
meta_str(const Parser *p, uint64_t i)
{
	return (const char *) p->meta.data + p->meta_off[i];
}

static bool
parse_u64(const char *s, uint64_t *out)
{
	uint64_t	v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t) (*s - '0');
	}
	*out = v;
	return true;
}

static bool
parse_element(Parser *p, JReader *r, int depth, uint32_t in_class)
{
	uint64_t	name,
				nattr,
				nchild;
	const char *a_name = NULL,
			   *a_id = NULL,
			   *a_class = NULL,
			   *a_dim = NULL,
			   *a_cp = NULL;
	const char *ename;
	uint32_t	child_class = NONE;

	if (depth > MAX_DEPTH)
		return bad(p, "metadata nested too deeply");
	if (p->budget-- == 0)
		return bad(p, "metadata too large");
	if (!rd_varint(r, &name) || name >= p->nmeta || !rd_varint(r, &nattr) ||
		nattr > (uint64_t) (r->end - r->p))
		return bad(p, "bad metadata element");
	ename = meta_str(p, name);
	for (uint64_t i = 0; i < nattr; i++)
	{
		uint64_t	k,
					v;
		const char *ks;

		if (!rd_varint(r, &k) || !rd_varint(r, &v) || k >= p->nmeta || v >= p->nmeta)
			return bad(p, "bad metadata attribute");
		ks = meta_str(p, k);
		if (strcmp(ks, "name") == 0)
			a_name = meta_str(p, v);
		else if (strcmp(ks, "id") == 0)
			a_id = meta_str(p, v);
		else if (strcmp(ks, "class") == 0)
			a_class = meta_str(p, v);
		else if (strcmp(ks, "dimension") == 0)
			a_dim = meta_str(p, v);
		else if (strcmp(ks, "constantPool") == 0)
			a_cp = meta_str(p, v);
	}
	if (strcmp(ename, "class") == 0)
	{
		JClass		c;
		static const char *const prims[] = {
			"", "boolean", "byte", "char", "short", "int", "long", "float", "double",
			"java.lang.String"
		};

		memset(&c, 0, sizeof(c));
		if (a_name == NULL || a_id == NULL || !parse_u64(a_id, &c.id))
			return bad(p, "metadata class without a name or id");
		c.name = a_name;
		for (int i = 1; i <= P_STRING; i++)
			if (strcmp(a_name, prims[i]) == 0)
				c.prim = (uint8_t) i;
		c.first_field = (uint32_t) p->nfields;
		if (p->nclasses >= NONE - 1)
			return bad(p, "too many classes");
		child_class = (uint32_t) p->nclasses;
		if (!APPEND(p->classes, p->nclasses, p->classes_cap, c) ||
			!map_put(&p->class_of_id, c.id, child_class))
			return oom(p);
	}
	else if (strcmp(ename, "field") == 0 && in_class != NONE)
	{
		JField		f;

		memset(&f, 0, sizeof(f));
		if (a_name == NULL || a_class == NULL || !parse_u64(a_class, &f.type_id))
			return bad(p, "metadata field without a name or class");
		f.type = NONE;
		f.array = a_dim && strcmp(a_dim, "1") == 0;
		f.cp = a_cp && strcmp(a_cp, "true") == 0;
		f.slot = -1;
		for (int i = 0; i < NSLOTS; i++)
			if (strcmp(a_name, slot_names[i]) == 0)
				f.slot = (int8_t) i;
		if (p->nfields >= NONE - 1 ||
			p->classes[in_class].first_field + p->classes[in_class].nfields != p->nfields)
			return bad(p, "bad metadata field");
		if (!APPEND(p->fields, p->nfields, p->fields_cap, f))
			return oom(p);
		p->classes[in_class].nfields++;
	}
	if (!rd_varint(r, &nchild) || nchild > (uint64_t) (r->end - r->p))
		return bad(p, "bad metadata element");
	for (uint64_t i = 0; i < nchild; i++)
		if (!parse_element(p, r, depth + 1, child_class))
			return false;
	return true;
}

static uint32_t
class_named(const Parser *p, const char *name)
{
	for (size_t i = 0; i < p->nclasses; i++)
		if (strcmp(p->classes[i].name, name) == 0)
			return (uint32_t) i;
	return NONE;
}

static bool
parse_metadata(Parser *p, const uint8_t *chunk, size_t chunk_size, uint64_t off)
{
	JReader		r;
	uint64_t	size,
				type,
				skip,
				nstrings;

	r.p = chunk + off;
	r.end = chunk + chunk_size;
	if (!rd_varint(&r, &size) || size == 0 || size > chunk_size - off)
		return bad(p, "bad metadata size");
	r.end = chunk + off + size;
	if (!rd_varint(&r, &type) || type != 0)
		return bad(p, "metadata offset does not point at the metadata event");
	for (int i = 0; i < 3; i++)
		if (!rd_varint(&r, &skip))
			return bad(p, "truncated metadata");
	if (!rd_varint(&r, &nstrings) || nstrings > (uint64_t) (r.end - r.p))
		return bad(p, "bad metadata string count");
	for (uint64_t i = 0; i < nstrings; i++)
	{
		JStr		s;
		size_t		len;
		const char *b;
		size_t		at = p->meta.len;

		if (!rd_string(p, &r, &p->arena, &s))
			return false;
		if (s.kind == JS_REF)
			return bad(p, "string reference in metadata");
		b = str_bytes(p, s, &len);
		pyro_buf_append(&p->meta, b, len);
		pyro_buf_append_byte(&p->meta, 0);
		if (p->meta.oom || !APPEND(p->meta_off, p->nmeta, p->meta_cap, at))
			return oom(p);
	}
	if (!parse_element(p, &r, 0, NONE))
		return false;

	/* resolve field types; find the classes stacks are made of */
	for (size_t i = 0; i < p->nfields; i++)
	{
		JField	   *f = &p->fields[i];

		f->type = map_get(&p->class_of_id, f->type_id);
		f->one_byte = !f->cp && f->type != NONE &&
			(p->classes[f->type].prim == P_BOOL || p->classes[f->type].prim == P_BYTE);
	}
	for (size_t i = 0; i < p->nclasses; i++)
	{
		JClass	   *c = &p->classes[i];

		c->flat = c->prim == P_STRUCT && c->nfields > 0;
		for (uint32_t j = 0; j < c->nfields && c->flat; j++)
		{
			const JField *f = &p->fields[c->first_field + j];
			uint8_t		prim = f->type == NONE ? P_STRUCT : p->classes[f->type].prim;

			c->flat = !f->array &&
				(f->cp || (prim >= P_BOOL && prim <= P_LONG));
		}
	}
	p->cls_symbol = class_named(p, "jdk.types.Symbol");
	p->cls_string = class_named(p, "java.lang.String");
	p->cls_class = class_named(p, "java.lang.Class");
	p->cls_method = class_named(p, "jdk.types.Method");
	p->cls_stack = class_named(p, "jdk.types.StackTrace");
	p->cls_state = class_named(p, "jdk.types.ThreadState");
	for (int e = 0; e < NEVENTS; e++)
	{
		uint32_t	c = class_named(p, event_names[e]);

		if (c != NONE && !map_put(&p->event_kind, p->classes[c].id, (uint32_t) e))
			return oom(p);
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Constant pools (spec §1.4.8)
 * ---------------------------------------------------------------------
 */
static bool
keep_str(Parser *p, Map *pool, uint64_t key, JStr s)
{
	if (!map_put(pool, key, (uint32_t) p->nstrs) || !APPEND(p->strs, p->nstrs, p->strs_cap, s))
		return oom(p);
	return true;
}

static bool
read_pool_entry(Parser *p, JReader *r, uint32_t cls, uint64_t key)
{
	JVal		v[NSLOTS];

	memset(v, 0, sizeof(v));
	if (p->nstrs >= NONE - 1 || p->nstacks >= NONE - 1 || p->nmethods >= NONE - 1 ||
		p->nclass_names >= NONE - 1)
		return bad(p, "too many constants");
	if (cls == p->cls_string)
	{
		JStr		s;

		return rd_string(p, r, &p->arena, &s) && keep_str(p, &p->pool_string, key, s);
	}
	if (!read_struct(p, r, cls, v, 0))
		return false;
	if (cls == p->cls_symbol)
		return keep_str(p, &p->pool_symbol, key, v[S_STRING].s);
	if (cls == p->cls_state)
		return keep_str(p, &p->pool_state, key, v[S_NAME].s);
	if (cls == p->cls_class)
	{
		if (!map_put(&p->pool_class, key, (uint32_t) p->nclass_names) ||
			!APPEND(p->class_names, p->nclass_names, p->class_names_cap, v[S_NAME].u))
			return oom(p);
	}
	else if (cls == p->cls_method)
	{
		JMethod		m = {v[S_TYPE].u, v[S_NAME].u};

		if (!map_put(&p->pool_method, key, (uint32_t) p->nmethods) ||
			!APPEND(p->methods, p->nmethods, p->methods_cap, m))
			return oom(p);
	}
	else if (cls == p->cls_stack)
	{
		JStack		s;

		s.off = v[S_FRAMES].set ? v[S_FRAMES].u : p->nframes;
		s.n = v[S_FRAMES].set ? v[S_FRAMES].s.len : 0;
		if (s.off > p->nframes || s.n > p->nframes - s.off)
			return bad(p, "bad stack trace");
		if (!map_put(&p->pool_stack, key, (uint32_t) p->nstacks) ||
			!APPEND(p->stacks, p->nstacks, p->stacks_cap, s))
			return oom(p);
	}
	return true;
}

static bool
parse_checkpoints(Parser *p, const uint8_t *chunk, size_t chunk_size, uint64_t off)
{
	for (int count = 0;; count++)
	{
		JReader		r;
		uint64_t	size,
					type,
					skip,
					delta,
					npools;

		if (count >= MAX_CHECKPOINTS || off < HEADER_SIZE || off >= chunk_size)
			return bad(p, "bad checkpoint offset");
		r.p = chunk + off;
		r.end = chunk + chunk_size;
		if (!rd_varint(&r, &size) || size == 0 || size > chunk_size - off)
			return bad(p, "bad checkpoint size");
		r.end = chunk + off + size;
		if (!rd_varint(&r, &type) || type != 1)
			return bad(p, "checkpoint offset does not point at a checkpoint");
		if (!rd_varint(&r, &skip) || !rd_varint(&r, &skip) || !rd_varint(&r, &delta) ||
			!rd_varint(&r, &skip) || !rd_varint(&r, &npools) ||
			npools > (uint64_t) (r.end - r.p))
			return bad(p, "truncated checkpoint");
		for (uint64_t i = 0; i < npools; i++)
		{
			uint64_t	tid,
						n;
			uint32_t	cls;

			if (!rd_varint(&r, &tid) || !rd_varint(&r, &n) || n > (uint64_t) (r.end - r.p))
				return bad(p, "truncated constant pool");
			cls = map_get(&p->class_of_id, tid);
			if (cls == NONE)
				return bad(p, "constant pool of an undeclared type");
			for (uint64_t j = 0; j < n; j++)
			{
				uint64_t	key;

				if (!rd_varint(&r, &key))
					return bad(p, "truncated constant pool");
				if (cls == p->cls_symbol || cls == p->cls_string || cls == p->cls_class ||
					cls == p->cls_method || cls == p->cls_stack || cls == p->cls_state)
				{
					if (!read_pool_entry(p, &r, cls, key))
						return false;
				}
				else if (!read_struct(p, &r, cls, NULL, 0))
					return false;
			}
		}
		if ((int64_t) delta == 0)
			return true;
		if ((int64_t) delta > 0 || (uint64_t) (-(int64_t) delta) > off)
			return bad(p, "checkpoint chain does not go backwards");
		off -= (uint64_t) (-(int64_t) delta);
	}
}

/* ---------------------------------------------------------------------
 * Frame names (spec §1.8)
 * ---------------------------------------------------------------------
 */
static bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
is_hex_lower(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* s (n bytes) starts with lit; advances past it */
static bool
eat(const char **s, size_t *n, const char *lit)
{
	size_t		l = strlen(lit);

	if (*n < l || memcmp(*s, lit, l) != 0)
		return false;
	*s += l;
	*n -= l;
	return true;
}

/* strip an optional "/tmp/" or "./tmp/" prefix and " (deleted)" suffix */
static void
lib_trim(const char **s, size_t *n)
{
	if (!eat(s, n, "/tmp/"))
		(void) eat(s, n, "./tmp/");
	if (*n >= 10 && memcmp(*s + *n - 10, " (deleted)", 10) == 0)
		*n -= 10;
}

/* the lambda suffix: \$?\d*[./](0x)?[\da-f]+ or \d+ */
static bool
lambda_suffix(const char *s, size_t n)
{
	size_t		i = 0;

	if (all_digits(s, n))
		return true;
	if (i < n && s[i] == '$')
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i >= n || (s[i] != '.' && s[i] != '/'))
		return false;
	i++;
	if (n - i >= 2 && s[i] == '0' && s[i + 1] == 'x' && is_hex_lower(s + i + 2, n - i - 2))
		return true;
	return is_hex_lower(s + i, n - i);
}

/*
 * Append symbol s rewritten as upstream merges generated names, so that
 * per-process lambdas, accessors and extracted libraries merge.
 */
static void
put_symbol(PyroBuf *b, const char *s, size_t n)
{
	static const char accessor[] = "jdk/internal/reflect/GeneratedMethodAccessor";
	static const char cglib[] = "$$EnhancerBySpringCGLIB$$";
	const char *t;
	size_t		tn;

	if (n > sizeof(accessor) - 1 && memcmp(s, accessor, sizeof(accessor) - 1) == 0 &&
		all_digits(s + sizeof(accessor) - 1, n - (sizeof(accessor) - 1)))
	{
		pyro_buf_append_str(b, "jdk/internal/reflect/GeneratedMethodAccessor_");
		return;
	}
	/* the last "$$Lambda" with a lambda suffix after it */
	for (size_t i = n >= 8 ? n - 8 : 0; n >= 8 && i >= 1; i--)
	{
		if (memcmp(s + i, "$$Lambda", 8) == 0 && lambda_suffix(s + i + 8, n - i - 8))
		{
			pyro_buf_append(b, s, i + 8);
			pyro_buf_append_byte(b, '_');
			return;
		}
	}
	/* libraries extracted to /tmp with a version or hash in their name */
	t = s;
	tn = n;
	lib_trim(&t, &tn);
	if (eat(&t, &tn, "libzstd-jni-"))
	{
		size_t		i = 0;
		int			dots = 0;

		while (i < tn && ((t[i] >= '0' && t[i] <= '9') || (t[i] == '.' && dots < 2 && i > 0)))
			dots += t[i++] == '.';
		if (dots == 2 && i < tn && t[i] == '-' && tn - i > 4 &&
			memcmp(t + tn - 3, ".so", 3) == 0 && all_digits(t + i + 1, tn - i - 4))
		{
			pyro_buf_append_str(b, "libzstd-jni-_.so");
			return;
		}
	}
	t = s;
	tn = n;
	lib_trim(&t, &tn);
	(void) eat(&t, &tn, "lib");
	if (eat(&t, &tn, "amazonCorrettoCryptoProvider"))
	{
		(void) eat(&t, &tn, "NativeLibraries.");
		if (tn >= 16 + 3 && is_hex_lower(t, 16))
		{
			t += 16;
			tn -= 16;
			if (!eat(&t, &tn, "/libcrypto"))
				(void) eat(&t, &tn, "/libamazonCorrettoCryptoProvider");
			if (tn == 3 && memcmp(t, ".so", 3) == 0)
			{
				pyro_buf_append_str(b, "libamazonCorrettoCryptoProvider_.so");
				return;
			}
		}
	}
	t = s;
	tn = n;
	lib_trim(&t, &tn);
	if (eat(&t, &tn, "libasyncProfiler-") &&
		(eat(&t, &tn, "linux-arm64") || eat(&t, &tn, "linux-musl-x64") ||
		 eat(&t, &tn, "linux-x64") || eat(&t, &tn, "macos")) &&
		eat(&t, &tn, "-17b9a1d8156277a98ccc871afa9a8f69215f92.so") && tn == 0)
	{
		pyro_buf_append_str(b, "libasyncProfiler-_.so");
		return;
	}
	for (size_t i = 0; i + sizeof(cglib) - 1 <= n; i++)
	{
		if (memcmp(s + i, cglib, sizeof(cglib) - 1) == 0)
		{
			pyro_buf_append(b, s, i + sizeof(cglib) - 1);
			pyro_buf_append_byte(b, '_');
			return;
		}
	}
	pyro_buf_append(b, s, n);
}

static const char *
symbol(const Parser *p, uint64_t key, size_t *len)
{
	uint32_t	i = map_get(&p->pool_symbol, key);

	if (i == NONE)
	{
		*len = 0;
		return "";
	}
	return str_bytes(p, p->strs[i], len);
}

/*
 * The function name of a method, "class.method" (cached per chunk);
 * false when the method or its class is not in the pools.
 */
static bool
method_name(Parser *p, uint64_t key, const char **name, size_t *len, uint32_t *index,
			bool *ok)
{
	uint32_t	i = map_get(&p->method_names, key);

	*ok = true;
	if (i == NONE)
	{
		uint32_t	m = map_get(&p->pool_method, key);
		uint32_t	c;
		const char *s;
		size_t		n;
		size_t		at = p->names.len;

		if (m == NONE || (c = map_get(&p->pool_class, p->methods[m].class_key)) == NONE)
		{
			*ok = false;
			return true;
		}
		s = symbol(p, p->class_names[c], &n);
		put_symbol(&p->names, s, n);
		pyro_buf_append_byte(&p->names, '.');
		s = symbol(p, p->methods[m].name_key, &n);
		put_symbol(&p->names, s, n);
		if (p->names.oom)
			return oom(p);
		i = (uint32_t) (p->nname_off / 2);
		if (!APPEND(p->name_off, p->nname_off, p->name_off_cap, at) ||
			!APPEND(p->name_off, p->nname_off, p->name_off_cap, p->names.len - at) ||
			!map_put(&p->method_names, key, i))
			return oom(p);
	}
	*name = (const char *) p->names.data + p->name_off[2 * i];
	*len = p->name_off[2 * i + 1];
	*index = i;
	return true;
}

/* ---------------------------------------------------------------------
 * Groups: this chunk's samples, and the profile they resolve into
 * ---------------------------------------------------------------------
 */
static uint64_t
csample_hash(const CSample *s)
{
	uint64_t	h = pyro_hash_mix(0, s->stack);

	h = pyro_hash_mix(h, s->context);
	h = pyro_hash_mix(h, s->span);
	return pyro_hash_mix(h, s->span_name);
}

static bool
group_add(Parser *p, Group *g, const CSample *key, int64_t v0, int64_t v1)
{
	size_t		i;

	g->nevents++;
	if ((g->ncs + 1) * 2 > g->cs_slots_cap)
	{
		size_t		ncap = g->cs_slots_cap ? g->cs_slots_cap * 2 : 256;
		uint32_t   *ns = pyro_malloc(ncap * sizeof(uint32_t));

		if (ns == NULL || g->ncs >= NONE - 1)
			return oom(p);
		memset(ns, 0xFF, ncap * sizeof(uint32_t));
		for (size_t j = 0; j < g->ncs; j++)
		{
			for (i = csample_hash(&g->cs[j]) & (ncap - 1); ns[i] != NONE; i = (i + 1) & (ncap - 1))
				;
			ns[i] = (uint32_t) j;
		}
		pyro_free(g->cs_slots);
		g->cs_slots = ns;
		g->cs_slots_cap = ncap;
	}
	for (i = csample_hash(key) & (g->cs_slots_cap - 1);; i = (i + 1) & (g->cs_slots_cap - 1))
	{
		CSample    *s;

		if (g->cs_slots[i] == NONE)
		{
			CSample		ns = *key;

			ns.v[0] = v0;
			ns.v[1] = v1;
			g->cs_slots[i] = (uint32_t) g->ncs;
			if (!APPEND(g->cs, g->ncs, g->cs_cap, ns))
				return oom(p);
			return true;
		}
		s = &g->cs[g->cs_slots[i]];
		if (s->stack == key->stack && s->context == key->context && s->span == key->span &&
			s->span_name == key->span_name)
		{
			s->v[0] = (int64_t) ((uint64_t) s->v[0] + (uint64_t) v0);
			s->v[1] = (int64_t) ((uint64_t) s->v[1] + (uint64_t) v1);
			return true;
		}
	}
}

/* intern a string of a group's profile; NONE on allocation failure */
static uint32_t
group_str(Group *g, const char *s, size_t n)
{
	uint64_t	h = pyro_hash_bytes(s, n, 0x6A6672);
	size_t		i;

	if (g->nstr == 0)
	{
		/* string 0 is "" */
		if (!pyro_grow((void **) &g->str_off, &g->str_cap, 2, sizeof(size_t)))
			return NONE;
		g->str_off[0] = 0;
		g->str_off[1] = 0;
		g->nstr = 1;
	}
	if (n == 0)
		return 0;
	if ((g->nstr + 1) * 2 > g->str_slots_cap)
	{
		size_t		ncap = g->str_slots_cap ? g->str_slots_cap * 2 : 256;
		uint32_t   *ns = pyro_malloc(ncap * sizeof(uint32_t));

		if (ns == NULL || g->nstr >= NONE - 1)
		{
			pyro_free(ns);
			return NONE;
		}
		memset(ns, 0xFF, ncap * sizeof(uint32_t));
		for (size_t j = 1; j < g->nstr; j++)
		{
			size_t		l = g->str_off[j + 1] - g->str_off[j];

			for (i = pyro_hash_bytes(g->strbuf.data + g->str_off[j], l, 0x6A6672) & (ncap - 1);
				 ns[i] != NONE; i = (i + 1) & (ncap - 1))
				;
			ns[i] = (uint32_t) j;
		}
		pyro_free(g->str_slots);
		g->str_slots = ns;
		g->str_slots_cap = ncap;
	}
	for (i = h & (g->str_slots_cap - 1);; i = (i + 1) & (g->str_slots_cap - 1))
	{
		uint32_t	j = g->str_slots[i];

		if (j == NONE)
			break;
		if (g->str_off[j + 1] - g->str_off[j] == n &&
			memcmp(g->strbuf.data + g->str_off[j], s, n) == 0)
			return j;
	}
	/* new: valid UTF-8 only (pprof strings are UTF-8) */
	if (pyro_utf8_valid(s, n))
		pyro_buf_append(&g->strbuf, s, n);
	else
	{
		for (size_t k = 0; k < n;)
		{
			uint8_t		c = (uint8_t) s[k];
			size_t		l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

			if (l <= n - k && pyro_utf8_valid(s + k, l))
			{
				pyro_buf_append(&g->strbuf, s + k, l);
				k += l;
			}
			else
			{
				pyro_buf_append_str(&g->strbuf, "\xEF\xBF\xBD");
				k++;
			}
		}
	}
	if (g->strbuf.oom ||
		!pyro_grow((void **) &g->str_off, &g->str_cap, g->nstr + 2, sizeof(size_t)))
		return NONE;
	g->str_off[g->nstr + 1] = g->strbuf.len;
	g->str_slots[i] = (uint32_t) g->nstr;
	return (uint32_t) g->nstr++;
}

static bool
group_label(Parser *p, Group *g, const char *k, size_t kn, const char *v, size_t vn)
{
	uint32_t	ks,
				vs;

	if (kn == 0 || vn == 0)
		return true;
	ks = group_str(g, k, kn);
	vs = group_str(g, v, vn);
	if (ks == NONE || vs == NONE ||
		!APPEND(g->labels, g->nlabels, g->labels_cap, ks) ||
		!APPEND(g->labels, g->nlabels, g->labels_cap, vs))
		return oom(p);
	return true;
}

static const char *
snapshot_str(const PyroJfrLabels *l, uint64_t id, size_t *len)
{
	uint32_t	i = l ? map_get(&l->strings, id) : NONE;

	if (i == NONE)
	{
		*len = 0;
		return "";
	}
	*len = l->str[i].len;
	return (const char *) l->data + l->str[i].off;
}

/* resolve this chunk's samples of g into its profile */
static bool
group_flush(Parser *p, Group *g)
{
	size_t		max_depth = p->opt->max_stack_depth;

	for (size_t i = 0; i < g->ncs; i++)
	{
		const CSample *cs = &g->cs[i];
		uint32_t	st = map_get(&p->pool_stack, cs->stack);
		GSample		gs;
		const JStack *stack;
		size_t		first;

		if (st == NONE)
			continue;
		stack = &p->stacks[st];
		memset(&gs, 0, sizeof(gs));
		gs.loc_off = g->nlocids;
		gs.lab_off = g->nlabels;
		gs.v[0] = cs->v[0];
		gs.v[1] = cs->v[1];

		/* frames[0] is the leaf; too deep a stack keeps its root side */
		first = (max_depth && stack->n > max_depth) ? stack->n - max_depth : 0;
		for (size_t f = first; f < stack->n; f++)
		{
			const JFrame *fr = &p->frames[stack->off + f];
			const char *name = "";
			size_t		len = 0;
			bool		ok;
			uint32_t	s,
						ni = 0,
						fn,
						loc;
			uint64_t	lk;

			if (!method_name(p, fr->method, &name, &len, &ni, &ok))
				return false;
			if (!ok)
				continue;
			if (ni >= g->fn_of_name_cap)
			{
				size_t		old = g->fn_of_name_cap;

				if (!pyro_grow((void **) &g->fn_of_name, &g->fn_of_name_cap, (size_t) ni + 1,
							   sizeof(uint32_t)))
					return oom(p);
				memset(g->fn_of_name + old, 0xFF, (g->fn_of_name_cap - old) * sizeof(uint32_t));
			}
			fn = g->fn_of_name[ni];
			if (fn == NONE)
			{
				if ((s = group_str(g, name, len)) == NONE)
					return oom(p);
				fn = map_get(&g->fn_of_str, s);
				if (fn == NONE)
				{
					fn = (uint32_t) g->nfn;
					if (!map_put(&g->fn_of_str, s, fn) ||
						!APPEND(g->fn_name, g->nfn, g->fn_cap, s) ||
						!pyro_grow((void **) &g->fn_last, &g->fn_last_cap, g->nfn,
								   sizeof(uint64_t)))
						return oom(p);
					g->fn_last[fn] = UINT64_MAX;
				}
				g->fn_of_name[ni] = fn;
			}
			if (g->fn_last[fn] != UINT64_MAX && (uint32_t) (g->fn_last[fn] >> 32) == fr->line)
				loc = (uint32_t) g->fn_last[fn];
			else
			{
				lk = ((uint64_t) fn << 32) | fr->line;
				loc = map_get(&g->loc_of, lk);
				if (loc == NONE)
				{
					loc = (uint32_t) g->nloc;
					if (!map_put(&g->loc_of, lk, loc) ||
						!APPEND(g->loc_key, g->nloc, g->loc_cap, lk))
						return oom(p);
				}
				g->fn_last[fn] = ((uint64_t) fr->line << 32) | loc;
			}
			if (!APPEND(g->locids, g->nlocids, g->locids_cap, loc))
				return oom(p);
		}
		gs.nloc = (uint32_t) (g->nlocids - gs.loc_off);

		/* labels: the context's, the span's */
		if (cs->context != 0 && p->labels)
		{
			uint32_t	c = map_get(&p->labels->contexts, cs->context);

			if (c != NONE)
			{
				const JStack *ctx = &p->labels->ctx[c];

				for (uint32_t k = 0; k < ctx->n; k++)
				{
					size_t		kn,
								vn;
					const char *ks = snapshot_str(p->labels, p->labels->pairs[2 * (ctx->off + k)], &kn);
					const char *vs = snapshot_str(p->labels, p->labels->pairs[2 * (ctx->off + k) + 1], &vn);

					if (!group_label(p, g, ks, kn, vs, vn))
						return false;
				}
			}
		}
		if (cs->span != 0)
		{
			char		hex[17];

			snprintf(hex, sizeof(hex), "%016llx", (unsigned long long) cs->span);
			if (!group_label(p, g, "profile_id", 10, hex, 16))
				return false;
		}
		if (cs->span_name != 0)
		{
			size_t		n;
			const char *s = snapshot_str(p->labels, cs->span_name, &n);

			if (!group_label(p, g, "span_name", 9, s, n))
				return false;
		}
		gs.nlab = (uint32_t) ((g->nlabels - gs.lab_off) / 2);
		if (!APPEND(g->samples, g->nsamples, g->samples_cap, gs))
			return oom(p);
		if (p->opt->max_samples && g->nsamples > p->opt->max_samples)
		{
			pyro_error_set(p->err, PYRO_ELIMIT,
						   "JFR recording makes a %s profile of more than %zu samples",
						   group_defs[g - p->groups].name, p->opt->max_samples);
			return false;
		}
	}
	g->ncs = 0;
	if (g->cs_slots)
		memset(g->cs_slots, 0xFF, g->cs_slots_cap * sizeof(uint32_t));
	/* the next chunk numbers its method names anew */
	if (g->fn_of_name)
		memset(g->fn_of_name, 0xFF, g->fn_of_name_cap * sizeof(uint32_t));
	return true;
}

static void
group_free(Group *g)
{
	pyro_free(g->cs);
	pyro_free(g->cs_slots);
	pyro_buf_free(&g->strbuf);
	pyro_free(g->str_off);
	pyro_free(g->str_slots);
	map_free(&g->fn_of_str);
	pyro_free(g->fn_of_name);
	pyro_free(g->fn_name);
	pyro_free(g->fn_last);
	map_free(&g->loc_of);
	pyro_free(g->loc_key);
	pyro_free(g->samples);
	pyro_free(g->locids);
	pyro_free(g->labels);
	memset(g, 0, sizeof(*g));
}

/* ---------------------------------------------------------------------
 * pprof encoding of a group
 * ---------------------------------------------------------------------
 */
static void
pb_tag(PyroBuf *b, uint32_t field, int wt)
{
	pyro_buf_append_varint(b, ((uint64_t) field << 3) | (uint64_t) wt);
}

static void
pb_varint_field(PyroBuf *b, uint32_t field, uint64_t v)
{
	pb_tag(b, field, 0);
	pyro_buf_append_varint(b, v);
}

static void
pb_bytes_field(PyroBuf *b, uint32_t field, const void *data, size_t len)
{
	pb_tag(b, field, 2);
	pyro_buf_append_varint(b, len);
	pyro_buf_append(b, data, len);
}

static void
pb_value_type(PyroBuf *b, PyroBuf *tmp, uint32_t field, uint32_t type, uint32_t unit)
{
	tmp->len = 0;

	pb_varint_field(tmp, 1, type);
	pb_varint_field(tmp, 2, unit);
	pb_bytes_field(b, field, tmp->data, tmp->len);
}

static bool
group_encode(Parser *p, Group *g, PyroJfrProfile *out)
{
	const GroupDef *d = &group_defs[g - p->groups];
	uint32_t	types[2][2];
	uint32_t	period[2] = {0, 0};
	PyroBuf		tmp,
				tmp2;
	PyroBuf    *b = &out->pprof;

	for (int t = 0; t < d->ntypes; t++)
		for (int k = 0; k < 2; k++)
			if ((types[t][k] = group_str(g, d->types[t][k], strlen(d->types[t][k]))) == NONE)
				return oom(p);
	if (d->period[0])
		for (int k = 0; k < 2; k++)
			if ((period[k] = group_str(g, d->period[k], strlen(d->period[k]))) == NONE)
				return oom(p);

	pyro_buf_init(&tmp);
	pyro_buf_init(&tmp2);
	pyro_buf_init(b);
	for (int t = 0; t < d->ntypes; t++)
		pb_value_type(b, &tmp, 1, types[t][0], types[t][1]);
	for (size_t i = 0; i < g->nsamples; i++)
	{
		const GSample *s = &g->samples[i];

		tmp.len = 0;
		if (s->nloc)
		{
			tmp2.len = 0;
			for (uint32_t k = 0; k < s->nloc; k++)
				pyro_buf_append_varint(&tmp2, (uint64_t) g->locids[s->loc_off + k] + 1);
			pb_bytes_field(&tmp, 1, tmp2.data, tmp2.len);
		}
		tmp2.len = 0;
		for (int t = 0; t < d->ntypes; t++)
			pyro_buf_append_varint(&tmp2, (uint64_t) s->v[t]);
		pb_bytes_field(&tmp, 2, tmp2.data, tmp2.len);
		for (uint32_t k = 0; k < s->nlab; k++)
		{
			tmp2.len = 0;
			pb_varint_field(&tmp2, 1, g->labels[s->lab_off + 2 * k]);
			pb_varint_field(&tmp2, 2, g->labels[s->lab_off + 2 * k + 1]);
			pb_bytes_field(&tmp, 3, tmp2.data, tmp2.len);
		}
		pb_bytes_field(b, 2, tmp.data, tmp.len);
	}
	/* one mapping, with functions */
	tmp.len = 0;
	pb_varint_field(&tmp, 1, 1);
	pb_varint_field(&tmp, 7, 1);
	pb_bytes_field(b, 3, tmp.data, tmp.len);
	for (size_t i = 0; i < g->nloc; i++)
	{
		tmp.len = 0;
		pb_varint_field(&tmp, 1, i + 1);
		pb_varint_field(&tmp, 2, 1);
		tmp2.len = 0;
		pb_varint_field(&tmp2, 1, (g->loc_key[i] >> 32) + 1);
		if ((uint32_t) g->loc_key[i])
			pb_varint_field(&tmp2, 2, (uint32_t) g->loc_key[i]);
		pb_bytes_field(&tmp, 4, tmp2.data, tmp2.len);
		pb_bytes_field(b, 4, tmp.data, tmp.len);
	}
	for (size_t i = 0; i < g->nfn; i++)
	{
		tmp.len = 0;
		pb_varint_field(&tmp, 1, i + 1);
		pb_varint_field(&tmp, 2, g->fn_name[i]);
		pb_bytes_field(b, 5, tmp.data, tmp.len);
	}
	for (size_t i = 0; i < g->nstr; i++)
		pb_bytes_field(b, 6, g->strbuf.data + g->str_off[i], g->str_off[i + 1] - g->str_off[i]);
	if (p->opt->time_nanos)
		pb_varint_field(b, 9, (uint64_t) p->opt->time_nanos);
	if (p->opt->duration_nanos)
		pb_varint_field(b, 10, (uint64_t) p->opt->duration_nanos);
	if (d->period[0])
		pb_value_type(b, &tmp, 11, period[0], period[1]);
	if (tmp2.oom)
		tmp.oom = true;
	pyro_buf_free(&tmp2);
	if (tmp.oom || b->oom)
	{
		pyro_buf_free(&tmp);
		pyro_buf_free(b);
		return oom(p);
	}
	pyro_buf_free(&tmp);
	out->name = d->name;
	out->nsamples = g->nsamples;
	out->nevents = g->nevents;
	return true;
}

/* ---------------------------------------------------------------------
 * Events (spec §1.4.10, §1.5, §1.6)
 * ---------------------------------------------------------------------
 */
static int64_t
ticks_to_ns(const Parser *p, uint64_t ticks)
{
	int64_t		t = (int64_t) ticks;

	if (p->ticks_per_second <= 0 || p->ticks_per_second == 1000000000 || t < 0)
		return t;
	return (int64_t) ((__int128) t * 1000000000 / p->ticks_per_second);
}

/* the thread state of key: 1 sleeping, 2 runnable, 0 other, -1 unknown */
static int
thread_state(const Parser *p, const JVal *v)
{
	uint32_t	i;

	if (!v->set || (i = map_get(&p->pool_state, v->u)) == NONE)
		return -1;
	if (str_eq(p, p->strs[i], "STATE_SLEEPING"))
		return 1;
	if (str_eq(p, p->strs[i], "STATE_RUNNABLE"))
		return 2;
	return 0;
}

static bool
on_event(Parser *p, int kind, const JVal *v)
{
	CSample		key;
	bool		wall_event = p->event_setting && strcmp(p->event_setting, "wall") == 0;
	int64_t		period = p->period;

	if (kind == E_SETTING)
	{
		size_t		len;
		const char *s;

		if (!str_eq(p, v[S_NAME].s, "event"))
			return true;
		s = str_bytes(p, v[S_VALUE].s, &len);
		pyro_free(p->event_setting);
		p->event_setting = pyro_strndup(s, len);
		return p->event_setting ? true : oom(p);
	}
	if (!v[S_STACKTRACE].set || map_get(&p->pool_stack, v[S_STACKTRACE].u) == NONE)
		return true;
	memset(&key, 0, sizeof(key));
	key.stack = v[S_STACKTRACE].u;
	if (kind == E_EXECUTION || kind == E_WALL || kind == E_TLAB_IN || kind == E_TLAB_OUT ||
		kind == E_MONITOR)
	{
		key.context = v[S_CONTEXTID].u;
		key.span = v[S_SPANID].u;
		key.span_name = v[S_SPANNAME].u;
	}
	switch (kind)
	{
		case E_EXECUTION:
			{
				int			st = thread_state(p, &v[S_STATE]);

				if (st >= 0 && st != 1 && !group_add(p, &p->groups[G_CPU], &key, period, 0))
					return false;
				if (wall_event && !group_add(p, &p->groups[G_WALL], &key, period, 0))
					return false;
				return true;
			}
		case E_WALL:
			{
				int64_t		n = (int64_t) (int32_t) v[S_SAMPLES].u;
				int64_t		val = (int64_t) ((uint64_t) n * (uint64_t) period);

				if (!group_add(p, &p->groups[G_WALL], &key, val, 0))
					return false;
				if (wall_event && thread_state(p, &v[S_STATE]) == 2 &&
					!group_add(p, &p->groups[G_CPU], &key, val, 0))
					return false;
				return true;
			}
		case E_TLAB_IN:
			return group_add(p, &p->groups[G_TLAB_IN], &key, 1, (int64_t) v[S_TLABSIZE].u);
		case E_TLAB_OUT:
			return group_add(p, &p->groups[G_TLAB_OUT], &key, 1, (int64_t) v[S_ALLOCSIZE].u);
		case E_ALLOC_SAMPLE:
			return group_add(p, &p->groups[G_ALLOC_SAMPLE], &key, 1, (int64_t) v[S_WEIGHT].u);
		case E_MONITOR:
			return group_add(p, &p->groups[G_LOCK], &key, 1, ticks_to_ns(p, v[S_DURATION].u));
		case E_PARK:
			return group_add(p, &p->groups[G_PARK], &key, 1, ticks_to_ns(p, v[S_DURATION].u));
		case E_LIVE:
			return group_add(p, &p->groups[G_LIVE], &key, 1, 0);
		case E_MALLOC:
			return group_add(p, &p->groups[G_MALLOC], &key, 1, (int64_t) v[S_SIZE].u);
	}
	return true;
}

/* free what a chunk's parsing allocated */
static void
chunk_free(Parser *p)
{
	pyro_buf_free(&p->arena);
	pyro_buf_free(&p->meta);
	pyro_free(p->meta_off);
	pyro_free(p->classes);
	pyro_free(p->fields);
	map_free(&p->class_of_id);
	map_free(&p->pool_symbol);
	map_free(&p->pool_string);
	map_free(&p->pool_state);
	pyro_free(p->strs);
	map_free(&p->pool_class);
	pyro_free(p->class_names);
	map_free(&p->pool_method);
	pyro_free(p->methods);
	map_free(&p->pool_stack);
	pyro_free(p->stacks);
	pyro_free(p->frames);
	map_free(&p->method_names);
	pyro_free(p->name_off);
	pyro_buf_free(&p->names);
	map_free(&p->event_kind);
	p->meta_off = NULL;
	p->nmeta = p->meta_cap = 0;
	p->classes = NULL;
	p->nclasses = p->classes_cap = 0;
	p->fields = NULL;
	p->nfields = p->fields_cap = 0;
	p->strs = NULL;
	p->nstrs = p->strs_cap = 0;
	p->class_names = NULL;
	p->nclass_names = p->class_names_cap = 0;
	p->methods = NULL;
	p->nmethods = p->methods_cap = 0;
	p->stacks = NULL;
	p->nstacks = p->stacks_cap = 0;
	p->frames = NULL;
	p->nframes = p->frames_cap = 0;
	p->name_off = NULL;
	p->nname_off = p->name_off_cap = 0;
}

static void
buf_clear(PyroBuf *b)
{
	b->len = 0;
	b->oom = false;
}

/*
 * Empty the per-chunk state for the next chunk, keeping the memory: the
 * chunks of one recording have pools of similar sizes, and growing them
 * anew for each was a tenth of the time (page faults and copies).
 */
static void
chunk_reset(Parser *p)
{
	buf_clear(&p->arena);
	buf_clear(&p->meta);
	buf_clear(&p->names);
	map_clear(&p->class_of_id);
	map_clear(&p->pool_symbol);
	map_clear(&p->pool_string);
	map_clear(&p->pool_state);
	map_clear(&p->pool_class);
	map_clear(&p->pool_method);
	map_clear(&p->pool_stack);
	map_clear(&p->method_names);
	map_clear(&p->event_kind);
	p->nmeta = 0;
	p->nclasses = 0;
	p->nfields = 0;
	p->nstrs = 0;
	p->nclass_names = 0;
	p->nmethods = 0;
	p->nstacks = 0;
	p->nframes = 0;
	p->nname_off = 0;
}

static bool
parse_chunk(Parser *p, const uint8_t *chunk, size_t chunk_size)
{
	uint64_t	cp_off = be64(chunk + 16);
	uint64_t	meta_off = be64(chunk + 24);
	JReader		r;

	if (cp_off < HEADER_SIZE || cp_off >= chunk_size || meta_off < HEADER_SIZE ||
		meta_off >= chunk_size)
		return bad(p, "bad offsets in a chunk header");
	if ((chunk[67] & 1) == 0)
		return bad(p, "chunks without compressed integers are not supported");
	p->ticks_per_second = (int64_t) be64(chunk + 56);
	p->budget = (uint64_t) chunk_size * 4 + 100000;
	chunk_reset(p);
	if (!parse_metadata(p, chunk, chunk_size, meta_off) ||
		!parse_checkpoints(p, chunk, chunk_size, cp_off))
		return false;

	r.p = chunk + HEADER_SIZE;
	r.end = chunk + chunk_size;
	while (r.p < r.end)
	{
		const uint8_t *start = r.p;
		uint64_t	size,
					type;
		uint32_t	kind;
		JReader		rec;

		if (!rd_varint(&r, &size) || size == 0 || size > (uint64_t) (r.end - start))
			return bad(p, "bad record size");
		rec.p = r.p;
		rec.end = start + size;
		if (!rd_varint(&rec, &type))
			return bad(p, "truncated record");
		if (type > 1 && (kind = map_get(&p->event_kind, type)) != NONE)
		{
			JVal		v[NSLOTS];

			memset(v, 0, sizeof(v));
			if (!read_struct(p, &rec, map_get(&p->class_of_id, type), v, 0) ||
				!on_event(p, (int) kind, v))
				return false;
		}
		r.p = start + size;
	}
	for (int g = 0; g < NGROUPS; g++)
		if (!group_flush(p, &p->groups[g]))
			return false;
	return true;
}

static void
parser_free(Parser *p)
{
	chunk_free(p);
	pyro_free(p->event_setting);
	for (int g = 0; g < NGROUPS; g++)
		group_free(&p->groups[g]);
}

void
pyro_jfr_result_free(PyroJfrResult *r)
{
	for (size_t i = 0; i < r->nprofiles; i++)
		pyro_buf_free(&r->profiles[i].pprof);
	pyro_free(r->event);
	memset(r, 0, sizeof(*r));
}

PyroStatus
pyro_jfr_convert(const uint8_t *data, size_t len, const PyroJfrLabels *labels,
				 const PyroJfrOptions *opt, PyroJfrResult *out, PyroError *err)
{
	Parser		p;
	size_t		off = 0;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.base = data;
	p.base_len = len;
	p.labels = labels;
	p.opt = opt;
	p.err = err;
	p.period = opt->sample_rate > 0 ? 1000000000 / opt->sample_rate : 0;
	pyro_buf_init(&p.arena);
	pyro_buf_init(&p.meta);
	pyro_buf_init(&p.names);

	if (len < HEADER_SIZE)
		ok = bad(&p, "too short for a chunk header");
	while (ok && off < len)
	{
		const uint8_t *c = data + off;
		uint64_t	size;
		uint16_t	major;

		if (len - off < HEADER_SIZE || memcmp(c, "FLR\0", 4) != 0)
		{
			ok = bad(&p, "bad chunk magic");
			break;
		}
		major = (uint16_t) ((c[4] << 8) | c[5]);
		size = be64(c + 8);
		if (major != 2)
			ok = bad(&p, "unsupported format version");
		else if (size < HEADER_SIZE || size > len - off)
			ok = bad(&p, "bad chunk size");
		else
		{
			if (out->nchunks == 0)
				out->start_nanos = (int64_t) be64(c + 32);
			out->nchunks++;
			ok = parse_chunk(&p, c, (size_t) size);
			off += (size_t) size;
		}
	}
	for (int g = 0; ok && g < NGROUPS; g++)
	{
		if (p.groups[g].nsamples == 0)
			continue;
		if (!group_encode(&p, &p.groups[g], &out->profiles[out->nprofiles]))
			ok = false;
		else
			out->nprofiles++;
	}
	if (ok)
	{
		const char *ev = p.event_setting ? p.event_setting : "";

		out->event = pyro_strndup(ev, strlen(ev));
		if (out->event == NULL)
			ok = oom(&p);
	}
	parser_free(&p);
	if (!ok)
	{
		pyro_jfr_result_free(out);
		return err->code;
	}
	return PYRO_OK;
}

/* ---------------------------------------------------------------------
 * LabelsSnapshot (spec §1.3)
 * ---------------------------------------------------------------------
 */
static int
pair_cmp(const void *a, const void *b)
{
	const uint64_t *x = a;
	const uint64_t *y = b;

	/* by key, then by position (x[2]) so that the last of a key wins */
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[2] < y[2] ? -1 : (x[2] > y[2]);
}

static PyroStatus
labels_bad(PyroError *err, const char *what)
{
	return pyro_error_set(err, PYRO_EINVAL, "invalid JFR labels: %s", what);
}

/* one map entry: key (field 1, varint) and value (field 2) */
static bool
map_entry(const uint8_t *p, const uint8_t *end, uint64_t *key, PyroPbField *val, bool *has_val)
{
	*key = 0;
	*has_val = false;
	while (p < end)
	{
		PyroPbField f;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return false;
		if (f.field == 1 && f.wt == 0)
			*key = f.v;
		else if (f.field == 2)
		{
			*val = f;
			*has_val = true;
		}
	}
	return true;
}

void
pyro_jfr_labels_free(PyroJfrLabels *l)
{
	if (l == NULL)
		return;
	pyro_free((void *) l->data);
	map_free(&l->strings);
	pyro_free(l->str);
	map_free(&l->contexts);
	pyro_free(l->ctx);
	pyro_free(l->pairs);
	pyro_free(l);
}

PyroStatus
pyro_jfr_labels_decode(const uint8_t *data, size_t len, PyroJfrLabels **out, PyroError *err)
{
	PyroJfrLabels *l = pyro_calloc(1, sizeof(PyroJfrLabels));
	const uint8_t *p;
	const uint8_t *end;
	uint64_t   *tmp = NULL;
	size_t		ntmp = 0,
				tmp_cap = 0;
	uint8_t    *copy;

	*out = NULL;
	copy = pyro_malloc(len ? len : 1);
	if (l == NULL || copy == NULL)
	{
		pyro_free(copy);
		pyro_free(l);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding JFR labels");
	}
	memcpy(copy, data, len);
	l->data = copy;
	p = copy;
	end = copy + len;
	while (p < end)
	{
		PyroPbField f = {0},
					val = {0};
		uint64_t	key;
		bool		has_val;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			goto malformed;
		if (f.wt != 2 || (f.field != 1 && f.field != 2))
			continue;
		if (!map_entry(f.data, f.data + f.len, &key, &val, &has_val))
			goto malformed;
		if (f.field == 2)
		{
			JStr		s = {JS_DATA, 0, 0};

			if (has_val)
			{
				if (val.wt != 2)
					goto malformed;
				s.off = (uint64_t) (val.data - copy);
				s.len = (uint32_t) val.len;
			}
			if (!map_put(&l->strings, key, (uint32_t) l->nstr) ||
				!APPEND(l->str, l->nstr, l->str_cap, s))
				goto nomem;
		}
		else
		{
			JStack		c;
			const uint8_t *q;
			const uint8_t *qend;
			size_t		kept;

			c.off = l->npairs / 2;
			ntmp = 0;
			if (has_val && val.wt != 2)
				goto malformed;
			q = has_val ? val.data : NULL;
			qend = has_val ? val.data + val.len : NULL;
			while (q && q < qend)
			{
				PyroPbField lf = {0},
							lv = {0};
				uint64_t	lk;
				bool		lhas;
				uint64_t	t[3];

				if ((q = pyro_pb_next(q, qend, &lf)) == NULL)
					goto malformed;
				if (lf.field != 1 || lf.wt != 2)
					continue;
				if (!map_entry(lf.data, lf.data + lf.len, &lk, &lv, &lhas) ||
					(lhas && lv.wt != 0))
					goto malformed;
				t[0] = lk;
				t[1] = lhas ? lv.v : 0;
				t[2] = ntmp / 3;
				for (int k = 0; k < 3; k++)
					if (!APPEND(tmp, ntmp, tmp_cap, t[k]))
						goto nomem;
			}
			/* sort by key; the last entry of a key wins */
			if (ntmp)
				qsort(tmp, ntmp / 3, 3 * sizeof(uint64_t), pair_cmp);
			kept = 0;
			for (size_t k = 0; k < ntmp / 3; k++)
			{
				if (k + 1 < ntmp / 3 && tmp[3 * (k + 1)] == tmp[3 * k])
					continue;
				if (!APPEND(l->pairs, l->npairs, l->pairs_cap, tmp[3 * k]) ||
					!APPEND(l->pairs, l->npairs, l->pairs_cap, tmp[3 * k + 1]))
					goto nomem;
				kept++;
			}
			c.n = (uint32_t) kept;
			if (l->nctx >= NONE - 1 || !map_put(&l->contexts, key, (uint32_t) l->nctx) ||
				!APPEND(l->ctx, l->nctx, l->ctx_cap, c))
				goto nomem;
		}
	}
	pyro_free(tmp);
	*out = l;
	return PYRO_OK;

malformed:
	pyro_free(tmp);
	pyro_jfr_labels_free(l);
	return labels_bad(err, "malformed protobuf");
nomem:
	pyro_free(tmp);
	pyro_jfr_labels_free(l);
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding JFR labels");
}

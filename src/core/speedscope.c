/*-------------------------------------------------------------------------
 *
 * speedscope.c
 *	  speedscope JSON into profiles (spec API-2 §4).
 *
 * The document is parsed into a small tree (strict RFC 8259 JSON, UTF-8,
 * nesting bounded, nodes bounded by the input size), then read as Go's
 * encoding/json reads it into upstream's structs: keys matched without
 * regard to case, unknown keys ignored, a value of the wrong JSON type an
 * error.  Conversion follows upstream's algorithm with the corrections the
 * spec recommends: time values are x times the unit in nanoseconds,
 * rounded (upstream truncates before scaling, leaves the parent's time of
 * an evented profile unscaled and overflows for nanoseconds), and a frame
 * index equal to the frame count is refused.
 *
 *-------------------------------------------------------------------------
 */
#include "speedscope.h"

#include <math.h>
#include <stdlib.h>

#define NONE		UINT32_MAX
#define MAX_DEPTH	64
#define MIN(a, b)	((a) < (b) ? (a) : (b))

#define SCHEMA_URL	"https://www.speedscope.app/file-format-schema.json"

enum
{
	J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT
};

typedef struct JNode
{
	uint8_t		type;
	uint32_t	first;			/* first child (array, object) */
	uint32_t	next;			/* next sibling */
	uint32_t	n;				/* children */
	size_t		key_off;		/* member key: into Doc.strs */
	uint32_t	key_len;
	size_t		str_off;		/* string value: into Doc.strs */
	uint32_t	str_len;
	double		num;
} JNode;

typedef struct Doc
{
	const char *p;
	const char *end;
	JNode	   *nodes;
	size_t		nnodes;
	size_t		cap;
	PyroBuf		strs;
	PyroError  *err;
} Doc;

static PyroStatus
doc_fail(Doc *d, const char *what)
{
	return pyro_error_set(d->err, PYRO_EINVAL, "invalid speedscope JSON: %s", what);
}

static void
ws(Doc *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static uint32_t
new_node(Doc *d, uint8_t type)
{
	JNode		n;

	memset(&n, 0, sizeof(n));
	n.type = type;
	n.first = n.next = NONE;
	if (d->nnodes >= NONE - 1 ||
		(d->nnodes >= d->cap && !pyro_grow((void **) &d->nodes, &d->cap, d->nnodes + 1, sizeof(JNode))))
		return NONE;
	d->nodes[d->nnodes] = n;
	return (uint32_t) d->nnodes++;
}

static int
hex4(const char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}


/* a string at d->p (the opening quote) into d->strs */
static PyroStatus
parse_string(Doc *d, size_t *off, uint32_t *len)
{
	const char *start;

	d->p++;
	*off = d->strs.len;
	for (;;)
	{
		start = d->p;
		while (d->p < d->end && *d->p != '"' && *d->p != '\\' && (unsigned char) *d->p >= 0x20)
			d->p++;
		if (!pyro_utf8_valid(start, (size_t) (d->p - start)))
			return doc_fail(d, "invalid UTF-8 in a string");
		pyro_buf_append(&d->strs, start, (size_t) (d->p - start));
		if (d->p >= d->end)
			return doc_fail(d, "unterminated string");
		if (*d->p == '"')
		{
			d->p++;
			break;
		}
		if ((unsigned char) *d->p < 0x20)
			return doc_fail(d, "control character in a string");
		/* an escape */
		if (d->end - d->p < 2)
			return doc_fail(d, "unterminated string");
		d->p++;
		switch (*d->p++)
		{
			case '"':
				pyro_buf_append_byte(&d->strs, '"');
				break;
			case '\\':
				pyro_buf_append_byte(&d->strs, '\\');
				break;
			case '/':
				pyro_buf_append_byte(&d->strs, '/');
				break;
			case 'b':
				pyro_buf_append_byte(&d->strs, '\b');
				break;
			case 'f':
				pyro_buf_append_byte(&d->strs, '\f');
				break;
			case 'n':
				pyro_buf_append_byte(&d->strs, '\n');
				break;
			case 'r':
				pyro_buf_append_byte(&d->strs, '\r');
				break;
			case 't':
				pyro_buf_append_byte(&d->strs, '\t');
				break;
			case 'u':
				{
					int			c;

					if (d->end - d->p < 4 || (c = hex4(d->p)) < 0)
						return doc_fail(d, "bad \\u escape");
					d->p += 4;
					if (c >= 0xD800 && c <= 0xDBFF && d->end - d->p >= 6 && d->p[0] == '\\' &&
						d->p[1] == 'u')
					{
						int			lo = hex4(d->p + 2);

						if (lo >= 0xDC00 && lo <= 0xDFFF)
						{
							d->p += 6;
							c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
						}
					}
					if (c >= 0xD800 && c <= 0xDFFF)
						c = 0xFFFD;
					pyro_buf_append_utf8(&d->strs, (uint32_t) c);
					break;
				}
			default:
				return doc_fail(d, "bad escape in a string");
		}
	}
	if (d->strs.oom)
		return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory parsing speedscope JSON");
	if (d->strs.len - *off > UINT32_MAX)
		return doc_fail(d, "string too long");
	*len = (uint32_t) (d->strs.len - *off);
	return PYRO_OK;
}

static PyroStatus
parse_number(Doc *d, double *out)
{
	const char *s = d->p;
	char		buf[64];

	if (d->p < d->end && *d->p == '-')
		d->p++;
	if (d->p >= d->end || *d->p < '0' || *d->p > '9')
		return doc_fail(d, "bad number");
	if (*d->p == '0')
		d->p++;
	else
		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
	if (d->p < d->end && *d->p == '.')
	{
		d->p++;
		if (d->p >= d->end || *d->p < '0' || *d->p > '9')
			return doc_fail(d, "bad number");
		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
	}
	if (d->p < d->end && (*d->p == 'e' || *d->p == 'E'))
	{
		d->p++;
		if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
			d->p++;
		if (d->p >= d->end || *d->p < '0' || *d->p > '9')
			return doc_fail(d, "bad number");
		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
	}
	if ((size_t) (d->p - s) >= sizeof(buf))
		return doc_fail(d, "number too long");
	memcpy(buf, s, (size_t) (d->p - s));
	buf[d->p - s] = '\0';
	*out = strtod(buf, NULL);
	if (!isfinite(*out))
		return doc_fail(d, "number out of range");
	return PYRO_OK;
}

static PyroStatus
parse_value(Doc *d, int depth, uint32_t *out)
{
	uint32_t	id = NONE;
	PyroStatus	st;

	if (depth > MAX_DEPTH)
		return pyro_error_set(d->err, PYRO_ELIMIT, "speedscope JSON nested too deeply");
	ws(d);
	if (d->p >= d->end)
		return doc_fail(d, "unexpected end of input");
	switch (*d->p)
	{
		case '{':
		case '[':
			{
				bool		obj = *d->p == '{';
				uint32_t	last = NONE;

				if ((id = new_node(d, obj ? J_OBJECT : J_ARRAY)) == NONE)
					return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory parsing speedscope JSON");
				d->p++;
				ws(d);
				if (d->p < d->end && *d->p == (obj ? '}' : ']'))
				{
					d->p++;
					break;
				}
				for (;;)
				{
					size_t		koff = 0;
					uint32_t	klen = 0,
								child;

					if (obj)
					{
						ws(d);
						if (d->p >= d->end || *d->p != '"')
							return doc_fail(d, "expected a member name");
						if ((st = parse_string(d, &koff, &klen)) != PYRO_OK)
							return st;
						ws(d);
						if (d->p >= d->end || *d->p != ':')
							return doc_fail(d, "expected ':'");
						d->p++;
					}
					if ((st = parse_value(d, depth + 1, &child)) != PYRO_OK)
						return st;
					d->nodes[child].key_off = koff;
					d->nodes[child].key_len = klen;
					if (last == NONE)
						d->nodes[id].first = child;
					else
						d->nodes[last].next = child;
					last = child;
					d->nodes[id].n++;
					ws(d);
					if (d->p < d->end && *d->p == ',')
					{
						d->p++;
						continue;
					}
					if (d->p < d->end && *d->p == (obj ? '}' : ']'))
					{
						d->p++;
						break;
					}
					return doc_fail(d, obj ? "expected ',' or '}'" : "expected ',' or ']'");
				}
				break;
			}
		case '"':
			{
				size_t		off;
				uint32_t	len;

				if ((st = parse_string(d, &off, &len)) != PYRO_OK)
					return st;
				if ((id = new_node(d, J_STRING)) == NONE)
					return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory parsing speedscope JSON");
				d->nodes[id].str_off = off;
				d->nodes[id].str_len = len;
				break;
			}
		case 't':
		case 'f':
		case 'n':
			{
				const char *lit = *d->p == 't' ? "true" : *d->p == 'f' ? "false" : "null";
				size_t		l = strlen(lit);

				if ((size_t) (d->end - d->p) < l || memcmp(d->p, lit, l) != 0)
					return doc_fail(d, "bad literal");
				d->p += l;
				if ((id = new_node(d, lit[0] == 't' ? J_TRUE : lit[0] == 'f' ? J_FALSE : J_NULL)) == NONE)
					return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory parsing speedscope JSON");
				break;
			}
		default:
			{
				double		v = 0;

				if ((st = parse_number(d, &v)) != PYRO_OK)
					return st;
				if ((id = new_node(d, J_NUMBER)) == NONE)
					return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory parsing speedscope JSON");
				d->nodes[id].num = v;
				break;
			}
	}
	*out = id;
	return PYRO_OK;
}

/* the member of object o named key (case-insensitively, the last one), or NONE */
static uint32_t
member(const Doc *d, uint32_t o, const char *key)
{
	uint32_t	found = NONE;
	size_t		kl = strlen(key);

	if (o == NONE || d->nodes[o].type != J_OBJECT)
		return NONE;
	for (uint32_t c = d->nodes[o].first; c != NONE; c = d->nodes[c].next)
	{
		const char *k = (const char *) d->strs.data + d->nodes[c].key_off;

		if (d->nodes[c].key_len != kl)
			continue;
		for (size_t i = 0; i <= kl; i++)
		{
			char		a,
						b;

			if (i == kl)
			{
				found = c;
				break;
			}
			a = k[i];
			b = key[i];
			if (a >= 'A' && a <= 'Z')
				a += 'a' - 'A';
			if (b >= 'A' && b <= 'Z')
				b += 'a' - 'A';
			if (a != b)
				break;
		}
	}
	/* null reads as absent, as in Go */
	if (found != NONE && d->nodes[found].type == J_NULL)
		return NONE;
	return found;
}

static bool
is_type(const Doc *d, uint32_t n, uint8_t type)
{
	return n == NONE || d->nodes[n].type == type;
}

static const char *
str_of(const Doc *d, uint32_t n, size_t *len)
{
	if (n == NONE)
	{
		*len = 0;
		return "";
	}
	*len = d->nodes[n].str_len;
	return (const char *) d->strs.data + d->nodes[n].str_off;
}

static double
num_of(const Doc *d, uint32_t n)
{
	return n == NONE ? 0 : d->nodes[n].num;
}

/* ---------------------------------------------------------------------
 * Conversion
 * ---------------------------------------------------------------------
 */
typedef struct SProfile
{
	uint32_t	node;			/* the first profile object of the group */
	double		start;
	uint32_t   *members;		/* profile objects merged into it */
	size_t		nmembers;
	size_t		members_cap;
} SProfile;

typedef struct Build
{
	const Doc  *d;
	PyroError  *err;
	uint32_t   *frame_names;	/* node of each shared frame's name */
	size_t		nframes;
	PyroProfile *prof;
	uint32_t   *loc_of_frame;	/* NONE = not interned yet */
	int64_t    *node_value;		/* value per stack node */
	size_t		node_value_cap;
	double		factor;
} Build;

static PyroStatus
bfail(Build *b, const char *fmt, const char *arg)
{
	return pyro_error_set(b->err, PYRO_EINVAL, fmt, arg);
}

/* the stack node of frame f under parent */
static uint32_t
push_frame(Build *b, uint32_t parent, size_t f)
{
	PyroSymbols *sym = b->prof->sym;

	if (b->loc_of_frame[f] == NONE)
	{
		PyroFunction fn;
		PyroLine	line;
		size_t		len;
		const char *s = str_of(b->d, b->frame_names[f], &len);
		uint32_t	name = pyro_sym_intern_string(sym, s, len);

		if (name == PYRO_NO_INDEX)
			return NONE;
		memset(&fn, 0, sizeof(fn));
		fn.name = name;
		fn.system_name = name;
		line.function = pyro_sym_intern_function(sym, &fn);
		line.line = 0;
		if (line.function == PYRO_NO_INDEX)
			return NONE;
		b->loc_of_frame[f] = pyro_sym_intern_location(sym, 0, 0, &line, 1);
		if (b->loc_of_frame[f] == PYRO_NO_INDEX)
			return NONE;
	}
	return pyro_sym_intern_stack(sym, parent, b->loc_of_frame[f]);
}

/* add x (in the profile's unit) to stack node n */
static PyroStatus
add_value(Build *b, uint32_t n, double x)
{
	double		v = round(x * b->factor);

	if (n == NONE)
		return pyro_error_set(b->err, PYRO_ENOMEM, "out of memory converting speedscope");
	if (!(v >= 0 && v < 9.2e18))
		return pyro_error_set(b->err, PYRO_EINVAL, "speedscope value out of range");
	if (n >= b->node_value_cap)
	{
		size_t		old = b->node_value_cap;

		if (!pyro_grow((void **) &b->node_value, &b->node_value_cap, (size_t) n + 1, sizeof(int64_t)))
			return pyro_error_set(b->err, PYRO_ENOMEM, "out of memory converting speedscope");
		memset(b->node_value + old, 0, (b->node_value_cap - old) * sizeof(int64_t));
	}
	if (__builtin_add_overflow(b->node_value[n], (int64_t) v, &b->node_value[n]))
		return pyro_error_set(b->err, PYRO_EINVAL, "speedscope value out of range");
	return PYRO_OK;
}

static bool
frame_index(Build *b, uint32_t n, size_t *out)
{
	double		v;

	if (n == NONE || b->d->nodes[n].type != J_NUMBER)
		return false;
	v = b->d->nodes[n].num;
	if (!(v >= 0 && v < (double) b->nframes) || v != floor(v))
		return false;
	*out = (size_t) v;
	return true;
}

static PyroStatus
convert_evented(Build *b, const SProfile *sp)
{
	const Doc  *d = b->d;
	uint32_t   *stack = NULL;	/* node per depth */
	size_t	   *frames = NULL;
	size_t		depth = 0,
				cap = 0,
				fcap = 0;
	double		last = sp->start;
	PyroStatus	st = PYRO_OK;

	for (size_t m = 0; m < sp->nmembers && st == PYRO_OK; m++)
	{
		uint32_t	events = member(d, sp->members[m], "events");

		if (!is_type(d, events, J_ARRAY))
		{
			st = bfail(b, "invalid speedscope profile: %s", "events is not an array");
			break;
		}
		for (uint32_t e = events == NONE ? NONE : d->nodes[events].first; e != NONE && st == PYRO_OK;
			 e = d->nodes[e].next)
		{
			uint32_t	type = member(d, e, "type");
			uint32_t	at_n = member(d, e, "at");
			size_t		f,
						tlen;
			const char *t;
			double		at;

			if (d->nodes[e].type != J_OBJECT || !is_type(d, type, J_STRING) ||
				!is_type(d, at_n, J_NUMBER))
			{
				st = bfail(b, "invalid speedscope profile: %s", "malformed event");
				break;
			}
			at = num_of(d, at_n);
			t = str_of(d, type, &tlen);
			if (at < last)
			{
				st = bfail(b, "invalid speedscope profile: %s", "events out of order");
				break;
			}
			if (!frame_index(b, member(d, e, "frame"), &f))
			{
				st = bfail(b, "invalid speedscope profile: %s", "invalid frame");
				break;
			}
			if (tlen == 1 && t[0] == 'O')
			{
				uint32_t	n;

				if (depth > 0 && (st = add_value(b, stack[depth - 1], at - last)) != PYRO_OK)
					break;
				n = push_frame(b, depth ? stack[depth - 1] : 0, f);
				if (n == NONE ||
					(depth >= cap && !pyro_grow((void **) &stack, &cap, depth + 1, sizeof(uint32_t))) ||
					(depth >= fcap && !pyro_grow((void **) &frames, &fcap, depth + 1, sizeof(size_t))))
				{
					st = pyro_error_set(b->err, PYRO_ENOMEM, "out of memory converting speedscope");
					break;
				}
				stack[depth] = n;
				frames[depth++] = f;
			}
			else if (tlen == 1 && t[0] == 'C')
			{
				if (depth == 0 || frames[depth - 1] != f)
				{
					st = bfail(b, "invalid speedscope profile: %s",
							   depth == 0 ? "closing a frame that is not open" : "closing non-open frame");
					break;
				}
				if ((st = add_value(b, stack[depth - 1], at - last)) != PYRO_OK)
					break;
				depth--;
			}
			else
			{
				st = bfail(b, "invalid speedscope profile: %s", "unknown event type");
				break;
			}
			last = at;
		}
	}
	pyro_free(stack);
	pyro_free(frames);
	return st;
}

static PyroStatus
convert_sampled(Build *b, const SProfile *sp)
{
	const Doc  *d = b->d;

	for (size_t m = 0; m < sp->nmembers; m++)
	{
		uint32_t	samples = member(d, sp->members[m], "samples");
		uint32_t	weights = member(d, sp->members[m], "weights");
		uint32_t	s,
					w;

		if (!is_type(d, samples, J_ARRAY) || !is_type(d, weights, J_ARRAY))
			return bfail(b, "invalid speedscope profile: %s", "samples or weights is not an array");
		if ((samples == NONE ? 0 : d->nodes[samples].n) != (weights == NONE ? 0 : d->nodes[weights].n))
			return bfail(b, "invalid speedscope profile: %s", "samples and weights differ in length");
		if (samples == NONE || weights == NONE || d->nodes[samples].n == 0)
			continue;			/* nothing to add (the lengths are equal) */
		for (s = d->nodes[samples].first, w = d->nodes[weights].first; s != NONE;
			 s = d->nodes[s].next, w = d->nodes[w].next)
		{
			uint32_t	node = 0;
			double		weight;
			PyroStatus	st;

			if (d->nodes[s].type != J_ARRAY || d->nodes[w].type != J_NUMBER)
				return bfail(b, "invalid speedscope profile: %s", "malformed sample");
			weight = d->nodes[w].num;
			if (weight < 0)
				return bfail(b, "invalid speedscope profile: %s", "negative weight");
			for (uint32_t f = d->nodes[s].first; f != NONE; f = d->nodes[f].next)
			{
				size_t		fi;

				if (!frame_index(b, f, &fi))
					return bfail(b, "invalid speedscope profile: %s", "invalid frame");
				if ((node = push_frame(b, node, fi)) == NONE)
					return pyro_error_set(b->err, PYRO_ENOMEM, "out of memory converting speedscope");
			}
			if (node != 0 && (st = add_value(b, node, weight)) != PYRO_OK)
				return st;
		}
	}
	return PYRO_OK;
}

void
pyro_speedscope_free(PyroSpeedscope *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nprofiles; i++)
	{
		pyro_free(s->profiles[i].name);
		pyro_free(s->profiles[i].unit);
		if (s->profiles[i].prof)
			pyro_profile_free(s->profiles[i].prof);
	}
	pyro_free(s->profiles);
	pyro_free(s);
}

static int
sprofile_cmp(const void *a, const void *b)
{
	const SProfile *x = a;
	const SProfile *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->node < y->node ? -1 : (x->node > y->node);	/* stable */
}

static bool
same_str(const Doc *d, uint32_t a, uint32_t b)
{
	size_t		la,
				lb;
	const char *sa = str_of(d, a, &la);
	const char *sb = str_of(d, b, &lb);

	return la == lb && memcmp(sa, sb, la) == 0;
}

static const struct
{
	const char *unit;
	double		ns;				/* 0: "none" (none_ns), -1: bytes */
}			units[] = {
	{"none", 0}, {"nanoseconds", 1}, {"microseconds", 1e3}, {"milliseconds", 1e6},
	{"seconds", 1e9}, {"bytes", -1}
};

PyroStatus
pyro_speedscope_parse(const char *json, size_t len, int64_t none_ns, PyroSpeedscope **out,
					  PyroError *err)
{
	Doc			d;
	uint32_t	root,
				schema,
				shared,
				frames,
				profiles;
	SProfile   *groups = NULL;
	size_t		ngroups = 0,
				gcap = 0;
	PyroSpeedscope *res = NULL;
	Build		b;
	PyroStatus	st;
	size_t		slen;
	const char *s;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	memset(&b, 0, sizeof(b));
	d.p = json;
	d.end = json + len;
	d.err = err;
	pyro_buf_init(&d.strs);
	if ((st = parse_value(&d, 0, &root)) != PYRO_OK)
		goto done;
	ws(&d);
	if (d.p != d.end)
	{
		st = doc_fail(&d, "trailing characters after the document");
		goto done;
	}
	if (d.nodes[root].type != J_OBJECT)
	{
		st = doc_fail(&d, "the document is not an object");
		goto done;
	}
	schema = member(&d, root, "$schema");
	s = str_of(&d, schema, &slen);
	if (!is_type(&d, schema, J_STRING) || slen != strlen(SCHEMA_URL) || memcmp(s, SCHEMA_URL, slen) != 0)
	{
		st = pyro_error_set(err, PYRO_EINVAL, "unknown speedscope schema (\"$schema\" must be %s)",
							SCHEMA_URL);
		goto done;
	}
	shared = member(&d, root, "shared");
	frames = member(&d, shared, "frames");
	profiles = member(&d, root, "profiles");
	if (!is_type(&d, shared, J_OBJECT) || !is_type(&d, frames, J_ARRAY) ||
		!is_type(&d, profiles, J_ARRAY))
	{
		st = doc_fail(&d, "\"shared\", \"shared.frames\" or \"profiles\" has the wrong type");
		goto done;
	}

	/* the frames' names */
	b.d = &d;
	b.err = err;
	b.nframes = frames == NONE ? 0 : d.nodes[frames].n;
	b.frame_names = pyro_calloc(b.nframes + 1, sizeof(uint32_t));
	b.loc_of_frame = pyro_malloc((b.nframes + 1) * sizeof(uint32_t));
	if (b.frame_names == NULL || b.loc_of_frame == NULL)
	{
		st = pyro_error_set(err, PYRO_ENOMEM, "out of memory converting speedscope");
		goto done;
	}
	{
		size_t		i = 0;

		for (uint32_t f = frames == NONE ? NONE : d.nodes[frames].first; f != NONE; f = d.nodes[f].next)
		{
			uint32_t	name = member(&d, f, "name");

			if (d.nodes[f].type != J_OBJECT || !is_type(&d, name, J_STRING))
			{
				st = doc_fail(&d, "a frame is not an object with a string name");
				goto done;
			}
			b.frame_names[i++] = name;
		}
	}

	/* merge equal profiles (name, type, unit, startValue), in input order */
	for (uint32_t p = profiles == NONE ? NONE : d.nodes[profiles].first; p != NONE; p = d.nodes[p].next)
	{
		uint32_t	start = member(&d, p, "startValue");
		size_t		g;

		if (d.nodes[p].type != J_OBJECT || !is_type(&d, member(&d, p, "name"), J_STRING) ||
			!is_type(&d, member(&d, p, "type"), J_STRING) ||
			!is_type(&d, member(&d, p, "unit"), J_STRING) || !is_type(&d, start, J_NUMBER))
		{
			st = doc_fail(&d, "a profile is not an object with string name, type and unit");
			goto done;
		}
		for (g = 0; g < ngroups; g++)
		{
			uint32_t	q = groups[g].node;

			if (same_str(&d, member(&d, p, "name"), member(&d, q, "name")) &&
				same_str(&d, member(&d, p, "type"), member(&d, q, "type")) &&
				same_str(&d, member(&d, p, "unit"), member(&d, q, "unit")) &&
				num_of(&d, start) == groups[g].start)
				break;
		}
		if (g == ngroups)
		{
			SProfile	sp;

			memset(&sp, 0, sizeof(sp));
			sp.node = p;
			sp.start = num_of(&d, start);
			if (!pyro_grow((void **) &groups, &gcap, ngroups + 1, sizeof(SProfile)))
			{
				st = pyro_error_set(err, PYRO_ENOMEM, "out of memory converting speedscope");
				goto done;
			}
			groups[ngroups++] = sp;
		}
		if (!pyro_grow((void **) &groups[g].members, &groups[g].members_cap, groups[g].nmembers + 1,
					   sizeof(uint32_t)))
		{
			st = pyro_error_set(err, PYRO_ENOMEM, "out of memory converting speedscope");
			goto done;
		}
		groups[g].members[groups[g].nmembers++] = p;
	}
	if (ngroups > 1)
		qsort(groups, ngroups, sizeof(SProfile), sprofile_cmp);

	res = pyro_calloc(1, sizeof(PyroSpeedscope));
	if (res == NULL || (ngroups && (res->profiles = pyro_calloc(ngroups, sizeof(PyroSpeedscopeProfile))) == NULL))
	{
		st = pyro_error_set(err, PYRO_ENOMEM, "out of memory converting speedscope");
		goto done;
	}
	for (size_t g = 0; g < ngroups; g++)
	{
		PyroSpeedscopeProfile *sp = &res->profiles[res->nprofiles];
		size_t		tlen,
					ulen,
					nlen;
		const char *type = str_of(&d, member(&d, groups[g].node, "type"), &tlen);
		const char *unit = str_of(&d, member(&d, groups[g].node, "unit"), &ulen);
		const char *name = str_of(&d, member(&d, groups[g].node, "name"), &nlen);
		PyroSymbols *sym;
		int			u;

		for (u = 0; u < (int) (sizeof(units) / sizeof(units[0])); u++)
			if (strlen(units[u].unit) == ulen && memcmp(units[u].unit, unit, ulen) == 0)
				break;
		if (u == (int) (sizeof(units) / sizeof(units[0])))
		{
			st = pyro_error_set(err, PYRO_EINVAL, "invalid speedscope profile unit \"%.*s\"",
								(int) MIN(ulen, 64), unit);
			goto done;
		}
		b.factor = units[u].ns > 0 ? units[u].ns : units[u].ns == 0 && none_ns > 0 ? (double) none_ns : 1;
		sp->name = pyro_strndup(name, nlen);
		sp->unit = pyro_strndup(units[u].unit, strlen(units[u].unit));
		res->nprofiles++;
		sym = pyro_symbols_create();
		if (sp->name == NULL || sp->unit == NULL || sym == NULL ||
			(sp->prof = pyro_profile_create(sym, true)) == NULL)
		{
			if (sym && sp->prof == NULL)
				pyro_symbols_free(sym);
			st = pyro_error_set(err, PYRO_ENOMEM, "out of memory converting speedscope");
			goto done;
		}
		b.prof = sp->prof;
		memset(b.loc_of_frame, 0xFF, (b.nframes + 1) * sizeof(uint32_t));
		if (b.node_value)
			memset(b.node_value, 0, b.node_value_cap * sizeof(int64_t));
		if (tlen == 7 && memcmp(type, "evented", 7) == 0)
			st = convert_evented(&b, &groups[g]);
		else if (tlen == 7 && memcmp(type, "sampled", 7) == 0)
			st = convert_sampled(&b, &groups[g]);
		else
			st = pyro_error_set(err, PYRO_EINVAL, "invalid speedscope profile type \"%.*s\"",
								(int) MIN(tlen, 64), type);
		if (st != PYRO_OK)
			goto done;
		/* one sample per stack with a value */
		for (size_t n = 1; n < b.node_value_cap && n < sym->nstacks; n++)
			if (b.node_value[n] > 0 &&
				!pyro_profile_add_sample(sp->prof, (uint32_t) n, b.node_value[n], 0))
			{
				st = pyro_error_set(err, PYRO_ENOMEM, "out of memory converting speedscope");
				goto done;
			}
	}
	st = PYRO_OK;

done:
	for (size_t g = 0; g < ngroups; g++)
		pyro_free(groups[g].members);
	pyro_free(groups);
	pyro_free(b.frame_names);
	pyro_free(b.loc_of_frame);
	pyro_free(b.node_value);
	pyro_free(d.nodes);
	pyro_buf_free(&d.strs);
	if (st != PYRO_OK)
	{
		pyro_speedscope_free(res);
		return st;
	}
	*out = res;
	return PYRO_OK;
}

/*-------------------------------------------------------------------------
 *
 * connect_json.c
 *	  Protobuf-JSON <-> protobuf-c messages for Connect's application/json
 *	  codec (spec §3), driven entirely by protobuf-c descriptors.
 *
 * The parser is a recursive-descent RFC 8259 parser that writes straight
 * into the message being built; recursion is bounded by
 * PYRO_JSON_MAX_DEPTH, every byte is looked at a bounded number of times,
 * and the memory it allocates is bounded by a budget proportional to the
 * input size.  Whatever has been attached to the message when an error
 * occurs is freed by protobuf_c_message_free_unpacked, so every
 * intermediate state keeps the message consistent (counts match arrays,
 * pointers are either defaults or owned).
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "connect_json.h"
#include "pbc_alloc.h"
#include "pbwire.h"

#define MEMBER_PTR(msg, off)	((void *) ((char *) (msg) + (off)))
#define CMEMBER_PTR(msg, off)	((const void *) ((const char *) (msg) + (off)))

typedef struct JParser
{
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	int			depth;
	size_t		budget;			/* bytes the parser may still allocate */
	PyroBuf		scratch;		/* decoded strings and number copies */
	PyroError  *err;
} JParser;

static PyroStatus parse_object(JParser *jp, ProtobufCMessage *msg);
static PyroStatus skip_value(JParser *jp);

/* ----------------------------------------------------------------
 * lexical helpers
 * ---------------------------------------------------------------- */

static PyroStatus
jp_fail(JParser *jp, const char *what)
{
	return pyro_error_set(jp->err, PYRO_EINVAL, "invalid JSON at offset %zu: %s",
						  (size_t) (jp->p - jp->start), what);
}

static void
jp_ws(JParser *jp)
{
	while (jp->p < jp->end &&
		   (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

/* allocation charged against the parser's budget */
static void *
jp_alloc(JParser *jp, size_t size)
{
	void	   *r;

	if (size > jp->budget)
	{
		pyro_error_set(jp->err, PYRO_ELIMIT,
					   "JSON message needs more memory than its size allows");
		return NULL;
	}
	r = pyro_malloc(size > 0 ? size : 1);
	if (r == NULL)
	{
		pyro_error_set(jp->err, PYRO_ENOMEM, "out of memory parsing JSON");
		return NULL;
	}
	jp->budget -= size;
	return r;
}

static bool
jp_charge(JParser *jp, size_t size)
{
	if (size > jp->budget)
	{
		pyro_error_set(jp->err, PYRO_ELIMIT,
					   "JSON message needs more memory than its size allows");
		return false;
	}
	jp->budget -= size;
	return true;
}

static bool
jp_literal(JParser *jp, const char *lit)
{
	size_t		n = strlen(lit);

	if ((size_t) (jp->end - jp->p) >= n && memcmp(jp->p, lit, n) == 0)
	{
		jp->p += n;
		return true;
	}
	return false;
}

static bool
read_hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
	uint32_t	v = 0;
	int			i;

	if (end - p < 4)
		return false;
	for (i = 0; i < 4; i++)
	{
		int			h = pyro_hex_digit(p[i]);

		if (h < 0)
			return false;
		v = (v << 4) | (uint32_t) h;
	}
	*out = v;
	return true;
}


/*
 * Decode the JSON string at jp->p (which must be '"') into jp->scratch,
 * replacing its contents and NUL-terminating it.  Escapes, surrogate pairs
 * and UTF-8 validity are checked.
 */
static PyroStatus
parse_string(JParser *jp)
{
	PyroBuf    *b = &jp->scratch;

	b->len = 0;
	if (jp->p >= jp->end || *jp->p != '"')
		return jp_fail(jp, "expected a string");
	jp->p++;
	for (;;)
	{
		const unsigned char *run = jp->p;

		while (jp->p < jp->end && *jp->p != '"' && *jp->p != '\\' && *jp->p >= 0x20)
			jp->p++;
		if (jp->p > run)
			pyro_buf_append(b, run, (size_t) (jp->p - run));
		if (jp->p >= jp->end)
			return jp_fail(jp, "unterminated string");
		if (*jp->p == '"')
		{
			jp->p++;
			break;
		}
		if (*jp->p < 0x20)
			return jp_fail(jp, "control character in string");
		/* backslash */
		if (jp->end - jp->p < 2)
			return jp_fail(jp, "unterminated string");
		switch (jp->p[1])
		{
			case '"':
			case '\\':
			case '/':
				pyro_buf_append_byte(b, jp->p[1]);
				jp->p += 2;
				break;
			case 'b':
				pyro_buf_append_byte(b, '\b');
				jp->p += 2;
				break;
			case 'f':
				pyro_buf_append_byte(b, '\f');
				jp->p += 2;
				break;
			case 'n':
				pyro_buf_append_byte(b, '\n');
				jp->p += 2;
				break;
			case 'r':
				pyro_buf_append_byte(b, '\r');
				jp->p += 2;
				break;
			case 't':
				pyro_buf_append_byte(b, '\t');
				jp->p += 2;
				break;
			case 'u':
				{
					uint32_t	cp;
					uint32_t	lo;

					if (!read_hex4(jp->p + 2, jp->end, &cp))
						return jp_fail(jp, "invalid \\u escape");
					if (cp >= 0xDC00 && cp <= 0xDFFF)
						return jp_fail(jp, "lone low surrogate in \\u escape");
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						if (jp->end - jp->p < 12 || jp->p[6] != '\\' || jp->p[7] != 'u' ||
							!read_hex4(jp->p + 8, jp->end, &lo) ||
							lo < 0xDC00 || lo > 0xDFFF)
							return jp_fail(jp, "lone high surrogate in \\u escape");
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						jp->p += 6;
					}
					if (cp == 0)
						return jp_fail(jp, "\\u0000 is not allowed in a string");
					pyro_buf_append_utf8(b, cp);
					jp->p += 6;
					break;
				}
			default:
				return jp_fail(jp, "invalid escape in string");
		}
	}
	if (b->oom)
		return pyro_error_set(jp->err, PYRO_ENOMEM, "out of memory parsing JSON");
	if (!pyro_utf8_valid((const char *) b->data, b->len))
		return jp_fail(jp, "string is not valid UTF-8");
	pyro_buf_append_byte(b, '\0');
	if (b->oom)
		return pyro_error_set(jp->err, PYRO_ENOMEM, "out of memory parsing JSON");
	b->len--;
	return PYRO_OK;
}

/*
 * Check that s[0..n) is a JSON number (RFC 8259 grammar, whole span).  On
 * success the positions of its parts are returned for exact integer
 * conversion.
 */
typedef struct NumParts
{
	bool		neg;
	const char *ip;				/* integer digits */
	size_t		in;
	const char *fp;				/* fraction digits */
	size_t		fn;
	bool		eneg;
	const char *ep;				/* exponent digits */
	size_t		en;
} NumParts;

static bool
number_grammar(const char *s, size_t n, NumParts *np)
{
	size_t		i = 0;

	memset(np, 0, sizeof(*np));
	if (i < n && s[i] == '-')
	{
		np->neg = true;
		i++;
	}
	if (i >= n || s[i] < '0' || s[i] > '9')
		return false;
	np->ip = s + i;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	np->in = (size_t) (s + i - np->ip);
	if (i < n && s[i] == '.')
	{
		i++;
		np->fp = s + i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		np->fn = (size_t) (s + i - np->fp);
		if (np->fn == 0)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
		{
			np->eneg = (s[i] == '-');
			i++;
		}
		np->ep = s + i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		np->en = (size_t) (s + i - np->ep);
		if (np->en == 0)
			return false;
	}
	return i == n;
}

/* scan a number token at jp->p; returns its span */
static PyroStatus
scan_number(JParser *jp, const char **s, size_t *n)
{
	const unsigned char *q = jp->p;
	NumParts	np;

	while (q < jp->end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' ||
						   *q == '.' || *q == 'e' || *q == 'E'))
		q++;
	if (!number_grammar((const char *) jp->p, (size_t) (q - jp->p), &np))
		return jp_fail(jp, "invalid number");
	*s = (const char *) jp->p;
	*n = (size_t) (q - jp->p);
	jp->p = q;
	return PYRO_OK;
}

typedef enum IntResult
{
	INT_OK,
	INT_SYNTAX,
	INT_FRACTION,
	INT_RANGE
} IntResult;

/*
 * Exact integer value of a JSON number text (fractions and exponents are
 * allowed when the value is integral, as protojson allows "1e3").
 */
static IntResult
text_to_int(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	NumParts	np;
	uint64_t	exp10 = 0;
	int64_t		e;
	size_t		ndig;
	size_t		i;
	uint64_t	v = 0;
	size_t		lastnz;
	bool		anynz = false;

	if (!number_grammar(s, n, &np))
		return INT_SYNTAX;
	*neg = np.neg;
	/* exponent, saturated */
	for (i = 0; i < np.en; i++)
	{
		if (exp10 < 100000)
			exp10 = exp10 * 10 + (uint64_t) (np.ep[i] - '0');
	}
	e = np.eneg ? -(int64_t) exp10 : (int64_t) exp10;

	/*
	 * The digit string is ip||fp with the decimal exponent e - fn.  Find the
	 * last non-zero digit so that trailing zeros move into the exponent.
	 */
	ndig = np.in + np.fn;
	lastnz = 0;
	for (i = 0; i < ndig; i++)
	{
		char		c = i < np.in ? np.ip[i] : np.fp[i - np.in];

		if (c != '0')
		{
			anynz = true;
			lastnz = i;
		}
	}
	if (!anynz)
	{
		*mag = 0;
		return INT_OK;
	}
	e -= (int64_t) np.fn;
	e += (int64_t) (ndig - 1 - lastnz);
	if (e < 0)
		return INT_FRACTION;
	for (i = 0; i <= lastnz; i++)
	{
		char		c = i < np.in ? np.ip[i] : np.fp[i - np.in];
		uint64_t	d = (uint64_t) (c - '0');

		if (v > (UINT64_MAX - d) / 10)
			return INT_RANGE;
		v = v * 10 + d;
	}
	for (; e > 0; e--)
	{
		if (v > UINT64_MAX / 10)
			return INT_RANGE;
		v *= 10;
	}
	*mag = v;
	return INT_OK;
}

/* ----------------------------------------------------------------
 * field storage helpers
 * ---------------------------------------------------------------- */

static size_t
scalar_size(ProtobufCType t)
{
	switch (t)
	{
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
		case PROTOBUF_C_TYPE_FLOAT:
		case PROTOBUF_C_TYPE_ENUM:
			return 4;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
		case PROTOBUF_C_TYPE_DOUBLE:
			return 8;
		case PROTOBUF_C_TYPE_BOOL:
			return sizeof(protobuf_c_boolean);
		case PROTOBUF_C_TYPE_STRING:
			return sizeof(char *);
		case PROTOBUF_C_TYPE_BYTES:
			return sizeof(ProtobufCBinaryData);
		case PROTOBUF_C_TYPE_MESSAGE:
			return sizeof(ProtobufCMessage *);
	}
	return 8;
}

/* free one stored value of field f at ptr (an element or a singular member) */
static void
free_value(const ProtobufCFieldDescriptor *f, void *ptr)
{
	const ProtobufCAllocator *a = pyro_protobuf_allocator();

	switch (f->type)
	{
		case PROTOBUF_C_TYPE_STRING:
			{
				char	  **sp = ptr;

				if (*sp != NULL && *sp != (const char *) f->default_value)
					pyro_free(*sp);
				*sp = f->label == PROTOBUF_C_LABEL_REPEATED ? NULL :
					(char *) f->default_value;
				break;
			}
		case PROTOBUF_C_TYPE_BYTES:
			{
				ProtobufCBinaryData *bd = ptr;
				const ProtobufCBinaryData *def = f->default_value;

				if (bd->data != NULL && (def == NULL || bd->data != def->data))
					pyro_free(bd->data);
				bd->data = NULL;
				bd->len = 0;
				break;
			}
		case PROTOBUF_C_TYPE_MESSAGE:
			{
				ProtobufCMessage **mp = ptr;

				if (*mp != NULL)
					protobuf_c_message_free_unpacked(*mp, (ProtobufCAllocator *) a);
				*mp = NULL;
				break;
			}
		default:
			if (f->default_value != NULL && f->label != PROTOBUF_C_LABEL_REPEATED)
				memcpy(ptr, f->default_value, scalar_size(f->type));
			else
				memset(ptr, 0, scalar_size(f->type));
			break;
	}
}

/* reset field f of msg to its unset state, freeing what it owns */
static void
clear_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
	{
		size_t	   *np = MEMBER_PTR(msg, f->quantifier_offset);
		void	  **arr = MEMBER_PTR(msg, f->offset);
		size_t		sz = scalar_size(f->type);
		size_t		i;

		if (*arr != NULL)
		{
			if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
				f->type == PROTOBUF_C_TYPE_MESSAGE)
				for (i = 0; i < *np; i++)
					free_value(f, (char *) *arr + i * sz);
			pyro_free(*arr);
		}
		*arr = NULL;
		*np = 0;
		return;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
	{
		uint32_t   *casep = MEMBER_PTR(msg, f->quantifier_offset);

		/* the union member is only meaningful while the case names f */
		if (*casep == f->id)
			free_value(f, MEMBER_PTR(msg, f->offset));
		else if (*casep == 0)
			memset(MEMBER_PTR(msg, f->offset), 0, scalar_size(f->type));
		*casep = 0;
		return;
	}
	free_value(f, MEMBER_PTR(msg, f->offset));
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
		f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *) MEMBER_PTR(msg, f->quantifier_offset) = 0;
}

/*
 * Before setting oneof member f, clear whichever member of the same oneof
 * is currently set (they share the storage and the case word).
 */
static void
clear_oneof(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	uint32_t   *casep = MEMBER_PTR(msg, f->quantifier_offset);
	unsigned	i;

	if (*casep == 0)
		return;
	for (i = 0; i < d->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *g = &d->fields[i];

		if ((g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			g->quantifier_offset == f->quantifier_offset && g->id == *casep)
		{
			clear_field(msg, g);
			return;
		}
	}
	*casep = 0;
}

/* mark singular field f as present after its value was stored */
static void
mark_present(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *) MEMBER_PTR(msg, f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
			 f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *) MEMBER_PTR(msg, f->quantifier_offset) = 1;
}

/* ----------------------------------------------------------------
 * values
 * ---------------------------------------------------------------- */

/*
 * Parse a numeric JSON value (number, or string holding a number) as an
 * integer of field f's type and store it at dst.
 */
static PyroStatus
parse_int_value(JParser *jp, const ProtobufCFieldDescriptor *f, void *dst)
{
	const char *s;
	size_t		n;
	bool		neg;
	uint64_t	mag;
	IntResult	r;
	PyroStatus	st;
	const unsigned char *at = jp->p;

	if (jp->p < jp->end && *jp->p == '"')
	{
		if ((st = parse_string(jp)) != PYRO_OK)
			return st;
		s = (const char *) jp->scratch.data;
		n = jp->scratch.len;
	}
	else if ((st = scan_number(jp, &s, &n)) != PYRO_OK)
		return st;
	r = text_to_int(s, n, &neg, &mag);
	if (r != INT_OK)
	{
		jp->p = at;
		return jp_fail(jp, r == INT_SYNTAX ? "expected an integer" :
					   r == INT_FRACTION ? "integer field has a fractional value" :
					   "integer out of range");
	}
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
		case PROTOBUF_C_TYPE_ENUM:
			if ((!neg && mag > INT32_MAX) || (neg && mag > (uint64_t) INT32_MAX + 1))
				break;
			*(int32_t *) dst = neg ? (int32_t) (0 - (int64_t) mag) : (int32_t) mag;
			return PYRO_OK;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			if ((neg && mag != 0) || mag > UINT32_MAX)
				break;
			*(uint32_t *) dst = (uint32_t) mag;
			return PYRO_OK;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			if ((!neg && mag > INT64_MAX) || (neg && mag > (uint64_t) INT64_MAX + 1))
				break;
			*(int64_t *) dst = neg ? (int64_t) (0 - mag) : (int64_t) mag;
			return PYRO_OK;
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			if (neg && mag != 0)
				break;
			*(uint64_t *) dst = mag;
			return PYRO_OK;
		default:
			break;
	}
	jp->p = at;
	return jp_fail(jp, "integer out of range");
}

/* Parse a double/float value: number, numeric string, NaN, +-Infinity. */
static PyroStatus
parse_float_value(JParser *jp, const ProtobufCFieldDescriptor *f, void *dst)
{
	const unsigned char *at = jp->p;
	const char *s;
	size_t		n;
	double		v;
	PyroStatus	st;
	NumParts	np;

	if (jp->p < jp->end && *jp->p == '"')
	{
		if ((st = parse_string(jp)) != PYRO_OK)
			return st;
		s = (const char *) jp->scratch.data;
		n = jp->scratch.len;
		if (n == 3 && memcmp(s, "NaN", 3) == 0)
			v = NAN;
		else if (n == 8 && memcmp(s, "Infinity", 8) == 0)
			v = INFINITY;
		else if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
			v = -INFINITY;
		else if (!number_grammar(s, n, &np))
		{
			jp->p = at;
			return jp_fail(jp, "expected a number");
		}
		else
		{
			errno = 0;
			v = strtod(s, NULL);	/* scratch is NUL-terminated */
			if (errno == ERANGE && isinf(v))
			{
				jp->p = at;
				return jp_fail(jp, "number out of range");
			}
		}
	}
	else
	{
		if ((st = scan_number(jp, &s, &n)) != PYRO_OK)
			return st;
		jp->scratch.len = 0;
		pyro_buf_append(&jp->scratch, s, n);
		pyro_buf_append_byte(&jp->scratch, '\0');
		if (jp->scratch.oom)
			return pyro_error_set(jp->err, PYRO_ENOMEM, "out of memory parsing JSON");
		errno = 0;
		v = strtod((const char *) jp->scratch.data, NULL);
		if (errno == ERANGE && isinf(v))
		{
			jp->p = at;
			return jp_fail(jp, "number out of range");
		}
	}
	if (f->type == PROTOBUF_C_TYPE_FLOAT)
	{
		if (isfinite(v) && fabs(v) > 3.4028234663852886e38)
		{
			jp->p = at;
			return jp_fail(jp, "number out of range for float");
		}
		*(float *) dst = (float) v;
	}
	else
		*(double *) dst = v;
	return PYRO_OK;
}

/*
 * Parse an enum value: a name of the enum, or an int32.  Unknown names are
 * ignored like unknown fields (*ignored set).
 */
static PyroStatus
parse_enum_value(JParser *jp, const ProtobufCFieldDescriptor *f, void *dst,
				 bool *ignored)
{
	const ProtobufCEnumDescriptor *ed = f->descriptor;
	const ProtobufCEnumValue *ev;
	PyroStatus	st;

	*ignored = false;
	if (jp->p < jp->end && *jp->p == '"')
	{
		const unsigned char *at = jp->p;

		if ((st = parse_string(jp)) != PYRO_OK)
			return st;
		ev = protobuf_c_enum_descriptor_get_value_by_name(ed,
														  (const char *) jp->scratch.data);
		if (ev != NULL && strlen(ev->name) == jp->scratch.len)
		{
			*(int32_t *) dst = ev->value;
			return PYRO_OK;
		}

		/*
		 * A numeric string is not a name; anything else is an enum value this
		 * build does not know: skip it.
		 */
		(void) at;
		*ignored = true;
		return PYRO_OK;
	}
	return parse_int_value(jp, f, dst);
}

/*
 * Parse one JSON value (not null) as a single value of field f into dst
 * (an array element or the singular member).  For messages, *dst must
 * already hold an initialised message.
 */
static PyroStatus
parse_one(JParser *jp, const ProtobufCFieldDescriptor *f, void *dst, bool *ignored)
{
	PyroStatus	st;

	*ignored = false;
	if (jp->p >= jp->end)
		return jp_fail(jp, "unexpected end of input");
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			return parse_int_value(jp, f, dst);
		case PROTOBUF_C_TYPE_FLOAT:
		case PROTOBUF_C_TYPE_DOUBLE:
			return parse_float_value(jp, f, dst);
		case PROTOBUF_C_TYPE_ENUM:
			return parse_enum_value(jp, f, dst, ignored);
		case PROTOBUF_C_TYPE_BOOL:
			if (jp_literal(jp, "true"))
				*(protobuf_c_boolean *) dst = 1;
			else if (jp_literal(jp, "false"))
				*(protobuf_c_boolean *) dst = 0;
			else
				return jp_fail(jp, "expected true or false");
			return PYRO_OK;
		case PROTOBUF_C_TYPE_STRING:
			{
				char	   *s;

				if ((st = parse_string(jp)) != PYRO_OK)
					return st;
				if (memchr(jp->scratch.data, '\0', jp->scratch.len) != NULL)
					return jp_fail(jp, "string field contains a NUL character");
				s = jp_alloc(jp, jp->scratch.len + 1);
				if (s == NULL)
					return jp->err->code;
				memcpy(s, jp->scratch.data, jp->scratch.len + 1);
				*(char **) dst = s;
				return PYRO_OK;
			}
		case PROTOBUF_C_TYPE_BYTES:
			{
				ProtobufCBinaryData *bd = dst;
				uint8_t    *data;
				size_t		n;
				bool		oom;

				if ((st = parse_string(jp)) != PYRO_OK)
					return st;
				if (!jp_charge(jp, jp->scratch.len))
					return jp->err->code;
				if (!pyro_base64_decode((const char *) jp->scratch.data, jp->scratch.len,
										&data, &n, &oom))
				{
					if (oom)
						return pyro_error_set(jp->err, PYRO_ENOMEM,
											  "out of memory parsing JSON");
					return jp_fail(jp, "bytes field is not valid base64");
				}
				bd->data = data;
				bd->len = n;
				return PYRO_OK;
			}
		case PROTOBUF_C_TYPE_MESSAGE:
			return parse_object(jp, *(ProtobufCMessage **) dst);
	}
	return jp_fail(jp, "unsupported field type");
}

/* allocate and initialise a sub-message of field f */
static ProtobufCMessage *
new_submessage(JParser *jp, const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *sd = f->descriptor;
	ProtobufCMessage *m = jp_alloc(jp, sd->sizeof_message);

	if (m != NULL)
		protobuf_c_message_init(sd, m);
	return m;
}

/* parse a JSON array into repeated field f (previous contents replaced) */
static PyroStatus
parse_repeated(JParser *jp, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	size_t	   *np = MEMBER_PTR(msg, f->quantifier_offset);
	void	  **arr = MEMBER_PTR(msg, f->offset);
	size_t		sz = scalar_size(f->type);
	size_t		cap = 0;
	PyroStatus	st;

	clear_field(msg, f);
	if (jp->p >= jp->end || *jp->p != '[')
		return jp_fail(jp, "expected an array");
	if (++jp->depth > PYRO_JSON_MAX_DEPTH)
		return pyro_error_set(jp->err, PYRO_ELIMIT,
							  "JSON nesting deeper than %d levels", PYRO_JSON_MAX_DEPTH);
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == ']')
	{
		jp->p++;
		jp->depth--;
		return PYRO_OK;
	}
	for (;;)
	{
		void	   *slot;
		bool		ignored;

		jp_ws(jp);
		if (jp->p < jp->end && *jp->p == 'n')
			return jp_fail(jp, "null is not allowed in an array field");
		if (*np == cap)
		{
			size_t		oldcap = cap;

			if (!pyro_grow(arr, &cap, *np + 1, sz))
				return pyro_error_set(jp->err, PYRO_ENOMEM, "out of memory parsing JSON");
			if (!jp_charge(jp, (cap - oldcap) * sz))
				return jp->err->code;
		}
		slot = (char *) *arr + *np * sz;
		memset(slot, 0, sz);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		{
			ProtobufCMessage *sub = new_submessage(jp, f);

			if (sub == NULL)
				return jp->err->code;
			*(ProtobufCMessage **) slot = sub;
			(*np)++;			/* owned by msg from here on */
			if ((st = parse_one(jp, f, slot, &ignored)) != PYRO_OK)
				return st;
		}
		else
		{
			if ((st = parse_one(jp, f, slot, &ignored)) != PYRO_OK)
				return st;
			if (!ignored)
				(*np)++;
		}
		jp_ws(jp);
		if (jp->p < jp->end && *jp->p == ',')
		{
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == ']')
		{
			jp->p++;
			break;
		}
		return jp_fail(jp, "expected ',' or ']' in array");
	}
	jp->depth--;
	return PYRO_OK;
}

/* parse a singular field's value (not null) */
static PyroStatus
parse_singular(JParser *jp, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	void	   *dst = MEMBER_PTR(msg, f->offset);
	bool		ignored;
	PyroStatus	st;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		clear_oneof(msg, f);
	else
		clear_field(msg, f);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
	{
		ProtobufCMessage *sub;

		if (jp->p >= jp->end || *jp->p != '{')
			return jp_fail(jp, "expected an object");
		sub = new_submessage(jp, f);
		if (sub == NULL)
			return jp->err->code;
		*(ProtobufCMessage **) dst = sub;
		mark_present(msg, f);
		return parse_one(jp, f, dst, &ignored);
	}
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES)
	{
		/* parse into a temporary so that a failure leaves the member valid */
		union
		{
			char	   *s;
			ProtobufCBinaryData b;
		}			tmp;

		memset(&tmp, 0, sizeof(tmp));
		if ((st = parse_one(jp, f, &tmp, &ignored)) != PYRO_OK)
			return st;
		memcpy(dst, &tmp, scalar_size(f->type));
		mark_present(msg, f);
		return PYRO_OK;
	}
	if ((st = parse_one(jp, f, dst, &ignored)) != PYRO_OK)
		return st;
	if (!ignored)
		mark_present(msg, f);
	return PYRO_OK;
}

/*
 * Whether key equals field name or its json_name (underscores removed, the
 * character after each underscore upper-cased).
 */
static bool
key_matches(const char *key, size_t klen, const char *name)
{
	size_t		i = 0;
	bool		upper = false;
	const char *q;

	if (strlen(name) == klen && memcmp(key, name, klen) == 0)
		return true;
	for (q = name; *q; q++)
	{
		char		c = *q;

		if (c == '_')
		{
			upper = true;
			continue;
		}
		if (upper && c >= 'a' && c <= 'z')
			c = (char) (c - 'a' + 'A');
		upper = false;
		if (i >= klen || key[i] != c)
			return false;
		i++;
	}
	return i == klen;
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *d, const char *key, size_t klen)
{
	unsigned	i;

	for (i = 0; i < d->n_fields; i++)
		if (key_matches(key, klen, d->fields[i].name))
			return &d->fields[i];
	return NULL;
}

/* skip any JSON value (used for unknown keys and ignored enum names) */
static PyroStatus
skip_value(JParser *jp)
{
	PyroStatus	st;
	const char *s;
	size_t		n;

	jp_ws(jp);
	if (jp->p >= jp->end)
		return jp_fail(jp, "unexpected end of input");
	switch (*jp->p)
	{
		case '"':
			return parse_string(jp);
		case 't':
			return jp_literal(jp, "true") ? PYRO_OK : jp_fail(jp, "invalid literal");
		case 'f':
			return jp_literal(jp, "false") ? PYRO_OK : jp_fail(jp, "invalid literal");
		case 'n':
			return jp_literal(jp, "null") ? PYRO_OK : jp_fail(jp, "invalid literal");
		case '{':
		case '[':
			{
				bool		obj = (*jp->p == '{');
				char		close = obj ? '}' : ']';

				if (++jp->depth > PYRO_JSON_MAX_DEPTH)
					return pyro_error_set(jp->err, PYRO_ELIMIT,
										  "JSON nesting deeper than %d levels",
										  PYRO_JSON_MAX_DEPTH);
				jp->p++;
				jp_ws(jp);
				if (jp->p < jp->end && *jp->p == close)
				{
					jp->p++;
					jp->depth--;
					return PYRO_OK;
				}
				for (;;)
				{
					jp_ws(jp);
					if (obj)
					{
						if ((st = parse_string(jp)) != PYRO_OK)
							return st;
						jp_ws(jp);
						if (jp->p >= jp->end || *jp->p != ':')
							return jp_fail(jp, "expected ':' after object key");
						jp->p++;
					}
					if ((st = skip_value(jp)) != PYRO_OK)
						return st;
					jp_ws(jp);
					if (jp->p < jp->end && *jp->p == ',')
					{
						jp->p++;
						continue;
					}
					if (jp->p < jp->end && *jp->p == close)
					{
						jp->p++;
						break;
					}
					return jp_fail(jp, obj ? "expected ',' or '}' in object" :
								   "expected ',' or ']' in array");
				}
				jp->depth--;
				return PYRO_OK;
			}
		default:
			if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
				return scan_number(jp, &s, &n);
			return jp_fail(jp, "unexpected character");
	}
}

/* parse a JSON object into msg (already initialised) */
static PyroStatus
parse_object(JParser *jp, ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	PyroStatus	st;

	jp_ws(jp);
	if (jp->p >= jp->end || *jp->p != '{')
		return jp_fail(jp, "expected an object");
	if (++jp->depth > PYRO_JSON_MAX_DEPTH)
		return pyro_error_set(jp->err, PYRO_ELIMIT,
							  "JSON nesting deeper than %d levels", PYRO_JSON_MAX_DEPTH);
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == '}')
	{
		jp->p++;
		jp->depth--;
		return PYRO_OK;
	}
	for (;;)
	{
		const ProtobufCFieldDescriptor *f;

		jp_ws(jp);
		if ((st = parse_string(jp)) != PYRO_OK)
			return st;
		f = find_field(d, (const char *) jp->scratch.data, jp->scratch.len);
		jp_ws(jp);
		if (jp->p >= jp->end || *jp->p != ':')
			return jp_fail(jp, "expected ':' after object key");
		jp->p++;
		jp_ws(jp);
		if (f == NULL)
			st = skip_value(jp);
		else if (jp_literal(jp, "null"))
		{
			if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
				clear_oneof(msg, f);
			else
				clear_field(msg, f);
			st = PYRO_OK;
		}
		else if (f->label == PROTOBUF_C_LABEL_REPEATED)
			st = parse_repeated(jp, msg, f);
		else
			st = parse_singular(jp, msg, f);
		if (st != PYRO_OK)
			return st;
		jp_ws(jp);
		if (jp->p < jp->end && *jp->p == ',')
		{
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == '}')
		{
			jp->p++;
			break;
		}
		return jp_fail(jp, "expected ',' or '}' in object");
	}
	jp->depth--;
	return PYRO_OK;
}

PyroStatus
pyro_json_to_message(const ProtobufCMessageDescriptor *d, const char *json,
					 size_t len, ProtobufCMessage **out, PyroError *err)
{
	JParser		jp;
	PyroError	local;
	ProtobufCMessage *msg;
	PyroStatus	st;

	*out = NULL;
	if (err == NULL)
		err = &local;
	pyro_error_clear(err);
	if (len > PYRO_JSON_MAX_INPUT)
		return pyro_error_set(err, PYRO_ELIMIT,
							  "JSON message of %zu bytes exceeds the limit of %zu bytes",
							  len, PYRO_JSON_MAX_INPUT);
	memset(&jp, 0, sizeof(jp));
	jp.start = jp.p = (const unsigned char *) (json != NULL ? json : "");
	jp.end = jp.start + (json != NULL ? len : 0);
	jp.err = err;
	/* decoded data never exceeds the input; structs may, so allow a factor */
	jp.budget = len * 16 + 65536;
	pyro_buf_init(&jp.scratch);

	msg = jp_alloc(&jp, d->sizeof_message);
	if (msg == NULL)
		return err->code;
	protobuf_c_message_init(d, msg);

	jp_ws(&jp);
	if (jp.p == jp.end)
		st = PYRO_OK;			/* empty body = empty message */
	else
	{
		st = parse_object(&jp, msg);
		if (st == PYRO_OK)
		{
			jp_ws(&jp);
			if (jp.p != jp.end)
				st = jp_fail(&jp, "unexpected data after the JSON object");
		}
	}
	pyro_buf_free(&jp.scratch);
	if (st != PYRO_OK)
	{
		protobuf_c_message_free_unpacked(msg, (ProtobufCAllocator *) pyro_protobuf_allocator());
		return st;
	}
	*out = msg;
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * output
 * ---------------------------------------------------------------- */

/* append the json_name of a proto field name */
static void
append_json_name(PyroBuf *out, const char *name)
{
	bool		upper = false;

	pyro_buf_append_byte(out, '"');
	for (; *name; name++)
	{
		char		c = *name;

		if (c == '_')
		{
			upper = true;
			continue;
		}
		if (upper && c >= 'a' && c <= 'z')
			c = (char) (c - 'a' + 'A');
		upper = false;
		pyro_buf_append_byte(out, (uint8_t) c);
	}
	pyro_buf_append(out, "\":", 2);
}

/*
 * A double as JSON: the shortest of %.15g/%.16g/%.17g that reads back to
 * the same value, or the protojson strings for non-finite values.
 */
static void
append_double(PyroBuf *out, double v)
{
	char		buf[40];
	int			prec;

	if (isnan(v))
	{
		pyro_buf_append_str(out, "\"NaN\"");
		return;
	}
	if (isinf(v))
	{
		pyro_buf_append_str(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	for (prec = 15; prec <= 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	pyro_buf_append_str(out, buf);
}

static PyroStatus emit_message(const ProtobufCMessage *m, PyroBuf *out, int depth);

/* one value of field f stored at ptr */
static PyroStatus
emit_value(const ProtobufCFieldDescriptor *f, const void *ptr, PyroBuf *out, int depth)
{
	char		buf[32];

	switch (f->type)
	{
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			snprintf(buf, sizeof(buf), "%d", (int) *(const int32_t *) ptr);
			pyro_buf_append_str(out, buf);
			break;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			snprintf(buf, sizeof(buf), "%u", (unsigned) *(const uint32_t *) ptr);
			pyro_buf_append_str(out, buf);
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			snprintf(buf, sizeof(buf), "\"%lld\"", (long long) *(const int64_t *) ptr);
			pyro_buf_append_str(out, buf);
			break;
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			snprintf(buf, sizeof(buf), "\"%llu\"",
					 (unsigned long long) *(const uint64_t *) ptr);
			pyro_buf_append_str(out, buf);
			break;
		case PROTOBUF_C_TYPE_FLOAT:
			append_double(out, (double) *(const float *) ptr);
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			append_double(out, *(const double *) ptr);
			break;
		case PROTOBUF_C_TYPE_BOOL:
			pyro_buf_append_str(out, *(const protobuf_c_boolean *) ptr ? "true" : "false");
			break;
		case PROTOBUF_C_TYPE_ENUM:
			{
				int32_t		v = *(const int32_t *) ptr;
				const ProtobufCEnumValue *ev =
				protobuf_c_enum_descriptor_get_value(f->descriptor, v);

				if (ev != NULL)
					pyro_buf_append_json_str(out, ev->name, strlen(ev->name));
				else
				{
					snprintf(buf, sizeof(buf), "%d", (int) v);
					pyro_buf_append_str(out, buf);
				}
				break;
			}
		case PROTOBUF_C_TYPE_STRING:
			{
				const char *s = *(char *const *) ptr;

				if (s == NULL)
					s = "";
				pyro_buf_append_json_str(out, s, strlen(s));
				break;
			}
		case PROTOBUF_C_TYPE_BYTES:
			{
				const ProtobufCBinaryData *bd = ptr;

				pyro_buf_append_byte(out, '"');
				if (bd->data != NULL)
					pyro_base64_append(out, bd->data, bd->len);
				pyro_buf_append_byte(out, '"');
				break;
			}
		case PROTOBUF_C_TYPE_MESSAGE:
			{
				const ProtobufCMessage *sub = *(ProtobufCMessage *const *) ptr;

				if (sub == NULL)
					pyro_buf_append_str(out, "{}");
				else
					return emit_message(sub, out, depth + 1);
				break;
			}
	}
	return PYRO_OK;
}

/* whether a singular proto3 field holds its default (and is omitted) */
static bool
is_default(const ProtobufCFieldDescriptor *f, const void *ptr)
{
	switch (f->type)
	{
		case PROTOBUF_C_TYPE_STRING:
			{
				const char *s = *(char *const *) ptr;

				return s == NULL || s[0] == '\0';
			}
		case PROTOBUF_C_TYPE_BYTES:
			return ((const ProtobufCBinaryData *) ptr)->len == 0;
		case PROTOBUF_C_TYPE_MESSAGE:
			return *(ProtobufCMessage *const *) ptr == NULL;
		case PROTOBUF_C_TYPE_BOOL:
			return *(const protobuf_c_boolean *) ptr == 0;
		default:
			{
				/* bitwise, so that -0.0 is emitted like protojson does */
				uint8_t		zero[8] = {0};

				return memcmp(ptr, zero, scalar_size(f->type)) == 0;
			}
	}
}

static PyroStatus
emit_message(const ProtobufCMessage *m, PyroBuf *out, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	bool		first = true;
	unsigned	i;
	PyroStatus	st;

	if (depth > PYRO_JSON_MAX_DEPTH)
		return PYRO_ELIMIT;
	pyro_buf_append_byte(out, '{');
	/* protobuf-c keeps descriptor fields sorted by field number */
	for (i = 0; i < d->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *ptr = CMEMBER_PTR(m, f->offset);

		if (f->label == PROTOBUF_C_LABEL_REPEATED)
		{
			size_t		n = *(const size_t *) CMEMBER_PTR(m, f->quantifier_offset);
			const char *arr = *(const char *const *) ptr;
			size_t		sz = scalar_size(f->type);
			size_t		j;

			if (n == 0 || arr == NULL)
				continue;
			if (!first)
				pyro_buf_append_byte(out, ',');
			first = false;
			append_json_name(out, f->name);
			pyro_buf_append_byte(out, '[');
			for (j = 0; j < n; j++)
			{
				if (j > 0)
					pyro_buf_append_byte(out, ',');
				if ((st = emit_value(f, arr + j * sz, out, depth)) != PYRO_OK)
					return st;
			}
			pyro_buf_append_byte(out, ']');
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		{
			if (*(const uint32_t *) CMEMBER_PTR(m, f->quantifier_offset) != f->id)
				continue;
		}
		else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
				 f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
		{
			if (!*(const protobuf_c_boolean *) CMEMBER_PTR(m, f->quantifier_offset))
				continue;
		}
		else if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_NONE)
		{
			if (is_default(f, ptr))
				continue;
		}
		else if (f->type == PROTOBUF_C_TYPE_STRING)
		{
			if (*(char *const *) ptr == NULL)
				continue;
		}
		if (!first)
			pyro_buf_append_byte(out, ',');
		first = false;
		append_json_name(out, f->name);
		if ((st = emit_value(f, ptr, out, depth)) != PYRO_OK)
			return st;
	}
	pyro_buf_append_byte(out, '}');
	return PYRO_OK;
}

PyroStatus
pyro_message_to_json(const ProtobufCMessage *m, PyroBuf *out)
{
	PyroStatus	st = emit_message(m, out, 1);

	if (st != PYRO_OK)
		return st;
	return out->oom ? PYRO_ENOMEM : PYRO_OK;
}

/* ----------------------------------------------------------------
 * Strings of binary messages
 * ----------------------------------------------------------------
 */
#define CHECK_MAX_DEPTH 32

static PyroStatus
check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
			  int depth, PyroError *err)
{
	PyroPbField f = {0};

	while (p < end)
	{
		const ProtobufCFieldDescriptor *fd;

		if ((p = pyro_pb_next(p, end, &f)) == NULL)
			return PYRO_OK;		/* malformed: the decoder says so */
		if (f.wt != 2 || (fd = protobuf_c_message_descriptor_get_field(d, f.field)) == NULL)
			continue;
		if (fd->type == PROTOBUF_C_TYPE_STRING)
		{
			if (memchr(f.data, '\0', f.len) != NULL)
				return pyro_error_set(err, PYRO_EINVAL, "field %s.%s holds a NUL byte",
									  d->short_name, fd->name);
			if (!pyro_utf8_valid((const char *) f.data, f.len))
				return pyro_error_set(err, PYRO_EINVAL, "field %s.%s is not valid UTF-8",
									  d->short_name, fd->name);
		}
		else if (fd->type == PROTOBUF_C_TYPE_MESSAGE && depth < CHECK_MAX_DEPTH)
		{
			PyroStatus	st = check_strings(fd->descriptor, f.data, f.data + f.len,
										   depth + 1, err);

			if (st != PYRO_OK)
				return st;
		}
	}
	return PYRO_OK;
}

PyroStatus
pyro_message_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
						   PyroError *err)
{
	pyro_error_clear(err);
	return check_strings(d, data, data + len, 0, err);
}

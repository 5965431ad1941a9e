/*-------------------------------------------------------------------------
 *
 * jsonb_text.c
 *	  JSON text made by the core's writers (flame graphs, label sets,
 *	  tops, ...) turned into jsonb.
 *
 *	  jsonb_in would do, but its generic parser spends most of its time
 *	  in numeric_in: a flame graph of 16,384 nodes carries 65,536 numbers,
 *	  and parsing them was 35 % of pyroscope.flamegraph()'s time, the whole
 *	  jsonb conversion 69 %.  Here an integer that fits in int64 becomes a
 *	  numeric directly (small ones shared), a string without escapes is
 *	  pointed at in place, and the values go through pushJsonbValue and
 *	  JsonbValueToJsonb as jsonb_in's do, so the result is the same jsonb:
 *	  sorted, duplicate keys dropped as jsonb_in drops them, numbers with
 *	  the scale their text has.  Anything but an object or an array at the
 *	  top, or a database encoding other than UTF-8 (\u escapes are then
 *	  converted by jsonb_in's rules), goes to jsonb_in.  The text is
 *	  checked as it is read: malformed text is an error, never a read past
 *	  its end.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#define SHARED_NUMERICS 1024

typedef struct JsonText
{
	const char *start;
	const char *p;
	const char *end;
	JsonbParseState *state;
	Numeric		shared[SHARED_NUMERICS];	/* 0 .. 1023, made when first met */
} JsonText;

static void parse_container(JsonText *t);
static void malformed(const JsonText *t) pg_attribute_noreturn();

/* what jsonb_in says of a string jsonb cannot hold */
static int
string_len(size_t len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long to represent as jsonb string"),
				 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
						   JENTRY_OFFLENMASK)));
	return (int) len;
}

static void
malformed(const JsonText *t)
{
	elog(ERROR, "malformed JSON from the core at byte %d of %d",
		 (int) (t->p - t->start), (int) (t->end - t->start));
}

static void
skip_space(JsonText *t)
{
	while (t->p < t->end && (*t->p == ' ' || *t->p == '\n' || *t->p == '\t' || *t->p == '\r'))
		t->p++;
}

static pg_wchar
read_u_escape(JsonText *t)
{
	pg_wchar	cp = 0;

	/* t->p is after "\u" */
	if (t->end - t->p < 4)
		malformed(t);
	for (int i = 0; i < 4; i++)
	{
		int			d = pyro_hex_digit((unsigned char) t->p[i]);

		if (d < 0)
			malformed(t);
		cp = (cp << 4) | d;
	}
	t->p += 4;
	return cp;
}

/* a string's value; t->p is at its opening quote */
static void
parse_string(JsonText *t, JsonbValue *v)
{
	const char *start = ++t->p;
	const char *q = start;
	StringInfoData buf;

	while (q < t->end && *q != '"' && *q != '\\')
		q++;
	if (q >= t->end)
		malformed(t);
	if (*q == '"')
	{
		/* no escapes: the bytes as they are */
		t->p = q + 1;
		v->type = jbvString;
		v->val.string.val = (char *) start;
		v->val.string.len = string_len(q - start);
		return;
	}

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, start, q - start);
	t->p = q;
	while (t->p < t->end && *t->p != '"')
	{
		const char *run = t->p;

		while (t->p < t->end && *t->p != '"' && *t->p != '\\')
			t->p++;
		appendBinaryStringInfo(&buf, run, t->p - run);
		if (t->p >= t->end || *t->p == '"')
			break;
		/* a backslash */
		if (t->end - t->p < 2)
			malformed(t);
		t->p += 2;
		switch (t->p[-1])
		{
			case '"':
			case '\\':
			case '/':
				appendStringInfoChar(&buf, t->p[-1]);
				break;
			case 'b':
				appendStringInfoChar(&buf, '\b');
				break;
			case 'f':
				appendStringInfoChar(&buf, '\f');
				break;
			case 'n':
				appendStringInfoChar(&buf, '\n');
				break;
			case 'r':
				appendStringInfoChar(&buf, '\r');
				break;
			case 't':
				appendStringInfoChar(&buf, '\t');
				break;
			case 'u':
				{
					pg_wchar	cp = read_u_escape(t);
					unsigned char utf8[8];

					if (is_utf16_surrogate_first(cp))
					{
						if (t->end - t->p < 2 || t->p[0] != '\\' || t->p[1] != 'u')
							malformed(t);
						t->p += 2;
						cp = surrogate_pair_to_codepoint(cp, read_u_escape(t));
					}
					else if (is_utf16_surrogate_second(cp))
						malformed(t);
					/* what jsonb_in says of \u0000 */
					if (cp == 0)
						ereport(ERROR,
								(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
								 errmsg("unsupported Unicode escape sequence"),
								 errdetail("\\u0000 cannot be converted to text.")));
					unicode_to_utf8(cp, utf8);
					appendBinaryStringInfo(&buf, (char *) utf8, pg_utf_mblen(utf8));
					break;
				}
			default:
				malformed(t);
		}
	}
	if (t->p >= t->end)
		malformed(t);
	t->p++;						/* the closing quote */
	v->type = jbvString;
	v->val.string.val = buf.data;
	v->val.string.len = string_len(buf.len);
}

/* a number; t->p is at its first character */
static void
parse_number(JsonText *t, JsonbValue *v)
{
	const char *start = t->p;
	bool		integer = true;
	bool		neg = false;
	int			digits = 0;
	uint64		u = 0;

	if (t->p < t->end && *t->p == '-')
	{
		neg = true;
		t->p++;
	}
	while (t->p < t->end && *t->p >= '0' && *t->p <= '9')
	{
		u = u * 10 + (*t->p - '0');
		digits++;
		t->p++;
	}
	if (digits == 0 || (digits > 1 && start[neg] == '0'))
		malformed(t);
	if (t->p < t->end && *t->p == '.')
	{
		integer = false;
		t->p++;
		if (t->p >= t->end || *t->p < '0' || *t->p > '9')
			malformed(t);
		while (t->p < t->end && *t->p >= '0' && *t->p <= '9')
			t->p++;
	}
	if (t->p < t->end && (*t->p == 'e' || *t->p == 'E'))
	{
		integer = false;
		t->p++;
		if (t->p < t->end && (*t->p == '+' || *t->p == '-'))
			t->p++;
		if (t->p >= t->end || *t->p < '0' || *t->p > '9')
			malformed(t);
		while (t->p < t->end && *t->p >= '0' && *t->p <= '9')
			t->p++;
	}

	v->type = jbvNumeric;
	if (integer && digits <= 18)
	{
		/* 18 digits always fit in int64 */
		if (!neg && u < SHARED_NUMERICS)
		{
			if (t->shared[u] == NULL)
				t->shared[u] = int64_to_numeric((int64) u);
			v->val.numeric = t->shared[u];
		}
		else
			v->val.numeric = int64_to_numeric(neg ? -(int64) u : (int64) u);
	}
	else
	{
		/* anything else as numeric_in reads it, from the same text */
		char	   *num = pnstrdup(start, t->p - start);

		v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
															 CStringGetDatum(num),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)));
	}
}

static bool
match_word(JsonText *t, const char *word, int len)
{
	if (t->end - t->p < len || memcmp(t->p, word, len) != 0)
		return false;
	t->p += len;
	return true;
}

/* a value in a container: pushed as a WJB_VALUE or WJB_ELEM (token) */
static void
parse_value(JsonText *t, JsonbIteratorToken token)
{
	JsonbValue	v;

	skip_space(t);
	if (t->p >= t->end)
		malformed(t);
	switch (*t->p)
	{
		case '{':
		case '[':
			parse_container(t);
			return;
		case '"':
			parse_string(t, &v);
			break;
		case 't':
			if (!match_word(t, "true", 4))
				malformed(t);
			v.type = jbvBool;
			v.val.boolean = true;
			break;
		case 'f':
			if (!match_word(t, "false", 5))
				malformed(t);
			v.type = jbvBool;
			v.val.boolean = false;
			break;
		case 'n':
			if (!match_word(t, "null", 4))
				malformed(t);
			v.type = jbvNull;
			break;
		default:
			parse_number(t, &v);
			break;
	}
	(void) pushJsonbValue(&t->state, token, &v);
}

/* an object or an array; t->p is at its opening bracket */
static void
parse_container(JsonText *t)
{
	bool		object = *t->p == '{';
	char		close = object ? '}' : ']';
	bool		first = true;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	t->p++;
	(void) pushJsonbValue(&t->state, object ? WJB_BEGIN_OBJECT : WJB_BEGIN_ARRAY, NULL);
	for (;;)
	{
		skip_space(t);
		if (t->p >= t->end)
			malformed(t);
		if (*t->p == close)
		{
			t->p++;
			break;
		}
		if (!first)
		{
			if (*t->p != ',')
				malformed(t);
			t->p++;
			skip_space(t);
		}
		first = false;
		if (object)
		{
			JsonbValue	key;

			if (t->p >= t->end || *t->p != '"')
				malformed(t);
			parse_string(t, &key);
			(void) pushJsonbValue(&t->state, WJB_KEY, &key);
			skip_space(t);
			if (t->p >= t->end || *t->p != ':')
				malformed(t);
			t->p++;
			parse_value(t, WJB_VALUE);
		}
		else
			parse_value(t, WJB_ELEM);
	}
	/* the top container's end is pushed by the caller, which keeps its value */
	if (t->state->next != NULL)
		(void) pushJsonbValue(&t->state, object ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
}

Datum
pyroscope_json_to_jsonb(const PyroBuf *json)
{
	JsonText	t;
	const char *str = (const char *) json->data;
	size_t		len;
	JsonbValue *top;
	bool		object;

	if (json->oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	/* the buffers are NUL-terminated; the terminator is not JSON */
	len = strnlen(str, json->len);
	memset(&t, 0, sizeof(t));
	t.start = t.p = str;
	t.end = str + len;
	skip_space(&t);
	if (GetDatabaseEncoding() != PG_UTF8 || t.p >= t.end || (*t.p != '{' && *t.p != '['))
		return DirectFunctionCall1(jsonb_in, CStringGetDatum(str));

	object = *t.p == '{';
	parse_container(&t);
	skip_space(&t);
	if (t.p != t.end)
		malformed(&t);
	top = pushJsonbValue(&t.state, object ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(top));
}

/*-------------------------------------------------------------------------
 *
 * selector.c
 *	  Parser and printer for Prometheus-style label selectors (spec §14.1),
 *	  as used by the query APIs: {a="x", b=~"y|z"}, name{...} and a bare
 *	  name.  The metric name may contain ':' so that a profile type id such
 *	  as memory:alloc_space:bytes:: can stand in the metric-name position.
 *
 * The parser is a single left-to-right pass with no recursion and no
 * backtracking; each string literal is scanned once to find its end and
 * once more to unescape it into a buffer of the scanned size, so time and
 * memory are linear in the input.  Regular expressions are kept as text:
 * the caller compiles them.
 *
 * Choices made where the Prometheus grammar leaves room:
 *	- whitespace is ' ', '\t', '\n' and '\r', as in the PromQL lexer;
 *	- a raw newline inside a "..." or '...' literal ends it as
 *	  unterminated (as in PromQL); `raw` literals may span lines and are
 *	  taken verbatim;
 *	- \' and \" are both accepted in either kind of quoted literal;
 *	- \x and \ooo produce single bytes, \u and \U produce UTF-8; the
 *	  unescaped text must be valid UTF-8 and contain no NUL;
 *	- the metric name is kept apart from the matchers (the caller treats it
 *	  as __name__ or as a profile type id).
 *
 *-------------------------------------------------------------------------
 */
#include "selector.h"

/* Parser state; pos is a 0-based byte offset into s. */
typedef struct SelParser
{
	const unsigned char *s;
	size_t		len;
	size_t		pos;
	PyroError  *err;
} SelParser;

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_alpha_(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static void
skip_ws(SelParser *p)
{
	while (p->pos < p->len && is_ws(p->s[p->pos]))
		p->pos++;
}

/*
 * Report the byte at p->pos as unexpected (or the end of the input).
 * Printable ASCII is quoted; other bytes are shown in hex so the message
 * stays valid UTF-8 and free of control characters.
 */
static PyroStatus
unexpected(SelParser *p)
{
	unsigned char c;

	if (p->pos >= p->len)
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "unexpected end of label selector at position %zu",
							  p->pos);
	c = p->s[p->pos];
	if (c >= 0x20 && c < 0x7f)
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "unexpected character '%c' at position %zu in label selector",
							  c, p->pos);
	return pyro_error_set(p->err, PYRO_EINVAL,
						  "unexpected byte 0x%02x at position %zu in label selector",
						  c, p->pos);
}

/*
 * Report an invalid escape sequence starting with the backslash at "start"
 * and ending with the offending byte at "bad" (clipped to "limit", the end
 * of the literal's content).  The sequence is quoted only when it is short
 * printable ASCII.
 */
static PyroStatus
bad_escape(SelParser *p, size_t start, size_t bad, size_t limit,
		   const char *why)
{
	char text[	16];
	size_t		end = bad + 1;
	size_t		n;
	bool		printable = true;

	if (end > limit)
		end = limit;
	n = end - start;
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = p->s[start + i];

		if (c < 0x20 || c >= 0x7f)
			printable = false;
		text[		i] = (char) c;
	}
	text[		n] = '\0';

	if (printable)
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "invalid escape sequence \"%s\" at position %zu%s",
							  text, start, why);
	return pyro_error_set(p->err, PYRO_EINVAL,
						  "invalid escape sequence at position %zu%s", start, why);
}

/* Append code point cp (already checked to be a scalar value) as UTF-8. */
static size_t
put_utf8(char *dst, uint32_t cp)
{
	if (cp < 0x80)
	{
		dst[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		dst[0] = (char) (0xC0 | (cp >> 6));
		dst[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		dst[0] = (char) (0xE0 | (cp >> 12));
		dst[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (char) (0xF0 | (cp >> 18));
	dst[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Unescape the content [from, to) of a quoted literal into dst (which has
 * room for to - from bytes: no escape expands).  Returns the number of
 * bytes written, or (size_t) -1 after setting the error.
 */
static size_t
unescape(SelParser *p, size_t from, size_t to, char *dst)
{
	const unsigned char *s = p->s;
	size_t		i = from;
	size_t		o = 0;

	while (i < to)
	{
		size_t		esc = i;
		unsigned char c = s[i];
		int			ndig;
		uint32_t	v;

		if (c != '\\')
		{
			dst[o++] = (char) c;
			i++;
			continue;
		}
		i++;
		if (i >= to)
		{
			/* cannot happen: the scanner never ends a literal after '\' */
			bad_escape(p, esc, i, to, "");
			return (size_t) -1;
		}
		c = s[i++];
		switch (c)
		{
			case 'a':
				dst[o++] = '\a';
				continue;
			case 'b':
				dst[o++] = '\b';
				continue;
			case 'f':
				dst[o++] = '\f';
				continue;
			case 'n':
				dst[o++] = '\n';
				continue;
			case 'r':
				dst[o++] = '\r';
				continue;
			case 't':
				dst[o++] = '\t';
				continue;
			case 'v':
				dst[o++] = '\v';
				continue;
			case '\\':
			case '\'':
			case '"':
				dst[o++] = (char) c;
				continue;
			case 'x':
			case 'u':
			case 'U':
				ndig = c == 'x' ? 2 : c == 'u' ? 4 : 8;
				v = 0;
				for (int k = 0; k < ndig; k++)
				{
					int			h = i < to ? pyro_hex_digit((unsigned char) s[i]) : -1;

					if (h < 0)
					{
						bad_escape(p, esc, i, to, "");
						return (size_t) -1;
					}
					v = (v << 4) | (uint32_t) h;
					i++;
				}
				if (c == 'x')
					dst[o++] = (char) v;
				else
				{
					if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
					{
						bad_escape(p, esc, i - 1, to,
								   " (not a valid Unicode code point)");
						return (size_t) -1;
					}
					o += put_utf8(dst + o, v);
				}
				continue;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
				v = (uint32_t) (c - '0');
				for (int k = 0; k < 2; k++)
				{
					if (i >= to || s[i] < '0' || s[i] > '7')
					{
						bad_escape(p, esc, i, to, "");
						return (size_t) -1;
					}
					v = (v << 3) | (uint32_t) (s[i] - '0');
					i++;
				}
				if (v > 0377)
				{
					bad_escape(p, esc, i - 1, to, " (octal value above \\377)");
					return (size_t) -1;
				}
				dst[o++] = (char) v;
				continue;
			default:
				bad_escape(p, esc, i - 1, to, "");
				return (size_t) -1;
		}
	}
	return o;
}

/*
 * Parse the string literal starting at p->pos (which holds its opening
 * quote) into a new NUL-terminated string.  *out receives it and *outlen
 * its length; p->pos is left after the closing quote.
 */
static PyroStatus
parse_string(SelParser *p, char **out, size_t *outlen)
{
	size_t		start = p->pos;
	unsigned char quote = p->s[start];
	size_t		i = start + 1;
	size_t		content_end;
	size_t		n;
	char	   *buf;

	*out = NULL;

	/* pass 1: find the closing quote */
	for (;;)
	{
		unsigned char c;

		if (i >= p->len)
			return pyro_error_set(p->err, PYRO_EINVAL,
								  "unterminated string literal at position %zu", start);
		c = p->s[i];
		if (c == quote)
			break;
		if (quote != '`')
		{
			if (c == '\n')
				return pyro_error_set(p->err, PYRO_EINVAL,
									  "unterminated string literal at position %zu", start);
			if (c == '\\')
				i++;			/* the escaped byte cannot end the literal */
		}
		i++;
	}
	content_end = i;

	/* pass 2: copy or unescape into a buffer of the raw size */
	buf = pyro_malloc(content_end - start); /* content + NUL */
	if (buf == NULL)
		return pyro_error_set(p->err, PYRO_ENOMEM,
							  "out of memory while parsing label selector");
	if (quote == '`')
	{
		n = content_end - start - 1;
		memcpy(buf, p->s + start + 1, n);
	}
	else
	{
		n = unescape(p, start + 1, content_end, buf);
		if (n == (size_t) -1)
		{
			pyro_free(buf);
			return p->err ? p->err->code : PYRO_EINVAL;
		}
	}
	buf[n] = '\0';

	if (memchr(buf, '\0', n) != NULL)
	{
		pyro_free(buf);
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "string literal at position %zu contains a NUL character",
							  start);
	}
	if (!pyro_utf8_valid(buf, n))
	{
		pyro_free(buf);
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "string literal at position %zu is not valid UTF-8",
							  start);
	}
	p->pos = content_end + 1;
	*out = buf;
	*outlen = n;
	return PYRO_OK;
}

/* Copy the identifier [from, p->pos) into a new string. */
static PyroStatus
copy_ident(SelParser *p, size_t from, char **out)
{
	*out = pyro_strndup((const char *) p->s + from, p->pos - from);
	if (*out == NULL)
		return pyro_error_set(p->err, PYRO_ENOMEM,
							  "out of memory while parsing label selector");
	return PYRO_OK;
}

/*
 * Parse one matcher at p->pos (a label name is known to start there) and
 * append it to sel.  Ownership of the strings passes to sel only once the
 * matcher is complete, so that pyro_selector_free cleans up any failure.
 */
static PyroStatus
parse_matcher(SelParser *p, PyroSelector *sel, size_t *cap)
{
	char	   *name = NULL;
	char	   *value = NULL;
	size_t		vlen;
	size_t		name_pos = p->pos;
	PyroMatchOp op;
	PyroStatus	st;

	if (p->s[p->pos] == '"')
	{
		size_t		nlen;

		st = parse_string(p, &name, &nlen);
		if (st != PYRO_OK)
			return st;
		if (nlen == 0)
		{
			pyro_free(name);
			return pyro_error_set(p->err, PYRO_EINVAL,
								  "empty label name at position %zu in label selector",
								  name_pos);
		}
	}
	else
	{
		p->pos++;
		while (p->pos < p->len &&
			   (is_alpha_(p->s[p->pos]) || is_digit(p->s[p->pos])))
			p->pos++;
		st = copy_ident(p, name_pos, &name);
		if (st != PYRO_OK)
			return st;
	}

	skip_ws(p);
	if (p->pos >= p->len)
	{
		pyro_free(name);
		return unexpected(p);
	}
	if (p->s[p->pos] == '=')
	{
		p->pos++;
		op = PYRO_MATCH_EQ;
		if (p->pos < p->len && p->s[p->pos] == '~')
		{
			p->pos++;
			op = PYRO_MATCH_RE;
		}
	}
	else if (p->s[p->pos] == '!')
	{
		p->pos++;
		if (p->pos < p->len && p->s[p->pos] == '=')
			op = PYRO_MATCH_NEQ;
		else if (p->pos < p->len && p->s[p->pos] == '~')
			op = PYRO_MATCH_NRE;
		else
		{
			pyro_free(name);
			return unexpected(p);
		}
		p->pos++;
	}
	else
	{
		pyro_free(name);
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "missing operator after label name at position %zu in label selector",
							  p->pos);
	}

	skip_ws(p);
	if (p->pos >= p->len)
	{
		pyro_free(name);
		return unexpected(p);
	}
	if (p->s[p->pos] != '"' && p->s[p->pos] != '\'' && p->s[p->pos] != '`')
	{
		pyro_free(name);
		return pyro_error_set(p->err, PYRO_EINVAL,
							  "missing quoted value after operator at position %zu in label selector",
							  p->pos);
	}
	st = parse_string(p, &value, &vlen);
	if (st != PYRO_OK)
	{
		pyro_free(name);
		return st;
	}

	if (sel->nmatchers >= PYRO_SELECTOR_MAX_MATCHERS)
	{
		pyro_free(name);
		pyro_free(value);
		return pyro_error_set(p->err, PYRO_ELIMIT,
							  "label selector has more than %d matchers",
							  PYRO_SELECTOR_MAX_MATCHERS);
	}
	if (!pyro_grow((void **) &sel->matchers, cap, sel->nmatchers + 1,
				   sizeof(PyroMatcher)))
	{
		pyro_free(name);
		pyro_free(value);
		return pyro_error_set(p->err, PYRO_ENOMEM,
							  "out of memory while parsing label selector");
	}
	sel->matchers[sel->nmatchers].name = name;
	sel->matchers[sel->nmatchers].value = value;
	sel->matchers[sel->nmatchers].op = op;
	sel->nmatchers++;
	return PYRO_OK;
}

/*
 * Parse the whole selector; see selector.h.  Grammar:
 *	 ws* [ metric ws* ] [ '{' ws* [ matcher ( ws* ',' ws* matcher )* ws* [','] ws* ] '}' ] ws*
 * where a bare metric name or nothing at all are both complete selectors.
 */
PyroStatus
pyro_selector_parse(const char *s, size_t len, PyroSelector **out,
					PyroError *err)
{
	SelParser	p;
	PyroSelector *sel;
	size_t		cap = 0;
	const char *nul;
	PyroStatus	st = PYRO_OK;

	*out = NULL;
	if (s == NULL)
		len = 0;
	if (len > 0 && (nul = memchr(s, '\0', len)) != NULL)
		return pyro_error_set(err, PYRO_EINVAL,
							  "label selector contains a NUL byte at position %zu",
							  (size_t) (nul - s));

	p.s = (const unsigned char *) s;
	p.len = len;
	p.pos = 0;
	p.err = err;

	sel = pyro_calloc(1, sizeof(PyroSelector));
	if (sel == NULL)
		return pyro_error_set(err, PYRO_ENOMEM,
							  "out of memory while parsing label selector");

	skip_ws(&p);
	if (p.pos < p.len && (is_alpha_(p.s[p.pos]) || p.s[p.pos] == ':'))
	{
		size_t		from = p.pos;

		while (p.pos < p.len &&
			   (is_alpha_(p.s[p.pos]) || is_digit(p.s[p.pos]) || p.s[p.pos] == ':'))
			p.pos++;
		st = copy_ident(&p, from, &sel->metric_name);
		if (st != PYRO_OK)
			goto fail;
		skip_ws(&p);
	}

	if (p.pos < p.len && p.s[p.pos] == '{')
	{
		p.pos++;
		for (;;)
		{
			unsigned char c;

			skip_ws(&p);
			if (p.pos >= p.len)
			{
				st = unexpected(&p);
				goto fail;
			}
			c = p.s[p.pos];
			if (c == '}')
			{
				p.pos++;
				break;
			}
			if (!is_alpha_(c) && c != '"')
			{
				st = unexpected(&p);
				goto fail;
			}
			st = parse_matcher(&p, sel, &cap);
			if (st != PYRO_OK)
				goto fail;

			skip_ws(&p);
			if (p.pos < p.len && p.s[p.pos] == ',')
			{
				p.pos++;
				continue;		/* a '}' right after is a trailing comma */
			}
			if (p.pos < p.len && p.s[p.pos] == '}')
			{
				p.pos++;
				break;
			}
			st = unexpected(&p);
			goto fail;
		}
		skip_ws(&p);
	}

	if (p.pos < p.len)
	{
		st = unexpected(&p);
		goto fail;
	}
	pyro_error_clear(err);
	*out = sel;
	return PYRO_OK;

fail:
	pyro_selector_free(sel);
	return st;
}

void
pyro_selector_free(PyroSelector *sel)
{
	if (sel == NULL)
		return;
	for (size_t i = 0; i < sel->nmatchers; i++)
	{
		pyro_free(sel->matchers[i].name);
		pyro_free(sel->matchers[i].value);
	}
	pyro_free(sel->matchers);
	pyro_free(sel->metric_name);
	pyro_free(sel);
}

const char *
pyro_match_op_str(PyroMatchOp op)
{
	switch (op)
	{
		case PYRO_MATCH_EQ:
			return "=";
		case PYRO_MATCH_NEQ:
			return "!=";
		case PYRO_MATCH_RE:
			return "=~";
		case PYRO_MATCH_NRE:
			return "!~";
	}
	return "?";
}

/*
 * Is name a legacy label name, [a-zA-Z_][a-zA-Z0-9_]*?  (labels.h has the
 * length-counted public variant; this one keeps selector.c self-contained.)
 */
static bool
name_is_legacy(const char *name)
{
	const unsigned char *s = (const unsigned char *) name;

	if (s == NULL || !is_alpha_(s[0]))
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s))
			return false;
	return true;
}

/*
 * Append s as a double-quoted literal with Go-style escapes.  Valid UTF-8
 * sequences are copied as they are; control bytes, DEL and bytes that are
 * not part of valid UTF-8 become \xHH (so the output is always readable
 * text; invalid UTF-8 will not parse back, by design).
 */
static void
append_quoted(PyroBuf *out, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *) str;
	size_t		len = strlen(str);
	size_t		i = 0;

	pyro_buf_append_byte(out, '"');
	while (i < len)
	{
		unsigned char c = s[i];
		size_t		run = i;
		size_t		n;
		char		esc[4];

		while (run < len && s[run] >= 0x20 && s[run] < 0x7f &&
			   s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i)
		{
			pyro_buf_append(out, s + i, run - i);
			i = run;
			continue;
		}
		switch (c)
		{
			case '"':
				pyro_buf_append(out, "\\\"", 2);
				i++;
				continue;
			case '\\':
				pyro_buf_append(out, "\\\\", 2);
				i++;
				continue;
			case '\a':
				pyro_buf_append(out, "\\a", 2);
				i++;
				continue;
			case '\b':
				pyro_buf_append(out, "\\b", 2);
				i++;
				continue;
			case '\f':
				pyro_buf_append(out, "\\f", 2);
				i++;
				continue;
			case '\n':
				pyro_buf_append(out, "\\n", 2);
				i++;
				continue;
			case '\r':
				pyro_buf_append(out, "\\r", 2);
				i++;
				continue;
			case '\t':
				pyro_buf_append(out, "\\t", 2);
				i++;
				continue;
			case '\v':
				pyro_buf_append(out, "\\v", 2);
				i++;
				continue;
			default:
				break;
		}
		n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 :
			c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (n > 0 && n <= len - i && pyro_utf8_valid((const char *) s + i, n))
		{
			pyro_buf_append(out, s + i, n);
			i += n;
			continue;
		}
		esc[0] = '\\';
		esc[1] = 'x';
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 0xF];
		pyro_buf_append(out, esc, 4);
		i++;
	}
	pyro_buf_append_byte(out, '"');
}

/*
 * Append the canonical text of sel: metric{name="value",...}, without
 * blanks, values double-quoted with Go escapes, non-legacy label names
 * double-quoted.  For a selector made by pyro_selector_parse, parsing the
 * result gives back an equal selector.  Out of memory is reported through
 * out->oom.
 */
void
pyro_selector_to_string(const PyroSelector *sel, PyroBuf *out)
{
	if (sel->metric_name)
		pyro_buf_append_str(out, sel->metric_name);
	pyro_buf_append_byte(out, '{');
	for (size_t i = 0; i < sel->nmatchers; i++)
	{
		const PyroMatcher *m = &sel->matchers[i];

		if (i > 0)
			pyro_buf_append_byte(out, ',');
		if (name_is_legacy(m->name))
			pyro_buf_append_str(out, m->name);
		else
			append_quoted(out, m->name ? m->name : "");
		pyro_buf_append_str(out, pyro_match_op_str(m->op));
		append_quoted(out, m->value ? m->value : "");
	}
	pyro_buf_append_byte(out, '}');
}

/*-------------------------------------------------------------------------
 *
 * ingest_params.c
 *	  Parsers for the legacy /ingest endpoint: the "name" parameter (spec
 *	  §10.2), legacy time strings (§15.1), multipart/form-data bodies as
 *	  the pyroscope-go and Node SDKs send them (§10.4, RFC 7578/2046) and
 *	  folded stack text (§10.3), which is turned into a PyroProfile so that
 *	  it is stored exactly like pprof input.
 *
 *-------------------------------------------------------------------------
 */
#include "ingest_params.h"

/* ----------------------------------------------------------------
 * name grammar
 * ---------------------------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_blank(**s))
	{
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_blank((*s)[*n - 1]))
		(*n)--;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void
pyro_app_name_free(PyroAppName *a)
{
	pyro_free(a->name);
	pyro_free(a->base);
	pyro_free(a->suffix);
	pyro_labels_free(&a->labels);
	a->name = a->base = a->suffix = NULL;
}

/*
 * Parse app.name{k=v,...}: the app name is checked against
 * [A-Za-z0-9_.\-/], label keys against [A-Za-z0-9_.]; there is no quoting,
 * so values end at ',' or '}'.  Text after the closing brace is ignored.
 */
PyroStatus
pyro_parse_app_name(const char *name, size_t len, PyroAppName *out, PyroError *err)
{
	const char *brace = memchr(name, '{', len);
	const char *app = name;
	size_t		applen = brace ? (size_t) (brace - name) : len;
	const char *dot;
	size_t		i;

	memset(out, 0, sizeof(*out));
	pyro_labels_init(&out->labels);
	trim(&app, &applen);
	if (applen == 0)
		return pyro_error_set(err, PYRO_EINVAL, "application name is empty");
	for (i = 0; i < applen; i++)
	{
		char		c = app[i];

		if (!is_alnum(c) && c != '_' && c != '.' && c != '-' && c != '/')
			return pyro_error_set(err, PYRO_EINVAL,
								  "application name \"%.*s\" contains the invalid character \"%c\"",
								  (int) (applen > 200 ? 200 : applen), app,
								  (c >= 0x20 && c < 0x7f) ? c : '?');
	}

	if (brace != NULL)
	{
		const char *p = brace + 1;
		const char *end = name + len;
		const char *close = memchr(p, '}', (size_t) (end - p));

		if (close == NULL)
			return pyro_error_set(err, PYRO_EINVAL,
								  "application name has an unbalanced \"{\"");
		while (p < close)
		{
			const char *comma = memchr(p, ',', (size_t) (close - p));
			const char *pe = comma ? comma : close;
			const char *eq = memchr(p, '=', (size_t) (pe - p));
			const char *k = p;
			size_t		kl;
			const char *v;
			size_t		vl;

			if (eq == NULL)
			{
				const char *t = p;
				size_t		tl = (size_t) (pe - p);

				trim(&t, &tl);
				/* "app{}" and "app{ }" are fine; "app{a}" is not */
				if (tl == 0 && comma == NULL && p == brace + 1)
					break;
				pyro_app_name_free(out);
				return pyro_error_set(err, PYRO_EINVAL,
									  "label \"%.*s\" in the application name has no value",
									  (int) (tl > 200 ? 200 : tl), t);
			}
			kl = (size_t) (eq - p);
			v = eq + 1;
			vl = (size_t) (pe - v);
			trim(&k, &kl);
			trim(&v, &vl);
			if (kl == 0)
			{
				pyro_app_name_free(out);
				return pyro_error_set(err, PYRO_EINVAL,
									  "label name in the application name is empty");
			}
			if (!(kl == 8 && memcmp(k, "__name__", 8) == 0))
			{
				for (i = 0; i < kl; i++)
					if (!is_alnum(k[i]) && k[i] != '_' && k[i] != '.')
					{
						pyro_app_name_free(out);
						return pyro_error_set(err, PYRO_EINVAL,
											  "label name \"%.*s\" contains the invalid character \"%c\"",
											  (int) (kl > 200 ? 200 : kl), k,
											  (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?');
					}
			}
			/* reserved names are dropped, except the session id */
			if (!(kl >= 2 && k[0] == '_' && k[1] == '_') ||
				(kl == 14 && memcmp(k, "__session_id__", 14) == 0))
			{
				if (!pyro_labels_set_n(&out->labels, k, kl, v, vl))
				{
					pyro_app_name_free(out);
					return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
				}
			}
			p = comma ? comma + 1 : close;
			if (comma != NULL && p == close)
			{
				pyro_app_name_free(out);
				return pyro_error_set(err, PYRO_EINVAL,
									  "label name in the application name is empty");
			}
		}
	}

	dot = NULL;
	for (i = applen; i > 0; i--)
		if (app[i - 1] == '.')
		{
			dot = app + i - 1;
			break;
		}
	out->name = pyro_strndup(app, applen);
	if (dot != NULL)
	{
		out->base = pyro_strndup(app, (size_t) (dot - app));
		out->suffix = pyro_strndup(dot + 1, (size_t) (app + applen - dot - 1));
	}
	else
	{
		out->base = pyro_strndup(app, applen);
		out->suffix = pyro_strndup("", 0);
	}
	if (out->name == NULL || out->base == NULL || out->suffix == NULL)
	{
		pyro_app_name_free(out);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	}
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * legacy time strings
 * ---------------------------------------------------------------- */

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
valid_date(int y, int m, int d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			md;

	if (m < 1 || m > 12 || d < 1)
		return false;
	md = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		md = 29;
	return d <= md;
}

/*
 * §15.1: after removing '_', ',' and spaces: 8 digits forming a date are
 * YYYYMMDD, 13/16/19 digits are ms/us/ns, other digit strings seconds;
 * now[+-]N<unit> is relative; anything else is now.
 */
void
pyro_parse_attime(const char *s, int64_t now_ms, int64_t *out_ms)
{
	char		buf[64];
	size_t		n = 0;
	size_t		i;
	bool		alldigits = true;

	*out_ms = now_ms;
	if (s == NULL)
		return;
	for (; *s; s++)
	{
		if (*s == '_' || *s == ',' || *s == ' ')
			continue;
		if (n + 1 >= sizeof(buf))
			return;				/* too long to be any valid form */
		buf[n++] = *s;
	}
	buf[n] = '\0';
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		if (buf[i] < '0' || buf[i] > '9')
			alldigits = false;

	if (alldigits)
	{
		uint64_t	v = 0;

		if (n == 8)
		{
			int			y = (buf[0] - '0') * 1000 + (buf[1] - '0') * 100 +
			(buf[2] - '0') * 10 + (buf[3] - '0');
			int			m = (buf[4] - '0') * 10 + (buf[5] - '0');
			int			d = (buf[6] - '0') * 10 + (buf[7] - '0');

			if (valid_date(y, m, d))
			{
				*out_ms = days_from_civil(y, m, d) * 86400000;
				return;
			}
		}
		if (n > 19)
			return;				/* does not fit; not a time */
		for (i = 0; i < n; i++)
			v = v * 10 + (uint64_t) (buf[i] - '0');
		if (v > (uint64_t) INT64_MAX)
			return;
		if (n == 13)
			*out_ms = (int64_t) v;
		else if (n == 16)
			*out_ms = (int64_t) (v / 1000);
		else if (n == 19)
			*out_ms = (int64_t) (v / 1000000);
		else if (v <= (uint64_t) INT64_MAX / 1000)
			*out_ms = (int64_t) v * 1000;
		return;
	}

	if (n >= 3 && memcmp(buf, "now", 3) == 0)
	{
		const char *p = buf + 3;
		int			sign;
		uint64_t	num = 0;
		int			ndig = 0;
		const char *unit;
		size_t		ul = 0;
		int64_t		mult;

		if (*p == '\0')
			return;				/* "now" */
		if (*p != '-' && *p != '+')
			return;
		sign = (*p == '-') ? -1 : 1;
		p++;
		while (*p >= '0' && *p <= '9')
		{
			if (ndig++ >= 8)
				return;			/* absurd offsets: treat as now */
			num = num * 10 + (uint64_t) (*p - '0');
			p++;
		}
		if (ndig == 0)
			return;
		unit = p;
		while (unit[ul] != '\0' && !(unit[ul] >= '0' && unit[ul] <= '9'))
			ul++;
		if (ul == 0)
			return;
		if (unit[0] == 's')
			mult = 1000;
		else if ((ul == 1 && unit[0] == 'm') || (ul >= 3 && memcmp(unit, "min", 3) == 0))
			mult = 60 * 1000;
		else if (unit[0] == 'h')
			mult = 3600 * 1000;
		else if (unit[0] == 'd')
			mult = 86400 * 1000;
		else if (unit[0] == 'w')
			mult = 7 * (int64_t) 86400 * 1000;
		else if ((ul == 1 && unit[0] == 'M') || (ul >= 3 && memcmp(unit, "mon", 3) == 0))
			mult = 30 * (int64_t) 86400 * 1000;
		else if (unit[0] == 'y')
			mult = 365 * (int64_t) 86400 * 1000;
		else
			return;
		/* num < 1e8, mult < 3.2e10: the product fits in int64 */
		if (sign < 0)
		{
			if (now_ms < INT64_MIN + (int64_t) num * mult)
				return;
			*out_ms = now_ms - (int64_t) num * mult;
		}
		else
		{
			if (now_ms > INT64_MAX - (int64_t) num * mult)
				return;
			*out_ms = now_ms + (int64_t) num * mult;
		}
	}
}

/* ----------------------------------------------------------------
 * multipart/form-data
 * ---------------------------------------------------------------- */

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static bool
ci_prefix(const char *s, size_t n, const char *prefix)
{
	size_t		pl = strlen(prefix);
	size_t		i;

	if (n < pl)
		return false;
	for (i = 0; i < pl; i++)
		if (lower(s[i]) != prefix[i])
			return false;
	return true;
}

static bool
is_tspecial_end(char c)
{
	return c == ';' || is_blank(c);
}

/*
 * Find parameter pname (lower case) in a header value of the form
 * "type; a=b; c=\"d\"" and return it unquoted in a new string.  *found
 * says whether it was present; returns false only on allocation failure.
 */
static bool
header_param(const char *v, size_t n, const char *pname, char **out, bool *found)
{
	size_t		i = 0;
	size_t		pl = strlen(pname);

	*out = NULL;
	*found = false;
	/* skip the type itself */
	while (i < n && v[i] != ';')
	{
		if (v[i] == '"')
		{
			for (i++; i < n && v[i] != '"'; i++)
				if (v[i] == '\\' && i + 1 < n)
					i++;
		}
		i++;
	}
	while (i < n)
	{
		size_t		ks,
					ke;

		i++;					/* the ';' */
		while (i < n && is_blank(v[i]))
			i++;
		ks = i;
		while (i < n && v[i] != '=' && v[i] != ';')
			i++;
		ke = i;
		while (ke > ks && is_blank(v[ke - 1]))
			ke--;
		if (i < n && v[i] == '=')
		{
			bool		match = (ke - ks == pl && ci_prefix(v + ks, ke - ks, pname));
			char	   *val = NULL;
			size_t		vl = 0;

			i++;
			while (i < n && is_blank(v[i]))
				i++;
			if (i < n && v[i] == '"')
			{
				/* quoted-string: backslash escapes the next character */
				size_t		start = ++i;

				if (match)
				{
					val = pyro_malloc(n - start + 1);
					if (val == NULL)
						return false;
				}
				while (i < n && v[i] != '"')
				{
					if (v[i] == '\\' && i + 1 < n)
						i++;
					if (val)
						val[vl++] = v[i];
					i++;
				}
				if (i < n)
					i++;		/* closing quote */
				while (i < n && v[i] != ';')
					i++;
			}
			else
			{
				size_t		start = i;

				while (i < n && !is_tspecial_end(v[i]))
					i++;
				if (match)
				{
					val = pyro_malloc(i - start + 1);
					if (val == NULL)
						return false;
					memcpy(val, v + start, i - start);
					vl = i - start;
				}
				while (i < n && v[i] != ';')
					i++;
			}
			if (match)
			{
				val[vl] = '\0';
				pyro_free(*out);	/* a repeated parameter: the last wins */
				*out = val;
				*found = true;
			}
		}
	}
	return true;
}

void
pyro_multipart_free(PyroMultipartPart *parts, size_t nparts)
{
	size_t		i;

	if (parts == NULL)
		return;
	for (i = 0; i < nparts; i++)
	{
		pyro_free(parts[i].name);
		pyro_free(parts[i].filename);
		pyro_free(parts[i].content_type);
	}
	pyro_free(parts);
}

const PyroMultipartPart *
pyro_multipart_find(const PyroMultipartPart *parts, size_t nparts, const char *name)
{
	size_t		i;

	for (i = 0; i < nparts; i++)
		if (strcmp(parts[i].name, name) == 0)
			return &parts[i];
	return NULL;
}

/*
 * If body[pos..] is "--boundary" followed by transport padding and a line
 * break, or by "--" (the close delimiter), return true with *after set to
 * the first byte after the line break (or after "--") and *close set.
 */
static bool
at_delimiter(const uint8_t *body, size_t len, size_t pos, const char *bnd, size_t bl,
			 size_t *after, bool *close, bool *crlf)
{
	size_t		i = pos;

	if (len - pos < 2 + bl || body[i] != '-' || body[i + 1] != '-' ||
		memcmp(body + i + 2, bnd, bl) != 0)
		return false;
	i += 2 + bl;
	if (len - i >= 2 && body[i] == '-' && body[i + 1] == '-')
	{
		*after = i + 2;
		*close = true;
		return true;
	}
	while (i < len && (body[i] == ' ' || body[i] == '\t'))
		i++;
	if (len - i >= 2 && body[i] == '\r' && body[i + 1] == '\n')
	{
		*after = i + 2;
		*close = false;
		*crlf = true;
		return true;
	}
	if (i < len && body[i] == '\n')
	{
		*after = i + 1;
		*close = false;
		*crlf = false;
		return true;
	}
	return false;
}

/*
 * Split a multipart body into parts (RFC 2046 §5.1.1): the preamble before
 * the first delimiter and the epilogue after the close delimiter are
 * ignored; a delimiter is a line break followed by "--boundary", and the
 * line break belongs to the delimiter, not to the part.  Lines end with
 * CRLF as the RFC says; bare LF line breaks are accepted too, as Go's
 * reader does.
 */
PyroStatus
pyro_multipart_parse(const uint8_t *body, size_t len, const char *content_type_header,
					 PyroMultipartPart **parts_out, size_t *nparts_out, PyroError *err)
{
	char	   *bnd = NULL;
	size_t		bl;
	bool		found;
	size_t		pos;
	size_t		after;
	bool		close = false;
	bool		crlf = true;
	PyroMultipartPart *parts = NULL;
	size_t		nparts = 0,
				cap = 0;
	PyroStatus	st = PYRO_OK;
	const char *ct = content_type_header ? content_type_header : "";

	*parts_out = NULL;
	*nparts_out = 0;
	while (is_blank(*ct))
		ct++;
	if (!ci_prefix(ct, strlen(ct), "multipart/"))
		return pyro_error_set(err, PYRO_EINVAL, "content type \"%.100s\" is not multipart", ct);
	if (!header_param(ct, strlen(ct), "boundary", &bnd, &found))
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	if (!found || bnd[0] == '\0')
	{
		pyro_free(bnd);
		return pyro_error_set(err, PYRO_EINVAL, "multipart content type has no boundary");
	}
	bl = strlen(bnd);
	if (bl > 70)
	{
		pyro_free(bnd);
		return pyro_error_set(err, PYRO_EINVAL, "multipart boundary is longer than 70 characters");
	}

	/* the first delimiter: at the very start or after a line break */
	pos = 0;
	for (;;)
	{
		const uint8_t *nl;

		if (at_delimiter(body, len, pos, bnd, bl, &after, &close, &crlf))
			break;
		nl = pos < len ? memchr(body + pos, '\n', len - pos) : NULL;
		if (nl == NULL)
		{
			st = pyro_error_set(err, PYRO_EINVAL, "multipart body has no boundary line");
			goto done;
		}
		pos = (size_t) (nl - body) + 1;
	}

	while (!close)
	{
		PyroMultipartPart part;
		size_t		p = after;
		size_t		data_start;
		size_t		data_end;

		memset(&part, 0, sizeof(part));
		if (nparts >= PYRO_MULTIPART_MAX_PARTS)
		{
			st = pyro_error_set(err, PYRO_ELIMIT, "multipart body has more than %d parts",
								PYRO_MULTIPART_MAX_PARTS);
			goto done;
		}
		/* headers, up to an empty line */
		for (;;)
		{
			const uint8_t *nl = p < len ? memchr(body + p, '\n', len - p) : NULL;
			size_t		le;		/* end of line content */
			const char *line = (const char *) body + p;
			size_t		ll;

			if (nl == NULL)
			{
				pyro_free(part.name);
				pyro_free(part.filename);
				pyro_free(part.content_type);
				st = pyro_error_set(err, PYRO_EINVAL, "multipart part headers are not terminated");
				goto done;
			}
			le = (size_t) (nl - body);
			if (le > p && body[le - 1] == '\r')
				le--;
			ll = le - p;
			if (ll > PYRO_MULTIPART_MAX_HEADER_LINE)
			{
				pyro_free(part.name);
				pyro_free(part.filename);
				pyro_free(part.content_type);
				st = pyro_error_set(err, PYRO_ELIMIT,
									"multipart header line is longer than %d bytes",
									PYRO_MULTIPART_MAX_HEADER_LINE);
				goto done;
			}
			p = (size_t) (nl - body) + 1;
			if (ll == 0)
				break;
			if (ci_prefix(line, ll, "content-disposition:"))
			{
				const char *v = line + 20;
				size_t		vl = ll - 20;
				char	   *val;
				bool		f;

				if (!header_param(v, vl, "name", &val, &f))
					goto oom_part;
				if (f)
				{
					pyro_free(part.name);
					part.name = val;
				}
				if (!header_param(v, vl, "filename", &val, &f))
					goto oom_part;
				if (f)
				{
					pyro_free(part.filename);
					part.filename = val;
				}
			}
			else if (ci_prefix(line, ll, "content-type:"))
			{
				const char *v = line + 13;
				size_t		vl = ll - 13;

				trim(&v, &vl);
				pyro_free(part.content_type);
				part.content_type = pyro_strndup(v, vl);
				if (part.content_type == NULL)
					goto oom_part;
			}
			/* other headers (and obsolete folded continuations) are ignored */
			continue;
	oom_part:
			pyro_free(part.name);
			pyro_free(part.filename);
			pyro_free(part.content_type);
			st = pyro_error_set(err, PYRO_ENOMEM, "out of memory");
			goto done;
		}
		if (part.name == NULL)
		{
			pyro_free(part.filename);
			pyro_free(part.content_type);
			st = pyro_error_set(err, PYRO_EINVAL, "multipart part %zu has no name",
								nparts + 1);
			goto done;
		}

		/* the body runs to the next line break + delimiter */
		data_start = p;
		data_end = SIZE_MAX;
		if (at_delimiter(body, len, data_start, bnd, bl, &after, &close, &crlf))
			data_end = data_start;	/* empty body written without its line
									 * break */
		while (data_end == SIZE_MAX && p < len)
		{
			const uint8_t *nl = memchr(body + p, '\n', len - p);
			size_t		q;

			if (nl == NULL)
				break;
			q = (size_t) (nl - body);
			if (at_delimiter(body, len, q + 1, bnd, bl, &after, &close, &crlf))
			{
				/* the line break before "--boundary" belongs to the delimiter */
				data_end = (q > data_start && body[q - 1] == '\r') ? q - 1 : q;
				break;
			}
			p = q + 1;
		}
		if (data_end == SIZE_MAX)
		{
			pyro_free(part.name);
			pyro_free(part.filename);
			pyro_free(part.content_type);
			st = pyro_error_set(err, PYRO_EINVAL, "multipart body has no closing boundary");
			goto done;
		}
		if (data_end < data_start)
			data_end = data_start;
		part.data = body + data_start;
		part.len = data_end - data_start;
		if (!pyro_grow((void **) &parts, &cap, nparts + 1, sizeof(PyroMultipartPart)))
		{
			pyro_free(part.name);
			pyro_free(part.filename);
			pyro_free(part.content_type);
			st = pyro_error_set(err, PYRO_ENOMEM, "out of memory");
			goto done;
		}
		parts[nparts++] = part;
	}

done:
	pyro_free(bnd);
	if (st != PYRO_OK)
	{
		pyro_multipart_free(parts, nparts);
		return st;
	}
	*parts_out = parts;
	*nparts_out = nparts;
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * folded stacks
 * ---------------------------------------------------------------- */

/*
 * Walk the lines of folded text, split each into frames and a value and
 * hand them to cb.  The frame array is reused from line to line.
 */
PyroStatus
pyro_folded_parse(const char *text, size_t len, bool lines_format,
				  PyroFoldedCallback cb, void *arg, PyroError *err)
{
	PyroStr    *frames = NULL;
	size_t		cap = 0;
	size_t		pos = 0;
	size_t		lineno = 0;
	PyroStatus	st = PYRO_OK;

	while (pos < len)
	{
		const char *line = text +pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t		ll = nl ? (size_t) (nl - line) : len - pos;
		size_t		sl;
		int64_t		value = 1;
		size_t		nframes = 0;
		size_t		i,
					start;

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			continue;
		if (lines_format)
			sl = ll;
		else
		{
			const char *v;
			size_t		vl;
			uint64_t	mag = 0;

			/* value = the last space-separated token */
			for (sl = ll; sl > 0 && line[sl - 1] != ' '; sl--)
				;
			if (sl == 0)
				continue;		/* no space: skipped like upstream */
			v = line + sl;
			vl = ll - sl;
			sl--;				/* drop the separating space */
			if (vl == 0 || vl > 19)
			{
				st = pyro_error_set(err, PYRO_EINVAL,
									"line %zu: value \"%.*s\" is not a non-negative integer",
									lineno, (int) (vl > 40 ? 40 : vl), v);
				goto done;
			}
			for (i = 0; i < vl; i++)
			{
				if (v[i] < '0' || v[i] > '9')
				{
					st = pyro_error_set(err, PYRO_EINVAL,
										"line %zu: value \"%.*s\" is not a non-negative integer",
										lineno, (int) vl, v);
					goto done;
				}
				mag = mag * 10 + (uint64_t) (v[i] - '0');
			}
			if (mag > (uint64_t) INT64_MAX)
			{
				st = pyro_error_set(err, PYRO_EINVAL, "line %zu: value %.*s is out of range",
									lineno, (int) vl, v);
				goto done;
			}
			value = (int64_t) mag;
		}
		if (sl == 0)
			continue;			/* " 5": no stack */
		/* frames, root first, separated by ';' */
		start = 0;
		for (i = 0; i <= sl; i++)
		{
			if (i == sl || line[i] == ';')
			{
				if (i - start > UINT32_MAX)
				{
					st = pyro_error_set(err, PYRO_ELIMIT, "line %zu: frame name too long", lineno);
					goto done;
				}
				if (!pyro_grow((void **) &frames, &cap, nframes + 1, sizeof(PyroStr)))
				{
					st = pyro_error_set(err, PYRO_ENOMEM, "out of memory");
					goto done;
				}
				frames[nframes].ptr = line + start;
				frames[nframes].len = (uint32_t) (i - start);
				nframes++;
				start = i + 1;
			}
		}
		st = cb(arg, frames, nframes, value, err);
		if (st != PYRO_OK)
			goto done;
	}
done:
	pyro_free(frames);
	return st;
}

typedef struct FoldedBuild
{
	PyroProfile *prof;
	PyroSymbols *sym;
} FoldedBuild;

/* one folded line -> function/location/stack symbols and a sample */
static PyroStatus
folded_add(void *arg, const PyroStr *frames, size_t n, int64_t value, PyroError *err)
{
	FoldedBuild *b = arg;
	uint32_t	node = 0;
	size_t		i;

	if (value == 0)
		return PYRO_OK;
	for (i = 0; i < n; i++)
	{
		PyroFunction fn;
		PyroLine	line;
		uint32_t	name,
					loc;

		name = pyro_sym_intern_string(b->sym, frames[i].ptr, frames[i].len);
		if (name == PYRO_NO_INDEX)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
		memset(&fn, 0, sizeof(fn));
		fn.name = name;
		fn.system_name = name;
		line.function = pyro_sym_intern_function(b->sym, &fn);
		line.line = 0;
		if (line.function == PYRO_NO_INDEX)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
		loc = pyro_sym_intern_location(b->sym, 0, 0, &line, 1);
		if (loc == PYRO_NO_INDEX)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
		node = pyro_sym_intern_stack(b->sym, node, loc);
		if (node == PYRO_NO_INDEX)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	}
	if (!pyro_profile_add_sample(b->prof, node, value, 0))
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	return PYRO_OK;
}

static PyroStatus
text_to_profile(const char *text, size_t len, bool lines_format, PyroProfile **out,
				PyroError *err)
{
	FoldedBuild b;
	PyroStatus	st;

	*out = NULL;
	b.sym = pyro_symbols_create();
	if (b.sym == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	b.prof = pyro_profile_create(b.sym, true);
	if (b.prof == NULL)
	{
		pyro_symbols_free(b.sym);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	}
	st = pyro_folded_parse(text, len, lines_format, folded_add, &b, err);
	if (st != PYRO_OK)
	{
		pyro_profile_free(b.prof);
		return st;
	}
	*out = b.prof;
	return PYRO_OK;
}

PyroStatus
pyro_folded_to_profile(const char *text, size_t len, PyroProfile **out, PyroError *err)
{
	return text_to_profile(text, len, false, out, err);
}

PyroStatus
pyro_lines_to_profile(const char *text, size_t len, PyroProfile **out, PyroError *err)
{
	return text_to_profile(text, len, true, out, err);
}

/* ----------------------------------------------------------------
 * Profile types of the text formats (spec §10.7)
 * ----------------------------------------------------------------
 */

static const PyroTextType text_types[] = {
	{"", "process_cpu", "cpu", "nanoseconds", true},
	{"cpu", "process_cpu", "cpu", "nanoseconds", true},
	{"itimer", "process_cpu", "cpu", "nanoseconds", true},
	{"wall", "wall", "wall", "nanoseconds", true},
	{"seconds", "wall", "wall", "nanoseconds", true},
	{"nanoseconds", "wall", "wall", "nanoseconds", true},
	{"microseconds", "wall", "wall", "nanoseconds", true},
	{"milliseconds", "wall", "wall", "nanoseconds", true},
	{"inuse_objects", "memory", "inuse_objects", "count", false},
	{"inuse_space", "memory", "inuse_space", "bytes", false},
	{"alloc_objects", "memory", "alloc_objects", "count", false},
	{"alloc_space", "memory", "alloc_space", "bytes", false},
	{"goroutines", "goroutine", "goroutines", "count", false},
	{"mutex_count", "mutex", "contentions", "count", false},
	{"mutex_duration", "mutex", "delay", "nanoseconds", false},
	{"block_count", "block", "contentions", "count", false},
	{"lock_count", "block", "contentions", "count", false},
	{"block_duration", "block", "delay", "nanoseconds", false},
	{"lock_duration", "block", "delay", "nanoseconds", false},
	{"alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects", "count", false},
	{"alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes", "bytes", false},
	{"alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects", "count", false},
	{"alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes", "bytes", false},
	{"live", "memory", "live", "count", false},
	{"exceptions", "exceptions", "samples", "count", false},
	{"bytes", "memory", "samples", "bytes", false},
};

const PyroTextType *
pyro_text_type(const char *suffix)
{
	for (size_t i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++)
		if (strcmp(text_types[i].suffix, suffix) == 0)
			return &text_types[i];
	return NULL;
}

static PyroStatus
intern_into(PyroSymbols *sym, const char *s, uint32_t *out, PyroError *err)
{
	*out = pyro_sym_intern_string(sym, s, strlen(s));
	if (*out == PYRO_NO_INDEX)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	return PYRO_OK;
}

PyroStatus
pyro_text_profile_type(PyroProfile *prof, const PyroTextType *tt, int64_t sample_rate,
					   int64_t time_ms, PyroTextTyped *out, PyroError *err)
{
	const char *type = tt->type;
	const char *unit = tt->unit;
	const char *ptype = "";
	const char *punit = "";
	int64_t		period = 0;
	PyroStatus	st;

	if (tt->cpu_like && sample_rate != 0)
	{
		int64_t		scale = INT64_C(1000000000) / sample_rate;

		for (size_t i = 0; i < prof->nsamples; i++)
			if (__builtin_mul_overflow(prof->samples[i].value, scale, &prof->samples[i].value))
				return pyro_error_set(err, PYRO_EINVAL,
									  "sample value out of range after scaling by the sample rate");
		ptype = "cpu";
		punit = "nanoseconds";
		period = scale;
	}
	else if (tt->cpu_like)
	{
		type = "samples";
		unit = "count";
	}
	if ((st = intern_into(prof->sym, type, &prof->sample_type, err)) != PYRO_OK ||
		(st = intern_into(prof->sym, unit, &prof->sample_unit, err)) != PYRO_OK ||
		(st = intern_into(prof->sym, ptype, &prof->period_type, err)) != PYRO_OK ||
		(st = intern_into(prof->sym, punit, &prof->period_unit, err)) != PYRO_OK)
		return st;
	prof->period = period;
	prof->time_nanos = time_ms * 1000000;
	prof->duration_nanos = 0;
	out->type = type;
	out->unit = unit;
	out->period_type = ptype;
	out->period_unit = punit;
	return PYRO_OK;
}

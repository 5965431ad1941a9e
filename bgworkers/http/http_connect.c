/*-------------------------------------------------------------------------
 *
 * http_connect.c
 *	  Connect unary framing (spec §2): request content types (proto and
 *	  JSON codecs), the optional Connect-Protocol-Version and
 *	  Connect-Timeout-Ms headers, gzip request bodies, and replies in the
 *	  request's codec, gzip-compressed when the client accepts it.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "utils/memutils.h"

#include "connect_json.h"
#include "pbc_alloc.h"
#include "pprof.h"

/* Whether a header value lists token (case-insensitive, as a whole word). */
static bool
header_has_token(const char *v, const char *token)
{
	size_t		tl = strlen(token);

	if (v == NULL)
		return false;
	while (*v)
	{
		while (*v == ' ' || *v == ',' || *v == '\t')
			v++;
		if (pg_strncasecmp(v, token, tl) == 0 &&
			(v[tl] == '\0' || v[tl] == ',' || v[tl] == ';' || v[tl] == ' '))
		{
			/* "gzip;q=0" refuses it */
			const char *q = v + tl;

			while (*q == ' ')
				q++;
			if (*q == ';')
			{
				q++;
				while (*q == ' ')
					q++;
				if (pg_strncasecmp(q, "q=", 2) == 0 && strtod(q + 2, NULL) <= 0.0)
					return false;
			}
			return true;
		}
		while (*v && *v != ',')
			v++;
	}
	return false;
}

/* Whether a Content-Type is type/subtype, ignoring case and parameters. */
static bool
media_type_is(const char *ct, const char *type)
{
	size_t		tl = strlen(type);

	while (*ct == ' ')
		ct++;
	if (pg_strncasecmp(ct, type, tl) != 0)
		return false;
	ct += tl;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/*
 * Decompress a gzip request body in place of the original, bounded by the
 * body size limit.  Returns false with the error response set.
 */
static bool
http_gunzip_body(HttpRequest *req)
{
	MemoryContext old = MemoryContextSwitchTo(req->cxt);
	PyroBuf		out;
	PyroError	err;
	PyroStatus	st;

	pyro_buf_init(&out);
	st = pyro_gunzip((const uint8_t *) req->body, req->body_len,
					 (size_t) pyroscope_http_max_body_size * 1024, &out, &err);
	MemoryContextSwitchTo(old);
	if (st == PYRO_ELIMIT)
	{
		http_error(req, 429, "resource_exhausted",
				   "decompressed request body exceeds pyroscope.http_max_body_size: %s", err.msg);
		return false;
	}
	if (st != PYRO_OK)
	{
		http_error(req, st == PYRO_ENOMEM ? 500 : 400,
				   st == PYRO_ENOMEM ? "internal" : "invalid_argument",
				   "could not decompress gzip request body: %s", err.msg);
		return false;
	}
	req->body = (char *) out.data;
	req->body_len = out.len;
	return true;
}

/*
 * The header checks of a Connect unary call, and the body's
 * Content-Encoding.  Returns false with the error response set.
 */
bool
http_connect_begin(HttpRequest *req)
{
	const char *ct = http_header(req, "Content-Type");
	const char *version = http_header(req, "Connect-Protocol-Version");
	const char *timeout = http_header(req, "Connect-Timeout-Ms");
	const char *encoding = http_header(req, "Content-Encoding");

	if (ct && media_type_is(ct, "application/proto"))
		req->json = false;
	else if (ct && media_type_is(ct, "application/json"))
		req->json = true;
	else
	{
		http_error(req, 415, "invalid_argument",
				   "unsupported content type \"%s\": use application/proto or application/json",
				   ct ? ct : "");
		http_add_header(req, "Accept-Post", "application/json, application/proto");
		return false;
	}

	if (version && strcmp(version, "1") != 0)
	{
		http_error(req, 400, "invalid_argument",
				   "unsupported Connect-Protocol-Version \"%s\"", version);
		return false;
	}

	if (timeout)
	{
		size_t		n = strlen(timeout);
		int64		ms = 0;

		if (n == 0 || n > 10 || strspn(timeout, "0123456789") != n)
		{
			http_error(req, 400, "invalid_argument", "malformed Connect-Timeout-Ms \"%s\"", timeout);
			return false;
		}
		for (size_t i = 0; i < n; i++)
			ms = ms * 10 + (timeout[i] - '0');
		if (ms <= 0)
		{
			http_error(req, 400, "invalid_argument", "Connect-Timeout-Ms must be positive");
			return false;
		}
		if (ms < INT_MAX && (req->timeout_ms == 0 || ms < req->timeout_ms))
			req->timeout_ms = (int) ms;
	}

	if (encoding == NULL || encoding[0] == '\0' || pg_strcasecmp(encoding, "identity") == 0)
		return true;
	if (pg_strcasecmp(encoding, "gzip") == 0)
		return http_gunzip_body(req);
	http_error(req, 501, "unimplemented", "unsupported content encoding \"%s\"", encoding);
	http_add_header(req, "Accept-Encoding", "gzip");
	return false;
}

/*
 * Decode the request body as message d in the request's codec.  Runs in
 * the handler: errors out with invalid_argument on a malformed body.
 */
ProtobufCMessage *
http_connect_decode(HttpRequest *req, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m;

	if (req->json)
	{
		PyroError	err;
		PyroStatus	st = pyro_json_to_message(d, req->body ? req->body : "", req->body_len,
											  &m, &err);

		if (st == PYRO_ENOMEM)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (st != PYRO_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not decode %s request: %s", d->name, err.msg)));
		return m;
	}
	{
		PyroError	err;

		if (pyro_message_check_strings(d, (const uint8_t *) (req->body ? req->body : ""),
									   req->body_len, &err) != PYRO_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not decode %s request: %s", d->name, err.msg)));
	}
	m = protobuf_c_message_unpack(d, HTTP_PBC_ALLOC, req->body_len,
								  (const uint8_t *) (req->body ? req->body : ""));
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not decode %s request: malformed protobuf", d->name)));
	return m;
}

/* Reply 200 with message m in the request's codec. */
void
http_connect_reply(HttpRequest *req, const ProtobufCMessage *m)
{
	if (req->json)
	{
		PyroBuf		out;

		pyro_buf_init(&out);
		if (pyro_message_to_json(m, &out) != PYRO_OK || out.oom)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory encoding response")));
		http_set_body(req, 200, "application/json", out.data, out.len);
		pyro_buf_free(&out);
	}
	else
	{
		size_t		len = protobuf_c_message_get_packed_size(m);
		uint8_t    *buf = palloc_extended(len + 1, MCXT_ALLOC_HUGE);

		protobuf_c_message_pack(m, buf);
		http_set_body(req, 200, "application/proto", buf, len);
		pfree(buf);
	}
}

/* Reply 200 with an already serialised message of type d. */
void
http_connect_reply_packed(HttpRequest *req, const ProtobufCMessageDescriptor *d,
						  const uint8_t *data, size_t len)
{
	ProtobufCMessage *m;

	if (!req->json)
	{
		http_set_body(req, 200, "application/proto", data, len);
		return;
	}
	m = protobuf_c_message_unpack(d, HTTP_PBC_ALLOC, len, data);
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not re-read the encoded %s response", d->name)));
	http_connect_reply(req, m);
	protobuf_c_message_free_unpacked(m, HTTP_PBC_ALLOC);
}

/*
 * Compress the response when the client accepts gzip and it is large
 * enough to be worth it (upstream's middleware: 1400 bytes).  Never
 * throws; on any failure the response stays plain.
 */
void
http_maybe_gzip(HttpRequest *req)
{
	MemoryContext old;
	PyroBuf		out;
	PyroError	err;
	char	   *copy;

	if (req->gzipped)
		return;
	req->gzipped = true;
	if (req->resp_len < HTTP_GZIP_MIN_SIZE ||
		!header_has_token(http_header(req, "Accept-Encoding"), "gzip"))
		return;
	old = MemoryContextSwitchTo(req->cxt);
	pyro_buf_init(&out);
	if (pyro_gzip((const uint8_t *) req->resp, req->resp_len, 1, &out, &err) == PYRO_OK &&
		!out.oom)
	{
		copy = (char *) out.data;
		req->resp = copy;
		req->resp_len = out.len;
		http_add_header(req, "Content-Encoding", "gzip");
		http_add_header(req, "Vary", "Accept-Encoding");
	}
	MemoryContextSwitchTo(old);
}

/*-------------------------------------------------------------------------
 *
 * sigv4.c
 *	  AWS Signature Version 4 signing of S3 requests (see sigv4.h): the
 *	  canonical request, the string to sign, the derived signing key and
 *	  the Authorization header.  No postgres.h: this file allocates with
 *	  malloc, frees on every path and never throws, so it is safe to call
 *	  while a libcurl transfer is being prepared, and testable on its own.
 *
 *-------------------------------------------------------------------------
 */
#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* A growable string owned by one function; failed = some append ran out. */
typedef struct Str
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} Str;

static void
str_append_n(Str *s, const char *p, size_t n)
{
	if (s->failed)
		return;
	if (s->len + n + 1 > s->cap)
	{
		size_t		cap = s->cap ? s->cap : 256;
		char	   *d;

		while (cap < s->len + n + 1)
		{
			if (cap > ((size_t) 1 << 30))
			{
				s->failed = true;
				return;
			}
			cap *= 2;
		}
		d = realloc(s->data, cap);
		if (d == NULL)
		{
			s->failed = true;
			return;
		}
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
}

static void
str_append(Str *s, const char *p)
{
	str_append_n(s, p, strlen(p));
}

static void
to_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
sigv4_sha256(const void *data, size_t len, uint8_t *out)
{
	unsigned int mdlen = 32;

	if (EVP_Digest(data, len, out, &mdlen, EVP_sha256(), NULL) != 1)
		memset(out, 0, 32);
}

void
sigv4_sha256_hex(const void *data, size_t len, char *out)
{
	uint8_t		md[32];

	sigv4_sha256(data, len, md);
	to_hex(md, 32, out);
}

static bool
hmac_sha256(const uint8_t *key, size_t keylen, const char *msg, size_t msglen,
			uint8_t *out)
{
	unsigned int outlen = 32;

	return HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) msg, msglen,
				out, &outlen) != NULL && outlen == 32;
}

int
sigv4_uri_encode(const char *s, bool keep_slash, char *out, size_t cap)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t		n = 0;

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
			(keep_slash && c == '/'))
		{
			if (n + 2 > cap)
				return -1;
			out[n++] = (char) c;
		}
		else
		{
			if (n + 4 > cap)
				return -1;
			out[n++] = '%';
			out[n++] = digits[c >> 4];
			out[n++] = digits[c & 15];
		}
	}
	if (n + 1 > cap)
		return -1;
	out[n] = '\0';
	return (int) n;
}

/* A header prepared for signing: lower-cased name, trimmed value. */
typedef struct PrepHeader
{
	char		name[64];
	char	   *value;			/* malloc'd */
} PrepHeader;

static int
cmp_header(const void *a, const void *b)
{
	return strcmp(((const PrepHeader *) a)->name, ((const PrepHeader *) b)->name);
}

/* trim and collapse runs of spaces, as the canonical form wants */
static char *
trim_value(const char *v)
{
	size_t		n = strlen(v);
	char	   *out = malloc(n + 1);
	size_t		o = 0;
	bool		space = false;

	if (out == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++)
	{
		if (*v == ' ' || *v == '\t')
			space = true;
		else
		{
			if (space && o > 0)
				out[o++] = ' ';
			space = false;
			out[o++] = *v;
		}
	}
	out[o] = '\0';
	return out;
}

bool
sigv4_authorization(const SigV4Request *req, char *out, size_t cap, char *signature)
{
	PrepHeader	hdrs[SIGV4_MAX_HEADERS];
	int			nh = 0;
	Str			canon = {0};
	Str			signed_names = {0};
	Str			sts = {0};
	char		date[9];
	char		scope[256];
	char		hash[SIGV4_HEX_LEN + 1];
	char		sig[SIGV4_HEX_LEN + 1];
	uint8_t		k1[32],
				k2[32];
	char		secret[256];
	bool		ok = false;
	int			n;

	if (!req->method || !req->path || !req->query || !req->payload_hash ||
		!req->amz_date || strlen(req->amz_date) != 16 || !req->region ||
		!req->service || !req->access_key || !req->secret_key ||
		req->nheaders < 0 || req->nheaders > SIGV4_MAX_HEADERS)
		return false;
	memcpy(date, req->amz_date, 8);
	date[8] = '\0';
	n = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, req->region,
				 req->service);
	if (n < 0 || (size_t) n >= sizeof(scope))
		return false;
	n = snprintf(secret, sizeof(secret), "AWS4%s", req->secret_key);
	if (n < 0 || (size_t) n >= sizeof(secret))
		return false;

	for (int i = 0; i < req->nheaders; i++)
	{
		const char *name = req->headers[i].name;
		size_t		len = strlen(name);

		if (len >= sizeof(hdrs[nh].name))
			goto done;
		for (size_t j = 0; j <= len; j++)
			hdrs[nh].name[j] = (char) tolower((unsigned char) name[j]);
		hdrs[nh].value = trim_value(req->headers[i].value ? req->headers[i].value : "");
		if (hdrs[nh].value == NULL)
			goto done;
		nh++;
	}
	qsort(hdrs, nh, sizeof(PrepHeader), cmp_header);

	/* canonical request */
	str_append(&canon, req->method);
	str_append(&canon, "\n");
	str_append(&canon, req->path);
	str_append(&canon, "\n");
	str_append(&canon, req->query);
	str_append(&canon, "\n");
	for (int i = 0; i < nh; i++)
	{
		str_append(&canon, hdrs[i].name);
		str_append(&canon, ":");
		str_append(&canon, hdrs[i].value);
		str_append(&canon, "\n");
		if (i > 0)
			str_append(&signed_names, ";");
		str_append(&signed_names, hdrs[i].name);
	}
	if (nh == 0)
		str_append(&signed_names, "");
	str_append(&canon, "\n");
	str_append(&canon, signed_names.data ? signed_names.data : "");
	str_append(&canon, "\n");
	str_append(&canon, req->payload_hash);
	if (canon.failed || signed_names.failed)
		goto done;
	sigv4_sha256_hex(canon.data, canon.len, hash);

	/* string to sign */
	str_append(&sts, "AWS4-HMAC-SHA256\n");
	str_append(&sts, req->amz_date);
	str_append(&sts, "\n");
	str_append(&sts, scope);
	str_append(&sts, "\n");
	str_append(&sts, hash);
	if (sts.failed)
		goto done;

	/* signing key: HMAC chain over date, region, service, "aws4_request" */
	if (!hmac_sha256((const uint8_t *) secret, strlen(secret), date, 8, k1) ||
		!hmac_sha256(k1, 32, req->region, strlen(req->region), k2) ||
		!hmac_sha256(k2, 32, req->service, strlen(req->service), k1) ||
		!hmac_sha256(k1, 32, "aws4_request", 12, k2) ||
		!hmac_sha256(k2, 32, sts.data, sts.len, k1))
		goto done;
	to_hex(k1, 32, sig);

	n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s",
				 req->access_key, scope, signed_names.data ? signed_names.data : "", sig);
	if (n < 0 || (size_t) n >= cap)
		goto done;
	if (signature)
		memcpy(signature, sig, SIGV4_HEX_LEN + 1);
	ok = true;

done:
	for (int i = 0; i < nh; i++)
		free(hdrs[i].value);
	free(canon.data);
	free(signed_names.data);
	free(sts.data);
	memset(secret, 0, sizeof(secret));
	memset(k1, 0, sizeof(k1));
	memset(k2, 0, sizeof(k2));
	return ok;
}

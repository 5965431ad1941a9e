/*-------------------------------------------------------------------------
 *
 * base64.c
 *	  Base64 (RFC 4648): standard padded output; standard or URL-safe
 *	  input, padded or not (what protobuf's JSON mapping accepts for bytes).
 *
 *-------------------------------------------------------------------------
 */
#include "base64.h"

#include <stdlib.h>
#include <string.h>

static const char b64_std[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
pyro_base64_append(PyroBuf *out, const uint8_t *data, size_t len)
{
	size_t		i;

	for (i = 0; i + 3 <= len; i += 3)
	{
		uint32_t	v = ((uint32_t) data[i] << 16) | ((uint32_t) data[i + 1] << 8) | data[i + 2];
		char		q[4] = {b64_std[v >> 18], b64_std[(v >> 12) & 63],
		b64_std[(v >> 6) & 63], b64_std[v & 63]};

		pyro_buf_append(out, q, 4);
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) data[i] << 16;
		char		q[4] = {b64_std[v >> 18], b64_std[(v >> 12) & 63], '=', '='};

		pyro_buf_append(out, q, 4);
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) data[i] << 16) | ((uint32_t) data[i + 1] << 8);
		char		q[4] = {b64_std[v >> 18], b64_std[(v >> 12) & 63],
		b64_std[(v >> 6) & 63], '='};

		pyro_buf_append(out, q, 4);
	}
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * Lenient decoder for what protojson accepts: standard or URL-safe
 * alphabet, padding optional (but if present it must complete the last
 * quantum), CR/LF ignored.
 */
bool
pyro_base64_decode(const char *s, size_t len, uint8_t **out, size_t *outlen,
				   bool *oom)
{
	size_t		ndigits = 0;
	size_t		npad = 0;
	size_t		i;
	size_t		n;
	uint8_t    *buf;
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		o = 0;

	*out = NULL;
	*outlen = 0;
	*oom = false;

	/* first pass: validate and count */
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == '=')
		{
			npad++;
			continue;
		}
		if (npad > 0 || b64_value(c) < 0)
			return false;		/* data after padding, or a bad character */
		ndigits++;
	}
	if (ndigits % 4 == 1 || npad > 2)
		return false;
	if (npad > 0 && (ndigits + npad) % 4 != 0)
		return false;
	n = ndigits / 4 * 3 + (ndigits % 4 == 0 ? 0 : ndigits % 4 - 1);
	if (n == 0)
		return true;
	buf = pyro_malloc(n);
	if (buf == NULL)
	{
		*oom = true;
		return false;
	}
	for (i = 0; i < len; i++)
	{
		int			v = b64_value((unsigned char) s[i]);

		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			buf[o++] = (uint8_t) (acc >> bits);
		}
	}
	*out = buf;
	*outlen = o;
	return true;
}

/*
 * fuzz_multipart.c
 *	  libFuzzer target for the multipart/form-data parser.  The first input
 *	  line is the Content-Type header, the rest the body.  Every part must
 *	  lie inside the body, in order, and have a name.
 */
#include <stdlib.h>

#include "ingest_params.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char	   *ct;
	const uint8_t *body;
	size_t		blen,
				n,
				i;
	PyroMultipartPart *parts;
	PyroError	err;
	const uint8_t *prev_end;

	if (nl == NULL)
		return 0;
	ct = pyro_strndup((const char *) data, (size_t) (nl - data));
	body = nl + 1;
	blen = size - (size_t) (body - data);
	if (pyro_multipart_parse(body, blen, ct, &parts, &n, &err) == PYRO_OK)
	{
		prev_end = body;
		for (i = 0; i < n; i++)
		{
			if (parts[i].name == NULL || parts[i].data < prev_end ||
				parts[i].data + parts[i].len > body + blen)
				abort();
			prev_end = parts[i].data + parts[i].len;
		}
		if (n > PYRO_MULTIPART_MAX_PARTS)
			abort();
		pyro_multipart_free(parts, n);
	}
	else if (parts != NULL || err.msg[0] == '\0')
		abort();
	pyro_free(ct);
	return 0;
}

/*
 * fuzz_codec.c
 *	  libFuzzer target for the PYP1 decoder: arbitrary bytes must decode or
 *	  fail cleanly; whatever decodes must re-encode deterministically
 *	  (decode -> encode -> decode -> encode gives identical bytes) and must
 *	  merge without error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "profile.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroProfile *p = NULL;
	PyroProfile *q = NULL;
	PyroBuf		a;
	PyroBuf		b;
	PyroError	err;
	PyroMerger *m;
	const PyroProfile *r;

	if (pyro_profile_decode(data, size, &p, &err) != PYRO_OK)
	{
		if (p != NULL || err.msg[0] == '\0')
			abort();
		return 0;
	}
	pyro_buf_init(&a);
	pyro_buf_init(&b);
	if (pyro_profile_encode(p, &a, &err) != PYRO_OK)
	{
		fprintf(stderr, "re-encoding a decoded profile failed: %s\n", err.msg);
		abort();
	}
	if (pyro_profile_decode(a.data, a.len, &q, &err) != PYRO_OK)
	{
		fprintf(stderr, "decoding a re-encoded profile failed: %s\n", err.msg);
		abort();
	}
	if (pyro_profile_encode(q, &b, &err) != PYRO_OK ||
		a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
	{
		fprintf(stderr, "second re-encoding differs\n");
		abort();
	}
	if (pyro_profile_total(p) != pyro_profile_total(q))
		abort();

	/* merging the decoded profile twice doubles every non-zero sum */
	m = pyro_merger_create(PYRO_MERGE_KEEP_SPANS);
	if (m != NULL)
	{
		if (pyro_merger_add_profile(m, p, &err) != PYRO_OK ||
			pyro_merger_add_encoded(m, a.data, a.len, &err) != PYRO_OK)
		{
			fprintf(stderr, "merging a decoded profile failed: %s\n", err.msg);
			abort();
		}
		r = pyro_merger_result(m, &err);
		if (r == NULL)
			abort();
		for (size_t i = 1; i < r->nsamples; i++)
		{
			if (r->samples[i - 1].stack > r->samples[i].stack ||
				(r->samples[i - 1].stack == r->samples[i].stack &&
				 r->samples[i - 1].span_id >= r->samples[i].span_id))
				abort();
		}
		pyro_merger_free(m);
	}

	pyro_buf_free(&a);
	pyro_buf_free(&b);
	pyro_profile_free(p);
	pyro_profile_free(q);
	return 0;
}

/*
 * fuzz_folded.c
 *	  libFuzzer target for folded-stack text: parse it into a PyroProfile
 *	  (folded and lines formats) and check that the profile total equals
 *	  the sum of the values the parser reported, and that every sample's
 *	  stack reaches the root.
 */
#include <stdlib.h>

#include "ingest_params.h"

static PyroStatus
sum_cb(void *arg, const PyroStr *frames, size_t n, int64_t value, PyroError *err)
{
	int64_t    *sum = arg;

	(void) frames;
	(void) err;
	if (n == 0)
		abort();
	if (__builtin_add_overflow(*sum, value, sum))
		return pyro_error_set(err, PYRO_ELIMIT, "sum overflows");
	return PYRO_OK;
}

static void
check(const uint8_t *data, size_t size, bool lines)
{
	PyroProfile *p;
	PyroError	err;
	int64_t		sum = 0;
	PyroStatus	st1,
				st2;
	size_t		i;

	st1 = pyro_folded_parse((const char *) data, size, lines, sum_cb, &sum, &err);
	st2 = lines ? pyro_lines_to_profile((const char *) data, size, &p, &err)
		: pyro_folded_to_profile((const char *) data, size, &p, &err);
	if (st2 != PYRO_OK)
	{
		if (st1 == PYRO_OK && st2 != PYRO_ENOMEM)
			abort();
		return;
	}
	if (st1 == PYRO_OK && pyro_profile_total(p) != sum)
		abort();
	for (i = 0; i < p->nsamples; i++)
	{
		uint32_t	node = p->samples[i].stack;
		uint32_t	steps = 0;

		if (node == 0 || node >= p->sym->nstacks)
			abort();
		while (node != 0)
		{
			if (p->sym->stacks[node].parent >= node || ++steps > p->sym->nstacks)
				abort();
			node = p->sym->stacks[node].parent;
		}
	}
	pyro_profile_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, false);
	check(data, size, true);
	return 0;
}

/*
 * fuzz_speedscope.c
 *	  libFuzzer target for the speedscope converter: any input is parsed
 *	  (with and without a "none" unit scale); on success every profile has
 *	  a name and a unit, only positive values, and stacks that reach the
 *	  root.
 */
#include <stdlib.h>

#include "speedscope.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int pass = 0; pass < 2; pass++)
	{
		PyroSpeedscope *s;
		PyroError	err;

		if (pyro_speedscope_parse((const char *) data, size, pass ? 10000000 : 0, &s, &err) != PYRO_OK)
		{
			if (err.msg[0] == '\0')
				abort();
			continue;
		}
		for (size_t i = 0; i < s->nprofiles; i++)
		{
			const PyroProfile *p = s->profiles[i].prof;

			if (s->profiles[i].name == NULL || s->profiles[i].unit == NULL || p == NULL)
				abort();
			for (size_t k = 0; k < p->nsamples; k++)
			{
				uint32_t	node = p->samples[k].stack;
				size_t		steps = 0;

				if (p->samples[k].value <= 0 || node == 0 || node >= p->sym->nstacks)
					abort();
				while (node != 0)
				{
					node = p->sym->stacks[node].parent;
					if (node >= p->sym->nstacks || ++steps > p->sym->nstacks)
						abort();
				}
			}
		}
		pyro_speedscope_free(s);
	}
	return 0;
}

/*
 * fuzz_pprof.c
 *	  libFuzzer target for pprof decoding: pyro_pprof_normalize on arbitrary
 *	  bytes with small limits; whenever it succeeds, every series profile is
 *	  encoded with pyro_pprof_encode and the result must normalise again
 *	  with the same number of samples.  Every input is also normalised by
 *	  the protobuf-c reference decoder, and the two must agree (status and
 *	  message, or series and encoded profiles): see test/pprof_diff.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pprof.h"
#include "../pprof_diff.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroPprofLimits lim;
	PyroNormalized *n = NULL;
	PyroError	err;

	pyro_pprof_limits_default(&lim);
	lim.max_decompressed = 1 << 20;
	lim.max_samples = 2000;
	lim.max_stack_depth = 64;
	lim.max_string_length = 256;

	{
		char		why[1024];

		if (!pprof_diff(data, size, &lim, NULL, why, sizeof(why)))
		{
			fprintf(stderr, "decoders disagree: %s\n", why);
			abort();
		}
	}

	if (pyro_pprof_normalize(data, size, &lim, &n, &err) != PYRO_OK)
		return 0;

	/*
	 * the scripting agents' rename keeps a good pprof good, with the same
	 * series and totals
	 */
	{
		PyroBuf		fixed;
		bool		changed;
		PyroNormalized *f = NULL;

		if (pyro_pprof_fix_script_names(data, size, size & 1, 1 << 20, &fixed, &changed, &err) != PYRO_OK)
		{
			if (err.code != PYRO_ENOMEM)
				abort();
		}
		else
		{
			if (pyro_pprof_normalize(fixed.data, fixed.len, &lim, &f, &err) != PYRO_OK)
			{
				if (err.code != PYRO_ENOMEM && err.code != PYRO_ELIMIT)
				{
					fprintf(stderr, "renamed pprof rejected: %s\n", err.msg);
					abort();
				}
			}
			else
			{
				if (f->nseries != n->nseries)
					abort();
				for (size_t i = 0; i < n->nseries; i++)
					if (f->series[i].total != n->series[i].total)
						abort();
				pyro_normalized_free(f);
			}
			pyro_buf_free(&fixed);
		}
	}
	for (size_t i = 0; i < n->nseries; i++)
	{
		const PyroSeriesProfile *sp = &n->series[i];
		uint32_t	t = sp->type_index;
		PyroBuf		b;
		PyroNormalized *m = NULL;
		PyroPprofLimits big;

		pyro_buf_init(&b);
		if (pyro_pprof_encode(sp->profile, n->sample_types[t], n->sample_units[t],
							  n->period_type, n->period_unit, n->period, 0,
							  &b, &err) != PYRO_OK)
		{
			fprintf(stderr, "encode failed: %s\n", err.msg);
			abort();
		}
		/* the re-encoded profile may be larger than the input: no size limit */
		pyro_pprof_limits_default(&big);
		big.max_decompressed = 0;
		big.max_samples = 0;
		if (pyro_pprof_normalize(b.data, b.len, &big, &m, &err) != PYRO_OK)
		{
			fprintf(stderr, "re-normalize failed: %s\n", err.msg);
			abort();
		}
		if (m->nseries != 1 ||
			m->series[0].profile->nsamples != sp->profile->nsamples ||
			pyro_profile_total(m->series[0].profile) != pyro_profile_total(sp->profile))
		{
			fprintf(stderr, "round trip changed the samples\n");
			abort();
		}
		pyro_normalized_free(m);
		pyro_buf_free(&b);
	}
	pyro_normalized_free(n);
	return 0;
}

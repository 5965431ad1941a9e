/*
 * fuzz_otlp.c
 *	  libFuzzer target for the OTLP profiles converter, binary and JSON:
 *	  the first byte picks the encoding.  Every profile it makes must be a
 *	  pprof the ingest path accepts, with as many samples as it says, and
 *	  series labels that carry a __name__ and a service_name.
 */
#include <stdio.h>
#include <stdlib.h>

#include "otlp.h"
#include "pprof.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroOtlpResult r;
	PyroError	err;
	bool		json;

	if (size == 0)
		return 0;
	json = data[0] & 1;
	if (pyro_otlp_convert(data + 1, size - 1, json, &r, &err) != PYRO_OK)
	{
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	for (size_t i = 0; i < r.nseries; i++)
	{
		PyroPprofLimits limits;
		PyroNormalized *n;

		if (pyro_labels_get(&r.series[i].labels, "__name__") == NULL ||
			pyro_labels_get(&r.series[i].labels, "service_name") == NULL)
			abort();
		pyro_pprof_limits_default(&limits);
		limits.max_samples = 0;
		limits.max_decompressed = 0;
		if (pyro_pprof_normalize(r.series[i].pprof.data, r.series[i].pprof.len, &limits, &n, &err) != PYRO_OK)
		{
			if (err.code == PYRO_ENOMEM)
				continue;
			fprintf(stderr, "converted profile rejected: %s\n", err.msg);
			abort();
		}
		if (n->input_samples != r.series[i].nsamples)
			abort();
		pyro_normalized_free(n);
	}
	pyro_otlp_result_free(&r);
	return 0;
}

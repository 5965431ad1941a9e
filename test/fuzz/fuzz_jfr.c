/*
 * fuzz_jfr.c
 *	  libFuzzer target for the JFR converter and the LabelsSnapshot
 *	  decoder.  An input starting with "FLR\0" is a recording alone;
 *	  otherwise its first two bytes (big-endian) are the length of a
 *	  LabelsSnapshot that precedes the recording.  Every profile the
 *	  converter makes must be a pprof the ingest path accepts, with as
 *	  many samples as the converter says.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jfr.h"
#include "pprof.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroJfrLabels *labels = NULL;
	PyroJfrOptions opt;
	PyroJfrResult res;
	PyroError	err;

	if (size >= 2 && (size < 4 || memcmp(data, "FLR\0", 4) != 0))
	{
		size_t		l = ((size_t) data[0] << 8) | data[1];

		if (l > size - 2)
			l = size - 2;
		if (pyro_jfr_labels_decode(data + 2, l, &labels, &err) != PYRO_OK)
			labels = NULL;
		data += 2 + l;
		size -= 2 + l;
	}
	memset(&opt, 0, sizeof(opt));
	opt.sample_rate = 100;
	opt.max_samples = 100000;
	opt.max_stack_depth = 1000;
	if (pyro_jfr_convert(data, size, labels, &opt, &res, &err) == PYRO_OK)
	{
		for (size_t i = 0; i < res.nprofiles; i++)
		{
			PyroPprofLimits limits;
			PyroNormalized *n;
			PyroJfrProfile *p = &res.profiles[i];

			pyro_pprof_limits_default(&limits);
			limits.max_samples = 0;
			limits.max_decompressed = 0;
			if (pyro_pprof_normalize(p->pprof.data, p->pprof.len, &limits, &n, &err) != PYRO_OK)
			{
				if (err.code == PYRO_ENOMEM)
					continue;
				fprintf(stderr, "converted profile %s rejected: %s\n", p->name, err.msg);
				abort();
			}
			if (n->input_samples != p->nsamples)
				abort();
			pyro_normalized_free(n);
		}
		pyro_jfr_result_free(&res);
	}
	else if (err.msg[0] == '\0')
		abort();
	pyro_jfr_labels_free(labels);
	return 0;
}

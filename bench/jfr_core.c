/*-------------------------------------------------------------------------
 *
 * jfr_core.c
 *	  Benchmark helper for bench/ingest_formats.sh: the parts of one round
 *	  of JFR ingest (every recording given, as the bench's SQL round does)
 *	  that the core does, by CPU time of this process:
 *	    gunzip	  inflating the recordings as sent;
 *	    convert   pyro_jfr_convert() of the inflated recordings;
 *	    gzip	  compressing the produced pprofs (level 1, as ingest keeps
 *				  them).
 *	  Also the gunzip of those compressed pprofs, the work that pprof
 *	  ingest of the same profiles does and JFR ingest does not (it decodes
 *	  the raw bytes it has).  Each phase is repeated for at least --seconds
 *	  and timed per round; one JSON line is printed.
 *
 *	  usage: jfr_core [--seconds S] FILE.jfr[.gz]...
 *
 *-------------------------------------------------------------------------
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "jfr.h"
#include "pprof.h"

typedef struct Input
{
	PyroBuf		sent;
	PyroBuf		raw;
} Input;

static double
cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what, const PyroError *err)
{
	fprintf(stderr, "jfr_core: %s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

int
main(int argc, char **argv)
{
	double		seconds = 2.0;
	Input	   *in;
	int			nin = 0;
	PyroBuf    *pp = NULL;
	size_t		npp = 0;
	PyroBuf    *gz = NULL;
	size_t		ngz = 0;
	size_t		samples = 0;
	uint64_t	events = 0;
	size_t		sent_bytes = 0;
	size_t		raw_bytes = 0;
	size_t		pprof_bytes = 0;
	size_t		gz_bytes = 0;
	double		per_round[4];
	PyroError	err;

	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);

	in = calloc(argc, sizeof(Input));
	for (int i = 1; i < argc; i++)
	{
		FILE	   *f;
		uint8_t		chunk[65536];
		size_t		n;

		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
		{
			seconds = atof(argv[++i]);
			continue;
		}
		f = fopen(argv[i], "rb");
		if (f == NULL)
		{
			perror(argv[i]);
			return 1;
		}
		pyro_buf_init(&in[nin].sent);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			pyro_buf_append(&in[nin].sent, chunk, n);
		fclose(f);
		sent_bytes += in[nin].sent.len;
		nin++;
	}
	if (nin == 0)
	{
		fprintf(stderr, "usage: jfr_core [--seconds S] FILE.jfr[.gz]...\n");
		return 2;
	}

	for (int phase = 0; phase < 4; phase++)
	{
		double		t0 = cpu_sec();
		double		el;
		long		rounds = 0;

		do
		{
			if (phase == 0)
			{
				raw_bytes = 0;
				for (int i = 0; i < nin; i++)
				{
					pyro_buf_free(&in[i].raw);
					pyro_buf_init(&in[i].raw);
					if (!pyro_is_gzip(in[i].sent.data, in[i].sent.len))
						pyro_buf_append(&in[i].raw, in[i].sent.data, in[i].sent.len);
					else if (pyro_gunzip(in[i].sent.data, in[i].sent.len, (size_t) 1 << 30,
										 &in[i].raw, &err) != PYRO_OK)
						die("gunzip", &err);
					raw_bytes += in[i].raw.len;
				}
			}
			else if (phase == 1)
			{
				/* convert, keeping the last round's pprofs for phase 2 */
				for (size_t k = 0; k < npp; k++)
					pyro_buf_free(&pp[k]);
				npp = 0;
				samples = 0;
				events = 0;
				pprof_bytes = 0;
				for (int i = 0; i < nin; i++)
				{
					PyroJfrOptions opt;
					PyroJfrResult res;

					memset(&opt, 0, sizeof(opt));
					opt.sample_rate = 100;
					if (pyro_jfr_convert(in[i].raw.data, in[i].raw.len, NULL, &opt, &res,
										 &err) != PYRO_OK)
						die("convert", &err);
					for (size_t k = 0; k < res.nprofiles; k++)
					{
						samples += res.profiles[k].nsamples;
						events += res.profiles[k].nevents;
						pprof_bytes += res.profiles[k].pprof.len;
						/* taken over, not copied */
						pp = realloc(pp, (npp + 1) * sizeof(PyroBuf));
						pp[npp++] = res.profiles[k].pprof;
						pyro_buf_init(&res.profiles[k].pprof);
					}
					pyro_jfr_result_free(&res);
				}
			}
			else if (phase == 2)
			{
				/* gzip of the produced pprofs, as JFR ingest stores them */
				for (size_t g = 0; g < ngz; g++)
					pyro_buf_free(&gz[g]);
				gz = realloc(gz, (npp ? npp : 1) * sizeof(PyroBuf));
				ngz = 0;
				gz_bytes = 0;
				for (size_t k = 0; k < npp; k++)
				{
					pyro_buf_init(&gz[ngz]);
					if (pyro_gzip(pp[k].data, pp[k].len, 1, &gz[ngz], &err) != PYRO_OK)
						die("gzip", &err);
					gz_bytes += gz[ngz].len;
					ngz++;
				}
			}
			else
			{
				for (size_t g = 0; g < ngz; g++)
				{
					PyroBuf		out;

					pyro_buf_init(&out);
					if (pyro_gunzip(gz[g].data, gz[g].len, (size_t) 1 << 30, &out, &err) != PYRO_OK)
						die("gunzip of a pprof", &err);
					pyro_buf_free(&out);
				}
			}
			rounds++;
		} while ((el = cpu_sec() - t0) < seconds);
		per_round[phase] = el / rounds;
	}

	printf("{\"inputs\": %d, \"sent_bytes\": %zu, \"raw_bytes\": %zu, \"samples\": %zu, \"events\": %llu, "
		   "\"pprof_bytes\": %zu, \"pprof_gz_bytes\": %zu, \"gunzip_ms\": %.3f, "
		   "\"convert_ms\": %.3f, \"gzip_ms\": %.3f, \"pprof_gunzip_ms\": %.3f}\n",
		   nin, sent_bytes, raw_bytes, samples, (unsigned long long) events,
		   pprof_bytes, gz_bytes,
		   per_round[0] * 1e3, per_round[1] * 1e3,
		   per_round[2] * 1e3,
		   per_round[3] * 1e3);
	return 0;
}

/*-------------------------------------------------------------------------
 *
 * ingest_core.c
 *	  Benchmark helper for bench/ingest.sh: for a set of pprof files, times
 *	  (a) the ceiling of ingest: gunzipping each file and walking every
 *	  protobuf field of the profile and of its samples, locations,
 *	  functions and mappings; and (b) the core's share of ingest:
 *	  normalising the same bytes and encoding every series profile; (c)
 *	  summarising them (pyro_pprof_summarize), the core's share of ingest
 *	  now that head rows keep the pprof as sent.
 *	  Runs each for at least --seconds and prints one JSON line.
 *
 *	  usage: ingest_core [--seconds S] FILE...
 *
 *-------------------------------------------------------------------------
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "pprof.h"

typedef struct Input
{
	uint8_t    *data;
	size_t		len;
} Input;

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Walk every field of a protobuf message; recurse one level into the
 * length-delimited fields that are messages in pprof (1-5, 11).  Returns a
 * checksum of the varints so the compiler cannot drop the work.
 */
static uint64_t
walk(const uint8_t *p, const uint8_t *end, int depth)
{
	uint64_t	sum = 0;

	while (p < end)
	{
		uint64_t	key;
		uint64_t	v;

		if (!pyro_read_varint(&p, end, &key))
			return sum;
		switch (key & 7)
		{
			case 0:
				if (!pyro_read_varint(&p, end, &v))
					return sum;
				sum += v;
				break;
			case 1:
				p += 8;
				break;
			case 5:
				p += 4;
				break;
			case 2:
				{
					uint64_t	field = key >> 3;

					if (!pyro_read_varint(&p, end, &v) || v > (uint64_t) (end - p))
						return sum;
					if (depth == 0 && (field <= 5 || field == 11))
						sum += walk(p, p + v, 1);
					else if (depth == 1)
					{
						/* packed varints (sample location ids and values) */
						const uint8_t *q = p;

						while (q < p + v && pyro_read_varint(&q, p + v, &key))
							sum += key;
					}
					p += v;
					break;
				}
			default:
				return sum;
		}
	}
	return sum;
}

int
main(int argc, char **argv)
{
	double		seconds = 2.0;
	Input	   *in;
	int			nin = 0;
	size_t		bytes = 0;
	size_t		raw_bytes = 0;
	size_t		samples = 0;
	uint64_t	check = 0;
	double		t0;
	double		walk_time;
	double		core_time;
	long		walk_rounds = 0;
	long		core_rounds = 0;
	long		summary_rounds = 0;
	double		summary_time;
	PyroPprofLimits limits;

	/* the malloc thresholds the extension sets in processes using the core */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);

	in = calloc(argc, sizeof(Input));
	for (int i = 1; i < argc; i++)
	{
		FILE	   *f;
		long		n;

		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
		{
			seconds = atof(argv[++i]);
			continue;
		}
		f = fopen(argv[i], "rb");
		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
		{
			fprintf(stderr, "cannot read %s\n", argv[i]);
			return 1;
		}
		rewind(f);
		in[nin].data = malloc(n ? n : 1);
		in[nin].len = fread(in[nin].data, 1, n, f);
		fclose(f);
		bytes += in[nin].len;
		nin++;
	}
	if (nin == 0)
	{
		fprintf(stderr, "usage: ingest_core [--seconds S] FILE...\n");
		return 2;
	}
	pyro_pprof_limits_default(&limits);
	limits.max_decompressed = 256 * 1024 * 1024;
	limits.max_samples = 10 * 1000 * 1000;

	/* (a) ceiling: gunzip + walk */
	t0 = now_sec();
	do
	{
		raw_bytes = 0;
		for (int i = 0; i < nin; i++)
		{
			PyroBuf		buf;
			PyroError	err;
			const uint8_t *p = in[i].data;
			size_t		len = in[i].len;

			pyro_buf_init(&buf);
			if (pyro_is_gzip(p, len))
			{
				if (pyro_gunzip(p, len, limits.max_decompressed, &buf, &err) != PYRO_OK)
				{
					fprintf(stderr, "%s\n", err.msg);
					return 1;
				}
				p = buf.data;
				len = buf.len;
			}
			raw_bytes += len;
			check += walk(p, p + len, 0);
			pyro_buf_free(&buf);
		}
		walk_rounds++;
	} while ((walk_time = now_sec() - t0) < seconds);

	/* (b) the core's part of ingest: normalise + encode every series */
	t0 = now_sec();
	do
	{
		samples = 0;
		for (int i = 0; i < nin; i++)
		{
			PyroNormalized *n;
			PyroError	err;

			if (pyro_pprof_normalize(in[i].data, in[i].len, &limits, &n, &err) != PYRO_OK)
			{
				fprintf(stderr, "normalize: %s\n", err.msg);
				return 1;
			}
			samples += n->input_samples;
			for (size_t s = 0; s < n->nseries; s++)
			{
				PyroBuf		enc;

				pyro_buf_init(&enc);
				if (pyro_profile_encode(n->series[s].profile, &enc, &err) != PYRO_OK)
				{
					fprintf(stderr, "encode: %s\n", err.msg);
					return 1;
				}
				check += enc.len;
				pyro_buf_free(&enc);
			}
			pyro_normalized_free(n);
		}
		core_rounds++;
	} while ((core_time = now_sec() - t0) < seconds);

	/* (c) what ingest does since the pprof is stored as sent: summarise */
	t0 = now_sec();
	do
	{
		for (int i = 0; i < nin; i++)
		{
			PyroNormalized *n;
			PyroError	err;

			if (pyro_pprof_summarize(in[i].data, in[i].len, &limits, &n, &err) != PYRO_OK)
			{
				fprintf(stderr, "summarize: %s\n", err.msg);
				return 1;
			}
			check += n->nseries;
			pyro_normalized_free(n);
		}
		summary_rounds++;
	} while ((summary_time = now_sec() - t0) < seconds);

	printf("{\"files\":%d,\"bytes\":%zu,\"raw_bytes\":%zu,\"samples\":%zu,"
		   "\"walk_mb_s\":%.2f,\"core_mb_s\":%.2f,\"summary_mb_s\":%.2f,\"core_samples_s\":%.0f,\"check\":%llu}\n",
		   nin, bytes, raw_bytes, samples,
		   bytes * walk_rounds / walk_time / 1e6,
		   bytes * core_rounds / core_time / 1e6,
		   bytes * summary_rounds / summary_time / 1e6,
		   samples * core_rounds / core_time,
		   (unsigned long long) (check & 0xff));
	for (int i = 0; i < nin; i++)
		free(in[i].data);
	free(in);
	return 0;
}

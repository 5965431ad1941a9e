/*-------------------------------------------------------------------------
 *
 * block_storage.c
 *	  Storage benchmark of PYB1 blocks on "a realistic day": 10 pods x 4
 *	  profile types (CPU, heap alloc_space, goroutine, mutex delay) pushed
 *	  every 10 s for 24 h = 8640 profiles per (pod, type), 345,600 in all,
 *	  built from real pprofs of the corpus.
 *
 * Input.  Each type has one base profile: the given pprof normalised, all
 * series of the chosen sample type merged into one (labels dropped).
 * Every pushed profile is the base with a per-profile variation drawn
 * from a fixed-seed xorshift generator: each sample is dropped with
 * probability 1/4, and the value of each kept sample is multiplied by a
 * random integer in 1..4 (so CPU values stay multiples of the sampling
 * period, as real ones are).  Profiles of all pods of one type share the
 * base's symbols (one binary).
 *
 * Level 1: one block per hour (what the compactor writes from head data),
 * each profile added directly.  Level 2: one block for the day, built as
 * the compactor would, by reading every profile of the 24 hourly blocks
 * back with pyro_block_read_profiles and adding it to a day writer.
 *
 * Printed: bytes per sample and per profile for both levels (block bytes
 * include symbols, index, samples, aggregates at 1 min and 1 h,
 * directory), the gzipped pprof bytes that went in (every 16th pushed
 * profile encoded as pprof and gzipped, scaled by 16), build times, and
 * peak RSS (getrusage) after each stage.
 *
 *	  usage: block_storage [DATA_DIR]   (default ../shared/testdata/pprof,
 *	                                     falling back to test/data/pprof)
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "block.h"
#include "pprof.h"

#define NPODS		10
#define NTYPES		4
#define PER_DAY		8640
#define PER_HOUR	360
#define STEP_MS		10000

typedef struct Base
{
	const char *label;
	const char *file;
	const char *type;			/* sample type to keep */
	PyroNormalized *norm;
	PyroMerger *merger;
	const PyroProfile *profile; /* merged base, over the merger's symbols */
	char		stype[64];
	char		sunit[64];
	char		ptype[64];
	char		punit[64];
	int64_t		period;
} Base;

static Base bases[NTYPES] =
{
	{
		"cpu", "go/cpu-labels.pb.gz", "cpu"
	},
	{
		"heap", "go/heap.pb.gz", "alloc_space"
	},
	{
		"goroutine", "go/req_2.pprof", "goroutine"
	},
	{
		"mutex", "go/req_4.pprof", "delay"
	},
};

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
maxrss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static void
die(const char *what, const PyroError *err)
{
	fprintf(stderr, "block_storage: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t) n;
	return buf;
}

static void
copy_str(char *dst, const PyroSymbols *s, uint32_t i)
{
	size_t		n = s->strings[i].len < 63 ? s->strings[i].len : 63;

	memcpy(dst, s->strings[i].ptr, n);
	dst[n] = 0;
}

static void
load_base(Base *b, const char *dir)
{
	char		path[1024];
	size_t		len;
	unsigned char *data;
	PyroPprofLimits lim;
	PyroError	err;

	snprintf(path, sizeof(path), "%s/%s", dir, b->file);
	data = read_file(path, &len);
	if (data == NULL)
	{
		fprintf(stderr, "block_storage: cannot read %s\n", path);
		exit(1);
	}
	pyro_pprof_limits_default(&lim);
	if (pyro_pprof_normalize(data, len, &lim, &b->norm, &err) != PYRO_OK)
		die(path, &err);
	free(data);
	b->merger = pyro_merger_create(0);
	for (size_t i = 0; i < b->norm->nseries; i++)
	{
		const PyroSeriesProfile *sp = &b->norm->series[i];

		if (strcmp(b->norm->sample_types[sp->type_index], b->type) != 0)
			continue;
		if (pyro_merger_add_profile(b->merger, sp->profile, &err) != PYRO_OK)
			die(path, &err);
	}
	b->profile = pyro_merger_result(b->merger, &err);
	if (b->profile == NULL || b->profile->nsamples == 0)
	{
		fprintf(stderr, "block_storage: %s has no %s samples\n", path, b->type);
		exit(1);
	}
	copy_str(b->stype, b->profile->sym, b->profile->sample_type);
	copy_str(b->sunit, b->profile->sym, b->profile->sample_unit);
	copy_str(b->ptype, b->profile->sym, b->profile->period_type);
	copy_str(b->punit, b->profile->sym, b->profile->period_unit);
	b->period = b->profile->period;
}

/* The pushed profile of (pod, type, step): the base with variation. */
static void
make_variant(const Base *b, PyroProfile *out)
{
	out->nsamples = 0;
	for (size_t i = 0; i < b->profile->nsamples; i++)
	{
		const PyroSample *s = &b->profile->samples[i];
		uint64_t	x = rnd();

		if ((x & 3) == 0)
			continue;			/* dropped */
		pyro_profile_add_sample(out, s->stack, s->value * (int64_t) (1 + ((x >> 2) & 3)), 0);
	}
	out->sample_type = b->profile->sample_type;
	out->sample_unit = b->profile->sample_unit;
	out->period_type = b->profile->period_type;
	out->period_unit = b->profile->period_unit;
	out->period = b->profile->period;
}

typedef struct DayAdd
{
	PyroBlockWriter *w;
} DayAdd;

static PyroStatus
day_visit(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	DayAdd	   *d = arg;

	return pyro_block_writer_add_shared(d->w, series_id, ts, p, err);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/testdata/pprof";
	int64_t		day0 = INT64_C(1700006400000);	/* a midnight, UTC */
	PyroProfile *var[NTYPES];
	PyroBuf		hour_blocks[24];
	PyroBlockMeta hmeta[24];
	PyroBlockMeta dmeta;
	PyroBuf		day;
	PyroBuf		enc,
				gz;
	PyroError	err;
	PyroBlockOptions opt;
	uint64_t	hour_bytes = 0,
				samples = 0,
				profiles = 0,
				gz_sampled = 0,
				nsampled = 0;
	double		t_hour = 0,
				t_day,
				t0;
	long		rss_hour,
				rss_day;
	DayAdd		da;

	{
		FILE	   *f;
		char		probe[1024];

		snprintf(probe, sizeof(probe), "%s/%s", dir, bases[0].file);
		if ((f = fopen(probe, "rb")) == NULL)
			dir = "test/data/pprof";
		else
			fclose(f);
	}
	for (int t = 0; t < NTYPES; t++)
	{
		load_base(&bases[t], dir);
		var[t] = pyro_profile_create(bases[t].profile->sym, false);
		printf("base %-9s %-22s %-12s %5zu samples per profile\n", bases[t].label,
			   bases[t].file, bases[t].type, bases[t].profile->nsamples);
	}
	pyro_block_options_default(&opt);
	pyro_buf_init(&enc);
	pyro_buf_init(&gz);

	/* level 1: one block per hour */
	for (int h = 0; h < 24; h++)
	{
		PyroBlockWriter *w = pyro_block_writer_create(&opt);

		t0 = now_sec();
		for (int t = 0; t < NTYPES; t++)
		{
			for (int pod = 0; pod < NPODS; pod++)
			{
				for (int k = 0; k < PER_HOUR; k++)
				{
					int64_t		ts = day0 + ((int64_t) h * PER_HOUR + k) * STEP_MS + pod * 37;

					make_variant(&bases[t], var[t]);
					if (pyro_block_writer_add_shared(w, 1000 + pod * NTYPES + t, ts, var[t], &err) != PYRO_OK)
						die("add", &err);
					samples += var[t]->nsamples;
					profiles++;
					if ((profiles & 15) == 0)
					{
						double		s = now_sec();

						enc.len = 0;
						gz.len = 0;
						if (pyro_pprof_encode(var[t], bases[t].stype, bases[t].sunit,
											  bases[t].ptype, bases[t].punit, bases[t].period,
											  ts * 1000000, &enc, &err) != PYRO_OK ||
							pyro_gzip(enc.data, enc.len, 6, &gz, &err) != PYRO_OK)
							die("pprof", &err);
						gz_sampled += gz.len;
						nsampled++;
						t0 += now_sec() - s;	/* not part of the build time */
					}
				}
			}
		}
		pyro_buf_init(&hour_blocks[h]);
		if (pyro_block_writer_finish(w, &hour_blocks[h], &hmeta[h], &err) != PYRO_OK)
			die("finish hour", &err);
		pyro_block_writer_free(w);
		t_hour += now_sec() - t0;
		hour_bytes += hour_blocks[h].len;
	}
	rss_hour = maxrss_mb();

	/* level 2: the day, from the hourly blocks */
	t0 = now_sec();
	da.w = pyro_block_writer_create(&opt);
	for (int h = 0; h < 24; h++)
	{
		PyroBlockReader *r;
		PyroBlockQuery q = {NULL, 0, INT64_MIN, INT64_MAX, false, true};

		if (pyro_block_open_memory(hour_blocks[h].data, hour_blocks[h].len, &r, &err) != PYRO_OK ||
			pyro_block_read_profiles(r, &q, day_visit, &da, &err) != PYRO_OK)
			die("read hour", &err);
		pyro_block_writer_release_symbols(da.w);
		pyro_block_close(r);
	}
	pyro_buf_init(&day);
	if (pyro_block_writer_finish(da.w, &day, &dmeta, &err) != PYRO_OK)
		die("finish day", &err);
	pyro_block_writer_free(da.w);
	t_day = now_sec() - t0;
	rss_day = maxrss_mb();

	{
		double		gz_in = (double) gz_sampled / nsampled * profiles;

		if (dmeta.nsamples != samples || dmeta.nprofiles != profiles)
		{
			fprintf(stderr, "block_storage: day block holds %llu samples of %llu profiles, expected %llu of %llu\n",
					(unsigned long long) dmeta.nsamples, (unsigned long long) dmeta.nprofiles,
					(unsigned long long) samples, (unsigned long long) profiles);
			return 1;
		}
		printf("input: %llu profiles, %llu samples (%.1f per profile); gzipped pprof in: %.1f MB (%.1f B/sample, %.0f B/profile; every 16th encoded)\n",
			   (unsigned long long) profiles, (unsigned long long) samples,
			   (double) samples / profiles, gz_in / 1e6, gz_in / samples, gz_in / profiles);
		printf("level 1 (24 hourly blocks): %.2f MB, %.3f B/sample, %.1f B/profile, %.1fx smaller than gzipped pprof; build %.1f s; peak RSS %ld MB\n",
			   hour_bytes / 1e6, (double) hour_bytes / samples, (double) hour_bytes / profiles,
			   gz_in / hour_bytes, t_hour, rss_hour);
		printf("level 2 (1 day block):      %.2f MB, %.3f B/sample, %.1f B/profile, %.1fx smaller than gzipped pprof; build %.1f s (from the hourly blocks); peak RSS %ld MB\n",
			   day.len / 1e6, (double) day.len / samples, (double) day.len / profiles,
			   gz_in / day.len, t_day, rss_day);
	}
	for (int h = 0; h < 24; h++)
		pyro_buf_free(&hour_blocks[h]);
	pyro_buf_free(&day);
	pyro_buf_free(&enc);
	pyro_buf_free(&gz);
	for (int t = 0; t < NTYPES; t++)
	{
		pyro_profile_free(var[t]);
		pyro_merger_free(bases[t].merger);
		pyro_normalized_free(bases[t].norm);
	}
	return 0;
}

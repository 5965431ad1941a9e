/*
 * jfr_dump: convert a JFR recording (gzip or not) with the core's converter
 * and print every produced profile's samples as jfr-parser's collapsed
 * test format, "frame:line;...;frame:line [v1 v2]" root first, one line
 * per sample, preceded by "# <name> <type/unit>..." and followed by the
 * totals.  Used by test/jfr_expected.sh to compare with upstream's
 * expected outputs.
 *
 * With --pprof-out PREFIX it also writes each profile as a gzip pprof,
 * PREFIX.N.pb.gz (what bench/jfr_ingest.sh compares JFR ingest with).
 *
 *	 jfr_dump [--labels FILE] [--sample-rate N] [--pprof-out PREFIX] FILE
 */
#include <stdio.h>
#include <stdlib.h>

#include "jfr.h"
#include "pbwire.h"
#include "pprof.h"

static PyroBuf
slurp(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	PyroBuf		b,
				out;
	PyroError	err;
	uint8_t		chunk[65536];
	size_t		n;

	pyro_buf_init(&b);
	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pyro_buf_append(&b, chunk, n);
	fclose(f);
	if (!pyro_is_gzip(b.data, b.len))
		return b;
	pyro_buf_init(&out);
	if (pyro_gunzip(b.data, b.len, (size_t) 1 << 30, &out, &err) != PYRO_OK)
	{
		fprintf(stderr, "%s: %s\n", path, err.msg);
		exit(2);
	}
	pyro_buf_free(&b);
	return out;
}

typedef struct Str
{
	const uint8_t *p;
	size_t		n;
} Str;

static void
dump(const PyroJfrProfile *prof)
{
	const uint8_t *p = prof->pprof.data,
			   *end = p + prof->pprof.len;
	Str		   *strs = NULL;
	size_t		nstr = 0;
	uint64_t	fn_name[1 << 16] = {0};
	uint64_t	loc_fn[1 << 16] = {0};
	uint64_t	loc_line[1 << 16] = {0};
	uint64_t	types[2][2];
	int			ntypes = 0;
	int64_t		totals[2] = {0, 0};
	PyroPbField f = {0};

	/* first pass: strings, functions, locations, types */
	for (const uint8_t *q = p; q < end;)
	{
		if ((q = pyro_pb_next(q, end, &f)) == NULL)
			break;
		if (q == NULL)
		{
			fprintf(stderr, "bad pprof\n");
			exit(1);
		}
		if (f.field == 6)
		{
			strs = realloc(strs, (nstr + 1) * sizeof(Str));
			strs[nstr].p = f.data;
			strs[nstr++].n = f.len;
		}
		else if (f.field == 1 || f.field == 4 || f.field == 5)
		{
			uint64_t	v[3] = {0, 0, 0};
			const uint8_t *e = f.data + f.len;

			for (const uint8_t *r = f.data; r < e;)
			{
				PyroPbField g = {0};

				if ((r = pyro_pb_next(r, e, &g)) == NULL)
					break;
				if (g.field == 4 && f.field == 4)
				{
					const uint8_t *le = g.data + g.len;

					for (const uint8_t *s = g.data; s < le;)
					{
						PyroPbField h = {0};

						if ((s = pyro_pb_next(s, le, &h)) == NULL)
							break;
						if (h.field <= 2)
							v[h.field] = h.v;
					}
				}
				else if (g.field <= 2 && g.wt == 0)
					v[g.field - 1 + (f.field == 4 ? 0 : 0)] = g.v;
			}
			if (f.field == 1 && ntypes < 2)
			{
				types[ntypes][0] = v[0];
				types[ntypes++][1] = v[1];
			}
			else if (f.field == 5 && v[0] < (1 << 16))
				fn_name[v[0]] = v[1];
			else if (f.field == 4 && v[0] < (1 << 16))
			{
				/* v[0] id (field 1), v[1] function (Line.1), v[2] line */
				loc_fn[v[0]] = v[1];
				loc_line[v[0]] = v[2];
			}
		}
	}
	printf("# %s", prof->name);
	for (int t = 0; t < ntypes; t++)
		printf(" %.*s/%.*s", (int) strs[types[t][0]].n, strs[types[t][0]].p,
			   (int) strs[types[t][1]].n, strs[types[t][1]].p);
	printf("\n");
	for (const uint8_t *q = p; q < end;)
	{
		uint64_t	locs[4096];
		int			nlocs = 0;
		int64_t		vals[2];
		int			nvals = 0;
		char		labels[4096] = "";
		size_t		ll = 0;

		if ((q = pyro_pb_next(q, end, &f)) == NULL)
			break;
		if (f.field != 2)
			continue;
		for (const uint8_t *r = f.data, *e = f.data + f.len; r < e;)
		{
			PyroPbField g = {0};

			if ((r = pyro_pb_next(r, e, &g)) == NULL)
				break;
			if (g.field == 1 || g.field == 2)
			{
				for (const uint8_t *s = g.data, *se = g.data + g.len; s < se;)
				{
					uint64_t	v = 0;

					if ((s = pyro_pb_varint(s, se, &v)) == NULL)
						break;
					if (g.field == 1 && nlocs < 4096)
						locs[nlocs++] = v;
					else if (g.field == 2 && nvals < 2)
						vals[nvals++] = (int64_t) v;
				}
			}
			else if (g.field == 3)
			{
				uint64_t	kv[2] = {0, 0};

				for (const uint8_t *s = g.data, *se = g.data + g.len; s < se;)
				{
					PyroPbField h = {0};

					if ((s = pyro_pb_next(s, se, &h)) == NULL)
						break;
					if (h.field <= 2)
						kv[h.field - 1] = h.v;
				}
				ll += snprintf(labels + ll, sizeof(labels) - ll, "%s%.*s=%.*s", ll ? "," : "",
							   (int) strs[kv[0]].n, strs[kv[0]].p, (int) strs[kv[1]].n, strs[kv[1]].p);
			}
		}
		if (ll)
			printf("{%s} ", labels);
		for (int i = nlocs - 1; i >= 0; i--)
		{
			uint64_t	s = fn_name[loc_fn[locs[i]]];

			printf("%.*s:%llu%s", (int) strs[s].n, strs[s].p,
				   (unsigned long long) loc_line[locs[i]], i ? ";" : "");
		}
		printf(" [");
		for (int i = 0; i < nvals; i++)
		{
			printf("%s%lld", i ? " " : "", (long long) vals[i]);
			totals[i] += vals[i];
		}
		printf("]\n");
	}
	printf("# total");
	for (int t = 0; t < ntypes; t++)
		printf(" %lld", (long long) totals[t]);
	printf("\n");
	free(strs);
}

int
main(int argc, char **argv)
{
	const char *labels_path = NULL;
	const char *pprof_out = NULL;
	PyroJfrOptions opt;
	PyroJfrLabels *labels = NULL;
	PyroJfrResult res;
	PyroError	err;
	PyroBuf		data;
	int			i;

	memset(&opt, 0, sizeof(opt));
	opt.sample_rate = 100;
	for (i = 1; i < argc - 1; i++)
	{
		if (strcmp(argv[i], "--labels") == 0)
			labels_path = argv[++i];
		else if (strcmp(argv[i], "--pprof-out") == 0)
			pprof_out = argv[++i];
		else if (strcmp(argv[i], "--sample-rate") == 0)
			opt.sample_rate = atoll(argv[++i]);
		else
			break;
	}
	if (i != argc - 1)
	{
		fprintf(stderr, "usage: jfr_dump [--labels FILE] [--sample-rate N] [--pprof-out PREFIX] FILE\n");
		return 2;
	}
	if (labels_path)
	{
		PyroBuf		lb = slurp(labels_path);

		if (pyro_jfr_labels_decode(lb.data, lb.len, &labels, &err) != PYRO_OK)
		{
			fprintf(stderr, "labels: %s\n", err.msg);
			return 1;
		}
		pyro_buf_free(&lb);
	}
	data = slurp(argv[i]);
	if (pyro_jfr_convert(data.data, data.len, labels, &opt, &res, &err) != PYRO_OK)
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (data.len >= 64)
	{
		uint64_t	tps = 0;

		for (int k = 56; k < 64; k++)
			tps = (tps << 8) | data.data[k];
		printf("# ticks_per_second %llu\n", (unsigned long long) tps);
	}
	printf("# chunks %zu event \"%s\" profiles %zu\n", res.nchunks, res.event, res.nprofiles);
	for (size_t k = 0; k < res.nprofiles; k++)
	{
		dump(&res.profiles[k]);
		if (pprof_out)
		{
			char		path[4096];
			PyroBuf		gz;
			FILE	   *f;

			snprintf(path, sizeof(path), "%s.%zu.pb.gz", pprof_out, k);
			pyro_buf_init(&gz);
			if (pyro_gzip(res.profiles[k].pprof.data, res.profiles[k].pprof.len, 1, &gz, &err) != PYRO_OK ||
				(f = fopen(path, "wb")) == NULL)
			{
				fprintf(stderr, "%s: could not write\n", path);
				return 1;
			}
			fwrite(gz.data, 1, gz.len, f);
			fclose(f);
			pyro_buf_free(&gz);
		}
	}
	pyro_jfr_result_free(&res);
	pyro_jfr_labels_free(labels);
	pyro_buf_free(&data);
	return 0;
}

/*-------------------------------------------------------------------------
 *
 * heatmap.c
 *	  Heatmaps of individual profiles (see heatmap.h).
 *
 *	  The points of each series are ordered by slot (an index array sorted
 *	  once), so that each series' slots come out in time order with one
 *	  pass; memory is the points' index and the emitted slots.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"

typedef struct Keyed
{
	uint32_t	series;
	int64_t		slot;
	size_t		point;
} Keyed;

static int
keyed_cmp(const void *a, const void *b)
{
	const Keyed *x = a;
	const Keyed *y = b;

	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return (x->point > y->point) - (x->point < y->point);
}

/* the right edge of the slot of time t */
static int64_t
slot_of(int64_t t, int64_t start, int64_t last, int64_t step)
{
	int64_t		k;

	if (t <= start)
		return start;
	if (t >= last)
		return last;
	k = (t - start) / step + ((t - start) % step != 0);
	return start + k * step;
}

/* the bucket of value v, given the lower bounds lo[] and the maximum */
static int
bucket_of(int64_t v, const int64_t *lo)
{
	for (int i = 0; i < PYRO_HEATMAP_BUCKETS - 1; i++)
		if (v >= lo[i] && v < lo[i + 1])
			return i;
	return PYRO_HEATMAP_BUCKETS - 1;
}

PyroStatus
pyro_heatmap_build(const PyroHeatPoint *points, size_t npoints, uint32_t nseries,
				   int64_t start, int64_t end, int64_t step, PyroHeatmap *out,
				   PyroError *err)
{
	int64_t		lo[PYRO_HEATMAP_BUCKETS];
	int64_t		vmin = 0,
				vmax = 0;
	double		size;
	int64_t		last;
	Keyed	   *k = NULL;

	memset(out, 0, sizeof(*out));
	if (step <= 0 || start > end)
		return pyro_error_set(err, PYRO_EINVAL, "a heatmap needs a positive step and start <= end");
	if ((uint64_t) (end - start) / (uint64_t) step >= (uint64_t) 1 << 40)
		return pyro_error_set(err, PYRO_ELIMIT, "a heatmap of that many slots is not supported");
	last = start + ((end - start) / step + ((end - start) % step != 0)) * step;
	out->series = pyro_calloc(nseries ? nseries : 1, sizeof(PyroHeatSeries));
	if (out->series == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory building a heatmap");
	out->nseries = nseries;

	/* the Y axis, over every point of every series */
	for (size_t i = 0; i < npoints; i++)
	{
		if (points[i].series >= nseries)
		{
			pyro_heatmap_free(out);
			return pyro_error_set(err, PYRO_EINVAL, "heatmap point of an unknown series");
		}
		if (i == 0 || points[i].value < vmin)
			vmin = points[i].value;
		if (i == 0 || points[i].value > vmax)
			vmax = points[i].value;
	}
	if (vmax == vmin)
		vmax = vmin + 1;
	size = ((double) vmax - (double) vmin) / PYRO_HEATMAP_BUCKETS;
	for (int i = 0; i < PYRO_HEATMAP_BUCKETS; i++)
	{
		lo[i] = vmin + (int64_t) trunc(i * size);
		out->y_min[i] = (double) lo[i];
	}
	if (npoints == 0)
		return PYRO_OK;

	/* points by (series, slot) */
	k = pyro_malloc(npoints * sizeof(Keyed));
	if (k == NULL)
	{
		pyro_heatmap_free(out);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory building a heatmap");
	}
	for (size_t i = 0; i < npoints; i++)
	{
		k[i].series = points[i].series;
		k[i].slot = slot_of(points[i].ts, start, last, step);
		k[i].point = i;
	}
	qsort(k, npoints, sizeof(Keyed), keyed_cmp);

	for (size_t a = 0; a < npoints;)
	{
		PyroHeatSeries *s = &out->series[k[a].series];
		size_t		nslots = 0;
		size_t		b = a;

		/* the slots of this series */
		while (b < npoints && k[b].series == k[a].series)
		{
			if (b == a || k[b].slot != k[b - 1].slot)
				nslots++;
			b++;
		}
		s->slots = pyro_calloc(nslots, sizeof(PyroHeatSlot));
		if (s->slots == NULL)
		{
			pyro_free(k);
			pyro_heatmap_free(out);
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory building a heatmap");
		}
		for (size_t i = a; i < b; i++)
		{
			const PyroHeatPoint *p = &points[k[i].point];
			PyroHeatSlot *sl;
			int			bk = bucket_of(p->value, lo);

			if (i == a || k[i].slot != k[i - 1].slot)
			{
				sl = &s->slots[s->nslots++];
				sl->ts = k[i].slot;
				for (int j = 0; j < PYRO_HEATMAP_BUCKETS; j++)
					sl->best[j] = SIZE_MAX;
			}
			sl = &s->slots[s->nslots - 1];
			sl->counts[bk]++;
			s->count++;
			if (sl->best[bk] == SIZE_MAX || p->value > points[sl->best[bk]].value)
				sl->best[bk] = k[i].point;
		}
		a = b;
	}
	pyro_free(k);
	return PYRO_OK;
}

void
pyro_heatmap_free(PyroHeatmap *h)
{
	if (h->series)
	{
		for (uint32_t i = 0; i < h->nseries; i++)
			pyro_free(h->series[i].slots);
		pyro_free(h->series);
	}
	memset(h, 0, sizeof(*h));
}

/*-------------------------------------------------------------------------
 *
 * merge.c
 *	  PyroMerger: folds many single-value profiles into one, as flame
 *	  graphs and merged-profile queries need.
 *
 * The merger owns one global PyroSymbols.  Adding a profile maps its
 * symbols into the global tables through per-input remap arrays that are
 * filled on demand (PyroSymMap, symmap.c, shared with the block writer):
 * only the stack nodes the samples reach (and their ancestors, locations,
 * functions, mappings and strings) are interned, so profiles that share
 * one large symbol set (the pprof normaliser splits a pprof into several
 * profiles over one set) do not pay for what they do not use.  Values are
 * then accumulated per (global stack, span id) in a PyroSampleAcc
 * (sample_acc.c, shared with the block reader); the result sorts the
 * non-zero sums.
 *
 * Nothing is allocated per sample: remap arrays, the accumulation table and
 * scratch space are reused between adds and grown geometrically.
 *
 *-------------------------------------------------------------------------
 */
#include "sample_acc.h"
#include "symmap.h"

#include <stdlib.h>

struct PyroMerger
{
	int			flags;
	PyroSymbols *sym;
	uint64_t	count;

	/* metadata of the first profile, as global string indexes */
	bool		have_meta;
	uint32_t	sample_type;
	uint32_t	sample_unit;
	uint32_t	period_type;
	uint32_t	period_unit;
	int64_t		period;
	int64_t		time_nanos;
	int64_t		duration_nanos;

	/* maps each added profile's symbols into sym */
	PyroSymMap	map;

	/* sums per (global stack, span id) */
	PyroSampleAcc acc;

	/* span filter: sorted, unique */
	bool		has_filter;
	uint64_t   *filter;
	size_t		nfilter;

	PyroProfile *result;
};

PyroMerger *
pyro_merger_create(int flags)
{
	PyroMerger *m = pyro_calloc(1, sizeof(PyroMerger));

	if (m == NULL)
		return NULL;
	m->flags = flags;
	m->sym = pyro_symbols_create();
	if (m->sym == NULL)
	{
		pyro_free(m);
		return NULL;
	}
	pyro_symmap_init(&m->map, m->sym, PYRO_ECORRUPT, true, "out of memory merging profiles");
	return m;
}

static void
drop_result(PyroMerger *m)
{
	if (m->result)
	{
		pyro_profile_free(m->result);
		m->result = NULL;
	}
}

void
pyro_merger_free(PyroMerger *m)
{
	if (m == NULL)
		return;
	drop_result(m);
	pyro_symbols_free(m->sym);
	pyro_symmap_free(&m->map);
	pyro_acc_free(&m->acc);
	pyro_free(m->filter);
	pyro_free(m);
}

uint64_t
pyro_merger_count(const PyroMerger *m)
{
	return m->count;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

/*
 * Keep only samples whose span id is in span_ids[0..n).  span_ids = NULL
 * removes the filter; a non-NULL empty set keeps nothing.
 */
PyroStatus
pyro_merger_set_span_filter(PyroMerger *m, const uint64_t *span_ids, size_t n,
							PyroError *err)
{
	uint64_t   *f = NULL;
	size_t		k = 0;

	drop_result(m);
	if (span_ids == NULL)
	{
		pyro_free(m->filter);
		m->filter = NULL;
		m->nfilter = 0;
		m->has_filter = false;
		return PYRO_OK;
	}
	if (n > 0)
	{
		f = pyro_calloc(n, sizeof(uint64_t));
		if (f == NULL)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory setting a span filter");
		memcpy(f, span_ids, n * sizeof(uint64_t));
		qsort(f, n, sizeof(uint64_t), cmp_u64);
		for (size_t i = 0; i < n; i++)
		{
			if (k == 0 || f[k - 1] != f[i])
				f[k++] = f[i];
		}
	}
	pyro_free(m->filter);
	m->filter = f;
	m->nfilter = k;
	m->has_filter = true;
	return PYRO_OK;
}

static bool
filter_match(const PyroMerger *m, uint64_t span)
{
	size_t		lo = 0;
	size_t		hi = m->nfilter;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (m->filter[mid] < span)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nfilter && m->filter[lo] == span;
}

/* ----------------------------------------------------------------
 * adding profiles
 * ----------------------------------------------------------------
 */

/*
 * Fold p into the merger.  p is validated as it is mapped, so a broken
 * profile yields PYRO_ECORRUPT; samples already accumulated from it stay
 * (callers discard the merger on error).
 */
PyroStatus
pyro_merger_add_profile(PyroMerger *m, const PyroProfile *p, PyroError *err)
{
	const PyroSymbols *in;
	PyroSymMap *sm = &m->map;
	bool		keep_spans = (m->flags & PYRO_MERGE_KEEP_SPANS) != 0;

	if (p == m->result && p != NULL)
		return pyro_error_set(err, PYRO_EINVAL, "cannot add a merger's own result to it");
	drop_result(m);
	if (p == NULL || p->sym == NULL)
		return pyro_error_set(err, PYRO_EINVAL, "profile has no symbols");
	in = p->sym;
	if (in->nstrings == 0 || in->nmappings == 0 || in->nstacks == 0)
		return pyro_error_set(err, PYRO_ECORRUPT, "profile symbols lack their sentinels");

	if (!pyro_symmap_begin(sm, in, false, err))
		return sm->status;

	if (!m->have_meta)
	{
		uint32_t	st,
					su,
					pt,
					pu;

		if ((st = pyro_symmap_string(sm, p->sample_type, "metadata", 0)) == PYRO_NO_INDEX ||
			(su = pyro_symmap_string(sm, p->sample_unit, "metadata", 1)) == PYRO_NO_INDEX ||
			(pt = pyro_symmap_string(sm, p->period_type, "metadata", 2)) == PYRO_NO_INDEX ||
			(pu = pyro_symmap_string(sm, p->period_unit, "metadata", 3)) == PYRO_NO_INDEX)
			return sm->status;
		m->sample_type = st;
		m->sample_unit = su;
		m->period_type = pt;
		m->period_unit = pu;
		m->period = p->period;
		m->time_nanos = p->time_nanos;
		m->duration_nanos = p->duration_nanos;
		m->have_meta = true;
	}

	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];
		uint32_t	g;

		if (s->value == 0)
			continue;			/* cannot change any sum */
		if (m->has_filter && !filter_match(m, s->span_id))
			continue;
		if (s->stack >= in->nstacks)
			return pyro_error_set(err, PYRO_ECORRUPT, "sample %zu refers to unknown stack node %u",
								  i, (unsigned) s->stack);
		g = pyro_symmap_stack(sm, s->stack);
		if (g == PYRO_NO_INDEX)
			return sm->status;
		if (!pyro_acc_add(&m->acc, g, keep_spans ? s->span_id : 0, s->value))
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory merging profiles");
	}
	m->count++;
	return PYRO_OK;
}

/* Decode a PYP1 profile and fold it in. */
PyroStatus
pyro_merger_add_encoded(PyroMerger *m, const uint8_t *data, size_t len,
						PyroError *err)
{
	PyroProfile *p;
	PyroStatus	st;

	drop_result(m);
	st = pyro_profile_decode(data, len, &p, err);
	if (st != PYRO_OK)
		return st;
	st = pyro_merger_add_profile(m, p, err);
	pyro_profile_free(p);
	return st;
}

/* ----------------------------------------------------------------
 * result
 * ----------------------------------------------------------------
 */

/*
 * Build the merged profile over the merger's symbols: non-zero sums sorted
 * by (stack, span id), metadata of the first profile added.
 */
const PyroProfile *
pyro_merger_result(PyroMerger *m, PyroError *err)
{
	PyroProfile *r;

	if (m->result)
		return m->result;
	r = pyro_profile_create(m->sym, false);
	if (r == NULL)
	{
		pyro_error_set(err, PYRO_ENOMEM, "out of memory merging profiles");
		return NULL;
	}
	if (!pyro_acc_emit(&m->acc, r))
	{
		pyro_profile_free(r);
		pyro_error_set(err, PYRO_ENOMEM, "out of memory merging profiles");
		return NULL;
	}
	r->sample_type = m->sample_type;
	r->sample_unit = m->sample_unit;
	r->period_type = m->period_type;
	r->period_unit = m->period_unit;
	r->period = m->period;
	r->time_nanos = m->time_nanos;
	r->duration_nanos = m->duration_nanos;
	m->result = r;
	return r;
}

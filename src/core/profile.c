/*-------------------------------------------------------------------------
 *
 * profile.c
 *	  Single-value profiles (PyroProfile): creation, sample appends and
 *	  totals, span totals.  The codec lives in profile_codec.c, merging in
 *	  merge.c.
 *
 *-------------------------------------------------------------------------
 */
#include "profile.h"

#include <stdlib.h>

/*
 * Create an empty profile over sym (which may be NULL only if the caller
 * sets it before use).  With owns_sym the profile frees sym.
 */
PyroProfile *
pyro_profile_create(PyroSymbols *sym, bool owns_sym)
{
	PyroProfile *p = pyro_calloc(1, sizeof(PyroProfile));

	if (p == NULL)
		return NULL;
	p->sym = sym;
	p->owns_sym = owns_sym;
	return p;
}

void
pyro_profile_free(PyroProfile *p)
{
	if (p == NULL)
		return;
	if (p->owns_sym)
		pyro_symbols_free(p->sym);
	pyro_free(p->samples);
	pyro_free(p->traces);
	pyro_free(p);
}

bool
pyro_profile_add_trace(PyroProfile *p, uint64_t span, uint64_t trace_hi, uint64_t trace_lo)
{
	/* samples of one span mostly come together: look back a little */
	for (size_t i = p->ntraces, k = 0; i > 0 && k < 8; i--, k++)
		if (p->traces[i - 1].span == span)
			return true;
	if (!pyro_grow((void **) &p->traces, &p->traces_cap, p->ntraces + 1, sizeof(PyroSpanTrace)))
		return false;
	p->traces[p->ntraces].span = span;
	p->traces[p->ntraces].trace_hi = trace_hi;
	p->traces[p->ntraces].trace_lo = trace_lo;
	p->ntraces++;
	return true;
}

bool
pyro_profile_trace_of(const PyroProfile *p, uint64_t span, uint64_t *trace_hi,
					  uint64_t *trace_lo)
{
	for (size_t i = 0; i < p->ntraces; i++)
		if (p->traces[i].span == span)
		{
			*trace_hi = p->traces[i].trace_hi;
			*trace_lo = p->traces[i].trace_lo;
			return true;
		}
	return false;
}

static int
span_total_cmp(const void *a, const void *b)
{
	uint64_t	x = ((const PyroSpanTotal *) a)->span;
	uint64_t	y = ((const PyroSpanTotal *) b)->span;

	return (x > y) - (x < y);
}

PyroStatus
pyro_profile_span_totals(const PyroProfile *p, PyroSpanTotal **out, size_t *n,
						 PyroError *err)
{
	PyroSpanTotal *v = NULL;
	size_t		k = 0;
	size_t		m = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < p->nsamples; i++)
		if (p->samples[i].span_id != 0)
			k++;
	if (k == 0)
		return PYRO_OK;
	v = pyro_malloc(k * sizeof(PyroSpanTotal));
	if (v == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory summing spans");
	k = 0;
	for (size_t i = 0; i < p->nsamples; i++)
		if (p->samples[i].span_id != 0)
		{
			v[k].span = p->samples[i].span_id;
			v[k].total = p->samples[i].value;
			k++;
		}
	qsort(v, k, sizeof(PyroSpanTotal), span_total_cmp);
	for (size_t i = 0; i < k; i++)
	{
		if (m > 0 && v[m - 1].span == v[i].span)
		{
			v[m - 1].total = (int64_t) ((uint64_t) v[m - 1].total + (uint64_t) v[i].total);
			continue;
		}
		v[m] = v[i];
		v[m].has_trace = pyro_profile_trace_of(p, v[m].span, &v[m].trace_hi, &v[m].trace_lo);
		m++;
	}
	*out = v;
	*n = m;
	return PYRO_OK;
}

/* Append one sample; false on allocation failure (the profile is unchanged). */
bool
pyro_profile_add_sample(PyroProfile *p, uint32_t stack, int64_t value,
						uint64_t span_id)
{
	PyroSample *s;

	if (p->nsamples >= p->samples_cap &&
		!pyro_grow((void **) &p->samples, &p->samples_cap, p->nsamples + 1,
				   sizeof(PyroSample)))
		return false;
	s = &p->samples[p->nsamples++];
	s->stack = stack;
	s->value = value;
	s->span_id = span_id;
	return true;
}

/* Sum of all sample values, saturating instead of overflowing. */
int64_t
pyro_profile_total(const PyroProfile *p)
{
	int64_t		total = 0;

	for (size_t i = 0; i < p->nsamples; i++)
	{
		int64_t		r;

		if (__builtin_add_overflow(total, p->samples[i].value, &r))
			r = p->samples[i].value > 0 ? INT64_MAX : INT64_MIN;
		total = r;
	}
	return total;
}

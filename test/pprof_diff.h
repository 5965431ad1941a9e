/*-------------------------------------------------------------------------
 *
 * pprof_diff.h
 *	  Differential check of the two pprof normalisers: the hand-written
 *	  pyro_pprof_normalize (pprof_wire.c) against the protobuf-c reference
 *	  pyro_pprof_normalize_reference (pprof_decode.c).  Header-only so that
 *	  the unit tests, the fuzz target and test/tools/pprof_diff.c share it.
 *
 *	  pprof_diff() normalises the same bytes with both and compares: the
 *	  status and error message on failure; on success the metadata, the
 *	  series (type, split labels) and, per series, the PYP1 bytes of
 *	  pyro_profile_encode, which cover the samples and every symbol they
 *	  reach, in order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PPROF_DIFF_H
#define PYRO_PPROF_DIFF_H

#include <stdio.h>
#include <string.h>

#include "pprof_reference.h"

static inline bool
pprof_diff_str(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/*
 * Compare two normalised results; false with a reason in why when they
 * differ.
 */
static inline bool
pprof_diff_results(const PyroNormalized *a, const PyroNormalized *b, char *why, size_t whysize)
{
	if (a->ntypes != b->ntypes || a->nseries != b->nseries ||
		a->input_samples != b->input_samples || a->decoded_bytes != b->decoded_bytes ||
		a->period != b->period || a->time_nanos != b->time_nanos ||
		a->duration_nanos != b->duration_nanos ||
		!pprof_diff_str(a->period_type, b->period_type) ||
		!pprof_diff_str(a->period_unit, b->period_unit) ||
		!pprof_diff_str(a->default_name, b->default_name))
	{
		snprintf(why, whysize, "metadata differs (ntypes %u/%u, nseries %zu/%zu)",
				 a->ntypes, b->ntypes, a->nseries, b->nseries);
		return false;
	}
	for (uint32_t t = 0; t < a->ntypes; t++)
		if (!pprof_diff_str(a->sample_types[t], b->sample_types[t]) ||
			!pprof_diff_str(a->sample_units[t], b->sample_units[t]))
		{
			snprintf(why, whysize, "sample type %u differs", t);
			return false;
		}
	for (size_t i = 0; i < a->nseries; i++)
	{
		const PyroSeriesProfile *x = &a->series[i];
		const PyroSeriesProfile *y = &b->series[i];
		PyroBuf		ex,
					ey;
		PyroError	err;
		bool		same;

		if (x->type_index != y->type_index || x->sample_labels.n != y->sample_labels.n ||
			x->total != y->total || x->nsamples != y->nsamples)
		{
			snprintf(why, whysize, "series %zu: type, label count, total or sample count differs", i);
			return false;
		}
		for (size_t k = 0; k < x->sample_labels.n; k++)
			if (!pprof_diff_str(x->sample_labels.labels[k].name, y->sample_labels.labels[k].name) ||
				!pprof_diff_str(x->sample_labels.labels[k].value, y->sample_labels.labels[k].value))
			{
				snprintf(why, whysize, "series %zu: label %zu differs", i, k);
				return false;
			}
		if (y->profile == NULL)
			continue;			/* b is a summary */
		if (pyro_profile_total(x->profile) != x->total)
		{
			snprintf(why, whysize, "series %zu: total %lld, profile sums to %lld", i,
					 (long long) x->total, (long long) pyro_profile_total(x->profile));
			return false;
		}
		pyro_buf_init(&ex);
		pyro_buf_init(&ey);
		same = pyro_profile_encode(x->profile, &ex, &err) == PYRO_OK &&
			pyro_profile_encode(y->profile, &ey, &err) == PYRO_OK &&
			ex.len == ey.len && memcmp(ex.data, ey.data, ex.len) == 0;
		pyro_buf_free(&ex);
		pyro_buf_free(&ey);
		if (!same)
		{
			snprintf(why, whysize, "series %zu: encoded profiles differ (%zu vs %zu samples)",
					 i, x->profile->nsamples, y->profile->nsamples);
			return false;
		}
	}
	return true;
}

/* Compare two decodes of the same bytes: status and message, or results. */
static inline bool
pprof_diff_outcomes(PyroStatus sa, const PyroError *ea, const PyroNormalized *a,
					PyroStatus sb, const PyroError *eb, const PyroNormalized *b,
					const char *what, char *why, size_t whysize)
{
	if (sa != sb)
	{
		snprintf(why, whysize, "status %d (%s) vs %s %d (%s)", sa,
				 sa ? ea->msg : "ok", what, sb, sb ? eb->msg : "ok");
		return false;
	}
	if (sa != PYRO_OK)
	{
		if (strcmp(ea->msg, eb->msg) != 0)
		{
			snprintf(why, whysize, "error \"%s\" vs %s \"%s\"", ea->msg, what, eb->msg);
			return false;
		}
		return true;
	}
	return pprof_diff_results(a, b, why, whysize);
}

/*
 * Normalise data with both decoders, and summarise it, and compare.
 * Returns true when all three agree; *status (if not NULL) receives the
 * common status.
 */
static inline bool
pprof_diff(const uint8_t *data, size_t len, const PyroPprofLimits *lim,
		   PyroStatus *status, char *why, size_t whysize)
{
	PyroNormalized *a = NULL,
			   *b = NULL,
			   *c = NULL;
	PyroError	ea,
				eb,
				ec;
	PyroStatus	sa = pyro_pprof_normalize(data, len, lim, &a, &ea);
	PyroStatus	sb = pyro_pprof_normalize_reference(data, len, lim, &b, &eb);
	PyroStatus	sc = pyro_pprof_summarize(data, len, lim, &c, &ec);
	bool		ok;

	if (status)
		*status = sb;
	/* an out-of-memory summary is no disagreement (it needs less memory) */
	ok = pprof_diff_outcomes(sa, &ea, a, sb, &eb, b, "reference", why, whysize) &&
		(sa == PYRO_ENOMEM ||
		 pprof_diff_outcomes(sa, &ea, a, sc, &ec, c, "summary", why, whysize));
	pyro_normalized_free(a);
	pyro_normalized_free(b);
	pyro_normalized_free(c);
	return ok;
}

/* The limit sets every input is compared under: defaults, then tight ones. */
static inline void
pprof_diff_limits(int which, PyroPprofLimits *lim)
{
	pyro_pprof_limits_default(lim);
	switch (which)
	{
		case 1:
			lim->max_stack_depth = 3;
			lim->max_string_length = 4;
			break;
		case 2:
			lim->max_samples = 10;
			lim->max_sample_labels = 1;
			break;
		case 3:
			lim->max_decompressed = 0;
			lim->max_samples = 0;
			lim->max_sample_labels = 0;
			lim->max_stack_depth = 0;
			lim->max_string_length = 0;
			break;
		default:
			break;
	}
}

#define PPROF_DIFF_NLIMITS 4

#endif							/* PYRO_PPROF_DIFF_H */

/*-------------------------------------------------------------------------
 *
 * pprof_int.h
 *	  Helpers shared by the two pprof normalisers (test/reference/pprof_decode.c, the
 *	  protobuf-c reference, and pprof_wire.c, the hand-written hot path).
 *	  Private to src/core.
 *
 * Each decoder reads the wire format its own way (that independence is
 * what the differential tests check); once a profile is decoded into
 * string table indexes, both apply the same rules, which live here and
 * in pprof_common.c: input size and gzip, the header checks, the sample
 * limit, string interning (UTF-8, truncation), mappings and functions,
 * the location address rule, which samples are kept, sample labels into
 * a split key, groups of samples, metadata and the final series.  What
 * stays in each decoder: reading the protobuf, id maps, the checks that
 * walk its own tables (mapping, function, location and sample
 * references), and building stack nodes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PPROF_INT_H
#define PYRO_PPROF_INT_H

#include <sys/types.h>

#include "pprof.h"

#define PYRO_PPROF_NONE	UINT32_MAX

/* A string of the pprof string table, up to its first NUL byte. */
typedef struct PyroPprofStr
{
	const char *p;
	size_t		len;
} PyroPprofStr;

/* A ValueType: string table indexes of type and unit. */
typedef struct PyroPprofValueType
{
	int64_t		type;
	int64_t		unit;
} PyroPprofValueType;

/* What pyro_pprof_validate_header checks, as the decoder read it. */
typedef struct PyroPprofHeader
{
	size_t		nstrings;
	size_t		first_string_len;	/* of entry 0, when nstrings > 0 */
	size_t		nmapping;
	size_t		nfunction;
	size_t		nlocation;
	const PyroPprofValueType *types;
	size_t		ntypes;
	const PyroPprofValueType *period_type;	/* NULL when absent */
	int64_t		default_sample_type;
	int64_t		drop_frames;
	int64_t		keep_frames;
	const int64_t *comments;
	size_t		ncomments;
} PyroPprofHeader;

/* What one (group, sample type) received: kept non-zero values. */
typedef struct PyroPprofStat
{
	int64_t		total;			/* saturating sum */
	uint64_t	count;			/* samples, before identical stacks merge */
} PyroPprofStat;

/* One group of samples sharing the same split labels. */
typedef struct PyroPprofGroup
{
	size_t		key_off;		/* into PyroPprofNorm.keys, pairs of sym
								 * strings */
	uint32_t	key_n;			/* number of (name, value) pairs */
	uint64_t	hash;
} PyroPprofGroup;

/*
 * The normalisation state shared by both decoders.  The decoder sets lim,
 * err, strings/nstrings (valid, checked string table), ntypes and the
 * numbers of mappings, functions and locations, then calls
 * pyro_pprof_norm_begin.
 */
typedef struct PyroPprofNorm
{
	const PyroPprofLimits *lim;
	PyroError  *err;
	PyroSymbols *sym;
	const PyroPprofStr *strings;
	size_t		nstrings;
	size_t		ntypes;

	size_t		nmapping;
	size_t		nfunction;
	size_t		nlocation;

	/* table position -> sym index, filled lazily (NONE = not yet) */
	uint32_t   *str_map;
	uint32_t   *map_map;
	uint32_t   *fn_map;
	uint32_t   *loc_map;

	/* scratch */
	PyroLine   *lines;
	size_t		lines_cap;
	uint32_t   *pairs;			/* the split key being built */
	size_t		pairs_cap;

	/* groups; profiles[g * ntypes + t] */
	PyroPprofGroup *groups;
	size_t		ngroups;
	size_t		groups_cap;
	uint32_t   *keys;
	size_t		nkeys;
	size_t		keys_cap;
	uint32_t   *group_hash;		/* open addressing; group index + 1, 0 = empty */
	size_t		group_hash_cap;
	PyroProfile **profiles;
	size_t		profiles_cap;
	PyroPprofStat *stats;		/* stats[g * ntypes + t], as profiles */
	size_t		stats_cap;

	/* metadata as sym strings */
	uint32_t   *type_idx;
	uint32_t   *unit_idx;
	uint32_t	ptype;
	uint32_t	punit;
} PyroPprofNorm;

/* Guess __name__ (e.g. "process_cpu") from n's sample and period types. */

/* pprof_common.c */
extern PyroStatus pyro_pprof_oom(PyroError *err);
extern uint32_t *pyro_pprof_none_array(size_t n);
extern PyroStatus pyro_pprof_prepare_input(const uint8_t **data, size_t *len,
										   const PyroPprofLimits *limits,
										   PyroBuf *raw, PyroError *err);
extern PyroStatus pyro_pprof_bad_str(PyroError *err, size_t nstrings, const char *what,
									 uint64_t id, int64_t idx);
extern PyroStatus pyro_pprof_validate_header(const PyroPprofHeader *h, PyroError *err);
extern PyroStatus pyro_pprof_check_label(PyroError *err, size_t nstrings, size_t sample,
										 int64_t key, int64_t str, int64_t num_unit);
extern PyroStatus pyro_pprof_norm_begin(PyroPprofNorm *nm, size_t nsample,
										size_t decoded_bytes, PyroNormalized **n);
extern void pyro_pprof_norm_free(PyroPprofNorm *nm);
extern uint32_t pyro_pprof_intern_new(PyroPprofNorm *nm, int64_t idx);
extern bool pyro_pprof_str_valid(PyroPprofNorm *nm, int64_t idx);
extern uint32_t pyro_pprof_intern_mapping(PyroPprofNorm *nm, uint32_t pos,
										  uint64_t memory_start, uint64_t memory_limit,
										  uint64_t file_offset, int64_t filename,
										  int64_t build_id, uint32_t flags);
extern uint32_t pyro_pprof_intern_function(PyroPprofNorm *nm, uint32_t pos, int64_t name,
										   int64_t system_name, int64_t filename,
										   int64_t start_line);
extern bool pyro_pprof_lines_reserve(PyroPprofNorm *nm, size_t nlines);
extern uint32_t pyro_pprof_intern_location(PyroPprofNorm *nm, uint32_t pos,
										   uint32_t mapping, uint64_t address,
										   size_t nlines);
extern bool pyro_pprof_key_reserve(PyroPprofNorm *nm, size_t nlabels);
extern bool pyro_pprof_key_add(PyroPprofNorm *nm, int64_t key, int64_t str,
							   size_t *n, uint64_t *span_id, uint64_t *trace);
extern size_t pyro_pprof_key_finish(PyroPprofNorm *nm, size_t n);
extern uint32_t pyro_pprof_find_group(PyroPprofNorm *nm, size_t n);
extern PyroStatus pyro_pprof_norm_metadata(PyroPprofNorm *nm, PyroNormalized *n,
										   const PyroPprofValueType *types,
										   const PyroPprofValueType *period_type,
										   int64_t period, int64_t time_nanos,
										   int64_t duration_nanos);
extern PyroStatus pyro_pprof_norm_series(PyroPprofNorm *nm, PyroNormalized *n,
										 bool reference_sort);

/* Whether idx is an index into a string table of nstrings entries. */
static inline bool
pyro_pprof_str_ok(size_t nstrings, int64_t idx)
{
	return idx >= 0 && (uint64_t) idx < nstrings;
}

/*
 * Intern string table entry idx (range-checked by the caller) into the
 * symbols, through the per-position cache.  NONE with the error set on
 * failure.  Inline: the hot path hits the cache for every label.
 */
static inline uint32_t
pyro_pprof_intern_str(PyroPprofNorm *nm, int64_t idx)
{
	if (nm->str_map[idx] != PYRO_PPROF_NONE)
		return nm->str_map[idx];
	return pyro_pprof_intern_new(nm, idx);
}

/*
 * Whether a sample with these values is kept: no value is negative and
 * at least one is non-zero.
 */
static inline bool
pyro_pprof_sample_kept(const int64_t *val, size_t ntypes)
{
	bool		keep = false;

	for (size_t t = 0; t < ntypes; t++)
	{
		if (val[t] < 0)
			return false;
		if (val[t] != 0)
			keep = true;
	}
	return keep;
}

/*
 * Count a kept sample's non-zero values into the stats of group g (the
 * whole work of a sample in summary mode).
 */
static inline void
pyro_pprof_count_sample(PyroPprofNorm *nm, uint32_t g, const int64_t *val)
{
	PyroPprofStat *st = &nm->stats[(size_t) g * nm->ntypes];

	for (size_t t = 0; t < nm->ntypes; t++)
	{
		int64_t		sum;

		if (val[t] == 0)
			continue;
		if (__builtin_add_overflow(st[t].total, val[t], &sum))
			sum = INT64_MAX;
		st[t].total = sum;
		st[t].count++;
	}
}

/*
 * Add a kept sample to the profiles of group g, one per non-zero value,
 * creating the profiles on first use.  Inline: once per kept sample.
 */
static inline PyroStatus
pyro_pprof_add_sample(PyroPprofNorm *nm, uint32_t g, uint32_t stack,
					  const int64_t *val, uint64_t span_id, const uint64_t *trace)
{
	pyro_pprof_count_sample(nm, g, val);
	for (size_t t = 0; t < nm->ntypes; t++)
	{
		PyroProfile **pp = &nm->profiles[(size_t) g * nm->ntypes + t];
		PyroProfile *p;

		if (val[t] == 0)
			continue;
		if (*pp == NULL && (*pp = pyro_profile_create(nm->sym, false)) == NULL)
			return pyro_pprof_oom(nm->err);
		p = *pp;
		if (p->nsamples >= p->samples_cap &&
			!pyro_grow((void **) &p->samples, &p->samples_cap,
					   p->nsamples < 64 ? 64 : p->nsamples + 1, sizeof(PyroSample)))
			return pyro_pprof_oom(nm->err);
		p->samples[p->nsamples].stack = stack;
		p->samples[p->nsamples].value = val[t];
		p->samples[p->nsamples].span_id = span_id;
		p->nsamples++;
		if (span_id != 0 && (trace[0] | trace[1]) != 0 &&
			!pyro_profile_add_trace(p, span_id, trace[0], trace[1]))
			return pyro_pprof_oom(nm->err);
	}
	return PYRO_OK;
}

#endif							/* PYRO_PPROF_INT_H */

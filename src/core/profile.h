/*-------------------------------------------------------------------------
 *
 * profile.h
 *	  The core's in-memory profile model: de-duplicated symbols (strings,
 *	  mappings, functions, locations, a parent-pointer stack tree), single-
 *	  value profiles over them, the compact binary codec used for stored
 *	  profiles ("PYP1"), and the merger that folds many profiles into one.
 *
 * Index conventions (all indexes are 0-based uint32):
 *	- strings[0] is always "" and means "unset".
 *	- mappings[0] is a sentinel meaning "no mapping"; Location.mapping = 0
 *	  therefore means the location has no mapping.
 *	- stacks[0] is the virtual root; every other stack node has
 *	  parent < its own index (nodes are topologically ordered).  A node is
 *	  one frame of a call stack: its location, and its caller as parent.
 *	  A sample's stack is the node of its leaf frame; walking parents up to
 *	  node 0 gives the stack leaf to root.
 *	- functions and locations have no sentinel.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PROFILE_H
#define PYRO_PROFILE_H

#include "common.h"

typedef struct PyroStr
{
	const char *ptr;			/* not NUL-terminated in general */
	uint32_t	len;
} PyroStr;

typedef struct PyroFunction
{
	uint32_t	name;			/* string index */
	uint32_t	system_name;	/* string index */
	uint32_t	filename;		/* string index */
	int64_t		start_line;
} PyroFunction;

#define PYRO_MAPPING_HAS_FUNCTIONS		0x01
#define PYRO_MAPPING_HAS_FILENAMES		0x02
#define PYRO_MAPPING_HAS_LINE_NUMBERS	0x04
#define PYRO_MAPPING_HAS_INLINE_FRAMES	0x08

typedef struct PyroMapping
{
	uint64_t	memory_start;
	uint64_t	memory_limit;
	uint64_t	file_offset;
	uint32_t	filename;		/* string index */
	uint32_t	build_id;		/* string index */
	uint32_t	flags;			/* PYRO_MAPPING_* */
} PyroMapping;

typedef struct PyroLine
{
	uint32_t	function;		/* function index */
	int64_t		line;
} PyroLine;

/*
 * A location's lines live in PyroSymbols.lines[first_line .. first_line +
 * nlines).  As in pprof, lines[first_line] is the innermost (inlined) frame
 * and the last one is the outermost caller.
 */
typedef struct PyroLocation
{
	uint32_t	mapping;		/* mapping index, 0 = none */
	uint32_t	first_line;
	uint32_t	nlines;
	uint64_t	address;
} PyroLocation;

typedef struct PyroStackNode
{
	uint32_t	parent;			/* stack node index; < own index */
	uint32_t	location;		/* location index (unused for node 0) */
} PyroStackNode;

/*
 * De-duplicated symbol tables.  Interning (pyro_sym_intern_*) de-duplicates
 * by content through hash indexes that are built lazily on first use; the
 * codec decoder appends without hashing because stored tables are already
 * unique.
 */
typedef struct PyroSymIndex PyroSymIndex;	/* private hash index */

typedef struct PyroSymbols
{
	PyroStr    *strings;
	uint32_t	nstrings;
	size_t		strings_cap;

	PyroMapping *mappings;
	uint32_t	nmappings;
	size_t		mappings_cap;

	PyroFunction *functions;
	uint32_t	nfunctions;
	size_t		functions_cap;

	PyroLocation *locations;
	uint32_t	nlocations;
	size_t		locations_cap;

	PyroLine   *lines;
	uint32_t	nlines;
	size_t		lines_cap;

	PyroStackNode *stacks;
	uint32_t	nstacks;
	size_t		stacks_cap;

	/* private: string bytes arena and hash indexes */
	struct PyroArenaBlock *arena;
	PyroSymIndex *str_index;
	PyroSymIndex *map_index;
	PyroSymIndex *fn_index;
	PyroSymIndex *loc_index;
	PyroSymIndex *stack_index;
} PyroSymbols;

#define PYRO_NO_INDEX	UINT32_MAX	/* returned by interning on failure */

#define PYRO_PROFILE_ID_LEN 16

/* the trace id of one span id */
typedef struct PyroSpanTrace
{
	uint64_t	span;
	uint64_t	trace_hi;		/* the 16 bytes of the trace id, big-endian */
	uint64_t	trace_lo;
} PyroSpanTrace;

/* One sample of a single-value profile. */
typedef struct PyroSample
{
	uint32_t	stack;			/* stack node index of the leaf frame */
	int64_t		value;
	uint64_t	span_id;		/* 0 = none */
} PyroSample;

/*
 * A single-value profile: the samples of one series at one time.  sym may
 * be shared between profiles (the normaliser splits one pprof into several
 * profiles over one symbol set); owns_sym says who frees it.
 */
typedef struct PyroProfile
{
	PyroSymbols *sym;
	bool		owns_sym;

	PyroSample *samples;
	size_t		nsamples;
	size_t		samples_cap;

	/* metadata; string indexes into sym */
	uint32_t	sample_type;
	uint32_t	sample_unit;
	uint32_t	period_type;
	uint32_t	period_unit;
	int64_t		period;
	int64_t		time_nanos;
	int64_t		duration_nanos;

	/*
	 * The id of the ingested profile this one came from (a UUID shared by the
	 * series profiles of one pprof), all zero when unknown.  Blocks keep it
	 * per profile; the PYP1 codec and merges do not.
	 */
	uint8_t		id[PYRO_PROFILE_ID_LEN];

	/*
	 * The trace of each span id its samples carry, where the profile said
	 * (the trace_id pprof label beside span_id): a span belongs to one trace,
	 * so selecting by trace is selecting its spans.  Owned; blocks keep it,
	 * the PYP1 codec and merges do not.  May repeat a span.
	 */
	PyroSpanTrace *traces;
	size_t		ntraces;
	size_t		traces_cap;
} PyroProfile;

/* whether a profile id is set (not all zero) */
static inline bool
pyro_profile_id_set(const uint8_t *id)
{
	for (int i = 0; i < PYRO_PROFILE_ID_LEN; i++)
		if (id[i] != 0)
			return true;
	return false;
}

/* symbols.c */
extern PyroSymbols *pyro_symbols_create(void);	/* with the 3 sentinels */
extern void pyro_symbols_free(PyroSymbols *sym);
extern uint32_t pyro_sym_intern_string(PyroSymbols *sym, const char *s, size_t len);
extern uint32_t pyro_sym_intern_mapping(PyroSymbols *sym, const PyroMapping *m);
extern uint32_t pyro_sym_intern_function(PyroSymbols *sym, const PyroFunction *f);
extern uint32_t pyro_sym_intern_location(PyroSymbols *sym, uint32_t mapping,
										 uint64_t address,
										 const PyroLine *lines, uint32_t nlines);
extern uint32_t pyro_sym_intern_stack(PyroSymbols *sym, uint32_t parent,
									  uint32_t location);

/* append without de-duplication (the caller guarantees uniqueness) */
extern uint32_t pyro_sym_append_string(PyroSymbols *sym, const char *s, size_t len);
extern bool pyro_sym_reserve(PyroSymbols *sym, uint32_t nstrings, uint32_t nmappings,
							 uint32_t nfunctions, uint32_t nlocations,
							 uint32_t nlines, uint32_t nstacks);

/*
 * The display name of one frame of a location: the name of the function of
 * lines[line_idx], falling back to its system name, and for locations with
 * no usable function name "<mapping basename>+0x<address hex>" (or
 * "0x<address hex>" without a mapping), so that native and eBPF frames
 * never show as empty.  Writes into buf (always NUL-terminated) and returns
 * the string and its length.
 */
extern PyroStr pyro_location_frame_name(const PyroSymbols *sym,
										const PyroLocation *loc,
										uint32_t line_idx,
										char *buf, size_t bufsize);

/* profile.c */
extern PyroProfile *pyro_profile_create(PyroSymbols *sym, bool owns_sym);
extern void pyro_profile_free(PyroProfile *p);
extern bool pyro_profile_add_sample(PyroProfile *p, uint32_t stack, int64_t value,
									uint64_t span_id);
extern int64_t pyro_profile_total(const PyroProfile *p);

/* record that span belongs to a trace (skipping a repeat of the last few) */
extern bool pyro_profile_add_trace(PyroProfile *p, uint64_t span, uint64_t trace_hi,
								   uint64_t trace_lo);

/* the trace of a span in p, false when p does not know it */
extern bool pyro_profile_trace_of(const PyroProfile *p, uint64_t span, uint64_t *trace_hi,
								  uint64_t *trace_lo);

/* one span id of a profile: the total of its samples, and its trace if known */
typedef struct PyroSpanTotal
{
	uint64_t	span;
	int64_t		total;
	bool		has_trace;
	uint64_t	trace_hi;
	uint64_t	trace_lo;
} PyroSpanTotal;

/*
 * The span ids of p's samples (samples without one left out), ascending,
 * each with the total of its samples (wrapping as sums of int64 values
 * do) and its trace: *out (pyro_malloc'ed, NULL when *n is 0) is the
 * caller's.
 */
extern PyroStatus pyro_profile_span_totals(const PyroProfile *p, PyroSpanTotal **out,
										   size_t *n, PyroError *err);

/*
 * profile_codec.c: the "PYP1" binary format of one stored profile.  The
 * encoder writes only the symbols the samples reach, renumbered densely in
 * their original order, so the output is deterministic.  The decoder
 * validates every index and count and never trusts the input.
 */
extern PyroStatus pyro_profile_encode(const PyroProfile *p, PyroBuf *out,
									  PyroError *err);
extern PyroStatus pyro_profile_decode(const uint8_t *data, size_t len,
									  PyroProfile **out, PyroError *err);

/*
 * canonical.c: the canonical form of p: only reachable symbols, de-duplicated
 * by content and ordered by content; samples sorted by (stack, span id) with
 * equal ones summed and zeros dropped.  Equal samples give byte-identical
 * encodings whatever the input order.  *out owns its symbols.
 */
extern PyroStatus pyro_profile_canonical(const PyroProfile *p, PyroProfile **out,
										 PyroError *err);

/*
 * merge.c: fold profiles into one.  Symbols are de-duplicated by content,
 * samples by (stack, span_id); values are summed.  With
 * PYRO_MERGE_KEEP_SPANS unset span ids are dropped.  A span filter, when
 * set, keeps only samples whose span id is in the set.
 */
#define PYRO_MERGE_KEEP_SPANS	0x01

typedef struct PyroMerger PyroMerger;

extern PyroMerger *pyro_merger_create(int flags);
extern void pyro_merger_free(PyroMerger *m);
extern PyroStatus pyro_merger_set_span_filter(PyroMerger *m, const uint64_t *span_ids,
											  size_t n, PyroError *err);
extern PyroStatus pyro_merger_add_profile(PyroMerger *m, const PyroProfile *p,
										  PyroError *err);
extern PyroStatus pyro_merger_add_encoded(PyroMerger *m, const uint8_t *data,
										  size_t len, PyroError *err);

/* number of profiles added so far */
extern uint64_t pyro_merger_count(const PyroMerger *m);

/*
 * The merged profile, owned by the merger (valid until the next add or the
 * free).  Samples with a zero sum are dropped; samples are ordered by stack
 * node index then span id.
 */
extern const PyroProfile *pyro_merger_result(PyroMerger *m, PyroError *err);

#endif							/* PYRO_PROFILE_H */

/*-------------------------------------------------------------------------
 *
 * block.h
 *	  Compacted blocks ("PYB1"): the profiles of one tenant and one service
 *	  over a time range, self-contained (their own de-duplicated symbols
 *	  and stack tree), column-encoded and zstd-compressed in independently
 *	  readable sections, with pre-merged aggregates at coarser time
 *	  resolutions so that long ranges read little.
 *
 * A block ends with a fixed-size footer that locates a section directory,
 * so a reader first fetches the footer, then the directory, then only the
 * sections a query needs (symbols, the profile index, the sample chunks of
 * the selected series and times, or their aggregates).  All reads go
 * through a fetch callback, so the same reader serves blocks stored in
 * PostgreSQL (TOAST slices), in object storage (ranged GETs) and in a
 * local cache.  Every section carries a checksum; a corrupt block is an
 * error (PYRO_ECORRUPT), never a crash.  The format is documented in
 * docs/block-format.md.
 *
 * Times are Unix epoch milliseconds.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_BLOCK_H
#define PYRO_BLOCK_H

#include "profile.h"

typedef struct PyroBlockOptions
{
	int			zstd_level;		/* default 3 */

	/*
	 * Aggregate resolutions in milliseconds, ascending (e.g. 60000 and
	 * 3600000): for each series and each aligned bucket of each resolution
	 * the block stores the merged samples of all its profiles.  0 entries =
	 * no aggregates.
	 */
	int64_t		agg_resolutions[4];
	int			nagg_resolutions;
} PyroBlockOptions;

extern void pyro_block_options_default(PyroBlockOptions *o);

/* What a finished block holds; also stored beside it in PostgreSQL. */
typedef struct PyroBlockMeta
{
	int64_t		min_ts;			/* earliest profile time */
	int64_t		max_ts;			/* latest profile time */
	uint32_t	nseries;
	uint64_t	nprofiles;
	uint64_t	nsamples;		/* (stack, value) pairs over all profiles */
	uint64_t	size;			/* bytes of the encoded block */
} PyroBlockMeta;

/*
 * Writer.  Profiles may be added in any order and any number per series
 * and time; their symbols are interned into the block's tables.  A
 * profile's samples are kept as they are (not merged with other profiles
 * of the same series and time), so reading a block back yields exactly
 * the profiles that went in, apart from symbol renumbering.
 */
typedef struct PyroBlockWriter PyroBlockWriter;

extern PyroBlockWriter *pyro_block_writer_create(const PyroBlockOptions *opt);
extern void pyro_block_writer_free(PyroBlockWriter *w);
extern PyroStatus pyro_block_writer_add(PyroBlockWriter *w, int64_t series_id,
										int64_t ts, const PyroProfile *p,
										PyroError *err);
extern PyroStatus pyro_block_writer_finish(PyroBlockWriter *w, PyroBuf *out,
										   PyroBlockMeta *meta, PyroError *err);

/*
 * Faster adds of many profiles over ONE symbol set (the series profiles of
 * a normalised pprof, or the profiles pyro_block_read_profiles visits from
 * one source block): the writer keeps its mapping of p->sym's entries
 * from one add_shared call to the next with the same sym, instead of
 * re-interning every reached symbol.  While in use, sym's existing entries
 * must not change (appending is fine); before freeing sym (or reusing its
 * memory for another symbol set) call pyro_block_writer_release_symbols.
 * A plain pyro_block_writer_add also forgets the mapping.
 */
extern PyroStatus pyro_block_writer_add_shared(PyroBlockWriter *w, int64_t series_id,
											   int64_t ts, const PyroProfile *p,
											   PyroError *err);
extern void pyro_block_writer_release_symbols(PyroBlockWriter *w);

/*
 * Reader.  fetch must return exactly len bytes at offset in a buffer
 * allocated with pyro_malloc (the reader frees it), or fail with err set.
 */
typedef PyroStatus (*PyroBlockFetch) (void *arg, uint64_t offset, uint64_t len,
									  uint8_t **data, PyroError *err);

typedef struct PyroBlockReader PyroBlockReader;

extern PyroStatus pyro_block_open(uint64_t size, PyroBlockFetch fetch, void *arg,
								  PyroBlockReader **out, PyroError *err);

/* convenience: a block held in memory (the reader does not copy it) */
extern PyroStatus pyro_block_open_memory(const uint8_t *data, size_t len,
										 PyroBlockReader **out, PyroError *err);
extern void pyro_block_close(PyroBlockReader *r);
extern const PyroBlockMeta *pyro_block_meta(const PyroBlockReader *r);

/* the series ids the block holds, ascending */
extern const int64_t *pyro_block_series(const PyroBlockReader *r, uint32_t *n);

/* One section of a block, as its directory lists it (to inspect blocks). */
typedef struct PyroBlockSection
{
	const char *kind;			/* symbols, index, samples, aggregates, ids */
	int64_t		series_id;		/* 0 for the symbols */
	uint64_t	count;			/* profiles, or aggregate buckets */
	uint64_t	bytes;			/* compressed, as stored */
	uint64_t	raw_bytes;
} PyroBlockSection;

/* the i-th section (i < *n); returns false past the last */
extern bool pyro_block_section(const PyroBlockReader *r, size_t i, PyroBlockSection *out);

/* bytes fetched so far (to measure what a query reads) */
extern uint64_t pyro_block_bytes_fetched(const PyroBlockReader *r);

/* A selection inside one block: some series, a closed time range. */
typedef struct PyroBlockQuery
{
	const int64_t *series_ids;	/* ascending; NULL = all series */
	size_t		nseries;
	int64_t		start;			/* inclusive */
	int64_t		end;			/* inclusive */
	bool		use_aggregates; /* allow pre-merged buckets inside [start,
								 * end] */
	bool		keep_spans;		/* keep span ids (aggregates hold none) */

	/*
	 * Only the profiles whose id is one of these (nids ids of
	 * PYRO_PROFILE_ID_LEN bytes each, sorted by memcmp); NULL = any.  A block
	 * without ids then selects nothing, and aggregates are not used.
	 */
	const uint8_t *ids;
	size_t		nids;
} PyroBlockQuery;

/*
 * The merge of every selected profile as ONE profile over the block's
 * symbols (sample values summed per stack, and per span id with
 * keep_spans).  With use_aggregates, buckets lying wholly inside
 * [start, end] are read from the aggregates and only the edges from the
 * raw profiles; the result is the same either way.  *out is owned by the
 * reader and valid until the next call on it or its close.
 */
extern PyroStatus pyro_block_read_merged(PyroBlockReader *r, const PyroBlockQuery *q,
										 const PyroProfile **out, PyroError *err);

/* Every selected profile, one call each, in (series, time) order. */
typedef PyroStatus (*PyroBlockProfileVisitor) (void *arg, int64_t series_id, int64_t ts,
											   const PyroProfile *p, PyroError *err);
extern PyroStatus pyro_block_read_profiles(PyroBlockReader *r, const PyroBlockQuery *q,
										   PyroBlockProfileVisitor visit, void *arg,
										   PyroError *err);

/*
 * Series, time, total and id (NULL when the block keeps none for it) of
 * every selected profile, without reading samples.
 */
typedef PyroStatus (*PyroBlockTotalVisitor) (void *arg, int64_t series_id, int64_t ts,
											 int64_t total, const uint8_t *id,
											 PyroError *err);
extern PyroStatus pyro_block_read_totals(PyroBlockReader *r, const PyroBlockQuery *q,
										 PyroBlockTotalVisitor visit, void *arg,
										 PyroError *err);

#endif							/* PYRO_BLOCK_H */

/*-------------------------------------------------------------------------
 *
 * pprof.h
 *	  pprof (perftools.profiles.Profile) in and out: decoding a gzip or raw
 *	  pprof into normalised single-value profiles grouped by series (spec
 *	  §4, §16), and encoding a profile back into pprof.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PPROF_H
#define PYRO_PPROF_H

#include "labels.h"
#include "profile.h"

/* Limits applied while decoding (0 = unlimited). */
typedef struct PyroPprofLimits
{
	size_t		max_decompressed;	/* bytes after gunzip; default 4 MiB */
	size_t		max_samples;	/* default 16000 */
	size_t		max_sample_labels;	/* per sample, default 100 */
	size_t		max_stack_depth;	/* truncate, keeping the root side;
									 * default 1000 */
	size_t		max_string_length;	/* truncate, keeping the last bytes;
									 * default 65535 */
} PyroPprofLimits;

extern void pyro_pprof_limits_default(PyroPprofLimits *l);

/*
 * One series' worth of a decoded pprof: one sample type of one group of
 * samples sharing the same string sample labels.
 */
typedef struct PyroSeriesProfile
{
	PyroLabelSet sample_labels; /* split labels of the group, sorted */
	uint32_t	type_index;		/* index into PyroNormalized.sample_types */
	PyroProfile *profile;		/* shares PyroNormalized.sym; NULL in a
								 * summary */
	int64_t		total;			/* sum of the values (saturating) */
	uint64_t	nsamples;		/* samples as sent, before equal stacks merge */
} PyroSeriesProfile;

typedef struct PyroNormalized
{
	PyroSymbols *sym;			/* shared by every profile below */
	uint32_t	ntypes;
	char	  **sample_types;	/* pprof sample_type[i].type */
	char	  **sample_units;
	char	   *period_type;	/* "" when absent */
	char	   *period_unit;
	int64_t		period;
	int64_t		time_nanos;		/* 0 when the pprof had none */
	int64_t		duration_nanos;
	char	   *default_name;	/* __name__ when the client sends none, e.g.
								 * "process_cpu" (pyro_pprof_profile_name) */
	PyroSeriesProfile *series;	/* empty profiles are not listed */
	size_t		nseries;
	size_t		input_samples;	/* samples in the pprof */
	size_t		decoded_bytes;	/* size after gunzip */
} PyroNormalized;

/*
 * Decode a pprof (gzip detected by its magic bytes) and normalise it as
 * upstream does: string-table and index checks; numeric sample labels and
 * empty-valued labels dropped; profile_id renamed span_id; span_id and
 * trace_id kept on samples (span_id parsed as 16 hex digits), all other
 * string labels split samples into groups; samples with a negative value
 * dropped, zero values dropped per sample type; identical stacks merged;
 * deep stacks and long strings truncated per limits.
 */
extern PyroStatus pyro_pprof_normalize(const uint8_t *data, size_t len,
									   const PyroPprofLimits *limits,
									   PyroNormalized **out, PyroError *err);
extern void pyro_normalized_free(PyroNormalized *n);

/*
 * The __name__ of a pprof whose client sent none, by upstream's rule for
 * /ingest (spec §10.7), used by every ingest path: "wall" when a sample
 * type is exactly wall; else by the (display) names of the sample types.
 * With has_config, config's nconfig display names (a sample_type_config)
 * replace the built-in ones (samples -> cpu, goroutine -> goroutines,
 * contentions -> mutex_count, delay -> mutex_duration).  The result points
 * into n, config or a constant.
 */
typedef struct PyroDisplayName
{
	const char *type;
	const char *display;
} PyroDisplayName;

extern const char *pyro_pprof_profile_name(const PyroNormalized *n,
										   const PyroDisplayName *config, size_t nconfig,
										   bool has_config);

/*
 * The period of a merged pprof, as upstream guesses it from the name of a
 * profile type id (spec §7.4): process_cpu 1e9, memory 524288, else 1.
 */
extern int64_t pyro_pprof_merged_period(const char *profile_type_id);

/* A span id: 1 to 16 hexadecimal digits (case-insensitive). */
extern bool pyro_parse_span_id(const char *s, size_t n, uint64_t *out);

/*
 * The summary of a pprof: everything pyro_pprof_normalize checks, with
 * the same status and message on failure, and the same series in the same
 * order with the same labels, totals and sample counts, but without
 * symbols or stacks (every series' profile is NULL).  The ingest path
 * stores the pprof as sent with this summary; readers normalise it again
 * and find a series by its position.
 */
extern PyroStatus pyro_pprof_summarize(const uint8_t *data, size_t len,
									   const PyroPprofLimits *limits,
									   PyroNormalized **out, PyroError *err);

/*
 * Encode p as a raw (uncompressed) pprof with one sample type.  types holds
 * the five parts of the profile type (sample type/unit and period
 * type/unit are taken from it).  time_nanos overrides p->time_nanos when
 * non-zero.
 */
extern PyroStatus pyro_pprof_encode(const PyroProfile *p,
									const char *sample_type, const char *sample_unit,
									const char *period_type, const char *period_unit,
									int64_t period, int64_t time_nanos,
									PyroBuf *out, PyroError *err);

/*
 * pprof_fixup.c: the function names of old scripting-language agents
 * (spyName pyspy, rbspy, scripting on /ingest) as upstream rewrites them:
 * "<filename> <function>" (with pyspy, only for relative filenames).  out
 * gets a raw pprof; *changed says whether any name changed.
 */
extern PyroStatus pyro_pprof_fix_script_names(const uint8_t *data, size_t len, bool pyspy,
											  size_t max_decompressed, PyroBuf *out,
											  bool *changed, PyroError *err);

/* gzip.c: gzip is sniffed by magic bytes 1f 8b */
static inline bool
pyro_is_gzip(const uint8_t *data, size_t len)
{
	return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* Decompress a (possibly multi-member) gzip stream, failing with PYRO_ELIMIT past max_out bytes. */
extern PyroStatus pyro_gunzip(const uint8_t *data, size_t len, size_t max_out,
							  PyroBuf *out, PyroError *err);
extern PyroStatus pyro_gzip(const uint8_t *data, size_t len, int level,
							PyroBuf *out, PyroError *err);

#endif							/* PYRO_PPROF_H */

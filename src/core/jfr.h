/*-------------------------------------------------------------------------
 *
 * jfr.h
 *	  Java Flight Recorder recordings (what async-profiler, the Pyroscope
 *	  Java agent and the JDK write) turned into pprof profiles, one per
 *	  group of events, as upstream's converter does (spec API-2 §1): the
 *	  chunks are decoded generically from their own metadata, stacks are
 *	  built from the constant pools, and every sample carries the labels
 *	  of its context (from a LabelsSnapshot) and its span.
 *
 *	  The parser treats its input as hostile: every read is bounded by the
 *	  record it belongs to, nesting is bounded, and the work of a chunk is
 *	  bounded by its size.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_JFR_H
#define PYRO_JFR_H

#include "common.h"

/* The labels part of a Java agent upload (LabelsSnapshot, spec §1.3). */
typedef struct PyroJfrLabels PyroJfrLabels;

/*
 * Decode a LabelsSnapshot (raw protobuf; gunzip it first).  An empty
 * input is an empty snapshot.
 */
extern PyroStatus pyro_jfr_labels_decode(const uint8_t *data, size_t len,
										 PyroJfrLabels **out, PyroError *err);
extern void pyro_jfr_labels_free(PyroJfrLabels *l);

typedef struct PyroJfrOptions
{
	int64_t		sample_rate;	/* Hz: cpu and wall values are 1e9 /
								 * sample_rate per sample; 0 makes them 0 */
	int64_t		time_nanos;		/* of every produced pprof */
	int64_t		duration_nanos;
	size_t		max_samples;	/* per produced profile; 0 = unlimited */
	size_t		max_stack_depth;	/* deeper stacks keep their root side; 0 =
									 * unlimited */
} PyroJfrOptions;

/* One produced profile: a group of events (spec §1.5). */
typedef struct PyroJfrProfile
{
	const char *name;			/* __name__: process_cpu, wall, memory, ... */
	PyroBuf		pprof;			/* raw (uncompressed) pprof */
	size_t		nsamples;		/* pprof samples */
	uint64_t	nevents;		/* events that went into it */
} PyroJfrProfile;

#define PYRO_JFR_MAX_PROFILES 9

typedef struct PyroJfrResult
{
	PyroJfrProfile profiles[PYRO_JFR_MAX_PROFILES];
	size_t		nprofiles;		/* groups with at least one sample */
	char	   *event;			/* the recording's "event" setting (async-
								 * profiler's engine: cpu, itimer, wall, ...),
								 * "" when it has none (JDK) */
	int64_t		start_nanos;	/* start of the first chunk, Unix ns */
	size_t		nchunks;
} PyroJfrResult;

/*
 * Convert a JFR recording (one or more chunks, not compressed) into
 * pprofs.  labels may be NULL (no context labels; span ids still label
 * samples).  Malformed input is PYRO_EINVAL with a message naming what is
 * wrong; a profile over opt->max_samples is PYRO_ELIMIT.  On success the
 * caller frees out with pyro_jfr_result_free; on failure nothing is left
 * to free.
 */
extern PyroStatus pyro_jfr_convert(const uint8_t *data, size_t len,
								   const PyroJfrLabels *labels,
								   const PyroJfrOptions *opt,
								   PyroJfrResult *out, PyroError *err);
extern void pyro_jfr_result_free(PyroJfrResult *r);

#endif							/* PYRO_JFR_H */

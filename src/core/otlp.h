/*-------------------------------------------------------------------------
 *
 * otlp.h
 *	  OpenTelemetry profiles (OTLP v1.10, and the v1.8/v1.9 Sample layout)
 *	  turned into pprof profiles and series labels as upstream maps them
 *	  (spec API-2 §2.5): one profile per Profile and sample service.name,
 *	  labelled with its resource and scope attributes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_OTLP_H
#define PYRO_OTLP_H

#include "common.h"
#include "labels.h"

typedef struct PyroOtlpSeries
{
	PyroLabelSet labels;		/* series labels: __name__, attributes,
								 * service_name */
	PyroBuf		pprof;			/* raw pprof of its samples */
	size_t		nsamples;
} PyroOtlpSeries;

typedef struct PyroOtlpResult
{
	PyroOtlpSeries *series;
	size_t		nseries;
	int64_t		rejected;		/* Profiles that map to no profile type */
	uint64_t	rejected_samples;	/* their samples */
	char	   *rejected_msg;	/* why the first was rejected, or NULL */
	bool		v19;			/* the request used the v1.8/v1.9 layout */
} PyroOtlpResult;

/*
 * Decode an ExportProfilesServiceRequest (binary protobuf, or
 * protobuf-JSON with json) and convert it.  Malformed requests (bad
 * protobuf or JSON, an index out of range, a Profile without sample type,
 * a sample with neither values nor timestamps, invalid UTF-8) are
 * PYRO_EINVAL; nothing is converted then.
 */
extern PyroStatus pyro_otlp_convert(const uint8_t *data, size_t len, bool json,
									PyroOtlpResult *out, PyroError *err);
extern void pyro_otlp_result_free(PyroOtlpResult *r);

/* An ExportProfilesServiceResponse, binary or JSON ("{}" when all went in). */
extern PyroStatus pyro_otlp_response(int64_t rejected, const char *msg, bool json,
									 PyroBuf *out, PyroError *err);

#endif							/* PYRO_OTLP_H */

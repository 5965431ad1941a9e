/*-------------------------------------------------------------------------
 *
 * pprof_reference.h
 *	  The reference pprof normaliser, through protobuf-c generated code
 *	  (pprof_decode.c).  It is not part of the product: tests and fuzz
 *	  targets check the core's hand-written decoder against it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PPROF_REFERENCE_H
#define PYRO_PPROF_REFERENCE_H

#include "pprof.h"

/*
 * pyro_pprof_normalize through protobuf-c generated code: slower, kept as
 * the reference the hand-written decoder is differentially tested
 * against.  Same results, statuses and messages.
 */
extern PyroStatus pyro_pprof_normalize_reference(const uint8_t *data, size_t len,
												 const PyroPprofLimits *limits,
												 PyroNormalized **out,
												 PyroError *err);

#endif							/* PYRO_PPROF_REFERENCE_H */

/*-------------------------------------------------------------------------
 *
 * pprof_int.h
 *	  Helpers shared by the two pprof normalisers (pprof_decode.c, the
 *	  protobuf-c reference, and pprof_wire.c, the hand-written hot path).
 *	  Private to src/core.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PPROF_INT_H
#define PYRO_PPROF_INT_H

#include "pprof.h"

/* Guess __name__ (e.g. "process_cpu") from n's sample and period types. */
extern const char *pyro_pprof_guess_name(const PyroNormalized *n);

#endif							/* PYRO_PPROF_INT_H */

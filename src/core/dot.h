/*-------------------------------------------------------------------------
 *
 * dot.h
 *	  A profile as a Graphviz call graph in the layout of Google pprof's
 *	  "dot" report, as Pyroscope serves it (API-2.md 3.7): one node per
 *	  function line, flat and cumulative values, caller -> callee edges,
 *	  the heaviest max_nodes nodes kept and edges through dropped nodes
 *	  drawn as dotted residual edges.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_DOT_H
#define PYRO_DOT_H

#include "profile.h"

/*
 * Render p (one value per sample) of the given sample type and unit, at
 * time_nanos (0: none) into out, keeping at most max_nodes nodes (<= 0:
 * 100).  A profile without samples renders as nothing (out stays empty).
 */
extern PyroStatus pyro_dot_render(const PyroProfile *p, const char *sample_type,
								  const char *sample_unit, int64_t time_nanos,
								  int max_nodes, PyroBuf *out, PyroError *err);

#endif							/* PYRO_DOT_H */

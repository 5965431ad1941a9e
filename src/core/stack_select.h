/*-------------------------------------------------------------------------
 *
 * stack_select.h
 *	  A profile's stacks selected by call site, or trimmed for Go's PGO:
 *	  the stack_trace_selector of the Pyroscope querier API (API-2.md
 *	  §3.2) on a merged profile, for the outputs that are pprofs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_STACK_SELECT_H
#define PYRO_STACK_SELECT_H

#include "profile.h"

typedef struct PyroStackSelector
{
	/*
	 * call_site[0..ncall): frame names, root first.  A stack is kept, whole,
	 * when its root-first frame names (a location's inlined lines expanded,
	 * caller first) begin with exactly these.  Ignored when go_pgo is set.
	 */
	const char *const *call_site;
	size_t		ncall;

	/*
	 * go_pgo: keep only the keep_locations locations of each stack nearest
	 * its leaf (0: all); with aggregate_callees, the leaf location's line
	 * numbers (and address) are dropped, so that samples differing only there
	 * become one.
	 */
	bool		go_pgo;
	uint32_t	keep_locations;
	bool		aggregate_callees;
} PyroStackSelector;

/*
 * The samples of p that the selector keeps, with their stacks rebuilt as
 * it says, as a new profile owning its symbols (p's metadata copied).
 * Samples whose stacks become equal stay separate: the pprof encoder's
 * canonical form sums them.
 */
extern PyroStatus pyro_profile_select_stacks(const PyroProfile *p,
											 const PyroStackSelector *sel,
											 PyroProfile **out, PyroError *err);

#endif							/* PYRO_STACK_SELECT_H */

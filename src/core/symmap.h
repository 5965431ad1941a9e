/*-------------------------------------------------------------------------
 *
 * symmap.h
 *	  PyroSymMap: maps the symbols of input profiles into one target
 *	  PyroSymbols (private to the core; used by the merger and the block
 *	  writer).
 *
 * Each input table has a remap array (PYRO_NO_INDEX = not mapped yet)
 * filled on demand: mapping a stack node interns it, its ancestors and
 * the locations, functions, mappings and strings they reach, in a fixed
 * order, so the target tables grow the same way whichever caller drives
 * the map.  Every input index is checked against its table; failures set
 * the error given to pyro_symmap_begin and return PYRO_NO_INDEX.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SYMMAP_H
#define PYRO_SYMMAP_H

#include "profile.h"

typedef struct PyroSymMap
{
	/* configuration, set by pyro_symmap_init */
	PyroSymbols *dst;			/* target tables (not owned) */
	PyroStatus	bad_code;		/* status for invalid input */
	bool		string_owner;	/* unknown-string errors name their owner */
	const char *oom_msg;		/* message for allocation failures */

	/* current input */
	const PyroSymbols *in;
	PyroError  *err;
	PyroStatus	status;			/* first failure of the current input */

	/* remap arrays and the table sizes they cover */
	const PyroSymbols *kept;	/* input whose mapping pyro_symmap_begin keeps */
	uint32_t   *rstr;
	size_t		rstr_cap;
	uint32_t   *rmap;
	size_t		rmap_cap;
	uint32_t   *rfn;
	size_t		rfn_cap;
	uint32_t   *rloc;
	size_t		rloc_cap;
	uint32_t   *rstack;
	size_t		rstack_cap;
	uint32_t	mapped_nstr;
	uint32_t	mapped_nmap;
	uint32_t	mapped_nfn;
	uint32_t	mapped_nloc;
	uint32_t	mapped_nstack;

	/* scratch */
	PyroLine   *tmp_lines;
	size_t		tmp_lines_cap;
	uint32_t   *walk;
	size_t		walk_cap;
} PyroSymMap;

/*
 * bad_code is the status of invalid input (PYRO_ECORRUPT or PYRO_EINVAL);
 * string_owner selects "function 3 refers to unknown string 9" over
 * "profile refers to unknown string 9 (of 4)"; oom_msg is a constant.
 */
extern void pyro_symmap_init(PyroSymMap *sm, PyroSymbols *dst, PyroStatus bad_code,
							 bool string_owner, const char *oom_msg);
extern void pyro_symmap_free(PyroSymMap *sm);

/*
 * Start mapping in (which must have its string, mapping and stack
 * sentinels).  With keep and the same in as the last kept one, mappings
 * already made stay and entries appended since are marked unmapped;
 * otherwise everything is reset.  False (err set) on allocation failure.
 */
extern bool pyro_symmap_begin(PyroSymMap *sm, const PyroSymbols *in, bool keep,
							  PyroError *err);

/* forget the kept input (before it is freed or changed) */
extern void pyro_symmap_release(PyroSymMap *sm);

/* Target index of input string i; what/owner name the referrer in errors. */
extern uint32_t pyro_symmap_string(PyroSymMap *sm, uint32_t i, const char *what,
								   uint32_t owner);
extern uint32_t pyro_symmap_stack_slow(PyroSymMap *sm, uint32_t s);

/* set an allocation failure / an invalid-input failure; return PYRO_NO_INDEX */
extern uint32_t pyro_symmap_oom(PyroSymMap *sm);
extern uint32_t pyro_symmap_bad(PyroSymMap *sm, const char *fmt, unsigned a, unsigned b);

/*
 * Target node of input stack node s (s < in->nstacks, checked by the
 * caller).  Inline: a sample whose stack is already mapped costs one load.
 */
static inline uint32_t
pyro_symmap_stack(PyroSymMap *sm, uint32_t s)
{
	uint32_t	g = sm->rstack[s];

	return g != PYRO_NO_INDEX ? g : pyro_symmap_stack_slow(sm, s);
}

#endif							/* PYRO_SYMMAP_H */

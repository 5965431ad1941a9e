/*-------------------------------------------------------------------------
 *
 * symmap.c
 *	  PyroSymMap: on-demand mapping of one profile's symbols into a target
 *	  PyroSymbols, shared by the merger (merge.c) and the block writer
 *	  (block_writer.c).  See symmap.h.
 *
 *-------------------------------------------------------------------------
 */
#include "symmap.h"

void
pyro_symmap_init(PyroSymMap *sm, PyroSymbols *dst, PyroStatus bad_code,
				 bool string_owner, const char *oom_msg)
{
	memset(sm, 0, sizeof(*sm));
	sm->dst = dst;
	sm->bad_code = bad_code;
	sm->string_owner = string_owner;
	sm->oom_msg = oom_msg;
}

void
pyro_symmap_free(PyroSymMap *sm)
{
	pyro_free(sm->rstr);
	pyro_free(sm->rmap);
	pyro_free(sm->rfn);
	pyro_free(sm->rloc);
	pyro_free(sm->rstack);
	pyro_free(sm->tmp_lines);
	pyro_free(sm->walk);
	memset(sm, 0, sizeof(*sm));
}

uint32_t
pyro_symmap_oom(PyroSymMap *sm)
{
	sm->status = pyro_error_set(sm->err, PYRO_ENOMEM, "%s", sm->oom_msg);
	return PYRO_NO_INDEX;
}

uint32_t
pyro_symmap_bad(PyroSymMap *sm, const char *fmt, unsigned a, unsigned b)
{
	sm->status = pyro_error_set(sm->err, sm->bad_code, fmt, a, b);
	return PYRO_NO_INDEX;
}

/* Grow a remap array to n entries, marking entries from 'from' unmapped. */
static bool
remap_extend(uint32_t **arr, size_t *cap, uint32_t from, uint32_t n)
{
	if (n == 0)
		return true;
	if (!pyro_grow((void **) arr, cap, n, sizeof(uint32_t)))
		return false;
	if (n > from)
		memset(*arr + from, 0xFF, (size_t) (n - from) * sizeof(uint32_t));
	return true;
}

static void
forget_mapped(PyroSymMap *sm)
{
	sm->mapped_nstr = sm->mapped_nmap = sm->mapped_nfn = 0;
	sm->mapped_nloc = sm->mapped_nstack = 0;
}

/*
 * Prepare the remap arrays for in.  Reuse needs the same kept input and
 * no table shrunk since (shrinking means it was rebuilt, not appended to).
 */
bool
pyro_symmap_begin(PyroSymMap *sm, const PyroSymbols *in, bool keep, PyroError *err)
{
	bool		reuse = keep && sm->kept == in &&
	in->nstrings >= sm->mapped_nstr && in->nmappings >= sm->mapped_nmap &&
	in->nfunctions >= sm->mapped_nfn && in->nlocations >= sm->mapped_nloc &&
	in->nstacks >= sm->mapped_nstack;

	sm->in = in;
	sm->err = err;
	sm->status = PYRO_OK;
	if (!reuse)
		forget_mapped(sm);
	if (!remap_extend(&sm->rstr, &sm->rstr_cap, sm->mapped_nstr, in->nstrings) ||
		!remap_extend(&sm->rmap, &sm->rmap_cap, sm->mapped_nmap, in->nmappings) ||
		!remap_extend(&sm->rfn, &sm->rfn_cap, sm->mapped_nfn, in->nfunctions) ||
		!remap_extend(&sm->rloc, &sm->rloc_cap, sm->mapped_nloc, in->nlocations) ||
		!remap_extend(&sm->rstack, &sm->rstack_cap, sm->mapped_nstack, in->nstacks))
	{
		sm->kept = NULL;
		forget_mapped(sm);
		pyro_symmap_oom(sm);
		return false;
	}
	sm->mapped_nstr = in->nstrings;
	sm->mapped_nmap = in->nmappings;
	sm->mapped_nfn = in->nfunctions;
	sm->mapped_nloc = in->nlocations;
	sm->mapped_nstack = in->nstacks;
	sm->rstr[0] = 0;
	sm->rstack[0] = 0;
	sm->kept = keep ? in : NULL;
	return true;
}

void
pyro_symmap_release(PyroSymMap *sm)
{
	sm->kept = NULL;
}

uint32_t
pyro_symmap_string(PyroSymMap *sm, uint32_t i, const char *what, uint32_t owner)
{
	uint32_t	g;

	if (i >= sm->in->nstrings)
	{
		if (sm->string_owner)
			sm->status = pyro_error_set(sm->err, sm->bad_code,
										"%s %u refers to unknown string %u",
										what, (unsigned) owner, (unsigned) i);
		else
			sm->status = pyro_error_set(sm->err, sm->bad_code,
										"profile refers to unknown string %u (of %u)",
										(unsigned) i, (unsigned) sm->in->nstrings);
		return PYRO_NO_INDEX;
	}
	g = sm->rstr[i];
	if (g != PYRO_NO_INDEX)
		return g;
	g = pyro_sym_intern_string(sm->dst, sm->in->strings[i].ptr, sm->in->strings[i].len);
	if (g == PYRO_NO_INDEX)
		return pyro_symmap_oom(sm);
	sm->rstr[i] = g;
	return g;
}

/* mapping i (< in->nmappings, checked by the caller): file name, build id */
static uint32_t
map_mapping(PyroSymMap *sm, uint32_t i)
{
	PyroMapping mp;
	uint32_t	g;

	if (sm->rmap[i] != PYRO_NO_INDEX)
		return sm->rmap[i];
	mp = sm->in->mappings[i];
	if ((mp.filename = pyro_symmap_string(sm, mp.filename, "mapping", i)) == PYRO_NO_INDEX ||
		(mp.build_id = pyro_symmap_string(sm, mp.build_id, "mapping", i)) == PYRO_NO_INDEX)
		return PYRO_NO_INDEX;
	g = pyro_sym_intern_mapping(sm->dst, &mp);
	if (g == PYRO_NO_INDEX)
		return pyro_symmap_oom(sm);
	sm->rmap[i] = g;
	return g;
}

/* function i (< in->nfunctions, checked by the caller) */
static uint32_t
map_function(PyroSymMap *sm, uint32_t i)
{
	PyroFunction f;
	uint32_t	g;

	if (sm->rfn[i] != PYRO_NO_INDEX)
		return sm->rfn[i];
	f = sm->in->functions[i];
	if ((f.name = pyro_symmap_string(sm, f.name, "function", i)) == PYRO_NO_INDEX ||
		(f.system_name = pyro_symmap_string(sm, f.system_name, "function", i)) == PYRO_NO_INDEX ||
		(f.filename = pyro_symmap_string(sm, f.filename, "function", i)) == PYRO_NO_INDEX)
		return PYRO_NO_INDEX;
	g = pyro_sym_intern_function(sm->dst, &f);
	if (g == PYRO_NO_INDEX)
		return pyro_symmap_oom(sm);
	sm->rfn[i] = g;
	return g;
}

/*
 * location i (< in->nlocations, checked by the caller): its mapping, then
 * the functions of its lines in order, then the location itself.
 */
static uint32_t
map_location(PyroSymMap *sm, uint32_t i)
{
	const PyroSymbols *in = sm->in;
	const PyroLocation *l = &in->locations[i];
	uint32_t	gmap;
	uint32_t	g;

	if (sm->rloc[i] != PYRO_NO_INDEX)
		return sm->rloc[i];
	if (l->mapping >= in->nmappings)
		return pyro_symmap_bad(sm, "location %u refers to unknown mapping %u", i, l->mapping);
	if ((uint64_t) l->first_line + l->nlines > in->nlines)
		return pyro_symmap_bad(sm, "location %u has lines out of range%.0u", i, 0);
	if ((gmap = map_mapping(sm, l->mapping)) == PYRO_NO_INDEX)
		return PYRO_NO_INDEX;
	if (!pyro_grow((void **) &sm->tmp_lines, &sm->tmp_lines_cap, l->nlines, sizeof(PyroLine)))
		return pyro_symmap_oom(sm);
	for (uint32_t j = 0; j < l->nlines; j++)
	{
		const PyroLine *ln = &in->lines[l->first_line + j];

		if (ln->function >= in->nfunctions)
			return pyro_symmap_bad(sm, "location %u refers to unknown function %u",
								   i, ln->function);
		if ((sm->tmp_lines[j].function = map_function(sm, ln->function)) == PYRO_NO_INDEX)
			return PYRO_NO_INDEX;
		sm->tmp_lines[j].line = ln->line;
	}
	g = pyro_sym_intern_location(sm->dst, gmap, l->address, sm->tmp_lines, l->nlines);
	if (g == PYRO_NO_INDEX)
		return pyro_symmap_oom(sm);
	sm->rloc[i] = g;
	return g;
}

/*
 * Target node of input stack node s, not yet mapped: walk up to the
 * nearest mapped ancestor (the root always is), then intern the path back
 * down.  The walk is iterative, so hostile depths cannot overflow the C
 * stack; parents must lie below their children, so it ends.
 */
uint32_t
pyro_symmap_stack_slow(PyroSymMap *sm, uint32_t s)
{
	const PyroSymbols *in = sm->in;
	size_t		depth = 0;
	uint32_t	t = s;
	uint32_t	g;

	while (sm->rstack[t] == PYRO_NO_INDEX)
	{
		uint32_t	p = in->stacks[t].parent;

		if (p >= t)
			return pyro_symmap_bad(sm, "stack node %u has parent %u, not below its own index",
								   t, p);
		if (depth >= sm->walk_cap &&
			!pyro_grow((void **) &sm->walk, &sm->walk_cap, depth + 1, sizeof(uint32_t)))
			return pyro_symmap_oom(sm);
		sm->walk[depth++] = t;
		t = p;
	}
	g = sm->rstack[t];
	while (depth > 0)
	{
		uint32_t	loc;

		t = sm->walk[--depth];
		if (in->stacks[t].location >= in->nlocations)
			return pyro_symmap_bad(sm, "stack node %u refers to unknown location %u",
								   t, in->stacks[t].location);
		if ((loc = map_location(sm, in->stacks[t].location)) == PYRO_NO_INDEX)
			return PYRO_NO_INDEX;
		g = pyro_sym_intern_stack(sm->dst, g, loc);
		if (g == PYRO_NO_INDEX)
			return pyro_symmap_oom(sm);
		sm->rstack[t] = g;
	}
	return g;
}

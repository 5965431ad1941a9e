/*-------------------------------------------------------------------------
 *
 * stack_select.c
 *	  Stack trace selection of a profile (see stack_select.h).
 *
 *	  The symbols the kept samples reach are copied into a new symbol set
 *	  (translated lazily, one table of new indexes per kind), and each kept
 *	  stack is interned anew from its root.  Every table is bounded by the
 *	  input profile's tables.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "stack_select.h"

#define UNSET		UINT32_MAX
#define NAME_BUF	512


typedef struct Copy
{
	const PyroSymbols *in;
	PyroSymbols *out;
	uint32_t   *str;			/* old index -> new, UNSET until copied */
	uint32_t   *map;
	uint32_t   *fn;
	uint32_t   *loc;
	uint32_t   *loc_agg;		/* the location without line numbers */
	uint32_t   *stack;			/* old stack node -> new (call site only) */
	PyroLine   *lines;			/* scratch for one location */
	uint32_t	lines_cap;
	uint32_t   *path;			/* scratch: stack nodes, leaf first */
	size_t		path_cap;
	bool		failed;			/* an interning ran out of memory */
	PyroError  *err;
} Copy;

/* an interned index, or 0 with c->failed set when interning failed */
static uint32_t
interned(Copy *c, uint32_t i)
{
	if (i != PYRO_NO_INDEX)
		return i;
	c->failed = true;
	return 0;
}

static bool
oom(Copy *c)
{
	pyro_error_set(c->err, PYRO_ENOMEM, "out of memory selecting stacks");
	return false;
}

static uint32_t *
unset_table(size_t n)
{
	uint32_t   *t = pyro_malloc((n ? n : 1) * sizeof(uint32_t));

	if (t)
		memset(t, 0xFF, (n ? n : 1) * sizeof(uint32_t));
	return t;
}

static uint32_t
copy_str(Copy *c, uint32_t s)
{
	if (s >= c->in->nstrings)
		return 0;
	if (c->str[s] == UNSET)
		c->str[s] = interned(c, pyro_sym_intern_string(c->out, c->in->strings[s].ptr,
													   c->in->strings[s].len));
	return c->str[s];
}

static uint32_t
copy_mapping(Copy *c, uint32_t m)
{
	if (m == 0 || m >= c->in->nmappings)
		return 0;
	if (c->map[m] == UNSET)
	{
		PyroMapping nm = c->in->mappings[m];

		nm.filename = copy_str(c, nm.filename);
		nm.build_id = copy_str(c, nm.build_id);
		c->map[m] = interned(c, pyro_sym_intern_mapping(c->out, &nm));
	}
	return c->map[m];
}

static uint32_t
copy_function(Copy *c, uint32_t f)
{
	if (f >= c->in->nfunctions)
		return 0;
	if (c->fn[f] == UNSET)
	{
		PyroFunction nf = c->in->functions[f];

		nf.name = copy_str(c, nf.name);
		nf.system_name = copy_str(c, nf.system_name);
		nf.filename = copy_str(c, nf.filename);
		c->fn[f] = interned(c, pyro_sym_intern_function(c->out, &nf));
	}
	return c->fn[f];
}

/* location l in the new symbols; without line numbers when agg */
static uint32_t
copy_location(Copy *c, uint32_t l, bool agg)
{
	const PyroLocation *loc;
	uint32_t   *memo = agg ? c->loc_agg : c->loc;

	if (l >= c->in->nlocations)
	{
		pyro_error_set(c->err, PYRO_ECORRUPT, "stack node refers to unknown location %u", l);
		return UNSET;
	}
	if (memo[l] != UNSET)
		return memo[l];
	loc = &c->in->locations[l];
	if ((uint64_t) loc->first_line + loc->nlines > c->in->nlines)
	{
		pyro_error_set(c->err, PYRO_ECORRUPT, "location %u refers to unknown lines", l);
		return UNSET;
	}
	if (loc->nlines > c->lines_cap)
	{
		size_t		cap = c->lines_cap;

		if (!pyro_grow((void **) &c->lines, &cap, loc->nlines, sizeof(PyroLine)))
		{
			oom(c);
			return UNSET;
		}
		c->lines_cap = (uint32_t) cap;
	}
	for (uint32_t i = 0; i < loc->nlines; i++)
	{
		c->lines[i].function = copy_function(c, c->in->lines[loc->first_line + i].function);
		c->lines[i].line = agg ? 0 : c->in->lines[loc->first_line + i].line;
	}
	memo[l] = pyro_sym_intern_location(c->out, copy_mapping(c, loc->mapping),
									   agg ? 0 : loc->address, c->lines, loc->nlines);
	if (memo[l] == PYRO_NO_INDEX)
	{
		memo[l] = UNSET;
		oom(c);
		return UNSET;
	}
	return memo[l];
}

/*
 * How far each stack node's root-first frame names match the call site:
 * 0..ncall names matched, ncall = the whole call site (deeper frames are
 * free), UNSET = mismatch.  Parents precede children, so one pass in index
 * order does.
 */
static bool
match_call_site(Copy *c, const PyroStackSelector *sel, uint32_t *state)
{
	const PyroSymbols *sym = c->in;
	char		buf[NAME_BUF];

	state[0] = 0;
	for (uint32_t s = 1; s < sym->nstacks; s++)
	{
		const PyroStackNode *node = &sym->stacks[s];
		uint32_t	st;
		const PyroLocation *loc;
		uint32_t	k;

		if (node->parent >= s)
		{
			pyro_error_set(c->err, PYRO_ECORRUPT, "stack node %u has a bad parent", s);
			return false;
		}
		st = state[node->parent];
		if (st == UNSET || st == sel->ncall)
		{
			state[s] = st;
			continue;
		}
		if (node->location >= sym->nlocations)
		{
			pyro_error_set(c->err, PYRO_ECORRUPT,
						   "stack node refers to unknown location %u", node->location);
			return false;
		}
		loc = &sym->locations[node->location];
		k = loc->nlines > 0 ? loc->nlines : 1;
		/* lines are innermost first: the caller is the last */
		for (uint32_t j = k; j-- > 0 && st != UNSET && st < sel->ncall;)
		{
			PyroStr		name = pyro_location_frame_name(sym, loc, j, buf, sizeof(buf));
			const char *want = sel->call_site[st];
			size_t		wl = strlen(want);

			if (name.len == wl && memcmp(name.ptr, want, wl) == 0)
				st++;
			else
				st = UNSET;
		}
		state[s] = st;
	}
	return true;
}

/* the nodes from s up to (not including) the first with done[] set, leaf first */
static bool
climb(Copy *c, uint32_t s, const uint32_t *done, size_t *n)
{
	*n = 0;
	while (s != 0 && (done == NULL || done[s] == UNSET))
	{
		if (s >= c->in->nstacks || c->in->stacks[s].parent >= s)
		{
			pyro_error_set(c->err, PYRO_ECORRUPT, "stack node %u is out of range", s);
			return false;
		}
		if (*n == c->path_cap &&
			!pyro_grow((void **) &c->path, &c->path_cap, *n + 1, sizeof(uint32_t)))
			return oom(c);
		c->path[(*n)++] = s;
		s = c->in->stacks[s].parent;
	}
	return true;
}

/* old stack node leaf, whole, in the new symbols (memoised) */
static uint32_t
copy_stack(Copy *c, uint32_t leaf)
{
	size_t		n;

	if (!climb(c, leaf, c->stack, &n))
		return UNSET;
	while (n > 0)
	{
		uint32_t	node = c->path[--n];
		uint32_t	loc = copy_location(c, c->in->stacks[node].location, false);
		uint32_t	top = c->stack[c->in->stacks[node].parent];

		if (loc == UNSET)
			return UNSET;
		c->stack[node] = pyro_sym_intern_stack(c->out, top, loc);
		if (c->stack[node] == PYRO_NO_INDEX)
		{
			c->stack[node] = UNSET;
			oom(c);
			return UNSET;
		}
	}
	return c->stack[leaf];
}

/* the stack of leaf trimmed for Go's PGO, in the new symbols */
static uint32_t
pgo_stack(Copy *c, const PyroStackSelector *sel, uint32_t leaf)
{
	size_t		n;
	size_t		k;
	uint32_t	top = 0;

	if (!climb(c, leaf, NULL, &n))
		return UNSET;
	k = (sel->keep_locations > 0 && sel->keep_locations < n) ? sel->keep_locations : n;
	/* path[0] is the leaf: intern path[k-1] (outermost kept) .. path[0] */
	while (k > 0)
	{
		uint32_t	node = c->path[--k];
		uint32_t	loc = copy_location(c, c->in->stacks[node].location,
										k == 0 && sel->aggregate_callees);

		if (loc == UNSET)
			return UNSET;
		top = pyro_sym_intern_stack(c->out, top, loc);
		if (top == PYRO_NO_INDEX)
		{
			oom(c);
			return UNSET;
		}
	}
	return top;
}

PyroStatus
pyro_profile_select_stacks(const PyroProfile *p, const PyroStackSelector *sel,
						   PyroProfile **out, PyroError *err)
{
	Copy		c;
	PyroSymbols *sym = NULL;
	PyroProfile *r = NULL;
	uint32_t   *state = NULL;
	const PyroSymbols *in = p->sym;
	bool		ok = false;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.in = in;
	c.err = err;
	sym = pyro_symbols_create();
	if (sym == NULL || (r = pyro_profile_create(sym, true)) == NULL)
	{
		if (sym)
			pyro_symbols_free(sym);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory selecting stacks");
	}
	c.out = sym;
	c.str = unset_table(in->nstrings);
	c.map = unset_table(in->nmappings);
	c.fn = unset_table(in->nfunctions);
	c.loc = unset_table(in->nlocations);
	c.loc_agg = unset_table(in->nlocations);
	c.stack = unset_table(in->nstacks);
	if (!c.str || !c.map || !c.fn || !c.loc || !c.loc_agg || !c.stack)
	{
		oom(&c);
		goto done;
	}
	c.stack[0] = 0;
	if (!sel->go_pgo && sel->ncall > 0)
	{
		if ((state = unset_table(in->nstacks)) == NULL)
		{
			oom(&c);
			goto done;
		}
		if (in->nstacks > 0 && !match_call_site(&c, sel, state))
			goto done;
	}

	r->sample_type = copy_str(&c, p->sample_type);
	r->sample_unit = copy_str(&c, p->sample_unit);
	r->period_type = copy_str(&c, p->period_type);
	r->period_unit = copy_str(&c, p->period_unit);
	r->period = p->period;
	r->time_nanos = p->time_nanos;
	r->duration_nanos = p->duration_nanos;
	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];
		uint32_t	ns;

		if (s->stack >= in->nstacks)
		{
			pyro_error_set(err, PYRO_ECORRUPT, "sample refers to unknown stack %u", s->stack);
			goto done;
		}
		if (state && state[s->stack] != sel->ncall)
			continue;
		ns = sel->go_pgo ? pgo_stack(&c, sel, s->stack) : copy_stack(&c, s->stack);
		if (ns == UNSET)
			goto done;
		if (c.failed)
		{
			oom(&c);
			goto done;
		}
		if (!pyro_profile_add_sample(r, ns, s->value, s->span_id))
		{
			oom(&c);
			goto done;
		}
	}
	if (c.failed)
	{
		oom(&c);
		goto done;
	}
	ok = true;

done:
	pyro_free(c.str);
	pyro_free(c.map);
	pyro_free(c.fn);
	pyro_free(c.loc);
	pyro_free(c.loc_agg);
	pyro_free(c.stack);
	pyro_free(c.lines);
	pyro_free(c.path);
	pyro_free(state);
	if (!ok)
	{
		pyro_profile_free(r);
		return err ? err->code : PYRO_ENOMEM;
	}
	*out = r;
	return PYRO_OK;
}

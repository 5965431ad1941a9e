/*-------------------------------------------------------------------------
 *
 * canonical.c
 *	  The canonical form of a profile: only the symbols its samples reach,
 *	  de-duplicated by content and numbered in an order that depends on
 *	  content alone.  Two profiles with the same samples (the same stacks of
 *	  the same frames with the same values) have byte-identical canonical
 *	  encodings, whatever order their inputs were merged in, and whichever
 *	  storage tier they were read from.  Outputs that users compare (merged
 *	  pprof, merged profile values) are built from it.
 *
 * Order: strings by bytes; mappings, functions and locations by their
 * fields (string fields by canonical string order); stack nodes by depth,
 * then parent, then location; samples by stack then span id.
 *
 *-------------------------------------------------------------------------
 */
#include "profile.h"

#include <stdlib.h>

#define UNSET	UINT32_MAX

/* Sorting context: qsort has no argument, and the core is single-threaded. */
static const PyroSymbols *sort_sym;
static const uint32_t *sort_str_rank;	/* old string index -> canonical index */
static const uint32_t *sort_map_new;	/* old mapping -> canonical mapping */
static const uint32_t *sort_fn_new; /* old function -> canonical function */

static int
cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int
cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static int
cmp_string_idx(const void *a, const void *b)
{
	const PyroStr *x = &sort_sym->strings[*(const uint32_t *) a];
	const PyroStr *y = &sort_sym->strings[*(const uint32_t *) b];
	uint32_t	n = x->len < y->len ? x->len : y->len;
	int			c = n ? memcmp(x->ptr, y->ptr, n) : 0;

	if (c != 0)
		return c;
	return cmp_u64(x->len, y->len);
}

static int
cmp_mapping_idx(const void *a, const void *b)
{
	const PyroMapping *x = &sort_sym->mappings[*(const uint32_t *) a];
	const PyroMapping *y = &sort_sym->mappings[*(const uint32_t *) b];
	int			c;

	if ((c = cmp_u64(sort_str_rank[x->filename], sort_str_rank[y->filename])) != 0 ||
		(c = cmp_u64(sort_str_rank[x->build_id], sort_str_rank[y->build_id])) != 0 ||
		(c = cmp_u64(x->memory_start, y->memory_start)) != 0 ||
		(c = cmp_u64(x->memory_limit, y->memory_limit)) != 0 ||
		(c = cmp_u64(x->file_offset, y->file_offset)) != 0)
		return c;
	return cmp_u64(x->flags, y->flags);
}

static int
cmp_function_idx(const void *a, const void *b)
{
	const PyroFunction *x = &sort_sym->functions[*(const uint32_t *) a];
	const PyroFunction *y = &sort_sym->functions[*(const uint32_t *) b];
	int			c;

	if ((c = cmp_u64(sort_str_rank[x->name], sort_str_rank[y->name])) != 0 ||
		(c = cmp_u64(sort_str_rank[x->system_name], sort_str_rank[y->system_name])) != 0 ||
		(c = cmp_u64(sort_str_rank[x->filename], sort_str_rank[y->filename])) != 0)
		return c;
	return cmp_i64(x->start_line, y->start_line);
}

static int
cmp_location_idx(const void *a, const void *b)
{
	const PyroLocation *x = &sort_sym->locations[*(const uint32_t *) a];
	const PyroLocation *y = &sort_sym->locations[*(const uint32_t *) b];
	int			c;

	if ((c = cmp_u64(sort_map_new[x->mapping], sort_map_new[y->mapping])) != 0 ||
		(c = cmp_u64(x->address, y->address)) != 0 ||
		(c = cmp_u64(x->nlines, y->nlines)) != 0)
		return c;
	for (uint32_t i = 0; i < x->nlines; i++)
	{
		const PyroLine *lx = &sort_sym->lines[x->first_line + i];
		const PyroLine *ly = &sort_sym->lines[y->first_line + i];

		if ((c = cmp_u64(sort_fn_new[lx->function], sort_fn_new[ly->function])) != 0 ||
			(c = cmp_i64(lx->line, ly->line)) != 0)
			return c;
	}
	return 0;
}

/* Stack nodes of one depth, keyed by canonical (parent, location). */
typedef struct StackKey
{
	uint32_t	parent;			/* canonical */
	uint32_t	location;		/* canonical */
	uint32_t	old;
} StackKey;

static int
cmp_stack_key(const void *a, const void *b)
{
	const StackKey *x = a;
	const StackKey *y = b;
	int			c;

	if ((c = cmp_u64(x->parent, y->parent)) != 0)
		return c;
	return cmp_u64(x->location, y->location);
}

static int
cmp_sample(const void *a, const void *b)
{
	const PyroSample *x = a;
	const PyroSample *y = b;
	int			c;

	if ((c = cmp_u64(x->stack, y->stack)) != 0)
		return c;
	return cmp_u64(x->span_id, y->span_id);
}

/*
 * Sort the indexes in idx[0..n) with cmp and give equal neighbours the
 * same new number (starting at first_new) in map[old]; returns the number
 * of distinct entries.
 */
static uint32_t
rank_sorted(uint32_t *idx, uint32_t n, int (*cmp) (const void *, const void *),
			uint32_t *map, uint32_t first_new, uint32_t *distinct_first)
{
	uint32_t	next = first_new;

	if (n == 0)
		return 0;
	qsort(idx, n, sizeof(uint32_t), cmp);
	for (uint32_t i = 0; i < n; i++)
	{
		if (i > 0 && cmp(&idx[i - 1], &idx[i]) == 0)
			map[idx[i]] = map[idx[i - 1]];
		else
		{
			distinct_first[next - first_new] = idx[i];
			map[idx[i]] = next++;
		}
	}
	return next - first_new;
}

typedef struct Work
{
	uint8_t    *stack_used;
	uint8_t    *loc_used;
	uint8_t    *fn_used;
	uint8_t    *map_used;
	uint8_t    *str_used;
	uint32_t   *str_new;
	uint32_t   *map_new;
	uint32_t   *fn_new;
	uint32_t   *loc_new;
	uint32_t   *stack_new;
	uint32_t   *depth;
	uint32_t   *idx;
	uint32_t   *first;
	StackKey   *keys;
} Work;

static void
work_free(Work *w)
{
	pyro_free(w->stack_used);
	pyro_free(w->loc_used);
	pyro_free(w->fn_used);
	pyro_free(w->map_used);
	pyro_free(w->str_used);
	pyro_free(w->str_new);
	pyro_free(w->map_new);
	pyro_free(w->fn_new);
	pyro_free(w->loc_new);
	pyro_free(w->stack_new);
	pyro_free(w->depth);
	pyro_free(w->idx);
	pyro_free(w->first);
	pyro_free(w->keys);
}

PyroStatus
pyro_profile_canonical(const PyroProfile *p, PyroProfile **out, PyroError *err)
{
	const PyroSymbols *s = p->sym;
	Work		w;
	PyroSymbols *ns = NULL;
	PyroProfile *np = NULL;
	uint32_t	maxn;
	uint32_t	n;
	uint32_t	distinct;
	uint32_t	maxdepth = 0;

	*out = NULL;
	memset(&w, 0, sizeof(w));
	maxn = s->nstrings;
	if (s->nmappings > maxn)
		maxn = s->nmappings;
	if (s->nfunctions > maxn)
		maxn = s->nfunctions;
	if (s->nlocations > maxn)
		maxn = s->nlocations;
	if (s->nstacks > maxn)
		maxn = s->nstacks;

	w.stack_used = pyro_calloc(s->nstacks + 1, 1);
	w.loc_used = pyro_calloc(s->nlocations + 1, 1);
	w.fn_used = pyro_calloc(s->nfunctions + 1, 1);
	w.map_used = pyro_calloc(s->nmappings + 1, 1);
	w.str_used = pyro_calloc(s->nstrings + 1, 1);
	w.str_new = pyro_calloc(s->nstrings + 1, sizeof(uint32_t));
	w.map_new = pyro_calloc(s->nmappings + 1, sizeof(uint32_t));
	w.fn_new = pyro_calloc(s->nfunctions + 1, sizeof(uint32_t));
	w.loc_new = pyro_calloc(s->nlocations + 1, sizeof(uint32_t));
	w.stack_new = pyro_calloc(s->nstacks + 1, sizeof(uint32_t));
	w.depth = pyro_calloc(s->nstacks + 1, sizeof(uint32_t));
	w.idx = pyro_calloc(maxn + 1, sizeof(uint32_t));
	w.first = pyro_calloc(maxn + 1, sizeof(uint32_t));
	w.keys = pyro_calloc(s->nstacks + 1, sizeof(StackKey));
	ns = pyro_symbols_create();
	np = ns ? pyro_profile_create(ns, true) : NULL;
	if (!w.stack_used || !w.loc_used || !w.fn_used || !w.map_used || !w.str_used ||
		!w.str_new || !w.map_new || !w.fn_new || !w.loc_new || !w.stack_new ||
		!w.depth || !w.idx || !w.first || !w.keys || !np)
		goto oom;

	/* reachability: stacks from samples, and everything below them */
	for (size_t i = 0; i < p->nsamples; i++)
		if (p->samples[i].value != 0 && p->samples[i].stack < s->nstacks)
			w.stack_used[p->samples[i].stack] = 1;
	for (uint32_t i = s->nstacks; i-- > 1;)
		if (w.stack_used[i])
			w.stack_used[s->stacks[i].parent] = 1;
	for (uint32_t i = 1; i < s->nstacks; i++)
		if (w.stack_used[i])
		{
			const PyroLocation *loc = &s->locations[s->stacks[i].location];

			w.loc_used[s->stacks[i].location] = 1;
			w.map_used[loc->mapping] = 1;
			for (uint32_t l = 0; l < loc->nlines; l++)
				w.fn_used[s->lines[loc->first_line + l].function] = 1;
		}
	for (uint32_t i = 0; i < s->nfunctions; i++)
		if (w.fn_used[i])
		{
			w.str_used[s->functions[i].name] = 1;
			w.str_used[s->functions[i].system_name] = 1;
			w.str_used[s->functions[i].filename] = 1;
		}
	for (uint32_t i = 1; i < s->nmappings; i++)
		if (w.map_used[i])
		{
			w.str_used[s->mappings[i].filename] = 1;
			w.str_used[s->mappings[i].build_id] = 1;
		}
	w.str_used[p->sample_type] = w.str_used[p->sample_unit] = 1;
	w.str_used[p->period_type] = w.str_used[p->period_unit] = 1;

	sort_sym = s;

	/* strings: "" stays 0, the rest by bytes */
	n = 0;
	for (uint32_t i = 1; i < s->nstrings; i++)
		if (w.str_used[i] && s->strings[i].len > 0)
			w.idx[n++] = i;
		else
			w.str_new[i] = 0;
	distinct = rank_sorted(w.idx, n, cmp_string_idx, w.str_new, 1, w.first);
	for (uint32_t i = 0; i < distinct; i++)
	{
		const PyroStr *str = &s->strings[w.first[i]];

		if (pyro_sym_append_string(ns, str->ptr, str->len) == PYRO_NO_INDEX)
			goto oom;
	}
	sort_str_rank = w.str_new;

	/* mappings: the sentinel stays 0 */
	n = 0;
	for (uint32_t i = 1; i < s->nmappings; i++)
		if (w.map_used[i])
			w.idx[n++] = i;
	distinct = rank_sorted(w.idx, n, cmp_mapping_idx, w.map_new, 1, w.first);
	for (uint32_t i = 0; i < distinct; i++)
	{
		PyroMapping m = s->mappings[w.first[i]];

		m.filename = w.str_new[m.filename];
		m.build_id = w.str_new[m.build_id];
		if (pyro_sym_intern_mapping(ns, &m) == PYRO_NO_INDEX)
			goto oom;
	}
	sort_map_new = w.map_new;

	/* functions */
	n = 0;
	for (uint32_t i = 0; i < s->nfunctions; i++)
		if (w.fn_used[i])
			w.idx[n++] = i;
	distinct = rank_sorted(w.idx, n, cmp_function_idx, w.fn_new, 0, w.first);
	for (uint32_t i = 0; i < distinct; i++)
	{
		PyroFunction f = s->functions[w.first[i]];

		f.name = w.str_new[f.name];
		f.system_name = w.str_new[f.system_name];
		f.filename = w.str_new[f.filename];
		if (pyro_sym_intern_function(ns, &f) != i)
			goto oom;
	}
	sort_fn_new = w.fn_new;

	/* locations */
	n = 0;
	for (uint32_t i = 0; i < s->nlocations; i++)
		if (w.loc_used[i])
			w.idx[n++] = i;
	distinct = rank_sorted(w.idx, n, cmp_location_idx, w.loc_new, 0, w.first);
	for (uint32_t i = 0; i < distinct; i++)
	{
		const PyroLocation *loc = &s->locations[w.first[i]];
		PyroLine	lines[64];
		PyroLine   *lp = lines;
		uint32_t	got;

		if (loc->nlines > 64)
		{
			lp = pyro_malloc(sizeof(PyroLine) * loc->nlines);
			if (lp == NULL)
				goto oom;
		}
		for (uint32_t l = 0; l < loc->nlines; l++)
		{
			lp[l].function = w.fn_new[s->lines[loc->first_line + l].function];
			lp[l].line = s->lines[loc->first_line + l].line;
		}
		got = pyro_sym_intern_location(ns, w.map_new[loc->mapping], loc->address,
									   lp, loc->nlines);
		if (lp != lines)
			pyro_free(lp);
		if (got != i)
			goto oom;
	}

	/* stack nodes, depth by depth, each level by (parent, location) */
	for (uint32_t i = 1; i < s->nstacks; i++)
		if (w.stack_used[i])
		{
			w.depth[i] = w.depth[s->stacks[i].parent] + 1;
			if (w.depth[i] > maxdepth)
				maxdepth = w.depth[i];
		}
	w.stack_new[0] = 0;
	for (uint32_t d = 1; d <= maxdepth; d++)
	{
		uint32_t	k = 0;

		for (uint32_t i = 1; i < s->nstacks; i++)
			if (w.stack_used[i] && w.depth[i] == d)
			{
				w.keys[k].parent = w.stack_new[s->stacks[i].parent];
				w.keys[k].location = w.loc_new[s->stacks[i].location];
				w.keys[k].old = i;
				k++;
			}
		qsort(w.keys, k, sizeof(StackKey), cmp_stack_key);
		for (uint32_t j = 0; j < k; j++)
		{
			uint32_t	node = pyro_sym_intern_stack(ns, w.keys[j].parent, w.keys[j].location);

			if (node == PYRO_NO_INDEX)
				goto oom;
			w.stack_new[w.keys[j].old] = node;
		}
	}

	/* samples: mapped, sorted, equal ones summed, zeros dropped */
	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *sm = &p->samples[i];

		if (sm->value == 0 || sm->stack >= s->nstacks)
			continue;
		if (!pyro_profile_add_sample(np, w.stack_new[sm->stack], sm->value, sm->span_id))
			goto oom;
	}
	if (np->nsamples > 1)
	{
		size_t		k = 0;

		qsort(np->samples, np->nsamples, sizeof(PyroSample), cmp_sample);
		for (size_t i = 0; i < np->nsamples; i++)
		{
			if (k > 0 && np->samples[k - 1].stack == np->samples[i].stack &&
				np->samples[k - 1].span_id == np->samples[i].span_id)
				np->samples[k - 1].value += np->samples[i].value;
			else
				np->samples[k++] = np->samples[i];
		}
		np->nsamples = k;
		/* drop sums that cancelled out */
		k = 0;
		for (size_t i = 0; i < np->nsamples; i++)
			if (np->samples[i].value != 0)
				np->samples[k++] = np->samples[i];
		np->nsamples = k;
	}

	np->sample_type = w.str_new[p->sample_type];
	np->sample_unit = w.str_new[p->sample_unit];
	np->period_type = w.str_new[p->period_type];
	np->period_unit = w.str_new[p->period_unit];
	np->period = p->period;
	np->time_nanos = p->time_nanos;
	np->duration_nanos = p->duration_nanos;

	work_free(&w);
	*out = np;
	return PYRO_OK;

oom:
	work_free(&w);
	if (np)
		pyro_profile_free(np);
	else if (ns)
		pyro_symbols_free(ns);
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory while canonicalising a profile");
}

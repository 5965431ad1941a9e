/*-------------------------------------------------------------------------
 *
 * tree.c
 *	  Function-name call trees: creation, the (parent, name) -> node hash
 *	  index, adding stacks and whole profiles, the top-function table, and
 *	  the "tree" bytes of spec §8.4 (writer and reader).
 *
 * Nodes live in one array and are always created after their parent, so a
 * reverse sweep over node indexes visits children before parents.  Nothing
 * here recurses over tree depth: hostile input can make trees thousands of
 * levels deep, so every walk uses parent pointers or an explicit stack.
 *
 * Samples with a value <= 0 and stacks without any frame are ignored, as
 * upstream does; the virtual root therefore never has a self value and its
 * total is the sum of the top-level totals.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "tree_int.h"

#define TREE_MAX_NODES	((uint32_t) 0x7FFFFFFF)
#define UNRESOLVED		UINT32_MAX
#define FRAME_BUF_SIZE	1024

/* Open-addressing hash of non-root node indexes keyed by (parent, name). */
struct PyroTreeIndex
{
	uint32_t   *slots;			/* 0 = empty (node 0 is never a child) */
	size_t		cap;			/* power of two */
	size_t		count;
};

static inline uint64_t
child_hash(uint32_t parent, uint32_t name)
{
	return pyro_hash_mix(pyro_hash_mix(0x5079726F54726565ULL, parent), name);
}

/* Rebuild the index with twice the capacity; false when out of memory. */
static bool
index_grow(PyroTree *t)
{
	PyroTreeIndex *ix = t->index;
	size_t		newcap;
	size_t		bytes;
	uint32_t   *slots;

	if (!pyro_size_mul(ix->cap, 2, &newcap) ||
		!pyro_size_mul(newcap, sizeof(uint32_t), &bytes))
		return false;
	slots = pyro_calloc(newcap, sizeof(uint32_t));
	if (slots == NULL)
		return false;
	for (uint32_t i = 1; i < t->nnodes; i++)
	{
		size_t		pos = child_hash(t->nodes[i].parent, t->nodes[i].name) & (newcap - 1);

		while (slots[pos] != 0)
			pos = (pos + 1) & (newcap - 1);
		slots[pos] = i;
	}
	pyro_free(ix->slots);
	ix->slots = slots;
	ix->cap = newcap;
	return true;
}

PyroTree *
pyro_tree_create(void)
{
	PyroTree   *t = pyro_calloc(1, sizeof(PyroTree));

	if (t == NULL)
		return NULL;
	t->names = pyro_symbols_create();
	t->index = pyro_calloc(1, sizeof(PyroTreeIndex));
	if (t->names == NULL || t->index == NULL ||
		!pyro_grow((void **) &t->nodes, &t->nodes_cap, 16, sizeof(PyroTreeNode)))
	{
		pyro_tree_free(t);
		return NULL;
	}
	t->index->cap = 64;
	t->index->slots = pyro_calloc(t->index->cap, sizeof(uint32_t));
	if (t->index->slots == NULL)
	{
		pyro_tree_free(t);
		return NULL;
	}
	memset(&t->nodes[0], 0, sizeof(PyroTreeNode));
	t->nnodes = 1;
	return t;
}

void
pyro_tree_free(PyroTree *t)
{
	if (t == NULL)
		return;
	pyro_symbols_free(t->names);
	if (t->index != NULL)
		pyro_free(t->index->slots);
	pyro_free(t->index);
	pyro_free(t->nodes);
	pyro_free(t);
}

uint32_t
pyro_tree_child(PyroTree *t, uint32_t parent, uint32_t name)
{
	PyroTreeIndex *ix = t->index;
	size_t		mask;
	size_t		pos;
	uint32_t	idx;
	PyroTreeNode *n;

	mask = ix->cap - 1;
	pos = child_hash(parent, name) & mask;
	while ((idx = ix->slots[pos]) != 0)
	{
		if (t->nodes[idx].parent == parent && t->nodes[idx].name == name)
			return idx;
		pos = (pos + 1) & mask;
	}

	/* not found: append a node */
	if (t->nnodes >= TREE_MAX_NODES)
		return PYRO_NO_INDEX;
	if (t->nnodes >= t->nodes_cap &&
		!pyro_grow((void **) &t->nodes, &t->nodes_cap, (size_t) t->nnodes + 1,
				   sizeof(PyroTreeNode)))
		return PYRO_NO_INDEX;
	if ((ix->count + 1) * 4 > ix->cap * 3)
	{
		if (!index_grow(t))
			return PYRO_NO_INDEX;
		mask = ix->cap - 1;
		pos = child_hash(parent, name) & mask;
		while (ix->slots[pos] != 0)
			pos = (pos + 1) & mask;
	}
	idx = t->nnodes++;
	n = &t->nodes[idx];
	n->parent = parent;
	n->name = name;
	n->first_child = 0;
	n->next_sibling = t->nodes[parent].first_child;
	n->self = 0;
	n->total = 0;
	t->nodes[parent].first_child = idx;
	ix->slots[pos] = idx;
	ix->count++;
	return idx;
}

uint32_t
pyro_tree_find_name(const PyroTree *t, const char *s, size_t len)
{
	for (uint32_t i = 0; i < t->names->nstrings; i++)
	{
		if (t->names->strings[i].len == len &&
			(len == 0 || memcmp(t->names->strings[i].ptr, s, len) == 0))
			return i;
	}
	return PYRO_NO_INDEX;
}

static PyroStatus
tree_oom(PyroError *err)
{
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory while building a call tree");
}

static PyroStatus
tree_child_failed(const PyroTree *t, PyroError *err)
{
	if (t->nnodes >= TREE_MAX_NODES)
		return pyro_error_set(err, PYRO_ELIMIT, "call tree exceeds %u nodes",
							  (unsigned) TREE_MAX_NODES);
	return tree_oom(err);
}

/* Add value along the path from the root to leaf (leaf gets the self). */
static void
tree_add_path_value(PyroTree *t, uint32_t leaf, int64_t value)
{
	uint32_t	n = leaf;

	t->nodes[leaf].self = pyro_sat_add(t->nodes[leaf].self, value);
	for (;;)
	{
		t->nodes[n].total = pyro_sat_add(t->nodes[n].total, value);
		if (n == 0)
			break;
		n = t->nodes[n].parent;
	}
}

PyroStatus
pyro_tree_add_stack(PyroTree *t, const PyroStr *frames, size_t n,
					int64_t value, PyroError *err)
{
	uint32_t	cur = 0;

	if (value <= 0 || n == 0)
		return PYRO_OK;
	for (size_t i = 0; i < n; i++)
	{
		uint32_t	name = pyro_sym_intern_string(t->names, frames[i].ptr, frames[i].len);

		if (name == PYRO_NO_INDEX)
			return tree_oom(err);
		cur = pyro_tree_child(t, cur, name);
		if (cur == PYRO_NO_INDEX)
			return tree_child_failed(t, err);
	}
	tree_add_path_value(t, cur, value);
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * pyro_tree_add_profile
 * ----------------------------------------------------------------
 */

/* Scratch state of one pyro_tree_add_profile call. */
typedef struct AddProfileState
{
	uint32_t   *memo;			/* stack node -> tree node, or UNRESOLVED */
	int64_t    *self_acc;		/* per stack node: sum of its own samples */
	int64_t    *acc;			/* per stack node: sum over its descendants */
	uint32_t   *loc_off;		/* location -> offset in frame_names */
	uint32_t   *frame_names;	/* tree name indexes, innermost first */
	size_t		frame_names_len;
	size_t		frame_names_cap;
	uint32_t   *path;			/* explicit stack for resolution */
	size_t		path_cap;
} AddProfileState;

static void
add_state_free(AddProfileState *st)
{
	pyro_free(st->memo);
	pyro_free(st->self_acc);
	pyro_free(st->acc);
	pyro_free(st->loc_off);
	pyro_free(st->frame_names);
	pyro_free(st->path);
}

/*
 * The frame names of location loc interned into the tree, cached per
 * location for the duration of the call.  A location contributes one frame
 * per line; a location without lines contributes one frame named after its
 * mapping and address (see pyro_location_frame_name), so that native
 * frames never vanish.  On success *names points at nframes entries,
 * innermost first.
 */
static PyroStatus
location_frames(PyroTree *t, const PyroSymbols *sym, AddProfileState *st,
				uint32_t loc, const uint32_t **names, uint32_t *nframes,
				PyroError *err)
{
	const PyroLocation *l;
	uint32_t	k;
	char		buf[FRAME_BUF_SIZE];

	if (loc >= sym->nlocations)
		return pyro_error_set(err, PYRO_ECORRUPT,
							  "stack node refers to unknown location %u", loc);
	l = &sym->locations[loc];
	k = l->nlines > 0 ? l->nlines : 1;
	if (st->loc_off[loc] == UNRESOLVED)
	{
		size_t		need;

		if ((uint64_t) l->first_line + l->nlines > sym->nlines)
			return pyro_error_set(err, PYRO_ECORRUPT,
								  "location %u refers to unknown lines", loc);
		if (!pyro_size_add(st->frame_names_len, k, &need) || need > UINT32_MAX ||
			!pyro_grow((void **) &st->frame_names, &st->frame_names_cap, need,
					   sizeof(uint32_t)))
			return tree_oom(err);
		for (uint32_t j = 0; j < k; j++)
		{
			PyroStr		s = pyro_location_frame_name(sym, l, j, buf, sizeof(buf));
			uint32_t	name = pyro_sym_intern_string(t->names, s.ptr, s.len);

			if (name == PYRO_NO_INDEX)
				return tree_oom(err);
			st->frame_names[st->frame_names_len + j] = name;
		}
		st->loc_off[loc] = (uint32_t) st->frame_names_len;
		st->frame_names_len = need;
	}
	*names = st->frame_names + st->loc_off[loc];
	*nframes = k;
	return PYRO_OK;
}

/*
 * Map stack node s (and every unresolved ancestor) to its tree node.  The
 * ancestors are collected on an explicit stack, then resolved root first:
 * a node's tree node is its parent's extended by its location's frames,
 * outermost first.
 */
static PyroStatus
resolve_stack(PyroTree *t, const PyroSymbols *sym, AddProfileState *st,
			  uint32_t s, PyroError *err)
{
	size_t		depth = 0;
	uint32_t	x = s;
	uint32_t	cur;

	while (st->memo[x] == UNRESOLVED)
	{
		uint32_t	parent = sym->stacks[x].parent;

		if (parent >= x)
			return pyro_error_set(err, PYRO_ECORRUPT,
								  "stack node %u has parent %u, not a lower index",
								  x, parent);
		if (depth >= st->path_cap &&
			!pyro_grow((void **) &st->path, &st->path_cap, depth + 1, sizeof(uint32_t)))
			return tree_oom(err);
		st->path[depth++] = x;
		x = parent;
	}
	cur = st->memo[x];
	while (depth > 0)
	{
		uint32_t	y = st->path[--depth];
		const uint32_t *names;
		uint32_t	k;
		PyroStatus	rc;

		rc = location_frames(t, sym, st, sym->stacks[y].location, &names, &k, err);
		if (rc != PYRO_OK)
			return rc;
		for (uint32_t j = k; j > 0; j--)
		{
			cur = pyro_tree_child(t, cur, names[j - 1]);
			if (cur == PYRO_NO_INDEX)
				return tree_child_failed(t, err);
		}
		st->memo[y] = cur;
	}
	return PYRO_OK;
}

/*
 * Add every sample of p.  Each stack node is mapped to a tree node once;
 * sample values are summed per stack node, and one reverse sweep over the
 * stack nodes (children have higher indexes) propagates subtree sums and
 * adds them to the tree nodes each stack node contributed.  No stack is
 * walked per sample.
 */
PyroStatus
pyro_tree_add_profile(PyroTree *t, const PyroProfile *p, PyroError *err)
{
	const PyroSymbols *sym = p->sym;
	AddProfileState st;
	PyroStatus	rc = PYRO_OK;
	uint32_t	S;
	int64_t		root_add = 0;
	bool		any = false;

	memset(&st, 0, sizeof(st));
	if (p->nsamples == 0)
		return PYRO_OK;
	if (sym == NULL || sym->nstacks == 0)
		return pyro_error_set(err, PYRO_ECORRUPT, "profile has no stack table");
	S = sym->nstacks;

	st.memo = pyro_malloc((size_t) S * sizeof(uint32_t));
	st.self_acc = pyro_calloc(S, sizeof(int64_t));
	st.acc = pyro_calloc(S, sizeof(int64_t));
	st.loc_off = pyro_malloc(((size_t) sym->nlocations + 1) * sizeof(uint32_t));
	if (st.memo == NULL || st.self_acc == NULL || st.acc == NULL || st.loc_off == NULL)
	{
		add_state_free(&st);
		return tree_oom(err);
	}
	memset(st.memo, 0xFF, (size_t) S * sizeof(uint32_t));
	memset(st.loc_off, 0xFF, ((size_t) sym->nlocations + 1) * sizeof(uint32_t));
	st.memo[0] = 0;

	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *smp = &p->samples[i];
		uint32_t	s = smp->stack;

		if (smp->value <= 0)
			continue;
		if (s >= S)
		{
			rc = pyro_error_set(err, PYRO_ECORRUPT,
								"sample %zu refers to unknown stack node %u", i, s);
			goto done;
		}
		if (st.memo[s] == UNRESOLVED)
		{
			rc = resolve_stack(t, sym, &st, s, err);
			if (rc != PYRO_OK)
				goto done;
		}
		if (st.memo[s] == 0)
			continue;			/* no frame at all: dropped */
		st.self_acc[s] = pyro_sat_add(st.self_acc[s], smp->value);
		root_add = pyro_sat_add(root_add, smp->value);
		any = true;
	}
	if (!any)
		goto done;

	for (uint32_t i = S - 1; i > 0; i--)
	{
		uint32_t	tn = st.memo[i];
		uint32_t	parent;
		uint32_t	pn;
		int64_t		a;

		if (tn == UNRESOLVED)
			continue;
		a = pyro_sat_add(st.acc[i], st.self_acc[i]);
		if (a == 0)
			continue;
		parent = sym->stacks[i].parent;
		pn = st.memo[parent];
		if (st.self_acc[i] > 0)
			t->nodes[tn].self = pyro_sat_add(t->nodes[tn].self, st.self_acc[i]);
		/* the frames this stack node added lie between pn and tn */
		for (uint32_t x = tn; x != pn; x = t->nodes[x].parent)
			t->nodes[x].total = pyro_sat_add(t->nodes[x].total, a);
		st.acc[parent] = pyro_sat_add(st.acc[parent], a);
	}
	t->nodes[0].total = pyro_sat_add(t->nodes[0].total, root_add);

done:
	add_state_free(&st);
	return rc;
}

/* ----------------------------------------------------------------
 * children sorted by name, truncation threshold
 * ----------------------------------------------------------------
 */

/*
 * Sort idx[0..n) by the strings they name (stable bottom-up merge sort;
 * names of a string table are unique, so stability is moot).
 */
static bool
sort_names(const PyroSymbols *names, uint32_t *idx, size_t n)
{
	uint32_t   *tmp;
	uint32_t   *src = idx;
	uint32_t   *dst;

	if (n < 2)
		return true;
	tmp = pyro_malloc(n * sizeof(uint32_t));

	if (tmp == NULL)
		return false;
	dst = tmp;

	for (size_t width = 1; width < n; width *= 2)
	{
		for (size_t lo = 0; lo < n; lo += 2 * width)
		{
			size_t		mid = lo + width < n ? lo + width : n;
			size_t		hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t		i = lo,
						j = mid,
						k = lo;

			while (i < mid && j < hi)
			{
				const PyroStr *a = &names->strings[src[i]];
				const PyroStr *b = &names->strings[src[j]];

				if (pyro_str_cmp(a->ptr, a->len, b->ptr, b->len) <= 0)
					dst[k++] = src[i++];
				else
					dst[k++] = src[j++];
			}
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		{
			uint32_t   *sw = src;

			src = dst;
			dst = sw;
		}
	}
	if (src != idx)
		memcpy(idx, src, n * sizeof(uint32_t));
	pyro_free(tmp);
	return true;
}

/*
 * Build the children-by-name index: rank every name once, counting-sort
 * the nodes by rank, then stably by parent.
 */
bool
pyro_tree_order_build(const PyroTree *t, PyroTreeOrder *o)
{
	uint32_t	nn = t->nnodes;
	uint32_t	ns = t->names->nstrings;
	uint32_t   *byname = NULL;
	uint32_t   *rank = NULL;
	uint32_t   *cnt = NULL;
	uint32_t   *bynode = NULL;
	bool		ok = false;

	o->start = pyro_calloc((size_t) nn + 1, sizeof(uint32_t));
	o->child = pyro_malloc(((size_t) nn + 1) * sizeof(uint32_t));
	byname = pyro_malloc(((size_t) ns + 1) * sizeof(uint32_t));
	rank = pyro_malloc(((size_t) ns + 1) * sizeof(uint32_t));
	cnt = pyro_calloc((size_t) ns + 1, sizeof(uint32_t));
	bynode = pyro_malloc(((size_t) nn + 1) * sizeof(uint32_t));
	if (o->start == NULL || o->child == NULL || byname == NULL || rank == NULL ||
		cnt == NULL || bynode == NULL)
		goto out;

	for (uint32_t i = 0; i < ns; i++)
		byname[i] = i;
	if (!sort_names(t->names, byname, ns))
		goto out;
	for (uint32_t i = 0; i < ns; i++)
		rank[byname[i]] = i;

	/* nodes 1..nn-1 ordered by name rank */
	for (uint32_t i = 1; i < nn; i++)
		cnt[rank[t->nodes[i].name]]++;
	{
		uint32_t	sum = 0;

		for (uint32_t r = 0; r < ns; r++)
		{
			uint32_t	c = cnt[r];

			cnt[r] = sum;
			sum += c;
		}
	}
	for (uint32_t i = 1; i < nn; i++)
		bynode[cnt[rank[t->nodes[i].name]]++] = i;

	/* then stably grouped by parent */
	for (uint32_t i = 1; i < nn; i++)
		o->start[t->nodes[i].parent + 1]++;
	for (uint32_t i = 0; i < nn; i++)
		o->start[i + 1] += o->start[i];
	/* a cursor per parent places each child in its parent's segment */
	{
		uint32_t   *pos = pyro_malloc(((size_t) nn + 1) * sizeof(uint32_t));

		if (pos == NULL)
			goto out;
		memcpy(pos, o->start, (size_t) nn * sizeof(uint32_t));
		for (uint32_t i = 0; i + 1 < nn; i++)
		{
			uint32_t	c = bynode[i];

			o->child[pos[t->nodes[c].parent]++] = c;
		}
		pyro_free(pos);
	}
	ok = true;

out:
	pyro_free(byname);
	pyro_free(rank);
	pyro_free(cnt);
	pyro_free(bynode);
	if (!ok)
		pyro_tree_order_free(o);
	return ok;
}

void
pyro_tree_order_free(PyroTreeOrder *o)
{
	pyro_free(o->start);
	pyro_free(o->child);
	o->start = NULL;
	o->child = NULL;
}

/* min-heap sift-down helper for pyro_tree_min_value */
static void
heap_sift_down(int64_t *h, size_t n, size_t i)
{
	for (;;)
	{
		size_t		l = 2 * i + 1;
		size_t		m = i;
		int64_t		tmp;

		if (l < n && h[l] < h[m])
			m = l;
		if (l + 1 < n && h[l + 1] < h[m])
			m = l + 1;
		if (m == i)
			return;
		tmp = h[i];

		h[i] = h[m];
		h[m] = tmp;

		i = m;
	}
}

/*
 * The exact max_nodes-th largest total among the non-root nodes, through a
 * bounded min-heap (O(n log k), immune to adversarial orders).
 */
bool
pyro_tree_min_value(const PyroTree *t, int64_t max_nodes, int64_t *out)
{
	size_t		k;
	int64_t    *h;

	*out = 0;
	if (max_nodes <= 0 || t->nnodes <= 1 || (uint64_t) max_nodes >= t->nnodes - 1)
		return true;
	k = (size_t) max_nodes;
	h = pyro_malloc(k * sizeof(int64_t));
	if (h == NULL)
		return false;
	for (size_t i = 0; i < k; i++)
		h[i] = t->nodes[i + 1].total;
	for (size_t i = k / 2 + 1; i > 0; i--)
		heap_sift_down(h, k, i - 1);
	for (uint32_t i = (uint32_t) k + 1; i < t->nnodes; i++)
	{
		if (t->nodes[i].total > h[0])
		{
			h[0] = t->nodes[i].total;
			heap_sift_down(h, k, 0);
		}
	}
	*out = h[0];
	pyro_free(h);
	return true;
}

/* ----------------------------------------------------------------
 * top functions
 * ----------------------------------------------------------------
 */

static int
top_cmp(const void *pa, const void *pb)
{
	const PyroTopEntry *a = pa;
	const PyroTopEntry *b = pb;

	if (a->self != b->self)
		return a->self > b->self ? -1 : 1;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return pyro_str_cmp(a->name, a->name_len, b->name, b->name_len);
}

/*
 * Self and total per frame name.  The tree is walked depth-first through
 * its parent/child/sibling links (no stack needed); a per-name counter of
 * occurrences on the current path makes a recursive function's total count
 * each sample once.
 */
PyroStatus
pyro_tree_top(const PyroTree *t, PyroTopEntry **out, size_t *n, PyroError *err)
{
	uint32_t	ns = t->names->nstrings;
	uint32_t   *onpath;
	int64_t    *self;
	int64_t    *total;
	bool	   *seen;
	size_t		count = 0;
	PyroTopEntry *res = NULL;
	uint32_t	cur;

	*out = NULL;
	*n = 0;
	onpath = pyro_calloc((size_t) ns + 1, sizeof(uint32_t));
	self = pyro_calloc((size_t) ns + 1, sizeof(int64_t));
	total = pyro_calloc((size_t) ns + 1, sizeof(int64_t));
	seen = pyro_calloc((size_t) ns + 1, sizeof(bool));
	if (onpath == NULL || self == NULL || total == NULL || seen == NULL)
		goto oom;

	cur = t->nnodes > 1 ? t->nodes[0].first_child : 0;
	while (cur != 0)
	{
		const PyroTreeNode *nd = &t->nodes[cur];

		/* enter cur */
		if (onpath[nd->name] == 0)
			total[nd->name] = pyro_sat_add(total[nd->name], nd->total);
		onpath[nd->name]++;
		self[nd->name] = pyro_sat_add(self[nd->name], nd->self);
		if (!seen[nd->name])
		{
			seen[nd->name] = true;
			count++;
		}
		if (nd->first_child != 0)
		{
			cur = nd->first_child;
			continue;
		}
		/* leave nodes until one has a next sibling */
		for (;;)
		{
			const PyroTreeNode *c = &t->nodes[cur];

			onpath[c->name]--;
			if (c->next_sibling != 0)
			{
				cur = c->next_sibling;
				break;
			}
			cur = c->parent;
			if (cur == 0)
				break;
		}
	}

	if (count > 0)
	{
		size_t		k = 0;

		res = pyro_malloc(count * sizeof(PyroTopEntry));
		if (res == NULL)
			goto oom;
		for (uint32_t i = 0; i < ns; i++)
		{
			if (!seen[i])
				continue;
			res[k].name = t->names->strings[i].ptr;
			res[k].name_len = t->names->strings[i].len;
			res[k].self = self[i];
			res[k].total = total[i];
			k++;
		}
		qsort(res, count, sizeof(PyroTopEntry), top_cmp);
	}
	pyro_free(onpath);
	pyro_free(self);
	pyro_free(total);
	pyro_free(seen);
	*out = res;
	*n = count;
	return PYRO_OK;

oom:
	pyro_free(onpath);
	pyro_free(self);
	pyro_free(total);
	pyro_free(seen);
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory while computing top functions");
}

/* ----------------------------------------------------------------
 * tree bytes (spec §8.4)
 * ----------------------------------------------------------------
 */

/* One pending node of the writer: a tree node or the synthetic "other". */
typedef struct SerItem
{
	uint32_t	node;			/* PYRO_NO_INDEX = synthetic "other" */
	int64_t		extra;			/* added to self ("other" absorbs drops) */
} SerItem;

static bool
ser_push(SerItem **stack, size_t *len, size_t *cap, uint32_t node, int64_t extra)
{
	if (*len >= *cap &&
		!pyro_grow((void **) stack, cap, *len + 1, sizeof(SerItem)))
		return false;
	(*stack)[*len].node = node;
	(*stack)[*len].extra = extra;
	(*len)++;
	return true;
}

/*
 * Write the tree bytes, pre-order, children in descending name order as
 * upstream does.  With truncation, children whose total is below the
 * threshold are dropped and their totals added to the self of the child
 * named "other" (an existing one is always kept; otherwise a leaf is
 * synthesised in its name-ordered place).
 */
PyroStatus
pyro_tree_serialize(const PyroTree *t, int64_t max_nodes, PyroBuf *out, PyroError *err)
{
	PyroTreeOrder ord = {NULL, NULL};
	int64_t		minval;
	uint32_t	other_name;
	SerItem    *stack = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	static const char other[] = "other";

	if (t->nnodes <= 1 || t->nodes[0].first_child == 0)
		return PYRO_OK;			/* empty tree: zero bytes */
	if (!pyro_tree_min_value(t, max_nodes, &minval) ||
		!pyro_tree_order_build(t, &ord))
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory while serializing a call tree");
	other_name = pyro_tree_find_name(t, other, 5);

	if (!ser_push(&stack, &len, &cap, 0, 0))
		goto oom;
	while (len > 0)
	{
		SerItem		it = stack[--len];
		uint32_t	nkept = 0;
		int64_t		dropped = 0;
		bool		has_other = false;
		bool		pending;

		if (it.node == PYRO_NO_INDEX)
		{
			pyro_buf_append_varint(out, 5);
			pyro_buf_append(out, other, 5);
			pyro_buf_append_varint(out, (uint64_t) it.extra);
			pyro_buf_append_varint(out, 0);
			continue;
		}
		{
			const PyroStr *nm = &t->names->strings[t->nodes[it.node].name];
			int64_t		self = pyro_sat_add(t->nodes[it.node].self, it.extra);

			pyro_buf_append_varint(out, it.node == 0 ? 0 : nm->len);
			if (it.node != 0)
				pyro_buf_append(out, nm->ptr, nm->len);
			pyro_buf_append_varint(out, (uint64_t) (self > 0 ? self : 0));
		}
		for (uint32_t j = ord.start[it.node]; j < ord.start[it.node + 1]; j++)
		{
			const PyroTreeNode *c = &t->nodes[ord.child[j]];

			if (c->name == other_name)
			{
				has_other = true;
				nkept++;
			}
			else if (c->total >= minval)
				nkept++;
			else
				dropped = pyro_sat_add(dropped, c->total);
		}
		pending = dropped > 0 && !has_other;
		pyro_buf_append_varint(out, nkept + (pending ? 1 : 0));

		/* push ascending so that children pop in descending order */
		for (uint32_t j = ord.start[it.node]; j < ord.start[it.node + 1]; j++)
		{
			uint32_t	cn = ord.child[j];
			const PyroTreeNode *c = &t->nodes[cn];
			bool		ok = true;

			if (pending)
			{
				const PyroStr *nm = &t->names->strings[c->name];

				if (pyro_str_cmp(other, 5, nm->ptr, nm->len) < 0)
				{
					ok = ser_push(&stack, &len, &cap, PYRO_NO_INDEX, dropped);
					pending = false;
				}
			}
			if (c->name == other_name)
				ok = ok && ser_push(&stack, &len, &cap, cn, dropped);
			else if (c->total >= minval)
				ok = ok && ser_push(&stack, &len, &cap, cn, 0);
			if (!ok)
				goto oom;
		}
		if (pending && !ser_push(&stack, &len, &cap, PYRO_NO_INDEX, dropped))
			goto oom;
	}
	pyro_free(stack);
	pyro_tree_order_free(&ord);
	if (out->oom)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory while serializing a call tree");
	return PYRO_OK;

oom:
	pyro_free(stack);
	pyro_tree_order_free(&ord);
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory while serializing a call tree");
}

/* One open node of the reader: the tree node, children left, subtree sum. */
typedef struct ReadItem
{
	uint32_t	node;
	uint64_t	remaining;
	int64_t		sum;
} ReadItem;

/* Read one node header; PYRO_EINVAL with a message on malformed input. */
static PyroStatus
read_node(const uint8_t **p, const uint8_t *end, const uint8_t **name,
		  uint64_t *name_len, uint64_t *self, uint64_t *nchildren, PyroError *err)
{
	if (!pyro_read_varint(p, end, name_len))
		return pyro_error_set(err, PYRO_EINVAL, "tree bytes truncated in a name length");
	if (*name_len > (uint64_t) (end - *p))
		return pyro_error_set(err, PYRO_EINVAL,
							  "tree node name length %llu exceeds the remaining %zu bytes",
							  (unsigned long long) *name_len, (size_t) (end - *p));
	*name = *p;
	*p += *name_len;
	if (!pyro_read_varint(p, end, self))
		return pyro_error_set(err, PYRO_EINVAL, "tree bytes truncated in a self value");
	if (*self > (uint64_t) INT64_MAX)
		return pyro_error_set(err, PYRO_EINVAL, "tree node self value %llu is out of range",
							  (unsigned long long) *self);
	if (!pyro_read_varint(p, end, nchildren))
		return pyro_error_set(err, PYRO_EINVAL, "tree bytes truncated in a child count");
	/* every child needs at least 3 bytes */
	if (*nchildren > (uint64_t) (end - *p) / 3)
		return pyro_error_set(err, PYRO_EINVAL,
							  "tree node claims %llu children in %zu remaining bytes",
							  (unsigned long long) *nchildren, (size_t) (end - *p));
	return PYRO_OK;
}

/*
 * Walk the tree bytes once.  With t == NULL only validate; otherwise add
 * every node into t (equal names under one parent merge).  Open nodes are
 * kept on an explicit stack whose depth is bounded by len / 3.  When adding
 * fails half-way (out of memory), the open nodes are still closed so that
 * every total stays the sum of its subtree.
 */
static PyroStatus
tree_read(PyroTree *t, const uint8_t *data, size_t len, PyroError *err)
{
	const uint8_t *p;
	const uint8_t *end;
	ReadItem   *stack = NULL;
	size_t		depth = 0;
	size_t		cap = 0;
	PyroStatus	rc = PYRO_OK;
	bool		root = true;

	if (len == 0 || data == NULL)
		return PYRO_OK;
	p = data;
	end = data + len;
	for (;;)
	{
		const uint8_t *name = NULL;
		uint64_t	name_len = 0,
					self = 0,
					nchildren = 0;
		uint32_t	node = 0;

		rc = read_node(&p, end, &name, &name_len, &self, &nchildren, err);
		if (rc != PYRO_OK)
			break;
		if (depth >= cap &&
			!pyro_grow((void **) &stack, &cap, depth + 1, sizeof(ReadItem)))
		{
			rc = tree_oom(err);
			break;
		}
		if (root)
		{
			/* the virtual root: its name and self carry nothing */
			self = 0;
			root = false;
		}
		else if (t != NULL)
		{
			uint32_t	nm = pyro_sym_intern_string(t->names, (const char *) name,
													(size_t) name_len);

			if (nm == PYRO_NO_INDEX)
			{
				rc = tree_oom(err);
				break;
			}
			node = pyro_tree_child(t, stack[depth - 1].node, nm);
			if (node == PYRO_NO_INDEX)
			{
				rc = tree_child_failed(t, err);
				break;
			}
			t->nodes[node].self = pyro_sat_add(t->nodes[node].self, (int64_t) self);
		}
		stack[depth].node = node;
		stack[depth].remaining = nchildren;
		stack[depth].sum = (int64_t) self;
		depth++;

		/* close every finished node */
		while (depth > 0 && stack[depth - 1].remaining == 0)
		{
			ReadItem   *it = &stack[--depth];

			if (t != NULL)
				t->nodes[it->node].total = pyro_sat_add(t->nodes[it->node].total, it->sum);
			if (depth > 0)
			{
				stack[depth - 1].remaining--;
				stack[depth - 1].sum = pyro_sat_add(stack[depth - 1].sum, it->sum);
			}
		}
		if (depth == 0)
			break;
		if (p >= end)
		{
			rc = pyro_error_set(err, PYRO_EINVAL,
								"tree bytes end with %zu unfinished nodes", depth);
			break;
		}
	}
	if (rc == PYRO_OK && p != end)
		rc = pyro_error_set(err, PYRO_EINVAL, "%zu trailing bytes after the tree",
							(size_t) (end - p));

	/* on failure, close the open nodes so that totals stay consistent */
	if (t != NULL)
	{
		while (depth > 0)
		{
			ReadItem   *it = &stack[--depth];

			t->nodes[it->node].total = pyro_sat_add(t->nodes[it->node].total, it->sum);
			if (depth > 0)
				stack[depth - 1].sum = pyro_sat_add(stack[depth - 1].sum, it->sum);
		}
	}
	pyro_free(stack);
	return rc;
}

/*
 * Add tree bytes into t.  The bytes are validated completely first, so
 * malformed input leaves t untouched.
 */
PyroStatus
pyro_tree_add_serialized(PyroTree *t, const uint8_t *data, size_t len, PyroError *err)
{
	PyroStatus	rc = tree_read(NULL, data, len, err);

	if (rc != PYRO_OK)
		return rc;
	return tree_read(t, data, len, err);
}

/* ----------------------------------------------------------------
 * Call-site filter (StackTraceSelector, spec §5)
 * ----------------------------------------------------------------
 */

/* Add every node of t's subtree at node (with self > 0) to dst, path included. */
static PyroStatus
copy_subtree(PyroTree *dst, const PyroTree *t, uint32_t node, PyroError *err)
{
	PyroStr    *frames = NULL;
	size_t		cap = 0;
	uint32_t   *stack;
	size_t		sp = 0;
	size_t		bytes;
	PyroStatus	st = PYRO_OK;

	if (!pyro_size_mul((size_t) t->nnodes + 1, sizeof(uint32_t), &bytes) ||
		(stack = pyro_malloc(bytes)) == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	stack[sp++] = node;
	while (sp > 0 && st == PYRO_OK)
	{
		uint32_t	i = stack[--sp];
		const PyroTreeNode *n = &t->nodes[i];

		for (uint32_t c = n->first_child; c != 0; c = t->nodes[c].next_sibling)
			stack[sp++] = c;
		if (n->self > 0 && i != 0)
		{
			size_t		depth = 0;
			uint32_t	j;

			for (j = i; j != 0; j = t->nodes[j].parent)
				depth++;
			if (depth > cap)
			{
				size_t		ncap = depth > cap * 2 ? depth : cap * 2;
				PyroStr    *nf = frames ? pyro_realloc(frames, cap * sizeof(PyroStr),
													   ncap * sizeof(PyroStr))
				: pyro_malloc(ncap * sizeof(PyroStr));

				if (nf == NULL)
				{
					st = pyro_error_set(err, PYRO_ENOMEM, "out of memory");
					break;
				}
				frames = nf;
				cap = ncap;
			}
			j = i;
			for (size_t d = depth; d > 0; d--)
			{
				frames[d - 1] = t->names->strings[t->nodes[j].name];
				j = t->nodes[j].parent;
			}
			st = pyro_tree_add_stack(dst, frames, depth, n->self, err);
		}
	}
	pyro_free(stack);
	pyro_free(frames);
	return st;
}

PyroStatus
pyro_tree_call_site(const PyroTree *t, const char *const *names, size_t n, PyroTree **out,
					PyroError *err)
{
	PyroTree   *dst;
	uint32_t	node = 0;

	*out = NULL;
	for (size_t d = 0; d < n; d++)
	{
		uint32_t	c;
		size_t		len = strlen(names[d]);

		for (c = t->nodes[node].first_child; c != 0; c = t->nodes[c].next_sibling)
		{
			const PyroStr *s = &t->names->strings[t->nodes[c].name];

			if (s->len == len && memcmp(s->ptr, names[d], len) == 0)
				break;
		}
		node = c;
		if (node == 0)
			break;
	}
	dst = pyro_tree_create();
	if (dst == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
	if (node != 0 && n > 0)
	{
		PyroStatus	st = copy_subtree(dst, t, node, err);

		if (st != PYRO_OK)
		{
			pyro_tree_free(dst);
			return st;
		}
	}
	else if (n == 0)
	{
		pyro_tree_free(dst);
		return pyro_error_set(err, PYRO_EINVAL, "a call site needs at least one frame");
	}
	*out = dst;
	return PYRO_OK;
}

/*-------------------------------------------------------------------------
 *
 * flamegraph.c
 *	  Flame graphs in the flamebearer layout (spec §8.2, §8.5): the single
 *	  graph of one tree, the diff graph of two, max_nodes truncation
 *	  (§8.3) and the JSON form used by /pyroscope/render.
 *
 * Both layouts come from one level-by-level emitter over a tree and one or
 * two columns of (self, total) per node.  A diff first merges both trees'
 * shapes into one tree so that every node has both sides (the union of
 * child names); each side keeps its own values.
 *
 *-------------------------------------------------------------------------
 */
#include "tree_int.h"

#define FG_UNSET	UINT32_MAX

/* One node of the level being laid out. */
typedef struct FgItem
{
	uint32_t	node;			/* tree node, or PYRO_NO_INDEX for "other" */
	int64_t		x[2];			/* absolute x per side */
	int64_t		self[2];
	int64_t		total[2];
} FgItem;

/* Everything the emitter needs, and the names it has assigned so far. */
typedef struct FgBuilder
{
	const PyroTree *tree;		/* shape and names */
	PyroTreeOrder ord;
	int			nsides;
	int64_t    *self[2];		/* per tree node */
	int64_t    *total[2];
	int64_t		minval;
	uint32_t	other_name;		/* tree name index of "other", or none */

	uint32_t   *fg_index;		/* tree name index -> names[] index */
	PyroStr    *names;			/* output names in index order */
	uint32_t	nnames;
	size_t		names_cap;
	uint32_t	synthetic_other;	/* names[] index of "other" if not a tree
									 * name */
} FgBuilder;

static void
fg_builder_free(FgBuilder *b)
{
	pyro_tree_order_free(&b->ord);
	for (int s = 0; s < 2; s++)
	{
		pyro_free(b->self[s]);
		pyro_free(b->total[s]);
	}
	pyro_free(b->fg_index);
	pyro_free(b->names);
}

void
pyro_flamegraph_free(PyroFlamegraph *fg)
{
	if (fg == NULL)
		return;
	if (fg->names != NULL)
		pyro_free(fg->names[0]);	/* one block holding every name */
	pyro_free(fg->names);
	if (fg->levels != NULL)
	{
		for (uint32_t d = 0; d < fg->nlevels; d++)
			pyro_free(fg->levels[d]);
	}
	pyro_free(fg->levels);
	pyro_free(fg->level_len);
	memset(fg, 0, sizeof(PyroFlamegraph));
}

static bool
fg_add_name(FgBuilder *b, const char *s, uint32_t len, uint32_t *idx)
{
	if (b->nnames >= b->names_cap &&
		!pyro_grow((void **) &b->names, &b->names_cap, (size_t) b->nnames + 1,
				   sizeof(PyroStr)))
		return false;
	b->names[b->nnames].ptr = s;
	b->names[b->nnames].len = len;
	*idx = b->nnames++;
	return true;
}

/*
 * The names[] index of tree name n, assigned on first use in emission
 * order.  A frame literally named "total" shares index 0 with the root.
 */
static bool
fg_name(FgBuilder *b, uint32_t n, uint32_t *idx)
{
	const PyroStr *s;

	if (b->fg_index[n] != FG_UNSET)
	{
		*idx = b->fg_index[n];
		return true;
	}
	s = &b->tree->names->strings[n];
	if (s->len == 5 && memcmp(s->ptr, "total", 5) == 0)
		*idx = 0;
	else if (!fg_add_name(b, s->ptr, s->len, idx))
		return false;
	b->fg_index[n] = *idx;
	return true;
}

static bool
fg_other_name(FgBuilder *b, uint32_t *idx)
{
	if (b->other_name != PYRO_NO_INDEX)
		return fg_name(b, b->other_name, idx);
	if (b->synthetic_other == FG_UNSET &&
		!fg_add_name(b, "other", 5, &b->synthetic_other))
		return false;
	*idx = b->synthetic_other;
	return true;
}

static bool
push_item(FgItem **arr, size_t *len, size_t *cap, const FgItem *it)
{
	if (*len >= *cap &&
		!pyro_grow((void **) arr, cap, *len + 1, sizeof(FgItem)))
		return false;
	(*arr)[(*len)++] = *it;
	return true;
}

/* Copy the assigned names into one block: names[0] is its start. */
static bool
fg_finish_names(FgBuilder *b, PyroFlamegraph *out)
{
	size_t		bytes = 0;
	char	   *block;
	char	   *p;

	for (uint32_t i = 0; i < b->nnames; i++)
	{
		if (!pyro_size_add(bytes, (size_t) b->names[i].len + 1, &bytes))
			return false;
	}
	out->names = pyro_calloc(b->nnames, sizeof(char *));
	block = pyro_malloc(bytes);
	if (out->names == NULL || block == NULL)
	{
		pyro_free(block);
		return false;
	}
	p = block;
	for (uint32_t i = 0; i < b->nnames; i++)
	{
		out->names[i] = p;
		if (b->names[i].len > 0)
			memcpy(p, b->names[i].ptr, b->names[i].len);
		p[b->names[i].len] = '\0';
		p += b->names[i].len + 1;
	}
	out->nnames = b->nnames;
	return true;
}

/*
 * Lay the tree out level by level.  Each level is in ascending x order;
 * inside a node its self part comes first, then its kept children in name
 * order, then one "other" node summing the dropped children.  x columns are
 * delta-encoded per level and side.
 */
static bool
fg_emit(FgBuilder *b, PyroFlamegraph *out)
{
	int			width = b->nsides == 2 ? 7 : 4;
	FgItem	   *cur = NULL;
	FgItem	   *next = NULL;
	size_t		ncur = 0,
				cur_cap = 0,
				nnext = 0,
				next_cap = 0;
	size_t		levels_cap = 0;
	size_t		lens_cap = 0;
	FgItem		root;
	bool		ok = false;
	uint32_t	dummy;

	memset(&root, 0, sizeof(root));
	root.node = 0;
	for (int s = 0; s < b->nsides; s++)
	{
		root.self[s] = b->self[s][0];
		root.total[s] = b->total[s][0];
	}
	if (!fg_add_name(b, "total", 5, &dummy) || !push_item(&cur, &ncur, &cur_cap, &root))
		goto out;

	while (ncur > 0)
	{
		int64_t    *lv;
		int64_t		prev[2] = {0, 0};
		size_t		nvals;

		/* emit this level */
		if (!pyro_size_mul(ncur, (size_t) width, &nvals) ||
			!pyro_grow((void **) &out->levels, &levels_cap, (size_t) out->nlevels + 1,
					   sizeof(int64_t *)) ||
			!pyro_grow((void **) &out->level_len, &lens_cap, (size_t) out->nlevels + 1,
					   sizeof(size_t)))
			goto out;
		lv = pyro_malloc(nvals * sizeof(int64_t));
		if (lv == NULL)
			goto out;
		out->levels[out->nlevels] = lv;
		out->level_len[out->nlevels] = nvals;
		out->nlevels++;
		for (size_t i = 0; i < ncur; i++)
		{
			const FgItem *it = &cur[i];
			int64_t    *v = lv + i * (size_t) width;
			uint32_t	name;

			if (it->node == 0)
				name = 0;
			else if (it->node == PYRO_NO_INDEX)
			{
				if (!fg_other_name(b, &name))
					goto out;
			}
			else if (!fg_name(b, b->tree->nodes[it->node].name, &name))
				goto out;
			for (int s = 0; s < b->nsides; s++)
			{
				v[s * 3 + 0] = it->x[s] - prev[s];
				v[s * 3 + 1] = it->total[s];
				v[s * 3 + 2] = it->self[s];
				prev[s] = pyro_sat_add(it->x[s], it->total[s]);
				if (it->self[s] > out->max_self)
					out->max_self = it->self[s];
			}
			v[width - 1] = name;
		}

		/* lay out the next level */
		nnext = 0;
		for (size_t i = 0; i < ncur; i++)
		{
			const FgItem *it = &cur[i];
			int64_t		x[2] = {0, 0};
			int64_t		dropped[2] = {0, 0};
			FgItem		c;

			if (it->node == PYRO_NO_INDEX)
				continue;
			for (int s = 0; s < b->nsides; s++)
				x[s] = pyro_sat_add(it->x[s], it->self[s]);
			for (uint32_t j = b->ord.start[it->node]; j < b->ord.start[it->node + 1]; j++)
			{
				uint32_t	cn = b->ord.child[j];
				bool		keep = false;

				if (b->tree->nodes[cn].name != b->other_name)
				{
					for (int s = 0; s < b->nsides; s++)
						keep = keep || b->total[s][cn] >= b->minval;
				}
				if (!keep)
				{
					for (int s = 0; s < b->nsides; s++)
						dropped[s] = pyro_sat_add(dropped[s], b->total[s][cn]);
					continue;
				}
				memset(&c, 0, sizeof(c));
				c.node = cn;
				for (int s = 0; s < b->nsides; s++)
				{
					c.x[s] = x[s];
					c.self[s] = b->self[s][cn];
					c.total[s] = b->total[s][cn];
					x[s] = pyro_sat_add(x[s], c.total[s]);
				}
				if (!push_item(&next, &nnext, &next_cap, &c))
					goto out;
			}
			if (dropped[0] > 0 || dropped[1] > 0)
			{
				memset(&c, 0, sizeof(c));
				c.node = PYRO_NO_INDEX;
				for (int s = 0; s < b->nsides; s++)
				{
					c.x[s] = x[s];
					c.self[s] = dropped[s];
					c.total[s] = dropped[s];
				}
				if (!push_item(&next, &nnext, &next_cap, &c))
					goto out;
			}
		}
		{
			FgItem	   *sw = cur;
			size_t		swcap = cur_cap;

			cur = next;
			cur_cap = next_cap;
			ncur = nnext;
			next = sw;
			next_cap = swcap;
		}
	}
	ok = fg_finish_names(b, out);

out:
	pyro_free(cur);
	pyro_free(next);
	return ok;
}

static bool
fg_builder_init(FgBuilder *b, const PyroTree *shape, int nsides)
{
	uint32_t	nn = shape->nnodes;
	uint32_t	ns = shape->names->nstrings;

	memset(b, 0, sizeof(FgBuilder));
	b->tree = shape;
	b->nsides = nsides;
	b->synthetic_other = FG_UNSET;
	b->other_name = pyro_tree_find_name(shape, "other", 5);
	b->fg_index = pyro_malloc(((size_t) ns + 1) * sizeof(uint32_t));
	if (b->fg_index == NULL)
		return false;
	memset(b->fg_index, 0xFF, ((size_t) ns + 1) * sizeof(uint32_t));
	for (int s = 0; s < nsides; s++)
	{
		b->self[s] = pyro_calloc((size_t) nn + 1, sizeof(int64_t));
		b->total[s] = pyro_calloc((size_t) nn + 1, sizeof(int64_t));
		if (b->self[s] == NULL || b->total[s] == NULL)
			return false;
	}
	return pyro_tree_order_build(shape, &b->ord);
}

/* Build the single flame graph of t (spec §8.2, §8.3). */
PyroStatus
pyro_flamegraph_build(const PyroTree *t, int64_t max_nodes, PyroFlamegraph *out,
					  PyroError *err)
{
	FgBuilder	b;

	memset(out, 0, sizeof(PyroFlamegraph));
	out->width = 4;
	if (!fg_builder_init(&b, t, 1) || !pyro_tree_min_value(t, max_nodes, &b.minval))
		goto oom;
	for (uint32_t i = 0; i < t->nnodes; i++)
	{
		b.self[0][i] = t->nodes[i].self;
		b.total[0][i] = t->nodes[i].total;
	}
	if (!fg_emit(&b, out))
		goto oom;
	out->total = pyro_tree_total(t);
	fg_builder_free(&b);
	return PYRO_OK;

oom:
	fg_builder_free(&b);
	pyro_flamegraph_free(out);
	out->width = 4;
	return pyro_error_set(err, PYRO_ENOMEM, "out of memory while building a flame graph");
}

/*
 * Map every node of src into the merged shape tree m; map[i] receives the
 * node of m for node i of src.  Nodes are created parent first, so one
 * forward pass suffices.
 */
static bool
merge_shape(PyroTree *m, const PyroTree *src, uint32_t *map)
{
	uint32_t   *names = pyro_malloc(((size_t) src->names->nstrings + 1) * sizeof(uint32_t));

	if (names == NULL)
		return false;
	memset(names, 0xFF, ((size_t) src->names->nstrings + 1) * sizeof(uint32_t));
	map[0] = 0;
	for (uint32_t i = 1; i < src->nnodes; i++)
	{
		uint32_t	n = src->nodes[i].name;

		if (names[n] == FG_UNSET)
		{
			names[n] = pyro_sym_intern_string(m->names, src->names->strings[n].ptr,
											  src->names->strings[n].len);
			if (names[n] == PYRO_NO_INDEX)
			{
				pyro_free(names);
				return false;
			}
		}
		map[i] = pyro_tree_child(m, map[src->nodes[i].parent], names[n]);
		if (map[i] == PYRO_NO_INDEX)
		{
			pyro_free(names);
			return false;
		}
	}
	pyro_free(names);
	return true;
}

/* Build the diff flame graph of left and right (spec §8.5). */
PyroStatus
pyro_flamegraph_diff(const PyroTree *left, const PyroTree *right, int64_t max_nodes,
					 PyroFlamegraph *out, PyroError *err)
{
	const PyroTree *sides[2] = {left, right};
	PyroTree   *m;
	uint32_t   *map[2] = {NULL, NULL};
	int64_t		mv[2] = {0, 0};
	FgBuilder	b;
	PyroStatus	rc = PYRO_OK;

	memset(out, 0, sizeof(PyroFlamegraph));
	memset(&b, 0, sizeof(b));
	out->width = 7;
	m = pyro_tree_create();
	if (m == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory while building a diff flame graph");
	for (int s = 0; s < 2; s++)
	{
		map[s] = pyro_malloc(((size_t) sides[s]->nnodes + 1) * sizeof(uint32_t));
		if (map[s] == NULL || !merge_shape(m, sides[s], map[s]) ||
			!pyro_tree_min_value(sides[s], max_nodes, &mv[s]))
			goto oom;
	}
	if (!fg_builder_init(&b, m, 2))
		goto oom;
	b.minval = mv[0] > mv[1] ? mv[0] : mv[1];
	for (int s = 0; s < 2; s++)
	{
		for (uint32_t i = 0; i < sides[s]->nnodes; i++)
		{
			b.self[s][map[s][i]] = sides[s]->nodes[i].self;
			b.total[s][map[s][i]] = sides[s]->nodes[i].total;
		}
	}
	if (!fg_emit(&b, out))
		goto oom;
	out->left_ticks = pyro_tree_total(left);
	out->right_ticks = pyro_tree_total(right);
	out->total = pyro_sat_add(out->left_ticks, out->right_ticks);
	goto done;

oom:
	rc = pyro_error_set(err, PYRO_ENOMEM, "out of memory while building a diff flame graph");
	pyro_flamegraph_free(out);
	out->width = 7;
done:
	fg_builder_free(&b);
	pyro_free(map[0]);
	pyro_free(map[1]);
	pyro_tree_free(m);
	return rc;
}

/* The flamebearer JSON object; deterministic, no whitespace. */
void
pyro_flamegraph_json(const PyroFlamegraph *fg, PyroBuf *out)
{
	pyro_buf_append_str(out, "{\"names\":[");
	for (uint32_t i = 0; i < fg->nnames; i++)
	{
		if (i > 0)
			pyro_buf_append_byte(out, ',');
		pyro_buf_append_json_str(out, fg->names[i], strlen(fg->names[i]));
	}
	pyro_buf_append_str(out, "],\"levels\":[");
	for (uint32_t d = 0; d < fg->nlevels; d++)
	{
		if (d > 0)
			pyro_buf_append_byte(out, ',');
		pyro_buf_append_byte(out, '[');
		for (size_t i = 0; i < fg->level_len[d]; i++)
		{
			if (i > 0)
				pyro_buf_append_byte(out, ',');
			pyro_buf_append_int64(out, fg->levels[d][i]);
		}
		pyro_buf_append_byte(out, ']');
	}
	pyro_buf_append_str(out, "],\"numTicks\":");
	pyro_buf_append_int64(out, fg->total);
	pyro_buf_append_str(out, ",\"maxSelf\":");
	pyro_buf_append_int64(out, fg->max_self);
	if (fg->width == 7)
	{
		pyro_buf_append_str(out, ",\"leftTicks\":");
		pyro_buf_append_int64(out, fg->left_ticks);
		pyro_buf_append_str(out, ",\"rightTicks\":");
		pyro_buf_append_int64(out, fg->right_ticks);
	}
	pyro_buf_append_byte(out, '}');
}

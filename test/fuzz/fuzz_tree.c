/*
 * fuzz_tree.c
 *	  libFuzzer target for the tree bytes reader and everything built on a
 *	  tree: read arbitrary bytes; when that succeeds, check the tree's sums,
 *	  that serialising is a fixed point, that truncated bytes keep the
 *	  total, and that the flame graph (max_nodes 16) and the diff of the
 *	  tree with itself are well laid out (every node inside a parent).
 */
#include <stdio.h>
#include <stdlib.h>

#include "tree.h"

#define FAIL(msg) \
	do { fprintf(stderr, "invariant failed: %s\n", msg); abort(); } while (0)

/* Node sums: total = self + children's totals (only without saturation). */
static void
check_sums(const PyroTree *t)
{
	bool		exact = pyro_tree_total(t) < INT64_MAX;

	if (t->nodes[0].self != 0)
		FAIL("root has a self value");
	for (uint32_t i = 0; i < t->nnodes && exact; i++)
	{
		int64_t		sum = t->nodes[i].self;

		for (uint32_t c = t->nodes[i].first_child; c != 0; c = t->nodes[c].next_sibling)
		{
			if (t->nodes[c].parent != i || c <= i)
				FAIL("bad child link");
			sum += t->nodes[c].total;
		}
		if (sum != t->nodes[i].total)
			FAIL("total is not self plus the children's totals");
	}
}

/*
 * Every level's nodes lie inside nodes of the level above, in order, with
 * non-negative deltas; the root is at x 0 with name 0.
 */
static void
check_layout(const PyroFlamegraph *fg, int64_t expect_total)
{
	int			w = fg->width;
	int			nsides = w == 7 ? 2 : 1;
	int64_t    *prev = NULL;	/* abs x and total per side of level d-1 */
	size_t		nprev = 0;

	if (fg->nnames < 1 || strcmp(fg->names[0], "total") != 0)
		FAIL("names[0] is not total");
	if (fg->nlevels < 1 || fg->level_len[0] != (size_t) w ||
		fg->levels[0][0] != 0 || fg->levels[0][w - 1] != 0)
		FAIL("bad root");
	if (fg->total != expect_total)
		FAIL("numTicks differs from the tree total");
	for (uint32_t d = 0; d < fg->nlevels; d++)
	{
		size_t		n = fg->level_len[d] / (size_t) w;
		int64_t    *cur = malloc((n + 1) * 4 * sizeof(int64_t));
		int64_t		px[2] = {0, 0};
		size_t		p = 0;

		if (fg->level_len[d] % (size_t) w != 0 || n == 0)
			FAIL("bad level length");
		for (size_t i = 0; i < n; i++)
		{
			const int64_t *v = fg->levels[d] + i * (size_t) w;

			if (v[w - 1] < 0 || (uint64_t) v[w - 1] >= fg->nnames)
				FAIL("name index out of range");
			for (int s = 0; s < nsides; s++)
			{
				if (v[s * 3] < 0 || v[s * 3 + 1] < 0 || v[s * 3 + 2] < 0 ||
					v[s * 3 + 2] > v[s * 3 + 1] || v[s * 3 + 2] > fg->max_self)
					FAIL("negative or inconsistent values");
				cur[i * 4 + s * 2] = px[s] + v[s * 3];
				cur[i * 4 + s * 2 + 1] = v[s * 3 + 1];
				px[s] = cur[i * 4 + s * 2] + v[s * 3 + 1];
			}
			if (d == 0)
				continue;
			for (;;)
			{
				bool		in = p < nprev;

				for (int s = 0; in && s < nsides; s++)
				{
					int64_t		cx = cur[i * 4 + s * 2],
								ct = cur[i * 4 + s * 2 + 1];
					int64_t		ppx = prev[p * 4 + s * 2],
								ppt = prev[p * 4 + s * 2 + 1];

					in = cx >= ppx && cx + ct <= ppx + ppt;
				}
				if (in)
					break;
				if (p >= nprev)
					FAIL("node outside every parent");
				p++;
			}
		}
		free(prev);
		prev = cur;
		nprev = n;
	}
	free(prev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PyroTree   *t = pyro_tree_create();
	PyroTree   *u = NULL;
	PyroBuf		b1,
				b2,
				b3;
	PyroError	err;
	PyroFlamegraph fg;
	PyroTopEntry *top = NULL;
	size_t		ntop = 0;
	int64_t		total;
	bool		exact;

	if (t == NULL)
		return 0;
	pyro_buf_init(&b1);
	pyro_buf_init(&b2);
	pyro_buf_init(&b3);
	if (pyro_tree_add_serialized(t, data, size, &err) != PYRO_OK)
	{
		if (t->nnodes != 1 || pyro_tree_total(t) != 0)
			FAIL("a failed read changed the tree");
		goto done;
	}
	total = pyro_tree_total(t);
	exact = total < INT64_MAX;
	check_sums(t);
	{
		int64_t		top_sum = 0;

		for (uint32_t c = t->nodes[0].first_child; c != 0; c = t->nodes[c].next_sibling)
			top_sum = top_sum > INT64_MAX - t->nodes[c].total ? INT64_MAX : top_sum + t->nodes[c].total;
		if (top_sum != total)
			FAIL("root total is not the sum of top-level totals");
	}

	/* untruncated bytes are canonical: reading and writing again is identical */
	if (pyro_tree_serialize(t, 0, &b1, &err) != PYRO_OK)
		goto done;
	u = pyro_tree_create();
	if (u == NULL)
		goto done;
	if (pyro_tree_add_serialized(u, b1.data, b1.len, &err) != PYRO_OK)
		FAIL("could not read serialized tree");
	if (pyro_tree_serialize(u, -1, &b2, &err) != PYRO_OK)
		goto done;
	if (b1.len != b2.len || (b1.len > 0 && memcmp(b1.data, b2.data, b1.len) != 0))
		FAIL("serialization is not a fixed point");
	pyro_tree_free(u);
	u = NULL;

	/* truncated bytes keep the total */
	if (pyro_tree_serialize(t, 16, &b3, &err) != PYRO_OK)
		goto done;
	u = pyro_tree_create();
	if (u == NULL)
		goto done;
	if (pyro_tree_add_serialized(u, b3.data, b3.len, &err) != PYRO_OK)
		FAIL("could not read truncated tree");
	if (exact && pyro_tree_total(u) != total)
		FAIL("truncation changed the total");
	check_sums(u);

	if (pyro_flamegraph_build(t, 16, &fg, &err) == PYRO_OK)
	{
		PyroBuf		j;

		if (total <= INT64_MAX / 4)
			check_layout(&fg, total);
		pyro_buf_init(&j);
		pyro_flamegraph_json(&fg, &j);
		pyro_buf_free(&j);
		pyro_flamegraph_free(&fg);
	}
	if (pyro_flamegraph_diff(t, t, 16, &fg, &err) == PYRO_OK)
	{
		if (fg.left_ticks != total || fg.right_ticks != total)
			FAIL("diff ticks differ from the tree total");
		if (total <= INT64_MAX / 4)
			check_layout(&fg, 2 * total);
		pyro_flamegraph_free(&fg);
	}
	if (pyro_tree_top(t, &top, &ntop, &err) == PYRO_OK)
	{
		int64_t		self_sum = 0;

		for (size_t i = 0; i < ntop; i++)
		{
			if (top[i].total < top[i].self)
				FAIL("top total below self");
			if (top[i].self > INT64_MAX / 2 - self_sum)
			{
				self_sum = -1;
				break;
			}
			self_sum += top[i].self;
		}
		if (self_sum >= 0 && total <= INT64_MAX / 4 && self_sum != total)
			FAIL("top selfs do not add up to the total");
		pyro_free(top);
	}

done:
	pyro_buf_free(&b1);
	pyro_buf_free(&b2);
	pyro_buf_free(&b3);
	pyro_tree_free(u);
	pyro_tree_free(t);
	return 0;
}

/*-------------------------------------------------------------------------
 *
 * tree_int.h
 *	  Private helpers shared by tree.c and flamegraph.c: child lookup by
 *	  (parent, name), children sorted by name, the max_nodes threshold of
 *	  spec §8.3 and saturating sums.  Not part of the core's contract.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_TREE_INT_H
#define PYRO_TREE_INT_H

#include "tree.h"

/*
 * Children of every node sorted by name (byte-wise ascending), in CSR form:
 * the children of node n are child[start[n] .. start[n + 1]).
 */
typedef struct PyroTreeOrder
{
	uint32_t   *start;			/* nnodes + 1 entries */
	uint32_t   *child;			/* nnodes entries (node 0 never appears) */
} PyroTreeOrder;

/* Sum of two non-negative values, clamped at INT64_MAX. */
static inline int64_t
pyro_sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

/*
 * The child of parent named name (an index into t->names), created with
 * zero values if missing.  Returns PYRO_NO_INDEX when out of memory or when
 * the tree is full.
 */
extern uint32_t pyro_tree_child(PyroTree *t, uint32_t parent, uint32_t name);

extern bool pyro_tree_order_build(const PyroTree *t, PyroTreeOrder *o);
extern void pyro_tree_order_free(PyroTreeOrder *o);

/*
 * The smallest node total still kept when truncating to max_nodes nodes
 * (the max_nodes-th largest total of the non-root nodes, or 0 when no
 * truncation is needed).  False when out of memory.
 */
extern bool pyro_tree_min_value(const PyroTree *t, int64_t max_nodes, int64_t *out);

/* Index of the name s in t->names, or PYRO_NO_INDEX (linear scan). */
extern uint32_t pyro_tree_find_name(const PyroTree *t, const char *s, size_t len);

/* Byte-wise comparison of two strings, a shorter prefix first. */
static inline int
pyro_str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		n = alen < blen ? alen : blen;
	int			c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

#endif							/* PYRO_TREE_INT_H */

/*-------------------------------------------------------------------------
 *
 * tree.h
 *	  Function-name call trees and what is built from them: flame graphs in
 *	  the flamebearer layout (single and diff), top-function tables, and the
 *	  serialised "tree" bytes of the Pyroscope query API.
 *
 * A PyroTree is keyed by frame name (see pyro_location_frame_name), not by
 * location: inlined lines of a location become separate frames.  Node 0 is
 * the virtual root (name index 0, the empty string).  Children of a node are
 * kept as a singly linked list; builders sort them by name where the output
 * format demands it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_TREE_H
#define PYRO_TREE_H

#include "profile.h"

typedef struct PyroTreeNode
{
	uint32_t	parent;			/* node index; node 0 has parent 0 */
	uint32_t	name;			/* index into PyroTree.names */
	uint32_t	first_child;	/* 0 = none */
	uint32_t	next_sibling;	/* 0 = none */
	int64_t		self;
	int64_t		total;
} PyroTreeNode;

typedef struct PyroTreeIndex PyroTreeIndex; /* private */

typedef struct PyroTree
{
	PyroSymbols *names;			/* only its string table is used */
	PyroTreeNode *nodes;
	uint32_t	nnodes;
	size_t		nodes_cap;
	PyroTreeIndex *index;		/* private: (parent, name) -> node */
} PyroTree;

extern PyroTree *pyro_tree_create(void);
extern void pyro_tree_free(PyroTree *t);

/*
 * Add every sample of p to the tree (value added to total of every node on
 * the path and to self of the leaf frame).  Samples are walked root to leaf;
 * each location contributes one frame per line, outermost first.
 */
extern PyroStatus pyro_tree_add_profile(PyroTree *t, const PyroProfile *p,
										PyroError *err);

/* Add one stack given as frame names root first; used by tests and the folded-stacks path. */
extern PyroStatus pyro_tree_add_stack(PyroTree *t, const PyroStr *frames, size_t n,
									  int64_t value, PyroError *err);

static inline int64_t
pyro_tree_total(const PyroTree *t)
{
	return t->nnodes > 0 ? t->nodes[0].total : 0;
}

/*
 * A flame graph in the flamebearer layout (spec §8.2 / §8.5): names[0] is
 * "total"; levels[d] holds width int64 values per node (4 for a single
 * graph, 7 for a diff), x offsets delta-encoded per level.
 */
typedef struct PyroFlamegraph
{
	char	  **names;
	uint32_t	nnames;
	int64_t   **levels;
	size_t	   *level_len;		/* number of int64 values in levels[d] */
	uint32_t	nlevels;
	int			width;			/* 4 or 7 */
	int64_t		total;			/* numTicks */
	int64_t		max_self;
	int64_t		left_ticks;		/* diff only */
	int64_t		right_ticks;	/* diff only */
} PyroFlamegraph;

/*
 * Build the flame graph of t, truncated to about max_nodes nodes with
 * upstream's rule (spec §8.3): children below the threshold are folded into
 * one "other" child per parent.  max_nodes <= 0 means no truncation.
 */
extern PyroStatus pyro_flamegraph_build(const PyroTree *t, int64_t max_nodes,
										PyroFlamegraph *out, PyroError *err);

/* The diff ("double") flame graph of two trees (spec §8.5). */
extern PyroStatus pyro_flamegraph_diff(const PyroTree *left, const PyroTree *right,
									   int64_t max_nodes, PyroFlamegraph *out,
									   PyroError *err);
extern void pyro_flamegraph_free(PyroFlamegraph *fg);

/*
 * Append the flamebearer object:
 * {"names":[...],"levels":[[...],...],"numTicks":N,"maxSelf":N}
 * and for a diff also "leftTicks" and "rightTicks".  Numbers are JSON
 * numbers (the /pyroscope/render form).
 */
extern void pyro_flamegraph_json(const PyroFlamegraph *fg, PyroBuf *out);

/* Top functions: self and total per frame name (recursion counted once in total). */
typedef struct PyroTopEntry
{
	const char *name;			/* points into the tree's names */
	uint32_t	name_len;
	int64_t		self;
	int64_t		total;
} PyroTopEntry;

/* Sorted by self descending, then total descending, then name ascending. */
extern PyroStatus pyro_tree_top(const PyroTree *t, PyroTopEntry **out, size_t *n,
								PyroError *err);

/*
 * The "tree" bytes of spec §8.4 (pre-order; name length uvarint, name, self
 * uvarint, child count uvarint), truncated like the flame graph, and a
 * reader that adds such bytes into a tree (merging equal names).
 */
extern PyroStatus pyro_tree_serialize(const PyroTree *t, int64_t max_nodes,
									  PyroBuf *out, PyroError *err);
extern PyroStatus pyro_tree_add_serialized(PyroTree *t, const uint8_t *data, size_t len,
										   PyroError *err);

/*
 * The call-site filter of StackTraceSelector (spec §5): a new tree with the
 * part of t whose stacks start (root side) with the frames names[0..n),
 * n >= 1: the stacks through the matched node, with everything below it
 * as in t.  No match gives an empty tree.
 */
extern PyroStatus pyro_tree_call_site(const PyroTree *t, const char *const *names, size_t n,
									  PyroTree **out, PyroError *err);

#endif							/* PYRO_TREE_H */

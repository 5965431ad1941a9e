/*-------------------------------------------------------------------------
 *
 * results.c
 *	  Set-returning results of SQL functions made from a tree: the top
 *	  functions table and the distinct stacks.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "sql_results.h"

/* Fill the tuplestore of a set-returning function from the tree's top table. */
void
sql_return_top(FunctionCallInfo fcinfo, const PyroTree *t)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PyroTopEntry *top;
	size_t		n;
	PyroError	err;

	InitMaterializedSRF(fcinfo, 0);
	if (pyro_tree_top(t, &top, &n, &err) != PYRO_OK)
		pyroscope_report(&err, "could not compute top functions");
	for (size_t i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = PointerGetDatum(cstring_to_text_with_len(top[i].name, top[i].name_len));
		values[1] = Int64GetDatum(top[i].self);
		values[2] = Int64GetDatum(top[i].total);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pyro_free(top);
}

/* children of one node sorted by name, for a deterministic depth-first walk */
static const PyroTree *sort_tree;

static int
cmp_child_name(const void *a, const void *b)
{
	const PyroStr *x = &sort_tree->names->strings[sort_tree->nodes[*(const uint32 *) a].name];
	const PyroStr *y = &sort_tree->names->strings[sort_tree->nodes[*(const uint32 *) b].name];
	int			c = memcmp(x->ptr, y->ptr, Min(x->len, y->len));

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * Return one row (stack text[] root first, self) per tree node with a
 * non-zero self value, depth first with siblings in name order, so the
 * rows come in the same order whatever order the data was read in.
 */
void
sql_return_stacks(FunctionCallInfo fcinfo, const PyroTree *t)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint32	   *order;
	uint32	   *pending;
	int			npending = 0;
	uint32		norder = 0;
	Datum	   *frames = NULL;
	int			cap = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (t->nnodes == 0)
		return;

	/* pre-order, children sorted by name, with an explicit stack */
	order = palloc(sizeof(uint32) * t->nnodes);
	pending = palloc(sizeof(uint32) * t->nnodes);
	sort_tree = t;
	pending[npending++] = 0;
	while (npending > 0)
	{
		uint32		node = pending[--npending];
		int			first = npending;

		order[norder++] = node;
		for (uint32 c = t->nodes[node].first_child; c != 0; c = t->nodes[c].next_sibling)
			pending[npending++] = c;
		/* sorted descending on the stack, so the smallest name pops first */
		qsort(pending + first, npending - first, sizeof(uint32), cmp_child_name);
		for (int i = first, j = npending - 1; i < j; i++, j--)
		{
			uint32		tmp = pending[i];

			pending[i] = pending[j];
			pending[j] = tmp;
		}
	}

	for (uint32 k = 0; k < norder; k++)
	{
		uint32		i = order[k];
		const PyroTreeNode *node = &t->nodes[i];
		Datum		values[2];
		bool		nulls[2] = {false, false};
		int			depth = 0;
		uint32		j;

		if (i == 0 || node->self == 0)
			continue;
		for (j = i; j != 0; j = t->nodes[j].parent)
			depth++;
		if (depth > cap)
		{
			cap = Max(depth, cap * 2);
			frames = frames ? repalloc(frames, sizeof(Datum) * cap)
				: palloc(sizeof(Datum) * cap);
		}
		j = i;
		for (int d = depth - 1; d >= 0; d--)
		{
			const PyroStr *name = &t->names->strings[t->nodes[j].name];

			frames[d] = PointerGetDatum(cstring_to_text_with_len(name->ptr, name->len));
			j = t->nodes[j].parent;
		}
		values[0] = PointerGetDatum(construct_array(frames, depth, TEXTOID, -1, false,
													TYPALIGN_INT));
		values[1] = Int64GetDatum(node->self);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(order);
	pfree(pending);
}

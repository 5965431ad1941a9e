/*-------------------------------------------------------------------------
 *
 * sql_results.h
 *	  What the SQL functions share (src/sql only).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SQL_RESULTS_H
#define PYRO_SQL_RESULTS_H

#include "engine.h"

#include "fmgr.h"

#include "tree.h"

/* set-returning results made from a tree (results.c) */
extern void sql_return_top(FunctionCallInfo fcinfo, const PyroTree *t);
extern void sql_return_stacks(FunctionCallInfo fcinfo, const PyroTree *t);

#endif							/* PYRO_SQL_RESULTS_H */

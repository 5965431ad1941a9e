/*-------------------------------------------------------------------------
 *
 * series_query.h
 *	  Queries of the HTTP API that build on the SQL layer's selection
 *	  engine: time-bucketed series of profile totals (SelectSeries and the
 *	  /render timeline, spec §15.3), and call-site filtering of trees
 *	  (StackTraceSelector, spec §5).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYROSCOPE_SERIES_QUERY_H
#define PYROSCOPE_SERIES_QUERY_H

#include "pyroscope.h"

/* one output series of a bucketed query */
typedef struct BucketSeries
{
	int			nlabels;		/* group-by labels the series has */
	char	  **names;
	char	  **values;
	int			npoints;
	int64	   *ts_ms;			/* point timestamps, ascending */
	double	   *values_at;		/* point values */
	double		sum;			/* sum of the point values */
} BucketSeries;

/*
 * Series of per-profile totals of a selection (profile type, selector,
 * tenant; sel->start/end are ignored) grouped by the group_by labels and
 * bucketed with upstream's algorithm (spec §15.3): points at start_ms +
 * k * step_ms up to end_ms, each summing (or averaging) the profiles in
 * (T - step, T].  Only buckets with data become points.  Series are
 * sorted by sum descending, then labels; limit > 0 keeps the first limit.
 * Returns the number of series; *out is palloc'd.
 */
extern int	pyroscope_series_buckets(const ProfileSelection *sel, int64 start_ms,
									 int64 end_ms, int64 step_ms,
									 char **group_by, int ngroup_by, bool average,
									 int64 limit, BucketSeries **out);

/*
 * The part of tree t whose stacks start (root side) with the frames
 * names[0..n): those frames keep the totals of the matched subtree, with
 * everything below them as in t.  n = 0 returns t itself.
 */
extern PyroTree *pyroscope_tree_call_site(PyroTree *t, char **names, int n);

/* Unix milliseconds to timestamptz and back. */
extern TimestampTz pyroscope_ms_to_timestamptz(int64 ms);
extern int64 pyroscope_timestamptz_to_ms(TimestampTz ts);

#endif							/* PYROSCOPE_SERIES_QUERY_H */

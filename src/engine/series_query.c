/*-------------------------------------------------------------------------
 *
 * series_query.c
 *	  Time-bucketed series of profile totals and call-site tree filtering,
 *	  on top of pyroscope.select_series() and the head table, so that the
 *	  HTTP API and SQL share one selection engine.
 *
 *-------------------------------------------------------------------------
 */

#include "engine.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

static int
label_cmp(const BucketSeries *a, const BucketSeries *b)
{
	for (int i = 0; i < a->nlabels && i < b->nlabels; i++)
	{
		int			c = strcmp(a->names[i], b->names[i]);

		if (c == 0)
			c = strcmp(a->values[i], b->values[i]);
		if (c != 0)
			return c;
	}
	return a->nlabels - b->nlabels;
}

static int
series_order(const void *x, const void *y)
{
	const BucketSeries *a = x;
	const BucketSeries *b = y;

	if (a->sum != b->sum)
		return a->sum > b->sum ? -1 : 1;
	return label_cmp(a, b);
}

int
pyroscope_series_buckets(const ProfileSelection *sel, int64 start_ms, int64 end_ms,
						 int64 step_ms, char **group_by, int ngroup_by, bool average,
						 int64 limit, BucketSeries **out)
{
	static const char *sql =
	"SELECT s.g, b.k, sum(h.total)::float8, count(*), s.g::text"
	" FROM (SELECT ss.series_id,"
	"        ARRAY(SELECT ss.labels ->> u.n FROM unnest($6::text[]) WITH ORDINALITY u(n, o)"
	"              ORDER BY u.o) AS g"
	"       FROM pyroscope.select_series($1, $2, $3, $4, $5) ss) s"
	" JOIN pyroscope.profile_totals($1, $2, $3, $4, $5) h ON h.series_id = s.series_id"
	" CROSS JOIN LATERAL (SELECT floor(extract(epoch FROM h.ts) * 1000)::bigint AS t) t"
	" CROSS JOIN LATERAL (SELECT CASE WHEN t.t <= $7 THEN 0"
	"                     ELSE (t.t - $7 + $9 - 1) / $9 END AS k) b"
	" WHERE h.ts >= $3 AND h.ts <= $4 AND $7 + b.k * $9 <= $8"
	" GROUP BY s.g, b.k ORDER BY s.g, b.k";
	Oid			types[9] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
	TEXTARRAYOID, INT8OID, INT8OID, INT8OID};
	Datum		values[9];
	Datum	   *gb;
	MemoryContext caller = CurrentMemoryContext;
	BucketSeries *series = NULL;
	int			nseries = 0;
	int			cap = 0;
	char	   *prev_g = NULL;

	gb = palloc(sizeof(Datum) * Max(ngroup_by, 1));
	for (int i = 0; i < ngroup_by; i++)
		gb[i] = CStringGetTextDatum(group_by[i]);
	values[0] = CStringGetTextDatum(sel->profile_type);
	values[1] = CStringGetTextDatum(sel->selector);
	values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(start_ms - step_ms));
	values[3] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(end_ms));
	values[4] = CStringGetTextDatum(sel->tenant);
	values[5] = PointerGetDatum(construct_array(gb, ngroup_by, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = Int64GetDatum(start_ms);
	values[7] = Int64GetDatum(end_ms);
	values[8] = Int64GetDatum(step_ms);

	SPI_connect();
	if (SPI_execute_with_args(sql, 9, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not select series points");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		g = SPI_getbinval(tup, desc, 1, &isnull);
		int64		k = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		double		sum = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		int64		count = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		char	   *gtext = SPI_getvalue(tup, desc, 5);
		BucketSeries *s;
		MemoryContext old;
		double		v;

		old = MemoryContextSwitchTo(caller);
		if (prev_g == NULL || strcmp(prev_g, gtext) != 0)
		{
			ArrayType  *arr = DatumGetArrayTypeP(g);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			if (nseries == cap)
			{
				cap = Max(8, cap * 2);
				series = series ? repalloc(series, sizeof(BucketSeries) * cap)
					: palloc(sizeof(BucketSeries) * cap);
			}
			s = &series[nseries++];
			memset(s, 0, sizeof(*s));
			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			s->names = palloc(sizeof(char *) * Max(n, 1));
			s->values = palloc(sizeof(char *) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				if (nulls[i])
					continue;
				s->names[s->nlabels] = group_by[i];
				s->values[s->nlabels] = TextDatumGetCString(elems[i]);
				s->nlabels++;
			}
			/* at most one point per bucket; the rows of a group are few */
			s->ts_ms = palloc(sizeof(int64) * (SPI_processed - r));
			s->values_at = palloc(sizeof(double) * (SPI_processed - r));
			prev_g = pstrdup(gtext);
			s->key = prev_g;
		}
		s = &series[nseries - 1];
		v = average && count > 0 ? sum / count : sum;
		s->ts_ms[s->npoints] = start_ms + k * step_ms;
		s->values_at[s->npoints] = v;
		s->npoints++;
		s->sum += v;
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	/* group_by labels in name order inside each series */
	for (int i = 0; i < nseries; i++)
	{
		BucketSeries *s = &series[i];

		for (int a = 1; a < s->nlabels; a++)
			for (int b = a; b > 0 && strcmp(s->names[b - 1], s->names[b]) > 0; b--)
			{
				char	   *tn = s->names[b];
				char	   *tv = s->values[b];

				s->names[b] = s->names[b - 1];
				s->values[b] = s->values[b - 1];
				s->names[b - 1] = tn;
				s->values[b - 1] = tv;
			}
	}
	if (nseries > 1)
		qsort(series, nseries, sizeof(BucketSeries), series_order);
	if (limit > 0 && nseries > limit)
		nseries = (int) limit;
	*out = series;
	return nseries;
}

static int
series_key_cmp(const void *a, const void *b)
{
	return strcmp((*(BucketSeries *const *) a)->key, (*(BucketSeries *const *) b)->key);
}

static int
ts_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

void
pyroscope_series_exemplars(const ProfileSelection *sel, int64 start_ms, int64 end_ms,
						   int64 step_ms, char **group_by, int ngroup_by,
						   BucketSeries *series, int nseries)
{
	/*
	 * Candidates are the individual profiles of each (series, bucket), merged
	 * by (profile id, time): a pprof split into several series of one output
	 * series is one candidate, its totals summed and its labels intersected.
	 * The winner of a bucket has the highest total (then the earliest time,
	 * then the smallest id, so that answers are stable).
	 */
	static const char *sql =
	"WITH s AS (SELECT ss.series_id,"
	"             ARRAY(SELECT ss.labels ->> u.n FROM unnest($6::text[]) WITH ORDINALITY u(n, o)"
	"                   ORDER BY u.o) AS g"
	"           FROM pyroscope.select_series($1, $2, $3, $4, $5) ss),"
	" c AS (SELECT s.g, b.k, h.profile_id, h.ts, sum(h.total) AS v,"
	"              array_agg(h.series_id) AS sids"
	"         FROM s JOIN pyroscope.list_profiles($1, $2, $3, $4, $5) h ON h.series_id = s.series_id"
	"         CROSS JOIN LATERAL (SELECT floor(extract(epoch FROM h.ts) * 1000)::bigint AS t) t"
	"         CROSS JOIN LATERAL (SELECT CASE WHEN t.t <= $7 THEN 0"
	"                             ELSE (t.t - $7 + $9 - 1) / $9 END AS k) b"
	"        WHERE h.profile_id IS NOT NULL AND h.ts >= $3 AND h.ts <= $4 AND $7 + b.k * $9 <= $8"
	"        GROUP BY s.g, b.k, h.profile_id, h.ts),"
	" w AS (SELECT DISTINCT ON (g, k) * FROM c ORDER BY g, k, v DESC, ts, profile_id)"
	" SELECT w.g::text, w.k, w.profile_id::text, floor(extract(epoch FROM w.ts) * 1000)::bigint,"
	"        w.v::bigint, l.keys, l.vals"
	"   FROM w CROSS JOIN LATERAL"
	"        (SELECT array_agg(x.key ORDER BY x.key) AS keys, array_agg(x.value ORDER BY x.key) AS vals"
	"           FROM (SELECT e.key, e.value"
	"                   FROM pyroscope.series ps, jsonb_each_text(ps.labels) e"
	"                  WHERE ps.series_id = ANY (w.sids) AND e.key <> ALL ($6::text[]) /* every shard */"
	"                  GROUP BY 1, 2 HAVING count(*) = cardinality(w.sids)) x) l";
	Oid			types[9] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
	TEXTARRAYOID, INT8OID, INT8OID, INT8OID};
	Datum		values[9];
	Datum	   *gb;
	MemoryContext caller = CurrentMemoryContext;
	BucketSeries **byk;

	if (nseries == 0)
		return;
	byk = palloc(sizeof(BucketSeries *) * nseries);
	for (int i = 0; i < nseries; i++)
	{
		byk[i] = &series[i];
		series[i].exemplars = palloc0(sizeof(BucketExemplar) * Max(series[i].npoints, 1));
	}
	qsort(byk, nseries, sizeof(BucketSeries *), series_key_cmp);

	gb = palloc(sizeof(Datum) * Max(ngroup_by, 1));
	for (int i = 0; i < ngroup_by; i++)
		gb[i] = CStringGetTextDatum(group_by[i]);
	values[0] = CStringGetTextDatum(sel->profile_type);
	values[1] = CStringGetTextDatum(sel->selector);
	values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(start_ms - step_ms));
	values[3] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(end_ms));
	values[4] = CStringGetTextDatum(sel->tenant);
	values[5] = PointerGetDatum(construct_array(gb, ngroup_by, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = Int64GetDatum(start_ms);
	values[7] = Int64GetDatum(end_ms);
	values[8] = Int64GetDatum(step_ms);

	SPI_connect();
	if (SPI_execute_with_args(sql, 9, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not select exemplars");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *gtext = SPI_getvalue(tup, desc, 1);
		int64		k = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		BucketSeries key;
		BucketSeries *kp = &key;
		BucketSeries **found;
		int64		ts;
		int64	   *pt;
		BucketExemplar *ex;
		MemoryContext old;

		key.key = gtext;
		found = bsearch(&kp, byk, nseries, sizeof(BucketSeries *), series_key_cmp);
		if (found == NULL)
			continue;			/* a series cut by the limit */
		ts = start_ms + k * step_ms;
		pt = bsearch(&ts, (*found)->ts_ms, (*found)->npoints, sizeof(int64), ts_cmp);
		if (pt == NULL)
			continue;
		old = MemoryContextSwitchTo(caller);
		ex = &(*found)->exemplars[pt - (*found)->ts_ms];
		ex->set = true;
		ex->profile_id = SPI_getvalue(tup, desc, 3);
		ex->ts_ms = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		ex->value = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		{
			Datum		kd = SPI_getbinval(tup, desc, 6, &isnull);

			if (!isnull)
			{
				Datum	   *ke,
						   *ve;
				bool	   *kn,
						   *vn;
				int			nk,
							nv;

				deconstruct_array(DatumGetArrayTypeP(kd), TEXTOID, -1, false, TYPALIGN_INT,
								  &ke, &kn, &nk);
				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 7, &isnull)),
								  TEXTOID, -1, false, TYPALIGN_INT, &ve, &vn, &nv);
				ex->names = palloc(sizeof(char *) * Max(nk, 1));
				ex->values = palloc(sizeof(char *) * Max(nk, 1));
				for (int i = 0; i < nk && i < nv; i++)
				{
					ex->names[i] = TextDatumGetCString(ke[i]);
					ex->values[i] = TextDatumGetCString(ve[i]);
				}
				ex->nlabels = Min(nk, nv);
			}
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

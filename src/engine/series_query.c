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

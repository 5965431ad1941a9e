/*-------------------------------------------------------------------------
 *
 * heatmap_query.c
 *	  Heatmaps of a selection (SelectHeatmap, API-2.md 3.5): its individual
 *	  profiles (INDIVIDUAL: one point per ingested profile, its total) or
 *	  the spans of their samples (SPAN: one point per profile and span id,
 *	  the sum of that span's samples), grouped into output series by the
 *	  group-by labels and counted by the core's heatmap (heatmap.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "engine.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "heatmap.h"

/* a point before merging: one profile of one series (or one of its spans) */
typedef struct Cand
{
	int			out;			/* output series */
	int64		ts;
	int64		value;
	pg_uuid_t	id;				/* all zero: none */
	uint64		span;
	uint64		trace[2];		/* the span's trace, zero when unknown */
	int64		series_id;
} Cand;

typedef struct CandList
{
	Cand	   *v;
	size_t		n;
	size_t		cap;
} CandList;

/* series id -> output series, sorted by series id */
typedef struct SeriesOut
{
	int64		series_id;
	int			out;
} SeriesOut;

typedef struct HeatGather
{
	SeriesOut  *map;
	int			nmap;
	CandList	c;
	bool		span;
	/* SPAN: scratch of one profile's span sums */
	uint64	   *spans;
	int64	   *sums;
	size_t		nspans;
	size_t		spans_cap;
} HeatGather;

static int
series_out_cmp(const void *a, const void *b)
{
	int64		x = ((const SeriesOut *) a)->series_id;
	int64		y = ((const SeriesOut *) b)->series_id;

	return (x > y) - (x < y);
}

static int
out_of(const HeatGather *g, int64 series_id)
{
	SeriesOut	key = {series_id, 0};
	SeriesOut  *f = bsearch(&key, g->map, g->nmap, sizeof(SeriesOut), series_out_cmp);

	return f ? f->out : -1;
}

/* append without ereport (called inside block readers); pyro_malloc is budgeted */
static bool
cand_add(CandList *l, const Cand *c)
{
	if (l->n == l->cap)
	{
		size_t		cap = l->cap ? l->cap * 2 : 1024;
		size_t		bytes;
		void	   *v;

		if (!pyro_size_mul(cap, sizeof(Cand), &bytes))
			return false;
		v = l->v ? pyro_realloc(l->v, l->cap * sizeof(Cand), bytes) : pyro_malloc(bytes);
		if (v == NULL)
			return false;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	return true;
}

/* INDIVIDUAL: every profile's total */
static void
individual_total(int64 series_id, TimestampTz ts, int64 total, const pg_uuid_t *id, void *arg)
{
	HeatGather *g = (HeatGather *) arg;
	Cand		c;

	memset(&c, 0, sizeof(c));
	c.out = out_of(g, series_id);
	if (c.out < 0)
		return;
	c.ts = pyroscope_timestamptz_to_ms(ts);
	c.value = total;
	c.series_id = series_id;
	if (id)
		c.id = *id;
	if (!cand_add(&g->c, &c))
	{
		PyroError	err;

		pyro_error_set(&err, PYRO_ENOMEM, "out of memory building a heatmap");
		pyroscope_report(&err, "could not build heatmap");
	}
}

/* SPAN: per profile, the sum of each span's samples */
static PyroStatus
span_profile(int64 series_id, int64 ts_ms, const PyroProfile *p, void *arg, PyroError *err)
{
	HeatGather *g = (HeatGather *) arg;
	int			out = out_of(g, series_id);

	if (out < 0)
		return PYRO_OK;
	g->nspans = 0;
	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];
		size_t		j;

		if (s->span_id == 0)
			continue;
		for (j = 0; j < g->nspans && g->spans[j] != s->span_id; j++)
			;
		if (j == g->nspans)
		{
			if (g->nspans == g->spans_cap)
			{
				size_t		cap = g->spans_cap;
				size_t		cap2 = g->spans_cap;

				if (!pyro_grow((void **) &g->spans, &cap, g->nspans + 1, sizeof(uint64)) ||
					!pyro_grow((void **) &g->sums, &cap2, g->nspans + 1, sizeof(int64)))
					return pyro_error_set(err, PYRO_ENOMEM, "out of memory building a heatmap");
				g->spans_cap = Min(cap, cap2);
			}
			g->spans[j] = s->span_id;
			g->sums[j] = 0;
			g->nspans++;
		}
		g->sums[j] = (int64) ((uint64) g->sums[j] + (uint64) s->value);
	}
	for (size_t j = 0; j < g->nspans; j++)
	{
		Cand		c;

		memset(&c, 0, sizeof(c));
		c.out = out;
		c.ts = ts_ms;
		c.value = g->sums[j];
		c.span = g->spans[j];
		c.series_id = series_id;
		if (!pyro_profile_trace_of(p, c.span, &c.trace[0], &c.trace[1]))
			c.trace[0] = c.trace[1] = 0;
		if (!cand_add(&g->c, &c))
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory building a heatmap");
	}
	return PYRO_OK;
}

static int
cand_cmp(const void *a, const void *b)
{
	const Cand *x = a;
	const Cand *y = b;
	int			r;

	if (x->out != y->out)
		return x->out < y->out ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->span != y->span)
		return x->span < y->span ? -1 : 1;
	if ((r = memcmp(&x->id, &y->id, sizeof(pg_uuid_t))) != 0)
		return r;
	return (x->series_id > y->series_id) - (x->series_id < y->series_id);
}

static bool
id_set(const pg_uuid_t *id)
{
	for (int i = 0; i < UUID_LEN; i++)
		if (id->data[i])
			return true;
	return false;
}

/* the labels of the series of a merged point: those all of them share */
typedef struct SeriesLabels
{
	int64		series_id;
	int			n;
	char	  **names;			/* sorted */
	char	  **values;
} SeriesLabels;

static int
series_labels_cmp(const void *a, const void *b)
{
	int64		x = ((const SeriesLabels *) a)->series_id;
	int64		y = ((const SeriesLabels *) b)->series_id;

	return (x > y) - (x < y);
}

typedef struct CountOrder
{
	int64		count;
	int			index;
} CountOrder;

static int
count_order_cmp(const void *a, const void *b)
{
	const CountOrder *x = a;
	const CountOrder *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->index - y->index;
}

void
pyroscope_heatmap(const HeatmapQuery *q, HeatmapResult *out)
{
	static const char *series_sql =
	"SELECT ss.series_id, g::text, g"
	"  FROM pyroscope.select_series($1, $2, $3, $4, $5) ss,"
	"       LATERAL (SELECT ARRAY(SELECT ss.labels ->> u.n FROM unnest($6::text[]) WITH ORDINALITY u(n, o)"
	"                             ORDER BY u.o) AS g) x"
	" ORDER BY 2";
	static const char *labels_sql =
	"SELECT s.series_id, e.key, e.value"
	"  FROM pyroscope.series s, jsonb_each_text(s.labels) e"
	" WHERE s.series_id = ANY ($1) AND e.key <> ALL ($2::text[]) /* every shard */"
	" ORDER BY 1, 2";
	ProfileSelection sel = *q->sel;
	MemoryContext caller = CurrentMemoryContext;
	HeatGather	g;
	Datum	   *gb;
	Datum		values[6];
	Oid			types[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTARRAYOID};
	HeatmapSeries *series = NULL;
	int			nseries = 0;
	PyroHeatPoint *pts = NULL;
	Cand	   *merged;
	size_t		nmerged = 0;
	PyroHeatmap hm;
	PyroError	err;
	SeriesLabels *sl = NULL;
	int			nsl = 0;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	g.span = q->span;
	/* data are read for [start - step, end] */
	sel.start = pyroscope_ms_to_timestamptz(q->start_ms - q->step_ms);
	sel.end = pyroscope_ms_to_timestamptz(q->end_ms);

	/* the output series: one per distinct tuple of group-by values */
	gb = palloc(sizeof(Datum) * Max(q->ngroup_by, 1));
	for (int i = 0; i < q->ngroup_by; i++)
		gb[i] = CStringGetTextDatum(q->group_by[i]);
	values[0] = CStringGetTextDatum(sel.profile_type);
	values[1] = CStringGetTextDatum(sel.selector);
	values[2] = TimestampTzGetDatum(sel.start);
	values[3] = TimestampTzGetDatum(sel.end);
	values[4] = CStringGetTextDatum(sel.tenant);
	values[5] = PointerGetDatum(construct_array(gb, q->ngroup_by, TEXTOID, -1, false, TYPALIGN_INT));
	SPI_connect();
	if (SPI_execute_with_args(series_sql, 6, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not select heatmap series");
	{
		MemoryContext old = MemoryContextSwitchTo(caller);
		char	   *prev = NULL;

		g.map = palloc(sizeof(SeriesOut) * Max(SPI_processed, 1));
		series = palloc0(sizeof(HeatmapSeries) * Max(SPI_processed, 1));
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			char	   *key = SPI_getvalue(tup, desc, 2);

			if (prev == NULL || strcmp(prev, key) != 0)
			{
				HeatmapSeries *s = &series[nseries++];
				Datum	   *elems;
				bool	   *nulls;
				int			n;

				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull)),
								  TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
				s->key = key;
				s->names = palloc(sizeof(char *) * Max(n, 1));
				s->values = palloc(sizeof(char *) * Max(n, 1));
				for (int i = 0; i < n; i++)
				{
					if (nulls[i])
						continue;
					s->names[s->nlabels] = q->group_by[i];
					s->values[s->nlabels] = TextDatumGetCString(elems[i]);
					s->nlabels++;
				}
				prev = key;
			}
			g.map[g.nmap].series_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			g.map[g.nmap].out = nseries - 1;
			g.nmap++;
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (nseries == 0)
		return;
	qsort(g.map, g.nmap, sizeof(SeriesOut), series_out_cmp);

	/* the points */
	if (q->span)
		pyroscope_scan_individual(&sel, span_profile, &g);
	else
		pyroscope_selection_totals(&sel, individual_total, &g);
	pyro_free(g.spans);
	pyro_free(g.sums);

	/* equal (series, time, span, profile id) points are one: values summed */
	if (g.c.n > 0)
		qsort(g.c.v, g.c.n, sizeof(Cand), cand_cmp);
	merged = g.c.v;
	for (size_t i = 0; i < g.c.n; i++)
	{
		Cand	   *c = &g.c.v[i];

		if (nmerged > 0 && merged[nmerged - 1].out == c->out && merged[nmerged - 1].ts == c->ts &&
			merged[nmerged - 1].span == c->span &&
			memcmp(&merged[nmerged - 1].id, &c->id, sizeof(pg_uuid_t)) == 0 &&
			(id_set(&c->id) || c->span != 0))
		{
			merged[nmerged - 1].value = (int64) ((uint64) merged[nmerged - 1].value + (uint64) c->value);
			continue;
		}
		merged[nmerged++] = *c;
	}

	pts = pyro_malloc(sizeof(PyroHeatPoint) * Max(nmerged, 1));
	if (pts == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building a heatmap")));
	for (size_t i = 0; i < nmerged; i++)
	{
		pts[i].series = (uint32) merged[i].out;
		pts[i].ts = merged[i].ts;
		pts[i].value = merged[i].value;
	}
	if (pyro_heatmap_build(pts, nmerged, (uint32) nseries, q->start_ms, q->end_ms, q->step_ms,
						   &hm, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build heatmap");
	memcpy(out->y_min, hm.y_min, sizeof(out->y_min));

	/*
	 * exemplar labels: the series labels of each winner, less the group-by
	 * ones
	 */
	if (q->exemplars && nmerged > 0)
	{
		int64	   *ids = palloc(sizeof(int64) * nmerged);
		int			nids = 0;
		Datum	   *idd;
		Oid			ltypes[2] = {INT8ARRAYOID, TEXTARRAYOID};
		Datum		lvalues[2];

		for (uint32 s = 0; s < hm.nseries; s++)
			for (size_t k = 0; k < hm.series[s].nslots; k++)
				for (int b = 0; b < PYRO_HEATMAP_BUCKETS; b++)
					if (hm.series[s].slots[k].best[b] != SIZE_MAX)
						ids[nids++] = merged[hm.series[s].slots[k].best[b]].series_id;
		idd = palloc(sizeof(Datum) * Max(nids, 1));
		for (int i = 0; i < nids; i++)
			idd[i] = Int64GetDatum(ids[i]);
		lvalues[0] = PointerGetDatum(construct_array(idd, nids, INT8OID, 8, FLOAT8PASSBYVAL,
													 TYPALIGN_DOUBLE));
		lvalues[1] = values[5];
		SPI_connect();
		if (SPI_execute_with_args(labels_sql, 2, ltypes, lvalues, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read exemplar labels");
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			sl = palloc0(sizeof(SeriesLabels) * Max(SPI_processed, 1));
			for (uint64 r = 0; r < SPI_processed; r++)
			{
				HeapTuple	tup = SPI_tuptable->vals[r];
				TupleDesc	desc = SPI_tuptable->tupdesc;
				bool		isnull;
				int64		sid = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
				SeriesLabels *cur;

				if (nsl == 0 || sl[nsl - 1].series_id != sid)
				{
					cur = &sl[nsl++];
					cur->series_id = sid;
					cur->names = palloc(sizeof(char *) * (SPI_processed - r));
					cur->values = palloc(sizeof(char *) * (SPI_processed - r));
				}
				cur = &sl[nsl - 1];
				cur->names[cur->n] = SPI_getvalue(tup, desc, 2);
				cur->values[cur->n] = SPI_getvalue(tup, desc, 3);
				cur->n++;
			}
			MemoryContextSwitchTo(old);
		}
		SPI_finish();
	}

	/* the answer */
	for (int s = 0; s < nseries; s++)
	{
		HeatmapSeries *hs = &series[s];
		const PyroHeatSeries *ps = &hm.series[s];

		hs->count = ps->count;
		hs->nslots = (int) ps->nslots;
		hs->slots = palloc0(sizeof(HeatmapSlotOut) * Max(ps->nslots, 1));
		for (size_t k = 0; k < ps->nslots; k++)
		{
			HeatmapSlotOut *so = &hs->slots[k];

			so->ts = ps->slots[k].ts;
			memcpy(so->counts, ps->slots[k].counts, sizeof(so->counts));
			if (!q->exemplars)
				continue;
			so->ex = palloc0(sizeof(HeatmapExemplar) * PYRO_HEATMAP_BUCKETS);
			for (int b = 0; b < PYRO_HEATMAP_BUCKETS; b++)
			{
				const Cand *c;
				HeatmapExemplar *e;
				SeriesLabels key;
				SeriesLabels *lab;

				if (ps->slots[k].best[b] == SIZE_MAX)
					continue;
				c = &merged[ps->slots[k].best[b]];
				key.series_id = c->series_id;
				lab = bsearch(&key, sl, nsl, sizeof(SeriesLabels), series_labels_cmp);
				if (!id_set(&c->id) && c->span == 0 && (lab == NULL || lab->n == 0))
					continue;	/* no id and no labels: dropped */
				e = &so->ex[so->nex++];
				e->bucket = b;
				e->ts_ms = c->ts;
				e->value = c->value;
				if (id_set(&c->id))
					e->profile_id = DatumGetCString(DirectFunctionCall1(uuid_out,
																		UUIDPGetDatum(&c->id)));
				if (c->span != 0)
					e->span_id = psprintf("%016llx", (unsigned long long) c->span);
				if ((c->trace[0] | c->trace[1]) != 0)
					e->trace_id = psprintf("%016llx%016llx", (unsigned long long) c->trace[0],
										   (unsigned long long) c->trace[1]);
				if (lab)
				{
					e->nlabels = lab->n;
					e->names = lab->names;
					e->values = lab->values;
				}
			}
		}
	}
	pyro_heatmap_free(&hm);
	pyro_free(pts);
	pyro_free(g.c.v);

	/* series by label bytes; with a limit, the ones with the most points */
	out->series = series;
	{
		int			k = 0;

		/* series without points are not shown */
		for (int i = 0; i < nseries; i++)
			if (series[i].count > 0)
				series[k++] = series[i];
		nseries = k;
	}
	if (q->limit > 0 && nseries > q->limit)
	{
		bool	   *keep = palloc0(sizeof(bool) * nseries);
		CountOrder *order = palloc(sizeof(CountOrder) * nseries);
		int			k = 0;

		for (int i = 0; i < nseries; i++)
		{
			order[i].count = series[i].count;
			order[i].index = i;
		}
		/* by count, ties by label order (the current order) */
		qsort(order, nseries, sizeof(CountOrder), count_order_cmp);
		for (int i = 0; i < q->limit; i++)
			keep[order[i].index] = true;
		for (int i = 0; i < nseries; i++)
			if (keep[i])
				series[k++] = series[i];
		nseries = k;
	}
	out->nseries = nseries;
}

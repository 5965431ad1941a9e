/*-------------------------------------------------------------------------
 *
 * query.c
 *	  SQL functions over a selection of stored profiles: series, totals,
 *	  flame graphs, top functions, stacks, merged pprof, diffs.  Each
 *	  reads its arguments, runs the engine's query (within the query
 *	  memory budget) and returns its answer; top functions and stacks
 *	  are set-returning here (results.c).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "sql_results.h"

PG_FUNCTION_INFO_V1(pyroscope_select_series);
PG_FUNCTION_INFO_V1(pyroscope_flamegraph);
PG_FUNCTION_INFO_V1(pyroscope_top_functions);
PG_FUNCTION_INFO_V1(pyroscope_stacks);
PG_FUNCTION_INFO_V1(pyroscope_merge_pprof);
PG_FUNCTION_INFO_V1(pyroscope_diff);
PG_FUNCTION_INFO_V1(pyroscope_profile_totals);
PG_FUNCTION_INFO_V1(pyroscope_select_profiles);
PG_FUNCTION_INFO_V1(pyroscope_list_profiles);
PG_FUNCTION_INFO_V1(pyroscope_profiles_pprof);
PG_FUNCTION_INFO_V1(pyroscope_profiles_flamegraph);
PG_FUNCTION_INFO_V1(pyroscope_heatmap_cells);
PG_FUNCTION_INFO_V1(pyroscope_dot);
PG_FUNCTION_INFO_V1(pyroscope_exemplars);
PG_FUNCTION_INFO_V1(pyroscope_list_spans);
PG_FUNCTION_INFO_V1(pyroscope_flamegraph_svg);
PG_FUNCTION_INFO_V1(pyroscope_diff_svg);
PG_FUNCTION_INFO_V1(pyroscope_label_names);
PG_FUNCTION_INFO_V1(pyroscope_label_values);

/* Fill a selection from the usual (profile_type, selector, start, end, tenant) arguments. */
static void
selection_from_args(ProfileSelection *sel, FunctionCallInfo fcinfo,
					int type_arg, int sel_arg, int start_arg, int end_arg, int tenant_arg)
{
	sel->profile_type = type_arg >= 0 && !PG_ARGISNULL(type_arg)
		? text_to_cstring(PG_GETARG_TEXT_PP(type_arg)) : NULL;
	sel->selector = text_to_cstring(PG_GETARG_TEXT_PP(sel_arg));
	sel->start = PG_GETARG_TIMESTAMPTZ(start_arg);
	sel->end = PG_GETARG_TIMESTAMPTZ(end_arg);
	sel->tenant = text_to_cstring(PG_GETARG_TEXT_PP(tenant_arg));
	sel->require_type = false;
	sel->profile_ids = NULL;
	sel->nprofile_ids = 0;
}

static void
series_row(Datum *values, bool *nulls, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
pyroscope_select_series(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;

	for (int i = 1; i <= 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only the profile type of pyroscope.select_series may be null")));
	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	InitMaterializedSRF(fcinfo, 0);
	pyroscope_selection_series(&sel, series_row, fcinfo->resultinfo);
	return (Datum) 0;
}

/* pyroscope.profile_totals(...): one row per stored profile of a selection */
static void
totals_row(int64 series_id, TimestampTz ts, int64 total, const pg_uuid_t *id, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	(void) id;
	values[0] = Int64GetDatum(series_id);
	values[1] = TimestampTzGetDatum(ts);
	values[2] = Int64GetDatum(total);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Put n strings as the rows of a single-column set-returning function. */
static void
text_rows(FunctionCallInfo fcinfo, char **v, uint64 n)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		value = CStringGetTextDatum(v[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
}

/* Error out on a NULL among the first n arguments of a label query. */
static void
label_args_not_null(FunctionCallInfo fcinfo, int n, const char *fn)
{
	for (int i = 0; i < n; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of pyroscope.%s must not be null", fn)));
}

/* pyroscope.label_names(selector, start, end, tenant): sorted names */
Datum
pyroscope_label_names(PG_FUNCTION_ARGS)
{
	uint64		n;
	char	  **v;

	label_args_not_null(fcinfo, 4, "label_names");
	v = pyroscope_label_name_list(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								  PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2),
								  text_to_cstring(PG_GETARG_TEXT_PP(3)), false, &n);
	text_rows(fcinfo, v, n);
	return (Datum) 0;
}

/* pyroscope.label_values(name, selector, start, end, tenant): sorted values */
Datum
pyroscope_label_values(PG_FUNCTION_ARGS)
{
	uint64		n;
	char	  **v;

	label_args_not_null(fcinfo, 5, "label_values");
	v = pyroscope_label_value_list(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								   text_to_cstring(PG_GETARG_TEXT_PP(1)),
								   PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_TIMESTAMPTZ(3),
								   text_to_cstring(PG_GETARG_TEXT_PP(4)), false, &n);
	text_rows(fcinfo, v, n);
	return (Datum) 0;
}

Datum
pyroscope_profile_totals(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	InitMaterializedSRF(fcinfo, 0);
	pyroscope_selection_totals(&sel, totals_row, fcinfo->resultinfo);
	return (Datum) 0;
}

Datum
pyroscope_flamegraph(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	int32		max_nodes = PG_GETARG_INT32(4);

	Datum		result;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 5);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	result = pyroscope_selection_flamegraph(&sel, max_nodes);
	pyroscope_budget_end();
	PG_RETURN_DATUM(result);
}

Datum
pyroscope_top_functions(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	PyroTree   *t;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	t = pyroscope_selection_tree(&sel);
	sql_return_top(fcinfo, t);
	pyroscope_budget_end();
	return (Datum) 0;
}

Datum
pyroscope_stacks(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	PyroTree   *t;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	t = pyroscope_selection_tree(&sel);
	sql_return_stacks(fcinfo, t);
	pyroscope_budget_end();
	return (Datum) 0;
}

/* pyroscope.list_profiles(...): one row per stored profile, with its id */
static void
list_row(int64 series_id, TimestampTz ts, int64 total, const pg_uuid_t *id, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[4];
	bool		nulls[4] = {id == NULL, false, false, false};

	if (id)
	{
		pg_uuid_t  *copy = palloc(sizeof(pg_uuid_t));

		memcpy(copy, id, sizeof(pg_uuid_t));
		values[0] = UUIDPGetDatum(copy);
	}
	else
		values[0] = (Datum) 0;
	values[1] = Int64GetDatum(series_id);
	values[2] = TimestampTzGetDatum(ts);
	values[3] = Int64GetDatum(total);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
pyroscope_list_profiles(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	InitMaterializedSRF(fcinfo, 0);
	pyroscope_selection_totals(&sel, list_row, fcinfo->resultinfo);
	return (Datum) 0;
}

/* the selection's profile ids from a uuid[] argument (NULL elements refused) */
static void
selection_ids_from_arg(ProfileSelection *sel, FunctionCallInfo fcinfo, int arg)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(arg);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	pg_uuid_t  *ids;

	deconstruct_array(a, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &elems, &nulls, &n);
	ids = palloc(sizeof(pg_uuid_t) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("profile ids must not be null")));
		memcpy(&ids[i], DatumGetUUIDP(elems[i]), sizeof(pg_uuid_t));
	}
	pyroscope_selection_set_profile_ids(sel, ids, n);
}

Datum
pyroscope_profiles_pprof(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	bytea	   *result;

	selection_from_args(&sel, fcinfo, 0, 2, 3, 4, 5);
	selection_ids_from_arg(&sel, fcinfo, 1);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	result = pyroscope_selection_pprof(&sel);
	pyroscope_budget_end();
	PG_RETURN_BYTEA_P(result);
}

Datum
pyroscope_profiles_flamegraph(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	int32		max_nodes = PG_GETARG_INT32(5);
	Datum		result;

	selection_from_args(&sel, fcinfo, 0, 2, 3, 4, 6);
	selection_ids_from_arg(&sel, fcinfo, 1);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	result = pyroscope_selection_flamegraph(&sel, max_nodes);
	pyroscope_budget_end();
	PG_RETURN_DATUM(result);
}

/* a step interval argument in milliseconds: at least 1 (a month is 30 days) */
static int64
step_ms_arg(const Interval *step)
{
	int64		step_us = step->time + (int64) step->day * USECS_PER_DAY +
	(int64) step->month * 30 * USECS_PER_DAY;

	if (step_us < 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step must be at least 1 millisecond")));
	return step_us / 1000;
}

/* a group_by text[] argument as C strings (null elements refused) */
static char **
group_by_arg(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("group_by labels must not be null")));
		out[i] = TextDatumGetCString(elems[i]);
	}
	return out;
}

/* a jsonb object of label pairs */
static Datum
labels_jsonb(int n, char **names, char **values)
{
	PyroBuf		b;

	pyro_buf_init(&b);
	pyro_buf_append_byte(&b, '{');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			pyro_buf_append_byte(&b, ',');
		pyro_buf_append_json_str(&b, names[i], strlen(names[i]));
		pyro_buf_append_byte(&b, ':');
		pyro_buf_append_json_str(&b, values[i], strlen(values[i]));
	}
	pyro_buf_append_byte(&b, '}');
	pyro_buf_append_byte(&b, '\0');
	return pyroscope_json_to_jsonb(&b);
}

/*
 * pyroscope.heatmap(...): SelectHeatmap in SQL, one row per non-empty cell
 * (series, slot, value bucket) with its exemplar.
 */
Datum
pyroscope_heatmap_cells(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	Interval   *step = PG_GETARG_INTERVAL_P(4);
	char	   *qt = text_to_cstring(PG_GETARG_TEXT_PP(5));
	ArrayType  *gba = PG_GETARG_ARRAYTYPE_P(6);
	int64		limit = PG_GETARG_INT32(7);
	HeatmapQuery q;
	HeatmapResult hr;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			ngb;
	int64		step_ms;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 8);
	pyroscope_selection_require_type(&sel);
	step_ms = step_ms_arg(step);
	if (strcmp(qt, "individual") != 0 && strcmp(qt, "span") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("heatmap query type must be \"individual\" or \"span\", not \"%s\"", qt)));
	if (limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("limit must not be negative")));
	if (TIMESTAMP_NOT_FINITE(sel.start) || TIMESTAMP_NOT_FINITE(sel.end) || sel.start >= sel.end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a heatmap needs a finite time range with start before end")));
	memset(&q, 0, sizeof(q));
	q.sel = &sel;
	q.start_ms = pyroscope_timestamptz_to_ms(sel.start);
	q.end_ms = pyroscope_timestamptz_to_ms(sel.end);
	q.step_ms = step_ms;
	q.group_by = group_by_arg(gba, &ngb);
	q.ngroup_by = ngb;
	q.span = strcmp(qt, "span") == 0;
	q.exemplars = true;
	q.limit = limit;

	InitMaterializedSRF(fcinfo, 0);
	pyroscope_budget_begin();
	pyroscope_heatmap(&q, &hr);
	pyroscope_budget_end();
	for (int i = 0; i < hr.nseries; i++)
	{
		const HeatmapSeries *hs = &hr.series[i];
		Datum		labels = labels_jsonb(hs->nlabels, hs->names, hs->values);

		for (int k = 0; k < hs->nslots; k++)
		{
			const HeatmapSlotOut *so = &hs->slots[k];

			for (int b = 0; b < (int) lengthof(so->counts); b++)
			{
				Datum		values[11];
				bool		nulls[11] = {false};
				const HeatmapExemplar *e = NULL;

				if (so->counts[b] == 0)
					continue;
				for (int x = 0; x < so->nex; x++)
					if (so->ex[x].bucket == b)
						e = &so->ex[x];
				values[0] = labels;
				values[1] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(so->ts));
				values[2] = Int32GetDatum(b);
				values[3] = Float8GetDatum(hr.y_min[b]);
				values[4] = Int32GetDatum(so->counts[b]);
				nulls[5] = nulls[6] = nulls[7] = nulls[8] = nulls[9] = nulls[10] = e == NULL;
				if (e)
				{
					values[5] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(e->ts_ms));
					values[6] = Int64GetDatum(e->value);
					if (e->profile_id)
						values[7] = DirectFunctionCall1(uuid_in, CStringGetDatum(e->profile_id));
					else
						nulls[7] = true;
					if (e->span_id)
						values[8] = CStringGetTextDatum(e->span_id);
					else
						nulls[8] = true;
					if (e->trace_id)
						values[9] = CStringGetTextDatum(e->trace_id);
					else
						nulls[9] = true;
					values[10] = labels_jsonb(e->nlabels, e->names, e->values);
				}
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
	return (Datum) 0;
}

/*
 * pyroscope.exemplars(...): SelectSeries' points with their exemplars (the
 * individual profile with the highest total of each point), one row each.
 */
Datum
pyroscope_exemplars(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	Interval   *step = PG_GETARG_INTERVAL_P(4);
	ArrayType  *gba = PG_GETARG_ARRAYTYPE_P(5);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			ngb;
	char	  **gb;
	int64		step_ms;
	int64		start_ms,
				end_ms;
	BucketSeries *bs;
	int			n;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 6);
	pyroscope_selection_require_type(&sel);
	step_ms = step_ms_arg(step);
	if (TIMESTAMP_NOT_FINITE(sel.start) || TIMESTAMP_NOT_FINITE(sel.end) || sel.start > sel.end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("exemplars need a finite time range")));
	gb = group_by_arg(gba, &ngb);
	start_ms = pyroscope_timestamptz_to_ms(sel.start);
	end_ms = pyroscope_timestamptz_to_ms(sel.end);
	InitMaterializedSRF(fcinfo, 0);
	n = pyroscope_series_buckets(&sel, start_ms, end_ms, step_ms, gb, ngb, false, 0, &bs);
	pyroscope_series_exemplars(&sel, start_ms, end_ms, step_ms, gb, ngb, bs, n);
	for (int i = 0; i < n; i++)
	{
		Datum		labels = labels_jsonb(bs[i].nlabels, bs[i].names, bs[i].values);

		for (int j = 0; j < bs[i].npoints; j++)
		{
			const BucketExemplar *e = &bs[i].exemplars[j];
			Datum		values[7];
			bool		nulls[7] = {false};

			values[0] = labels;
			values[1] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(bs[i].ts_ms[j]));
			values[2] = Float8GetDatum(bs[i].values_at[j]);
			nulls[3] = nulls[4] = nulls[5] = nulls[6] = !e->set;
			if (e->set)
			{
				values[3] = DirectFunctionCall1(uuid_in, CStringGetDatum(e->profile_id));
				values[4] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(e->ts_ms));
				values[5] = Int64GetDatum(e->value);
				values[6] = labels_jsonb(e->nlabels, e->names, e->values);
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

/* rows of list_spans, gathered without ereport (inside block readers) */
typedef struct SpanRow
{
	pg_uuid_t	id;
	bool		has_id;
	int64		series_id;
	int64		ts_ms;
	uint64		span;
	uint64		trace[2];
	bool		has_trace;
	int64		total;
} SpanRow;

typedef struct SpanRows
{
	SpanRow    *v;
	size_t		n;
	size_t		cap;
} SpanRows;

static PyroStatus
span_rows_of(int64 series_id, int64 ts_ms, const PyroProfile *p, void *arg, PyroError *err)
{
	SpanRows   *rows = (SpanRows *) arg;
	size_t		first = rows->n;

	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];
		size_t		j;

		if (s->span_id == 0)
			continue;
		for (j = first; j < rows->n && rows->v[j].span != s->span_id; j++)
			;
		if (j == rows->n)
		{
			if (!pyro_grow((void **) &rows->v, &rows->cap, rows->n + 1, sizeof(SpanRow)))
				return pyro_error_set(err, PYRO_ENOMEM, "out of memory listing spans");
			memset(&rows->v[j], 0, sizeof(SpanRow));
			rows->v[j].has_id = pyro_profile_id_set(p->id);
			memcpy(rows->v[j].id.data, p->id, UUID_LEN);
			rows->v[j].series_id = series_id;
			rows->v[j].ts_ms = ts_ms;
			rows->v[j].span = s->span_id;
			rows->v[j].has_trace = pyro_profile_trace_of(p, s->span_id, &rows->v[j].trace[0],
														 &rows->v[j].trace[1]);
			rows->n++;
		}
		rows->v[j].total = (int64) ((uint64) rows->v[j].total + (uint64) s->value);
	}
	return PYRO_OK;
}

/*
 * pyroscope.list_spans(...): the spans of the individual profiles of a
 * selection, one row per profile and span id, with the span's total.
 */
Datum
pyroscope_list_spans(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	SpanRows	rows = {0};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	pyroscope_selection_require_type(&sel);
	InitMaterializedSRF(fcinfo, 0);
	pyroscope_budget_begin();
	pyroscope_scan_individual(&sel, span_rows_of, &rows);
	pyroscope_budget_end();
	for (size_t i = 0; i < rows.n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {!rows.v[i].has_id, false, false, false, !rows.v[i].has_trace, false};

		values[0] = UUIDPGetDatum(&rows.v[i].id);
		values[1] = Int64GetDatum(rows.v[i].series_id);
		values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(rows.v[i].ts_ms));
		values[3] = CStringGetTextDatum(psprintf("%016llx", (unsigned long long) rows.v[i].span));
		if (rows.v[i].has_trace)
			values[4] = CStringGetTextDatum(psprintf("%016llx%016llx",
													 (unsigned long long) rows.v[i].trace[0],
													 (unsigned long long) rows.v[i].trace[1]));
		values[5] = Int64GetDatum(rows.v[i].total);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pyro_free(rows.v);
	return (Datum) 0;
}

/* pyroscope.dot(...): the DOT call graph of a selection */
Datum
pyroscope_dot(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	int32		max_nodes = PG_GETARG_INT32(4);
	PyroBuf		dot;
	text	   *result;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 5);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	pyroscope_selection_dot(&sel, NULL, 0, NULL,
							TIMESTAMP_NOT_FINITE(sel.end) ? 0 : pyroscope_timestamptz_to_ms(sel.end),
							max_nodes, &dot);
	pyroscope_budget_end();
	if (dot.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = cstring_to_text_with_len(dot.len > 0 ? (const char *) dot.data : "", (int) dot.len);
	pyro_buf_free(&dot);
	PG_RETURN_TEXT_P(result);
}

Datum
pyroscope_merge_pprof(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	bytea	   *result;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	result = pyroscope_selection_pprof(&sel);
	pyroscope_budget_end();
	PG_RETURN_BYTEA_P(result);
}

Datum
pyroscope_diff(PG_FUNCTION_ARGS)
{
	ProfileSelection left;
	ProfileSelection right;
	int32		max_nodes = PG_GETARG_INT32(7);
	Datum		result;

	selection_from_args(&left, fcinfo, 0, 1, 2, 3, 8);
	selection_from_args(&right, fcinfo, 0, 4, 5, 6, 8);
	pyroscope_check_max_nodes(max_nodes);
	pyroscope_selection_require_type(&left);
	pyroscope_budget_begin();
	result = pyroscope_selection_diff(&left, &right, max_nodes);
	pyroscope_budget_end();
	PG_RETURN_DATUM(result);
}

/* pyroscope.select_profiles(...): every stored profile of a selection, from every tier */
typedef struct ProfileRows
{
	ReturnSetInfo *rsinfo;
	int64	   *ids;			/* series ids, ascending */
	Datum	   *labels;			/* their labels */
	int			n;
	int			cap;
} ProfileRows;

static void
collect_series(Datum *values, bool *nulls, void *arg)
{
	ProfileRows *rows = (ProfileRows *) arg;

	if (rows->n == rows->cap)
	{
		rows->cap = rows->cap ? rows->cap * 2 : 64;
		rows->ids = rows->ids ? repalloc(rows->ids, sizeof(int64) * rows->cap)
			: palloc(sizeof(int64) * rows->cap);
		rows->labels = rows->labels ? repalloc(rows->labels, sizeof(Datum) * rows->cap)
			: palloc(sizeof(Datum) * rows->cap);
	}
	rows->ids[rows->n] = DatumGetInt64(values[0]);
	rows->labels[rows->n] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[2]));
	rows->n++;
}

static void
profile_row(int64 series_id, TimestampTz ts, int64 total, ProfileValue *profile, void *arg)
{
	ProfileRows *rows = (ProfileRows *) arg;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			lo = 0;
	int			hi = rows->n - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (rows->ids[mid] < series_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	values[0] = Int64GetDatum(series_id);
	if (rows->n > 0 && rows->ids[lo] == series_id)
		values[1] = rows->labels[lo];
	else
		nulls[1] = true;
	values[2] = TimestampTzGetDatum(ts);
	values[3] = Int64GetDatum(total);
	values[4] = PointerGetDatum(profile);
	tuplestore_putvalues(rows->rsinfo->setResult, rows->rsinfo->setDesc, values, nulls);
	pfree(profile);
}

Datum
pyroscope_select_profiles(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	ProfileRows rows;

	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 4);
	InitMaterializedSRF(fcinfo, 0);
	memset(&rows, 0, sizeof(rows));
	rows.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	pyroscope_selection_series(&sel, collect_series, &rows);
	if (rows.n == 0)
		return (Datum) 0;
	pyroscope_budget_begin();
	pyroscope_selection_profiles(&sel, profile_row, &rows);
	pyroscope_budget_end();
	return (Datum) 0;
}

/* pyroscope.flamegraph_svg(profile_type, selector, start, end, max_nodes, tenant, title) */
Datum
pyroscope_flamegraph_svg(PG_FUNCTION_ARGS)
{
	ProfileSelection sel;
	int32		max_nodes = PG_GETARG_INT32(4);
	char	   *title = PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6));
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		PG_ARGISNULL(4) || PG_ARGISNULL(5))
		PG_RETURN_NULL();
	selection_from_args(&sel, fcinfo, 0, 1, 2, 3, 5);
	pyroscope_selection_require_type(&sel);
	pyroscope_budget_begin();
	result = pyroscope_selection_flamegraph_svg(&sel, max_nodes, title);
	pyroscope_budget_end();
	PG_RETURN_DATUM(result);
}

/* pyroscope.diff_svg(profile_type, left..., right..., max_nodes, tenant, title) */
Datum
pyroscope_diff_svg(PG_FUNCTION_ARGS)
{
	ProfileSelection left;
	ProfileSelection right;
	int32		max_nodes;
	char	   *title = PG_ARGISNULL(9) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(9));
	Datum		result;

	for (int i = 0; i < 9; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_NULL();
	max_nodes = PG_GETARG_INT32(7);
	selection_from_args(&left, fcinfo, 0, 1, 2, 3, 8);
	selection_from_args(&right, fcinfo, 0, 4, 5, 6, 8);
	pyroscope_selection_require_type(&left);
	pyroscope_budget_begin();
	result = pyroscope_selection_diff_svg(&left, &right, max_nodes, title);
	pyroscope_budget_end();
	PG_RETURN_DATUM(result);
}

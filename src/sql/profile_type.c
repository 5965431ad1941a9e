/*-------------------------------------------------------------------------
 *
 * profile_type.c
 *	  The pyroscope.profile SQL type (a stored profile in the core's PYP1
 *	  encoding), the functions that work on single profile values, and the
 *	  pyroscope.merge() aggregate.
 *
 * Every value entering through input or receive is fully validated by the
 * core decoder, so a hand-made value can never crash a query later.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "labels.h"
#include "pprof.h"
#include "sql_results.h"

PG_FUNCTION_INFO_V1(pyroscope_profile_in);
PG_FUNCTION_INFO_V1(pyroscope_profile_out);
PG_FUNCTION_INFO_V1(pyroscope_profile_recv);
PG_FUNCTION_INFO_V1(pyroscope_profile_send);
PG_FUNCTION_INFO_V1(pyroscope_profile_flamegraph);
PG_FUNCTION_INFO_V1(pyroscope_profile_flamegraph_svg);
PG_FUNCTION_INFO_V1(pyroscope_merge_combinefn);
PG_FUNCTION_INFO_V1(pyroscope_pprof_part);
PG_FUNCTION_INFO_V1(pyroscope_block_profile);
PG_FUNCTION_INFO_V1(pyroscope_block_profile_of);
PG_FUNCTION_INFO_V1(pyroscope_filter_spans);
PG_FUNCTION_INFO_V1(pyroscope_pprof_part_spans);
PG_FUNCTION_INFO_V1(pyroscope_profile_spans);
PG_FUNCTION_INFO_V1(pyroscope_block_profile_spans);
PG_FUNCTION_INFO_V1(pyroscope_block_profile_totals);
PG_FUNCTION_INFO_V1(pyroscope_merge_serialfn);
PG_FUNCTION_INFO_V1(pyroscope_merge_deserialfn);
PG_FUNCTION_INFO_V1(pyroscope_profile_top_functions);
PG_FUNCTION_INFO_V1(pyroscope_profile_stacks);
PG_FUNCTION_INFO_V1(pyroscope_profile_total);
PG_FUNCTION_INFO_V1(pyroscope_profile_to_pprof);
PG_FUNCTION_INFO_V1(pyroscope_merge_transfn);
PG_FUNCTION_INFO_V1(pyroscope_merge_finalfn);

/*
 * Text form: "\x" followed by the hex digits of the encoding, like bytea,
 * so that values survive COPY and pg_dump.
 */
Datum
pyroscope_profile_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		slen = strlen(str);
	char	   *bytes;
	size_t		n;

	if (slen < 2 || str[0] != '\\' || str[1] != 'x' || (slen - 2) % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", "pyroscope.profile"),
				 errdetail("A profile value is written as \\x followed by an even number of hex digits.")));
	bytes = palloc((slen - 2) / 2 + 1);
	n = hex_decode(str + 2, slen - 2, bytes);
	PG_RETURN_POINTER(profile_value_from_bytes(bytes, n));
}

Datum
pyroscope_profile_out(PG_FUNCTION_ARGS)
{
	ProfileValue *v = PG_GETARG_PROFILE_P(0);
	size_t		len = VARSIZE_ANY_EXHDR(v);
	char	   *out = palloc(len * 2 + 3);

	out[0] = '\\';
	out[1] = 'x';
	hex_encode(VARDATA_ANY(v), len, out + 2);
	out[len * 2 + 2] = '\0';
	PG_RETURN_CSTRING(out);
}

Datum
pyroscope_profile_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	ProfileValue *v;

	v = profile_value_from_bytes(buf->data + buf->cursor, len);
	buf->cursor = buf->len;
	PG_RETURN_POINTER(v);
}

Datum
pyroscope_profile_send(PG_FUNCTION_ARGS)
{
	ProfileValue *v = PG_GETARG_PROFILE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* The function-name tree of one profile value. */
static PyroTree *
profile_value_tree(ProfileValue *v)
{
	PyroProfile *p = profile_value_decode(v);
	PyroTree   *t = pyro_tree_create();
	PyroError	err;

	if (t == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (pyro_tree_add_profile(t, p, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build call tree");
	pyro_profile_free(p);
	return t;
}

Datum
pyroscope_profile_flamegraph(PG_FUNCTION_ARGS)
{
	PyroTree   *t = profile_value_tree(PG_GETARG_PROFILE_P(0));
	int32		max_nodes = PG_GETARG_INT32(1);

	PG_RETURN_DATUM(pyroscope_tree_flamegraph(t, max_nodes));
}

/* pyroscope.flamegraph_svg(p profile, max_nodes, title) */
Datum
pyroscope_profile_flamegraph_svg(PG_FUNCTION_ARGS)
{
	PyroTree   *t;
	int32		max_nodes;
	char	   *title = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	t = profile_value_tree(PG_GETARG_PROFILE_P(0));
	max_nodes = PG_GETARG_INT32(1);
	PG_RETURN_DATUM(pyroscope_tree_flamegraph_svg(t, max_nodes, title, NULL));
}

Datum
pyroscope_profile_top_functions(PG_FUNCTION_ARGS)
{
	PyroTree   *t = profile_value_tree(PG_GETARG_PROFILE_P(0));

	sql_return_top(fcinfo, t);
	return (Datum) 0;
}

Datum
pyroscope_profile_stacks(PG_FUNCTION_ARGS)
{
	PyroTree   *t = profile_value_tree(PG_GETARG_PROFILE_P(0));

	sql_return_stacks(fcinfo, t);
	return (Datum) 0;
}

Datum
pyroscope_profile_total(PG_FUNCTION_ARGS)
{
	PyroProfile *p = profile_value_decode(PG_GETARG_PROFILE_P(0));

	PG_RETURN_INT64(pyro_profile_total(p));
}

Datum
pyroscope_profile_to_pprof(PG_FUNCTION_ARGS)
{
	PyroProfile *p = profile_value_decode(PG_GETARG_PROFILE_P(0));
	char	   *type_id = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_BYTEA_P(pyroscope_profile_pprof(p, type_id, p->time_nanos));
}

/*
 * The merge aggregate keeps a PyroMerger in the aggregate context; every
 * core allocation for it happens there, so the state lives exactly as long
 * as the aggregate.
 */
Datum
pyroscope_merge_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	MemoryContext old;
	PyroMerger *m;
	PyroError	err;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", "pyroscope.merge_transfn")));

	m = PG_ARGISNULL(0) ? NULL : (PyroMerger *) PG_GETARG_POINTER(0);
	old = MemoryContextSwitchTo(aggcontext);
	if (m == NULL)
	{
		m = pyro_merger_create(0);
		if (m == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (!PG_ARGISNULL(1))
	{
		ProfileValue *v = PG_GETARG_PROFILE_P(1);

		if (pyro_merger_add_encoded(m, (const uint8_t *) VARDATA_ANY(v),
									VARSIZE_ANY_EXHDR(v), &err) != PYRO_OK)
			pyroscope_report(&err, "could not merge profile value");
	}
	MemoryContextSwitchTo(old);
	pyroscope_budget_check_context(aggcontext, "pyroscope.merge");
	PG_RETURN_POINTER(m);
}

/*
 * Parallel (and, with Citus, distributed) merging: each worker's merger is
 * sent as its merged profile, encoded once (serialfn), read back into a
 * merger (deserialfn) and merged into the leader's (combinefn).
 */
static MemoryContext
merge_agg_context(FunctionCallInfo fcinfo, const char *fn)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", fn)));
	return aggcontext;
}

Datum
pyroscope_merge_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = merge_agg_context(fcinfo, "pyroscope.merge_combinefn");
	MemoryContext old;
	PyroMerger *a = PG_ARGISNULL(0) ? NULL : (PyroMerger *) PG_GETARG_POINTER(0);
	PyroMerger *b = PG_ARGISNULL(1) ? NULL : (PyroMerger *) PG_GETARG_POINTER(1);
	const PyroProfile *p;
	PyroError	err;

	if (b == NULL || pyro_merger_count(b) == 0)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	old = MemoryContextSwitchTo(aggcontext);
	if (a == NULL)
	{
		a = pyro_merger_create(0);
		if (a == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	p = pyro_merger_result(b, &err);
	if (p == NULL || pyro_merger_add_profile(a, p, &err) != PYRO_OK)
		pyroscope_report(&err, "could not merge profiles");
	MemoryContextSwitchTo(old);
	pyroscope_budget_check_context(aggcontext, "pyroscope.merge");
	PG_RETURN_POINTER(a);
}

Datum
pyroscope_merge_serialfn(PG_FUNCTION_ARGS)
{
	PyroMerger *m = (PyroMerger *) PG_GETARG_POINTER(0);
	const PyroProfile *p;
	PyroError	err;
	PyroBuf		buf;
	bytea	   *out;

	(void) merge_agg_context(fcinfo, "pyroscope.merge_serialfn");
	pyro_buf_init(&buf);
	if (pyro_merger_count(m) > 0)
	{
		p = pyro_merger_result(m, &err);
		if (p == NULL || pyro_profile_encode(p, &buf, &err) != PYRO_OK)
			pyroscope_report(&err, "could not encode merged profile");
	}
	if (buf.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(out, VARHDRSZ + buf.len);
	if (buf.len > 0)
		memcpy(VARDATA(out), buf.data, buf.len);
	pyro_buf_free(&buf);
	PG_RETURN_BYTEA_P(out);
}

Datum
pyroscope_merge_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = merge_agg_context(fcinfo, "pyroscope.merge_deserialfn");
	MemoryContext old;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	PyroMerger *m;
	PyroError	err;

	old = MemoryContextSwitchTo(aggcontext);
	m = pyro_merger_create(0);
	if (m == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (VARSIZE_ANY_EXHDR(in) > 0 &&
		pyro_merger_add_encoded(m, (const uint8_t *) VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in),
								&err) != PYRO_OK)
		pyroscope_report(&err, "could not read a partial merge");
	MemoryContextSwitchTo(old);
	pyroscope_budget_check_context(aggcontext, "pyroscope.merge");
	PG_RETURN_POINTER(m);
}

Datum
pyroscope_merge_finalfn(PG_FUNCTION_ARGS)
{
	PyroMerger *m;
	const PyroProfile *p;
	PyroProfile *c;
	PyroError	err;
	PyroBuf		buf;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	m = (PyroMerger *) PG_GETARG_POINTER(0);
	if (pyro_merger_count(m) == 0)
		PG_RETURN_NULL();
	p = pyro_merger_result(m, &err);
	if (p == NULL)
		pyroscope_report(&err, "could not merge profiles");
	/* canonical, and timeless: equal inputs give equal values in any order */
	if (pyro_profile_canonical(p, &c, &err) != PYRO_OK)
		pyroscope_report(&err, "could not merge profiles");
	c->time_nanos = 0;
	c->duration_nanos = 0;
	pyro_buf_init(&buf);
	if (pyro_profile_encode(c, &buf, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode merged profile");
	pyro_profile_free(c);
	PG_RETURN_POINTER(profile_value_from_buf(&buf));
}

/* pyroscope.pprof_part(data bytea, part integer): a stored pprof's part */
Datum
pyroscope_pprof_part(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		part = PG_GETARG_INT32(1);

	PG_RETURN_POINTER(pyroscope_pprof_part_value(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
												 part));
}

/* A series_ids argument: NULL (every series) or ids without NULLs. */
static int64 *
series_ids_arg(FunctionCallInfo fcinfo, int argno, int *nseries)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int64	   *series;

	*nseries = 0;
	if (PG_ARGISNULL(argno))
		return NULL;
	a = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(a, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, nseries);
	series = palloc(sizeof(int64) * Max(*nseries, 1));
	for (int i = 0; i < *nseries; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("series_ids must not contain NULL")));
		series[i] = DatumGetInt64(elems[i]);
	}
	return series;
}

/*
 * pyroscope.block_profile(data bytea, series_ids bigint[], start, "end"):
 * the merge of a block's profiles of those series (NULL: all) in the range
 */
Datum
pyroscope_block_profile(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	int64	   *series;
	int			nseries;
	TimestampTz start;
	TimestampTz end;
	ProfileValue *v;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	series = series_ids_arg(fcinfo, 1, &nseries);
	start = PG_GETARG_TIMESTAMPTZ(2);
	end = PG_GETARG_TIMESTAMPTZ(3);
	v = pyroscope_encoded_block_merge(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), series,
									  (size_t) nseries, pyroscope_timestamptz_to_ms(start),
									  pyroscope_timestamptz_to_ms(end), NULL, 0, false);
	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(v);
}

/*
 * pyroscope.block_profile(data, series_ids, start, "end", profile_ids uuid[],
 * keep_spans boolean): the same, of the profiles with those ids only (NULL:
 * any; empty: none), keeping the samples' span ids when keep_spans.  The
 * range is as a selection's: start rounded up to a millisecond.
 */
Datum
pyroscope_block_profile_of(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	int64	   *series;
	int			nseries;
	pg_uuid_t  *ids = NULL;
	int			nids = 0;
	ProfileValue *v;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	series = series_ids_arg(fcinfo, 1, &nseries);
	if (!PG_ARGISNULL(4))
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(4), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
						  &elems, &nulls, &nids);
		ids = palloc(sizeof(pg_uuid_t) * Max(nids, 1));
		for (int i = 0; i < nids; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("profile_ids must not contain NULL")));
			ids[i] = *DatumGetUUIDP(elems[i]);
		}
	}
	v = pyroscope_encoded_block_merge(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), series,
									  (size_t) nseries,
									  pyroscope_timestamptz_to_ms_ceil(PG_GETARG_TIMESTAMPTZ(2)),
									  pyroscope_timestamptz_to_ms(PG_GETARG_TIMESTAMPTZ(3)),
									  ids, nids, !PG_ARGISNULL(5) && PG_GETARG_BOOL(5));
	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(v);
}

/*
 * pyroscope.filter_spans(p profile, span_ids bigint[]): the samples of p
 * whose span id is one of span_ids (their span ids kept), NULL when there
 * are none: what a span selection keeps of each profile before merging.
 */
Datum
pyroscope_filter_spans(PG_FUNCTION_ARGS)
{
	ProfileValue *v = PG_GETARG_PROFILE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	uint64	   *spans;
	PyroMerger *m;
	const PyroProfile *p;
	PyroError	err;
	PyroBuf		buf;
	ProfileValue *out;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	spans = palloc(sizeof(uint64) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("span_ids must not contain NULL")));
		spans[i] = (uint64) DatumGetInt64(elems[i]);
	}
	m = pyro_merger_create(PYRO_MERGE_KEEP_SPANS);
	if (m == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (pyro_merger_set_span_filter(m, spans, (size_t) n, &err) != PYRO_OK)
		pyroscope_report(&err, "could not filter spans");
	if (pyro_merger_add_encoded(m, (const uint8_t *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v),
								&err) != PYRO_OK)
		pyroscope_report(&err, "could not read profile value");
	p = pyro_merger_result(m, &err);
	if (p == NULL)
		pyroscope_report(&err, "could not filter spans");
	if (p->nsamples == 0)
	{
		pyro_merger_free(m);
		PG_RETURN_NULL();
	}
	pyro_buf_init(&buf);
	if (pyro_profile_encode(p, &buf, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode profile");
	out = profile_value_from_buf(&buf);
	pyro_buf_free(&buf);
	pyro_merger_free(m);
	PG_RETURN_POINTER(out);
}

static void
profile_total_row(int64 series_id, int64 ts_ms, int64 total, const pg_uuid_t *id, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, id == NULL};

	values[0] = Int64GetDatum(series_id);
	values[1] = TimestampTzGetDatum(pyroscope_block_time(ts_ms));
	values[2] = Int64GetDatum(total);
	values[3] = id ? UUIDPGetDatum(id) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pyroscope.block_profile_totals(data bytea, series_ids bigint[], start,
 * "end"): series, time, total and profile id of a block's profiles of
 * those series (NULL: all) in the range, from its index (no samples are
 * read), in the block's order: what time series read of a block, where the
 * block is.  The range is as a selection's: from start rounded up to a
 * millisecond to "end" rounded down.
 */
Datum
pyroscope_block_profile_totals(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	int64	   *series;
	int			nseries;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return (Datum) 0;
	data = PG_GETARG_BYTEA_PP(0);
	series = series_ids_arg(fcinfo, 1, &nseries);
	pyroscope_encoded_block_totals(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), series,
								   (size_t) nseries,
								   pyroscope_timestamptz_to_ms_ceil(PG_GETARG_TIMESTAMPTZ(2)),
								   pyroscope_timestamptz_to_ms(PG_GETARG_TIMESTAMPTZ(3)),
								   profile_total_row, fcinfo->resultinfo);
	return (Datum) 0;
}

/*
 * n span totals as a two-dimensional bigint array, a row [span id, total,
 * trace id high 64 bits, low 64 bits] per span (the trace NULL where
 * unknown), or NULL (0) when n is 0.
 */
static Datum
span_array(const PyroSpanTotal *t, size_t n)
{
	Datum	   *d;
	bool	   *nulls;
	int			dims[2];
	int			lbs[2] = {1, 1};

	if (n == 0)
		return (Datum) 0;
	if (n > (size_t) (MaxAllocSize / (4 * sizeof(Datum))))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many span ids in one profile: %zu", n)));
	d = palloc(sizeof(Datum) * 4 * n);
	nulls = palloc(sizeof(bool) * 4 * n);
	for (size_t i = 0; i < n; i++)
	{
		d[4 * i] = Int64GetDatum((int64) t[i].span);
		d[4 * i + 1] = Int64GetDatum(t[i].total);
		d[4 * i + 2] = Int64GetDatum((int64) t[i].trace_hi);
		d[4 * i + 3] = Int64GetDatum((int64) t[i].trace_lo);
		nulls[4 * i] = nulls[4 * i + 1] = false;
		nulls[4 * i + 2] = nulls[4 * i + 3] = !t[i].has_trace;
	}
	dims[0] = (int) n;
	dims[1] = 4;
	return PointerGetDatum(construct_md_array(d, nulls, 2, dims, lbs, INT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * pyroscope.pprof_part_spans(data bytea, part integer): the span ids of a
 * stored pprof's part with their totals and traces (span_array()), NULL
 * when no sample has one: what a span listing reads of a head row, where
 * it is.
 */
Datum
pyroscope_pprof_part_spans(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	size_t		n;
	PyroSpanTotal *t;

	t = pyroscope_pprof_part_span_totals(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
										 PG_GETARG_INT32(1), &n);
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(span_array(t, n));
}

/* pyroscope.profile_spans(p profile): the same of a profile value (no traces) */
Datum
pyroscope_profile_spans(PG_FUNCTION_ARGS)
{
	PyroProfile *p = profile_value_decode(PG_GETARG_PROFILE_P(0));
	PyroSpanTotal *t;
	size_t		n;
	PyroError	err;

	if (pyro_profile_span_totals(p, &t, &n, &err) != PYRO_OK)
		pyroscope_report(&err, "could not sum spans");
	pyro_profile_free(p);
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(span_array(t, n));
}

static void
block_spans_row(int64 series_id, int64 ts_ms, const pg_uuid_t *id, const PyroSpanTotal *spans,
				size_t nspans, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[4];
	bool		nulls[4] = {false, false, id == NULL, false};

	values[0] = Int64GetDatum(series_id);
	values[1] = TimestampTzGetDatum(pyroscope_block_time(ts_ms));
	values[2] = id ? UUIDPGetDatum(id) : (Datum) 0;
	values[3] = span_array(spans, nspans);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pyroscope.block_profile_spans(data bytea, series_ids bigint[], start,
 * "end"): series, time, id and spans (span_array()) of each of a block's
 * profiles with span ids, of those series (NULL: all) in the range (start
 * rounded up to a millisecond), in the block's order.
 */
Datum
pyroscope_block_profile_spans(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	int64	   *series;
	int			nseries;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return (Datum) 0;
	data = PG_GETARG_BYTEA_PP(0);
	series = series_ids_arg(fcinfo, 1, &nseries);
	pyroscope_encoded_block_spans(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), series,
								  (size_t) nseries,
								  pyroscope_timestamptz_to_ms_ceil(PG_GETARG_TIMESTAMPTZ(2)),
								  pyroscope_timestamptz_to_ms(PG_GETARG_TIMESTAMPTZ(3)),
								  block_spans_row, fcinfo->resultinfo);
	return (Datum) 0;
}

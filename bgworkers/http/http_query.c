/*-------------------------------------------------------------------------
 *
 * http_query.c
 *	  querier.v1.QuerierService over Connect (spec §7): profile types,
 *	  label names and values, series, merged flame graphs, trees and
 *	  pprof, time series, diffs, profile stats.
 *
 * Every method runs on the SQL layer's query engine (pyroscope.h,
 * series_query.h), so SQL and HTTP give the same answers.  A profile type
 * that was never stored yields empty results, as upstream does, not an
 * error.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "gen/pprof.pb-c.h"
#include "gen/querier.pb-c.h"
#include "gen/types.pb-c.h"
#include "labels.h"
#include "pprof.h"
#include "engine.h"
#include "selector.h"

#define DEFAULT_MAX_NODES	8192
#define MAX_MAX_NODES		1048576
#define HOUR_MS				INT64CONST(3600000)

static int64
now_ms(void)
{
	return pyroscope_timestamptz_to_ms(GetCurrentTimestamp());
}

/*
 * Check a [start, end] range in ms (spec §7.2).  With allow_empty, a
 * range with both ends 0 means the last hour.
 */
static void
check_range(int64 *start, int64 *end, bool allow_empty)
{
	if (*start == 0 && *end == 0 && allow_empty)
	{
		*end = now_ms();
		*start = *end - HOUR_MS;
	}
	if (*start == 0 || *end == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start and end of the time range are required")));
	if (*start > *end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time range start %lld is after its end %lld",
						(long long) *start, (long long) *end)));
	if (pyroscope_http_max_query_length > 0 &&
		*end - *start > (int64) pyroscope_http_max_query_length * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query time range exceeds the limit (pyroscope.http_max_query_length = %d s)",
						pyroscope_http_max_query_length)));
}

/* Parse a profile type id; returns the canonical 5-part id. */
char *
http_check_profile_type(const char *id)
{
	PyroProfileType pt;
	PyroError	err;
	char	   *canon;

	if (id == NULL || id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("profile type id is required")));
	if (pyro_profile_type_parse(id, strlen(id), &pt, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.msg)));
	canon = pstrdup(pt.id);
	pyro_profile_type_free(&pt);
	return canon;
}

/*
 * AND the matchers of several selector strings into one selector
 * (spec §7.2: recommended v2 behaviour).  Each must parse.
 */
char *
http_combine_matchers(char **m, size_t n)
{
	PyroSelector all;
	PyroSelector **parsed;
	size_t		total = 0;
	PyroBuf		out;
	char	   *result;

	if (n == 0)
		return "{}";
	parsed = palloc0(sizeof(PyroSelector *) * n);
	for (size_t i = 0; i < n; i++)
	{
		PyroError	err;

		if (pyro_selector_parse(m[i], strlen(m[i]), &parsed[i], &err) != PYRO_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid label selector \"%s\": %s", m[i], err.msg)));
		total += parsed[i]->nmatchers;
	}
	if (n == 1)
		return m[0];
	memset(&all, 0, sizeof(all));
	all.matchers = palloc0(sizeof(PyroMatcher) * Max(total, 1));
	for (size_t i = 0; i < n; i++)
	{
		if (parsed[i]->metric_name && all.metric_name == NULL)
			all.metric_name = parsed[i]->metric_name;
		for (size_t j = 0; j < parsed[i]->nmatchers; j++)
			all.matchers[all.nmatchers++] = parsed[i]->matchers[j];
	}
	pyro_buf_init(&out);
	pyro_selector_to_string(&all, &out);
	pyro_buf_append_byte(&out, '\0');
	if (out.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = pstrdup((char *) out.data);
	pyro_buf_free(&out);
	for (size_t i = 0; i < n; i++)
		pyro_selector_free(parsed[i]);
	return result;
}

/* The max_nodes rule of spec §8.3. */
int64
http_max_nodes(bool set, int64 v)
{
	if (!set || v == 0)
		return DEFAULT_MAX_NODES;
	if (v < 0 || v > MAX_MAX_NODES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_nodes %lld is out of range 0..%d", (long long) v, MAX_MAX_NODES)));
	return v;
}

/* Fill a selection of the request's tenant. */
void
http_selection(HttpRequest *req, ProfileSelection *sel, const char *profile_type,
			   const char *selector, int64 start, int64 end)
{
	check_range(&start, &end, false);
	sel->tenant = req->tenant;
	sel->profile_type = http_check_profile_type(profile_type);
	sel->selector = selector && selector[0] ? selector : "{}";
	sel->start = pyroscope_ms_to_timestamptz(start);
	sel->end = pyroscope_ms_to_timestamptz(end);
}

typedef struct SpanMerge
{
	PyroMerger *m;
} SpanMerge;

static void
merge_visit(PyroProfile *p, void *arg)
{
	PyroError	err;

	if (pyro_merger_add_profile((PyroMerger *) arg, p, &err) != PYRO_OK)
		pyroscope_report(&err, "could not merge profiles");
}

/* Merge the profiles of a selection, keeping only the given spans if any. */
static const PyroProfile *
selection_merge(const ProfileSelection *sel, char **spans, size_t nspans)
{
	PyroMerger *m = pyro_merger_create(0);
	const PyroProfile *p;
	PyroError	err;

	if (m == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (nspans > 0)
	{
		uint64	   *ids = palloc(sizeof(uint64) * nspans);

		for (size_t i = 0; i < nspans; i++)
		{
			const char *s = spans[i];
			uint64		v = 0;

			if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid span id \"%s\": expected 16 hexadecimal digits", s)));
			for (int k = 0; k < 16; k++)
			{
				char		c = s[k];

				v = (v << 4) | (uint64) (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
			}
			ids[i] = v;
		}
		if (pyro_merger_set_span_filter(m, ids, nspans, &err) != PYRO_OK)
			pyroscope_report(&err, "could not filter spans");
	}
	/* blocks must keep span ids when spans are filtered */
	pyroscope_scan_selection(sel, nspans > 0, merge_visit, m);
	p = pyro_merger_result(m, &err);
	if (p == NULL)
		pyroscope_report(&err, "could not merge profiles");
	return p;
}

/* The call tree of a selection, filtered by spans and call site. */
PyroTree *
http_selection_tree(const ProfileSelection *sel, char **spans, size_t nspans,
					const Types__V1__StackTraceSelector *sts)
{
	PyroTree   *t;

	if (nspans > 0)
	{
		const PyroProfile *p = selection_merge(sel, spans, nspans);
		PyroError	err;

		t = pyro_tree_create();
		if (t == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (pyro_tree_add_profile(t, p, &err) != PYRO_OK)
			pyroscope_report(&err, "could not build call tree");
	}
	else
		t = pyroscope_selection_tree(sel);
	if (sts && sts->n_call_site > 0 && sts->go_pgo == NULL)
	{
		char	  **names = palloc(sizeof(char *) * sts->n_call_site);

		for (size_t i = 0; i < sts->n_call_site; i++)
			names[i] = sts->call_site[i]->name ? sts->call_site[i]->name : "";
		t = pyroscope_tree_call_site(t, names, (int) sts->n_call_site);
	}
	return t;
}

/* A FlameGraph message of tree t. */
static Querier__V1__FlameGraph *
flamegraph_message(const PyroTree *t, int64 max_nodes)
{
	Querier__V1__FlameGraph *fgm = palloc(sizeof(Querier__V1__FlameGraph));
	PyroFlamegraph fg;
	PyroError	err;

	querier__v1__flame_graph__init(fgm);
	if (pyro_flamegraph_build(t, max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build flame graph");
	fgm->n_names = fg.nnames;
	fgm->names = fg.names;
	fgm->n_levels = fg.nlevels;
	fgm->levels = palloc(sizeof(Querier__V1__Level *) * Max(fg.nlevels, 1));
	for (uint32 d = 0; d < fg.nlevels; d++)
	{
		Querier__V1__Level *l = palloc(sizeof(Querier__V1__Level));

		querier__v1__level__init(l);
		l->n_values = fg.level_len[d];
		l->values = fg.levels[d];
		fgm->levels[d] = l;
	}
	fgm->total = fg.total;
	fgm->max_self = fg.max_self;
	return fgm;
}

/* ProfileTypes: the profile types with data in the range, sorted by id. */
void
http_handle_profile_types(HttpRequest *req)
{
	Querier__V1__ProfileTypesRequest *r;
	Querier__V1__ProfileTypesResponse resp = QUERIER__V1__PROFILE_TYPES_RESPONSE__INIT;
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	int64		start;
	int64		end;
	MemoryContext caller = CurrentMemoryContext;

	r = (Querier__V1__ProfileTypesRequest *)
		http_connect_decode(req, &querier__v1__profile_types_request__descriptor);
	start = r->start;
	end = r->end;
	check_range(&start, &end, true);
	values[0] = CStringGetTextDatum(req->tenant);
	values[1] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(start));
	values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(end));
	SPI_connect();
	if (SPI_execute_with_args("SELECT p FROM (SELECT DISTINCT profile_type AS p FROM pyroscope.series"
							  " WHERE tenant = $1 AND first_seen <= $3 AND last_seen >= $2) x"
							  " ORDER BY p COLLATE \"C\"",
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list profile types");
	resp.n_profile_types = 0;
	resp.profile_types = MemoryContextAlloc(caller, sizeof(Types__V1__ProfileType *) *
											Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		PyroProfileType pt;
		PyroError	err;
		Types__V1__ProfileType *m;

		if (id == NULL || pyro_profile_type_parse(id, strlen(id), &pt, &err) != PYRO_OK)
			continue;
		m = MemoryContextAlloc(caller, sizeof(Types__V1__ProfileType));
		types__v1__profile_type__init(m);
		m->id = MemoryContextStrdup(caller, id);
		m->name = MemoryContextStrdup(caller, pt.name);
		m->sample_type = MemoryContextStrdup(caller, pt.sample_type);
		m->sample_unit = MemoryContextStrdup(caller, pt.sample_unit);
		m->period_type = MemoryContextStrdup(caller, pt.period_type);
		m->period_unit = MemoryContextStrdup(caller, pt.period_unit);
		pyro_profile_type_free(&pt);
		resp.profile_types[resp.n_profile_types++] = m;
	}
	SPI_finish();
	http_connect_reply(req, &resp.base);
}

/* Whether the client accepts UTF-8 label names (spec §14.6). */
static bool
allow_utf8_names(HttpRequest *req)
{
	const char *accept = http_header(req, "Accept");

	return accept && strstr(accept, "allow-utf8-labelnames=true") != NULL;
}

/* Run a query returning one text column; the values in the caller's context. */
static char **
text_column(const char *sql, int nargs, Oid *types, Datum *values, uint64 *n)
{
	MemoryContext caller = CurrentMemoryContext;
	char	  **out;

	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run query");
	*n = SPI_processed;
	out = MemoryContextAlloc(caller, sizeof(char *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		out[i] = MemoryContextStrdup(caller, v ? v : "");
	}
	SPI_finish();
	return out;
}

/* LabelNames: sorted label names of matching series in range. */
void
http_handle_label_names(HttpRequest *req)
{
	Types__V1__LabelNamesRequest *r;
	Types__V1__LabelNamesResponse resp = TYPES__V1__LABEL_NAMES_RESPONSE__INIT;
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];
	char	  **names;
	uint64		n;
	bool		utf8 = allow_utf8_names(req);

	r = (Types__V1__LabelNamesRequest *)
		http_connect_decode(req, &types__v1__label_names_request__descriptor);
	check_range(&r->start, &r->end, true);
	values[0] = CStringGetTextDatum(http_combine_matchers(r->matchers, r->n_matchers));
	values[1] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(r->start));
	values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(r->end));
	values[3] = CStringGetTextDatum(req->tenant);
	names = text_column("SELECT n FROM pyroscope.label_names($1, $2, $3, $4) n"
						" ORDER BY n COLLATE \"C\"", 4, types, values, &n);
	resp.names = palloc(sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		if (utf8 || pyro_label_name_is_legacy(names[i], strlen(names[i])))
			resp.names[resp.n_names++] = names[i];
	http_connect_reply(req, &resp.base);
}

/* LabelValues: sorted values of one label over matching series in range. */
void
http_handle_label_values(HttpRequest *req)
{
	Types__V1__LabelValuesRequest *r;
	Types__V1__LabelValuesResponse resp = TYPES__V1__LABEL_VALUES_RESPONSE__INIT;
	Oid			types[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[5];
	uint64		n;

	r = (Types__V1__LabelValuesRequest *)
		http_connect_decode(req, &types__v1__label_values_request__descriptor);
	if (r->name == NULL || r->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label name is required")));
	check_range(&r->start, &r->end, true);
	values[0] = CStringGetTextDatum(r->name);
	values[1] = CStringGetTextDatum(http_combine_matchers(r->matchers, r->n_matchers));
	values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(r->start));
	values[3] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(r->end));
	values[4] = CStringGetTextDatum(req->tenant);
	resp.names = text_column("SELECT v FROM pyroscope.label_values($1, $2, $3, $4, $5) v"
							 " ORDER BY v COLLATE \"C\"", 5, types, values, &n);
	resp.n_names = n;
	http_connect_reply(req, &resp.base);
}

/* Series: unique label sets (projected to label_names) of matching series. */
void
http_handle_series(HttpRequest *req)
{
	Querier__V1__SeriesRequest *r;
	Querier__V1__SeriesResponse resp = QUERIER__V1__SERIES_RESPONSE__INIT;
	Oid			types[6] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTARRAYOID, BOOLOID};
	Datum		values[6];
	Datum	   *ln;
	MemoryContext caller = CurrentMemoryContext;

	r = (Querier__V1__SeriesRequest *)
		http_connect_decode(req, &querier__v1__series_request__descriptor);
	check_range(&r->start, &r->end, true);
	ln = palloc(sizeof(Datum) * Max(r->n_label_names, 1));
	for (size_t i = 0; i < r->n_label_names; i++)
		ln[i] = CStringGetTextDatum(r->label_names[i]);
	values[0] = CStringGetTextDatum(http_combine_matchers(r->matchers, r->n_matchers));
	values[1] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(r->start));
	values[2] = TimestampTzGetDatum(pyroscope_ms_to_timestamptz(r->end));
	values[3] = CStringGetTextDatum(req->tenant);
	values[4] = PointerGetDatum(construct_array(ln, r->n_label_names, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[5] = BoolGetDatum(allow_utf8_names(req));
	SPI_connect();
	if (SPI_execute_with_args(
							  "SELECT DISTINCT p.k, p.v FROM pyroscope.select_series(NULL, $1, $2, $3, $4) ss,"
							  " LATERAL (SELECT array_agg(e.key ORDER BY e.key COLLATE \"C\") k,"
							  "                 array_agg(e.value ORDER BY e.key COLLATE \"C\") v"
							  "            FROM jsonb_each_text(ss.labels) e"
							  "           WHERE (cardinality($5) = 0 OR e.key = ANY ($5))"
							  "             AND ($6 OR e.key ~ '^[a-zA-Z_][a-zA-Z0-9_]*$')) p"
							  " WHERE p.k IS NOT NULL ORDER BY 1, 2",
							  6, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not select series");
	resp.labels_set = MemoryContextAlloc(caller, sizeof(Types__V1__Labels *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		kd = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		vd = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		Datum	   *ks;
		Datum	   *vs;
		int			nk;
		int			nv;
		Types__V1__Labels *ls;
		MemoryContext old = MemoryContextSwitchTo(caller);

		deconstruct_array(DatumGetArrayTypeP(kd), TEXTOID, -1, false, TYPALIGN_INT, &ks, NULL, &nk);
		deconstruct_array(DatumGetArrayTypeP(vd), TEXTOID, -1, false, TYPALIGN_INT, &vs, NULL, &nv);
		ls = palloc(sizeof(Types__V1__Labels));
		types__v1__labels__init(ls);
		ls->n_labels = Min(nk, nv);
		ls->labels = palloc(sizeof(Types__V1__LabelPair *) * Max(ls->n_labels, 1));
		for (size_t j = 0; j < ls->n_labels; j++)
		{
			Types__V1__LabelPair *lp = palloc(sizeof(Types__V1__LabelPair));

			types__v1__label_pair__init(lp);
			lp->name = TextDatumGetCString(ks[j]);
			lp->value = TextDatumGetCString(vs[j]);
			ls->labels[j] = lp;
		}
		resp.labels_set[resp.n_labels_set++] = ls;
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	http_connect_reply(req, &resp.base);
}

/* A merged profile as raw pprof typed by the selection's profile type (spec §7.4). */
static void
merged_pprof(const ProfileSelection *sel, const PyroProfile *p, int64 end_ms, PyroBuf *raw)
{
	PyroProfileType pt;
	PyroError	err;
	int64		period = 1;

	if (pyro_profile_type_parse(sel->profile_type, strlen(sel->profile_type), &pt, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", err.msg)));
	/* upstream guesses the period from the name (spec §7.4) */
	if (strcmp(pt.name, "process_cpu") == 0)
		period = 1000000000;
	else if (strcmp(pt.name, "memory") == 0)
		period = 524288;
	pyro_buf_init(raw);
	if (pyro_pprof_encode(p, pt.sample_type, pt.sample_unit, pt.period_type, pt.period_unit,
						  period, end_ms * 1000000, raw, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode pprof");
	pyro_profile_type_free(&pt);
}

/* Check the trace and span selectors of a request. */
static void
check_span_selectors(size_t ntrace, size_t nspan)
{
	if (ntrace > 0 && nspan > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trace_id_selector and span_selector cannot be combined")));
	if (ntrace > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("trace_id_selector is not supported"),
				 errdetail("Trace ids of samples are not stored; use span_selector.")));
}

/* SelectMergeStacktraces: flame graph, tree bytes or pprof of a selection. */
void
http_handle_select_merge_stacktraces(HttpRequest *req)
{
	Querier__V1__SelectMergeStacktracesRequest *r;
	Querier__V1__SelectMergeStacktracesResponse resp =
		QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
	ProfileSelection sel;
	int64		max_nodes;

	r = (Querier__V1__SelectMergeStacktracesRequest *)
		http_connect_decode(req, &querier__v1__select_merge_stacktraces_request__descriptor);
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	max_nodes = http_max_nodes(r->opt_max_nodes_case ==
							   QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES,
							   r->max_nodes);
	check_span_selectors(r->n_trace_id_selector, r->n_span_selector);

	switch (r->format)
	{
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_UNSPECIFIED:
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_FLAMEGRAPH:
			resp.flamegraph = flamegraph_message(http_selection_tree(&sel, r->span_selector,
																	 r->n_span_selector,
																	 r->stack_trace_selector),
												 max_nodes);
			break;
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE:
			{
				PyroBuf		tb;
				PyroError	err;
				PyroTree   *t = http_selection_tree(&sel, r->span_selector, r->n_span_selector,
													r->stack_trace_selector);

				pyro_buf_init(&tb);
				if (pyro_tree_serialize(t, max_nodes, &tb, &err) != PYRO_OK)
					pyroscope_report(&err, "could not serialise tree");
				resp.tree.data = tb.data;
				resp.tree.len = tb.len;
				break;
			}
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF:
			{
				const PyroProfile *p = selection_merge(&sel, r->span_selector, r->n_span_selector);
				PyroBuf		raw;
				Querier__V1__PprofProfile *pp = palloc(sizeof(Querier__V1__PprofProfile));

				merged_pprof(&sel, p, r->end, &raw);
				querier__v1__pprof_profile__init(pp);
				pp->profile = (Perftools__Profiles__Profile *)
					protobuf_c_message_unpack(&perftools__profiles__profile__descriptor,
											  HTTP_PBC_ALLOC, raw.len, raw.data);
				if (pp->profile == NULL)
					elog(ERROR, "could not re-read merged pprof");
				resp.pprof = pp;
				break;
			}
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("profile format %d is not supported", (int) r->format)));
	}
	http_connect_reply(req, &resp.base);
}

/* SelectMergeSpanProfile: the same with span_selector; FLAMEGRAPH or TREE. */
void
http_handle_select_merge_span_profile(HttpRequest *req)
{
	Querier__V1__SelectMergeSpanProfileRequest *r;
	Querier__V1__SelectMergeSpanProfileResponse resp =
		QUERIER__V1__SELECT_MERGE_SPAN_PROFILE_RESPONSE__INIT;
	ProfileSelection sel;
	int64		max_nodes;
	PyroTree   *t;

	r = (Querier__V1__SelectMergeSpanProfileRequest *)
		http_connect_decode(req, &querier__v1__select_merge_span_profile_request__descriptor);
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	max_nodes = http_max_nodes(r->opt_max_nodes_case ==
							   QUERIER__V1__SELECT_MERGE_SPAN_PROFILE_REQUEST__OPT_MAX_NODES_MAX_NODES,
							   r->max_nodes);
	t = http_selection_tree(&sel, r->span_selector, r->n_span_selector, NULL);
	if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE)
	{
		PyroBuf		tb;
		PyroError	err;

		pyro_buf_init(&tb);
		if (pyro_tree_serialize(t, max_nodes, &tb, &err) != PYRO_OK)
			pyroscope_report(&err, "could not serialise tree");
		resp.tree.data = tb.data;
		resp.tree.len = tb.len;
	}
	else
		resp.flamegraph = flamegraph_message(t, max_nodes);
	http_connect_reply(req, &resp.base);
}

/* SelectMergeProfile: the merged pprof of a selection (spec §7.4). */
void
http_handle_select_merge_profile(HttpRequest *req)
{
	Querier__V1__SelectMergeProfileRequest *r;
	ProfileSelection sel;
	const PyroProfile *p;
	PyroBuf		raw;

	r = (Querier__V1__SelectMergeProfileRequest *)
		http_connect_decode(req, &querier__v1__select_merge_profile_request__descriptor);
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	check_span_selectors(r->n_trace_id_selector, 0);
	if (r->stack_trace_selector && r->stack_trace_selector->n_call_site > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stack_trace_selector is not supported by SelectMergeProfile")));
	p = selection_merge(&sel, NULL, 0);
	merged_pprof(&sel, p, r->end, &raw);
	http_connect_reply_packed(req, &perftools__profiles__profile__descriptor, raw.data, raw.len);
}

/* SelectSeries: bucketed totals (spec §15.3). */
void
http_handle_select_series(HttpRequest *req)
{
	Querier__V1__SelectSeriesRequest *r;
	Querier__V1__SelectSeriesResponse resp = QUERIER__V1__SELECT_SERIES_RESPONSE__INIT;
	ProfileSelection sel;
	BucketSeries *bs;
	int			n;
	int64		step_ms;
	bool		average;
	int64		limit = 0;

	r = (Querier__V1__SelectSeriesRequest *)
		http_connect_decode(req, &querier__v1__select_series_request__descriptor);
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	if (!(r->step >= 0.001) || r->step > 1e9)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step must be at least 0.001 seconds")));
	if (r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("span exemplars are not supported")));
	if (r->opt_limit_case == QUERIER__V1__SELECT_SERIES_REQUEST__OPT_LIMIT_LIMIT)
		limit = r->limit;
	step_ms = (int64) (r->step * 1000);
	average = r->opt_aggregation_case == QUERIER__V1__SELECT_SERIES_REQUEST__OPT_AGGREGATION_AGGREGATION &&
		r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
	n = pyroscope_series_buckets(&sel, r->start, r->end, step_ms, r->group_by,
								 (int) r->n_group_by, average, limit, &bs);
	resp.n_series = n;
	resp.series = palloc(sizeof(Types__V1__Series *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		Types__V1__Series *s = palloc(sizeof(Types__V1__Series));

		types__v1__series__init(s);
		s->n_labels = bs[i].nlabels;
		s->labels = palloc(sizeof(Types__V1__LabelPair *) * Max(bs[i].nlabels, 1));
		for (int j = 0; j < bs[i].nlabels; j++)
		{
			Types__V1__LabelPair *lp = palloc(sizeof(Types__V1__LabelPair));

			types__v1__label_pair__init(lp);
			lp->name = bs[i].names[j];
			lp->value = bs[i].values[j];
			s->labels[j] = lp;
		}
		s->n_points = bs[i].npoints;
		s->points = palloc(sizeof(Types__V1__Point *) * Max(bs[i].npoints, 1));
		for (int j = 0; j < bs[i].npoints; j++)
		{
			Types__V1__Point *pt = palloc(sizeof(Types__V1__Point));

			types__v1__point__init(pt);
			pt->timestamp = bs[i].ts_ms[j];
			pt->value = bs[i].values_at[j];
			s->points[j] = pt;
		}
		resp.series[i] = s;
	}
	http_connect_reply(req, &resp.base);
}

/* Diff: the diff flame graph of two selections (spec §8.5). */
void
http_handle_diff(HttpRequest *req)
{
	Querier__V1__DiffRequest *r;
	Querier__V1__DiffResponse resp = QUERIER__V1__DIFF_RESPONSE__INIT;
	Querier__V1__FlameGraphDiff *fgm;
	ProfileSelection ls;
	ProfileSelection rs;
	PyroFlamegraph fg;
	PyroError	err;
	int64		max_nodes;

	r = (Querier__V1__DiffRequest *) http_connect_decode(req, &querier__v1__diff_request__descriptor);
	if (r->left == NULL || r->right == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("both left and right selections are required")));
	http_selection(req, &ls, r->left->profile_typeid, r->left->label_selector,
				   r->left->start, r->left->end);
	http_selection(req, &rs, r->right->profile_typeid, r->right->label_selector,
				   r->right->start, r->right->end);
	max_nodes = Max(http_max_nodes(r->left->opt_max_nodes_case ==
								   QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES,
								   r->left->max_nodes),
					http_max_nodes(r->right->opt_max_nodes_case ==
								   QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES,
								   r->right->max_nodes));
	if (pyro_flamegraph_diff(http_selection_tree(&ls, r->left->span_selector,
												 r->left->n_span_selector,
												 r->left->stack_trace_selector),
							 http_selection_tree(&rs, r->right->span_selector,
												 r->right->n_span_selector,
												 r->right->stack_trace_selector),
							 max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build diff flame graph");
	fgm = palloc(sizeof(Querier__V1__FlameGraphDiff));
	querier__v1__flame_graph_diff__init(fgm);
	fgm->n_names = fg.nnames;
	fgm->names = fg.names;
	fgm->n_levels = fg.nlevels;
	fgm->levels = palloc(sizeof(Querier__V1__Level *) * Max(fg.nlevels, 1));
	for (uint32 d = 0; d < fg.nlevels; d++)
	{
		Querier__V1__Level *l = palloc(sizeof(Querier__V1__Level));

		querier__v1__level__init(l);
		l->n_values = fg.level_len[d];
		l->values = fg.levels[d];
		fgm->levels[d] = l;
	}
	fgm->total = fg.total;
	fgm->max_self = fg.max_self;
	fgm->leftticks = fg.left_ticks;
	fgm->rightticks = fg.right_ticks;
	resp.flamegraph = fgm;
	http_connect_reply(req, &resp.base);
}

/* GetProfileStats: whether the tenant has data, and its time span. */
void
http_handle_get_profile_stats(HttpRequest *req)
{
	Types__V1__GetProfileStatsResponse resp = TYPES__V1__GET_PROFILE_STATS_RESPONSE__INIT;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		n1;
	bool		n2;
	Datum		d1;
	Datum		d2;

	(void) http_connect_decode(req, &types__v1__get_profile_stats_request__descriptor);
	values[0] = CStringGetTextDatum(req->tenant);
	SPI_connect();
	/* over every tier: head rows and blocks, wherever they are stored */
	if (SPI_execute_with_args("SELECT min(t0), max(t1) FROM"
							  " (SELECT min(ts) AS t0, max(ts) AS t1 FROM pyroscope.head WHERE tenant = $1"
							  "  UNION ALL"
							  "  SELECT min(min_ts), max(max_ts) FROM pyroscope.blocks WHERE tenant = $1) x",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not compute profile stats");
	d1 = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &n1);
	d2 = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &n2);
	resp.data_ingested = !n1;
	resp.oldest_profile_time = n1 ? PG_INT64_MAX : pyroscope_timestamptz_to_ms(DatumGetTimestampTz(d1));
	resp.newest_profile_time = n2 ? PG_INT64_MIN : pyroscope_timestamptz_to_ms(DatumGetTimestampTz(d2));
	SPI_finish();
	http_connect_reply(req, &resp.base);
}

/* AnalyzeQuery: an empty answer, as upstream v2 gives. */
void
http_handle_analyze_query(HttpRequest *req)
{
	Querier__V1__AnalyzeQueryResponse resp = QUERIER__V1__ANALYZE_QUERY_RESPONSE__INIT;

	(void) http_connect_decode(req, &querier__v1__analyze_query_request__descriptor);
	http_connect_reply(req, &resp.base);
}

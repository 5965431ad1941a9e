/*-------------------------------------------------------------------------
 *
 * http_legacy.c
 *	  The legacy query API (spec §11): GET /pyroscope/render (flame graph
 *	  plus timeline), /pyroscope/render-diff and /pyroscope/label-values,
 *	  answered in the flamebearer JSON that Profiles Drilldown reads.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "ingest_params.h"
#include "selector.h"

/* A query of the form <profile_type>{matchers}, split in its two parts. */
typedef struct RenderQuery
{
	char	   *profile_type;
	char	   *selector;
	char	   *sample_type;
	char	   *sample_unit;
} RenderQuery;

static void
parse_render_query(const char *q, RenderQuery *out)
{
	PyroSelector *ps;
	PyroError	err;
	PyroProfileType pt;
	PyroBuf		b;

	if (q == NULL || q[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the \"query\" parameter is required")));
	if (pyro_selector_parse(q, strlen(q), &ps, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid query \"%s\": %s", q, err.msg)));
	if (ps->metric_name == NULL)
	{
		pyro_selector_free(ps);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query \"%s\" has no profile type", q),
				 errhint("Write the query as profile_type{matchers}, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"app\"}.")));
	}
	out->profile_type = http_check_profile_type(ps->metric_name);
	if (pyro_profile_type_parse(out->profile_type, strlen(out->profile_type), &pt, &err) != PYRO_OK)
		pyroscope_report(&err, "could not parse profile type");
	out->sample_type = pstrdup(pt.sample_type);
	out->sample_unit = pstrdup(pt.sample_unit);
	pyro_profile_type_free(&pt);

	pyro_free(ps->metric_name);
	ps->metric_name = NULL;
	pyro_buf_init(&b);
	pyro_selector_to_string(ps, &b);
	pyro_buf_append_byte(&b, '\0');
	if (b.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out->selector = pstrdup((char *) b.data);
	pyro_buf_free(&b);
	pyro_selector_free(ps);
}

static int64
now_ms(void)
{
	return pyroscope_timestamptz_to_ms(GetCurrentTimestamp());
}

/* A legacy time parameter in ms; absent means dflt. */
static int64
time_param(HttpRequest *req, const char *name, int64 dflt)
{
	const char *v = http_query_arg(req, name);
	int64		ms;

	if (v == NULL || v[0] == '\0')
		return dflt;
	pyro_parse_attime(v, now_ms(), &ms);
	return ms;
}

/* maxNodes (or max-nodes): 0/absent → default, validated like Connect. */
static int64
max_nodes_param(HttpRequest *req)
{
	const char *v = http_query_arg(req, "maxNodes");
	char	   *end;
	long long	n;

	if (v == NULL)
		v = http_query_arg(req, "max-nodes");
	if (v == NULL || v[0] == '\0')
		return http_max_nodes(false, 0);
	n = strtoll(v, &end, 10);
	if (*end != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid maxNodes \"%s\"", v)));
	return http_max_nodes(true, n);
}

/* upstream's CalcPointInterval (spec §15.4): the timeline step in ms */
static int64
point_interval_ms(int64 from_ms, int64 until_ms)
{
	static const int64 table[][2] = {
		{10, 1}, {15, 10}, {35, 20}, {75, 50}, {150, 100}, {350, 200}, {750, 500},
		{1500, 1000}, {3500, 2000}, {7500, 5000}, {12500, 10000}, {17500, 15000},
		{25000, 20000}, {45000, 30000}, {90000, 60000}, {210000, 120000},
		{450000, 300000}, {750000, 600000}, {1050000, 900000}, {1500000, 1200000},
		{2700000, 1800000}, {5400000, 3600000}, {9000000, 7200000},
		{16200000, 10800000}, {32400000, 21600000}, {86400000, 43200000},
		{172800000, 86400000}, {604800000, 86400000}, {1814400000, 604800000},
		{INT64CONST(3628800000) - 1, INT64CONST(2592000000)}
	};
	int64		d = (until_ms - from_ms) / 1500;

	if (d < 15000)
		return 15000;
	for (size_t i = 0; i < lengthof(table); i++)
		if (d <= table[i][0])
			return table[i][1];
	return INT64CONST(31536000000);
}

/* Append a timeline object for one series (NULL = all zeros). */
static void
append_timeline(StringInfo b, const BucketSeries *s, int64 from_ms, int64 until_ms,
				int64 step_ms)
{
	int64		step_s = step_ms / 1000;
	int64		start_s = (from_ms / step_ms) * step_s;
	int64		end_s = (until_ms / step_ms) * step_s;
	int64		n = step_s > 0 ? (end_s - start_s) / step_s : 0;
	uint64	   *samples;

	if (n < 0)
		n = 0;
	if (n > 1000000)
		n = 1000000;
	samples = palloc0(sizeof(uint64) * Max(n, 1));
	for (int i = 0; s && i < s->npoints; i++)
	{
		int64		idx = (s->ts_ms[i] / 1000 - start_s) / step_s;

		if (idx >= 0 && idx < n && s->values_at[i] > 0)
			samples[idx] += (uint64) s->values_at[i];
	}
	appendStringInfo(b, "{\"startTime\":" INT64_FORMAT ",\"samples\":[", start_s);
	for (int64 i = 0; i < n; i++)
		appendStringInfo(b, "%s" UINT64_FORMAT, i ? "," : "", samples[i]);
	appendStringInfo(b, "],\"durationDelta\":" INT64_FORMAT ",\"watermarks\":null}", step_s);
	pfree(samples);
}

/* metadata.units of the render response (spec §11.1) */
static const char *
render_units(const RenderQuery *q)
{
	const char *t = q->sample_type;

	if (strcmp(t, "inuse_objects") == 0 || strcmp(t, "alloc_objects") == 0 ||
		strcmp(t, "goroutine") == 0 || strcmp(t, "samples") == 0)
		return "objects";
	if (strcmp(t, "cpu") == 0)
		return "samples";
	return q->sample_unit;
}

static void
append_json_str(StringInfo b, const char *s)
{
	PyroBuf		pb;

	pyro_buf_init(&pb);
	pyro_buf_append_json_str(&pb, s, strlen(s));
	if (pb.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	appendBinaryStringInfo(b, (char *) pb.data, pb.len);
	pyro_buf_free(&pb);
}

static void
append_metadata(StringInfo b, const RenderQuery *q, const char *format)
{
	appendStringInfo(b, "\"metadata\":{\"format\":\"%s\",\"spyName\":\"\",\"sampleRate\":%d,\"units\":",
					 format, strcmp(q->sample_type, "cpu") == 0 ? 1000000000 : 100);
	append_json_str(b, render_units(q));
	appendStringInfoString(b, ",\"name\":");
	append_json_str(b, q->sample_type);
	appendStringInfoChar(b, '}');
}

static void
append_flamebearer(StringInfo b, const PyroFlamegraph *fg)
{
	PyroBuf		pb;

	pyro_buf_init(&pb);
	pyro_flamegraph_json(fg, &pb);
	if (pb.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	appendBinaryStringInfo(b, (char *) pb.data, pb.len);
	pyro_buf_free(&pb);
}

/* a node limit of the DOT render: a positive integer, else none (100) */
static int
dot_nodes_param(HttpRequest *req, const char *name)
{
	const char *v = http_query_arg(req, name);
	char	   *end;
	long long	n;

	if (v == NULL || v[0] == '\0')
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*end != '\0' || errno != 0 || n <= 0)
		return 0;
	return (int) Min(n, PG_INT32_MAX);
}

/*
 * GET /pyroscope/render?format=dot (API-2.md 3.7): the merged profile of
 * the query as a DOT call graph of max-nodes (or maxNodes) nodes, 100 by
 * default; an empty body when nothing was selected.
 */
static void
render_dot(HttpRequest *req)
{
	RenderQuery q;
	ProfileSelection sel;
	int64		until_ms = time_param(req, "until", now_ms());
	int64		from_ms = time_param(req, "from", until_ms - 3600000);
	int			nodes = dot_nodes_param(req, "maxNodes");
	PyroBuf		dot;

	if (nodes == 0)
		nodes = dot_nodes_param(req, "max-nodes");
	parse_render_query(http_query_arg(req, "query"), &q);
	http_selection(req, &sel, q.profile_type, q.selector, from_ms, until_ms);
	pyroscope_selection_dot(&sel, NULL, 0, NULL, until_ms, nodes, &dot);
	if (dot.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	http_set_body(req, 200, dot.len > 0 ? "text/plain; charset=utf-8" : "text/plain",
				  (const char *) dot.data, dot.len);
}

static void render_flamegraph(HttpRequest *req);

/* GET /pyroscope/render: flame graph and timeline of one query, or DOT. */
void
http_handle_render(HttpRequest *req)
{
	const char *format = http_query_arg(req, "format");

	if (format && strcmp(format, "dot") == 0)
		render_dot(req);
	else
		render_flamegraph(req);
}

static void
render_flamegraph(HttpRequest *req)
{
	RenderQuery q;
	ProfileSelection sel;
	int64		until_ms = time_param(req, "until", now_ms());
	int64		from_ms = time_param(req, "from", until_ms - 3600000);
	int64		max_nodes = max_nodes_param(req);
	const char *format = http_query_arg(req, "format");
	const char *group_by = http_query_arg(req, "groupBy");
	const char *agg = http_query_arg(req, "aggregation");
	char	   *gb[1];
	BucketSeries *bs;
	int			nseries;
	int64		step_ms;
	PyroFlamegraph fg;
	PyroError	err;
	StringInfoData b;

	parse_render_query(http_query_arg(req, "query"), &q);
	http_selection(req, &sel, q.profile_type, q.selector, from_ms, until_ms);
	if (format && format[0] && strcmp(format, "json") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown format \"%s\"", format)));

	if (pyro_flamegraph_build(http_selection_tree(&sel, NULL, 0, NULL), max_nodes, &fg, &err)
		!= PYRO_OK)
		pyroscope_report(&err, "could not build flame graph");

	step_ms = point_interval_ms(from_ms, until_ms);
	gb[0] = (char *) group_by;
	nseries = pyroscope_series_buckets(&sel, from_ms, until_ms, step_ms, gb,
									   group_by && group_by[0] ? 1 : 0,
									   agg && strcmp(agg, "avg") == 0, 0, &bs);

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"version\":1,\"flamebearer\":");
	append_flamebearer(&b, &fg);
	appendStringInfoChar(&b, ',');
	append_metadata(&b, &q, "single");
	appendStringInfoString(&b, ",\"timeline\":");
	append_timeline(&b, nseries == 1 ? &bs[0] : NULL, from_ms, until_ms, step_ms);
	appendStringInfoString(&b, ",\"groups\":");
	if (group_by && group_by[0])
	{
		appendStringInfoChar(&b, '{');
		for (int i = 0; i < nseries; i++)
		{
			if (i)
				appendStringInfoChar(&b, ',');
			append_json_str(&b, bs[i].nlabels > 0 ? bs[i].values[0] : "*");
			appendStringInfoChar(&b, ':');
			append_timeline(&b, &bs[i], from_ms, until_ms, step_ms);
		}
		appendStringInfoChar(&b, '}');
	}
	else
		appendStringInfoString(&b, "null");
	appendStringInfoString(&b, ",\"heatmap\":null}");
	http_set_body(req, 200, "application/json", b.data, b.len);
}

/* GET /pyroscope/render-diff: the diff flame graph of two queries. */
void
http_handle_render_diff(HttpRequest *req)
{
	RenderQuery lq;
	RenderQuery rq;
	ProfileSelection ls;
	ProfileSelection rs;
	int64		now = now_ms();
	int64		max_nodes = max_nodes_param(req);
	int64		lu = time_param(req, "leftUntil", now);
	int64		lf = time_param(req, "leftFrom", lu - 3600000);
	int64		ru = time_param(req, "rightUntil", now);
	int64		rf = time_param(req, "rightFrom", ru - 3600000);
	PyroFlamegraph fg;
	PyroError	err;
	StringInfoData b;

	parse_render_query(http_query_arg(req, "leftQuery"), &lq);
	parse_render_query(http_query_arg(req, "rightQuery"), &rq);
	if (strcmp(lq.profile_type, rq.profile_type) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("left and right queries must have the same profile type")));
	http_selection(req, &ls, lq.profile_type, lq.selector, lf, lu);
	http_selection(req, &rs, rq.profile_type, rq.selector, rf, ru);
	if (pyro_flamegraph_diff(http_selection_tree(&ls, NULL, 0, NULL),
							 http_selection_tree(&rs, NULL, 0, NULL),
							 max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build diff flame graph");

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"version\":1,\"flamebearer\":");
	append_flamebearer(&b, &fg);
	appendStringInfoChar(&b, ',');
	append_metadata(&b, &lq, "double");
	if (fg.left_ticks)
		appendStringInfo(&b, ",\"leftTicks\":" INT64_FORMAT, fg.left_ticks);
	if (fg.right_ticks)
		appendStringInfo(&b, ",\"rightTicks\":" INT64_FORMAT, fg.right_ticks);
	appendStringInfoString(&b, ",\"timeline\":null,\"groups\":null,\"heatmap\":null}");
	http_set_body(req, 200, "application/json", b.data, b.len);
}

/* GET /pyroscope/label-values: a JSON array of strings (spec §11.2). */
void
http_handle_legacy_label_values(HttpRequest *req)
{
	const char *label = http_query_arg(req, "label");
	const char *query = http_query_arg(req, "query");
	int64		until_ms = time_param(req, "until", now_ms());
	int64		from_ms = time_param(req, "from", until_ms - 3600000);
	StringInfoData b;
	char	  **vals;
	uint64		n;

	if (label == NULL || label[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the \"label\" parameter is required")));
	if (strcmp(label, "__name__") == 0)
		vals = pyroscope_all_profile_type_ids(req->tenant, &n);
	else
		vals = pyroscope_label_value_list(label, query && query[0] ? query : "{}",
										  pyroscope_ms_to_timestamptz(from_ms),
										  pyroscope_ms_to_timestamptz(until_ms),
										  req->tenant, true, &n);
	initStringInfo(&b);
	appendStringInfoChar(&b, '[');
	for (uint64 i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoChar(&b, ',');
		append_json_str(&b, vals[i]);
	}
	appendStringInfoChar(&b, ']');
	http_set_body(req, 200, "application/json", b.data, b.len);
}

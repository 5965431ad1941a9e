/*-------------------------------------------------------------------------
 *
 * http_query.c
 *	  querier.v1.QuerierService over Connect (spec §7): profile types,
 *	  label names and values, series, merged flame graphs, trees and
 *	  pprof, time series, diffs, profile stats.
 *
 * A protocol adapter: every method decodes its request, asks the engine
 * (engine.h), the same as the SQL functions do, so SQL and HTTP give the
 * same answers, and encodes the answer.  A profile type
 * that was never stored yields empty results, as upstream does, not an
 * error.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "gen/pprof.pb-c.h"
#include "gen/capabilities.pb-c.h"
#include "gen/querier.pb-c.h"
#include "gen/types.pb-c.h"
#include "gen/version.pb-c.h"
#include "labels.h"
#include "pprof.h"
#include "engine.h"
#include "selector.h"

#define DEFAULT_MAX_NODES	8192
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
	int			max_length = http_limits ? http_limits->max_query_length
	: pyroscope_http_max_query_length;

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
	/* end - start may not fit in an int64 (start = -2^63, end = 2^63 - 1) */
	if (max_length > 0 && (uint64) *end - (uint64) *start > (uint64) max_length * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query time range exceeds the limit of %d s", max_length),
				 errhint("pyroscope.http_max_query_length sets it, max_query_length in pyroscope.tenant_limits per tenant.")));
}

/* An enum value the schema does not define is invalid_argument. */
static void
check_enum(const ProtobufCEnumDescriptor *d, int value, const char *what)
{
	if (protobuf_c_enum_descriptor_get_value(d, value) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown %s %d", what, value)));
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
static char *
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
	int			max = http_limits ? http_limits->max_flamegraph_nodes_max
	: pyroscope_max_flamegraph_nodes_max;

	if (!set || v == 0)
		return Min(DEFAULT_MAX_NODES, max);
	if (v < 0 || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_nodes %lld is out of range 0..%d", (long long) v, max),
				 errhint("pyroscope.max_flamegraph_nodes_max sets the most, max_flamegraph_nodes_max in pyroscope.tenant_limits per tenant.")));
	return v;
}

/* n label pairs (names[i], values[i]) as LabelPair messages */
static Types__V1__LabelPair **
label_pairs(size_t n, char **names, char **values)
{
	Types__V1__LabelPair **v = palloc(sizeof(Types__V1__LabelPair *) * Max(n, 1));

	for (size_t j = 0; j < n; j++)
	{
		Types__V1__LabelPair *lp = palloc(sizeof(Types__V1__LabelPair));

		types__v1__label_pair__init(lp);
		lp->name = names[j];
		lp->value = values[j];
		v[j] = lp;
	}
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
	sel->require_type = false;
	sel->profile_ids = NULL;
	sel->nprofile_ids = 0;
}

/* The call tree of a selection, filtered by spans and call site. */
PyroTree *
http_selection_tree(const ProfileSelection *sel, char **spans, size_t nspans,
					const Types__V1__StackTraceSelector *sts)
{
	const char **names = NULL;
	size_t		ncall = 0;

	if (sts && sts->n_call_site > 0 && sts->go_pgo == NULL)
	{
		names = palloc(sizeof(char *) * sts->n_call_site);
		for (size_t i = 0; i < sts->n_call_site; i++)
			names[i] = sts->call_site[i]->name ? sts->call_site[i]->name : "";
		ncall = sts->n_call_site;
	}
	return pyroscope_selection_tree_filtered(sel, spans, nspans, names, ncall);
}

/* The Level messages of a flame graph's levels. */
static Querier__V1__Level **
level_messages(const PyroFlamegraph *fg)
{
	Querier__V1__Level **levels = palloc(sizeof(Querier__V1__Level *) * Max(fg->nlevels, 1));

	for (uint32 d = 0; d < fg->nlevels; d++)
	{
		Querier__V1__Level *l = palloc(sizeof(Querier__V1__Level));

		querier__v1__level__init(l);
		l->n_values = fg->level_len[d];
		l->values = fg->levels[d];
		levels[d] = l;
	}
	return levels;
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
	fgm->levels = level_messages(&fg);
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
	int64		start;
	int64		end;
	char	  **ids;
	uint64		n;

	r = (Querier__V1__ProfileTypesRequest *)
		http_connect_decode(req, &querier__v1__profile_types_request__descriptor);
	start = r->start;
	end = r->end;
	check_range(&start, &end, true);
	ids = pyroscope_profile_type_ids(req->tenant, pyroscope_ms_to_timestamptz(start),
									 pyroscope_ms_to_timestamptz(end), &n);
	resp.n_profile_types = 0;
	resp.profile_types = palloc(sizeof(Types__V1__ProfileType *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		PyroProfileType pt;
		PyroError	err;
		Types__V1__ProfileType *m;

		if (pyro_profile_type_parse(ids[i], strlen(ids[i]), &pt, &err) != PYRO_OK)
			continue;
		m = palloc(sizeof(Types__V1__ProfileType));
		types__v1__profile_type__init(m);
		m->id = ids[i];
		m->name = pstrdup(pt.name);
		m->sample_type = pstrdup(pt.sample_type);
		m->sample_unit = pstrdup(pt.sample_unit);
		m->period_type = pstrdup(pt.period_type);
		m->period_unit = pstrdup(pt.period_unit);
		pyro_profile_type_free(&pt);
		resp.profile_types[resp.n_profile_types++] = m;
	}
	http_connect_reply(req, &resp.base);
}

/* Whether the client accepts UTF-8 label names (spec §14.6). */
static bool
allow_utf8_names(HttpRequest *req)
{
	const char *accept = http_header(req, "Accept");

	return accept && strstr(accept, "allow-utf8-labelnames=true") != NULL;
}

/* LabelNames: sorted label names of matching series in range. */
void
http_handle_label_names(HttpRequest *req)
{
	Types__V1__LabelNamesRequest *r;
	Types__V1__LabelNamesResponse resp = TYPES__V1__LABEL_NAMES_RESPONSE__INIT;
	char	  **names;
	uint64		n;
	bool		utf8 = allow_utf8_names(req);

	r = (Types__V1__LabelNamesRequest *)
		http_connect_decode(req, &types__v1__label_names_request__descriptor);
	check_range(&r->start, &r->end, true);
	names = pyroscope_label_name_list(http_combine_matchers(r->matchers, r->n_matchers),
									  pyroscope_ms_to_timestamptz(r->start),
									  pyroscope_ms_to_timestamptz(r->end), req->tenant, true, &n);
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
	uint64		n;

	r = (Types__V1__LabelValuesRequest *)
		http_connect_decode(req, &types__v1__label_values_request__descriptor);
	if (r->name == NULL || r->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label name is required")));
	check_range(&r->start, &r->end, true);
	resp.names = pyroscope_label_value_list(r->name,
											http_combine_matchers(r->matchers, r->n_matchers),
											pyroscope_ms_to_timestamptz(r->start),
											pyroscope_ms_to_timestamptz(r->end),
											req->tenant, true, &n);
	resp.n_names = n;
	http_connect_reply(req, &resp.base);
}

/* Series: unique label sets (projected to label_names) of matching series. */
void
http_handle_series(HttpRequest *req)
{
	Querier__V1__SeriesRequest *r;
	Querier__V1__SeriesResponse resp = QUERIER__V1__SERIES_RESPONSE__INIT;
	PyroLabelRow *rows;
	uint64		n;

	r = (Querier__V1__SeriesRequest *)
		http_connect_decode(req, &querier__v1__series_request__descriptor);
	check_range(&r->start, &r->end, true);
	rows = pyroscope_series_label_sets(http_combine_matchers(r->matchers, r->n_matchers),
									   pyroscope_ms_to_timestamptz(r->start),
									   pyroscope_ms_to_timestamptz(r->end), req->tenant,
									   r->label_names, (int) r->n_label_names,
									   allow_utf8_names(req), &n);
	resp.labels_set = palloc(sizeof(Types__V1__Labels *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		Types__V1__Labels *ls = palloc(sizeof(Types__V1__Labels));

		types__v1__labels__init(ls);
		ls->n_labels = rows[i].n;
		ls->labels = label_pairs(ls->n_labels, rows[i].names, rows[i].values);
		resp.labels_set[resp.n_labels_set++] = ls;
	}
	http_connect_reply(req, &resp.base);
}


/*
 * The span filter of a request (API-2.md 3.2): its span_selector, or the
 * spans of its trace_id_selector (32 hex digits each) in the selection;
 * the two cannot be combined.  Traces with no span in the selection
 * select nothing.
 */
static void
span_filter(ProfileSelection *sel, char **traces, size_t ntraces, char **spans, size_t nspans,
			char ***out, size_t *nout)
{
	uint64	   *t;

	if (ntraces > 0 && nspans > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("span_selector and trace_id_selector cannot be combined")));
	*out = spans;
	*nout = nspans;
	if (ntraces == 0)
		return;
	if (ntraces > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("trace_id_selector of %zu ids exceeds the limit of 10000", ntraces)));
	t = palloc(sizeof(uint64) * 2 * ntraces);
	for (size_t i = 0; i < ntraces; i++)
	{
		const char *s = traces[i] ? traces[i] : "";

		t[2 * i] = t[2 * i + 1] = 0;
		for (int k = 0; k < 32; k++)
		{
			int			x = s[k] ? pyro_hex_digit((unsigned char) s[k]) : -1;

			if (x < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid trace id \"%s\": 32 hex digits expected", s)));
			t[2 * i + k / 16] = (t[2 * i + k / 16] << 4) | (uint64) x;
		}
		if (s[32] != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid trace id \"%s\": 32 hex digits expected", s)));
	}
	*out = pyroscope_selection_spans_of_traces(sel, t, (int) ntraces, nout);
	if (*nout == 0)
		pyroscope_selection_set_profile_ids(sel, palloc(sizeof(pg_uuid_t)), 0);
}

/*
 * A profile id in any form Go's uuid.Parse accepts (API-2.md 3.2): 36
 * characters with hyphens, 32 hex digits, either in braces, or after
 * "urn:uuid:".  Anything else is invalid_argument.
 */
static void
parse_profile_id(const char *s, pg_uuid_t *out)
{
	size_t		len = strlen(s);
	int			k = 0;

	if (len == 45 && pg_strncasecmp(s, "urn:uuid:", 9) == 0)
	{
		s += 9;
		len -= 9;
	}
	else if ((len == 38 || len == 34) && s[0] == '{' && s[len - 1] == '}')
	{
		s++;
		len -= 2;
	}
	if (len == 36 || len == 32)
	{
		for (size_t i = 0; i < len; i++)
		{
			int			hi,
						lo;

			if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23))
			{
				if (s[i] != '-')
					break;
				continue;
			}
			if (i + 1 >= len || (hi = pyro_hex_digit((unsigned char) s[i])) < 0 || (lo = pyro_hex_digit((unsigned char) s[i + 1])) < 0)
				break;
			out->data[k++] = (unsigned char) (hi << 4 | lo);
			i++;
		}
	}
	if (k != UUID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid profile id \"%s\"", s)));
}

/* Restrict a selection to the profiles a profile_id_selector names. */
static void
select_profile_ids(ProfileSelection *sel, char **ids, size_t n)
{
	pg_uuid_t  *v;

	if (n == 0)
		return;
	if (n > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("profile_id_selector of %zu ids exceeds the limit of 100000", n)));
	v = palloc(sizeof(pg_uuid_t) * n);
	for (size_t i = 0; i < n; i++)
		parse_profile_id(ids[i] ? ids[i] : "", &v[i]);
	pyroscope_selection_set_profile_ids(sel, v, (int) n);
}

/*
 * A request's stack trace selector for the pprof outputs (call site, or
 * go_pgo, which then wins), in out; NULL when it selects nothing.
 */
static const PyroStackSelector *
stack_selector(const Types__V1__StackTraceSelector *sts, PyroStackSelector *out)
{
	memset(out, 0, sizeof(*out));
	if (sts == NULL)
		return NULL;
	if (sts->go_pgo)
	{
		out->go_pgo = true;
		out->keep_locations = sts->go_pgo->keep_locations;
		out->aggregate_callees = sts->go_pgo->aggregate_callees;
		return out;
	}
	if (sts->n_call_site == 0)
		return NULL;
	{
		const char **names = palloc(sizeof(char *) * sts->n_call_site);

		for (size_t i = 0; i < sts->n_call_site; i++)
			names[i] = sts->call_site[i]->name ? sts->call_site[i]->name : "";
		out->call_site = names;
		out->ncall = sts->n_call_site;
	}
	return out;
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
	char	  **spans;
	size_t		nspans;

	r = (Querier__V1__SelectMergeStacktracesRequest *)
		http_connect_decode(req, &querier__v1__select_merge_stacktraces_request__descriptor);
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	max_nodes = http_max_nodes(r->opt_max_nodes_case ==
							   QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES,
							   r->max_nodes);
	select_profile_ids(&sel, r->profile_id_selector, r->n_profile_id_selector);
	span_filter(&sel, r->trace_id_selector, r->n_trace_id_selector, r->span_selector,
				r->n_span_selector, &spans, &nspans);

	switch (r->format)
	{
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_UNSPECIFIED:
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_FLAMEGRAPH:
			resp.flamegraph = flamegraph_message(http_selection_tree(&sel, spans, nspans,
																	 r->stack_trace_selector),
												 max_nodes);
			break;
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE:
			{
				PyroBuf		tb;
				PyroError	err;
				PyroTree   *t = http_selection_tree(&sel, spans, nspans,
													r->stack_trace_selector);

				pyro_buf_init(&tb);
				if (pyro_tree_serialize(t, max_nodes, &tb, &err) != PYRO_OK)
					pyroscope_report(&err, "could not serialise tree");
				resp.tree.data = tb.data;
				resp.tree.len = tb.len;
				break;
			}
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_DOT:
			{
				PyroBuf		dot;
				PyroStackSelector ss;

				/* node limit: max_nodes when given and positive, else 100 */
				pyroscope_selection_dot(&sel, spans, nspans,
										stack_selector(r->stack_trace_selector, &ss), r->end,
										r->opt_max_nodes_case ==
										QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES &&
										r->max_nodes > 0 ? (int) Min(r->max_nodes, PG_INT32_MAX) : 0,
										&dot);
				if (dot.len > 0)
				{
					pyro_buf_append_byte(&dot, '\0');
					if (dot.oom)
						ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
					resp.dot = (char *) dot.data;
				}
				break;
			}
		case QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF:
			{
				PyroBuf		raw;
				PyroStackSelector ss;
				Querier__V1__PprofProfile *pp = palloc(sizeof(Querier__V1__PprofProfile));

				pyroscope_selection_pprof_raw(&sel, spans, nspans,
											  stack_selector(r->stack_trace_selector, &ss),
											  r->end, &raw);
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
			check_enum(&querier__v1__profile_format__descriptor, (int) r->format,
					   "profile format");
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
	check_enum(&querier__v1__profile_format__descriptor, (int) r->format, "profile format");
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
	PyroStackSelector ss;
	PyroBuf		raw;
	char	  **spans;
	size_t		nspans;

	r = (Querier__V1__SelectMergeProfileRequest *)
		http_connect_decode(req, &querier__v1__select_merge_profile_request__descriptor);
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	select_profile_ids(&sel, r->profile_id_selector, r->n_profile_id_selector);
	span_filter(&sel, r->trace_id_selector, r->n_trace_id_selector, NULL, 0, &spans, &nspans);
	pyroscope_selection_pprof_raw(&sel, spans, nspans, stack_selector(r->stack_trace_selector, &ss),
								  r->end, &raw);
	http_connect_reply_packed(req, &perftools__profiles__profile__descriptor, raw.data, raw.len);
}

/* the Exemplar message of a point's exemplar (API-2.md 3.4) */
static void
point_exemplar(Types__V1__Point *pt, const BucketExemplar *ex)
{
	Types__V1__Exemplar *e = palloc(sizeof(Types__V1__Exemplar));

	types__v1__exemplar__init(e);
	e->timestamp = ex->ts_ms;
	e->profile_id = ex->profile_id;
	e->value = ex->value;
	e->n_labels = ex->nlabels;
	e->labels = label_pairs(ex->nlabels, ex->names, ex->values);
	pt->n_exemplars = 1;
	pt->exemplars = palloc(sizeof(Types__V1__Exemplar *));
	pt->exemplars[0] = e;
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
	check_enum(&types__v1__exemplar_type__descriptor, (int) r->exemplar_type, "exemplar type");
	if (r->opt_aggregation_case == QUERIER__V1__SELECT_SERIES_REQUEST__OPT_AGGREGATION_AGGREGATION)
		check_enum(&types__v1__time_series_aggregation_type__descriptor, (int) r->aggregation,
				   "aggregation type");
	if (r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("exemplar type span is not implemented"),
				 errdetail("Span exemplars exist only in SelectHeatmap, as upstream's.")));
	if (r->opt_limit_case == QUERIER__V1__SELECT_SERIES_REQUEST__OPT_LIMIT_LIMIT)
		limit = r->limit;
	step_ms = (int64) (r->step * 1000);
	average = r->opt_aggregation_case == QUERIER__V1__SELECT_SERIES_REQUEST__OPT_AGGREGATION_AGGREGATION &&
		r->aggregation == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
	n = pyroscope_series_buckets(&sel, r->start, r->end, step_ms, r->group_by,
								 (int) r->n_group_by, average, limit, &bs);
	if (r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL)
		pyroscope_series_exemplars(&sel, r->start, r->end, step_ms, r->group_by,
								   (int) r->n_group_by, bs, n);
	resp.n_series = n;
	resp.series = palloc(sizeof(Types__V1__Series *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		Types__V1__Series *s = palloc(sizeof(Types__V1__Series));

		types__v1__series__init(s);
		s->n_labels = bs[i].nlabels;
		s->labels = label_pairs(bs[i].nlabels, bs[i].names, bs[i].values);
		s->n_points = bs[i].npoints;
		s->points = palloc(sizeof(Types__V1__Point *) * Max(bs[i].npoints, 1));
		for (int j = 0; j < bs[i].npoints; j++)
		{
			Types__V1__Point *pt = palloc(sizeof(Types__V1__Point));

			types__v1__point__init(pt);
			pt->timestamp = bs[i].ts_ms[j];
			pt->value = bs[i].values_at[j];
			if (bs[i].exemplars && bs[i].exemplars[j].set)
				point_exemplar(pt, &bs[i].exemplars[j]);
			s->points[j] = pt;
		}
		resp.series[i] = s;
	}
	http_connect_reply(req, &resp.base);
}

/* the Exemplar message of a heatmap cell */
static Types__V1__Exemplar *
heatmap_exemplar(const HeatmapExemplar *ex)
{
	Types__V1__Exemplar *e = palloc(sizeof(Types__V1__Exemplar));

	types__v1__exemplar__init(e);
	e->timestamp = ex->ts_ms;
	e->value = ex->value;
	if (ex->profile_id)
		e->profile_id = ex->profile_id;
	if (ex->span_id)
		e->span_id = ex->span_id;
	if (ex->trace_id)
		e->trace_id = ex->trace_id;
	e->n_labels = ex->nlabels;
	e->labels = label_pairs(ex->nlabels, ex->names, ex->values);
	return e;
}

/*
 * SelectHeatmap (API-2.md 3.5): the individual profiles (INDIVIDUAL) or
 * the spans of their samples (SPAN) of a selection, counted by time slot
 * and value bucket, with each cell's highest point as its exemplar.
 */
void
http_handle_select_heatmap(HttpRequest *req)
{
	Querier__V1__SelectHeatmapRequest *r;
	Querier__V1__SelectHeatmapResponse resp = QUERIER__V1__SELECT_HEATMAP_RESPONSE__INIT;
	ProfileSelection sel;
	HeatmapQuery q;
	HeatmapResult hr;
	int64		limit = 0;

	r = (Querier__V1__SelectHeatmapRequest *)
		http_connect_decode(req, &querier__v1__select_heatmap_request__descriptor);
	if (!(r->step >= 0.001) || r->step > 1e9)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step must be at least 0.001 seconds")));
	if (r->opt_limit_case == QUERIER__V1__SELECT_HEATMAP_REQUEST__OPT_LIMIT_LIMIT)
	{
		if (r->limit < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("limit must not be negative")));
		limit = r->limit;
	}
	if (r->start >= r->end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the heatmap's start must be before its end")));
	http_selection(req, &sel, r->profile_typeid, r->label_selector, r->start, r->end);
	check_enum(&querier__v1__heatmap_query_type__descriptor, (int) r->query_type,
			   "heatmap query type");
	check_enum(&types__v1__exemplar_type__descriptor, (int) r->exemplar_type, "exemplar type");
	if (r->query_type == QUERIER__V1__HEATMAP_QUERY_TYPE__HEATMAP_QUERY_TYPE_UNSPECIFIED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid heatmap query type must be specified")));
	if ((r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL &&
		 r->query_type != QUERIER__V1__HEATMAP_QUERY_TYPE__HEATMAP_QUERY_TYPE_INDIVIDUAL) ||
		(r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN &&
		 r->query_type != QUERIER__V1__HEATMAP_QUERY_TYPE__HEATMAP_QUERY_TYPE_SPAN))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("exemplar type %d does not go with heatmap query type %d",
						(int) r->exemplar_type, (int) r->query_type)));

	memset(&q, 0, sizeof(q));
	q.sel = &sel;
	q.start_ms = r->start;
	q.end_ms = r->end;
	q.step_ms = (int64) (r->step * 1000);
	q.group_by = r->group_by;
	q.ngroup_by = (int) r->n_group_by;
	q.span = r->query_type == QUERIER__V1__HEATMAP_QUERY_TYPE__HEATMAP_QUERY_TYPE_SPAN;
	q.exemplars = r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL ||
		r->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN;
	q.limit = limit;
	pyroscope_heatmap(&q, &hr);

	resp.n_series = hr.nseries;
	resp.series = palloc(sizeof(Types__V1__HeatmapSeries *) * Max(hr.nseries, 1));
	for (int i = 0; i < hr.nseries; i++)
	{
		const HeatmapSeries *hs = &hr.series[i];
		Types__V1__HeatmapSeries *s = palloc(sizeof(Types__V1__HeatmapSeries));

		types__v1__heatmap_series__init(s);
		s->n_labels = hs->nlabels;
		s->labels = label_pairs(hs->nlabels, hs->names, hs->values);
		s->n_slots = hs->nslots;
		s->slots = palloc(sizeof(Types__V1__HeatmapSlot *) * Max(hs->nslots, 1));
		for (int k = 0; k < hs->nslots; k++)
		{
			const HeatmapSlotOut *so = &hs->slots[k];
			Types__V1__HeatmapSlot *sl = palloc(sizeof(Types__V1__HeatmapSlot));

			types__v1__heatmap_slot__init(sl);
			sl->timestamp = so->ts;
			sl->n_y_min = lengthof(hr.y_min);
			sl->y_min = hr.y_min;
			sl->n_counts = lengthof(so->counts);
			sl->counts = (int32_t *) so->counts;
			sl->n_exemplars = so->nex;
			sl->exemplars = palloc(sizeof(Types__V1__Exemplar *) * Max(so->nex, 1));
			for (int e = 0; e < so->nex; e++)
				sl->exemplars[e] = heatmap_exemplar(&so->ex[e]);
			s->slots[k] = sl;
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
	char	  **lspans;
	char	  **rspans;
	size_t		nlspans;
	size_t		nrspans;
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
	select_profile_ids(&ls, r->left->profile_id_selector, r->left->n_profile_id_selector);
	select_profile_ids(&rs, r->right->profile_id_selector, r->right->n_profile_id_selector);
	span_filter(&ls, r->left->trace_id_selector, r->left->n_trace_id_selector,
				r->left->span_selector, r->left->n_span_selector, &lspans, &nlspans);
	span_filter(&rs, r->right->trace_id_selector, r->right->n_trace_id_selector,
				r->right->span_selector, r->right->n_span_selector, &rspans, &nrspans);
	max_nodes = Max(http_max_nodes(r->left->opt_max_nodes_case ==
								   QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES,
								   r->left->max_nodes),
					http_max_nodes(r->right->opt_max_nodes_case ==
								   QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES,
								   r->right->max_nodes));
	if (pyro_flamegraph_diff(http_selection_tree(&ls, lspans, nlspans,
												 r->left->stack_trace_selector),
							 http_selection_tree(&rs, rspans, nrspans,
												 r->right->stack_trace_selector),
							 max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build diff flame graph");
	fgm = palloc(sizeof(Querier__V1__FlameGraphDiff));
	querier__v1__flame_graph_diff__init(fgm);
	fgm->n_names = fg.nnames;
	fgm->names = fg.names;
	fgm->n_levels = fg.nlevels;
	fgm->levels = level_messages(&fg);
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
	TimestampTz oldest;
	TimestampTz newest;

	(void) http_connect_decode(req, &types__v1__get_profile_stats_request__descriptor);
	resp.data_ingested = pyroscope_profile_time_span(req->tenant, &oldest, &newest);
	resp.oldest_profile_time = resp.data_ingested ? pyroscope_timestamptz_to_ms(oldest) : PG_INT64_MAX;
	resp.newest_profile_time = resp.data_ingested ? pyroscope_timestamptz_to_ms(newest) : PG_INT64_MIN;
	http_connect_reply(req, &resp.base);
}

/*
 * AnalyzeQuery: what the query (<profile type>{selector}) would read over
 * start..end, per tier (head as upstream's "Short term storage", blocks as
 * "Long term storage"), as upstream v1 answers; without a time range an
 * empty answer, as upstream v2 gives.  A query that does not parse is
 * invalid_argument.
 */
void
http_handle_analyze_query(HttpRequest *req)
{
	Querier__V1__AnalyzeQueryResponse resp = QUERIER__V1__ANALYZE_QUERY_RESPONSE__INIT;
	Querier__V1__AnalyzeQueryRequest *r;

	r = (Querier__V1__AnalyzeQueryRequest *)
		http_connect_decode(req, &querier__v1__analyze_query_request__descriptor);
	if (r->query && r->query[0] != '\0')
	{
		PyroSelector *ps;
		PyroError	err;

		if (pyro_selector_parse(r->query, strlen(r->query), &ps, &err) != PYRO_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid query \"%s\": %s", r->query, err.msg)));
		if (ps->metric_name && strchr(ps->metric_name, ':'))
			(void) http_check_profile_type(ps->metric_name);
		pyro_selector_free(ps);
	}
	if (r->start != 0 || r->end != 0)
	{
		ProfileSelection sel;
		SelectionScope tiers[2];
		const char *const names[2] = {"Short term storage", "Long term storage"};
		uint64		nseries;

		check_range(&r->start, &r->end, false);
		sel.tenant = req->tenant;
		sel.profile_type = NULL;
		sel.selector = r->query && r->query[0] ? r->query : "{}";
		sel.start = pyroscope_ms_to_timestamptz(r->start);
		sel.end = pyroscope_ms_to_timestamptz(r->end);
		sel.require_type = false;
		sel.profile_ids = NULL;
		sel.nprofile_ids = 0;
		nseries = pyroscope_selection_analyze(&sel, &tiers[0], &tiers[1]);

		resp.n_query_scopes = 2;
		resp.query_scopes = palloc(sizeof(Querier__V1__QueryScope *) * 2);
		for (int i = 0; i < 2; i++)
		{
			Querier__V1__QueryScope *qs = palloc(sizeof(Querier__V1__QueryScope));

			querier__v1__query_scope__init(qs);
			qs->component_type = (char *) names[i];
			qs->component_count = 1;
			qs->block_count = tiers[i].blocks;
			qs->series_count = tiers[i].series;
			qs->profile_count = tiers[i].profiles;
			qs->sample_count = tiers[i].samples;
			qs->profile_bytes = tiers[i].bytes;
			resp.query_scopes[i] = qs;
		}
		resp.query_impact = palloc(sizeof(Querier__V1__QueryImpact));
		querier__v1__query_impact__init(resp.query_impact);
		resp.query_impact->total_bytes_in_time_range = tiers[0].bytes + tiers[1].bytes;
		resp.query_impact->total_queried_series = nseries;
		resp.query_impact->deduplication_needed = false;
	}
	http_connect_reply(req, &resp.base);
}

/*
 * capabilities.v1.FeatureFlagsService/GetFeatureFlags (API-2.md 3.6):
 * upstream's flags, sorted by name, each enabled only if the feature works
 * here, and functionProjections, which Profiles Drilldown reads (server-side
 * function projections need PROFILE_FORMAT_FUNCTION_TREE, not served).
 */
void
http_handle_feature_flags(HttpRequest *req)
{
	static const struct
	{
		const char *name;
		const char *description;
		bool		enabled;
	}			flags[] = {
		{"functionProjections", "Server-side function projections (PROFILE_FORMAT_FUNCTION_TREE).", false},
		{"pyroscopeRuler", "Recording rules (the Pyroscope ruler).", false},
		{"pyroscopeRulerFunctions", "Function-level recording rules.", false},
		{"utf8LabelNames", "UTF-8 label names in the read and write APIs.", false},

		/*
		 * what it stands for upstream works here: profile ids, exemplars,
		 * heatmaps
		 */
		{"v2StorageLayer", "Pyroscope 2.x storage and query features (profile ids, exemplars, heatmaps).", true},
	};
	Capabilities__V1__GetFeatureFlagsResponse resp =
	CAPABILITIES__V1__GET_FEATURE_FLAGS_RESPONSE__INIT;

	(void) http_connect_decode(req, &capabilities__v1__get_feature_flags_request__descriptor);
	resp.n_feature_flags = lengthof(flags);
	resp.feature_flags = palloc(sizeof(Capabilities__V1__FeatureFlag *) * lengthof(flags));
	for (size_t i = 0; i < lengthof(flags); i++)
	{
		Capabilities__V1__FeatureFlag *f = palloc(sizeof(Capabilities__V1__FeatureFlag));

		capabilities__v1__feature_flag__init(f);
		f->name = (char *) flags[i].name;
		f->enabled = flags[i].enabled;
		f->description = (char *) flags[i].description;
		resp.feature_flags[i] = f;
	}
	http_connect_reply(req, &resp.base);
}

/* version.v1.Version/Version: the querier API version, 1 as upstream's. */
void
http_handle_version(HttpRequest *req)
{
	Version__V1__VersionResponse resp = VERSION__V1__VERSION_RESPONSE__INIT;

	(void) http_connect_decode(req, &version__v1__version_request__descriptor);
	resp.querierapi = 1;
	http_connect_reply(req, &resp.base);
}

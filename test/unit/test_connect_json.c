/*-------------------------------------------------------------------------
 *
 * test_connect_json.c
 *	  Unit tests for the protobuf-JSON converter (connect_json.c): the
 *	  spec §3 rules and examples, Drilldown's mixed keys, round trips of
 *	  messages of every .proto, and hostile input.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "unit.h"
#include "suites.h"
#include "connect_json.h"
#include "pbc_alloc.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "settings.pb-c.h"
#include "types.pb-c.h"

static void
msg_free(void *m)
{
	if (m != NULL)
		protobuf_c_message_free_unpacked((ProtobufCMessage *) m,
										 (ProtobufCAllocator *) pyro_protobuf_allocator());
}

/* parse s (NUL-terminated) as d; returns the message or NULL */
static void *
parse(const ProtobufCMessageDescriptor *d, const char *s, PyroError *err)
{
	ProtobufCMessage *m = NULL;

	if (pyro_json_to_message(d, s, strlen(s), &m, err) != PYRO_OK)
		return NULL;
	return m;
}

static PyroStatus
parse_status(const ProtobufCMessageDescriptor *d, const char *s)
{
	ProtobufCMessage *m = NULL;
	PyroError	err;
	PyroStatus	st = pyro_json_to_message(d, s, strlen(s), &m, &err);

	if (st == PYRO_OK)
		msg_free(m);
	else
		CHECK(m == NULL && err.msg[0] != '\0');
	return st;
}

/* JSON of m as a NUL-terminated string (caller frees with pyro_buf_free) */
static const char *
to_json(const void *m, PyroBuf *b)
{
	pyro_buf_init(b);
	if (pyro_message_to_json((const ProtobufCMessage *) m, b) != PYRO_OK)
		return NULL;
	pyro_buf_append_byte(b, '\0');
	return (const char *) b->data;
}

/* proto -> JSON -> proto must give the same binary packing */
static bool
round_trip(const ProtobufCMessage *m)
{
	PyroBuf		b;
	ProtobufCMessage *back = NULL;
	PyroError	err;
	size_t		n1,
				n2;
	uint8_t    *p1,
			   *p2;
	bool		same;

	pyro_buf_init(&b);
	if (pyro_message_to_json(m, &b) != PYRO_OK)
		return false;
	if (pyro_json_to_message(m->descriptor, (const char *) b.data, b.len, &back, &err) != PYRO_OK)
	{
		fprintf(stderr, "  round trip parse failed: %s\n  json: %.*s\n", err.msg,
				(int) b.len, (const char *) b.data);
		pyro_buf_free(&b);
		return false;
	}
	n1 = protobuf_c_message_get_packed_size(m);
	n2 = protobuf_c_message_get_packed_size(back);
	p1 = malloc(n1 + 1);
	p2 = malloc(n2 + 1);
	protobuf_c_message_pack(m, p1);
	protobuf_c_message_pack(back, p2);
	same = (n1 == n2 && memcmp(p1, p2, n1) == 0);
	if (!same)
		fprintf(stderr, "  round trip differs; json: %.*s\n", (int) b.len, (const char *) b.data);
	free(p1);
	free(p2);
	msg_free(back);
	pyro_buf_free(&b);
	return same;
}

/* The SelectMergeStacktracesResponse example of spec §3, built by hand. */
TEST(flamegraph_example_exact)
{
	Querier__V1__SelectMergeStacktracesResponse resp = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
	Querier__V1__FlameGraph fg = QUERIER__V1__FLAME_GRAPH__INIT;
	Querier__V1__Level l0 = QUERIER__V1__LEVEL__INIT,
				l1 = QUERIER__V1__LEVEL__INIT,
				l2 = QUERIER__V1__LEVEL__INIT;
	Querier__V1__Level *levels[3] = {&l0, &l1, &l2};
	char	   *names[4] = {"total", "main", "b", "a"};
	int64_t		v0[] = {0, 6, 0, 0};
	int64_t		v1[] = {0, 6, 1, 1};
	int64_t		v2[] = {1, 3, 3, 3, 0, 2, 2, 2};
	PyroBuf		b;

	l0.n_values = 4;
	l0.values = v0;
	l1.n_values = 4;
	l1.values = v1;
	l2.n_values = 8;
	l2.values = v2;
	fg.n_names = 4;
	fg.names = names;
	fg.n_levels = 3;
	fg.levels = levels;
	fg.total = 6;
	fg.max_self = 3;
	resp.flamegraph = &fg;
	CHECK_EQ_STR(to_json(&resp, &b),
				 "{\"flamegraph\":{\"names\":[\"total\",\"main\",\"b\",\"a\"],"
				 "\"levels\":[{\"values\":[\"0\",\"6\",\"0\",\"0\"]},{\"values\":[\"0\",\"6\",\"1\",\"1\"]},"
				 "{\"values\":[\"1\",\"3\",\"3\",\"3\",\"0\",\"2\",\"2\",\"2\"]}],"
				 "\"total\":\"6\",\"maxSelf\":\"3\"}}");
	pyro_buf_free(&b);
	CHECK(round_trip(&resp.base));

	/* total 0 is omitted, an empty repeated field too */
	fg.total = 0;
	fg.n_levels = 0;
	CHECK_EQ_STR(to_json(&resp, &b),
				 "{\"flamegraph\":{\"names\":[\"total\",\"main\",\"b\",\"a\"],\"maxSelf\":\"3\"}}");
	pyro_buf_free(&b);
}

/* The spec's example as a client would send it back parses to the same values. */
TEST(flamegraph_example_parse)
{
	PyroError	err;
	Querier__V1__SelectMergeStacktracesResponse *r =
	parse(&querier__v1__select_merge_stacktraces_response__descriptor,
		  "{\"flamegraph\":{\"names\":[\"total\",\"main\",\"b\",\"a\"],\n"
		  " \"levels\":[{\"values\":[\"0\",\"6\",\"0\",\"0\"]},{\"values\":[\"0\",\"6\",\"1\",\"1\"]},\n"
		  "           {\"values\":[\"1\",\"3\",\"3\",\"3\",\"0\",\"2\",\"2\",\"2\"]}],\n"
		  " \"total\":\"6\",\"maxSelf\":\"3\"}}", &err);

	REQUIRE(r != NULL);
	REQUIRE(r->flamegraph != NULL);
	CHECK_EQ_INT(r->flamegraph->n_names, 4);
	CHECK_EQ_STR(r->flamegraph->names[3], "a");
	REQUIRE(r->flamegraph->n_levels == 3);
	CHECK_EQ_INT(r->flamegraph->levels[2]->n_values, 8);
	CHECK_EQ_INT(r->flamegraph->levels[2]->values[1], 3);
	CHECK_EQ_INT(r->flamegraph->levels[2]->values[7], 2);
	CHECK_EQ_INT(r->flamegraph->total, 6);
	CHECK_EQ_INT(r->flamegraph->max_self, 3);
	msg_free(r);
}

/* Drilldown mixes snake_case and camelCase keys in one body (spec §3). */
TEST(drilldown_mixed_keys)
{
	PyroError	err;
	Querier__V1__SelectMergeStacktracesRequest *r =
	parse(&querier__v1__select_merge_stacktraces_request__descriptor,
		  "{\"profile_typeID\":\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\","
		  "\"label_selector\":\"{service_name=\\\"ride-sharing-app\\\"}\","
		  "\"start\":1700000000000,\"end\":\"1700003600000\","
		  "\"stackTraceSelector\":{\"call_site\":[{\"name\":\"main\"},{\"name\":\"run\"}]},"
		  "\"maxNodes\":16384,\"format\":\"PROFILE_FORMAT_TREE\"}", &err);

	REQUIRE(r != NULL);
	CHECK_EQ_STR(r->profile_typeid, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	CHECK_EQ_STR(r->label_selector, "{service_name=\"ride-sharing-app\"}");
	CHECK_EQ_INT(r->start, 1700000000000LL);
	CHECK_EQ_INT(r->end, 1700003600000LL);
	CHECK_EQ_INT(r->opt_max_nodes_case,
				 QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__OPT_MAX_NODES_MAX_NODES);
	CHECK_EQ_INT(r->max_nodes, 16384);
	CHECK_EQ_INT(r->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE);
	REQUIRE(r->stack_trace_selector != NULL);
	REQUIRE(r->stack_trace_selector->n_call_site == 2);
	CHECK_EQ_STR(r->stack_trace_selector->call_site[0]->name, "main");
	CHECK_EQ_STR(r->stack_trace_selector->call_site[1]->name, "run");
	CHECK(r->stack_trace_selector->go_pgo == NULL);
	msg_free(r);
}

/* Output keys are json_names: profile_typeID -> profileTypeID, leftTicks stays. */
TEST(output_json_names)
{
	Querier__V1__SelectMergeStacktracesRequest r = QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
	Querier__V1__FlameGraphDiff d = QUERIER__V1__FLAME_GRAPH_DIFF__INIT;
	Settings__V1__Setting s = SETTINGS__V1__SETTING__INIT;
	Types__V1__ProfileType pt = TYPES__V1__PROFILE_TYPE__INIT;
	PyroBuf		b;

	r.profile_typeid = "memory:alloc_space:bytes::";
	r.label_selector = "{}";
	r.start = -5;
	CHECK_EQ_STR(to_json(&r, &b),
				 "{\"profileTypeID\":\"memory:alloc_space:bytes::\",\"labelSelector\":\"{}\",\"start\":\"-5\"}");
	pyro_buf_free(&b);

	d.leftticks = 7;
	d.rightticks = 9;
	CHECK_EQ_STR(to_json(&d, &b), "{\"leftTicks\":\"7\",\"rightTicks\":\"9\"}");
	pyro_buf_free(&b);

	s.name = "pluginSettings";
	s.modifiedat = 1;
	CHECK_EQ_STR(to_json(&s, &b), "{\"name\":\"pluginSettings\",\"modifiedAt\":\"1\"}");
	pyro_buf_free(&b);

	pt.id = "x";
	pt.sample_type = "cpu";
	CHECK_EQ_STR(to_json(&pt, &b), "{\"ID\":\"x\",\"sampleType\":\"cpu\"}");
	pyro_buf_free(&b);
}

/* proto3 optional: present iff set, even when zero, on input and output. */
TEST(optional_presence)
{
	PyroError	err;
	PyroBuf		b;
	Querier__V1__SelectSeriesRequest *r;

	r = parse(&querier__v1__select_series_request__descriptor,
			  "{\"limit\":0,\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_SUM\",\"step\":15}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->opt_limit_case, QUERIER__V1__SELECT_SERIES_REQUEST__OPT_LIMIT_LIMIT);
	CHECK_EQ_INT(r->limit, 0);
	CHECK_EQ_INT(r->opt_aggregation_case,
				 QUERIER__V1__SELECT_SERIES_REQUEST__OPT_AGGREGATION_AGGREGATION);
	CHECK(r->step == 15.0);
	CHECK_EQ_STR(to_json(r, &b),
				 "{\"step\":15,\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_SUM\",\"limit\":\"0\"}");
	pyro_buf_free(&b);
	CHECK(round_trip(&r->base));
	msg_free(r);

	/* null = absent */
	r = parse(&querier__v1__select_series_request__descriptor,
			  "{\"limit\":5,\"limit\":null,\"aggregation\":null}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->opt_limit_case, QUERIER__V1__SELECT_SERIES_REQUEST__OPT_LIMIT__NOT_SET);
	CHECK_EQ_INT(r->opt_aggregation_case,
				 QUERIER__V1__SELECT_SERIES_REQUEST__OPT_AGGREGATION__NOT_SET);
	CHECK_EQ_STR(to_json(r, &b), "{}");
	pyro_buf_free(&b);
	msg_free(r);
}

/* 64-bit integers: numbers or strings, exact limits, exponents when integral. */
TEST(int64_rules)
{
	PyroError	err;
	Types__V1__LabelValuesRequest *r;
	const ProtobufCMessageDescriptor *d = &types__v1__label_values_request__descriptor;

	r = parse(d, "{\"start\":\"-9223372036854775808\",\"end\":9223372036854775807}", &err);
	REQUIRE(r != NULL);
	CHECK(r->start == INT64_MIN);
	CHECK(r->end == INT64_MAX);
	msg_free(r);

	r = parse(d, "{\"start\":1e3,\"end\":\"2.5E1\"}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->start, 1000);
	/* 2.5E1 = 25 exactly */
	CHECK_EQ_INT(r->end, 25);
	msg_free(r);

	r = parse(d, "{\"start\":-0,\"end\":1000000000000000000000e-21}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->start, 0);
	CHECK_EQ_INT(r->end, 1);
	msg_free(r);

	CHECK_EQ_INT(parse_status(d, "{\"start\":9223372036854775808}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":\"-9223372036854775809\"}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":1.5}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":1e400}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":\"12a\"}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":\" 12\"}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":012}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":+1}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":true}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":1.}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":1e}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":-}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"start\":\"\"}"), PYRO_EINVAL);
}

/* 32-bit and unsigned integers; uint64 as string. */
TEST(int32_uint_rules)
{
	PyroError	err;
	Types__V1__BlockCompaction *c;
	Types__V1__GoPGO *g;
	Querier__V1__QueryScope *q;
	Types__V1__HeatmapSlot *h;
	PyroBuf		b;

	c = parse(&types__v1__block_compaction__descriptor, "{\"level\":\"-2147483648\"}", &err);
	REQUIRE(c != NULL);
	CHECK(c->level == INT32_MIN);
	msg_free(c);
	CHECK_EQ_INT(parse_status(&types__v1__block_compaction__descriptor, "{\"level\":2147483648}"),
				 PYRO_EINVAL);

	g = parse(&types__v1__go_pgo__descriptor,
			  "{\"keep_locations\":4294967295,\"aggregateCallees\":true}", &err);
	REQUIRE(g != NULL);
	CHECK(g->keep_locations == UINT32_MAX);
	CHECK(g->aggregate_callees);
	CHECK_EQ_STR(to_json(g, &b), "{\"keepLocations\":4294967295,\"aggregateCallees\":true}");
	pyro_buf_free(&b);
	msg_free(g);
	CHECK_EQ_INT(parse_status(&types__v1__go_pgo__descriptor, "{\"keepLocations\":-1}"),
				 PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(&types__v1__go_pgo__descriptor, "{\"keepLocations\":4294967296}"),
				 PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(&types__v1__go_pgo__descriptor, "{\"aggregateCallees\":\"true\"}"),
				 PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(&types__v1__go_pgo__descriptor, "{\"aggregateCallees\":1}"),
				 PYRO_EINVAL);

	q = parse(&querier__v1__query_scope__descriptor,
			  "{\"sample_count\":\"18446744073709551615\",\"blockCount\":18446744073709551615}", &err);
	REQUIRE(q != NULL);
	CHECK(q->sample_count == UINT64_MAX);
	CHECK(q->block_count == UINT64_MAX);
	CHECK_EQ_STR(to_json(q, &b),
				 "{\"blockCount\":\"18446744073709551615\",\"sampleCount\":\"18446744073709551615\"}");
	pyro_buf_free(&b);
	msg_free(q);
	CHECK_EQ_INT(parse_status(&querier__v1__query_scope__descriptor,
							  "{\"sampleCount\":18446744073709551616}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(&querier__v1__query_scope__descriptor,
							  "{\"sampleCount\":\"-1\"}"), PYRO_EINVAL);

	/* repeated int32 and double keep zeros */
	h = parse(&types__v1__heatmap_slot__descriptor,
			  "{\"timestamp\":\"5\",\"yMin\":[0,1.5,-0.25],\"counts\":[0,3,0]}", &err);
	REQUIRE(h != NULL);
	REQUIRE(h->n_counts == 3 && h->n_y_min == 3);
	CHECK(h->y_min[1] == 1.5 && h->y_min[2] == -0.25);
	CHECK_EQ_STR(to_json(h, &b),
				 "{\"timestamp\":\"5\",\"yMin\":[0,1.5,-0.25],\"counts\":[0,3,0]}");
	pyro_buf_free(&b);
	msg_free(h);
}

/* doubles: numbers, numeric strings, NaN and the infinities. */
TEST(double_rules)
{
	PyroError	err;
	Types__V1__Point *p;
	PyroBuf		b;
	const ProtobufCMessageDescriptor *d = &types__v1__point__descriptor;

	p = parse(d, "{\"value\":\"NaN\"}", &err);
	REQUIRE(p != NULL);
	CHECK(isnan(p->value));
	CHECK_EQ_STR(to_json(p, &b), "{\"value\":\"NaN\"}");
	pyro_buf_free(&b);
	msg_free(p);

	p = parse(d, "{\"value\":\"-Infinity\"}", &err);
	REQUIRE(p != NULL);
	CHECK(isinf(p->value) && p->value < 0);
	CHECK_EQ_STR(to_json(p, &b), "{\"value\":\"-Infinity\"}");
	pyro_buf_free(&b);
	msg_free(p);

	p = parse(d, "{\"value\":\"Infinity\",\"timestamp\":\"1\"}", &err);
	REQUIRE(p != NULL);
	CHECK(isinf(p->value) && p->value > 0);
	msg_free(p);

	p = parse(d, "{\"value\":\"0.1\"}", &err);
	REQUIRE(p != NULL);
	CHECK(p->value == 0.1);
	CHECK_EQ_STR(to_json(p, &b), "{\"value\":0.1}");
	pyro_buf_free(&b);
	msg_free(p);

	p = parse(d, "{\"value\":1e21}", &err);
	REQUIRE(p != NULL);
	CHECK_EQ_STR(to_json(p, &b), "{\"value\":1e+21}");
	pyro_buf_free(&b);
	msg_free(p);

	/* 0 is omitted (spec: "value" absent on a 0-valued Point) */
	p = parse(d, "{\"value\":0,\"timestamp\":\"1700000000000\"}", &err);
	REQUIRE(p != NULL);
	CHECK_EQ_STR(to_json(p, &b), "{\"timestamp\":\"1700000000000\"}");
	pyro_buf_free(&b);
	msg_free(p);

	CHECK_EQ_INT(parse_status(d, "{\"value\":1e999}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"value\":\"nan\"}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"value\":NaN}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"value\":\"0x10\"}"), PYRO_EINVAL);
}

/* bytes: standard or URL-safe, padded or not; output padded standard. */
TEST(bytes_rules)
{
	PyroError	err;
	PyroBuf		b;
	Push__V1__RawSample *s;
	const ProtobufCMessageDescriptor *d = &push__v1__raw_sample__descriptor;

	/* bytes fb ff fe: standard "+//+", URL-safe "-__-" */
	static const char *inputs[] = {
		"{\"rawProfile\":\"+//+\"}", "{\"raw_profile\":\"-__-\"}", NULL
	};
	int			i;

	for (i = 0; inputs[i]; i++)
	{
		s = parse(d, inputs[i], &err);
		REQUIRE(s != NULL);
		REQUIRE(s->raw_profile.len == 3);
		CHECK(s->raw_profile.data[0] == 0xfb && s->raw_profile.data[1] == 0xff &&
			  s->raw_profile.data[2] == 0xfe);
		CHECK_EQ_STR(to_json(s, &b), "{\"rawProfile\":\"+//+\"}");
		pyro_buf_free(&b);
		msg_free(s);
	}

	/* "hi" = aGk= ; unpadded aGk */
	s = parse(d, "{\"rawProfile\":\"aGk\",\"ID\":\"u-1\"}", &err);
	REQUIRE(s != NULL);
	REQUIRE(s->raw_profile.len == 2);
	CHECK(memcmp(s->raw_profile.data, "hi", 2) == 0);
	CHECK_EQ_STR(s->id, "u-1");
	CHECK_EQ_STR(to_json(s, &b), "{\"rawProfile\":\"aGk=\",\"ID\":\"u-1\"}");
	pyro_buf_free(&b);
	msg_free(s);

	/* "h" = aA== */
	s = parse(d, "{\"rawProfile\":\"aA==\"}", &err);
	REQUIRE(s != NULL);
	CHECK(s->raw_profile.len == 1 && s->raw_profile.data[0] == 'h');
	msg_free(s);

	s = parse(d, "{\"rawProfile\":\"\"}", &err);
	REQUIRE(s != NULL);
	CHECK(s->raw_profile.len == 0);
	msg_free(s);

	CHECK_EQ_INT(parse_status(d, "{\"rawProfile\":\"a\"}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"rawProfile\":\"aGk=a\"}"), PYRO_EINVAL);

	/*
	 * non-zero unused trailing bits are accepted, as Go's non-strict decoder
	 * does
	 */
	s = parse(d, "{\"rawProfile\":\"aG==\"}", &err);
	REQUIRE(s != NULL);
	CHECK(s->raw_profile.len == 1 && s->raw_profile.data[0] == 'h');
	msg_free(s);
	CHECK_EQ_INT(parse_status(d, "{\"rawProfile\":\"a*k=\"}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"rawProfile\":\"aGk===\"}"), PYRO_EINVAL);
}

/* enums by name or number; unknown names ignored; unknown numbers kept. */
TEST(enum_rules)
{
	PyroError	err;
	PyroBuf		b;
	Querier__V1__SelectMergeStacktracesRequest *r;
	const ProtobufCMessageDescriptor *d = &querier__v1__select_merge_stacktraces_request__descriptor;

	r = parse(d, "{\"format\":4}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF);
	CHECK_EQ_STR(to_json(r, &b), "{\"format\":\"PROFILE_FORMAT_PPROF\"}");
	pyro_buf_free(&b);
	msg_free(r);

	r = parse(d, "{\"format\":\"PROFILE_FORMAT_SOMETHING_NEW\"}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->format, 0);
	msg_free(r);

	r = parse(d, "{\"format\":17}", &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->format, 17);
	CHECK_EQ_STR(to_json(r, &b), "{\"format\":17}");
	pyro_buf_free(&b);
	msg_free(r);

	CHECK_EQ_INT(parse_status(d, "{\"format\":1.5}"), PYRO_EINVAL);
	CHECK_EQ_INT(parse_status(d, "{\"format\":true}"), PYRO_EINVAL);
}

/* unknown keys are skipped whatever their value; strings and escapes decode */
TEST(unknown_keys_and_strings)
{
	PyroError	err;
	Types__V1__LabelPair *lp;
	const ProtobufCMessageDescriptor *d = &types__v1__label_pair__descriptor;

	lp = parse(d, " {\"x\":{\"a\":[1,2,{\"b\":null}],\"c\":\"}\"},\"name\":\"n\",\"y\":[],"
			   "\"z\":-1.5e-3,\"w\":true,\"v\":false,\"value\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"} \n", &err);
	REQUIRE(lp != NULL);
	CHECK_EQ_STR(lp->name, "n");
	CHECK_EQ_STR(lp->value, "\xc3\xa9\xf0\x9f\x98\x80\"\\/\b\f\n\r\t");
	msg_free(lp);

	/* raw UTF-8 passes through */
	lp = parse(d, "{\"value\":\"gr\xc3\xbc\xc3\x9f\"}", &err);
	REQUIRE(lp != NULL);
	CHECK_EQ_STR(lp->value, "gr\xc3\xbc\xc3\x9f");
	msg_free(lp);

	/* empty body = empty message */
	lp = parse(d, "", &err);
	REQUIRE(lp != NULL);
	CHECK_EQ_STR(lp->name, "");
	msg_free(lp);
	lp = parse(d, "{}", &err);
	REQUIRE(lp != NULL);
	msg_free(lp);
}

/* a key given twice: the last wins, nothing leaks (ASan checks) */
TEST(duplicate_keys_last_wins)
{
	PyroError	err;
	Push__V1__PushRequest *r;
	Types__V1__LabelPair *lp;

	lp = parse(&types__v1__label_pair__descriptor,
			   "{\"name\":\"a\",\"name\":\"b\",\"value\":\"x\",\"value\":null}", &err);
	REQUIRE(lp != NULL);
	CHECK_EQ_STR(lp->name, "b");
	CHECK_EQ_STR(lp->value, "");
	msg_free(lp);

	r = parse(&push__v1__push_request__descriptor,
			  "{\"series\":[{\"labels\":[{\"name\":\"a\",\"value\":\"1\"}]}],"
			  "\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"process_cpu\"},"
			  "{\"name\":\"service_name\",\"value\":\"svc\"}],"
			  "\"samples\":[{\"rawProfile\":\"AAEC\",\"ID\":\"x\"},{\"raw_profile\":\"AwQ=\"}],"
			  "\"samples\":[{\"rawProfile\":\"BQ\"}]}]}", &err);
	REQUIRE(r != NULL);
	REQUIRE(r->n_series == 1);
	REQUIRE(r->series[0]->n_labels == 2);
	CHECK_EQ_STR(r->series[0]->labels[1]->value, "svc");
	REQUIRE(r->series[0]->n_samples == 1);
	CHECK(r->series[0]->samples[0]->raw_profile.len == 1 &&
		  r->series[0]->samples[0]->raw_profile.data[0] == 5);
	CHECK(round_trip(&r->base));
	msg_free(r);
}

/* every proto file: a filled message survives proto -> JSON -> proto */
TEST(round_trips_each_proto)
{
	PyroError	err;
	static const struct
	{
		const ProtobufCMessageDescriptor *d;
		const char *json;
	}			cases[] = {
		{&types__v1__series__descriptor,
			"{\"labels\":[{\"name\":\"service_name\",\"value\":\"a\"}],"
			"\"points\":[{\"value\":1.25,\"timestamp\":\"1000\",\"annotations\":[{\"key\":\"k\",\"value\":\"{}\"}],"
			"\"exemplars\":[{\"timestamp\":\"3\",\"profileId\":\"p\",\"spanId\":\"00000000000000ff\","
			"\"value\":\"-7\",\"labels\":[{\"name\":\"x\",\"value\":\"y\"}],\"traceId\":\"t\"}]},"
		"{\"value\":-0,\"timestamp\":\"-1\"},{}]}"},
		{&types__v1__block_info__descriptor,
			"{\"ulid\":\"01H\",\"minTime\":\"1\",\"maxTime\":\"2\",\"compaction\":{\"level\":3,"
		"\"sources\":[\"a\",\"\"],\"parents\":[\"b\"]},\"labels\":[{}]}"},
		{&types__v1__get_profile_stats_response__descriptor,
		"{\"dataIngested\":true,\"oldestProfileTime\":\"5\",\"newestProfileTime\":\"6\"}"},
		{&push__v1__push_request__descriptor,
			"{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"process_cpu\"}],"
			"\"samples\":[{\"rawProfile\":\"H4sIAAAAAAAA/w==\",\"ID\":\"id\"}],"
		"\"annotations\":[{\"key\":\"a\",\"value\":\"b\"}]},{}]}"},
		{&querier__v1__select_series_request__descriptor,
			"{\"profileTypeID\":\"p\",\"labelSelector\":\"{}\",\"start\":\"1\",\"end\":\"2\","
			"\"groupBy\":[\"service_name\"],\"step\":0.001,\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\","
			"\"stackTraceSelector\":{\"goPgo\":{\"keepLocations\":2}},\"limit\":\"10\","
		"\"exemplarType\":\"EXEMPLAR_TYPE_SPAN\"}"},
		{&querier__v1__diff_request__descriptor,
			"{\"left\":{\"profileTypeID\":\"a\",\"maxNodes\":\"0\",\"spanSelector\":[\"s\"],"
			"\"async\":{\"requestId\":\"r\",\"type\":\"ASYNC_QUERY_TYPE_FORCE\"}},"
		"\"right\":{\"format\":\"PROFILE_FORMAT_DOT\",\"traceIdSelector\":[\"\"]}}"},
		{&querier__v1__select_merge_stacktraces_response__descriptor,
			"{\"tree\":\"AAE=\",\"dot\":\"digraph\",\"async\":{\"status\":\"ASYNC_QUERY_STATUS_FAILURE\"},"
			"\"pprof\":{\"profile\":{\"stringTable\":[\"\",\"cpu\"],\"sampleType\":[{\"type\":\"1\"}],"
		"\"sample\":[{\"locationId\":[\"1\"],\"value\":[\"0\",\"9\"]}]}}}"},
		{&querier__v1__analyze_query_response__descriptor,
			"{\"queryScopes\":[{\"componentType\":\"Short term storage\",\"componentCount\":\"1\"}],"
		"\"queryImpact\":{\"totalBytesInTimeRange\":\"100\",\"deduplicationNeeded\":true}}"},
		{&querier__v1__series_response__descriptor,
		"{\"labelsSet\":[{\"labels\":[{\"name\":\"a\",\"value\":\"b\"}]},{}]}"},
		{&settings__v1__get_settings_response__descriptor,
			"{\"settings\":[{\"name\":\"pluginSettings\",\"value\":\"{\\\"a\\\":1}\","
		"\"modifiedAt\":\"1700000000000\"}]}"},
		{&settings__v1__set_settings_request__descriptor, "{\"setting\":{}}"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		ProtobufCMessage *m = parse(cases[i].d, cases[i].json, &err);

		if (m == NULL)
		{
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			unit_failures++;
			continue;
		}
		CHECK(round_trip(m));
		msg_free(m);
	}
}

/* each scalar appears exactly as its packing says: cross-check one message */
TEST(binary_matches_hand_packing)
{
	PyroError	err;
	Settings__V1__Setting *s;
	uint8_t		buf[64];
	size_t		n;

	/* field 1 "ab": 0a 02 61 62; field 3 = 300: 18 ac 02 */
	static const uint8_t expect[] = {0x0a, 0x02, 'a', 'b', 0x18, 0xac, 0x02};

	s = parse(&settings__v1__setting__descriptor, "{\"modifiedAt\":300,\"name\":\"ab\"}", &err);
	REQUIRE(s != NULL);
	n = protobuf_c_message_pack(&s->base, buf);
	CHECK_EQ_INT(n, sizeof(expect));
	CHECK(memcmp(buf, expect, sizeof(expect)) == 0);
	msg_free(s);
}

/* syntax errors, truncation, bad escapes and encodings are rejected */
TEST(hostile_json)
{
	const ProtobufCMessageDescriptor *d = &types__v1__label_pair__descriptor;
	static const char *bad[] = {
		"{", "}", "[]", "null", "\"x\"", "{\"name\"}", "{\"name\":}", "{\"name\":\"a\",}",
		"{,}", "{\"name\":\"a\"}x", "{\"name\":\"a\"}{}", "{\"name\" \"a\"}",
		"{\"name\":\"\\x\"}", "{\"name\":\"\\u12\"}", "{\"name\":\"\\ud800\"}",
		"{\"name\":\"\\udc00\"}", "{\"name\":\"\\ud800\\u0041\"}",
		"{\"name\":\"a\x01\"}", "{\"name\":\"\xff\"}", "{\"name\":\"\xc0\xaf\"}",
		"{\"name\":\"\xed\xa0\x80\"}", "{\"name\":\"\\u0000\"}", "{\"name\":1}",
		"{\"x\":tru}", "{\"x\":nul}", "{\"x\":[1,]}", "{\"x\":[1 2]}", "{\"x\":{\"a\"}}",
		"{\"x\":'a'}", "{\"x\":01}", "{\"name\":[\"a\"]}", "{'name':'a'}",
		NULL
	};
	static const char good[] =
	"{\"name\":\"a\\u00e9\",\"x\":[1,{\"y\":null}],\"value\":\"v\"}";
	int			i;
	size_t		k;

	for (i = 0; bad[i]; i++)
	{
		PyroStatus	st = parse_status(d, bad[i]);

		if (st != PYRO_EINVAL)
		{
			fprintf(stderr, "  accepted or wrong status %d: %s\n", (int) st, bad[i]);
			unit_failures++;
		}
	}
	/* every proper prefix of a valid document is an error */
	for (k = 1; k < sizeof(good) - 1; k++)
	{
		ProtobufCMessage *m = NULL;
		PyroError	err;

		if (pyro_json_to_message(d, good, k, &m, &err) == PYRO_OK)
		{
			fprintf(stderr, "  prefix of %zu bytes accepted\n", k);
			unit_failures++;
			msg_free(m);
		}
	}
	CHECK_EQ_INT(parse_status(d, good), PYRO_OK);
}

/* nesting deeper than the limit fails with PYRO_ELIMIT, not a crash */
TEST(deep_nesting)
{
	const ProtobufCMessageDescriptor *d = &types__v1__label_pair__descriptor;
	size_t		depth = 100000;
	char	   *s = malloc(depth * 2 + 16);
	size_t		i,
				n = 0;

	REQUIRE(s != NULL);
	n += (size_t) sprintf(s, "{\"x\":");
	for (i = 0; i < depth; i++)
		s[n++] = '[';
	for (i = 0; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	CHECK_EQ_INT(parse_status(d, s), PYRO_ELIMIT);
	free(s);

	/* 63 arrays inside the top object make 64 levels: the limit */
	{
		char		ok[256];
		int			levels;

		for (levels = 63; levels <= 64; levels++)
		{
			n = (size_t) sprintf(ok, "{\"x\":");
			for (i = 0; i < (size_t) levels; i++)
				ok[n++] = '[';
			for (i = 0; i < (size_t) levels; i++)
				ok[n++] = ']';
			ok[n++] = '}';
			ok[n] = '\0';
			CHECK_EQ_INT(parse_status(d, ok), levels == 63 ? PYRO_OK : PYRO_ELIMIT);
		}
	}
}

/* huge numbers in unknown fields and long digit strings stay linear and safe */
TEST(huge_numbers)
{
	const ProtobufCMessageDescriptor *d = &types__v1__label_values_request__descriptor;
	size_t		nd = 200000;
	char	   *s = malloc(nd + 32);
	size_t		n;

	REQUIRE(s != NULL);
	n = (size_t) sprintf(s, "{\"start\":1");
	memset(s + n, '0', nd);
	n += nd;
	strcpy(s + n, "e-200000}");
	/* 1 followed by 200000 zeros, times 1e-200000 = 1 */
	{
		ProtobufCMessage *m = NULL;
		PyroError	err;

		CHECK_EQ_INT(pyro_json_to_message(d, s, strlen(s), &m, &err), PYRO_OK);
		if (m)
		{
			CHECK_EQ_INT(((Types__V1__LabelValuesRequest *) m)->start, 1);
			msg_free(m);
		}
	}
	strcpy(s + n, "}");
	CHECK_EQ_INT(parse_status(d, s), PYRO_EINVAL);
	free(s);
}

const UnitTest connect_json_tests[] = {
	UNIT_ENTRY(flamegraph_example_exact),
	UNIT_ENTRY(flamegraph_example_parse),
	UNIT_ENTRY(drilldown_mixed_keys),
	UNIT_ENTRY(output_json_names),
	UNIT_ENTRY(optional_presence),
	UNIT_ENTRY(int64_rules),
	UNIT_ENTRY(int32_uint_rules),
	UNIT_ENTRY(double_rules),
	UNIT_ENTRY(bytes_rules),
	UNIT_ENTRY(enum_rules),
	UNIT_ENTRY(unknown_keys_and_strings),
	UNIT_ENTRY(duplicate_keys_last_wins),
	UNIT_ENTRY(round_trips_each_proto),
	UNIT_ENTRY(binary_matches_hand_packing),
	UNIT_ENTRY(hostile_json),
	UNIT_ENTRY(deep_nesting),
	UNIT_ENTRY(huge_numbers),
	{NULL, NULL}
};

/*
 * test_labels.c
 *	  Unit tests of labels.c: label sets, profile type ids, the series label
 *	  rules of spec §14.3/§16.4 and the validation limits of §17.
 */
#include "unit.h"
#include "../../src/core/labels.h"

static void
set2(PyroLabelSet *ls, const char *n1, const char *v1, const char *n2, const char *v2)
{
	pyro_labels_init(ls);
	if (n1)
		pyro_labels_set(ls, n1, v1);
	if (n2)
		pyro_labels_set(ls, n2, v2);
}

static const PyroLabelLimits default_limits = {30, 1024, 2048};

TEST(labels_set_get_remove_sort)
{
	PyroLabelSet ls;

	pyro_labels_init(&ls);
	CHECK(pyro_labels_set(&ls, "b", "1"));
	CHECK(pyro_labels_set(&ls, "a", "2"));
	CHECK(pyro_labels_set(&ls, "b", "3"));	/* replaces */
	CHECK(pyro_labels_add_missing(&ls, "a", "x"));	/* ignored */
	CHECK(pyro_labels_add_missing(&ls, "c", "4"));
	CHECK_EQ_INT(ls.n, 3);
	CHECK_EQ_STR(pyro_labels_get(&ls, "b"), "3");
	CHECK_EQ_STR(pyro_labels_get(&ls, "a"), "2");
	CHECK(pyro_labels_get(&ls, "zz") == NULL);
	pyro_labels_sort(&ls);
	CHECK_EQ_STR(ls.labels[0].name, "a");
	CHECK_EQ_STR(ls.labels[1].name, "b");
	CHECK_EQ_STR(ls.labels[2].name, "c");
	pyro_labels_remove(&ls, "b");
	CHECK_EQ_INT(ls.n, 2);
	CHECK_EQ_STR(ls.labels[1].name, "c");
	pyro_labels_free(&ls);
}

/*
 * The key is stored: these values must never change (computed apart, in
 * Python, from the definition: FNV-1a 64 of "anonymous\0app\0", folded).
 */
TEST(labels_shard_key_stable)
{
	CHECK_EQ_INT(pyro_shard_key("anonymous", 9, "app", 3), -1595834253);
	CHECK_EQ_INT(pyro_shard_key("", 0, "", 0), -1126570006);
	/* the separator keeps ("ab", "c") and ("a", "bc") apart */
	CHECK(pyro_shard_key("ab", 2, "c", 1) != pyro_shard_key("a", 1, "bc", 2));
	CHECK(pyro_shard_key("t", 1, "svc", 3) != pyro_shard_key("t", 1, "svd", 3));
}

TEST(labels_fingerprint_unambiguous)
{
	PyroLabelSet a,
				b,
				c;

	set2(&a, "ab", "c", NULL, NULL);
	set2(&b, "a", "bc", NULL, NULL);
	set2(&c, "ab", "c", NULL, NULL);
	CHECK(pyro_labels_fingerprint(&a) != pyro_labels_fingerprint(&b));
	CHECK(pyro_labels_fingerprint(&a) == pyro_labels_fingerprint(&c));
	pyro_labels_free(&a);
	pyro_labels_free(&b);
	pyro_labels_free(&c);
	set2(&a, "a", "", "b", "c");
	set2(&b, "a", "b", "c", "");
	CHECK(pyro_labels_fingerprint(&a) != pyro_labels_fingerprint(&b));
	pyro_labels_free(&a);
	pyro_labels_free(&b);
}

TEST(labels_json_sorted_and_escaped)
{
	PyroLabelSet ls;
	PyroBuf		b;

	set2(&ls, "z", "q\"x", "a", "1");
	pyro_buf_init(&b);
	pyro_labels_json(&ls, &b);
	CHECK_EQ_STR((char *) b.data, "{\"a\":\"1\",\"z\":\"q\\\"x\"}");
	pyro_buf_free(&b);
	pyro_labels_free(&ls);

	pyro_labels_init(&ls);
	pyro_buf_init(&b);
	pyro_labels_json(&ls, &b);
	CHECK_EQ_STR((char *) b.data, "{}");
	pyro_buf_free(&b);
}

TEST(labels_copy_is_deep)
{
	PyroLabelSet src,
				dst;

	pyro_labels_init(&src);
	pyro_labels_set(&src, "a", "1");
	pyro_labels_set(&src, "b", "2");
	CHECK(pyro_labels_copy(&dst, &src));
	CHECK_EQ_INT(dst.n, 2);
	CHECK_EQ_STR(pyro_labels_get(&dst, "b"), "2");
	CHECK(dst.labels[0].name != src.labels[0].name);
	pyro_labels_free(&src);
	pyro_labels_free(&dst);
}

TEST(legacy_names)
{
	CHECK(pyro_label_name_is_legacy("service_name", 12));
	CHECK(pyro_label_name_is_legacy("_a9", 3));
	CHECK(!pyro_label_name_is_legacy("9a", 2));
	CHECK(!pyro_label_name_is_legacy("otel.scope.name", 15));
	CHECK(!pyro_label_name_is_legacy("", 0));
}

TEST(profile_type_parse_ok)
{
	PyroProfileType pt;
	PyroError	err;
	const char *s = "memory:alloc_space:bytes::";

	REQUIRE(pyro_profile_type_parse(s, strlen(s), &pt, &err) == PYRO_OK);
	CHECK_EQ_STR(pt.id, s);
	CHECK_EQ_STR(pt.name, "memory");
	CHECK_EQ_STR(pt.sample_type, "alloc_space");
	CHECK_EQ_STR(pt.sample_unit, "bytes");
	CHECK_EQ_STR(pt.period_type, "");
	CHECK_EQ_STR(pt.period_unit, "");
	pyro_profile_type_free(&pt);

	s = "process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta";
	REQUIRE(pyro_profile_type_parse(s, strlen(s), &pt, &err) == PYRO_OK);
	CHECK_EQ_STR(pt.id, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	CHECK_EQ_STR(pt.period_unit, "nanoseconds");
	pyro_profile_type_free(&pt);

	/* parsing only the first len bytes */
	s = "a:b:c:d:eXXXX";
	REQUIRE(pyro_profile_type_parse(s, 9, &pt, &err) == PYRO_OK);
	CHECK_EQ_STR(pt.id, "a:b:c:d:e");
	CHECK_EQ_STR(pt.period_unit, "e");
	pyro_profile_type_free(&pt);
}

TEST(profile_type_parse_errors)
{
	PyroProfileType pt;
	PyroError	err;
	const char *bad[] = {"", "a:b:c:d", "a:b:c:d:e:f:g", "process_cpu", ":b:c:d:e"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		CHECK(pyro_profile_type_parse(bad[i], strlen(bad[i]), &pt, &err) == PYRO_EINVAL);
		CHECK(pt.storage == NULL);
	}
	pyro_profile_type_parse("a:b:c:d", 7, &pt, &err);
	CHECK_EQ_STR(err.msg, "invalid profile type id \"a:b:c:d\": expected 5 colon-separated parts");
	CHECK(pyro_profile_type_parse("a\0b:c:d:e", 9, &pt, &err) == PYRO_EINVAL);
}

TEST(series_labels_defaults_and_server_labels)
{
	PyroLabelSet client,
				out;
	PyroError	err;
	char	   *id;

	/* no service_name, no __name__: both defaulted */
	set2(&client, "env", "prod", "__delta__", "false");
	REQUIRE(pyro_series_labels(&client, NULL, "process_cpu", "cpu", "nanoseconds",
							   "cpu", "nanoseconds", &default_limits,
							   &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(id, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");

	/*
	 * sorted: __name__ __period_type__ __period_unit__ __profile_type__
	 * __service_name__ __type__ __unit__ env service_name
	 */
	REQUIRE(out.n == 9);
	CHECK_EQ_STR(out.labels[0].name, "__name__");
	CHECK_EQ_STR(out.labels[0].value, "process_cpu");
	CHECK_EQ_STR(out.labels[1].name, "__period_type__");
	CHECK_EQ_STR(out.labels[2].name, "__period_unit__");
	CHECK_EQ_STR(out.labels[3].name, "__profile_type__");
	CHECK_EQ_STR(out.labels[3].value, id);
	CHECK_EQ_STR(out.labels[4].name, "__service_name__");
	CHECK_EQ_STR(out.labels[4].value, "unknown_service");
	CHECK_EQ_STR(out.labels[5].name, "__type__");
	CHECK_EQ_STR(out.labels[5].value, "cpu");
	CHECK_EQ_STR(out.labels[6].name, "__unit__");
	CHECK_EQ_STR(out.labels[7].name, "env");
	CHECK_EQ_STR(out.labels[8].name, "service_name");
	CHECK_EQ_STR(out.labels[8].value, "unknown_service");
	CHECK(pyro_labels_get(&out, "__delta__") == NULL);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);

	/* empty service_name is defaulted too; no period type -> no __period_* */
	set2(&client, "service_name", "", "__name__", "memory");
	REQUIRE(pyro_series_labels(&client, NULL, "unknown", "alloc_space", "bytes",
							   "", "", &default_limits, &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(id, "memory:alloc_space:bytes::");
	CHECK_EQ_STR(pyro_labels_get(&out, "service_name"), "unknown_service");
	CHECK(pyro_labels_get(&out, "__period_type__") == NULL);
	CHECK(pyro_labels_get(&out, "__period_unit__") == NULL);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
}

TEST(series_labels_client_cannot_set_server_labels)
{
	PyroLabelSet client,
				out;
	PyroError	err;
	char	   *id;

	set2(&client, "__type__", "evil", "__period_type__", "evil");
	pyro_labels_set(&client, "service_name", "svc");
	pyro_labels_set(&client, "__name__", "memory");
	pyro_labels_set(&client, "__service_name__", "other");
	REQUIRE(pyro_series_labels(&client, NULL, "x", "inuse_space", "bytes", "", "",
							   &default_limits, &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(pyro_labels_get(&out, "__type__"), "inuse_space");
	CHECK(pyro_labels_get(&out, "__period_type__") == NULL);
	CHECK_EQ_STR(pyro_labels_get(&out, "__service_name__"), "svc");
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
}

TEST(series_labels_sample_labels_lose_to_client)
{
	PyroLabelSet client,
				sample,
				out;
	PyroError	err;
	char	   *id;

	set2(&client, "service_name", "svc", "foo", "client");
	set2(&sample, "foo", "sample", "bar", "b");
	REQUIRE(pyro_series_labels(&client, &sample, "process_cpu", "cpu", "nanoseconds",
							   "cpu", "nanoseconds", &default_limits,
							   &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(pyro_labels_get(&out, "foo"), "client");
	CHECK_EQ_STR(pyro_labels_get(&out, "bar"), "b");
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
	pyro_labels_free(&sample);
}

TEST(series_labels_relabel_rules)
{
	PyroLabelSet client,
				out;
	PyroError	err;
	char	   *id;

	set2(&client, "__name__", "godeltaprof_memory", "service_name", "s");
	REQUIRE(pyro_series_labels(&client, NULL, "x", "alloc_space", "bytes", "space",
							   "bytes", &default_limits, &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(pyro_labels_get(&out, "__name__"), "memory");
	CHECK_EQ_STR(id, "memory:alloc_space:bytes:space:bytes");
	CHECK(pyro_labels_get(&out, "__delta__") == NULL);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);

	/* wall + __type__=cpu -> process_cpu; wall + samples stays wall */
	set2(&client, "__name__", "wall", "service_name", "s");
	REQUIRE(pyro_series_labels(&client, NULL, "x", "cpu", "nanoseconds", "wall",
							   "nanoseconds", &default_limits, &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(id, "process_cpu:cpu:nanoseconds:wall:nanoseconds");
	pyro_free(id);
	pyro_labels_free(&out);
	REQUIRE(pyro_series_labels(&client, NULL, "x", "samples", "count", "wall",
							   "nanoseconds", &default_limits, &out, &id, &err) == PYRO_OK);
	CHECK_EQ_STR(id, "wall:samples:count:wall:nanoseconds");
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
}

TEST(series_labels_limits)
{
	PyroLabelSet client,
				out;
	PyroError	err;
	char	   *id = NULL;
	char		name[40];
	char		longv[2050];
	PyroLabelLimits small = {5, 12, 16};	/* "service_name" is 12 bytes,
											 * "unknown_service" 15 */

	/*
	 * 3 client labels + __name__ default + service_name default = 5: ok; a
	 * sixth fails.  Server labels do not count.
	 */
	set2(&client, "a", "1", "b", "2");
	pyro_labels_set(&client, "c", "3");
	REQUIRE(pyro_series_labels(&client, NULL, "n", "t", "u", "p", "q", &small,
							   &out, &id, &err) == PYRO_OK);
	CHECK_EQ_INT(out.n, 5 + 6);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_set(&client, "d", "4");
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "p", "q", &small,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "series has 6 labels, more than the limit of 5");
	CHECK(out.n == 0 && id == NULL);
	pyro_labels_free(&client);

	/* name length 12 ok, 13 too long */
	set2(&client, "abcdefghijkl", "v", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &small,
							 &out, &id, &err) == PYRO_OK);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
	set2(&client, "abcdefghijklm", "v", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &small,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK(strstr(err.msg, "abcdefghijklm") != NULL && strstr(err.msg, "limit of 12") != NULL);
	pyro_labels_free(&client);

	/* value length: 16 ok, 17 too long */
	set2(&client, "k", "0123456789abcdef", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &small,
							 &out, &id, &err) == PYRO_OK);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
	set2(&client, "k", "0123456789abcdefg", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &small,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK(strstr(err.msg, "\"k\"") != NULL && strstr(err.msg, "limit of 16") != NULL);
	pyro_labels_free(&client);

	/* defaults: 2048-byte value passes, 2049 fails */
	memset(longv, 'x', sizeof(longv));
	longv[2048] = '\0';
	set2(&client, "k", longv, NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_OK);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
	longv[2048] = 'x';
	longv[2049] = '\0';
	set2(&client, "k", longv, NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	pyro_labels_free(&client);

	/* 31 labels with the defaults: 29 client + __name__ + service_name */
	pyro_labels_init(&client);
	for (int i = 0; i < 29; i++)
	{
		snprintf(name, sizeof(name), "l%02d", i);
		pyro_labels_set(&client, name, "v");
	}
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	pyro_labels_remove(&client, "l00");
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_OK);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
}

TEST(series_labels_invalid)
{
	PyroLabelSet client,
				out;
	PyroError	err;
	char	   *id = NULL;

	/* no default name and no __name__ */
	set2(&client, "service_name", "s", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "label \"__name__\" is missing or empty");
	pyro_labels_free(&client);

	/* invalid UTF-8 value and name, empty name */
	set2(&client, "k", "\xff", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "value of label \"k\" is not valid UTF-8");
	pyro_labels_free(&client);
	set2(&client, "k\xc3", "v", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	pyro_labels_free(&client);
	set2(&client, "", "v", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "label name is empty");
	pyro_labels_free(&client);

	/* duplicate names (a copied client set may carry them) */
	pyro_labels_init(&client);
	pyro_labels_set(&client, "dup", "1");
	pyro_labels_set(&client, "x", "2");
	free(client.labels[1].name);	/* unit tests use the malloc allocator */
	client.labels[1].name = strdup("dup");
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "duplicate label name \"dup\"");
	pyro_labels_free(&client);

	/* UTF-8 names are fine (disable_label_sanitization) */
	set2(&client, "otel.scope.name", "x", NULL, NULL);
	CHECK(pyro_series_labels(&client, NULL, "n", "t", "u", "", "", &default_limits,
							 &out, &id, &err) == PYRO_OK);
	pyro_free(id);
	pyro_labels_free(&out);
	pyro_labels_free(&client);
}

/* the Go SDK's __session_id__: deleted by default, else kept modulo N */
static const char *
session_after(const char *session, uint64_t max_sessions)
{
	static char value[64];
	PyroLabelSet client,
				out;
	PyroLabelLimits limits = default_limits;
	char	   *id;
	PyroError	err;
	const char *v;

	limits.max_sessions_per_series = max_sessions;
	pyro_labels_init(&client);
	pyro_labels_set(&client, "service_name", "app");
	pyro_labels_set(&client, "__session_id__", session);
	if (pyro_series_labels(&client, NULL, "process_cpu", "cpu", "nanoseconds", "cpu",
						   "nanoseconds", &limits, &out, &id, &err) != PYRO_OK)
		return "error";
	v = pyro_labels_get(&out, "__session_id__");
	snprintf(value, sizeof(value), "%s", v ? v : "(none)");
	pyro_labels_free(&client);
	pyro_labels_free(&out);
	pyro_free(id);
	return value;
}

TEST(series_labels_session_id)
{
	CHECK_EQ_STR(session_after("4f1c2a3b5d6e7f80", 0), "(none)");
	/* little-endian: 0x807f6e5d3b2a1c4f % 10 = 1 */
	CHECK_EQ_STR(session_after("4f1c2a3b5d6e7f80", 10), "0100000000000000");
	CHECK_EQ_STR(session_after("0500000000000000", 10), "0500000000000000");
	/* the top bit set: unsigned, so the result stays below N */
	CHECK_EQ_STR(session_after("ffffffffffffffff", 7), "0100000000000000");
	CHECK_EQ_STR(session_after("not-hex-at-all!!", 10), "(none)");
	CHECK_EQ_STR(session_after("abc", 10), "(none)");
}

const UnitTest labels_tests[] = {
	UNIT_ENTRY(series_labels_session_id),
	UNIT_ENTRY(labels_set_get_remove_sort),
	UNIT_ENTRY(labels_shard_key_stable),
	UNIT_ENTRY(labels_fingerprint_unambiguous),
	UNIT_ENTRY(labels_json_sorted_and_escaped),
	UNIT_ENTRY(labels_copy_is_deep),
	UNIT_ENTRY(legacy_names),
	UNIT_ENTRY(profile_type_parse_ok),
	UNIT_ENTRY(profile_type_parse_errors),
	UNIT_ENTRY(series_labels_defaults_and_server_labels),
	UNIT_ENTRY(series_labels_client_cannot_set_server_labels),
	UNIT_ENTRY(series_labels_sample_labels_lose_to_client),
	UNIT_ENTRY(series_labels_relabel_rules),
	UNIT_ENTRY(series_labels_limits),
	UNIT_ENTRY(series_labels_invalid),
	{NULL, NULL}
};

/*
 * test_selector.c
 *	  Unit tests of selector.c: every grammar form with its exact parse,
 *	  every error with its exact message and position, Go escapes, the
 *	  canonical printer and parse/print round trips, allocation failures.
 *
 * Expected values were worked out by hand from spec §14.1 (positions are
 * 0-based byte offsets, counted in the comments where not obvious).
 */
#include "unit.h"
#include "../../src/core/selector.h"

/* Parse a NUL-terminated input that is expected to be valid. */
static PyroSelector *
parse_ok(const char *s)
{
	PyroSelector *sel = NULL;
	PyroError	err;
	PyroStatus	st;

	pyro_error_clear(&err);
	st = pyro_selector_parse(s, strlen(s), &sel, &err);
	if (st != PYRO_OK)
	{
		fprintf(stderr, "  unexpected parse error for [%s]: %s\n", s, err.msg);
		unit_failures++;
		return NULL;
	}
	return sel;
}

/* Parse [s, s+len) expecting PYRO_EINVAL with exactly the message msg. */
static void
check_err_n(const char *s, size_t len, const char *msg)
{
	PyroSelector *sel = (PyroSelector *) 0x1;
	PyroError	err;
	PyroStatus	st;

	pyro_error_clear(&err);
	st = pyro_selector_parse(s, len, &sel, &err);
	if (st != PYRO_EINVAL || sel != NULL || strcmp(err.msg, msg) != 0)
	{
		fprintf(stderr, "  input [%.*s]: status %d, message \"%s\", expected \"%s\"\n",
				(int) len, s, (int) st, err.msg, msg);
		unit_failures++;
	}
	if (st == PYRO_OK)
		pyro_selector_free(sel);
}

static void
check_err(const char *s, const char *msg)
{
	check_err_n(s, strlen(s), msg);
}

static void
check_matcher(const PyroSelector *sel, size_t i, const char *name,
			  PyroMatchOp op, const char *value)
{
	if (i >= sel->nmatchers)
	{
		fprintf(stderr, "  matcher %zu missing (have %zu)\n", i, sel->nmatchers);
		unit_failures++;
		return;
	}
	CHECK_EQ_STR(sel->matchers[i].name, name);
	CHECK_EQ_INT(sel->matchers[i].op, op);
	CHECK_EQ_STR(sel->matchers[i].value, value);
}

static bool
selectors_equal(const PyroSelector *a, const PyroSelector *b)
{
	if ((a->metric_name == NULL) != (b->metric_name == NULL))
		return false;
	if (a->metric_name && strcmp(a->metric_name, b->metric_name) != 0)
		return false;
	if (a->nmatchers != b->nmatchers)
		return false;
	for (size_t i = 0; i < a->nmatchers; i++)
	{
		if (a->matchers[i].op != b->matchers[i].op ||
			strcmp(a->matchers[i].name, b->matchers[i].name) != 0 ||
			strcmp(a->matchers[i].value, b->matchers[i].value) != 0)
			return false;
	}
	return true;
}

/* ----- grammar forms ----- */

TEST(selector_empty_and_blank)
{
	const char *inputs[] = {"", "   ", " \t\r\n ", "{}", " { } ", "{\n}"};
	PyroSelector *sel = NULL;
	PyroError	err;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
	{
		sel = parse_ok(inputs[i]);
		REQUIRE(sel != NULL);
		CHECK(sel->metric_name == NULL);
		CHECK_EQ_INT(sel->nmatchers, 0);
		pyro_selector_free(sel);
	}
	/* NULL with length 0 is the empty string */
	CHECK_EQ_INT(pyro_selector_parse(NULL, 0, &sel, &err), PYRO_OK);
	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, 0);
	pyro_selector_free(sel);
}

TEST(selector_all_operators)
{
	PyroSelector *sel = parse_ok("{a=\"1\", b!=\"2\", c=~\"3\", d!~\"4\"}");

	REQUIRE(sel != NULL);
	CHECK(sel->metric_name == NULL);
	CHECK_EQ_INT(sel->nmatchers, 4);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "1");
	check_matcher(sel, 1, "b", PYRO_MATCH_NEQ, "2");
	check_matcher(sel, 2, "c", PYRO_MATCH_RE, "3");
	check_matcher(sel, 3, "d", PYRO_MATCH_NRE, "4");
	pyro_selector_free(sel);

	CHECK_EQ_STR(pyro_match_op_str(PYRO_MATCH_EQ), "=");
	CHECK_EQ_STR(pyro_match_op_str(PYRO_MATCH_NEQ), "!=");
	CHECK_EQ_STR(pyro_match_op_str(PYRO_MATCH_RE), "=~");
	CHECK_EQ_STR(pyro_match_op_str(PYRO_MATCH_NRE), "!~");
}

TEST(selector_whitespace_and_trailing_comma)
{
	PyroSelector *sel = parse_ok("  {\t a = \"1\" ,\n b\t!~ '2' , }  ");

	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, 2);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "1");
	check_matcher(sel, 1, "b", PYRO_MATCH_NRE, "2");
	pyro_selector_free(sel);

	sel = parse_ok("{a=\"1\",}");
	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, 1);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "1");
	pyro_selector_free(sel);

	/* empty values and repeated names are kept as they are, in order */
	sel = parse_ok("{x=\"\",x!=\"\",x=~''}");
	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, 3);
	check_matcher(sel, 0, "x", PYRO_MATCH_EQ, "");
	check_matcher(sel, 1, "x", PYRO_MATCH_NEQ, "");
	check_matcher(sel, 2, "x", PYRO_MATCH_RE, "");
	pyro_selector_free(sel);
}

TEST(selector_metric_name_forms)
{
	PyroSelector *sel;

	sel = parse_ok("process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"my_app\"}");
	REQUIRE(sel != NULL);
	CHECK_EQ_STR(sel->metric_name, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	CHECK_EQ_INT(sel->nmatchers, 1);
	check_matcher(sel, 0, "service_name", PYRO_MATCH_EQ, "my_app");
	pyro_selector_free(sel);

	sel = parse_ok("memory:alloc_space:bytes::{}");
	REQUIRE(sel != NULL);
	CHECK_EQ_STR(sel->metric_name, "memory:alloc_space:bytes::");
	CHECK_EQ_INT(sel->nmatchers, 0);
	pyro_selector_free(sel);

	sel = parse_ok("  up  ");
	REQUIRE(sel != NULL);
	CHECK_EQ_STR(sel->metric_name, "up");
	CHECK_EQ_INT(sel->nmatchers, 0);
	pyro_selector_free(sel);

	sel = parse_ok(":a1_:");
	REQUIRE(sel != NULL);
	CHECK_EQ_STR(sel->metric_name, ":a1_:");
	pyro_selector_free(sel);

	sel = parse_ok("_x9 \n{ job = \"j\" }");
	REQUIRE(sel != NULL);
	CHECK_EQ_STR(sel->metric_name, "_x9");
	CHECK_EQ_INT(sel->nmatchers, 1);
	check_matcher(sel, 0, "job", PYRO_MATCH_EQ, "j");
	pyro_selector_free(sel);
}

TEST(selector_quoted_label_names)
{
	PyroSelector *sel = parse_ok("{\"service.name\"=\"x\", \"ok\"!=`y`, \"\\u00e9t\\\"\"=~'z'}");

	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, 3);
	check_matcher(sel, 0, "service.name", PYRO_MATCH_EQ, "x");
	check_matcher(sel, 1, "ok", PYRO_MATCH_NEQ, "y");
	check_matcher(sel, 2, "\xC3\xA9t\"", PYRO_MATCH_RE, "z");
	pyro_selector_free(sel);
}

TEST(selector_raw_and_single_quoted)
{
	PyroSelector *sel;

	/* raw strings keep backslashes, quotes and newlines verbatim */
	sel = parse_ok("{a=`x\\n\"y'\nz`, b='it\\'s', c=\"say \\\"hi\\\"\"}");
	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, 3);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "x\\n\"y'\nz");
	check_matcher(sel, 1, "b", PYRO_MATCH_EQ, "it's");
	check_matcher(sel, 2, "c", PYRO_MATCH_EQ, "say \"hi\"");
	pyro_selector_free(sel);

	/* \' in "..." and \" in '...' are both accepted */
	sel = parse_ok("{a=\"\\'\", b='\\\"'}");
	REQUIRE(sel != NULL);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "'");
	check_matcher(sel, 1, "b", PYRO_MATCH_EQ, "\"");
	pyro_selector_free(sel);
}

TEST(selector_regex_kept_raw)
{
	PyroSelector *sel = parse_ok("{a=~\"foo.*|ba\\\\.r\", b!~`\\d+(x|y)?`}");

	REQUIRE(sel != NULL);
	check_matcher(sel, 0, "a", PYRO_MATCH_RE, "foo.*|ba\\.r");
	check_matcher(sel, 1, "b", PYRO_MATCH_NRE, "\\d+(x|y)?");
	pyro_selector_free(sel);
}

/* ----- escapes ----- */

TEST(selector_simple_escapes)
{
	PyroSelector *sel = parse_ok("{a=\"\\\\\\\"\\'\\n\\t\\r\\a\\b\\f\\v.\"}");

	REQUIRE(sel != NULL);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "\\\"'\n\t\r\a\b\f\v.");
	pyro_selector_free(sel);
}

TEST(selector_numeric_escapes)
{
	PyroSelector *sel;

	/* é = U+00E9 = C3 A9 in UTF-8, by \u, \U, \x pairs and octal pairs */
	sel = parse_ok("{a=\"\\u00e9\", b=\"\\U000000E9\", c=\"\\xc3\\xA9\", d=\"\\303\\251\"}");
	REQUIRE(sel != NULL);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ, "\xC3\xA9");
	check_matcher(sel, 1, "b", PYRO_MATCH_EQ, "\xC3\xA9");
	check_matcher(sel, 2, "c", PYRO_MATCH_EQ, "\xC3\xA9");
	check_matcher(sel, 3, "d", PYRO_MATCH_EQ, "\xC3\xA9");
	pyro_selector_free(sel);

	/*
	 * \x41 = \101 = 'A'; U+20AC = E2 82 AC; U+1F600 = F0 9F 98 80; U+10FFFF =
	 * F4 8F BF BF
	 */
	sel = parse_ok("{a='\\x41\\101\\u20ac\\U0001F600\\U0010ffff\\177\\x01'}");
	REQUIRE(sel != NULL);
	check_matcher(sel, 0, "a", PYRO_MATCH_EQ,
				  "AA\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\x7F\x01");
	pyro_selector_free(sel);
}

/* ----- errors ----- */

TEST(selector_error_garbage)
{
	/* {0 a1 =2 "3 b4 "5 }6 _7 x8 */
	check_err("{a=\"b\"} x", "unexpected character 'x' at position 8 in label selector");
	check_err("a{} b", "unexpected character 'b' at position 4 in label selector");
	check_err("a b", "unexpected character 'b' at position 2 in label selector");
	check_err("a{}{}", "unexpected character '{' at position 3 in label selector");
	check_err("{} {}", "unexpected character '{' at position 3 in label selector");
	check_err("}", "unexpected character '}' at position 0 in label selector");
	check_err("1abc", "unexpected character '1' at position 0 in label selector");
	check_err("{1a=\"x\"}", "unexpected character '1' at position 1 in label selector");
	check_err("{'a'=\"x\"}", "unexpected character ''' at position 1 in label selector");
	check_err("\xff", "unexpected byte 0xff at position 0 in label selector");
	check_err("{a=\"1\"}\x01", "unexpected byte 0x01 at position 7 in label selector");
	check_err("a.b{}", "unexpected character '.' at position 1 in label selector");
}

TEST(selector_error_commas_and_braces)
{
	check_err("{,}", "unexpected character ',' at position 1 in label selector");
	/* {0 a1 =2 "3 1 4 "5 ,6 ,7 */
	check_err("{a=\"1\",,b=\"2\"}", "unexpected character ',' at position 7 in label selector");
	check_err("{a=\"1\", ,}", "unexpected character ',' at position 8 in label selector");
	check_err("{a=\"1\" b=\"2\"}", "unexpected character 'b' at position 7 in label selector");
	check_err("{", "unexpected end of label selector at position 1");
	check_err("{a=\"1\"", "unexpected end of label selector at position 6");
	check_err("{a=\"1\",", "unexpected end of label selector at position 7");
	check_err("x{a", "unexpected end of label selector at position 3");
}

TEST(selector_error_operator_and_value)
{
	check_err("{a}", "missing operator after label name at position 2 in label selector");
	check_err("{a \"b\"}", "missing operator after label name at position 3 in label selector");
	check_err("{a==\"b\"}", "missing quoted value after operator at position 3 in label selector");
	check_err("{a=}", "missing quoted value after operator at position 3 in label selector");
	check_err("{a=b}", "missing quoted value after operator at position 3 in label selector");
	check_err("{a =~ , }", "missing quoted value after operator at position 6 in label selector");
	check_err("{a!\"b\"}", "unexpected character '\"' at position 3 in label selector");
	check_err("{a!", "unexpected end of label selector at position 3");
	check_err("{a=", "unexpected end of label selector at position 3");
	check_err("{a", "unexpected end of label selector at position 2");
}

TEST(selector_error_strings)
{
	check_err("{a=\"b}", "unterminated string literal at position 3");
	check_err("{a='b", "unterminated string literal at position 3");
	check_err("{a=`b}", "unterminated string literal at position 3");
	check_err("{a=\"b\\\"}", "unterminated string literal at position 3");
	check_err("{a=\"b\\", "unterminated string literal at position 3");
	check_err("{a=\"x\ny\"}", "unterminated string literal at position 3");
	check_err("{\"x=\"y\"}", "missing operator after label name at position 5 in label selector");
	check_err("{\"abc", "unterminated string literal at position 1");
	check_err("{\"\"=\"x\"}", "empty label name at position 1 in label selector");
	check_err("{\"\\xff\"=\"x\"}", "string literal at position 1 is not valid UTF-8");
}

TEST(selector_error_escapes)
{
	/* {0 a1 =2 "3 \4 */
	check_err("{a=\"\\q\"}", "invalid escape sequence \"\\q\" at position 4");
	check_err("{a=\"xyz\\q\"}", "invalid escape sequence \"\\q\" at position 7");
	check_err("{a=\"\\x4\"}", "invalid escape sequence \"\\x4\" at position 4");
	check_err("{a=\"\\xg1\"}", "invalid escape sequence \"\\xg\" at position 4");
	check_err("{a=\"\\u12\"}", "invalid escape sequence \"\\u12\" at position 4");
	check_err("{a=\"\\U0001F60\"}", "invalid escape sequence \"\\U0001F60\" at position 4");
	check_err("{a=\"\\12\"}", "invalid escape sequence \"\\12\" at position 4");
	check_err("{a=\"\\18\"}", "invalid escape sequence \"\\18\" at position 4");
	check_err("{a=\"\\400\"}",
			  "invalid escape sequence \"\\400\" at position 4 (octal value above \\377)");
	check_err("{a=\"\\ud800\"}",
			  "invalid escape sequence \"\\ud800\" at position 4 (not a valid Unicode code point)");
	check_err("{a=\"\\uDFFF\"}",
			  "invalid escape sequence \"\\uDFFF\" at position 4 (not a valid Unicode code point)");
	check_err("{a=\"\\U00110000\"}",
			  "invalid escape sequence \"\\U00110000\" at position 4 (not a valid Unicode code point)");
	check_err("{a='\\8'}", "invalid escape sequence \"\\8\" at position 4");
	check_err("{a=\"\\\n\"}", "invalid escape sequence at position 4");
	/* escapes inside quoted label names too */
	check_err("{\"\\z\"=\"x\"}", "invalid escape sequence \"\\z\" at position 2");
}

TEST(selector_error_nul_and_utf8)
{
	check_err_n("{a=\"b\"}\0", 8, "label selector contains a NUL byte at position 7");
	check_err_n("\0", 1, "label selector contains a NUL byte at position 0");
	check_err_n("{a=\"x\0\"}", 7, "label selector contains a NUL byte at position 5");
	check_err("{a=\"\\x00\"}", "string literal at position 3 contains a NUL character");
	check_err("{a=\"\\000\"}", "string literal at position 3 contains a NUL character");
	check_err("{a='\\u0000'}", "string literal at position 3 contains a NUL character");
	check_err("{a=\"\\U00000000\"}", "string literal at position 3 contains a NUL character");
	check_err("{a=\"\\xff\"}", "string literal at position 3 is not valid UTF-8");
	check_err("{a=\"\\377\"}", "string literal at position 3 is not valid UTF-8");
	check_err("{a=\"\\xc3\"}", "string literal at position 3 is not valid UTF-8");
	check_err("{a=\"\xff\"}", "string literal at position 3 is not valid UTF-8");
	check_err("{a=`\xc3(`}", "string literal at position 3 is not valid UTF-8");
	/* CESU-style surrogate bytes given by \x are still invalid UTF-8 */
	check_err("{a=\"\\xed\\xa0\\x80\"}", "string literal at position 3 is not valid UTF-8");
}

/* ----- printing and round trips ----- */

/* Print sel and compare with expect, then re-parse and compare structures. */
static void
check_roundtrip(const char *input, const char *expect)
{
	PyroSelector *a = parse_ok(input);
	PyroSelector *b = NULL;
	PyroBuf		s1,
				s2;
	PyroError	err;

	if (a == NULL)
		return;
	pyro_buf_init(&s1);
	pyro_buf_init(&s2);
	pyro_selector_to_string(a, &s1);
	CHECK(!s1.oom);
	if (expect)
		CHECK_EQ_STR((const char *) s1.data, expect);
	if (pyro_selector_parse((const char *) s1.data, s1.len, &b, &err) != PYRO_OK)
	{
		fprintf(stderr, "  re-parse of [%s] failed: %s\n", (const char *) s1.data, err.msg);
		unit_failures++;
	}
	else
	{
		CHECK(selectors_equal(a, b));
		pyro_selector_to_string(b, &s2);
		CHECK(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
	}
	pyro_selector_free(a);
	pyro_selector_free(b);
	pyro_buf_free(&s1);
	pyro_buf_free(&s2);
}

TEST(selector_to_string_canonical)
{
	check_roundtrip("", "{}");
	check_roundtrip(" { } ", "{}");
	check_roundtrip("name", "name{}");
	check_roundtrip("memory:alloc_space:bytes::", "memory:alloc_space:bytes::{}");
	check_roundtrip("{ a = \"1\" , b='2' , }", "{a=\"1\",b=\"2\"}");
	check_roundtrip("x{a!=`1`,b=~\"2\",c!~'3'}", "x{a!=\"1\",b=~\"2\",c!~\"3\"}");
	check_roundtrip("{\"service.name\"=\"x\", \"ok\"=\"y\"}",
					"{\"service.name\"=\"x\",ok=\"y\"}");
	check_roundtrip("{\"a\\nb\"!=\"v\", \"9x\"=\"\", \"a-b\"=\"\"}",
					"{\"a\\nb\"!=\"v\",\"9x\"=\"\",\"a-b\"=\"\"}");
	/* é stays as UTF-8; controls and DEL become escapes */
	check_roundtrip("{a=\"\\u00e9\\t\\x01\\x7f\\\"\\\\\\a\\b\\f\\v\\r\\n\"}",
					"{a=\"\xC3\xA9\\t\\x01\\x7f\\\"\\\\\\a\\b\\f\\v\\r\\n\"}");
	check_roundtrip("{a=~`\\d+`}", "{a=~\"\\\\d+\"}");
	check_roundtrip("{a='\\''}", "{a=\"'\"}");
	check_roundtrip("{a=\"\\U0001F600\\u20AC\"}", "{a=\"\xF0\x9F\x98\x80\xE2\x82\xAC\"}");
}

TEST(selector_roundtrip_many)
{
	const char *inputs[] = {
		"{}",
		"up",
		"process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"my_app\"}",
		"{service_name=\"api\", env=~\"prod|stage\", pod!=\"x\"}",
		"{a=\"\", b!=\"\", c=~\".*\", d!~\".+\"}",
		"{a=`raw \\ \" ' \n text`}",
		"{\"otel.scope.name\"=\"io.opentelemetry\", __name__=\"memory\"}",
		"{\"\\u00e9\"='\\303\\251', x=\"\\x41\\x42\"}",
		"{a=\"\\t\\n\\r\\\\\"}",
		"{a=\"\xE6\x97\xA5\xE6\x9C\xAC\"}",
		"_:{_=\"_\",}",
		"{a=\"1\",a=\"1\",a=\"1\"}",
	};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
		check_roundtrip(inputs[i], NULL);
}

/* ----- scale and robustness ----- */

TEST(selector_large_input_is_linear)
{
	PyroBuf		in;
	PyroSelector *sel = NULL;
	PyroError	err;
	size_t		n = 100000;

	/* as many matchers as allowed parse */
	pyro_buf_init(&in);
	pyro_buf_append_byte(&in, '{');
	for (size_t i = 0; i < PYRO_SELECTOR_MAX_MATCHERS; i++)
		pyro_buf_append_str(&in, "a=\"x\\u00e9\",");
	pyro_buf_append_byte(&in, '}');
	REQUIRE(!in.oom);
	CHECK_EQ_INT(pyro_selector_parse((const char *) in.data, in.len, &sel, &err), PYRO_OK);
	REQUIRE(sel != NULL);
	CHECK_EQ_INT(sel->nmatchers, PYRO_SELECTOR_MAX_MATCHERS);
	CHECK_EQ_STR(sel->matchers[PYRO_SELECTOR_MAX_MATCHERS - 1].value, "x\xC3\xA9");
	pyro_selector_free(sel);

	/* 100k matchers: refused at the limit, without reading the rest */
	in.len = 0;
	pyro_buf_append_byte(&in, '{');
	for (size_t i = 0; i < n; i++)
		pyro_buf_append_str(&in, "a=\"x\\u00e9\",");
	pyro_buf_append_byte(&in, '}');
	REQUIRE(!in.oom);
	CHECK_EQ_INT(pyro_selector_parse((const char *) in.data, in.len, &sel, &err), PYRO_ELIMIT);
	CHECK_EQ_STR(err.msg, "label selector has more than 256 matchers");

	/* a long run of backslash pairs inside one literal */
	in.len = 0;
	pyro_buf_append_str(&in, "{a=\"");
	for (size_t i = 0; i < n; i++)
		pyro_buf_append_str(&in, "\\\\");
	pyro_buf_append_str(&in, "\"}");
	REQUIRE(!in.oom);
	CHECK_EQ_INT(pyro_selector_parse((const char *) in.data, in.len, &sel, &err), PYRO_OK);
	REQUIRE(sel != NULL);
	CHECK_EQ_INT(strlen(sel->matchers[0].value), n);
	pyro_selector_free(sel);

	/* many opening braces fail at once, nothing is nested */
	in.len = 0;
	for (size_t i = 0; i < n; i++)
		pyro_buf_append_byte(&in, '{');
	REQUIRE(!in.oom);
	CHECK_EQ_INT(pyro_selector_parse((const char *) in.data, in.len, &sel, &err), PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "unexpected character '{' at position 1 in label selector");
	pyro_buf_free(&in);
}

/* An allocator that fails every allocation after a budget of calls. */
static long fail_after;

static void *
failing_alloc(void *ctx, size_t size)
{
	(void) ctx;
	if (fail_after-- <= 0)
		return NULL;
	return malloc(size ? size : 1);
}

static void *
failing_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	(void) ctx;
	(void) old_size;
	if (fail_after-- <= 0)
		return NULL;
	return realloc(ptr, new_size ? new_size : 1);
}

static void
failing_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

TEST(selector_allocation_failures)
{
	/* enough matchers to make the matcher array grow past 16 */
	PyroBuf		in;
	PyroAllocator fa = {failing_alloc, failing_realloc, failing_free, NULL};
	bool		succeeded = false;
	long		budget;

	pyro_buf_init(&in);
	pyro_buf_append_str(&in, "metric{");
	for (int i = 0; i < 20; i++)
		pyro_buf_printf(&in, "l%d=~\"v\\u00e9%d\", \"n.%d\"!=`r`,", i, i, i);
	pyro_buf_append_byte(&in, '}');
	REQUIRE(!in.oom);

	for (budget = 0; budget < 1000 && !succeeded; budget++)
	{
		PyroSelector *sel = NULL;
		PyroError	err;
		PyroStatus	st;

		fail_after = budget;
		pyro_set_allocator(&fa);
		st = pyro_selector_parse((const char *) in.data, in.len, &sel, &err);
		pyro_set_allocator(NULL);
		if (st == PYRO_OK)
		{
			succeeded = true;
			CHECK_EQ_INT(sel->nmatchers, 40);
			pyro_selector_free(sel);
		}
		else
		{
			CHECK_EQ_INT(st, PYRO_ENOMEM);
			CHECK(sel == NULL);
			CHECK_EQ_STR(err.msg, "out of memory while parsing label selector");
		}
	}
	CHECK(succeeded);
	/* 1 selector + 1 metric + 80 strings + array growth: at least 82 */
	CHECK(budget > 82);
	pyro_buf_free(&in);
}

const UnitTest selector_tests[] = {
	UNIT_ENTRY(selector_empty_and_blank),
	UNIT_ENTRY(selector_all_operators),
	UNIT_ENTRY(selector_whitespace_and_trailing_comma),
	UNIT_ENTRY(selector_metric_name_forms),
	UNIT_ENTRY(selector_quoted_label_names),
	UNIT_ENTRY(selector_raw_and_single_quoted),
	UNIT_ENTRY(selector_regex_kept_raw),
	UNIT_ENTRY(selector_simple_escapes),
	UNIT_ENTRY(selector_numeric_escapes),
	UNIT_ENTRY(selector_error_garbage),
	UNIT_ENTRY(selector_error_commas_and_braces),
	UNIT_ENTRY(selector_error_operator_and_value),
	UNIT_ENTRY(selector_error_strings),
	UNIT_ENTRY(selector_error_escapes),
	UNIT_ENTRY(selector_error_nul_and_utf8),
	UNIT_ENTRY(selector_to_string_canonical),
	UNIT_ENTRY(selector_roundtrip_many),
	UNIT_ENTRY(selector_large_input_is_linear),
	UNIT_ENTRY(selector_allocation_failures),
	{NULL, NULL}
};

/*-------------------------------------------------------------------------
 *
 * test_ingest_params.c
 *	  Unit tests for the legacy /ingest helpers: the name grammar (§10.2),
 *	  legacy time strings (§15.1), multipart/form-data bodies (§10.4) and
 *	  folded stacks (§10.3).
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"
#include "suites.h"
#include "ingest_params.h"
#include "tree.h"

static PyroStatus
app(const char *s, PyroAppName *a, PyroError *err)
{
	return pyro_parse_app_name(s, strlen(s), a, err);
}

TEST(app_name_plain_and_labels)
{
	PyroAppName a;
	PyroError	err;

	REQUIRE(app("  my-app.cpu ", &a, &err) == PYRO_OK);
	CHECK_EQ_STR(a.name, "my-app.cpu");
	CHECK_EQ_STR(a.base, "my-app");
	CHECK_EQ_STR(a.suffix, "cpu");
	CHECK_EQ_INT(a.labels.n, 0);
	pyro_app_name_free(&a);

	REQUIRE(app("ns/svc{}", &a, &err) == PYRO_OK);
	CHECK_EQ_STR(a.name, "ns/svc");
	CHECK_EQ_STR(a.base, "ns/svc");
	CHECK_EQ_STR(a.suffix, "");
	CHECK_EQ_INT(a.labels.n, 0);
	pyro_app_name_free(&a);

	REQUIRE(app("a.b.inuse_space{ env = prod ,region=eu-1,__name__=x,__x=1,"
				"__session_id__=abc,env=staging, my.key=v=w}trailing{", &a, &err) == PYRO_OK);
	CHECK_EQ_STR(a.name, "a.b.inuse_space");
	CHECK_EQ_STR(a.base, "a.b");
	CHECK_EQ_STR(a.suffix, "inuse_space");
	CHECK_EQ_INT(a.labels.n, 4);
	CHECK_EQ_STR(pyro_labels_get(&a.labels, "env"), "staging");
	CHECK_EQ_STR(pyro_labels_get(&a.labels, "region"), "eu-1");
	CHECK_EQ_STR(pyro_labels_get(&a.labels, "__session_id__"), "abc");
	CHECK_EQ_STR(pyro_labels_get(&a.labels, "my.key"), "v=w");
	CHECK(pyro_labels_get(&a.labels, "__name__") == NULL);
	CHECK(pyro_labels_get(&a.labels, "__x") == NULL);
	pyro_app_name_free(&a);

	/* __name__ is accepted without validation, then dropped */
	REQUIRE(app("app{__name__=any thing}", &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.labels.n, 0);
	pyro_app_name_free(&a);

	/* empty values are kept as given */
	REQUIRE(app("app{k=}", &a, &err) == PYRO_OK);
	CHECK_EQ_STR(pyro_labels_get(&a.labels, "k"), "");
	pyro_app_name_free(&a);
}

TEST(app_name_errors)
{
	static const char *bad[] = {
		"", "   ", "{a=b}", "app name", "app:cpu", "app{a=b", "app{", "app{a}",
		"app{=v}", "app{ =v}", "app{a=b,}", "app{a-b=1}", "app{a b=1}", "app{a=1,,b=2}",
		"app}", "ap\xc3\xa9", NULL
	};
	int			i;

	for (i = 0; bad[i]; i++)
	{
		PyroAppName a;
		PyroError	err;

		if (app(bad[i], &a, &err) != PYRO_EINVAL)
		{
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
			unit_failures++;
			pyro_app_name_free(&a);
		}
		else
			CHECK(err.msg[0] != '\0');
	}
}

TEST(attime_forms)
{
	const int64_t now = 1700000000123LL;
	int64_t		t;

	pyro_parse_attime("20240229", now, &t);
	/* 2024-02-29 = 19782 days after the epoch */
	CHECK_EQ_INT(t, 19782LL * 86400000);
	pyro_parse_attime("19700101", now, &t);
	CHECK_EQ_INT(t, 0);
	/* 2023-02-29 is no date: 8 digits read as seconds */
	pyro_parse_attime("20230229", now, &t);
	CHECK_EQ_INT(t, 20230229LL * 1000);
	pyro_parse_attime("1700000000", now, &t);
	CHECK_EQ_INT(t, 1700000000000LL);
	pyro_parse_attime("1_700_000_000", now, &t);
	CHECK_EQ_INT(t, 1700000000000LL);
	pyro_parse_attime("1,700,000,000 ", now, &t);
	CHECK_EQ_INT(t, 1700000000000LL);
	pyro_parse_attime("1700000000456", now, &t);
	CHECK_EQ_INT(t, 1700000000456LL);
	pyro_parse_attime("1700000000456789", now, &t);
	CHECK_EQ_INT(t, 1700000000456LL);
	pyro_parse_attime("1700000000456789012", now, &t);
	CHECK_EQ_INT(t, 1700000000456LL);
	pyro_parse_attime("0", now, &t);
	CHECK_EQ_INT(t, 0);
	pyro_parse_attime("now", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("now-1h", now, &t);
	CHECK_EQ_INT(t, now - 3600000);
	pyro_parse_attime("now+30s", now, &t);
	CHECK_EQ_INT(t, now + 30000);
	pyro_parse_attime("now-15m", now, &t);
	CHECK_EQ_INT(t, now - 15 * 60000);
	pyro_parse_attime("now-2min", now, &t);
	CHECK_EQ_INT(t, now - 2 * 60000);
	pyro_parse_attime("now-1M", now, &t);
	CHECK_EQ_INT(t, now - 30LL * 86400000);
	pyro_parse_attime("now-1mon", now, &t);
	CHECK_EQ_INT(t, now - 30LL * 86400000);
	pyro_parse_attime("now-1d", now, &t);
	CHECK_EQ_INT(t, now - 86400000);
	pyro_parse_attime("now-2w", now, &t);
	CHECK_EQ_INT(t, now - 14LL * 86400000);
	pyro_parse_attime("now-1y", now, &t);
	CHECK_EQ_INT(t, now - 365LL * 86400000);
	pyro_parse_attime("now-1h30m", now, &t);
	CHECK_EQ_INT(t, now - 3600000);
	/* anything else is now */
	pyro_parse_attime("yesterday", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("now-", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("now-5", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("now-5q", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("-5", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("99999999999999999999", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime("now-99999999999999y", now, &t);
	CHECK_EQ_INT(t, now);
	pyro_parse_attime(NULL, now, &t);
	CHECK_EQ_INT(t, now);
}

/* a body as pyroscope-go sends it (CRLF, file parts, binary data) */
TEST(multipart_go_sdk)
{
	static const char body[] =
	"--2c1e4d6b0a\r\n"
	"Content-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"\x1f\x8b\x08\x00\r\n--2c1e4d6\x00\xff"
	"\r\n--2c1e4d6b0a\r\n"
	"Content-Disposition: form-data; name=\"sample_type_config\"; filename=\"sample_type_config.json\"\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"{\"cpu\":{\"units\":\"samples\"}}"
	"\r\n--2c1e4d6b0a--\r\n";
	PyroMultipartPart *parts;
	size_t		n;
	PyroError	err;
	const PyroMultipartPart *p;

	REQUIRE(pyro_multipart_parse((const uint8_t *) body, sizeof(body) - 1,
								 "multipart/form-data; boundary=2c1e4d6b0a",
								 &parts, &n, &err) == PYRO_OK);
	REQUIRE(n == 2);
	p = pyro_multipart_find(parts, n, "profile");
	REQUIRE(p != NULL);
	CHECK_EQ_STR(p->filename, "profile.pprof");
	CHECK_EQ_STR(p->content_type, "application/octet-stream");
	CHECK_EQ_INT(p->len, 17);
	CHECK(memcmp(p->data, "\x1f\x8b\x08\x00\r\n--2c1e4d6\x00\xff", 17) == 0);
	/* parts point into the body */
	CHECK(p->data == (const uint8_t *) body + (strchr(body + 20, '\x1f') - body));
	p = pyro_multipart_find(parts, n, "sample_type_config");
	REQUIRE(p != NULL);
	CHECK_EQ_STR(p->filename, "sample_type_config.json");
	CHECK_EQ_INT(p->len, 27);
	CHECK(memcmp(p->data, "{\"cpu\":{\"units\":\"samples\"}}", 27) == 0);
	CHECK(pyro_multipart_find(parts, n, "prev_profile") == NULL);
	pyro_multipart_free(parts, n);
}

/* Node SDK style: preamble, quoted boundary, unquoted name, epilogue, padding */
TEST(multipart_variants)
{
	static const char body[] =
	"This is the preamble.\r\n"
	"--X-BOUNDARY  \r\n"
	"content-disposition: form-data; filename=profile; name=profile\r\n"
	"X-Other: ignored\r\n"
	"\r\n"
	"abc\r\n"
	"\r\n"
	"--X-BOUNDARY\r\n"
	"Content-Disposition: form-data; name=\"empty\"\r\n"
	"\r\n"
	"\r\n"
	"--X-BOUNDARY\r\n"
	"Content-Disposition: form-data; name=\"q\\\"x\"\r\n"
	"\r\n"
	"--X-BOUNDARY--\r\n"
	"epilogue --X-BOUNDARY\r\n";
	PyroMultipartPart *parts;
	size_t		n;
	PyroError	err;

	REQUIRE(pyro_multipart_parse((const uint8_t *) body, sizeof(body) - 1,
								 "Multipart/Form-Data; charset=utf-8; boundary=\"X-BOUNDARY\"",
								 &parts, &n, &err) == PYRO_OK);
	REQUIRE(n == 3);
	CHECK_EQ_STR(parts[0].name, "profile");
	CHECK_EQ_STR(parts[0].filename, "profile");
	CHECK(parts[0].content_type == NULL);
	/* the body keeps its own trailing CRLF; only the delimiter's is removed */
	CHECK_EQ_INT(parts[0].len, 5);
	CHECK(memcmp(parts[0].data, "abc\r\n", 5) == 0);
	CHECK_EQ_STR(parts[1].name, "empty");
	CHECK(parts[1].filename == NULL);
	CHECK_EQ_INT(parts[1].len, 0);
	CHECK_EQ_STR(parts[2].name, "q\"x");
	CHECK_EQ_INT(parts[2].len, 0);
	pyro_multipart_free(parts, n);

	/* bare LF line breaks and no parts at all */
	{
		static const char lf[] =
		"--b\nContent-Disposition: form-data; name=\"profile\"\n\nxyz\n--b--";

		REQUIRE(pyro_multipart_parse((const uint8_t *) lf, sizeof(lf) - 1,
									 "multipart/form-data; boundary=b", &parts, &n, &err) == PYRO_OK);
		REQUIRE(n == 1);
		CHECK_EQ_INT(parts[0].len, 3);
		CHECK(memcmp(parts[0].data, "xyz", 3) == 0);
		pyro_multipart_free(parts, n);

		REQUIRE(pyro_multipart_parse((const uint8_t *) "--b--", 5,
									 "multipart/form-data; boundary=b", &parts, &n, &err) == PYRO_OK);
		CHECK_EQ_INT(n, 0);
		pyro_multipart_free(parts, n);
	}
}

TEST(multipart_errors)
{
	static const char ok_part[] =
	"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n";
	PyroMultipartPart *parts;
	size_t		n;
	PyroError	err;
	PyroBuf		big;
	int			i;
	const char *ct = "multipart/form-data; boundary=b";

#define MP(body, type) \
	pyro_multipart_parse((const uint8_t *) (body), strlen(body), (type), &parts, &n, &err)

	CHECK_EQ_INT(MP(ok_part, "multipart/form-data"), PYRO_EINVAL);
	CHECK_EQ_INT(MP(ok_part, "multipart/form-data; boundary="), PYRO_EINVAL);
	CHECK_EQ_INT(MP(ok_part, "application/json; boundary=b"), PYRO_EINVAL);
	CHECK_EQ_INT(MP(ok_part, NULL), PYRO_EINVAL);
	/* no closing delimiter */
	CHECK_EQ_INT(MP(ok_part, ct), PYRO_EINVAL);
	CHECK(strstr(err.msg, "closing") != NULL);
	/* "--bx" is not the boundary "b" */
	CHECK_EQ_INT(MP("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--bx\r\n", ct),
				 PYRO_EINVAL);
	/* a part without a name */
	CHECK_EQ_INT(MP("--b\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nx\r\n--b--", ct),
				 PYRO_EINVAL);
	CHECK(strstr(err.msg, "no name") != NULL);
	CHECK_EQ_INT(MP("--b\r\n\r\nx\r\n--b--", ct), PYRO_EINVAL);
	/* no boundary line at all, unterminated headers */
	CHECK_EQ_INT(MP("hello", ct), PYRO_EINVAL);
	CHECK_EQ_INT(MP("", ct), PYRO_EINVAL);
	CHECK_EQ_INT(MP("--b\r\nContent-Disposition: form-data; name=a", ct), PYRO_EINVAL);

	/* 65 parts */
	pyro_buf_init(&big);
	for (i = 0; i < 65; i++)
		pyro_buf_append_str(&big, ok_part);
	pyro_buf_append_str(&big, "--b--");
	pyro_buf_append_byte(&big, 0);
	CHECK_EQ_INT(MP((const char *) big.data, ct), PYRO_ELIMIT);
	/* 64 are fine */
	big.len = 0;
	for (i = 0; i < 64; i++)
		pyro_buf_append_str(&big, ok_part);
	pyro_buf_append_str(&big, "--b--");
	pyro_buf_append_byte(&big, 0);
	REQUIRE(MP((const char *) big.data, ct) == PYRO_OK);
	CHECK_EQ_INT(n, 64);
	pyro_multipart_free(parts, n);

	/* a header line over 8 KiB */
	big.len = 0;
	pyro_buf_append_str(&big, "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Long: ");
	for (i = 0; i < 8200; i++)
		pyro_buf_append_byte(&big, 'x');
	pyro_buf_append_str(&big, "\r\n\r\nx\r\n--b--");
	pyro_buf_append_byte(&big, 0);
	CHECK_EQ_INT(MP((const char *) big.data, ct), PYRO_ELIMIT);
	pyro_buf_free(&big);
#undef MP
}

typedef struct Collected
{
	int			calls;
	char		joined[512];
	int64_t		values[16];
} Collected;

static PyroStatus
collect(void *arg, const PyroStr *frames, size_t n, int64_t value, PyroError *err)
{
	Collected  *c = arg;
	size_t		i;

	(void) err;
	if (c->calls < 16)
		c->values[c->calls] = value;
	c->calls++;
	for (i = 0; i < n; i++)
	{
		strncat(c->joined, frames[i].ptr, frames[i].len);
		strcat(c->joined, i + 1 < n ? "|" : "\n");
	}
	return PYRO_OK;
}

TEST(folded_lines)
{
	static const char text[] =
	"main;work a b;leaf(x, y) 12\r\n"
	"\n"
	"noSpaceSoSkipped\n"
	"main 0\n"
	"a;;b 3";
	Collected	c;
	PyroError	err;

	memset(&c, 0, sizeof(c));
	REQUIRE(pyro_folded_parse(text, sizeof(text) - 1, false, collect, &c, &err) == PYRO_OK);
	CHECK_EQ_INT(c.calls, 3);
	CHECK_EQ_STR(c.joined, "main|work a b|leaf(x, y)\nmain\na||b\n");
	CHECK_EQ_INT(c.values[0], 12);
	CHECK_EQ_INT(c.values[1], 0);
	CHECK_EQ_INT(c.values[2], 3);

	/* format=lines: the whole line is the stack and counts 1 */
	memset(&c, 0, sizeof(c));
	REQUIRE(pyro_folded_parse("a b;c\n\nd\n", 9, true, collect, &c, &err) == PYRO_OK);
	CHECK_EQ_INT(c.calls, 2);
	CHECK_EQ_STR(c.joined, "a b|c\nd\n");
	CHECK_EQ_INT(c.values[0], 1);
	CHECK_EQ_INT(c.values[1], 1);

	memset(&c, 0, sizeof(c));
	CHECK_EQ_INT(pyro_folded_parse("a 1\n\nb;c x1\n", 12, false, collect, &c, &err), PYRO_EINVAL);
	CHECK(strstr(err.msg, "line 3") != NULL);
	CHECK_EQ_INT(pyro_folded_parse("a -1", 4, false, collect, &c, &err), PYRO_EINVAL);
	CHECK_EQ_INT(pyro_folded_parse("a ", 2, false, collect, &c, &err), PYRO_EINVAL);
	CHECK_EQ_INT(pyro_folded_parse("a 9223372036854775808", 21, false, collect, &c, &err),
				 PYRO_EINVAL);
}

/* value of the sample whose stack is the given path of frame names */
static int64_t
profile_value(const PyroProfile *p, const char **path, size_t n)
{
	size_t		s;
	int64_t		sum = 0;

	for (s = 0; s < p->nsamples; s++)
	{
		uint32_t	node = p->samples[s].stack;
		size_t		depth = n;
		bool		ok = true;

		while (node != 0 && depth > 0)
		{
			const PyroSymbols *sym = p->sym;
			const PyroLocation *loc = &sym->locations[sym->stacks[node].location];
			const PyroFunction *fn = &sym->functions[sym->lines[loc->first_line].function];
			const PyroStr *name = &sym->strings[fn->name];

			depth--;
			if (name->len != strlen(path[depth]) ||
				memcmp(name->ptr, path[depth], name->len) != 0)
				ok = false;
			node = sym->stacks[node].parent;
		}
		if (ok && node == 0 && depth == 0)
			sum += p->samples[s].value;
	}
	return sum;
}

TEST(folded_to_profile_small)
{
	static const char text[] = "main;a;b 5\nmain;a 2\nmain;c;b 1\nmain;a;b 4\n";
	PyroProfile *p;
	PyroError	err;
	const char *mab[] = {"main", "a", "b"};
	const char *ma[] = {"main", "a"};
	const char *mcb[] = {"main", "c", "b"};

	REQUIRE(pyro_folded_to_profile(text, sizeof(text) - 1, &p, &err) == PYRO_OK);
	/* functions main, a, b, c; one location each; one line each */
	CHECK_EQ_INT(p->sym->nfunctions, 4);
	CHECK_EQ_INT(p->sym->nlocations, 4);
	CHECK_EQ_INT(p->sym->nlines, 4);
	/* stack nodes: root + main, main;a, main;a;b, main;c, main;c;b */
	CHECK_EQ_INT(p->sym->nstacks, 6);
	CHECK_EQ_INT(pyro_profile_total(p), 12);
	CHECK_EQ_INT(profile_value(p, mab, 3), 9);
	CHECK_EQ_INT(profile_value(p, ma, 2), 2);
	CHECK_EQ_INT(profile_value(p, mcb, 3), 1);
	pyro_profile_free(p);

	REQUIRE(pyro_lines_to_profile("x;y\nx;y\nx\n", 10, &p, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(p), 3);
	pyro_profile_free(p);

	CHECK_EQ_INT(pyro_folded_to_profile("a;b zz\n", 7, &p, &err), PYRO_EINVAL);
	CHECK(p == NULL);
}

/* the real .NET file: counts cross-checked with awk (see the README row) */
TEST(folded_real_file)
{
	size_t		len;
	unsigned char *data = unit_read_file(unit_data_path("folded/dotnet-tree_1.txt"), &len);
	PyroProfile *p;
	PyroError	err;
	PyroTree   *t;

	REQUIRE(data != NULL);
	REQUIRE(pyro_folded_to_profile((const char *) data, len, &p, &err) == PYRO_OK);
	CHECK_EQ_INT(p->nsamples, 10);
	CHECK_EQ_INT(pyro_profile_total(p), 28387618);
	CHECK_EQ_INT(p->sym->nfunctions, 84);
	CHECK_EQ_INT(p->sym->nlocations, 84);
	/* 127 distinct stack prefixes plus the virtual root */
	CHECK_EQ_INT(p->sym->nstacks, 128);

	/* the same text fed to a tree directly and through the profile agree */
	t = pyro_tree_create();
	REQUIRE(t != NULL);
	CHECK_EQ_INT(pyro_tree_add_profile(t, p, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_tree_total(t), 28387618);
	pyro_tree_free(t);
	pyro_profile_free(p);
	free(data);
}

/* the profile types of the text formats (spec §10.7) */
TEST(text_types_and_scaling)
{
	PyroProfile *p;
	PyroError	err;
	PyroTextTyped typed;
	const PyroTextType *tt;

	CHECK(pyro_text_type("nope") == NULL);
	tt = pyro_text_type("");
	REQUIRE(tt != NULL);
	CHECK_EQ_STR(tt->name, "process_cpu");
	CHECK_EQ_STR(pyro_text_type("inuse_space")->type, "inuse_space");
	CHECK_EQ_STR(pyro_text_type("mutex_count")->name, "mutex");
	CHECK_EQ_STR(pyro_text_type("wall")->name, "wall");

	/* CPU-like with a sample rate: values scaled to nanoseconds */
	REQUIRE(pyro_folded_to_profile("a;b 3\na 1\n", 10, &p, &err) == PYRO_OK);
	REQUIRE(pyro_text_profile_type(p, pyro_text_type("cpu"), 100, 1700000000000LL, &typed,
								   &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(p), 40000000);
	CHECK_EQ_INT(p->period, 10000000);
	CHECK_EQ_INT(p->time_nanos, 1700000000000000000LL);
	CHECK_EQ_STR(typed.type, "cpu");
	CHECK_EQ_STR(typed.unit, "nanoseconds");
	CHECK_EQ_STR(typed.period_type, "cpu");
	pyro_profile_free(p);

	/* rate 0: sample counts, no period */
	REQUIRE(pyro_folded_to_profile("a 5\n", 4, &p, &err) == PYRO_OK);
	REQUIRE(pyro_text_profile_type(p, pyro_text_type("cpu"), 0, 0, &typed, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(p), 5);
	CHECK_EQ_STR(typed.type, "samples");
	CHECK_EQ_STR(typed.unit, "count");
	CHECK_EQ_STR(typed.period_type, "");
	pyro_profile_free(p);

	/* not CPU-like: values as sent */
	REQUIRE(pyro_folded_to_profile("a 5\n", 4, &p, &err) == PYRO_OK);
	REQUIRE(pyro_text_profile_type(p, pyro_text_type("inuse_space"), 100, 0, &typed, &err)
			== PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(p), 5);
	CHECK_EQ_STR(typed.unit, "bytes");
	pyro_profile_free(p);

	/* a value that overflows once scaled is an error */
	REQUIRE(pyro_folded_to_profile("a 9223372036854775807\n", 22, &p, &err) == PYRO_OK);
	CHECK(pyro_text_profile_type(p, pyro_text_type("cpu"), 1, 0, &typed, &err) == PYRO_EINVAL);
	pyro_profile_free(p);
}

const UnitTest ingest_params_tests[] = {
	UNIT_ENTRY(app_name_plain_and_labels),
	UNIT_ENTRY(app_name_errors),
	UNIT_ENTRY(attime_forms),
	UNIT_ENTRY(multipart_go_sdk),
	UNIT_ENTRY(multipart_variants),
	UNIT_ENTRY(multipart_errors),
	UNIT_ENTRY(folded_lines),
	UNIT_ENTRY(folded_to_profile_small),
	UNIT_ENTRY(folded_real_file),
	UNIT_ENTRY(text_types_and_scaling),
	{NULL, NULL}
};

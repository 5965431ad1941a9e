/*
 * test_speedscope.c
 *	  Unit tests of speedscope.c: upstream's fixtures (evented, sampled,
 *	  several profiles, duplicates merged), value units, and every error
 *	  the converter must give instead of storing something wrong.
 */
#include "unit.h"
#include "../../src/core/speedscope.h"

/* "a;b;c=5 a;b=5 ..." of a profile: its stacks (sorted) and values */
static void
render(const PyroProfile *p, char *out, size_t size)
{
	char		lines[64][256];
	size_t		n = 0,
				off = 0;

	for (size_t i = 0; i < p->nsamples && n < 64; i++)
	{
		uint32_t	chain[64];
		size_t		depth = 0,
					lo = 0;
		uint32_t	node = p->samples[i].stack;

		while (node != 0 && depth < 64)
		{
			chain[depth++] = node;
			node = p->sym->stacks[node].parent;
		}
		lines[n][0] = '\0';
		while (depth > 0)
		{
			const PyroLocation *loc = &p->sym->locations[p->sym->stacks[chain[--depth]].location];
			char		fb[128];
			PyroStr		s = pyro_location_frame_name(p->sym, loc, 0, fb, sizeof(fb));

			lo += snprintf(lines[n] + lo, sizeof(lines[n]) - lo, "%.*s%s", (int) s.len, s.ptr,
						   depth ? ";" : "");
		}
		snprintf(lines[n] + lo, sizeof(lines[n]) - lo, "=%lld", (long long) p->samples[i].value);
		n++;
	}
	qsort(lines, n, sizeof(lines[0]), (int (*) (const void *, const void *)) strcmp);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += snprintf(out + off, size - off, "%s%s", i ? " " : "", lines[i]);
}

static PyroSpeedscope *
parse_file(const char *name, int64_t none_ns)
{
	size_t		len;
	unsigned char *data = unit_read_file(unit_data_path(name), &len);
	PyroSpeedscope *s = NULL;
	PyroError	err;

	if (data == NULL)
		return NULL;
	if (pyro_speedscope_parse((const char *) data, len, none_ns, &s, &err) != PYRO_OK)
		fprintf(stderr, "  %s: %s\n", name, err.msg);
	free(data);
	return s;
}

TEST(speedscope_evented)
{
	char		buf[1024];
	PyroSpeedscope *s = parse_file("speedscope/simple.speedscope.json", 0);

	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->nprofiles, 1);
	CHECK_EQ_STR(s->profiles[0].name, "simple.txt");
	CHECK_EQ_STR(s->profiles[0].unit, "none");
	render(s->profiles[0].prof, buf, sizeof(buf));
	/* c 0-2 and 6-9, d 2-6 under a;b; b alone 9-14 */
	CHECK_EQ_STR(buf, "a;b;c=5 a;b;d=4 a;b=5");
	pyro_speedscope_free(s);

	/* "none" units count a sample's worth of ns each */
	s = parse_file("speedscope/simple.speedscope.json", 10000000);
	REQUIRE(s != NULL);
	CHECK_EQ_INT(pyro_profile_total(s->profiles[0].prof), 140000000);
	pyro_speedscope_free(s);
}

TEST(speedscope_sampled)
{
	char		buf[1024];
	PyroSpeedscope *s = parse_file("speedscope/two-sampled.speedscope.json", 0);

	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->nprofiles, 2);
	CHECK_EQ_STR(s->profiles[0].name, "one");
	CHECK_EQ_STR(s->profiles[1].name, "two");
	CHECK_EQ_STR(s->profiles[0].unit, "seconds");
	render(s->profiles[0].prof, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "a;b;c=5000000000 a;b;d=4000000000 a;b=5000000000");
	pyro_speedscope_free(s);

	/* three equal profiles merge into one */
	s = parse_file("speedscope/duplicates.speedscope.json", 0);
	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->nprofiles, 1);
	pyro_speedscope_free(s);

	s = parse_file("speedscope/two-sampled-bytes.speedscope.json", 0);
	REQUIRE(s != NULL);
	CHECK_EQ_STR(s->profiles[0].unit, "bytes");
	CHECK_EQ_INT(pyro_profile_total(s->profiles[0].prof), 14);
	pyro_speedscope_free(s);
}

#define DOC(profiles) \
	"{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\"," \
	"\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"profiles\":[" profiles "]}"

static const char *
parse_error(const char *doc)
{
	static PyroError err;
	PyroSpeedscope *s;

	if (pyro_speedscope_parse(doc, strlen(doc), 0, &s, &err) == PYRO_OK)
	{
		pyro_speedscope_free(s);
		return "";
	}
	return err.msg;
}

TEST(speedscope_values)
{
	PyroSpeedscope *s;
	PyroError	err;
	const char *doc = DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"milliseconds\","
						  "\"startValue\":0,\"samples\":[[0,1],[0]],\"weights\":[1.5,0.25]},"
						  "{\"TYPE\":\"evented\",\"Name\":\"y\",\"unit\":\"microseconds\",\"startValue\":-5,"
						  "\"events\":[{\"type\":\"O\",\"at\":0,\"frame\":0},{\"type\":\"O\",\"at\":1,\"frame\":1},"
						  "{\"type\":\"C\",\"at\":3.5,\"frame\":1},{\"type\":\"C\",\"at\":4,\"frame\":0}]}");
	char		buf[256];

	REQUIRE(pyro_speedscope_parse(doc, strlen(doc), 0, &s, &err) == PYRO_OK);
	REQUIRE(s->nprofiles == 2);
	/* sorted by startValue; keys matched without regard to case */
	CHECK_EQ_STR(s->profiles[0].name, "y");
	render(s->profiles[0].prof, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "a;b=2500 a=1500");
	render(s->profiles[1].prof, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "a;b=1500000 a=250000");
	pyro_speedscope_free(s);
}

TEST(speedscope_errors)
{
	CHECK(strstr(parse_error("{\"$schema\":\"x\"}"), "unknown speedscope schema") != NULL);
	CHECK(strstr(parse_error("[1]"), "not an object") != NULL);
	CHECK(strstr(parse_error(DOC("") "x"), "trailing") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"seconds\","
								 "\"samples\":[[2]],\"weights\":[1]}")), "invalid frame") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"seconds\","
								 "\"samples\":[[0.5]],\"weights\":[1]}")), "invalid frame") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"seconds\","
								 "\"samples\":[[0]],\"weights\":[1,2]}")), "differ in length") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"seconds\","
								 "\"samples\":[[0]],\"weights\":[-1]}")), "negative weight") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"parsecs\"}")),
				 "unit") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"weird\",\"name\":\"x\",\"unit\":\"seconds\"}")),
				 "type") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"evented\",\"name\":\"x\",\"unit\":\"seconds\",\"events\":["
								 "{\"type\":\"O\",\"at\":2,\"frame\":0},{\"type\":\"C\",\"at\":1,\"frame\":0}]}")),
				 "out of order") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"evented\",\"name\":\"x\",\"unit\":\"seconds\",\"events\":["
								 "{\"type\":\"O\",\"at\":0,\"frame\":0},{\"type\":\"C\",\"at\":1,\"frame\":1}]}")),
				 "non-open") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"evented\",\"name\":\"x\",\"unit\":\"seconds\",\"events\":["
								 "{\"type\":\"C\",\"at\":0,\"frame\":0}]}")), "not open") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"seconds\","
								 "\"samples\":[[0]],\"weights\":[1e300]}")), "out of range") != NULL);
	CHECK(strstr(parse_error(DOC("{\"type\":\"sampled\",\"name\":7,\"unit\":\"seconds\"}")),
				 "string name") != NULL);
	CHECK(strstr(parse_error("{\"$schema\":\"\xff\"}"), "UTF-8") != NULL);
	{
		char		deep[300];

		memset(deep, '[', sizeof(deep) - 1);
		deep[sizeof(deep) - 1] = '\0';
		CHECK(strstr(parse_error(deep), "nested too deeply") != NULL);
	}
	CHECK(strcmp(parse_error(DOC("")), "") == 0);

	/*
	 * no samples and no weights: an empty profile (fuzz_speedscope found
	 * this)
	 */
	CHECK(strcmp(parse_error(DOC("{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"seconds\","
								 "\"samples\":[]}")), "") == 0);
}

const UnitTest speedscope_tests[] = {
	UNIT_ENTRY(speedscope_evented),
	UNIT_ENTRY(speedscope_sampled),
	UNIT_ENTRY(speedscope_values),
	UNIT_ENTRY(speedscope_errors),
	{NULL, NULL}
};

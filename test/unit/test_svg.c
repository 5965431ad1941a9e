/*
 * test_svg.c
 *	  Unit tests of svg.c: frames placed and sized from the flamebearer
 *	  (absolute starts from the delta-encoded levels, widths in proportion
 *	  to the ticks), names escaped for XML and shortened to their frame
 *	  (never splitting a UTF-8 character), tooltips, diff colours.
 */
#include "unit.h"
#include "../../src/core/svg.h"

static void
add(PyroTree *t, const char *a, const char *b, int64_t v)
{
	PyroStr		fr[2] = {{a, (uint32_t) strlen(a)}, {b, (uint32_t) (b ? strlen(b) : 0)}};
	PyroError	err;

	if (pyro_tree_add_stack(t, fr, b ? 2 : 1, v, &err) != PYRO_OK)
		unit_failures++;
}

static char *
render(const PyroFlamegraph *fg, const char *title, const char *unit)
{
	PyroBuf		b;
	char	   *s;

	pyro_buf_init(&b);
	pyro_flamegraph_svg(fg, title, unit, &b);
	pyro_buf_append_byte(&b, 0);
	s = strdup((char *) b.data);
	pyro_buf_free(&b);
	return s;
}

/* The n-th <g> element (0-based) of s, as a string of its own. */
static char *
frame(const char *s, int n)
{
	const char *p = s;
	const char *e;

	for (int i = 0; i <= n; i++)
	{
		p = strstr(p + (i > 0), "<g class=\"f\"");
		if (p == NULL)
			return strdup("");
	}
	e = strstr(p, "</g>");
	return strndup(p, e ? (size_t) (e - p + 4) : strlen(p));
}

TEST(svg_single)
{
	PyroTree   *t = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;
	char	   *s;
	char	   *f;

	REQUIRE(t != NULL);
	add(t, "main", "a<b>&\"c'", 30);
	add(t, "main", "\xc3\xa9t\xc3\xa9-\xc3\xa9t\xc3\xa9-\xc3\xa9t\xc3\xa9-\xc3\xa9t\xc3\xa9-long", 10);
	add(t, "main", NULL, 20);
	REQUIRE(pyro_flamegraph_build(t, 0, &fg, &err) == PYRO_OK);
	s = render(&fg, "x & y", "samples");
	CHECK(strncmp(s, "<?xml version=\"1.0\"", 19) == 0);
	CHECK(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
	CHECK(strstr(s, "data-ticks=\"60\"") != NULL);
	CHECK(strstr(s, ">x &amp; y</text>") != NULL);
	CHECK(strstr(s, "total 60 samples") != NULL);
	CHECK(strstr(s, "</svg>\n") != NULL);

	/* root: all 1180 px */
	f = frame(s, 0);
	CHECK(strstr(f, "data-depth=\"0\" data-x=\"0\" data-total=\"60\" data-self=\"0\"") != NULL);
	CHECK(strstr(f, "<rect x=\"10.00\" y=\"50.00\" width=\"1180.00\"") != NULL);
	free(f);
	/* main: self 20 */
	f = frame(s, 1);
	CHECK(strstr(f, "data-total=\"60\" data-self=\"20\"") != NULL);
	CHECK(strstr(f, "<title>main\ntotal: 60 samples (100.00%), self: 20 samples (33.33%)</title>") != NULL);
	free(f);

	/*
	 * the children of main after its self (flamebearer order): the escaped
	 * name at x 20 ticks (403.33 px), 30 ticks wide (590 px)
	 */
	f = frame(s, 2);
	CHECK(strstr(f, "data-depth=\"2\" data-x=\"20\" data-total=\"30\"") != NULL);
	CHECK(strstr(f, "<rect x=\"403.33\"") != NULL);
	CHECK(strstr(f, "<title>a&lt;b&gt;&amp;&quot;c&apos;\n") != NULL);
	CHECK(strstr(f, "width=\"590.00\"") != NULL);
	CHECK(strstr(f, ">a&lt;b&gt;&amp;&quot;c&apos;</text>") != NULL);
	free(f);
	/* the second child starts where the first ends: x 50 ticks = 993.33 px */
	f = frame(s, 3);
	CHECK(strstr(f, "data-x=\"50\" data-total=\"10\"") != NULL);
	CHECK(strstr(f, "<rect x=\"993.33\" y=\"86.00\" width=\"196.67\"") != NULL);
	/* 196.67 px: 27 characters fit, the whole 20-character name (UTF-8) */
	CHECK(strstr(f, ">\xc3\xa9t\xc3\xa9-\xc3\xa9t\xc3\xa9-\xc3\xa9t\xc3\xa9-\xc3\xa9t\xc3\xa9-long</text>") != NULL);
	free(f);
	free(s);
	pyro_flamegraph_free(&fg);
	pyro_tree_free(t);
}

TEST(svg_truncated_names)
{
	PyroTree   *t = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;
	char	   *s;
	char	   *f;

	REQUIRE(t != NULL);
	add(t, "r", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4);
	add(t, "r", "wide", 96);
	REQUIRE(pyro_flamegraph_build(t, 0, &fg, &err) == PYRO_OK);
	s = render(&fg, NULL, NULL);
	CHECK(strstr(s, ">Flame graph</text>") != NULL);
	/* 4 of 100 ticks: 47.2 px, 5 characters fit: 3 and ".." */
	f = frame(s, 3);
	CHECK(strstr(f, "data-total=\"4\"") != NULL);
	CHECK(strstr(f, ">\xc3\xa9\xc3\xa9\xc3\xa9..</text>") != NULL);
	free(f);
	free(s);
	pyro_flamegraph_free(&fg);
	pyro_tree_free(t);
}

TEST(svg_diff)
{
	PyroTree   *l = pyro_tree_create();
	PyroTree   *r = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;
	char	   *s;
	char	   *f;

	REQUIRE(l != NULL && r != NULL);
	add(l, "main", "grows", 10);
	add(l, "main", "shrinks", 30);
	add(r, "main", "grows", 30);
	add(r, "main", "shrinks", 10);
	REQUIRE(pyro_flamegraph_diff(l, r, 0, &fg, &err) == PYRO_OK);
	s = render(&fg, NULL, "ns");
	CHECK(strstr(s, ">Diff flame graph</text>") != NULL);
	CHECK(strstr(s, "baseline 40, comparison 40 ns") != NULL);
	CHECK(strstr(s, "data-ticks=\"80\"") != NULL);
	/* main: the same share on both sides, grey */
	f = frame(s, 1);
	CHECK(strstr(f, "data-left=\"40\" data-right=\"40\"") != NULL);
	CHECK(strstr(f, "fill=\"rgb(190,190,190)\"") != NULL);
	free(f);
	for (int i = 2; i <= 3; i++)
	{
		f = frame(s, i);
		if (strstr(f, "<title>grows"))
		{
			CHECK(strstr(f, "data-left=\"10\" data-right=\"30\"") != NULL);
			CHECK(strstr(f, "fill=\"rgb(240,60,60)\"") != NULL);	/* +100%: full red */
			CHECK(strstr(f, "change: +50.00%") != NULL);
		}
		else
		{
			CHECK(strstr(f, "<title>shrinks") != NULL);
			CHECK(strstr(f, "data-left=\"30\" data-right=\"10\"") != NULL);
			CHECK(strstr(f, "change: -50.00%") != NULL);
			/* -66.7%: two thirds to green */
			CHECK(strstr(f, "fill=\"rgb(103,203,103)\"") != NULL);
		}
		free(f);
	}
	free(s);
	pyro_flamegraph_free(&fg);
	pyro_tree_free(l);
	pyro_tree_free(r);
}

const UnitTest svg_tests[] = {
	UNIT_ENTRY(svg_single),
	UNIT_ENTRY(svg_truncated_names),
	UNIT_ENTRY(svg_diff),
	{NULL, NULL}
};

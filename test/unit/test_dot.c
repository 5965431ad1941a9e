/*
 * test_dot.c
 *	  The DOT call graph of a profile (API-2.md 3.7).
 */
#include <string.h>

#include "unit.h"
#include "dot.h"
#include "profile.h"

static uint32_t
loc_named(PyroSymbols *s, const char *name, const char *file, int64_t line)
{
	PyroFunction f = {0};
	PyroLine	l;

	f.name = pyro_sym_intern_string(s, name, strlen(name));
	f.filename = pyro_sym_intern_string(s, file, strlen(file));
	l.function = pyro_sym_intern_function(s, &f);
	l.line = line;
	return pyro_sym_intern_location(s, 0, 0, &l, 1);
}

static void
push(PyroProfile *p, const uint32_t *locs, int n, int64_t v)
{
	uint32_t	st = 0;

	for (int i = 0; i < n; i++)
		st = pyro_sym_intern_stack(p->sym, st, locs[i]);
	REQUIRE(pyro_profile_add_sample(p, st, v, 0));
}

static int
count(const char *hay, const char *needle)
{
	int			n = 0;

	for (const char *c = strstr(hay, needle); c; c = strstr(c + 1, needle))
		n++;
	return n;
}

TEST(dot_graph)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p = pyro_profile_create(s, true);
	uint32_t	m = loc_named(s, "main.main", "/src/main.go", 10),
				a = loc_named(s, "github.com/x/y.(*T).a", "/src/y/a.go", 20),
				b = loc_named(s, "java/lang/Thread.run", "Thread.java", 30),
				c = loc_named(s, "c", "c.go", 0);
	uint32_t	s1[] = {m, a, b},
				s2[] = {m, a},
				s3[] = {m, c, b};
	PyroBuf		out;
	PyroError	err;
	const char *t;

	push(p, s1, 3, 3000000000);
	push(p, s2, 3 - 1, 2000000000);
	push(p, s3, 3, 5000000000);
	pyro_buf_init(&out);
	REQUIRE(pyro_dot_render(p, "cpu", "nanoseconds", 1764968400000000000, 0, &out, &err) == PYRO_OK);
	pyro_buf_append_byte(&out, 0);
	t = (const char *) out.data;
	{
		const char *head = "digraph \"unnamed\" {\nnode [style=filled fillcolor=\"#f8f8f8\"]\n";

		CHECK(strncmp(t, head, strlen(head)) == 0);
	}
	CHECK(strstr(t, "for how to read the graph\\l\"] }\n") != NULL);
	CHECK(strstr(t, "Type: cpu\\l") != NULL);
	CHECK(strstr(t, "Time: Dec 5, 2025 at 9:00pm (UTC)\\l") != NULL);
	CHECK(strstr(t, "Showing nodes accounting for 10s, 100% of 10s total\\l") != NULL);
	CHECK(strstr(t, "See https://git.io/JfYMW for how to read the graph") != NULL);
	/* main: cum 10 s of 10 s, no flat: first, "0 of 10s (100%)" */
	CHECK(strstr(t, "N1 [label=\"main\\nmain\\nmain.go:10\\n0 of 10s (100%)\" id=\"node1\" fontsize=8") != NULL);
	/* Thread.run: flat 8 s, package path shortened */
	CHECK(strstr(t, "label=\"Thread\\nrun\\nThread.java:30\\n8s (80.00%)\"") != NULL);
	CHECK(strstr(t, "label=\"y\\n(*T)\\na\\na.go:20\\n2s (20.00%)\\nof 5s (50.00%)\"") != NULL);
	/* c has no line: no file part */
	CHECK(strstr(t, "label=\"c\\n0 of 5s (50.00%)\"") != NULL);
	CHECK_EQ_INT(count(t, "\nN"), 4 + 4);	/* 4 nodes, 4 edges */
	CHECK_EQ_INT(count(t, " -> N"), 4);
	CHECK_EQ_INT(count(t, "dotted"), 0);
	CHECK(strstr(t, "tooltip=\"main.main -> github.com/x/y.(*T).a (5s)\"") != NULL);
	CHECK(t[out.len - 3] == '}' && t[out.len - 2] == '\n');
	out.len = 0;

	/* two nodes: main and Thread.run; the edges through a and c are residual */
	REQUIRE(pyro_dot_render(p, "cpu", "nanoseconds", 0, 2, &out, &err) == PYRO_OK);
	pyro_buf_append_byte(&out, 0);
	t = (const char *) out.data;
	CHECK(strstr(t, "Time:") == NULL);
	CHECK(strstr(t, "Showing top 2 nodes out of 4\\l") != NULL);
	CHECK_EQ_INT(count(t, " -> N"), 1);
	CHECK(strstr(t, "N1 -> N2 [label=\" 8s\"") != NULL);
	CHECK(strstr(t, "main.main ... java/lang/Thread.run (8s)") != NULL);
	CHECK_EQ_INT(count(t, "style=\"dotted\""), 1);
	pyro_buf_free(&out);

	/* nothing to show: nothing written */
	p->nsamples = 0;
	pyro_buf_init(&out);
	REQUIRE(pyro_dot_render(p, "cpu", "nanoseconds", 0, 0, &out, &err) == PYRO_OK);
	CHECK_EQ_INT(out.len, 0);
	pyro_buf_free(&out);
	pyro_profile_free(p);
}

const UnitTest dot_tests[] = {
	UNIT_ENTRY(dot_graph),
	{NULL, NULL}
};

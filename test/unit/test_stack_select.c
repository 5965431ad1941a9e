/*
 * test_stack_select.c
 *	  Stack trace selection (call site, go_pgo) on a profile.
 */
#include <string.h>

#include "unit.h"
#include "profile.h"
#include "stack_select.h"
#include "tree.h"

/* a single-line location of function name at line */
static uint32_t
loc_of(PyroSymbols *s, const char *name, int64_t line)
{
	PyroFunction f = {0};
	PyroLine	l;

	f.name = pyro_sym_intern_string(s, name, strlen(name));
	l.function = pyro_sym_intern_function(s, &f);
	l.line = line;
	return pyro_sym_intern_location(s, 0, 0, &l, 1);
}

/* push a stack of locations, root first, as one sample */
static void
add(PyroProfile *p, const uint32_t *locs, int n, int64_t v)
{
	uint32_t	st = 0;

	for (int i = 0; i < n; i++)
		st = pyro_sym_intern_stack(p->sym, st, locs[i]);
	REQUIRE(pyro_profile_add_sample(p, st, v, 0));
}

/* the total of the call-tree node at folded path "a;b" of p (0: none) */
static int64_t
node_total(const PyroProfile *p, const char *folded)
{
	PyroTree   *t = pyro_tree_create();
	PyroError	err;
	uint32_t	cur = 0;
	const char *q = folded;
	int64_t		v;

	if (t == NULL || pyro_tree_add_profile(t, p, &err) != PYRO_OK)
	{
		CHECK(!"could not build the call tree");
		pyro_tree_free(t);
		return -1;
	}
	while (*q && (cur != 0 || q == folded))
	{
		const char *e = strchr(q, ';');
		size_t		len = e ? (size_t) (e - q) : strlen(q);
		uint32_t	c;

		for (c = t->nodes[cur].first_child; c != 0; c = t->nodes[c].next_sibling)
		{
			const PyroStr *n = &t->names->strings[t->nodes[c].name];

			if (n->len == len && memcmp(n->ptr, q, len) == 0)
				break;
		}
		cur = c;
		q += len;
		if (*q == ';')
			q++;
	}
	v = cur ? t->nodes[cur].total : 0;
	pyro_tree_free(t);
	return v;
}

TEST(stack_select_call_site)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p = pyro_profile_create(s, true);
	PyroProfile *r;
	PyroError	err;
	uint32_t	main_ = loc_of(s, "main", 1),
				a = loc_of(s, "a", 2),
				b = loc_of(s, "b", 3),
				c = loc_of(s, "c", 4),
				other = loc_of(s, "other", 5);
	uint32_t	inl;
	PyroLine	lines[2];
	const char *site[] = {"main", "a"};
	const char *deep[] = {"main", "a", "x"};
	PyroStackSelector sel = {0};

	/* one location with two lines: x inlined into a (innermost first) */
	{
		PyroFunction f = {0};

		f.name = pyro_sym_intern_string(s, "x", 1);
		lines[0].function = pyro_sym_intern_function(s, &f);
	}
	lines[0].line = 7;
	lines[1] = s->lines[s->locations[a].first_line];
	inl = pyro_sym_intern_location(s, 0, 0, lines, 2);

	{
		uint32_t	st1[] = {main_, a, b};

		add(p, st1, 3, 3);
	}
	{
		uint32_t	st2[] = {main_, a};

		add(p, st2, 2, 2);
	}
	{
		uint32_t	st3[] = {main_, c, a};

		add(p, st3, 3, 5);
	}
	{
		uint32_t	st4[] = {other, a};

		add(p, st4, 2, 7);
	}
	{
		uint32_t	st5[] = {main_};

		add(p, st5, 1, 11);
	}
	{
		uint32_t	st6[] = {main_, inl, b};

		add(p, st6, 3, 13);
	}

	sel.call_site = site;
	sel.ncall = 2;
	REQUIRE(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_OK);
	/* main;a;b, main;a and main;{a,x};b: whole stacks from the root */
	CHECK_EQ_INT(pyro_profile_total(r), 3 + 2 + 13);
	CHECK_EQ_INT(node_total(r, "main;a"), node_total(p, "main;a"));
	CHECK_EQ_INT(node_total(r, "main;a;x;b"), 13);
	pyro_profile_free(r);

	/* the inlined frame counts as its own name, after its caller */
	sel.call_site = deep;
	sel.ncall = 3;
	REQUIRE(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(r), 13);
	pyro_profile_free(r);

	/* no call site: every sample, symbols copied */
	sel.ncall = 0;
	REQUIRE(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(r), pyro_profile_total(p));
	CHECK_EQ_INT(node_total(r, "other;a"), 7);
	pyro_profile_free(r);
	pyro_profile_free(p);
}

TEST(stack_select_go_pgo)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p = pyro_profile_create(s, true);
	PyroProfile *r;
	PyroProfile *c;
	PyroError	err;
	uint32_t	main_ = loc_of(s, "main", 1),
				a = loc_of(s, "a", 2),
				b10 = loc_of(s, "b", 10),
				b11 = loc_of(s, "b", 11);
	PyroStackSelector sel = {0};
	const char *site[] = {"nothing"};

	{
		uint32_t	st7[] = {main_, a, b10};

		add(p, st7, 3, 3);
	}
	{
		uint32_t	st8[] = {main_, a, b11};

		add(p, st8, 3, 4);
	}
	{
		uint32_t	st9[] = {main_, b10};

		add(p, st9, 2, 5);
	}

	/* the call site is ignored with go_pgo */
	sel.call_site = site;
	sel.ncall = 1;
	sel.go_pgo = true;
	sel.keep_locations = 2;
	REQUIRE(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_profile_total(r), 12);
	/* two leaf-side locations kept: a;b twice, main;b once */
	CHECK_EQ_INT(node_total(r, "a;b"), 7);
	CHECK_EQ_INT(node_total(r, "main;b"), 5);
	CHECK_EQ_INT(node_total(r, "main"), 5);
	REQUIRE(pyro_profile_canonical(r, &c, &err) == PYRO_OK);
	CHECK_EQ_INT(c->nsamples, 3);	/* b at lines 10 and 11 stay apart */
	pyro_profile_free(c);
	pyro_profile_free(r);

	/* aggregate_callees: the leaf's line numbers go, a;b becomes one */
	sel.aggregate_callees = true;
	REQUIRE(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_OK);
	REQUIRE(pyro_profile_canonical(r, &c, &err) == PYRO_OK);
	CHECK_EQ_INT(c->nsamples, 2);
	CHECK_EQ_INT(pyro_profile_total(c), 12);
	pyro_profile_free(c);
	pyro_profile_free(r);

	/* keep_locations 0: whole stacks */
	sel.keep_locations = 0;
	sel.aggregate_callees = false;
	REQUIRE(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_OK);
	CHECK_EQ_INT(node_total(r, "main;a;b"), 7);
	pyro_profile_free(r);
	pyro_profile_free(p);
}

/* a corrupt profile is an error, not a crash */
TEST(stack_select_corrupt)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p = pyro_profile_create(s, true);
	PyroProfile *r;
	PyroError	err;
	PyroStackSelector sel = {0};
	const char *site[] = {"main"};

	loc_of(s, "main", 1);
	REQUIRE(pyro_profile_add_sample(p, 99, 1, 0));
	sel.call_site = site;
	sel.ncall = 1;
	CHECK(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_ECORRUPT);
	sel.go_pgo = true;
	CHECK(pyro_profile_select_stacks(p, &sel, &r, &err) == PYRO_ECORRUPT);
	pyro_profile_free(p);
}

const UnitTest stack_select_tests[] = {
	UNIT_ENTRY(stack_select_call_site),
	UNIT_ENTRY(stack_select_go_pgo),
	UNIT_ENTRY(stack_select_corrupt),
	{NULL, NULL}
};

/*
 * test_merge.c
 *	  Unit tests of merge.c: hand-computed sums across profiles with
 *	  different symbol tables, zero sums dropped, ordering, span handling,
 *	  the span filter, encoded input, corrupt input and a large merge.
 */
#include "unit.h"
#include "../../src/core/profile.h"

/*
 * Intern the stack given as "root;child;leaf" (one function per frame,
 * address derived from the name length so it is deterministic).
 */
static uint32_t
stack_of(PyroSymbols *s, const char *path)
{
	uint32_t	node = 0;
	const char *p = path;

	while (*p)
	{
		const char *e = strchr(p, ';');
		size_t		n = e ? (size_t) (e - p) : strlen(p);
		PyroFunction f = {0, 0, 0, 0};
		PyroLine	l;
		uint32_t	loc;

		f.name = pyro_sym_intern_string(s, p, n);
		l.function = pyro_sym_intern_function(s, &f);
		l.line = 0;
		loc = pyro_sym_intern_location(s, 0, n, &l, 1);
		node = pyro_sym_intern_stack(s, node, loc);
		p += n;
		if (*p == ';')
			p++;
	}
	return node;
}

/* Render a stack node as "root;...;leaf" into buf. */
static const char *
path_of(const PyroSymbols *s, uint32_t node, char *buf, size_t size)
{
	const char *names[64];
	int			depth = 0;
	char		tmp[64][64];

	buf[0] = '\0';
	while (node != 0 && depth < 64)
	{
		pyro_location_frame_name(s, &s->locations[s->stacks[node].location], 0,
								 tmp[depth], sizeof(tmp[depth]));
		names[depth] = tmp[depth];

		depth++;
		node = s->stacks[node].parent;
	}
	while (depth > 0)
	{
		depth--;
		strncat(buf, names[depth], size - strlen(buf) - 1);
		if (depth > 0)
			strncat(buf, ";", size - strlen(buf) - 1);
	}
	return buf;
}

static PyroProfile *
new_profile(void)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;

	if (s == NULL)
		return NULL;
	p = pyro_profile_create(s, true);
	if (p == NULL)
		pyro_symbols_free(s);
	return p;
}

static void
add(PyroProfile *p, const char *path, int64_t v, uint64_t span)
{
	pyro_profile_add_sample(p, stack_of(p->sym, path), v, span);
}

TEST(merge_sums_across_profiles)
{
	PyroProfile *a = new_profile();
	PyroProfile *b = new_profile();
	PyroMerger *m = pyro_merger_create(0);
	const PyroProfile *r;
	PyroError	err;
	char		buf[256];
	int64_t		foo = 0;
	int64_t		baz = 0;
	int64_t		main_only = 0;
	uint32_t	nmain = 0;

	REQUIRE(a && b && m);
	/* b interns in a different order, so its indexes differ from a's */
	add(b, "main;baz", 4, 0);
	add(b, "main;foo", 2, 0);
	add(b, "main;bar", -3, 0);
	add(a, "main;foo", 5, 0);
	add(a, "main;bar", 3, 0);
	add(a, "main;foo", 1, 0);	/* duplicate within one profile */
	add(a, "main", 10, 0);
	add(a, "main;zero", 0, 0);	/* zero value */
	a->sample_type = pyro_sym_intern_string(a->sym, "cpu", 3);
	a->period = 100;
	a->time_nanos = 5;
	b->sample_type = pyro_sym_intern_string(b->sym, "other", 5);
	b->period = 7;

	CHECK_EQ_INT(pyro_merger_add_profile(m, a, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_merger_add_profile(m, b, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_merger_count(m), 2);
	r = pyro_merger_result(m, &err);
	REQUIRE(r != NULL);

	/* foo 5+1+2 = 8, bar 3-3 = 0 (dropped), baz 4, main 10 */
	CHECK_EQ_INT(r->nsamples, 3);
	CHECK_EQ_INT(pyro_profile_total(r), 22);
	for (size_t i = 0; i < r->nsamples; i++)
	{
		const char *pth = path_of(r->sym, r->samples[i].stack, buf, sizeof(buf));

		if (strcmp(pth, "main;foo") == 0)
			foo = r->samples[i].value;
		else if (strcmp(pth, "main;baz") == 0)
			baz = r->samples[i].value;
		else if (strcmp(pth, "main") == 0)
			main_only = r->samples[i].value;
		else
			CHECK_EQ_STR(pth, "(unexpected)");
		if (i > 0)
			CHECK(r->samples[i - 1].stack < r->samples[i].stack);
		CHECK(r->samples[i].span_id == 0);
	}
	CHECK_EQ_INT(foo, 8);
	CHECK_EQ_INT(baz, 4);
	CHECK_EQ_INT(main_only, 10);

	/* "main" is one function, one location, one node in the global tables */
	for (uint32_t i = 0; i < r->sym->nfunctions; i++)
	{
		PyroStr		n = r->sym->strings[r->sym->functions[i].name];

		if (n.len == 4 && memcmp(n.ptr, "main", 4) == 0)
			nmain++;
	}
	CHECK_EQ_INT(nmain, 1);
	/* metadata of the first profile */
	CHECK_EQ_INT(r->period, 100);
	CHECK_EQ_INT(r->time_nanos, 5);
	CHECK(r->sym->strings[r->sample_type].len == 3 &&
		  memcmp(r->sym->strings[r->sample_type].ptr, "cpu", 3) == 0);

	pyro_merger_free(m);
	pyro_profile_free(a);
	pyro_profile_free(b);
}

TEST(merge_spans_dropped_or_kept)
{
	PyroProfile *a = new_profile();
	PyroMerger *drop = pyro_merger_create(0);
	PyroMerger *keep = pyro_merger_create(PYRO_MERGE_KEEP_SPANS);
	const PyroProfile *r;
	PyroError	err;

	REQUIRE(a && drop && keep);
	add(a, "main;foo", 5, 2);
	add(a, "main;foo", 1, 1);
	add(a, "main;foo", 4, 2);
	add(a, "main", 7, 0);

	CHECK_EQ_INT(pyro_merger_add_profile(drop, a, &err), PYRO_OK);
	r = pyro_merger_result(drop, &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->nsamples, 2);
	/* main (node 1) before main;foo (node 2) */
	CHECK_EQ_INT(r->samples[0].value, 7);
	CHECK_EQ_INT(r->samples[1].value, 10);
	CHECK(r->samples[1].span_id == 0);

	CHECK_EQ_INT(pyro_merger_add_profile(keep, a, &err), PYRO_OK);
	r = pyro_merger_result(keep, &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->nsamples, 3);
	CHECK_EQ_INT(r->samples[0].value, 7);
	CHECK(r->samples[1].span_id == 1);
	CHECK_EQ_INT(r->samples[1].value, 1);
	CHECK(r->samples[2].span_id == 2);
	CHECK_EQ_INT(r->samples[2].value, 9);

	pyro_merger_free(drop);
	pyro_merger_free(keep);
	pyro_profile_free(a);
}

TEST(merge_span_filter)
{
	PyroProfile *a = new_profile();
	PyroMerger *m = pyro_merger_create(0);
	PyroMerger *none = pyro_merger_create(0);
	const PyroProfile *r;
	PyroError	err;
	const uint64_t want[] = {0xabc, 2, 0xabc};
	const uint64_t dummy = 0;

	REQUIRE(a && m && none);
	add(a, "main;foo", 5, 2);
	add(a, "main;foo", 1, 1);
	add(a, "main;bar", 4, 0xabc);
	add(a, "main;bar", 8, 0);
	add(a, "main;foo", 6, 2);

	CHECK_EQ_INT(pyro_merger_set_span_filter(m, want, 3, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_merger_add_profile(m, a, &err), PYRO_OK);
	r = pyro_merger_result(m, &err);
	REQUIRE(r != NULL);
	/* foo: 5 + 6 (span 2), bar: 4 (span 0xabc); spans dropped after filter */
	CHECK_EQ_INT(r->nsamples, 2);
	CHECK_EQ_INT(pyro_profile_total(r), 15);
	CHECK_EQ_INT(r->samples[0].value, 11);
	CHECK_EQ_INT(r->samples[1].value, 4);
	/* nodes of samples filtered out were never interned: main, foo, bar */
	CHECK_EQ_INT(r->sym->nstacks, 4);

	/* an empty (non-NULL) set keeps nothing; NULL clears the filter */
	CHECK_EQ_INT(pyro_merger_set_span_filter(none, &dummy, 0, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_merger_add_profile(none, a, &err), PYRO_OK);
	r = pyro_merger_result(none, &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(r->nsamples, 0);
	CHECK_EQ_INT(pyro_merger_set_span_filter(none, NULL, 0, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_merger_add_profile(none, a, &err), PYRO_OK);
	r = pyro_merger_result(none, &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(pyro_profile_total(r), 24);

	pyro_merger_free(m);
	pyro_merger_free(none);
	pyro_profile_free(a);
}

TEST(profile_span_totals)
{
	PyroProfile *a = new_profile();
	PyroProfile *none = new_profile();
	PyroSpanTotal *t;
	size_t		n;
	PyroError	err;

	REQUIRE(a && none);
	add(a, "main;foo", 5, 0xabc);
	add(a, "main;foo", 1, 1);
	add(a, "main;bar", 4, 0xabc);
	add(a, "main;bar", 8, 0);
	add(a, "main;baz", INT64_MAX, 2);
	add(a, "main;foo", 6, 2);
	REQUIRE(pyro_profile_add_trace(a, 0xabc, 7, 8));

	/* ascending span ids, spanless samples left out, sums wrap */
	CHECK_EQ_INT(pyro_profile_span_totals(a, &t, &n, &err), PYRO_OK);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(t[0].span, 1);
	CHECK_EQ_INT(t[0].total, 1);
	CHECK(!t[0].has_trace);
	CHECK_EQ_INT(t[1].span, 2);
	CHECK_EQ_INT(t[1].total, (int64_t) ((uint64_t) INT64_MAX + 6));
	CHECK_EQ_INT(t[2].span, 0xabc);
	CHECK_EQ_INT(t[2].total, 9);
	CHECK(t[2].has_trace && t[2].trace_hi == 7 && t[2].trace_lo == 8);
	pyro_free(t);

	/* no sample with a span: nothing */
	add(none, "main", 3, 0);
	CHECK_EQ_INT(pyro_profile_span_totals(none, &t, &n, &err), PYRO_OK);
	CHECK_EQ_INT(n, 0);
	CHECK(t == NULL);
	pyro_profile_free(a);
	pyro_profile_free(none);
}

TEST(merge_encoded_matches_direct)
{
	PyroProfile *a = new_profile();
	PyroMerger *m1 = pyro_merger_create(0);
	PyroMerger *m2 = pyro_merger_create(0);
	const PyroProfile *r1;
	const PyroProfile *r2;
	PyroBuf		b;
	PyroBuf		e1;
	PyroBuf		e2;
	PyroError	err;

	REQUIRE(a && m1 && m2);
	add(a, "a;b;c", 1, 0);
	add(a, "a;b", 2, 0);
	add(a, "x;y", 3, 0);
	pyro_buf_init(&b);
	pyro_buf_init(&e1);
	pyro_buf_init(&e2);
	REQUIRE(pyro_profile_encode(a, &b, &err) == PYRO_OK);
	for (int i = 0; i < 3; i++)
	{
		CHECK_EQ_INT(pyro_merger_add_profile(m1, a, &err), PYRO_OK);
		CHECK_EQ_INT(pyro_merger_add_encoded(m2, b.data, b.len, &err), PYRO_OK);
	}
	r1 = pyro_merger_result(m1, &err);
	r2 = pyro_merger_result(m2, &err);
	REQUIRE(r1 && r2);
	CHECK_EQ_INT(pyro_profile_total(r1), 18);
	CHECK_EQ_INT(pyro_profile_encode(r1, &e1, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_profile_encode(r2, &e2, &err), PYRO_OK);
	CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);

	/* corrupt encoded input is reported and leaves the merger usable */
	b.data[0] = 'X';
	CHECK_EQ_INT(pyro_merger_add_encoded(m2, b.data, b.len, &err), PYRO_ECORRUPT);
	CHECK_EQ_INT(pyro_merger_count(m2), 3);
	r2 = pyro_merger_result(m2, &err);
	REQUIRE(r2 != NULL);
	CHECK_EQ_INT(pyro_profile_total(r2), 18);

	pyro_buf_free(&b);
	pyro_buf_free(&e1);
	pyro_buf_free(&e2);
	pyro_merger_free(m1);
	pyro_merger_free(m2);
	pyro_profile_free(a);
}

TEST(merge_rejects_broken_profile)
{
	PyroProfile *a = new_profile();
	PyroMerger *m = pyro_merger_create(0);
	PyroError	err;
	uint32_t	n;

	REQUIRE(a && m);
	n = stack_of(a->sym, "a;b");
	pyro_profile_add_sample(a, n, 1, 0);
	a->sym->stacks[n].parent = n;
	CHECK_EQ_INT(pyro_merger_add_profile(m, a, &err), PYRO_ECORRUPT);
	CHECK_EQ_STR(err.msg, "stack node 2 has parent 2, not below its own index");
	a->sym->stacks[n].parent = 1;
	a->samples[0].stack = 50;
	CHECK_EQ_INT(pyro_merger_add_profile(m, a, &err), PYRO_ECORRUPT);
	CHECK_EQ_STR(err.msg, "sample 0 refers to unknown stack node 50");
	a->samples[0].stack = n;
	a->sym->lines[0].function = 9;
	CHECK_EQ_INT(pyro_merger_add_profile(m, a, &err), PYRO_ECORRUPT);
	CHECK_EQ_STR(err.msg, "location 0 refers to unknown function 9");
	pyro_merger_free(m);
	pyro_profile_free(a);
}

/*
 * 10 profiles over one shared symbol set of 100000 stack nodes, 20000
 * samples each: the total must be exact and every node reached.
 */
TEST(merge_large)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroMerger *m = pyro_merger_create(0);
	PyroProfile *ps[10];
	const PyroProfile *r;
	PyroError	err;
	uint32_t	x = 12345;
	int64_t		expect = 0;
	uint32_t	locs[64];

	REQUIRE(s && m);
	for (int i = 0; i < 64; i++)
	{
		char		t[16];
		int			n = snprintf(t, sizeof(t), "f%d", i);
		PyroFunction f = {0, 0, 0, 0};
		PyroLine	l;

		f.name = pyro_sym_intern_string(s, t, (size_t) n);
		l.function = pyro_sym_intern_function(s, &f);
		l.line = i;
		locs[i] = pyro_sym_intern_location(s, 0, (uint64_t) i, &l, 1);
	}
	while (s->nstacks < 100001)
	{
		uint32_t	parent;

		x = x * 1103515245u + 12345u;
		parent = (x >> 8) % s->nstacks;
		x = x * 1103515245u + 12345u;
		if (pyro_sym_intern_stack(s, parent, locs[(x >> 8) % 64]) == PYRO_NO_INDEX)
			break;
	}
	REQUIRE(s->nstacks == 100001);
	for (int k = 0; k < 10; k++)
	{
		ps[k] = pyro_profile_create(s, false);
		REQUIRE(ps[k] != NULL);
		for (uint32_t i = 0; i < 20000; i++)
		{
			uint32_t	node = 1 + (((uint32_t) k * 20000 + i) * 7) % 100000;

			pyro_profile_add_sample(ps[k], node, (int64_t) (i % 13) + 1, 0);
			expect += (int64_t) (i % 13) + 1;
		}
	}
	for (int k = 0; k < 10; k++)
		CHECK_EQ_INT(pyro_merger_add_profile(m, ps[k], &err), PYRO_OK);
	r = pyro_merger_result(m, &err);
	REQUIRE(r != NULL);
	CHECK_EQ_INT(pyro_profile_total(r), expect);
	/* the 200000 samples cover every node exactly twice */
	CHECK_EQ_INT(r->nsamples, 100000);
	for (size_t i = 1; i < r->nsamples; i++)
	{
		if (r->samples[i - 1].stack >= r->samples[i].stack)
		{
			CHECK(!"result not sorted");
			break;
		}
	}
	/* merging over one shared set reproduces its node count exactly */
	CHECK_EQ_INT(r->sym->nstacks, 100001);
	for (int k = 0; k < 10; k++)
		pyro_profile_free(ps[k]);
	pyro_merger_free(m);
	pyro_symbols_free(s);
}

const UnitTest merge_tests[] = {
	UNIT_ENTRY(merge_sums_across_profiles),
	UNIT_ENTRY(merge_spans_dropped_or_kept),
	UNIT_ENTRY(merge_span_filter),
	UNIT_ENTRY(profile_span_totals),
	UNIT_ENTRY(merge_encoded_matches_direct),
	UNIT_ENTRY(merge_rejects_broken_profile),
	UNIT_ENTRY(merge_large),
	{NULL, NULL}
};

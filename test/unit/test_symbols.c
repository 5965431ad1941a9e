/*
 * test_symbols.c
 *	  Unit tests of symbols.c: sentinels, interning de-duplication, the
 *	  string arena, index catch-up after appends, frame names and
 *	  allocation failures.
 */
#include "unit.h"
#include "../../src/core/profile.h"

/* An allocator that fails after a given number of allocations. */
static long fail_budget = -1;

static void *
failing_alloc(void *ctx, size_t size)
{
	(void) ctx;
	if (fail_budget == 0)
		return NULL;
	if (fail_budget > 0)
		fail_budget--;
	return malloc(size ? size : 1);
}

static void *
failing_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	(void) ctx;
	(void) old_size;
	if (fail_budget == 0)
		return NULL;
	if (fail_budget > 0)
		fail_budget--;
	return realloc(ptr, new_size ? new_size : 1);
}

static void
failing_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static const PyroAllocator failing_allocator = {
	failing_alloc, failing_realloc, failing_free, NULL
};

TEST(sentinels_present)
{
	PyroSymbols *s = pyro_symbols_create();

	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->nstrings, 1);
	CHECK_EQ_INT(s->strings[0].len, 0);
	CHECK_EQ_INT(s->nmappings, 1);
	CHECK_EQ_INT(s->mappings[0].memory_start, 0);
	CHECK_EQ_INT(s->mappings[0].filename, 0);
	CHECK_EQ_INT(s->nstacks, 1);
	CHECK_EQ_INT(s->stacks[0].parent, 0);
	CHECK_EQ_INT(s->nfunctions, 0);
	CHECK_EQ_INT(s->nlocations, 0);
	pyro_symbols_free(s);
}

TEST(string_interning_dedups)
{
	PyroSymbols *s = pyro_symbols_create();
	const char *first_ptr;
	char		bin[4] = {'a', '\0', 'b', '\0'};

	REQUIRE(s != NULL);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "", 0), 0);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "main", 4), 1);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "mainx", 4), 1); /* only 4 bytes count */
	CHECK_EQ_INT(pyro_sym_intern_string(s, "foo", 3), 2);
	/* embedded NULs: "a\0b" and "a\0b\0" and "a" are three strings */
	CHECK_EQ_INT(pyro_sym_intern_string(s, bin, 3), 3);
	CHECK_EQ_INT(pyro_sym_intern_string(s, bin, 4), 4);
	CHECK_EQ_INT(pyro_sym_intern_string(s, bin, 1), 5);
	CHECK_EQ_INT(pyro_sym_intern_string(s, bin, 3), 3);
	CHECK_EQ_INT(s->strings[3].len, 3);
	CHECK(memcmp(s->strings[3].ptr, bin, 3) == 0);
	CHECK_EQ_INT(s->strings[1].ptr[4], '\0');	/* NUL after each string */

	/* pointers stay valid while the tables and arena grow */
	first_ptr = s->strings[1].ptr;
	for (int i = 0; i < 50000; i++)
	{
		char		t[32];
		int			n = snprintf(t, sizeof(t), "str-%d", i);

		CHECK_EQ_INT(pyro_sym_intern_string(s, t, (size_t) n), 6 + i);
	}
	for (int i = 0; i < 50000; i += 997)
	{
		char		t[32];
		int			n = snprintf(t, sizeof(t), "str-%d", i);

		CHECK_EQ_INT(pyro_sym_intern_string(s, t, (size_t) n), 6 + i);
	}
	CHECK_EQ_INT(s->nstrings, 50006);
	CHECK(first_ptr == s->strings[1].ptr);
	CHECK(memcmp(first_ptr, "main", 5) == 0);
	pyro_symbols_free(s);
}

TEST(appended_entries_are_found_by_intern)
{
	PyroSymbols *s = pyro_symbols_create();
	uint32_t	a;

	REQUIRE(s != NULL);
	/* build the index, then append behind its back */
	CHECK_EQ_INT(pyro_sym_intern_string(s, "x", 1), 1);
	a = pyro_sym_append_string(s, "y", 1);
	CHECK_EQ_INT(a, 2);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "y", 1), 2);
	/* append_string does not de-duplicate */
	CHECK_EQ_INT(pyro_sym_append_string(s, "x", 1), 3);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "x", 1), 1);
	CHECK_EQ_INT(s->nstrings, 4);

	/* direct appends to the stack table, as the decoder does */
	REQUIRE(pyro_sym_reserve(s, 0, 0, 1, 1, 0, 2));
	s->functions[0].name = 1;
	s->functions[0].system_name = 0;
	s->functions[0].filename = 0;
	s->functions[0].start_line = 0;
	s->nfunctions = 1;
	s->locations[0].mapping = 0;
	s->locations[0].address = 5;
	s->locations[0].first_line = 0;
	s->locations[0].nlines = 0;
	s->nlocations = 1;
	s->stacks[1].parent = 0;
	s->stacks[1].location = 0;
	s->nstacks = 2;
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 0, 0), 1);
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 1, 0), 2);
	CHECK_EQ_INT(pyro_sym_intern_location(s, 0, 5, NULL, 0), 0);
	CHECK_EQ_INT(pyro_sym_intern_function(s, &s->functions[0]), 0);
	pyro_symbols_free(s);
}

TEST(mapping_function_location_stack_dedup)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroMapping zero = {0};
	PyroMapping m1 = {0x1000, 0x2000, 0, 1, 2, PYRO_MAPPING_HAS_FUNCTIONS};
	PyroMapping m2 = m1;
	PyroFunction f1 = {1, 0, 2, 10};
	PyroFunction f2 = f1;
	PyroLine	ab[2];
	PyroLine	ba[2];
	uint32_t	fa;
	uint32_t	fb;

	REQUIRE(s != NULL);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "libc.so", 7), 1);
	CHECK_EQ_INT(pyro_sym_intern_string(s, "abc", 3), 2);
	CHECK_EQ_INT(pyro_sym_intern_mapping(s, &zero), 0);
	CHECK_EQ_INT(pyro_sym_intern_mapping(s, &m1), 1);
	CHECK_EQ_INT(pyro_sym_intern_mapping(s, &m2), 1);
	m2.flags = 0;
	CHECK_EQ_INT(pyro_sym_intern_mapping(s, &m2), 2);
	CHECK_EQ_INT(s->nmappings, 3);

	fa = pyro_sym_intern_function(s, &f1);
	CHECK_EQ_INT(fa, 0);
	CHECK_EQ_INT(pyro_sym_intern_function(s, &f2), 0);
	f2.start_line = 11;
	fb = pyro_sym_intern_function(s, &f2);
	CHECK_EQ_INT(fb, 1);

	ab[0].function = fa;
	ab[0].line = 5;
	ab[1].function = fb;
	ab[1].line = 6;
	ba[0] = ab[1];
	ba[1] = ab[0];
	CHECK_EQ_INT(pyro_sym_intern_location(s, 1, 0x1234, ab, 2), 0);
	CHECK_EQ_INT(pyro_sym_intern_location(s, 1, 0x1234, ab, 2), 0);
	CHECK_EQ_INT(pyro_sym_intern_location(s, 1, 0x1234, ba, 2), 1); /* order matters */
	CHECK_EQ_INT(pyro_sym_intern_location(s, 1, 0x1234, ab, 1), 2); /* prefix differs */
	CHECK_EQ_INT(pyro_sym_intern_location(s, 2, 0x1234, ab, 2), 3); /* mapping differs */
	CHECK_EQ_INT(pyro_sym_intern_location(s, 1, 0x1235, ab, 2), 4); /* address differs */
	CHECK_EQ_INT(pyro_sym_intern_location(s, 1, 0x1234, NULL, 0), 5);
	CHECK_EQ_INT(s->nlines, 2 + 2 + 1 + 2 + 2);
	CHECK_EQ_INT(s->locations[1].nlines, 2);
	CHECK_EQ_INT(s->lines[s->locations[1].first_line].function, fb);
	/* lines pointing into the table itself (aliasing while growing) */
	CHECK_EQ_INT(pyro_sym_intern_location(s, 0, 0x99, s->lines + s->locations[1].first_line, 2), 6);
	CHECK_EQ_INT(s->lines[s->locations[6].first_line].function, fb);
	CHECK_EQ_INT(s->lines[s->locations[6].first_line + 1].line, 5);

	/* (0, location 0) is a real frame, not the root */
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 0, 0), 1);
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 1, 0), 2);
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 0, 0), 1);
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 1, 1), 3);
	CHECK_EQ_INT(s->stacks[3].parent, 1);
	CHECK_EQ_INT(s->stacks[3].location, 1);
	/* unknown parent or location is refused */
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 4, 0), PYRO_NO_INDEX);
	CHECK_EQ_INT(pyro_sym_intern_stack(s, 0, 7), PYRO_NO_INDEX);
	CHECK_EQ_INT(s->nstacks, 4);
	pyro_symbols_free(s);
}

TEST(many_stacks_dedup)
{
	PyroSymbols *s = pyro_symbols_create();
	uint32_t	loc;
	uint32_t	prev = 0;

	REQUIRE(s != NULL);
	loc = pyro_sym_intern_location(s, 0, 1, NULL, 0);
	/* a 100000-deep chain, interned twice: same nodes */
	for (uint32_t i = 0; i < 100000; i++)
	{
		prev = pyro_sym_intern_stack(s, prev, loc);
		if (prev != i + 1)
		{
			CHECK_EQ_INT(prev, i + 1);
			break;
		}
	}
	prev = 0;
	for (uint32_t i = 0; i < 100000; i++)
		prev = pyro_sym_intern_stack(s, prev, loc);
	CHECK_EQ_INT(prev, 100000);
	CHECK_EQ_INT(s->nstacks, 100001);
	pyro_symbols_free(s);
}

/* Build a location with the given function names (innermost first). */
static uint32_t
make_loc(PyroSymbols *s, uint32_t mapping, uint64_t addr,
		 const char *name, const char *sysname)
{
	PyroFunction f = {0, 0, 0, 0};
	PyroLine	l;

	f.name = pyro_sym_intern_string(s, name, strlen(name));
	f.system_name = pyro_sym_intern_string(s, sysname, strlen(sysname));
	l.function = pyro_sym_intern_function(s, &f);
	l.line = 1;
	return pyro_sym_intern_location(s, mapping, addr, &l, 1);
}

TEST(frame_name_fallbacks)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroMapping m = {0x1000, 0x9000, 0, 0, 0, 0};
	PyroMapping noname = {0x1000, 0x9000, 0, 0, 0, 1};
	uint32_t	mi;
	uint32_t	mn;
	uint32_t	l;
	char		buf[64];
	char		tiny[6];
	PyroStr		r;
	PyroLine	two[2];
	PyroFunction f = {0, 0, 0, 0};

	REQUIRE(s != NULL);
	m.filename = pyro_sym_intern_string(s, "/usr/lib/x86_64/libc.so.6", 25);
	mi = pyro_sym_intern_mapping(s, &m);
	mn = pyro_sym_intern_mapping(s, &noname);

	/* 1: function name */
	l = make_loc(s, mi, 0x1a2b, "runtime.main", "sys_main");
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_INT(r.len, 12);
	CHECK(memcmp(r.ptr, "runtime.main", 12) == 0);
	CHECK_EQ_STR(buf, "runtime.main");

	/* 2: system name when the name is empty */
	l = make_loc(s, mi, 0x1a2b, "", "sys_main");
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_INT(r.len, 8);
	CHECK_EQ_STR(buf, "sys_main");

	/* 3: mapping basename + address when both names are empty */
	l = make_loc(s, mi, 0x1A2B, "", "");
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "libc.so.6+0x1a2b");
	CHECK_EQ_INT(r.len, 16);
	CHECK(r.ptr == buf);

	/* ... and for a location with no lines at all */
	l = pyro_sym_intern_location(s, mi, 0xdeadbeefcafeULL, NULL, 0);
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "libc.so.6+0xdeadbeefcafe");
	CHECK_EQ_INT(r.len, 24);

	/* 4: bare address without a mapping, or with an unnamed mapping */
	l = pyro_sym_intern_location(s, 0, 0xff, NULL, 0);
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "0xff");
	CHECK_EQ_INT(r.len, 4);
	l = pyro_sym_intern_location(s, mn, 0x10, NULL, 0);
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "0x10");

	/* line_idx picks the inlined frame; past the end falls back */
	f.name = pyro_sym_intern_string(s, "inner", 5);
	two[0].function = pyro_sym_intern_function(s, &f);
	two[0].line = 3;
	f.name = pyro_sym_intern_string(s, "outer", 5);
	two[1].function = pyro_sym_intern_function(s, &f);
	two[1].line = 9;
	l = pyro_sym_intern_location(s, 0, 0x20, two, 2);
	r = pyro_location_frame_name(s, &s->locations[l], 1, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "outer");
	r = pyro_location_frame_name(s, &s->locations[l], 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "inner");
	r = pyro_location_frame_name(s, &s->locations[l], 2, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "0x20");

	/* a small buffer truncates the copy but the returned name is whole */
	l = make_loc(s, mi, 0x1a2b, "runtime.main", "");
	r = pyro_location_frame_name(s, &s->locations[l], 0, tiny, sizeof(tiny));
	CHECK_EQ_STR(tiny, "runti");
	CHECK_EQ_INT(r.len, 12);
	l = pyro_sym_intern_location(s, mi, 0x1a2b, NULL, 0);
	r = pyro_location_frame_name(s, &s->locations[l], 0, tiny, sizeof(tiny));
	CHECK_EQ_STR(tiny, "libc.");
	CHECK_EQ_INT(r.len, 5);
	pyro_symbols_free(s);
}

/*
 * Interning under an allocator that fails at every possible point: each
 * call either succeeds or returns PYRO_NO_INDEX, and nothing leaks (ASan).
 */
TEST(allocation_failures_are_reported)
{
	for (long budget = 0; budget < 200; budget++)
	{
		PyroSymbols *s;
		bool		failed = false;
		uint32_t	prev = 0;

		pyro_set_allocator(&failing_allocator);
		fail_budget = budget;
		s = pyro_symbols_create();
		if (s == NULL)
		{
			pyro_set_allocator(NULL);
			continue;
		}
		for (int i = 0; i < 300 && !failed; i++)
		{
			char		t[16];
			int			n = snprintf(t, sizeof(t), "s%d", i);
			PyroFunction f = {0, 0, 0, 0};
			PyroLine	l;
			uint32_t	loc;

			f.name = pyro_sym_intern_string(s, t, (size_t) n);
			if (f.name == PYRO_NO_INDEX)
			{
				failed = true;
				break;
			}
			l.function = pyro_sym_intern_function(s, &f);
			l.line = i;
			if (l.function == PYRO_NO_INDEX)
			{
				failed = true;
				break;
			}
			loc = pyro_sym_intern_location(s, 0, (uint64_t) i, &l, 1);
			if (loc == PYRO_NO_INDEX)
			{
				failed = true;
				break;
			}
			prev = pyro_sym_intern_stack(s, prev, loc);
			if (prev == PYRO_NO_INDEX)
				failed = true;
		}
		fail_budget = -1;
		/* after a failure the tables are still consistent and usable */
		if (failed)
			CHECK_EQ_INT(pyro_sym_intern_string(s, "", 0), 0);
		else
			CHECK_EQ_INT(s->nstacks, 301);
		pyro_symbols_free(s);
		pyro_set_allocator(NULL);
	}
}

const UnitTest symbols_tests[] = {
	UNIT_ENTRY(sentinels_present),
	UNIT_ENTRY(string_interning_dedups),
	UNIT_ENTRY(appended_entries_are_found_by_intern),
	UNIT_ENTRY(mapping_function_location_stack_dedup),
	UNIT_ENTRY(many_stacks_dedup),
	UNIT_ENTRY(frame_name_fallbacks),
	UNIT_ENTRY(allocation_failures_are_reported),
	{NULL, NULL}
};

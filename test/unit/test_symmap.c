/*
 * test_symmap.c
 *	  Unit tests of symmap.c through its two users, the merger and the
 *	  block writer: the order in which reached symbols are interned into
 *	  the target tables, and the exact status and message each kind of
 *	  broken input gets from each user (the merger reports PYRO_ECORRUPT
 *	  and names the owner of a bad string; the writer reports PYRO_EINVAL).
 */
#include "unit.h"
#include "../../src/core/profile.h"
#include "../../src/core/block.h"

/*
 * Input symbols deliberately not in reach order: strings "unused", "work",
 * "main", "f.go", "cpu", "nanoseconds" (1..6); functions work (0), main
 * (1); locations work (0), main (1); stacks main (1), main;work (2).  One
 * sample of 5 on node 2.
 */
static PyroProfile *
make_input(void)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;
	PyroFunction f = {0, 0, 0, 0};
	PyroLine	l = {0, 0};
	uint32_t	lwork,
				lmain,
				n;

	if (s == NULL)
		return NULL;
	p = pyro_profile_create(s, true);
	if (p == NULL)
	{
		pyro_symbols_free(s);
		return NULL;
	}
	pyro_sym_intern_string(s, "unused", 6);
	pyro_sym_intern_string(s, "work", 4);
	pyro_sym_intern_string(s, "main", 4);
	pyro_sym_intern_string(s, "f.go", 4);
	pyro_sym_intern_string(s, "cpu", 3);
	pyro_sym_intern_string(s, "nanoseconds", 11);
	f.name = f.system_name = 2;
	f.filename = 4;
	l.function = pyro_sym_intern_function(s, &f);
	lwork = pyro_sym_intern_location(s, 0, 0x20, &l, 1);
	f.name = f.system_name = 3;
	l.function = pyro_sym_intern_function(s, &f);
	lmain = pyro_sym_intern_location(s, 0, 0x10, &l, 1);
	n = pyro_sym_intern_stack(s, 0, lmain);
	n = pyro_sym_intern_stack(s, n, lwork);
	pyro_profile_add_sample(p, n, 5, 0);
	p->sample_type = p->period_type = 5;
	p->sample_unit = p->period_unit = 6;
	return p;
}

static bool
str_is(const PyroSymbols *s, uint32_t i, const char *want)
{
	return i < s->nstrings && s->strings[i].len == strlen(want) &&
		memcmp(s->strings[i].ptr, want, s->strings[i].len) == 0;
}

/* Strings, functions, locations and stacks appear in the order reached. */
static void
check_reach_order(const PyroProfile *r)
{
	const PyroSymbols *s = r->sym;

	CHECK_EQ_INT(s->nstrings, 6);
	CHECK(str_is(s, 0, ""));
	CHECK(str_is(s, 1, "cpu"));
	CHECK(str_is(s, 2, "nanoseconds"));
	CHECK(str_is(s, 3, "main"));
	CHECK(str_is(s, 4, "f.go"));
	CHECK(str_is(s, 5, "work"));
	REQUIRE(s->nfunctions == 2 && s->nlocations == 2 && s->nstacks == 3);
	CHECK_EQ_INT(s->functions[0].name, 3);
	CHECK_EQ_INT(s->functions[0].filename, 4);
	CHECK_EQ_INT(s->functions[1].name, 5);
	CHECK_EQ_INT(s->locations[0].address, 0x10);
	CHECK_EQ_INT(s->locations[1].address, 0x20);
	CHECK_EQ_INT(s->stacks[1].parent, 0);
	CHECK_EQ_INT(s->stacks[1].location, 0);
	CHECK_EQ_INT(s->stacks[2].parent, 1);
	CHECK_EQ_INT(s->stacks[2].location, 1);
	REQUIRE(r->nsamples == 1);
	CHECK_EQ_INT(r->samples[0].stack, 2);
	CHECK_EQ_INT(r->samples[0].value, 5);
	CHECK_EQ_INT(r->sample_type, 1);
	CHECK_EQ_INT(r->sample_unit, 2);
}

TEST(symmap_merger_interns_in_reach_order)
{
	PyroProfile *p = make_input();
	PyroMerger *m = pyro_merger_create(0);
	const PyroProfile *r;
	PyroError	err;

	REQUIRE(p && m);
	CHECK_EQ_INT(pyro_merger_add_profile(m, p, &err), PYRO_OK);
	r = pyro_merger_result(m, &err);
	REQUIRE(r != NULL);
	check_reach_order(r);
	pyro_merger_free(m);
	pyro_profile_free(p);
}

TEST(symmap_block_writer_interns_in_reach_order)
{
	PyroProfile *p = make_input();
	PyroBlockWriter *w = pyro_block_writer_create(NULL);
	PyroBlockReader *rd = NULL;
	PyroBlockQuery q;
	PyroBlockMeta meta;
	const PyroProfile *r;
	PyroBuf		b;
	PyroError	err;

	REQUIRE(p && w);
	pyro_buf_init(&b);
	CHECK_EQ_INT(pyro_block_writer_add(w, 7, 60000, p, &err), PYRO_OK);
	CHECK_EQ_INT(pyro_block_writer_finish(w, &b, &meta, &err), PYRO_OK);
	REQUIRE(pyro_block_open_memory(b.data, b.len, &rd, &err) == PYRO_OK);
	memset(&q, 0, sizeof(q));
	q.start = 0;
	q.end = 120000;
	REQUIRE(pyro_block_read_merged(rd, &q, &r, &err) == PYRO_OK);
	check_reach_order(r);
	pyro_block_close(rd);
	pyro_buf_free(&b);
	pyro_block_writer_free(w);
	pyro_profile_free(p);
}

/*
 * Break the input one way (kind), then check the merger's and the
 * writer's status and message.
 */
static void
expect_broken(int kind, const char *merge_msg, const char *writer_msg)
{
	PyroProfile *p = make_input();
	PyroMerger *m = pyro_merger_create(0);
	PyroBlockWriter *w = pyro_block_writer_create(NULL);
	PyroSymbols *s;
	PyroError	err;

	REQUIRE(p && m && w);
	s = p->sym;
	switch (kind)
	{
		case 0:
			s->functions[1].name = 99;
			break;
		case 1:
			p->sample_type = 99;
			break;
		case 2:
			p->period_unit = 99;
			break;
		case 3:
			s->mappings[0].build_id = 99;
			break;
		case 4:
			s->locations[1].mapping = 7;
			break;
		case 5:
			s->locations[1].first_line = 1000;
			break;
		case 6:
			s->lines[s->locations[0].first_line].function = 9;
			break;
		case 7:
			s->stacks[1].location = 99;
			break;
		case 8:
			s->stacks[2].parent = 2;
			break;
		case 9:
			p->samples[0].stack = 50;
			break;
	}
	CHECK_EQ_INT(pyro_merger_add_profile(m, p, &err), PYRO_ECORRUPT);
	CHECK_EQ_STR(err.msg, merge_msg);
	CHECK_EQ_INT(pyro_block_writer_add(w, 1, 1000, p, &err), PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, writer_msg);
	pyro_block_writer_free(w);
	pyro_merger_free(m);
	pyro_profile_free(p);
}

TEST(symmap_broken_input_messages)
{
	expect_broken(0, "function 1 refers to unknown string 99",
				  "profile refers to unknown string 99 (of 7)");
	expect_broken(1, "metadata 0 refers to unknown string 99",
				  "profile refers to unknown string 99 (of 7)");
	expect_broken(2, "metadata 3 refers to unknown string 99",
				  "profile refers to unknown string 99 (of 7)");
	expect_broken(3, "mapping 0 refers to unknown string 99",
				  "profile refers to unknown string 99 (of 7)");
	expect_broken(4, "location 1 refers to unknown mapping 7",
				  "location 1 refers to unknown mapping 7");
	expect_broken(5, "location 1 has lines out of range",
				  "location 1 has lines out of range");
	expect_broken(6, "location 0 refers to unknown function 9",
				  "location 0 refers to unknown function 9");
	expect_broken(7, "stack node 1 refers to unknown location 99",
				  "stack node 1 refers to unknown location 99");
	expect_broken(8, "stack node 2 has parent 2, not below its own index",
				  "stack node 2 has parent 2, not below its own index");
	expect_broken(9, "sample 0 refers to unknown stack node 50",
				  "sample 0 refers to unknown stack node 50");
}

const UnitTest symmap_tests[] = {
	UNIT_ENTRY(symmap_merger_interns_in_reach_order),
	UNIT_ENTRY(symmap_block_writer_interns_in_reach_order),
	UNIT_ENTRY(symmap_broken_input_messages),
	{NULL, NULL}
};

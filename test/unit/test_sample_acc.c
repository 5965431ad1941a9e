/*
 * test_sample_acc.c
 *	  Unit tests of sample_acc.c (the per (stack, span) sums behind the
 *	  merger and merged block reads): sums by key, saturation, zero sums
 *	  dropped, sorted output, growth past the first slot table, clear.
 */
#include "unit.h"
#include "../../src/core/sample_acc.h"

TEST(acc_sums_sorts_and_drops_zeros)
{
	PyroSampleAcc a;
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;

	REQUIRE(s != NULL);
	p = pyro_profile_create(s, true);
	REQUIRE(p != NULL);
	memset(&a, 0, sizeof(a));
	CHECK(pyro_acc_add(&a, 7, 0, 5));
	CHECK(pyro_acc_add(&a, 3, 9, 2));
	CHECK(pyro_acc_add(&a, 7, 0, -5));	/* sums to zero: dropped */
	CHECK(pyro_acc_add(&a, 3, 1, 4));
	CHECK(pyro_acc_add(&a, 3, 9, 3));
	CHECK(pyro_acc_add(&a, 2, 0, INT64_MAX));
	CHECK(pyro_acc_add(&a, 2, 0, 10));	/* saturates */
	CHECK(pyro_acc_add(&a, 1, 0, INT64_MIN));
	CHECK(pyro_acc_add(&a, 1, 0, -1));
	CHECK_EQ_INT(a.n, 5);
	REQUIRE(pyro_acc_emit(&a, p));
	REQUIRE(p->nsamples == 4);
	CHECK_EQ_INT(p->samples[0].stack, 1);
	CHECK(p->samples[0].value == INT64_MIN);
	CHECK_EQ_INT(p->samples[1].stack, 2);
	CHECK(p->samples[1].value == INT64_MAX);
	CHECK_EQ_INT(p->samples[2].stack, 3);
	CHECK_EQ_INT(p->samples[2].span_id, 1);
	CHECK_EQ_INT(p->samples[2].value, 4);
	CHECK_EQ_INT(p->samples[3].stack, 3);
	CHECK_EQ_INT(p->samples[3].span_id, 9);
	CHECK_EQ_INT(p->samples[3].value, 5);

	/* emitting leaves the sums; adding after it goes on from them */
	CHECK(pyro_acc_add(&a, 3, 1, 1));
	REQUIRE(pyro_acc_emit(&a, p));
	REQUIRE(p->nsamples == 4);
	CHECK_EQ_INT(p->samples[2].value, 5);

	pyro_acc_clear(&a);
	CHECK_EQ_INT(a.n, 0);
	REQUIRE(pyro_acc_emit(&a, p));
	CHECK_EQ_INT(p->nsamples, 0);
	CHECK(pyro_acc_add(&a, 3, 1, 6));
	REQUIRE(pyro_acc_emit(&a, p));
	REQUIRE(p->nsamples == 1);
	CHECK_EQ_INT(p->samples[0].value, 6);
	pyro_acc_free(&a);
	pyro_profile_free(p);
}

/* 5000 keys, each added three times in a scrambled order: 3 * key each. */
TEST(acc_many_keys)
{
	PyroSampleAcc a;
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;
	bool		ok = true;

	REQUIRE(s != NULL);
	p = pyro_profile_create(s, true);
	REQUIRE(p != NULL);
	memset(&a, 0, sizeof(a));
	for (int round = 0; round < 3; round++)
	{
		for (uint32_t i = 0; i < 5000; i++)
		{
			uint32_t	k = (i * 7919u) % 5000u;

			ok &= pyro_acc_add(&a, k / 2, k % 2, (int64_t) k + 1);
		}
	}
	CHECK(ok);
	CHECK_EQ_INT(a.n, 5000);
	CHECK(a.mask + 1 > 2 * 5000);
	REQUIRE(pyro_acc_emit(&a, p));
	REQUIRE(p->nsamples == 5000);
	for (uint32_t k = 0; k < 5000 && ok; k++)
	{
		ok = p->samples[k].stack == k / 2 && p->samples[k].span_id == k % 2 &&
			p->samples[k].value == 3 * ((int64_t) k + 1);
	}
	CHECK(ok);
	pyro_acc_free(&a);
	pyro_profile_free(p);
}

const UnitTest sample_acc_tests[] = {
	UNIT_ENTRY(acc_sums_sorts_and_drops_zeros),
	UNIT_ENTRY(acc_many_keys),
	{NULL, NULL}
};

/*
 * test_canonical.c
 *	  Unit tests of canonical.c: merging the same profiles in different
 *	  orders gives byte-identical canonical encodings; canonical form is
 *	  idempotent and keeps totals and stacks.
 */
#include "unit.h"
#include "../../src/core/pprof.h"
#include "../../src/core/tree.h"

/* the first series profile of a pprof file, normalised */
static PyroNormalized *
load(const char *rel)
{
	size_t		len;
	unsigned char *data = unit_read_file(unit_data_path(rel), &len);
	PyroNormalized *n = NULL;
	PyroPprofLimits lim;
	PyroError	err;

	if (data == NULL)
		return NULL;
	pyro_pprof_limits_default(&lim);
	if (pyro_pprof_normalize(data, len, &lim, &n, &err) != PYRO_OK)
		n = NULL;
	free(data);
	return n;
}

static bool
canonical_bytes(const PyroProfile *p, PyroBuf *out)
{
	PyroProfile *c;
	PyroError	err;
	bool		ok;

	if (pyro_profile_canonical(p, &c, &err) != PYRO_OK)
		return false;
	/* a merge has no single time: the merger keeps the first input's */
	c->time_nanos = 0;
	c->duration_nanos = 0;
	pyro_buf_init(out);
	ok = pyro_profile_encode(c, out, &err) == PYRO_OK;
	pyro_profile_free(c);
	return ok;
}

/* merge the given profiles in order and return the canonical encoding */
static bool
merged_canonical(const PyroProfile **ps, int n, PyroBuf *out)
{
	PyroMerger *m = pyro_merger_create(0);
	const PyroProfile *r;
	PyroError	err;
	bool		ok = true;

	for (int i = 0; i < n && ok; i++)
		ok = pyro_merger_add_profile(m, ps[i], &err) == PYRO_OK;
	r = ok ? pyro_merger_result(m, &err) : NULL;
	ok = r != NULL && canonical_bytes(r, out);
	pyro_merger_free(m);
	return ok;
}

TEST(canonical_merge_order_independent)
{
	PyroNormalized *a = load("pprof/go/cpu.pb.gz");
	PyroNormalized *b = load("pprof/go/cpu-multi-mapping.pb.gz");
	PyroNormalized *c = load("pprof/go/cpu-labels.pb.gz");
	const PyroProfile *abc[3];
	const PyroProfile *cba[3];
	PyroBuf		x,
				y;

	REQUIRE(a && b && c);
	/* the cpu/nanoseconds series (type 1) of each file's first group */
	abc[0] = cba[2] = a->series[1].profile;
	abc[1] = cba[1] = b->series[1].profile;
	abc[2] = cba[0] = c->series[1].profile;
	CHECK(merged_canonical(abc, 3, &x));
	CHECK(merged_canonical(cba, 3, &y));
	CHECK(x.len > 0 && x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
	pyro_buf_free(&x);
	pyro_buf_free(&y);
	pyro_normalized_free(a);
	pyro_normalized_free(b);
	pyro_normalized_free(c);
}

TEST(canonical_idempotent_and_faithful)
{
	PyroNormalized *a = load("pprof/go/heap.pb.gz");
	PyroProfile *c1,
			   *c2;
	PyroBuf		x,
				y;
	PyroError	err;
	PyroTree   *t1 = pyro_tree_create();
	PyroTree   *t2 = pyro_tree_create();
	PyroBuf		s1,
				s2;

	REQUIRE(a && t1 && t2);
	REQUIRE(pyro_profile_canonical(a->series[0].profile, &c1, &err) == PYRO_OK);
	REQUIRE(pyro_profile_canonical(c1, &c2, &err) == PYRO_OK);
	CHECK(canonical_bytes(c1, &x));
	CHECK(canonical_bytes(c2, &y));
	CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
	CHECK_EQ_INT(pyro_profile_total(c1), pyro_profile_total(a->series[0].profile));
	/* same call tree before and after */
	CHECK(pyro_tree_add_profile(t1, a->series[0].profile, &err) == PYRO_OK);
	CHECK(pyro_tree_add_profile(t2, c1, &err) == PYRO_OK);
	pyro_buf_init(&s1);
	pyro_buf_init(&s2);
	CHECK(pyro_tree_serialize(t1, 0, &s1, &err) == PYRO_OK);
	CHECK(pyro_tree_serialize(t2, 0, &s2, &err) == PYRO_OK);
	CHECK(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
	pyro_buf_free(&s1);
	pyro_buf_free(&s2);
	pyro_buf_free(&x);
	pyro_buf_free(&y);
	pyro_profile_free(c1);
	pyro_profile_free(c2);
	pyro_tree_free(t1);
	pyro_tree_free(t2);
	pyro_normalized_free(a);
}

const UnitTest canonical_tests[] = {
	UNIT_ENTRY(canonical_merge_order_independent),
	UNIT_ENTRY(canonical_idempotent_and_faithful),
	{NULL, NULL}
};

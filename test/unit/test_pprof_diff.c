/*
 * test_pprof_diff.c
 *	  Differential tests of the hand-written pprof decoder (pprof_wire.c)
 *	  against the protobuf-c reference (pprof_decode.c): every pprof under
 *	  test/data/pprof under several limit sets, deterministic mutations of
 *	  them (truncations, byte changes), and hand-made wire-format corner
 *	  cases (field order, repeated and merged fields, mixed packing,
 *	  unknown fields of every wire type, odd bools, sparse ids, NULs in
 *	  strings).  Both must return the same status and message, or the same
 *	  series with byte-identical encoded profiles.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>

#include "unit.h"
#include "../pprof_diff.h"

static int	diff_files;

/* Compare under every limit set; report with a name. */
static void
diff_all_limits(const uint8_t *data, size_t len, const char *name)
{
	for (int l = 0; l < PPROF_DIFF_NLIMITS; l++)
	{
		PyroPprofLimits lim;
		char		why[1024];

		pprof_diff_limits(l, &lim);
		if (!pprof_diff(data, len, &lim, NULL, why, sizeof(why)))
		{
			fprintf(stderr, "  %s (limits %d): %s\n", name, l, why);
			unit_failures++;
		}
	}
}

/* Mutations of the raw protobuf: truncations and single byte changes. */
static void
diff_mutations(const uint8_t *raw, size_t len, const char *name)
{
	uint8_t    *copy = malloc(len ? len : 1);
	uint64_t	rng = 0x2545F4914F6CDD1DULL ^ len;
	int			rounds = len > 200000 ? 12 : 60;
	PyroPprofLimits lim;
	char		why[1024];

	pyro_pprof_limits_default(&lim);
	lim.max_decompressed = 0;
	for (int i = 0; i < rounds; i++)
	{
		size_t		cut,
					at;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		cut = (size_t) (rng >> 33) % (len + 1);
		if (!pprof_diff(raw, cut, &lim, NULL, why, sizeof(why)))
		{
			fprintf(stderr, "  %s truncated to %zu: %s\n", name, cut, why);
			unit_failures++;
		}
		if (len == 0)
			continue;
		memcpy(copy, raw, len);
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		at = (size_t) (rng >> 33) % len;
		copy[at] = (uint8_t) (rng >> 13);
		if (!pprof_diff(copy, len, &lim, NULL, why, sizeof(why)))
		{
			fprintf(stderr, "  %s byte %zu set to %u: %s\n", name, at, copy[at], why);
			unit_failures++;
		}
	}
	free(copy);
}

static int
visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t		len = 0;
	unsigned char *data;
	const char *dot = strrchr(path, '.');

	(void) st;
	(void) ftw;
	if (type != FTW_F || (dot && (strcmp(dot, ".json") == 0 || strcmp(dot, ".folded") == 0 ||
								  strcmp(dot, ".md") == 0)))
		return 0;
	data = unit_read_file(path, &len);
	if (data == NULL)
	{
		fprintf(stderr, "  cannot read %s\n", path);
		unit_failures++;
		return 0;
	}
	diff_files++;
	diff_all_limits(data, len, path);
	if (pyro_is_gzip(data, len))
	{
		PyroBuf		raw;
		PyroError	err;

		pyro_buf_init(&raw);
		if (pyro_gunzip(data, len, 0, &raw, &err) == PYRO_OK)
			diff_mutations(raw.data, raw.len, path);
		pyro_buf_free(&raw);
	}
	else
		diff_mutations(data, len, path);
	free(data);
	return 0;
}

TEST(pprof_diff_test_data)
{
	diff_files = 0;
	REQUIRE(nftw(unit_data_path("pprof"), visit, 8, FTW_PHYS) == 0);
	/* 19 pprof files plus empty.pb */
	CHECK_EQ_INT(diff_files, 20);
}

/* ---------------------------------------------------------------------
 * hand-made wire corner cases
 * ---------------------------------------------------------------------
 */
static void
key(PyroBuf *b, uint32_t field, int wt)
{
	pyro_buf_append_varint(b, ((uint64_t) field << 3) | (uint64_t) wt);
}

static void
vint(PyroBuf *b, uint32_t field, uint64_t v)
{
	key(b, field, 0);
	pyro_buf_append_varint(b, v);
}

static void
bytes(PyroBuf *b, uint32_t field, const void *d, size_t n)
{
	key(b, field, 2);
	pyro_buf_append_varint(b, n);
	pyro_buf_append(b, d, n);
}

static void
msg(PyroBuf *b, uint32_t field, PyroBuf *m)
{
	bytes(b, field, m->data, m->len);
	pyro_buf_free(m);
	pyro_buf_init(m);
}

/* Options of the generated profile. */
typedef struct Corner
{
	bool		strings_first;	/* string table before everything else */
	bool		mixed_packing;	/* location ids half packed, half not */
	bool		unknown_fields; /* unknown fields of every wire type
								 * everywhere */
	bool		period_twice;	/* period_type sent twice: the last counts */
	bool		odd_bools;		/* mapping bools as fixed64 / length-delimited */
	bool		sparse_ids;		/* ids far apart: hash id maps */
	bool		nul_string;		/* a function name with a NUL inside */
	bool		dup_locations;	/* two location ids with the same content */
	int			wrong_wt;		/* 1..: a known field with a wrong wire type */
} Corner;

static void
unknowns(PyroBuf *b)
{
	const uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	vint(b, 100, 7);
	key(b, 101, 1);
	pyro_buf_append(b, eight, 8);
	bytes(b, 102, "zz", 2);
	key(b, 103, 5);
	pyro_buf_append(b, eight, 4);
}

/*
 * Strings: 0 "", 1 samples, 2 count, 3 main, 4 foo, 5 cpu, 6 nanoseconds,
 * 7 k, 8 v, 9 /lib/x.so, 10 "ba\0r".  Functions main and foo (or bar,
 * with nul_string); locations: main, foo, and with dup_locations a third
 * equal to foo; three samples.
 */
static void
corner_build(PyroBuf *out, const Corner *c)
{
	static const char *strs[] = {"", "samples", "count", "main", "foo", "cpu",
	"nanoseconds", "k", "v", "/lib/x.so"};
	uint64_t	mul = c->sparse_ids ? 1000003 : 1;
	uint64_t	fn_id[2] = {1 * mul, 2 * mul};
	uint64_t	loc_id[3] = {1 * mul, 2 * mul, 3 * mul};
	uint64_t	map_id = 7 * mul;
	PyroBuf		m,
				sub;

	pyro_buf_init(out);
	pyro_buf_init(&m);
	pyro_buf_init(&sub);
	if (c->strings_first)
	{
		for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			bytes(out, 6, strs[i], strlen(strs[i]));
		bytes(out, 6, "ba\0r", 4);
	}
	vint(&m, 1, 1);
	vint(&m, 2, 2);
	if (c->unknown_fields)
		unknowns(&m);
	msg(out, 1, &m);
	if (c->unknown_fields)
		unknowns(out);
	for (int s = 0; s < 3; s++)
	{
		/* stacks leaf first: foo <- main, main, foo(dup) <- main */
		uint64_t	ids[2] = {s == 2 && c->dup_locations ? loc_id[2] : loc_id[1], loc_id[0]};
		int			nids = s == 1 ? 1 : 2;

		if (s == 1)
			ids[0] = loc_id[0];
		if (c->mixed_packing && nids == 2)
		{
			vint(&m, 1, ids[0]);
			pyro_buf_append_varint(&sub, ids[1]);
			msg(&m, 1, &sub);
		}
		else
		{
			for (int i = 0; i < nids; i++)
				pyro_buf_append_varint(&sub, ids[i]);
			msg(&m, 1, &sub);
		}
		vint(&m, 2, (uint64_t) (s + 1));
		vint(&sub, 1, 7);
		vint(&sub, 2, 8);
		if (c->unknown_fields)
			unknowns(&sub);
		msg(&m, 3, &sub);
		if (c->unknown_fields)
			unknowns(&m);
		msg(out, 2, &m);
	}
	/* mapping */
	vint(&m, 1, map_id);
	vint(&m, 5, 9);
	if (c->odd_bools)
	{
		const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};

		key(&m, 7, 1);
		pyro_buf_append(&m, one, 8);
		bytes(&m, 8, "", 0);	/* a length prefix of 0: false */
		bytes(&m, 9, "\x80", 1);	/* prefix 1 is non-zero: true */
	}
	else
		vint(&m, 7, 1);
	msg(out, 3, &m);
	/* locations */
	for (int l = 0; l < (c->dup_locations ? 3 : 2); l++)
	{
		vint(&m, 1, loc_id[l]);
		vint(&m, 2, map_id);
		vint(&m, 3, 0x1000 + (uint64_t) l);
		vint(&sub, 1, fn_id[l == 0 ? 0 : 1]);
		vint(&sub, 2, 10);
		if (c->unknown_fields)
			unknowns(&sub);
		msg(&m, 4, &sub);
		if (c->unknown_fields)
			unknowns(&m);
		msg(out, 4, &m);
	}
	/* functions */
	vint(&m, 1, fn_id[0]);
	vint(&m, 2, 3);
	msg(out, 5, &m);
	vint(&m, 1, fn_id[1]);
	vint(&m, 2, c->nul_string ? 10 : 4);
	if (c->wrong_wt == 1)
		bytes(&m, 4, "x", 1);	/* filename as bytes */
	msg(out, 5, &m);
	if (!c->strings_first)
	{
		for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			bytes(out, 6, strs[i], strlen(strs[i]));
		bytes(out, 6, "ba\0r", 4);
	}
	vint(&m, 1, 5);
	vint(&m, 2, 6);
	msg(out, 11, &m);
	if (c->period_twice)
	{
		vint(&m, 2, 2);			/* count; type absent, so "" */
		msg(out, 11, &m);
	}
	if (c->wrong_wt == 2)
	{
		const uint8_t eight[8] = {0};

		key(out, 9, 1);			/* time_nanos as fixed64 */
		pyro_buf_append(out, eight, 8);
	}
	if (c->wrong_wt == 3)
		vint(out, 6, 1);		/* a string as a varint */
	vint(out, 12, 10);
	vint(out, 9, 1234);
	vint(out, 9, 5678);			/* repeated scalar: last wins */
}

static void
corner_check(const Corner *c, PyroStatus expect, const char *name)
{
	PyroBuf		b;
	PyroStatus	st;
	char		why[1024];

	corner_build(&b, c);
	if (!pprof_diff(b.data, b.len, NULL, &st, why, sizeof(why)))
	{
		fprintf(stderr, "  %s: %s\n", name, why);
		unit_failures++;
	}
	else if (st != expect)
	{
		fprintf(stderr, "  %s: status %d, expected %d\n", name, st, expect);
		unit_failures++;
	}
	diff_all_limits(b.data, b.len, name);
	diff_mutations(b.data, b.len, name);
	pyro_buf_free(&b);
}

TEST(pprof_diff_wire_corners)
{
	Corner		c;

	memset(&c, 0, sizeof(c));
	corner_check(&c, PYRO_OK, "plain");
	c.strings_first = true;
	corner_check(&c, PYRO_OK, "strings first");
	c.mixed_packing = true;
	corner_check(&c, PYRO_OK, "mixed packing");
	c.unknown_fields = true;
	corner_check(&c, PYRO_OK, "unknown fields");
	c.period_twice = true;
	corner_check(&c, PYRO_OK, "period twice");
	c.odd_bools = true;
	corner_check(&c, PYRO_OK, "odd bools");
	c.sparse_ids = true;
	corner_check(&c, PYRO_OK, "sparse ids");
	c.nul_string = true;
	corner_check(&c, PYRO_OK, "nul string");
	c.dup_locations = true;
	corner_check(&c, PYRO_OK, "dup locations");
	for (int i = 1; i <= 3; i++)
	{
		c.wrong_wt = i;
		corner_check(&c, PYRO_EINVAL, "wrong wire type");
	}
}

/*
 * Facts about the corner profile checked directly on the fast decoder:
 * the period type of the last period_type message only ("" and count, as
 * protobuf-c gives; the spec would merge to cpu/count),
 * the last time_nanos, the mapping flags decoded protobuf-c's way, the
 * name cut at its NUL, and equal-content locations sharing one stack.
 */
TEST(pprof_diff_corner_facts)
{
	Corner		c;
	PyroBuf		b;
	PyroNormalized *n;
	PyroError	err;
	const PyroProfile *p;

	memset(&c, 0, sizeof(c));
	c.period_twice = true;
	c.odd_bools = true;
	c.nul_string = true;
	c.dup_locations = true;
	c.sparse_ids = true;
	c.mixed_packing = true;
	corner_build(&b, &c);
	REQUIRE(pyro_pprof_normalize(b.data, b.len, NULL, &n, &err) == PYRO_OK);
	pyro_buf_free(&b);
	CHECK_EQ_STR(n->period_type, "");
	CHECK_EQ_STR(n->period_unit, "count");
	CHECK_EQ_INT(n->time_nanos, 5678);
	REQUIRE(n->nseries == 1);
	p = n->series[0].profile;
	CHECK_EQ_STR(pyro_labels_get(&n->series[0].sample_labels, "k"), "v");
	/* samples: (main;ba) 1 + 3 merged (same content), (main) 2 */
	REQUIRE(p->nsamples == 2);
	CHECK_EQ_INT(p->samples[0].value + p->samples[1].value, 6);
	CHECK(p->samples[0].value == 4 || p->samples[1].value == 4);
	/* mapping 1 (after the sentinel): functions + line numbers, no filenames */
	REQUIRE(n->sym->nmappings == 2);
	CHECK_EQ_INT(n->sym->mappings[1].flags,
				 PYRO_MAPPING_HAS_FUNCTIONS | PYRO_MAPPING_HAS_LINE_NUMBERS);
	{
		bool		found = false;

		for (uint32_t i = 0; i < n->sym->nfunctions; i++)
		{
			const PyroStr *s = &n->sym->strings[n->sym->functions[i].name];

			if (s->len == 2 && memcmp(s->ptr, "ba", 2) == 0)
				found = true;
		}
		CHECK(found);
	}
	pyro_normalized_free(n);
}

const UnitTest pprof_diff_tests[] = {
	UNIT_ENTRY(pprof_diff_test_data),
	UNIT_ENTRY(pprof_diff_wire_corners),
	UNIT_ENTRY(pprof_diff_corner_facts),
	{NULL, NULL}
};

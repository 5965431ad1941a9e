/*
 * test_codec.c
 *	  Unit tests of profile_codec.c: the exact PYP1 bytes of a small
 *	  profile, pruning of unreachable symbols, round trips, and rejection
 *	  of truncated or corrupt input.
 */
#include "unit.h"
#include "../../src/core/profile.h"

/*
 * A profile with one reached stack (root -> "f" at 0x10, line 3) and a pile
 * of unreached symbols that the encoder must drop.
 */
static PyroProfile *
small_profile(void)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;
	PyroFunction f = {0, 0, 0, 0};
	PyroFunction g = {0, 0, 0, 0};
	PyroMapping m = {1, 2, 3, 0, 0, 0};
	PyroLine	l;
	uint32_t	loc;
	uint32_t	other;

	if (s == NULL)
		return NULL;
	/* unreached symbols first, so renumbering has work to do */
	g.name = pyro_sym_intern_string(s, "unused", 6);
	m.filename = pyro_sym_intern_string(s, "unused.so", 9);
	l.function = pyro_sym_intern_function(s, &g);
	l.line = 1;
	other = pyro_sym_intern_location(s, pyro_sym_intern_mapping(s, &m), 7, &l, 1);
	pyro_sym_intern_stack(s, 0, other);

	f.name = pyro_sym_intern_string(s, "f", 1);
	l.function = pyro_sym_intern_function(s, &f);
	l.line = 3;
	loc = pyro_sym_intern_location(s, 0, 0x10, &l, 1);
	p = pyro_profile_create(s, true);
	if (p == NULL)
	{
		pyro_symbols_free(s);
		return NULL;
	}
	pyro_profile_add_sample(p, pyro_sym_intern_stack(s, 0, loc), 7, 0);
	p->sample_type = f.name;
	return p;
}

/* The expected encoding of small_profile(), worked out from the format. */
static const uint8_t small_expected[] = {
	'P', 'Y', 'P', '1', 0x01,	/* magic, version */
	0x00,						/* flags */
	0x02, 0x00, 0x01, 'f',		/* strings: "", "f" */
	0x01, 0, 0, 0, 0, 0, 0,		/* mappings: sentinel only */
	0x01, 0x01, 0x00, 0x00, 0x00,	/* functions: name 1, start_line 0 */
	0x01, 0x01,					/* locations: 1, lines: 1 */
	0x00, 0x10, 0x01, 0x00, 0x06,	/* mapping 0, addr 0x10, 1 line (fn 0,
									 * line zz(3)) */
	0x02, 0x00, 0x00, 0x01, 0x00,	/* stacks: root, (delta 1, loc 0) */
	0x01, 0x02, 0x0e,			/* samples: 1, stack zz(+1), value zz(7) */
	0x01, 0x00, 0x00, 0x00,		/* sample_type "f", rest unset */
	0x00, 0x00, 0x00			/* period, time, duration */
};

TEST(encode_exact_bytes_and_pruning)
{
	PyroProfile *p = small_profile();
	PyroBuf		b;
	PyroError	err;

	REQUIRE(p != NULL);
	pyro_buf_init(&b);
	CHECK_EQ_INT(pyro_profile_encode(p, &b, &err), PYRO_OK);
	CHECK_EQ_INT(b.len, sizeof(small_expected));
	CHECK(b.len == sizeof(small_expected) && memcmp(b.data, small_expected, b.len) == 0);
	pyro_buf_free(&b);
	pyro_profile_free(p);
}

TEST(decode_small_profile)
{
	PyroProfile *p = NULL;
	PyroError	err;
	PyroSymbols *s;

	CHECK_EQ_INT(pyro_profile_decode(small_expected, sizeof(small_expected), &p, &err), PYRO_OK);
	REQUIRE(p != NULL);
	s = p->sym;
	CHECK_EQ_INT(s->nstrings, 2);
	CHECK_EQ_INT(s->strings[1].len, 1);
	CHECK_EQ_INT(s->strings[1].ptr[0], 'f');
	CHECK_EQ_INT(s->nmappings, 1);
	CHECK_EQ_INT(s->nfunctions, 1);
	CHECK_EQ_INT(s->functions[0].name, 1);
	CHECK_EQ_INT(s->nlocations, 1);
	CHECK_EQ_INT(s->locations[0].address, 0x10);
	CHECK_EQ_INT(s->locations[0].nlines, 1);
	CHECK_EQ_INT(s->lines[0].line, 3);
	CHECK_EQ_INT(s->nstacks, 2);
	CHECK_EQ_INT(s->stacks[1].parent, 0);
	CHECK_EQ_INT(p->nsamples, 1);
	CHECK_EQ_INT(p->samples[0].stack, 1);
	CHECK_EQ_INT(p->samples[0].value, 7);
	CHECK_EQ_INT(p->sample_type, 1);
	pyro_profile_free(p);
}

static uint32_t
rnd(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 8;
}

/* A pseudo-random profile with deep stacks, negative values and spans. */
static PyroProfile *
random_profile(uint32_t seed, bool spans)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;
	uint32_t	x = seed;
	uint32_t	nodes[400];
	uint32_t	nnodes = 0;

	if (s == NULL)
		return NULL;
	p = pyro_profile_create(s, true);
	if (p == NULL)
	{
		pyro_symbols_free(s);
		return NULL;
	}
	for (int i = 0; i < 400; i++)
	{
		char		name[32];
		int			n = snprintf(name, sizeof(name), "fn_%u", rnd(&x) % 50);
		PyroFunction f = {0, 0, 0, 0};
		PyroMapping m = {0, 0, 0, 0, 0, 0};
		PyroLine	l[2];
		uint32_t	nl = rnd(&x) % 3;
		uint32_t	mapping = 0;
		uint32_t	loc;
		uint32_t	parent;

		f.name = pyro_sym_intern_string(s, name, (size_t) n);
		f.start_line = (int64_t) (rnd(&x) % 100) - 50;
		l[0].function = pyro_sym_intern_function(s, &f);
		l[0].line = (int64_t) (rnd(&x) % 1000) - 10;
		l[1] = l[0];
		l[1].line++;
		if (rnd(&x) % 2)
		{
			m.memory_start = rnd(&x);
			m.memory_limit = m.memory_start + 0x10000;
			m.filename = pyro_sym_intern_string(s, "/lib/x.so", 9);
			mapping = pyro_sym_intern_mapping(s, &m);
		}
		loc = pyro_sym_intern_location(s, mapping, rnd(&x) % 4096, l, nl);
		parent = nnodes == 0 || rnd(&x) % 4 == 0 ? 0 : nodes[rnd(&x) % nnodes];
		nodes[nnodes++] = pyro_sym_intern_stack(s, parent, loc);
	}
	for (int i = 0; i < 1000; i++)
	{
		uint32_t	node = nodes[rnd(&x) % nnodes];
		int64_t		value = (int64_t) (rnd(&x) % 100000) - 1000;
		uint64_t	span = 0;

		if (spans && rnd(&x) % 2)
		{
			span = (uint64_t) rnd(&x) << 40;
			span |= rnd(&x);
		}
		pyro_profile_add_sample(p, node, value, span);
	}
	p->sample_type = pyro_sym_intern_string(s, "cpu", 3);
	p->sample_unit = pyro_sym_intern_string(s, "nanoseconds", 11);
	p->period_type = p->sample_type;
	p->period_unit = p->sample_unit;
	p->period = 10000000;
	p->time_nanos = 1700000000123456789LL;
	p->duration_nanos = -1;
	return p;
}

TEST(roundtrip_is_byte_identical)
{
	for (uint32_t seed = 1; seed <= 6; seed++)
	{
		PyroProfile *p = random_profile(seed, seed % 2 == 0);
		PyroProfile *q = NULL;
		PyroBuf		a;
		PyroBuf		b;
		PyroError	err;

		REQUIRE(p != NULL);
		pyro_buf_init(&a);
		pyro_buf_init(&b);
		CHECK_EQ_INT(pyro_profile_encode(p, &a, &err), PYRO_OK);
		CHECK_EQ_INT(pyro_profile_decode(a.data, a.len, &q, &err), PYRO_OK);
		REQUIRE(q != NULL);
		CHECK_EQ_INT(pyro_profile_encode(q, &b, &err), PYRO_OK);
		CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		CHECK_EQ_INT(a.data[5], seed % 2 == 0 ? 1 : 0); /* span flag */

		/* samples agree in order, value, span and frame names */
		CHECK_EQ_INT(q->nsamples, p->nsamples);
		CHECK_EQ_INT(pyro_profile_total(q), pyro_profile_total(p));
		for (size_t i = 0; i < p->nsamples && i < q->nsamples; i++)
		{
			uint32_t	sp = p->samples[i].stack;
			uint32_t	sq = q->samples[i].stack;

			CHECK_EQ_INT(q->samples[i].value, p->samples[i].value);
			CHECK(q->samples[i].span_id == p->samples[i].span_id);
			while (sp != 0 && sq != 0)
			{
				char		b1[64];
				char		b2[64];

				pyro_location_frame_name(p->sym, &p->sym->locations[p->sym->stacks[sp].location],
										 0, b1, sizeof(b1));
				pyro_location_frame_name(q->sym, &q->sym->locations[q->sym->stacks[sq].location],
										 0, b2, sizeof(b2));
				if (strcmp(b1, b2) != 0)
				{
					CHECK_EQ_STR(b1, b2);
					break;
				}
				sp = p->sym->stacks[sp].parent;
				sq = q->sym->stacks[sq].parent;
			}
			CHECK(sp == 0 && sq == 0);
		}
		CHECK_EQ_INT(q->time_nanos, 1700000000123456789LL);
		CHECK_EQ_INT(q->duration_nanos, -1);
		CHECK_EQ_INT(q->period, 10000000);
		CHECK(q->sym->strings[q->sample_unit].len == 11 &&
			  memcmp(q->sym->strings[q->sample_unit].ptr, "nanoseconds", 11) == 0);
		/* pruning: every decoded stack node is reached by some sample */
		CHECK(q->sym->nstacks <= p->sym->nstacks);

		pyro_buf_free(&a);
		pyro_buf_free(&b);
		pyro_profile_free(p);
		pyro_profile_free(q);
	}
}

TEST(empty_profile_roundtrip)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p;
	PyroProfile *q = NULL;
	PyroBuf		b;
	PyroError	err;

	REQUIRE(s != NULL);
	p = pyro_profile_create(s, true);
	REQUIRE(p != NULL);
	pyro_sym_intern_string(s, "dropped", 7);
	pyro_buf_init(&b);
	CHECK_EQ_INT(pyro_profile_encode(p, &b, &err), PYRO_OK);

	/*
	 * magic+version, flags, 1 string, 1 mapping (6), 0 fn, 0 loc, 0 lines, 1
	 * stack (2), 0 samples, metadata 7
	 */
	CHECK_EQ_INT(b.len, 5 + 1 + 2 + 7 + 1 + 2 + 3 + 1 + 7);
	CHECK_EQ_INT(pyro_profile_decode(b.data, b.len, &q, &err), PYRO_OK);
	REQUIRE(q != NULL);
	CHECK_EQ_INT(q->nsamples, 0);
	CHECK_EQ_INT(q->sym->nstrings, 1);
	pyro_profile_free(q);
	pyro_buf_free(&b);
	pyro_profile_free(p);
}

/* Every proper prefix must fail cleanly; so must a trailing extra byte. */
TEST(truncation_at_every_offset_fails)
{
	PyroProfile *p = random_profile(42, true);
	PyroBuf		b;
	PyroError	err;
	uint8_t    *copy;

	REQUIRE(p != NULL);
	p->nsamples = 100;
	pyro_buf_init(&b);
	REQUIRE(pyro_profile_encode(p, &b, &err) == PYRO_OK);
	for (size_t k = 0; k < b.len; k++)
	{
		PyroProfile *q = NULL;

		/* a fresh exact-size copy so ASan catches any overread */
		copy = malloc(k ? k : 1);
		REQUIRE(copy != NULL);
		memcpy(copy, b.data, k);
		if (pyro_profile_decode(copy, k, &q, &err) != PYRO_ECORRUPT)
		{
			CHECK(!"truncated input accepted");
			pyro_profile_free(q);
		}
		CHECK(q == NULL);
		free(copy);
	}
	pyro_buf_append_byte(&b, 0);
	{
		PyroProfile *q = NULL;

		CHECK_EQ_INT(pyro_profile_decode(b.data, b.len, &q, &err), PYRO_ECORRUPT);
		CHECK_EQ_STR(err.msg, "1 bytes of trailing data after the profile");
	}
	pyro_buf_free(&b);
	pyro_profile_free(p);
}

/* Flip every byte of a valid encoding: decode must never crash. */
TEST(mutations_never_crash)
{
	PyroProfile *p = random_profile(7, true);
	PyroBuf		b;
	PyroError	err;
	static const uint8_t xors[] = {0x01, 0x80, 0xff, 0x7f};

	REQUIRE(p != NULL);
	p->nsamples = 40;			/* keep the encoding, and the test, short */
	pyro_buf_init(&b);
	REQUIRE(pyro_profile_encode(p, &b, &err) == PYRO_OK);
	for (size_t k = 0; k < b.len; k++)
	{
		for (size_t x = 0; x < sizeof(xors); x++)
		{
			PyroProfile *q = NULL;

			b.data[k] ^= xors[x];
			if (pyro_profile_decode(b.data, b.len, &q, &err) == PYRO_OK)
			{
				PyroBuf		c;

				/* whatever was accepted must be encodable */
				pyro_buf_init(&c);
				CHECK_EQ_INT(pyro_profile_encode(q, &c, &err), PYRO_OK);
				pyro_buf_free(&c);
				pyro_profile_free(q);
			}
			else
				CHECK(err.msg[0] != '\0');
			b.data[k] ^= xors[x];
		}
	}
	pyro_buf_free(&b);
	pyro_profile_free(p);
}

/* Decode a hand-written body after the header, expecting a given error. */
static void
expect_corrupt(const uint8_t *body, size_t len, const char *msg)
{
	uint8_t		buf[256];
	PyroProfile *q = NULL;
	PyroError	err;

	memcpy(buf, "PYP1\x01", 5);
	memcpy(buf + 5, body, len);
	CHECK_EQ_INT(pyro_profile_decode(buf, len + 5, &q, &err), PYRO_ECORRUPT);
	CHECK(q == NULL);
	CHECK_EQ_STR(err.msg, msg);
}

TEST(corrupt_inputs_rejected)
{
	PyroProfile *q = NULL;
	PyroError	err;

	/* huge counts must not allocate */
	{
		const uint8_t b[] = {0x00, 0xfe, 0xff, 0xff, 0xff, 0x0f};

		expect_corrupt(b, sizeof(b), "string count 4294967294 exceeds the remaining 0 bytes of profile data");
	}
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0xff, 0xff, 0xff, 0x7f};

		expect_corrupt(b, sizeof(b), "line count 268435455 exceeds the remaining 0 bytes of profile data");
	}
	/* string 0 not empty */
	{
		const uint8_t b[] = {0x00, 0x01, 0x01, 'x'};

		expect_corrupt(b, sizeof(b), "string table entry 0 is not empty");
	}
	/* mapping sentinel not zero */
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 5, 0, 0, 0, 0, 0};

		expect_corrupt(b, sizeof(b), "mapping 0 is not the empty sentinel");
	}
	/* function name out of range */
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
		0x01, 0x05, 0x00, 0x00, 0x00};

		expect_corrupt(b, sizeof(b), "function 0 refers to unknown string 5");
	}
	/* location refers to an unknown function */
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
			0x00,				/* no functions */
		0x01, 0x01, 0x00, 0x10, 0x01, 0x00, 0x00};

		expect_corrupt(b, sizeof(b), "location 0 refers to unknown function 0");
	}
	/* stack node that is its own parent, and one beyond the root */
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
			0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00};

		expect_corrupt(b, sizeof(b), "stack node 1 is its own parent");
	}
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
			0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
		0x02, 0x00, 0x00, 0x02, 0x00};

		expect_corrupt(b, sizeof(b), "stack node 1 has parent delta 2 beyond the root");
	}
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
			0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
		0x02, 0x00, 0x00, 0x01, 0x01};

		expect_corrupt(b, sizeof(b), "stack node 1 refers to unknown location 1");
	}
	/* root that is not a root */
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x01};

		expect_corrupt(b, sizeof(b), "stack node 0 is not the root");
	}
	/* sample on an unknown stack node (delta +2 with 2 nodes) */
	{
		const uint8_t b[] = {0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
			0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
			0x02, 0x00, 0x00, 0x01, 0x00,
		0x01, 0x04, 0x02};

		expect_corrupt(b, sizeof(b), "sample 0 refers to an unknown stack node");
	}
	/* unknown flags */
	{
		const uint8_t b[] = {0x02};

		expect_corrupt(b, sizeof(b), "unknown profile flags 0x2");
	}
	/* bad magic and version */
	CHECK_EQ_INT(pyro_profile_decode((const uint8_t *) "PYP2\x01\x00", 6, &q, &err), PYRO_ECORRUPT);
	CHECK_EQ_STR(err.msg, "profile data does not start with the PYP1 magic");
	CHECK_EQ_INT(pyro_profile_decode((const uint8_t *) "PYP1\x02\x00", 6, &q, &err), PYRO_ECORRUPT);
	CHECK_EQ_STR(err.msg, "unsupported profile format version 2");
	CHECK_EQ_INT(pyro_profile_decode(NULL, 0, &q, &err), PYRO_ECORRUPT);
	CHECK(q == NULL);
}

/* The encoder refuses in-memory profiles with broken indexes. */
TEST(encode_rejects_broken_profile)
{
	PyroProfile *p = small_profile();
	PyroBuf		b;
	PyroError	err;

	REQUIRE(p != NULL);
	pyro_buf_init(&b);
	p->samples[0].stack = 99;
	CHECK_EQ_INT(pyro_profile_encode(p, &b, &err), PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "sample 0 refers to unknown stack node 99");
	p->samples[0].stack = 2;
	p->sym->stacks[2].parent = 2;
	CHECK_EQ_INT(pyro_profile_encode(p, &b, &err), PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "stack node 2 has parent 2, not below its own index");
	pyro_buf_free(&b);
	pyro_profile_free(p);
}

const UnitTest codec_tests[] = {
	UNIT_ENTRY(encode_exact_bytes_and_pruning),
	UNIT_ENTRY(decode_small_profile),
	UNIT_ENTRY(roundtrip_is_byte_identical),
	UNIT_ENTRY(empty_profile_roundtrip),
	UNIT_ENTRY(truncation_at_every_offset_fails),
	UNIT_ENTRY(mutations_never_crash),
	UNIT_ENTRY(corrupt_inputs_rejected),
	UNIT_ENTRY(encode_rejects_broken_profile),
	{NULL, NULL}
};

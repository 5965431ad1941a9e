/*
 * test_pprof.c
 *	  Unit tests of pprof_decode.c and pprof_encode.c: every pprof under
 *	  test/data/pprof, malformed inputs built by hand, label splitting,
 *	  span ids, limits, packed/unpacked fields and encode/normalise round
 *	  trips.
 */
#include "unit.h"
#include "../../src/core/pprof.h"

/* ---------------------------------------------------------------------
 * helpers
 * ---------------------------------------------------------------------
 */

static PyroStatus
normalize_file(const char *rel, const PyroPprofLimits *lim, PyroNormalized **out,
			   PyroError *err)
{
	size_t		len = 0;
	unsigned char *data = unit_read_file(unit_data_path(rel), &len);
	PyroStatus	st;

	*out = NULL;
	if (data == NULL)
	{
		fprintf(stderr, "  cannot read %s\n", rel);
		return PYRO_EINVAL;
	}
	st = pyro_pprof_normalize(data, len, lim, out, err);
	free(data);
	return st;
}

/* Sum of the totals of every series of sample type t. */
static int64_t
type_total(const PyroNormalized *n, uint32_t t)
{
	int64_t		sum = 0;

	for (size_t i = 0; i < n->nseries; i++)
		if (n->series[i].type_index == t)
			sum += pyro_profile_total(n->series[i].profile);
	return sum;
}

/*
 * "root;...;leaf" frame names of a stack node (inlined lines expanded,
 * outermost first), written into buf.
 */
static void
stack_string(const PyroSymbols *sym, uint32_t node, char *buf, size_t size)
{
	uint32_t	chain[256];
	size_t		n = 0,
				off = 0;

	buf[0] = '\0';
	while (node != 0 && n < 256)
	{
		chain[n++] = node;
		node = sym->stacks[node].parent;
	}
	while (n > 0)
	{
		const PyroLocation *loc = &sym->locations[sym->stacks[chain[--n]].location];

		for (uint32_t k = loc->nlines > 0 ? loc->nlines : 1; k > 0; k--)
		{
			char		fb[512];
			PyroStr		s = pyro_location_frame_name(sym, loc, loc->nlines ? k - 1 : 0,
													 fb, sizeof(fb));

			if (off + s.len + 2 < size)
			{
				if (off > 0)
					buf[off++] = ';';
				memcpy(buf + off, s.ptr, s.len);
				off += s.len;
				buf[off] = '\0';
			}
		}
	}
}

typedef struct Folded
{
	char	   *stack;
	int64_t		value;
	uint64_t	span;
} Folded;

static int
folded_cmp(const void *a, const void *b)
{
	const Folded *x = a,
			   *y = b;
	int			c = strcmp(x->stack, y->stack);

	if (c)
		return c;
	if (x->span != y->span)
		return x->span < y->span ? -1 : 1;
	return (x->value > y->value) - (x->value < y->value);
}

/* The samples of p as sorted (stack string, value, span) triples. */
static Folded *
fold(const PyroProfile *p)
{
	Folded	   *f = calloc(p->nsamples + 1, sizeof(Folded));
	char		buf[65536];

	for (size_t i = 0; i < p->nsamples; i++)
	{
		stack_string(p->sym, p->samples[i].stack, buf, sizeof(buf));
		f[i].stack = strdup(buf);
		f[i].value = p->samples[i].value;
		f[i].span = p->samples[i].span_id;
	}
	qsort(f, p->nsamples, sizeof(Folded), folded_cmp);
	return f;
}

static void
fold_free(Folded *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].stack);
	free(f);
}

/* protobuf writing for hand-made inputs */
static void
pb_varint(PyroBuf *b, uint32_t field, uint64_t v)
{
	pyro_buf_append_varint(b, (uint64_t) field << 3);
	pyro_buf_append_varint(b, v);
}

static void
pb_bytes(PyroBuf *b, uint32_t field, const void *data, size_t len)
{
	pyro_buf_append_varint(b, ((uint64_t) field << 3) | 2);
	pyro_buf_append_varint(b, len);
	pyro_buf_append(b, data, len);
}

static void
pb_msg(PyroBuf *b, uint32_t field, PyroBuf *m)
{
	pb_bytes(b, field, m->data, m->len);
	pyro_buf_free(m);
}

/*
 * A small profile: strings "", samples, count, main, foo, k, v, cpu,
 * nanoseconds; functions main (1) and foo (2); locations 1 -> main and
 * 2 -> foo; one sample with stack foo <- main (leaf first) and value 5.
 * Every field can be changed to build a malformed variant.
 */
typedef struct Spec
{
	const char *str0;
	int64_t		type_idx;
	uint64_t	fn1_id,
				fn2_id;
	int64_t		fn2_name;
	uint64_t	loc1_id,
				loc2_id;
	uint64_t	loc2_fn;
	uint64_t	loc1_mapping;
	uint64_t	mapping_id;		/* 0 = no mapping message */
	uint64_t	sample_locs[2];
	int			nvalues;
	int64_t		value;
	bool		packed;
	bool		label;
	int64_t		label_key;
	int			nsamples;
} Spec;

static Spec
spec_default(void)
{
	Spec		s = {"", 1, 1, 2, 4, 1, 2, 2, 0, 0, {2, 1}, 1, 5, true, false, 5, 1};

	return s;
}

static void
build(PyroBuf *out, const Spec *s)
{
	static const char *strs[] = {"", "samples", "count", "main", "foo", "k", "v",
	"cpu", "nanoseconds"};
	PyroBuf		m,
				sub;

	pyro_buf_init(out);
	pyro_buf_init(&m);
	pyro_buf_init(&sub);
	pb_varint(&m, 1, (uint64_t) s->type_idx);
	pb_varint(&m, 2, 2);
	pb_msg(out, 1, &m);
	for (int k = 0; k < s->nsamples; k++)
	{
		if (s->packed)
		{
			pyro_buf_append_varint(&sub, s->sample_locs[0]);
			pyro_buf_append_varint(&sub, s->sample_locs[1]);
			pb_msg(&m, 1, &sub);
			for (int i = 0; i < s->nvalues; i++)
				pyro_buf_append_varint(&sub, (uint64_t) s->value);
			pb_msg(&m, 2, &sub);
		}
		else
		{
			/* unpacked, and interleaved on purpose */
			pb_varint(&m, 1, s->sample_locs[0]);
			for (int i = 0; i < s->nvalues; i++)
				pb_varint(&m, 2, (uint64_t) s->value);
			pb_varint(&m, 1, s->sample_locs[1]);
		}
		if (s->label)
		{
			pb_varint(&sub, 1, (uint64_t) s->label_key);
			pb_varint(&sub, 2, 6);
			pb_msg(&m, 3, &sub);
		}
		pb_msg(out, 2, &m);
	}
	if (s->mapping_id)
	{
		pb_varint(&m, 1, s->mapping_id);
		pb_varint(&m, 5, 4);
		pb_msg(out, 3, &m);
	}
	/* locations */
	pb_varint(&m, 1, s->loc1_id);
	if (s->loc1_mapping)
		pb_varint(&m, 2, s->loc1_mapping);
	pb_varint(&sub, 1, 1);
	pb_varint(&sub, 2, 10);
	pb_msg(&m, 4, &sub);
	pb_msg(out, 4, &m);
	pb_varint(&m, 1, s->loc2_id);
	pb_varint(&sub, 1, s->loc2_fn);
	pb_varint(&sub, 2, 20);
	pb_msg(&m, 4, &sub);
	pb_msg(out, 4, &m);
	/* functions */
	pb_varint(&m, 1, s->fn1_id);
	pb_varint(&m, 2, 3);
	pb_msg(out, 5, &m);
	pb_varint(&m, 1, s->fn2_id);
	pb_varint(&m, 2, (uint64_t) s->fn2_name);
	pb_msg(out, 5, &m);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
	{
		const char *str = (i == 0) ? s->str0 : strs[i];

		pb_bytes(out, 6, str, strlen(str));
	}
	/* period type cpu/nanoseconds, period 10 */
	pb_varint(&m, 1, 7);
	pb_varint(&m, 2, 8);
	pb_msg(out, 11, &m);
	pb_varint(out, 12, 10);
	pb_varint(out, 9, 1234);
}

static PyroStatus
normalize_spec(const Spec *s, PyroNormalized **n, PyroError *err)
{
	PyroBuf		b;
	PyroStatus	st;

	build(&b, s);
	st = pyro_pprof_normalize(b.data, b.len, NULL, n, err);
	pyro_buf_free(&b);
	return st;
}

/* Expect spec s to be rejected with code and a message containing msg. */
static void
expect_error(const Spec *s, PyroStatus code, const char *msg, int line)
{
	PyroNormalized *n = NULL;
	PyroError	err;
	PyroStatus	st = normalize_spec(s, &n, &err);

	if (st != code || n != NULL || strstr(err.msg, msg) == NULL)
	{
		fprintf(stderr, "  %s:%d: expected error %d \"%s\", got %d \"%s\"\n",
				__FILE__, line, code, msg, st, st ? err.msg : "");
		unit_failures++;
	}
	pyro_normalized_free(n);
}

/* ---------------------------------------------------------------------
 * real files
 * ---------------------------------------------------------------------
 */

/*
 * Expected numbers for every file under test/data/pprof.  Totals per
 * sample type were obtained with Google's pprof (`pprof -raw FILE`,
 * summing the value columns of the Samples section) and cross-checked by
 * summing the values of `protoc --decode=perftools.profiles.Profile`;
 * sample counts are the number of Sample messages in that protoc output.
 * No file has negative values.  dotnet-pprof-3 is rejected by Google's
 * pprof (every function has id 0), so its total comes from protoc and from
 * pprof on a copy with the function ids set to 1..41.
 */
typedef struct FileFacts
{
	const char *path;
	uint32_t	ntypes;
	size_t		samples;
	size_t		nseries;
	const char *default_name;
	int64_t		totals[6];
} FileFacts;

static const FileFacts facts[] = {
	{"pprof/dotnet/dotnet-pprof-3.pb.gz", 6, 579, 1, "process_cpu", {5653000000LL}},
	{"pprof/ebpf-native/no_addr_no_line.pb.gz", 1, 2, 1, "process_cpu", {105263156}},
	{"pprof/ebpf-native/node-ebpf.pb.gz", 1, 190, 1, "process_cpu", {190}},
	{"pprof/ebpf-native/normal-cpu.stripped.pprof", 2, 56, 2, "process_cpu", {907, 9070000000LL}},
	{"pprof/edge-cases/two-stacks-unwind-failed.pb.gz", 1, 2, 1, "process_cpu", {368421046}},
	{"pprof/go/cpu-labels.pb.gz", 2, 480, 6, "process_cpu", {873, 8730000000LL}},
	{"pprof/go/cpu-multi-mapping.pb.gz", 2, 26, 2, "process_cpu", {789, 7890000000LL}},
	{"pprof/go/cpu.pb.gz", 2, 7, 2, "process_cpu", {47, 470000000}},
	{"pprof/go/heap.pb", 4, 1150, 4, "memory",
	{196607841, 13434386318LL, 22156072, 1602645059}},
	{"pprof/go/heap.pb.gz", 4, 1150, 4, "memory",
	{196607841, 13434386318LL, 22156072, 1602645059}},
	{"pprof/go/req_2.pprof", 1, 6, 3, "goroutines", {10}},
	{"pprof/go/req_3.pprof", 2, 5, 2, "mutex", {43, 22674240703LL}},
	{"pprof/java/profile_java.pb.gz", 1, 2614, 1, "process_cpu", {5020648123LL}},
	{"pprof/nodejs/cpu-js.pb.gz", 2, 50, 2, "wall", {8849, 8849000}},
	{"pprof/nodejs/heap-js.pprof", 2, 5, 2, "memory", {66148, 6388384}},
	{"pprof/python/profile_python_small.pb.gz", 2, 2, 2, "CPU", {49, 490000000}},
	{"pprof/python/pyspy-1.pb.gz", 1, 16, 2, "process_cpu", {781}},
	{"pprof/ruby/profile_ruby.pb.gz", 1, 1662, 1, "process_cpu", {258747}},
	{"pprof/rust/profile_rust.pb.gz", 1, 30, 1, "process_cpu", {11960000000LL}},
};

TEST(pprof_files_totals)
{
	for (size_t f = 0; f < sizeof(facts) / sizeof(facts[0]); f++)
	{
		const FileFacts *ff = &facts[f];
		PyroNormalized *n;
		PyroError	err;

		if (normalize_file(ff->path, NULL, &n, &err) != PYRO_OK)
		{
			fprintf(stderr, "  %s: %s\n", ff->path, err.msg);
			unit_failures++;
			continue;
		}
		CHECK_EQ_INT(n->ntypes, ff->ntypes);
		CHECK_EQ_INT(n->input_samples, ff->samples);
		CHECK_EQ_INT(n->nseries, ff->nseries);
		if (strcmp(n->default_name, ff->default_name) != 0)
			fprintf(stderr, "  %s:\n", ff->path);
		CHECK_EQ_STR(n->default_name, ff->default_name);
		for (uint32_t t = 0; t < ff->ntypes && t < n->ntypes; t++)
		{
			if (type_total(n, t) != ff->totals[t])
			{
				fprintf(stderr, "  %s type %u: total %lld, expected %lld\n", ff->path, t,
						(long long) type_total(n, t), (long long) ff->totals[t]);
				unit_failures++;
			}
		}
		/* every series profile is non-empty, positive, merged and sorted */
		for (size_t i = 0; i < n->nseries; i++)
		{
			const PyroProfile *p = n->series[i].profile;

			CHECK(p->nsamples > 0);
			CHECK(p->sym == n->sym);
			for (size_t k = 0; k < p->nsamples; k++)
			{
				CHECK(p->samples[k].value > 0);
				CHECK(p->samples[k].stack < n->sym->nstacks);
				if (k > 0)
					CHECK(p->samples[k - 1].stack < p->samples[k].stack ||
						  (p->samples[k - 1].stack == p->samples[k].stack &&
						   p->samples[k - 1].span_id < p->samples[k].span_id));
			}
		}
		pyro_normalized_free(n);
	}
}

TEST(pprof_dotnet_dash_types)
{
	PyroNormalized *n;
	PyroError	err;

	REQUIRE(normalize_file("pprof/dotnet/dotnet-pprof-3.pb.gz", NULL, &n, &err) == PYRO_OK);
	/* "alloc-samples" etc. have '-' replaced by '_' */
	CHECK_EQ_STR(n->sample_types[2], "alloc_samples");
	CHECK_EQ_STR(n->sample_types[5], "lock_time");
	CHECK_EQ_STR(n->period_type, "");
	CHECK_EQ_STR(n->period_unit, "nanoseconds");
	pyro_normalized_free(n);
}

TEST(pprof_go_cpu_metadata)
{
	PyroNormalized *n;
	PyroError	err;
	const PyroProfile *p;

	REQUIRE(normalize_file("pprof/go/cpu.pb.gz", NULL, &n, &err) == PYRO_OK);
	/* pprof -raw: PeriodType cpu nanoseconds, Period 10000000 */
	CHECK_EQ_STR(n->sample_types[0], "samples");
	CHECK_EQ_STR(n->sample_units[1], "nanoseconds");
	CHECK_EQ_STR(n->period_type, "cpu");
	CHECK_EQ_INT(n->period, 10000000);
	CHECK(n->time_nanos > 1619300000000000000LL && n->time_nanos < 1619400000000000000LL);
	REQUIRE(n->nseries == 2);
	p = n->series[1].profile;
	CHECK_EQ_INT(n->series[1].type_index, 1);
	CHECK(p->sym->strings[p->sample_type].len == 3 &&
		  memcmp(p->sym->strings[p->sample_type].ptr, "cpu", 3) == 0);
	CHECK_EQ_INT(p->period, 10000000);
	CHECK_EQ_INT(p->time_nanos, n->time_nanos);
	CHECK_EQ_INT(n->series[1].sample_labels.n, 0);
	pyro_normalized_free(n);
}

/*
 * cpu-labels: samples carry foo, function and profile_id labels.  The
 * groups, their sizes and totals were computed from the protoc text dump:
 * {foo=bar,function=slow} 325 samples (674 / 6740000000), {foo=bar,
 * function=fast} 150 (150 / 1500000000), {foo=bar} 5 (49 / 490000000).
 * Identical stacks are merged when their locations are equal by content
 * (addresses cleared): 325 distinct (stack, profile_id) become 307.
 */
TEST(pprof_label_split_and_span_ids)
{
	PyroNormalized *n;
	PyroError	err;
	bool		found = false;

	REQUIRE(normalize_file("pprof/go/cpu-labels.pb.gz", NULL, &n, &err) == PYRO_OK);
	REQUIRE(n->nseries == 6);
	/* first appearance order of the groups, types in pprof order */
	CHECK_EQ_INT(n->series[0].type_index, 0);
	CHECK_EQ_INT(n->series[1].type_index, 1);
	CHECK_EQ_INT(n->series[0].sample_labels.n, 2);
	CHECK_EQ_STR(pyro_labels_get(&n->series[0].sample_labels, "function"), "slow");
	CHECK_EQ_STR(pyro_labels_get(&n->series[0].sample_labels, "foo"), "bar");
	CHECK_EQ_STR(n->series[0].sample_labels.labels[0].name, "foo");
	CHECK_EQ_STR(pyro_labels_get(&n->series[2].sample_labels, "function"), "fast");
	CHECK_EQ_INT(n->series[4].sample_labels.n, 1);
	CHECK(pyro_labels_get(&n->series[4].sample_labels, "function") == NULL);
	for (size_t i = 0; i < n->nseries; i++)
	{
		CHECK(pyro_labels_get(&n->series[i].sample_labels, "profile_id") == NULL);
		CHECK(pyro_labels_get(&n->series[i].sample_labels, "span_id") == NULL);
	}
	CHECK_EQ_INT(pyro_profile_total(n->series[1].profile), 6740000000LL);
	CHECK_EQ_INT(pyro_profile_total(n->series[3].profile), 1500000000LL);
	CHECK_EQ_INT(pyro_profile_total(n->series[5].profile), 490000000LL);
	CHECK_EQ_INT(n->series[1].profile->nsamples, 307);
	CHECK_EQ_INT(n->series[3].profile->nsamples, 150);
	CHECK_EQ_INT(n->series[5].profile->nsamples, 5);
	for (size_t k = 0; k < n->series[1].profile->nsamples; k++)
	{
		const PyroSample *s = &n->series[1].profile->samples[k];

		CHECK(s->span_id != 0);

		/*
		 * pprof -raw: 10000000 ... function:[slow]
		 * profile_id:[c717c11b87121639]
		 */
		if (s->span_id == 0xc717c11b87121639ULL)
		{
			found = true;
			CHECK_EQ_INT(s->value, 10000000);
		}
	}
	CHECK(found);
	for (size_t k = 0; k < n->series[5].profile->nsamples; k++)
		CHECK(n->series[5].profile->samples[k].span_id == 0);
	pyro_normalized_free(n);
}

/* ---------------------------------------------------------------------
 * hand-made inputs
 * ---------------------------------------------------------------------
 */

TEST(pprof_handmade_ok_packed_and_unpacked)
{
	Spec		s = spec_default();
	PyroNormalized *a,
			   *b;
	PyroError	err;
	Folded	   *fa,
			   *fb;

	s.nsamples = 2;
	REQUIRE(normalize_spec(&s, &a, &err) == PYRO_OK);
	s.packed = false;
	REQUIRE(normalize_spec(&s, &b, &err) == PYRO_OK);
	REQUIRE(a->nseries == 1 && b->nseries == 1);
	/* the two identical samples are merged: one sample of 10 */
	REQUIRE(a->series[0].profile->nsamples == 1);
	REQUIRE(b->series[0].profile->nsamples == 1);
	fa = fold(a->series[0].profile);
	fb = fold(b->series[0].profile);
	CHECK_EQ_STR(fa[0].stack, "main;foo");
	CHECK_EQ_STR(fb[0].stack, "main;foo");
	CHECK_EQ_INT(fa[0].value, 10);
	CHECK_EQ_INT(fb[0].value, 10);
	CHECK_EQ_STR(a->default_name, "process_cpu");
	CHECK_EQ_INT(a->time_nanos, 1234);
	CHECK_EQ_INT(a->period, 10);
	fold_free(fa, 1);
	fold_free(fb, 1);
	pyro_normalized_free(a);
	pyro_normalized_free(b);
}

TEST(pprof_malformed)
{
	Spec		s;

	s = spec_default();
	s.str0 = "x";
	expect_error(&s, PYRO_EINVAL, "string table entry 0 is not empty", __LINE__);

	s = spec_default();
	s.fn2_name = 99;
	expect_error(&s, PYRO_EINVAL, "function 2 refers to string 99", __LINE__);

	s = spec_default();
	s.type_idx = 9;				/* one past the end */
	expect_error(&s, PYRO_EINVAL, "refers to string 9", __LINE__);

	s = spec_default();
	s.sample_locs[1] = 7;
	expect_error(&s, PYRO_EINVAL, "sample 0 refers to unknown location 7", __LINE__);

	s = spec_default();
	s.loc1_id = 0;
	expect_error(&s, PYRO_EINVAL, "location id 0 is not valid", __LINE__);

	s = spec_default();
	s.fn2_id = 0;				/* only one of two: not the .NET repair */
	expect_error(&s, PYRO_EINVAL, "function id 0 is not valid", __LINE__);

	s = spec_default();
	s.loc2_id = 1;
	expect_error(&s, PYRO_EINVAL, "duplicate location id 1", __LINE__);

	s = spec_default();
	s.nvalues = 2;
	expect_error(&s, PYRO_EINVAL, "sample 0 has 2 values, but the profile has 1 sample types",
				 __LINE__);

	s = spec_default();
	s.nvalues = 0;
	expect_error(&s, PYRO_EINVAL, "sample 0 has 0 values", __LINE__);

	s = spec_default();
	s.loc2_fn = 9;
	expect_error(&s, PYRO_EINVAL, "location 2 refers to unknown function 9", __LINE__);

	s = spec_default();
	s.loc1_mapping = 3;
	expect_error(&s, PYRO_EINVAL, "location 1 refers to unknown mapping 3", __LINE__);

	s = spec_default();
	s.loc1_mapping = 3;
	s.mapping_id = 3;
	{
		PyroNormalized *n;
		PyroError	err;

		CHECK(normalize_spec(&s, &n, &err) == PYRO_OK);
		pyro_normalized_free(n);
	}

	s = spec_default();
	s.mapping_id = 0;
	s.loc1_mapping = 0;
	s.label = true;
	s.label_key = 40;
	expect_error(&s, PYRO_EINVAL, "label of sample 0 refers to string 40", __LINE__);
}

TEST(pprof_dotnet_function_id_repair)
{
	Spec		s = spec_default();
	PyroNormalized *n;
	PyroError	err;
	Folded	   *f;

	/* every function id 0: ids become positions + 1 */
	s.fn1_id = 0;
	s.fn2_id = 0;
	REQUIRE(normalize_spec(&s, &n, &err) == PYRO_OK);
	f = fold(n->series[0].profile);
	CHECK_EQ_STR(f[0].stack, "main;foo");
	fold_free(f, n->series[0].profile->nsamples);
	pyro_normalized_free(n);
}

TEST(pprof_empty_truncated_garbage)
{
	PyroNormalized *n = NULL;
	PyroError	err;
	PyroBuf		b;
	const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x7f};
	const uint8_t badgz[] = {0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03};
	Spec		s = spec_default();
	size_t		failures = 0;

	CHECK(pyro_pprof_normalize((const uint8_t *) "", 0, NULL, &n, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "profile has no sample types");
	CHECK(n == NULL);

	CHECK(pyro_pprof_normalize(garbage, sizeof(garbage), NULL, &n, &err) == PYRO_EINVAL);
	CHECK(n == NULL);
	CHECK(pyro_pprof_normalize(badgz, sizeof(badgz), NULL, &n, &err) != PYRO_OK);
	CHECK(n == NULL);

	/* every truncation must fail cleanly or decode; cutting a varint fails */
	build(&b, &s);
	for (size_t len = 1; len < b.len; len++)
	{
		if (pyro_pprof_normalize(b.data, len, NULL, &n, &err) != PYRO_OK)
			failures++;
		pyro_normalized_free(n);
	}
	CHECK(failures > b.len / 2);
	/* the first byte is the tag of a 4-byte sample_type message */
	CHECK(pyro_pprof_normalize(b.data, 3, NULL, &n, &err) == PYRO_EINVAL);
	CHECK_EQ_STR(err.msg, "could not decode pprof: malformed protobuf");
	pyro_buf_free(&b);
}

TEST(pprof_sample_filtering)
{
	Spec		s = spec_default();
	PyroNormalized *n;
	PyroError	err;

	/* negative values: the sample is dropped; nothing remains */
	s.value = -5;
	REQUIRE(normalize_spec(&s, &n, &err) == PYRO_OK);
	CHECK_EQ_INT(n->nseries, 0);
	CHECK_EQ_INT(n->input_samples, 1);
	pyro_normalized_free(n);

	/* zero values: dropped */
	s.value = 0;
	REQUIRE(normalize_spec(&s, &n, &err) == PYRO_OK);
	CHECK_EQ_INT(n->nseries, 0);
	pyro_normalized_free(n);

	/* a string label k=v splits; the series carries it */
	s = spec_default();
	s.label = true;
	REQUIRE(normalize_spec(&s, &n, &err) == PYRO_OK);
	REQUIRE(n->nseries == 1);
	CHECK_EQ_STR(pyro_labels_get(&n->series[0].sample_labels, "k"), "v");
	pyro_normalized_free(n);

	/* a label with an empty key is dropped */
	s.label_key = 0;
	REQUIRE(normalize_spec(&s, &n, &err) == PYRO_OK);
	CHECK_EQ_INT(n->series[0].sample_labels.n, 0);
	pyro_normalized_free(n);
}

/*
 * Labels built by hand: numeric labels, trace_id, span_id forms, duplicate
 * keys.  Strings: 0 "", 1 samples, 2 count, 3 main, 4 k, 5 v1, 6 v2,
 * 7 span_id, 8 profile_id, 9 trace_id, 10 "00000000000000ff", 11 "zz",
 * 12 "a", 13 "bytes".
 */
static void
build_labels(PyroBuf *out, const int64_t (*labels)[3], int nlabels)
{
	static const char *strs[] = {"", "samples", "count", "main", "k", "v1", "v2",
	"span_id", "profile_id", "trace_id", "00000000000000ff", "zz", "a", "bytes"};
	PyroBuf		m,
				sub;

	pyro_buf_init(out);
	pyro_buf_init(&m);
	pyro_buf_init(&sub);
	pb_varint(&m, 1, 1);
	pb_varint(&m, 2, 2);
	pb_msg(out, 1, &m);
	pb_varint(&m, 1, 1);
	pb_varint(&m, 2, 3);
	for (int i = 0; i < nlabels; i++)
	{
		pb_varint(&sub, 1, (uint64_t) labels[i][0]);
		if (labels[i][1])
			pb_varint(&sub, 2, (uint64_t) labels[i][1]);
		if (labels[i][2])
		{
			pb_varint(&sub, 3, (uint64_t) labels[i][2]);
			pb_varint(&sub, 4, 13);
		}
		pb_msg(&m, 3, &sub);
	}
	pb_msg(out, 2, &m);
	pb_varint(&m, 1, 1);
	pb_varint(&sub, 1, 1);
	pb_msg(&m, 4, &sub);
	pb_msg(out, 4, &m);
	pb_varint(&m, 1, 1);
	pb_varint(&m, 2, 3);
	pb_msg(out, 5, &m);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		pb_bytes(out, 6, strs[i], strlen(strs[i]));
}

static PyroNormalized *
normalize_labels(const int64_t (*labels)[3], int nlabels, const PyroPprofLimits *lim)
{
	PyroBuf		b;
	PyroNormalized *n = NULL;
	PyroError	err;

	build_labels(&b, labels, nlabels);
	if (pyro_pprof_normalize(b.data, b.len, lim, &n, &err) != PYRO_OK)
		fprintf(stderr, "  normalize_labels: %s\n", err.msg);
	pyro_buf_free(&b);
	return n;
}

TEST(pprof_sample_label_rules)
{
	PyroNormalized *n;

	/* k=v1 then k=v2: last wins; numeric label a=5 dropped; trace_id dropped */
	{
		const int64_t l[][3] = {{4, 5, 0}, {12, 0, 5}, {9, 11, 0}, {4, 6, 0}};

		n = normalize_labels(l, 4, NULL);
		REQUIRE(n != NULL && n->nseries == 1);
		CHECK_EQ_INT(n->series[0].sample_labels.n, 1);
		CHECK_EQ_STR(pyro_labels_get(&n->series[0].sample_labels, "k"), "v2");
		CHECK_EQ_INT(n->series[0].profile->samples[0].span_id, 0);
		pyro_normalized_free(n);
	}
	/* span_id parsed as hex */
	{
		const int64_t l[][3] = {{7, 10, 0}};

		n = normalize_labels(l, 1, NULL);
		REQUIRE(n != NULL && n->nseries == 1);
		CHECK_EQ_INT(n->series[0].sample_labels.n, 0);
		CHECK_EQ_INT(n->series[0].profile->samples[0].span_id, 255);
		pyro_normalized_free(n);
	}
	/* profile_id is the legacy name of span_id */
	{
		const int64_t l[][3] = {{8, 10, 0}, {4, 5, 0}};

		n = normalize_labels(l, 2, NULL);
		REQUIRE(n != NULL && n->nseries == 1);
		CHECK_EQ_INT(n->series[0].sample_labels.n, 1);
		CHECK_EQ_INT(n->series[0].profile->samples[0].span_id, 255);
		pyro_normalized_free(n);
	}
	/* an unparseable span id is ignored, the sample kept */
	{
		const int64_t l[][3] = {{7, 11, 0}};

		n = normalize_labels(l, 1, NULL);
		REQUIRE(n != NULL && n->nseries == 1);
		CHECK_EQ_INT(n->series[0].profile->samples[0].span_id, 0);
		CHECK_EQ_INT(pyro_profile_total(n->series[0].profile), 3);
		pyro_normalized_free(n);
	}
	/* too many labels on one sample */
	{
		const int64_t l[][3] = {{4, 5, 0}, {12, 6, 0}, {9, 11, 0}};
		PyroPprofLimits lim;
		PyroBuf		b;
		PyroError	err;

		pyro_pprof_limits_default(&lim);
		lim.max_sample_labels = 2;
		build_labels(&b, l, 3);
		n = NULL;
		CHECK(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_ELIMIT);
		CHECK_EQ_STR(err.msg, "sample 0 has 3 labels, more than the limit of 2");
		CHECK(n == NULL);
		lim.max_sample_labels = 3;
		CHECK(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_OK);
		pyro_normalized_free(n);
		pyro_buf_free(&b);
	}
}

TEST(pprof_limits)
{
	Spec		s = spec_default();
	PyroPprofLimits lim;
	PyroNormalized *n = NULL;
	PyroError	err;
	PyroBuf		b,
				gz;

	pyro_pprof_limits_default(&lim);
	CHECK_EQ_INT(lim.max_decompressed, 4194304);
	CHECK_EQ_INT(lim.max_samples, 16000);
	CHECK_EQ_INT(lim.max_sample_labels, 100);
	CHECK_EQ_INT(lim.max_stack_depth, 1000);
	CHECK_EQ_INT(lim.max_string_length, 65535);

	s.nsamples = 3;
	build(&b, &s);
	lim.max_samples = 2;
	CHECK(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_ELIMIT);
	CHECK_EQ_STR(err.msg, "profile has 3 samples, more than the limit of 2");
	lim.max_samples = 3;
	CHECK(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_OK);
	pyro_normalized_free(n);

	/* raw size limit */
	lim.max_decompressed = b.len - 1;
	CHECK(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_ELIMIT);
	lim.max_decompressed = b.len;
	CHECK(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_OK);
	pyro_normalized_free(n);

	/* decompressed size limit */
	pyro_buf_init(&gz);
	REQUIRE(pyro_gzip(b.data, b.len, 6, &gz, &err) == PYRO_OK);
	lim.max_decompressed = b.len - 1;
	CHECK(pyro_pprof_normalize(gz.data, gz.len, &lim, &n, &err) == PYRO_ELIMIT);
	CHECK(n == NULL);
	lim.max_decompressed = b.len;
	REQUIRE(pyro_pprof_normalize(gz.data, gz.len, &lim, &n, &err) == PYRO_OK);
	CHECK_EQ_INT(n->decoded_bytes, b.len);
	CHECK_EQ_INT(pyro_profile_total(n->series[0].profile), 15);
	pyro_normalized_free(n);
	pyro_buf_free(&gz);
	pyro_buf_free(&b);

	/* stack depth: keep the root-most frame; strings: keep the last bytes */
	pyro_pprof_limits_default(&lim);
	lim.max_stack_depth = 1;
	lim.max_string_length = 2;
	s = spec_default();
	build(&b, &s);
	REQUIRE(pyro_pprof_normalize(b.data, b.len, &lim, &n, &err) == PYRO_OK);
	{
		Folded	   *f = fold(n->series[0].profile);

		CHECK_EQ_STR(f[0].stack, "in"); /* "main", truncated to its last 2
										 * bytes */
		fold_free(f, 1);
	}
	CHECK_EQ_STR(n->sample_types[0], "es");
	pyro_normalized_free(n);
	pyro_buf_free(&b);
}

/* ---------------------------------------------------------------------
 * encode
 * ---------------------------------------------------------------------
 */

/*
 * normalize(encode(p)) must give back the same samples: the same stacks
 * by frame names, values and span ids.
 */
static void
check_roundtrip(const char *rel)
{
	PyroNormalized *n;
	PyroError	err;

	if (normalize_file(rel, NULL, &n, &err) != PYRO_OK)
	{
		fprintf(stderr, "  %s: %s\n", rel, err.msg);
		unit_failures++;
		return;
	}
	for (size_t i = 0; i < n->nseries; i++)
	{
		const PyroSeriesProfile *sp = &n->series[i];
		uint32_t	t = sp->type_index;
		PyroBuf		b;
		PyroNormalized *m = NULL;
		Folded	   *fa,
				   *fb;

		pyro_buf_init(&b);
		if (pyro_pprof_encode(sp->profile, n->sample_types[t], n->sample_units[t],
							  n->period_type, n->period_unit, n->period, 0,
							  &b, &err) != PYRO_OK ||
			pyro_pprof_normalize(b.data, b.len, NULL, &m, &err) != PYRO_OK)
		{
			fprintf(stderr, "  %s series %zu: %s\n", rel, i, err.msg);
			unit_failures++;
			pyro_buf_free(&b);
			continue;
		}
		pyro_buf_free(&b);
		CHECK_EQ_INT(m->ntypes, 1);
		CHECK_EQ_STR(m->sample_types[0], n->sample_types[t]);
		CHECK_EQ_STR(m->sample_units[0], n->sample_units[t]);
		CHECK_EQ_STR(m->period_type, n->period_type);
		CHECK_EQ_STR(m->period_unit, n->period_unit);
		CHECK_EQ_INT(m->period, n->period);
		CHECK_EQ_INT(m->time_nanos, n->time_nanos);
		CHECK_EQ_INT(m->duration_nanos, n->duration_nanos);
		/* span ids come back as span_id labels, not as split labels */
		REQUIRE(m->nseries == 1);
		CHECK_EQ_INT(m->series[0].sample_labels.n, 0);
		CHECK_EQ_INT(m->series[0].profile->nsamples, sp->profile->nsamples);
		if (m->series[0].profile->nsamples == sp->profile->nsamples)
		{
			fa = fold(sp->profile);
			fb = fold(m->series[0].profile);
			for (size_t k = 0; k < sp->profile->nsamples; k++)
			{
				if (strcmp(fa[k].stack, fb[k].stack) != 0 || fa[k].value != fb[k].value ||
					fa[k].span != fb[k].span)
				{
					fprintf(stderr, "  %s series %zu sample %zu differs: %s vs %s\n",
							rel, i, k, fa[k].stack, fb[k].stack);
					unit_failures++;
					break;
				}
			}
			fold_free(fa, sp->profile->nsamples);
			fold_free(fb, sp->profile->nsamples);
		}
		pyro_normalized_free(m);
	}
	pyro_normalized_free(n);
}

TEST(pprof_encode_roundtrip)
{
	check_roundtrip("pprof/go/cpu-labels.pb.gz");
	check_roundtrip("pprof/go/heap.pb.gz");
	check_roundtrip("pprof/ebpf-native/node-ebpf.pb.gz");
	check_roundtrip("pprof/ebpf-native/normal-cpu.stripped.pprof");
	check_roundtrip("pprof/java/profile_java.pb.gz");
	check_roundtrip("pprof/dotnet/dotnet-pprof-3.pb.gz");
	check_roundtrip("pprof/python/pyspy-1.pb.gz");
}

TEST(pprof_encode_bytes)
{
	Spec		s = spec_default();
	PyroNormalized *n;
	PyroError	err;
	PyroBuf		b;

	/*
	 * The hand-made profile encodes to: sample_type {1, 2}; one sample with
	 * location ids leaf first [2 (foo), 1 (main)] -- ids follow the symbol
	 * order and main, the root, was interned first -- and value 5. Checked by
	 * the first bytes: 0a 04 08 01 10 02 (sample_type), then the sample 12 07
	 * {0a 02 02 01 (packed ids), 12 01 05 (packed value)}.
	 */
	REQUIRE(normalize_spec(&s, &n, &err) == PYRO_OK);
	pyro_buf_init(&b);
	REQUIRE(pyro_pprof_encode(n->series[0].profile, "samples", "count", "cpu",
							  "nanoseconds", 10, 99, &b, &err) == PYRO_OK);
	{
		const uint8_t expect[] = {0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,
		0x12, 0x07, 0x0a, 0x02, 0x02, 0x01, 0x12, 0x01, 0x05};

		REQUIRE(b.len > sizeof(expect));
		CHECK(memcmp(b.data, expect, sizeof(expect)) == 0);
	}
	pyro_normalized_free(n);
	/* time_nanos override is honoured */
	REQUIRE(pyro_pprof_normalize(b.data, b.len, NULL, &n, &err) == PYRO_OK);
	CHECK_EQ_INT(n->time_nanos, 99);
	CHECK_EQ_STR(n->period_type, "cpu");
	pyro_normalized_free(n);
	pyro_buf_free(&b);
}

/* the __name__ rule of every ingest path (spec §10.7) */
TEST(pprof_profile_name_rule)
{
	char	   *wall_types[] = {"samples", "wall"};
	char	   *cpu_types[] = {"samples", "cpu"};
	char	   *heap_types[] = {"alloc_objects", "alloc_space"};
	char	   *mutex_types[] = {"contentions", "delay"};
	char	   *gor_types[] = {"goroutine"};
	char	   *other_types[] = {"sample", "CPU"};
	char	   *custom[] = {"goroutineleak"};
	PyroNormalized n;
	PyroDisplayName block[] = {{"contentions", "block_count"}, {"delay", "block_duration"}};
	PyroDisplayName leak[] = {{"goroutineleak", "goroutine_leak"}};

	memset(&n, 0, sizeof(n));
	n.ntypes = 2;
	n.sample_types = wall_types;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "wall");
	n.sample_types = cpu_types;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "process_cpu");
	n.sample_types = heap_types;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "memory");
	n.sample_types = mutex_types;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "mutex");
	/* a sample_type_config replaces the built-in display names */
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, block, 2, true), "block");
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, true), "delay");
	/* the (case-sensitive) names decide; else the last one */
	n.sample_types = other_types;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "CPU");
	n.ntypes = 1;
	n.sample_types = gor_types;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "goroutines");
	n.sample_types = custom;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, leak, 1, true), "goroutine_leak");
	n.ntypes = 0;
	CHECK_EQ_STR(pyro_pprof_profile_name(&n, NULL, 0, false), "unknown");
}

TEST(pprof_span_ids_and_merged_period)
{
	uint64_t	v = 0;

	CHECK(pyro_parse_span_id("00000000000000ff", 16, &v));
	CHECK_EQ_INT(v, 255);
	CHECK(pyro_parse_span_id("DEADbeef", 8, &v));
	CHECK_EQ_INT(v, 0xdeadbeefLL);
	CHECK(!pyro_parse_span_id("", 0, &v));
	CHECK(!pyro_parse_span_id("00000000000000001", 17, &v));
	CHECK(!pyro_parse_span_id("0x12", 4, &v));
	CHECK_EQ_INT(pyro_pprof_merged_period("process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 1000000000);
	CHECK_EQ_INT(pyro_pprof_merged_period("memory:inuse_space:bytes:space:bytes"), 524288);
	CHECK_EQ_INT(pyro_pprof_merged_period("process_cpu_x:a:b:c:d"), 1);
	CHECK_EQ_INT(pyro_pprof_merged_period("wall:wall:nanoseconds:wall:nanoseconds"), 1);
}

const UnitTest pprof_tests[] = {
	UNIT_ENTRY(pprof_files_totals),
	UNIT_ENTRY(pprof_dotnet_dash_types),
	UNIT_ENTRY(pprof_go_cpu_metadata),
	UNIT_ENTRY(pprof_label_split_and_span_ids),
	UNIT_ENTRY(pprof_handmade_ok_packed_and_unpacked),
	UNIT_ENTRY(pprof_malformed),
	UNIT_ENTRY(pprof_dotnet_function_id_repair),
	UNIT_ENTRY(pprof_empty_truncated_garbage),
	UNIT_ENTRY(pprof_sample_filtering),
	UNIT_ENTRY(pprof_sample_label_rules),
	UNIT_ENTRY(pprof_limits),
	UNIT_ENTRY(pprof_encode_roundtrip),
	UNIT_ENTRY(pprof_encode_bytes),
	UNIT_ENTRY(pprof_profile_name_rule),
	UNIT_ENTRY(pprof_span_ids_and_merged_period),
	{NULL, NULL}
};

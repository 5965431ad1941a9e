/*
 * test_block.c
 *	  Unit tests of the PYB1 block writer and reader: round trip of every
 *	  profile (compared by a symbol-independent rendering of each sample's
 *	  full stack), merged reads with and without aggregates against a
 *	  merge computed directly from the input, series filtering, totals,
 *	  span ids, a block of real pprofs, narrow-query fetch sizes, and
 *	  corrupt blocks (every truncation, every flipped byte, lying footer
 *	  and directory).
 */
#include "unit.h"
#include "../../src/core/block.h"
#include "../../src/core/pprof.h"

#include <zstd.h>
#include <zlib.h>

/* ----------------------------------------------------------------
 * a symbol-independent rendering of profiles
 * ----------------------------------------------------------------
 */

typedef struct KV
{
	char	   *key;
	int64_t		value;
} KV;

typedef struct KVList
{
	KV		   *v;
	size_t		n;
	size_t		cap;
} KVList;

/* Everything about one sample's stack and span, leaf to root. */
static char *
render_key(const PyroSymbols *s, uint32_t node, uint64_t span)
{
	PyroBuf		b;
	char	   *out;

	pyro_buf_init(&b);
	while (node != 0)
	{
		const PyroLocation *l = &s->locations[s->stacks[node].location];
		const PyroMapping *m = &s->mappings[l->mapping];

		pyro_buf_printf(&b, "[%.*s|%.*s|%llx|%llx|%llx|%u@%llx",
						(int) s->strings[m->filename].len, s->strings[m->filename].ptr,
						(int) s->strings[m->build_id].len, s->strings[m->build_id].ptr,
						(unsigned long long) m->memory_start, (unsigned long long) m->memory_limit,
						(unsigned long long) m->file_offset, m->flags,
						(unsigned long long) l->address);
		for (uint32_t j = 0; j < l->nlines; j++)
		{
			const PyroLine *ln = &s->lines[l->first_line + j];
			const PyroFunction *f = &s->functions[ln->function];

			pyro_buf_printf(&b, ";%.*s/%.*s/%.*s/%lld:%lld",
							(int) s->strings[f->name].len, s->strings[f->name].ptr,
							(int) s->strings[f->system_name].len, s->strings[f->system_name].ptr,
							(int) s->strings[f->filename].len, s->strings[f->filename].ptr,
							(long long) f->start_line, (long long) ln->line);
		}
		pyro_buf_append_str(&b, "]");
		node = s->stacks[node].parent;
	}
	pyro_buf_printf(&b, " span=%llx", (unsigned long long) span);
	out = strdup(b.data ? (char *) b.data : "");
	pyro_buf_free(&b);
	return out;
}

static void
kv_add(KVList *l, const PyroProfile *p, bool keep_spans)
{
	for (size_t i = 0; i < p->nsamples; i++)
	{
		if (l->n == l->cap)
		{
			l->cap = l->cap ? l->cap * 2 : 64;
			l->v = realloc(l->v, l->cap * sizeof(KV));
		}
		l->v[l->n].key = render_key(p->sym, p->samples[i].stack,
									keep_spans ? p->samples[i].span_id : 0);
		l->v[l->n].value = p->samples[i].value;
		l->n++;
	}
}

static int
cmp_kv(const void *a, const void *b)
{
	const KV   *x = a;
	const KV   *y = b;
	int			c = strcmp(x->key, y->key);

	if (c)
		return c;
	return (x->value > y->value) - (x->value < y->value);
}

/*
 * Render as sorted "key = value" lines; with sum, equal keys are summed
 * and zero sums dropped (what a merge does).  Frees the list.
 */
static char *
kv_render(KVList *l, bool sum)
{
	PyroBuf		b;
	char	   *out;

	if (l->n > 0)
		qsort(l->v, l->n, sizeof(KV), cmp_kv);
	pyro_buf_init(&b);
	for (size_t i = 0; i < l->n;)
	{
		size_t		j = i + 1;
		int64_t		v = l->v[i].value;

		if (sum)
		{
			while (j < l->n && strcmp(l->v[j].key, l->v[i].key) == 0)
				v += l->v[j++].value;
			if (v != 0)
				pyro_buf_printf(&b, "%s = %lld\n", l->v[i].key, (long long) v);
		}
		else
			pyro_buf_printf(&b, "%s = %lld\n", l->v[i].key, (long long) v);
		i = j;
	}
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	memset(l, 0, sizeof(*l));
	out = strdup(b.data ? (char *) b.data : "");
	pyro_buf_free(&b);
	return out;
}

static char *
render_profile(const PyroProfile *p, bool sum, bool keep_spans)
{
	KVList		l = {0};

	kv_add(&l, p, keep_spans);
	return kv_render(&l, sum);
}

/* ----------------------------------------------------------------
 * synthetic input
 * ----------------------------------------------------------------
 */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

#define NSRC	3

typedef struct Input
{
	int64_t		series;
	int64_t		ts;
	PyroProfile *p;
} Input;

/* A source symbol set with random stacks over shared function names. */
static PyroSymbols *
make_source(int k, uint32_t *nodes, int nnodes)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroMapping m = {0x400000, 0x800000, 0, 0, 0, 3};
	uint32_t	mp;

	m.filename = pyro_sym_intern_string(s, "/bin/app", 8);
	m.build_id = pyro_sym_intern_string(s, k == 2 ? "other" : "abc", k == 2 ? 5 : 3);
	mp = pyro_sym_intern_mapping(s, &m);
	nodes[0] = 0;
	for (int i = 1; i < nnodes; i++)
	{
		char		name[32];
		PyroFunction f = {0, 0, 0, 10};
		PyroLine	ln[2];
		uint32_t	fn,
					loc,
					parent = nodes[rnd() % i];
		int			id = (int) (rnd() % 12);

		snprintf(name, sizeof(name), "fn_%d", id);
		f.name = pyro_sym_intern_string(s, name, strlen(name));
		f.filename = pyro_sym_intern_string(s, "main.go", 7);
		fn = pyro_sym_intern_function(s, &f);
		ln[0].function = fn;
		ln[0].line = id * 3;
		ln[1].function = fn;
		ln[1].line = -1;
		loc = pyro_sym_intern_location(s, (id % 3) ? mp : 0, 0x400000 + (uint64_t) id * 16,
									   ln, 1 + (id % 4 == 0));
		nodes[i] = pyro_sym_intern_stack(s, parent, loc);
	}
	return s;
}

/*
 * Random profiles of 3 series over three hours starting at t0 (some at
 * equal times, some with spans, values mostly multiples of 1000).
 */
static Input *
make_inputs(PyroSymbols **src, int nprof, int64_t t0)
{
	static uint32_t nodes[NSRC][40];
	Input	   *in = calloc(nprof, sizeof(Input));
	static const int64_t series[3] = {5, 17, INT64_C(1000000000000)};

	for (int k = 0; k < NSRC; k++)
		src[k] = make_source(k, nodes[k], 40);
	for (int i = 0; i < nprof; i++)
	{
		int			k = (int) (rnd() % NSRC);
		PyroProfile *p = pyro_profile_create(src[k], false);
		int			ns = (int) (rnd() % 12);
		bool		spans = rnd() % 4 == 0;

		for (int j = 0; j < ns; j++)
		{
			int64_t		v = (int64_t) (rnd() % 50) * 1000;

			if (rnd() % 17 == 0)
				v = -v - 7;
			pyro_profile_add_sample(p, nodes[k][1 + rnd() % 39], v,
									spans && rnd() % 2 ? rnd() % 5 + 1 : 0);
		}
		p->sample_type = pyro_sym_intern_string(src[k], "cpu", 3);
		p->sample_unit = pyro_sym_intern_string(src[k], "nanoseconds", 11);
		p->period = 10000000;
		p->time_nanos = (int64_t) i * 1000;
		in[i].p = p;
		in[i].series = series[rnd() % 3];
		in[i].ts = t0 + (int64_t) (rnd() % (3 * 3600000));
		if (i > 0 && rnd() % 10 == 0)
			in[i].ts = in[i - 1].ts;
	}
	return in;
}

static void
free_inputs(Input *in, int n, PyroSymbols **src)
{
	for (int i = 0; i < n; i++)
		pyro_profile_free(in[i].p);
	free(in);
	for (int k = 0; k < NSRC; k++)
		pyro_symbols_free(src[k]);
}

static bool
build_block(Input *in, int n, const PyroBlockOptions *o, PyroBuf *out, PyroBlockMeta *meta)
{
	PyroBlockWriter *w = pyro_block_writer_create(o);
	PyroError	err;
	bool		ok = w != NULL;

	for (int i = 0; ok && i < n; i++)
		ok = pyro_block_writer_add(w, in[i].series, in[i].ts, in[i].p, &err) == PYRO_OK;
	pyro_buf_init(out);
	if (ok)
		ok = pyro_block_writer_finish(w, out, meta, &err) == PYRO_OK;
	if (!ok)
		fprintf(stderr, "  build_block: %s\n", err.msg);
	pyro_block_writer_free(w);
	return ok;
}

/* expected merge of the inputs of the selected series in [lo, hi] */
static char *
expected_merge(Input *in, int n, const int64_t *series, size_t nseries,
			   int64_t lo, int64_t hi, bool keep_spans)
{
	KVList		l = {0};

	for (int i = 0; i < n; i++)
	{
		bool		sel = series == NULL;

		for (size_t k = 0; k < nseries && !sel; k++)
			sel = series[k] == in[i].series;
		if (sel && in[i].ts >= lo && in[i].ts <= hi)
			kv_add(&l, in[i].p, keep_spans);
	}
	return kv_render(&l, true);
}

/* ----------------------------------------------------------------
 * tests
 * ----------------------------------------------------------------
 */

typedef struct Collected
{
	Input	   *in;
	int			n;
	bool	   *seen;
	int			visits;
	int			mismatches;
	int64_t		last_series;
	int64_t		last_ts;
	int			order_errors;
} Collected;

/* Find an unseen input equal to the visited profile. */
static PyroStatus
collect_visit(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	Collected  *c = arg;
	char	   *got = render_profile(p, false, true);
	bool		found = false;

	(void) err;
	if (c->visits > 0 && (series_id < c->last_series ||
						  (series_id == c->last_series && ts < c->last_ts)))
		c->order_errors++;
	c->last_series = series_id;
	c->last_ts = ts;
	c->visits++;
	for (int i = 0; i < c->n && !found; i++)
	{
		char	   *want;

		if (c->seen[i] || c->in[i].series != series_id || c->in[i].ts != ts ||
			c->in[i].p->nsamples != p->nsamples ||
			c->in[i].p->time_nanos != p->time_nanos)
			continue;
		want = render_profile(c->in[i].p, false, true);
		if (strcmp(want, got) == 0)
		{
			c->seen[i] = true;
			found = true;
		}
		free(want);
	}
	if (!found)
		c->mismatches++;
	free(got);
	return PYRO_OK;
}

TEST(block_round_trip)
{
	PyroSymbols *src[NSRC];
	Input	   *in;
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	PyroBlockQuery q = {NULL, 0, INT64_MIN, INT64_MAX, false, true};
	Collected	c = {0};
	uint64_t	nsamples = 0;
	uint32_t	ns;
	const int64_t *ids;

	rng_state = 12345;
	in = make_inputs(src, 300, INT64_C(1700000000000));
	for (int i = 0; i < 300; i++)
		nsamples += in[i].p->nsamples;
	REQUIRE(build_block(in, 300, NULL, &blk, &meta));
	CHECK_EQ_INT(meta.nprofiles, 300);
	CHECK_EQ_INT(meta.nsamples, nsamples);
	CHECK_EQ_INT(meta.nseries, 3);
	CHECK_EQ_INT(meta.size, blk.len);
	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_block_meta(r)->nprofiles, 300);
	CHECK_EQ_INT(pyro_block_meta(r)->min_ts, meta.min_ts);
	CHECK_EQ_INT(pyro_block_meta(r)->max_ts, meta.max_ts);
	ids = pyro_block_series(r, &ns);
	REQUIRE(ns == 3);
	CHECK_EQ_INT(ids[0], 5);
	CHECK_EQ_INT(ids[1], 17);
	CHECK_EQ_INT(ids[2], INT64_C(1000000000000));

	c.in = in;
	c.n = 300;
	c.seen = calloc(300, sizeof(bool));
	CHECK(pyro_block_read_profiles(r, &q, collect_visit, &c, &err) == PYRO_OK);
	CHECK_EQ_INT(c.visits, 300);
	CHECK_EQ_INT(c.mismatches, 0);
	CHECK_EQ_INT(c.order_errors, 0);
	free(c.seen);
	pyro_block_close(r);
	pyro_buf_free(&blk);
	free_inputs(in, 300, src);
}

/* Merged reads with and without aggregates equal each other and the input. */
TEST(block_merged_aggregates)
{
	PyroSymbols *src[NSRC];
	Input	   *in;
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	int64_t		t0 = INT64_C(1700000000000) - 1700000000000 % 3600000 + 123;
	int			checked = 0;

	rng_state = 777;
	in = make_inputs(src, 400, t0);
	REQUIRE(build_block(in, 400, NULL, &blk, &meta));
	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	for (int iter = 0; iter < 160; iter++)
	{
		PyroBlockQuery q = {NULL, 0, 0, 0, false, false};
		const PyroProfile *a,
				   *b;
		PyroBuf		ea,
					eb;
		char	   *ra,
				   *want;
		int64_t		sel[2] = {5, INT64_C(1000000000000)};
		int			kind = iter % 8;

		/*
		 * ranges: random, whole-hour aligned, single ms, empty, reversed,
		 * unbounded
		 */
		q.start = t0 - 1000 + (int64_t) (rnd() % (3 * 3600000 + 2000));
		q.end = q.start + (int64_t) (rnd() % (2 * 3600000));
		if (kind == 1)
		{
			q.start = t0 - 123 + 3600000;
			q.end = q.start + 3600000 - 1;
		}
		else if (kind == 2)
			q.end = q.start;
		else if (kind == 3)
			q.start = q.end = in[rnd() % 400].ts;
		else if (kind == 4)
		{
			int64_t		t = q.start;

			q.start = q.end + 1;
			q.end = t;
		}
		else if (kind == 5)
		{
			q.start = INT64_MIN;
			q.end = INT64_MAX;
		}
		else if (kind == 6)
		{
			q.start = t0 - 123 + 60000 * (int64_t) (rnd() % 180);
			q.end = q.start + 60000 * (int64_t) (rnd() % 100) - 1;
		}
		if (iter % 3 == 0)
		{
			q.series_ids = sel;
			q.nseries = 2;
		}
		q.keep_spans = iter % 5 == 0;

		q.use_aggregates = false;
		REQUIRE(pyro_block_read_merged(r, &q, &a, &err) == PYRO_OK);
		pyro_buf_init(&ea);
		REQUIRE(pyro_profile_encode(a, &ea, &err) == PYRO_OK);
		ra = render_profile(a, true, q.keep_spans);
		q.use_aggregates = true;	/* with keep_spans: ignored, raw profiles */
		REQUIRE(pyro_block_read_merged(r, &q, &b, &err) == PYRO_OK);
		pyro_buf_init(&eb);
		REQUIRE(pyro_profile_encode(b, &eb, &err) == PYRO_OK);
		CHECK(ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0);
		checked++;
		want = expected_merge(in, 400, q.series_ids, q.nseries, q.start, q.end, q.keep_spans);
		CHECK_EQ_STR(ra, want);
		free(ra);
		free(want);
		pyro_buf_free(&ea);
		pyro_buf_free(&eb);
	}
	CHECK(checked > 100);
	pyro_block_close(r);
	pyro_buf_free(&blk);
	free_inputs(in, 400, src);
}

typedef struct TotArg
{
	int			n;
	int64_t		sum;
} TotArg;

static PyroStatus
tot_visit(void *arg, int64_t series_id, int64_t ts, int64_t total, const uint8_t *id,
		  PyroError *err)
{
	TotArg	   *t = arg;

	(void) id;
	(void) series_id;
	(void) ts;
	(void) err;
	t->n++;
	t->sum += total;
	return PYRO_OK;
}

TEST(block_totals_and_series_filter)
{
	PyroSymbols *src[NSRC];
	Input	   *in;
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	int64_t		sel[2] = {17, 99};	/* 99 is not in the block */
	PyroBlockQuery q = {sel, 2, 0, 0, false, false};
	TotArg		t = {0, 0};
	int			want_n = 0;
	int64_t		want_sum = 0;
	uint64_t	f0;

	rng_state = 4242;
	in = make_inputs(src, 200, INT64_C(1000000));
	REQUIRE(build_block(in, 200, NULL, &blk, &meta));
	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	q.start = INT64_C(1000000) + 1800000;
	q.end = INT64_C(1000000) + 2 * 3600000;
	for (int i = 0; i < 200; i++)
	{
		if (in[i].series == 17 && in[i].ts >= q.start && in[i].ts <= q.end)
		{
			want_n++;
			want_sum += pyro_profile_total(in[i].p);
		}
	}
	f0 = pyro_block_bytes_fetched(r);
	CHECK(pyro_block_read_totals(r, &q, tot_visit, &t, &err) == PYRO_OK);
	CHECK(want_n > 5);
	CHECK_EQ_INT(t.n, want_n);
	CHECK_EQ_INT(t.sum, want_sum);
	/* totals read no symbols and no samples: only index chunks */
	CHECK(pyro_block_bytes_fetched(r) - f0 < blk.len / 4);

	/* a series not in the block selects nothing */
	sel[0] = 18;
	t.n = 0;
	CHECK(pyro_block_read_totals(r, &q, tot_visit, &t, &err) == PYRO_OK);
	CHECK_EQ_INT(t.n, 0);
	pyro_block_close(r);
	pyro_buf_free(&blk);
	free_inputs(in, 200, src);
}

/* span ids survive, and are dropped without keep_spans */
/* ids of the inputs of block_profile_ids: every third profile has none */
static void
input_id(int i, uint8_t *id)
{
	memset(id, 0, PYRO_PROFILE_ID_LEN);
	if (i % 3 == 0)
		return;
	id[0] = 0xA5;
	id[14] = (uint8_t) (i >> 8);
	id[15] = (uint8_t) i;
}

typedef struct IdArg
{
	int			visits;
	int			with_id;
	int			wrong;
	int64_t		sum;
} IdArg;

/* a visited profile's id must be its input's (time_nanos = input * 1000) */
static PyroStatus
id_visit(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	IdArg	   *a = arg;
	uint8_t		want[PYRO_PROFILE_ID_LEN];

	(void) series_id;
	(void) ts;
	(void) err;
	input_id((int) (p->time_nanos / 1000), want);
	a->visits++;
	a->with_id += pyro_profile_id_set(p->id);
	a->wrong += memcmp(want, p->id, PYRO_PROFILE_ID_LEN) != 0;
	a->sum += pyro_profile_total(p);
	return PYRO_OK;
}

static PyroStatus
id_total_visit(void *arg, int64_t series_id, int64_t ts, int64_t total, const uint8_t *id,
			   PyroError *err)
{
	IdArg	   *a = arg;

	(void) series_id;
	(void) ts;
	(void) err;
	a->visits++;
	a->with_id += id != NULL;
	a->sum += total;
	return PYRO_OK;
}

TEST(block_profile_ids)
{
	PyroSymbols *src[NSRC];
	Input	   *in;
	PyroBuf		blk,
				plain;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	PyroBlockQuery q = {NULL, 0, INT64_MIN / 4, INT64_MAX / 4, true, false, NULL, 0};
	IdArg		a = {0};
	uint8_t		pick[2][PYRO_PROFILE_ID_LEN];
	const PyroProfile *merged;
	KVList		l = {0};
	char	   *want,
			   *got;
	int			nid = 0;

	rng_state = 777;
	in = make_inputs(src, 120, INT64_C(5000000));
	REQUIRE(build_block(in, 120, NULL, &plain, &meta));
	for (int i = 0; i < 120; i++)
	{
		input_id(i, in[i].p->id);
		nid += i % 3 != 0;
	}
	REQUIRE(build_block(in, 120, NULL, &blk, &meta));
	/* ids cost 16 bytes a profile, before zstd */
	CHECK(blk.len > plain.len);

	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	CHECK(pyro_block_read_profiles(r, &q, id_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 120);
	CHECK_EQ_INT(a.with_id, nid);
	CHECK_EQ_INT(a.wrong, 0);
	memset(&a, 0, sizeof(a));
	CHECK(pyro_block_read_totals(r, &q, id_total_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 120);
	CHECK_EQ_INT(a.with_id, nid);

	/* selecting two profiles by id (sorted), whatever their series */
	input_id(4, pick[0]);
	input_id(7, pick[1]);
	q.ids = &pick[0][0];
	q.nids = 2;
	memset(&a, 0, sizeof(a));
	CHECK(pyro_block_read_totals(r, &q, id_total_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 2);
	CHECK_EQ_INT(a.sum, pyro_profile_total(in[4].p) + pyro_profile_total(in[7].p));
	memset(&a, 0, sizeof(a));
	CHECK(pyro_block_read_profiles(r, &q, id_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 2);
	CHECK_EQ_INT(a.wrong, 0);
	/* merged: the two profiles only, aggregates not used */
	REQUIRE(pyro_block_read_merged(r, &q, &merged, &err) == PYRO_OK);
	kv_add(&l, in[4].p, false);
	kv_add(&l, in[7].p, false);
	want = kv_render(&l, true);
	got = render_profile(merged, true, false);
	CHECK_EQ_STR(got, want);
	free(want);
	free(got);
	pyro_block_close(r);

	/* a block without ids (the old layout) selects nothing by id */
	REQUIRE(pyro_block_open_memory(plain.data, plain.len, &r, &err) == PYRO_OK);
	memset(&a, 0, sizeof(a));
	CHECK(pyro_block_read_totals(r, &q, id_total_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 0);
	q.ids = NULL;
	q.nids = 0;
	CHECK(pyro_block_read_totals(r, &q, id_total_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 120);
	CHECK_EQ_INT(a.with_id, 0);
	pyro_block_close(r);
	pyro_buf_free(&blk);
	pyro_buf_free(&plain);
	free_inputs(in, 120, src);
}

typedef struct TraceArg
{
	int			visits;
	int			with;
	int			wrong;
} TraceArg;

/* profile i (time_nanos i * 1000) has spans i+1, i+2 with traces (i, span) */
static PyroStatus
trace_visit(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	TraceArg   *a = arg;
	int			i = (int) (p->time_nanos / 1000);

	(void) series_id;
	(void) ts;
	(void) err;
	a->visits++;
	if (i % 2 == 1)
	{
		a->wrong += p->ntraces != 0;
		return PYRO_OK;
	}
	a->with++;
	if (p->ntraces != 2)
	{
		a->wrong++;
		return PYRO_OK;
	}
	for (int k = 0; k < 2; k++)
	{
		uint64_t	hi,
					lo;

		if (p->traces[k].span != (uint64_t) (i + 1 + k) ||
			!pyro_profile_trace_of(p, (uint64_t) (i + 1 + k), &hi, &lo) ||
			hi != (uint64_t) i || lo != (uint64_t) (i + 1 + k))
			a->wrong++;
	}
	return PYRO_OK;
}

TEST(block_span_traces)
{
	PyroSymbols *src[NSRC];
	Input	   *in;
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	PyroBlockQuery q = {NULL, 0, INT64_MIN / 4, INT64_MAX / 4, false, true, NULL, 0};
	TraceArg	a = {0};

	rng_state = 99;
	in = make_inputs(src, 60, INT64_C(7000000));
	for (int i = 0; i < 60; i += 2)
	{
		/* out of order and repeated: the block keeps them sorted, once */
		REQUIRE(pyro_profile_add_trace(in[i].p, i + 2, i, i + 2));
		REQUIRE(pyro_profile_add_trace(in[i].p, i + 1, i, i + 1));
		in[i].p->traces[in[i].p->ntraces++] = in[i].p->traces[0];
	}
	REQUIRE(build_block(in, 60, NULL, &blk, &meta));
	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	CHECK(pyro_block_read_profiles(r, &q, trace_visit, &a, &err) == PYRO_OK);
	CHECK_EQ_INT(a.visits, 60);
	CHECK_EQ_INT(a.with, 30);
	CHECK_EQ_INT(a.wrong, 0);
	pyro_block_close(r);
	pyro_buf_free(&blk);
	free_inputs(in, 60, src);
}

TEST(block_spans)
{
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p = pyro_profile_create(s, false);
	PyroFunction f = {0, 0, 0, 0};
	PyroLine	ln = {0, 1};
	uint32_t	st;
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	PyroBlockQuery q = {NULL, 0, INT64_MIN, INT64_MAX, false, true};
	const PyroProfile *m;
	Input		in;

	f.name = pyro_sym_intern_string(s, "main", 4);
	ln.function = pyro_sym_intern_function(s, &f);
	st = pyro_sym_intern_stack(s, 0, pyro_sym_intern_location(s, 0, 1, &ln, 1));
	pyro_profile_add_sample(p, st, 10, 0xdeadbeefcafeULL);
	pyro_profile_add_sample(p, st, 5, 0);
	pyro_profile_add_sample(p, st, 7, 0xdeadbeefcafeULL);
	in.series = 1;
	in.ts = 1000;
	in.p = p;
	REQUIRE(build_block(&in, 1, NULL, &blk, &meta));
	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	REQUIRE(pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK);
	REQUIRE(m->nsamples == 2);
	CHECK_EQ_INT(m->samples[0].span_id, 0);
	CHECK_EQ_INT(m->samples[0].value, 5);
	CHECK_EQ_INT(m->samples[1].span_id, 0xdeadbeefcafeULL);
	CHECK_EQ_INT(m->samples[1].value, 17);
	q.keep_spans = false;
	q.use_aggregates = true;
	REQUIRE(pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK);
	REQUIRE(m->nsamples == 1);
	CHECK_EQ_INT(m->samples[0].value, 22);
	CHECK_EQ_INT(m->samples[0].span_id, 0);
	pyro_block_close(r);
	pyro_buf_free(&blk);
	pyro_profile_free(p);
	pyro_symbols_free(s);
}

/* An empty block opens and reads as empty. */
TEST(block_empty)
{
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	PyroBlockQuery q = {NULL, 0, INT64_MIN, INT64_MAX, true, false};
	const PyroProfile *m;

	REQUIRE(build_block(NULL, 0, NULL, &blk, &meta));
	CHECK_EQ_INT(meta.nprofiles, 0);
	REQUIRE(pyro_block_open_memory(blk.data, blk.len, &r, &err) == PYRO_OK);
	REQUIRE(pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK);
	CHECK_EQ_INT(m->nsamples, 0);
	pyro_block_close(r);
	pyro_buf_free(&blk);
}

/* fetch callback over a buffer, counting calls */
typedef struct FetchArg
{
	const uint8_t *data;
	size_t		len;
	int			calls;
	uint64_t	max_len;
} FetchArg;

static PyroStatus
test_fetch(void *arg, uint64_t offset, uint64_t len, uint8_t **data, PyroError *err)
{
	FetchArg   *f = arg;

	if (offset + len > f->len)
		return pyro_error_set(err, PYRO_EINVAL, "fetch out of range");
	*data = pyro_malloc(len ? len : 1);
	if (*data == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "oom");
	memcpy(*data, f->data + offset, len);
	f->calls++;
	if (len > f->max_len)
		f->max_len = len;
	return PYRO_OK;
}

/* Build a block from real pprofs over several hours; narrow queries read little. */
TEST(block_real_pprofs)
{
	static const char *files[] = {
		"pprof/go/cpu.pb.gz", "pprof/go/heap.pb.gz", "pprof/java/profile_java.pb.gz",
		"pprof/nodejs/cpu-js.pb.gz", "pprof/ruby/profile_ruby.pb.gz",
		"pprof/python/pyspy-1.pb.gz", "pprof/rust/profile_rust.pb.gz",
	};
	enum
	{
		NF = sizeof(files) / sizeof(files[0])
	};
	PyroNormalized *norm[NF];
	PyroBlockWriter *w;
	PyroBuf		blk;
	PyroBlockMeta meta;
	PyroBlockReader *r;
	PyroError	err;
	PyroPprofLimits lim;
	int64_t		t0 = INT64_C(1700000000000) - INT64_C(1700000000000) % 3600000;
	int			nser = 0;
	KVList		want = {0};
	char	   *ws,
			   *gs;
	FetchArg	fa;
	const PyroProfile *m;
	int64_t		one = 0;

	pyro_pprof_limits_default(&lim);
	w = pyro_block_writer_create(NULL);
	REQUIRE(w);
	for (int f = 0; f < NF; f++)
	{
		size_t		len;
		unsigned char *data = unit_read_file(unit_data_path(files[f]), &len);

		norm[f] = NULL;
		REQUIRE(data);
		REQUIRE(pyro_pprof_normalize(data, len, &lim, &norm[f], &err) == PYRO_OK);
		free(data);
		/* each series of each file: one profile every 10 min over 4 hours */
		for (size_t s = 0; s < norm[f]->nseries; s++, nser++)
		{
			for (int k = 0; k < 24; k++)
			{
				int64_t		ts = t0 + k * 600000 + nser * 1000;

				REQUIRE(pyro_block_writer_add_shared(w, 100 + nser, ts,
													 norm[f]->series[s].profile, &err) == PYRO_OK);
				if (nser == 3 && ts >= t0 + 3600000 && ts < t0 + 7200000)
				{
					one = 100 + nser;
					kv_add(&want, norm[f]->series[s].profile, false);
				}
			}
		}
		pyro_block_writer_release_symbols(w);
	}
	pyro_buf_init(&blk);
	REQUIRE(pyro_block_writer_finish(w, &blk, &meta, &err) == PYRO_OK);
	pyro_block_writer_free(w);
	CHECK_EQ_INT(meta.nprofiles, nser * 24);
	CHECK_EQ_INT(meta.nseries, nser);

	/* one series, one hour: the merge equals the inputs' */
	memset(&fa, 0, sizeof(fa));
	fa.data = blk.data;
	fa.len = blk.len;
	REQUIRE(pyro_block_open(blk.len, test_fetch, &fa, &r, &err) == PYRO_OK);
	{
		PyroBlockQuery q = {&one, 1, t0 + 3600000, t0 + 7200000 - 1, true, false};

		REQUIRE(pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK);
	}
	ws = kv_render(&want, true);
	gs = render_profile(m, true, false);
	CHECK_EQ_STR(gs, ws);
	CHECK(strlen(ws) > 100);
	fprintf(stderr, "  real block: %zu bytes, %llu samples, narrow query fetched %llu bytes in %d calls\n",
			blk.len, (unsigned long long) meta.nsamples,
			(unsigned long long) pyro_block_bytes_fetched(r), fa.calls);
	CHECK(pyro_block_bytes_fetched(r) < blk.len / 2);
	free(ws);
	free(gs);

	/* whole block: aggregates or not, the same merge */
	{
		PyroBlockQuery q = {NULL, 0, t0 + 1234, t0 + 3 * 3600000 + 99, false, false};
		PyroBuf		ea,
					eb;

		pyro_buf_init(&ea);
		pyro_buf_init(&eb);
		REQUIRE(pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK);
		REQUIRE(pyro_profile_encode(m, &ea, &err) == PYRO_OK);
		q.use_aggregates = true;
		REQUIRE(pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK);
		REQUIRE(pyro_profile_encode(m, &eb, &err) == PYRO_OK);
		CHECK(ea.len == eb.len && memcmp(ea.data, eb.data, ea.len) == 0);
		pyro_buf_free(&ea);
		pyro_buf_free(&eb);
	}
	pyro_block_close(r);
	pyro_buf_free(&blk);
	for (int f = 0; f < NF; f++)
		pyro_normalized_free(norm[f]);
}

/* Open and read everything; PYRO_OK only if every step succeeded. */
static PyroStatus
read_all(const uint8_t *data, size_t len, PyroError *err)
{
	PyroBlockReader *r;
	PyroBlockQuery q = {NULL, 0, INT64_MIN, INT64_MAX, false, true};
	const PyroProfile *m;
	PyroStatus	s;
	TotArg		t = {0, 0};

	if ((s = pyro_block_open_memory(data, len, &r, err)) != PYRO_OK)
		return s;
	s = pyro_block_read_merged(r, &q, &m, err);
	if (s == PYRO_OK)
	{
		q.use_aggregates = true;
		q.keep_spans = false;
		s = pyro_block_read_merged(r, &q, &m, err);
	}
	if (s == PYRO_OK)
		s = pyro_block_read_totals(r, &q, tot_visit, &t, err);
	/* ranges that cut every hour, so every minute aggregate is read too */
	for (int64_t h = 0; h < 6 && s == PYRO_OK; h++)
	{
		q.start = h * 3600000 + 1;
		q.end = q.start + 3600000 - 3;
		s = pyro_block_read_merged(r, &q, &m, err);
	}
	pyro_block_close(r);
	return s;
}

static bool
small_block(PyroBuf *blk, int n, uint64_t seed)
{
	PyroSymbols *src[NSRC];
	Input	   *in;
	PyroBlockMeta meta;
	bool		ok;

	rng_state = seed;
	in = make_inputs(src, n, 3600000);
	ok = build_block(in, n, NULL, blk, &meta);
	free_inputs(in, n, src);
	return ok;
}

TEST(block_corrupt_truncated_and_flipped)
{
	PyroBuf		blk;
	PyroError	err;
	uint8_t    *copy;
	int			bad = 0;

	REQUIRE(small_block(&blk, 12, 99));
	REQUIRE(read_all(blk.data, blk.len, &err) == PYRO_OK);
	copy = malloc(blk.len);
	/* every truncation (the start or the end cut) fails cleanly */
	for (size_t n = 0; n < blk.len; n++)
	{
		PyroStatus	s;

		memcpy(copy, blk.data, n);
		if ((s = read_all(copy, n, &err)) != PYRO_ECORRUPT)
		{
			if (bad++ < 3)
				fprintf(stderr, "  prefix %zu: %d %s\n", n, (int) s, err.msg);
		}
		if ((s = read_all(blk.data + blk.len - n, n, &err)) != PYRO_ECORRUPT)
		{
			if (bad++ < 3)
				fprintf(stderr, "  suffix %zu: %d %s\n", n, (int) s, err.msg);
		}
	}
	CHECK_EQ_INT(bad, 0);
	/* every flipped bit past the 8-byte header is caught by a checksum */
	for (size_t i = 8; i < blk.len; i++)
	{
		for (int bit = 0; bit < 8; bit += 3)
		{
			memcpy(copy, blk.data, blk.len);
			copy[i] ^= (uint8_t) (1 << bit);
			PyroStatus	s;

			if ((s = read_all(copy, blk.len, &err)) != PYRO_ECORRUPT)
			{
				if (bad++ < 5)
					fprintf(stderr, "  flip %zu/%zu bit %d: %d %s\n", i, blk.len, bit, (int) s, err.msg);
			}
		}
	}
	CHECK_EQ_INT(bad, 0);
	free(copy);
	pyro_buf_free(&blk);
}

/* Rewrite a footer with fields of our choice and a valid checksum. */
static void
put_footer(uint8_t *foot, uint64_t off, uint64_t clen, uint64_t rawlen, uint32_t crc)
{
	for (int i = 0; i < 8; i++)
	{
		foot[i] = (uint8_t) (off >> (8 * i));
		foot[8 + i] = (uint8_t) (clen >> (8 * i));
		foot[16 + i] = (uint8_t) (rawlen >> (8 * i));
	}
	for (int i = 0; i < 4; i++)
		foot[24 + i] = (uint8_t) (crc >> (8 * i));
	crc = (uint32_t) crc32(0, foot, 28);
	for (int i = 0; i < 4; i++)
		foot[28 + i] = (uint8_t) (crc >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Replace the directory by raw bytes of our choice, compressed and
 * checksummed correctly, so only the reader's validation can catch lies.
 */
static size_t
with_directory(const PyroBuf *blk, const uint8_t *dir, size_t dirlen, uint8_t **out)
{
	uint64_t	off = get_u64(blk->data + blk->len - 40);
	size_t		bound = ZSTD_compressBound(dirlen);
	uint8_t    *b = malloc(off + bound + 40);
	size_t		c;

	memcpy(b, blk->data, off);
	c = ZSTD_compress(b + off, bound, dir, dirlen, 1);
	memcpy(b + off + c, blk->data + blk->len - 40, 40);
	put_footer(b + off + c, off, c, dirlen, (uint32_t) crc32(0, b + off, (uInt) c));
	*out = b;
	return off + c + 40;
}

static size_t
get_directory(const PyroBuf *blk, uint8_t **out)
{
	uint64_t	off = get_u64(blk->data + blk->len - 40);
	uint64_t	clen = get_u64(blk->data + blk->len - 32);
	uint64_t	raw = get_u64(blk->data + blk->len - 24);

	*out = malloc(raw + 1);
	return ZSTD_decompress(*out, raw, blk->data + off, clen);
}

TEST(block_corrupt_lying_footer_and_directory)
{
	PyroBuf		blk;
	PyroError	err;
	uint8_t    *copy;
	uint8_t    *dir;
	uint8_t    *b;
	size_t		dlen,
				n;
	uint64_t	off;

	REQUIRE(small_block(&blk, 20, 5));
	copy = malloc(blk.len);
	off = get_u64(blk.data + blk.len - 40);

	/* footer: a huge raw length, a directory that overlaps the footer */
	memcpy(copy, blk.data, blk.len);
	put_footer(copy + blk.len - 40, off, blk.len - 40 - off, UINT64_C(1) << 40,
			   (uint32_t) get_u64(copy + blk.len - 16));
	CHECK(read_all(copy, blk.len, &err) == PYRO_ECORRUPT);
	memcpy(copy, blk.data, blk.len);
	put_footer(copy + blk.len - 40, off, blk.len - off, 10, 0);
	CHECK(read_all(copy, blk.len, &err) == PYRO_ECORRUPT);
	memcpy(copy, blk.data, blk.len);
	put_footer(copy + blk.len - 40, 2, blk.len - 42, 10, 0);
	CHECK(read_all(copy, blk.len, &err) == PYRO_ECORRUPT);

	/* the untouched directory, re-packed, still reads */
	dlen = get_directory(&blk, &dir);
	REQUIRE(!ZSTD_isError(dlen));
	n = with_directory(&blk, dir, dlen, &b);
	CHECK(read_all(b, n, &err) == PYRO_OK);
	free(b);

	/* directory with trailing junk, truncated, or each byte changed */
	{
		uint8_t    *d2 = malloc(dlen + 1);
		int			bad = 0;

		memcpy(d2, dir, dlen);
		d2[dlen] = 0;
		n = with_directory(&blk, d2, dlen + 1, &b);
		CHECK(read_all(b, n, &err) == PYRO_ECORRUPT);
		free(b);
		for (size_t k = 0; k < dlen; k++)
		{
			n = with_directory(&blk, d2, k, &b);
			if (read_all(b, n, &err) != PYRO_ECORRUPT)
				bad++;
			free(b);
		}
		CHECK_EQ_INT(bad, 0);
		/* any changed byte either fails cleanly or still reads */
		for (size_t k = 0; k < dlen; k++)
		{
			PyroStatus	s;

			memcpy(d2, dir, dlen);
			d2[k] ^= 0x40;
			n = with_directory(&blk, d2, dlen, &b);
			s = read_all(b, n, &err);
			CHECK(s == PYRO_OK || s == PYRO_ECORRUPT);
			free(b);
			memcpy(d2, dir, dlen);
			d2[k] = 0xff;		/* turns varints into huge values */
			n = with_directory(&blk, d2, dlen, &b);
			s = read_all(b, n, &err);
			CHECK(s == PYRO_OK || s == PYRO_ECORRUPT);
			free(b);
		}
		free(d2);
	}
	/* a huge series count */
	{
		uint8_t		d3[64];
		size_t		k = 0;

		d3[k++] = 0;			/* flags */
		d3[k++] = 0;			/* no resolutions */
		d3[k++] = 0;			/* min_ts */
		d3[k++] = 0;			/* span */
		d3[k++] = 0;			/* profiles */
		d3[k++] = 0;			/* samples */
		for (int i = 0; i < 9; i++)
			d3[k++] = 0xff;
		d3[k++] = 0x01;			/* series count 2^63 - 1 */
		n = with_directory(&blk, d3, k, &b);
		CHECK(read_all(b, n, &err) == PYRO_ECORRUPT);
		CHECK(strstr(err.msg, "series count") != NULL);
		free(b);
	}
	free(dir);
	free(copy);
	pyro_buf_free(&blk);
}

TEST(block_writer_rejects_bad_input)
{
	PyroBlockOptions o;
	PyroBlockWriter *w;
	PyroSymbols *s = pyro_symbols_create();
	PyroProfile *p = pyro_profile_create(s, false);
	PyroError	err;

	pyro_block_options_default(&o);
	o.agg_resolutions[1] = o.agg_resolutions[0];
	CHECK(pyro_block_writer_create(&o) == NULL);
	w = pyro_block_writer_create(NULL);
	REQUIRE(w);
	pyro_profile_add_sample(p, 7, 1, 0);	/* unknown stack */
	CHECK(pyro_block_writer_add(w, 1, 1, p, &err) == PYRO_EINVAL);
	p->samples[0].stack = 0;
	CHECK(pyro_block_writer_add(w, 1, INT64_MAX, p, &err) == PYRO_EINVAL);
	CHECK(pyro_block_writer_add(w, 1, 1, p, &err) == PYRO_OK);
	pyro_block_writer_free(w);
	pyro_profile_free(p);
	pyro_symbols_free(s);
}

const UnitTest block_tests[] = {
	UNIT_ENTRY(block_round_trip),
	UNIT_ENTRY(block_merged_aggregates),
	UNIT_ENTRY(block_totals_and_series_filter),
	UNIT_ENTRY(block_profile_ids),
	UNIT_ENTRY(block_span_traces),
	UNIT_ENTRY(block_spans),
	UNIT_ENTRY(block_empty),
	UNIT_ENTRY(block_real_pprofs),
	UNIT_ENTRY(block_corrupt_truncated_and_flipped),
	UNIT_ENTRY(block_corrupt_lying_footer_and_directory),
	UNIT_ENTRY(block_writer_rejects_bad_input),
	{NULL, NULL}
};

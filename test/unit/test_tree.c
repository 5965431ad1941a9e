/*
 * test_tree.c
 *	  Unit tests of tree.c: building call trees from stacks and profiles,
 *	  the top-function table, and the "tree" bytes (writer and hostile
 *	  reader).  Expected values are computed by hand in the comments.
 */
#include "unit.h"
#include "../../src/core/pprof.h"
#include "../../src/core/tree.h"

/* Add a folded stack "a;b;c" with value v. */
static void
add_folded(PyroTree *t, const char *folded, int64_t v)
{
	PyroStr		fr[64];
	size_t		n = 0;
	const char *p = folded;
	PyroError	err;

	while (*p && n < 64)
	{
		const char *e = strchr(p, ';');
		size_t		len = e ? (size_t) (e - p) : strlen(p);

		fr[n].ptr = p;
		fr[n].len = (uint32_t) len;
		n++;
		p += len;
		if (*p == ';')
			p++;
	}
	if (pyro_tree_add_stack(t, fr, n, v, &err) != PYRO_OK)
		unit_failures++;
}

/* The node at folded path "a;b", or 0 when missing. */
static uint32_t
find_path(const PyroTree *t, const char *folded)
{
	uint32_t	cur = 0;
	const char *p = folded;

	while (*p)
	{
		const char *e = strchr(p, ';');
		size_t		len = e ? (size_t) (e - p) : strlen(p);
		uint32_t	c;

		for (c = t->nodes[cur].first_child; c != 0; c = t->nodes[c].next_sibling)
		{
			const PyroStr *s = &t->names->strings[t->nodes[c].name];

			if (s->len == len && memcmp(s->ptr, p, len) == 0)
				break;
		}
		if (c == 0)
			return 0;
		cur = c;
		p += len;
		if (*p == ';')
			p++;
	}
	return cur;
}

static void
check_node(const PyroTree *t, const char *path, int64_t self, int64_t total, int line)
{
	uint32_t	n = find_path(t, path);

	if (n == 0 || t->nodes[n].self != self || t->nodes[n].total != total)
	{
		fprintf(stderr, "  test_tree.c:%d: node %s: expected self %lld total %lld, got %s %lld %lld\n",
				line, path, (long long) self, (long long) total, n ? "" : "(missing)",
				n ? (long long) t->nodes[n].self : 0, n ? (long long) t->nodes[n].total : 0);
		unit_failures++;
	}
}

#define CHECK_NODE(t, path, self, total) check_node(t, path, self, total, __LINE__)

static char *
hex(const PyroBuf *b)
{
	static char out[4096];
	size_t		k = 0;

	out[0] = '\0';
	for (size_t i = 0; i < b->len && k + 3 < sizeof(out); i++)
		k += (size_t) snprintf(out + k, sizeof(out) - k, "%02x", b->data[i]);
	return out;
}

TEST(tree_add_stack_totals)
{
	PyroTree   *t = pyro_tree_create();

	REQUIRE(t != NULL);
	add_folded(t, "main;a", 3);
	add_folded(t, "main;b", 2);
	add_folded(t, "main", 1);
	add_folded(t, "main;a", 0); /* ignored */
	add_folded(t, "main;a", -4);	/* ignored */
	CHECK_EQ_INT(pyro_tree_total(t), 6);
	CHECK_EQ_INT(t->nodes[0].self, 0);
	CHECK_EQ_INT(t->nnodes, 4);
	CHECK_NODE(t, "main", 1, 6);
	CHECK_NODE(t, "main;a", 3, 3);
	CHECK_NODE(t, "main;b", 2, 2);
	/* the same name at another place is another node, sharing the name */
	add_folded(t, "a;main", 7);
	CHECK_EQ_INT(t->nnodes, 6);
	CHECK_NODE(t, "a", 0, 7);
	CHECK_NODE(t, "a;main", 7, 7);
	CHECK_EQ_INT(t->nodes[find_path(t, "a")].name, t->nodes[find_path(t, "main;a")].name);
	CHECK_EQ_INT(pyro_tree_total(t), 13);
	pyro_tree_free(t);
}

TEST(tree_bytes_spec_example)
{
	/* spec §8.4: the tree of §8.2 */
	PyroTree   *t = pyro_tree_create();
	PyroBuf		b;
	PyroError	err;

	REQUIRE(t != NULL);
	add_folded(t, "main;a", 3);
	add_folded(t, "main;b", 2);
	add_folded(t, "main", 1);
	pyro_buf_init(&b);
	CHECK(pyro_tree_serialize(t, 0, &b, &err) == PYRO_OK);
	CHECK_EQ_STR(hex(&b), "000001" "046d61696e0102" "01620200" "01610300");
	pyro_buf_free(&b);
	pyro_tree_free(t);
}

TEST(tree_bytes_roundtrip_and_merge)
{
	PyroTree   *t = pyro_tree_create();
	PyroTree   *u = pyro_tree_create();
	PyroBuf		b1,
				b2;
	PyroError	err;

	REQUIRE(t != NULL && u != NULL);
	add_folded(t, "main;a;x", 3);
	add_folded(t, "main;b", 2);
	add_folded(t, "main", 1);
	add_folded(t, "zz;main;a", 4);
	pyro_buf_init(&b1);
	pyro_buf_init(&b2);
	CHECK(pyro_tree_serialize(t, -1, &b1, &err) == PYRO_OK);
	CHECK(pyro_tree_add_serialized(u, b1.data, b1.len, &err) == PYRO_OK);
	CHECK(pyro_tree_serialize(u, 0, &b2, &err) == PYRO_OK);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	CHECK_EQ_INT(pyro_tree_total(u), 10);
	CHECK_NODE(u, "main;a", 0, 3);
	CHECK_NODE(u, "main;a;x", 3, 3);
	CHECK_NODE(u, "zz;main;a", 4, 4);

	/* adding the same bytes again merges: every value doubles */
	CHECK(pyro_tree_add_serialized(u, b1.data, b1.len, &err) == PYRO_OK);
	CHECK_EQ_INT(u->nnodes, t->nnodes);
	CHECK_EQ_INT(pyro_tree_total(u), 20);
	CHECK_NODE(u, "main", 2, 12);
	CHECK_NODE(u, "zz;main;a", 8, 8);
	pyro_buf_free(&b1);
	pyro_buf_free(&b2);
	pyro_tree_free(t);
	pyro_tree_free(u);
}

TEST(tree_bytes_merge_equal_siblings)
{
	/* root with two children both named "a" (self 1 and 2) merge into one */
	const uint8_t bytes[] = {0x00, 0x05, 0x02, 0x01, 'a', 0x01, 0x00,
	0x01, 'a', 0x02, 0x01, 0x01, 'b', 0x04, 0x00};
	PyroTree   *t = pyro_tree_create();
	PyroError	err;

	REQUIRE(t != NULL);
	CHECK(pyro_tree_add_serialized(t, bytes, sizeof(bytes), &err) == PYRO_OK);
	CHECK_EQ_INT(t->nnodes, 3);
	CHECK_EQ_INT(t->nodes[0].self, 0);	/* the root's self (5) is ignored */
	CHECK_EQ_INT(pyro_tree_total(t), 7);
	CHECK_NODE(t, "a", 3, 7);
	CHECK_NODE(t, "a;b", 4, 4);
	pyro_tree_free(t);
}

/* a;b 10, a;c 1, a;d 1, e 5, f 2: totals a12 b10 e5 f2 c1 d1 */
static PyroTree *
truncation_tree(void)
{
	PyroTree   *t = pyro_tree_create();

	if (t == NULL)
		return NULL;
	add_folded(t, "a;b", 10);
	add_folded(t, "a;c", 1);
	add_folded(t, "a;d", 1);
	add_folded(t, "e", 5);
	add_folded(t, "f", 2);
	return t;
}

TEST(tree_bytes_truncated)
{
	PyroTree   *t = truncation_tree();
	PyroBuf		b;
	PyroError	err;

	REQUIRE(t != NULL);
	pyro_buf_init(&b);

	/*
	 * max_nodes 3: the 3rd largest of 12,10,5,2,1,1 is 5.  Root keeps a, e
	 * and gets other(2); a keeps b and gets other(2).  Descending order:
	 * root{other, e, a{other, b}}.
	 */
	CHECK(pyro_tree_serialize(t, 3, &b, &err) == PYRO_OK);
	CHECK_EQ_STR(hex(&b),
				 "000003"
				 "056f746865720200"
				 "01650500"
				 "01610002"
				 "056f746865720200"
				 "01620a00");

	/* max_nodes >= node count: untruncated, same as max_nodes 0 */
	{
		PyroBuf		full;

		pyro_buf_init(&full);
		b.len = 0;
		CHECK(pyro_tree_serialize(t, 6, &b, &err) == PYRO_OK);
		CHECK(pyro_tree_serialize(t, 0, &full, &err) == PYRO_OK);
		CHECK(b.len == full.len && memcmp(b.data, full.data, b.len) == 0);
		/* root{f, e, a{d, c, b}} */
		CHECK_EQ_STR(hex(&full),
					 "000003"
					 "01660200"
					 "01650500"
					 "01610003"
					 "01640100"
					 "01630100"
					 "01620a00");
		pyro_buf_free(&full);
	}
	pyro_buf_free(&b);
	pyro_tree_free(t);
}

TEST(tree_bytes_existing_other_absorbs)
{
	/*
	 * a 4, other;x 3, b 1, c 1: totals a4 other3 x3 b1 c1.  max_nodes 2 gives
	 * threshold 3: root keeps a and the existing "other" (always), b and c
	 * (2) are added to other's self; x (3) is kept.
	 */
	PyroTree   *t = pyro_tree_create();
	PyroBuf		b;
	PyroError	err;

	REQUIRE(t != NULL);
	add_folded(t, "a", 4);
	add_folded(t, "other;x", 3);
	add_folded(t, "b", 1);
	add_folded(t, "c", 1);
	pyro_buf_init(&b);
	CHECK(pyro_tree_serialize(t, 2, &b, &err) == PYRO_OK);
	CHECK_EQ_STR(hex(&b),
				 "000002"
				 "056f746865720201"
				 "01780300"
				 "01610400");
	pyro_buf_free(&b);
	pyro_tree_free(t);
}

TEST(tree_empty)
{
	PyroTree   *t = pyro_tree_create();
	PyroBuf		b;
	PyroError	err;
	PyroTopEntry *top = NULL;
	size_t		n = 99;

	REQUIRE(t != NULL);
	pyro_buf_init(&b);
	CHECK(pyro_tree_serialize(t, 0, &b, &err) == PYRO_OK);
	CHECK_EQ_INT(b.len, 0);
	CHECK(pyro_tree_add_serialized(t, NULL, 0, &err) == PYRO_OK);
	CHECK(pyro_tree_add_serialized(t, (const uint8_t *) "\0\0\0", 3, &err) == PYRO_OK);
	CHECK_EQ_INT(t->nnodes, 1);
	CHECK(pyro_tree_top(t, &top, &n, &err) == PYRO_OK);
	CHECK_EQ_INT(n, 0);
	CHECK(top == NULL);
	CHECK_EQ_INT(pyro_tree_total(t), 0);
	pyro_buf_free(&b);
	pyro_tree_free(t);
}

TEST(tree_bytes_hostile)
{
	static const struct
	{
		const char *bytes;
		size_t		len;
	}			bad[] = {
#define B(s) {s, sizeof(s) - 1}
		B("\x00"),				/* truncated root */
		B("\x00\x00"),
		B("\x00\x00\x01"),		/* claims a child, none follows */
		B("\x00\x00\x01\x01" "a\x00\x00"),	/* valid: one leaf "a" of self 0 */
		B("\x00\x00\x01\x05" "a\x00\x00"),	/* name longer than the rest */
		B("\x00\x00\x02\x01" "a\x00\x00"),	/* 2 children in 4 bytes */
		B("\x00\x00\x00\x00"),	/* trailing byte */
		B("\x00\x00\x01\x01" "a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00"),	/* self > INT64_MAX */
		B("\x00\x00\x01\x01" "a\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),	/* overlong varint */
		B("\x80\x80\x80"),		/* truncated varint */
		B("\x00\x00\x01\x01" "a\x00\x01\x01" "b\x00\x00\x00"),	/* trailing byte after a
																 * subtree */
#undef B
	};
	PyroTree   *t = pyro_tree_create();
	PyroError	err;

	REQUIRE(t != NULL);
	add_folded(t, "keep", 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		PyroStatus	rc = pyro_tree_add_serialized(t, (const uint8_t *) bad[i].bytes,
												  bad[i].len, &err);

		if (i == 3)
		{
			/* the valid one: root with one leaf "a" of self 0 */
			CHECK_EQ_INT(rc, PYRO_OK);
			continue;
		}
		if (rc != PYRO_EINVAL)
		{
			fprintf(stderr, "  case %zu: expected PYRO_EINVAL, got %d\n", i, (int) rc);
			unit_failures++;
		}
	}
	/* failed adds leave the tree untouched */
	CHECK_EQ_INT(t->nnodes, 3); /* root, keep, a (valid case) */
	CHECK_EQ_INT(pyro_tree_total(t), 1);
	pyro_tree_free(t);
}

TEST(tree_bytes_deep_nesting)
{
	/* 20000 nested nodes "a": no recursion anywhere may overflow the stack */
	size_t		depth = 20000;
	PyroBuf		b,
				b2;
	PyroTree   *t = pyro_tree_create();
	PyroError	err;
	PyroTopEntry *top = NULL;
	size_t		n = 0;

	REQUIRE(t != NULL);
	pyro_buf_init(&b);
	pyro_buf_init(&b2);
	pyro_buf_append(&b, "\x00\x00\x01", 3);
	for (size_t i = 0; i < depth; i++)
		pyro_buf_append(&b, i + 1 < depth ? "\x01" "a\x00\x01" : "\x01" "a\x07\x00", 4);
	CHECK(pyro_tree_add_serialized(t, b.data, b.len, &err) == PYRO_OK);
	CHECK_EQ_INT(t->nnodes, depth + 1);
	CHECK_EQ_INT(pyro_tree_total(t), 7);
	CHECK_EQ_INT(t->nodes[1].total, 7);
	CHECK_EQ_INT(t->nodes[depth].self, 7);
	CHECK(pyro_tree_serialize(t, 0, &b2, &err) == PYRO_OK);
	CHECK(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
	/* the flame graph has one level per depth, built without recursion */
	{
		PyroFlamegraph fg;

		CHECK(pyro_flamegraph_build(t, 16, &fg, &err) == PYRO_OK);
		CHECK_EQ_INT(fg.nlevels, depth + 1);
		CHECK_EQ_INT(fg.levels[depth][1], 7);
		CHECK_EQ_INT(fg.max_self, 7);
		pyro_flamegraph_free(&fg);
	}
	/* recursion counted once: a has self 7, total 7 */
	CHECK(pyro_tree_top(t, &top, &n, &err) == PYRO_OK);
	REQUIRE(n == 1);
	CHECK_EQ_INT(top[0].self, 7);
	CHECK_EQ_INT(top[0].total, 7);
	pyro_free(top);
	pyro_buf_free(&b);
	pyro_buf_free(&b2);
	pyro_tree_free(t);
}

TEST(tree_top_recursion_and_order)
{
	/*
	 * a;b;a 5, c 6, b 1, e 1, f 1 gives a(5,5) b(1,6) c(6,6) e(1,1) f(1,1);
	 * order by self desc, total desc, name: c, a, b, e, f.
	 */
	PyroTree   *t = pyro_tree_create();
	PyroTopEntry *top = NULL;
	size_t		n = 0;
	PyroError	err;
	const char *names[] = {"c", "a", "b", "e", "f"};
	int64_t		self[] = {6, 5, 1, 1, 1};
	int64_t		total[] = {6, 5, 6, 1, 1};

	REQUIRE(t != NULL);
	add_folded(t, "f", 1);
	add_folded(t, "a;b;a", 5);
	add_folded(t, "e", 1);
	add_folded(t, "c", 6);
	add_folded(t, "b", 1);
	CHECK(pyro_tree_top(t, &top, &n, &err) == PYRO_OK);
	REQUIRE(n == 5);
	for (size_t i = 0; i < 5; i++)
	{
		CHECK(top[i].name_len == 1 && top[i].name[0] == names[i][0]);
		CHECK_EQ_INT(top[i].self, self[i]);
		CHECK_EQ_INT(top[i].total, total[i]);
	}
	pyro_free(top);
	pyro_tree_free(t);
}

/*
 * A profile built through the symbol tables:
 *	 locations: L1 main (line 1), L2 work inlined into main (lines: [work,
 *	 main] innermost first), L3 main (line 7, a second location of main),
 *	 L4 native without lines in /usr/lib/libc.so.6 at 0x1f, L5 no lines and
 *	 no mapping at 0xabc.
 *	 stacks (root first): S1 = L1, S2 = L1>L4, S3 = L2, S4 = L3>L4,
 *	 S5 = L5
 *	 samples: S1 1, S2 2, S3 4, S4 8, S5 16, S1 0 (ignored), S2 -3 (ignored)
 *
 * Expected tree (the two locations of main merge by name; L2 yields main
 * then work, outermost first): main self 1, total 1+2+4+8 = 15;
 * main;libc.so.6+0x1f self 2+8 = 10; main;work self 4; 0xabc self 16;
 * root total 31.
 */
TEST(tree_add_profile_frames)
{
	PyroSymbols *sym = pyro_symbols_create();
	PyroProfile *p;
	PyroTree   *t = pyro_tree_create();
	PyroTree   *u = pyro_tree_create();
	PyroFunction fmain = {0},
				fwork = {0};
	PyroMapping m = {0};
	PyroLine	l1[1],
				l2[2],
				l3[1];
	uint32_t	L1,
				L2,
				L3,
				L4,
				L5,
				S1,
				S2,
				S3,
				S4,
				S5;
	PyroError	err;
	PyroBuf		b1,
				b2;

	REQUIRE(sym != NULL && t != NULL && u != NULL);
	fmain.name = pyro_sym_intern_string(sym, "main", 4);
	fwork.name = pyro_sym_intern_string(sym, "work", 4);
	l1[0].function = pyro_sym_intern_function(sym, &fmain);
	l1[0].line = 1;
	l2[0].function = pyro_sym_intern_function(sym, &fwork);
	l2[0].line = 3;
	l2[1].function = l1[0].function;
	l2[1].line = 4;
	l3[0].function = l1[0].function;
	l3[0].line = 7;
	m.filename = pyro_sym_intern_string(sym, "/usr/lib/libc.so.6", 18);
	m.memory_start = 0x1000;
	L1 = pyro_sym_intern_location(sym, 0, 0x10, l1, 1);
	L2 = pyro_sym_intern_location(sym, 0, 0x20, l2, 2);
	L3 = pyro_sym_intern_location(sym, 0, 0x30, l3, 1);
	L4 = pyro_sym_intern_location(sym, pyro_sym_intern_mapping(sym, &m), 0x1f, NULL, 0);
	L5 = pyro_sym_intern_location(sym, 0, 0xabc, NULL, 0);
	S1 = pyro_sym_intern_stack(sym, 0, L1);
	S2 = pyro_sym_intern_stack(sym, S1, L4);
	S3 = pyro_sym_intern_stack(sym, 0, L2);
	S4 = pyro_sym_intern_stack(sym, pyro_sym_intern_stack(sym, 0, L3), L4);
	S5 = pyro_sym_intern_stack(sym, 0, L5);
	REQUIRE(S5 != PYRO_NO_INDEX && S4 != PYRO_NO_INDEX);
	p = pyro_profile_create(sym, true);
	REQUIRE(p != NULL);
	pyro_profile_add_sample(p, S1, 1, 0);
	pyro_profile_add_sample(p, S2, 2, 0);
	pyro_profile_add_sample(p, S3, 4, 0);
	pyro_profile_add_sample(p, S4, 8, 0);
	pyro_profile_add_sample(p, S5, 16, 0);
	pyro_profile_add_sample(p, S1, 0, 0);
	pyro_profile_add_sample(p, S2, -3, 0);

	CHECK(pyro_tree_add_profile(t, p, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_tree_total(t), 31);
	CHECK_NODE(t, "main", 1, 15);
	CHECK_NODE(t, "main;libc.so.6+0x1f", 10, 10);
	CHECK_NODE(t, "main;work", 4, 4);
	CHECK_NODE(t, "0xabc", 16, 16);
	CHECK_EQ_INT(t->nnodes, 5);

	/* adding it again doubles everything; cross-check with folded stacks */
	CHECK(pyro_tree_add_profile(t, p, &err) == PYRO_OK);
	add_folded(u, "main", 2);
	add_folded(u, "main;libc.so.6+0x1f", 20);
	add_folded(u, "main;work", 8);
	add_folded(u, "0xabc", 32);
	pyro_buf_init(&b1);
	pyro_buf_init(&b2);
	CHECK(pyro_tree_serialize(t, 0, &b1, &err) == PYRO_OK);
	CHECK(pyro_tree_serialize(u, 0, &b2, &err) == PYRO_OK);
	CHECK(b1.len == b2.len && b1.len > 0 && memcmp(b1.data, b2.data, b1.len) == 0);
	pyro_buf_free(&b1);
	pyro_buf_free(&b2);

	/* a sample pointing past the stack table is rejected */
	pyro_profile_add_sample(p, sym->nstacks + 5, 1, 0);
	CHECK(pyro_tree_add_profile(t, p, &err) == PYRO_ECORRUPT);

	pyro_profile_free(p);
	pyro_tree_free(t);
	pyro_tree_free(u);
}

/*
 * Naive reference for pyro_tree_add_profile: walk every sample's stack
 * leaf to root, collect its frames and add them as one stack.
 */
static bool
naive_add_profile(PyroTree *t, const PyroProfile *p)
{
	const PyroSymbols *sym = p->sym;
	size_t		cap = 1 << 16;
	PyroStr    *frames = malloc(cap * sizeof(PyroStr));
	char	   *bufs = malloc(cap * 256);
	bool		ok = frames != NULL && bufs != NULL;
	PyroError	err;

	for (size_t i = 0; ok && i < p->nsamples; i++)
	{
		size_t		n = 0;

		/* leaf first: innermost line first within a location */
		for (uint32_t s = p->samples[i].stack; s != 0 && ok; s = sym->stacks[s].parent)
		{
			const PyroLocation *l = &sym->locations[sym->stacks[s].location];
			uint32_t	k = l->nlines > 0 ? l->nlines : 1;

			for (uint32_t j = 0; j < k; j++)
			{
				if (n >= cap)
				{
					ok = false;
					break;
				}
				frames[n] = pyro_location_frame_name(sym, l, j, bufs + n * 256, 256);
				n++;
			}
		}
		for (size_t a = 0, b = n; ok && a + 1 < b; a++, b--)
		{
			PyroStr		tmp = frames[a];

			frames[a] = frames[b - 1];
			frames[b - 1] = tmp;
		}
		if (ok && pyro_tree_add_stack(t, frames, n, p->samples[i].value, &err) != PYRO_OK)
			ok = false;
	}
	free(frames);
	free(bufs);
	return ok;
}

TEST(tree_add_profile_matches_naive)
{
	const char *files[] = {"pprof/go/cpu.pb.gz", "pprof/java/profile_java.pb.gz",
		"pprof/ebpf-native/node-ebpf.pb.gz", "pprof/rust/profile_rust.pb.gz",
	"pprof/python/pyspy-1.pb.gz"};

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++)
	{
		size_t		len;
		unsigned char *data = unit_read_file(unit_data_path(files[f]), &len);
		PyroNormalized *norm = NULL;
		PyroPprofLimits lim;
		PyroError	err;
		PyroTree   *a = pyro_tree_create();
		PyroTree   *b = pyro_tree_create();
		PyroBuf		ba,
					bb;

		REQUIRE(data != NULL && a != NULL && b != NULL);
		pyro_pprof_limits_default(&lim);
		lim.max_decompressed = 64 << 20;
		lim.max_samples = 0;
		if (pyro_pprof_normalize(data, len, &lim, &norm, &err) != PYRO_OK)
		{
			fprintf(stderr, "  %s: %s\n", files[f], err.msg);
			unit_failures++;
			free(data);
			pyro_tree_free(a);
			pyro_tree_free(b);
			continue;
		}
		/* every series of the first sample type into one tree */
		for (size_t i = 0; i < norm->nseries; i++)
		{
			if (norm->series[i].type_index != 0)
				continue;
			CHECK(pyro_tree_add_profile(a, norm->series[i].profile, &err) == PYRO_OK);
			CHECK(naive_add_profile(b, norm->series[i].profile));
		}
		pyro_buf_init(&ba);
		pyro_buf_init(&bb);
		CHECK(pyro_tree_serialize(a, 0, &ba, &err) == PYRO_OK);
		CHECK(pyro_tree_serialize(b, 0, &bb, &err) == PYRO_OK);
		if (!(ba.len == bb.len && ba.len > 0 && memcmp(ba.data, bb.data, ba.len) == 0))
		{
			fprintf(stderr, "  %s: tree differs from the naive one (%zu vs %zu bytes)\n",
					files[f], ba.len, bb.len);
			unit_failures++;
		}
		CHECK(pyro_tree_total(a) > 0);
		CHECK_EQ_INT(pyro_tree_total(a), pyro_tree_total(b));
		CHECK_EQ_INT(a->nnodes, b->nnodes);
		pyro_buf_free(&ba);
		pyro_buf_free(&bb);
		pyro_tree_free(a);
		pyro_tree_free(b);
		pyro_normalized_free(norm);
		free(data);
	}
}

/* the call-site filter of StackTraceSelector */
TEST(tree_call_site_filter)
{
	PyroTree   *t = pyro_tree_create();
	PyroTree   *cut;
	PyroError	err;
	const char *site[] = {"main", "a"};
	const char *none[] = {"main", "zzz"};

	REQUIRE(t != NULL);
	add_folded(t, "main;a;b", 3);
	add_folded(t, "main;a", 2);
	add_folded(t, "main;c;a", 5);
	add_folded(t, "other;a", 7);
	REQUIRE(pyro_tree_call_site(t, site, 2, &cut, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_tree_total(cut), 5);
	CHECK_NODE(cut, "main", 0, 5);
	CHECK_NODE(cut, "main;a", 2, 5);
	CHECK_NODE(cut, "main;a;b", 3, 3);
	CHECK_EQ_INT(find_path(cut, "main;c"), 0);
	pyro_tree_free(cut);
	REQUIRE(pyro_tree_call_site(t, none, 2, &cut, &err) == PYRO_OK);
	CHECK_EQ_INT(pyro_tree_total(cut), 0);
	pyro_tree_free(cut);
	CHECK(pyro_tree_call_site(t, site, 0, &cut, &err) == PYRO_EINVAL);
	pyro_tree_free(t);
}

const UnitTest tree_tests[] = {
	UNIT_ENTRY(tree_add_stack_totals),
	UNIT_ENTRY(tree_bytes_spec_example),
	UNIT_ENTRY(tree_bytes_roundtrip_and_merge),
	UNIT_ENTRY(tree_bytes_merge_equal_siblings),
	UNIT_ENTRY(tree_bytes_truncated),
	UNIT_ENTRY(tree_bytes_existing_other_absorbs),
	UNIT_ENTRY(tree_empty),
	UNIT_ENTRY(tree_bytes_hostile),
	UNIT_ENTRY(tree_bytes_deep_nesting),
	UNIT_ENTRY(tree_top_recursion_and_order),
	UNIT_ENTRY(tree_add_profile_frames),
	UNIT_ENTRY(tree_add_profile_matches_naive),
	UNIT_ENTRY(tree_call_site_filter),
	{NULL, NULL}
};

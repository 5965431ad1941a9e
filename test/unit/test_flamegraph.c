/*
 * test_flamegraph.c
 *	  Unit tests of flamegraph.c: the flamebearer layout of spec §8.2
 *	  (worked example), max_nodes truncation (§8.3) computed by hand, the
 *	  literal "other" rule, the diff layout (§8.5), the JSON form, and a
 *	  round trip through recorded upstream /render responses.
 *
 * A small independent decoder rebuilds (path -> self, total) from the
 * levels, checking that every node lies inside a node of the level above.
 */
#include "unit.h"
#include "../../src/core/tree.h"

#define MAXN 4096

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

/* One decoded node. */
typedef struct DecNode
{
	char		path[512];
	int64_t		x[2];
	int64_t		total[2];
	int64_t		self[2];
} DecNode;

static DecNode dec[MAXN];
static size_t ndec;

static bool
contains(const DecNode *p, const DecNode *c, int nsides)
{
	for (int s = 0; s < nsides; s++)
	{
		if (c->x[s] < p->x[s] || c->x[s] + c->total[s] > p->x[s] + p->total[s])
			return false;
	}
	return true;
}

/*
 * Decode levels (width 4 or 7) into dec[].  Returns false when the layout
 * is inconsistent: a negative delta, or a node outside every node of the
 * level above (parents are searched left to right, as levels are ordered).
 */
static bool
decode_levels(char *const *names, uint32_t nnames, int64_t *const *levels,
			  const size_t *level_len, uint32_t nlevels, int width)
{
	int			nsides = width == 7 ? 2 : 1;
	size_t		prev_start = 0,
				prev_end = 0;

	ndec = 0;
	for (uint32_t d = 0; d < nlevels; d++)
	{
		int64_t		prevx[2] = {0, 0};
		size_t		start = ndec;
		size_t		p = prev_start;

		if (level_len[d] % (size_t) width != 0)
			return false;
		for (size_t i = 0; i < level_len[d]; i += (size_t) width)
		{
			const int64_t *v = levels[d] + i;
			DecNode    *n;
			int64_t		name = v[width - 1];

			if (ndec >= MAXN || name < 0 || (uint64_t) name >= nnames)
				return false;
			n = &dec[ndec++];
			for (int s = 0; s < nsides; s++)
			{
				if (v[s * 3] < 0)
					return false;
				n->x[s] = prevx[s] + v[s * 3];
				n->total[s] = v[s * 3 + 1];
				n->self[s] = v[s * 3 + 2];
				prevx[s] = n->x[s] + n->total[s];
			}
			if (nsides == 1)
				n->x[1] = n->total[1] = n->self[1] = 0;
			if (d == 0)
			{
				if (level_len[0] != (size_t) width || n->x[0] != 0 || name != 0)
					return false;
				strcpy(n->path, "");
				continue;
			}
			while (p < prev_end && !contains(&dec[p], n, nsides))
				p++;
			if (p == prev_end)
				return false;
			{
				const char *pp = dec[p].path;
				size_t		pl = strlen(pp);
				size_t		nl = strlen(names[name]);

				if (pl + nl + 2 > sizeof(n->path))
					return false;
				memcpy(n->path, pp, pl);
				if (d > 1)
					n->path[pl++] = ';';
				memcpy(n->path + pl, names[name], nl + 1);
			}
		}
		prev_start = start;
		prev_end = ndec;
	}
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The decoded non-root nodes as sorted lines "path self total" (and
 * "path lself ltotal rself rtotal" for a diff), for comparison.
 */
static char *
decoded_dump(int nsides)
{
	static char out[65536];
	static char lines[MAXN][600];
	char	   *ptrs[MAXN];
	size_t		k = 0,
				n = 0;

	for (size_t i = 1; i < ndec; i++)
	{
		if (nsides == 1)
			snprintf(lines[n], sizeof(lines[n]), "%s %lld %lld\n", dec[i].path,
					 (long long) dec[i].self[0], (long long) dec[i].total[0]);
		else
			snprintf(lines[n], sizeof(lines[n]), "%s %lld %lld %lld %lld\n", dec[i].path,
					 (long long) dec[i].self[0], (long long) dec[i].total[0],
					 (long long) dec[i].self[1], (long long) dec[i].total[1]);
		ptrs[n] = lines[n];
		n++;
	}
	qsort(ptrs, n, sizeof(char *), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n && k + strlen(ptrs[i]) < sizeof(out); i++)
	{
		strcpy(out + k, ptrs[i]);
		k += strlen(ptrs[i]);
	}
	return out;
}

static bool
decode_fg(const PyroFlamegraph *fg)
{
	return decode_levels(fg->names, fg->nnames, fg->levels, fg->level_len,
						 fg->nlevels, fg->width);
}

static int
name_index(const PyroFlamegraph *fg, const char *name)
{
	for (uint32_t i = 0; i < fg->nnames; i++)
	{
		if (strcmp(fg->names[i], name) == 0)
			return (int) i;
	}
	return -1;
}

static void
check_level(const PyroFlamegraph *fg, uint32_t d, const int64_t *expect, size_t n, int line)
{
	if (d >= fg->nlevels || fg->level_len[d] != n ||
		memcmp(fg->levels[d], expect, n * sizeof(int64_t)) != 0)
	{
		fprintf(stderr, "  test_flamegraph.c:%d: level %u differs:", line, d);
		if (d < fg->nlevels)
		{
			for (size_t i = 0; i < fg->level_len[d]; i++)
				fprintf(stderr, " %lld", (long long) fg->levels[d][i]);
		}
		fprintf(stderr, "\n");
		unit_failures++;
	}
}

#define CHECK_LEVEL(fg, d, ...) \
	do { \
		const int64_t _e[] = {__VA_ARGS__}; \
		check_level(fg, d, _e, sizeof(_e) / sizeof(_e[0]), __LINE__); \
	} while (0)

static char *
fg_json(const PyroFlamegraph *fg)
{
	static char out[8192];
	PyroBuf		b;

	pyro_buf_init(&b);
	pyro_flamegraph_json(fg, &b);
	snprintf(out, sizeof(out), "%.*s", (int) b.len, (const char *) b.data);
	pyro_buf_free(&b);
	return out;
}

TEST(flamegraph_spec_example)
{
	/* spec §8.2: main;a 3, main;b 2, main 1 */
	PyroTree   *t = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;
	int			imain,
				ia,
				ib;

	REQUIRE(t != NULL);
	add_folded(t, "main;b", 2);
	add_folded(t, "main;a", 3);
	add_folded(t, "main", 1);
	REQUIRE(pyro_flamegraph_build(t, 0, &fg, &err) == PYRO_OK);
	CHECK_EQ_INT(fg.width, 4);
	CHECK_EQ_INT(fg.nnames, 4);
	CHECK_EQ_STR(fg.names[0], "total");
	imain = name_index(&fg, "main");
	ia = name_index(&fg, "a");
	ib = name_index(&fg, "b");
	REQUIRE(imain > 0 && ia > 0 && ib > 0);
	CHECK_EQ_INT(fg.nlevels, 3);
	CHECK_LEVEL(&fg, 0, 0, 6, 0, 0);
	CHECK_LEVEL(&fg, 1, 0, 6, 1, imain);
	CHECK_LEVEL(&fg, 2, 1, 3, 3, ia, 0, 2, 2, ib);
	CHECK_EQ_INT(fg.total, 6);
	CHECK_EQ_INT(fg.max_self, 3);
	REQUIRE(decode_fg(&fg));
	CHECK_EQ_STR(decoded_dump(1), "main 1 6\nmain;a 3 3\nmain;b 2 2\n");
	/* names are assigned in emission order: total, main, a, b */
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\",\"main\",\"a\",\"b\"],"
				 "\"levels\":[[0,6,0,0],[0,6,1,1],[1,3,3,2,0,2,2,3]],"
				 "\"numTicks\":6,\"maxSelf\":3}");
	pyro_flamegraph_free(&fg);
	pyro_tree_free(t);
}

TEST(flamegraph_empty)
{
	PyroTree   *t = pyro_tree_create();
	PyroTree   *u = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;

	REQUIRE(t != NULL && u != NULL);
	REQUIRE(pyro_flamegraph_build(t, 16, &fg, &err) == PYRO_OK);
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\"],\"levels\":[[0,0,0,0]],\"numTicks\":0,\"maxSelf\":0}");
	pyro_flamegraph_free(&fg);
	REQUIRE(pyro_flamegraph_diff(t, u, 16, &fg, &err) == PYRO_OK);
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\"],\"levels\":[[0,0,0,0,0,0,0]],\"numTicks\":0,"
				 "\"maxSelf\":0,\"leftTicks\":0,\"rightTicks\":0}");
	pyro_flamegraph_free(&fg);
	pyro_tree_free(t);
	pyro_tree_free(u);
}

/* a;b 10, a;c 1, a;d 1, e 5, f 2: totals a12 b10 e5 f2 c1 d1 (6 nodes) */
static PyroTree *
truncation_tree(void)
{
	PyroTree   *t = pyro_tree_create();

	if (t == NULL)
		return NULL;
	add_folded(t, "a;d", 1);
	add_folded(t, "f", 2);
	add_folded(t, "a;b", 10);
	add_folded(t, "e", 5);
	add_folded(t, "a;c", 1);
	return t;
}

TEST(flamegraph_truncation)
{
	PyroTree   *t = truncation_tree();
	PyroFlamegraph fg;
	PyroError	err;

	REQUIRE(t != NULL);

	/*
	 * max_nodes 3: threshold = 3rd largest of 12,10,5,2,1,1 = 5.  Root: a
	 * (x0), e (x12), other 2 (x17).  a: self 0, b (x0), other 2 (x10).
	 */
	REQUIRE(pyro_flamegraph_build(t, 3, &fg, &err) == PYRO_OK);
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\",\"a\",\"e\",\"other\",\"b\"],"
				 "\"levels\":[[0,19,0,0],[0,12,0,1,0,5,5,2,0,2,2,3],[0,10,10,4,0,2,2,3]],"
				 "\"numTicks\":19,\"maxSelf\":10}");
	pyro_flamegraph_free(&fg);

	/* max_nodes 4: threshold 2 keeps f; c and d (1 each) fold into other 2 */
	REQUIRE(pyro_flamegraph_build(t, 4, &fg, &err) == PYRO_OK);
	REQUIRE(decode_fg(&fg));
	CHECK_EQ_STR(decoded_dump(1),
				 "a 0 12\na;b 10 10\na;other 2 2\ne 5 5\nf 2 2\n");
	pyro_flamegraph_free(&fg);

	/* max_nodes 1: threshold 12 keeps only a; a's children all fold */
	REQUIRE(pyro_flamegraph_build(t, 1, &fg, &err) == PYRO_OK);
	REQUIRE(decode_fg(&fg));
	CHECK_EQ_STR(decoded_dump(1), "a 0 12\na;other 12 12\nother 7 7\n");
	CHECK_EQ_INT(fg.max_self, 12);
	pyro_flamegraph_free(&fg);

	/* 6 nodes and max_nodes 6, or 0, or -1: everything is kept */
	for (int64_t mn = -1; mn <= 6; mn += 6)
	{
		for (int pass = 0; pass < 2; pass++)
		{
			REQUIRE(pyro_flamegraph_build(t, pass ? 0 : mn, &fg, &err) == PYRO_OK);
			REQUIRE(decode_fg(&fg));
			CHECK_EQ_STR(decoded_dump(1),
						 "a 0 12\na;b 10 10\na;c 1 1\na;d 1 1\ne 5 5\nf 2 2\n");
			pyro_flamegraph_free(&fg);
		}
	}
	pyro_tree_free(t);
}

TEST(flamegraph_literal_other)
{
	/*
	 * a 4, other;x 3, b 1: a child literally named "other" is folded into the
	 * synthetic one (its subtree is not emitted), even untruncated.
	 */
	PyroTree   *t = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;

	REQUIRE(t != NULL);
	add_folded(t, "other;x", 3);
	add_folded(t, "a", 4);
	add_folded(t, "b", 1);
	REQUIRE(pyro_flamegraph_build(t, 0, &fg, &err) == PYRO_OK);
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\",\"a\",\"b\",\"other\"],"
				 "\"levels\":[[0,8,0,0],[0,4,4,1,0,1,1,2,0,3,3,3]],"
				 "\"numTicks\":8,\"maxSelf\":4}");
	pyro_flamegraph_free(&fg);

	/*
	 * truncated to 1 node (threshold 4): b and the literal other fold
	 * together
	 */
	REQUIRE(pyro_flamegraph_build(t, 1, &fg, &err) == PYRO_OK);
	REQUIRE(decode_fg(&fg));
	CHECK_EQ_STR(decoded_dump(1), "a 4 4\nother 4 4\n");
	pyro_flamegraph_free(&fg);

	/* a frame literally named "total" shares names[0] */
	add_folded(t, "total", 2);
	REQUIRE(pyro_flamegraph_build(t, 0, &fg, &err) == PYRO_OK);
	CHECK_EQ_INT(fg.nnames, 4);
	CHECK_LEVEL(&fg, 1, 0, 4, 4, 1, 0, 1, 1, 2, 0, 2, 2, 0, 0, 3, 3, 3);
	pyro_flamegraph_free(&fg);
	pyro_tree_free(t);
}

TEST(flamegraph_diff_example)
{
	/*
	 * left: main;a 3, main;b 1.  right: main;a 1, main;c 4. main's children
	 * are the union a, b, c: a: left x0 t3 s3, right x0 t1 s1 b: left x3 t1
	 * s1, right x1 t0 s0  -> deltas 0, 0 c: left x4 t0 s0, right x1 t4 s4  ->
	 * deltas 0, 0
	 */
	PyroTree   *l = pyro_tree_create();
	PyroTree   *r = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;

	REQUIRE(l != NULL && r != NULL);
	add_folded(l, "main;b", 1);
	add_folded(l, "main;a", 3);
	add_folded(r, "main;c", 4);
	add_folded(r, "main;a", 1);
	REQUIRE(pyro_flamegraph_diff(l, r, 0, &fg, &err) == PYRO_OK);
	CHECK_EQ_INT(fg.width, 7);
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\",\"main\",\"a\",\"b\",\"c\"],"
				 "\"levels\":[[0,4,0,0,5,0,0],[0,4,0,0,5,0,1],"
				 "[0,3,3,0,1,1,2,0,1,1,0,0,0,3,0,0,0,0,4,4,4]],"
				 "\"numTicks\":9,\"maxSelf\":4,\"leftTicks\":4,\"rightTicks\":5}");
	REQUIRE(decode_fg(&fg));
	CHECK_EQ_STR(decoded_dump(2),
				 "main 0 4 0 5\nmain;a 3 3 1 1\nmain;b 1 1 0 0\nmain;c 0 0 4 4\n");
	pyro_flamegraph_free(&fg);
	pyro_tree_free(l);
	pyro_tree_free(r);
}

TEST(flamegraph_diff_truncation)
{
	/*
	 * left: main;a 10, main;b 1 (nodes main 11, a 10, b 1): with max_nodes 2
	 * its threshold is 10.  right: main;a 2, main;b 5, main;c 1 (main 8, b 5,
	 * a 2, c 1): threshold 5.  minVal = max = 10: main and a stay; b (1 | 5)
	 * and c (0 | 1) fold into other (1 | 6).
	 */
	PyroTree   *l = pyro_tree_create();
	PyroTree   *r = pyro_tree_create();
	PyroFlamegraph fg;
	PyroError	err;

	REQUIRE(l != NULL && r != NULL);
	add_folded(l, "main;a", 10);
	add_folded(l, "main;b", 1);
	add_folded(r, "main;a", 2);
	add_folded(r, "main;c", 1);
	add_folded(r, "main;b", 5);
	REQUIRE(pyro_flamegraph_diff(l, r, 2, &fg, &err) == PYRO_OK);
	CHECK_EQ_STR(fg_json(&fg),
				 "{\"names\":[\"total\",\"main\",\"a\",\"other\"],"
				 "\"levels\":[[0,11,0,0,8,0,0],[0,11,0,0,8,0,1],"
				 "[0,10,10,0,2,2,2,0,1,1,0,6,6,3]],"
				 "\"numTicks\":19,\"maxSelf\":10,\"leftTicks\":11,\"rightTicks\":8}");
	pyro_flamegraph_free(&fg);
	pyro_tree_free(l);
	pyro_tree_free(r);
}

/* ---- recorded upstream responses ---- */

typedef struct Parsed
{
	char	   *names[256];
	uint32_t	nnames;
	int64_t    *levels[64];
	size_t		level_len[64];
	uint32_t	nlevels;
	int64_t		num_ticks;
	int64_t		max_self;
} Parsed;

static void
parsed_free(Parsed *p)
{
	for (uint32_t i = 0; i < p->nnames; i++)
		free(p->names[i]);
	for (uint32_t i = 0; i < p->nlevels; i++)
		free(p->levels[i]);
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	return p;
}

/* Parse the flamebearer names/levels/numTicks/maxSelf of a /render response. */
static bool
parse_flamebearer(const char *json, Parsed *out)
{
	const char *p = strstr(json, "\"names\"");

	memset(out, 0, sizeof(*out));
	if (p == NULL || (p = strchr(p, '[')) == NULL)
		return false;
	p = skip_ws(p + 1);
	while (*p == '"')
	{
		char		buf[1024];
		size_t		k = 0;

		p++;
		while (*p && *p != '"' && k + 1 < sizeof(buf))
		{
			if (*p == '\\')
				p++;
			buf[k++] = *p++;
		}
		if (*p != '"' || out->nnames >= 256)
			return false;
		buf[k] = '\0';
		out->names[out->nnames++] = strdup(buf);
		p = skip_ws(p + 1);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	if ((p = strstr(p, "\"levels\"")) == NULL || (p = strchr(p, '[')) == NULL)
		return false;
	p = skip_ws(p + 1);
	while (*p == '[')
	{
		int64_t		vals[4096];
		size_t		n = 0;

		p = skip_ws(p + 1);
		while (*p != ']')
		{
			char	   *e;

			if (n >= 4096)
				return false;
			vals[n++] = strtoll(p, &e, 10);
			if (e == p)
				return false;
			p = skip_ws(e);
			if (*p == ',')
				p = skip_ws(p + 1);
		}
		if (out->nlevels >= 64)
			return false;
		out->levels[out->nlevels] = malloc(n * sizeof(int64_t) + 1);
		memcpy(out->levels[out->nlevels], vals, n * sizeof(int64_t));
		out->level_len[out->nlevels++] = n;
		p = skip_ws(p + 1);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	if ((p = strstr(p, "\"numTicks\"")) == NULL)
		return false;
	out->num_ticks = strtoll(strchr(p, ':') + 1, NULL, 10);
	if ((p = strstr(p, "\"maxSelf\"")) == NULL)
		return false;
	out->max_self = strtoll(strchr(p, ':') + 1, NULL, 10);
	return true;
}

/* Our levels equal the recorded ones, name indexes compared by string. */
static void
check_same_layout(const PyroFlamegraph *fg, const Parsed *rec, int width)
{
	CHECK_EQ_INT(fg->nlevels, rec->nlevels);
	for (uint32_t d = 0; d < fg->nlevels && d < rec->nlevels; d++)
	{
		CHECK_EQ_INT(fg->level_len[d], rec->level_len[d]);
		if (fg->level_len[d] != rec->level_len[d])
			continue;
		for (size_t i = 0; i < fg->level_len[d]; i++)
		{
			int64_t		a = fg->levels[d][i];
			int64_t		b = rec->levels[d][i];

			if ((i + 1) % (size_t) width == 0)
			{
				if (a < 0 || (uint64_t) a >= fg->nnames || b < 0 ||
					(uint64_t) b >= rec->nnames ||
					strcmp(fg->names[a], rec->names[b]) != 0)
				{
					fprintf(stderr, "  level %u item %zu: name differs\n", d, i / (size_t) width);
					unit_failures++;
				}
			}
			else if (a != b)
			{
				fprintf(stderr, "  level %u value %zu: %lld != %lld\n", d, i,
						(long long) a, (long long) b);
				unit_failures++;
			}
		}
	}
}

/*
 * Decode the recorded flame graph into stacks, rebuild it from a tree and
 * check that the layout is identical (values, order, x offsets).
 */
TEST(flamegraph_recorded_single)
{
	size_t		len;
	char	   *json = (char *) unit_read_file(
											   unit_data_path("api-responses/render-simple-golang-app-cpu.json"), &len);
	Parsed		rec;
	PyroTree   *t;
	PyroFlamegraph fg;
	PyroError	err;
	char	   *dump;

	REQUIRE(json != NULL);
	json = realloc(json, len + 1);
	json[len] = '\0';
	REQUIRE(parse_flamebearer(json, &rec));
	free(json);
	CHECK_EQ_INT(rec.nlevels, 4);
	REQUIRE(decode_levels(rec.names, rec.nnames, rec.levels, rec.level_len,
						  rec.nlevels, 4));
	dump = strdup(decoded_dump(1));
	/* spot-check the decoding itself against the file, read by hand */
	CHECK(strstr(dump, "runtime.main;main.main;main.fastFunction 1 1\n") != NULL);
	CHECK(strstr(dump, "runtime.main;main.slowFunction;main.work 771 771\n") != NULL);

	t = pyro_tree_create();
	REQUIRE(t != NULL);
	for (size_t i = 1; i < ndec; i++)
	{
		if (dec[i].self[0] > 0)
			add_folded(t, dec[i].path, dec[i].self[0]);
	}
	REQUIRE(pyro_flamegraph_build(t, 0, &fg, &err) == PYRO_OK);
	CHECK_EQ_INT(fg.total, rec.num_ticks);
	CHECK_EQ_INT(fg.max_self, rec.max_self);
	check_same_layout(&fg, &rec, 4);
	REQUIRE(decode_fg(&fg));
	CHECK_EQ_STR(decoded_dump(1), dump);
	free(dump);
	pyro_flamegraph_free(&fg);
	pyro_tree_free(t);
	parsed_free(&rec);
}

TEST(flamegraph_recorded_diff)
{
	size_t		len;
	char	   *json = (char *) unit_read_file(
											   unit_data_path("api-responses/render-simple-golang-app-cpu-diff.json"), &len);
	Parsed		rec;
	PyroTree   *l,
			   *r;
	PyroFlamegraph fg;
	PyroError	err;

	REQUIRE(json != NULL);
	json = realloc(json, len + 1);
	json[len] = '\0';
	REQUIRE(parse_flamebearer(json, &rec));
	free(json);
	REQUIRE(decode_levels(rec.names, rec.nnames, rec.levels, rec.level_len,
						  rec.nlevels, 7));
	l = pyro_tree_create();
	r = pyro_tree_create();
	REQUIRE(l != NULL && r != NULL);
	for (size_t i = 1; i < ndec; i++)
	{
		if (dec[i].self[0] > 0)
			add_folded(l, dec[i].path, dec[i].self[0]);
		if (dec[i].self[1] > 0)
			add_folded(r, dec[i].path, dec[i].self[1]);
	}
	CHECK_EQ_INT(pyro_tree_total(l), 991);
	CHECK_EQ_INT(pyro_tree_total(r), 987);
	REQUIRE(pyro_flamegraph_diff(l, r, 0, &fg, &err) == PYRO_OK);
	CHECK_EQ_INT(fg.total, rec.num_ticks);
	CHECK_EQ_INT(fg.max_self, rec.max_self);
	CHECK_EQ_INT(fg.left_ticks, 991);
	CHECK_EQ_INT(fg.right_ticks, 987);
	check_same_layout(&fg, &rec, 7);
	pyro_flamegraph_free(&fg);
	pyro_tree_free(l);
	pyro_tree_free(r);
	parsed_free(&rec);
}

const UnitTest flamegraph_tests[] = {
	UNIT_ENTRY(flamegraph_spec_example),
	UNIT_ENTRY(flamegraph_empty),
	UNIT_ENTRY(flamegraph_truncation),
	UNIT_ENTRY(flamegraph_literal_other),
	UNIT_ENTRY(flamegraph_diff_example),
	UNIT_ENTRY(flamegraph_diff_truncation),
	UNIT_ENTRY(flamegraph_recorded_single),
	UNIT_ENTRY(flamegraph_recorded_diff),
	{NULL, NULL}
};

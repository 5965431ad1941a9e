/*-------------------------------------------------------------------------
 *
 * dot.c
 *	  A profile as a Graphviz call graph (see dot.h).
 *
 *	  Two passes over the samples.  The first makes the nodes (one per
 *	  distinct address, function, file and line of a location line) with
 *	  their flat and cumulative values; the heaviest are kept.  The second
 *	  walks each stack again over the kept nodes only and adds each sample's
 *	  value once to every caller -> callee edge it crosses, residual when
 *	  dropped nodes lay between.  Differences from pprof, which no client
 *	  reads (API-2.md 3.7): nodes are chosen and numbered by cumulative
 *	  value (then flat value, then name) instead of pprof's entropy order,
 *	  and redundant residual edges are kept.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dot.h"

#define DEFAULT_NODES	100
#define NAME_BUF		1024
#define NONE			UINT32_MAX

typedef struct DNode
{
	uint32_t	function;		/* NONE for a location without lines */
	int64_t		line;
	uint64_t	address;
	uint32_t	mapping;		/* locations without lines */
	int64_t		flat;
	int64_t		cum;
	uint64_t	seen;			/* last sample that added to cum, + 1 */
	uint32_t	out;			/* output number (1-based), 0 = dropped */
} DNode;

typedef struct DEdge
{
	uint32_t	src;			/* caller */
	uint32_t	dst;			/* callee */
	int64_t		weight;
	bool		residual;		/* every contribution crossed dropped nodes */
	bool		inline_;
	uint64_t	seen;
} DEdge;

/* open addressing over indexes into an array; key hashes given */
typedef struct Table
{
	uint32_t   *slots;
	size_t		cap;
} Table;

typedef struct Dot
{
	const PyroProfile *p;
	const PyroSymbols *sym;
	PyroError  *err;
	DNode	   *nodes;
	size_t		nnodes;
	size_t		nodes_cap;
	Table		node_tab;
	DEdge	   *edges;
	size_t		nedges;
	size_t		edges_cap;
	Table		edge_tab;
	uint32_t   *frames;			/* one stack's nodes, leaf first */
	bool	   *same_loc;		/* frames[i] and frames[i + 1] share a
								 * location */
	size_t		same_loc_cap;
	size_t		frames_cap;
	size_t		nframes;
} Dot;

static PyroStatus
oom(Dot *d)
{
	return pyro_error_set(d->err, PYRO_ENOMEM, "out of memory rendering a call graph");
}

static uint64_t
node_hash(uint32_t fn, int64_t line, uint64_t addr, uint32_t mapping)
{
	uint64_t	h = pyro_hash_mix(0x646F74, fn);

	h = pyro_hash_mix(h, (uint64_t) line);
	h = pyro_hash_mix(h, addr);
	return pyro_hash_mix(h, mapping);
}

static bool
table_grow(Table *t, size_t n, uint64_t (*hash) (const Dot *, uint32_t), const Dot *d)
{
	size_t		cap;
	uint32_t   *s;

	if ((n + 1) * 2 <= t->cap)
		return true;
	cap = t->cap ? t->cap * 2 : 1024;
	s = pyro_malloc(cap * sizeof(uint32_t));
	if (s == NULL)
		return false;
	memset(s, 0xFF, cap * sizeof(uint32_t));
	for (size_t i = 0; i < t->cap; i++)
	{
		size_t		j;

		if (t->slots[i] == NONE)
			continue;
		for (j = hash(d, t->slots[i]) & (cap - 1); s[j] != NONE; j = (j + 1) & (cap - 1))
			;
		s[j] = t->slots[i];
	}
	pyro_free(t->slots);
	t->slots = s;
	t->cap = cap;
	return true;
}

static uint64_t
node_hash_of(const Dot *d, uint32_t i)
{
	const DNode *n = &d->nodes[i];

	return node_hash(n->function, n->line, n->address, n->mapping);
}

static uint64_t
edge_hash_of(const Dot *d, uint32_t i)
{
	return pyro_hash_mix(d->edges[i].src, d->edges[i].dst);
}

/* the node of one location line (line NONE: a location without lines) */
static uint32_t
node_of(Dot *d, const PyroLocation *loc, uint32_t line_idx)
{
	uint32_t	fn = NONE;
	int64_t		line = 0;
	uint32_t	mapping = 0;
	uint64_t	h;
	size_t		j;

	if (line_idx != NONE)
	{
		const PyroLine *l = &d->sym->lines[loc->first_line + line_idx];

		fn = l->function;
		line = l->line;
	}
	else
		mapping = loc->mapping;
	h = node_hash(fn, line, loc->address, mapping);
	if (!table_grow(&d->node_tab, d->nnodes, node_hash_of, d))
		return NONE;
	for (j = h & (d->node_tab.cap - 1); d->node_tab.slots[j] != NONE;
		 j = (j + 1) & (d->node_tab.cap - 1))
	{
		const DNode *n = &d->nodes[d->node_tab.slots[j]];

		if (n->function == fn && n->line == line && n->address == loc->address &&
			n->mapping == mapping)
			return d->node_tab.slots[j];
	}
	if (d->nnodes >= NONE - 1 ||
		!pyro_grow((void **) &d->nodes, &d->nodes_cap, d->nnodes + 1, sizeof(DNode)))
		return NONE;
	memset(&d->nodes[d->nnodes], 0, sizeof(DNode));
	d->nodes[d->nnodes].function = fn;
	d->nodes[d->nnodes].line = line;
	d->nodes[d->nnodes].address = loc->address;
	d->nodes[d->nnodes].mapping = mapping;
	d->node_tab.slots[j] = (uint32_t) d->nnodes;
	return (uint32_t) d->nnodes++;
}

/* the nodes of one sample's stack into d->frames, leaf first */
static PyroStatus
stack_frames(Dot *d, uint32_t stack)
{
	d->nframes = 0;
	for (uint32_t s = stack, guard = 0; s != 0; s = d->sym->stacks[s].parent, guard++)
	{
		const PyroLocation *loc;
		uint32_t	k;

		if (s >= d->sym->nstacks || guard >= d->sym->nstacks ||
			d->sym->stacks[s].location >= d->sym->nlocations)
			return pyro_error_set(d->err, PYRO_ECORRUPT, "invalid stack in a profile");
		loc = &d->sym->locations[d->sym->stacks[s].location];
		if ((uint64_t) loc->first_line + loc->nlines > d->sym->nlines)
			return pyro_error_set(d->err, PYRO_ECORRUPT, "invalid location in a profile");
		k = loc->nlines > 0 ? loc->nlines : 1;
		if (!pyro_grow((void **) &d->frames, &d->frames_cap, d->nframes + k, sizeof(uint32_t)) ||
			!pyro_grow((void **) &d->same_loc, &d->same_loc_cap, d->nframes + k, sizeof(bool)))
			return oom(d);
		/* lines are innermost first, as the stack goes leaf first */
		for (uint32_t j = 0; j < k; j++)
		{
			uint32_t	n = node_of(d, loc, loc->nlines > 0 ? j : NONE);

			if (n == NONE)
				return oom(d);
			d->same_loc[d->nframes] = j + 1 < k;
			d->frames[d->nframes++] = n;
		}
	}
	return PYRO_OK;
}

static PyroStatus
add_edge(Dot *d, uint32_t src, uint32_t dst, bool residual, bool inline_, int64_t v,
		 uint64_t sample)
{
	uint64_t	h = pyro_hash_mix(src, dst);
	size_t		j;
	DEdge	   *e;

	if (!table_grow(&d->edge_tab, d->nedges, edge_hash_of, d))
		return oom(d);
	for (j = h & (d->edge_tab.cap - 1); d->edge_tab.slots[j] != NONE;
		 j = (j + 1) & (d->edge_tab.cap - 1))
	{
		e = &d->edges[d->edge_tab.slots[j]];
		if (e->src == src && e->dst == dst)
		{
			if (e->seen == sample)
				return PYRO_OK; /* once per sample (recursion) */
			e->seen = sample;
			e->weight = (int64_t) ((uint64_t) e->weight + (uint64_t) v);
			e->residual = e->residual && residual;
			e->inline_ = e->inline_ || inline_;
			return PYRO_OK;
		}
	}
	if (!pyro_grow((void **) &d->edges, &d->edges_cap, d->nedges + 1, sizeof(DEdge)))
		return oom(d);
	e = &d->edges[d->nedges];
	e->src = src;
	e->dst = dst;
	e->weight = v;
	e->residual = residual;
	e->inline_ = inline_;
	e->seen = sample;
	d->edge_tab.slots[j] = (uint32_t) d->nedges++;
	return PYRO_OK;
}

/* ---------------------------------------------------------------------
 * Text
 * ---------------------------------------------------------------------
 */

static PyroStr
str_at(const PyroSymbols *sym, uint32_t i)
{
	PyroStr		s = {"", 0};

	if (i < sym->nstrings)
		s = sym->strings[i];
	return s;
}

/* the full name of a node into buf */
static const char *
node_name(const Dot *d, const DNode *n, char *buf)
{
	if (n->function != NONE && n->function < d->sym->nfunctions)
	{
		const PyroFunction *f = &d->sym->functions[n->function];
		PyroStr		s = str_at(d->sym, f->name);

		if (s.len == 0)
			s = str_at(d->sym, f->system_name);
		if (s.len > 0)
		{
			snprintf(buf, NAME_BUF, "%.*s", (int) (s.len < NAME_BUF - 1 ? s.len : NAME_BUF - 1),
					 s.ptr);
			return buf;
		}
	}
	if (n->mapping != 0 && n->mapping < d->sym->nmappings)
	{
		PyroStr		f = str_at(d->sym, d->sym->mappings[n->mapping].filename);
		const char *base = f.ptr;

		for (uint32_t i = 0; i < f.len; i++)
			if (f.ptr[i] == '/')
				base = f.ptr + i + 1;
		if (f.len > 0)
		{
			snprintf(buf, NAME_BUF, "[%.*s]", (int) (f.ptr + f.len - base), base);
			return buf;
		}
	}
	snprintf(buf, NAME_BUF, "<unknown>");
	return buf;
}

/* pprof's short function name: package path removed (a/b/c.F -> c.F) */
static const char *
short_name(const char *name)
{
	const char *last_slash = NULL;
	int			depth = 0;

	/* the last '/' outside parentheses and brackets, before the first '(' */
	for (const char *c = name; *c; c++)
	{
		if (*c == '(' || *c == '[' || *c == '<')
			depth++;
		else if ((*c == ')' || *c == ']' || *c == '>') && depth > 0)
			depth--;
		else if (*c == '/' && depth == 0)
			last_slash = c;
	}
	return last_slash ? last_slash + 1 : name;
}

/* a DOT string body: quotes and backslashes escaped, newlines as \l */
static void
put_escaped(PyroBuf *b, const char *s, size_t len, const char *newline)
{
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '"' || s[i] == '\\')
		{
			pyro_buf_append_byte(b, '\\');
			pyro_buf_append_byte(b, (uint8_t) s[i]);
		}
		else if (s[i] == '\n')
			pyro_buf_append_str(b, newline);
		else
			pyro_buf_append_byte(b, (uint8_t) s[i]);
	}
}

typedef enum
{
	U_TIME, U_BYTES, U_OTHER
} UnitKind;

static UnitKind
unit_kind(const char *unit, double *to_base)
{
	static const struct
	{
		const char *name;
		UnitKind	kind;
		double		factor;
	}			units[] = {
		{"nanoseconds", U_TIME, 1e-9}, {"nanosecond", U_TIME, 1e-9}, {"ns", U_TIME, 1e-9},
		{"microseconds", U_TIME, 1e-6}, {"microsecond", U_TIME, 1e-6}, {"us", U_TIME, 1e-6},
		{"milliseconds", U_TIME, 1e-3}, {"millisecond", U_TIME, 1e-3}, {"ms", U_TIME, 1e-3},
		{"seconds", U_TIME, 1}, {"second", U_TIME, 1}, {"s", U_TIME, 1},
		{"bytes", U_BYTES, 1}, {"byte", U_BYTES, 1}, {"b", U_BYTES, 1},
		{"kilobytes", U_BYTES, 1024}, {"megabytes", U_BYTES, 1048576},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (unit && strcmp(unit, units[i].name) == 0)
		{
			*to_base = units[i].factor;
			return units[i].kind;
		}
	*to_base = 1;
	return U_OTHER;
}

/* a value in its unit family's base unit, two decimals, ".00" dropped */
static void
put_value(PyroBuf *b, int64_t v, const char *unit)
{
	double		f;
	UnitKind	k = unit_kind(unit, &f);
	char		num[64];
	size_t		len;

	snprintf(num, sizeof(num), "%.2f", (double) v * f);
	len = strlen(num);
	if (len > 3 && strcmp(num + len - 3, ".00") == 0)
		num[len - 3] = '\0';
	if (strcmp(num, "-0") == 0 || strcmp(num, "0") == 0)
	{
		pyro_buf_append_str(b, "0");
		return;
	}
	pyro_buf_append_str(b, num);
	if (k == U_TIME)
		pyro_buf_append_byte(b, 's');
	else if (k == U_BYTES)
		pyro_buf_append_byte(b, 'B');
}

static void
put_percent(PyroBuf *b, int64_t v, int64_t total)
{
	double		pct = total != 0 ? 100.0 * (double) v / (double) total : 0;
	char		s[64];
	const char *p = s;

	if (fabs(pct) >= 99.95 && fabs(pct) <= 100.05)
		snprintf(s, sizeof(s), "100%%");
	else if (fabs(pct) >= 1)
		snprintf(s, sizeof(s), "%5.2f%%", pct);
	else
		snprintf(s, sizeof(s), "%5.2g%%", pct);
	while (*p == ' ')
		p++;
	pyro_buf_append_str(b, p);
}

/* pprof's palette: red for heavy, grey for light (score in [-1, 1]) */
static void
put_color(PyroBuf *b, double score, bool background)
{
	double		saturation = background ? 0.1 : 1.0;
	double		value = background ? 0.93 : 0.7;
	double		r,
				g,
				bl;

	score = fmax(-1.0, fmin(1.0, score));
	if (fabs(score) < 0.2)
		saturation *= fabs(score) / 0.2;
	if (score > 0)
		score = pow(score, 0.3);
	else if (score < 0)
		score = -pow(-score, 0.3);
	if (score < 0)
	{
		g = value;
		r = value * (1 + saturation * score);
	}
	else
	{
		r = value;
		g = value * (1 - saturation * score);
	}
	bl = value * (1 - saturation);
	pyro_buf_printf(b, "#%02x%02x%02x", (unsigned) (uint8_t) (r * 255.0),
					(unsigned) (uint8_t) (g * 255.0), (unsigned) (uint8_t) (bl * 255.0));
}

typedef struct NodeOrder
{
	int64_t		cum;
	int64_t		flat;
	uint32_t	node;
} NodeOrder;

static int
node_order_cmp(const void *a, const void *b)
{
	const NodeOrder *x = a;
	const NodeOrder *y = b;

	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

static int
edge_order_cmp(const void *a, const void *b)
{
	const DEdge *x = a;
	const DEdge *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return (x->dst > y->dst) - (x->dst < y->dst);
}

static void
put_node_label(PyroBuf *b, const Dot *d, const DNode *n, int64_t total, const char *unit)
{
	char		buf[NAME_BUF];
	const char *name = short_name(node_name(d, n, buf));

	if (n->address != 0)
		pyro_buf_printf(b, "%016llx\\n", (unsigned long long) n->address);
	/* "::" and "." become line breaks */
	for (const char *c = name; *c; c++)
	{
		if (c[0] == ':' && c[1] == ':')
		{
			pyro_buf_append_str(b, "\\n");
			c++;
		}
		else if (*c == '.')
			pyro_buf_append_str(b, "\\n");
		else
			put_escaped(b, c, 1, "\\n");
	}
	if (n->line != 0 && n->function != NONE && n->function < d->sym->nfunctions)
	{
		PyroStr		f = str_at(d->sym, d->sym->functions[n->function].filename);
		const char *base = f.ptr;

		for (uint32_t i = 0; i < f.len; i++)
			if (f.ptr[i] == '/')
				base = f.ptr + i + 1;
		pyro_buf_append_str(b, "\\n");
		put_escaped(b, base, (size_t) (f.ptr + f.len - base), "\\n");
		pyro_buf_printf(b, ":%lld", (long long) n->line);
	}
	pyro_buf_append_str(b, "\\n");
	if (n->flat == 0)
		pyro_buf_append_str(b, "0");
	else
	{
		put_value(b, n->flat, unit);
		pyro_buf_append_str(b, " (");
		put_percent(b, n->flat, total);
		pyro_buf_append_str(b, ")");
	}
	if (n->cum != n->flat)
	{
		pyro_buf_append_str(b, n->flat == 0 ? " " : "\\n");
		pyro_buf_append_str(b, "of ");
		put_value(b, n->cum, unit);
		pyro_buf_append_str(b, " (");
		put_percent(b, n->cum, total);
		pyro_buf_append_str(b, ")");
	}
}

PyroStatus
pyro_dot_render(const PyroProfile *p, const char *sample_type, const char *sample_unit,
				int64_t time_nanos, int max_nodes, PyroBuf *out, PyroError *err)
{
	Dot			d;
	int64_t		total = 0;
	int64_t		max_flat = 0;
	int64_t		kept_flat = 0;
	NodeOrder  *order = NULL;
	size_t		nkept;
	PyroStatus	st = PYRO_OK;
	char		title[NAME_BUF];
	char		buf[NAME_BUF];

	memset(&d, 0, sizeof(d));
	d.p = p;
	d.sym = p->sym;
	d.err = err;
	if (max_nodes <= 0)
		max_nodes = DEFAULT_NODES;

	/* pass 1: nodes, flat and cum */
	for (size_t i = 0; i < p->nsamples && st == PYRO_OK; i++)
	{
		const PyroSample *s = &p->samples[i];

		if (s->value == 0)
			continue;
		if (s->stack >= d.sym->nstacks)
		{
			st = pyro_error_set(err, PYRO_ECORRUPT, "sample refers to an unknown stack");
			break;
		}
		if ((st = stack_frames(&d, s->stack)) != PYRO_OK || d.nframes == 0)
			continue;
		total = (int64_t) ((uint64_t) total + (uint64_t) s->value);
		d.nodes[d.frames[0]].flat += s->value;
		for (size_t f = 0; f < d.nframes; f++)
		{
			DNode	   *n = &d.nodes[d.frames[f]];

			if (n->seen != i + 1)
			{
				n->seen = i + 1;
				n->cum += s->value;
			}
		}
	}
	if (st != PYRO_OK || d.nnodes == 0 || total == 0)
		goto done;

	/* the nodes kept: heaviest first, numbered in that order */
	order = pyro_malloc(d.nnodes * sizeof(NodeOrder));
	if (order == NULL)
	{
		st = oom(&d);
		goto done;
	}
	for (size_t i = 0; i < d.nnodes; i++)
	{
		order[i].cum = d.nodes[i].cum;
		order[i].flat = d.nodes[i].flat;
		order[i].node = (uint32_t) i;
	}
	qsort(order, d.nnodes, sizeof(NodeOrder), node_order_cmp);
	nkept = d.nnodes < (size_t) max_nodes ? d.nnodes : (size_t) max_nodes;
	for (size_t i = 0; i < nkept; i++)
	{
		DNode	   *n = &d.nodes[order[i].node];

		n->out = (uint32_t) (i + 1);
		kept_flat += n->flat;
		if (llabs(n->flat) > max_flat)
			max_flat = llabs(n->flat);
	}

	/* pass 2: edges between kept nodes, residual across dropped ones */
	for (size_t i = 0; i < p->nsamples && st == PYRO_OK; i++)
	{
		const PyroSample *s = &p->samples[i];
		uint32_t	callee = NONE;
		bool		gap = false;
		bool		adjacent_same_loc = false;

		if (s->value == 0)
			continue;
		if ((st = stack_frames(&d, s->stack)) != PYRO_OK)
			break;
		for (size_t f = 0; f < d.nframes && st == PYRO_OK; f++)
		{
			uint32_t	n = d.frames[f];

			if (d.nodes[n].out == 0)
			{
				if (callee != NONE)
					gap = true;
				continue;
			}
			if (callee != NONE && callee != n)
				st = add_edge(&d, n, callee, gap, !gap && adjacent_same_loc, s->value, i + 1);
			callee = n;
			gap = false;
			adjacent_same_loc = d.same_loc[f];
		}
	}
	if (st != PYRO_OK)
		goto done;

	/* the text */
	snprintf(title, sizeof(title), "unnamed");
	if (d.sym->nmappings > 1)
	{
		PyroStr		f = str_at(d.sym, d.sym->mappings[1].filename);
		const char *base = f.ptr;

		for (uint32_t i = 0; i < f.len; i++)
			if (f.ptr[i] == '/')
				base = f.ptr + i + 1;
		if (f.ptr + f.len > base)
			snprintf(title, sizeof(title), "%.*s", (int) (f.ptr + f.len - base), base);
	}
	pyro_buf_append_str(out, "digraph \"");
	put_escaped(out, title, strlen(title), "\\l");
	pyro_buf_append_str(out, "\" {\n");
	pyro_buf_append_str(out, "node [style=filled fillcolor=\"#f8f8f8\"]\n");
	{
		PyroBuf		legend;
		char		when[64] = "";

		pyro_buf_init(&legend);
		if (strcmp(title, "unnamed") != 0)
			pyro_buf_printf(&legend, "File: %s\n", title);
		pyro_buf_printf(&legend, "Type: %s\n", sample_type ? sample_type : "");
		if (time_nanos != 0)
		{
			time_t		t = (time_t) (time_nanos / 1000000000);
			struct tm	tm;
			static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
			"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

			if (gmtime_r(&t, &tm) != NULL)
				snprintf(when, sizeof(when), "%s %d, %d at %d:%02d%s (UTC)", mon[tm.tm_mon],
						 tm.tm_mday, tm.tm_year + 1900,
						 tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12, tm.tm_min,
						 tm.tm_hour < 12 ? "am" : "pm");
			pyro_buf_printf(&legend, "Time: %s\n", when);
		}
		pyro_buf_append_str(&legend, "Showing nodes accounting for ");
		put_value(&legend, kept_flat, sample_unit);
		pyro_buf_append_str(&legend, ", ");
		put_percent(&legend, kept_flat, total);
		pyro_buf_append_str(&legend, " of ");
		put_value(&legend, total, sample_unit);
		pyro_buf_append_str(&legend, " total\n");
		if (nkept < d.nnodes)
			pyro_buf_printf(&legend, "Showing top %zu nodes out of %zu\n", nkept, d.nnodes);
		pyro_buf_append_str(&legend, "\nSee https://git.io/JfYMW for how to read the graph");

		/* the first legend line names the legend node */
		pyro_buf_append_str(out, "subgraph cluster_L { \"");
		{
			const char *nl = memchr(legend.data, '\n', legend.len);

			put_escaped(out, (const char *) legend.data,
						nl ? (size_t) (nl - (const char *) legend.data) : legend.len, "\\l");
		}
		pyro_buf_append_str(out, "\" [shape=box fontsize=16 label=\"");
		put_escaped(out, (const char *) legend.data, legend.len, "\\l");
		pyro_buf_append_str(out, "\\l\"");
		if (strcmp(title, "unnamed") != 0)
		{
			pyro_buf_append_str(out, " tooltip=\"");
			put_escaped(out, title, strlen(title), "\\l");
			pyro_buf_append_str(out, "\"");
		}
		pyro_buf_append_str(out, "] }\n");
		if (legend.oom)
			out->oom = true;
		pyro_buf_free(&legend);
	}

	for (size_t i = 0; i < nkept; i++)
	{
		const DNode *n = &d.nodes[order[i].node];
		int			fs = 8;
		const char *full = node_name(&d, n, buf);

		if (n->flat != 0 && max_flat > 0)
			fs = 8 + (int) ceil(16 * sqrt((double) llabs(n->flat) / (double) max_flat));
		pyro_buf_printf(out, "N%zu [label=\"", i + 1);
		put_node_label(out, &d, n, total, sample_unit);
		pyro_buf_printf(out, "\" id=\"node%zu\" fontsize=%d shape=box tooltip=\"", i + 1, fs);
		put_escaped(out, full, strlen(full), "\\l");
		pyro_buf_append_str(out, " (");
		put_value(out, n->cum, sample_unit);
		pyro_buf_append_str(out, ")\" color=\"");
		put_color(out, (double) n->cum / (double) total, false);
		pyro_buf_append_str(out, "\" fillcolor=\"");
		put_color(out, (double) n->cum / (double) total, true);
		pyro_buf_append_str(out, "\"]\n");
	}

	if (d.nedges > 0)
		qsort(d.edges, d.nedges, sizeof(DEdge), edge_order_cmp);
	for (size_t i = 0; i < d.nedges; i++)
	{
		const DEdge *e = &d.edges[i];
		const DNode *src = &d.nodes[e->src];
		const DNode *dst = &d.nodes[e->dst];
		double		frac = (double) llabs(e->weight) / (double) llabs(total);
		int			weight = 1 + (int) fmin(100.0 * frac, 100.0);
		double		pen = 1 + fmin(5.0 * frac, 5.0);
		char		sname[NAME_BUF];
		char		dname[NAME_BUF];
		PyroBuf		tip;

		node_name(&d, src, sname);
		node_name(&d, dst, dname);
		pyro_buf_init(&tip);
		put_escaped(&tip, sname, strlen(sname), "\\l");
		pyro_buf_append_str(&tip, e->residual ? " ... " : " -> ");
		put_escaped(&tip, dname, strlen(dname), "\\l");
		pyro_buf_append_str(&tip, " (");
		put_value(&tip, e->weight, sample_unit);
		pyro_buf_append_str(&tip, ")");

		pyro_buf_printf(out, "N%u -> N%u [label=\" ", src->out, dst->out);
		put_value(out, e->weight, sample_unit);
		if (e->inline_)
			pyro_buf_append_str(out, "\\n (inline)");
		pyro_buf_append_str(out, "\"");
		if (weight > 1)
			pyro_buf_printf(out, " weight=%d", weight);
		if (pen > 1)
			pyro_buf_printf(out, " penwidth=%g", round(pen * 100) / 100);
		pyro_buf_append_str(out, " color=\"");
		put_color(out, frac, false);
		pyro_buf_append_str(out, "\" tooltip=\"");
		pyro_buf_append(out, tip.data, tip.len);
		pyro_buf_append_str(out, "\" labeltooltip=\"");
		pyro_buf_append(out, tip.data, tip.len);
		pyro_buf_append_str(out, "\"");
		if (e->residual)
			pyro_buf_append_str(out, " style=\"dotted\"");
		pyro_buf_append_str(out, "]\n");
		if (tip.oom)
			out->oom = true;
		pyro_buf_free(&tip);
	}
	pyro_buf_append_str(out, "}\n");
	if (out->oom)
		st = oom(&d);

done:
	pyro_free(order);
	pyro_free(d.nodes);
	pyro_free(d.node_tab.slots);
	pyro_free(d.edges);
	pyro_free(d.edge_tab.slots);
	pyro_free(d.frames);
	pyro_free(d.same_loc);
	return st;
}

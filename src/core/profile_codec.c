/*-------------------------------------------------------------------------
 *
 * profile_codec.c
 *	  The "PYP1" binary format of one stored single-value profile: the
 *	  encoder and a validating decoder.
 *
 * Format (version 1).  All integers are unsigned LEB128 varints (protobuf
 * style) unless marked "zigzag" (signed, protobuf zigzag then varint).
 * Tables include their sentinels, so every index in the file is a plain
 * position in its table, exactly as in PyroSymbols.
 *
 *	magic		4 bytes "PYP1"
 *	version		1 byte, = 1
 *	flags		varint; bit 0 (0x01): samples carry span ids.  Other bits
 *				must be zero.
 *
 *	strings		varint count (>= 1), then per string: varint byte length,
 *				the bytes (any bytes, no terminator).  String 0 must be
 *				empty.
 *	mappings	varint count (>= 1), then per mapping: memory_start,
 *				memory_limit, file_offset, filename (string index),
 *				build_id (string index), flags (PYRO_MAPPING_*).  Mapping
 *				0 must be all zero (the "no mapping" sentinel).
 *	functions	varint count, then per function: name, system_name,
 *				filename (string indexes), zigzag start_line.
 *	locations	varint count, varint total number of lines of all
 *				locations, then per location: mapping (index, 0 = none),
 *				address, varint nlines, then nlines times: function index,
 *				zigzag line.  Lines are innermost first, as in pprof.  The
 *				per-location counts must add up to the total.
 *	stacks		varint count (>= 1), then per node i: varint delta
 *				(= i - parent), varint location index.  Node 0 is the
 *				root and is written as (0, 0); every other node has
 *				1 <= delta <= i, i.e. parent < i.
 *	samples		varint count, then per sample: zigzag (stack - stack of
 *				the previous sample, the first one relative to 0), zigzag
 *				value, and, only when flag 0x01 is set, varint span id.
 *				Delta-coding the stack keeps the stack-sorted samples of a
 *				merged profile at one or two bytes each.  The decoder does
 *				not require any order.
 *	metadata	sample_type, sample_unit, period_type, period_unit (string
 *				indexes), zigzag period, zigzag time_nanos, zigzag
 *				duration_nanos.
 *
 * Nothing may follow the metadata.
 *
 * The encoder writes only what the samples reach: the stack nodes of the
 * samples and all their ancestors, their locations, those locations'
 * mappings and functions, and the strings any of these (or the metadata)
 * refer to.  Each table is renumbered densely in its original order, so the
 * output is deterministic, and decode followed by encode reproduces an
 * encoder's output byte for byte.
 *
 * The decoder trusts nothing: every count is checked against the bytes
 * left (using the smallest possible encoding of one entry), so a small
 * input can never make it allocate much; every index is checked against
 * its table; parents must precede children; the sentinels must be present
 * and there must be no trailing bytes.  Stored tables are unique, so the
 * decoder appends without interning.
 *
 *-------------------------------------------------------------------------
 */
#include "profile.h"

#define PYP1_MAGIC		"PYP1"
#define PYP1_VERSION	1
#define PYP1_FLAG_SPANS	0x01

/* ----------------------------------------------------------------
 * encoder
 * ----------------------------------------------------------------
 */

/*
 * Renumbering maps of one encode: for each table, map[i] = new index + 1
 * for reached entries, 0 for the rest.
 */
typedef struct EncodeMaps
{
	uint32_t   *strings;
	uint32_t   *mappings;
	uint32_t   *functions;
	uint32_t   *locations;
	uint32_t   *stacks;
	uint32_t	nstrings;
	uint32_t	nmappings;
	uint32_t	nfunctions;
	uint32_t	nlocations;
	uint32_t	nstacks;
	uint64_t	nlines;			/* lines of the reached locations */
	uint32_t   *all;			/* one allocation backing the maps */
} EncodeMaps;

/* Turn marks (non-zero) into dense new indexes + 1; returns the count. */
static uint32_t
renumber(uint32_t *map, uint32_t n)
{
	uint32_t	next = 0;

	for (uint32_t i = 0; i < n; i++)
	{
		if (map[i])
			map[i] = ++next;
	}
	return next;
}

#define MARK_STRING(s, what) \
	do { \
		if ((s) >= sym->nstrings) \
			return pyro_error_set(err, PYRO_EINVAL, "%s refers to unknown string %u", \
								  (what), (unsigned) (s)); \
		m->strings[(s)] = 1; \
	} while (0)

/*
 * Mark every symbol the samples reach, validating indexes on the way (the
 * profile is in memory, but a broken one must not make us read out of
 * bounds or loop), then renumber each table densely.
 */
static PyroStatus
mark_reached(const PyroProfile *p, EncodeMaps *m, PyroError *err)
{
	const PyroSymbols *sym = p->sym;
	size_t		total = 0;

	if (!pyro_size_add(total, sym->nstrings, &total) ||
		!pyro_size_add(total, sym->nmappings, &total) ||
		!pyro_size_add(total, sym->nfunctions, &total) ||
		!pyro_size_add(total, sym->nlocations, &total) ||
		!pyro_size_add(total, sym->nstacks, &total))
		return pyro_error_set(err, PYRO_ENOMEM, "profile symbol tables are too large");
	if (sym->nstrings == 0 || sym->nmappings == 0 || sym->nstacks == 0)
		return pyro_error_set(err, PYRO_EINVAL, "profile symbols lack their sentinels");
	m->all = pyro_calloc(total, sizeof(uint32_t));
	if (m->all == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory encoding a profile");
	m->strings = m->all;
	m->mappings = m->strings + sym->nstrings;
	m->functions = m->mappings + sym->nmappings;
	m->locations = m->functions + sym->nfunctions;
	m->stacks = m->locations + sym->nlocations;

	/* stacks: the samples' nodes and all their ancestors */
	m->stacks[0] = 1;
	for (size_t i = 0; i < p->nsamples; i++)
	{
		uint32_t	s = p->samples[i].stack;

		if (s >= sym->nstacks)
			return pyro_error_set(err, PYRO_EINVAL, "sample %zu refers to unknown stack node %u",
								  i, (unsigned) s);
		while (!m->stacks[s])
		{
			const PyroStackNode *n = &sym->stacks[s];

			if (n->parent >= s)
				return pyro_error_set(err, PYRO_EINVAL, "stack node %u has parent %u, not below its own index",
									  (unsigned) s, (unsigned) n->parent);
			if (n->location >= sym->nlocations)
				return pyro_error_set(err, PYRO_EINVAL, "stack node %u refers to unknown location %u",
									  (unsigned) s, (unsigned) n->location);
			m->stacks[s] = 1;
			m->locations[n->location] = 1;
			s = n->parent;
		}
	}

	/* locations: their mappings and functions */
	m->mappings[0] = 1;
	m->nlines = 0;
	for (uint32_t i = 0; i < sym->nlocations; i++)
	{
		const PyroLocation *l = &sym->locations[i];

		if (!m->locations[i])
			continue;
		if (l->mapping >= sym->nmappings)
			return pyro_error_set(err, PYRO_EINVAL, "location %u refers to unknown mapping %u",
								  (unsigned) i, (unsigned) l->mapping);
		if ((uint64_t) l->first_line + l->nlines > sym->nlines)
			return pyro_error_set(err, PYRO_EINVAL, "location %u has lines out of range",
								  (unsigned) i);
		m->mappings[l->mapping] = 1;
		m->nlines += l->nlines;
		for (uint32_t j = 0; j < l->nlines; j++)
		{
			uint32_t	f = sym->lines[l->first_line + j].function;

			if (f >= sym->nfunctions)
				return pyro_error_set(err, PYRO_EINVAL, "location %u refers to unknown function %u",
									  (unsigned) i, (unsigned) f);
			m->functions[f] = 1;
		}
	}

	/* strings of mappings, functions and metadata */
	m->strings[0] = 1;
	for (uint32_t i = 0; i < sym->nmappings; i++)
	{
		if (!m->mappings[i])
			continue;
		MARK_STRING(sym->mappings[i].filename, "mapping");
		MARK_STRING(sym->mappings[i].build_id, "mapping");
	}
	for (uint32_t i = 0; i < sym->nfunctions; i++)
	{
		if (!m->functions[i])
			continue;
		MARK_STRING(sym->functions[i].name, "function");
		MARK_STRING(sym->functions[i].system_name, "function");
		MARK_STRING(sym->functions[i].filename, "function");
	}
	MARK_STRING(p->sample_type, "sample type");
	MARK_STRING(p->sample_unit, "sample unit");
	MARK_STRING(p->period_type, "period type");
	MARK_STRING(p->period_unit, "period unit");

	m->nstrings = renumber(m->strings, sym->nstrings);
	m->nmappings = renumber(m->mappings, sym->nmappings);
	m->nfunctions = renumber(m->functions, sym->nfunctions);
	m->nlocations = renumber(m->locations, sym->nlocations);
	m->nstacks = renumber(m->stacks, sym->nstacks);
	return PYRO_OK;
}

/*
 * Encode p as PYP1, appending to out.  Only reached symbols are written
 * (see the file header).
 */
PyroStatus
pyro_profile_encode(const PyroProfile *p, PyroBuf *out, PyroError *err)
{
	const PyroSymbols *sym;
	EncodeMaps	m;
	PyroStatus	st;
	bool		spans = false;
	uint32_t	prev;

	memset(&m, 0, sizeof(m));
	if (p == NULL || p->sym == NULL)
		return pyro_error_set(err, PYRO_EINVAL, "profile has no symbols");
	sym = p->sym;
	st = mark_reached(p, &m, err);
	if (st != PYRO_OK)
	{
		pyro_free(m.all);
		return st;
	}
	for (size_t i = 0; i < p->nsamples && !spans; i++)
		spans = p->samples[i].span_id != 0;

	pyro_buf_append(out, PYP1_MAGIC, 4);
	pyro_buf_append_byte(out, PYP1_VERSION);
	pyro_buf_append_varint(out, spans ? PYP1_FLAG_SPANS : 0);

	pyro_buf_append_varint(out, m.nstrings);
	for (uint32_t i = 0; i < sym->nstrings; i++)
	{
		if (!m.strings[i])
			continue;
		pyro_buf_append_varint(out, sym->strings[i].len);
		pyro_buf_append(out, sym->strings[i].ptr, sym->strings[i].len);
	}

	pyro_buf_append_varint(out, m.nmappings);
	for (uint32_t i = 0; i < sym->nmappings; i++)
	{
		const PyroMapping *mp = &sym->mappings[i];

		if (!m.mappings[i])
			continue;
		pyro_buf_append_varint(out, mp->memory_start);
		pyro_buf_append_varint(out, mp->memory_limit);
		pyro_buf_append_varint(out, mp->file_offset);
		pyro_buf_append_varint(out, m.strings[mp->filename] - 1);
		pyro_buf_append_varint(out, m.strings[mp->build_id] - 1);
		pyro_buf_append_varint(out, mp->flags);
	}

	pyro_buf_append_varint(out, m.nfunctions);
	for (uint32_t i = 0; i < sym->nfunctions; i++)
	{
		const PyroFunction *f = &sym->functions[i];

		if (!m.functions[i])
			continue;
		pyro_buf_append_varint(out, m.strings[f->name] - 1);
		pyro_buf_append_varint(out, m.strings[f->system_name] - 1);
		pyro_buf_append_varint(out, m.strings[f->filename] - 1);
		pyro_buf_append_varint(out, pyro_zigzag_enc(f->start_line));
	}

	pyro_buf_append_varint(out, m.nlocations);
	pyro_buf_append_varint(out, m.nlines);
	for (uint32_t i = 0; i < sym->nlocations; i++)
	{
		const PyroLocation *l = &sym->locations[i];

		if (!m.locations[i])
			continue;
		pyro_buf_append_varint(out, m.mappings[l->mapping] - 1);
		pyro_buf_append_varint(out, l->address);
		pyro_buf_append_varint(out, l->nlines);
		for (uint32_t j = 0; j < l->nlines; j++)
		{
			const PyroLine *ln = &sym->lines[l->first_line + j];

			pyro_buf_append_varint(out, m.functions[ln->function] - 1);
			pyro_buf_append_varint(out, pyro_zigzag_enc(ln->line));
		}
	}

	pyro_buf_append_varint(out, m.nstacks);
	pyro_buf_append_varint(out, 0);
	pyro_buf_append_varint(out, 0);
	for (uint32_t i = 1; i < sym->nstacks; i++)
	{
		const PyroStackNode *n = &sym->stacks[i];

		if (!m.stacks[i])
			continue;
		/* both are new index + 1, so the difference is the new delta */
		pyro_buf_append_varint(out, m.stacks[i] - m.stacks[n->parent]);
		pyro_buf_append_varint(out, m.locations[n->location] - 1);
	}

	pyro_buf_append_varint(out, p->nsamples);
	prev = 0;
	for (size_t i = 0; i < p->nsamples; i++)
	{
		const PyroSample *s = &p->samples[i];
		uint32_t	ns = m.stacks[s->stack] - 1;

		pyro_buf_append_varint(out, pyro_zigzag_enc((int64_t) ns - (int64_t) prev));
		pyro_buf_append_varint(out, pyro_zigzag_enc(s->value));
		if (spans)
			pyro_buf_append_varint(out, s->span_id);
		prev = ns;
	}

	pyro_buf_append_varint(out, m.strings[p->sample_type] - 1);
	pyro_buf_append_varint(out, m.strings[p->sample_unit] - 1);
	pyro_buf_append_varint(out, m.strings[p->period_type] - 1);
	pyro_buf_append_varint(out, m.strings[p->period_unit] - 1);
	pyro_buf_append_varint(out, pyro_zigzag_enc(p->period));
	pyro_buf_append_varint(out, pyro_zigzag_enc(p->time_nanos));
	pyro_buf_append_varint(out, pyro_zigzag_enc(p->duration_nanos));

	pyro_free(m.all);
	if (out->oom)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory encoding a profile");
	return PYRO_OK;
}

/* ----------------------------------------------------------------
 * decoder
 * ----------------------------------------------------------------
 */

typedef struct Reader
{
	const uint8_t *p;
	const uint8_t *end;
	PyroError  *err;
} Reader;

static inline size_t
remaining(const Reader *r)
{
	return (size_t) (r->end - r->p);
}

/* Read a varint; on failure report which part of the data was bad. */
static inline bool
rd_varint(Reader *r, uint64_t *v, const char *what)
{
	if (pyro_read_varint(&r->p, r->end, v))
		return true;
	pyro_error_set(r->err, PYRO_ECORRUPT, "profile data is truncated or malformed in %s", what);
	return false;
}

/* Read an index that must be below limit. */
static inline bool
rd_index(Reader *r, uint32_t limit, uint32_t *out, const char *what,
		 const char *table, uint32_t entry)
{
	uint64_t	v;

	if (!rd_varint(r, &v, what))
		return false;
	if (v >= limit)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "%s %u refers to unknown %s %llu",
					   what, (unsigned) entry, table, (unsigned long long) v);
		return false;
	}
	*out = (uint32_t) v;
	return true;
}

/*
 * Read a table's entry count and check that count entries of at least
 * min_size bytes each can fit in what is left (so that a tiny input never
 * makes us allocate much).
 */
static bool
rd_count(Reader *r, size_t min_size, uint32_t *out, const char *what)
{
	uint64_t	v;

	if (!rd_varint(r, &v, what))
		return false;
	if (v >= PYRO_NO_INDEX || v > remaining(r) / min_size)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "%s count %llu exceeds the remaining %zu bytes of profile data",
					   what, (unsigned long long) v, remaining(r));
		return false;
	}
	*out = (uint32_t) v;
	return true;
}

/* The body of pyro_profile_decode; fills the already created profile. */
static bool
decode_into(Reader *r, PyroProfile *prof)
{
	PyroSymbols *sym = prof->sym;
	uint64_t	v;
	uint64_t	flags;
	uint32_t	n;
	uint32_t	nlines_total;
	uint32_t	lines_seen;
	uint32_t	prev;

	if (remaining(r) < 5 || memcmp(r->p, PYP1_MAGIC, 4) != 0)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "profile data does not start with the PYP1 magic");
		return false;
	}
	if (r->p[4] != PYP1_VERSION)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "unsupported profile format version %u",
					   (unsigned) r->p[4]);
		return false;
	}
	r->p += 5;
	if (!rd_varint(r, &flags, "header"))
		return false;
	if (flags & ~(uint64_t) PYP1_FLAG_SPANS)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "unknown profile flags 0x%llx",
					   (unsigned long long) flags);
		return false;
	}

	/* strings; the sentinel "" already exists in sym */
	if (!rd_count(r, 1, &n, "string"))
		return false;
	if (n == 0)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "string table is empty");
		return false;
	}
	if (!pyro_sym_reserve(sym, n - 1, 0, 0, 0, 0, 0))
		goto oom;
	for (uint32_t i = 0; i < n; i++)
	{
		uint64_t	len;

		if (!rd_varint(r, &len, "string table"))
			return false;
		if (len > remaining(r))
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "string table entry %u is longer than the remaining data",
						   (unsigned) i);
			return false;
		}
		if (i == 0)
		{
			if (len != 0)
			{
				pyro_error_set(r->err, PYRO_ECORRUPT, "string table entry 0 is not empty");
				return false;
			}
			continue;
		}
		if (pyro_sym_append_string(sym, (const char *) r->p, (size_t) len) == PYRO_NO_INDEX)
			goto oom;
		r->p += len;
	}

	/* mappings; the sentinel already exists */
	if (!rd_count(r, 6, &n, "mapping"))
		return false;
	if (n == 0)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "mapping table lacks the sentinel entry");
		return false;
	}
	if (!pyro_sym_reserve(sym, 0, n - 1, 0, 0, 0, 0))
		goto oom;
	for (uint32_t i = 0; i < n; i++)
	{
		PyroMapping mp;

		if (!rd_varint(r, &mp.memory_start, "mapping table") ||
			!rd_varint(r, &mp.memory_limit, "mapping table") ||
			!rd_varint(r, &mp.file_offset, "mapping table") ||
			!rd_index(r, sym->nstrings, &mp.filename, "mapping", "string", i) ||
			!rd_index(r, sym->nstrings, &mp.build_id, "mapping", "string", i) ||
			!rd_varint(r, &v, "mapping table"))
			return false;
		if (v > UINT32_MAX)
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "mapping %u has invalid flags", (unsigned) i);
			return false;
		}
		mp.flags = (uint32_t) v;
		if (i == 0)
		{
			if (mp.memory_start || mp.memory_limit || mp.file_offset ||
				mp.filename || mp.build_id || mp.flags)
			{
				pyro_error_set(r->err, PYRO_ECORRUPT, "mapping 0 is not the empty sentinel");
				return false;
			}
			continue;
		}
		sym->mappings[sym->nmappings++] = mp;
	}

	/* functions */
	if (!rd_count(r, 4, &n, "function"))
		return false;
	if (!pyro_sym_reserve(sym, 0, 0, n, 0, 0, 0))
		goto oom;
	for (uint32_t i = 0; i < n; i++)
	{
		PyroFunction f;

		if (!rd_index(r, sym->nstrings, &f.name, "function", "string", i) ||
			!rd_index(r, sym->nstrings, &f.system_name, "function", "string", i) ||
			!rd_index(r, sym->nstrings, &f.filename, "function", "string", i) ||
			!rd_varint(r, &v, "function table"))
			return false;
		f.start_line = pyro_zigzag_dec(v);
		sym->functions[sym->nfunctions++] = f;
	}

	/* locations and their lines */
	if (!rd_count(r, 3, &n, "location") ||
		!rd_count(r, 2, &nlines_total, "line"))
		return false;
	if (!pyro_sym_reserve(sym, 0, 0, 0, n, nlines_total, 0))
		goto oom;
	lines_seen = 0;
	for (uint32_t i = 0; i < n; i++)
	{
		PyroLocation *l = &sym->locations[sym->nlocations];
		uint64_t	nl;

		if (!rd_index(r, sym->nmappings, &l->mapping, "location", "mapping", i) ||
			!rd_varint(r, &l->address, "location table") ||
			!rd_varint(r, &nl, "location table"))
			return false;
		if (nl > nlines_total - lines_seen)
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "location %u has more lines than the line count allows",
						   (unsigned) i);
			return false;
		}
		l->first_line = lines_seen;
		l->nlines = (uint32_t) nl;
		for (uint32_t j = 0; j < l->nlines; j++)
		{
			PyroLine   *ln = &sym->lines[lines_seen + j];

			if (!rd_index(r, sym->nfunctions, &ln->function, "location", "function", i) ||
				!rd_varint(r, &v, "location table"))
				return false;
			ln->line = pyro_zigzag_dec(v);
		}
		lines_seen += l->nlines;
		sym->nlines = lines_seen;
		sym->nlocations++;
	}
	if (lines_seen != nlines_total)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "locations have %u lines, expected %u",
					   (unsigned) lines_seen, (unsigned) nlines_total);
		return false;
	}

	/* stack nodes; the root already exists */
	if (!rd_count(r, 2, &n, "stack node"))
		return false;
	if (n == 0)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "stack node table lacks the root");
		return false;
	}
	if (!pyro_sym_reserve(sym, 0, 0, 0, 0, 0, n - 1))
		goto oom;
	for (uint32_t i = 0; i < n; i++)
	{
		uint64_t	delta;
		uint64_t	loc;

		if (!rd_varint(r, &delta, "stack node table") ||
			!rd_varint(r, &loc, "stack node table"))
			return false;
		if (i == 0)
		{
			if (delta != 0 || loc != 0)
			{
				pyro_error_set(r->err, PYRO_ECORRUPT, "stack node 0 is not the root");
				return false;
			}
			continue;
		}
		if (delta == 0)
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "stack node %u is its own parent",
						   (unsigned) i);
			return false;
		}
		if (delta > i)
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "stack node %u has parent delta %llu beyond the root",
						   (unsigned) i, (unsigned long long) delta);
			return false;
		}
		if (loc >= sym->nlocations)
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "stack node %u refers to unknown location %llu",
						   (unsigned) i, (unsigned long long) loc);
			return false;
		}
		sym->stacks[sym->nstacks].parent = i - (uint32_t) delta;
		sym->stacks[sym->nstacks].location = (uint32_t) loc;
		sym->nstacks++;
	}

	/* samples */
	if (!rd_count(r, (flags & PYP1_FLAG_SPANS) ? 3 : 2, &n, "sample"))
		return false;
	if (n > 0 && !pyro_grow((void **) &prof->samples, &prof->samples_cap, n,
							sizeof(PyroSample)))
		goto oom;
	prev = 0;
	for (uint32_t i = 0; i < n; i++)
	{
		PyroSample *s = &prof->samples[i];
		int64_t		d;
		int64_t		st;

		if (!rd_varint(r, &v, "sample table"))
			return false;
		d = pyro_zigzag_dec(v);
		if (d > (int64_t) sym->nstacks || d < -(int64_t) sym->nstacks ||
			(st = (int64_t) prev + d) < 0 || st >= (int64_t) sym->nstacks)
		{
			pyro_error_set(r->err, PYRO_ECORRUPT, "sample %u refers to an unknown stack node",
						   (unsigned) i);
			return false;
		}
		s->stack = (uint32_t) st;
		prev = s->stack;
		if (!rd_varint(r, &v, "sample table"))
			return false;
		s->value = pyro_zigzag_dec(v);
		s->span_id = 0;
		if ((flags & PYP1_FLAG_SPANS) && !rd_varint(r, &s->span_id, "sample table"))
			return false;
		prof->nsamples = i + 1;
	}

	/* metadata */
	if (!rd_index(r, sym->nstrings, &prof->sample_type, "metadata", "string", 0) ||
		!rd_index(r, sym->nstrings, &prof->sample_unit, "metadata", "string", 1) ||
		!rd_index(r, sym->nstrings, &prof->period_type, "metadata", "string", 2) ||
		!rd_index(r, sym->nstrings, &prof->period_unit, "metadata", "string", 3))
		return false;
	if (!rd_varint(r, &v, "metadata"))
		return false;
	prof->period = pyro_zigzag_dec(v);
	if (!rd_varint(r, &v, "metadata"))
		return false;
	prof->time_nanos = pyro_zigzag_dec(v);
	if (!rd_varint(r, &v, "metadata"))
		return false;
	prof->duration_nanos = pyro_zigzag_dec(v);

	if (r->p != r->end)
	{
		pyro_error_set(r->err, PYRO_ECORRUPT, "%zu bytes of trailing data after the profile",
					   remaining(r));
		return false;
	}
	return true;

oom:
	pyro_error_set(r->err, PYRO_ENOMEM, "out of memory decoding a profile");
	return false;
}

/*
 * Decode a PYP1 profile into a new profile that owns fresh symbols.  Bad
 * input yields PYRO_ECORRUPT with a message naming what was wrong.
 */
PyroStatus
pyro_profile_decode(const uint8_t *data, size_t len, PyroProfile **out,
					PyroError *err)
{
	PyroSymbols *sym;
	PyroProfile *prof;
	Reader		r;
	PyroError	local;

	*out = NULL;
	if (err == NULL)
		err = &local;
	pyro_error_clear(err);
	sym = pyro_symbols_create();
	if (sym == NULL)
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding a profile");
	prof = pyro_profile_create(sym, true);
	if (prof == NULL)
	{
		pyro_symbols_free(sym);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory decoding a profile");
	}
	if (data == NULL)
	{
		static const uint8_t empty[1] = {0};

		data = empty;
		len = 0;
	}
	r.p = data;
	r.end = data + len;
	r.err = err;
	if (!decode_into(&r, prof))
	{
		pyro_profile_free(prof);
		return err->code != PYRO_OK ? err->code :
			pyro_error_set(err, PYRO_ECORRUPT, "invalid profile data");
	}
	*out = prof;
	return PYRO_OK;
}

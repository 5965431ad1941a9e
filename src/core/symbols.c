/*-------------------------------------------------------------------------
 *
 * symbols.c
 *	  De-duplicated symbol tables (PyroSymbols): the string arena, the
 *	  interning hash indexes and frame display names.
 *
 * Interning is the hot path of ingest and of every query, so each table
 * has an open-addressing hash index (linear probing) whose slots hold the
 * high 32 bits of the entry's hash next to the entry index: a probe hashes
 * the key once and compares contents only when the stored hash matches.
 * Indexes are built lazily on the first intern call, and they catch up with
 * entries appended behind their back (by the codec decoder, or by
 * pyro_sym_append_string) before every lookup, so appending directly to the
 * tables never leaves an index stale.
 *
 * String bytes live in an arena of large blocks, so PyroStr pointers stay
 * valid for the life of the symbols; every string is followed by a NUL for
 * the convenience of callers that need C strings (strings may contain any
 * byte, including NUL, so the length is authoritative).
 *
 *-------------------------------------------------------------------------
 */
#include "profile.h"

#include <inttypes.h>
#include <stdio.h>

#define ARENA_BLOCK_MIN		4096	/* doubles per block up to 16 MiB */

typedef struct PyroArenaBlock
{
	struct PyroArenaBlock *next;
	size_t		used;
	size_t		cap;
	char		data[];
} PyroArenaBlock;

/*
 * Hash index.  A slot is (hash tag << 32) | (entry index + 1); 0 is empty.
 * The slot position is derived from the tag, so the table can be resized
 * without recomputing hashes.
 */
struct PyroSymIndex
{
	uint64_t   *slots;
	size_t		mask;			/* number of slots - 1 */
	size_t		count;			/* occupied slots */
	uint32_t	nindexed;		/* table entries [0, nindexed) are indexed */
};

/* ----------------------------------------------------------------
 * hashing of table entries
 * ----------------------------------------------------------------
 */

static inline uint64_t
fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDULL;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ULL;
	h ^= h >> 33;
	return h;
}

static inline uint64_t
hash_string(const char *s, size_t len)
{
	return pyro_hash_bytes(s, len, 0x5354524EULL);
}

static inline uint64_t
hash_mapping(const PyroMapping *m)
{
	uint64_t	h = 0x4D415050ULL;

	h = pyro_hash_mix(h, m->memory_start);
	h = pyro_hash_mix(h, m->memory_limit);
	h = pyro_hash_mix(h, m->file_offset);
	h = pyro_hash_mix(h, ((uint64_t) m->filename << 32) | m->build_id);
	h = pyro_hash_mix(h, m->flags);
	return h;
}

static inline uint64_t
hash_function(const PyroFunction *f)
{
	uint64_t	h = 0x46554E43ULL;

	h = pyro_hash_mix(h, ((uint64_t) f->name << 32) | f->system_name);
	h = pyro_hash_mix(h, ((uint64_t) f->filename << 32) ^ (uint64_t) f->start_line);
	h = pyro_hash_mix(h, (uint64_t) f->start_line);
	return h;
}

static inline uint64_t
hash_location(uint32_t mapping, uint64_t address, const PyroLine *lines,
			  uint32_t nlines)
{
	uint64_t	h = 0x4C4F4341ULL;

	h = pyro_hash_mix(h, ((uint64_t) mapping << 32) | nlines);
	h = pyro_hash_mix(h, address);
	for (uint32_t i = 0; i < nlines; i++)
		h = pyro_hash_mix(h, ((uint64_t) lines[i].function << 40) ^
						  (uint64_t) lines[i].line);
	return h;
}

static inline uint64_t
hash_stack(uint32_t parent, uint32_t location)
{
	return fmix64((((uint64_t) parent << 32) | location) ^ 0x9E3779B97F4A7C15ULL);
}

/* ----------------------------------------------------------------
 * generic index operations
 * ----------------------------------------------------------------
 */

static PyroSymIndex *
index_create(size_t expected)
{
	PyroSymIndex *ix = pyro_calloc(1, sizeof(PyroSymIndex));
	size_t		nslots = 64;

	if (ix == NULL)
		return NULL;
	while (nslots < expected * 2 && nslots < ((size_t) 1 << 33))
		nslots *= 2;
	ix->slots = pyro_calloc(nslots, sizeof(uint64_t));
	if (ix->slots == NULL)
	{
		pyro_free(ix);
		return NULL;
	}
	ix->mask = nslots - 1;
	return ix;
}

static void
index_free(PyroSymIndex *ix)
{
	if (ix)
	{
		pyro_free(ix->slots);
		pyro_free(ix);
	}
}

/* Double the slot array, keeping load under one half. */
static bool
index_grow(PyroSymIndex *ix)
{
	size_t		nslots = (ix->mask + 1) * 2;
	uint64_t   *slots;

	if (nslots > ((size_t) 1 << 33))
		return false;
	slots = pyro_calloc(nslots, sizeof(uint64_t));
	if (slots == NULL)
		return false;
	for (size_t i = 0; i <= ix->mask; i++)
	{
		uint64_t	s = ix->slots[i];
		size_t		pos;

		if (s == 0)
			continue;
		pos = (size_t) (s >> 32) & (nslots - 1);
		while (slots[pos] != 0)
			pos = (pos + 1) & (nslots - 1);
		slots[pos] = s;
	}
	pyro_free(ix->slots);
	ix->slots = slots;
	ix->mask = nslots - 1;
	return true;
}

/* Make room for one more entry before an insert. */
static inline bool
index_reserve_one(PyroSymIndex *ix)
{
	if ((ix->count + 1) * 2 > ix->mask + 1)
		return index_grow(ix);
	return true;
}

/*
 * Probe for a key with hash h.  EQ(idx) is an expression that compares the
 * key with table entry idx.  On a hit, evaluates to the index; on a miss,
 * leaves *slotp pointing at the empty slot where the key belongs.  Written
 * as a macro so that the comparison is inlined in each specialised probe.
 */
#define INDEX_PROBE(ix, h, EQ, result, slotp) \
	do { \
		uint32_t	_tag = (uint32_t) ((h) >> 32); \
		size_t		_pos = (size_t) _tag & (ix)->mask; \
		(result) = PYRO_NO_INDEX; \
		for (;;) \
		{ \
			uint64_t	_s = (ix)->slots[_pos]; \
			if (_s == 0) \
			{ \
				(slotp) = &(ix)->slots[_pos]; \
				break; \
			} \
			if ((uint32_t) (_s >> 32) == _tag) \
			{ \
				uint32_t	idx = (uint32_t) _s - 1; \
				if (EQ) \
				{ \
					(result) = idx; \
					break; \
				} \
			} \
			_pos = (_pos + 1) & (ix)->mask; \
		} \
	} while (0)

static inline void
index_put(PyroSymIndex *ix, uint64_t *slot, uint64_t h, uint32_t idx)
{
	*slot = ((h >> 32) << 32) | ((uint64_t) idx + 1);
	ix->count++;
}

/* ----------------------------------------------------------------
 * arena
 * ----------------------------------------------------------------
 */

/* Copy len bytes plus a NUL into the arena; NULL on allocation failure. */
static char *
arena_copy(PyroSymbols *sym, const char *s, size_t len)
{
	PyroArenaBlock *b = sym->arena;
	char	   *dst;

	if (b == NULL || b->cap - b->used < len + 1)
	{
		size_t		cap = ARENA_BLOCK_MIN;
		size_t		total;

		/* grow block sizes with the arena, big strings get their own */
		if (b != NULL && b->cap < 16 * 1024 * 1024)
			cap = b->cap * 2 > cap ? b->cap * 2 : cap;
		if (len + 1 > cap)
			cap = len + 1;
		if (!pyro_size_add(cap, sizeof(PyroArenaBlock), &total))
			return NULL;
		b = pyro_malloc(total);
		if (b == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = sym->arena;
		sym->arena = b;
	}
	dst = b->data + b->used;
	if (len)
		memcpy(dst, s, len);
	dst[len] = '\0';
	b->used += len + 1;
	return dst;
}

/* ----------------------------------------------------------------
 * create / free / reserve
 * ----------------------------------------------------------------
 */

/*
 * Create empty symbols holding only the sentinels: strings[0] = "",
 * mappings[0] = the all-zero "no mapping", stacks[0] = the root.
 */
PyroSymbols *
pyro_symbols_create(void)
{
	PyroSymbols *sym = pyro_calloc(1, sizeof(PyroSymbols));

	if (sym == NULL)
		return NULL;
	if (!pyro_grow((void **) &sym->strings, &sym->strings_cap, 1, sizeof(PyroStr)) ||
		!pyro_grow((void **) &sym->mappings, &sym->mappings_cap, 1, sizeof(PyroMapping)) ||
		!pyro_grow((void **) &sym->stacks, &sym->stacks_cap, 1, sizeof(PyroStackNode)))
	{
		pyro_symbols_free(sym);
		return NULL;
	}
	sym->strings[0].ptr = "";
	sym->strings[0].len = 0;
	sym->nstrings = 1;
	memset(&sym->mappings[0], 0, sizeof(PyroMapping));
	sym->nmappings = 1;
	sym->stacks[0].parent = 0;
	sym->stacks[0].location = 0;
	sym->nstacks = 1;
	return sym;
}

void
pyro_symbols_free(PyroSymbols *sym)
{
	PyroArenaBlock *b;

	if (sym == NULL)
		return;
	b = sym->arena;
	while (b)
	{
		PyroArenaBlock *next = b->next;

		pyro_free(b);
		b = next;
	}
	index_free(sym->str_index);
	index_free(sym->map_index);
	index_free(sym->fn_index);
	index_free(sym->loc_index);
	index_free(sym->stack_index);
	pyro_free(sym->strings);
	pyro_free(sym->mappings);
	pyro_free(sym->functions);
	pyro_free(sym->locations);
	pyro_free(sym->lines);
	pyro_free(sym->stacks);
	pyro_free(sym);
}

/* Grow one table to hold cur + extra entries (and never past UINT32_MAX - 1). */
static bool
reserve_table(void **arr, size_t *cap, uint32_t cur, uint32_t extra,
			  size_t elem)
{
	uint64_t	need = (uint64_t) cur + extra;

	if (need >= PYRO_NO_INDEX)
		return false;
	return pyro_grow(arr, cap, (size_t) need, elem);
}

/*
 * Make room for the given numbers of additional entries in each table, so
 * that a bulk loader (the codec decoder) does not regrow repeatedly.
 */
bool
pyro_sym_reserve(PyroSymbols *sym, uint32_t nstrings, uint32_t nmappings,
				 uint32_t nfunctions, uint32_t nlocations,
				 uint32_t nlines, uint32_t nstacks)
{
	return reserve_table((void **) &sym->strings, &sym->strings_cap,
						 sym->nstrings, nstrings, sizeof(PyroStr)) &&
		reserve_table((void **) &sym->mappings, &sym->mappings_cap,
					  sym->nmappings, nmappings, sizeof(PyroMapping)) &&
		reserve_table((void **) &sym->functions, &sym->functions_cap,
					  sym->nfunctions, nfunctions, sizeof(PyroFunction)) &&
		reserve_table((void **) &sym->locations, &sym->locations_cap,
					  sym->nlocations, nlocations, sizeof(PyroLocation)) &&
		reserve_table((void **) &sym->lines, &sym->lines_cap,
					  sym->nlines, nlines, sizeof(PyroLine)) &&
		reserve_table((void **) &sym->stacks, &sym->stacks_cap,
					  sym->nstacks, nstacks, sizeof(PyroStackNode));
}

/* ----------------------------------------------------------------
 * strings
 * ----------------------------------------------------------------
 */

uint32_t
pyro_sym_append_string(PyroSymbols *sym, const char *s, size_t len)
{
	char	   *copy;

	if (len > UINT32_MAX - 1 ||
		!reserve_table((void **) &sym->strings, &sym->strings_cap,
					   sym->nstrings, 1, sizeof(PyroStr)))
		return PYRO_NO_INDEX;
	copy = arena_copy(sym, s, len);
	if (copy == NULL)
		return PYRO_NO_INDEX;
	sym->strings[sym->nstrings].ptr = copy;
	sym->strings[sym->nstrings].len = (uint32_t) len;
	return sym->nstrings++;
}

#define STR_EQ(idx) (sym->strings[idx].len == len && \
					 (len == 0 || memcmp(sym->strings[idx].ptr, s, len) == 0))

/* Create the string index if needed and index entries appended since. */
static bool
str_index_sync(PyroSymbols *sym)
{
	PyroSymIndex *ix = sym->str_index;

	if (ix == NULL)
	{
		ix = sym->str_index = index_create(sym->nstrings);
		if (ix == NULL)
			return false;
	}
	while (ix->nindexed < sym->nstrings)
	{
		uint32_t	i = ix->nindexed;
		const char *s = sym->strings[i].ptr;
		size_t		len = sym->strings[i].len;
		uint64_t	h = hash_string(s, len);
		uint32_t	found;
		uint64_t   *slot = NULL;

		if (!index_reserve_one(ix))
			return false;
		INDEX_PROBE(ix, h, STR_EQ(idx), found, slot);
		if (found == PYRO_NO_INDEX)
			index_put(ix, slot, h, i);
		ix->nindexed++;
	}
	return true;
}

uint32_t
pyro_sym_intern_string(PyroSymbols *sym, const char *s, size_t len)
{
	PyroSymIndex *ix;
	uint64_t	h;
	uint32_t	found;
	uint64_t   *slot = NULL;
	uint32_t	added;

	if (len > UINT32_MAX - 1)
		return PYRO_NO_INDEX;
	if (!str_index_sync(sym))
		return PYRO_NO_INDEX;
	ix = sym->str_index;
	if (!index_reserve_one(ix))
		return PYRO_NO_INDEX;
	h = hash_string(s, len);
	INDEX_PROBE(ix, h, STR_EQ(idx), found, slot);
	if (found != PYRO_NO_INDEX)
		return found;
	added = pyro_sym_append_string(sym, s, len);
	if (added == PYRO_NO_INDEX)
		return PYRO_NO_INDEX;
	index_put(ix, slot, h, added);
	ix->nindexed = sym->nstrings;
	return added;
}

/* ----------------------------------------------------------------
 * mappings and functions
 * ----------------------------------------------------------------
 */

static inline bool
mapping_eq(const PyroMapping *a, const PyroMapping *b)
{
	return a->memory_start == b->memory_start &&
		a->memory_limit == b->memory_limit &&
		a->file_offset == b->file_offset &&
		a->filename == b->filename &&
		a->build_id == b->build_id &&
		a->flags == b->flags;
}

static inline bool
function_eq(const PyroFunction *a, const PyroFunction *b)
{
	return a->name == b->name && a->system_name == b->system_name &&
		a->filename == b->filename && a->start_line == b->start_line;
}

static bool
map_index_sync(PyroSymbols *sym)
{
	PyroSymIndex *ix = sym->map_index;

	if (ix == NULL)
	{
		ix = sym->map_index = index_create(sym->nmappings);
		if (ix == NULL)
			return false;
	}
	while (ix->nindexed < sym->nmappings)
	{
		uint32_t	i = ix->nindexed;
		const PyroMapping *m = &sym->mappings[i];
		uint64_t	h = hash_mapping(m);
		uint32_t	found;
		uint64_t   *slot = NULL;

		if (!index_reserve_one(ix))
			return false;
		INDEX_PROBE(ix, h, mapping_eq(&sym->mappings[idx], m), found, slot);
		if (found == PYRO_NO_INDEX)
			index_put(ix, slot, h, i);
		ix->nindexed++;
	}
	return true;
}

uint32_t
pyro_sym_intern_mapping(PyroSymbols *sym, const PyroMapping *m)
{
	PyroSymIndex *ix;
	uint64_t	h;
	uint32_t	found;
	uint64_t   *slot = NULL;
	PyroMapping key = *m;		/* m may point into the table */

	if (!map_index_sync(sym))
		return PYRO_NO_INDEX;
	ix = sym->map_index;
	if (!index_reserve_one(ix))
		return PYRO_NO_INDEX;
	h = hash_mapping(&key);
	INDEX_PROBE(ix, h, mapping_eq(&sym->mappings[idx], &key), found, slot);
	if (found != PYRO_NO_INDEX)
		return found;
	if (!reserve_table((void **) &sym->mappings, &sym->mappings_cap,
					   sym->nmappings, 1, sizeof(PyroMapping)))
		return PYRO_NO_INDEX;
	sym->mappings[sym->nmappings] = key;
	index_put(ix, slot, h, sym->nmappings);
	ix->nindexed = ++sym->nmappings;
	return sym->nmappings - 1;
}

static bool
fn_index_sync(PyroSymbols *sym)
{
	PyroSymIndex *ix = sym->fn_index;

	if (ix == NULL)
	{
		ix = sym->fn_index = index_create(sym->nfunctions);
		if (ix == NULL)
			return false;
	}
	while (ix->nindexed < sym->nfunctions)
	{
		uint32_t	i = ix->nindexed;
		const PyroFunction *f = &sym->functions[i];
		uint64_t	h = hash_function(f);
		uint32_t	found;
		uint64_t   *slot = NULL;

		if (!index_reserve_one(ix))
			return false;
		INDEX_PROBE(ix, h, function_eq(&sym->functions[idx], f), found, slot);
		if (found == PYRO_NO_INDEX)
			index_put(ix, slot, h, i);
		ix->nindexed++;
	}
	return true;
}

uint32_t
pyro_sym_intern_function(PyroSymbols *sym, const PyroFunction *f)
{
	PyroSymIndex *ix;
	uint64_t	h;
	uint32_t	found;
	uint64_t   *slot = NULL;
	PyroFunction key = *f;

	if (!fn_index_sync(sym))
		return PYRO_NO_INDEX;
	ix = sym->fn_index;
	if (!index_reserve_one(ix))
		return PYRO_NO_INDEX;
	h = hash_function(&key);
	INDEX_PROBE(ix, h, function_eq(&sym->functions[idx], &key), found, slot);
	if (found != PYRO_NO_INDEX)
		return found;
	if (!reserve_table((void **) &sym->functions, &sym->functions_cap,
					   sym->nfunctions, 1, sizeof(PyroFunction)))
		return PYRO_NO_INDEX;
	sym->functions[sym->nfunctions] = key;
	index_put(ix, slot, h, sym->nfunctions);
	ix->nindexed = ++sym->nfunctions;
	return sym->nfunctions - 1;
}

/* ----------------------------------------------------------------
 * locations
 * ----------------------------------------------------------------
 */

static inline bool
location_eq(const PyroSymbols *sym, uint32_t idx, uint32_t mapping,
			uint64_t address, const PyroLine *lines, uint32_t nlines)
{
	const PyroLocation *l = &sym->locations[idx];
	const PyroLine *ll;

	if (l->mapping != mapping || l->address != address || l->nlines != nlines)
		return false;
	if (nlines == 0)
		return true;
	ll = sym->lines + l->first_line;
	for (uint32_t i = 0; i < nlines; i++)
	{
		if (ll[i].function != lines[i].function || ll[i].line != lines[i].line)
			return false;
	}
	return true;
}

static bool
loc_index_sync(PyroSymbols *sym)
{
	PyroSymIndex *ix = sym->loc_index;

	if (ix == NULL)
	{
		ix = sym->loc_index = index_create(sym->nlocations);
		if (ix == NULL)
			return false;
	}
	while (ix->nindexed < sym->nlocations)
	{
		uint32_t	i = ix->nindexed;
		const PyroLocation *l = &sym->locations[i];
		const PyroLine *lines = l->nlines ? sym->lines + l->first_line : NULL;
		uint64_t	h = hash_location(l->mapping, l->address, lines, l->nlines);
		uint32_t	found;
		uint64_t   *slot = NULL;

		if (!index_reserve_one(ix))
			return false;
		INDEX_PROBE(ix, h, location_eq(sym, idx, l->mapping, l->address,
									   lines, l->nlines), found, slot);
		if (found == PYRO_NO_INDEX)
			index_put(ix, slot, h, i);
		ix->nindexed++;
	}
	return true;
}

/*
 * Intern a location given its mapping, address and lines (innermost
 * first).  lines may point into sym->lines itself.
 */
uint32_t
pyro_sym_intern_location(PyroSymbols *sym, uint32_t mapping, uint64_t address,
						 const PyroLine *lines, uint32_t nlines)
{
	PyroSymIndex *ix;
	uint64_t	h;
	uint32_t	found;
	uint64_t   *slot = NULL;
	PyroLocation *loc;
	size_t		alias_off = SIZE_MAX;

	if (nlines > 0 && lines == NULL)
		return PYRO_NO_INDEX;
	if (!loc_index_sync(sym))
		return PYRO_NO_INDEX;
	ix = sym->loc_index;
	if (!index_reserve_one(ix))
		return PYRO_NO_INDEX;
	h = hash_location(mapping, address, lines, nlines);
	INDEX_PROBE(ix, h, location_eq(sym, idx, mapping, address, lines, nlines),
				found, slot);
	if (found != PYRO_NO_INDEX)
		return found;

	/* lines may live in the array we are about to grow */
	if (nlines > 0 && sym->lines != NULL && lines >= sym->lines &&
		lines < sym->lines + sym->nlines)
		alias_off = (size_t) (lines - sym->lines);
	if (!reserve_table((void **) &sym->locations, &sym->locations_cap,
					   sym->nlocations, 1, sizeof(PyroLocation)) ||
		!reserve_table((void **) &sym->lines, &sym->lines_cap,
					   sym->nlines, nlines, sizeof(PyroLine)))
		return PYRO_NO_INDEX;
	if (alias_off != SIZE_MAX)
		lines = sym->lines + alias_off;
	loc = &sym->locations[sym->nlocations];
	loc->mapping = mapping;
	loc->address = address;
	loc->first_line = sym->nlines;
	loc->nlines = nlines;
	if (nlines > 0)
		memmove(sym->lines + sym->nlines, lines, nlines * sizeof(PyroLine));
	sym->nlines += nlines;
	index_put(ix, slot, h, sym->nlocations);
	ix->nindexed = ++sym->nlocations;
	return sym->nlocations - 1;
}

/* ----------------------------------------------------------------
 * stack nodes
 * ----------------------------------------------------------------
 */

#define STACK_EQ(idx) (sym->stacks[idx].parent == parent && \
					   sym->stacks[idx].location == location)

/*
 * The root (node 0) is never indexed: its (0, 0) would otherwise collide
 * with a real frame of location 0 directly under the root.
 */
static bool
stack_index_sync(PyroSymbols *sym)
{
	PyroSymIndex *ix = sym->stack_index;

	if (ix == NULL)
	{
		ix = sym->stack_index = index_create(sym->nstacks);
		if (ix == NULL)
			return false;
		ix->nindexed = 1;
	}
	while (ix->nindexed < sym->nstacks)
	{
		uint32_t	i = ix->nindexed;
		uint32_t	parent = sym->stacks[i].parent;
		uint32_t	location = sym->stacks[i].location;
		uint64_t	h = hash_stack(parent, location);
		uint32_t	found;
		uint64_t   *slot = NULL;

		if (!index_reserve_one(ix))
			return false;
		INDEX_PROBE(ix, h, STACK_EQ(idx), found, slot);
		if (found == PYRO_NO_INDEX)
			index_put(ix, slot, h, i);
		ix->nindexed++;
	}
	return true;
}

/*
 * Intern the stack node (parent, location).  parent must be an existing
 * node and location an existing location; otherwise PYRO_NO_INDEX is
 * returned, which keeps the parent-before-child invariant intact.
 */
uint32_t
pyro_sym_intern_stack(PyroSymbols *sym, uint32_t parent, uint32_t location)
{
	PyroSymIndex *ix = sym->stack_index;
	uint64_t	h;
	uint32_t	found;
	uint64_t   *slot = NULL;

	if (parent >= sym->nstacks || location >= sym->nlocations)
		return PYRO_NO_INDEX;
	if (ix == NULL || ix->nindexed < sym->nstacks)
	{
		if (!stack_index_sync(sym))
			return PYRO_NO_INDEX;
		ix = sym->stack_index;
	}
	if (!index_reserve_one(ix))
		return PYRO_NO_INDEX;
	h = hash_stack(parent, location);
	INDEX_PROBE(ix, h, STACK_EQ(idx), found, slot);
	if (found != PYRO_NO_INDEX)
		return found;
	if (sym->nstacks >= sym->stacks_cap &&
		!reserve_table((void **) &sym->stacks, &sym->stacks_cap,
					   sym->nstacks, 1, sizeof(PyroStackNode)))
		return PYRO_NO_INDEX;
	sym->stacks[sym->nstacks].parent = parent;
	sym->stacks[sym->nstacks].location = location;
	index_put(ix, slot, h, sym->nstacks);
	ix->nindexed = ++sym->nstacks;
	return sym->nstacks - 1;
}

/* ----------------------------------------------------------------
 * frame names
 * ----------------------------------------------------------------
 */

/* Copy s into buf, truncated to fit and NUL-terminated. */
static void
copy_to_buf(char *buf, size_t bufsize, const char *s, size_t len)
{
	if (buf == NULL || bufsize == 0)
		return;
	if (len > bufsize - 1)
		len = bufsize - 1;
	if (len)
		memcpy(buf, s, len);
	buf[len] = '\0';
}

/*
 * See profile.h.  For a function (or system) name the returned PyroStr
 * points at the symbol string itself (full length, followed by a NUL in the
 * arena) and buf receives a copy, truncated if buf is too small.  For the
 * synthesised "<basename>+0x<hex>" / "0x<hex>" names the result points into
 * buf.  Indexes are bounds-checked, so a broken location yields a fallback
 * name rather than a crash.
 */
PyroStr
pyro_location_frame_name(const PyroSymbols *sym, const PyroLocation *loc,
						 uint32_t line_idx, char *buf, size_t bufsize)
{
	PyroStr		r = {"", 0};
	int			n;

	if (loc != NULL && line_idx < loc->nlines &&
		(uint64_t) loc->first_line + line_idx < sym->nlines)
	{
		uint32_t	fn = sym->lines[loc->first_line + line_idx].function;

		if (fn < sym->nfunctions)
		{
			uint32_t	name = sym->functions[fn].name;

			if (name == 0 || name >= sym->nstrings || sym->strings[name].len == 0)
				name = sym->functions[fn].system_name;
			if (name != 0 && name < sym->nstrings && sym->strings[name].len > 0)
			{
				r = sym->strings[name];
				copy_to_buf(buf, bufsize, r.ptr, r.len);
				return r;
			}
		}
	}

	if (buf == NULL || bufsize == 0)
		return r;
	if (loc == NULL)
	{
		buf[0] = '\0';
		return r;
	}

	if (loc->mapping != 0 && loc->mapping < sym->nmappings)
	{
		uint32_t	fname = sym->mappings[loc->mapping].filename;

		if (fname != 0 && fname < sym->nstrings && sym->strings[fname].len > 0)
		{
			const char *p = sym->strings[fname].ptr;
			size_t		len = sym->strings[fname].len;
			const char *base = p;
			size_t		blen;
			char		hex[24];
			int			hl;

			for (size_t i = 0; i < len; i++)
			{
				if (p[i] == '/')
					base = p + i + 1;
			}
			blen = len - (size_t) (base - p);
			if (blen == 0)
			{
				base = p;
				blen = len;
			}
			hl = snprintf(hex, sizeof(hex), "+0x%" PRIx64, loc->address);
			if (hl < 0)
				hl = 0;
			if (blen > bufsize - 1)
				blen = bufsize - 1;
			memcpy(buf, base, blen);
			copy_to_buf(buf + blen, bufsize - blen, hex, (size_t) hl);
			r.ptr = buf;
			r.len = (uint32_t) (blen + ((size_t) hl < bufsize - blen - 1 ?
										(size_t) hl : bufsize - blen - 1));
			return r;
		}
	}

	n = snprintf(buf, bufsize, "0x%" PRIx64, loc->address);
	r.ptr = buf;
	r.len = (uint32_t) (n < 0 ? 0 : ((size_t) n >= bufsize ? bufsize - 1 : (size_t) n));
	return r;
}

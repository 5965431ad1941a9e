/*-------------------------------------------------------------------------
 *
 * sample_acc.h
 *	  PyroSampleAcc: sums sample values per (stack node, span id) key, for
 *	  the merger (merge.c) and the block reader's merged reads
 *	  (block_reader.c).  Private to the core.
 *
 * Entries are kept in insertion order in one array, indexed by an
 * open-addressing hash table of entry index + 1 (0 = empty slot) whose
 * load stays at most one half.  Sums saturate at the int64 limits.  The
 * emitted samples are the non-zero sums sorted by (stack, span id), which
 * does not depend on the order the keys were added in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SAMPLE_ACC_H
#define PYRO_SAMPLE_ACC_H

#include "profile.h"

typedef struct PyroSampleAcc
{
	PyroSample *entries;		/* one per key, in insertion order */
	size_t		n;
	size_t		cap;
	uint32_t   *slots;			/* entry index + 1; NULL before the first add */
	size_t		mask;			/* slot count - 1 */
} PyroSampleAcc;

/* an all-zero PyroSampleAcc is empty and valid */
extern void pyro_acc_free(PyroSampleAcc *a);

/* forget every key, keeping the memory */
extern void pyro_acc_clear(PyroSampleAcc *a);

/* slow paths of pyro_acc_add: grow the slot table / append a new key */
extern bool pyro_acc_grow_slots(PyroSampleAcc *a);
extern bool pyro_acc_append(PyroSampleAcc *a, size_t pos, uint32_t stack,
							uint64_t span, int64_t value);

/*
 * Set p's samples to the non-zero sums, sorted by (stack, span id).  False
 * on allocation failure (p's samples are then left empty).
 */
extern bool pyro_acc_emit(const PyroSampleAcc *a, PyroProfile *p);

/* qsort comparator of PyroSample: by stack node, then span id */
extern int	pyro_sample_cmp(const void *a, const void *b);

static inline uint64_t
pyro_acc_hash(uint32_t stack, uint64_t span)
{
	uint64_t	h = ((uint64_t) stack * 0x9E3779B97F4A7C15ULL) ^ span;

	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDULL;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ULL;
	h ^= h >> 33;
	return h;
}

/* a + b clamped to [INT64_MIN, INT64_MAX] (also the block code's totals) */
static inline int64_t
pyro_sat_add64(int64_t a, int64_t b)
{
	int64_t		r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/*
 * Add value to the sum of (stack, span); false on allocation failure or
 * past UINT32_MAX - 1 keys.  Inline: it runs once per sample read.
 */
static inline bool
pyro_acc_add(PyroSampleAcc *a, uint32_t stack, uint64_t span, int64_t value)
{
	size_t		pos;

	if (a->slots == NULL || (a->n + 1) * 2 > a->mask + 1)
	{
		if (!pyro_acc_grow_slots(a))
			return false;
	}
	pos = (size_t) pyro_acc_hash(stack, span) & a->mask;
	for (;;)
	{
		uint32_t	e = a->slots[pos];

		if (e == 0)
			break;
		if (a->entries[e - 1].stack == stack && a->entries[e - 1].span_id == span)
		{
			a->entries[e - 1].value = pyro_sat_add64(a->entries[e - 1].value, value);
			return true;
		}
		pos = (pos + 1) & a->mask;
	}
	return pyro_acc_append(a, pos, stack, span, value);
}

#endif							/* PYRO_SAMPLE_ACC_H */

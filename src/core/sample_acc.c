/*-------------------------------------------------------------------------
 *
 * sample_acc.c
 *	  PyroSampleAcc: per (stack, span id) sums shared by the merger and the
 *	  block reader's merged reads.  See sample_acc.h; the per-sample path
 *	  is inline there, this file holds the slow paths and the output.
 *
 *-------------------------------------------------------------------------
 */
#include "sample_acc.h"

#include <stdlib.h>

void
pyro_acc_free(PyroSampleAcc *a)
{
	pyro_free(a->entries);
	pyro_free(a->slots);
	memset(a, 0, sizeof(*a));
}

void
pyro_acc_clear(PyroSampleAcc *a)
{
	a->n = 0;
	if (a->slots)
		memset(a->slots, 0, (a->mask + 1) * sizeof(uint32_t));
}

/*
 * Double the slot table (or create it with 1024 slots) and rehash the
 * entries; refuses past UINT32_MAX - 1 entries or 2^32 slots, as slots
 * hold entry index + 1 in 32 bits.
 */
bool
pyro_acc_grow_slots(PyroSampleAcc *a)
{
	size_t		nslots = a->slots ? (a->mask + 1) * 2 : 1024;
	uint32_t   *slots;

	if (a->n >= UINT32_MAX - 1 || nslots > ((size_t) 1 << 32))
		return false;
	slots = pyro_calloc(nslots, sizeof(uint32_t));
	if (slots == NULL)
		return false;
	for (size_t i = 0; i < a->n; i++)
	{
		size_t		pos = (size_t) pyro_acc_hash(a->entries[i].stack, a->entries[i].span_id) &
		(nslots - 1);

		while (slots[pos] != 0)
			pos = (pos + 1) & (nslots - 1);
		slots[pos] = (uint32_t) i + 1;
	}
	pyro_free(a->slots);
	a->slots = slots;
	a->mask = nslots - 1;
	return true;
}

/* Add a new key at empty slot pos (found by pyro_acc_add). */
bool
pyro_acc_append(PyroSampleAcc *a, size_t pos, uint32_t stack, uint64_t span, int64_t value)
{
	if (a->n >= a->cap &&
		!pyro_grow((void **) &a->entries, &a->cap, a->n + 1, sizeof(PyroSample)))
		return false;
	a->entries[a->n].stack = stack;
	a->entries[a->n].span_id = span;
	a->entries[a->n].value = value;
	a->slots[pos] = (uint32_t) ++a->n;
	return true;
}

/* qsort order of samples: stack node, then span id */
int
pyro_sample_cmp(const void *a, const void *b)
{
	const PyroSample *x = a;
	const PyroSample *y = b;

	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return (x->span_id > y->span_id) - (x->span_id < y->span_id);
}

/*
 * Copy the non-zero sums into p and sort them there, leaving the
 * accumulator as it is (the merger goes on adding after a result).  Keys
 * are unique, so the order is total and the output deterministic.
 */
bool
pyro_acc_emit(const PyroSampleAcc *a, PyroProfile *p)
{
	size_t		n = 0;

	p->nsamples = 0;
	for (size_t i = 0; i < a->n; i++)
	{
		if (a->entries[i].value != 0)
			n++;
	}
	if (n == 0)
		return true;
	if (!pyro_grow((void **) &p->samples, &p->samples_cap, n, sizeof(PyroSample)))
		return false;
	for (size_t i = 0; i < a->n; i++)
	{
		if (a->entries[i].value != 0)
			p->samples[p->nsamples++] = a->entries[i];
	}
	qsort(p->samples, p->nsamples, sizeof(PyroSample), pyro_sample_cmp);
	return true;
}

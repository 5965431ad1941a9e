/*
 * fuzz_block.c
 *	  libFuzzer target for the PYB1 block reader: arbitrary bytes opened as
 *	  a block must read or fail cleanly in every entry point (merged with
 *	  and without aggregates over several ranges, every profile, totals).
 *	  Each input is read twice: once with checksums skipped, so that the
 *	  decoders behind them are reached, and once with checksums enforced;
 *	  in that second pass, whenever both merged reads of a range succeed,
 *	  they must be identical (aggregates never change an answer).
 */
#include <stdio.h>
#include <stdlib.h>

#include "block_int.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static PyroStatus
count_profile(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	(void) series_id;
	(void) ts;
	(void) err;
	*(uint64_t *) arg += p->nsamples + 1;
	/* every sample must refer to a known stack */
	for (size_t i = 0; i < p->nsamples; i++)
	{
		if (p->samples[i].stack >= p->sym->nstacks)
			abort();
	}
	return PYRO_OK;
}

static PyroStatus
count_total(void *arg, int64_t series_id, int64_t ts, int64_t total, const uint8_t *id,
			PyroError *err)
{
	(void) id;
	(void) series_id;
	(void) ts;
	(void) total;
	(void) err;
	(*(uint64_t *) arg)++;
	return PYRO_OK;
}

static void
one_pass(const uint8_t *data, size_t size, bool compare)
{
	PyroBlockReader *r;
	PyroError	err;
	const PyroBlockMeta *meta;
	int64_t		ranges[4][2];
	uint64_t	n = 0;

	if (pyro_block_open_memory(data, size, &r, &err) != PYRO_OK)
	{
		if (r != NULL || err.msg[0] == '\0')
			abort();
		return;
	}
	meta = pyro_block_meta(r);
	ranges[0][0] = INT64_MIN;
	ranges[0][1] = INT64_MAX;
	ranges[1][0] = meta->min_ts + 1;
	ranges[1][1] = meta->max_ts - 1;
	ranges[2][0] = meta->min_ts + 59999;
	ranges[2][1] = meta->min_ts + 3600000 * 2 + 61234;
	ranges[3][0] = meta->max_ts;
	ranges[3][1] = meta->max_ts;
	for (int k = 0; k < 4; k++)
	{
		PyroBlockQuery q = {NULL, 0, ranges[k][0], ranges[k][1], false, false};
		const PyroProfile *m;
		PyroBuf		a,
					b;
		bool		ok_a,
					ok_b;

		pyro_buf_init(&a);
		pyro_buf_init(&b);
		ok_a = pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK &&
			pyro_profile_encode(m, &a, &err) == PYRO_OK;
		q.use_aggregates = true;
		ok_b = pyro_block_read_merged(r, &q, &m, &err) == PYRO_OK &&
			pyro_profile_encode(m, &b, &err) == PYRO_OK;
		if (compare && ok_a && ok_b &&
			(a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
		{
			fprintf(stderr, "merged reads with and without aggregates differ on range %d\n", k);
			abort();
		}
		pyro_buf_free(&a);
		pyro_buf_free(&b);
	}
	{
		PyroBlockQuery q = {NULL, 0, INT64_MIN, INT64_MAX, false, true};

		static const uint8_t ids[2][PYRO_PROFILE_ID_LEN] = {{0}, {0xA5,[15] = 1}};

		(void) pyro_block_read_profiles(r, &q, count_profile, &n, &err);
		(void) pyro_block_read_totals(r, &q, count_total, &n, &err);
		/* selected by profile id */
		q.ids = &ids[0][0];
		q.nids = 2;
		(void) pyro_block_read_totals(r, &q, count_total, &n, &err);
		(void) pyro_block_read_profiles(r, &q, count_profile, &n, &err);
		{
			const PyroProfile *m;

			(void) pyro_block_read_merged(r, &q, &m, &err);
		}
	}
	pyro_block_close(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pyb1_fuzz_skip_checksums = true;
	one_pass(data, size, false);
	pyb1_fuzz_skip_checksums = false;
	one_pass(data, size, true);
	return 0;
}

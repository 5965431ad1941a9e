/*-------------------------------------------------------------------------
 *
 * block_read.c
 *	  Reading a block from whichever tier holds it: the database (TOAST
 *	  slices of pyroscope.blocks.data) or the object store (ranged reads
 *	  through the local cache).  pyroscope_stored_block_open is what the
 *	  query path calls for a row of pyroscope.blocks; the totals of a block
 *	  (pyroscope.read_block(), pyroscope.block_totals()) check that
 *	  compaction and offload change no answer.
 *
 *-------------------------------------------------------------------------
 */
#include "engine_int.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "block.h"

/* fetch callback for a block held in the database: a TOAST slice */
static PyroStatus
stored_db_fetch(void *arg, uint64_t offset, uint64_t len, uint8_t **out, PyroError *err)
{
	StoredBlockSource *src = (StoredBlockSource *) arg;
	struct varlena *slice;
	size_t		got;

	if (offset > PG_INT32_MAX || len > PG_INT32_MAX)
		return pyro_error_set(err, PYRO_ECORRUPT, "block range %llu+%llu is out of reach",
							  (unsigned long long) offset, (unsigned long long) len);
	slice = pg_detoast_datum_slice((struct varlena *) DatumGetPointer(src->data),
								   (int32) offset, (int32) len);
	got = VARSIZE_ANY_EXHDR(slice);
	if (got != len)
		return pyro_error_set(err, PYRO_ECORRUPT,
							  "block is shorter than its index says (%zu of %llu bytes at %llu)",
							  got, (unsigned long long) len, (unsigned long long) offset);
	memmove(slice, VARDATA_ANY(slice), got);
	*out = (uint8_t *) slice;
	return PYRO_OK;
}

/*
 * Open a reader on a row of pyroscope.blocks: with data (not NULL) from
 * the database, else from the object store under object_key.  src holds
 * the reader's source and must outlive the reader.  On failure, report
 * with pyroscope_stored_block_report.
 */
PyroStatus
pyroscope_stored_block_open(StoredBlockSource *src, int64 block_id, Datum data, bool data_isnull,
							const char *object_key, int64 size, PyroBlockReader **r,
							PyroError *err)
{
	memset(src, 0, sizeof(*src));
	src->cold.block_id = block_id;
	src->cold.size = (uint64) size;
	if (!data_isnull)
	{
		src->in_database = true;
		src->data = data;
		return pyro_block_open((uint64_t) size, stored_db_fetch, src, r, err);
	}
	if (object_key == NULL)
		return pyro_error_set(err, PYRO_ECORRUPT, "block %lld has neither data nor an object key",
							  (long long) block_id);
	src->cold.object_key = object_key;
	return pyro_block_open((uint64_t) size, pyroscope_objstore_block_fetch, &src->cold, r, err);
}

/*
 * Report a failure to read a stored block.  A pending interrupt (cancel,
 * statement timeout) is what stopped a cold read: it wins.
 */
void
pyroscope_stored_block_report(int64 block_id, const PyroError *err)
{
	CHECK_FOR_INTERRUPTS();
	if (err->code == PYRO_ENOMEM && pyroscope_budget_exceeded())
		pyroscope_report(err, psprintf("could not read block " INT64_FORMAT, block_id));
	ereport(ERROR,
			(errcode(err->code == PYRO_ENOMEM ? ERRCODE_OUT_OF_MEMORY :
					 err->code == PYRO_ECORRUPT ? ERRCODE_DATA_CORRUPTED :
					 ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("could not read block " INT64_FORMAT ": %s", block_id, err->msg)));
}

typedef struct TotalRow
{
	int64		series_id;
	int64		ts;
	int64		total;
	bool		has_id;
	pg_uuid_t	id;
} TotalRow;

typedef struct TotalRows
{
	TotalRow   *v;
	size_t		n;
	size_t		cap;
} TotalRows;

/* Collect without ereport: the visitor runs inside the block reader. */
static PyroStatus
collect_total(void *arg, int64_t series_id, int64_t ts, int64_t total, const uint8_t *id,
			  PyroError *err)
{
	TotalRows  *rows = (TotalRows *) arg;

	if (rows->n == rows->cap)
	{
		size_t		cap = rows->cap ? rows->cap * 2 : 256;
		size_t		bytes;
		void	   *p;

		if (!pyro_size_mul(cap, sizeof(TotalRow), &bytes))
			return pyro_error_set(err, PYRO_ELIMIT, "too many profiles in block");
		p = rows->v ? pyro_realloc(rows->v, rows->cap * sizeof(TotalRow), bytes)
			: pyro_malloc(bytes);
		if (p == NULL)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
		rows->v = p;
		rows->cap = cap;
	}
	rows->v[rows->n].series_id = series_id;
	rows->v[rows->n].ts = ts;
	rows->v[rows->n].total = total;
	rows->v[rows->n].has_id = id != NULL;
	if (id != NULL)
		memcpy(rows->v[rows->n].id.data, id, UUID_LEN);
	rows->n++;
	return PYRO_OK;
}

/* Visit the collected totals, then free them. */
static void
visit_totals(TotalRows *rows, BlockTotalVisitor visit, void *arg)
{
	for (size_t i = 0; i < rows->n; i++)
		visit(rows->v[i].series_id, rows->v[i].ts, rows->v[i].total,
			  rows->v[i].has_id ? &rows->v[i].id : NULL, arg);
	if (rows->v)
		pyro_free(rows->v);
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * A query of the given series (ascending or not; NULL: every series) in
 * [start_ms, end_ms], for the readers of encoded blocks.
 */
static void
block_query_init(PyroBlockQuery *q, const int64 *series, size_t nseries, int64 start_ms,
				 int64 end_ms)
{
	memset(q, 0, sizeof(*q));
	if (series)
	{
		int64	   *sorted = palloc(sizeof(int64) * Max(nseries, 1));

		memcpy(sorted, series, sizeof(int64) * nseries);
		qsort(sorted, nseries, sizeof(int64), int64_cmp);
		q->series_ids = sorted;
		q->nseries = nseries;
	}
	q->start = start_ms;
	q->end = end_ms;
}

/*
 * Series, time (Unix ms), total and profile id (NULL when the block keeps
 * none) of every profile in an encoded block of the given series (NULL:
 * all) in [start_ms, end_ms], to visit: to inspect blocks, and the totals
 * of a selection read where the block is (pyroscope.block_profile_totals).
 */
void
pyroscope_encoded_block_totals(const void *data, size_t len, const int64 *series, size_t nseries,
							   int64 start_ms, int64 end_ms, BlockTotalVisitor visit, void *arg)
{
	PyroBlockReader *r;
	PyroBlockQuery q;
	PyroError	err;
	TotalRows	rows = {0};

	if (pyro_block_open_memory((const uint8_t *) data, len, &r, &err) != PYRO_OK)
		pyroscope_report(&err, "could not open block");
	block_query_init(&q, series, nseries, start_ms, end_ms);
	if (pyro_block_read_totals(r, &q, collect_total, &rows, &err) != PYRO_OK)
	{
		pyro_block_close(r);
		pyroscope_report(&err, "could not read block");
	}
	pyro_block_close(r);
	visit_totals(&rows, visit, arg);
}

/* the profiles of a block with span ids, collected inside the block reader */
typedef struct SpanProfile
{
	int64		series_id;
	int64		ts;
	bool		has_id;
	pg_uuid_t	id;
	PyroSpanTotal *spans;
	size_t		nspans;
} SpanProfile;

typedef struct SpanProfiles
{
	SpanProfile *v;
	size_t		n;
	size_t		cap;
} SpanProfiles;

/* Collect without ereport: the visitor runs inside the block reader. */
static PyroStatus
collect_spans(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	SpanProfiles *rows = (SpanProfiles *) arg;
	PyroSpanTotal *t;
	size_t		n;
	PyroStatus	rc = pyro_profile_span_totals(p, &t, &n, err);

	if (rc != PYRO_OK || n == 0)
		return rc;
	if (!pyro_grow((void **) &rows->v, &rows->cap, rows->n + 1, sizeof(SpanProfile)))
	{
		pyro_free(t);
		return pyro_error_set(err, PYRO_ENOMEM, "out of memory listing spans");
	}
	rows->v[rows->n].series_id = series_id;
	rows->v[rows->n].ts = ts;
	rows->v[rows->n].has_id = pyro_profile_id_set(p->id);
	memcpy(rows->v[rows->n].id.data, p->id, UUID_LEN);
	rows->v[rows->n].spans = t;
	rows->v[rows->n].nspans = n;
	rows->n++;
	return PYRO_OK;
}

/*
 * The span totals of every profile with span ids of an encoded block, of
 * the given series (NULL: all) in [start_ms, end_ms], in the block's
 * order, to visit: what a span listing reads of a block, where it is.
 */
void
pyroscope_encoded_block_spans(const void *data, size_t len, const int64 *series, size_t nseries,
							  int64 start_ms, int64 end_ms, BlockSpansVisitor visit, void *arg)
{
	PyroBlockReader *r;
	PyroBlockQuery q;
	PyroError	err;
	SpanProfiles rows = {0};

	if (pyro_block_open_memory((const uint8_t *) data, len, &r, &err) != PYRO_OK)
		pyroscope_report(&err, "could not open block");
	block_query_init(&q, series, nseries, start_ms, end_ms);
	q.keep_spans = true;
	if (pyro_block_read_profiles(r, &q, collect_spans, &rows, &err) != PYRO_OK)
	{
		pyro_block_close(r);
		pyroscope_report(&err, "could not read block");
	}
	pyro_block_close(r);
	for (size_t i = 0; i < rows.n; i++)
	{
		SpanProfile *sp = &rows.v[i];

		visit(sp->series_id, sp->ts, sp->has_id ? &sp->id : NULL, sp->spans, sp->nspans, arg);
		pyro_free(sp->spans);
	}
	pyro_free(rows.v);
}

/*
 * The merge of an encoded block's profiles of the given series (ascending
 * or not; NULL: every series) in [start_ms, end_ms], as a pyroscope.profile
 * value, or NULL when none is selected.  Pass the series of one profile
 * type: a block holds every type of its service.  ids (nids of them, sorted
 * by memcmp; NULL: any) selects profiles by id; keep_spans keeps the
 * samples' span ids.
 */
ProfileValue *
pyroscope_encoded_block_merge(const void *data, size_t len, const int64 *series, size_t nseries,
							  int64 start_ms, int64 end_ms, const pg_uuid_t *ids, int nids,
							  bool keep_spans)
{
	PyroBlockReader *r;
	PyroBlockQuery q;
	PyroError	err;
	const PyroProfile *p;
	PyroBuf		buf;
	ProfileValue *volatile v = NULL;

	if (pyro_block_open_memory((const uint8_t *) data, len, &r, &err) != PYRO_OK)
		pyroscope_report(&err, "could not open block");
	block_query_init(&q, series, nseries, start_ms, end_ms);
	q.use_aggregates = ids == NULL && !keep_spans;
	q.keep_spans = keep_spans;
	if (ids)
	{
		pg_uuid_t  *sorted = palloc(sizeof(pg_uuid_t) * Max(nids, 1));

		memcpy(sorted, ids, sizeof(pg_uuid_t) * nids);
		nids = pyroscope_sort_profile_ids(sorted, nids);
		q.ids = (const uint8 *) sorted;
		q.nids = nids;
	}
	PG_TRY();
	{
		if (pyro_block_read_merged(r, &q, &p, &err) != PYRO_OK)
			pyroscope_report(&err, "could not read block");
		if (p != NULL && p->nsamples > 0)
		{
			pyro_buf_init(&buf);
			if (pyro_profile_encode(p, &buf, &err) != PYRO_OK)
				pyroscope_report(&err, "could not encode profile");
			v = profile_value_from_buf(&buf);
			pyro_buf_free(&buf);
		}
	}
	PG_FINALLY();
	{
		pyro_block_close(r);
	}
	PG_END_TRY();
	return v;
}

/* The sections of an encoded block as its directory lists them, to visit. */
void
pyroscope_encoded_block_sections(const void *data, size_t len, BlockSectionVisitor visit,
								 void *arg)
{
	PyroBlockReader *r;
	PyroError	err;
	PyroBlockSection s;

	if (pyro_block_open_memory((const uint8_t *) data, len, &r, &err) != PYRO_OK)
		pyroscope_report(&err, "could not open block");
	PG_TRY();
	{
		for (size_t i = 0; pyro_block_section(r, i, &s); i++)
			visit(&s, arg);
	}
	PG_FINALLY();
	{
		pyro_block_close(r);
	}
	PG_END_TRY();
}

/*
 * The same for a row of pyroscope.blocks, read from whichever tier holds
 * it (pyroscope.read_block()).
 */
void
pyroscope_stored_block_totals(int64 block_id, BlockTotalVisitor visit, void *arg)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull,
				data_null;
	Datum		data;
	char	   *key;
	int64		size;
	StoredBlockSource src;
	PyroBlockReader *r;
	PyroBlockQuery q;
	PyroError	err;
	TotalRows	rows = {0};
	MemoryContext caller = CurrentMemoryContext;

	values[0] = Int64GetDatum(block_id);
	SPI_connect();
	if (SPI_execute_with_args("SELECT size, data, object_key FROM pyroscope.blocks"
							  " WHERE block_id = $1 /* every shard */",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up block");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("block " INT64_FORMAT " does not exist", block_id)));
	size = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	data = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &data_null);
	key = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	MemoryContextSwitchTo(caller);

	memset(&q, 0, sizeof(q));
	q.start = PG_INT64_MIN;
	q.end = PG_INT64_MAX;
	if (pyroscope_stored_block_open(&src, block_id, data, data_null, key, size, &r, &err) != PYRO_OK)
		pyroscope_stored_block_report(block_id, &err);
	if (pyro_block_read_totals(r, &q, collect_total, &rows, &err) != PYRO_OK)
	{
		pyro_block_close(r);
		pyroscope_stored_block_report(block_id, &err);
	}
	pyro_block_close(r);
	SPI_finish();
	visit_totals(&rows, visit, arg);
}

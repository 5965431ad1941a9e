/*-------------------------------------------------------------------------
 *
 * compact.c
 *	  Compaction and retention: head profiles into level-0 blocks, small
 *	  blocks into bigger ones over longer aligned windows, and deletion of
 *	  what is older than the retention period.  Also the job-run records
 *	  and pyroscope.compact(), the SQL entry point.
 *
 * The work is cut into units (one tenant, service and aligned window, or
 * one tenant for retention), each small enough for one transaction.  The
 * compactor worker runs every unit in its own transaction and survives a
 * failed one; pyroscope.compact() runs them all in the caller's
 * transaction.  A unit never takes a table lock: it locks exactly the
 * rows it reads (FOR UPDATE SKIP LOCKED) and deletes exactly those, so
 * ingest never waits and a profile inserted concurrently into the same
 * window stays in head until the next run.  A transaction-level advisory
 * lock per unit keeps two compactions (worker and a manual call) from
 * doing the same unit at once.
 *
 *-------------------------------------------------------------------------
 */
#include "engine_int.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/itemptr.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/uuid.h"
#include "utils/snapmgr.h"

#include "block.h"



/* advisory lock class of compaction units ("pyro" in ASCII) */
#define COMPACT_LOCK_CLASS	1887007343


/*
 * Level-0 blocks of a window that is still filling are merged into one
 * once there are this many of them (see pyroscope_compact_units).
 */
#define COMPACT_PARTIAL_MERGE	8

/* The aligned window length of blocks of a level, in seconds. */
static int
level_window(int level)
{
	switch (level)
	{
		case 0:
			return pyroscope_block_window;
		case 1:
			return 3600;
		default:
			return 86400;
	}
}

/* ---------------------------------------------------------------------
 * Small SPI helpers
 * ---------------------------------------------------------------------
 */

#define spi_exec(sql, nargs, types, values, expect) \
	pyroscope_spi_run("compaction", sql, nargs, types, values, expect)

/*
 * Take the advisory lock of a unit for the rest of the transaction;
 * false when another compaction holds it (then the unit is skipped).
 */
static bool
lock_unit(const CompactUnit *u)
{
	char	   *key;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	key = psprintf("%d/%d/%s/%s/" INT64_FORMAT, (int) u->kind, u->level, u->tenant,
				   u->service_name ? u->service_name : "", (int64) u->start);
	values[0] = CStringGetTextDatum(key);
	spi_exec("SELECT pg_catalog.pg_try_advisory_xact_lock("
			 CppAsString2(COMPACT_LOCK_CLASS) ", pg_catalog.hashtext($1))",
			 1, types, values, SPI_OK_SELECT);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Testing only: wait pyroscope.compaction_test_delay, interruptibly. */
static void
test_delay(void)
{
	pyroscope_test_sleep(pyroscope_compaction_test_delay);
}

/* ---------------------------------------------------------------------
 * Listing units
 * ---------------------------------------------------------------------
 */

static CompactUnit *
unit_from_row(HeapTuple tup, TupleDesc desc, CompactUnitKind kind, int level, int window)
{
	CompactUnit *u = palloc0(sizeof(CompactUnit));
	bool		isnull;

	u->kind = kind;
	u->level = level;
	u->tenant = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
	u->service_name = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	u->shard_key = pyroscope_shard_key(u->tenant, u->service_name);
	if (kind != COMPACT_RETENTION)
	{
		u->start = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		u->end = u->start + (int64) window * USECS_PER_SEC;
	}
	return u;
}

/*
 * The units of work of one kind (and level) at time now, allocated in
 * cxt: head windows holding profiles older than compact_after (level 0),
 * aligned windows of level 1 or 2 that are wholly older than
 * compact_after and hold several blocks of that level or below (late
 * profiles compacted after a window was merged are merged into its
 * block), or the tenants for retention.  Called again for each level, since merging sees the blocks
 * written by the level below.
 */
List *
pyroscope_compact_units(CompactUnitKind kind, int level, TimestampTz now, const char *tenant,
						MemoryContext cxt)
{
	TimestampTz cutoff = now - (int64) pyroscope_compact_after * USECS_PER_SEC;
	int			window = level_window(level);
	List	   *units = NIL;
	Oid			types[5] = {TIMESTAMPTZOID, INT4OID, INT4OID, TEXTOID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	const char *sql;
	int			rc;

	values[0] = TimestampTzGetDatum(cutoff);
	values[1] = Int32GetDatum(window);
	values[2] = Int32GetDatum(level);
	if (tenant)
		values[3] = CStringGetTextDatum(tenant);
	else
		nulls[3] = 'n';

	/*
	 * partial merges of the hour still filling with level-0 blocks shorter
	 * than it
	 */
	values[4] = BoolGetDatum(level == 1 && level_window(0) < window);
	switch (kind)
	{
		case COMPACT_HEAD:
			sql = "SELECT s.tenant, s.service_name,"
				" pg_catalog.date_bin(pg_catalog.make_interval(secs => $2), h.ts,"
				"                     timestamptz '1970-01-01 00:00:00+00') AS w"
				" FROM pyroscope.head h JOIN pyroscope.series s"
				"   ON s.shard_key = h.shard_key AND s.series_id = h.series_id"
				" WHERE h.ts < $1 AND ($4::text IS NULL OR h.tenant = $4) /* every shard */"
				" GROUP BY 1, 2, 3 ORDER BY 3, 1, 2";
			break;
		case COMPACT_MERGE:

			/*
			 * A window wholly older than the cutoff is merged once it holds
			 * two blocks; the window still filling (the current hour, of
			 * level-0 blocks shorter than it) once it holds
			 * COMPACT_PARTIAL_MERGE of them, so that a query of the newest
			 * hour reads a few blocks, not one per level-0 window.
			 */
			sql = "SELECT tenant, service_name, w FROM ("
				" SELECT shard_key, tenant, service_name, w, count(*) AS n FROM ("
				"  SELECT shard_key, tenant, service_name,"
				"   pg_catalog.date_bin(pg_catalog.make_interval(secs => $2), min_ts,"
				"                       timestamptz '1970-01-01 00:00:00+00') AS w,"
				"   pg_catalog.date_bin(pg_catalog.make_interval(secs => $2), max_ts,"
				"                       timestamptz '1970-01-01 00:00:00+00') AS w2"
				"   FROM pyroscope.blocks WHERE level <= $3 AND object_key IS NULL"
				"    AND ($4::text IS NULL OR tenant = $4) /* every shard */) b"
				"  WHERE w = w2 AND (w + pg_catalog.make_interval(secs => $2) <= $1 OR $5)"
				"  GROUP BY 1, 2, 3, 4) g"
				" WHERE n >= CASE WHEN w + pg_catalog.make_interval(secs => $2) <= $1"
				"            THEN 2 ELSE " CppAsString2(COMPACT_PARTIAL_MERGE) " END"
				" ORDER BY 3, 1, 2";
			break;
		case COMPACT_RETENTION:
		default:
			/* a unit per service: each one's rows are on one shard */
			sql = "SELECT DISTINCT tenant, service_name FROM pyroscope.series"
				" WHERE ($4::text IS NULL OR tenant = $4) /* every shard */ ORDER BY 1, 2";
			break;
	}

	SPI_connect();
	rc = SPI_execute_with_args(sql, 5, types, values, nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not list compaction units: %s", SPI_result_code_string(rc))));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		units = lappend(units, unit_from_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
											 kind, level, window));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return units;
}

/* ---------------------------------------------------------------------
 * Writing blocks
 * ---------------------------------------------------------------------
 */

/* A growing array of int64 (series ids, block ids). */
typedef struct Int64Array
{
	int64	   *v;
	size_t		n;
	size_t		cap;
} Int64Array;

static void
int64_array_add(Int64Array *a, int64 x)
{
	if (a->n == a->cap)
	{
		size_t		cap = a->cap ? a->cap * 2 : 256;

		if (cap > MaxAllocHugeSize / sizeof(int64))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many rows in one compaction unit")));
		a->v = a->v ? repalloc_huge(a->v, cap * sizeof(int64))
			: MemoryContextAllocHuge(CurrentMemoryContext, cap * sizeof(int64));
		a->cap = cap;
	}
	a->v[a->n++] = x;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/* Sort and de-duplicate. */
static void
int64_array_unique(Int64Array *a)
{
	size_t		k = 0;

	if (a->n == 0)
		return;
	qsort(a->v, a->n, sizeof(int64), cmp_int64);
	for (size_t i = 1; i < a->n; i++)
		if (a->v[i] != a->v[k])
			a->v[++k] = a->v[i];
	a->n = k + 1;
}

static Datum
int64_array_datum(const Int64Array *a)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(a->n, 1));

	for (size_t i = 0; i < a->n; i++)
		d[i] = Int64GetDatum(a->v[i]);
	return PointerGetDatum(construct_array(d, (int) a->n, INT8OID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/*
 * Finish a block writer and insert the block as a row of pyroscope.blocks.
 * Returns the encoded size.
 */
static int64
insert_block(PyroBlockWriter *w, const CompactUnit *u, int level, Int64Array *series)
{
	PyroBuf		out;
	PyroBlockMeta meta;
	PyroError	err;
	bytea	   *data;
	Oid			types[11] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	INT8ARRAYOID, INT8OID, INT8OID, INT8OID, BYTEAOID, INT4OID};
	Datum		values[11];

	pyro_buf_init(&out);
	if (pyro_block_writer_finish(w, &out, &meta, &err) != PYRO_OK)
	{
		pyro_buf_free(&out);
		pyroscope_report(&err, "could not write block");
	}
	if (out.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (out.len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("block of %zu bytes is too large", out.len),
				 errhint("Lower pyroscope.block_window.")));
	data = (bytea *) palloc(VARHDRSZ + out.len);
	SET_VARSIZE(data, VARHDRSZ + out.len);
	memcpy(VARDATA(data), out.data, out.len);
	pyro_buf_free(&out);

	int64_array_unique(series);
	values[0] = CStringGetTextDatum(u->tenant);
	values[1] = CStringGetTextDatum(u->service_name);
	values[2] = Int32GetDatum(level);
	values[3] = TimestampTzGetDatum(pyroscope_block_time(meta.min_ts));
	values[4] = TimestampTzGetDatum(pyroscope_block_time(meta.max_ts));
	values[5] = int64_array_datum(series);
	values[6] = Int64GetDatum((int64) meta.nprofiles);
	values[7] = Int64GetDatum((int64) meta.nsamples);
	values[8] = Int64GetDatum((int64) VARSIZE(data) - VARHDRSZ);
	values[9] = PointerGetDatum(data);
	values[10] = Int32GetDatum(u->shard_key);
	spi_exec("INSERT INTO pyroscope.blocks (tenant, service_name, level, min_ts, max_ts,"
			 " series_ids, nprofiles, nsamples, size, data, shard_key)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			 11, types, values, SPI_OK_INSERT);
	return (int64) VARSIZE(data) - VARHDRSZ;
}

/*
 * Remember what a unit's context holds at its fullest (just after the
 * block is written): the memory compaction needs, for pyroscope.job_runs.
 */
static void
note_peak(CompactCounts *c, MemoryContext unit_cxt)
{
	int64		m = (int64) MemoryContextMemAllocated(unit_cxt, true);

	c->peak_memory = Max(c->peak_memory, m);
}

/*
 * Level 0: stream the head rows of one tenant, service and window that
 * are older than compact_after into one block, then delete exactly those
 * rows (by ctid, locked since they were read).
 */
static void
compact_head_unit(const CompactUnit *u, TimestampTz now, CompactCounts *c)
{
	MemoryContext unit_cxt;
	MemoryContext old;
	TimestampTz cutoff = now - (int64) pyroscope_compact_after * USECS_PER_SEC;
	Oid			types[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[5];
	Portal		portal;
	PyroBlockOptions opt;
	PyroBlockWriter *w;
	ItemPointerData *tids = NULL;
	size_t		ntids = 0;
	size_t		tids_cap = 0;
	Int64Array	series = {0};
	Int64Array	pprofs = {0};
	HeadReader	reader;
	Datum	   *tid_datums;

	unit_cxt = AllocSetContextCreate(CurrentMemoryContext, "pyroscope compaction unit",
									 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(unit_cxt);

	SPI_connect();
	if (!lock_unit(u))
	{
		SPI_finish();
		MemoryContextSwitchTo(old);
		MemoryContextDelete(unit_cxt);
		return;
	}

	MemoryContextSwitchTo(unit_cxt);
	pyro_block_options_default(&opt);
	w = pyro_block_writer_create(&opt);
	if (w == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	values[0] = CStringGetTextDatum(u->tenant);
	values[1] = CStringGetTextDatum(u->service_name);
	values[2] = TimestampTzGetDatum(u->start);
	values[3] = TimestampTzGetDatum(Min(u->end, cutoff));
	values[4] = Int32GetDatum(u->shard_key);
	head_reader_init(&reader);
	reader.for_compaction = true;
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT h.ctid, h.series_id, h.ts, h.profile,"
									   "       h.pprof_id, h.part, h.total, h.profile_id, h.shard_key"
									   " FROM pyroscope.head h"
									   " WHERE h.shard_key = $5 AND h.tenant = $1 AND h.ts >= $3 AND h.ts < $4"
									   "   AND h.series_id IN (SELECT s.series_id FROM pyroscope.series s"
									   "                        WHERE s.shard_key = $5 AND s.tenant = $1"
									   "                          AND s.service_name = $2)"
									   " ORDER BY h.pprof_id, h.part"
									   " FOR UPDATE OF h SKIP LOCKED",
									   5, types, values, NULL, false, 0);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		nrows;

		SPI_cursor_fetch(portal, true, 256);
		tt = SPI_tuptable;
		nrows = SPI_processed;
		if (nrows == 0)
			break;
		for (uint64 i = 0; i < nrows; i++)
		{
			HeapTuple	tup = tt->vals[i];
			TupleDesc	desc = tt->tupdesc;
			bool		isnull;
			ItemPointer tid = (ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 1, &isnull));
			int64		series_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
			PyroProfile *p;
			PyroError	err;

			MemoryContextSwitchTo(unit_cxt);
			if (ntids == tids_cap)
			{
				tids_cap = tids_cap ? tids_cap * 2 : 256;
				if (tids_cap > MaxAllocHugeSize / sizeof(ItemPointerData))
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("too many rows in one compaction unit")));
				tids = tids ? repalloc_huge(tids, tids_cap * sizeof(ItemPointerData))
					: MemoryContextAllocHuge(unit_cxt, tids_cap * sizeof(ItemPointerData));
			}
			ItemPointerCopy(tid, &tids[ntids]);
			ntids++;
			int64_array_add(&series, series_id);

			/*
			 * decode in the reader's context, add (copying) in the unit
			 * context
			 */
			p = head_reader_get_row(&reader, tup, desc, 4, 9);
			{
				Datum		id = SPI_getbinval(tup, desc, 8, &isnull);

				/* the block keeps the id of the ingested profile */
				if (isnull)
					memset(p->id, 0, PYRO_PROFILE_ID_LEN);
				else
					memcpy(p->id, DatumGetUUIDP(id)->data, PYRO_PROFILE_ID_LEN);
			}
			MemoryContextSwitchTo(unit_cxt);
			if (reader.pprof_id != 0 &&
				(pprofs.n == 0 || pprofs.v[pprofs.n - 1] != reader.pprof_id))
				int64_array_add(&pprofs, reader.pprof_id);
			if (pyro_block_writer_add(w, series_id, pyroscope_timestamptz_to_ms(ts), p, &err) != PYRO_OK)
				pyroscope_report(&err, "could not add profile to block");
		}
		SPI_freetuptable(tt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);

	if (ntids > 0)
	{
		Oid			dtypes[2] = {TIDARRAYOID, INT4OID};
		Datum		dvalues[2];
		int64		size;

		MemoryContextSwitchTo(unit_cxt);
		size = insert_block(w, u, 0, &series);
		tid_datums = MemoryContextAllocHuge(unit_cxt, ntids * sizeof(Datum));
		for (size_t i = 0; i < ntids; i++)
			tid_datums[i] = PointerGetDatum(&tids[i]);
		dvalues[0] = PointerGetDatum(construct_array(tid_datums, (int) ntids, TIDOID,
													 sizeof(ItemPointerData), false,
													 TYPALIGN_SHORT));
		dvalues[1] = Int32GetDatum(u->shard_key);

		/*
		 * A ctid names a row only within one table: the shard key keeps the
		 * statement on the partition or shard the rows were read from.
		 */
		spi_exec("DELETE FROM pyroscope.head WHERE shard_key = $2 AND ctid = ANY ($1)",
				 2, dtypes, dvalues, SPI_OK_DELETE);
		if (SPI_processed != ntids)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("compaction deleted " UINT64_FORMAT " head rows instead of %zu",
							SPI_processed, ntids)));
		/* the stored pprofs that no head row names any more */
		if (pprofs.n > 0)
		{
			Oid			ptypes[2] = {INT8ARRAYOID, INT4OID};
			Datum		pvalues[2];

			pvalues[0] = int64_array_datum(&pprofs);
			pvalues[1] = Int32GetDatum(u->shard_key);
			spi_exec("DELETE FROM pyroscope.head_pprof p WHERE p.shard_key = $2 AND p.pprof_id = ANY ($1)"
					 " AND NOT EXISTS (SELECT 1 FROM pyroscope.head h"
					 "                  WHERE h.shard_key = $2 AND h.pprof_id = p.pprof_id)",
					 2, ptypes, pvalues, SPI_OK_DELETE);
		}
		c->head_rows_compacted += (int64) ntids;
		c->blocks_written++;
		c->bytes_written += size;
		note_peak(c, unit_cxt);
		test_delay();
	}
	pyro_block_writer_free(w);
	head_reader_done(&reader);
	SPI_finish();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(unit_cxt);
}

/* Visitor state while merging blocks. */
typedef struct MergeState
{
	PyroBlockWriter *w;
	MemoryContext unit_cxt;
	uint64		nprofiles;
} MergeState;

static PyroStatus
merge_visit(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	MergeState *st = (MergeState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->unit_cxt);
	PyroStatus	rc;

	/* the profiles of one source block share its symbols: map them once */
	rc = pyro_block_writer_add_shared(st->w, series_id, ts, p, err);

	MemoryContextSwitchTo(old);
	st->nprofiles++;
	return rc;
}

/*
 * Levels 1 and 2: merge the in-database blocks of the unit's level or
 * below lying wholly in one aligned window into one block of the unit's
 * level, and delete the blocks it replaces.  Blocks are read one at a
 * time.
 */
static void
compact_merge_unit(const CompactUnit *u, TimestampTz now, CompactCounts *c)
{
	MemoryContext unit_cxt;
	MemoryContext row_cxt;
	MemoryContext old;
	Oid			types[6] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[6];
	Int64Array	ids = {0};
	Int64Array	series = {0};
	PyroBlockOptions opt;
	MergeState	st;
	int64		size;
	int64		replaced_bytes = 0;

	unit_cxt = AllocSetContextCreate(CurrentMemoryContext, "pyroscope compaction unit",
									 ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(unit_cxt, "pyroscope compaction block",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(unit_cxt);

	SPI_connect();
	if (!lock_unit(u))
		goto done;

	/* lock the blocks first; merging fewer than two is pointless */
	values[0] = CStringGetTextDatum(u->tenant);
	values[1] = CStringGetTextDatum(u->service_name);
	values[2] = Int32GetDatum(u->level);
	values[3] = TimestampTzGetDatum(u->start);
	values[4] = TimestampTzGetDatum(u->end);
	values[5] = Int32GetDatum(u->shard_key);
	spi_exec("SELECT block_id FROM pyroscope.blocks"
			 " WHERE shard_key = $6 AND tenant = $1 AND service_name = $2 AND level <= $3"
			 "   AND object_key IS NULL AND min_ts >= $4 AND max_ts < $5"
			 " ORDER BY block_id FOR UPDATE SKIP LOCKED",
			 6, types, values, SPI_OK_SELECT);
	MemoryContextSwitchTo(unit_cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		int64_array_add(&ids, DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1, &isnull)));
	}
	if (ids.n < 2)
		goto done;

	pyro_block_options_default(&opt);
	st.w = pyro_block_writer_create(&opt);
	st.unit_cxt = unit_cxt;
	st.nprofiles = 0;
	if (st.w == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	for (size_t i = 0; i < ids.n; i++)
	{
		Oid			btypes[2] = {INT8OID, INT4OID};
		Datum		bvalues[2] = {Int64GetDatum(ids.v[i]), Int32GetDatum(u->shard_key)};
		bool		isnull;
		bytea	   *data;
		PyroBlockReader *r;
		PyroError	err;
		PyroBlockQuery q;
		const int64_t *sids;
		uint32_t	nsids;

		spi_exec("SELECT data FROM pyroscope.blocks WHERE shard_key = $2 AND block_id = $1",
				 2, btypes, bvalues, SPI_OK_SELECT);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("block " INT64_FORMAT " vanished while locked", ids.v[i])));
		MemoryContextSwitchTo(row_cxt);
		data = DatumGetByteaP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
		if (pyro_block_open_memory((const uint8_t *) VARDATA(data), VARSIZE(data) - VARHDRSZ,
								   &r, &err) != PYRO_OK)
			pyroscope_report(&err, psprintf("could not open block " INT64_FORMAT, ids.v[i]));
		memset(&q, 0, sizeof(q));
		q.series_ids = NULL;
		q.nseries = 0;
		q.start = PG_INT64_MIN;
		q.end = PG_INT64_MAX;
		q.use_aggregates = false;
		q.keep_spans = true;
		if (pyro_block_read_profiles(r, &q, merge_visit, &st, &err) != PYRO_OK)
			pyroscope_report(&err, psprintf("could not read block " INT64_FORMAT, ids.v[i]));
		MemoryContextSwitchTo(unit_cxt);
		pyro_block_writer_release_symbols(st.w);
		MemoryContextSwitchTo(row_cxt);
		sids = pyro_block_series(r, &nsids);
		MemoryContextSwitchTo(unit_cxt);
		for (uint32_t k = 0; k < nsids; k++)
			int64_array_add(&series, sids[k]);
		replaced_bytes += (int64) VARSIZE(data) - VARHDRSZ;
		pyro_block_close(r);
		MemoryContextReset(row_cxt);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}

	MemoryContextSwitchTo(unit_cxt);
	size = insert_block(st.w, u, u->level, &series);
	pyro_block_writer_free(st.w);
	{
		Oid			dtypes[2] = {INT8ARRAYOID, INT4OID};
		Datum		dvalues[2] = {int64_array_datum(&ids), Int32GetDatum(u->shard_key)};

		spi_exec("DELETE FROM pyroscope.blocks WHERE shard_key = $2 AND block_id = ANY ($1)",
				 2, dtypes, dvalues, SPI_OK_DELETE);
		if (SPI_processed != ids.n)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("compaction deleted " UINT64_FORMAT " blocks instead of %zu",
							SPI_processed, ids.n)));
	}
	c->blocks_written++;
	c->blocks_merged += (int64) ids.n;
	c->bytes_written += size;
	c->bytes_deleted += replaced_bytes;
	note_peak(c, unit_cxt);
	test_delay();

done:
	SPI_finish();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(unit_cxt);
}

/*
 * Delete the stored pprofs of the unit's tenant and shard key ($1 and $3 of
 * types and values) that no head row names any more: those whose rows
 * retention deleted, and those left behind when two compactions took the
 * rows of one pprof (of two services) at once and each saw the other's
 * rows still there.
 */
static void
sweep_head_pprofs(Oid *types, Datum *values)
{
	spi_exec("DELETE FROM pyroscope.head_pprof p WHERE p.shard_key = $3 AND p.tenant = $1"
			 " AND NOT EXISTS (SELECT 1 FROM pyroscope.head h"
			 "                  WHERE h.shard_key = $3 AND h.pprof_id = p.pprof_id)",
			 3, types, values, SPI_OK_DELETE);
}

/*
 * Retention of one service of a tenant (all its rows have one shard key):
 * delete its blocks whose newest profile, and its head profiles, are older
 * than the tenant's retention (the tenant_retention override or
 * pyroscope.retention), then the series last seen before that with nothing
 * left in head or blocks.  Deleting an offloaded
 * block's row queues its object for deletion (the blocks_object_deletion
 * trigger), which the offloader carries out after the commit.
 */
static void
retention_unit(const CompactUnit *u, TimestampTz now, CompactCounts *c)
{
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, INT4OID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	Datum		cutoff;

	SPI_connect();
	if (!lock_unit(u))
	{
		SPI_finish();
		return;
	}
	values[0] = CStringGetTextDatum(u->tenant);
	values[1] = TimestampTzGetDatum(now);
	values[2] = Int32GetDatum(pyroscope_retention);
	spi_exec("SELECT $2 - " RETENTION_OF("(SELECT r.retention FROM pyroscope.tenant_retention r"
										 "                                  WHERE r.tenant = $1)", "$3"),
			 3, types, values, SPI_OK_SELECT);
	cutoff = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	/* from here on: $1 tenant, $2 cutoff, $3 shard key, $4 service */
	values[2] = Int32GetDatum(u->shard_key);
	values[3] = CStringGetTextDatum(u->service_name);
	if (isnull)
	{
		/*
		 * retention 0 (the tenant's, or the default with no override): keep
		 * everything
		 */
		sweep_head_pprofs(types, values);
		SPI_finish();
		return;
	}
	values[1] = cutoff;

	spi_exec("WITH d AS (DELETE FROM pyroscope.blocks WHERE shard_key = $3 AND block_id IN"
			 "  (SELECT block_id FROM pyroscope.blocks"
			 "    WHERE shard_key = $3 AND tenant = $1 AND service_name = $4 AND max_ts < $2"
			 "    FOR UPDATE SKIP LOCKED) RETURNING size)"
			 " SELECT count(*), COALESCE(sum(size), 0)::bigint FROM d",
			 4, types, values, SPI_OK_SELECT);
	c->blocks_deleted += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1, &isnull));
	c->bytes_deleted += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 2, &isnull));

	spi_exec("DELETE FROM pyroscope.head WHERE shard_key = $3 AND ctid IN"
			 " (SELECT ctid FROM pyroscope.head WHERE shard_key = $3 AND tenant = $1 AND ts < $2"
			 "   FOR UPDATE SKIP LOCKED)",
			 3, types, values, SPI_OK_DELETE);
	c->head_rows_deleted += (int64) SPI_processed;
	sweep_head_pprofs(types, values);

	spi_exec("DELETE FROM pyroscope.series WHERE shard_key = $3 AND series_id IN"
			 " (SELECT x.series_id FROM pyroscope.series x"
			 "   WHERE x.shard_key = $3 AND x.tenant = $1 AND x.service_name = $4 AND x.last_seen < $2"
			 "     AND NOT EXISTS (SELECT 1 FROM pyroscope.head h"
			 "                      WHERE h.shard_key = $3 AND h.series_id = x.series_id)"
			 "     AND NOT EXISTS (SELECT 1 FROM pyroscope.blocks b"
			 "                      WHERE b.shard_key = $3 AND b.tenant = x.tenant"
			 "                        AND b.series_ids @> ARRAY[x.series_id])"
			 "   FOR UPDATE SKIP LOCKED)",
			 4, types, values, SPI_OK_DELETE);
	c->series_deleted += (int64) SPI_processed;
	test_delay();
	SPI_finish();
}

/*
 * Run one unit in the current transaction, adding what it did to *c.
 * A unit another compaction is working on is skipped.
 */
void
pyroscope_compact_unit(const CompactUnit *u, TimestampTz now, CompactCounts *c)
{
	/* what the unit builds stays within pyroscope.compaction_memory_limit */
	pyroscope_budget_begin_compaction();
	switch (u->kind)
	{
		case COMPACT_HEAD:
			compact_head_unit(u, now, c);
			break;
		case COMPACT_MERGE:
			compact_merge_unit(u, now, c);
			break;
		case COMPACT_RETENTION:
			retention_unit(u, now, c);
			break;
	}
	pyroscope_budget_end();
	c->units++;
}

/* ---------------------------------------------------------------------
 * Job runs
 * ---------------------------------------------------------------------
 */

/* Record the start of a run; returns its run_id. */
int64
pyroscope_job_run_begin(const char *job, const char *trigger)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];
	bool		isnull;
	int64		id;

	values[0] = CStringGetTextDatum(job);
	values[1] = CStringGetTextDatum(trigger);
	values[2] = Int32GetDatum(MyProcPid);
	SPI_connect();
	spi_exec("INSERT INTO pyroscope.job_runs (job, trigger, pid, started_at, status)"
			 " VALUES ($1, $2, $3, pg_catalog.clock_timestamp(), 'running') RETURNING run_id",
			 3, types, values, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return id;
}

/*
 * Record the end (finished = true) or progress of a run: its counts, and
 * the error of a failed unit if any.  The first error is kept (later ones
 * are often consequences of it; units_failed counts them all).  A run is
 * "running" until it finishes; it then becomes "failed" if any unit
 * failed, else "success".
 */
void
pyroscope_job_run_update(int64 run_id, const CompactCounts *c, bool finished,
						 const char *error)
{
	Oid			types[14] = {INT8OID, BOOLOID, TEXTOID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[14];
	char		nulls[14];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(run_id);
	values[1] = BoolGetDatum(finished);
	if (error)
		values[2] = CStringGetTextDatum(error);
	else
		nulls[2] = 'n';
	values[3] = Int64GetDatum(c->units);
	values[4] = Int64GetDatum(c->units_failed);
	values[5] = Int64GetDatum(c->head_rows_compacted);
	values[6] = Int64GetDatum(c->head_rows_deleted);
	values[7] = Int64GetDatum(c->blocks_written);
	values[8] = Int64GetDatum(c->blocks_merged);
	values[9] = Int64GetDatum(c->blocks_deleted);
	values[10] = Int64GetDatum(c->series_deleted);
	values[11] = Int64GetDatum(c->bytes_written);
	values[12] = Int64GetDatum(c->bytes_deleted);
	values[13] = Int64GetDatum(c->peak_memory);
	SPI_connect();
	if (SPI_execute_with_args("UPDATE pyroscope.job_runs SET"
							  " finished_at = CASE WHEN $2 THEN pg_catalog.clock_timestamp() END,"
							  " status = CASE WHEN NOT $2 THEN 'running'"
							  "               WHEN $5 > 0 THEN 'failed' ELSE 'success' END,"
							  " error = COALESCE(error, $3),"
							  " units = $4, units_failed = $5, head_rows_compacted = $6,"
							  " head_rows_deleted = $7, blocks_written = $8, blocks_merged = $9,"
							  " blocks_deleted = $10, series_deleted = $11, bytes_written = $12,"
							  " bytes_deleted = $13, peak_memory = $14"
							  " WHERE run_id = $1",
							  14, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not record job run " INT64_FORMAT, run_id)));
	SPI_finish();
}

/*
 * Record a failed unit of a worker's run, in a transaction of its own (the
 * caller has aborted the unit's): count it, and keep its error if it is
 * the run's first.  Called outside a transaction.
 */
void
pyroscope_job_run_failed_unit(int64 run_id, CompactCounts *total, const char *error)
{
	total->units_failed++;
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pyroscope_job_run_update(run_id, total, false, error);
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * Runs of a worker interrupted by a crash or a kill stay "running";
 * mark them failed.  worker names the worker in the message, jobs is a
 * text[] literal of the jobs it runs.  Called by a worker when it starts,
 * when no run of its own can be in progress.
 */
static void
pyroscope_job_runs_mark_interrupted(const char *worker, const char *jobs)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(jobs);
	values[1] = CStringGetTextDatum(psprintf("interrupted: the %s exited during the run", worker));
	SPI_connect();
	spi_exec("UPDATE pyroscope.job_runs SET status = 'failed',"
			 " finished_at = pg_catalog.clock_timestamp(), error = $2"
			 " WHERE job = ANY ($1::text[]) AND status = 'running'"
			 "   AND trigger = 'worker'",
			 2, types, values, SPI_OK_UPDATE);
	SPI_finish();
}

/*
 * The start of a worker's pass, in a transaction of its own: whether the
 * extension is there to work on, and, the first time it is, the runs the
 * worker's previous life left "running" marked failed (*cleaned records
 * that).  The caller is a background worker outside a transaction.
 */
bool
pyroscope_worker_pass_ready(const char *worker, const char *jobs, bool *cleaned)
{
	bool		ready;

	StartTransactionCommand();
	ready = pyroscope_extension_ready();
	if (ready && !*cleaned)
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pyroscope_job_runs_mark_interrupted(worker, jobs);
		PopActiveSnapshot();
		*cleaned = true;
	}
	CommitTransactionCommand();
	return ready;
}

/*
 * Keep the newest 1000 runs of a job, and every failed run of the last
 * week.  Called by the worker before each run of the job.
 */
void
pyroscope_job_runs_prune(const char *job)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(job);
	SPI_connect();
	spi_exec("DELETE FROM pyroscope.job_runs r WHERE r.job = $1"
			 " AND NOT (r.status = 'failed' AND r.started_at > pg_catalog.now() - interval '7 days')"
			 " AND r.run_id < (SELECT x.run_id FROM pyroscope.job_runs x WHERE x.job = $1"
			 "                 ORDER BY x.run_id DESC OFFSET 1000 LIMIT 1)",
			 1, types, values, SPI_OK_DELETE);
	SPI_finish();
}

/* ---------------------------------------------------------------------
 * A unit as a function call: pyroscope.compact_unit()
 * ---------------------------------------------------------------------
 */

static const char *const unit_kind_names[] = {"head", "merge", "retention"};

/*
 * The unit pyroscope.compact_unit() was called for, checked: a kind and
 * level that go together, the shard key of the tenant and service, a
 * window start (aligned to the level's window) unless for retention.
 */
void
pyroscope_compact_unit_make(const char *kind, int level, const char *tenant,
							const char *service_name, int32 shard_key,
							bool has_start, TimestampTz start, CompactUnit *u)
{
	int			k;

	for (k = 0; k < lengthof(unit_kind_names); k++)
		if (strcmp(kind, unit_kind_names[k]) == 0)
			break;
	if (k == lengthof(unit_kind_names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown compaction unit kind \"%s\"", kind),
				 errhint("The kinds are head, merge and retention.")));
	if ((k == COMPACT_HEAD && level != 0) || (k == COMPACT_RETENTION && level != 0) ||
		(k == COMPACT_MERGE && (level < 1 || level > COMPACT_MAX_LEVEL)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s unit has no level %d", kind, level),
				 errhint("head and retention units are of level 0, merge units of 1 to %d.",
						 COMPACT_MAX_LEVEL)));
	if (shard_key != pyroscope_shard_key(tenant, service_name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard key %d is not that of tenant \"%s\" and service \"%s\"",
						shard_key, tenant, service_name)));
	if (k != COMPACT_RETENTION && !has_start)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a %s unit needs the start of its window", kind)));
	if (k != COMPACT_RETENTION)
	{
		/*
		 * windows are aligned to the Unix epoch, as the units' listing bins
		 * them
		 */
		int64		w = (int64) level_window(level) * USECS_PER_SEC;
		int64		since_epoch = start +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;

		if (since_epoch % w != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is not the start of a level %d window",
							timestamptz_to_str(start), level),
					 errhint("Windows of level %d are %d seconds long, from the Unix epoch.",
							 level, level_window(level))));
	}
	memset(u, 0, sizeof(*u));
	u->kind = (CompactUnitKind) k;
	u->level = level;
	u->tenant = pstrdup(tenant);
	u->service_name = pstrdup(service_name);
	u->shard_key = shard_key;
	if (k != COMPACT_RETENTION)
	{
		u->start = start;
		u->end = start + (int64) level_window(level) * USECS_PER_SEC;
	}
}

/* The counts as jsonb, with the number of units or not (compact()'s keys). */
Datum
pyroscope_compact_counts_jsonb(const CompactCounts *c, bool with_units)
{
	char	   *json;

	json = psprintf("{\"head_rows_compacted\": " INT64_FORMAT
					", \"blocks_written\": " INT64_FORMAT
					", \"blocks_merged\": " INT64_FORMAT
					", \"bytes_written\": " INT64_FORMAT
					", \"blocks_deleted\": " INT64_FORMAT
					", \"head_rows_deleted\": " INT64_FORMAT
					", \"series_deleted\": " INT64_FORMAT
					", \"bytes_deleted\": " INT64_FORMAT
					", \"peak_memory\": " INT64_FORMAT "%s%s}",
					c->head_rows_compacted, c->blocks_written, c->blocks_merged,
					c->bytes_written, c->blocks_deleted, c->head_rows_deleted,
					c->series_deleted, c->bytes_deleted, c->peak_memory,
					with_units ? ", \"units\": " : "",
					with_units ? psprintf(INT64_FORMAT, c->units) : "");
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

static int64
counts_field(Jsonb *jb, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v) == NULL ||
		v.type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pyroscope.compact_unit() returned no \"%s\"", key)));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric)));
}

/*
 * Run a unit through the SQL function pyroscope.compact_unit(), adding what
 * it did to *c: on one node a plain call, under Citus (where distribute()
 * makes it a distributed function by its shard key, delegated even when
 * nested, as in pyroscope.compact()) a call that runs on the node holding
 * the unit's shard, so that its reading, encoding, locking and deleting
 * stay there.  (Citus delegates a nested call only in the FROM clause: a
 * bare SELECT f() is left to the PL/pgSQL-style simple evaluation.)
 */
void
pyroscope_compact_unit_call(const CompactUnit *u, TimestampTz now, CompactCounts *c)
{
	Oid			types[7] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[8] = "       ";
	bool		isnull;
	Jsonb	   *jb;

	values[0] = Int32GetDatum(u->shard_key);
	values[1] = CStringGetTextDatum(unit_kind_names[u->kind]);
	values[2] = CStringGetTextDatum(u->tenant);
	values[3] = CStringGetTextDatum(u->service_name);
	values[4] = Int32GetDatum(u->level);
	values[5] = TimestampTzGetDatum(u->start);
	if (u->kind == COMPACT_RETENTION)
		nulls[5] = 'n';
	values[6] = TimestampTzGetDatum(now);
	SPI_connect();
	if (SPI_execute_with_args("SELECT u FROM pyroscope.compact_unit($1, $2, $3, $4, $5, $6, $7) u",
							  7, types, values, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not run a compaction unit");
	jb = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	c->units += counts_field(jb, "units");
	c->head_rows_compacted += counts_field(jb, "head_rows_compacted");
	c->head_rows_deleted += counts_field(jb, "head_rows_deleted");
	c->blocks_written += counts_field(jb, "blocks_written");
	c->blocks_merged += counts_field(jb, "blocks_merged");
	c->blocks_deleted += counts_field(jb, "blocks_deleted");
	c->series_deleted += counts_field(jb, "series_deleted");
	c->bytes_written += counts_field(jb, "bytes_written");
	c->bytes_deleted += counts_field(jb, "bytes_deleted");
	c->peak_memory = Max(c->peak_memory, counts_field(jb, "peak_memory"));
	SPI_finish();
}

/* ---------------------------------------------------------------------
 * SQL entry point
 * ---------------------------------------------------------------------
 */

/* All compaction levels (job "compaction") at time now, in this transaction. */
static void
pyroscope_compact_all(TimestampTz now, const char *tenant, CompactCounts *c)
{
	for (int level = 0; level <= COMPACT_MAX_LEVEL; level++)
	{
		List	   *units = pyroscope_compact_units(level == 0 ? COMPACT_HEAD : COMPACT_MERGE,
													level, now, tenant, CurrentMemoryContext);
		ListCell   *lc;

		foreach(lc, units)
			pyroscope_compact_unit_call((CompactUnit *) lfirst(lc), now, c);
		list_free_deep(units);
	}
}

/* Retention of every tenant (job "retention") at time now, in this transaction. */
static void
pyroscope_retention_all(TimestampTz now, const char *tenant, CompactCounts *c)
{
	List	   *units = pyroscope_compact_units(COMPACT_RETENTION, 0, now, tenant,
												CurrentMemoryContext);
	ListCell   *lc;

	foreach(lc, units)
		pyroscope_compact_unit_call((CompactUnit *) lfirst(lc), now, c);
	list_free_deep(units);
}

/*
 * Compaction and retention (of one tenant, or of all when tenant is NULL)
 * in the caller's transaction, taking now as the current time (so tests
 * are deterministic).  Both runs are recorded in pyroscope.job_runs as
 * part of the same transaction.
 */
void
pyroscope_compact_now(TimestampTz now, const char *tenant, CompactCounts *cc,
					  CompactCounts *rc)
{
	int64		run;

	run = pyroscope_job_run_begin("compaction", "sql");
	pyroscope_compact_all(now, tenant, cc);
	pyroscope_job_run_update(run, cc, true, NULL);

	run = pyroscope_job_run_begin("retention", "sql");
	pyroscope_retention_all(now, tenant, rc);
	pyroscope_job_run_update(run, rc, true, NULL);
}

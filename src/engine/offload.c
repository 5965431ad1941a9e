/*-------------------------------------------------------------------------
 *
 * offload.c
 *	  The offload pass: blocks older than pyroscope.offload_after move
 *	  from pyroscope.blocks.data to the object store; offloaded blocks
 *	  past retention are deleted with their objects; orphaned objects are
 *	  removed.  Run by the offloader worker (bgworkers/offloader.c) a step
 *	  per transaction, or by pyroscope.offload() in the caller's.  Also
 *	  the object-store operations of the SQL admin functions.
 *
 * Moving a block, in ONE transaction holding the block's row lock:
 * upload under the block's deterministic key, verify (HEAD size, then read
 * the object back and compare its SHA-256 with the data's), then switch
 * the row to object_key set and data NULL.  So a block is readable in
 * exactly one place at any moment: before the commit only the database
 * copy counts (a crash leaves it, and maybe an object nobody refers to,
 * which the next pass overwrites under the same key or the orphan sweep
 * removes), after the commit only the object does.
 *
 * Deleting objects: a trigger on pyroscope.blocks queues the key of every
 * offloaded block whose row is deleted (or whose object_key changes) in
 * pyroscope.object_deletions, in the deleting transaction.  A retention
 * (or anything else) that rolls back therefore queues nothing, and a
 * committed one always queues its objects.  The pass deletes queued
 * objects after those transactions committed, skipping keys a row refers
 * to again and entries queued by its own transaction, then drops the
 * queue entry; a crash in between only repeats a delete.
 *
 * One pass at a time: the pass holds an advisory lock (the worker a
 * session lock across its transactions, pyroscope.offload() a transaction
 * lock), so the orphan sweep never sees an upload in progress.
 *
 * Runs are recorded in pyroscope.job_runs (job "offload") with the
 * compactor's recording functions: units = blocks tried, blocks_written =
 * blocks offloaded, bytes_written = bytes uploaded, blocks_deleted and
 * bytes_deleted = offloaded blocks removed by retention.
 *
 *-------------------------------------------------------------------------
 */
#include "engine_int.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "sigv4.h"

/* advisory lock of the offload pass: (class, 0) */
#define OFFLOAD_LOCK_CLASS	1887007344
#define OFFLOAD_BATCH		1000
#define BLOCK_KEY_PREFIX	"blocks/"

#define spi_run(sql, nargs, types, values, expect) \
	pyroscope_spi_run("offload", sql, nargs, types, values, expect)

/* first 16 hex digits of the SHA-256 of s: a key-safe stand-in for a name */
static void
name_hash(const char *s, char *out)
{
	char		hex[SIGV4_HEX_LEN + 1];

	sigv4_sha256_hex(s, strlen(s), hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

/*
 * The object key of a block: blocks/<tenant hash>/<service hash>/<id>.pyb.
 * Deterministic, so a retried upload overwrites the same object, and
 * limited to [a-z0-9/.] whatever the tenant and service names hold.
 */
static char *
pyroscope_block_object_key(const char *tenant, const char *service, int64 block_id)
{
	char		t[17],
				s[17];

	name_hash(tenant, t);
	name_hash(service, s);
	return psprintf(BLOCK_KEY_PREFIX "%s/%s/" INT64_FORMAT ".pyb", t, s, block_id);
}

/* Delete one object now; an absent object is fine.  Throws on failure. */
static void
pyroscope_objstore_delete_block(const char *key)
{
	ObjStoreError e;

	if (objstore_delete(key, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not delete object \"%s\"", key));
	objstore_cache_forget(key);
}

/* A block row: its shard key and id (the primary key) */
typedef struct BlockRef
{
	int32		shard_key;
	int64		block_id;
} BlockRef;

/*
 * Offload one block in the current transaction: lock its row, upload,
 * verify, switch the row.  Returns false if the block is gone, already
 * offloaded, or locked by someone else (compaction merging it).
 */
static bool
offload_block(const BlockRef *ref, CompactCounts *c)
{
	int64		block_id = ref->block_id;
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *tenant;
	char	   *service;
	int64		size;
	bytea	   *data;
	size_t		len;
	char	   *key;
	char		want[SIGV4_HEX_LEN + 1];
	char		got[SIGV4_HEX_LEN + 1];
	uint64		stored;
	uint8	   *back;
	ObjStoreError e;

	values[0] = Int64GetDatum(block_id);
	values[2] = Int32GetDatum(ref->shard_key);
	SPI_connect();
	{
		/* every argument a real value: Citus copies them, used or not */
		Oid			ltypes[2] = {INT8OID, INT4OID};
		Datum		lvalues[2] = {values[0], values[2]};

		spi_run("SELECT tenant, service_name, size, data FROM pyroscope.blocks"
				" WHERE shard_key = $2 AND block_id = $1 AND object_key IS NULL AND data IS NOT NULL"
				" FOR UPDATE SKIP LOCKED",
				2, ltypes, lvalues, SPI_OK_SELECT);
	}
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	tenant = SPI_getvalue(tup, desc, 1);
	service = SPI_getvalue(tup, desc, 2);
	size = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	data = DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull));
	len = VARSIZE_ANY_EXHDR(data);
	if ((int64) len != size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("block " INT64_FORMAT " holds %zu bytes but its size says " INT64_FORMAT,
						block_id, len, size)));
	key = pyroscope_block_object_key(tenant, service, block_id);

	if (objstore_put(key, (const uint8 *) VARDATA_ANY(data), len, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not upload block " INT64_FORMAT, block_id));

	/* verify: size, then the bytes themselves */
	if (objstore_head(key, &stored, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not verify block " INT64_FORMAT, block_id));
	if (stored != (uint64) len)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not verify block " INT64_FORMAT ": object \"%s\" holds " UINT64_FORMAT
						" bytes instead of %zu", block_id, key, stored, len)));
	back = palloc_extended(len ? len : 1, MCXT_ALLOC_HUGE);
	if (objstore_get(key, 0, len, back, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not verify block " INT64_FORMAT, block_id));
	sigv4_sha256_hex(VARDATA_ANY(data), len, want);
	sigv4_sha256_hex(back, len, got);
	if (strcmp(want, got) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not verify block " INT64_FORMAT ": object \"%s\" has SHA-256 %s instead of %s",
						block_id, key, got, want)));
	pfree(back);

	values[1] = CStringGetTextDatum(key);
	spi_run("UPDATE pyroscope.blocks SET object_key = $2, data = NULL"
			" WHERE shard_key = $3 AND block_id = $1",
			3, types, values, SPI_OK_UPDATE);
	if (!objstore_test_pause("commit"))
		CHECK_FOR_INTERRUPTS();
	SPI_finish();
	c->blocks_written++;
	c->bytes_written += (int64) len;
	objstore_count(OBJC_BLOCKS_OFFLOADED, 1);
	return true;
}

/* The blocks due for offload at now (BlockRefs; at most 1000). */
static List *
offload_candidates(TimestampTz now, MemoryContext cxt)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	List	   *ids = NIL;

	if (pyroscope_offload_after <= 0)
		return NIL;
	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(pyroscope_offload_after);
	SPI_connect();
	spi_run("SELECT shard_key, block_id FROM pyroscope.blocks"
			" WHERE object_key IS NULL AND data IS NOT NULL"
			"   AND max_ts < $1 - pg_catalog.make_interval(secs => $2) /* every shard */"
			" ORDER BY block_id LIMIT 1000",
			2, types, values, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		BlockRef   *ref = palloc(sizeof(BlockRef));

		ref->shard_key = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		ref->block_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 2, &isnull));
		ids = lappend(ids, ref);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return ids;
}

/*
 * Retention of offloaded blocks.  compact.c's retention deletes them too;
 * this pass keeps offloaded data expiring when the compactor is off: list
 * the rows past their tenant's retention on every shard, then delete each
 * on its own shard (a lock over several shards is refused by Citus); the
 * trigger queues their objects for deletion in this same transaction.
 */
static void
offloaded_retention(TimestampTz now, CompactCounts *c)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	SPITupleTable *tt;
	uint64		n;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(pyroscope_retention);
	SPI_connect();
	spi_run("SELECT x.shard_key, x.block_id FROM pyroscope.blocks x"
			"  LEFT JOIN pyroscope.tenant_retention r ON r.tenant = x.tenant"
			" WHERE x.object_key IS NOT NULL"
			"   AND x.max_ts < $1 - " RETENTION_OF("r.retention", "$2") " /* every shard */"
			" ORDER BY x.block_id LIMIT 1000",
			2, types, values, SPI_OK_SELECT);
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		Oid			btypes[2] = {INT4OID, INT8OID};
		Datum		bvalues[2];
		bool		isnull;

		bvalues[0] = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
		bvalues[1] = SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull);
		CHECK_FOR_INTERRUPTS();
		spi_run("DELETE FROM pyroscope.blocks WHERE shard_key = $1 AND block_id IN"
				" (SELECT block_id FROM pyroscope.blocks"
				"   WHERE shard_key = $1 AND block_id = $2 AND object_key IS NOT NULL"
				"   FOR UPDATE SKIP LOCKED)"
				" RETURNING size",
				2, btypes, bvalues, SPI_OK_DELETE_RETURNING);
		if (SPI_processed == 1)
		{
			c->blocks_deleted++;
			c->bytes_deleted += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	SPI_finish();
}

/*
 * Delete queued objects in the current transaction: entries of committed
 * deletions only (an entry queued by this very transaction could still be
 * rolled back), never a key some row refers to again.  The queue is listed
 * on every shard, then each entry is locked and removed on its own shard.
 * Whether this transaction queued an entry is asked where the entry lives
 * (its xmin is that node's transaction id) and, on one node, of its
 * subtransactions too.  Returns how many objects were deleted.
 */
static int64
process_deletions(void)
{
	int64		done = 0;
	SPITupleTable *tt;
	uint64		n;

	SPI_connect();
	spi_run("SELECT d.object_key, d.xmin::text,"
			"       EXISTS (SELECT 1 FROM pyroscope.blocks b"
			"                WHERE b.shard_key = d.shard_key AND b.object_key = d.object_key),"
			"       d.shard_key,"
			"       coalesce(d.xmin = pg_catalog.xid(pg_catalog.pg_current_xact_id_if_assigned()), false)"
			"  FROM pyroscope.object_deletions d /* every shard */ ORDER BY d.queued_at"
			"  LIMIT 1000",
			0, NULL, NULL, SPI_OK_SELECT);
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *key = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		TransactionId xmin = (TransactionId) strtoul(SPI_getvalue(tt->vals[i], tt->tupdesc, 2),
													 NULL, 10);
		bool		isnull;
		bool		live = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		bool		mine = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull));
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2];

		values[0] = CStringGetTextDatum(key);
		values[1] = SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull);
		if (mine || TransactionIdIsCurrentTransactionId(xmin))
			continue;
		CHECK_FOR_INTERRUPTS();
		/* taken by another pass, or gone since the listing: leave it */
		spi_run("SELECT 1 FROM pyroscope.object_deletions"
				" WHERE shard_key = $2 AND object_key = $1 FOR UPDATE SKIP LOCKED",
				2, types, values, SPI_OK_SELECT);
		if (SPI_processed == 0)
			continue;
		if (!live)
		{
			pyroscope_objstore_delete_block(key);
			done++;
		}
		spi_run("DELETE FROM pyroscope.object_deletions WHERE shard_key = $2 AND object_key = $1",
				2, types, values, SPI_OK_DELETE);
	}
	SPI_finish();
	return done;
}

/* the keys of a listing, collected for the orphan sweep */
static bool
collect_key(void *arg, const char *key, uint64 size)
{
	List	  **keys = (List **) arg;

	*keys = lappend(*keys, pstrdup(key));
	return list_length(*keys) < 100000;
}

/*
 * Remove objects under blocks/ that no row refers to: uploads whose
 * transaction never committed, of blocks compaction has since merged
 * away.  Only with a fresh snapshot per statement (read committed), under
 * the pass lock, so no upload is in flight and every committed switch is
 * visible.  Returns how many objects were removed.
 */
static int64
sweep_orphans(void)
{
	List	   *keys = NIL;
	ListCell   *lc;
	ObjStoreError e;
	int64		removed = 0;

	if (IsolationUsesXactSnapshot())
		return 0;
	if (objstore_list(BLOCK_KEY_PREFIX, collect_key, &keys, &e) != OBJ_OK)
		objstore_report(ERROR, &e, "could not list blocks");
	SPI_connect();
	foreach(lc, keys)
	{
		char	   *key = (char *) lfirst(lc);
		Oid			types[1] = {TEXTOID};
		Datum		values[1];

		CHECK_FOR_INTERRUPTS();
		values[0] = CStringGetTextDatum(key);
		/* the key holds hashes of the names, not the shard key */
		spi_run("SELECT 1 FROM pyroscope.blocks WHERE object_key = $1 /* every shard */",
				1, types, values, SPI_OK_SELECT);
		if (SPI_processed == 0)
		{
			ereport(LOG,
					(errmsg("pyroscope offloader: removing orphaned object \"%s\"", key)));
			pyroscope_objstore_delete_block(key);
			removed++;
		}
	}
	SPI_finish();
	list_free_deep(keys);
	return removed;
}

/* ---------------------------------------------------------------------
 * A pass in the caller's transaction (pyroscope.offload(now))
 * ---------------------------------------------------------------------
 */

/*
 * pyroscope.offload(now): one pass in the caller's transaction, taking
 * "now" as the current time: offload due blocks, retention of offloaded
 * blocks, deletion of objects queued by earlier transactions, orphan
 * sweep.  Recorded in pyroscope.job_runs; returns what was done.
 */
void
pyroscope_offload_now(TimestampTz now, OffloadResult *res)
{
	CompactCounts c = {0};
	int64		run;
	int64		deleted;
	int64		orphans;
	List	   *ids;
	ListCell   *lc;

	run = pyroscope_job_run_begin("offload", "sql");
	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(OFFLOAD_LOCK_CLASS),
						Int32GetDatum(0));
	ids = offload_candidates(now, CurrentMemoryContext);
	foreach(lc, ids)
	{
		CHECK_FOR_INTERRUPTS();
		c.units++;
		offload_block((BlockRef *) lfirst(lc), &c);
	}
	offloaded_retention(now, &c);
	deleted = process_deletions();
	orphans = sweep_orphans();
	pyroscope_job_run_update(run, &c, true, NULL);
	res->blocks_offloaded = c.blocks_written;
	res->bytes_uploaded = c.bytes_written;
	res->blocks_expired = c.blocks_deleted;
	res->objects_deleted = deleted;
	res->orphans_removed = orphans;
}

/* ---------------------------------------------------------------------
 * The worker's pass: a step per transaction
 * ---------------------------------------------------------------------
 */

typedef enum OffloadStep
{
	STEP_BLOCK,
	STEP_RETENTION,
	STEP_DELETIONS,
	STEP_SWEEP
} OffloadStep;

/*
 * One step of a worker pass in a transaction of its own.  A failure is
 * caught, the transaction aborted, and the failure recorded in the run's
 * row; the pass goes on (the compactor's pattern).
 */
static void
run_step(OffloadStep step, const BlockRef *block, int64 run_id, CompactCounts *total,
		 MemoryContext cxt)
{
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		switch (step)
		{
			case STEP_BLOCK:
				total->units++;
				offload_block(block, total);
				break;
			case STEP_RETENTION:
				offloaded_retention(GetCurrentTimestamp(), total);
				break;
			case STEP_DELETIONS:
				(void) process_deletions();
				break;
			case STEP_SWEEP:
				(void) sweep_orphans();
				break;
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *msg;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (step == STEP_BLOCK)
			msg = psprintf("block " INT64_FORMAT ": %s", block->block_id, edata->message);
		else
			msg = pstrdup(edata->message);
		ereport(LOG, (errmsg("pyroscope offloader: %s", msg)));
		pyroscope_job_run_failed_unit(run_id, total, msg);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/*
 * One pass of the offloader worker, each unit of work in its own
 * transaction; between_units (may be NULL) runs between two blocks, e.g.
 * to reload the configuration.  Called outside a transaction.
 */
void
pyroscope_offload_pass(MemoryContext cxt, void (*between_units) (void))
{
	CompactCounts total = {0};
	int64		run_id;
	bool		locked;
	List	   *ids;
	ListCell   *lc;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	run_id = pyroscope_job_run_begin("offload", "worker");
	locked = DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4,
											  Int32GetDatum(OFFLOAD_LOCK_CLASS),
											  Int32GetDatum(0)));
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	if (locked)
	{
		pgstat_report_activity(STATE_RUNNING, "offload");
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		ids = offload_candidates(GetCurrentTimestamp(), cxt);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
		foreach(lc, ids)
		{
			CHECK_FOR_INTERRUPTS();
			if (between_units)
				between_units();
			run_step(STEP_BLOCK, (BlockRef *) lfirst(lc), run_id, &total, cxt);
		}
		run_step(STEP_RETENTION, NULL, run_id, &total, cxt);
		run_step(STEP_DELETIONS, NULL, run_id, &total, cxt);
		run_step(STEP_SWEEP, NULL, run_id, &total, cxt);

		StartTransactionCommand();
		DirectFunctionCall2(pg_advisory_unlock_int4, Int32GetDatum(OFFLOAD_LOCK_CLASS),
							Int32GetDatum(0));
		CommitTransactionCommand();
	}

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pyroscope_job_run_update(run_id, &total, true,
							 locked ? NULL : "skipped: another offload pass was running");
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* ---------------------------------------------------------------------
 * Object-store operations of the SQL admin functions
 * ---------------------------------------------------------------------
 */

static void
check_key(const char *key)
{
	if (!objstore_key_valid(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid object key \"%s\"", key),
				 errhint("Keys are relative, without \"..\", made of A-Z a-z 0-9 / . _ -.")));
}

/* Write an object. */
void
pyroscope_object_put(const char *key, const void *data, size_t len)
{
	ObjStoreError e;

	check_key(key);
	if (objstore_put(key, (const uint8 *) data, len, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not write object \"%s\"", key));
}

/* A byte range of an object (to its end unless len_given), as a bytea. */
bytea *
pyroscope_object_get(const char *key, int64 off, int64 len, bool len_given)
{
	bytea	   *out;
	ObjStoreError e;

	check_key(key);
	if (off < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative")));
	if (!len_given)
	{
		uint64		size;

		if (objstore_head(key, &size, &e) != OBJ_OK)
			objstore_report(ERROR, &e, psprintf("could not read object \"%s\"", key));
		len = (int64) size > off ? (int64) size - off : 0;
	}
	if (len < 0 || len > (int64) (MaxAllocSize - VARHDRSZ))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("length " INT64_FORMAT " is out of range", len)));
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	if (len > 0 && objstore_get(key, (uint64) off, (uint64) len, (uint8 *) VARDATA(out), &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not read object \"%s\"", key));
	return out;
}

/* The size of an object; false if there is none. */
bool
pyroscope_object_head(const char *key, int64 *size)
{
	uint64		sz;
	ObjStoreError e;
	ObjStoreStatus s;

	check_key(key);
	s = objstore_head(key, &sz, &e);
	if (s == OBJ_NOT_FOUND)
		return false;
	if (s != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not look up object \"%s\"", key));
	*size = (int64) sz;
	return true;
}

/* Delete an object. */
void
pyroscope_object_delete(const char *key)
{
	check_key(key);
	pyroscope_objstore_delete_block(key);
}

/* Every object under prefix, to visit (which returns false to stop). */
void
pyroscope_object_list(const char *prefix, PyroObjectVisitor visit, void *arg)
{
	ObjStoreError e;

	if (objstore_list(prefix, visit, arg, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not list objects under \"%s\"", prefix));
}

/* The object store's counters: their names and values, n of each. */
int
pyroscope_object_store_counters(const char **names, int64 *values, int n)
{
	static const char *const counter_names[OBJC_NCOUNTERS] = {
		[OBJC_UPLOADS] = "uploads",
		[OBJC_UPLOAD_BYTES] = "upload_bytes",
		[OBJC_DOWNLOADS] = "downloads",
		[OBJC_DOWNLOAD_BYTES] = "download_bytes",
		[OBJC_DELETES] = "deletes",
		[OBJC_CACHE_HITS] = "cache_hits",
		[OBJC_CACHE_MISSES] = "cache_misses",
		[OBJC_CACHE_HIT_BYTES] = "cache_hit_bytes",
		[OBJC_ERRORS] = "errors",
		[OBJC_BLOCKS_OFFLOADED] = "blocks_offloaded",
	};
	int			i;

	for (i = 0; i < OBJC_NCOUNTERS && i < n; i++)
	{
		names[i] = counter_names[i];
		values[i] = (int64) objstore_counter(i);
	}
	return i;
}

/* The object store's counters in the Prometheus text format (/metrics). */
void
pyroscope_object_store_metrics(StringInfo out)
{
	pyroscope_objstore_metrics(out);
}

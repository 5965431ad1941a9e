/*-------------------------------------------------------------------------
 *
 * offloader.c
 *	  The offload worker and the offload pass: blocks older than
 *	  pyroscope.offload_after move from pyroscope.blocks.data to the object
 *	  store; offloaded blocks past retention are deleted with their
 *	  objects; orphaned objects are removed.  Also the SQL entry points
 *	  (pyroscope.offload(), the object-store admin functions, counters).
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
#include "pyroscope.h"

#include <limits.h>

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "http.h"				/* pyroscope.database */
#include "objstore.h"
#include "sigv4.h"

PG_FUNCTION_INFO_V1(pyroscope_offload);
PG_FUNCTION_INFO_V1(pyroscope_object_store_put);
PG_FUNCTION_INFO_V1(pyroscope_object_store_get);
PG_FUNCTION_INFO_V1(pyroscope_object_store_head);
PG_FUNCTION_INFO_V1(pyroscope_object_store_list);
PG_FUNCTION_INFO_V1(pyroscope_object_store_delete);
PG_FUNCTION_INFO_V1(pyroscope_object_store_stats);

PGDLLEXPORT void pyroscope_offloader_main(Datum arg);

int			pyroscope_offload_after = 86400;	/* s, 0 = never */
static int	pyroscope_offload_interval = 300;	/* s */

/* advisory lock of the offload pass: (class, 0) */
#define OFFLOAD_LOCK_CLASS	1887007344
#define OFFLOAD_BATCH		1000
#define BLOCK_KEY_PREFIX	"blocks/"

static void
spi_run(const char *sql, int nargs, Oid *types, Datum *values, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expect)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not run offload statement: %s", SPI_result_code_string(rc)),
				 errdetail("Statement: %s", sql)));
}

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
char *
pyroscope_block_object_key(const char *tenant, const char *service, int64 block_id)
{
	char		t[17],
				s[17];

	name_hash(tenant, t);
	name_hash(service, s);
	return psprintf(BLOCK_KEY_PREFIX "%s/%s/" INT64_FORMAT ".pyb", t, s, block_id);
}

/* Delete one object now; an absent object is fine.  Throws on failure. */
void
pyroscope_objstore_delete_block(const char *key)
{
	ObjStoreError e;

	if (objstore_delete(key, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not delete object \"%s\"", key));
	objstore_cache_forget(key);
}

/*
 * Offload one block in the current transaction: lock its row, upload,
 * verify, switch the row.  Returns false if the block is gone, already
 * offloaded, or locked by someone else (compaction merging it).
 */
static bool
offload_block(int64 block_id, CompactCounts *c)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
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
	SPI_connect();
	spi_run("SELECT tenant, service_name, size, data FROM pyroscope.blocks"
			" WHERE block_id = $1 AND object_key IS NULL AND data IS NOT NULL"
			" FOR UPDATE SKIP LOCKED",
			1, types, values, SPI_OK_SELECT);
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
	spi_run("UPDATE pyroscope.blocks SET object_key = $2, data = NULL WHERE block_id = $1",
			2, types, values, SPI_OK_UPDATE);
	if (!objstore_test_pause("commit"))
		CHECK_FOR_INTERRUPTS();
	SPI_finish();
	c->blocks_written++;
	c->bytes_written += (int64) len;
	objstore_count(OBJC_BLOCKS_OFFLOADED, 1);
	return true;
}

/* Ids of the blocks due for offload at now (at most OFFLOAD_BATCH). */
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
	spi_run("SELECT block_id FROM pyroscope.blocks"
			" WHERE object_key IS NULL AND data IS NOT NULL"
			"   AND max_ts < $1 - pg_catalog.make_interval(secs => $2)"
			" ORDER BY block_id LIMIT 1000",
			2, types, values, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(cxt);

		ids = lappend(ids, palloc(sizeof(int64)));
		*(int64 *) llast(ids) = id;
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return ids;
}

/*
 * Retention of offloaded blocks.  compact.c's retention deletes them too;
 * this pass keeps offloaded data expiring when the compactor is off:
 * delete the rows past their tenant's retention; the trigger queues their
 * objects for deletion in this same transaction.
 */
static void
offloaded_retention(TimestampTz now, CompactCounts *c)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	bool		isnull;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(pyroscope_retention);
	SPI_connect();
	spi_run("WITH d AS (DELETE FROM pyroscope.blocks b WHERE b.block_id IN"
			"  (SELECT x.block_id FROM pyroscope.blocks x"
			"     LEFT JOIN pyroscope.tenant_retention r ON r.tenant = x.tenant"
			"    WHERE x.object_key IS NOT NULL"
			"      AND x.max_ts < $1 - " RETENTION_OF("r.retention", "$2")
			"    FOR UPDATE OF x SKIP LOCKED) RETURNING b.size)"
			" SELECT count(*), COALESCE(sum(size), 0)::bigint FROM d",
			2, types, values, SPI_OK_SELECT);
	c->blocks_deleted += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1, &isnull));
	c->bytes_deleted += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
}

/*
 * Delete queued objects in the current transaction: entries of committed
 * deletions only (an entry queued by this very transaction could still be
 * rolled back), never a key some row refers to again.  Returns how many
 * objects were deleted.
 */
static int64
process_deletions(void)
{
	int64		done = 0;

	SPI_connect();
	spi_run("SELECT d.object_key, d.xmin::text,"
			"       EXISTS (SELECT 1 FROM pyroscope.blocks b WHERE b.object_key = d.object_key)"
			"  FROM pyroscope.object_deletions d ORDER BY d.queued_at"
			"  LIMIT 1000 FOR UPDATE SKIP LOCKED",
			0, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		n = SPI_processed;

		for (uint64 i = 0; i < n; i++)
		{
			char	   *key = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
			TransactionId xmin = (TransactionId) strtoul(SPI_getvalue(tt->vals[i], tt->tupdesc, 2),
														 NULL, 10);
			bool		isnull;
			bool		live = DatumGetBool(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
			Oid			types[1] = {TEXTOID};
			Datum		values[1];

			if (TransactionIdIsCurrentTransactionId(xmin))
				continue;
			CHECK_FOR_INTERRUPTS();
			if (!live)
			{
				pyroscope_objstore_delete_block(key);
				done++;
			}
			values[0] = CStringGetTextDatum(key);
			spi_run("DELETE FROM pyroscope.object_deletions WHERE object_key = $1",
					1, types, values, SPI_OK_DELETE);
		}
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
		spi_run("SELECT 1 FROM pyroscope.blocks WHERE object_key = $1",
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
 * SQL: pyroscope.offload(now)
 * ---------------------------------------------------------------------
 */

/*
 * pyroscope.offload(now): one pass in the caller's transaction, taking
 * "now" as the current time: offload due blocks, retention of offloaded
 * blocks, deletion of objects queued by earlier transactions, orphan
 * sweep.  Recorded in pyroscope.job_runs; returns what was done.
 */
Datum
pyroscope_offload(PG_FUNCTION_ARGS)
{
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(0);
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
		offload_block(*(int64 *) lfirst(lc), &c);
	}
	offloaded_retention(now, &c);
	deleted = process_deletions();
	orphans = sweep_orphans();
	pyroscope_job_run_update(run, &c, true, NULL);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(
		psprintf("{\"blocks_offloaded\": " INT64_FORMAT ", \"bytes_uploaded\": " INT64_FORMAT
				 ", \"blocks_expired\": " INT64_FORMAT ", \"objects_deleted\": " INT64_FORMAT
				 ", \"orphans_removed\": " INT64_FORMAT "}",
				 c.blocks_written, c.bytes_written, c.blocks_deleted, deleted, orphans))));
}

/* ---------------------------------------------------------------------
 * The worker
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
run_step(OffloadStep step, int64 block_id, int64 run_id, CompactCounts *total,
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
				offload_block(block_id, total);
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
			msg = psprintf("block " INT64_FORMAT ": %s", block_id, edata->message);
		else
			msg = pstrdup(edata->message);
		ereport(LOG, (errmsg("pyroscope offloader: %s", msg)));
		total->units_failed++;
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pyroscope_job_run_update(run_id, total, false, msg);
		PopActiveSnapshot();
		CommitTransactionCommand();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/* One pass of the worker, each unit of work in its own transaction. */
static void
worker_pass(MemoryContext cxt)
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
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			run_step(STEP_BLOCK, *(int64 *) lfirst(lc), run_id, &total, cxt);
		}
		run_step(STEP_RETENTION, 0, run_id, &total, cxt);
		run_step(STEP_DELETIONS, 0, run_id, &total, cxt);
		run_step(STEP_SWEEP, 0, run_id, &total, cxt);

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

/*
 * Main of the offloader: every pyroscope.offload_interval, a pass in
 * pyroscope.database, until SIGTERM or postmaster death.  A long-lived
 * context and a per-pass one, reset after each pass.
 */
void
pyroscope_offloader_main(Datum arg)
{
	MemoryContext long_cxt;
	MemoryContext iter_cxt;
	TimestampTz next_run = 0;
	bool		cleaned = false;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(pyroscope_database, NULL, 0);
	pgstat_report_appname("pyroscope offloader");

	long_cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope offloader",
									 ALLOCSET_DEFAULT_SIZES);
	iter_cxt = AllocSetContextCreate(long_cxt, "pyroscope offloader pass",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(long_cxt);

	for (;;)
	{
		TimestampTz now;
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();
		if (pyroscope_offload_after > 0 && now >= next_run)
		{
			bool		ready;

			next_run = now + (int64) pyroscope_offload_interval * USECS_PER_SEC;
			ready = pyroscope_worker_pass_ready("offloader", "{offload}", &cleaned);
			MemoryContextSwitchTo(iter_cxt);
			if (ready)
				worker_pass(iter_cxt);
			pgstat_report_stat(true);
			MemoryContextSwitchTo(long_cxt);
			MemoryContextReset(iter_cxt);
		}
		now = GetCurrentTimestamp();
		timeout = pyroscope_offload_after > 0 ? (long) Max((next_run - now) / 1000, 1) : -1;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0),
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Define the offloader's GUCs and, while preloading, its worker.  Called
 * from _PG_init after pyroscope.database is defined.
 */
void
pyroscope_offloader_register(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("pyroscope.offload_after",
							"Age (newest profile) after which blocks move to the object store; 0 never offloads.",
							NULL, &pyroscope_offload_after,
							86400, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.offload_interval",
							"Time between two passes of the offload worker.",
							NULL, &pyroscope_offload_interval,
							300, 1, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	pyroscope_objstore_define_gucs();

	if (!process_shared_preload_libraries_in_progress)
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pyroscope");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pyroscope_offloader_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pyroscope offloader");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pyroscope offloader");
	RegisterBackgroundWorker(&worker);
}

/* ---------------------------------------------------------------------
 * SQL: object-store admin functions (superuser only) and counters
 * ---------------------------------------------------------------------
 */

static char *
arg_key(FunctionCallInfo fcinfo, int n)
{
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(n));

	if (!objstore_key_valid(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid object key \"%s\"", key),
				 errhint("Keys are relative, without \"..\", made of A-Z a-z 0-9 / . _ -.")));
	return key;
}

/* pyroscope.object_store_put(key, data) */
Datum
pyroscope_object_store_put(PG_FUNCTION_ARGS)
{
	char	   *key = arg_key(fcinfo, 0);
	bytea	   *data = PG_GETARG_BYTEA_PP(1);
	ObjStoreError e;

	if (objstore_put(key, (const uint8 *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not write object \"%s\"", key));
	PG_RETURN_VOID();
}

/* pyroscope.object_store_get(key, offset, length): a byte range, or the rest */
Datum
pyroscope_object_store_get(PG_FUNCTION_ARGS)
{
	char	   *key = arg_key(fcinfo, 0);
	int64		off = PG_GETARG_INT64(1);
	int64		len;
	bytea	   *out;
	ObjStoreError e;

	if (off < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset must not be negative")));
	if (PG_ARGISNULL(2))
	{
		uint64		size;

		if (objstore_head(key, &size, &e) != OBJ_OK)
			objstore_report(ERROR, &e, psprintf("could not read object \"%s\"", key));
		len = (int64) size > off ? (int64) size - off : 0;
	}
	else
		len = PG_GETARG_INT64(2);
	if (len < 0 || len > (int64) (MaxAllocSize - VARHDRSZ))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("length " INT64_FORMAT " is out of range", len)));
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	if (len > 0 && objstore_get(key, (uint64) off, (uint64) len, (uint8 *) VARDATA(out), &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not read object \"%s\"", key));
	PG_RETURN_BYTEA_P(out);
}

/* pyroscope.object_store_head(key): size, or NULL if absent */
Datum
pyroscope_object_store_head(PG_FUNCTION_ARGS)
{
	char	   *key = arg_key(fcinfo, 0);
	uint64		size;
	ObjStoreError e;
	ObjStoreStatus s = objstore_head(key, &size, &e);

	if (s == OBJ_NOT_FOUND)
		PG_RETURN_NULL();
	if (s != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not look up object \"%s\"", key));
	PG_RETURN_INT64((int64) size);
}

/* pyroscope.object_store_delete(key) */
Datum
pyroscope_object_store_delete(PG_FUNCTION_ARGS)
{
	pyroscope_objstore_delete_block(arg_key(fcinfo, 0));
	PG_RETURN_VOID();
}

typedef struct ListState
{
	ReturnSetInfo *rsinfo;
} ListState;

static bool
list_row(void *arg, const char *key, uint64 size)
{
	ListState  *st = (ListState *) arg;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = CStringGetTextDatum(key);
	values[1] = Int64GetDatum((int64) size);
	tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, values, nulls);
	return true;
}

/* pyroscope.object_store_list(prefix): key and size of every object under it */
Datum
pyroscope_object_store_list(PG_FUNCTION_ARGS)
{
	char	   *prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ListState	st;
	ObjStoreError e;

	InitMaterializedSRF(fcinfo, 0);
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (objstore_list(prefix, list_row, &st, &e) != OBJ_OK)
		objstore_report(ERROR, &e, psprintf("could not list objects under \"%s\"", prefix));
	return (Datum) 0;
}

/* pyroscope.object_store_stats(): the counters behind /metrics */
Datum
pyroscope_object_store_stats(PG_FUNCTION_ARGS)
{
	static const char *const names[OBJC_NCOUNTERS] = {
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
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < OBJC_NCOUNTERS; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(names[i]);
		values[1] = Int64GetDatum((int64) objstore_counter(i));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

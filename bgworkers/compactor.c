/*-------------------------------------------------------------------------
 *
 * compactor.c
 *	  The compactor background worker: every pyroscope.compaction_interval
 *	  it runs the compaction job (head into level-0 blocks, then merges of
 *	  levels 1 and 2) and the retention job in pyroscope.database.
 *
 * One transaction per unit of work (compact.c cuts the work into units).
 * A failing unit is caught, its transaction aborted, and the failure
 * recorded in pyroscope.job_runs in a transaction of its own; the run
 * goes on with the next unit.  A run killed outright (crash, kill -9)
 * leaves its row "running"; the next worker start marks it failed, and
 * since nothing of an uncommitted unit is visible, the next run simply
 * redoes that unit.
 *
 * Signal handlers only set flags and the latch: SIGTERM ends the worker
 * at the next interrupt check (also inside a unit), SIGHUP reloads the
 * configuration.  The worker keeps a long-lived memory context and a
 * per-iteration one that is reset after every run, and shows its state
 * in shared memory (pyroscope.compactor_status(), pyroscope.job_status).
 *
 *-------------------------------------------------------------------------
 */
#include "pyroscope.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "http.h"				/* pyroscope.database */

PG_FUNCTION_INFO_V1(pyroscope_compactor_status);
PG_FUNCTION_INFO_V1(pyroscope_compactor_wakeup);

PGDLLEXPORT void pyroscope_compactor_main(Datum arg);

static bool pyroscope_compactor_enabled = true;
static int	pyroscope_compaction_interval = 60; /* s */

/* The worker's state, in shared memory. */
typedef struct CompactorShared
{
	slock_t		mutex;
	int			pid;			/* 0 = not running */
	Latch	   *latch;
	bool		enabled;		/* pyroscope.compactor as the worker sees it */
	bool		running;		/* inside a run */
	char		job[NAMEDATALEN];	/* job of the current run */
	TimestampTz started;
	TimestampTz last_run_start;
	TimestampTz last_run_end;
	uint64		runs;
	uint64		failed_units;
	bool		wakeup;			/* run now, requested from SQL */
} CompactorShared;

static CompactorShared *compactor_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
compactor_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CompactorShared)));
}

static void
compactor_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	compactor_shared = ShmemInitStruct("pyroscope compactor", sizeof(CompactorShared), &found);
	if (!found)
	{
		memset(compactor_shared, 0, sizeof(CompactorShared));
		SpinLockInit(&compactor_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Define the compactor's GUCs and, while preloading, its shared memory
 * and the worker.  Called from _PG_init after the HTTP workers' GUCs
 * (pyroscope.database is defined there).
 */
void
pyroscope_compactor_register(void)
{
	BackgroundWorker worker;

	DefineCustomBoolVariable("pyroscope.compactor",
							 "Run the compactor worker (compaction and retention).",
							 "Takes effect on reload; pyroscope.compact() works either way.",
							 &pyroscope_compactor_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.compaction_interval",
							"Time between two runs of the compactor worker.",
							NULL,
							&pyroscope_compaction_interval,
							60, 1, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = compactor_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = compactor_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pyroscope");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pyroscope_compactor_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pyroscope compactor");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pyroscope compactor");
	RegisterBackgroundWorker(&worker);
}

static void
set_state(bool running, const char *job)
{
	if (compactor_shared == NULL)
		return;
	SpinLockAcquire(&compactor_shared->mutex);
	compactor_shared->running = running;
	strlcpy(compactor_shared->job, job ? job : "", sizeof(compactor_shared->job));
	SpinLockRelease(&compactor_shared->mutex);
	pgstat_report_activity(running ? STATE_RUNNING : STATE_IDLE, job);
}

static void
compactor_cleanup(int code, Datum arg)
{
	if (compactor_shared == NULL)
		return;
	SpinLockAcquire(&compactor_shared->mutex);
	compactor_shared->pid = 0;
	compactor_shared->latch = NULL;
	compactor_shared->running = false;
	compactor_shared->job[0] = '\0';
	SpinLockRelease(&compactor_shared->mutex);
}

/*
 * Run one unit in a transaction of its own.  On error: abort, record the
 * failure in the run's row in a new transaction, log it, and go on
 * (TimescaleDB's job pattern).  cxt is the per-iteration context.
 */
static void
run_unit(const CompactUnit *u, TimestampTz now, int64 run_id, CompactCounts *total,
		 MemoryContext cxt)
{
	CompactCounts c = {0};

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		pyroscope_compact_unit(u, now, &c);
		PopActiveSnapshot();
		CommitTransactionCommand();
		total->units += c.units;
		total->head_rows_compacted += c.head_rows_compacted;
		total->head_rows_deleted += c.head_rows_deleted;
		total->blocks_written += c.blocks_written;
		total->blocks_merged += c.blocks_merged;
		total->blocks_deleted += c.blocks_deleted;
		total->series_deleted += c.series_deleted;
		total->bytes_written += c.bytes_written;
		total->bytes_deleted += c.bytes_deleted;
		total->peak_memory = Max(total->peak_memory, c.peak_memory);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *msg;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		msg = psprintf("%s (tenant \"%s\"%s%s%s, level %d)", edata->message, u->tenant,
					   u->service_name ? ", service \"" : "",
					   u->service_name ? u->service_name : "",
					   u->service_name ? "\"" : "", u->level);
		ereport(LOG,
				(errmsg("pyroscope compactor: unit failed: %s", msg)));
		total->units++;
		total->units_failed++;
		if (compactor_shared)
		{
			SpinLockAcquire(&compactor_shared->mutex);
			compactor_shared->failed_units++;
			SpinLockRelease(&compactor_shared->mutex);
		}

		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pyroscope_job_run_update(run_id, total, false, msg);
		PopActiveSnapshot();
		CommitTransactionCommand();
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * List the units of one level in a transaction of their own; a failure is
 * recorded like a failed unit.  Returns false on failure.
 */
static bool
list_units(CompactUnitKind kind, int level, TimestampTz now, int64 run_id,
		   CompactCounts *total, MemoryContext cxt, List **units)
{
	volatile bool ok = true;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		*units = pyroscope_compact_units(kind, level, now, NULL, cxt);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("pyroscope compactor: could not list level %d units: %s",
						level, edata->message)));
		total->units_failed++;
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pyroscope_job_run_update(run_id, total, false, edata->message);
		PopActiveSnapshot();
		CommitTransactionCommand();
		FreeErrorData(edata);
		*units = NIL;
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return ok;
}

/*
 * One run of a job ("compaction" or "retention"): record its start, list
 * and run its units level by level, record its end.
 */
static void
run_job(const char *job, MemoryContext cxt)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		retention = strcmp(job, "retention") == 0;
	int			nlevels = retention ? 1 : COMPACT_MAX_LEVEL + 1;
	CompactCounts total = {0};
	int64		run_id;

	set_state(true, job);
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pyroscope_job_runs_prune(job);
	run_id = pyroscope_job_run_begin(job, "worker");
	PopActiveSnapshot();
	CommitTransactionCommand();

	for (int level = 0; level < nlevels; level++)
	{
		List	   *units = NIL;
		ListCell   *lc;

		if (!list_units(retention ? COMPACT_RETENTION :
						level == 0 ? COMPACT_HEAD : COMPACT_MERGE,
						level, now, run_id, &total, cxt, &units))
			continue;

		foreach(lc, units)
		{
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			run_unit((CompactUnit *) lfirst(lc), now, run_id, &total, cxt);
			MemoryContextSwitchTo(cxt);
		}
	}

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pyroscope_job_run_update(run_id, &total, true, NULL);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	set_state(false, NULL);
}

/*
 * Main of the compactor: connect, mark runs a previous incarnation left
 * unfinished, then run both jobs every compaction_interval (or when woken
 * from SQL) until SIGTERM or postmaster death.
 */
void
pyroscope_compactor_main(Datum arg)
{
	MemoryContext long_cxt;
	MemoryContext iter_cxt;
	TimestampTz next_run = 0;
	bool		cleaned = false;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(pyroscope_database, NULL, 0);
	pgstat_report_appname("pyroscope compactor");

	if (compactor_shared)
	{
		SpinLockAcquire(&compactor_shared->mutex);
		compactor_shared->pid = MyProcPid;
		compactor_shared->latch = MyLatch;
		compactor_shared->started = GetCurrentTimestamp();
		compactor_shared->running = false;
		SpinLockRelease(&compactor_shared->mutex);
		before_shmem_exit(compactor_cleanup, (Datum) 0);
	}

	long_cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope compactor",
									 ALLOCSET_DEFAULT_SIZES);
	iter_cxt = AllocSetContextCreate(long_cxt, "pyroscope compactor iteration",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(long_cxt);

	for (;;)
	{
		TimestampTz now;
		bool		wakeup = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (compactor_shared)
		{
			SpinLockAcquire(&compactor_shared->mutex);
			compactor_shared->enabled = pyroscope_compactor_enabled;
			wakeup = compactor_shared->wakeup;
			compactor_shared->wakeup = false;
			SpinLockRelease(&compactor_shared->mutex);
		}

		now = GetCurrentTimestamp();
		if (pyroscope_compactor_enabled && (wakeup || now >= next_run))
		{
			bool		ready;

			next_run = now + (int64) pyroscope_compaction_interval * USECS_PER_SEC;
			ready = pyroscope_worker_pass_ready("compactor", "{compaction,retention}", &cleaned);
			MemoryContextSwitchTo(iter_cxt);

			if (ready)
			{
				if (compactor_shared)
				{
					SpinLockAcquire(&compactor_shared->mutex);
					compactor_shared->last_run_start = now;
					SpinLockRelease(&compactor_shared->mutex);
				}
				run_job("compaction", iter_cxt);
				run_job("retention", iter_cxt);
				if (compactor_shared)
				{
					SpinLockAcquire(&compactor_shared->mutex);
					compactor_shared->last_run_end = GetCurrentTimestamp();
					compactor_shared->runs++;
					SpinLockRelease(&compactor_shared->mutex);
				}
			}
			pgstat_report_stat(true);
			MemoryContextSwitchTo(long_cxt);
			MemoryContextReset(iter_cxt);
		}

		{
			long		timeout;

			now = GetCurrentTimestamp();
			timeout = pyroscope_compactor_enabled
				? (long) Max((next_run - now) / 1000, 1) : -1;
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH |
							 (timeout >= 0 ? WL_TIMEOUT : 0),
							 timeout, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/* pyroscope.compactor_status(): the worker's state, one row, or none. */
Datum
pyroscope_compactor_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[8];
	bool		nulls[8];
	CompactorShared s;

	InitMaterializedSRF(fcinfo, 0);
	if (compactor_shared == NULL)
		return (Datum) 0;
	SpinLockAcquire(&compactor_shared->mutex);
	memcpy(&s, compactor_shared, sizeof(s));
	SpinLockRelease(&compactor_shared->mutex);
	if (s.pid == 0)
		return (Datum) 0;

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(s.pid);
	values[1] = CStringGetTextDatum(!s.enabled ? "disabled" :
									s.running ? "running" : "idle");
	if (s.running)
		values[2] = CStringGetTextDatum(s.job);
	else
		nulls[2] = true;
	values[3] = TimestampTzGetDatum(s.started);
	values[4] = TimestampTzGetDatum(s.last_run_start);
	nulls[4] = s.last_run_start == 0;
	values[5] = TimestampTzGetDatum(s.last_run_end);
	nulls[5] = s.last_run_end == 0;
	values[6] = Int64GetDatum((int64) s.runs);
	values[7] = Int64GetDatum((int64) s.failed_units);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* pyroscope.compactor_wakeup(): ask the worker to run now. */
Datum
pyroscope_compactor_wakeup(PG_FUNCTION_ARGS)
{
	Latch	   *latch = NULL;

	if (compactor_shared == NULL)
		PG_RETURN_BOOL(false);
	SpinLockAcquire(&compactor_shared->mutex);
	if (compactor_shared->pid != 0)
	{
		compactor_shared->wakeup = true;
		latch = compactor_shared->latch;
	}
	SpinLockRelease(&compactor_shared->mutex);
	if (latch)
		SetLatch(latch);
	PG_RETURN_BOOL(latch != NULL);
}

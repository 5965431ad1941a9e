/*-------------------------------------------------------------------------
 *
 * compact_job.c
 *	  Running the compaction and retention jobs as the compactor worker
 *	  does: one transaction per unit of work (compact.c cuts the work into
 *	  units); a failing unit is caught, its transaction aborted, and the
 *	  failure recorded in pyroscope.job_runs in a transaction of its own,
 *	  and the run goes on with the next unit (TimescaleDB's job pattern).
 *	  A run killed outright leaves its row "running"; the next worker start
 *	  marks it failed, and since nothing of an uncommitted unit is
 *	  visible, the next run simply redoes that unit.
 *
 *	  Also the compactor's state in shared memory, which the worker
 *	  updates and pyroscope.compactor_status() and compactor_wakeup() read.
 *	  Called outside a transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

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

Size
pyroscope_compactor_shmem_size(void)
{
	return MAXALIGN(sizeof(CompactorShared));
}

/* Attach the state (the caller holds AddinShmemInitLock). */
void
pyroscope_compactor_shmem_init(void)
{
	bool		found;

	compactor_shared = ShmemInitStruct("pyroscope compactor", sizeof(CompactorShared), &found);
	if (!found)
	{
		memset(compactor_shared, 0, sizeof(CompactorShared));
		SpinLockInit(&compactor_shared->mutex);
	}
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
		pyroscope_compact_unit_call(u, now, &c);
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
		if (compactor_shared)
		{
			SpinLockAcquire(&compactor_shared->mutex);
			compactor_shared->failed_units++;
			SpinLockRelease(&compactor_shared->mutex);
		}
		pyroscope_job_run_failed_unit(run_id, total, msg);
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
		pyroscope_job_run_failed_unit(run_id, total, edata->message);
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
run_job(const char *job, MemoryContext cxt, void (*between_units) (void))
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
			if (between_units)
				between_units();
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
 * The compactor worker is this process: show it in the shared state until
 * it exits.
 */
void
pyroscope_compactor_attach(void)
{
	if (compactor_shared == NULL)
		return;
	SpinLockAcquire(&compactor_shared->mutex);
	compactor_shared->pid = MyProcPid;
	compactor_shared->latch = MyLatch;
	compactor_shared->started = GetCurrentTimestamp();
	compactor_shared->running = false;
	SpinLockRelease(&compactor_shared->mutex);
	before_shmem_exit(compactor_cleanup, (Datum) 0);
}

/*
 * Record pyroscope.compactor as the worker sees it; returns whether a run
 * was asked for from SQL since the last call.
 */
bool
pyroscope_compactor_take_wakeup(bool enabled)
{
	bool		wakeup;

	if (compactor_shared == NULL)
		return false;
	SpinLockAcquire(&compactor_shared->mutex);
	compactor_shared->enabled = enabled;
	wakeup = compactor_shared->wakeup;
	compactor_shared->wakeup = false;
	SpinLockRelease(&compactor_shared->mutex);
	return wakeup;
}

/*
 * One pass of the compactor: the compaction job, then the retention job,
 * each recorded in pyroscope.job_runs.  between_units (may be NULL) runs
 * between two units, e.g. to reload the configuration.
 */
void
pyroscope_compactor_pass(MemoryContext cxt, void (*between_units) (void))
{
	if (compactor_shared)
	{
		SpinLockAcquire(&compactor_shared->mutex);
		compactor_shared->last_run_start = GetCurrentTimestamp();
		SpinLockRelease(&compactor_shared->mutex);
	}
	run_job("compaction", cxt, between_units);
	run_job("retention", cxt, between_units);
	if (compactor_shared)
	{
		SpinLockAcquire(&compactor_shared->mutex);
		compactor_shared->last_run_end = GetCurrentTimestamp();
		compactor_shared->runs++;
		SpinLockRelease(&compactor_shared->mutex);
	}
}

/* The compactor's state; false when no compactor runs. */
bool
pyroscope_compactor_get_status(CompactorStatus *st)
{
	CompactorShared s;

	if (compactor_shared == NULL)
		return false;
	SpinLockAcquire(&compactor_shared->mutex);
	memcpy(&s, compactor_shared, sizeof(s));
	SpinLockRelease(&compactor_shared->mutex);
	if (s.pid == 0)
		return false;
	st->pid = s.pid;
	st->enabled = s.enabled;
	st->running = s.running;
	strlcpy(st->job, s.job, sizeof(st->job));
	st->started = s.started;
	st->last_run_start = s.last_run_start;
	st->last_run_end = s.last_run_end;
	st->runs = s.runs;
	st->failed_units = s.failed_units;
	return true;
}

/* Ask the compactor to run now; false when no compactor runs. */
bool
pyroscope_compactor_request_wakeup(void)
{
	Latch	   *latch = NULL;

	if (compactor_shared == NULL)
		return false;
	SpinLockAcquire(&compactor_shared->mutex);
	if (compactor_shared->pid != 0)
	{
		compactor_shared->wakeup = true;
		latch = compactor_shared->latch;
	}
	SpinLockRelease(&compactor_shared->mutex);
	if (latch)
		SetLatch(latch);
	return latch != NULL;
}

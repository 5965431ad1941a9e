/*-------------------------------------------------------------------------
 *
 * compactor.c
 *	  The compactor background worker: every pyroscope.compaction_interval
 *	  (or when woken from SQL) it runs a pass of the engine's compaction
 *	  and retention jobs (src/engine/compact_job.c) in pyroscope.database.
 *
 * Signal handlers only set flags and the latch: SIGTERM ends the worker
 * at the next interrupt check (also inside a unit), SIGHUP reloads the
 * configuration.  The worker keeps a long-lived memory context and a
 * per-iteration one that is reset after every run.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "workers.h"

PGDLLEXPORT void pyroscope_compactor_main(Datum arg);

/* Register the worker (while preloading).  Called from _PG_init. */
void
pyroscope_compactor_register(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;

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

/* between two units of a pass: a SIGHUP's reload */
static void
reload_config(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
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

	pyroscope_compactor_attach();

	long_cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope compactor",
									 ALLOCSET_DEFAULT_SIZES);
	iter_cxt = AllocSetContextCreate(long_cxt, "pyroscope compactor iteration",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(long_cxt);

	for (;;)
	{
		TimestampTz now;
		bool		wakeup;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		wakeup = pyroscope_compactor_take_wakeup(pyroscope_compactor_enabled);

		now = GetCurrentTimestamp();
		if (pyroscope_compactor_enabled && (wakeup || now >= next_run))
		{
			bool		ready;

			next_run = now + (int64) pyroscope_compaction_interval * USECS_PER_SEC;
			ready = pyroscope_worker_pass_ready("compactor", "{compaction,retention}", &cleaned);
			MemoryContextSwitchTo(iter_cxt);

			if (ready)
				pyroscope_compactor_pass(iter_cxt, reload_config);
			pgstat_report_stat(true);
			MemoryContextSwitchTo(long_cxt);
			MemoryContextReset(iter_cxt);
			pyroscope_release_memory(true);
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

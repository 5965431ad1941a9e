/*-------------------------------------------------------------------------
 *
 * offloader.c
 *	  The offload worker: every pyroscope.offload_interval, a pass of the
 *	  engine's offload (src/engine/offload.c, which says how blocks move
 *	  and objects are deleted) in pyroscope.database.
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

PGDLLEXPORT void pyroscope_offloader_main(Datum arg);

/* between two blocks of a pass: a SIGHUP's reload */
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
				pyroscope_offload_pass(iter_cxt, reload_config);
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

/* Register the worker (while preloading).  Called from _PG_init. */
void
pyroscope_offloader_register(void)
{
	BackgroundWorker worker;

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

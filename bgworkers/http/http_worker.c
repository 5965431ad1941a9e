/*-------------------------------------------------------------------------
 *
 * http_worker.c
 *	  Registration, configuration and main loop of the HTTP API background
 *	  workers.
 *
 * pyroscope.http_workers workers are registered while the library is
 * preloaded.  Each connects to pyroscope.database and runs its own
 * libmicrohttpd daemon in external-event mode on the shared port
 * (SO_REUSEPORT): the daemon's epoll fd, the process latch and postmaster
 * death are waited on in one WaitEventSet, and MHD_run is called after
 * every wakeup and whenever libmicrohttpd's own timeout expires.  Signal
 * handlers only set flags and the latch: SIGTERM ends the worker at once,
 * SIGHUP reloads the configuration.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <unistd.h>
#include <microhttpd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"


int			http_worker_index = -1;

/*
 * SO_REUSEPORT lets every socket of the same OS user join a port, so a
 * second cluster run by the same user on the same address and port would
 * silently get half of the requests.  The postmaster therefore holds an
 * exclusive lock on a file named after the address and port (in /tmp, like
 * PostgreSQL's socket lock files) for as long as it runs; its workers
 * inherit it.  Returns false, with a warning naming the other cluster,
 * when another postmaster holds it.
 */
static bool
lock_http_port(void)
{
	char		path[MAXPGPATH];
	char		holder[MAXPGPATH];
	char		addr[64];
	int			fd;
	ssize_t		n;
	size_t		j = 0;

	/* the address in a file name: keep [A-Za-z0-9.], the rest becomes '_' */
	for (const char *c = pyroscope_http_listen_address; *c && j < sizeof(addr) - 1; c++)
		addr[j++] = (isalnum((unsigned char) *c) || *c == '.') ? *c : '_';
	addr[j] = '\0';
	snprintf(path, sizeof(path), "/tmp/.pyroscope-http-%s-%d.lock", addr, pyroscope_http_port);

	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
	{
		/* another OS user's file: SO_REUSEPORT will not mix our sockets */
		ereport(LOG,
				(errmsg("could not open HTTP port lock file \"%s\": %m", path)));
		return true;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
	{
		n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		close(fd);
		ereport(WARNING,
				(errmsg("pyroscope HTTP API not started: %s port %d is already served by the cluster in \"%s\"",
						pyroscope_http_listen_address, pyroscope_http_port, holder),
				 errhint("Set pyroscope.http_port to a free port, or pyroscope.http_workers to 0.")));
		return false;
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, DataDir, strlen(DataDir), 0) < 0)
		ereport(LOG,
				(errmsg("could not write HTTP port lock file \"%s\": %m", path)));
	/* kept open (and locked) for the life of the postmaster */
	return true;
}

/*
 * Register the workers.  Called from _PG_init; does nothing unless the
 * library is being preloaded, since workers only make sense then.
 */
static void
register_worker(const char *function, const char *type, int index)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pyroscope");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s %d", type, index);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	worker.bgw_main_arg = Int32GetDatum(index);
	RegisterBackgroundWorker(&worker);
}

/*
 * The number of HTTP and query workers pyroscope_http_register_workers()
 * registers (unless another server holds the port): none without a listen
 * address or HTTP workers, the query workers within HTTP_MAX_WORKERS.
 * _PG_init reserves their slots before any is registered.
 */
int
pyroscope_http_planned_workers(void)
{
	if (pyroscope_http_listen_address == NULL || pyroscope_http_listen_address[0] == '\0' ||
		pyroscope_http_workers <= 0)
		return 0;
	return pyroscope_http_workers +
		Max(0, Min(pyroscope_http_query_workers, HTTP_MAX_WORKERS - pyroscope_http_workers));
}

void
pyroscope_http_register_workers(void)
{
	int			nworkers = pyroscope_http_planned_workers();

	if (!process_shared_preload_libraries_in_progress || nworkers == 0)
		return;
	if (!lock_http_port())
		return;
	for (int i = 0; i < pyroscope_http_workers; i++)
		register_worker("pyroscope_http_worker_main", "pyroscope http worker", i);
	if (pyroscope_http_workers + pyroscope_http_query_workers > HTTP_MAX_WORKERS)
		ereport(WARNING,
				(errmsg("only %d of pyroscope.http_query_workers = %d started: HTTP and query workers are at most %d",
						HTTP_MAX_WORKERS - pyroscope_http_workers, pyroscope_http_query_workers,
						HTTP_MAX_WORKERS)));
	for (int i = 0; i < nworkers - pyroscope_http_workers; i++)
		register_worker("pyroscope_http_query_worker_main", "pyroscope http query worker", i);
}

/*
 * Main of one HTTP worker: connect, start the daemon, then loop on the
 * wait event set until SIGTERM or postmaster death.
 */
void
pyroscope_http_worker_main(Datum arg)
{
	MemoryContext daemon_cxt;
	struct MHD_Daemon *daemon;
	const union MHD_DaemonInfo *info;
	WaitEventSet *wes;
	long		poll_wait = -1;

	http_worker_index = DatumGetInt32(arg);

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(pyroscope_database, NULL, 0);
	pgstat_report_appname("pyroscope http worker");

	pyroscope_http_worker_attach(http_worker_index, false);

	daemon_cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope http daemon",
									   ALLOCSET_DEFAULT_SIZES);
	daemon = http_server_start(daemon_cxt);
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not get the epoll descriptor of the HTTP daemon")));

#if PG_VERSION_NUM >= 170000
	/* no resource owner: the set lives in TopMemoryContext as long as we do */
	wes = CreateWaitEventSet(NULL, 3);
#else
	wes = CreateWaitEventSet(TopMemoryContext, 3);
#endif
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);

	ereport(LOG,
			(errmsg("pyroscope http worker %d listening on %s port %d%s",
					http_worker_index, pyroscope_http_listen_address, pyroscope_http_port,
					http_tls_enabled() ? " (TLS)" : "")));

	for (;;)
	{
		WaitEvent	ev[3];
		MHD_UNSIGNED_LONG_LONG mhd_timeout;
		long		timeout = -1;
		long		header_wait;
		int			n;

		if (MHD_get_timeout(daemon, &mhd_timeout) == MHD_YES)
			timeout = mhd_timeout > (MHD_UNSIGNED_LONG_LONG) INT_MAX ? INT_MAX : (long) mhd_timeout;
		if (poll_wait >= 0 && (timeout < 0 || poll_wait < timeout))
			timeout = poll_wait;
		header_wait = http_close_slow_connections();
		if (header_wait >= 0 && (timeout < 0 || header_wait < timeout))
			timeout = header_wait;

		n = WaitEventSetWait(wes, timeout, ev, lengthof(ev), PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
			if (ev[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			http_tls_reload();
		}

		/*
		 * Serve the connections; then flush the WAL once for the pushes of
		 * the round and take the query workers' answers, and serve again the
		 * connections that this resumed (a resumed connection does not wake
		 * the daemon's descriptor by itself).
		 */
		for (;;)
		{
			bool		resumed = false;

			MHD_run(daemon);
			if (http_flush_commits())
				resumed = true;
			poll_wait = http_dispatch_poll(&resumed);
			if (!resumed)
				break;
		}
	}
}

/*-------------------------------------------------------------------------
 *
 * module.c
 *	  The module entry of the pyroscope extension.  _PG_init only
 *	  dispatches: the core's allocator, every setting (src/engine/guc.c),
 *	  the background workers, and one pair of shared-memory hooks that
 *	  fans out to each part's size and attach functions.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "http.h"
#include "objstore.h"
#include "workers.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
pyroscope_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(add_size(add_size(pyroscope_objstore_shmem_size(),
													  pyroscope_compactor_shmem_size()),
											 add_size(pyroscope_worker_status_shmem_size(),
													  http_shmem_size())),
									pyroscope_limits_shmem_size()));
	pyroscope_limits_shmem_request();
}

static void
pyroscope_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pyroscope_objstore_shmem_init();
	pyroscope_compactor_shmem_init();
	pyroscope_worker_status_shmem_init();
	http_shmem_init();
	pyroscope_limits_shmem_init();
	LWLockRelease(AddinShmemInitLock);
	if (!IsUnderPostmaster)
		pyroscope_align_heap_for_children();
}

/*
 * Worker slots beside ours that a server needs: parallel query workers
 * (max_parallel_workers_per_gather is 2 by default), the logical
 * replication launcher.
 */
#define OTHER_WORKER_SLOTS 3

/*
 * Our background workers take slots of max_worker_processes, which
 * PostgreSQL sizes for parallel query workers, logical replication and
 * other extensions (8 by default: with our six workers and the logical
 * replication launcher, a parallel plan got one worker of the two it
 * planned, and none while another query had it).  Unless the setting was
 * made (in a configuration file or on the command line), it is raised by
 * the number of workers we register, before registering them: PostgreSQL
 * refuses a worker registered past the setting.  A setting at this
 * priority yields to one made; PostgreSQL sizes its worker slots after the
 * preloaded libraries had their chance to change settings.
 */
static void
reserve_worker_slots(int nworkers)
{
	char		value[32];

	if (nworkers <= 0)
		return;
	snprintf(value, sizeof(value), "%d", max_worker_processes + nworkers);
	SetConfigOption("max_worker_processes", value, PGC_POSTMASTER, PGC_S_DYNAMIC_DEFAULT);
	if (max_worker_processes - nworkers < OTHER_WORKER_SLOTS)
		ereport(WARNING,
				(errmsg("pyroscope's %d background workers leave %d of max_worker_processes = %d for parallel queries and other workers",
						nworkers, Max(max_worker_processes - nworkers, 0), max_worker_processes),
				 errhint("Raise max_worker_processes to at least %d, or leave it unset: pyroscope then adds its workers to the default.",
						 nworkers + OTHER_WORKER_SLOTS)));
}

void
_PG_init(void)
{
	pyroscope_install_allocator();
	pyroscope_define_gucs();
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pyroscope_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pyroscope_shmem_startup;

	/* the offloader, the compactor, the HTTP and query workers */
	reserve_worker_slots(2 + pyroscope_http_planned_workers());
	pyroscope_offloader_register();
	pyroscope_http_register_workers();
	pyroscope_compactor_register();
}

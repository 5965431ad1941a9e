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

	pyroscope_offloader_register();
	pyroscope_http_register_workers();
	pyroscope_compactor_register();
}

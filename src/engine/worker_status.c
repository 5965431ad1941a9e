/*-------------------------------------------------------------------------
 *
 * worker_status.c
 *	  The status board of the HTTP workers in shared memory: one slot per
 *	  worker (pid, start, busy or idle, requests and errors answered, the
 *	  last error).  The workers write their own slot; the
 *	  pyroscope.http_workers view reads them all.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"

typedef struct HttpWorkerSlot
{
	slock_t		mutex;			/* protects the non-atomic fields */
	int			pid;			/* 0 = not running */
	bool		query;			/* a query worker */
	TimestampTz started;
	bool		busy;
	char		last_error[256];
	TimestampTz last_error_at;
	pg_atomic_uint64 requests;
	pg_atomic_uint64 errors;
} HttpWorkerSlot;

static HttpWorkerSlot *slots = NULL;	/* HTTP_MAX_WORKERS of them */
static int	my_slot = -1;

Size
pyroscope_worker_status_shmem_size(void)
{
	return MAXALIGN(sizeof(HttpWorkerSlot) * HTTP_MAX_WORKERS);
}

/* Attach the board (the caller holds AddinShmemInitLock). */
void
pyroscope_worker_status_shmem_init(void)
{
	bool		found;

	slots = ShmemInitStruct("pyroscope http workers",
							sizeof(HttpWorkerSlot) * HTTP_MAX_WORKERS, &found);
	if (!found)
		for (int w = 0; w < HTTP_MAX_WORKERS; w++)
		{
			HttpWorkerSlot *slot = &slots[w];

			SpinLockInit(&slot->mutex);
			slot->pid = 0;
			slot->query = false;
			slot->started = 0;
			slot->busy = false;
			slot->last_error[0] = '\0';
			slot->last_error_at = 0;
			pg_atomic_init_u64(&slot->requests, 0);
			pg_atomic_init_u64(&slot->errors, 0);
		}
}

/* Clear this worker's slot when the process exits. */
static void
slot_cleanup(int code, Datum arg)
{
	HttpWorkerSlot *slot = &slots[my_slot];

	SpinLockAcquire(&slot->mutex);
	slot->pid = 0;
	slot->busy = false;
	SpinLockRelease(&slot->mutex);
}

/* This process is HTTP worker index: show it on the board until it exits. */
void
pyroscope_http_worker_attach(int index, bool query)
{
	HttpWorkerSlot *slot;

	if (slots == NULL || index < 0 || index >= HTTP_MAX_WORKERS)
		return;
	my_slot = index;
	slot = &slots[index];
	SpinLockAcquire(&slot->mutex);
	slot->pid = MyProcPid;
	slot->query = query;
	slot->started = GetCurrentTimestamp();
	slot->busy = false;
	SpinLockRelease(&slot->mutex);
	before_shmem_exit(slot_cleanup, (Datum) 0);
}

/* Mark this worker busy or idle, and remember the last error it answered. */
void
pyroscope_http_worker_set_state(bool busy, const char *error)
{
	HttpWorkerSlot *slot;

	if (slots == NULL || my_slot < 0)
		return;
	slot = &slots[my_slot];
	SpinLockAcquire(&slot->mutex);
	slot->busy = busy;
	if (error)
	{
		strlcpy(slot->last_error, error, sizeof(slot->last_error));
		slot->last_error_at = GetCurrentTimestamp();
	}
	SpinLockRelease(&slot->mutex);
}

/* Count a request this worker answered, and whether it was an error. */
void
pyroscope_http_worker_count(bool error)
{
	if (slots == NULL || my_slot < 0)
		return;
	pg_atomic_fetch_add_u64(&slots[my_slot].requests, 1);
	if (error)
		pg_atomic_fetch_add_u64(&slots[my_slot].errors, 1);
}

/* Slot index of the board; false when it was never used. */
bool
pyroscope_http_worker_get_status(int index, HttpWorkerStatus *st)
{
	HttpWorkerSlot *slot;

	if (slots == NULL || index < 0 || index >= HTTP_MAX_WORKERS)
		return false;
	slot = &slots[index];
	SpinLockAcquire(&slot->mutex);
	st->pid = slot->pid;
	st->query = slot->query;
	st->started = slot->started;
	st->busy = slot->busy;
	st->last_error_at = slot->last_error_at;
	memcpy(st->last_error, slot->last_error, sizeof(st->last_error));
	SpinLockRelease(&slot->mutex);
	st->requests = pg_atomic_read_u64(&slot->requests);
	st->errors = pg_atomic_read_u64(&slot->errors);
	return !(st->pid == 0 && st->started == 0);
}

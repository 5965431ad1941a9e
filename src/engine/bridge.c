/*-------------------------------------------------------------------------
 *
 * bridge.c
 *	  The bridge that lets the pure-C core allocate in memory contexts
 *	  (within the query memory budget) and report its errors as ereports
 *	  with fitting SQLSTATEs; and the installed extension's version.
 *
 *-------------------------------------------------------------------------
 */
#include "engine_int.h"

#include <limits.h>
#include <malloc.h>
#include <unistd.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/memutils.h"


/*
 * The query memory budget.  While a query runs with the budget active,
 * every chunk the core allocates is counted (by its real chunk size) and
 * an allocation that would pass the limit fails like an out-of-memory
 * one; pyroscope_report then reports the limit instead.
 */
typedef struct QueryBudget
{
	bool		active;
	bool		exceeded;
	Size		used;
	Size		peak;
	Size		limit;			/* bytes, 0 = none */
	bool		compaction;		/* a compaction unit's, not a query's */
} QueryBudget;

static QueryBudget budget;

/* the hint of every error of the query budget, which also tells them apart */
#define BUDGET_HINT "Narrow the time range or the selector, or raise pyroscope.query_memory_limit."

static bool budget_callback_registered = false;

static void
budget_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PARALLEL_COMMIT)
		budget.active = false;
}

static void
budget_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	/* an error caught by an exception block ends the query it came from */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		budget.active = false;
}

void
pyroscope_budget_begin(void)
{
	if (!budget_callback_registered)
	{
		RegisterXactCallback(budget_xact_callback, NULL);
		RegisterSubXactCallback(budget_subxact_callback, NULL);
		budget_callback_registered = true;
	}
	budget.active = true;
	budget.exceeded = false;
	budget.used = 0;
	budget.peak = 0;
	budget.limit = (Size) pyroscope_query_memory_limit * 1024;
	budget.compaction = false;
}

/* The same for one compaction unit, within pyroscope.compaction_memory_limit. */
void
pyroscope_budget_begin_compaction(void)
{
	pyroscope_budget_begin();
	budget.limit = (Size) pyroscope_compaction_memory_limit * 1024;
	budget.compaction = true;
}

/*
 * What the head cache adopts stops counting as the query's: the cache is
 * counted as a whole (see budget_charge).
 */
void
pyroscope_budget_forget(Size bytes)
{
	if (budget.active)
		budget.used = budget.used > bytes ? budget.used - bytes : 0;
}

void
pyroscope_budget_end(void)
{
	budget.active = false;
}

bool
pyroscope_budget_exceeded(void)
{
	return budget.exceeded;
}

/*
 * A state that grows row by row outside an engine query -- the merge
 * aggregate, called directly in SQL, in the workers of a parallel plan or
 * in the shard queries Citus sends its workers, where no budget is active
 * -- keeps within pyroscope.query_memory_limit too: its memory context as a
 * whole (all it holds, children included) is checked after each row, so
 * it passes the limit by at most one row's worth before the error.  (The
 * budget's "exceeded" flag is left alone: no budget may be active, and a
 * flag left set would make a later real out-of-memory of this process read
 * as the budget's; the error's hint marks it instead.)
 */
void
pyroscope_budget_check_context(MemoryContext cxt, const char *context)
{
	Size		used;

	if (pyroscope_query_memory_limit <= 0)
		return;
	used = MemoryContextMemAllocated(cxt, true);
	if (used > (Size) pyroscope_query_memory_limit * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: query needs more than pyroscope.query_memory_limit (%d kB)",
						context, pyroscope_query_memory_limit),
				 errhint(BUDGET_HINT)));
}

/*
 * Whether an error is the query budget's, wherever it was raised: in this
 * process, in a parallel worker or on a Citus worker (whose errors arrive
 * with their SQLSTATE, message and hint).  Other limits share its SQLSTATE
 * (a pprof with too many samples, ...), so the hint tells them apart.
 */
bool
pyroscope_error_over_budget(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED && edata->hint != NULL &&
		strcmp(edata->hint, BUDGET_HINT) == 0;
}

/* Count a new chunk; false (and the chunk freed) if it breaks the budget. */
static bool
budget_charge(void *p)
{
	Size		space = GetMemoryChunkSpace(p);

	/*
	 * The backend's head cache counts against the budget too: when the two do
	 * not fit, unused cache entries go first.
	 */
	if (budget.limit > 0 &&
		budget.used + pyroscope_head_cache_bytes() + space > budget.limit)
		pyroscope_head_cache_shrink(budget.used + pyroscope_head_cache_bytes() + space -
									budget.limit);
	if (budget.limit > 0 &&
		budget.used + pyroscope_head_cache_bytes() + space > budget.limit)
	{
		budget.exceeded = true;
		pfree(p);
		return false;
	}
	budget.used += space;
	if (budget.used > budget.peak)
		budget.peak = budget.used;
	return true;
}

static void
budget_release(void *p)
{
	Size		space = GetMemoryChunkSpace(p);

	budget.used = budget.used > space ? budget.used - space : 0;
}

/*
 * Processes that work with profiles (ingest, queries, workers) allocate and
 * free multi-megabyte buffers on every call.  PostgreSQL hands such chunks
 * straight to malloc, and glibc's default thresholds then return them to
 * the kernel and fault them back in each time: a quarter to a half of
 * ingest time in bench/ingest.sh.  The first core allocation of a process
 * fixes the thresholds so that up to 64MB of freed memory is kept for
 * reuse.  The postmaster never allocates through the core, so backends
 * that do not use the extension keep glibc's defaults.
 */
static void
tune_malloc_once(void)
{
	static bool done = false;

	if (done)
		return;
	done = true;
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
}

/*
 * The core's allocator hooks.  Allocations go to CurrentMemoryContext and
 * never throw: a failure returns NULL and the core turns it into
 * PYRO_ENOMEM, so no ereport unwinds through core or library frames.
 */
static void *
pg_core_alloc(void *ctx, size_t size)
{
	void	   *p;

	tune_malloc_once();
	p = MemoryContextAllocExtended(CurrentMemoryContext, size ? size : 1,
								   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);

	if (p != NULL && budget.active && !budget_charge(p))
		return NULL;
	return p;
}

static void *
pg_core_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	void	   *p;

	/* grow within the chunk's own context; PG 15 has no non-throwing repalloc */
	p = MemoryContextAllocExtended(GetMemoryChunkContext(ptr),
								   new_size ? new_size : 1,
								   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (p == NULL)
		return NULL;
	if (budget.active && !budget_charge(p))
		return NULL;
	memcpy(p, ptr, Min(old_size, new_size));
	if (budget.active)
		budget_release(ptr);
	pfree(ptr);
	return p;
}

static void
pg_core_free(void *ctx, void *ptr)
{
	if (budget.active)
		budget_release(ptr);
	pfree(ptr);
}

void
pyroscope_install_allocator(void)
{
	PyroAllocator a = {pg_core_alloc, pg_core_realloc, pg_core_free, NULL};

	pyro_set_allocator(&a);
}

/*
 * The chunks the heap is grown and its top taken in: below glibc's smallest
 * mmap threshold, so they come from the heap
 */
#define HEAP_CHUNK (64 * 1024)
/* the free top of the heap left to the postmaster (see below) */
#define HEAP_TOP_KEPT (64 * 1024)

/*
 * Whether it was taken: once per postmaster.  Taken again at each
 * reinitialisation after a crash, the postmaster's next allocations would
 * grow the heap by a fresh huge page each time (2 MB more resident per
 * crash, measured).
 */
static bool heap_top_taken = false;

/*
 * Called in the postmaster: leave the malloc heap's end on a 2 MB boundary,
 * with little of it free below, for the processes it forks.
 *
 * Every backend and worker grows the heap it inherits.  With glibc's
 * glibc.malloc.hugetlb=1 (what scripts/cluster.sh and scripts/server.sh
 * set) each growth ends on a 2 MB boundary and is advised for transparent
 * huge pages, but the postmaster's own heap ends wherever its first
 * growth left it (glibc did not know the break yet and rounded the size,
 * not the end).  A child's first growth then starts with up to 2 MB of
 * ordinary 4 kB pages up to the boundary: up to 500 page faults in its
 * first query, ~12 us each on the VMs this project runs on, a random
 * number from one server start to the next.  Growing the heap once here
 * through malloc itself puts the end on a boundary (glibc's trims keep it
 * there); the chunks are freed at once and only their headers are
 * touched.  Then the free top below the boundary is taken (see below).
 * Harmless where huge pages are off or the allocator is another: then it
 * changes nothing but a few pages and up to 2 MB of address space.
 */
void
pyroscope_align_heap_for_children(void)
{
#ifdef __GLIBC__
	void	   *chunks[64];
	int			n = 0;
	void	   *start = sbrk(0);

	while (n < lengthof(chunks) && sbrk(0) == start)
	{
		chunks[n] = malloc(HEAP_CHUNK);
		if (chunks[n] == NULL)
			break;
		n++;
	}
	while (n > 0)
		free(chunks[--n]);

	/*
	 * The free top of the heap below that boundary is what a child's
	 * allocations take first, in ordinary 4 kB pages: up to 2 MB of them,
	 * depending on where the heap began (a random place).  Take it, less a
	 * little for the postmaster's own later allocations, in chunks that are
	 * never freed nor touched beyond their headers: it costs address space,
	 * not memory, and a child's first allocations then grow the heap past the
	 * boundary, in huge pages.
	 */
#if __GLIBC_PREREQ(2, 33)
	for (n = 0; n < 64 && !heap_top_taken; n++)
	{
		/* keepcost: the size of the free top */
		if (mallinfo2().keepcost < HEAP_TOP_KEPT + HEAP_CHUNK ||
			malloc(HEAP_CHUNK - 64) == NULL)
			break;
	}
	heap_top_taken = true;
#endif
#endif
}

/*
 * Report a core error.  context says what was being done ("could not decode
 * pprof profile", ...) and prefixes the core's message.
 */
void
pyroscope_report(const PyroError *err, const char *context)
{
	int			sqlstate;

	if (err->code == PYRO_ENOMEM && budget.exceeded && budget.compaction)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: compaction unit needs more than pyroscope.compaction_memory_limit (%d kB)",
						context, pyroscope_compaction_memory_limit),
				 errhint("Lower pyroscope.block_window, or raise pyroscope.compaction_memory_limit.")));
	if (err->code == PYRO_ENOMEM && budget.exceeded)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: query needs more than pyroscope.query_memory_limit (%d kB)",
						context, pyroscope_query_memory_limit),
				 errhint(BUDGET_HINT)));
	switch (err->code)
	{
		case PYRO_ENOMEM:
			sqlstate = ERRCODE_OUT_OF_MEMORY;
			break;
		case PYRO_ELIMIT:
			sqlstate = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case PYRO_ECORRUPT:
			sqlstate = ERRCODE_DATA_CORRUPTED;
			break;
		case PYRO_EINVAL:
		default:
			sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
	}
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s: %s", context, err->msg[0] ? err->msg : "unknown error")));
	pg_unreachable();
}

/*
 * The version of the extension installed in this database, or NULL when
 * it is not installed (in a transaction).
 */
char *
pyroscope_extension_installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("pyroscope"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * Whether the extension is installed in this database at the version of
 * this library (in a transaction): workers connected to pyroscope.database
 * wait for it, and for ALTER EXTENSION ... UPDATE after an upgrade (the
 * library's queries need the schema of its own version).
 */
bool
pyroscope_extension_ready(void)
{
	char	   *version = pyroscope_extension_installed_version();

	return version != NULL && strcmp(version, PYROSCOPE_EXTENSION_VERSION) == 0;
}

/*
 * Run a statement through SPI (inside SPI_connect) and error out unless it
 * returns expect; what says whose statement it is ("compaction").
 */
void
pyroscope_spi_run(const char *what, const char *sql, int nargs, Oid *types, Datum *values,
				  int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expect)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not run %s statement: %s", what, SPI_result_code_string(rc)),
				 errdetail("Statement: %s", sql)));
}

/*
 * CHECK_FOR_INTERRUPTS, and leave if the postmaster has died: a long
 * request in a worker must not hold the shared memory a restart needs
 * (PostgreSQL itself notices postmaster death only while waiting).  Called
 * by the loops of a request that grow with its input.
 */
void
pyroscope_check_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
	if (!PostmasterIsAlive())
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("terminating pyroscope worker because the postmaster died")));
}

/*
 * Testing only: sleep ms milliseconds (the *_test_delay settings), waking
 * for interrupts, so that a cancel, a statement timeout or SIGTERM ends
 * the wait at once; postmaster death is noticed the way the loops of a
 * request notice it (pyroscope_check_interrupts).
 */
void
pyroscope_test_sleep(int ms)
{
	TimestampTz until;

	if (ms <= 0)
		return;
	until = GetCurrentTimestamp() + (int64) ms * 1000;
	for (;;)
	{
		long		left = (long) ((until - GetCurrentTimestamp()) / 1000);

		pyroscope_check_interrupts();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH,
						 Min(left, 100), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Give memory freed by a finished unit of work back to the kernel.  Large
 * chunks (a block being built, a tree being merged) come from malloc;
 * once freed, glibc keeps the top of its heap mapped, so a worker's
 * resident memory would stay at its largest unit's.  Called by the
 * workers between units of work.
 */
void
pyroscope_release_memory(bool always)
{
#ifdef __GLIBC__
	/*
	 * Trimming is not free (the next unit faults its pages in again, and
	 * glibc walks its free lists): after a query, only when it needed more
	 * than 32 MB.
	 */
	if (always || budget.peak > 32 * 1024 * 1024)
		malloc_trim(0);
#endif
}

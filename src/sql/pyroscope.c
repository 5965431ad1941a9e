/*-------------------------------------------------------------------------
 *
 * pyroscope.c
 *	  Module entry point of the pyroscope extension: GUCs, and the bridge
 *	  that lets the pure-C core allocate in memory contexts and report its
 *	  errors as ereports with fitting SQLSTATEs.
 *
 *-------------------------------------------------------------------------
 */
#include "pyroscope.h"

#include <limits.h>

#include "utils/guc.h"
#include "utils/memutils.h"

#include "http.h"

PG_MODULE_MAGIC;

int			pyroscope_max_profile_size = 16 * 1024 * 1024;
int			pyroscope_max_profile_samples = 1000000;
int			pyroscope_max_label_names = 30;
int			pyroscope_max_label_name_length = 1024;
int			pyroscope_max_label_value_length = 2048;

void		_PG_init(void);

/*
 * The core's allocator hooks.  Allocations go to CurrentMemoryContext and
 * never throw: a failure returns NULL and the core turns it into
 * PYRO_ENOMEM, so no ereport unwinds through core or library frames.
 */
static void *
pg_core_alloc(void *ctx, size_t size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size ? size : 1,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
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
	memcpy(p, ptr, Min(old_size, new_size));
	pfree(ptr);
	return p;
}

static void
pg_core_free(void *ctx, void *ptr)
{
	pfree(ptr);
}

void
pyroscope_install_allocator(void)
{
	PyroAllocator a = {pg_core_alloc, pg_core_realloc, pg_core_free, NULL};

	pyro_set_allocator(&a);
}

/*
 * Report a core error.  context says what was being done ("could not decode
 * pprof profile", ...) and prefixes the core's message.
 */
void
pyroscope_report(const PyroError *err, const char *context)
{
	int			sqlstate;

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

void
_PG_init(void)
{
	pyroscope_install_allocator();

	DefineCustomIntVariable("pyroscope.max_profile_size",
							"Largest accepted profile, after decompression.",
							NULL,
							&pyroscope_max_profile_size,
							16 * 1024 * 1024, 1024, MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_profile_samples",
							"Largest number of samples accepted in one profile.",
							NULL,
							&pyroscope_max_profile_samples,
							1000000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_label_names",
							"Largest number of labels of one series, before the server adds its own.",
							NULL,
							&pyroscope_max_label_names,
							30, 1, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_label_name_length",
							"Longest accepted label name, in bytes.",
							NULL,
							&pyroscope_max_label_name_length,
							1024, 1, 65535,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_label_value_length",
							"Longest accepted label value, in bytes.",
							NULL,
							&pyroscope_max_label_value_length,
							2048, 1, 65535,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	pyroscope_http_register_workers();

	MarkGUCPrefixReserved("pyroscope");
}

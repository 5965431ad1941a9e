/*-------------------------------------------------------------------------
 *
 * limits.c
 *	  Per-tenant limits as upstream names them (spec API.md §17): the
 *	  ingestion rate and burst, series per tenant, label limits, query
 *	  length, concurrency and max_nodes ceiling.  Global GUC defaults, per
 *	  tenant overrides in pyroscope.tenant_limits (NULL: the default).
 *
 *	  What must be shared between processes lives in a shared hash table
 *	  keyed by tenant: the token bucket of the ingestion rate, the queries
 *	  running, and the counts of refused uploads by reason
 *	  (pyroscope_discarded_*{reason,tenant}).  Without
 *	  shared_preload_libraries there is no table: rate and concurrency are
 *	  then not limited and nothing is counted.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#define TENANTS_MAX			4096	/* tenants tracked in shared memory */
#define TENANT_KEY_LEN		160

const char *const pyroscope_discard_names[PYRO_NDISCARD] = {
	[PYRO_DISCARD_WINDOW] = "not_in_ingestion_window",
	[PYRO_DISCARD_RATE] = "rate_limited",
	[PYRO_DISCARD_SERIES] = "series_limit",
	[PYRO_DISCARD_LIMIT] = "limit",
	[PYRO_DISCARD_MALFORMED] = "malformed",
	[PYRO_DISCARD_NO_TYPE] = "no_profile_type",
	[PYRO_DISCARD_DENIED] = "permission_denied",
	[PYRO_DISCARD_OTHER] = "other",
};

typedef struct TenantEntry
{
	char		tenant[TENANT_KEY_LEN]; /* hash key */
	slock_t		mutex;
	double		tokens;			/* bytes the bucket holds */
	TimestampTz refilled;		/* when tokens was last brought up to date */
	int			queries;		/* queries running */
	uint64		discarded[PYRO_NDISCARD][3];	/* profiles, samples, bytes */
} TenantEntry;

typedef struct TenantShared
{
	LWLock	   *lock;			/* the hash table's shape */
	bool		full_warned;
} TenantShared;

static TenantShared *tenant_shared = NULL;
static HTAB *tenant_hash = NULL;

/* the entry whose query slot this process holds, if any */
static TenantEntry *held_query = NULL;
static bool release_registered = false;

/* the last refusal of this process, for the HTTP layer */
static int	refusal_reason = -1;
static double refusal_retry_after = 0;

Size
pyroscope_limits_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(TenantShared)),
					hash_estimate_size(TENANTS_MAX, sizeof(TenantEntry)));
}

void
pyroscope_limits_shmem_request(void)
{
	RequestNamedLWLockTranche("pyroscope tenants", 1);
}

/* Attach the table (the caller holds AddinShmemInitLock). */
void
pyroscope_limits_shmem_init(void)
{
	HASHCTL		ctl;
	bool		found;

	tenant_shared = ShmemInitStruct("pyroscope tenants", sizeof(TenantShared), &found);
	if (!found)
	{
		tenant_shared->lock = &(GetNamedLWLockTranche("pyroscope tenants"))->lock;
		tenant_shared->full_warned = false;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = TENANT_KEY_LEN;
	ctl.entrysize = sizeof(TenantEntry);
	tenant_hash = ShmemInitHash("pyroscope tenant table", TENANTS_MAX, TENANTS_MAX, &ctl,
								HASH_ELEM | HASH_STRINGS);
}

/* The tenant's shared entry, made on first use; NULL without one. */
static TenantEntry *
tenant_entry(const char *tenant)
{
	char		key[TENANT_KEY_LEN];
	TenantEntry *e;
	bool		found;

	if (tenant_hash == NULL)
		return NULL;
	memset(key, 0, sizeof(key));
	strlcpy(key, tenant, sizeof(key));
	LWLockAcquire(tenant_shared->lock, LW_SHARED);
	e = hash_search(tenant_hash, key, HASH_FIND, NULL);
	LWLockRelease(tenant_shared->lock);
	if (e)
		return e;
	LWLockAcquire(tenant_shared->lock, LW_EXCLUSIVE);
	e = hash_search(tenant_hash, key, HASH_ENTER_NULL, &found);
	if (e && !found)
	{
		SpinLockInit(&e->mutex);
		e->tokens = -1;			/* a full bucket, once the burst is known */
		e->refilled = 0;
		e->queries = 0;
		memset(e->discarded, 0, sizeof(e->discarded));
	}
	else if (e == NULL && !tenant_shared->full_warned)
	{
		tenant_shared->full_warned = true;
		ereport(WARNING,
				(errmsg("pyroscope tracks at most %d tenants: the ingestion rate and query concurrency of more are not limited",
						TENANTS_MAX)));
	}
	LWLockRelease(tenant_shared->lock);
	return e;
}

/* ---------------------------------------------------------------- limits */

static SPIPlanPtr limits_plan = NULL;

/*
 * The limits of a tenant: the GUC defaults, overridden by its row of
 * pyroscope.tenant_limits.  One query per call; callers keep the result
 * for their request.
 */
void
pyroscope_tenant_limits(const char *tenant, PyroTenantLimits *out)
{
	Datum		arg = CStringGetTextDatum(tenant);
	bool		isnull;

	out->ingestion_rate_mb = pyroscope_ingestion_rate_mb;
	out->ingestion_burst_size_mb = pyroscope_ingestion_burst_size_mb;
	out->max_series = pyroscope_max_series_per_tenant;
	out->max_label_names = pyroscope_max_label_names;
	out->max_label_name_length = pyroscope_max_label_name_length;
	out->max_label_value_length = pyroscope_max_label_value_length;
	out->max_query_length = pyroscope_http_max_query_length;
	out->max_flamegraph_nodes_max = pyroscope_max_flamegraph_nodes_max;
	out->max_query_concurrency = pyroscope_max_query_concurrency;

	SPI_connect();
	if (limits_plan == NULL)
	{
		Oid			t[1] = {TEXTOID};

		limits_plan = SPI_prepare("SELECT ingestion_rate_mb, ingestion_burst_size_mb,"
								  " max_global_series_per_tenant, max_label_names_per_series,"
								  " max_label_name_length, max_label_value_length,"
								  " extract(epoch FROM max_query_length)::bigint,"
								  " max_flamegraph_nodes_max, max_query_concurrency"
								  " FROM pyroscope.tenant_limits WHERE tenant = $1",
								  1, t);
		if (limits_plan == NULL || SPI_keepplan(limits_plan) != 0)
			elog(ERROR, "could not prepare the tenant limits query");
	}
	if (SPI_execute_plan(limits_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the tenant limits");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d;

#define INT_COL(n, field) \
		do { d = SPI_getbinval(tup, desc, n, &isnull); \
			 if (!isnull) out->field = DatumGetInt32(d); } while (0)
		d = SPI_getbinval(tup, desc, 1, &isnull);
		if (!isnull)
			out->ingestion_rate_mb = DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			out->ingestion_burst_size_mb = DatumGetFloat8(d);
		INT_COL(3, max_series);
		INT_COL(4, max_label_names);
		INT_COL(5, max_label_name_length);
		INT_COL(6, max_label_value_length);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		if (!isnull)
			out->max_query_length = (int) Min(DatumGetInt64(d), PG_INT32_MAX);
		INT_COL(8, max_flamegraph_nodes_max);
		INT_COL(9, max_query_concurrency);
#undef INT_COL
	}
	SPI_finish();
}

/* Remember why this process refused an upload, for pyroscope_take_refusal. */
static void
refuse(PyroDiscardReason reason, double retry_after)
{
	refusal_reason = reason;
	refusal_retry_after = retry_after;
}

/*
 * The reason (a PyroDiscardReason) of this process's last refusal by a
 * tenant limit and the seconds after which to retry (0 = no advice), or -1;
 * resets it.
 */
int
pyroscope_take_refusal(double *retry_after)
{
	int			r = refusal_reason;

	*retry_after = refusal_retry_after;
	refusal_reason = -1;
	refusal_retry_after = 0;
	return r;
}

/*
 * Take bytes from the tenant's ingestion token bucket (upstream's
 * ingestion_rate_mb, refilled continuously, holding at most
 * ingestion_burst_size_mb): 53400 with a retry time when they are not
 * there.  An upload larger than the burst never fits, as upstream.
 */
void
pyroscope_ingest_admit(const char *tenant, size_t bytes, const PyroTenantLimits *lim)
{
	double		rate = lim->ingestion_rate_mb * 1024.0 * 1024.0;
	double		burst = lim->ingestion_burst_size_mb * 1024.0 * 1024.0;
	TenantEntry *e;
	TimestampTz now;
	double		wait = 0;
	bool		ok;

	if (rate <= 0)
		return;
	e = tenant_entry(tenant);
	if (e == NULL)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&e->mutex);
	if (e->tokens < 0 || e->refilled == 0)
		e->tokens = burst;
	else if (now > e->refilled)
		e->tokens = Min(burst, e->tokens + rate * (double) (now - e->refilled) / 1e6);
	e->tokens = Min(e->tokens, burst);
	e->refilled = now;
	ok = (double) bytes <= e->tokens;
	if (ok)
		e->tokens -= (double) bytes;
	else if ((double) bytes <= burst)
		wait = ((double) bytes - e->tokens) / rate;
	SpinLockRelease(&e->mutex);
	if (ok)
		return;
	refuse(PYRO_DISCARD_RATE, (double) bytes <= burst ? Max(1.0, ceil(wait)) : 0);
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("push rate limit (%.6g MB/s, burst %.6g MB) of tenant \"%s\" exceeded while adding %zu bytes",
					lim->ingestion_rate_mb, lim->ingestion_burst_size_mb, tenant, bytes),
			 (double) bytes > burst ?
			 errhint("A profile larger than the burst size never fits; ingestion_burst_size_mb in pyroscope.tenant_limits or pyroscope.ingestion_burst_size_mb raise it.") :
			 errhint("Retry later; ingestion_rate_mb in pyroscope.tenant_limits or pyroscope.ingestion_rate_mb raise the rate.")));
}

/*
 * A new series for the tenant, which has "existing" already: 53400 over
 * max_global_series_per_tenant.
 */
void
pyroscope_series_admit(const char *tenant, int64 existing, const PyroTenantLimits *lim)
{
	if (lim->max_series <= 0 || existing < lim->max_series)
		return;
	refuse(PYRO_DISCARD_SERIES, 0);
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("per-tenant series limit of %d exceeded for tenant \"%s\"",
					lim->max_series, tenant),
			 errhint("Reduce the cardinality of the labels (pyroscope.cardinality shows them), or raise max_global_series_per_tenant in pyroscope.tenant_limits or pyroscope.max_series_per_tenant.")));
}

/* ---------------------------------------------------------------- queries */

static void
release_at_exit(int code, Datum arg)
{
	pyroscope_query_release();
}

/*
 * Take one of the tenant's max_query_concurrency query slots until
 * pyroscope_query_release(): 53400 when all are taken.
 */
void
pyroscope_query_admit(const char *tenant, const PyroTenantLimits *lim)
{
	TenantEntry *e;
	bool		ok;

	pyroscope_query_release();
	if (lim->max_query_concurrency <= 0)
		return;
	e = tenant_entry(tenant);
	if (e == NULL)
		return;
	if (!release_registered)
	{
		before_shmem_exit(release_at_exit, 0);
		release_registered = true;
	}
	SpinLockAcquire(&e->mutex);
	ok = e->queries < lim->max_query_concurrency;
	if (ok)
		e->queries++;
	SpinLockRelease(&e->mutex);
	if (ok)
	{
		held_query = e;
		return;
	}
	refuse(PYRO_DISCARD_OTHER, 1);
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("tenant \"%s\" already runs %d queries, its max_query_concurrency",
					tenant, lim->max_query_concurrency)));
}

/* Give back the query slot this process holds, if any. */
void
pyroscope_query_release(void)
{
	TenantEntry *e = held_query;

	if (e == NULL)
		return;
	held_query = NULL;
	SpinLockAcquire(&e->mutex);
	if (e->queries > 0)
		e->queries--;
	SpinLockRelease(&e->mutex);
}

/* ---------------------------------------------------------------- discards */

/* Count an upload of the tenant ("" when unknown) refused for reason. */
void
pyroscope_record_discard(const char *tenant, PyroDiscardReason reason, uint64 profiles,
						 uint64 samples, uint64 bytes)
{
	TenantEntry *e = tenant_entry(tenant ? tenant : "");

	if (e == NULL)
		return;
	SpinLockAcquire(&e->mutex);
	e->discarded[reason][0] += profiles;
	e->discarded[reason][1] += samples;
	e->discarded[reason][2] += bytes;
	SpinLockRelease(&e->mutex);
}

/*
 * Every tenant's nonzero discard counts: calls fn for each (tenant, reason,
 * profiles, samples, bytes), tenants in no particular order.
 */
void
pyroscope_discards_foreach(void (*fn) (void *arg, const char *tenant, PyroDiscardReason reason,
									   const uint64 counts[3]), void *arg)
{
	HASH_SEQ_STATUS seq;
	TenantEntry *e;
	typedef struct
	{
		char		tenant[TENANT_KEY_LEN];
		uint64		d[PYRO_NDISCARD][3];
	} Snap;
	Snap	   *snaps;
	int			n = 0;

	if (tenant_hash == NULL)
		return;
	snaps = palloc(sizeof(Snap) * TENANTS_MAX);
	LWLockAcquire(tenant_shared->lock, LW_SHARED);
	hash_seq_init(&seq, tenant_hash);
	while ((e = hash_seq_search(&seq)) != NULL && n < TENANTS_MAX)
	{
		memcpy(snaps[n].tenant, e->tenant, TENANT_KEY_LEN);
		SpinLockAcquire(&e->mutex);
		memcpy(snaps[n].d, e->discarded, sizeof(e->discarded));
		SpinLockRelease(&e->mutex);
		n++;
	}
	if (e != NULL)
		hash_seq_term(&seq);
	LWLockRelease(tenant_shared->lock);
	for (int i = 0; i < n; i++)
		for (int r = 0; r < PYRO_NDISCARD; r++)
			if (snaps[i].d[r][0] || snaps[i].d[r][1] || snaps[i].d[r][2])
				fn(arg, snaps[i].tenant, (PyroDiscardReason) r, snaps[i].d[r]);
	pfree(snaps);
}

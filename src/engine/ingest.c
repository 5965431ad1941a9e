/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  Storing profiles, for every front door: one entry for a pprof as
 *	  sent (SQL ingest_pprof(), HTTP Push and /ingest), with one set of
 *	  limits, one decode, one __name__ rule, one time rule and one error
 *	  mapping; one for a profile the HTTP text formats built; and the
 *	  series and head writes behind them.
 *
 * One call stores every sample type (and every label-split group) of one
 * pprof.  Everything happens in the caller's transaction, so a rejected
 * profile stores nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "engine_int.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "access/xact.h"
#include "lib/qunique.h"
#include "utils/catcache.h"
#include "storage/proc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "ingest_params.h"
#include "jfr.h"
#include "otlp.h"
#include "speedscope.h"
#include "labels.h"
#include "pprof.h"

#define MAX_TENANT_LENGTH 150

static SPIPlanPtr series_lookup_plan = NULL;
static SPIPlanPtr series_insert_plan = NULL;
static SPIPlanPtr series_touch_plan = NULL;
static SPIPlanPtr head_insert_plan = NULL;
static SPIPlanPtr pprof_id_plan = NULL;
static SPIPlanPtr series_count_plan = NULL;
static SPIPlanPtr pprof_insert_plan = NULL;
static SPIPlanPtr head_part_insert_plan = NULL;

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep plan");
	return plan;
}

/* Prepare the statements of the write path once per backend. */
static void
prepare_plans(void)
{
	if (series_lookup_plan == NULL)
	{
		Oid			t[4] = {TEXTOID, INT8OID, JSONBOID, INT4OID};

		series_lookup_plan = prepare_kept(
										  "SELECT series_id, labels = $3, first_seen, last_seen"
										  " FROM pyroscope.series"
										  " WHERE shard_key = $4 AND tenant = $1 AND fingerprint = $2",
										  4, t);
	}
	if (series_insert_plan == NULL)
	{
		Oid			t[7] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID, TIMESTAMPTZOID, INT4OID};

		series_insert_plan = prepare_kept(
										  "INSERT INTO pyroscope.series AS s"
										  " (tenant, profile_type, service_name, labels, fingerprint, first_seen, last_seen,"
										  "  shard_key)"
										  " VALUES ($1, $2, $3, $4, $5, $6, $6, $7)"
										  " ON CONFLICT (shard_key, tenant, fingerprint) DO UPDATE"
										  " SET first_seen = least(s.first_seen, excluded.first_seen),"
										  "     last_seen = greatest(s.last_seen, excluded.last_seen)"
										  " RETURNING series_id, labels = $4",
										  7, t);
	}
	if (series_count_plan == NULL)
	{
		Oid			t[1] = {TEXTOID};

		/* the tenant's series over all its services */
		series_count_plan = prepare_kept("SELECT count(*) FROM pyroscope.series"
										 " WHERE tenant = $1 /* every shard */",
										 1, t);
	}
	if (series_touch_plan == NULL)
	{
		Oid			t[3] = {INT8OID, TIMESTAMPTZOID, INT4OID};

		series_touch_plan = prepare_kept(
										 "UPDATE pyroscope.series"
										 " SET first_seen = least(first_seen, $2), last_seen = greatest(last_seen, $2)"
										 " WHERE shard_key = $3 AND series_id = $1",
										 3, t);
	}
	if (head_insert_plan == NULL)
	{
		Oid			t[8] = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT4OID, InvalidOid,
		UUIDOID, INT4OID};

		t[5] = DatumGetObjectId(DirectFunctionCall1(regtypein,
													CStringGetDatum("pyroscope.profile")));
		head_insert_plan = prepare_kept(
										"INSERT INTO pyroscope.head"
										" (series_id, tenant, ts, total, nsamples, profile, profile_id, shard_key)"
										" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
										8, t);
	}

	/*
	 * The id is drawn first, not returned by the INSERT: RETURNING would need
	 * the right to read stored pprofs, which writers need not have.
	 */
	if (pprof_id_plan == NULL)
		pprof_id_plan = prepare_kept("SELECT pg_catalog.nextval('pyroscope.head_pprof_pprof_id_seq')",
									 0, NULL);
	if (pprof_insert_plan == NULL)
	{
		Oid			t[4] = {INT8OID, TEXTOID, BYTEAOID, INT4OID};

		pprof_insert_plan = prepare_kept(
										 "INSERT INTO pyroscope.head_pprof (pprof_id, tenant, data, shard_key)"
										 " VALUES ($1, $2, $3, $4)",
										 4, t);
	}
	if (head_part_insert_plan == NULL)
	{
		Oid			t[9] = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT4OID, INT8OID, INT4OID,
		UUIDOID, INT4OID};

		head_part_insert_plan = prepare_kept(
											 "INSERT INTO pyroscope.head"
											 " (series_id, tenant, ts, total, nsamples, pprof_id, part, profile_id, shard_key)"
											 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
											 9, t);
	}
}

/*
 * A new profile id: a random (version 4) UUID, one per ingested profile,
 * as upstream's distributor assigns (API-2.md 3.1).
 */
static Datum
new_profile_id(void)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	if (!pg_strong_random(id->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random profile id")));
	id->data[6] = (id->data[6] & 0x0F) | 0x40;
	id->data[8] = (id->data[8] & 0x3F) | 0x80;
	return UUIDPGetDatum(id);
}

static void
check_tenant(const char *tenant)
{
	size_t		len = strlen(tenant);

	if (len == 0 || len > MAX_TENANT_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tenant id must be 1 to %d bytes long", MAX_TENANT_LENGTH)));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) tenant[i] < 0x20 || tenant[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenant id must not contain control characters")));
	pyroscope_require_tenant(tenant, PYRO_ACCESS_WRITE);
}

/*
 * The limits of the tenant ingested into, looked up once per transaction
 * (an upload is one transaction); also the number of its series, counted
 * when the first new series is made and kept up to date after.
 */
static char limits_tenant[MAX_TENANT_LENGTH + 1];
static LocalTransactionId limits_lxid = InvalidLocalTransactionId;

/* this backend's local transaction id (moved into vxid in PostgreSQL 17) */
#if PG_VERSION_NUM >= 170000
#define MY_LXID (MyProc->vxid.lxid)
#else
#define MY_LXID (MyProc->lxid)
#endif
static PyroTenantLimits limits_cached;
static int64 limits_series = -1;

static const PyroTenantLimits *
ingest_limits(const char *tenant)
{
	if (limits_lxid != MY_LXID || strcmp(limits_tenant, tenant) != 0)
	{
		pyroscope_tenant_limits(tenant, &limits_cached);
		strlcpy(limits_tenant, tenant, sizeof(limits_tenant));
		limits_lxid = MY_LXID;
		limits_series = -1;
	}
	return &limits_cached;
}

/*
 * The size of an upload's part once decompressed, as upstream measures the
 * ingestion rate: a gzip member's trailer says it (ISIZE; decoding checks
 * it later, so a lying trailer only makes the upload fail), other bytes
 * count as they are.
 */
static size_t
uncompressed_size(const void *data, size_t len)
{
	const uint8_t *b = data;

	if (len >= 18 && b[0] == 0x1f && b[1] == 0x8b)
		return (size_t) b[len - 4] | (size_t) b[len - 3] << 8 |
			(size_t) b[len - 2] << 16 | (size_t) b[len - 1] << 24;
	return len;
}

/* Take an upload's (uncompressed) bytes from the tenant's ingestion rate. */
static void
admit_upload(const char *tenant, size_t bytes)
{
	pyroscope_ingest_admit(tenant, bytes, ingest_limits(tenant));
}

/* Read a jsonb object of string values into a label set. */
void
pyroscope_labels_from_jsonb(Jsonb *jb, PyroLabelSet *ls)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("labels must be a JSON object of strings")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("label \"%s\" must have a string value", key)));
			if (!pyro_labels_set_n(ls, key, strlen(key), v.val.string.val, v.val.string.len))
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		}
	}
}

/*
 * The one rule for the time of a profile (every ingest path): time_nanos
 * truncated to milliseconds, or fallback when the pprof has none.  Some
 * SDKs write other units into time_nanos: py-spy through pyroscope-rs
 * milliseconds, old SDKs microseconds.  Values too small to be
 * nanoseconds since 1971 are read as milliseconds (below 1e14, that is
 * before the year 5138 in ms) or microseconds.
 */
#define NANOS_1971			INT64CONST(31536000000000000)

static TimestampTz
profile_time_or(int64 time_nanos, TimestampTz fallback)
{
	int64		ms;

	if (time_nanos <= 0)
		return fallback - ((fallback % 1000) + 1000) % 1000;
	if (time_nanos < INT64CONST(100000000000000))	/* < 1e14: milliseconds */
		ms = time_nanos;
	else if (time_nanos < NANOS_1971)	/* microseconds */
		ms = time_nanos / 1000;
	else
		ms = time_nanos / 1000000;
	return pyroscope_ms_to_timestamptz(ms);
}

/* ... with the transaction's start as the fallback */
static TimestampTz
profile_time(int64 time_nanos)
{
	return profile_time_or(time_nanos, GetCurrentTransactionStartTimestamp());
}

/*
 * A time given for a profile, as profile_time makes them: milliseconds
 * resolution, and finite.
 */
static TimestampTz
profile_time_of(TimestampTz ts)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the time of a profile must be finite")));
	return ts - ((ts % 1000) + 1000) % 1000;
}

/*
 * Backend-local cache of series: (tenant, fingerprint) -> series id and the
 * time range the row is known to cover, so that a push to a known series
 * costs no series query.  Entries describe committed state only: the
 * whole cache is dropped when a transaction aborts, since an aborted
 * transaction may have created rows or widened ranges that never became
 * visible.
 */
typedef struct SeriesCacheKey
{
	uint64		fingerprint;
	char		tenant[MAX_TENANT_LENGTH + 1];
} SeriesCacheKey;

typedef struct SeriesCacheEntry
{
	SeriesCacheKey key;
	int64		series_id;
	TimestampTz first_seen;
	TimestampTz last_seen;
	char	   *labels_json;	/* in CacheMemoryContext, to rule out
								 * collisions */
} SeriesCacheEntry;

static HTAB *series_cache = NULL;
static bool series_cache_callback_registered = false;

#define SERIES_CACHE_MAX	100000

static void
series_cache_reset(void)
{
	if (series_cache)
	{
		hash_destroy(series_cache);
		series_cache = NULL;
	}
}

static void
series_cache_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		series_cache_reset();
}

static void
series_cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		series_cache_reset();
}

static SeriesCacheEntry *
series_cache_lookup(const char *tenant, uint64 fingerprint, bool *found)
{
	SeriesCacheKey key;

	if (!series_cache_callback_registered)
	{
		RegisterXactCallback(series_cache_xact_callback, NULL);
		RegisterSubXactCallback(series_cache_subxact_callback, NULL);
		series_cache_callback_registered = true;
	}
	if (series_cache == NULL || hash_get_num_entries(series_cache) >= SERIES_CACHE_MAX)
	{
		HASHCTL		ctl;

		series_cache_reset();
		if (!CacheMemoryContext)
			CreateCacheMemoryContext();
		ctl.keysize = sizeof(SeriesCacheKey);
		ctl.entrysize = sizeof(SeriesCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		series_cache = hash_create("pyroscope series cache", 1024, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.fingerprint = fingerprint;
	strlcpy(key.tenant, tenant, sizeof(key.tenant));
	return (SeriesCacheEntry *) hash_search(series_cache, &key, HASH_ENTER, found);
}

/*
 * Find or create the series of a label set; returns its id, and its shard
 * key in *shard_key.
 */
static int64
series_id_for(const char *tenant, const char *profile_type, const PyroLabelSet *labels,
			  TimestampTz ts, int32 *shard_key)
{
	PyroBuf		json;
	Datum		jsonb;
	uint64		fingerprint = pyro_labels_fingerprint(labels);
	const char *service = pyro_labels_get(labels, "service_name");
	int32		key;
	Datum		args[7];
	bool		isnull;
	bool		found;
	int64		id;
	SeriesCacheEntry *entry;
	TimestampTz first;
	TimestampTz last;

	if (service == NULL)
		service = "unknown_service";
	key = pyroscope_shard_key(tenant, service);
	*shard_key = key;
	pyro_buf_init(&json);
	pyro_labels_json(labels, &json);
	if (json.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	entry = series_cache_lookup(tenant, fingerprint, &found);
	if (found && entry->labels_json == NULL)
		found = false;			/* left half-made by an error; redo it */
	if (found)
	{
		if (strcmp(entry->labels_json, (char *) json.data) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("series fingerprint collision for labels %s", (char *) json.data)));
		if (ts >= entry->first_seen && ts <= entry->last_seen)
		{
			pyro_buf_free(&json);
			return entry->series_id;
		}
	}
	else
		entry->labels_json = NULL;	/* filled in below once known */

	jsonb = pyroscope_json_to_jsonb(&json);
	args[0] = CStringGetTextDatum(tenant);
	args[1] = Int64GetDatum((int64) fingerprint);
	args[2] = jsonb;
	args[3] = Int32GetDatum(key);
	if (SPI_execute_plan(series_lookup_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up series");
	found = SPI_processed == 1;
	if (found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		if (!DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("series fingerprint collision for labels %s", (char *) json.data)));
		first = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		last = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		if (ts < first || ts > last)
		{
			Datum		targs[3] = {Int64GetDatum(id), TimestampTzGetDatum(ts),
			Int32GetDatum(key)};

			if (SPI_execute_plan(series_touch_plan, targs, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not update series");

			/*
			 * Retention may have deleted the row since we looked it up (it
			 * deletes series nothing refers to): then create it again.
			 */
			found = SPI_processed == 1;
			first = Min(first, ts);
			last = Max(last, ts);
		}
	}
	if (!found)
	{
		const PyroTenantLimits *lim = ingest_limits(tenant);

		if (lim->max_series > 0)
		{
			if (limits_series < 0)
			{
				Datum		targ = CStringGetTextDatum(tenant);

				if (SPI_execute_plan(series_count_plan, &targ, NULL, false, 1) != SPI_OK_SELECT ||
					SPI_processed != 1)
					elog(ERROR, "could not count series");
				limits_series = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull));
			}
			pyroscope_series_admit(tenant, limits_series, lim);
		}
		args[0] = CStringGetTextDatum(tenant);
		args[1] = CStringGetTextDatum(profile_type);
		args[2] = CStringGetTextDatum(service);
		args[3] = jsonb;
		args[4] = Int64GetDatum((int64) fingerprint);
		args[5] = TimestampTzGetDatum(ts);
		args[6] = Int32GetDatum(key);
		if (SPI_execute_plan(series_insert_plan, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
			SPI_processed != 1)
			elog(ERROR, "could not insert series");
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("series fingerprint collision for labels %s", (char *) json.data)));

		/*
		 * a concurrent insert may have widened the range; ts is covered
		 * either way
		 */
		first = last = ts;
		if (limits_series >= 0)
			limits_series++;
	}

	/* remember what this transaction now guarantees about the row */
	if (entry->labels_json == NULL)
		entry->labels_json = MemoryContextStrdup(CacheMemoryContext, (char *) json.data);
	entry->series_id = id;
	entry->first_seen = first;
	entry->last_seen = last;
	pyro_buf_free(&json);
	return id;
}

/*
 * Upstream's ingestion window (spec API-2 §5.1): a profile's time must be
 * after now - pyroscope.reject_older_than and before now +
 * pyroscope.reject_newer_than (each 0 = unbounded).  22008 otherwise,
 * with upstream's message.
 */
static uint64 refused_samples = 0;
static uint64 count_samples(const PyroNormalized *n);

/*
 * The samples of the profile the last ingest refused (for the HTTP
 * layer's pyroscope_discarded_samples_total), 0 if unknown; resets it.
 */
uint64
pyroscope_take_refused_samples(void)
{
	uint64		n = refused_samples;

	refused_samples = 0;
	return n;
}

static void
check_ingest_window(TimestampTz ts, const PyroLabelSet *client, uint64 samples)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz from = pyroscope_reject_older_than > 0 ?
	now - (TimestampTz) pyroscope_reject_older_than * USECS_PER_SEC : DT_NOBEGIN;
	TimestampTz to = pyroscope_reject_newer_than > 0 ?
	now + (TimestampTz) pyroscope_reject_newer_than * USECS_PER_SEC : DT_NOEND;
	PyroBuf		labels;
	StringInfoData window;

	if (ts > from && ts < to)
		return;
	refused_samples = samples;
	pyro_buf_init(&labels);
	pyro_labels_json(client, &labels);
	initStringInfo(&window);
	if (pyroscope_reject_older_than > 0)
		appendStringInfo(&window, "the ingestion window starts at %s", timestamptz_to_str(from));
	if (pyroscope_reject_newer_than > 0)
		appendStringInfo(&window, "%sends at %s", window.len ? " and " : "the ingestion window ",
						 timestamptz_to_str(to));
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("profile with labels '%.*s' is outside of ingestion window (profile timestamp: %s, %s)",
					(int) Min(labels.len, 1024), labels.data ? (char *) labels.data : "",
					timestamptz_to_str(ts), window.data),
			 errhint("pyroscope.reject_older_than and pyroscope.reject_newer_than set the window; 0 opens it.")));
}

/*
 * The series id of series i of n (created if new), labelled per the GUCs;
 * its shard key in *shard_key.
 */
static int64
series_of(const PyroNormalized *n, size_t i, const PyroLabelSet *client,
		  const char *tenant, TimestampTz ts, int32 *shard_key)
{
	const PyroSeriesProfile *sp = &n->series[i];
	PyroLabelLimits limits;
	PyroLabelSet labels;
	char	   *type_id;
	PyroError	err;
	int64		id;

	const PyroTenantLimits *lim = ingest_limits(tenant);

	limits.max_label_names = lim->max_label_names;
	limits.max_name_length = lim->max_label_name_length;
	limits.max_value_length = lim->max_label_value_length;
	limits.max_sessions_per_series = (uint64_t) pyroscope_max_sessions_per_series;
	pyro_labels_init(&labels);
	if (pyro_series_labels(client, &sp->sample_labels, n->default_name,
						   n->sample_types[sp->type_index],
						   n->sample_units[sp->type_index],
						   n->period_type, n->period_unit,
						   &limits, &labels, &type_id, &err) != PYRO_OK)
		pyroscope_report(&err, "could not label profile");
	id = series_id_for(tenant, type_id, &labels, ts, shard_key);
	pyro_labels_free(&labels);
	pyro_free(type_id);
	return id;
}

/*
 * Store a normalised pprof for a tenant with the client's labels.  Returns
 * the number of series written.  Shared with the HTTP ingest path.
 */
static int
pyroscope_store_normalized(const PyroNormalized *n, const PyroLabelSet *client,
						   const char *tenant)
{
	TimestampTz ts = profile_time(n->time_nanos);
	int			written = 0;
	Datum		profile_id = new_profile_id();

	check_tenant(tenant);
	{
		uint64		samples = 0;

		for (size_t i = 0; i < n->nseries; i++)
			samples += n->series[i].profile ? n->series[i].profile->nsamples : 0;
		check_ingest_window(ts, client, samples);
		refused_samples = samples;	/* until stored: a refusal counts them */
	}
	SPI_connect();
	prepare_plans();
	for (size_t i = 0; i < n->nseries; i++)
	{
		const PyroSeriesProfile *sp = &n->series[i];
		PyroError	err;
		PyroBuf		enc;
		int64		series_id;
		int32		shard_key;
		Datum		args[8];
		ProfileValue *v;

		series_id = series_of(n, i, client, tenant, ts, &shard_key);

		pyro_buf_init(&enc);
		if (pyro_profile_encode(sp->profile, &enc, &err) != PYRO_OK)
			pyroscope_report(&err, "could not encode profile");
		v = profile_value_from_buf(&enc);
		pyro_buf_free(&enc);

		args[0] = Int64GetDatum(series_id);
		args[1] = CStringGetTextDatum(tenant);
		args[2] = TimestampTzGetDatum(ts);
		args[3] = Int64GetDatum(pyro_profile_total(sp->profile));
		args[4] = Int32GetDatum((int32) Min(sp->profile->nsamples, PG_INT32_MAX));
		args[5] = PointerGetDatum(v);
		args[6] = profile_id;
		args[7] = Int32GetDatum(shard_key);
		if (SPI_execute_plan(head_insert_plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert profile");
		pfree(v);
		written++;
	}
	refused_samples = 0;
	SPI_finish();
	return written;
}

/*
 * Store a pprof as sent, with the summary pyro_pprof_summarize made of it,
 * at time ts: the bytes once in head_pprof, and a head row per series
 * naming its part.  Returns the number of series written.
 */
static int
store_pprof(bytea *data, const PyroNormalized *n, const PyroLabelSet *client,
			const char *tenant, TimestampTz ts)
{
	Datum		args[9];
	bool		isnull;
	int64		pprof_id;
	int64	   *series_ids;
	int32	   *shard_keys;
	int32	   *distinct_keys;
	size_t		ndistinct;

	check_tenant(tenant);
	check_ingest_window(ts, client, count_samples(n));
	if (n->nseries == 0)
		return 0;
	if (n->nseries > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("profile has too many series")));

	SPI_connect();
	prepare_plans();

	/*
	 * label every series first: a bad label, or a series over the tenant's
	 * limit, rejects the profile unstored (and its samples are counted)
	 */
	series_ids = palloc(n->nseries * sizeof(int64));
	shard_keys = palloc(n->nseries * sizeof(int32));
	refused_samples = count_samples(n);
	for (size_t i = 0; i < n->nseries; i++)
		series_ids[i] = series_of(n, i, client, tenant, ts, &shard_keys[i]);
	refused_samples = 0;

	if (SPI_execute_plan(pprof_id_plan, NULL, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not draw a pprof id");
	pprof_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										   1, &isnull));

	/*
	 * The pprof is stored with each shard key of its series (one, unless its
	 * series name several services): a head row and the pprof it names stay
	 * on the same shard.
	 */
	args[0] = Int64GetDatum(pprof_id);
	args[1] = CStringGetTextDatum(tenant);
	args[2] = PointerGetDatum(data);
	distinct_keys = palloc(n->nseries * sizeof(int32));
	memcpy(distinct_keys, shard_keys, n->nseries * sizeof(int32));
	qsort(distinct_keys, n->nseries, sizeof(int32), pyroscope_int32_cmp);
	ndistinct = qunique(distinct_keys, n->nseries, sizeof(int32), pyroscope_int32_cmp);
	for (size_t i = 0; i < ndistinct; i++)
	{
		args[3] = Int32GetDatum(distinct_keys[i]);
		if (SPI_execute_plan(pprof_insert_plan, args, NULL, false, 0) != SPI_OK_INSERT ||
			SPI_processed != 1)
			elog(ERROR, "could not store pprof");
	}

	args[1] = CStringGetTextDatum(tenant);
	args[2] = TimestampTzGetDatum(ts);
	args[5] = Int64GetDatum(pprof_id);
	args[7] = new_profile_id();
	for (size_t i = 0; i < n->nseries; i++)
	{
		const PyroSeriesProfile *sp = &n->series[i];

		args[0] = Int64GetDatum(series_ids[i]);
		args[3] = Int64GetDatum(sp->total);
		args[4] = Int32GetDatum((int32) Min(sp->nsamples, PG_INT32_MAX));
		args[6] = Int32GetDatum((int32) i);
		args[8] = Int32GetDatum(shard_keys[i]);
		if (SPI_execute_plan(head_part_insert_plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert profile");
	}
	SPI_finish();
	return (int) n->nseries;
}

/* The decoding limits of ingest (pyroscope.max_profile_size and _samples). */
void
pyroscope_pprof_ingest_limits(PyroPprofLimits *limits)
{
	pyro_pprof_limits_default(limits);
	limits->max_decompressed = (size_t) pyroscope_max_profile_size;
	limits->max_samples = (size_t) pyroscope_max_profile_samples;
}

static uint64
count_samples(const PyroNormalized *n)
{
	uint64		c = 0;

	for (size_t i = 0; i < n->nseries; i++)
		c += n->series[i].profile ? n->series[i].profile->nsamples : n->series[i].nsamples;
	return c;
}

/*
 * Ingest one pprof as sent (raw or gzip, a bytea) for a tenant with the
 * client's labels: the entry of every front door.  The bytes must fit
 * pyroscope.max_profile_size before and after decompression; the pprof is
 * validated and summarised (a bad one is 22023, one over a limit 54000);
 * a client that sent no __name__ gets upstream's (sample_type_config's
 * display names steer it, as on /ingest); the profile's time is opt->at
 * when given, else the pprof's own, else opt->fallback (0: now).  Returns
 * the number of series written; *samples (may be NULL) the samples.
 */
static int	store_decoded(bytea *data, const uint8_t *raw, size_t raw_len,
						  const PyroLabelSet *client, const char *tenant,
						  const PyroIngestOptions *opt, uint64 *samples);

/*
 * Store a converter's raw (uncompressed) pprof: compressed for keeping,
 * decoded from the raw bytes.
 */
static int
store_raw_pprof(const PyroBuf *raw, const PyroLabelSet *labels, const char *tenant,
				const PyroIngestOptions *opt, uint64 *samples)
{
	PyroBuf		gz;
	PyroError	err;
	volatile int written = 0;

	pyro_buf_init(&gz);
	if (pyro_gzip(raw->data, raw->len, 1, &gz, &err) != PYRO_OK)
		pyroscope_report(&err, "could not compress profile");
	PG_TRY();
	{
		written = store_decoded(pyroscope_pprof_bytea(gz.data, gz.len), raw->data, raw->len,
								labels, tenant, opt, samples);
	}
	PG_FINALLY();
	{
		pyro_buf_free(&gz);
	}
	PG_END_TRY();
	return written;
}

int
pyroscope_store_pprof(bytea *data, const PyroLabelSet *client, const char *tenant,
					  const PyroIngestOptions *opt, uint64 *samples)
{
	check_tenant(tenant);
	admit_upload(tenant, uncompressed_size(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data)));
	return store_decoded(data, (const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
						 client, tenant, opt, samples);
}

/*
 * Store the pprof "data" (gzip, as kept), decoding "raw", the same profile
 * (gzip or not: converters pass the bytes they compressed, saving a
 * gunzip).
 */
static int
store_decoded(bytea *data, const uint8_t *raw, size_t raw_len, const PyroLabelSet *client,
			  const char *tenant, const PyroIngestOptions *opt, uint64 *samples)
{
	size_t		len = VARSIZE_ANY_EXHDR(data);
	PyroPprofLimits limits;
	PyroNormalized *n;
	PyroError	err;
	TimestampTz ts;
	int			written;

	check_tenant(tenant);
	if (len > (size_t) pyroscope_max_profile_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("profile of %zu bytes exceeds pyroscope.max_profile_size (%d bytes)",
						len, pyroscope_max_profile_size)));
	pyroscope_pprof_ingest_limits(&limits);
	if (pyro_pprof_summarize(raw, raw_len, &limits, &n, &err) != PYRO_OK)
		pyroscope_report(&err, "could not decode pprof profile");
	if (opt && opt->has_config)
	{
		const char *name = pyro_pprof_profile_name(n, opt->config, opt->nconfig, true);
		char	   *copy_name = pyro_strndup(name, strlen(name));

		if (copy_name == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		pyro_free(n->default_name);
		n->default_name = copy_name;
	}
	if (opt && opt->has_time)
		ts = profile_time_of(opt->at);
	else
		ts = profile_time_or(n->time_nanos,
							 opt && opt->fallback ? opt->fallback
							 : GetCurrentTransactionStartTimestamp());

	written = store_pprof(data, n, client, tenant, ts);
	if (samples)
		*samples = count_samples(n);
	pyro_normalized_free(n);
	return written;
}

/*
 * The bytes of an upload part, gunzipped when they start with gzip's magic,
 * at most max bytes either way; what names the part in errors.
 */
static const uint8_t *
part_bytes(const uint8_t *data, size_t len, size_t max, const char *what, PyroBuf *tmp,
		   size_t *out_len)
{
	PyroError	err;

	if (len > max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of %zu bytes exceeds its limit of %zu bytes", what, len, max)));
	*out_len = len;
	if (!pyro_is_gzip(data, len))
		return data;
	pyro_buf_init(tmp);
	if (pyro_gunzip(data, len, max, tmp, &err) != PYRO_OK)
	{
		pyro_buf_free(tmp);
		if (err.code == PYRO_ELIMIT)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s exceeds its limit of %zu bytes after decompression", what, max)));
		pyroscope_report(&err, psprintf("could not decompress %s", what));
	}
	*out_len = tmp->len;
	return tmp->data;
}

/*
 * Ingest a JFR recording (raw or gzip) with the labels part of a Java
 * agent upload (a LabelsSnapshot, raw or gzip; may be NULL) for a tenant
 * with the client's labels (spec API-2 §1): every group of events becomes
 * one pprof, labelled with its __name__ and the recording's jfr_event,
 * stored through pyroscope_store_pprof like any other.  All of it or
 * nothing (one transaction).  The recording must fit
 * pyroscope.max_jfr_size before and after decompression, each profile
 * made of it pyroscope.max_profile_size and _samples.  Returns the number
 * of series written; *profiles the pprofs made, *samples their samples.
 */
int
pyroscope_store_jfr(const uint8_t *data, size_t len, const uint8_t *labels_part,
					size_t labels_len, const PyroLabelSet *client, const char *tenant,
					const PyroJfrIngest *opt, uint64 *profiles, uint64 *samples)
{
	PyroBuf		jfr_buf,
				labels_buf;
	const uint8_t *jfr;
	size_t		jfr_len;
	PyroJfrLabels *snapshot = NULL;
	PyroJfrOptions jopt;
	PyroJfrResult res;
	PyroPprofLimits limits;
	PyroError	err;
	PyroIngestOptions iopt;
	volatile int written = 0;

	check_tenant(tenant);
	admit_upload(tenant, uncompressed_size(data, len) +
				 (labels_part ? uncompressed_size(labels_part, labels_len) : 0));
	pyro_buf_init(&jfr_buf);
	pyro_buf_init(&labels_buf);
	jfr = part_bytes(data, len, (size_t) pyroscope_max_jfr_size, "JFR recording", &jfr_buf,
					 &jfr_len);
	if (labels_part && labels_len > 0)
	{
		const uint8_t *lb;
		size_t		lb_len;

		lb = part_bytes(labels_part, labels_len, (size_t) pyroscope_max_profile_size,
						"JFR labels", &labels_buf, &lb_len);
		if (pyro_jfr_labels_decode(lb, lb_len, &snapshot, &err) != PYRO_OK)
			pyroscope_report(&err, "could not decode JFR labels");
		pyro_buf_free(&labels_buf);
	}

	pyro_pprof_limits_default(&limits);
	memset(&jopt, 0, sizeof(jopt));
	jopt.sample_rate = opt->sample_rate;
	jopt.duration_nanos = opt->duration_nanos;
	jopt.max_samples = (size_t) pyroscope_max_profile_samples;
	jopt.max_stack_depth = limits.max_stack_depth;
	if (pyro_jfr_convert(jfr, jfr_len, snapshot, &jopt, &res, &err) != PYRO_OK)
	{
		pyro_jfr_labels_free(snapshot);
		pyro_buf_free(&jfr_buf);
		pyroscope_report(&err, "could not convert JFR recording");
	}
	pyro_jfr_labels_free(snapshot);
	pyro_buf_free(&jfr_buf);

	memset(&iopt, 0, sizeof(iopt));
	iopt.has_time = true;
	iopt.at = opt->has_time ? opt->at
		: profile_time_or(res.start_nanos, GetCurrentTransactionStartTimestamp());
	*profiles = 0;
	*samples = 0;
	PG_TRY();
	{
		for (size_t i = 0; i < res.nprofiles; i++)
		{
			PyroJfrProfile *jp = &res.profiles[i];
			PyroLabelSet ls;
			uint64		ns;

			pyro_labels_init(&ls);
			if (!pyro_labels_copy(&ls, client) ||
				!pyro_labels_set(&ls, "__name__", jp->name) ||
				(res.event[0] && !pyro_labels_set(&ls, "jfr_event", res.event)))
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			written += store_raw_pprof(&jp->pprof, &ls, tenant, &iopt, &ns);
			pyro_labels_free(&ls);
			*profiles += 1;
			*samples += ns;
		}
	}
	PG_FINALLY();
	{
		pyro_jfr_result_free(&res);
	}
	PG_END_TRY();
	return written;
}

/* The bytes of a pprof as a bytea, for pyroscope_store_pprof. */
bytea *
pyroscope_pprof_bytea(const void *data, size_t len)
{
	bytea	   *b;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("profile of %zu bytes is too large", len)));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Store a profile parsed from one of the HTTP text formats (folded,
 * lines), typed by tt (its app name's suffix, spec §10.7) with the sample
 * rate, at time_ms, for a tenant with the client's labels; tt's __name__
 * when the client sent none.  Returns the number of series written (0 for
 * a profile without samples, which stores nothing).  bytes, the size of
 * the upload, is taken from the tenant's ingestion rate (0: already taken).
 */
int
pyroscope_store_text_profile(PyroProfile *prof, const PyroTextType *tt, int64 sample_rate,
							 int64 time_ms, const PyroLabelSet *client, const char *tenant,
							 size_t bytes)
{
	PyroNormalized n;
	PyroSeriesProfile sp;
	PyroTextTyped typed;
	PyroError	err;
	char	   *types[1];
	char	   *units[1];

	if (prof->nsamples == 0)
		return 0;
	if (bytes > 0)
	{
		check_tenant(tenant);
		admit_upload(tenant, bytes);
	}
	if (pyro_text_profile_type(prof, tt, sample_rate, time_ms, &typed, &err) != PYRO_OK)
	{
		if (err.code == PYRO_EINVAL)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s", err.msg)));
		pyroscope_report(&err, "could not type profile");
	}
	types[0] = (char *) typed.type;
	units[0] = (char *) typed.unit;
	memset(&n, 0, sizeof(n));
	memset(&sp, 0, sizeof(sp));
	pyro_labels_init(&sp.sample_labels);
	sp.type_index = 0;
	sp.profile = prof;
	n.sym = prof->sym;
	n.ntypes = 1;
	n.sample_types = types;
	n.sample_units = units;
	n.period_type = (char *) typed.period_type;
	n.period_unit = (char *) typed.period_unit;
	n.period = prof->period;
	n.time_nanos = prof->time_nanos;
	n.default_name = (char *) tt->name;
	n.series = &sp;
	n.nseries = 1;
	return pyroscope_store_normalized(&n, client, tenant);
}

/*
 * Ingest a speedscope document (spec API-2 §4) for a tenant with the
 * client's labels: every profile of it (after upstream's merge of equal
 * ones) is stored like a folded profile of /ingest, labelled with its
 * profile_name.  With several profiles, each one's unit names its profile
 * type (as upstream appends it to the app name); a single one takes
 * opt->suffix.  Time values arrive in nanoseconds; "none" units count a
 * sample at opt->sample_rate.  All or nothing (one transaction).  Returns
 * the number of series written.
 */
int
pyroscope_store_speedscope(const char *json, size_t len, const PyroSpeedscopeIngest *opt,
						   const PyroLabelSet *client, const char *tenant, uint64 *profiles,
						   uint64 *samples)
{
	PyroSpeedscope *s;
	PyroError	err;
	volatile int written = 0;

	check_tenant(tenant);
	admit_upload(tenant, len);
	if (len > (size_t) pyroscope_max_profile_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("speedscope document of %zu bytes exceeds pyroscope.max_profile_size (%d bytes)",
						len, pyroscope_max_profile_size)));
	if (pyro_speedscope_parse(json, len,
							  opt->sample_rate > 0 ? INT64CONST(1000000000) / opt->sample_rate : 0,
							  &s, &err) != PYRO_OK)
		pyroscope_report(&err, "could not convert speedscope document");
	*profiles = 0;
	*samples = 0;
	PG_TRY();
	{
		bool		multi = s->nprofiles > 1;

		for (size_t i = 0; i < s->nprofiles; i++)
		{
			PyroSpeedscopeProfile *sp = &s->profiles[i];
			const char *suffix = multi ? sp->unit : opt->suffix;
			const PyroTextType *tt = pyro_text_type(suffix);
			bool		bytes = strcmp(sp->unit, "bytes") == 0;
			bool		counts = strcmp(sp->unit, "none") == 0 && opt->sample_rate <= 0;
			PyroLabelSet ls;
			size_t		n = sp->prof->nsamples;

			if (tt == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("speedscope profile \"%s\" of unit \"%s\" has no profile type",
								sp->name, sp->unit),
						 errhint("A document of several profiles needs time or bytes units; name the type of a single one like app.cpu or app.wall.")));
			pyro_labels_init(&ls);
			if (!pyro_labels_copy(&ls, client) ||
				(sp->name[0] && !pyro_labels_set(&ls, "profile_name", sp->name)))
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			if (opt->app_name)
			{
				/*
				 * the app name, its type suffix stripped ("<app>.<unit>" with
				 * several)
				 */
				const char *app = multi ? opt->app_name : opt->app_base;

				if (!pyro_labels_set(&ls, pyro_labels_get(client, "service_name") ? "app_name"
									 : "service_name", app))
					ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			}
			written += pyroscope_store_text_profile(sp->prof, tt,
													tt->cpu_like && !bytes && !counts
													? INT64CONST(1000000000) : 0,
													opt->time_ms, &ls, tenant, 0);
			pyro_labels_free(&ls);
			if (n)
				*profiles += 1;
			*samples += n;
		}
	}
	PG_FINALLY();
	{
		pyro_speedscope_free(s);
	}
	PG_END_TRY();
	return written;
}

/*
 * Ingest an OTLP ExportProfilesServiceRequest (binary protobuf, or
 * protobuf-JSON with json; gzip or not, at most pyroscope.max_otlp_size
 * either way) for a tenant (spec API-2
 * §2): every Profile, split by its samples' service.name, is stored as a
 * pprof through pyroscope_store_pprof, labelled with its resource and scope
 * attributes.  A malformed request stores nothing (22023); Profiles that
 * map to no profile type are counted in res->rejected and the rest is
 * stored (OTLP's partial success).
 */
void
pyroscope_store_otlp(const uint8_t *data, size_t len, bool json, const char *tenant,
					 PyroOtlpIngest *res)
{
	PyroOtlpResult r;
	PyroError	err;
	PyroBuf		raw;

	check_tenant(tenant);
	admit_upload(tenant, uncompressed_size(data, len));
	memset(res, 0, sizeof(*res));
	pyro_buf_init(&raw);
	data = part_bytes(data, len, (size_t) pyroscope_max_otlp_size, "OTLP profiles request", &raw,
					  &len);
	if (pyro_otlp_convert(data, len, json, &r, &err) != PYRO_OK)
	{
		pyro_buf_free(&raw);
		pyroscope_report(&err, "could not decode OTLP profiles");
	}
	pyro_buf_free(&raw);
	PG_TRY();
	{
		PyroIngestOptions opt;

		memset(&opt, 0, sizeof(opt));
		for (size_t i = 0; i < r.nseries; i++)
		{
			uint64		ns;

			res->written += store_raw_pprof(&r.series[i].pprof, &r.series[i].labels, tenant,
											&opt, &ns);
			res->profiles++;
			res->samples += ns;
		}
		res->rejected = r.rejected;
		res->rejected_samples = r.rejected_samples;
		if (r.rejected_msg)
			res->rejected_msg = pstrdup(r.rejected_msg);
	}
	PG_FINALLY();
	{
		pyro_otlp_result_free(&r);
	}
	PG_END_TRY();
}

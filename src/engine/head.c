/*-------------------------------------------------------------------------
 *
 * head.c
 *	  Reading the profiles of head rows.
 *
 * A head row is one series at one time.  Profiles ingested as pprof keep
 * the pprof as sent, once, in pyroscope.head_pprof; each of its series
 * has a head row naming it (pprof_id) and its position among the series
 * that normalising the pprof yields (part), with the total and sample
 * count computed at ingest.  Other profiles (the text formats of /ingest)
 * are stored in the row itself, as a pyroscope.profile value.
 *
 * Ingest therefore only validates and summarises a pprof (see
 * pyro_pprof_summarize); symbols and stacks are built when head rows are
 * read: by queries over the newest data and by the compactor, which
 * turns them into blocks.  A HeadReader keeps the last pprof it decoded,
 * so rows read in pprof_id order decode each pprof once, and a backend
 * keeps the pprofs it normalised, up to pyroscope.head_cache_size, for
 * its next queries (Grafana asks for the same recent data again and
 * again).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/ilist.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pprof.h"


static SPIPlanPtr pprof_fetch_plan = NULL;

/* ---------------------------------------------------------------------
 * The backend's cache of normalised pprofs (pyroscope.head_cache_size)
 *
 * Keyed by the pprof's id and a hash and the length of its bytes, so that
 * an id used again (the extension dropped and created, a table truncated)
 * never finds the old pprof.  Entries in use by a reader are pinned and
 * not evicted; others go least recently used first, once unused for a
 * minute (see HEAD_CACHE_MIN_AGE_US).
 * ---------------------------------------------------------------------
 */
typedef struct HeadCacheKey
{
	int64		pprof_id;
	uint64		hash;
	uint64		len;
} HeadCacheKey;

typedef struct HeadCacheEntry
{
	HeadCacheKey key;
	MemoryContext cxt;			/* holds n */
	PyroNormalized *n;
	Size		size;
	int			pins;
	TimestampTz last_used;
	dlist_node	lru;			/* most recently used at the head */
} HeadCacheEntry;

/*
 * Entries used more recently than this are not evicted: a full cache then
 * admits nothing new, so a query over more pprofs than fit keeps finding
 * the ones that do, instead of each new one pushing out the next one it
 * will need (least-recently-used order is the worst order for repeated
 * scans).  Entries of compacted pprofs, never used again, age out.
 */
#define HEAD_CACHE_MIN_AGE_US	(60 * USECS_PER_SEC)

static HTAB *head_cache = NULL;
static MemoryContext head_cache_cxt = NULL;
static dlist_head head_cache_lru = DLIST_STATIC_INIT(head_cache_lru);
static Size head_cache_used = 0;

static void
head_cache_evict(HeadCacheEntry *e)
{
	dlist_delete(&e->lru);
	head_cache_used -= e->size;
	MemoryContextDelete(e->cxt);
	hash_search(head_cache, &e->key, HASH_REMOVE, NULL);
}

/*
 * Evict unpinned entries unused for HEAD_CACHE_MIN_AGE_US (all unpinned
 * ones when min_age is 0), least recently used first, until `need` more
 * bytes fit.
 */
static void
head_cache_make_room(Size need, Size limit, int64 min_age)
{
	TimestampTz now = GetCurrentTimestamp();
	dlist_node *cur = dlist_is_empty(&head_cache_lru) ? NULL : dlist_tail_node(&head_cache_lru);

	while (cur != NULL && head_cache_used + need > limit)
	{
		dlist_node *prev = dlist_has_prev(&head_cache_lru, cur) ?
		dlist_prev_node(&head_cache_lru, cur) : NULL;
		HeadCacheEntry *e = dlist_container(HeadCacheEntry, lru, cur);

		if (now - e->last_used < min_age)
			break;				/* the rest were used more recently */
		if (e->pins == 0)
			head_cache_evict(e);
		cur = prev;
	}
}

/*
 * Readers live within one transaction; one that an error interrupted never
 * unpinned its entry.  At the end of every transaction nothing is in use.
 */
static void
head_cache_xact_callback(XactEvent event, void *arg)
{
	dlist_iter	it;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	dlist_foreach(it, &head_cache_lru)
		dlist_container(HeadCacheEntry, lru, it.cur)->pins = 0;
}

static HeadCacheEntry *
head_cache_lookup(const HeadCacheKey *key)
{
	HeadCacheEntry *e;

	if (head_cache == NULL)
		return NULL;
	e = hash_search(head_cache, key, HASH_FIND, NULL);
	if (e != NULL)
	{
		dlist_delete(&e->lru);
		dlist_push_head(&head_cache_lru, &e->lru);
		e->last_used = GetCurrentTimestamp();
	}
	return e;
}

/*
 * Keep n, allocated in cxt, in the cache if it fits in a quarter of the
 * cache; returns the entry (cxt now belongs to it) or NULL.
 */
static HeadCacheEntry *
head_cache_add(const HeadCacheKey *key, MemoryContext cxt, PyroNormalized *n)
{
	Size		limit = (Size) pyroscope_head_cache_size * 1024;
	Size		size = MemoryContextMemAllocated(cxt, true);
	HeadCacheEntry *e;
	bool		found;

	if (size > limit / 4)
	{
		if (head_cache != NULL && limit == 0)
			head_cache_make_room(0, 0, 0);	/* the cache was turned off */
		return NULL;
	}
	if (head_cache == NULL)
	{
		HASHCTL		ctl;

		head_cache_cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope head cache",
											   ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(HeadCacheKey);
		ctl.entrysize = sizeof(HeadCacheEntry);
		ctl.hcxt = head_cache_cxt;
		head_cache = hash_create("pyroscope head cache", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		RegisterXactCallback(head_cache_xact_callback, NULL);
	}
	head_cache_make_room(size, limit, HEAD_CACHE_MIN_AGE_US);
	if (head_cache_used + size > limit)
		return NULL;			/* full of entries in use */
	e = hash_search(head_cache, key, HASH_ENTER, &found);
	Assert(!found);
	e->cxt = cxt;
	e->n = n;
	e->size = size;
	e->pins = 0;
	e->last_used = GetCurrentTimestamp();
	MemoryContextSetParent(cxt, head_cache_cxt);
	dlist_push_head(&head_cache_lru, &e->lru);
	head_cache_used += size;
	pyroscope_budget_forget(size);	/* counted as the cache's from now on */
	return e;
}

/* Memory the backend's head cache holds, counted in every memory budget. */
Size
pyroscope_head_cache_bytes(void)
{
	return head_cache_used;
}

/* Evict unused entries, least recently used first, to free need bytes. */
void
pyroscope_head_cache_shrink(Size need)
{
	Size		target = head_cache_used > need ? head_cache_used - need : 0;

	if (head_cache != NULL)
		head_cache_make_room(0, target, 0);
}

void
head_reader_init(HeadReader *r)
{
	memset(r, 0, sizeof(*r));
	r->cxt = AllocSetContextCreate(CurrentMemoryContext, "pyroscope head reader",
								   ALLOCSET_DEFAULT_SIZES);
}

/*
 * Drop what the reader holds.  Core allocations are freed one by one
 * (rather than by resetting the context) so that the query memory budget
 * sees them go.
 */
static void
head_reader_clear(HeadReader *r)
{
	if (r->pinned)
		r->pinned->pins--;
	else
		pyro_normalized_free(r->n);
	r->pinned = NULL;
	pyro_profile_free(r->pyp1);
	r->n = NULL;
	r->pyp1 = NULL;
	r->pprof_id = 0;
	MemoryContextReset(r->cxt);
}

void
head_reader_done(HeadReader *r)
{
	head_reader_clear(r);
	MemoryContextDelete(r->cxt);
	memset(r, 0, sizeof(*r));
}

/*
 * Decode stored pprof pprof_id into r (the caller is connected to SPI).
 * Limits on size and sample count were applied at ingest and are not
 * applied again (the settings may have changed since); those that shape
 * the result (stack depth, string length, labels) are the defaults, as
 * at ingest.
 */
static void
head_reader_load(HeadReader *r, int32 shard_key, int64 pprof_id)
{
	Datum		args[2] = {Int32GetDatum(shard_key), Int64GetDatum(pprof_id)};
	bool		isnull;
	bytea	   *data;
	PyroPprofLimits limits;
	PyroError	err;
	MemoryContext old;
	MemoryContext cxt;
	SPITupleTable *tt;
	HeadCacheKey key;
	HeadCacheEntry *e;

	head_reader_clear(r);
	if (pprof_fetch_plan == NULL)
	{
		Oid			t[2] = {INT4OID, INT8OID};
		SPIPlanPtr	plan = SPI_prepare("SELECT data FROM pyroscope.head_pprof"
									   " WHERE shard_key = $1 AND pprof_id = $2",
									   2, t);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the head pprof query");
		pprof_fetch_plan = plan;
	}
	if (SPI_execute_plan(pprof_fetch_plan, args, NULL, !r->for_compaction, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read stored pprof " INT64_FORMAT, pprof_id);
	tt = SPI_tuptable;
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored pprof " INT64_FORMAT " of a head row is missing", pprof_id)));

	old = MemoryContextSwitchTo(r->cxt);
	data = DatumGetByteaPP(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	key.pprof_id = pprof_id;
	key.len = VARSIZE_ANY_EXHDR(data);
	key.hash = pyro_hash_bytes(VARDATA_ANY(data), key.len, 0x70707266);
	r->pprof_id = pprof_id;
	r->shard_key = shard_key;

	if (!r->for_compaction && (e = head_cache_lookup(&key)) != NULL)
	{
		e->pins++;
		r->pinned = e;
		r->n = e->n;
		MemoryContextSwitchTo(old);
		SPI_freetuptable(tt);
		return;
	}

	/* normalise into a context of its own, which the cache may adopt */
	cxt = AllocSetContextCreate(r->cxt, "pyroscope head pprof", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	pyro_pprof_limits_default(&limits);
	limits.max_decompressed = 0;
	limits.max_samples = 0;
	if (pyro_pprof_normalize((const uint8_t *) VARDATA_ANY(data), key.len,
							 &limits, &r->n, &err) != PYRO_OK)
	{
		if (err.code == PYRO_EINVAL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("stored pprof " INT64_FORMAT " cannot be decoded: %s",
							pprof_id, err.msg)));
		pyroscope_report(&err, "could not decode stored pprof");
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(tt);
	if (!r->for_compaction && (e = head_cache_add(&key, cxt, r->n)) != NULL)
	{
		e->pins++;
		r->pinned = e;
	}
}

/*
 * The profile of a head row: its profile value (profile_isnull false), or
 * part `part` of stored pprof pprof_id, which must have the row's total.
 * The result belongs to the reader and is valid until its next call; the
 * caller must be connected to SPI, and must not rely on SPI_tuptable
 * across this call (nor across head_reader_get_row).
 */
static PyroProfile *
head_reader_get(HeadReader *r, Datum profile, bool profile_isnull,
				int32 shard_key, int64 pprof_id, int32 part, int64 total)
{
	const PyroSeriesProfile *sp;

	if (!profile_isnull)
	{
		MemoryContext old;

		head_reader_clear(r);
		old = MemoryContextSwitchTo(r->cxt);
		r->pyp1 = profile_value_decode(DatumGetProfileValueP(profile));
		MemoryContextSwitchTo(old);
		return r->pyp1;
	}
	if (r->pprof_id != pprof_id || r->shard_key != shard_key || r->n == NULL)
		head_reader_load(r, shard_key, pprof_id);
	if (part < 0 || (size_t) part >= r->n->nseries)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored pprof " INT64_FORMAT " has no series %d", pprof_id, part)));
	sp = &r->n->series[part];
	if (sp->total != total)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("series %d of stored pprof " INT64_FORMAT " totals " INT64_FORMAT
						", its head row " INT64_FORMAT,
						part, pprof_id, (int64) sp->total, total)));
	return sp->profile;
}

/*
 * head_reader_get for a head row read through SPI whose columns first to
 * first + 3 are its profile, pprof_id, part and total, in that order, and
 * column key_col its shard_key.
 * Afterwards r->pprof_id is the row's stored pprof (0 for a profile value).
 */
PyroProfile *
head_reader_get_row(HeadReader *r, HeapTuple tup, TupleDesc desc, int first, int key_col)
{
	bool		profile_null,
				isnull;
	Datum		profile = SPI_getbinval(tup, desc, first, &profile_null);
	Datum		pprof_id = SPI_getbinval(tup, desc, first + 1, &isnull);
	Datum		part = SPI_getbinval(tup, desc, first + 2, &isnull);
	Datum		total = SPI_getbinval(tup, desc, first + 3, &isnull);
	Datum		shard_key = SPI_getbinval(tup, desc, key_col, &isnull);

	if (profile_null)
		return head_reader_get(r, (Datum) 0, true, DatumGetInt32(shard_key),
							   DatumGetInt64(pprof_id), DatumGetInt32(part),
							   DatumGetInt64(total));
	return head_reader_get(r, profile, false, 0, 0, 0, 0);
}

/*
 * The profile of a stored pprof's part as a pyroscope.profile value (the
 * head row whose pprof_id, part and total are given).
 */
ProfileValue *
pyroscope_head_part_value(int32 shard_key, int64 pprof_id, int32 part, int64 total)
{
	HeadReader	r;
	PyroProfile *p;
	PyroBuf		buf;
	PyroError	err;
	ProfileValue *v;

	head_reader_init(&r);
	SPI_connect();
	p = head_reader_get(&r, (Datum) 0, true, shard_key, pprof_id, part, total);
	SPI_finish();				/* p lives in the reader's context */
	pyro_buf_init(&buf);
	if (pyro_profile_encode(p, &buf, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode profile");
	v = profile_value_from_buf(&buf);
	pyro_buf_free(&buf);
	head_reader_done(&r);
	return v;
}

/*
 * The profile of part "part" of a stored pprof given as bytes (gzip or
 * raw), as a pyroscope.profile value: what head_profile() reads for a head
 * row, taking the pprof from the query instead of looking it up.  The
 * bytes come from the caller, so ingest's limits apply and a bad pprof or
 * part is 22023.
 */
ProfileValue *
pyroscope_pprof_part_value(const void *data, size_t len, int32 part)
{
	PyroPprofLimits limits;
	PyroNormalized *n;
	PyroError	err;
	PyroBuf		buf;
	ProfileValue *v;

	pyroscope_pprof_ingest_limits(&limits);
	if (pyro_pprof_normalize((const uint8_t *) data, len, &limits, &n, &err) != PYRO_OK)
		pyroscope_report(&err, "could not decode pprof profile");
	if (part < 0 || (size_t) part >= n->nseries)
	{
		size_t		nseries = n->nseries;

		pyro_normalized_free(n);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the pprof has %zu series, no part %d", nseries, part)));
	}
	pyro_buf_init(&buf);
	if (pyro_profile_encode(n->series[part].profile, &buf, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode profile");
	pyro_normalized_free(n);
	v = profile_value_from_buf(&buf);
	pyro_buf_free(&buf);
	return v;
}

/*
 * The span ids of part "part" of a stored pprof with their totals and
 * traces (pyro_profile_span_totals), in CurrentMemoryContext; NULL with
 * *n = 0 when none of its samples has a span id.
 */
PyroSpanTotal *
pyroscope_pprof_part_span_totals(const void *data, size_t len, int32 part, size_t *n)
{
	PyroPprofLimits limits;
	PyroNormalized *norm;
	PyroError	err;
	PyroSpanTotal *t;
	PyroStatus	rc;

	pyroscope_pprof_ingest_limits(&limits);
	if (pyro_pprof_normalize((const uint8_t *) data, len, &limits, &norm, &err) != PYRO_OK)
		pyroscope_report(&err, "could not decode pprof profile");
	if (part < 0 || (size_t) part >= norm->nseries)
	{
		size_t		nseries = norm->nseries;

		pyro_normalized_free(norm);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the pprof has %zu series, no part %d", nseries, part)));
	}
	rc = pyro_profile_span_totals(norm->series[part].profile, &t, n, &err);
	pyro_normalized_free(norm);
	if (rc != PYRO_OK)
		pyroscope_report(&err, "could not sum spans");
	return t;
}

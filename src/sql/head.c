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
 * so rows read in pprof_id order decode each pprof once.
 *
 *-------------------------------------------------------------------------
 */
#include "pyroscope.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/memutils.h"

#include "pprof.h"

PG_FUNCTION_INFO_V1(pyroscope_head_profile);

static SPIPlanPtr pprof_fetch_plan = NULL;

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
	pyro_normalized_free(r->n);
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
head_reader_load(HeadReader *r, int64 pprof_id)
{
	Datum		arg = Int64GetDatum(pprof_id);
	bool		isnull;
	bytea	   *data;
	PyroPprofLimits limits;
	PyroError	err;
	MemoryContext old;
	SPITupleTable *tt;

	head_reader_clear(r);
	if (pprof_fetch_plan == NULL)
	{
		Oid			t[1] = {INT8OID};
		SPIPlanPtr	plan = SPI_prepare("SELECT data FROM pyroscope.head_pprof WHERE pprof_id = $1",
									   1, t);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the head pprof query");
		pprof_fetch_plan = plan;
	}
	if (SPI_execute_plan(pprof_fetch_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read stored pprof " INT64_FORMAT, pprof_id);
	tt = SPI_tuptable;
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored pprof " INT64_FORMAT " of a head row is missing", pprof_id)));

	old = MemoryContextSwitchTo(r->cxt);
	data = DatumGetByteaPP(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	pyro_pprof_limits_default(&limits);
	limits.max_decompressed = 0;
	limits.max_samples = 0;
	if (pyro_pprof_normalize((const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
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
	r->pprof_id = pprof_id;
}

/*
 * The profile of a head row: its profile value (profile_isnull false), or
 * part `part` of stored pprof pprof_id, which must have the row's total.
 * The result belongs to the reader and is valid until its next call; the
 * caller must be connected to SPI, and must not rely on SPI_tuptable
 * across this call.
 */
PyroProfile *
head_reader_get(HeadReader *r, Datum profile, bool profile_isnull,
				int64 pprof_id, int32 part, int64 total)
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
	if (r->pprof_id != pprof_id || r->n == NULL)
		head_reader_load(r, pprof_id);
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
 * pyroscope.head_profile(h pyroscope.head): the profile of a head row as a
 * pyroscope.profile value, whichever way the row stores it.
 */
Datum
pyroscope_head_profile(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	bool		profile_null,
				id_null,
				part_null,
				total_null;
	Datum		profile = GetAttributeByName(row, "profile", &profile_null);
	Datum		pprof_id = GetAttributeByName(row, "pprof_id", &id_null);
	Datum		part = GetAttributeByName(row, "part", &part_null);
	Datum		total = GetAttributeByName(row, "total", &total_null);
	HeadReader	r;
	PyroProfile *p;
	PyroBuf		buf;
	PyroError	err;
	ProfileValue *v;

	if (!profile_null)
		PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM_COPY(profile)));
	if (id_null || part_null || total_null)
		PG_RETURN_NULL();

	head_reader_init(&r);
	SPI_connect();
	p = head_reader_get(&r, (Datum) 0, true, DatumGetInt64(pprof_id),
						DatumGetInt32(part), DatumGetInt64(total));
	SPI_finish();				/* p lives in the reader's context */
	pyro_buf_init(&buf);
	if (pyro_profile_encode(p, &buf, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode profile");
	v = profile_value_from_buf(&buf);
	pyro_buf_free(&buf);
	head_reader_done(&r);
	PG_RETURN_POINTER(v);
}

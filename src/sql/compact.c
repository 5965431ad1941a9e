/*-------------------------------------------------------------------------
 *
 * compact.c
 *	  SQL functions of compaction and of blocks: pyroscope.compact(),
 *	  pyroscope.block_totals() and pyroscope.read_block().
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(pyroscope_compact);
PG_FUNCTION_INFO_V1(pyroscope_compact_unit_sql);
PG_FUNCTION_INFO_V1(pyroscope_block_totals);
PG_FUNCTION_INFO_V1(pyroscope_read_block);
PG_FUNCTION_INFO_V1(pyroscope_block_sections);

/*
 * pyroscope.compact(now, tenant): compaction and retention (of one tenant,
 * or of all when tenant is null) in the caller's transaction, taking now
 * as the current time.  Returns the counts as jsonb.
 */
Datum
pyroscope_compact(PG_FUNCTION_ARGS)
{
	TimestampTz now;
	char	   *tenant = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	CompactCounts cc = {0};
	CompactCounts rc = {0};
	CompactCounts both = {0};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the time of a compaction must not be null")));
	now = PG_GETARG_TIMESTAMPTZ(0);
	pyroscope_compact_now(now, tenant, &cc, &rc);

	/* what compaction wrote and retention deleted, in compact_unit()'s keys */
	both.head_rows_compacted = cc.head_rows_compacted;
	both.blocks_written = cc.blocks_written;
	both.blocks_merged = cc.blocks_merged;
	both.bytes_written = cc.bytes_written;
	both.blocks_deleted = rc.blocks_deleted;
	both.head_rows_deleted = rc.head_rows_deleted;
	both.series_deleted = rc.series_deleted;
	both.bytes_deleted = cc.bytes_deleted + rc.bytes_deleted;
	both.peak_memory = Max(cc.peak_memory, rc.peak_memory);
	PG_RETURN_DATUM(pyroscope_compact_counts_jsonb(&both, false));
}

/*
 * pyroscope.compact_unit(shard_key, kind, tenant, service_name, level,
 * start, now): one unit of compaction or retention in the caller's
 * transaction (what the compactor and compact() run, each through this
 * function).  Returns what it did as jsonb.
 */
Datum
pyroscope_compact_unit_sql(PG_FUNCTION_ARGS)
{
	CompactUnit u;
	CompactCounts c = {0};

	for (int i = 0; i < 7; i++)
		if (PG_ARGISNULL(i) && i != 5)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only the start of a compaction unit may be null")));
	pyroscope_compact_unit_make(text_to_cstring(PG_GETARG_TEXT_PP(1)), PG_GETARG_INT32(4),
								text_to_cstring(PG_GETARG_TEXT_PP(2)),
								text_to_cstring(PG_GETARG_TEXT_PP(3)), PG_GETARG_INT32(0),
								!PG_ARGISNULL(5), PG_ARGISNULL(5) ? 0 : PG_GETARG_TIMESTAMPTZ(5),
								&u);
	pyroscope_compact_unit(&u, PG_GETARG_TIMESTAMPTZ(6), &c);
	PG_RETURN_DATUM(pyroscope_compact_counts_jsonb(&c, true));
}

/* a block's totals as rows (series_id, ts as timestamptz or Unix ms, total) */
typedef struct TotalsOut
{
	ReturnSetInfo *rsinfo;
	bool		as_timestamptz;
} TotalsOut;

static void
total_row(int64 series_id, int64 ts, int64 total, const pg_uuid_t *id, void *arg)
{
	TotalsOut  *out = (TotalsOut *) arg;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = Int64GetDatum(series_id);
	values[1] = Int64GetDatum(ts);
	if (out->as_timestamptz)
		values[1] = TimestampTzGetDatum(pyroscope_block_time(ts));
	values[2] = Int64GetDatum(total);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
}

/*
 * pyroscope.block_totals(data): series, time and total of every profile
 * in an encoded block, to inspect blocks and check compaction.
 */
Datum
pyroscope_block_totals(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_P(0);
	TotalsOut	out;

	InitMaterializedSRF(fcinfo, 0);
	out.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	out.as_timestamptz = true;
	pyroscope_encoded_block_totals(VARDATA(data), VARSIZE(data) - VARHDRSZ, NULL, 0,
								   PG_INT64_MIN, PG_INT64_MAX, total_row, &out);
	return (Datum) 0;
}

static void
section_row(const PyroBlockSection *s, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = CStringGetTextDatum(s->kind);
	values[1] = Int64GetDatum(s->series_id);
	nulls[1] = strcmp(s->kind, "symbols") == 0;
	values[2] = Int64GetDatum((int64) s->count);
	values[3] = Int64GetDatum((int64) s->bytes);
	values[4] = Int64GetDatum((int64) s->raw_bytes);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* pyroscope.block_sections(data): an encoded block's sections */
Datum
pyroscope_block_sections(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_P(0);

	InitMaterializedSRF(fcinfo, 0);
	pyroscope_encoded_block_sections(VARDATA(data), VARSIZE(data) - VARHDRSZ, section_row,
									 fcinfo->resultinfo);
	return (Datum) 0;
}

/*
 * pyroscope.read_block(block_id): series, time (Unix ms) and total of
 * every profile of a block, read from whichever tier holds it.
 */
Datum
pyroscope_read_block(PG_FUNCTION_ARGS)
{
	TotalsOut	out;

	InitMaterializedSRF(fcinfo, 0);
	out.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	out.as_timestamptz = false;
	pyroscope_stored_block_totals(PG_GETARG_INT64(0), total_row, &out);
	return (Datum) 0;
}

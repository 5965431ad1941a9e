/*-------------------------------------------------------------------------
 *
 * objstore.c
 *	  SQL functions of object storage: pyroscope.offload(), the
 *	  superuser-only object-store admin functions and the counters.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(pyroscope_offload);
PG_FUNCTION_INFO_V1(pyroscope_object_store_put);
PG_FUNCTION_INFO_V1(pyroscope_object_store_get);
PG_FUNCTION_INFO_V1(pyroscope_object_store_head);
PG_FUNCTION_INFO_V1(pyroscope_object_store_list);
PG_FUNCTION_INFO_V1(pyroscope_object_store_delete);
PG_FUNCTION_INFO_V1(pyroscope_object_store_stats);

/*
 * pyroscope.offload(now): one pass in the caller's transaction, taking
 * "now" as the current time; returns what was done.
 */
Datum
pyroscope_offload(PG_FUNCTION_ARGS)
{
	OffloadResult r;

	pyroscope_offload_now(PG_GETARG_TIMESTAMPTZ(0), &r);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(
																  psprintf("{\"blocks_offloaded\": " INT64_FORMAT ", \"bytes_uploaded\": " INT64_FORMAT
																		   ", \"blocks_expired\": " INT64_FORMAT ", \"objects_deleted\": " INT64_FORMAT
																		   ", \"orphans_removed\": " INT64_FORMAT "}",
																		   r.blocks_offloaded, r.bytes_uploaded, r.blocks_expired,
																		   r.objects_deleted, r.orphans_removed))));
}

/* pyroscope.object_store_put(key, data) */
Datum
pyroscope_object_store_put(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(1);

	pyroscope_object_put(text_to_cstring(PG_GETARG_TEXT_PP(0)),
						 VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	PG_RETURN_VOID();
}

/* pyroscope.object_store_get(key, offset, length): a byte range, or the rest */
Datum
pyroscope_object_store_get(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(pyroscope_object_get(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										   PG_GETARG_INT64(1),
										   PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2),
										   !PG_ARGISNULL(2)));
}

/* pyroscope.object_store_head(key): size, or NULL if absent */
Datum
pyroscope_object_store_head(PG_FUNCTION_ARGS)
{
	int64		size;

	if (!pyroscope_object_head(text_to_cstring(PG_GETARG_TEXT_PP(0)), &size))
		PG_RETURN_NULL();
	PG_RETURN_INT64(size);
}

/* pyroscope.object_store_delete(key) */
Datum
pyroscope_object_store_delete(PG_FUNCTION_ARGS)
{
	pyroscope_object_delete(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

static bool
list_row(void *arg, const char *key, uint64 size)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = CStringGetTextDatum(key);
	values[1] = Int64GetDatum((int64) size);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return true;
}

/* pyroscope.object_store_list(prefix): key and size of every object under it */
Datum
pyroscope_object_store_list(PG_FUNCTION_ARGS)
{
	InitMaterializedSRF(fcinfo, 0);
	pyroscope_object_list(text_to_cstring(PG_GETARG_TEXT_PP(0)), list_row,
						  fcinfo->resultinfo);
	return (Datum) 0;
}

/* pyroscope.object_store_stats(): the counters behind /metrics */
Datum
pyroscope_object_store_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *names[32];
	int64		counts[32];
	int			n = pyroscope_object_store_counters(names, counts, lengthof(names));

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(names[i]);
		values[1] = Int64GetDatum(counts[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

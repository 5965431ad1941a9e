/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  SQL functions that store profiles and read them back one by one:
 *	  pyroscope.ingest_pprof() and pyroscope.head_profile().
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/typcache.h"

#include "ingest_params.h"
#include "labels.h"

PG_FUNCTION_INFO_V1(pyroscope_ingest_pprof);
PG_FUNCTION_INFO_V1(pyroscope_head_profile);
PG_FUNCTION_INFO_V1(pyroscope_head_profile_record);
PG_FUNCTION_INFO_V1(pyroscope_ingest_jfr);
PG_FUNCTION_INFO_V1(pyroscope_ingest_speedscope);
PG_FUNCTION_INFO_V1(pyroscope_ingest_otlp);

/*
 * ingest_pprof(data, labels, tenant[, at]): NULL data, labels or tenant
 * give NULL (the function was STRICT before "at" came); a NULL "at" is
 * the pprof's own.
 */
Datum
pyroscope_ingest_pprof(PG_FUNCTION_ARGS)
{
	PyroLabelSet client;
	PyroIngestOptions opt;
	int			written;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	memset(&opt, 0, sizeof(opt));
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		opt.has_time = true;
		opt.at = PG_GETARG_TIMESTAMPTZ(3);
	}
	pyro_labels_init(&client);
	pyroscope_labels_from_jsonb(PG_GETARG_JSONB_P(1), &client);
	written = pyroscope_store_pprof(PG_GETARG_BYTEA_PP(0), &client,
									text_to_cstring(PG_GETARG_TEXT_PP(2)), &opt, NULL);
	pyro_labels_free(&client);
	PG_RETURN_INT32(written);
}

/*
 * ingest_jfr(data, labels_part, labels, tenant, sample_rate, at): NULL
 * data, labels or tenant give NULL; a NULL labels_part is none, a NULL
 * sample_rate 100, a NULL "at" the recording's start.
 */
Datum
pyroscope_ingest_jfr(PG_FUNCTION_ARGS)
{
	PyroLabelSet client;
	PyroJfrIngest opt;
	bytea	   *data;
	bytea	   *labels_part = NULL;
	uint64		profiles,
				samples;
	int			written;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	memset(&opt, 0, sizeof(opt));
	opt.sample_rate = PG_ARGISNULL(4) ? 100 : PG_GETARG_INT32(4);
	if (opt.sample_rate < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_rate must not be negative")));
	if (!PG_ARGISNULL(5))
	{
		opt.has_time = true;
		opt.at = PG_GETARG_TIMESTAMPTZ(5);
	}
	data = PG_GETARG_BYTEA_PP(0);
	if (!PG_ARGISNULL(1))
		labels_part = PG_GETARG_BYTEA_PP(1);
	pyro_labels_init(&client);
	pyroscope_labels_from_jsonb(PG_GETARG_JSONB_P(2), &client);
	written = pyroscope_store_jfr((const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
								  labels_part ? (const uint8_t *) VARDATA_ANY(labels_part) : NULL,
								  labels_part ? VARSIZE_ANY_EXHDR(labels_part) : 0,
								  &client, text_to_cstring(PG_GETARG_TEXT_PP(3)), &opt,
								  &profiles, &samples);
	pyro_labels_free(&client);
	PG_RETURN_INT32(written);
}

/*
 * ingest_speedscope(data, labels, tenant, kind, sample_rate, at): NULL
 * data, labels or tenant give NULL; kind is the profile type of a single
 * profile as /ingest's app name suffix (NULL or '' = cpu); a NULL "at" is
 * now.
 */
Datum
pyroscope_ingest_speedscope(PG_FUNCTION_ARGS)
{
	PyroLabelSet client;
	PyroSpeedscopeIngest opt;
	bytea	   *data;
	uint64		profiles,
				samples;
	int			written;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	memset(&opt, 0, sizeof(opt));
	opt.suffix = PG_ARGISNULL(3) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (pyro_text_type(opt.suffix) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown profile kind \"%s\"", opt.suffix),
				 errhint("Use what /ingest accepts as an application name suffix: cpu, wall, alloc_space, ...")));
	opt.sample_rate = PG_ARGISNULL(4) ? 100 : PG_GETARG_INT32(4);
	if (opt.sample_rate < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_rate must not be negative")));
	opt.time_ms = pyroscope_timestamptz_to_ms(PG_ARGISNULL(5) ? GetCurrentTransactionStartTimestamp()
											  : PG_GETARG_TIMESTAMPTZ(5));
	data = PG_GETARG_BYTEA_PP(0);
	pyro_labels_init(&client);
	pyroscope_labels_from_jsonb(PG_GETARG_JSONB_P(1), &client);
	written = pyroscope_store_speedscope(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &opt, &client,
										 text_to_cstring(PG_GETARG_TEXT_PP(2)), &profiles,
										 &samples);
	pyro_labels_free(&client);
	PG_RETURN_INT32(written);
}

/*
 * ingest_otlp(data, tenant, json): NULL data or tenant give NULL; a NULL
 * json looks at the data (JSON starts with '{').  Profiles the request
 * carries that map to no profile type are reported in a WARNING.
 */
Datum
pyroscope_ingest_otlp(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	bool		json;
	PyroOtlpIngest res;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	if (!PG_ARGISNULL(2))
		json = PG_GETARG_BOOL(2);
	else
	{
		const char *p = VARDATA_ANY(data);
		size_t		n = VARSIZE_ANY_EXHDR(data);

		while (n > 0 && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
			p++, n--;
		json = n > 0 && *p == '{';
	}
	pyroscope_store_otlp((const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), json,
						 text_to_cstring(PG_GETARG_TEXT_PP(1)), &res);
	if (res.rejected > 0)
		ereport(WARNING,
				(errmsg("%lld profile(s) of the OTLP request were not stored: %s",
						(long long) res.rejected, res.rejected_msg ? res.rejected_msg : "")));
	PG_RETURN_INT32(res.written);
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
	bool		key_null;
	Datum		shard_key = GetAttributeByName(row, "shard_key", &key_null);

	if (!profile_null)
		PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM_COPY(profile)));
	if (id_null || part_null || total_null || key_null)
		PG_RETURN_NULL();

	PG_RETURN_POINTER(pyroscope_head_part_value(DatumGetInt32(shard_key), DatumGetInt64(pprof_id),
												DatumGetInt32(part), DatumGetInt64(total)));
}

/*
 * pyroscope.head_profile(h record): the same for a row of another row type
 * with the columns of pyroscope.head -- what a function gets from a shard
 * of pyroscope.head under Citus, whose rows are of the shard's own type.
 * The columns read are checked by name and type first (42804).
 */
Datum
pyroscope_head_profile_record(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row),
											  HeapTupleHeaderGetTypMod(row));
	const char *names[5] = {"profile", "pprof_id", "part", "total", "shard_key"};
	Oid			types[5] = {get_fn_expr_rettype(fcinfo->flinfo), INT8OID, INT4OID, INT8OID,
	INT4OID};

	for (int c = 0; c < 5; c++)
	{
		Oid			found = InvalidOid;

		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (!a->attisdropped && strcmp(NameStr(a->attname), names[c]) == 0)
			{
				found = a->atttypid;
				break;
			}
		}
		if (found != types[c] || !OidIsValid(found))
		{
			ReleaseTupleDesc(desc);
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("pyroscope.head_profile() takes a row of pyroscope.head"),
					 errdetail("Its column \"%s\" is missing or of another type.", names[c])));
		}
	}
	ReleaseTupleDesc(desc);
	return pyroscope_head_profile(fcinfo);
}

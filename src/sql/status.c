/*-------------------------------------------------------------------------
 *
 * status.c
 *	  SQL functions showing and waking the background workers:
 *	  pyroscope.compactor_status(), compactor_wakeup() and
 *	  http_worker_status() (behind the pyroscope.http_workers view).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "commands/trigger.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pyroscope_compactor_status);
PG_FUNCTION_INFO_V1(pyroscope_compactor_wakeup);
PG_FUNCTION_INFO_V1(pyroscope_http_worker_status);
PG_FUNCTION_INFO_V1(pyroscope_discarded_stats);
PG_FUNCTION_INFO_V1(pyroscope_role_tenants);
PG_FUNCTION_INFO_V1(pyroscope_tenant_grants_changed);

/* pyroscope.compactor_status(): the worker's state, one row, or none. */
Datum
pyroscope_compactor_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[8];
	bool		nulls[8];
	CompactorStatus s;

	InitMaterializedSRF(fcinfo, 0);
	if (!pyroscope_compactor_get_status(&s))
		return (Datum) 0;

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(s.pid);
	values[1] = CStringGetTextDatum(!s.enabled ? "disabled" :
									s.running ? "running" : "idle");
	if (s.running)
		values[2] = CStringGetTextDatum(s.job);
	else
		nulls[2] = true;
	values[3] = TimestampTzGetDatum(s.started);
	values[4] = TimestampTzGetDatum(s.last_run_start);
	nulls[4] = s.last_run_start == 0;
	values[5] = TimestampTzGetDatum(s.last_run_end);
	nulls[5] = s.last_run_end == 0;
	values[6] = Int64GetDatum((int64) s.runs);
	values[7] = Int64GetDatum((int64) s.failed_units);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* pyroscope.compactor_wakeup(): ask the worker to run now. */
Datum
pyroscope_compactor_wakeup(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pyroscope_compactor_request_wakeup());
}

/*
 * pyroscope.http_worker_status(): one row per HTTP or query worker slot in use,
 * behind the pyroscope.http_workers view.
 */
Datum
pyroscope_http_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int w = 0; w < HTTP_MAX_WORKERS; w++)
	{
		HttpWorkerStatus st;
		Datum		values[9];
		bool		nulls[9] = {false};

		if (!pyroscope_http_worker_get_status(w, &st))
			continue;
		values[0] = Int32GetDatum(w);
		values[1] = CStringGetTextDatum(st.query ? "query" : "http");
		values[2] = Int32GetDatum(st.pid);
		nulls[2] = st.pid == 0;
		values[3] = CStringGetTextDatum(st.pid == 0 ? "stopped" : st.busy ? "busy" : "idle");
		values[4] = TimestampTzGetDatum(st.started);
		values[5] = Int64GetDatum((int64) st.requests);
		values[6] = Int64GetDatum((int64) st.errors);
		values[7] = CStringGetTextDatum(st.last_error);
		nulls[7] = st.last_error[0] == '\0';
		values[8] = TimestampTzGetDatum(st.last_error_at);
		nulls[8] = st.last_error_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static void
discard_row(void *arg, const char *tenant, PyroDiscardReason reason, const uint64 counts[3])
{
	ReturnSetInfo *rsinfo = arg;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (!pyroscope_tenant_allowed(tenant, PYRO_ACCESS_ANY))
		return;
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(pyroscope_discard_names[reason]);
	values[2] = Int64GetDatum((int64) counts[0]);
	values[3] = Int64GetDatum((int64) counts[1]);
	values[4] = Int64GetDatum((int64) counts[2]);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Uploads refused over HTTP since the server started, by tenant ("" when
 * the request had none) and reason: profiles, samples, bytes; only the
 * tenants the caller may read or write.
 */
Datum
pyroscope_discarded_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	pyroscope_discards_foreach(discard_row, rsinfo);
	return (Datum) 0;
}

/*
 * pyroscope.role_tenants(access): the tenants the current role may read,
 * write or use at all, or NULL for every tenant.  What the row-level
 * security policies compare each row's tenant with.
 */
Datum
pyroscope_role_tenants(PG_FUNCTION_ARGS)
{
	char	   *access = PG_ARGISNULL(0) ? "NULL" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	PyroTenantAccess a;
	char	  **tenants;
	Datum	   *elems;
	int			n;
	bool		all;

	if (strcmp(access, "read") == 0)
		a = PYRO_ACCESS_READ;
	else if (strcmp(access, "write") == 0)
		a = PYRO_ACCESS_WRITE;
	else if (strcmp(access, "any") == 0)
		a = PYRO_ACCESS_ANY;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access must be read, write or any, not %s", access)));
	tenants = pyroscope_role_tenant_list(a, &n, &all);
	if (all)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(tenants[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Statement trigger on pyroscope.tenant_grants: every backend forgets the
 * tenants it cached for its roles.
 */
Datum
pyroscope_tenant_grants_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pyroscope.tenant_grants_changed() is a trigger")));
	pyroscope_grants_changed(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*-------------------------------------------------------------------------
 *
 * http_settings.c
 *	  settings.v1.SettingsService (spec §9.1): per-tenant key/value
 *	  settings kept in pyroscope.settings (Profiles Drilldown stores its
 *	  plugin settings there).
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "gen/settings.pb-c.h"

/* Get: every setting of the tenant, by name. */
void
http_handle_settings_get(HttpRequest *req)
{
	Settings__V1__GetSettingsResponse resp = SETTINGS__V1__GET_SETTINGS_RESPONSE__INIT;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	MemoryContext caller = CurrentMemoryContext;

	(void) http_connect_decode(req, &settings__v1__get_settings_request__descriptor);
	values[0] = CStringGetTextDatum(req->tenant);
	SPI_connect();
	if (SPI_execute_with_args("SELECT name, value, modified_at FROM pyroscope.settings"
							  " WHERE tenant = $1 ORDER BY name COLLATE \"C\"",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read settings");
	resp.settings = MemoryContextAlloc(caller, sizeof(Settings__V1__Setting *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Settings__V1__Setting *s = MemoryContextAlloc(caller, sizeof(Settings__V1__Setting));
		bool		isnull;

		settings__v1__setting__init(s);
		s->name = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 1));
		s->value = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 2));
		s->modifiedat = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		resp.settings[resp.n_settings++] = s;
	}
	SPI_finish();
	http_connect_reply(req, &resp.base);
}

/*
 * Set: store a setting; modifiedAt <= 0 means now, and a stored setting
 * newer than the one sent is kept (already_exists).
 */
void
http_handle_settings_set(HttpRequest *req)
{
	Settings__V1__SetSettingsRequest *r;
	Settings__V1__SetSettingsResponse resp = SETTINGS__V1__SET_SETTINGS_RESPONSE__INIT;
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	bool		newer;

	r = (Settings__V1__SetSettingsRequest *)
		http_connect_decode(req, &settings__v1__set_settings_request__descriptor);
	if (r->setting == NULL || r->setting->name == NULL || r->setting->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a setting with a name is required")));
	if (r->setting->modifiedat <= 0)
		r->setting->modifiedat = pyroscope_timestamptz_to_ms(GetCurrentTimestamp());
	values[0] = CStringGetTextDatum(req->tenant);
	values[1] = CStringGetTextDatum(r->setting->name);
	values[2] = CStringGetTextDatum(r->setting->value ? r->setting->value : "");
	values[3] = Int64GetDatum(r->setting->modifiedat);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO pyroscope.settings AS s (tenant, name, value, modified_at)"
							  " VALUES ($1, $2, $3, $4)"
							  " ON CONFLICT (tenant, name) DO UPDATE"
							  " SET value = excluded.value, modified_at = excluded.modified_at"
							  " WHERE s.modified_at <= excluded.modified_at",
							  4, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store setting");
	newer = SPI_processed == 0;
	SPI_finish();
	if (newer)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("setting \"%s\" has been modified after %lld",
						r->setting->name, (long long) r->setting->modifiedat)));
	resp.setting = r->setting;
	http_connect_reply(req, &resp.base);
}

/* Delete: remove a setting; a missing one is not an error. */
void
http_handle_settings_delete(HttpRequest *req)
{
	Settings__V1__DeleteSettingsRequest *r;
	Settings__V1__DeleteSettingsResponse resp = SETTINGS__V1__DELETE_SETTINGS_RESPONSE__INIT;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	r = (Settings__V1__DeleteSettingsRequest *)
		http_connect_decode(req, &settings__v1__delete_settings_request__descriptor);
	if (r->name == NULL || r->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the name of the setting is required")));
	values[0] = CStringGetTextDatum(req->tenant);
	values[1] = CStringGetTextDatum(r->name);
	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM pyroscope.settings WHERE tenant = $1 AND name = $2",
							  2, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete setting");
	SPI_finish();
	http_connect_reply(req, &resp.base);
}

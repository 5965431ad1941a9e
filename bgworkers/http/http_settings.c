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

#include "utils/timestamp.h"

#include "gen/settings.pb-c.h"

/* Longest setting value and name accepted (Drilldown's settings are small) */
#define MAX_SETTING_VALUE (1024 * 1024)
#define MAX_SETTING_NAME 1024

/* Get: every setting of the tenant, by name. */
void
http_handle_settings_get(HttpRequest *req)
{
	Settings__V1__GetSettingsResponse resp = SETTINGS__V1__GET_SETTINGS_RESPONSE__INIT;
	PyroSetting *list;
	uint64		n;

	(void) http_connect_decode(req, &settings__v1__get_settings_request__descriptor);
	list = pyroscope_settings_list(req->tenant, &n);
	resp.settings = palloc(sizeof(Settings__V1__Setting *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		Settings__V1__Setting *s = palloc(sizeof(Settings__V1__Setting));

		settings__v1__setting__init(s);
		s->name = list[i].name;
		s->value = list[i].value;
		s->modifiedat = list[i].modified_at;
		resp.settings[resp.n_settings++] = s;
	}
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

	r = (Settings__V1__SetSettingsRequest *)
		http_connect_decode(req, &settings__v1__set_settings_request__descriptor);
	if (r->setting == NULL || r->setting->name == NULL || r->setting->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a setting with a name is required")));
	if (r->setting->value && strlen(r->setting->value) > MAX_SETTING_VALUE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the value of setting \"%s\" is %zu bytes long, more than the limit of %d",
						r->setting->name, strlen(r->setting->value), MAX_SETTING_VALUE)));
	if (strlen(r->setting->name) > MAX_SETTING_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a setting name is at most %d bytes long", MAX_SETTING_NAME)));
	if (r->setting->modifiedat <= 0)
		r->setting->modifiedat = pyroscope_timestamptz_to_ms(GetCurrentTimestamp());
	if (!pyroscope_setting_put(req->tenant, r->setting->name,
							   r->setting->value ? r->setting->value : "",
							   r->setting->modifiedat))
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

	r = (Settings__V1__DeleteSettingsRequest *)
		http_connect_decode(req, &settings__v1__delete_settings_request__descriptor);
	if (r->name == NULL || r->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the name of the setting is required")));
	pyroscope_setting_delete(req->tenant, r->name);
	http_connect_reply(req, &resp.base);
}

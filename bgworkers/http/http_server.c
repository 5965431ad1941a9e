/*-------------------------------------------------------------------------
 *
 * http_server.c
 *	  The libmicrohttpd daemon of one HTTP worker: request accumulation,
 *	  routing, per-request transactions, tenancy and authentication, and
 *	  sending the response.
 *
 * libmicrohttpd calls access_handler several times per request: once when
 * the headers are in (we only record state then: queueing a response on
 * that first call makes libmicrohttpd 0.9.75 close keep-alive
 * connections), once per chunk of body, and once more when the body is
 * complete, when the request is processed.  Processing happens in
 * http_process(), which catches every error: nothing thrown by PostgreSQL
 * ever unwinds through libmicrohttpd's frames, and a failed request never
 * ends the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "lib/ilist.h"
#include "replication/syncrep.h"
#include "storage/fd.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/timeout.h"

#include "base64.h"
#include "connect_json.h"
#include "engine.h"

/* The route table (spec §1); paths are matched exactly. */
static const HttpRoute routes[] = {
	{"/ready", ROUTE_READY, HTTP_KIND_OPS, "/ready", http_handle_ready, true},
	{"/metrics", ROUTE_METRICS, HTTP_KIND_OPS, "/metrics", http_handle_metrics, false},
	{"/api/v1/status/buildinfo", ROUTE_BUILDINFO, HTTP_KIND_OPS, "/api/v1/status/buildinfo",
	http_handle_buildinfo, false},
	{"/ingest", ROUTE_INGEST, HTTP_KIND_LEGACY_POST, "/ingest", http_handle_ingest, true},
	{"/pyroscope/ingest", ROUTE_INGEST, HTTP_KIND_LEGACY_POST, "/ingest", http_handle_ingest, true},
	{"/v1development/profiles", ROUTE_OTLP, HTTP_KIND_LEGACY_POST, "/v1development/profiles",
	http_handle_otlp, true},
	{"/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export", ROUTE_OTLP,
	HTTP_KIND_LEGACY_POST, "/v1development/profiles", http_handle_otlp, true},
	{"/push.v1.PusherService/Push", ROUTE_PUSH, HTTP_KIND_CONNECT,
	"/push.v1.PusherService/Push", http_handle_push, true},
	{"/querier.v1.QuerierService/ProfileTypes", ROUTE_PROFILE_TYPES, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/ProfileTypes", http_handle_profile_types, true, true},
	{"/querier.v1.QuerierService/LabelNames", ROUTE_LABEL_NAMES, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/LabelNames", http_handle_label_names, true, true},
	{"/querier.v1.QuerierService/LabelValues", ROUTE_LABEL_VALUES, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/LabelValues", http_handle_label_values, true, true},
	{"/querier.v1.QuerierService/Series", ROUTE_SERIES, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/Series", http_handle_series, true, true},
	{"/querier.v1.QuerierService/SelectMergeStacktraces", ROUTE_SELECT_MERGE_STACKTRACES,
		HTTP_KIND_CONNECT, "/querier.v1.QuerierService/SelectMergeStacktraces",
	http_handle_select_merge_stacktraces, true, true},
	{"/querier.v1.QuerierService/SelectMergeSpanProfile", ROUTE_SELECT_MERGE_SPAN_PROFILE,
		HTTP_KIND_CONNECT, "/querier.v1.QuerierService/SelectMergeSpanProfile",
	http_handle_select_merge_span_profile, true, true},
	{"/querier.v1.QuerierService/SelectMergeProfile", ROUTE_SELECT_MERGE_PROFILE,
		HTTP_KIND_CONNECT, "/querier.v1.QuerierService/SelectMergeProfile",
	http_handle_select_merge_profile, true, true},
	{"/querier.v1.QuerierService/SelectSeries", ROUTE_SELECT_SERIES, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/SelectSeries", http_handle_select_series, true, true},
	{"/querier.v1.QuerierService/SelectHeatmap", ROUTE_SELECT_HEATMAP, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/SelectHeatmap", http_handle_select_heatmap, true, true},
	{"/querier.v1.QuerierService/Diff", ROUTE_DIFF, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/Diff", http_handle_diff, true, true},
	{"/querier.v1.QuerierService/GetProfileStats", ROUTE_GET_PROFILE_STATS, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/GetProfileStats", http_handle_get_profile_stats, true, true},
	{"/querier.v1.QuerierService/AnalyzeQuery", ROUTE_ANALYZE_QUERY, HTTP_KIND_CONNECT,
	"/querier.v1.QuerierService/AnalyzeQuery", http_handle_analyze_query, true, true},
	{"/settings.v1.SettingsService/Get", ROUTE_SETTINGS_GET, HTTP_KIND_CONNECT,
	"/settings.v1.SettingsService/Get", http_handle_settings_get, true},
	{"/settings.v1.SettingsService/Set", ROUTE_SETTINGS_SET, HTTP_KIND_CONNECT,
	"/settings.v1.SettingsService/Set", http_handle_settings_set, true},
	{"/settings.v1.SettingsService/Delete", ROUTE_SETTINGS_DELETE, HTTP_KIND_CONNECT,
	"/settings.v1.SettingsService/Delete", http_handle_settings_delete, true},
	{"/capabilities.v1.FeatureFlagsService/GetFeatureFlags", ROUTE_FEATURE_FLAGS, HTTP_KIND_CONNECT,
	"/capabilities.v1.FeatureFlagsService/GetFeatureFlags", http_handle_feature_flags, true},
	{"/version.v1.Version/Version", ROUTE_VERSION, HTTP_KIND_CONNECT,
	"/version.v1.Version/Version", http_handle_version, true},
	{"/pyroscope/render", ROUTE_RENDER, HTTP_KIND_LEGACY_GET, "/pyroscope/render",
	http_handle_render, true, true},
	{"/pyroscope/render-diff", ROUTE_RENDER_DIFF, HTTP_KIND_LEGACY_GET,
	"/pyroscope/render-diff", http_handle_render_diff, true, true},
	{"/pyroscope/label-values", ROUTE_LEGACY_LABEL_VALUES, HTTP_KIND_LEGACY_GET,
	"/pyroscope/label-values", http_handle_legacy_label_values, true, true},
};

/* any other /<package>.<Service>/<Method> path: a Connect call we do not serve */
static const HttpRoute unimplemented_route = {
	NULL, ROUTE_UNIMPLEMENTED, HTTP_KIND_CONNECT, "unimplemented",
	http_handle_unimplemented, false
};

/* / and /ui/...: the explorer's static files (http_ui.c) */
static const HttpRoute ui_route = {
	NULL, ROUTE_UI, HTTP_KIND_OPS, "/ui", http_handle_ui, false
};
static const HttpRoute not_found_route = {
	NULL, ROUTE_NOT_FOUND, HTTP_KIND_OPS, "not_found", NULL, false
};

static MemoryContext daemon_context = NULL;

/*
 * New connections that have not yet sent their first request's headers,
 * oldest first: past pyroscope.http_header_timeout they are shut down
 * (http_close_slow_connections), so that a client sending its headers a
 * byte at a time cannot hold a connection.
 */
typedef struct NewConnection
{
	dlist_node	node;
	struct MHD_Connection *conn;
	TimestampTz started;
	bool		waiting;		/* in awaiting_headers */
} NewConnection;

static dlist_head awaiting_headers = DLIST_STATIC_INIT(awaiting_headers);

/* Whether url looks like a Connect procedure path: /pkg.Service/Method. */
static bool
is_connect_path(const char *url)
{
	const char *slash;

	if (url[0] != '/')
		return false;
	slash = strchr(url + 1, '/');
	if (slash == NULL || slash == url + 1 || slash[1] == '\0' || strchr(slash + 1, '/'))
		return false;
	return memchr(url + 1, '.', slash - url - 1) != NULL;
}

static const HttpRoute *
http_find_route(const char *url)
{
	for (size_t i = 0; i < lengthof(routes); i++)
		if (strcmp(routes[i].path, url) == 0)
			return &routes[i];
	if (is_connect_path(url))
		return &unimplemented_route;
	if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0 || strncmp(url, "/ui/", 4) == 0)
		return &ui_route;
	return &not_found_route;
}

const HttpRoute *
http_route_at(int index)
{
	if (index < 0 || index >= (int) lengthof(routes))
		return &not_found_route;
	return &routes[index];
}

int
http_route_index(const HttpRoute *route)
{
	for (size_t i = 0; i < lengthof(routes); i++)
		if (route == &routes[i])
			return (int) i;
	return -1;
}

/*
 * A header (case-insensitive name) or query argument of a request: from
 * its connection, or in a query worker from the copy the HTTP worker sent.
 */
const char *
http_header(HttpRequest *req, const char *name)
{
	const char *v = NULL;
	size_t		len;
	char	   *copy;

	if (req->conn)
		v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
	else
	{
		for (int i = 0; i < req->nheaders && v == NULL; i++)
			if (pg_strcasecmp(req->kv_name[i], name) == 0)
				v = req->kv_value[i];
	}
	if (v == NULL)
		return NULL;

	/*
	 * Whitespace around a field value is not part of it (RFC 9110 5.5):
	 * libmicrohttpd drops it before the value, we drop it after.
	 */
	len = strlen(v);
	if (len == 0 || (v[len - 1] != ' ' && v[len - 1] != '\t'))
		return v;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	copy = MemoryContextAllocExtended(req->cxt, len + 1, MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
		return v;
	memcpy(copy, v, len);
	copy[len] = '\0';
	return copy;
}

const char *
http_query_arg(HttpRequest *req, const char *name)
{
	if (req->conn)
		return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	for (int i = req->nheaders; i < req->nheaders + req->nargs; i++)
		if (strcmp(req->kv_name[i], name) == 0)
			return req->kv_value[i];
	return NULL;
}

/* Allocate in the request context without throwing; NULL on failure. */
static void *
req_alloc(HttpRequest *req, size_t size)
{
	return MemoryContextAllocExtended(req->cxt, size ? size : 1,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/*
 * Set the response (status, type, a copy of the body).  Never throws: an
 * allocation failure leaves an empty body with status 500.
 */
void
http_set_body(HttpRequest *req, int status, const char *content_type,
			  const void *data, size_t len)
{
	char	   *copy = req_alloc(req, len + 1);

	if (copy == NULL)
	{
		req->status = 500;
		req->content_type = "text/plain";
		req->resp = NULL;
		req->resp_len = 0;
		req->error_code = "internal";
		return;
	}
	if (len > 0)
		memcpy(copy, data, len);
	copy[len] = '\0';
	req->status = status;
	req->content_type = content_type;
	req->resp = copy;
	req->resp_len = len;
}

void
http_add_header(HttpRequest *req, const char *name, const char *value)
{
	if (req->nhdr >= HTTP_MAX_EXTRA_HEADERS)
		return;
	req->hdr_name[req->nhdr] = name;
	req->hdr_value[req->nhdr] = value;
	req->nhdr++;
}

/*
 * Set a Connect-style error response: {"code": ..., "message": ...} with
 * Content-Type application/json (spec §2.3, §10.8).  Never throws.
 */
void
http_error(HttpRequest *req, int status, const char *code, const char *fmt,...)
{
	char		msg[1024];
	char		body[3072];
	size_t		o = 0;
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	o = snprintf(body, sizeof(body), "{\"code\":\"%s\",\"message\":\"", code);
	for (const char *p = msg; *p && o < sizeof(body) - 16; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"' || c == '\\')
		{
			body[o++] = '\\';
			body[o++] = c;
		}
		else if (c < 0x20)
			o += snprintf(body + o, sizeof(body) - o, "\\u%04x", c);
		else
			body[o++] = c;
	}
	body[o++] = '"';
	body[o++] = '}';
	http_set_body(req, status, "application/json", body, o);
	req->error_code = code;
	http_add_header(req, "X-Content-Type-Options", "nosniff");
}

/*
 * The HTTP status and Connect code of an SQLSTATE (spec §2.3, §18):
 * bad input is 400 invalid_argument, never 5xx, so that clients that retry
 * on server errors do not retry it.
 */
static void
http_ereport_status(int sqlerrcode, int *status, const char **code)
{
	switch (sqlerrcode)
	{
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
			*status = 401;
			*code = "unauthenticated";
			return;
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
			*status = 403;
			*code = "permission_denied";
			return;
		case ERRCODE_UNDEFINED_OBJECT:
			*status = 404;
			*code = "not_found";
			return;
		case ERRCODE_UNIQUE_VIOLATION:
			*status = 409;
			*code = "already_exists";
			return;
		case ERRCODE_FEATURE_NOT_SUPPORTED:
			*status = 501;
			*code = "unimplemented";
			return;
		case ERRCODE_QUERY_CANCELED:
			*status = 504;
			*code = "deadline_exceeded";
			return;
		case ERRCODE_OUT_OF_MEMORY:
		case ERRCODE_CONFIGURATION_LIMIT_EXCEEDED:
			*status = 429;
			*code = "resource_exhausted";
			return;
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
		case ERRCODE_DATA_CORRUPTED:
			*status = 400;
			*code = "invalid_argument";
			return;
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_EXTERNAL_ROUTINE_EXCEPTION:	/* object storage */
			*status = 503;
			*code = "unavailable";
			return;
		case ERRCODE_STATEMENT_TOO_COMPLEX: /* input nested too deeply */
			*status = 400;
			*code = "invalid_argument";
			return;
	}
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION)
	{
		*status = 400;
		*code = "invalid_argument";
		return;
	}
	*status = 500;
	*code = "internal";
}

/* dskit's tenant id rules (spec §13): <= 150 bytes of [A-Za-z0-9!-_.*'()], not "." or "..". */
static bool
http_tenant_valid(const char *t, size_t len)
{
	if (len == 0 || len > HTTP_MAX_TENANT_LENGTH)
		return false;
	if ((len == 1 && t[0] == '.') || (len == 2 && t[0] == '.' && t[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = t[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  strchr("!-_.*'()", c) != NULL) || c == '\0')
			return false;
	}
	return true;
}

/*
 * The user and password of a Basic Authorization header (RFC 7617): the
 * scheme in any case, base64 of "user:password".  Leaves both NULL when
 * the header is missing or malformed, or the decoded bytes hold a NUL.
 */
static void
parse_basic(const char *auth, char **user, char **secret)
{
	uint8_t    *raw = NULL;
	size_t		rawlen = 0;
	bool		oom = false;
	const char *b64;
	size_t		len;
	char	   *colon;
	char	   *copy;

	*user = *secret = NULL;
	if (auth == NULL || pg_strncasecmp(auth, "Basic ", 6) != 0)
		return;
	b64 = auth + 6;
	while (*b64 == ' ')
		b64++;
	len = strlen(b64);
	while (len > 0 && b64[len - 1] == ' ')
		len--;
	if (len == 0 || !pyro_base64_decode(b64, len, &raw, &rawlen, &oom) || raw == NULL)
		return;
	if (memchr(raw, '\0', rawlen) != NULL)
	{
		pyro_free(raw);
		return;
	}
	copy = palloc(rawlen + 1);
	memcpy(copy, raw, rawlen);
	copy[rawlen] = '\0';
	pyro_free(raw);
	colon = strchr(copy, ':');
	if (colon == NULL)
		return;
	*colon = '\0';
	*user = copy;
	*secret = colon + 1;
}

/*
 * Check the credentials of a request against pyroscope.http_credentials
 * (when pyroscope.auth is not none): the role the request runs as, and
 * *pinned the tenant the credential is pinned to (or NULL).
 */
static void
http_authenticate(HttpRequest *req, char **pinned)
{
	const char *auth = http_header(req, "Authorization");
	char	   *user = NULL;
	char	   *secret = NULL;
	char	   *role = NULL;
	bool		ok;

	*pinned = NULL;
	req->role = MemoryContextStrdup(req->cxt, pyroscope_http_role ? pyroscope_http_role : "");
	if (pyroscope_http_auth == HTTP_AUTH_NONE)
		return;
	if (pyroscope_http_auth == HTTP_AUTH_BASIC)
		parse_basic(auth, &user, &secret);
	else if (auth && pg_strncasecmp(auth, "Bearer ", 7) == 0)
	{
		secret = pstrdup(auth + 7);
		while (*secret == ' ')
			secret++;
		user = "";
	}
	if (user == NULL || secret == NULL || secret[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("missing or malformed %s credentials",
						pyroscope_http_auth == HTTP_AUTH_BASIC ? "basic" : "bearer")));

	ok = pyroscope_credential_check(pyroscope_http_auth == HTTP_AUTH_BASIC ? "basic" : "bearer",
									user, secret, req->cxt, pinned, &role);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("invalid credentials")));
	req->role = role;
}

/*
 * Authenticate a request and determine its tenant (spec §13).
 * A credential row may pin a tenant; otherwise the tenant comes from
 * X-Scope-OrgID in multi-tenant mode and is "anonymous" else.  The
 * request runs as the credential's role, or pyroscope.http_role without
 * authentication.  Runs in the request's transaction; errors out with
 * 28000 (401) or 42501 (403).
 */
static void
http_resolve_tenant(HttpRequest *req)
{
	const char *hdr = http_header(req, "X-Scope-OrgID");
	char	   *pinned;

	http_authenticate(req, &pinned);
	if (!pyroscope_multitenancy)
	{
		req->tenant = pinned ? pinned : HTTP_DEFAULT_TENANT;
		return;
	}
	if (hdr && hdr[0] != '\0')
	{
		if (!http_tenant_valid(hdr, strlen(hdr)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("invalid tenant id \"%s\"", hdr),
					 errdetail("A tenant id has at most 150 characters out of A-Z, a-z, 0-9 and !-_.*'().")));
		if (pinned && strcmp(pinned, hdr) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("credentials do not grant access to tenant \"%s\"", hdr)));
		req->tenant = MemoryContextStrdup(req->cxt, hdr);
		return;
	}
	if (pinned)
	{
		req->tenant = pinned;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("no org id"),
			 errdetail("Multi-tenancy is on: the X-Scope-OrgID header is required.")));
}

/*
 * Whether pushes may commit asynchronously and be answered after one WAL
 * flush for all of them: when a commit would wait for the local flush only
 * (synchronous_commit on or local, no synchronous standbys).  Otherwise
 * every push commits as the settings say.
 */
static bool
group_commit_applies(void)
{
	if (synchronous_commit != SYNCHRONOUS_COMMIT_ON &&
		synchronous_commit != SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
		return false;
	return !(SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0');
}

/* Pushes committed but not yet flushed, waiting to be answered. */
static dlist_head unflushed = DLIST_STATIC_INIT(unflushed);

/*
 * Flush the WAL up to the newest commit of the waiting pushes, once, and
 * let their answers go.  Called by the worker after each round of
 * MHD_run; a push is thus answered only once its commit is durable.
 * Returns whether connections were resumed (MHD_run must then run again).
 */
bool
http_flush_commits(void)
{
	dlist_mutable_iter it;
	dlist_iter	scan;
	XLogRecPtr	upto = InvalidXLogRecPtr;

	if (dlist_is_empty(&unflushed))
		return false;
	dlist_foreach(scan, &unflushed)
	{
		HttpRequest *req = dlist_container(HttpRequest, flush_node, scan.cur);

		if (req->commit_lsn > upto)
			upto = req->commit_lsn;
	}
	if (!XLogRecPtrIsInvalid(upto))
		XLogFlush(upto);
	dlist_foreach_modify(it, &unflushed)
	{
		HttpRequest *req = dlist_container(HttpRequest, flush_node, it.cur);

		dlist_delete(&req->flush_node);
		req->commit_lsn = InvalidXLogRecPtr;
		req->flush_wait = false;
		req->flushed = true;
		MHD_resume_connection(req->conn);
	}
	return true;
}

/* the limits of the tenant of the request being served (NULL: none yet) */
const PyroTenantLimits *http_limits = NULL;

/* Whether the route stores something for its tenant (write access). */
static bool
http_route_writes(HttpRouteId id)
{
	return id == ROUTE_PUSH || id == ROUTE_INGEST || id == ROUTE_OTLP ||
		id == ROUTE_SETTINGS_SET || id == ROUTE_SETTINGS_DELETE;
}

/*
 * Group commit: commit without waiting for the WAL flush; the answer waits
 * for http_flush_commits(), which flushes once for every push of this
 * round.  (A function of its own: PG_TRY blocks do not nest in one.)
 */
static void
commit_without_flush(void)
{
	int			saved = synchronous_commit;

	synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
	PG_TRY();
	{
		CommitTransactionCommand();
	}
	PG_FINALLY();
	{
		synchronous_commit = saved;
	}
	PG_END_TRY();
}

/*
 * Run the handler of a request in its own transaction and turn any error
 * into an error response.  Afterwards the transaction is closed and every
 * transaction-scoped allocation is gone; the response lives in req->cxt.
 */
void
http_process(HttpRequest *req)
{
	const HttpRoute *route = req->route;
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool in_xact = false;
	volatile bool budgeted = false;
	volatile bool as_role = false;
	PyroRoleState saved_role;
	bool		group_commit = (route->id == ROUTE_PUSH || route->id == ROUTE_INGEST ||
								route->id == ROUTE_OTLP) &&
	group_commit_applies();

	pyroscope_http_worker_set_state(true, NULL);
	{
		double		ignored;

		(void) pyroscope_take_refusal(&ignored);
	}
	http_limits = NULL;
	PG_TRY();
	{
		if (!route->needs_db)
		{
			/*
			 * /metrics and build info: any valid credential, when asked; the
			 * explorer's files hold no data and are always served
			 */
			if (pyroscope_http_auth != HTTP_AUTH_NONE && pyroscope_http_ops_auth &&
				route->id != ROUTE_READY && route->id != ROUTE_UI)
			{
				char	   *pinned;

				StartTransactionCommand();
				in_xact = true;
				PushActiveSnapshot(GetTransactionSnapshot());
				http_authenticate(req, &pinned);
				PopActiveSnapshot();
				CommitTransactionCommand();
				in_xact = false;
			}
			MemoryContextSwitchTo(req->cxt);
			route->handler(req);
		}
		else
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			in_xact = true;
			PushActiveSnapshot(GetTransactionSnapshot());
			if (req->timeout_ms > 0)
				enable_timeout_after(STATEMENT_TIMEOUT, req->timeout_ms);
			if (!pyroscope_extension_ready())
			{
				char	   *version = pyroscope_extension_installed_version();

				if (version == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("extension \"pyroscope\" is not installed in database \"%s\"",
									pyroscope_database),
							 errhint("Run CREATE EXTENSION pyroscope in that database.")));
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("extension \"pyroscope\" in database \"%s\" is at version %s, this server's library needs %s",
								pyroscope_database, version, PYROSCOPE_EXTENSION_VERSION),
						 errhint("Run ALTER EXTENSION pyroscope UPDATE in that database.")));
			}
			if (route->kind != HTTP_KIND_OPS)
			{
				http_resolve_tenant(req);
				pyroscope_begin_as_role(req->role, &saved_role);
				as_role = true;
				pyroscope_require_tenant(req->tenant, http_route_writes(route->id) ?
										 PYRO_ACCESS_WRITE : PYRO_ACCESS_READ);
				pyroscope_tenant_limits(req->tenant, &req->limits);
				http_limits = &req->limits;
			}
			/* queries run within pyroscope.query_memory_limit, as in SQL */
			if (route->id != ROUTE_INGEST && route->id != ROUTE_PUSH && route->id != ROUTE_OTLP)
			{
				budgeted = true;
				pyroscope_budget_begin();
				if (route->kind != HTTP_KIND_OPS)
					pyroscope_query_admit(req->tenant, &req->limits);
			}
			if (route->query)
				pyroscope_test_sleep(pyroscope_query_test_delay);
			route->handler(req);
			pyroscope_budget_end();
			pyroscope_query_release();
			if (req->timeout_ms > 0)
				disable_timeout(STATEMENT_TIMEOUT, false);
			if (as_role)
				pyroscope_end_as_role(&saved_role);
			as_role = false;
			PopActiveSnapshot();
			if (group_commit)
			{
				commit_without_flush();
				req->commit_lsn = XactLastCommitEnd;
			}
			else
				CommitTransactionCommand();
			in_xact = false;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			status;
		const char *code;
		bool		over_budget;
		int			refusal;
		double		retry_after;

		pyroscope_budget_end();
		pyroscope_query_release();
		MemoryContextSwitchTo(req->cxt);
		edata = CopyErrorData();
		FlushErrorState();

		/*
		 * The query's memory budget, passed in this process, a parallel
		 * worker or a Citus worker: its errors carry the budget's hint.
		 */
		over_budget = budgeted && pyroscope_error_over_budget(edata);
		if (req->timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
		if (as_role)
			pyroscope_end_as_role(&saved_role);
		if (in_xact)
			AbortCurrentTransaction();
		/* the handler may have set a body before failing: replace it */
		req->nhdr = 0;
		http_ereport_status(edata->sqlerrcode, &status, &code);
		refusal = pyroscope_take_refusal(&retry_after);
		if (route->id == ROUTE_INGEST || route->id == ROUTE_PUSH || route->id == ROUTE_OTLP)
			http_record_discard(req->tenant,
								refusal >= 0 ? (PyroDiscardReason) refusal
								: http_discard_reason(edata->sqlerrcode), 1,
								pyroscope_take_refused_samples(), req->body_len);
		if (status == 400 && req->bad_input_status)
		{
			status = req->bad_input_status;
			code = "unknown";
		}
		if (over_budget && edata->sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		{
			/* a query over its memory budget: resource_exhausted */
			status = 429;
			code = "resource_exhausted";
		}
		if (route->id == ROUTE_READY)
			http_set_body(req, 503, "text/plain", edata->message, strlen(edata->message));
		else if (edata->sqlerrcode == ERRCODE_EXTERNAL_ROUTINE_EXCEPTION)
		{
			/* the details name the object store's endpoint: log them only */
			http_error(req, status, code,
					   "object storage is unavailable, try again later (details in the server log)");
		}
		else if (over_budget && edata->hint)
			http_error(req, status, code, "%s (%s)", edata->message, edata->hint);
		else
			http_error(req, status, code, "%s", edata->message);
		if (refusal >= 0 && retry_after > 0)
		{
			char		secs[32];

			snprintf(secs, sizeof(secs), "%.0f", retry_after);
			http_add_header(req, "Retry-After", MemoryContextStrdup(req->cxt, secs));
		}
		if (status >= 500)
			ereport(LOG,
					(errmsg("pyroscope http %s %s failed: %s", req->method, req->url,
							edata->message)));
		pyroscope_http_worker_set_state(false, edata->message);
		FreeErrorData(edata);
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pyroscope_http_worker_set_state(false, NULL);
}

/* Queue req's response on its connection. */
static enum MHD_Result
http_send(HttpRequest *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	req->responded = true;
	http_maybe_gzip(req);
	resp = MHD_create_response_from_buffer(req->resp_len, req->resp ? req->resp : "",
										   MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (req->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	for (int i = 0; i < req->nhdr; i++)
		MHD_add_response_header(resp, req->hdr_name[i], req->hdr_value[i]);
	ret = MHD_queue_response(req->conn, req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Append one chunk of body, enforcing pyroscope.http_max_body_size. */
static void
append_body(HttpRequest *req, const char *data, size_t len)
{
	size_t		limit = (size_t) pyroscope_http_max_body_size * 1024;

	req->bytes_received += len;
	if (req->body_too_large || req->body_oom)
		return;
	if (req->body_len + len > limit)
	{
		req->body_too_large = true;
		return;
	}
	if (req->body_len + len + 1 > req->body_cap)
	{
		size_t		cap = Max(req->body_cap * 2, req->body_len + len + 1);
		char	   *nb;

		cap = Max(cap, 8192);
		cap = Min(cap, limit + 1);
		nb = req_alloc(req, cap);
		if (nb == NULL)
		{
			req->body_oom = true;
			return;
		}
		if (req->body_len)
			memcpy(nb, req->body, req->body_len);
		if (req->body)
			pfree(req->body);
		req->body = nb;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
}

/* The error for a body over the limit (spec §10.8, §17). */
static void
body_too_large(HttpRequest *req)
{
	size_t		limit = (size_t) pyroscope_http_max_body_size * 1024;

	if (req->route->kind == HTTP_KIND_CONNECT)
		http_error(req, 429, "resource_exhausted",
				   "request body exceeds pyroscope.http_max_body_size (%zu bytes)", limit);
	else
		http_error(req, 413, "invalid_argument",
				   "request body exceeds pyroscope.http_max_body_size (%zu bytes)", limit);
}

/*
 * Checks that need no body: method and, for Connect calls, the headers.
 * Returns false with the error response set.
 */
static bool
check_request_line(HttpRequest *req)
{
	const HttpRoute *r = req->route;
	bool		post = strcmp(req->method, "POST") == 0;
	bool		get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

	switch (r->kind)
	{
		case HTTP_KIND_OPS:
			if (r->id == ROUTE_NOT_FOUND)
			{
				http_error(req, 404, "not_found", "no route for %s %s", req->method, req->url);
				return false;
			}
			if (!get)
			{
				http_error(req, 405, "unimplemented", "method %s not allowed", req->method);
				http_add_header(req, "Allow", "GET");
				return false;
			}
			return true;
		case HTTP_KIND_LEGACY_GET:
			if (!get)
			{
				http_error(req, 405, "unimplemented", "method %s not allowed", req->method);
				http_add_header(req, "Allow", "GET");
				return false;
			}
			return true;
		case HTTP_KIND_LEGACY_POST:
		case HTTP_KIND_CONNECT:
			if (!post)
			{
				http_error(req, 405, "unimplemented", "method %s not allowed", req->method);
				http_add_header(req, "Allow", "POST");
				return false;
			}
			return true;
	}
	return true;
}

/* Effective deadline: pyroscope.http_request_timeout, shortened by Connect-Timeout-Ms. */
static void
set_deadline(HttpRequest *req)
{
	req->timeout_ms = pyroscope_http_request_timeout;
}

static bool over_connection_limit(HttpRequest *req);

/* libmicrohttpd's connection start and end: track new connections */
static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				  enum MHD_ConnectionNotificationCode code)
{
	NewConnection *nc = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
	{
		nc = MemoryContextAllocExtended(daemon_context, sizeof(NewConnection),
										MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO);
		if (nc == NULL)
			return;
		nc->conn = conn;
		nc->started = GetCurrentTimestamp();
		nc->waiting = true;
		dlist_push_tail(&awaiting_headers, &nc->node);
		*socket_context = nc;
	}
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED && nc != NULL)
	{
		if (nc->waiting)
			dlist_delete(&nc->node);
		pfree(nc);
		*socket_context = NULL;
	}
}

/* The headers of conn's first request are in: no deadline any more. */
static void
headers_arrived(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	NewConnection *nc;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (nc = ci->socket_context) == NULL || !nc->waiting)
		return;
	dlist_delete(&nc->node);
	nc->waiting = false;
}

/*
 * Shut down the sockets of connections past pyroscope.http_header_timeout
 * without their first request's headers (libmicrohttpd then sees the end
 * of the stream and closes them).  Returns the milliseconds until the next
 * such deadline, or -1 when no connection is waiting.
 */
long
http_close_slow_connections(void)
{
	TimestampTz now = GetCurrentTimestamp();
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &awaiting_headers)
	{
		NewConnection *nc = dlist_container(NewConnection, node, it.cur);
		TimestampTz deadline = TimestampTzPlusMilliseconds(nc->started,
														   pyroscope_http_header_timeout * 1000L);
		const union MHD_ConnectionInfo *ci;

		if (now < deadline)
			return (long) ((deadline - now) / 1000) + 1;	/* the oldest waits */
		ci = MHD_get_connection_info(nc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci != NULL)
			(void) shutdown(ci->connect_fd, SHUT_RDWR);
		dlist_delete(&nc->node);
		nc->waiting = false;
	}
	return -1;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	HttpRequest *req = *con_cls;

	if (req == NULL)
	{
		MemoryContext cxt;
		const char *cl;

		headers_arrived(conn);

		/* first call: headers only; record state, answer nothing yet */
		cxt = AllocSetContextCreate(daemon_context, "pyroscope http request",
									ALLOCSET_DEFAULT_SIZES);
		req = MemoryContextAllocExtended(cxt, sizeof(HttpRequest),
										 MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
		if (req == NULL)
		{
			MemoryContextDelete(cxt);
			return MHD_NO;
		}
		req->cxt = cxt;
		req->conn = conn;
		req->method = MemoryContextStrdup(cxt, method);
		req->url = MemoryContextStrdup(cxt, url);
		req->route = http_find_route(url);
		INSTR_TIME_SET_CURRENT(req->started);
		set_deadline(req);
		*con_cls = req;

		/* past pyroscope.http_max_connections: 503, and close */
		if (over_connection_limit(req))
		{
			http_error(req, 503, "unavailable",
					   "too many connections (pyroscope.http_max_connections = %d per worker), try again",
					   pyroscope_http_max_connections);
			http_add_header(req, "Retry-After", "1");
			http_add_header(req, "Connection", "close");
			return http_send(req);
		}

		/* a declared body over the limit is refused before it is sent */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > (unsigned long long) pyroscope_http_max_body_size * 1024)
		{
			body_too_large(req);
			return http_send(req);
		}
		return MHD_YES;
	}

	if (*upload_data_size > 0)
	{
		if (!req->responded && !req->dispatch)
			append_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->responded)
		return MHD_YES;

	/* a push waiting for its WAL flush */
	if (req->flush_wait)
	{
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	if (req->flushed)
		return http_send(req);

	/* a query worker has the request: answer once it is back */
	if (req->dispatch)
	{
		if (http_dispatch_abandoned(req))
			return MHD_NO;		/* the client has gone: close */
		if (!http_dispatch_ready(req))
		{
			MHD_suspend_connection(conn);
			return MHD_YES;
		}
		return http_send(req);
	}

	/* the whole request is in: answer it */
	if (req->body_too_large)
		body_too_large(req);
	else if (req->body_oom)
		http_error(req, 500, "internal", "out of memory reading the request body");
	else if (check_request_line(req))
	{
		if (req->route->kind != HTTP_KIND_CONNECT ||
			req->route->id == ROUTE_UNIMPLEMENTED || http_connect_begin(req))
		{
			if (!http_dispatch_wanted(req))
			{
				http_process(req);
				if (!XLogRecPtrIsInvalid(req->commit_lsn))
				{
					/* answered once the group's WAL flush is done */
					req->flush_wait = true;
					dlist_push_tail(&unflushed, &req->flush_node);
					MHD_suspend_connection(conn);
					return MHD_YES;
				}
			}
			else if (http_dispatch(req))
			{
				/* serve other connections until the query worker answers */
				MHD_suspend_connection(conn);
				return MHD_YES;
			}
		}
	}
	return http_send(req);
}

/* Called by libmicrohttpd when a request ends, answered or not. */
static void
completed_handler(void *cls, struct MHD_Connection *conn, void **con_cls,
				  enum MHD_RequestTerminationCode toe)
{
	HttpRequest *req = *con_cls;

	if (req == NULL)
		return;
	http_dispatch_release(req);
	if (req->flush_wait)
		dlist_delete(&req->flush_node);
	if (!req->responded)
		req->status = 499;		/* client went away */
	http_record_request(req);
	MemoryContextDelete(req->cxt);
	*con_cls = NULL;
}

/*
 * libmicrohttpd's messages (a client that went away mid-request, a
 * connection refused over a limit, ...): at most one LOG line every
 * MHD_LOG_INTERVAL seconds, saying how many were held back; the others at
 * DEBUG1.  A client cannot flood the server log.
 */
#define MHD_LOG_INTERVAL 10

static void mhd_logger(void *cls, const char *fmt, va_list ap) pg_attribute_printf(2, 0);

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	static TimestampTz last_logged = 0;
	static uint64 held_back = 0;
	char		buf[512];
	TimestampTz now = GetCurrentTimestamp();

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (last_logged != 0 &&
		!TimestampDifferenceExceeds(last_logged, now, MHD_LOG_INTERVAL * 1000))
	{
		held_back++;
		ereport(DEBUG1, (errmsg_internal("pyroscope http: %s", buf)));
		return;
	}
	if (held_back > 0)
		ereport(LOG,
				(errmsg("pyroscope http: %s", buf),
				 errdetail("%llu more such messages in the last %d s were logged at DEBUG1.",
						   (unsigned long long) held_back, MHD_LOG_INTERVAL)));
	else
		ereport(LOG, (errmsg("pyroscope http: %s", buf)));
	last_logged = now;
	held_back = 0;
}

/*
 * How many connections this worker serves: pyroscope.http_max_connections,
 * within what its file-descriptor limit leaves after PostgreSQL's own files
 * (the soft limit is raised to the hard one first, up to 65536).  Up to
 * OVER_LIMIT_ANSWERED connections past it are still accepted, to be answered
 * 503 at their first request; past those, libmicrohttpd closes new ones.
 */
#define OVER_LIMIT_ANSWERED 256

static unsigned int served_limit;

static unsigned int
connection_limit(void)
{
	struct rlimit rl;
	long		room = 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
	{
		if (rl.rlim_cur != RLIM_INFINITY &&
			(rl.rlim_max == RLIM_INFINITY || rl.rlim_cur < rl.rlim_max))
		{
			struct rlimit want = rl;

			want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 65536 : Min(rl.rlim_max, 65536);
			if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0)
				rl = want;
		}
		/* PostgreSQL may keep max_safe_fds files open, plus 10 it reserves */
		room = rl.rlim_cur == RLIM_INFINITY ? 1000000 :
			(long) rl.rlim_cur - max_safe_fds - 10 - 32;
	}
	if (room < 16)
		room = 16;
	served_limit = (unsigned int) Min((long) pyroscope_http_max_connections, room);
	return (unsigned int) Min((long) served_limit + OVER_LIMIT_ANSWERED, room);
}

/* Whether the connection of req is one past pyroscope.http_max_connections. */
static bool
over_connection_limit(HttpRequest *req)
{
	const union MHD_ConnectionInfo *ci;
	const union MHD_DaemonInfo *di;

	if (req->conn == NULL || served_limit == 0)
		return false;
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_DAEMON);
	if (ci == NULL)
		return false;
	di = MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di != NULL && di->num_connections > served_limit;
}

/*
 * Start this worker's daemon on pyroscope.http_listen_address and
 * pyroscope.http_port, sharing the port with the other workers.
 */
struct MHD_Daemon *
http_server_start(MemoryContext daemon_cxt)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	struct MHD_Daemon *d;
	char		port[16];
	int			rc;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	unsigned int tls;
	struct MHD_OptionItem tls_opts[3];
	int			ntls = 0;

	daemon_context = daemon_cxt;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", pyroscope_http_port);
	rc = getaddrinfo(pyroscope_http_listen_address, port, &hints, &res);
	if (rc != 0 || res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not resolve pyroscope.http_listen_address \"%s\": %s",
						pyroscope_http_listen_address, gai_strerror(rc))));
	if (res->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	tls = http_tls_setup();
	if (tls)
	{
		tls_opts[ntls].option = MHD_OPTION_HTTPS_PRIORITIES;
		tls_opts[ntls].value = 0;
		tls_opts[ntls++].ptr_value = (void *) http_tls_priorities();
		tls_opts[ntls].option = MHD_OPTION_HTTPS_CERT_CALLBACK;
		tls_opts[ntls].value = 0;
		tls_opts[ntls++].ptr_value = http_tls_callback();
	}
	tls_opts[ntls].option = MHD_OPTION_END;
	tls_opts[ntls].value = 0;
	tls_opts[ntls].ptr_value = NULL;

	/* the logger first: libmicrohttpd 1.0 logs options given before it */
	d = MHD_start_daemon(flags | tls, (uint16_t) pyroscope_http_port,
						 NULL, NULL,
						 access_handler, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
						 MHD_OPTION_ARRAY, tls_opts,
						 MHD_OPTION_SOCK_ADDR, res->ai_addr,
						 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
						 MHD_OPTION_NOTIFY_COMPLETED, completed_handler, NULL,
						 MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) pyroscope_http_idle_timeout,
						 MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
						 MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						 (unsigned int) pyroscope_http_max_connections_per_ip,
						 MHD_OPTION_END);
	freeaddrinfo(res);
	if (d == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not start the HTTP%s server on %s port %d", tls ? "S" : "",
						pyroscope_http_listen_address, pyroscope_http_port),
				 errhint("Is another process using the port?")));
	return d;
}

/*-------------------------------------------------------------------------
 *
 * http_ops.c
 *	  Operational side of the HTTP API: the shared-memory counters behind
 *	  /metrics, and the /ready,
 *	  /metrics, /api/v1/status/buildinfo and "unimplemented" handlers
 *	  (spec §12).
 *
 * Counters are atomics in one shared struct (the module's shared-memory
 * hooks size and attach it), so a scrape of any worker sees the totals of
 * all.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define PYROSCOPE_VERSION	"1.0.0"

HttpShared *pyroscope_http_shared = NULL;

/* metric labels per route id */
static const char *const route_labels[HTTP_NROUTES] = {
	[ROUTE_NOT_FOUND] = "not_found",
	[ROUTE_UNIMPLEMENTED] = "unimplemented",
	[ROUTE_READY] = "/ready",
	[ROUTE_METRICS] = "/metrics",
	[ROUTE_BUILDINFO] = "/api/v1/status/buildinfo",
	[ROUTE_INGEST] = "/ingest",
	[ROUTE_PUSH] = "/push.v1.PusherService/Push",
	[ROUTE_OTLP] = "/v1development/profiles",
	[ROUTE_PROFILE_TYPES] = "/querier.v1.QuerierService/ProfileTypes",
	[ROUTE_LABEL_NAMES] = "/querier.v1.QuerierService/LabelNames",
	[ROUTE_LABEL_VALUES] = "/querier.v1.QuerierService/LabelValues",
	[ROUTE_SERIES] = "/querier.v1.QuerierService/Series",
	[ROUTE_SELECT_MERGE_STACKTRACES] = "/querier.v1.QuerierService/SelectMergeStacktraces",
	[ROUTE_SELECT_MERGE_SPAN_PROFILE] = "/querier.v1.QuerierService/SelectMergeSpanProfile",
	[ROUTE_SELECT_MERGE_PROFILE] = "/querier.v1.QuerierService/SelectMergeProfile",
	[ROUTE_SELECT_SERIES] = "/querier.v1.QuerierService/SelectSeries",
	[ROUTE_SELECT_HEATMAP] = "/querier.v1.QuerierService/SelectHeatmap",
	[ROUTE_DIFF] = "/querier.v1.QuerierService/Diff",
	[ROUTE_GET_PROFILE_STATS] = "/querier.v1.QuerierService/GetProfileStats",
	[ROUTE_ANALYZE_QUERY] = "/querier.v1.QuerierService/AnalyzeQuery",
	[ROUTE_SETTINGS_GET] = "/settings.v1.SettingsService/Get",
	[ROUTE_SETTINGS_SET] = "/settings.v1.SettingsService/Set",
	[ROUTE_SETTINGS_DELETE] = "/settings.v1.SettingsService/Delete",
	[ROUTE_FEATURE_FLAGS] = "/capabilities.v1.FeatureFlagsService/GetFeatureFlags",
	[ROUTE_VERSION] = "/version.v1.Version/Version",
	[ROUTE_RENDER] = "/pyroscope/render",
	[ROUTE_RENDER_DIFF] = "/pyroscope/render-diff",
	[ROUTE_LEGACY_LABEL_VALUES] = "/pyroscope/label-values",
	[ROUTE_UI] = "/ui",
};

static const int status_codes[HTTP_NSTATUS] = {
	200, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 501, 503, 504, 0
};

static const char *const reason_names[HTTP_NREASONS] = {
	"invalid_argument", "unauthenticated", "permission_denied", "not_found",
	"already_exists", "resource_exhausted", "unimplemented", "deadline_exceeded",
	"unavailable", "internal", "unknown"
};

/* upper bounds of the latency histogram, seconds */
static const double latency_bounds[HTTP_LATENCY_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};

/* Shared memory of the HTTP API: its counters. */
Size
http_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(HttpShared)), http_dispatch_shmem_size());
}

/* Attach the counters (the caller holds AddinShmemInitLock). */
void
http_shmem_init(void)
{
	bool		found;

	pyroscope_http_shared = ShmemInitStruct("pyroscope http", sizeof(HttpShared), &found);
	if (!found)
	{
		HttpShared *s = pyroscope_http_shared;

		for (int r = 0; r < HTTP_NROUTES; r++)
		{
			for (int i = 0; i < HTTP_NSTATUS; i++)
				pg_atomic_init_u64(&s->routes[r].status[i], 0);
			for (int i = 0; i <= HTTP_LATENCY_BUCKETS; i++)
				pg_atomic_init_u64(&s->routes[r].latency[i], 0);
			pg_atomic_init_u64(&s->routes[r].latency_sum_us, 0);
			pg_atomic_init_u64(&s->routes[r].bytes_received, 0);
		}
		for (int i = 0; i < HTTP_NREASONS; i++)
			pg_atomic_init_u64(&s->errors[i], 0);
		pg_atomic_init_u64(&s->profiles_ingested, 0);
		pg_atomic_init_u64(&s->samples_ingested, 0);
		pg_atomic_init_u64(&s->series_written, 0);
		http_dispatch_shmem_init(&s->queue);
	}
	http_dispatch_areas_attach();
}

static int
status_slot(int status)
{
	for (int i = 0; i < HTTP_NSTATUS - 1; i++)
		if (status_codes[i] == status)
			return i;
	return HS_OTHER;
}

/* Count one finished request: status, latency, bytes, error reason. */
void
http_record_request(HttpRequest *req)
{
	HttpRouteStats *rs;
	instr_time	now;
	double		secs;
	int			b;

	if (pyroscope_http_shared == NULL)
		return;
	rs = &pyroscope_http_shared->routes[req->route->id];
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, req->started);
	secs = INSTR_TIME_GET_DOUBLE(now);
	for (b = 0; b < HTTP_LATENCY_BUCKETS; b++)
		if (secs <= latency_bounds[b])
			break;
	pg_atomic_fetch_add_u64(&rs->latency[b], 1);
	pg_atomic_fetch_add_u64(&rs->latency_sum_us, (uint64) (secs * 1e6));
	pg_atomic_fetch_add_u64(&rs->status[status_slot(req->status)], 1);
	pg_atomic_fetch_add_u64(&rs->bytes_received, req->bytes_received);
	if (req->error_code)
	{
		int			r = ER_UNKNOWN;

		for (int i = 0; i < HTTP_NREASONS; i++)
			if (strcmp(reason_names[i], req->error_code) == 0)
				r = i;
		pg_atomic_fetch_add_u64(&pyroscope_http_shared->errors[r], 1);
	}
	pyroscope_http_worker_count(req->status >= 400);
}

void
http_record_ingest(uint64 profiles, uint64 samples, uint64 series)
{
	if (pyroscope_http_shared == NULL)
		return;
	pg_atomic_fetch_add_u64(&pyroscope_http_shared->profiles_ingested, profiles);
	pg_atomic_fetch_add_u64(&pyroscope_http_shared->samples_ingested, samples);
	pg_atomic_fetch_add_u64(&pyroscope_http_shared->series_written, series);
}

/* The discard reason of an upload that failed with sqlerrcode. */
PyroDiscardReason
http_discard_reason(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_DATETIME_VALUE_OUT_OF_RANGE)
		return PYRO_DISCARD_WINDOW;
	if (sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||
		sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
		return PYRO_DISCARD_DENIED;
	if (sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
		sqlerrcode == ERRCODE_CONFIGURATION_LIMIT_EXCEEDED)
		return PYRO_DISCARD_LIMIT;
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		sqlerrcode == ERRCODE_DATA_CORRUPTED || sqlerrcode == ERRCODE_STATEMENT_TOO_COMPLEX)
		return PYRO_DISCARD_MALFORMED;
	return PYRO_DISCARD_OTHER;
}

/*
 * An upload of the tenant ("" when unknown) refused: profiles (a request
 * counts as one when its profiles were never counted), their samples where
 * known, and the bytes of its body.
 */
void
http_record_discard(const char *tenant, PyroDiscardReason reason, uint64 profiles,
					uint64 samples, uint64 bytes)
{
	pyroscope_record_discard(tenant ? tenant : "", reason, profiles, samples, bytes);
}

typedef struct DiscardLines
{
	StringInfo	b;
	int			k;				/* 0 profiles, 1 samples, 2 bytes */
} DiscardLines;

/* One pyroscope_discarded_*_total line (tenant quoted as Prometheus wants). */
static void
discard_line(void *arg, const char *tenant, PyroDiscardReason reason, const uint64 counts[3])
{
	DiscardLines *l = arg;
	static const char *const what[3] = {"profiles", "samples", "bytes"};

	appendStringInfo(l->b, "pyroscope_discarded_%s_total{reason=\"%s\",tenant=\"", what[l->k],
					 pyroscope_discard_names[reason]);
	for (const char *c = tenant; *c; c++)
	{
		if (*c == '\\' || *c == '"')
			appendStringInfoChar(l->b, '\\');
		appendStringInfoChar(l->b, *c);
	}
	appendStringInfo(l->b, "\"} " UINT64_FORMAT "\n", counts[l->k]);
}

/* GET /ready: 200 "ready" once the database and the extension are usable. */
void
http_handle_ready(HttpRequest *req)
{
	http_set_body(req, 200, "text/plain", "ready\n", 6);
}

/* GET /api/v1/status/buildinfo */
void
http_handle_buildinfo(HttpRequest *req)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfo(&b,
					 "{\"status\":\"success\",\"data\":{\"version\":\"%s\",\"revision\":\"\","
					 "\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
					 "\"goVersion\":\"PostgreSQL %s\"}}",
					 PYROSCOPE_VERSION, PG_VERSION);
	http_set_body(req, 200, "application/json", b.data, b.len);
}

/* Any Connect procedure we do not serve (spec §2.3: 501 + JSON). */
void
http_handle_unimplemented(HttpRequest *req)
{
	http_error(req, 501, "unimplemented", "%s is not implemented", req->url);
}

/* GET /metrics: Prometheus text exposition of the shared counters. */
void
http_handle_metrics(HttpRequest *req)
{
	HttpShared *s = pyroscope_http_shared;
	StringInfoData b;
	int			running = 0;

	initStringInfo(&b);
	if (s == NULL)
	{
		http_set_body(req, 200, "text/plain; version=0.0.4", "", 0);
		return;
	}

	appendStringInfoString(&b,
						   "# HELP pyroscope_http_requests_total HTTP requests answered, by route and status.\n"
						   "# TYPE pyroscope_http_requests_total counter\n");
	for (int r = 0; r < HTTP_NROUTES; r++)
		for (int i = 0; i < HTTP_NSTATUS; i++)
		{
			uint64		v = pg_atomic_read_u64(&s->routes[r].status[i]);

			if (v == 0)
				continue;
			if (i == HS_OTHER)
				appendStringInfo(&b, "pyroscope_http_requests_total{route=\"%s\",status=\"other\"} " UINT64_FORMAT "\n",
								 route_labels[r], v);
			else
				appendStringInfo(&b, "pyroscope_http_requests_total{route=\"%s\",status=\"%d\"} " UINT64_FORMAT "\n",
								 route_labels[r], status_codes[i], v);
		}

	appendStringInfoString(&b,
						   "# HELP pyroscope_http_request_duration_seconds Time to answer HTTP requests, by route.\n"
						   "# TYPE pyroscope_http_request_duration_seconds histogram\n");
	for (int r = 0; r < HTTP_NROUTES; r++)
	{
		uint64		cum = 0;
		uint64		counts[HTTP_LATENCY_BUCKETS + 1];
		uint64		total = 0;

		for (int i = 0; i <= HTTP_LATENCY_BUCKETS; i++)
			total += counts[i] = pg_atomic_read_u64(&s->routes[r].latency[i]);
		if (total == 0)
			continue;
		for (int i = 0; i < HTTP_LATENCY_BUCKETS; i++)
		{
			cum += counts[i];
			appendStringInfo(&b, "pyroscope_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} " UINT64_FORMAT "\n",
							 route_labels[r], latency_bounds[i], cum);
		}
		appendStringInfo(&b, "pyroscope_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} " UINT64_FORMAT "\n",
						 route_labels[r], total);
		appendStringInfo(&b, "pyroscope_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
						 route_labels[r], pg_atomic_read_u64(&s->routes[r].latency_sum_us) / 1e6);
		appendStringInfo(&b, "pyroscope_http_request_duration_seconds_count{route=\"%s\"} " UINT64_FORMAT "\n",
						 route_labels[r], total);
	}

	appendStringInfoString(&b,
						   "# HELP pyroscope_http_received_bytes_total Request body bytes received, by route.\n"
						   "# TYPE pyroscope_http_received_bytes_total counter\n");
	for (int r = 0; r < HTTP_NROUTES; r++)
	{
		uint64		v = pg_atomic_read_u64(&s->routes[r].bytes_received);

		if (v)
			appendStringInfo(&b, "pyroscope_http_received_bytes_total{route=\"%s\"} " UINT64_FORMAT "\n",
							 route_labels[r], v);
	}

	appendStringInfoString(&b,
						   "# HELP pyroscope_http_errors_total Error responses, by Connect error code.\n"
						   "# TYPE pyroscope_http_errors_total counter\n");
	for (int i = 0; i < HTTP_NREASONS; i++)
		appendStringInfo(&b, "pyroscope_http_errors_total{reason=\"%s\"} " UINT64_FORMAT "\n",
						 reason_names[i], pg_atomic_read_u64(&s->errors[i]));

	appendStringInfo(&b,
					 "# HELP pyroscope_ingested_profiles_total Profiles (pprof documents or folded bodies) stored over HTTP.\n"
					 "# TYPE pyroscope_ingested_profiles_total counter\n"
					 "pyroscope_ingested_profiles_total " UINT64_FORMAT "\n"
					 "# HELP pyroscope_ingested_samples_total Samples stored over HTTP, after normalisation.\n"
					 "# TYPE pyroscope_ingested_samples_total counter\n"
					 "pyroscope_ingested_samples_total " UINT64_FORMAT "\n"
					 "# HELP pyroscope_ingested_series_profiles_total Single-series profiles written over HTTP.\n"
					 "# TYPE pyroscope_ingested_series_profiles_total counter\n"
					 "pyroscope_ingested_series_profiles_total " UINT64_FORMAT "\n",
					 pg_atomic_read_u64(&s->profiles_ingested),
					 pg_atomic_read_u64(&s->samples_ingested),
					 pg_atomic_read_u64(&s->series_written));

	{
		static const char *const what[3] = {"profiles", "samples", "bytes"};
		static const char *const help[3] = {
			"Uploads (pushes, /ingest, OTLP requests) refused, and OTLP profiles not stored, by tenant and reason.",
			"Samples of the refused profiles, where the refusal knew them (the ingestion window, OTLP profiles without a type), by tenant and reason.",
			"Request bytes of the refused uploads, by tenant and reason.",
		};
		DiscardLines lines;

		for (int k = 0; k < 3; k++)
		{
			appendStringInfo(&b, "# HELP pyroscope_discarded_%s_total %s\n"
							 "# TYPE pyroscope_discarded_%s_total counter\n",
							 what[k], help[k], what[k]);
			lines.b = &b;
			lines.k = k;
			pyroscope_discards_foreach(discard_line, &lines);
		}
	}

	for (int w = 0; w < HTTP_MAX_WORKERS; w++)
	{
		HttpWorkerStatus st;

		if (pyroscope_http_worker_get_status(w, &st) && st.pid != 0)
			running++;
	}
	appendStringInfo(&b,
					 "# HELP pyroscope_http_workers Running HTTP worker processes.\n"
					 "# TYPE pyroscope_http_workers gauge\n"
					 "pyroscope_http_workers %d\n", running);
	http_dispatch_metrics(&b);
	pyroscope_object_store_metrics(&b);
	http_set_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

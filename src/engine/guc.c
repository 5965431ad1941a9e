/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Every pyroscope.* setting, defined in one place.  The variables of
 *	  the object store live in src/objstore (which knows no engine); all
 *	  others live here and are declared in engine.h.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "objstore.h"

/* profiles */
int			pyroscope_max_profile_size = 16 * 1024 * 1024;
int			pyroscope_hash_partitions = 0;
int			pyroscope_merge_pushdown = MERGE_PUSHDOWN_AUTO;

static const struct config_enum_entry merge_pushdown_options[] = {
	{"auto", MERGE_PUSHDOWN_AUTO, false},
	{"on", MERGE_PUSHDOWN_ON, false},
	{"off", MERGE_PUSHDOWN_OFF, false},
	{"true", MERGE_PUSHDOWN_ON, true},
	{"false", MERGE_PUSHDOWN_OFF, true},
	{NULL, 0, false}
};
int			pyroscope_max_profile_samples = 1000000;
int			pyroscope_max_jfr_size = 64 * 1024 * 1024;
int			pyroscope_max_otlp_size = 64 * 1024 * 1024;
int			pyroscope_max_label_names = 30;
int			pyroscope_max_label_name_length = 1024;
int			pyroscope_max_label_value_length = 2048;
int			pyroscope_max_sessions_per_series = 0;
int			pyroscope_reject_older_than = 3600; /* s */
int			pyroscope_reject_newer_than = 600;	/* s */
int			pyroscope_head_cache_size = 64 * 1024;	/* kB */
int			pyroscope_query_memory_limit = 160 * 1024;	/* kB */
int			pyroscope_compaction_memory_limit = 160 * 1024; /* kB */

/* compaction and retention */
int			pyroscope_compact_after = 60;	/* s */
int			pyroscope_block_window = 60;	/* s */
int			pyroscope_retention = 30 * 86400;	/* s, 0 = keep forever */
int			pyroscope_compaction_test_delay = 0;	/* ms, tests only */
int			pyroscope_query_test_delay = 0; /* ms, tests only */
bool		pyroscope_compactor_enabled = true;
int			pyroscope_compaction_interval = 60; /* s */

/* offload */
int			pyroscope_offload_after = 86400;	/* s, 0 = never */
int			pyroscope_offload_interval = 300;	/* s */

/* the HTTP API and the database of every worker */
char	   *pyroscope_http_listen_address = NULL;
int			pyroscope_http_port = 4040;
int			pyroscope_http_workers = 2;
int			pyroscope_http_query_workers = 2;
int			pyroscope_http_query_queue = 32;
char	   *pyroscope_database = NULL;
int			pyroscope_http_max_body_size = 256 * 1024;	/* kB */
int			pyroscope_http_request_timeout = 60000; /* ms */
bool		pyroscope_multitenancy = false;
int			pyroscope_http_max_query_length = 86400;	/* s */
int			pyroscope_http_auth = HTTP_AUTH_NONE;
char	   *pyroscope_http_role = NULL;
bool		pyroscope_http_ops_auth = true;
char	   *pyroscope_http_tls_cert_file = NULL;
char	   *pyroscope_http_tls_key_file = NULL;
double		pyroscope_ingestion_rate_mb = 0;
double		pyroscope_ingestion_burst_size_mb = 2;
int			pyroscope_max_series_per_tenant = 5000;
int			pyroscope_max_flamegraph_nodes_max = 1048576;
int			pyroscope_max_query_concurrency = 0;
int			pyroscope_http_max_connections = 1000;
int			pyroscope_http_max_connections_per_ip = 256;
int			pyroscope_http_idle_timeout = 60;
int			pyroscope_http_header_timeout = 10;

static const struct config_enum_entry auth_options[] = {
	{"none", HTTP_AUTH_NONE, false},
	{"basic", HTTP_AUTH_BASIC, false},
	{"bearer", HTTP_AUTH_BEARER, false},
	{NULL, 0, false}
};

/* a level-0 block window must divide a day */
static bool
check_block_window(int *newval, void **extra, GucSource source)
{
	if (86400 % *newval != 0)
	{
		GUC_check_errdetail("pyroscope.block_window must divide one day (86400 s) evenly.");
		return false;
	}
	return true;
}

static bool
check_url_style(char **newval, void **extra, GucSource source)
{
	return strcmp(*newval, "path") == 0 || strcmp(*newval, "virtual") == 0;
}

/*
 * What SHOW, current_setting() and pg_settings say of the S3 secret:
 * whether one is set, never the secret.  GUC_SUPERUSER_ONLY alone would
 * still show it to pg_read_all_settings (pg_monitor) members; the object
 * store reads the variable itself.
 */
static const char *
show_secret(void)
{
	return pyroscope_s3_secret_key && pyroscope_s3_secret_key[0] ? "********" : "";
}

/*
 * Define every setting.  Called once from _PG_init.  The settings of the
 * HTTP API (and pyroscope.database, the database of every worker) are
 * postmaster-level: they are defined only while the library is preloaded.
 * Object store credentials and locations are superuser-only; the secret
 * is hidden from SHOW ALL and from non-superusers.
 */
void
pyroscope_define_gucs(void)
{

	/* Profiles: ingest limits, queries, the head cache */
	DefineCustomEnumVariable("pyroscope.merge_pushdown",
							 "Whether flame graphs are merged by SQL aggregates where the rows are.",
							 "auto: when the tables are distributed with Citus, whose workers then merge their shards' profiles and send merged ones; on: always (on one node: the same answers, more decoding); off: rows are read and merged here.",
							 &pyroscope_merge_pushdown,
							 MERGE_PUSHDOWN_AUTO, merge_pushdown_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.hash_partitions",
							"Hash partitions of the big tables, by shard_key, when the extension creates them.",
							"Read by CREATE EXTENSION (and the update to 1.7): 0 makes plain tables; N > 0 partitions series, head, head_pprof, blocks and object_deletions into N partitions each.  Changing it later changes nothing.",
							&pyroscope_hash_partitions,
							0, 0, 1024,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_profile_size",
							"Largest accepted profile, after decompression.",
							NULL,
							&pyroscope_max_profile_size,
							16 * 1024 * 1024, 1024, MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_jfr_size",
							"Largest accepted JFR recording, after decompression.",
							"Recordings are larger than the profiles made of them; each profile made of one still obeys pyroscope.max_profile_size.",
							&pyroscope_max_jfr_size,
							64 * 1024 * 1024, 1024, MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_otlp_size",
							"Largest accepted OTLP profiles request, after decompression.",
							"Each profile made of one still obeys pyroscope.max_profile_size.",
							&pyroscope_max_otlp_size,
							64 * 1024 * 1024, 1024, MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_profile_samples",
							"Largest number of samples accepted in one profile.",
							NULL,
							&pyroscope_max_profile_samples,
							1000000, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_label_names",
							"Largest number of labels of one series, before the server adds its own.",
							NULL,
							&pyroscope_max_label_names,
							30, 1, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_label_name_length",
							"Longest accepted label name, in bytes.",
							NULL,
							&pyroscope_max_label_name_length,
							1024, 1, 65535,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_label_value_length",
							"Longest accepted label value, in bytes.",
							NULL,
							&pyroscope_max_label_value_length,
							2048, 1, 65535,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.reject_older_than",
							"Profiles timestamped this long before now or earlier are refused.",
							"The ingestion window of every ingest path (upstream's default, 1h); 0 accepts any age, e.g. SET for a backfill from SQL.",
							&pyroscope_reject_older_than,
							3600, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.reject_newer_than",
							"Profiles timestamped this long after now or later are refused.",
							"The ingestion window of every ingest path (upstream's default, 10min); 0 accepts any future time.",
							&pyroscope_reject_newer_than,
							600, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.max_sessions_per_series",
							"Variants of a series by the Go SDK's __session_id__ label.",
							"0 (upstream's default) deletes the label, so that process restarts do not multiply series; N keeps the session id modulo N.",
							&pyroscope_max_sessions_per_series,
							0, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.query_memory_limit",
							"Most memory one query may use for profiles, trees and merges.",
							"Past it the query fails with an error instead of exhausting memory; the backend's head cache counts in it; 0 means no limit.",
							&pyroscope_query_memory_limit,
							160 * 1024, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.compaction_memory_limit",
							"Most memory one compaction unit may use for the block it builds.",
							"A unit past it fails with an error recorded in pyroscope.job_runs and is retried at the next run; 0 means no limit.",
							&pyroscope_compaction_memory_limit,
							160 * 1024, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.head_cache_size",
							"Memory each backend may keep of normalised head pprofs, for the next queries.",
							"Queries over the head tier normalise the pprofs stored as sent; this many kB of the "
							"results are kept per backend (the query workers' repeated queries gain most), within pyroscope.query_memory_limit; 0 keeps none.",
							&pyroscope_head_cache_size,
							64 * 1024, 0, INT_MAX / 1024,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* Compaction and retention */
	DefineCustomIntVariable("pyroscope.compact_after",
							"Age after which head profiles are compacted into blocks.",
							NULL,
							&pyroscope_compact_after,
							60, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.block_window",
							"Time window of a level-0 block; must divide one day.",
							"Level 1 blocks cover one hour and level 2 blocks one day; the level-0 blocks of the hour still "
							"filling are merged into one every few windows, so the newest hour is read from a few blocks.",
							&pyroscope_block_window,
							60, 60, 86400,
							PGC_SUSET, GUC_UNIT_S,
							check_block_window, NULL, NULL);
	DefineCustomIntVariable("pyroscope.retention",
							"Age after which blocks and head profiles are deleted; 0 keeps data forever.",
							"pyroscope.tenant_retention overrides it per tenant.",
							&pyroscope_retention,
							30 * 86400, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.compaction_test_delay",
							"Testing only: pause after each compaction unit's writes, before its commit.",
							"Lets crash tests kill the compactor in the middle of a unit; leave at 0.",
							&pyroscope_compaction_test_delay,
							0, 0, 600000,
							PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pyroscope.query_test_delay",
							"Testing only: pause at the start of every HTTP query.",
							"Lets tests hold a query worker busy; leave at 0.",
							&pyroscope_query_test_delay,
							0, 0, 600000,
							PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	/* The compactor worker */
	DefineCustomBoolVariable("pyroscope.compactor",
							 "Run the compactor worker (compaction and retention).",
							 "Takes effect on reload; pyroscope.compact() works either way.",
							 &pyroscope_compactor_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.compaction_interval",
							"Time between two runs of the compactor worker.",
							NULL,
							&pyroscope_compaction_interval,
							60, 1, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	/* Object storage (src/objstore reads these) */
	DefineCustomStringVariable("pyroscope.object_store_url",
							   "Where offloaded blocks go: a directory (file:///dir or /dir) or s3://bucket[/prefix].",
							   "Empty means the directory pyroscope_objects in the data directory.",
							   &pyroscope_objstore_url, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pyroscope.s3_endpoint",
							   "S3 endpoint URL, e.g. http://127.0.0.1:9000; empty means AWS (https://s3.REGION.amazonaws.com).",
							   NULL, &pyroscope_s3_endpoint, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pyroscope.s3_region", "S3 region used in request signatures.",
							   NULL, &pyroscope_s3_region, "us-east-1",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pyroscope.s3_access_key", "S3 access key id.",
							   NULL, &pyroscope_s3_access_key, "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("pyroscope.s3_secret_key", "S3 secret access key.",
							   NULL, &pyroscope_s3_secret_key, "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, show_secret);
	DefineCustomStringVariable("pyroscope.s3_url_style",
							   "S3 addressing: path (endpoint/bucket/key) or virtual (bucket.endpoint/key).",
							   NULL, &pyroscope_s3_url_style, "path",
							   PGC_SUSET, 0, check_url_style, NULL, NULL);
	DefineCustomIntVariable("pyroscope.s3_multipart_threshold",
							"Objects at least this large are uploaded to S3 in parts.",
							NULL, &pyroscope_s3_multipart_threshold,
							64 * 1024, 5 * 1024, INT_MAX / 1024,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.s3_part_size",
							"Size of the parts of a multipart upload (S3's minimum is 5MB).",
							NULL, &pyroscope_s3_part_size,
							16 * 1024, 5 * 1024, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.object_store_timeout",
							"Longest time one object store request may take (also bounded by statement_timeout).",
							NULL, &pyroscope_objstore_timeout,
							30000, 100, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.object_store_connect_timeout",
							"Longest time to connect to the object store.",
							NULL, &pyroscope_objstore_connect_timeout,
							5000, 100, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.object_store_retries",
							"Retries (with exponential backoff) of an object store request failing with a 5xx status or a timeout.",
							NULL, &pyroscope_objstore_retries,
							3, 0, 10,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.offload_test_delay",
							"TESTS ONLY: sleep this long at the point named by pyroscope.offload_test_pause.",
							NULL, &pyroscope_offload_test_delay,
							0, 0, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomStringVariable("pyroscope.offload_test_pause",
							   "TESTS ONLY: where to sleep: upload (half-way through writing an object), commit (after verifying, before the row switch commits) or read (before reading an object).",
							   NULL, &pyroscope_offload_test_pause, "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	/* The local cache of cold block ranges */
	DefineCustomStringVariable("pyroscope.cache_dir",
							   "Directory of the local cache of block ranges read from the object store.",
							   "Empty means pyroscope_cache in the data directory.",
							   &pyroscope_cache_dir, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.cache_size",
							"Size limit of the local cache of block ranges; 0 disables it.",
							NULL, &pyroscope_cache_size,
							1024 * 1024, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);

	/* The offloader worker */
	DefineCustomIntVariable("pyroscope.offload_after",
							"Age (newest profile) after which blocks move to the object store; 0 never offloads.",
							NULL, &pyroscope_offload_after,
							86400, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pyroscope.offload_interval",
							"Time between two passes of the offload worker.",
							NULL, &pyroscope_offload_interval,
							300, 1, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	/* The HTTP API and the workers' database: only when preloading */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("pyroscope.http_listen_address",
								   "Address the HTTP API listens on.",
								   "An IPv4 or IPv6 address or a host name; an empty string disables the HTTP API.",
								   &pyroscope_http_listen_address,
								   "127.0.0.1",
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_port",
								"TCP port of the HTTP API.",
								NULL,
								&pyroscope_http_port,
								4040, 1, 65535,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_workers",
								"Number of HTTP API worker processes sharing the port.",
								NULL,
								&pyroscope_http_workers,
								2, 0, HTTP_MAX_WORKERS,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_query_workers",
								"Number of worker processes that run the HTTP API's queries.",
								"The HTTP workers hand every query (querier calls, render, label values) to these and keep "
								"serving pushes meanwhile; 0 runs queries in the HTTP workers themselves.",
								&pyroscope_http_query_workers,
								2, 0, HTTP_MAX_WORKERS / 2,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_query_queue",
								"Most HTTP queries waiting for or running in a query worker at once.",
								"Past it a query is answered 429 resource_exhausted with Retry-After.",
								&pyroscope_http_query_queue,
								32, 1, HTTP_MAX_QUERY_SLOTS,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomStringVariable("pyroscope.database",
								   "Database the HTTP API workers connect to.",
								   "The pyroscope extension must be installed in it.",
								   &pyroscope_database,
								   "postgres",
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_max_body_size",
								"Largest accepted HTTP request body, before decompression.",
								"Larger bodies are answered 413 on /ingest and resource_exhausted on Connect calls (upstream's ingestion_body_limit, 256 MB).",
								&pyroscope_http_max_body_size,
								256 * 1024, 1, INT_MAX / 1024,
								PGC_SIGHUP, GUC_UNIT_KB,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_request_timeout",
								"Longest time one HTTP request may run; 0 disables the limit.",
								"A Connect-Timeout-Ms header may shorten it for one call.",
								&pyroscope_http_request_timeout,
								60000, 0, INT_MAX,
								PGC_SIGHUP, GUC_UNIT_MS,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_max_query_length",
								"Longest time range of one HTTP query; 0 disables the limit.",
								"Longer ranges are answered invalid_argument, as upstream's max_query_length (1 day).",
								&pyroscope_http_max_query_length,
								86400, 0, INT_MAX,
								PGC_SIGHUP, GUC_UNIT_S,
								NULL, NULL, NULL);
		DefineCustomBoolVariable("pyroscope.multitenancy",
								 "Take the tenant of each HTTP request from X-Scope-OrgID.",
								 "When off every request runs as tenant \"anonymous\" and X-Scope-OrgID is ignored; when on the header is required.",
								 &pyroscope_multitenancy,
								 false,
								 PGC_SIGHUP, 0,
								 NULL, NULL, NULL);
		DefineCustomEnumVariable("pyroscope.auth",
								 "Authentication of HTTP API requests: none, basic or bearer.",
								 "Credentials are kept in pyroscope.http_credentials.",
								 &pyroscope_http_auth,
								 HTTP_AUTH_NONE, auth_options,
								 PGC_SIGHUP, 0,
								 NULL, NULL, NULL);
		DefineCustomStringVariable("pyroscope.http_role",
								   "Role that HTTP requests without credentials run as.",
								   "With pyroscope.auth none every request runs as this role; its grants in pyroscope.tenant_grants and row-level security decide what it reads and writes.",
								   &pyroscope_http_role,
								   "pyroscope_http",
								   PGC_SIGHUP, 0,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("pyroscope.http_tls_cert_file",
								   "PEM certificate (chain) of the HTTP API; with pyroscope.http_tls_key_file it serves HTTPS only.",
								   "Relative paths are under the data directory. Empty (the default): plain HTTP. A reload that changes the files takes effect for new connections; switching TLS on or off needs a restart.",
								   &pyroscope_http_tls_cert_file,
								   "",
								   PGC_SIGHUP, 0,
								   NULL, NULL, NULL);
		DefineCustomStringVariable("pyroscope.http_tls_key_file",
								   "PEM private key of pyroscope.http_tls_cert_file.",
								   "Relative paths are under the data directory; keep it readable by the server's user only.",
								   &pyroscope_http_tls_key_file,
								   "",
								   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomRealVariable("pyroscope.ingestion_rate_mb",
								 "Ingestion rate of each tenant in MiB/s (upstream's ingestion_rate_mb); 0 disables the limit.",
								 "Measured on the uncompressed profile bytes of each upload, as upstream; past it uploads are refused (HTTP 429 with Retry-After). pyroscope.tenant_limits overrides it per tenant.",
								 &pyroscope_ingestion_rate_mb,
								 0, 0, 1e6,
								 PGC_SIGHUP, 0,
								 NULL, NULL, NULL);
		DefineCustomRealVariable("pyroscope.ingestion_burst_size_mb",
								 "Burst of each tenant's ingestion rate in MiB (upstream's ingestion_burst_size_mb).",
								 "An upload larger than the burst is always refused while the rate is limited.",
								 &pyroscope_ingestion_burst_size_mb,
								 2, 0.001, 1e6,
								 PGC_SIGHUP, 0,
								 NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.max_series_per_tenant",
								"Most series of one tenant (upstream's max_global_series_per_tenant); 0 disables the limit.",
								"An upload that would create more is refused whole (HTTP 429, reason series_limit). pyroscope.tenant_limits overrides it per tenant.",
								&pyroscope_max_series_per_tenant,
								5000, 0, INT_MAX,
								PGC_SIGHUP, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.max_flamegraph_nodes_max",
								"Largest max_nodes an HTTP query may ask for (upstream's max_flamegraph_nodes_max).",
								"Larger values are answered invalid_argument. pyroscope.tenant_limits overrides it per tenant.",
								&pyroscope_max_flamegraph_nodes_max,
								1048576, 1, INT_MAX,
								PGC_SIGHUP, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.max_query_concurrency",
								"Most HTTP queries one tenant may run at once; 0 disables the limit.",
								"Past it queries are answered 429 / resource_exhausted with Retry-After. pyroscope.tenant_limits overrides it per tenant.",
								&pyroscope_max_query_concurrency,
								0, 0, INT_MAX,
								PGC_SIGHUP, 0,
								NULL, NULL, NULL);
		DefineCustomBoolVariable("pyroscope.http_metrics_auth",
								 "With pyroscope.auth basic or bearer, /metrics and the build info need credentials too.",
								 "Any valid credential will do; /ready stays open for health checks.",
								 &pyroscope_http_ops_auth,
								 true,
								 PGC_SIGHUP, 0,
								 NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_max_connections",
								"Most open connections of one HTTP worker.",
								"Lowered to what the worker's file-descriptor limit leaves; connections past it are closed at once.",
								&pyroscope_http_max_connections,
								1000, 16, 1000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_max_connections_per_ip",
								"Most open connections of one HTTP worker from one client address; 0 disables the limit.",
								"Connections past it are closed at once, so that one client cannot take every connection.",
								&pyroscope_http_max_connections_per_ip,
								256, 0, 1000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_idle_timeout",
								"Longest time an HTTP connection may stay silent (no request, or a request not sent on).",
								NULL,
								&pyroscope_http_idle_timeout,
								60, 1, 86400,
								PGC_POSTMASTER, GUC_UNIT_S,
								NULL, NULL, NULL);
		DefineCustomIntVariable("pyroscope.http_header_timeout",
								"Longest time a new HTTP connection may take to send its first request's headers.",
								"A connection that has not sent them by then is closed, however slowly it keeps sending.",
								&pyroscope_http_header_timeout,
								10, 1, 3600,
								PGC_SIGHUP, GUC_UNIT_S,
								NULL, NULL, NULL);
	}

	MarkGUCPrefixReserved("pyroscope");
}

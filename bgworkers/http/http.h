/*-------------------------------------------------------------------------
 *
 * http.h
 *	  The HTTP API background workers: the Pyroscope push, query, legacy
 *	  and operational endpoints (spec §1), served by libmicrohttpd in
 *	  external-event mode inside each worker process.
 *
 * One request is one HttpRequest, living in its own memory context from
 * the first header to the end of the response.  Handlers run inside
 * http_process(), which gives each request its own transaction and turns
 * any ereport(ERROR) into an HTTP status and a Connect error body, so that
 * no error ever unwinds through libmicrohttpd.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYROSCOPE_HTTP_H
#define PYROSCOPE_HTTP_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "lib/ilist.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include <protobuf-c/protobuf-c.h>

#include "common.h"
#include "pbc_alloc.h"
#include "engine.h"

struct MHD_Connection;
struct MHD_Daemon;

/* protobuf-c wants a non-const allocator */
#define HTTP_PBC_ALLOC ((ProtobufCAllocator *) pyro_protobuf_allocator())

#define HTTP_GZIP_MIN_SIZE		1400	/* responses below this stay plain */
#define HTTP_DEFAULT_TENANT		"anonymous"
#define HTTP_MAX_TENANT_LENGTH	150

/* -------- routes -------- */

typedef enum HttpRouteId
{
	ROUTE_NOT_FOUND = 0,
	ROUTE_UNIMPLEMENTED,
	ROUTE_READY,
	ROUTE_METRICS,
	ROUTE_BUILDINFO,
	ROUTE_INGEST,
	ROUTE_PUSH,
	ROUTE_OTLP,
	ROUTE_PROFILE_TYPES,
	ROUTE_LABEL_NAMES,
	ROUTE_LABEL_VALUES,
	ROUTE_SERIES,
	ROUTE_SELECT_MERGE_STACKTRACES,
	ROUTE_SELECT_MERGE_SPAN_PROFILE,
	ROUTE_SELECT_MERGE_PROFILE,
	ROUTE_SELECT_SERIES,
	ROUTE_SELECT_HEATMAP,
	ROUTE_DIFF,
	ROUTE_GET_PROFILE_STATS,
	ROUTE_ANALYZE_QUERY,
	ROUTE_SETTINGS_GET,
	ROUTE_SETTINGS_SET,
	ROUTE_SETTINGS_DELETE,
	ROUTE_FEATURE_FLAGS,
	ROUTE_VERSION,
	ROUTE_RENDER,
	ROUTE_RENDER_DIFF,
	ROUTE_LEGACY_LABEL_VALUES,
	ROUTE_UI,
	HTTP_NROUTES
} HttpRouteId;

typedef enum HttpRouteKind
{
	HTTP_KIND_OPS,				/* GET, no tenant, no auth */
	HTTP_KIND_CONNECT,			/* POST Connect unary */
	HTTP_KIND_LEGACY_GET,		/* GET legacy JSON */
	HTTP_KIND_LEGACY_POST		/* POST /ingest */
} HttpRouteKind;

struct HttpRequest;
typedef void (*HttpHandler) (struct HttpRequest *req);

typedef struct HttpRoute
{
	const char *path;
	HttpRouteId id;
	HttpRouteKind kind;
	const char *label;			/* metric label */
	HttpHandler handler;
	bool		needs_db;		/* run inside a transaction */
	bool		query;			/* run by a query worker (http_dispatch.c) */
} HttpRoute;

/* -------- requests -------- */

#define HTTP_MAX_EXTRA_HEADERS 8

typedef struct HttpRequest
{
	MemoryContext cxt;			/* everything of the request lives here */
	struct MHD_Connection *conn;
	char	   *method;
	char	   *url;
	const HttpRoute *route;
	instr_time	started;

	/* body as received (Content-Length or chunked) */
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	bool		body_too_large;
	bool		body_oom;
	uint64		bytes_received;

	/* request state filled by the Connect layer and auth */
	bool		json;			/* Connect codec is JSON */
	bool		accept_gzip;
	int			timeout_ms;		/* effective deadline, 0 = none */
	const char *tenant;
	const char *role;			/* the role the request runs as */
	PyroTenantLimits limits;	/* the tenant's (valid once tenant is set) */

	/* response */
	bool		responded;		/* queued already */
	int			status;
	int			bad_input_status;	/* answers bad input (400) with this
									 * status and code "unknown" instead, e.g.
									 * 422 for a JFR upload; 0 = 400 */
	const char *content_type;
	char	   *resp;
	size_t		resp_len;
	const char *error_code;		/* Connect code of an error response */
	const char *hdr_name[HTTP_MAX_EXTRA_HEADERS];
	const char *hdr_value[HTTP_MAX_EXTRA_HEADERS];
	int			nhdr;
	bool		gzipped;		/* http_maybe_gzip has run */

	/*
	 * a request without a connection (in a query worker): its headers and
	 * arguments
	 */
	int			nheaders;
	int			nargs;
	const char **kv_name;		/* headers first, then arguments */
	const char **kv_value;		/* NULL: an argument without '=' */

	/* a push committed asynchronously, answered after the group's WAL flush */
	XLogRecPtr	commit_lsn;
	bool		flush_wait;
	bool		flushed;
	dlist_node	flush_node;

	/* a query handed to a query worker (http_dispatch.c) */
	struct HttpDispatch *dispatch;
} HttpRequest;

/* -------- shared state (http_ops.c) -------- */

#define HTTP_LATENCY_BUCKETS 12

typedef enum HttpStatusSlot
{
	HS_200, HS_400, HS_401, HS_403, HS_404, HS_405, HS_408, HS_409, HS_413,
	HS_415, HS_422, HS_429, HS_500, HS_501, HS_503, HS_504, HS_OTHER,
	HTTP_NSTATUS
} HttpStatusSlot;

typedef enum HttpErrorReason
{
	ER_INVALID_ARGUMENT, ER_UNAUTHENTICATED, ER_PERMISSION_DENIED,
	ER_NOT_FOUND, ER_ALREADY_EXISTS, ER_RESOURCE_EXHAUSTED, ER_UNIMPLEMENTED,
	ER_DEADLINE_EXCEEDED, ER_UNAVAILABLE, ER_INTERNAL, ER_UNKNOWN,
	HTTP_NREASONS
} HttpErrorReason;

typedef struct HttpRouteStats
{
	pg_atomic_uint64 status[HTTP_NSTATUS];
	pg_atomic_uint64 latency[HTTP_LATENCY_BUCKETS + 1]; /* last = +Inf */
	pg_atomic_uint64 latency_sum_us;
	pg_atomic_uint64 bytes_received;
} HttpRouteStats;

/*
 * The queue of HTTP queries handed to the query workers (http_dispatch.c):
 * a slot per queued or running query, protected by mutex.
 */
typedef enum HttpQuerySlotState
{
	QS_FREE = 0,
	QS_FILLING,					/* taken, its request being written */
	QS_QUEUED,
	QS_RUNNING
} HttpQuerySlotState;

typedef struct HttpQuerySlot
{
	HttpQuerySlotState state;
	uint64		gen;			/* new every time the slot is taken */
	uint64		seq;			/* queue order */
	bool		in_dsm;			/* the request is in a segment of its own */
	uint32		handle;			/* dsm_handle of that segment */
	bool		cancel;			/* the HTTP worker gave up on it */
	bool		receiver_done;	/* the HTTP worker let go of it */
	bool		sender_done;	/* the query worker let go of it */
	int			executor_pid;	/* query worker running it */
	TimestampTz queued_at;
} HttpQuerySlot;

typedef struct HttpQueryQueue
{
	slock_t		mutex;
	uint64		next_gen;
	uint64		next_seq;
	struct Latch *executor_latch[HTTP_MAX_WORKERS]; /* NULL: not running */
	bool		executor_busy[HTTP_MAX_WORKERS];	/* running a query */
	HttpQuerySlot slots[HTTP_MAX_QUERY_SLOTS];
	pg_atomic_uint64 dispatched;
	pg_atomic_uint64 rejected;	/* queue full: 429 */
	pg_atomic_uint64 cancelled; /* client closed the connection */
	pg_atomic_uint64 timed_out; /* deadline passed: 504 */
	pg_atomic_uint64 queue_wait_us; /* summed time from queued to running */
} HttpQueryQueue;


typedef struct HttpShared
{
	HttpQueryQueue queue;
	HttpRouteStats routes[HTTP_NROUTES];
	pg_atomic_uint64 errors[HTTP_NREASONS];
	pg_atomic_uint64 profiles_ingested;
	pg_atomic_uint64 samples_ingested;
	pg_atomic_uint64 series_written;
} HttpShared;

extern HttpShared *pyroscope_http_shared;

/* -------- http_worker.c -------- */
extern int	pyroscope_http_planned_workers(void);
extern void pyroscope_http_register_workers(void);
extern PGDLLEXPORT void pyroscope_http_worker_main(Datum arg);
extern int	http_worker_index;

/* -------- http_server.c -------- */
extern struct MHD_Daemon *http_server_start(MemoryContext daemon_cxt);

/* -------- http_tls.c -------- */
extern bool http_tls_enabled(void);
extern unsigned int http_tls_setup(void);
extern const char *http_tls_priorities(void);
extern void *http_tls_callback(void);
extern void http_tls_reload(void);
extern void http_process(HttpRequest *req);
extern bool http_flush_commits(void);
extern long http_close_slow_connections(void);
extern const HttpRoute *http_route_at(int index);
extern int	http_route_index(const HttpRoute *route);
extern const char *http_header(HttpRequest *req, const char *name);
extern const char *http_query_arg(HttpRequest *req, const char *name);
extern void http_set_body(HttpRequest *req, int status, const char *content_type,
						  const void *data, size_t len);
extern void http_add_header(HttpRequest *req, const char *name, const char *value);
extern void http_error(HttpRequest *req, int status, const char *code,
					   const char *fmt,...) pg_attribute_printf(4, 5);

/* -------- http_dispatch.c -------- */
extern PGDLLEXPORT void pyroscope_http_query_worker_main(Datum arg);
extern bool http_dispatch_wanted(HttpRequest *req);
extern bool http_dispatch(HttpRequest *req);
extern bool http_dispatch_ready(HttpRequest *req);
extern bool http_dispatch_abandoned(HttpRequest *req);
extern long http_dispatch_poll(bool *resumed);
extern void http_dispatch_release(HttpRequest *req);
extern Size http_dispatch_shmem_size(void);
extern void http_dispatch_shmem_init(HttpQueryQueue *q);
extern void http_dispatch_areas_attach(void);
extern void http_dispatch_metrics(StringInfo b);

/* -------- http_connect.c -------- */
extern bool http_connect_begin(HttpRequest *req);
extern ProtobufCMessage *http_connect_decode(HttpRequest *req,
											 const ProtobufCMessageDescriptor *d);
extern void http_connect_reply(HttpRequest *req, const ProtobufCMessage *m);
extern void http_connect_reply_packed(HttpRequest *req,
									  const ProtobufCMessageDescriptor *d,
									  const uint8_t *data, size_t len);
extern void http_maybe_gzip(HttpRequest *req);

/* -------- http_ops.c -------- */
extern Size http_shmem_size(void);
extern void http_shmem_init(void);
extern void http_handle_ready(HttpRequest *req);
extern void http_handle_metrics(HttpRequest *req);
extern void http_handle_buildinfo(HttpRequest *req);
extern void http_handle_unimplemented(HttpRequest *req);

/* http_ui.c */
extern void http_handle_ui(HttpRequest *req);
extern void http_record_request(HttpRequest *req);
extern void http_record_ingest(uint64 profiles, uint64 samples, uint64 series);
extern const PyroTenantLimits *http_limits;
extern void http_record_discard(const char *tenant, PyroDiscardReason reason, uint64 profiles,
								uint64 samples, uint64 bytes);
extern PyroDiscardReason http_discard_reason(int sqlerrcode);

/* -------- http_push.c -------- */
extern void http_handle_push(HttpRequest *req);
extern void http_handle_ingest(HttpRequest *req);
extern void http_handle_otlp(HttpRequest *req);

/* -------- http_query.c -------- */
extern void http_handle_profile_types(HttpRequest *req);
extern void http_handle_label_names(HttpRequest *req);
extern void http_handle_label_values(HttpRequest *req);
extern void http_handle_series(HttpRequest *req);
extern void http_handle_select_merge_stacktraces(HttpRequest *req);
extern void http_handle_select_merge_span_profile(HttpRequest *req);
extern void http_handle_select_merge_profile(HttpRequest *req);
extern void http_handle_select_series(HttpRequest *req);
extern void http_handle_select_heatmap(HttpRequest *req);
extern void http_handle_diff(HttpRequest *req);
extern void http_handle_get_profile_stats(HttpRequest *req);
extern void http_handle_analyze_query(HttpRequest *req);
extern void http_handle_feature_flags(HttpRequest *req);
extern void http_handle_version(HttpRequest *req);
struct Types__V1__StackTraceSelector;
extern char *http_check_profile_type(const char *id);
extern int64 http_max_nodes(bool set, int64 v);
extern void http_selection(HttpRequest *req, ProfileSelection *sel, const char *profile_type,
						   const char *selector, int64 start, int64 end);
extern PyroTree *http_selection_tree(const ProfileSelection *sel, char **spans, size_t nspans,
									 const struct Types__V1__StackTraceSelector *sts);

/* -------- http_legacy.c -------- */
extern void http_handle_render(HttpRequest *req);
extern void http_handle_render_diff(HttpRequest *req);
extern void http_handle_legacy_label_values(HttpRequest *req);

/* -------- http_settings.c -------- */
extern void http_handle_settings_get(HttpRequest *req);
extern void http_handle_settings_set(HttpRequest *req);
extern void http_handle_settings_delete(HttpRequest *req);

#endif							/* PYROSCOPE_HTTP_H */

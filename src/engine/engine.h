/*-------------------------------------------------------------------------
 *
 * engine.h
 *	  The engine of the pyroscope extension: the only code that knows the
 *	  tables, runs SPI and turns core errors into ereports with SQLSTATEs.
 *	  Its front doors (SQL functions in src/sql, the HTTP API in
 *	  bgworkers/http, the worker loops in bgworkers) call what is declared
 *	  here and nothing below it but the pure-C core.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_ENGINE_H
#define PYRO_ENGINE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "block.h"
#include "common.h"
#include "profile.h"
#include "stack_select.h"
#include "tree.h"

/* time: Unix milliseconds to timestamptz and back (time.c) */
/* shard.c: the distribution key of (tenant, service_name) */
extern int32 pyroscope_shard_key(const char *tenant, const char *service_name);
extern void pyroscope_drop_distributed_shards(void);

extern TimestampTz pyroscope_ms_to_timestamptz(int64 ms);
extern bool pyroscope_ms_to_timestamptz_exact(int64 ms, TimestampTz *out);
extern TimestampTz pyroscope_block_time(int64 ms);
extern int64 pyroscope_timestamptz_to_ms(TimestampTz ts);
extern int64 pyroscope_timestamptz_to_ms_ceil(TimestampTz ts);

/* settings (guc.c: every pyroscope.* GUC; the object store's are its own) */
extern void pyroscope_define_gucs(void);

/* pyroscope.merge_pushdown: merge flame graphs by SQL where the rows are */
typedef enum MergePushdown
{
	MERGE_PUSHDOWN_AUTO,		/* when the tables are distributed (Citus) */
	MERGE_PUSHDOWN_ON,
	MERGE_PUSHDOWN_OFF
} MergePushdown;
extern int	pyroscope_merge_pushdown;
extern int	pyroscope_hash_partitions;
extern int	pyroscope_max_profile_size; /* bytes, decompressed */
extern int	pyroscope_max_jfr_size; /* bytes, decompressed */
extern int	pyroscope_max_otlp_size;	/* bytes, decompressed */
extern int	pyroscope_max_profile_samples;
extern int	pyroscope_max_label_names;
extern int	pyroscope_max_label_name_length;
extern int	pyroscope_max_label_value_length;
extern int	pyroscope_max_sessions_per_series;
extern int	pyroscope_reject_older_than;	/* s, 0 = off */
extern int	pyroscope_reject_newer_than;	/* s, 0 = off */
extern bool pyroscope_compactor_enabled;
extern int	pyroscope_compaction_interval;	/* s */
extern int	pyroscope_offload_after;	/* s, 0 = never offload */
extern int	pyroscope_offload_interval; /* s */

/* the HTTP API, and the database every worker serves */
typedef enum HttpAuthMode
{
	HTTP_AUTH_NONE,
	HTTP_AUTH_BASIC,
	HTTP_AUTH_BEARER
} HttpAuthMode;

#define HTTP_MAX_WORKERS		64	/* HTTP and query workers together */
#define HTTP_MAX_QUERY_SLOTS	256

extern char *pyroscope_http_listen_address;
extern int	pyroscope_http_port;
extern int	pyroscope_http_workers;
extern int	pyroscope_http_query_workers;
extern int	pyroscope_http_query_queue;
extern char *pyroscope_database;
extern int	pyroscope_http_max_body_size;	/* kB */
extern int	pyroscope_http_request_timeout; /* ms, 0 = none */
extern bool pyroscope_multitenancy;
extern int	pyroscope_http_max_query_length;	/* s, 0 = none */
extern int	pyroscope_http_auth;	/* HttpAuthMode */
extern char *pyroscope_http_role;
extern char *pyroscope_http_tls_cert_file;
extern char *pyroscope_http_tls_key_file;
extern double pyroscope_ingestion_rate_mb;
extern double pyroscope_ingestion_burst_size_mb;
extern int	pyroscope_max_series_per_tenant;
extern int	pyroscope_max_flamegraph_nodes_max;
extern int	pyroscope_max_query_concurrency;
extern bool pyroscope_http_ops_auth;
extern int	pyroscope_http_max_connections; /* per HTTP worker */
extern int	pyroscope_http_max_connections_per_ip;	/* per worker, 0 = none */
extern int	pyroscope_http_idle_timeout;	/* s */
extern int	pyroscope_http_header_timeout;	/* s */

/* core bridge (bridge.c) */
extern void pyroscope_install_allocator(void);
extern void pyroscope_align_heap_for_children(void);
extern void pyroscope_report(const PyroError *err, const char *context) pg_attribute_noreturn();

/*
 * Query memory budget (pyroscope.query_memory_limit): while active, what
 * the core allocates is counted, and an allocation past the limit fails,
 * which pyroscope_report turns into ERRCODE_PROGRAM_LIMIT_EXCEEDED.
 */
extern int	pyroscope_query_memory_limit;	/* kB, 0 = none */
extern int	pyroscope_compaction_memory_limit;	/* kB, 0 = none */
extern void pyroscope_budget_begin(void);
extern void pyroscope_budget_begin_compaction(void);
extern void pyroscope_budget_forget(Size bytes);
extern void pyroscope_budget_end(void);
extern bool pyroscope_budget_exceeded(void);
extern void pyroscope_budget_check_context(MemoryContext cxt, const char *context);
extern bool pyroscope_error_over_budget(const ErrorData *edata);

/* stored profile values (profile_value.c) */
typedef struct varlena ProfileValue;
#define DatumGetProfileValueP(X)	((ProfileValue *) PG_DETOAST_DATUM(X))
#define PG_GETARG_PROFILE_P(n)		DatumGetProfileValueP(PG_GETARG_DATUM(n))
extern ProfileValue *profile_value_from_buf(const PyroBuf *buf);
extern PyroProfile *profile_value_decode(ProfileValue *v);
extern ProfileValue *profile_value_from_bytes(const char *data, size_t len);

/* ingest (ingest.c) */
struct PyroNormalized;
struct PyroLabelSet;
struct PyroDisplayName;

/* how a pprof is ingested; zeroes are the defaults */
typedef struct PyroIngestOptions
{
	bool		has_time;		/* at is the profile's time */
	TimestampTz at;
	TimestampTz fallback;		/* time of a pprof without one; 0 = now */
	bool		has_config;		/* a sample_type_config steers __name__ */
	const struct PyroDisplayName *config;
	size_t		nconfig;
} PyroIngestOptions;

extern int	pyroscope_store_pprof(bytea *data, const struct PyroLabelSet *client,
								  const char *tenant, const PyroIngestOptions *opt,
								  uint64 *samples);
extern bytea *pyroscope_pprof_bytea(const void *data, size_t len);
extern uint64 pyroscope_take_refused_samples(void);

/* how a JFR recording is ingested */
typedef struct PyroJfrIngest
{
	int64		sample_rate;	/* Hz of cpu and wall samples */
	bool		has_time;		/* at is the profiles' time, else the
								 * recording's start */
	TimestampTz at;
	int64		duration_nanos;
} PyroJfrIngest;

extern int	pyroscope_store_jfr(const uint8_t *data, size_t len,
								const uint8_t *labels_part, size_t labels_len,
								const struct PyroLabelSet *client, const char *tenant,
								const PyroJfrIngest *opt, uint64 *profiles, uint64 *samples);
struct PyroTextType;
extern int	pyroscope_store_text_profile(PyroProfile *prof, const struct PyroTextType *tt,
										 int64 sample_rate, int64 time_ms,
										 const struct PyroLabelSet *client,
										 const char *tenant, size_t bytes);
extern void pyroscope_labels_from_jsonb(Jsonb *jb, struct PyroLabelSet *ls);

/* how a speedscope document is ingested */
typedef struct PyroSpeedscopeIngest
{
	const char *suffix;			/* profile type of a single profile, as
								 * /ingest's app name suffix ("" = cpu) */
	int64		sample_rate;	/* Hz of a "none" unit sample (0: counts) */
	int64		time_ms;
	const char *app_name;		/* /ingest's app name and its base: label the
								 * series like /ingest; NULL = no */
	const char *app_base;
} PyroSpeedscopeIngest;

extern int	pyroscope_store_speedscope(const char *json, size_t len,
									   const PyroSpeedscopeIngest *opt,
									   const struct PyroLabelSet *client, const char *tenant,
									   uint64 *profiles, uint64 *samples);

/* OTLP profiles: what was stored, what was rejected (partial success) */
typedef struct PyroOtlpIngest
{
	int			written;		/* series */
	uint64		profiles;		/* pprofs stored */
	uint64		samples;
	int64		rejected;		/* Profiles that map to no profile type */
	uint64		rejected_samples;	/* their samples */
	char	   *rejected_msg;	/* palloc'd, or NULL */
} PyroOtlpIngest;

extern void pyroscope_store_otlp(const uint8_t *data, size_t len, bool json, const char *tenant,
								 PyroOtlpIngest *res);

/* head rows' profiles (head.c) */
extern int	pyroscope_head_cache_size;	/* kB */
extern Size pyroscope_head_cache_bytes(void);
extern void pyroscope_head_cache_shrink(Size need);

struct HeadCacheEntry;
typedef struct HeadReader
{
	MemoryContext cxt;			/* what the reader decoded */
	int32		shard_key;		/* of pprof_id */
	int64		pprof_id;		/* of n; 0 = none */
	struct PyroNormalized *n;	/* owned, or a pinned cache entry's */
	struct HeadCacheEntry *pinned;
	PyroProfile *pyp1;			/* a decoded profile value */

	/*
	 * Set by compaction: read stored pprofs with a new snapshot (the head
	 * rows come from a FOR UPDATE cursor, whose snapshot is newer than the
	 * transaction's), and keep nothing in the backend's cache (the rows are
	 * about to be deleted).
	 */
	bool		for_compaction;
} HeadReader;

extern void head_reader_init(HeadReader *r);
extern PyroProfile *head_reader_get_row(HeadReader *r, HeapTuple tup, TupleDesc desc,
										int first, int key_col);
extern void head_reader_done(HeadReader *r);
extern ProfileValue *pyroscope_head_part_value(int32 shard_key, int64 pprof_id, int32 part,
											   int64 total);
extern ProfileValue *pyroscope_pprof_part_value(const void *data, size_t len, int32 part);
extern PyroSpanTotal *pyroscope_pprof_part_span_totals(const void *data, size_t len,
													   int32 part, size_t *n);

/*
 * What pyroscope_encoded_block_spans passes for each profile of a block
 * with span ids: its series, time (Unix ms), id (NULL when the block keeps
 * none) and span totals.
 */
typedef void (*BlockSpansVisitor) (int64 series_id, int64 ts_ms, const pg_uuid_t *id,
								   const PyroSpanTotal *spans, size_t nspans, void *arg);
extern void pyroscope_encoded_block_spans(const void *data, size_t len, const int64 *series,
										  size_t nseries, int64 start_ms, int64 end_ms,
										  BlockSpansVisitor visit, void *arg);
struct PyroPprofLimits;
extern void pyroscope_pprof_ingest_limits(struct PyroPprofLimits *limits);
extern ProfileValue *pyroscope_encoded_block_merge(const void *data, size_t len,
												   const int64 *series, size_t nseries,
												   int64 start_ms, int64 end_ms,
												   const pg_uuid_t *ids, int nids,
												   bool keep_spans);

/* query engine (query.c) */

/*
 * A selection: a tenant's profiles of one profile type whose series match
 * a label selector, in a closed time range.
 */
typedef struct ProfileSelection
{
	const char *tenant;
	const char *profile_type;	/* NULL = any (only for series listing) */
	const char *selector;
	TimestampTz start;
	TimestampTz end;

	/*
	 * Error out when no series matches and the tenant has no series of the
	 * profile type (pyroscope_selection_require_type)
	 */
	bool		require_type;

	/*
	 * Only the profiles of these ingested profiles (ids sorted by memcmp, no
	 * duplicates; pyroscope_selection_set_profile_ids); NULL = any.
	 */
	const pg_uuid_t *profile_ids;
	int			nprofile_ids;
} ProfileSelection;

extern void pyroscope_selection_set_profile_ids(ProfileSelection *sel, pg_uuid_t *ids, int n);

/* called once per stored profile (decoded) of a selection */
typedef void (*ProfileVisitor) (PyroProfile *p, void *arg);

extern void pyroscope_check_profile_type(const char *tenant, const char *profile_type);
extern void pyroscope_selection_require_type(ProfileSelection *sel);
extern PyroTree *pyroscope_selection_tree(const ProfileSelection *sel);
extern PyroTree *pyroscope_selection_tree_filtered(const ProfileSelection *sel, char **spans,
												   size_t nspans,
												   const char *const *call_site,
												   size_t ncall);
extern void pyroscope_selection_pprof_raw(const ProfileSelection *sel, char **spans,
										  size_t nspans, const PyroStackSelector *stacks,
										  int64 end_ms, PyroBuf *raw);
extern void pyroscope_selection_dot(const ProfileSelection *sel, char **spans, size_t nspans,
									const PyroStackSelector *stacks, int64 end_ms,
									int max_nodes, PyroBuf *out);
extern Datum pyroscope_selection_flamegraph(const ProfileSelection *sel, int32 max_nodes);
extern Datum pyroscope_selection_flamegraph_svg(const ProfileSelection *sel, int32 max_nodes,
												const char *title);
extern Datum pyroscope_selection_diff_svg(const ProfileSelection *left,
										  const ProfileSelection *right, int32 max_nodes,
										  const char *title);
extern bytea *pyroscope_selection_pprof(const ProfileSelection *sel);
extern Datum pyroscope_selection_diff(const ProfileSelection *left,
									  const ProfileSelection *right, int32 max_nodes);

/*
 * What a query would read (AnalyzeQuery): per tier, the series, profiles,
 * samples, blocks and bytes within the selection.
 */
typedef struct SelectionScope
{
	uint64		series;
	uint64		profiles;
	uint64		samples;
	uint64		blocks;			/* blocks tier only */
	uint64		bytes;
} SelectionScope;

extern uint64 pyroscope_selection_analyze(const ProfileSelection *sel, SelectionScope *head,
										  SelectionScope *blocks);

/* (series_id, profile_type, labels) of a series */
typedef void (*SeriesRowVisitor) (Datum *values, bool *nulls, void *arg);
extern void pyroscope_series_statement(const ProfileSelection *sel, const char *head,
									   int nextra, const Oid *extra_types,
									   const Datum *extra_values, const char *tail);
extern void pyroscope_selection_series(const ProfileSelection *sel, SeriesRowVisitor visit,
									   void *arg);

/* every stored profile of a selection, one by one, from every tier */
typedef void (*StoredProfileVisitor) (int64 series_id, TimestampTz ts, int64 total,
									  ProfileValue *profile, void *arg);
extern uint64 pyroscope_selection_profiles(const ProfileSelection *sel,
										   StoredProfileVisitor visit, void *arg);

/* series, time and total of a stored profile */
/* id: of the ingested profile, NULL when unknown (compacted before ids) */
typedef void (*ProfileTotalVisitor) (int64 series_id, TimestampTz ts, int64 total,
									 const pg_uuid_t *id, void *arg);

/*
 * one stored profile, apart (p->id: its ingested profile's, zero when
 * unknown); must not ereport (runs inside block readers)
 */
typedef PyroStatus (*IndividualVisitor) (int64 series_id, int64 ts_ms, const PyroProfile *p,
										 void *arg, PyroError *err);
extern void pyroscope_scan_individual(const ProfileSelection *sel, IndividualVisitor visit,
									  void *arg);
extern char **pyroscope_selection_spans_of_traces(const ProfileSelection *sel,
												  const uint64 *traces, int ntraces,
												  size_t *nspans);
extern void pyroscope_selection_totals(const ProfileSelection *sel, ProfileTotalVisitor visit,
									   void *arg);

/* results built from trees and profiles (query.c) */
extern void pyroscope_check_max_nodes(int32 max_nodes);
extern Datum pyroscope_tree_flamegraph(const PyroTree *t, int32 max_nodes);
extern Datum pyroscope_tree_flamegraph_svg(const PyroTree *t, int32 max_nodes,
										   const char *title, const char *unit);
extern bytea *pyroscope_profile_pprof(const PyroProfile *p, const char *profile_type,
									  int64 time_nanos);
extern Datum pyroscope_json_to_jsonb(const PyroBuf *json);

/* compaction and retention (compact.c) */
extern int	pyroscope_compact_after;	/* s */
extern int	pyroscope_block_window; /* s */
extern int	pyroscope_retention;	/* s, 0 = keep forever */
extern int	pyroscope_compaction_test_delay;	/* ms, tests only */
extern int	pyroscope_query_test_delay; /* ms, tests only */
extern void pyroscope_test_sleep(int ms);
extern void pyroscope_check_interrupts(void);
extern void pyroscope_release_memory(bool always);

#define COMPACT_MAX_LEVEL 2		/* 0: block_window, 1: hour, 2: day */

typedef enum CompactUnitKind
{
	COMPACT_HEAD,				/* head rows of a window into a level-0 block */
	COMPACT_MERGE,				/* smaller blocks of a window into one */
	COMPACT_RETENTION			/* expired data of one tenant */
} CompactUnitKind;

/* One unit of compaction work, done in one transaction. */
typedef struct CompactUnit
{
	CompactUnitKind kind;
	int			level;			/* level of the block written */
	char	   *tenant;
	char	   *service_name;
	int32		shard_key;		/* of tenant and service_name */
	TimestampTz start;			/* aligned window [start, end); not for
								 * retention */
	TimestampTz end;
} CompactUnit;

/* What runs did, as recorded in pyroscope.job_runs. */
typedef struct CompactCounts
{
	int64		units;
	int64		units_failed;
	int64		head_rows_compacted;
	int64		head_rows_deleted;
	int64		blocks_written;
	int64		blocks_merged;
	int64		blocks_deleted;
	int64		series_deleted;
	int64		bytes_written;
	int64		bytes_deleted;
	int64		peak_memory;	/* most memory one unit held, bytes */
} CompactCounts;

extern List *pyroscope_compact_units(CompactUnitKind kind, int level, TimestampTz now,
									 const char *tenant, MemoryContext cxt);
extern void pyroscope_compact_unit(const CompactUnit *u, TimestampTz now, CompactCounts *c);
extern void pyroscope_compact_unit_call(const CompactUnit *u, TimestampTz now, CompactCounts *c);
extern void pyroscope_compact_unit_make(const char *kind, int level, const char *tenant,
										const char *service_name, int32 shard_key,
										bool has_start, TimestampTz start, CompactUnit *u);
extern Datum pyroscope_compact_counts_jsonb(const CompactCounts *c, bool with_units);
extern void pyroscope_compact_now(TimestampTz now, const char *tenant, CompactCounts *cc,
								  CompactCounts *rc);

/*
 * the profiles of a block: series, time (Unix ms), total, profile id (NULL:
 * none kept) (block_read.c)
 */
typedef void (*BlockTotalVisitor) (int64 series_id, int64 ts_ms, int64 total,
								   const pg_uuid_t *id, void *arg);
extern void pyroscope_encoded_block_totals(const void *data, size_t len, const int64 *series,
										   size_t nseries, int64 start_ms, int64 end_ms,
										   BlockTotalVisitor visit, void *arg);
extern void pyroscope_stored_block_totals(int64 block_id, BlockTotalVisitor visit, void *arg);
typedef void (*BlockSectionVisitor) (const PyroBlockSection *s, void *arg);
extern void pyroscope_encoded_block_sections(const void *data, size_t len,
											 BlockSectionVisitor visit, void *arg);

/*
 * SQL for the retention interval of a tenant, from its override (an
 * interval expression, NULL when the tenant has none) and the default
 * pyroscope.retention (an integer expression, seconds): NULL when data is
 * kept forever, i.e. when the override or, without one, the default is 0.
 */
#define RETENTION_OF(override, default_secs) \
	"(CASE WHEN " override " IS NOT NULL" \
	"      THEN NULLIF(" override ", interval '0')" \
	"      WHEN " default_secs " > 0 THEN pg_catalog.make_interval(secs => " default_secs ") END)"

extern int64 pyroscope_job_run_begin(const char *job, const char *trigger);
extern void pyroscope_job_run_update(int64 run_id, const CompactCounts *c, bool finished,
									 const char *error);
extern void pyroscope_job_run_failed_unit(int64 run_id, CompactCounts *total,
										  const char *error);

/* the compactor worker's passes and state (compact_job.c) */
typedef struct CompactorStatus
{
	int			pid;
	bool		enabled;		/* pyroscope.compactor as the worker sees it */
	bool		running;		/* inside a run */
	char		job[NAMEDATALEN];	/* job of the current run */
	TimestampTz started;
	TimestampTz last_run_start; /* 0 = none yet */
	TimestampTz last_run_end;
	uint64		runs;
	uint64		failed_units;
} CompactorStatus;

extern Size pyroscope_compactor_shmem_size(void);
extern void pyroscope_compactor_shmem_init(void);
extern void pyroscope_compactor_attach(void);
extern bool pyroscope_compactor_take_wakeup(bool enabled);
extern void pyroscope_compactor_pass(MemoryContext cxt, void (*between_units) (void));
extern bool pyroscope_compactor_get_status(CompactorStatus *st);
extern bool pyroscope_compactor_request_wakeup(void);

/* offload passes and the object store's admin operations (offload.c) */
typedef struct OffloadResult
{
	int64		blocks_offloaded;
	int64		bytes_uploaded;
	int64		blocks_expired;
	int64		objects_deleted;
	int64		orphans_removed;
} OffloadResult;

typedef bool (*PyroObjectVisitor) (void *arg, const char *key, uint64 size);

extern void pyroscope_offload_now(TimestampTz now, OffloadResult *res);
extern void pyroscope_offload_pass(MemoryContext cxt, void (*between_units) (void));
extern void pyroscope_object_put(const char *key, const void *data, size_t len);
extern bytea *pyroscope_object_get(const char *key, int64 off, int64 len, bool len_given);
extern bool pyroscope_object_head(const char *key, int64 *size);
extern void pyroscope_object_delete(const char *key);
extern void pyroscope_object_list(const char *prefix, PyroObjectVisitor visit, void *arg);
extern int	pyroscope_object_store_counters(const char **names, int64 *values, int n);
extern void pyroscope_object_store_metrics(StringInfo out);

/* the status board of the HTTP workers (worker_status.c) */
typedef struct HttpWorkerStatus
{
	int			pid;			/* 0 = stopped */
	bool		query;			/* a query worker, not an HTTP worker */
	TimestampTz started;
	bool		busy;
	char		last_error[256];	/* "" = none */
	TimestampTz last_error_at;
	uint64		requests;
	uint64		errors;
} HttpWorkerStatus;

extern Size pyroscope_worker_status_shmem_size(void);
extern void pyroscope_worker_status_shmem_init(void);
extern void pyroscope_http_worker_attach(int index, bool query);
extern void pyroscope_http_worker_set_state(bool busy, const char *error);
extern void pyroscope_http_worker_count(bool error);
extern bool pyroscope_http_worker_get_status(int index, HttpWorkerStatus *st);

/* the extension version this library's queries are written for */
#define PYROSCOPE_EXTENSION_VERSION "1.9"
extern bool pyroscope_extension_ready(void);
extern char *pyroscope_extension_installed_version(void);
extern bool pyroscope_worker_pass_ready(const char *worker, const char *jobs, bool *cleaned);
extern void pyroscope_job_runs_prune(const char *job);


/* time series and call sites (series_query.c) */
/* one output series of a bucketed query */
typedef struct BucketSeries
{
	int			nlabels;		/* group-by labels the series has */
	char	  **names;
	char	  **values;
	int			npoints;
	int64	   *ts_ms;			/* point timestamps, ascending */
	double	   *values_at;		/* point values */
	double		sum;			/* sum of the point values */
	char	   *key;			/* the group-by values, as text: identity */
	struct BucketExemplar *exemplars;	/* per point, or NULL */
} BucketSeries;

/* the exemplar of one point: one individual profile (API-2.md 3.4) */
typedef struct BucketExemplar
{
	bool		set;
	char	   *profile_id;
	int64		ts_ms;			/* the profile's time, not the point's */
	int64		value;			/* its total */
	int			nlabels;		/* its series labels less the group-by ones */
	char	  **names;
	char	  **values;
} BucketExemplar;

/*
 * Series of per-profile totals of a selection (profile type, selector,
 * tenant; sel->start/end are ignored) grouped by the group_by labels and
 * bucketed with upstream's algorithm (spec §15.3): points at start_ms +
 * k * step_ms up to end_ms, each summing (or averaging) the profiles in
 * (T - step, T].  Only buckets with data become points.  Series are
 * sorted by sum descending, then labels; limit > 0 keeps the first limit.
 * Returns the number of series; *out is palloc'd.
 */
extern int	pyroscope_series_buckets(const ProfileSelection *sel, int64 start_ms,
									 int64 end_ms, int64 step_ms,
									 char **group_by, int ngroup_by, bool average,
									 int64 limit, BucketSeries **out);

/*
 * Attach to the points of series (from pyroscope_series_buckets with the
 * same arguments) the exemplar of each: of the individual profiles in the
 * point's bucket, the one with the highest total (a profile split into
 * several series of one output series counts once, its totals summed).
 */
extern void pyroscope_series_exemplars(const ProfileSelection *sel, int64 start_ms,
									   int64 end_ms, int64 step_ms,
									   char **group_by, int ngroup_by,
									   BucketSeries *series, int nseries);



/* heatmaps (heatmap_query.c) */
typedef struct HeatmapQuery
{
	const ProfileSelection *sel;	/* its start and end are replaced */
	int64		start_ms;
	int64		end_ms;
	int64		step_ms;
	char	  **group_by;
	int			ngroup_by;
	bool		span;			/* SPAN points, else INDIVIDUAL */
	bool		exemplars;
	int64		limit;			/* > 0: the series with the most points */
} HeatmapQuery;

typedef struct HeatmapExemplar
{
	int			bucket;			/* the cell's value bucket */
	int64		ts_ms;			/* the point's own time */
	int64		value;
	char	   *profile_id;		/* NULL: none */
	char	   *span_id;		/* 16 hex digits, NULL: none */
	char	   *trace_id;		/* 32 hex digits, NULL: none */
	int			nlabels;		/* series labels less the group-by ones */
	char	  **names;
	char	  **values;
} HeatmapExemplar;

typedef struct HeatmapSlotOut
{
	int64		ts;				/* right edge, ms */
	int32		counts[20];
	int			nex;
	HeatmapExemplar *ex;
} HeatmapSlotOut;

typedef struct HeatmapSeries
{
	char	   *key;
	int			nlabels;		/* the group-by labels it has */
	char	  **names;
	char	  **values;
	int			nslots;
	HeatmapSlotOut *slots;
	int64		count;
} HeatmapSeries;

typedef struct HeatmapResult
{
	double		y_min[20];
	int			nseries;
	HeatmapSeries *series;
} HeatmapResult;

extern void pyroscope_heatmap(const HeatmapQuery *q, HeatmapResult *out);

/* per-tenant limits and refusals (limits.c) */
typedef struct PyroTenantLimits
{
	double		ingestion_rate_mb;	/* MiB/s, 0 = no limit */
	double		ingestion_burst_size_mb;
	int			max_series;		/* series of the tenant, 0 = no limit */
	int			max_label_names;
	int			max_label_name_length;
	int			max_label_value_length;
	int			max_query_length;	/* s, 0 = no limit */
	int			max_flamegraph_nodes_max;
	int			max_query_concurrency;	/* 0 = no limit */
} PyroTenantLimits;

/* why an upload was refused (pyroscope_discarded_*{reason,tenant}) */
typedef enum PyroDiscardReason
{
	PYRO_DISCARD_WINDOW,		/* not_in_ingestion_window */
	PYRO_DISCARD_RATE,			/* rate_limited */
	PYRO_DISCARD_SERIES,		/* series_limit */
	PYRO_DISCARD_LIMIT,			/* over a size, sample or label limit */
	PYRO_DISCARD_MALFORMED,		/* bad input */
	PYRO_DISCARD_NO_TYPE,		/* an OTLP profile that maps to no type */
	PYRO_DISCARD_DENIED,		/* no credentials or no write grant */
	PYRO_DISCARD_OTHER,
	PYRO_NDISCARD
} PyroDiscardReason;

extern const char *const pyroscope_discard_names[PYRO_NDISCARD];
extern Size pyroscope_limits_shmem_size(void);
extern void pyroscope_limits_shmem_request(void);
extern void pyroscope_limits_shmem_init(void);
extern void pyroscope_tenant_limits(const char *tenant, PyroTenantLimits *out);
extern void pyroscope_ingest_admit(const char *tenant, size_t bytes,
								   const PyroTenantLimits *lim);
extern void pyroscope_series_admit(const char *tenant, int64 existing,
								   const PyroTenantLimits *lim);
extern void pyroscope_query_admit(const char *tenant, const PyroTenantLimits *lim);
extern void pyroscope_query_release(void);
extern int	pyroscope_take_refusal(double *retry_after);
extern void pyroscope_record_discard(const char *tenant, PyroDiscardReason reason,
									 uint64 profiles, uint64 samples, uint64 bytes);
extern void pyroscope_discards_foreach(void (*fn) (void *arg, const char *tenant,
												   PyroDiscardReason reason,
												   const uint64 counts[3]),
									   void *arg);

/* tenant grants and acting as a role (access.c) */
typedef enum PyroTenantAccess
{
	PYRO_ACCESS_READ = 0,
	PYRO_ACCESS_WRITE,
	PYRO_ACCESS_ANY
} PyroTenantAccess;

typedef struct PyroRoleState
{
	Oid			userid;
	int			sec_context;
} PyroRoleState;

extern char **pyroscope_role_tenant_list(PyroTenantAccess access, int *n, bool *all);
extern void pyroscope_grants_changed(Oid relid);
extern bool pyroscope_tenant_allowed(const char *tenant, PyroTenantAccess access);
extern void pyroscope_require_tenant(const char *tenant, PyroTenantAccess access);
extern void pyroscope_begin_as_role(const char *role, PyroRoleState *saved);
extern void pyroscope_end_as_role(const PyroRoleState *saved);

/* metadata, settings and credentials (metadata.c) */
typedef struct PyroLabelRow
{
	int			n;
	char	  **names;
	char	  **values;
} PyroLabelRow;

typedef struct PyroSetting
{
	char	   *name;
	char	   *value;
	int64		modified_at;	/* Unix ms */
} PyroSetting;

extern char **pyroscope_profile_type_ids(const char *tenant, TimestampTz start,
										 TimestampTz end, uint64 *n);
extern char **pyroscope_all_profile_type_ids(const char *tenant, uint64 *n);
extern char **pyroscope_label_name_list(const char *selector, TimestampTz start,
										TimestampTz end, const char *tenant, bool bytewise,
										uint64 *n);
extern char **pyroscope_label_value_list(const char *name, const char *selector,
										 TimestampTz start, TimestampTz end,
										 const char *tenant, bool bytewise, uint64 *n);
extern PyroLabelRow *pyroscope_series_label_sets(const char *selector, TimestampTz start,
												 TimestampTz end, const char *tenant,
												 char **label_names, int nnames, bool utf8,
												 uint64 *n);
extern bool pyroscope_profile_time_span(const char *tenant, TimestampTz *oldest,
										TimestampTz *newest);
extern PyroSetting *pyroscope_settings_list(const char *tenant, uint64 *n);
extern bool pyroscope_setting_put(const char *tenant, const char *name, const char *value,
								  int64 modified_at);
extern void pyroscope_setting_delete(const char *tenant, const char *name);
extern bool pyroscope_credential_check(const char *kind, const char *username,
									   const char *secret, MemoryContext cxt, char **tenant,
									   char **role);

#endif							/* PYRO_ENGINE_H */

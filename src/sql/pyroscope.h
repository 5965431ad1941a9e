/*-------------------------------------------------------------------------
 *
 * pyroscope.h
 *	  Declarations shared by the SQL layer of the pyroscope extension: the
 *	  GUCs, the bridge between the pure-C core and PostgreSQL (allocator,
 *	  error reporting), and the query engine used by SQL functions (and,
 *	  later, by the HTTP workers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYROSCOPE_H
#define PYROSCOPE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#include "common.h"
#include "profile.h"
#include "tree.h"

/* GUCs (pyroscope.c) */
extern int	pyroscope_max_profile_size;		/* bytes, decompressed */
extern int	pyroscope_max_profile_samples;
extern int	pyroscope_max_label_names;
extern int	pyroscope_max_label_name_length;
extern int	pyroscope_max_label_value_length;

/* core bridge (pyroscope.c) */
extern void pyroscope_install_allocator(void);
extern void pyroscope_report(const PyroError *err, const char *context) pg_attribute_noreturn();

/*
 * Query memory budget (pyroscope.query_memory_limit): while active, what
 * the core allocates is counted, and an allocation past the limit fails,
 * which pyroscope_report turns into ERRCODE_PROGRAM_LIMIT_EXCEEDED.
 */
extern int	pyroscope_query_memory_limit;	/* kB, 0 = none */
extern void pyroscope_budget_begin(void);
extern void pyroscope_budget_end(void);
extern bool pyroscope_budget_exceeded(void);
extern Size pyroscope_budget_peak(void);

/* stored profile values (profile_type.c) */
typedef struct varlena ProfileValue;
#define DatumGetProfileValueP(X)	((ProfileValue *) PG_DETOAST_DATUM(X))
#define PG_GETARG_PROFILE_P(n)		DatumGetProfileValueP(PG_GETARG_DATUM(n))
extern ProfileValue *profile_value_from_buf(const PyroBuf *buf);
extern PyroProfile *profile_value_decode(ProfileValue *v);

/* ingest (ingest.c) */
struct PyroNormalized;
struct PyroLabelSet;
struct PyroPprofLimits;
extern int	pyroscope_store_normalized(const struct PyroNormalized *n,
									   const struct PyroLabelSet *client,
									   const char *tenant);
extern int	pyroscope_store_pprof(bytea *data, const struct PyroNormalized *summary,
								  const struct PyroLabelSet *client, const char *tenant);
extern int	pyroscope_store_pprof_at(bytea *data, const struct PyroNormalized *summary,
									 const struct PyroLabelSet *client, const char *tenant,
									 TimestampTz ts);
extern void pyroscope_pprof_ingest_limits(struct PyroPprofLimits *limits);

/* head rows' profiles (head.c) */
extern int	pyroscope_head_cache_size;	/* kB */

struct HeadCacheEntry;
typedef struct HeadReader
{
	MemoryContext cxt;			/* what the reader decoded */
	int64		pprof_id;		/* of n; 0 = none */
	struct PyroNormalized *n;	/* owned, or a pinned cache entry's */
	struct HeadCacheEntry *pinned;
	PyroProfile *pyp1;			/* a decoded profile value */
} HeadReader;

extern void head_reader_init(HeadReader *r);
extern PyroProfile *head_reader_get_row(HeadReader *r, HeapTuple tup, TupleDesc desc,
										int first);
extern void head_reader_done(HeadReader *r);

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
} ProfileSelection;

/* called once per stored profile (decoded) of a selection */
typedef void (*ProfileVisitor) (PyroProfile *p, void *arg);

extern void pyroscope_check_profile_type(const char *tenant, const char *profile_type);
extern uint64 pyroscope_scan_profiles(const ProfileSelection *sel,
									  ProfileVisitor visit, void *arg);
extern uint64 pyroscope_scan_selection(const ProfileSelection *sel, bool keep_spans,
									   ProfileVisitor visit, void *arg);
extern PyroTree *pyroscope_selection_tree(const ProfileSelection *sel);
extern void pyroscope_check_time_range(TimestampTz start, TimestampTz end);

/* results built from trees and profiles (query.c) */
extern Datum pyroscope_tree_flamegraph(const PyroTree *t, int32 max_nodes);
extern void pyroscope_return_top(FunctionCallInfo fcinfo, const PyroTree *t);
extern void pyroscope_return_stacks(FunctionCallInfo fcinfo, const PyroTree *t);
extern bytea *pyroscope_profile_pprof(const PyroProfile *p, const char *profile_type,
									  int64 time_nanos);
extern Datum pyroscope_json_to_jsonb(const PyroBuf *json);

/* compaction and retention (compact.c) */
extern int	pyroscope_compact_after;	/* s */
extern int	pyroscope_block_window;		/* s */
extern int	pyroscope_retention;		/* s, 0 = keep forever */
extern int	pyroscope_compaction_test_delay;	/* ms, tests only */

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
	char	   *service_name;	/* NULL for retention */
	TimestampTz start;			/* aligned window [start, end) */
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

extern void pyroscope_compact_define_gucs(void);
extern List *pyroscope_compact_units(CompactUnitKind kind, int level, TimestampTz now,
									 const char *tenant, MemoryContext cxt);
extern void pyroscope_compact_unit(const CompactUnit *u, TimestampTz now, CompactCounts *c);
extern void pyroscope_compact_all(TimestampTz now, const char *tenant, CompactCounts *c);
extern void pyroscope_retention_all(TimestampTz now, const char *tenant, CompactCounts *c);
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
extern void pyroscope_job_runs_mark_interrupted(const char *worker, const char *jobs);
/* the extension version this library's queries are written for */
#define PYROSCOPE_EXTENSION_VERSION "1.2"
extern bool pyroscope_extension_ready(void);
extern char *pyroscope_extension_installed_version(void);
extern bool pyroscope_worker_pass_ready(const char *worker, const char *jobs, bool *cleaned);
extern void pyroscope_job_runs_prune(const char *job);

/* compactor worker (bgworkers/compactor.c) */
extern void pyroscope_compactor_register(void);

#endif							/* PYROSCOPE_H */

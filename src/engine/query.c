/*-------------------------------------------------------------------------
 *
 * query.c
 *	  The query engine: selecting series by label selector, scanning the
 *	  stored profiles of a selection in every tier (head, blocks in the
 *	  database, offloaded blocks), and the results built on it (trees,
 *	  flame graphs, diffs, merged pprof, totals) for every front door.
 *
 * Selectors are parsed by the core; each matcher becomes a parameterised
 * condition on pyroscope.series (regular expressions use PostgreSQL's
 * engine, fully anchored as in Prometheus).  Profiles are read through an
 * SPI cursor in batches, so a query holds one batch of stored values at a
 * time plus the tree or merge it is building.
 *
 *-------------------------------------------------------------------------
 */
#include "engine_int.h"

#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "lib/qunique.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "block.h"
#include "dot.h"
#include "labels.h"
#include "pprof.h"
#include "selector.h"
#include "svg.h"

#define SCAN_BATCH	256
#define MAX_QUERY_ARGS	(4 + 3 * 256)

/* Parameters of a series query under construction. */
typedef struct SeriesQuery
{
	StringInfoData sql;
	Oid			types[MAX_QUERY_ARGS];
	Datum		values[MAX_QUERY_ARGS];
	int			nargs;
} SeriesQuery;

static int
add_arg(SeriesQuery *q, Oid type, Datum value)
{
	if (q->nargs >= MAX_QUERY_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("label selector has too many matchers")));
	q->types[q->nargs] = type;
	q->values[q->nargs] = value;
	return ++q->nargs;
}

static int
add_text_arg(SeriesQuery *q, const char *s)
{
	return add_arg(q, TEXTOID, CStringGetTextDatum(s));
}

static void
pyroscope_check_time_range(TimestampTz start, TimestampTz end)
{
	if (start > end)
	{
		/* timestamptz_to_str returns a static buffer: copy the first one */
		char	   *start_str = pstrdup(timestamptz_to_str(start));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time range start %s is after its end %s",
						start_str, timestamptz_to_str(end))));
	}
}

/* Check the syntax of a profile type id; returns nothing, errors out. */
static void
check_profile_type_syntax(const char *profile_type)
{
	PyroProfileType pt;
	PyroError	err;

	if (pyro_profile_type_parse(profile_type, strlen(profile_type), &pt, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.msg),
				 errhint("A profile type id has the form name:sample_type:sample_unit:period_type:period_unit.")));
	pyro_profile_type_free(&pt);
}

/* Whether a selector names one service (service_name="x", x not empty). */
static bool
selector_pins_service(const PyroSelector *ps)
{
	for (size_t i = 0; i < ps->nmatchers; i++)
		if (ps->matchers[i].op == PYRO_MATCH_EQ && ps->matchers[i].value[0] != '\0' &&
			strcmp(ps->matchers[i].name, "service_name") == 0)
			return true;
	return false;
}

/*
 * Build "head WHERE <the conditions of a selection's series>", head being a
 * SELECT ... FROM pyroscope.series s (with whatever it joins).  Arguments
 * $1..$3 are tenant, start, end, then the nextra of the caller ($4 on), then
 * the matchers'.  A selector naming the service pins the statement to its
 * shard key.
 */
static void
build_series_query_from(SeriesQuery *q, const ProfileSelection *sel, const char *head,
						int nextra, const Oid *extra_types, const Datum *extra_values)
{
	PyroSelector *ps;
	PyroError	err;
	int			n;

	initStringInfo(&q->sql);
	q->nargs = 0;

	if (pyro_selector_parse(sel->selector, strlen(sel->selector), &ps, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid label selector \"%s\": %s", sel->selector, err.msg)));

	add_text_arg(q, sel->tenant);
	add_arg(q, TIMESTAMPTZOID, TimestampTzGetDatum(sel->start));
	add_arg(q, TIMESTAMPTZOID, TimestampTzGetDatum(sel->end));
	for (int i = 0; i < nextra; i++)
		add_arg(q, extra_types[i], extra_values[i]);
	appendStringInfoString(&q->sql, head);
	appendStringInfoString(&q->sql,
						   " WHERE s.tenant = $1 AND s.first_seen <= $3 AND s.last_seen >= $2");
	if (!selector_pins_service(ps))
		appendStringInfoString(&q->sql, " /* every shard */");
	if (sel->profile_type)
	{
		n = add_text_arg(q, sel->profile_type);
		appendStringInfo(&q->sql, " AND s.profile_type = $%d", n);
	}
	if (ps->metric_name)
	{
		/* a name with colons is a profile type id, otherwise __name__ */
		if (strchr(ps->metric_name, ':'))
		{
			check_profile_type_syntax(ps->metric_name);
			n = add_text_arg(q, ps->metric_name);
			appendStringInfo(&q->sql, " AND s.profile_type = $%d", n);
		}
		else
		{
			n = add_text_arg(q, ps->metric_name);
			appendStringInfo(&q->sql, " AND s.labels ->> '__name__' = $%d", n);
		}
	}
	for (size_t i = 0; i < ps->nmatchers; i++)
	{
		const PyroMatcher *m = &ps->matchers[i];
		int			kn = add_text_arg(q, m->name);
		int			vn;

		switch (m->op)
		{
			case PYRO_MATCH_EQ:
				vn = add_text_arg(q, m->value);
				if (m->value[0] == '\0')
					appendStringInfo(&q->sql,
									 " AND coalesce(s.labels ->> $%d, '') = $%d", kn, vn);
				else if (strcmp(m->name, "service_name") == 0)
					appendStringInfo(&q->sql,
									 " AND s.shard_key = pyroscope.shard_key($1, $%d)"
									 " AND s.service_name = $%d AND $%d IS NOT NULL", vn, vn, kn);
				else
					appendStringInfo(&q->sql,
									 " AND s.labels @> jsonb_build_object($%d, $%d)", kn, vn);
				break;
			case PYRO_MATCH_NEQ:
				vn = add_text_arg(q, m->value);
				appendStringInfo(&q->sql,
								 " AND coalesce(s.labels ->> $%d, '') <> $%d", kn, vn);
				break;
			case PYRO_MATCH_RE:
			case PYRO_MATCH_NRE:
				{
					/* Prometheus regexes are fully anchored */
					char	   *re = psprintf("^(?:%s)$", m->value);

					vn = add_text_arg(q, re);
					appendStringInfo(&q->sql,
									 " AND coalesce(s.labels ->> $%d, '') %s $%d",
									 kn, m->op == PYRO_MATCH_RE ? "~" : "!~", vn);
					break;
				}
		}
	}
	pyro_selector_free(ps);
}

/*
 * The query returning (series_id, profile_type, labels, shard_key) of the
 * series of a selection.
 */
static void
build_series_query(SeriesQuery *q, const ProfileSelection *sel)
{
	build_series_query_from(q, sel,
							"SELECT s.series_id, s.profile_type, s.labels, s.shard_key"
							" FROM pyroscope.series s", 0, NULL, NULL);
}

/*
 * Run "head WHERE <the conditions of a selection's series> tail" (see
 * build_series_query_from; profile_type NULL: series of any type) and
 * leave its rows in SPI_tuptable: the caller is connected to SPI.  A
 * statement over the series table alone runs where the series rows are:
 * on Citus each worker computes its part (a DISTINCT, an aggregate) and
 * only that travels.
 */
void
pyroscope_series_statement(const ProfileSelection *sel, const char *head, int nextra,
						   const Oid *extra_types, const Datum *extra_values, const char *tail)
{
	SeriesQuery q;

	if (sel->profile_type)
		check_profile_type_syntax(sel->profile_type);
	pyroscope_check_time_range(sel->start, sel->end);
	build_series_query_from(&q, sel, head, nextra, extra_types, extra_values);
	appendStringInfoString(&q.sql, tail);
	if (SPI_execute_with_args(q.sql.data, q.nargs, q.types, q.values, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not select series");
}

/*
 * Error out unless the tenant has at least one series of the profile type:
 * a query for a type that was never stored is almost always a typo.
 */
void
pyroscope_check_profile_type(const char *tenant, const char *profile_type)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		found;

	check_profile_type_syntax(profile_type);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(profile_type);
	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM pyroscope.series"
							  " WHERE tenant = $1 AND profile_type = $2 /* every shard */ LIMIT 1",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up profile type");
	found = SPI_processed > 0;
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown profile type \"%s\"", profile_type),
				 errhint("pyroscope.profile_types() lists the profile types stored for tenant \"%s\".",
						 tenant)));
}

/*
 * Make a selection error out, like pyroscope_check_profile_type, when its
 * profile type was never stored for the tenant.  The syntax is checked now;
 * the lookup happens only if no series matches (a type with a matching
 * series exists), which spares the common query a statement.
 */
void
pyroscope_selection_require_type(ProfileSelection *sel)
{
	check_profile_type_syntax(sel->profile_type);
	sel->require_type = true;
}

/*
 * The ids of the series of a selection, ascending, and the distinct shard
 * keys they have (*keys, *nkeys), which every scan of the selection names.
 */
static int64 *
selection_series_ids(const ProfileSelection *sel, int *n, int32 **keys, int *nkeys)
{
	SeriesQuery q;
	MemoryContext caller = CurrentMemoryContext;
	int64	   *ids;
	int32	   *k;
	int			nk = 0;

	build_series_query(&q, sel);
	appendStringInfoString(&q.sql, " ORDER BY s.series_id");
	SPI_connect();
	if (SPI_execute_with_args(q.sql.data, q.nargs, q.types, q.values, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not select series");
	ids = MemoryContextAlloc(caller, sizeof(int64) * Max(SPI_processed, 1));
	k = MemoryContextAlloc(caller, sizeof(int32) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
											 1, &isnull));
		k[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
										   4, &isnull));
	}
	*n = (int) SPI_processed;
	SPI_finish();
	if (*n > 0)
	{
		qsort(k, *n, sizeof(int32), pyroscope_int32_cmp);
		nk = (int) qunique(k, *n, sizeof(int32), pyroscope_int32_cmp);
	}
	*keys = k;
	*nkeys = nk;
	if (*n == 0 && sel->require_type && sel->profile_type)
		pyroscope_check_profile_type(sel->tenant, sel->profile_type);
	return ids;
}

static Datum
int4_array(const int32 *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, 4, true, TYPALIGN_INT));
}

static Datum
int8_array(const int64 *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(ids[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* the number and types of the arguments of a selection's scans (selection_scan_args) */
#define SCAN_NARGS 6
#define SCAN_ARG_TYPES {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT4ARRAYOID, \
		UUIDARRAYOID}

/*
 * Run a read-only query of the scans (SCAN_NARGS arguments) through a
 * cursor, batch rows at a time, and pass each row to row(), in whatever
 * memory context the previous call left (the first in SPI's); the batch is
 * freed after it, so memory does not grow with the rows, and interrupts
 * are checked after every row.  Returns the rows visited.  Must run inside
 * SPI.
 */
typedef void (*CursorRowFn) (HeapTuple tup, TupleDesc desc, void *arg);

static uint64
for_each_cursor_row(const char *sql, Oid *types, Datum *args, long batch, CursorRowFn row,
					void *arg)
{
	Portal		portal = SPI_cursor_open_with_args(NULL, sql, SCAN_NARGS, types, args, NULL,
												   true, 0);
	uint64		count = 0;

	for (;;)
	{
		SPITupleTable *tt;
		uint64		n;

		SPI_cursor_fetch(portal, true, batch);
		tt = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		for (uint64 i = 0; i < n; i++)
		{
			row(tt->vals[i], tt->tupdesc, arg);
			count++;
			pyroscope_check_interrupts();
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	return count;
}

/*
 * What to do with each block of a selection: read it with r (block_id for
 * messages); return PYRO_OK or fail with err set.
 */
typedef PyroStatus (*BlockReadFn) (PyroBlockReader *r, int64 block_id, void *arg,
								   PyroError *err);

typedef struct ScanBlocksArg
{
	MemoryContext caller;
	BlockReadFn read;
	void	   *arg;
} ScanBlocksArg;

static void
scan_blocks_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	ScanBlocksArg *a = (ScanBlocksArg *) arg;
	bool		isnull;
	bool		data_isnull;
	bool		key_isnull;
	int64		block_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	int64		size = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	Datum		data = SPI_getbinval(tup, desc, 3, &data_isnull);
	Datum		key = SPI_getbinval(tup, desc, 4, &key_isnull);
	StoredBlockSource src;
	PyroBlockReader *r = NULL;
	PyroError	err;

	MemoryContextSwitchTo(a->caller);
	if (pyroscope_stored_block_open(&src, block_id, data, data_isnull,
									key_isnull ? NULL : TextDatumGetCString(key),
									size, &r, &err) != PYRO_OK ||
		a->read(r, block_id, a->arg, &err) != PYRO_OK)
	{
		if (err.code == PYRO_ENOMEM && pyroscope_budget_exceeded())
			pyroscope_report(&err, "could not read block");
		pyroscope_stored_block_report(block_id, &err);
	}
	pyro_block_close(r);
}

/*
 * Open every block, in the database or offloaded, that may hold the
 * selected series (args: $1 series ids, $2 start, $3 end, $4 tenant) and
 * pass it to read, in the caller's memory context, a few rows at a time (a
 * block may be large).  Must run inside SPI.  Returns the number of blocks
 * read.
 */
static uint64
scan_blocks(Datum *args, Oid *types, MemoryContext caller, BlockReadFn read, void *arg,
			bool offloaded_only)
{
	ScanBlocksArg a = {caller, read, arg};

	return for_each_cursor_row(offloaded_only
							   ? "SELECT b.block_id, b.size, b.data, b.object_key"
							   " FROM pyroscope.blocks b"
							   " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
							   " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
							   " AND b.object_key IS NOT NULL"
							   " ORDER BY b.min_ts, b.block_id"
							   : "SELECT b.block_id, b.size, b.data, b.object_key"
							   " FROM pyroscope.blocks b"
							   " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
							   " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
							   " ORDER BY b.min_ts, b.block_id",
							   types, args, 16, scan_blocks_row, &a);
}

/* the profile ids of a selection as a uuid[] (a NULL Datum without ids) */
static Datum
profile_ids_array(const ProfileSelection *sel)
{
	Datum	   *d;

	if (sel->profile_ids == NULL)	/* no filter: an empty array, unused */
		return PointerGetDatum(construct_empty_array(UUIDOID));
	d = palloc(sizeof(Datum) * Max(sel->nprofile_ids, 1));
	for (int i = 0; i < sel->nprofile_ids; i++)
		d[i] = UUIDPGetDatum(&sel->profile_ids[i]);
	return PointerGetDatum(construct_array(d, sel->nprofile_ids, UUIDOID, UUID_LEN, false,
										   TYPALIGN_CHAR));
}

/*
 * Restrict a selection to the profiles of the given ingested profiles (ids
 * sorted and de-duplicated in place; n = 0 selects nothing).
 */
void
pyroscope_selection_set_profile_ids(ProfileSelection *sel, pg_uuid_t *ids, int n)
{
	sel->profile_ids = ids;
	sel->nprofile_ids = pyroscope_sort_profile_ids(ids, n);
}

/* scan_blocks reader of pyroscope_scan_selection: one merged profile per block */
/*
 * The arguments of the scans of a selection ($1 series ids, $2 start, $3
 * end, $4 tenant, $5 the shard keys of the series, $6 profile ids or NULL;
 * types in SCAN_ARG_TYPES) and the query of its blocks; false when no
 * series matches.
 */

static bool
selection_scan_args(const ProfileSelection *sel, Datum *args, PyroBlockQuery *bq)
{
	int64	   *ids;
	int			nids;
	int32	   *keys;
	int			nkeys;

	ids = selection_series_ids(sel, &nids, &keys, &nkeys);
	if (nids == 0)
		return false;
	args[0] = int8_array(ids, nids);
	args[1] = TimestampTzGetDatum(sel->start);
	args[2] = TimestampTzGetDatum(sel->end);
	args[3] = CStringGetTextDatum(sel->tenant);
	args[4] = int4_array(keys, nkeys);
	args[5] = profile_ids_array(sel);
	memset(bq, 0, sizeof(*bq));
	bq->series_ids = ids;
	bq->nseries = nids;
	if (sel->profile_ids)
	{
		bq->ids = (const uint8 *) sel->profile_ids;
		bq->nids = sel->nprofile_ids;
	}
	bq->start = pyroscope_timestamptz_to_ms_ceil(sel->start);
	bq->end = pyroscope_timestamptz_to_ms(sel->end);
	return true;
}

/*
 * What scan_tiers calls: head_row for each head row (its profile, and the
 * row with columns series_id, ts, total at 5, 6, 4), read_block for each
 * block.  The argument of both starts with a TierScanArg, whose bq
 * scan_tiers sets to the query of the blocks.
 */
typedef void (*HeadRowFn) (PyroProfile *p, HeapTuple tup, TupleDesc desc, void *arg);

typedef struct TierScanArg
{
	const PyroBlockQuery *bq;
} TierScanArg;

/* a head row of scan_tiers: its profile (decoded once per stored pprof) to head_row */
typedef struct TierHeadRows
{
	HeadReader *reader;
	MemoryContext caller;
	HeadRowFn	head_row;
	void	   *arg;
} TierHeadRows;

static void
tier_head_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	TierHeadRows *rows = (TierHeadRows *) arg;
	PyroProfile *p = head_reader_get_row(rows->reader, tup, desc, 1, 8);

	MemoryContextSwitchTo(rows->caller);
	rows->head_row(p, tup, desc, rows->arg);
}

/*
 * Scan every tier of a selection: the head rows in pprof order, so that
 * each stored pprof is decoded once, then every block in the database or
 * offloaded that may hold the selection.  keep_spans keeps span ids in
 * what blocks return; use_aggregates lets blocks answer from their
 * pre-merged aggregates.  Calls happen in the caller's memory context.
 * Returns the number of head rows and blocks visited.
 */
static uint64
scan_tiers(const ProfileSelection *sel, bool keep_spans, bool use_aggregates,
		   HeadRowFn head_row, BlockReadFn read_block, void *arg)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext rowctx;
	uint64		count;
	Datum		args[SCAN_NARGS];
	Oid			types[SCAN_NARGS] = SCAN_ARG_TYPES;
	PyroBlockQuery bq;
	HeadReader	reader;
	TierHeadRows rows;

	pyroscope_check_time_range(sel->start, sel->end);
	if (!selection_scan_args(sel, args, &bq))
		return 0;
	bq.use_aggregates = use_aggregates;
	bq.keep_spans = keep_spans;

	rowctx = AllocSetContextCreate(caller, "pyroscope scan row", ALLOCSET_DEFAULT_SIZES);
	SPI_connect();

	MemoryContextSwitchTo(rowctx);
	head_reader_init(&reader);
	MemoryContextSwitchTo(caller);
	rows.reader = &reader;
	rows.caller = caller;
	rows.head_row = head_row;
	rows.arg = arg;
	count = for_each_cursor_row(sel->profile_ids
								? "SELECT h.profile, h.pprof_id, h.part, h.total, h.series_id, h.ts, h.profile_id,"
								"  h.shard_key"
								" FROM pyroscope.head h"
								" WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
								" AND h.ts >= $2 AND h.ts <= $3 AND h.profile_id = ANY ($6)"
								" ORDER BY h.pprof_id, h.shard_key, h.part"
								: "SELECT h.profile, h.pprof_id, h.part, h.total, h.series_id, h.ts, h.profile_id,"
								"  h.shard_key"
								" FROM pyroscope.head h"
								" WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
								" AND h.ts >= $2 AND h.ts <= $3"
								" ORDER BY h.pprof_id, h.shard_key, h.part",
								types, args, SCAN_BATCH, tier_head_row, &rows);
	head_reader_done(&reader);

	((TierScanArg *) arg)->bq = &bq;
	count += scan_blocks(args, types, caller, read_block, arg, false);

	SPI_finish();
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(rowctx);
	return count;
}

/* scan_tiers callbacks of pyroscope_scan_selection: one profile per head row or block */
typedef struct MergedScan
{
	TierScanArg hdr;
	ProfileVisitor visit;
	void	   *arg;
} MergedScan;

static void
merged_head_row(PyroProfile *p, HeapTuple tup, TupleDesc desc, void *arg)
{
	MergedScan *m = (MergedScan *) arg;

	m->visit(p, m->arg);
}

static PyroStatus
visit_block_merged(PyroBlockReader *r, int64 block_id, void *arg, PyroError *err)
{
	MergedScan *m = (MergedScan *) arg;
	const PyroProfile *merged;
	PyroStatus	rc = pyro_block_read_merged(r, m->hdr.bq, &merged, err);

	if (rc == PYRO_OK)
		m->visit((PyroProfile *) merged, m->arg);
	return rc;
}

/* scan_tiers callbacks of pyroscope_scan_individual: every profile apart */
typedef struct IndividualScan
{
	TierScanArg hdr;
	IndividualVisitor visit;
	void	   *arg;
} IndividualScan;

static void
individual_head_row(PyroProfile *p, HeapTuple tup, TupleDesc desc, void *arg)
{
	IndividualScan *s = (IndividualScan *) arg;
	bool		isnull;
	int64		series_id = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
	Datum		id = SPI_getbinval(tup, desc, 7, &isnull);
	PyroError	err;

	/* the head row's ingested profile */
	if (isnull)
		memset(p->id, 0, PYRO_PROFILE_ID_LEN);
	else
		memcpy(p->id, DatumGetUUIDP(id)->data, PYRO_PROFILE_ID_LEN);
	pyro_error_clear(&err);
	if (s->visit(series_id, pyroscope_timestamptz_to_ms(ts), p, s->arg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not read profile");
}

static PyroStatus
individual_block_profile(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p,
						 PyroError *err)
{
	IndividualScan *s = (IndividualScan *) arg;

	return s->visit(series_id, ts, p, s->arg, err);
}

static PyroStatus
individual_block(PyroBlockReader *r, int64 block_id, void *arg, PyroError *err)
{
	IndividualScan *s = (IndividualScan *) arg;

	return pyro_block_read_profiles(r, s->hdr.bq, individual_block_profile, s, err);
}

static bool merge_pushdown(const ProfileSelection *sel);

/* rows of a span summary query fetched at a time */
#define SPAN_BATCH 1024

/*
 * Run a query returning span summaries (series_id, ts, profile_id, spans:
 * the rows [span id, total, trace high, trace low] of pprof_part_spans())
 * through a cursor, and visit each as a profile of one sample per span id
 * (its total, no stack) with the spans' traces; p is that profile, reused.
 * Rows without spans are skipped.  Must run inside SPI.
 */
typedef struct SpanQueryArg
{
	PyroProfile *p;
	IndividualVisitor visit;
	void	   *arg;
	MemoryContext caller;
	MemoryContext rowctx;		/* what a row needs, freed after it */
} SpanQueryArg;

static void
span_query_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	SpanQueryArg *a = (SpanQueryArg *) arg;
	PyroProfile *p = a->p;
	bool		isnull;
	int64		series_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
	Datum		id = SPI_getbinval(tup, desc, 3, &isnull);
	Datum		spans;
	ArrayType  *arr;
	Datum	   *e;
	bool	   *nulls;
	int			n;
	PyroError	err;
	PyroStatus	rc;

	if (isnull)
		memset(p->id, 0, PYRO_PROFILE_ID_LEN);
	else
		memcpy(p->id, DatumGetUUIDP(id)->data, PYRO_PROFILE_ID_LEN);
	spans = SPI_getbinval(tup, desc, 4, &isnull);
	if (isnull)
		return;
	MemoryContextSwitchTo(a->rowctx);
	arr = DatumGetArrayTypeP(spans);
	if (ARR_NDIM(arr) != 2 || ARR_DIMS(arr)[1] != 4)
		elog(ERROR, "span summary is not an array of rows of 4");
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &e, &nulls, &n);
	MemoryContextSwitchTo(a->caller);
	p->nsamples = 0;
	p->ntraces = 0;
	for (int i = 0; i + 3 < n; i += 4)
	{
		uint64		span = (uint64) DatumGetInt64(e[i]);

		if (nulls[i] || nulls[i + 1])
			elog(ERROR, "span summary with a NULL span id or total");
		if (!pyro_profile_add_sample(p, 0, DatumGetInt64(e[i + 1]), span) ||
			(!nulls[i + 2] && !nulls[i + 3] &&
			 !pyro_profile_add_trace(p, span, (uint64) DatumGetInt64(e[i + 2]),
									 (uint64) DatumGetInt64(e[i + 3]))))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	pyro_error_clear(&err);
	rc = a->visit(series_id, pyroscope_timestamptz_to_ms(ts), p, a->arg, &err);
	if (rc != PYRO_OK)
		pyroscope_report(&err, "could not read profile");
	MemoryContextReset(a->rowctx);
}

static void
visit_span_query(const char *sql, Oid *types, Datum *args, PyroProfile *p,
				 IndividualVisitor visit, void *arg, MemoryContext caller)
{
	MemoryContext spi = CurrentMemoryContext;
	SpanQueryArg a = {p, visit, arg, caller, NULL};

	a.rowctx = AllocSetContextCreate(spi, "pyroscope span row", ALLOCSET_SMALL_SIZES);
	for_each_cursor_row(sql, types, args, SPAN_BATCH, span_query_row, &a);
	MemoryContextSwitchTo(spi);
	MemoryContextDelete(a.rowctx);
}

/*
 * pyroscope_scan_individual where the rows are: span summaries of each
 * profile with span ids, made by SQL where the rows live (on Citus, on the
 * worker holding each shard): pprof_part_spans() of head rows' stored
 * pprofs, profile_spans() of their profile values, block_profile_spans()
 * of the blocks in the database; offloaded blocks are read here.
 */
static void
individual_pushdown(const ProfileSelection *sel, IndividualVisitor visit, void *arg)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[SCAN_NARGS];
	Oid			types[SCAN_NARGS] = SCAN_ARG_TYPES;
	PyroBlockQuery bq;
	PyroSymbols *sym;
	PyroProfile *p;
	IndividualScan s;
	TimestampTz start_ceil;

	pyroscope_check_time_range(sel->start, sel->end);
	if (!selection_scan_args(sel, args, &bq))
		return;
	sym = pyro_symbols_create();
	p = sym ? pyro_profile_create(sym, true) : NULL;
	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));

	SPI_connect();
	visit_span_query(sel->profile_ids
					 ? "SELECT h.series_id, h.ts, h.profile_id, pyroscope.pprof_part_spans(hp.data, h.part)"
					 " FROM pyroscope.head h JOIN pyroscope.head_pprof hp"
					 "   ON hp.shard_key = h.shard_key AND hp.pprof_id = h.pprof_id"
					 " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					 " AND h.ts >= $2 AND h.ts <= $3 AND h.profile_id = ANY ($6)"
					 : "SELECT h.series_id, h.ts, h.profile_id, pyroscope.pprof_part_spans(hp.data, h.part)"
					 " FROM pyroscope.head h JOIN pyroscope.head_pprof hp"
					 "   ON hp.shard_key = h.shard_key AND hp.pprof_id = h.pprof_id"
					 " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					 " AND h.ts >= $2 AND h.ts <= $3",
					 types, args, p, visit, arg, caller);
	visit_span_query(sel->profile_ids
					 ? "SELECT h.series_id, h.ts, h.profile_id, pyroscope.profile_spans(h.profile)"
					 " FROM pyroscope.head h"
					 " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					 " AND h.ts >= $2 AND h.ts <= $3 AND h.profile IS NOT NULL"
					 " AND h.profile_id = ANY ($6)"
					 : "SELECT h.series_id, h.ts, h.profile_id, pyroscope.profile_spans(h.profile)"
					 " FROM pyroscope.head h"
					 " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					 " AND h.ts >= $2 AND h.ts <= $3 AND h.profile IS NOT NULL",
					 types, args, p, visit, arg, caller);

	/* blocks in the database, read where they are */
	start_ceil = TIMESTAMP_NOT_FINITE(sel->start) ? sel->start :
		pyroscope_ms_to_timestamptz(pyroscope_timestamptz_to_ms_ceil(sel->start));
	{
		Datum		bargs[SCAN_NARGS];

		memcpy(bargs, args, sizeof(bargs));
		bargs[1] = TimestampTzGetDatum(start_ceil);
		visit_span_query(sel->profile_ids
						 ? "SELECT s.series_id, s.ts, s.profile_id, s.spans FROM pyroscope.blocks b"
						 " CROSS JOIN LATERAL pyroscope.block_profile_spans(b.data, $1, $2, $3) s"
						 " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
						 " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
						 " AND b.data IS NOT NULL AND s.profile_id = ANY ($6)"
						 : "SELECT s.series_id, s.ts, s.profile_id, s.spans FROM pyroscope.blocks b"
						 " CROSS JOIN LATERAL pyroscope.block_profile_spans(b.data, $1, $2, $3) s"
						 " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
						 " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
						 " AND b.data IS NOT NULL",
						 types, bargs, p, visit, arg, caller);
	}

	/* offloaded blocks, from the object store */
	bq.use_aggregates = false;
	bq.keep_spans = true;
	s.hdr.bq = &bq;
	s.visit = visit;
	s.arg = arg;
	(void) scan_blocks(args, types, caller, individual_block, &s, true);
	SPI_finish();
	MemoryContextSwitchTo(caller);
	pyro_profile_free(p);
}

/*
 * Visit every stored profile of a selection apart (head rows and the
 * profiles blocks keep), with their samples' span ids.  visit runs inside
 * block readers: it must not ereport, and reports failure through err.
 * When the profiles are read where the rows are (pyroscope.merge_pushdown),
 * only profiles with span ids are visited, each as one sample per span id
 * (its total, no stack) with the spans' traces: visit must look at nothing
 * else.
 */
void
pyroscope_scan_individual(const ProfileSelection *sel, IndividualVisitor visit, void *arg)
{
	IndividualScan s;

	if (merge_pushdown(sel))
	{
		individual_pushdown(sel, visit, arg);
		return;
	}
	s.visit = visit;
	s.arg = arg;
	(void) scan_tiers(sel, true, false, individual_head_row, individual_block, &s);
}

/* what pyroscope_selection_spans_of_traces gathers */
typedef struct TraceSpans
{
	const uint64 *traces;		/* pairs (hi, lo) */
	int			ntraces;
	uint64	   *spans;
	size_t		nspans;
	size_t		cap;
} TraceSpans;

static PyroStatus
trace_spans_of(int64 series_id, int64 ts_ms, const PyroProfile *p, void *arg, PyroError *err)
{
	TraceSpans *t = (TraceSpans *) arg;

	for (size_t i = 0; i < p->ntraces; i++)
		for (int k = 0; k < t->ntraces; k++)
			if (p->traces[i].trace_hi == t->traces[2 * k] &&
				p->traces[i].trace_lo == t->traces[2 * k + 1])
			{
				if (!pyro_grow((void **) &t->spans, &t->cap, t->nspans + 1, sizeof(uint64)))
					return pyro_error_set(err, PYRO_ENOMEM, "out of memory selecting traces");
				t->spans[t->nspans++] = p->traces[i].span;
			}
	return PYRO_OK;
}

static int
uint64_cmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

/*
 * The span ids (16 hex digits each) of the given traces (pairs of 64-bit
 * halves) in a selection: a trace is selected through its spans, whose
 * traces the stored profiles keep.  NULL with *nspans = 0 when none.
 */
char	  **
pyroscope_selection_spans_of_traces(const ProfileSelection *sel, const uint64 *traces,
									int ntraces, size_t *nspans)
{
	TraceSpans	t;
	char	  **out;
	size_t		k = 0;

	memset(&t, 0, sizeof(t));
	t.traces = traces;
	t.ntraces = ntraces;
	pyroscope_scan_individual(sel, trace_spans_of, &t);
	*nspans = 0;
	if (t.nspans == 0)
		return NULL;
	qsort(t.spans, t.nspans, sizeof(uint64), uint64_cmp);
	out = palloc(sizeof(char *) * t.nspans);
	for (size_t i = 0; i < t.nspans; i++)
		if (i == 0 || t.spans[i] != t.spans[i - 1])
			out[k++] = psprintf("%016llx", (unsigned long long) t.spans[i]);
	pyro_free(t.spans);
	*nspans = k;
	return out;
}

/*
 * Visit the stored profiles of a selection: each head row as one profile,
 * and each block as the merge of its selected profiles (read with its
 * aggregates where they cover the range).  Visits happen in the caller's
 * memory context.  keep_spans keeps span ids in what blocks return (at the
 * price of not using their aggregates).  Returns the number of head
 * profiles and blocks visited.
 */
static uint64
pyroscope_scan_selection(const ProfileSelection *sel, bool keep_spans,
						 ProfileVisitor visit, void *arg)
{
	MergedScan	m;

	m.visit = visit;
	m.arg = arg;
	return scan_tiers(sel, keep_spans, !keep_spans, merged_head_row, visit_block_merged, &m);
}

/* Where pyroscope_selection_totals passes the totals that blocks report. */
typedef struct TotalsSink
{
	ProfileTotalVisitor visit;
	void	   *arg;
	MemoryContext caller;
	const PyroBlockQuery *bq;
} TotalsSink;

static PyroStatus
totals_visitor(void *arg, int64_t series_id, int64_t ts, int64_t total, const uint8_t *id,
			   PyroError *err)
{
	TotalsSink *sink = (TotalsSink *) arg;
	MemoryContext old = MemoryContextSwitchTo(sink->caller);

	sink->visit(series_id, pyroscope_ms_to_timestamptz(ts), total, (const pg_uuid_t *) id,
				sink->arg);
	MemoryContextSwitchTo(old);
	return PYRO_OK;
}

static PyroStatus
read_block_totals(PyroBlockReader *r, int64 block_id, void *arg, PyroError *err)
{
	TotalsSink *sink = (TotalsSink *) arg;

	return pyro_block_read_totals(r, sink->bq, totals_visitor, sink, err);
}

/* rows of a totals query fetched at a time: its memory does not grow with the range */
#define TOTALS_BATCH 4096

/*
 * Run a query returning (series_id, ts, total, profile_id) rows through a
 * cursor and visit each row (in the caller's memory context), a batch at a
 * time.  Must run inside SPI.
 */
typedef struct TotalsQueryArg
{
	ProfileTotalVisitor visit;
	void	   *arg;
	MemoryContext caller;
} TotalsQueryArg;

static void
totals_query_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	TotalsQueryArg *a = (TotalsQueryArg *) arg;
	bool		isnull;
	int64		series_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
	int64		total = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	Datum		id = SPI_getbinval(tup, desc, 4, &isnull);

	MemoryContextSwitchTo(a->caller);
	a->visit(series_id, ts, total, isnull ? NULL : DatumGetUUIDP(id), a->arg);
}

static void
visit_totals_query(const char *sql, Oid *types, Datum *args, ProfileTotalVisitor visit,
				   void *arg, MemoryContext caller)
{
	MemoryContext spi = CurrentMemoryContext;
	TotalsQueryArg a = {visit, arg, caller};

	for_each_cursor_row(sql, types, args, TOTALS_BATCH, totals_query_row, &a);
	MemoryContextSwitchTo(spi);
}

/*
 * Series, time and total of every stored profile of a selection, from head
 * and blocks alike (blocks answer from their profile index, without
 * reading samples), to visit (called in the caller's memory context).  The
 * basis of time series and timelines.
 */
void
pyroscope_selection_totals(const ProfileSelection *sel, ProfileTotalVisitor visit, void *arg)
{
	TotalsSink	sink;
	Datum		args[SCAN_NARGS];
	Oid			types[SCAN_NARGS] = SCAN_ARG_TYPES;
	PyroBlockQuery bq;

	check_profile_type_syntax(sel->profile_type);
	pyroscope_check_time_range(sel->start, sel->end);
	sink.visit = visit;
	sink.arg = arg;
	sink.caller = CurrentMemoryContext;
	if (!selection_scan_args(sel, args, &bq))
		return;

	SPI_connect();
	visit_totals_query(sel->profile_ids
					   ? "SELECT h.series_id, h.ts, h.total, h.profile_id FROM pyroscope.head h"
					   " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					   " AND h.ts >= $2 AND h.ts <= $3 AND h.profile_id = ANY ($6)"
					   : "SELECT h.series_id, h.ts, h.total, h.profile_id FROM pyroscope.head h"
					   " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					   " AND h.ts >= $2 AND h.ts <= $3",
					   types, args, visit, arg, sink.caller);

	sink.bq = &bq;
	if (merge_pushdown(sel))
	{
		/*
		 * the blocks in the database read where they are (on Citus, on the
		 * worker holding each shard): their totals travel, not the blocks
		 */
		visit_totals_query(sel->profile_ids
						   ? "SELECT t.series_id, t.ts, t.total, t.profile_id"
						   " FROM pyroscope.blocks b,"
						   " LATERAL pyroscope.block_profile_totals(b.data, $1, $2, $3)"
						   "  WITH ORDINALITY t"
						   " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
						   " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
						   " AND b.data IS NOT NULL AND t.profile_id = ANY ($6)"
						   " ORDER BY b.min_ts, b.block_id, t.ordinality"
						   : "SELECT t.series_id, t.ts, t.total, t.profile_id"
						   " FROM pyroscope.blocks b,"
						   " LATERAL pyroscope.block_profile_totals(b.data, $1, $2, $3)"
						   "  WITH ORDINALITY t"
						   " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
						   " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
						   " AND b.data IS NOT NULL"
						   " ORDER BY b.min_ts, b.block_id, t.ordinality",
						   types, args, visit, arg, sink.caller);
		(void) scan_blocks(args, types, sink.caller, read_block_totals, &sink, true);
	}
	else
		(void) scan_blocks(args, types, sink.caller, read_block_totals, &sink, false);
	SPI_finish();
}

static uint64
pyroscope_scan_profiles(const ProfileSelection *sel, ProfileVisitor visit, void *arg)
{
	return pyroscope_scan_selection(sel, false, visit, arg);
}

static void
tree_visitor(PyroProfile *p, void *arg)
{
	PyroError	err;

	if (pyro_tree_add_profile((PyroTree *) arg, p, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build call tree");
}

/* ---------------------------------------------------------------------
 * Merging where the rows are (pyroscope.merge_pushdown)
 * ---------------------------------------------------------------------
 */

static int	tables_distributed = -1;	/* unknown */
static bool distributed_callback = false;

static void
distributed_forget(Datum arg, Oid relid)
{
	tables_distributed = -1;
}

/*
 * Whether series is a Citus distributed table: asked once, again after any
 * relation cache invalidation (distributing a table causes one).
 */
static bool
series_distributed(void)
{
	if (!distributed_callback)
	{
		CacheRegisterRelcacheCallback(distributed_forget, (Datum) 0);
		distributed_callback = true;
	}
	if (tables_distributed < 0)
	{
		bool		isnull;

		/* Citus's catalog, looked up without a statement (the common case) */
		tables_distributed = OidIsValid(get_relname_relid("pg_dist_partition",
														  PG_CATALOG_NAMESPACE)) ? 1 : 0;
		if (tables_distributed)
		{
			SPI_connect();
			if (SPI_execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition"
							" WHERE logicalrelid = 'pyroscope.series'::pg_catalog.regclass)",
							true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not look for Citus");
			tables_distributed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1,
															&isnull)) ? 1 : 0;
			SPI_finish();
		}
	}
	return tables_distributed == 1;
}

/* Whether a selection's profiles are merged by SQL where the rows are. */
static bool
merge_pushdown(const ProfileSelection *sel)
{
	switch (pyroscope_merge_pushdown)
	{
		case MERGE_PUSHDOWN_ON:
			return true;
		case MERGE_PUSHDOWN_OFF:
			return false;
		default:
			return series_distributed();
	}
}

/* Visit the merged profile values (NULL: nothing) of the current SPI result. */
static void
visit_merged_result(ProfileVisitor visit, void *arg, MemoryContext caller)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old;
		PyroProfile *p;

		if (isnull)
			continue;
		old = MemoryContextSwitchTo(caller);
		p = profile_value_decode(DatumGetProfileValueP(v));
		visit(p, arg);
		pyro_profile_free(p);
		MemoryContextSwitchTo(old);
	}
}

/*
 * What the offloaded blocks of a pushed-down merge are read into: visit,
 * or with a span filter a merger that applies it (its result is visited
 * once every block is read).
 */
typedef struct PushdownBlocks
{
	const PyroBlockQuery *bq;
	ProfileVisitor visit;
	void	   *arg;
	PyroMerger *spans;
} PushdownBlocks;

static PyroStatus
pushdown_block_read(PyroBlockReader *r, int64 block_id, void *arg, PyroError *err)
{
	PushdownBlocks *pb = (PushdownBlocks *) arg;
	const PyroProfile *p;
	PyroStatus	rc = pyro_block_read_merged(r, pb->bq, &p, err);

	if (rc != PYRO_OK)
		return rc;
	if (p == NULL || p->nsamples == 0)
		return PYRO_OK;
	if (pb->spans)
		return pyro_merger_add_profile(pb->spans, p, err);
	pb->visit((PyroProfile *) p, pb->arg);
	return PYRO_OK;
}

/* the arguments of a pushed-down merge: a selection's scan, then span ids */
#define PUSHDOWN_NARGS (SCAN_NARGS + 1)

/*
 * The profiles of a selection merged by SQL where the rows are: the head
 * rows' profiles (stored pprofs' parts, and profile values) and the blocks
 * in the database each by pyroscope.merge() grouped by shard key, which
 * Citus runs whole on the worker holding each shard (a group is on one
 * shard), so that one merged profile per service travels instead of rows;
 * offloaded blocks are read here, from the object store.  A selection of
 * profile ids is applied where the rows are, and so are span ids (nspans of
 * them, when any: pyroscope.filter_spans() before the merge).  Each merged
 * profile goes to visit (a call tree or a merger: the same result as the
 * row by row scan).
 */
static void
selection_merge_pushdown(const ProfileSelection *sel, const uint64 *spans, size_t nspans,
						 ProfileVisitor visit, void *arg)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[PUSHDOWN_NARGS];
	Oid			types[PUSHDOWN_NARGS] = SCAN_ARG_TYPES;
	PyroBlockQuery bq;
	TimestampTz start_ceil;
	const char *ids = sel->profile_ids ? " AND h.profile_id = ANY ($6)" : "";
	Datum	   *d;
	StringInfoData sql;

	pyroscope_check_time_range(sel->start, sel->end);
	if (!selection_scan_args(sel, args, &bq))
		return;
	types[SCAN_NARGS] = INT8ARRAYOID;
	d = palloc(sizeof(Datum) * Max(nspans, 1));
	for (size_t i = 0; i < nspans; i++)
		d[i] = Int64GetDatum((int64) spans[i]);
	args[SCAN_NARGS] = PointerGetDatum(construct_array(d, (int) nspans, INT8OID, 8,
													   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	SPI_connect();
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT pyroscope.merge(%s)"
					 " FROM pyroscope.head h JOIN pyroscope.head_pprof hp"
					 "   ON hp.shard_key = h.shard_key AND hp.pprof_id = h.pprof_id"
					 " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					 " AND h.ts >= $2 AND h.ts <= $3%s GROUP BY h.shard_key",
					 nspans > 0
					 ? "pyroscope.filter_spans(pyroscope.pprof_part(hp.data, h.part), $7)"
					 : "pyroscope.pprof_part(hp.data, h.part)", ids);
	if (SPI_execute_with_args(sql.data, PUSHDOWN_NARGS, types, args, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not merge the head of a selection");
	visit_merged_result(visit, arg, caller);
	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT pyroscope.merge(%s) FROM pyroscope.head h"
					 " WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
					 " AND h.ts >= $2 AND h.ts <= $3 AND h.profile IS NOT NULL%s"
					 " GROUP BY h.shard_key",
					 nspans > 0 ? "pyroscope.filter_spans(h.profile, $7)" : "h.profile", ids);
	if (SPI_execute_with_args(sql.data, PUSHDOWN_NARGS, types, args, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not merge the head of a selection");
	visit_merged_result(visit, arg, caller);

	/*
	 * blocks in the database: block_profile() floors its start to a
	 * millisecond where the row scan rounds it up
	 */
	start_ceil = TIMESTAMP_NOT_FINITE(sel->start) ? sel->start :
		pyroscope_ms_to_timestamptz(pyroscope_timestamptz_to_ms_ceil(sel->start));
	{
		Datum		bargs[PUSHDOWN_NARGS];
		const char *block;

		memcpy(bargs, args, sizeof(bargs));
		bargs[1] = TimestampTzGetDatum(start_ceil);
		if (nspans > 0)
			block = sel->profile_ids
				? "pyroscope.filter_spans(pyroscope.block_profile(b.data, $1, $2, $3, $6, true), $7)"
				: "pyroscope.filter_spans(pyroscope.block_profile(b.data, $1, $2, $3, NULL, true), $7)";
		else
			block = sel->profile_ids
				? "pyroscope.block_profile(b.data, $1, $2, $3, $6, false)"
				: "pyroscope.block_profile(b.data, $1, $2, $3)";
		resetStringInfo(&sql);
		appendStringInfo(&sql,
						 "SELECT pyroscope.merge(%s) FROM pyroscope.blocks b"
						 " WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
						 " AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2"
						 " AND b.data IS NOT NULL GROUP BY b.shard_key", block);
		if (SPI_execute_with_args(sql.data, PUSHDOWN_NARGS, types, bargs, NULL, true, 0)
			!= SPI_OK_SELECT)
			elog(ERROR, "could not merge the blocks of a selection");
	}
	visit_merged_result(visit, arg, caller);

	/* offloaded blocks, from the object store */
	{
		PushdownBlocks pb;
		PyroError	err;

		bq.use_aggregates = nspans == 0 && sel->profile_ids == NULL;
		bq.keep_spans = nspans > 0;
		pb.bq = &bq;
		pb.visit = visit;
		pb.arg = arg;
		pb.spans = NULL;
		if (nspans > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			pb.spans = pyro_merger_create(0);
			if (pb.spans == NULL)
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			if (pyro_merger_set_span_filter(pb.spans, spans, nspans, &err) != PYRO_OK)
				pyroscope_report(&err, "could not filter spans");
			MemoryContextSwitchTo(old);
		}
		(void) scan_blocks(args, types, caller, pushdown_block_read, &pb, true);
		if (pb.spans && pyro_merger_count(pb.spans) > 0)
		{
			const PyroProfile *p;
			MemoryContext old = MemoryContextSwitchTo(caller);

			p = pyro_merger_result(pb.spans, &err);
			if (p == NULL)
				pyroscope_report(&err, "could not merge profiles");
			if (p->nsamples > 0)
				visit((PyroProfile *) p, arg);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	MemoryContextSwitchTo(caller);
}

PyroTree *
pyroscope_selection_tree(const ProfileSelection *sel)
{
	PyroTree   *t = pyro_tree_create();

	if (t == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (merge_pushdown(sel))
		selection_merge_pushdown(sel, NULL, 0, tree_visitor, t);
	else
		pyroscope_scan_profiles(sel, tree_visitor, t);
	return t;
}

/* 22023 for a negative max_nodes (0 is "no limit"). */
void
pyroscope_check_max_nodes(int32 max_nodes)
{
	if (max_nodes < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_nodes must not be negative")));
}

Datum
pyroscope_tree_flamegraph(const PyroTree *t, int32 max_nodes)
{
	PyroFlamegraph fg;
	PyroError	err;
	PyroBuf		json;

	pyroscope_check_max_nodes(max_nodes);
	if (pyro_flamegraph_build(t, max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build flame graph");
	pyro_buf_init(&json);
	pyro_flamegraph_json(&fg, &json);
	return pyroscope_json_to_jsonb(&json);
}

/*
 * The one pprof encoder of the engine: p in canonical form (so equal data
 * gives equal bytes whatever order or storage tier it was read from) as a
 * raw pprof with the one sample type of profile_type, the given period
 * and time (0: none).
 */
static void
encode_pprof(const PyroProfile *p, const char *profile_type, int64 period,
			 int64 time_nanos, PyroBuf *raw)
{
	PyroProfileType pt;
	PyroProfile *c;
	PyroError	err;

	if (pyro_profile_type_parse(profile_type, strlen(profile_type), &pt, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.msg)));
	if (pyro_profile_canonical(p, &c, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode pprof");
	c->time_nanos = time_nanos;
	if (time_nanos == 0)
		c->duration_nanos = 0;
	if (period < 0)
		period = c->period;
	pyro_buf_init(raw);
	if (pyro_pprof_encode(c, pt.sample_type, pt.sample_unit, pt.period_type,
						  pt.period_unit, period, time_nanos, raw, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode pprof");
	pyro_profile_free(c);
	pyro_profile_type_free(&pt);
}

/* raw as a gzip-compressed bytea */
static bytea *
gzip_bytea(PyroBuf *raw)
{
	PyroBuf		gz;
	PyroError	err;
	bytea	   *result;

	pyro_buf_init(&gz);
	if (pyro_gzip(raw->data, raw->len, 6, &gz, &err) != PYRO_OK)
		pyroscope_report(&err, "could not compress pprof");
	result = (bytea *) palloc(VARHDRSZ + gz.len);
	SET_VARSIZE(result, VARHDRSZ + gz.len);
	memcpy(VARDATA(result), gz.data, gz.len);
	pyro_buf_free(&gz);
	return result;
}

/*
 * A gzip-compressed pprof of one profile value p, typed by the profile
 * type id, with its own period and the given time (0: none).
 */
bytea *
pyroscope_profile_pprof(const PyroProfile *p, const char *profile_type, int64 time_nanos)
{
	PyroBuf		raw;
	bytea	   *result;

	encode_pprof(p, profile_type, -1, time_nanos, &raw);
	result = gzip_bytea(&raw);
	pyro_buf_free(&raw);
	return result;
}


static uint64
column_u64(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : (uint64) DatumGetInt64(d);
}

/*
 * What a query over sel would read, per tier (head and blocks), without
 * reading it; returns the number of series the selection matches.
 */
uint64
pyroscope_selection_analyze(const ProfileSelection *sel, SelectionScope *head,
							SelectionScope *blocks)
{
	Datum		args[SCAN_NARGS];
	Oid			types[SCAN_NARGS] = SCAN_ARG_TYPES;
	PyroBlockQuery bq;

	memset(head, 0, sizeof(*head));
	memset(blocks, 0, sizeof(*blocks));
	pyroscope_check_time_range(sel->start, sel->end);
	if (!selection_scan_args(sel, args, &bq))
		return 0;
	SPI_connect();
	if (SPI_execute_with_args("WITH h AS (SELECT h.series_id, h.nsamples, h.pprof_id, h.shard_key,"
							  "   pg_column_size(h.profile) AS size FROM pyroscope.head h"
							  "  WHERE h.shard_key = ANY ($5) AND h.series_id = ANY ($1)"
							  "  AND h.ts >= $2 AND h.ts <= $3)"
							  " SELECT count(DISTINCT series_id)::int8, count(*)::int8,"
							  "   coalesce(sum(nsamples), 0)::int8,"
							  "   (coalesce(sum(size), 0) + coalesce((SELECT sum(pg_column_size(p.data))"
							  "      FROM pyroscope.head_pprof p WHERE p.shard_key = ANY ($5)"
							  "      AND (p.shard_key, p.pprof_id) IN (SELECT shard_key, pprof_id FROM h)), 0))::int8"
							  " FROM h",
							  SCAN_NARGS, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not analyse the head of a selection");
	head->series = column_u64(1);
	head->profiles = column_u64(2);
	head->samples = column_u64(3);
	head->bytes = column_u64(4);
	if (SPI_execute_with_args("WITH b AS (SELECT b.nprofiles, b.nsamples, b.size, b.series_ids"
							  "   FROM pyroscope.blocks b WHERE b.shard_key = ANY ($5) AND b.tenant = $4"
							  "   AND b.series_ids && $1 AND b.min_ts <= $3 AND b.max_ts >= $2)"
							  " SELECT count(*)::int8, coalesce(sum(nprofiles), 0)::int8,"
							  "   coalesce(sum(nsamples), 0)::int8, coalesce(sum(size), 0)::int8,"
							  "   (SELECT count(DISTINCT s)::int8 FROM b, unnest(b.series_ids) s"
							  "     WHERE s = ANY ($1))"
							  " FROM b",
							  SCAN_NARGS, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not analyse the blocks of a selection");
	blocks->blocks = column_u64(1);
	blocks->profiles = column_u64(2);
	blocks->samples = column_u64(3);
	blocks->bytes = column_u64(4);
	blocks->series = column_u64(5);
	SPI_finish();
	return (uint64) bq.nseries;
}

/*
 * The series of a selection (profile_type NULL: of any type), in series id
 * order, to visit as (series_id, profile_type, labels) values.
 */
void
pyroscope_selection_series(const ProfileSelection *sel, SeriesRowVisitor visit, void *arg)
{
	SeriesQuery q;
	MemoryContext caller = CurrentMemoryContext;

	if (sel->profile_type)
		check_profile_type_syntax(sel->profile_type);
	pyroscope_check_time_range(sel->start, sel->end);

	build_series_query(&q, sel);
	appendStringInfoString(&q.sql, " ORDER BY s.series_id");
	SPI_connect();
	if (SPI_execute_with_args(q.sql.data, q.nargs, q.types, q.values, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not select series");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[3];
		bool		nulls[3];
		MemoryContext old;

		for (int c = 0; c < 3; c++)
			values[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									  c + 1, &nulls[c]);
		old = MemoryContextSwitchTo(caller);
		visit(values, nulls, arg);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
}

/* The flame graph (flamebearer jsonb) of a selection. */
Datum
pyroscope_selection_flamegraph(const ProfileSelection *sel, int32 max_nodes)
{
	return pyroscope_tree_flamegraph(pyroscope_selection_tree(sel), max_nodes);
}

/* The sample unit of a profile type id (its third part), or NULL. */
static char *
type_unit(const char *profile_type)
{
	const char *p = profile_type;
	const char *end;

	if (p == NULL)
		return NULL;
	for (int i = 0; i < 2; i++)
	{
		p = strchr(p, ':');
		if (p == NULL)
			return NULL;
		p++;
	}
	end = strchr(p, ':');
	return end ? pnstrdup(p, end - p) : pstrdup(p);
}

/* A built flame graph as an SVG document (text); frees fg. */
static Datum
svg_text(PyroFlamegraph *fg, const char *title, const char *unit)
{
	PyroBuf		svg;
	text	   *result;

	pyro_buf_init(&svg);
	pyro_flamegraph_svg(fg, title, unit, &svg);
	pyro_flamegraph_free(fg);
	if (svg.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = cstring_to_text_with_len((char *) svg.data, (int) svg.len);
	pyro_buf_free(&svg);
	return PointerGetDatum(result);
}

/* The flame graph of a tree as an SVG document (text). */
Datum
pyroscope_tree_flamegraph_svg(const PyroTree *t, int32 max_nodes, const char *title,
							  const char *unit)
{
	PyroFlamegraph fg;
	PyroError	err;

	pyroscope_check_max_nodes(max_nodes);
	if (pyro_flamegraph_build(t, max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build flame graph");
	return svg_text(&fg, title, unit);
}

/* The flame graph of a selection as an SVG document (text). */
Datum
pyroscope_selection_flamegraph_svg(const ProfileSelection *sel, int32 max_nodes,
								   const char *title)
{
	return pyroscope_tree_flamegraph_svg(pyroscope_selection_tree(sel), max_nodes, title,
										 type_unit(sel->profile_type));
}

/* The diff flame graph of two selections as an SVG document (text). */
Datum
pyroscope_selection_diff_svg(const ProfileSelection *left, const ProfileSelection *right,
							 int32 max_nodes, const char *title)
{
	PyroTree   *lt;
	PyroTree   *rt;
	PyroFlamegraph fg;
	PyroError	err;

	pyroscope_check_max_nodes(max_nodes);
	lt = pyroscope_selection_tree(left);
	rt = pyroscope_selection_tree(right);
	if (pyro_flamegraph_diff(lt, rt, max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build diff flame graph");
	return svg_text(&fg, title, type_unit(left->profile_type));
}

static void
merge_visitor(PyroProfile *p, void *arg)
{
	PyroError	err;

	if (pyro_merger_add_profile((PyroMerger *) arg, p, &err) != PYRO_OK)
		pyroscope_report(&err, "could not merge profiles");
}

/*
 * The profiles of a selection merged into one (in CurrentMemoryContext),
 * keeping only the samples of the given span ids (16 hex digits each) when
 * there are any.
 */
static const PyroProfile *
pyroscope_selection_merge(const ProfileSelection *sel, char **spans, size_t nspans)
{
	PyroMerger *m;
	const PyroProfile *p;
	PyroError	err;
	uint64	   *ids = palloc(sizeof(uint64) * Max(nspans, 1));

	m = pyro_merger_create(0);
	if (m == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (size_t i = 0; i < nspans; i++)
		if (strlen(spans[i]) != 16 || !pyro_parse_span_id(spans[i], 16, &ids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid span id \"%s\": expected 16 hexadecimal digits",
							spans[i])));

	/*
	 * the profiles may be merged where they are (pyroscope.merge_pushdown),
	 * spans filtered there; otherwise row by row, blocks keeping span ids
	 * when spans are filtered
	 */
	if (merge_pushdown(sel))
		selection_merge_pushdown(sel, ids, nspans, merge_visitor, m);
	else
	{
		if (nspans > 0 && pyro_merger_set_span_filter(m, ids, nspans, &err) != PYRO_OK)
			pyroscope_report(&err, "could not filter spans");
		pyroscope_scan_selection(sel, nspans > 0, merge_visitor, m);
	}
	p = pyro_merger_result(m, &err);
	if (p == NULL)
		pyroscope_report(&err, "could not merge profiles");
	return p;
}

/*
 * The call tree of a selection, of the given spans only (when any), cut to
 * the call site whose frames are call_site[0..ncall) (when any).
 */
PyroTree *
pyroscope_selection_tree_filtered(const ProfileSelection *sel, char **spans, size_t nspans,
								  const char *const *call_site, size_t ncall)
{
	PyroTree   *t;
	PyroError	err;

	if (nspans > 0)
	{
		const PyroProfile *p = pyroscope_selection_merge(sel, spans, nspans);

		t = pyro_tree_create();
		if (t == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (pyro_tree_add_profile(t, p, &err) != PYRO_OK)
			pyroscope_report(&err, "could not build call tree");
	}
	else
		t = pyroscope_selection_tree(sel);
	if (ncall > 0)
	{
		PyroTree   *cut;

		if (pyro_tree_call_site(t, call_site, ncall, &cut, &err) != PYRO_OK)
			pyroscope_report(&err, "could not filter call tree");
		t = cut;
	}
	return t;
}

/*
 * The merged pprof of a selection (of the given spans only, when any; its
 * stacks selected by call site or trimmed for Go's PGO when stacks says
 * so), raw, as upstream writes it (spec §7.4): the profile type's sample
 * and period types, the period guessed from its name, the time end_ms (0:
 * none).
 */
void
pyroscope_selection_pprof_raw(const ProfileSelection *sel, char **spans, size_t nspans,
							  const PyroStackSelector *stacks, int64 end_ms, PyroBuf *raw)
{
	const PyroProfile *p = pyroscope_selection_merge(sel, spans, nspans);
	PyroProfile *selected = NULL;

	if (stacks && (stacks->go_pgo || stacks->ncall > 0))
	{
		PyroError	err;

		if (pyro_profile_select_stacks(p, stacks, &selected, &err) != PYRO_OK)
			pyroscope_report(&err, "could not select stacks");
		p = selected;
	}
	encode_pprof(p, sel->profile_type, pyro_pprof_merged_period(sel->profile_type),
				 end_ms * 1000000, raw);
	pyro_profile_free(selected);
}

/*
 * The DOT call graph (API-2.md 3.7) of a selection's merged profile (of
 * the given spans only, its stacks selected when stacks says so), of at
 * most max_nodes nodes (<= 0: 100), timed end_ms; out stays empty when
 * nothing was selected.
 */
void
pyroscope_selection_dot(const ProfileSelection *sel, char **spans, size_t nspans,
						const PyroStackSelector *stacks, int64 end_ms, int max_nodes,
						PyroBuf *out)
{
	const PyroProfile *p = pyroscope_selection_merge(sel, spans, nspans);
	PyroProfile *selected = NULL;
	PyroProfileType pt;
	PyroError	err;

	pyro_buf_init(out);
	if (pyro_profile_type_parse(sel->profile_type, strlen(sel->profile_type), &pt, &err) != PYRO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.msg)));
	if (stacks && (stacks->go_pgo || stacks->ncall > 0))
	{
		if (pyro_profile_select_stacks(p, stacks, &selected, &err) != PYRO_OK)
			pyroscope_report(&err, "could not select stacks");
		p = selected;
	}
	if (pyro_dot_render(p, pt.sample_type, pt.sample_unit, end_ms * 1000000, max_nodes, out,
						&err) != PYRO_OK)
		pyroscope_report(&err, "could not render the call graph");
	pyro_profile_free(selected);
	pyro_profile_type_free(&pt);
}

/*
 * The same gzip-compressed, timed at the end of the range (no time when
 * the range is open-ended): pyroscope.merge_pprof().
 */
bytea *
pyroscope_selection_pprof(const ProfileSelection *sel)
{
	PyroBuf		raw;
	bytea	   *result;

	pyroscope_selection_pprof_raw(sel, NULL, 0, NULL,
								  TIMESTAMP_NOT_FINITE(sel->end) ? 0 :
								  pyroscope_timestamptz_to_ms(sel->end), &raw);
	result = gzip_bytea(&raw);
	pyro_buf_free(&raw);
	return result;
}

/* The diff flame graph (flamebearer "double", jsonb) of two selections. */
Datum
pyroscope_selection_diff(const ProfileSelection *left, const ProfileSelection *right,
						 int32 max_nodes)
{
	PyroTree   *lt;
	PyroTree   *rt;
	PyroFlamegraph fg;
	PyroError	err;
	PyroBuf		json;

	lt = pyroscope_selection_tree(left);
	rt = pyroscope_selection_tree(right);
	if (pyro_flamegraph_diff(lt, rt, max_nodes, &fg, &err) != PYRO_OK)
		pyroscope_report(&err, "could not build diff flame graph");
	pyro_buf_init(&json);
	pyro_flamegraph_json(&fg, &json);
	return pyroscope_json_to_jsonb(&json);
}

/* ---------------------------------------------------------------------
 * Individual stored profiles of a selection
 * ---------------------------------------------------------------------
 */

/* A profile a block visit collected, encoded: emitted after the block. */
typedef struct CollectedProfile
{
	int64		series_id;
	int64		ts_ms;
	int64		total;
	PyroBuf		encoded;
} CollectedProfile;

typedef struct ProfileCollector
{
	CollectedProfile *v;
	size_t		n;
	size_t		cap;
} ProfileCollector;

/* Collect without ereport: the visitor runs inside the block reader. */
static PyroStatus
collect_profile(void *arg, int64_t series_id, int64_t ts, const PyroProfile *p, PyroError *err)
{
	ProfileCollector *c = (ProfileCollector *) arg;
	CollectedProfile *cp;

	if (c->n == c->cap)
	{
		size_t		cap = c->cap ? c->cap * 2 : 64;
		size_t		bytes;
		void	   *v;

		if (!pyro_size_mul(cap, sizeof(CollectedProfile), &bytes))
			return pyro_error_set(err, PYRO_ELIMIT, "too many profiles in block");
		v = c->v ? pyro_realloc(c->v, c->cap * sizeof(CollectedProfile), bytes)
			: pyro_malloc(bytes);
		if (v == NULL)
			return pyro_error_set(err, PYRO_ENOMEM, "out of memory");
		c->v = v;
		c->cap = cap;
	}
	cp = &c->v[c->n];
	cp->series_id = series_id;
	cp->ts_ms = ts;
	cp->total = pyro_profile_total(p);
	pyro_buf_init(&cp->encoded);
	if (pyro_profile_encode(p, &cp->encoded, err) != PYRO_OK)
	{
		pyro_buf_free(&cp->encoded);
		return err->code;
	}
	c->n++;
	return PYRO_OK;
}

typedef struct EachProfileScan
{
	TierScanArg hdr;
	StoredProfileVisitor visit;
	void	   *arg;
} EachProfileScan;

static void
each_head_row(PyroProfile *p, HeapTuple tup, TupleDesc desc, void *arg)
{
	EachProfileScan *e = (EachProfileScan *) arg;
	bool		isnull;
	int64		total = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
	int64		series_id = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
	PyroBuf		buf;
	PyroError	err;
	ProfileValue *v;

	pyro_buf_init(&buf);
	if (pyro_profile_encode(p, &buf, &err) != PYRO_OK)
		pyroscope_report(&err, "could not encode profile");
	v = profile_value_from_buf(&buf);
	pyro_buf_free(&buf);
	e->visit(series_id, ts, total, v, e->arg);
}

static PyroStatus
visit_block_profiles(PyroBlockReader *r, int64 block_id, void *arg, PyroError *err)
{
	EachProfileScan *e = (EachProfileScan *) arg;
	ProfileCollector c = {0};
	PyroStatus	rc = pyro_block_read_profiles(r, e->hdr.bq, collect_profile, &c, err);

	for (size_t i = 0; i < c.n; i++)
	{
		if (rc == PYRO_OK)
			e->visit(c.v[i].series_id, pyroscope_ms_to_timestamptz(c.v[i].ts_ms), c.v[i].total,
					 profile_value_from_buf(&c.v[i].encoded), e->arg);
		pyro_buf_free(&c.v[i].encoded);
	}
	pyro_free(c.v);
	return rc;
}

/*
 * Visit every stored profile of a selection, from every tier, as a
 * profile value with its series, time and total: each head row, and each
 * profile a block holds (they keep their samples as stored).  Visits
 * happen in the caller's memory context.  Returns how many head rows and
 * blocks were read.
 */
uint64
pyroscope_selection_profiles(const ProfileSelection *sel, StoredProfileVisitor visit, void *arg)
{
	EachProfileScan e;

	check_profile_type_syntax(sel->profile_type);
	e.visit = visit;
	e.arg = arg;
	return scan_tiers(sel, true, false, each_head_row, visit_block_profiles, &e);
}

/*-------------------------------------------------------------------------
 *
 * metadata.c
 *	  What a tenant has stored, besides profiles: profile types, label
 *	  names and values, series label sets, the time span of its data; the
 *	  settings of settings.v1.SettingsService; and the HTTP credentials.
 *	  Lists come back in the caller's memory context, sorted as upstream
 *	  sorts them (bytewise; label lists for SQL in the database's
 *	  collation).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

/* The first column of the current SPI result as strings in context cxt. */
static char **
spi_text_column(MemoryContext cxt, uint64 *n)
{
	char	  **out;

	*n = SPI_processed;
	out = MemoryContextAlloc(cxt, sizeof(char *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		out[i] = MemoryContextStrdup(cxt, v ? v : "");
	}
	return out;
}

/* Run a query returning one text column; the values in the caller's context. */
static char **
text_column(const char *sql, int nargs, Oid *types, Datum *values, uint64 *n)
{
	MemoryContext caller = CurrentMemoryContext;
	char	  **out;

	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run query");
	out = spi_text_column(caller, n);
	SPI_finish();
	return out;
}

/* The profile type ids of the tenant's series seen in [start, end]. */
char	  **
pyroscope_profile_type_ids(const char *tenant, TimestampTz start, TimestampTz end, uint64 *n)
{
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(tenant);
	values[1] = TimestampTzGetDatum(start);
	values[2] = TimestampTzGetDatum(end);
	return text_column("SELECT p FROM (SELECT DISTINCT profile_type AS p FROM pyroscope.series"
					   " WHERE tenant = $1 AND first_seen <= $3 AND last_seen >= $2 /* every shard */) x"
					   " ORDER BY p COLLATE \"C\"", 3, types, values, n);
}

/* Every profile type id of the tenant (pyroscope.profile_types()). */
char	  **
pyroscope_all_profile_type_ids(const char *tenant, uint64 *n)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(tenant);
	return text_column("SELECT t FROM pyroscope.profile_types($1) t ORDER BY t COLLATE \"C\"",
					   1, types, values, n);
}

/* A selection of the series of any type matching selector in [start, end]. */
static void
label_selection(ProfileSelection *sel, const char *selector, TimestampTz start,
				TimestampTz end, const char *tenant)
{
	memset(sel, 0, sizeof(*sel));
	sel->profile_type = NULL;
	sel->selector = selector;
	sel->start = start;
	sel->end = end;
	sel->tenant = tenant;
}

/*
 * Label names of the series matching selector in [start, end], sorted
 * bytewise or (SQL) in the database's collation.  Found where the series
 * rows are: on Citus the names travel, not the series.
 */
char	  **
pyroscope_label_name_list(const char *selector, TimestampTz start, TimestampTz end,
						  const char *tenant, bool bytewise, uint64 *n)
{
	MemoryContext caller = CurrentMemoryContext;
	ProfileSelection sel;
	char	  **out;

	label_selection(&sel, selector, start, end, tenant);
	SPI_connect();
	pyroscope_series_statement(&sel,
							   bytewise
							   ? "SELECT DISTINCT k.k COLLATE \"C\" FROM pyroscope.series s /* series of a selection */"
							   " CROSS JOIN LATERAL jsonb_object_keys(s.labels) k(k)"
							   : "SELECT DISTINCT k.k FROM pyroscope.series s /* series of a selection */"
							   " CROSS JOIN LATERAL jsonb_object_keys(s.labels) k(k)",
							   0, NULL, NULL, " ORDER BY 1");
	out = spi_text_column(caller, n);
	SPI_finish();
	return out;
}

/*
 * Values of label name over the series matching selector in [start, end],
 * sorted as pyroscope_label_name_list sorts, found where the series are.
 */
char	  **
pyroscope_label_value_list(const char *name, const char *selector, TimestampTz start,
						   TimestampTz end, const char *tenant, bool bytewise, uint64 *n)
{
	MemoryContext caller = CurrentMemoryContext;
	ProfileSelection sel;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	  **out;

	label_selection(&sel, selector, start, end, tenant);
	values[0] = CStringGetTextDatum(name);
	SPI_connect();
	pyroscope_series_statement(&sel,
							   bytewise
							   ? "SELECT DISTINCT (s.labels ->> $4) COLLATE \"C\" FROM pyroscope.series s /* series of a selection */"
							   : "SELECT DISTINCT s.labels ->> $4 FROM pyroscope.series s /* series of a selection */",
							   1, types, values, " AND s.labels ? $4 ORDER BY 1");
	out = spi_text_column(caller, n);
	SPI_finish();
	return out;
}

/*
 * The distinct label sets of the series matching selector in [start, end],
 * each projected to label_names (all when nnames is 0) and, unless utf8,
 * to names of the legacy form; sorted, empty sets left out.  Projected and
 * made distinct where the series rows are.
 */
PyroLabelRow *
pyroscope_series_label_sets(const char *selector, TimestampTz start, TimestampTz end,
							const char *tenant, char **label_names, int nnames, bool utf8,
							uint64 *n)
{
	Oid			types[2] = {TEXTARRAYOID, BOOLOID};
	Datum		values[2];
	Datum	   *ln;
	MemoryContext caller = CurrentMemoryContext;
	ProfileSelection sel;
	PyroLabelRow *rows;

	ln = palloc(sizeof(Datum) * Max(nnames, 1));
	for (int i = 0; i < nnames; i++)
		ln[i] = CStringGetTextDatum(label_names[i]);
	values[0] = PointerGetDatum(construct_array(ln, nnames, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = BoolGetDatum(utf8);
	label_selection(&sel, selector, start, end, tenant);
	SPI_connect();
	pyroscope_series_statement(&sel,
							   "SELECT DISTINCT p.k, p.v FROM pyroscope.series s /* series of a selection */ CROSS JOIN LATERAL"
							   " (SELECT array_agg(e.key ORDER BY e.key COLLATE \"C\") k,"
							   "         array_agg(e.value ORDER BY e.key COLLATE \"C\") v"
							   "    FROM jsonb_each_text(s.labels) e"
							   "   WHERE (cardinality($4) = 0 OR e.key = ANY ($4))"
							   "     AND ($5 OR e.key ~ '^[a-zA-Z_][a-zA-Z0-9_]*$')) p",
							   2, types, values, " AND p.k IS NOT NULL ORDER BY 1, 2");
	*n = SPI_processed;
	rows = MemoryContextAlloc(caller, sizeof(PyroLabelRow) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		kd = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		vd = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		Datum	   *ks;
		Datum	   *vs;
		int			nk;
		int			nv;
		MemoryContext old = MemoryContextSwitchTo(caller);

		deconstruct_array(DatumGetArrayTypeP(kd), TEXTOID, -1, false, TYPALIGN_INT, &ks, NULL, &nk);
		deconstruct_array(DatumGetArrayTypeP(vd), TEXTOID, -1, false, TYPALIGN_INT, &vs, NULL, &nv);
		rows[i].n = Min(nk, nv);
		rows[i].names = palloc(sizeof(char *) * Max(rows[i].n, 1));
		rows[i].values = palloc(sizeof(char *) * Max(rows[i].n, 1));
		for (int j = 0; j < rows[i].n; j++)
		{
			rows[i].names[j] = TextDatumGetCString(ks[j]);
			rows[i].values[j] = TextDatumGetCString(vs[j]);
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return rows;
}

/*
 * The time span of the tenant's profiles over every tier (head rows and
 * blocks, wherever they are stored); false when it has none.
 */
bool
pyroscope_profile_time_span(const char *tenant, TimestampTz *oldest, TimestampTz *newest)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		n1;
	bool		n2;
	Datum		d1;
	Datum		d2;

	values[0] = CStringGetTextDatum(tenant);
	SPI_connect();
	if (SPI_execute_with_args("SELECT min(t0), max(t1) FROM"
							  " (SELECT min(ts) AS t0, max(ts) AS t1 FROM pyroscope.head"
							  "   WHERE tenant = $1 /* every shard */"
							  "  UNION ALL"
							  "  SELECT min(min_ts), max(max_ts) FROM pyroscope.blocks"
							  "   WHERE tenant = $1 /* every shard */) x",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not compute profile stats");
	d1 = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &n1);
	d2 = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &n2);
	if (!n1)
		*oldest = DatumGetTimestampTz(d1);
	if (!n2)
		*newest = DatumGetTimestampTz(d2);
	SPI_finish();
	return !n1 && !n2;
}

/* ---------------------------------------------------------------------
 * Settings (settings.v1.SettingsService)
 * ---------------------------------------------------------------------
 */

/* Every setting of the tenant, by name. */
PyroSetting *
pyroscope_settings_list(const char *tenant, uint64 *n)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	MemoryContext caller = CurrentMemoryContext;
	PyroSetting *out;

	values[0] = CStringGetTextDatum(tenant);
	SPI_connect();
	if (SPI_execute_with_args("SELECT name, value, modified_at FROM pyroscope.settings"
							  " WHERE tenant = $1 ORDER BY name COLLATE \"C\"",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read settings");
	*n = SPI_processed;
	out = MemoryContextAlloc(caller, sizeof(PyroSetting) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		out[i].name = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 1));
		out[i].value = MemoryContextStrdup(caller, SPI_getvalue(tup, desc, 2));
		out[i].modified_at = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	}
	SPI_finish();
	return out;
}

/*
 * Store a setting with its modification time (Unix ms); false (nothing
 * stored) when the stored one is newer.
 */
bool
pyroscope_setting_put(const char *tenant, const char *name, const char *value,
					  int64 modified_at)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	bool		stored;

	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(value);
	values[3] = Int64GetDatum(modified_at);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO pyroscope.settings AS s (tenant, name, value, modified_at)"
							  " VALUES ($1, $2, $3, $4)"
							  " ON CONFLICT (tenant, name) DO UPDATE"
							  " SET value = excluded.value, modified_at = excluded.modified_at"
							  " WHERE s.modified_at <= excluded.modified_at",
							  4, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store setting");
	stored = SPI_processed > 0;
	SPI_finish();
	return stored;
}

/* Remove a setting; a missing one is not an error. */
void
pyroscope_setting_delete(const char *tenant, const char *name)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(name);
	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM pyroscope.settings WHERE tenant = $1 AND name = $2",
							  2, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete setting");
	SPI_finish();
}

/* ---------------------------------------------------------------------
 * HTTP credentials
 * ---------------------------------------------------------------------
 */

/*
 * Whether (kind, username, secret) is a credential of
 * pyroscope.http_credentials; *tenant is the tenant it is pinned to, or
 * NULL, and *role the role its requests run as (allocated in cxt).
 */
bool
pyroscope_credential_check(const char *kind, const char *username, const char *secret,
						   MemoryContext cxt, char **tenant, char **role)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		ok;

	*tenant = NULL;
	*role = NULL;
	values[0] = CStringGetTextDatum(kind);
	values[1] = CStringGetTextDatum(username);
	values[2] = CStringGetTextDatum(secret);
	SPI_connect();
	if (SPI_execute_with_args("SELECT tenant, role FROM pyroscope.http_credentials"
							  " WHERE kind = $1 AND username = $2"
							  " AND secret_sha256 = pg_catalog.sha256(pg_catalog.convert_to($3, 'UTF8'))",
							  3, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up credentials");
	ok = SPI_processed == 1;
	if (ok)
	{
		char	   *t = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		char	   *r = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (t)
			*tenant = MemoryContextStrdup(cxt, t);
		*role = MemoryContextStrdup(cxt, r);
	}
	SPI_finish();
	return ok;
}

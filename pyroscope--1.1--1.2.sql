/* pyroscope--1.1--1.2.sql: retention 0 per tenant, ingest at a given time, job runs keep their first error */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.2'" to load this file. \quit

-- a tenant's retention of 0 keeps its data forever, as pyroscope.retention = 0 does
ALTER TABLE @extschema@.tenant_retention
	DROP CONSTRAINT tenant_retention_retention_check,
	ADD CONSTRAINT tenant_retention_retention_check CHECK (retention >= interval '0');
COMMENT ON TABLE @extschema@.tenant_retention IS
	'per-tenant override of pyroscope.retention: blocks and head profiles of the tenant older than this are deleted; 0 keeps them forever';

COMMENT ON TABLE @extschema@.job_runs IS
	'one row per run of a background job (compaction, retention, offload): when, by whom, what it did; status is running until the run ends, then failed (with the first error, units_failed counting them all) or success';

-- ingest_pprof gains "at": the profile's time instead of the pprof's own
DROP FUNCTION @extschema@.ingest_pprof(bytea, jsonb, text);
CREATE FUNCTION @extschema@.ingest_pprof(data bytea,
										 labels jsonb DEFAULT '{}',
										 tenant text DEFAULT 'anonymous',
										 at timestamptz DEFAULT NULL)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'pyroscope_ingest_pprof'
	LANGUAGE C VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ingest_pprof(bytea, jsonb, text, timestamptz) IS
	'stores every sample type of one pprof (gzip or raw) as series of the tenant and returns the number of series written; its time is "at" when given, else the pprof''s time_nanos, else now; NULL data, labels or tenant give NULL';

-- select_profiles reads every tier (head, blocks in the database,
-- offloaded blocks), as every other function over a selection does
CREATE OR REPLACE FUNCTION @extschema@.select_profiles(profile_type text,
													   selector text,
													   start timestamptz,
													   "end" timestamptz,
													   tenant text DEFAULT 'anonymous')
	RETURNS TABLE (series_id bigint, labels jsonb, ts timestamptz,
				   total bigint, profile @extschema@.profile)
	AS 'MODULE_PATHNAME', 'pyroscope_select_profiles'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.select_profiles(text, text, timestamptz, timestamptz, text) IS
	'every stored profile of one profile type matching the selector in the time range, from every tier: one row per stored profile (head row, or profile kept in a block)';

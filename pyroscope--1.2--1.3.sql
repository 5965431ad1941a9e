/* pyroscope--1.2--1.3.sql: query workers on the status board; stored pprofs are not recompressed */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.3'" to load this file. \quit

-- the board shows the query workers beside the HTTP workers
DROP VIEW @extschema@.http_workers;
DROP FUNCTION @extschema@.http_worker_status();
CREATE FUNCTION @extschema@.http_worker_status()
	RETURNS TABLE (worker integer, kind text, pid integer, state text, started timestamptz,
				   requests bigint, errors bigint, last_error text,
				   last_error_at timestamptz)
	AS 'MODULE_PATHNAME', 'pyroscope_http_worker_status'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.http_worker_status() IS
	'state of each HTTP API worker (kind http) and query worker (kind query); empty unless pyroscope is in shared_preload_libraries';
CREATE VIEW @extschema@.http_workers AS
	SELECT * FROM @extschema@.http_worker_status();
COMMENT ON VIEW @extschema@.http_workers IS
	'HTTP API workers (kind http: connections and pushes) and query workers (kind query: the API''s queries): pid, idle/busy/stopped, requests answered, error responses, last error';

-- pprofs arrive gzip-compressed (nearly always): TOAST's lz4 attempt on
-- them is wasted work on the ingest path, so they are stored as they are
ALTER TABLE @extschema@.head_pprof ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE @extschema@.head_pprof IS
	'pprof profiles of the head tier as they were sent (gzip or raw), one row per ingested pprof, stored without recompression; head rows refer to them';

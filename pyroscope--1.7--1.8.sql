/* pyroscope--1.7--1.8.sql: DROP EXTENSION on a Citus coordinator; block totals read where the block is */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.8'" to load this file. \quit

-- Under Citus the shards of the distributed and reference tables are not
-- members of the extension, and their policies and triggers name its
-- functions: DROP EXTENSION stopped at them.  Before the drop, the
-- coordinator drops them (in the same transaction, on every node); on one
-- node this does nothing.
CREATE FUNCTION @extschema@.drop_extension_start()
	RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'pyroscope_drop_extension_start'
	LANGUAGE C
	SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.drop_extension_start() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.drop_extension_start() IS
	'event trigger of DROP EXTENSION: when the statement drops pyroscope on a Citus coordinator, drops the shards of the extension''s tables first (docs/scaling-out.md)';

CREATE EVENT TRIGGER pyroscope_drop_extension ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION')
	EXECUTE FUNCTION @extschema@.drop_extension_start();

-- Time series read where the blocks are: a block's totals from the query's
-- own row, so that on Citus (pyroscope.merge_pushdown) each worker reads
-- the blocks it holds and only their totals travel.
CREATE FUNCTION @extschema@.block_profile_totals(data bytea,
												 series_ids bigint[],
												 start timestamptz DEFAULT '-infinity',
												 "end" timestamptz DEFAULT 'infinity')
	RETURNS TABLE (series_id bigint, ts timestamptz, total bigint, profile_id uuid)
	AS 'MODULE_PATHNAME', 'pyroscope_block_profile_totals'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 1000 ROWS 100;
COMMENT ON FUNCTION @extschema@.block_profile_totals(bytea, bigint[], timestamptz, timestamptz) IS
	'series, time, total and profile id of the profiles of an encoded block (pyroscope.blocks.data) in the given series (NULL: all) and time range, from the block''s index, in its order: what time series read of a block';

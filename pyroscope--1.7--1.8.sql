/* pyroscope--1.7--1.8.sql: DROP EXTENSION on a Citus coordinator */

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

/* pyroscope--1.4--1.5.sql: every ingested profile has an id */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.5'" to load this file. \quit

-- The id of the ingested profile a head row belongs to: a UUID shared by
-- every series of one pprof (sample types, series split by labels), as
-- upstream's distributor assigns one.  Compaction keeps it in blocks.
-- Rows stored before 1.5 get one now, per stored pprof.
ALTER TABLE @extschema@.head ADD COLUMN profile_id uuid;
UPDATE @extschema@.head h SET profile_id = g.profile_id
  FROM (SELECT pprof_id, gen_random_uuid() AS profile_id
		  FROM @extschema@.head WHERE pprof_id IS NOT NULL GROUP BY pprof_id) g
 WHERE h.pprof_id = g.pprof_id;
UPDATE @extschema@.head SET profile_id = gen_random_uuid() WHERE profile_id IS NULL;
ALTER TABLE @extschema@.head ALTER COLUMN profile_id SET NOT NULL;
COMMENT ON COLUMN @extschema@.head.profile_id IS
	'the id of the ingested profile (one pprof, JFR event group or OTLP profile) this row is a series of';

CREATE FUNCTION @extschema@.list_profiles(profile_type text,
										  selector text,
										  start timestamptz,
										  "end" timestamptz,
										  tenant text DEFAULT 'anonymous')
	RETURNS TABLE (profile_id uuid, series_id bigint, ts timestamptz, total bigint)
	AS 'MODULE_PATHNAME', 'pyroscope_list_profiles'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.list_profiles(text, text, timestamptz, timestamptz, text) IS
	'the individual profiles of a selection, from every tier: the id of the ingested profile (shared by the series it was split into), series, time and total; profile_id is NULL for profiles compacted before 1.5';

CREATE FUNCTION @extschema@.profiles_pprof(profile_type text,
										   profile_ids uuid[],
										   selector text DEFAULT '{}',
										   start timestamptz DEFAULT '-infinity',
										   "end" timestamptz DEFAULT 'infinity',
										   tenant text DEFAULT 'anonymous')
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'pyroscope_profiles_pprof'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.profiles_pprof(text, uuid[], text, timestamptz, timestamptz, text) IS
	'the merged pprof (gzip) of the given ingested profiles only, of one profile type, as merge_pprof gives for a whole selection';

CREATE FUNCTION @extschema@.profiles_flamegraph(profile_type text,
												profile_ids uuid[],
												selector text DEFAULT '{}',
												start timestamptz DEFAULT '-infinity',
												"end" timestamptz DEFAULT 'infinity',
												max_nodes integer DEFAULT 16384,
												tenant text DEFAULT 'anonymous')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'pyroscope_profiles_flamegraph'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.profiles_flamegraph(text, uuid[], text, timestamptz, timestamptz, integer, text) IS
	'the flame graph (flamebearer JSON) of the given ingested profiles only, of one profile type';

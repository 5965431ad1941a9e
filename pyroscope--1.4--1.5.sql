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

CREATE FUNCTION @extschema@.heatmap(profile_type text,
									selector text,
									start timestamptz,
									"end" timestamptz,
									step interval,
									query_type text DEFAULT 'individual',
									group_by text[] DEFAULT '{}',
									"limit" integer DEFAULT 0,
									tenant text DEFAULT 'anonymous')
	RETURNS TABLE (labels jsonb, slot timestamptz, bucket integer, y_min double precision,
				   count integer, exemplar_ts timestamptz, exemplar_value bigint,
				   exemplar_profile_id uuid, exemplar_span_id text, exemplar_trace_id text,
				   exemplar_labels jsonb)
	AS 'MODULE_PATHNAME', 'pyroscope_heatmap_cells'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.heatmap(text, text, timestamptz, timestamptz, interval, text, text[], integer, text) IS
	'SelectHeatmap in SQL: one row per non-empty cell (series of the group_by labels, time slot by its right edge, value bucket from y_min) with its count and exemplar, the highest point of the cell; query_type individual (a point per ingested profile, its total) or span (a point per profile and span id, the sum of the span''s samples); "limit" > 0 keeps the series with the most points';

CREATE FUNCTION @extschema@.dot(profile_type text,
								selector text,
								start timestamptz,
								"end" timestamptz,
								max_nodes integer DEFAULT 100,
								tenant text DEFAULT 'anonymous')
	RETURNS text
	AS 'MODULE_PATHNAME', 'pyroscope_dot'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.dot(text, text, timestamptz, timestamptz, integer, text) IS
	'the call graph of a selection in Graphviz DOT, as Google pprof''s dot report draws it, of at most max_nodes nodes (0 or less: 100); empty when nothing matches';

CREATE FUNCTION @extschema@.block_sections(data bytea)
	RETURNS TABLE (kind text, series_id bigint, count bigint, bytes bigint, raw_bytes bigint)
	AS 'MODULE_PATHNAME', 'pyroscope_block_sections'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.block_sections(bytea) IS
	'the sections of an encoded block (pyroscope.blocks.data) as its directory lists them: kind (symbols, index, samples, aggregates, ids), series, profiles or buckets, bytes stored and decompressed; to inspect what blocks spend their bytes on';

CREATE FUNCTION @extschema@.exemplars(profile_type text,
									  selector text,
									  start timestamptz,
									  "end" timestamptz,
									  step interval,
									  group_by text[] DEFAULT '{}',
									  tenant text DEFAULT 'anonymous')
	RETURNS TABLE (labels jsonb, ts timestamptz, value double precision, profile_id uuid,
				   profile_ts timestamptz, profile_value bigint, profile_labels jsonb)
	AS 'MODULE_PATHNAME', 'pyroscope_exemplars'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.exemplars(text, text, timestamptz, timestamptz, interval, text[], text) IS
	'the time series of a selection (SelectSeries'' points, summed per step, grouped by the group_by labels) with each point''s exemplar: the individual profile with the highest total in its bucket, its id, time, total and labels';

CREATE FUNCTION @extschema@.list_spans(profile_type text,
									   selector text,
									   start timestamptz,
									   "end" timestamptz,
									   tenant text DEFAULT 'anonymous')
	RETURNS TABLE (profile_id uuid, series_id bigint, ts timestamptz, span_id text, trace_id text,
				   total bigint)
	AS 'MODULE_PATHNAME', 'pyroscope_list_spans'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.list_spans(text, text, timestamptz, timestamptz, text) IS
	'the spans of the individual profiles of a selection, from every tier: one row per profile, series and span id (16 hex digits) with its trace id (32 hex digits, where the profile carried it) and the total of that span''s samples';

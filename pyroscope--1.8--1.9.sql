/* pyroscope--1.8--1.9.sql: label queries, profile-id and span selections read where the rows are */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.9'" to load this file. \quit

-- Label names and values found by one statement over the series table
-- (the selector's conditions and the DISTINCT in it), so that on Citus
-- each worker finds its distinct names and only those travel, instead of
-- every matching series.  Same arguments, same rows, same order.
CREATE OR REPLACE FUNCTION @extschema@.label_names(selector text,
												   start timestamptz,
												   "end" timestamptz,
												   tenant text DEFAULT 'anonymous')
	RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'pyroscope_label_names'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 20
	SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION @extschema@.label_values(name text,
													selector text,
													start timestamptz,
													"end" timestamptz,
													tenant text DEFAULT 'anonymous')
	RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'pyroscope_label_values'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 20
	SET search_path = pg_catalog, pg_temp;

-- A block's merged profile of some profile ids, or keeping span ids: what
-- a selection by profile id or by span reads of a block, where it is.
CREATE FUNCTION @extschema@.block_profile(data bytea,
										  series_ids bigint[],
										  start timestamptz,
										  "end" timestamptz,
										  profile_ids uuid[],
										  keep_spans boolean)
	RETURNS @extschema@.profile
	AS 'MODULE_PATHNAME', 'pyroscope_block_profile_of'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 100000;
COMMENT ON FUNCTION @extschema@.block_profile(bytea, bigint[], timestamptz, timestamptz, uuid[], boolean) IS
	'the merge of the profiles of an encoded block in the given series (NULL: all) and time range whose profile id is one of profile_ids (NULL: any), keeping the samples'' span ids when keep_spans; NULL when none';

CREATE FUNCTION @extschema@.filter_spans(p @extschema@.profile, span_ids bigint[])
	RETURNS @extschema@.profile
	AS 'MODULE_PATHNAME', 'pyroscope_filter_spans'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION @extschema@.filter_spans(@extschema@.profile, bigint[]) IS
	'the samples of a profile whose span id (a 64-bit span id as bigint) is one of span_ids, or NULL when none is';

/* pyroscope--1.8--1.9.sql: label queries, span listings, profile-id and span selections read where the rows are; compact() units on the workers */

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

-- The span ids of each profile with their totals and traces, as a
-- two-dimensional array of rows [span id, total, trace id high 64 bits,
-- low 64 bits] (the trace NULL where the profile did not say): what span
-- listings, span heatmaps and selections by trace read of a head row or a
-- block, where it is.
CREATE FUNCTION @extschema@.pprof_part_spans(data bytea, part integer)
	RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'pyroscope_pprof_part_spans'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 20000;
COMMENT ON FUNCTION @extschema@.pprof_part_spans(bytea, integer) IS
	'the span ids of part "part" of a stored pprof (pyroscope.head_pprof.data): rows [span id, total of its samples, trace id high 64 bits, low 64 bits] (trace NULL where unknown), NULL when no sample has a span id';

CREATE FUNCTION @extschema@.profile_spans(p @extschema@.profile)
	RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'pyroscope_profile_spans'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION @extschema@.profile_spans(@extschema@.profile) IS
	'the span ids of a profile value as pprof_part_spans() gives them (profile values keep no trace ids), NULL when no sample has a span id';

CREATE FUNCTION @extschema@.block_profile_spans(data bytea,
												series_ids bigint[],
												start timestamptz DEFAULT '-infinity',
												"end" timestamptz DEFAULT 'infinity')
	RETURNS TABLE (series_id bigint, ts timestamptz, profile_id uuid, spans bigint[])
	AS 'MODULE_PATHNAME', 'pyroscope_block_profile_spans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 100000 ROWS 100;
COMMENT ON FUNCTION @extschema@.block_profile_spans(bytea, bigint[], timestamptz, timestamptz) IS
	'series, time, profile id and span ids (as pprof_part_spans() gives them) of each profile with span ids of an encoded block (pyroscope.blocks.data) in the given series (NULL: all) and time range, in the block''s order';

-- head_profile(h) under Citus: a shard of pyroscope.head hands a function
-- rows of the shard's own row type, which head_profile(pyroscope.head) does
-- not take; this overload takes any row with head's columns (checked by
-- name and type) and lets its lookup of the row's stored pprof run inside
-- the shard's query (Citus refuses nested distributed statements otherwise;
-- on one node the setting is an unused placeholder, and a head row still
-- finds the function of pyroscope.head).
CREATE FUNCTION @extschema@.head_profile(h record)
	RETURNS @extschema@.profile
	AS 'MODULE_PATHNAME', 'pyroscope_head_profile_record'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 20000
	SET citus.allow_nested_distributed_execution = on;
COMMENT ON FUNCTION @extschema@.head_profile(record) IS
	'head_profile() of a row of another row type with the columns of pyroscope.head (a Citus shard''s rows): the profile of the head row';

-- compaction units run where their shard is when pyroscope.compact() calls
-- them too: Citus delegates a call nested in another only when the
-- function is distributed with force_delegation (pyroscope.compact() calls
-- each unit as SELECT ... FROM compact_unit(...), with its shard key).
-- distribute() does so from now on, and an installation distributed
-- before is changed here (on its coordinator).
CREATE OR REPLACE FUNCTION @extschema@.distribute(shard_count integer DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t text;
	rd text := '@extschema@.role_tenants(''%s'') IS NULL OR tenant = ANY (@extschema@.role_tenants(''%s'')::text[])';
	acc text;
BEGIN
	IF shard_count IS NOT NULL AND shard_count < 1 THEN
		RAISE EXCEPTION 'shard_count must be at least 1, not %', shard_count
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'pyroscope.distribute() needs Citus, which is not installed in this database'
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Install Citus on every node, CREATE EXTENSION citus, add the workers with citus_add_node(), then call pyroscope.distribute() again (docs/scaling-out.md).';
	END IF;
	-- Ids from the sequences of each node in a range of its own, as Citus
	-- gives the sequences it distributes: node group g draws from g << 48
	-- (rows made on the workers, such as the blocks of compaction units
	-- that run there, cannot take another node's id).  Again for nodes added
	-- since.
	PERFORM run_command_on_workers($cmd$
DO $do$
DECLARE
	g bigint := (SELECT groupid FROM pg_catalog.pg_dist_local_group);
	s text;
	v bigint;
BEGIN
	FOREACH s IN ARRAY ARRAY['series_series_id_seq', 'head_pprof_pprof_id_seq', 'blocks_block_id_seq']
	LOOP
		EXECUTE pg_catalog.format('SELECT last_value FROM @extschema@.%I', s) INTO v;
		IF g > 0 AND v < (g << 48) THEN
			PERFORM pg_catalog.setval(pg_catalog.format('@extschema@.%I', s), (g << 48) + 1, false);
		END IF;
	END LOOP;
END
$do$
$cmd$);
	IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = '@extschema@.series'::regclass) THEN
		-- (an installation distributed before 1.9 gets its units delegated
		-- from SQL too)
		PERFORM create_distributed_function(
			'@extschema@.compact_unit(integer, text, text, text, integer, timestamptz, timestamptz)',
			'shard_key', colocate_with => '@extschema@.series', force_delegation => true);
		RETURN 'already distributed (the id ranges of the workers are set)';
	END IF;

	-- Citus refuses subqueries in the policies of distributed tables: the
	-- same rules, with role_tenants() called directly
	FOREACH t IN ARRAY ARRAY['series', 'head', 'head_pprof', 'blocks', 'settings', 'tenant_retention',
							 'tenant_limits']
	LOOP
		acc := CASE WHEN t IN ('series', 'settings', 'tenant_limits') THEN 'any' ELSE 'read' END;
		EXECUTE format('DROP POLICY tenant_read ON @extschema@.%I', t);
		EXECUTE format('DROP POLICY tenant_insert ON @extschema@.%I', t);
		EXECUTE format('DROP POLICY tenant_update ON @extschema@.%I', t);
		EXECUTE format('DROP POLICY tenant_delete ON @extschema@.%I', t);
		EXECUTE format('CREATE POLICY tenant_read ON @extschema@.%I FOR SELECT USING (%s)', t,
					   format(rd, acc, acc));
		EXECUTE format('CREATE POLICY tenant_insert ON @extschema@.%I FOR INSERT WITH CHECK (%s)', t,
					   format(rd, 'write', 'write'));
		EXECUTE format('CREATE POLICY tenant_update ON @extschema@.%I FOR UPDATE USING (%s) WITH CHECK (%s)',
					   t, format(rd, 'write', 'write'), format(rd, 'write', 'write'));
		EXECUTE format('CREATE POLICY tenant_delete ON @extschema@.%I FOR DELETE USING (%s)', t,
					   format(rd, 'write', 'write'));
	END LOOP;
	DROP POLICY own_grants ON @extschema@.tenant_grants;
	CREATE POLICY own_grants ON @extschema@.tenant_grants FOR SELECT
		USING (coalesce(pg_has_role(to_regrole(quote_ident(role)), 'USAGE'), false));

	-- the triggers (blocks queue the objects of their rows in
	-- object_deletions, on the same shard; tenant_grants tells each node's
	-- backends that grants changed) run where the rows are
	PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);

	-- the big tables by shard_key, all on the same shards; the small ones on
	-- every node; job_runs stays on this node, where the workers run
	IF shard_count IS NULL THEN
		PERFORM create_distributed_table('@extschema@.series', 'shard_key');
	ELSE
		PERFORM create_distributed_table('@extschema@.series', 'shard_key', shard_count => shard_count);
	END IF;
	FOREACH t IN ARRAY ARRAY['head', 'head_pprof', 'blocks', 'object_deletions']
	LOOP
		PERFORM create_distributed_table(format('@extschema@.%I', t), 'shard_key',
										 colocate_with => '@extschema@.series');
	END LOOP;
	FOREACH t IN ARRAY ARRAY['settings', 'http_credentials', 'tenant_retention', 'tenant_limits',
							 'tenant_grants']
	LOOP
		PERFORM create_reference_table(format('@extschema@.%I', t));
	END LOOP;
	-- the rows were copied to the shards: the coordinator's own copies go
	FOREACH t IN ARRAY ARRAY['series', 'head', 'head_pprof', 'blocks', 'object_deletions', 'settings',
							 'http_credentials', 'tenant_retention', 'tenant_limits', 'tenant_grants']
	LOOP
		PERFORM truncate_local_data_after_distributing_table(format('@extschema@.%I', t));
	END LOOP;

	-- a compaction unit runs where its shard is: called by the background
	-- compactor, and (forced delegation, since 1.9) from pyroscope.compact(),
	-- whose calls are nested in its own
	PERFORM create_distributed_function(
		'@extschema@.compact_unit(integer, text, text, text, integer, timestamptz, timestamptz)',
		'shard_key', colocate_with => '@extschema@.series', force_delegation => true);

	-- HTTP requests run as pyroscope_http, and Citus reaches the workers as
	-- the current role
	ALTER ROLE pyroscope_http LOGIN;
	PERFORM run_command_on_workers('ALTER ROLE pyroscope_http LOGIN');
	RETURN format('distributed: 5 tables by shard_key over %s shards, 5 reference tables',
				  (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = '@extschema@.series'::regclass));
END
$$;
DO $$
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
		RETURN;					-- no Citus (its catalogs are named below)
	END IF;
	-- on the coordinator (Citus runs this script on the workers too, where
	-- functions are not distributed)
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
				 WHERE logicalrelid = '@extschema@.series'::pg_catalog.regclass) AND
		(SELECT groupid FROM pg_catalog.pg_dist_local_group) = 0 THEN
		PERFORM create_distributed_function(
			'@extschema@.compact_unit(integer, text, text, text, integer, timestamptz, timestamptz)',
			'shard_key', colocate_with => '@extschema@.series', force_delegation => true);
	END IF;
END
$$;

/* pyroscope--1.6--1.7.sql: one distribution key on every big table */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.7'" to load this file. \quit

--------------------------------------------------------------------------
-- shard_key: a hash of (tenant, service_name) carried by series, head,
-- head_pprof, blocks and object_deletions, part of their primary and
-- unique keys, and named by every statement of the engine that reads or
-- writes them.  A service's rows share one key, so they stay together
-- when the tables are hash-partitioned (pyroscope.hash_partitions) or
-- distributed with Citus (docs/scaling-out.md).
--
-- The tables are made anew (a key cannot be added to a primary key in
-- place on a partitioned table, and these tables may become one): the old
-- ones move to a scratch schema, the new ones are filled from them, and
-- the scratch schema is dropped.  What depends on the tables is made
-- again with them.
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.shard_key(tenant text, service_name text)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'pyroscope_shard_key_sql'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.shard_key(text, text) IS
	'the distribution key of a tenant''s service: the shard_key column of series, head, head_pprof, blocks and object_deletions (FNV-1a 64 of tenant and service name, each followed by a zero byte, folded to 32 bits)';

DROP VIEW @extschema@.block_tiers;
DROP VIEW @extschema@.cardinality;
DROP FUNCTION @extschema@.profile_types(text);
DROP FUNCTION @extschema@.head_profile(@extschema@.head);

CREATE SCHEMA pyroscope_upgrade_1_7;
ALTER TABLE @extschema@.series SET SCHEMA pyroscope_upgrade_1_7;
ALTER TABLE @extschema@.head SET SCHEMA pyroscope_upgrade_1_7;
ALTER TABLE @extschema@.head_pprof SET SCHEMA pyroscope_upgrade_1_7;
ALTER TABLE @extschema@.blocks SET SCHEMA pyroscope_upgrade_1_7;
ALTER TABLE @extschema@.object_deletions SET SCHEMA pyroscope_upgrade_1_7;

-- ids come from sequences of the names the identity columns had
CREATE SEQUENCE @extschema@.series_series_id_seq;
CREATE SEQUENCE @extschema@.head_pprof_pprof_id_seq;
CREATE SEQUENCE @extschema@.blocks_block_id_seq;

DO $$
DECLARE
	n integer := coalesce(nullif(pg_catalog.current_setting('pyroscope.hash_partitions', true), ''), '0')::integer;
	p text := CASE WHEN n > 0 THEN ' PARTITION BY HASH (shard_key)' ELSE '' END;
	t text;
BEGIN
	IF n < 0 OR n > 1024 THEN
		RAISE EXCEPTION 'pyroscope.hash_partitions must be between 0 and 1024, not %', n;
	END IF;

	EXECUTE 'CREATE TABLE @extschema@.series (
		series_id	bigint NOT NULL DEFAULT pg_catalog.nextval(''@extschema@.series_series_id_seq''),
		tenant		text NOT NULL,
		profile_type text NOT NULL,
		service_name text NOT NULL,
		labels		jsonb NOT NULL,
		fingerprint bigint NOT NULL,
		first_seen	timestamptz NOT NULL,
		last_seen	timestamptz NOT NULL,
		shard_key	integer NOT NULL,
		CONSTRAINT series_pkey PRIMARY KEY (shard_key, series_id),
		CONSTRAINT series_tenant_fingerprint_key UNIQUE (shard_key, tenant, fingerprint),
		CONSTRAINT series_shard_key_check CHECK (shard_key = @extschema@.shard_key(tenant, service_name))
	)' || p;

	EXECUTE 'CREATE TABLE @extschema@.head (
		series_id	bigint NOT NULL,
		tenant		text NOT NULL,
		ts			timestamptz NOT NULL,
		total		bigint NOT NULL,
		nsamples	integer NOT NULL,
		profile		@extschema@.profile,
		pprof_id	bigint,
		part		integer,
		profile_id	uuid NOT NULL,
		shard_key	integer NOT NULL,
		CONSTRAINT head_one_form CHECK ((profile IS NULL) = (pprof_id IS NOT NULL AND part IS NOT NULL))
	)' || p;

	EXECUTE 'CREATE TABLE @extschema@.head_pprof (
		pprof_id	bigint NOT NULL,
		tenant		text NOT NULL,
		data		bytea NOT NULL,
		shard_key	integer NOT NULL,
		CONSTRAINT head_pprof_pkey PRIMARY KEY (shard_key, pprof_id)
	)' || p;

	EXECUTE 'CREATE TABLE @extschema@.blocks (
		block_id	bigint NOT NULL DEFAULT pg_catalog.nextval(''@extschema@.blocks_block_id_seq''),
		tenant		text NOT NULL,
		service_name text NOT NULL,
		level		integer NOT NULL,
		min_ts		timestamptz NOT NULL,
		max_ts		timestamptz NOT NULL,
		series_ids	bigint[] NOT NULL,
		nprofiles	bigint NOT NULL,
		nsamples	bigint NOT NULL,
		size		bigint NOT NULL,
		data		bytea,
		object_key	text,
		created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
		shard_key	integer NOT NULL,
		CONSTRAINT blocks_pkey PRIMARY KEY (shard_key, block_id),
		CONSTRAINT blocks_level_check CHECK (level >= 0),
		CONSTRAINT blocks_one_place CHECK ((data IS NULL) <> (object_key IS NULL)),
		CONSTRAINT blocks_shard_key_check CHECK (shard_key = @extschema@.shard_key(tenant, service_name))
	)' || p;

	EXECUTE 'CREATE TABLE @extschema@.object_deletions (
		object_key	text NOT NULL,
		block_id	bigint NOT NULL,
		queued_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
		shard_key	integer NOT NULL,
		CONSTRAINT object_deletions_pkey PRIMARY KEY (shard_key, object_key)
	)' || p;

	FOREACH t IN ARRAY ARRAY['series', 'head', 'head_pprof', 'blocks', 'object_deletions']
	LOOP
		FOR i IN 0 .. n - 1 LOOP
			EXECUTE pg_catalog.format('CREATE TABLE @extschema@.%I PARTITION OF @extschema@.%I'
									  ' FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
									  t || '_p' || i, t, n, i);
			PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('@extschema@.%I', t || '_p' || i), '');
		END LOOP;
		IF n = 0 THEN
			PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('@extschema@.%I', t), '');
		END IF;
	END LOOP;
END
$$;

ALTER SEQUENCE @extschema@.series_series_id_seq OWNED BY @extschema@.series.series_id;
ALTER SEQUENCE @extschema@.head_pprof_pprof_id_seq OWNED BY @extschema@.head_pprof.pprof_id;
ALTER SEQUENCE @extschema@.blocks_block_id_seq OWNED BY @extschema@.blocks.block_id;
-- pg_dump saves where the sequences are, so that a restored database goes on
-- from there (ids are unique per node, not only per shard key)
SELECT pg_catalog.pg_extension_config_dump('@extschema@.series_series_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.head_pprof_pprof_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.blocks_block_id_seq', '');

-- storage as before (recursing to the partitions): blocks and stored pprofs
-- uncompressed and out of line for ranged reads, profile values in lz4
ALTER TABLE @extschema@.blocks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE @extschema@.head_pprof ALTER COLUMN data SET STORAGE EXTERNAL;
DO $$
BEGIN
	ALTER TABLE @extschema@.head ALTER COLUMN profile SET COMPRESSION lz4;
	ALTER TABLE @extschema@.head_pprof ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
	RAISE NOTICE 'this server has no lz4 support: stored profiles use pglz';
END
$$;

CREATE INDEX series_tenant_type_service_idx
	ON @extschema@.series (tenant, profile_type, service_name);
CREATE INDEX series_labels_idx ON @extschema@.series USING gin (labels jsonb_path_ops);
CREATE INDEX head_series_ts_idx ON @extschema@.head (series_id, ts);
CREATE INDEX head_ts_idx ON @extschema@.head (ts);
CREATE INDEX head_pprof_idx ON @extschema@.head (pprof_id);
CREATE INDEX blocks_tenant_time_idx ON @extschema@.blocks (tenant, max_ts, min_ts);
CREATE INDEX blocks_series_idx ON @extschema@.blocks USING gin (series_ids);
CREATE INDEX blocks_object_key_idx ON @extschema@.blocks (object_key)
	WHERE object_key IS NOT NULL;

COMMENT ON TABLE @extschema@.series IS
	'one row per (tenant, profile type, label set); labels hold every series label, reserved ones included; shard_key is shard_key(tenant, service_name)';
COMMENT ON TABLE @extschema@.head IS
	'newest profiles, one row per series and profile time, queryable at once: the profile is part "part" of stored pprof pprof_id, or the profile value; total and nsamples (samples as sent, before equal stacks merge) are of this series; shard_key is the series''';
COMMENT ON COLUMN @extschema@.head.profile_id IS
	'the id of the ingested profile (one pprof, JFR event group or OTLP profile) this row is a series of';
COMMENT ON TABLE @extschema@.head_pprof IS
	'pprof profiles of the head tier as they were sent (gzip or raw), one row per ingested pprof and shard key of its series, stored without recompression; head rows refer to them by (shard_key, pprof_id)';
COMMENT ON TABLE @extschema@.blocks IS
	'compacted blocks (format PYB1, docs/block-format.md): one tenant and service over a time range; data in the database, or object_key once offloaded';
COMMENT ON TABLE @extschema@.object_deletions IS
	'objects of deleted offloaded blocks, waiting for the offload pass to remove them from the object store';
COMMENT ON COLUMN @extschema@.series.shard_key IS
	'the distribution key: shard_key(tenant, service_name)';

-- the rows, with their keys
INSERT INTO @extschema@.series (series_id, tenant, profile_type, service_name, labels, fingerprint,
								first_seen, last_seen, shard_key)
	SELECT series_id, tenant, profile_type, service_name, labels, fingerprint, first_seen, last_seen,
		   @extschema@.shard_key(tenant, service_name)
	  FROM pyroscope_upgrade_1_7.series;
-- a head row whose series is gone (none should be) keeps the tenant's
-- unknown service's key rather than being lost
INSERT INTO @extschema@.head (series_id, tenant, ts, total, nsamples, profile, pprof_id, part,
							  profile_id, shard_key)
	SELECT h.series_id, h.tenant, h.ts, h.total, h.nsamples, h.profile, h.pprof_id, h.part,
		   h.profile_id, coalesce(s.shard_key, @extschema@.shard_key(h.tenant, 'unknown_service'))
	  FROM pyroscope_upgrade_1_7.head h
	  LEFT JOIN @extschema@.series s ON s.series_id = h.series_id;
-- a stored pprof once per key of the head rows naming it (one, unless its
-- series span services); one no head row names is garbage compaction
-- would have removed
INSERT INTO @extschema@.head_pprof (pprof_id, tenant, data, shard_key)
	SELECT p.pprof_id, p.tenant, p.data, k.shard_key
	  FROM pyroscope_upgrade_1_7.head_pprof p
	  JOIN (SELECT DISTINCT pprof_id, shard_key FROM @extschema@.head WHERE pprof_id IS NOT NULL) k
		ON k.pprof_id = p.pprof_id;
INSERT INTO @extschema@.blocks (block_id, tenant, service_name, level, min_ts, max_ts, series_ids,
								nprofiles, nsamples, size, data, object_key, created_at, shard_key)
	SELECT block_id, tenant, service_name, level, min_ts, max_ts, series_ids, nprofiles, nsamples,
		   size, data, object_key, created_at, @extschema@.shard_key(tenant, service_name)
	  FROM pyroscope_upgrade_1_7.blocks;
-- a queued object has the key of the block row naming it, if one does
-- again (the offload pass then keeps it); else 0: its block is gone, and
-- the pass reads every shard
INSERT INTO @extschema@.object_deletions (object_key, block_id, queued_at, shard_key)
	SELECT d.object_key, d.block_id, d.queued_at,
		   coalesce((SELECT b.shard_key FROM @extschema@.blocks b
					  WHERE b.object_key = d.object_key LIMIT 1), 0)
	  FROM pyroscope_upgrade_1_7.object_deletions d;

SELECT pg_catalog.setval('@extschema@.series_series_id_seq',
						 coalesce((SELECT last_value FROM pyroscope_upgrade_1_7.series_series_id_seq), 0) + 1, false);
SELECT pg_catalog.setval('@extschema@.head_pprof_pprof_id_seq',
						 coalesce((SELECT last_value FROM pyroscope_upgrade_1_7.head_pprof_pprof_id_seq), 0) + 1, false);
SELECT pg_catalog.setval('@extschema@.blocks_block_id_seq',
						 coalesce((SELECT last_value FROM pyroscope_upgrade_1_7.blocks_block_id_seq), 0) + 1, false);

DROP SCHEMA pyroscope_upgrade_1_7 CASCADE;

--------------------------------------------------------------------------
-- What depends on the tables, again
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.blocks_queue_object_deletion()
	RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF OLD.object_key IS NOT NULL AND
	   (TG_OP = 'DELETE' OR NEW.object_key IS DISTINCT FROM OLD.object_key) THEN
		INSERT INTO @extschema@.object_deletions (object_key, block_id, shard_key)
			VALUES (OLD.object_key, OLD.block_id, OLD.shard_key)
			ON CONFLICT (shard_key, object_key) DO NOTHING;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER blocks_object_deletion
	AFTER DELETE OR UPDATE OF object_key ON @extschema@.blocks
	FOR EACH ROW EXECUTE FUNCTION @extschema@.blocks_queue_object_deletion();

CREATE FUNCTION @extschema@.head_profile(h @extschema@.head)
	RETURNS @extschema@.profile
	AS 'MODULE_PATHNAME', 'pyroscope_head_profile'
	LANGUAGE C STABLE STRICT PARALLEL SAFE COST 20000;
COMMENT ON FUNCTION @extschema@.head_profile(@extschema@.head) IS
	'the profile of a head row as a profile value, whether the row holds it or names its part of a stored pprof';

-- PL/pgSQL now: Citus cannot plan an SQL function's parameters
CREATE FUNCTION @extschema@.profile_types(tenant text DEFAULT 'anonymous')
	RETURNS SETOF text
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY SELECT DISTINCT s.profile_type FROM @extschema@.series s
				  WHERE s.tenant = profile_types.tenant ORDER BY 1;
END
$$;
COMMENT ON FUNCTION @extschema@.profile_types(text) IS
	'the profile type ids (name:sample_type:sample_unit:period_type:period_unit) stored for the tenant';

CREATE VIEW @extschema@.block_tiers WITH (security_invoker = true) AS
	SELECT b.block_id, b.tenant, b.service_name, b.level, b.min_ts, b.max_ts,
		   b.nprofiles, b.nsamples, b.size,
		   CASE WHEN b.object_key IS NULL THEN 'database' ELSE 'object store' END AS tier,
		   b.object_key, b.created_at
	  FROM @extschema@.blocks b;
COMMENT ON VIEW @extschema@.block_tiers IS
	'every block with where its data lives: in the database, or in the object store under object_key';

CREATE VIEW @extschema@.cardinality WITH (security_invoker = true) AS
	WITH l AS (SELECT s.tenant, s.service_name, e.key, e.value, count(*) AS series
				 FROM @extschema@.series s, jsonb_each_text(s.labels) e
				GROUP BY 1, 2, 3, 4),
	r AS (SELECT l.*, row_number() OVER (PARTITION BY l.tenant, l.service_name, l.key
											 ORDER BY l.series DESC, l.value) AS rank
			FROM l),
	n AS (SELECT s.tenant, s.service_name, count(*) AS service_series
			FROM @extschema@.series s GROUP BY 1, 2)
	SELECT r.tenant, r.service_name, n.service_series, r.key AS label_name,
		   sum(r.series)::bigint AS series, count(*) AS label_values,
		   jsonb_object_agg(r.value, r.series) FILTER (WHERE r.rank <= 10) AS top_values
	  FROM r JOIN n USING (tenant, service_name)
	 GROUP BY r.tenant, r.service_name, n.service_series, r.key;
COMMENT ON VIEW @extschema@.cardinality IS
	'per tenant, service and label name: the series of the service, those carrying the label, its distinct values, and its ten values with the most series ({value: series}); rows follow the reader''s tenant grants';

-- row-level security as in 1.6
DO $$
DECLARE
	t text;
	rd text := '(SELECT @extschema@.role_tenants(''%s'')) IS NULL OR tenant = ANY ((SELECT @extschema@.role_tenants(''%s''))::text[])';
BEGIN
	FOREACH t IN ARRAY ARRAY['series', 'head', 'head_pprof', 'blocks']
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format('CREATE POLICY tenant_read ON @extschema@.%I FOR SELECT USING (%s)', t,
								  pg_catalog.format(rd,
									CASE WHEN t = 'series' THEN 'any' ELSE 'read' END,
									CASE WHEN t = 'series' THEN 'any' ELSE 'read' END));
		EXECUTE pg_catalog.format('CREATE POLICY tenant_insert ON @extschema@.%I FOR INSERT WITH CHECK (%s)', t,
								  pg_catalog.format(rd, 'write', 'write'));
		EXECUTE pg_catalog.format('CREATE POLICY tenant_update ON @extschema@.%I FOR UPDATE USING (%s) WITH CHECK (%s)', t,
								  pg_catalog.format(rd, 'write', 'write'), pg_catalog.format(rd, 'write', 'write'));
		EXECUTE pg_catalog.format('CREATE POLICY tenant_delete ON @extschema@.%I FOR DELETE USING (%s)', t,
								  pg_catalog.format(rd, 'write', 'write'));
	END LOOP;
END
$$;

-- privileges as in 1.6
REVOKE ALL ON @extschema@.object_deletions FROM PUBLIC;
GRANT SELECT ON @extschema@.series, @extschema@.head, @extschema@.head_pprof, @extschema@.blocks
	TO pyroscope_reader;
GRANT SELECT, INSERT, UPDATE ON @extschema@.series TO pyroscope_writer;
GRANT INSERT ON @extschema@.head, @extschema@.head_pprof TO pyroscope_writer;
GRANT USAGE ON SEQUENCE @extschema@.series_series_id_seq, @extschema@.head_pprof_pprof_id_seq
	TO pyroscope_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.series, @extschema@.head, @extschema@.head_pprof,
	@extschema@.blocks, @extschema@.object_deletions TO pyroscope_admin;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE @extschema@.series_series_id_seq,
	@extschema@.head_pprof_pprof_id_seq, @extschema@.blocks_block_id_seq TO pyroscope_admin;
GRANT SELECT ON @extschema@.block_tiers TO pyroscope_reader, pyroscope_admin;
GRANT SELECT ON @extschema@.cardinality TO pyroscope_reader, pyroscope_writer, pyroscope_admin;

--------------------------------------------------------------------------
-- A compaction unit as a call: the compactor and compact() run each unit
-- through it, so that under Citus (distribute() makes it a distributed
-- function by shard_key) a unit runs on the node holding its shard
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.compact_unit(shard_key integer, kind text, tenant text,
										 service_name text, level integer,
										 start timestamptz, now timestamptz)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'pyroscope_compact_unit_sql'
	LANGUAGE C VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.compact_unit(integer, text, text, text, integer, timestamptz,
												timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.compact_unit(integer, text, text, text, integer, timestamptz,
												   timestamptz) TO pyroscope_admin;
COMMENT ON FUNCTION @extschema@.compact_unit(integer, text, text, text, integer, timestamptz,
											 timestamptz) IS
	'one unit of compaction in the caller''s transaction, at time now: kind head (level 0: the head rows of the window from start into a block), merge (level 1 or 2: the blocks of the window into one) or retention (level 0, start NULL: the service''s expired data); shard_key must be shard_key(tenant, service_name); returns what it did';

--------------------------------------------------------------------------
-- Citus: one call distributes the product's tables
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.distribute(shard_count integer DEFAULT NULL)
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

	-- a compaction unit runs where its shard is
	PERFORM create_distributed_function(
		'@extschema@.compact_unit(integer, text, text, text, integer, timestamptz, timestamptz)',
		'shard_key', colocate_with => '@extschema@.series');

	-- HTTP requests run as pyroscope_http, and Citus reaches the workers as
	-- the current role
	ALTER ROLE pyroscope_http LOGIN;
	PERFORM run_command_on_workers('ALTER ROLE pyroscope_http LOGIN');
	RETURN format('distributed: 5 tables by shard_key over %s shards, 5 reference tables',
				  (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = '@extschema@.series'::regclass));
END
$$;
REVOKE ALL ON FUNCTION @extschema@.distribute(integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.distribute(integer) IS
	'on a Citus coordinator: distributes series, head, head_pprof, blocks and object_deletions by shard_key (co-located), makes settings, credentials, retention, limits and grants reference tables, and lets pyroscope_http log in to the workers; a clear error without Citus';

/* pyroscope--1.5--1.6.sql: tenants are PostgreSQL roles */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.6'" to load this file. \quit

--------------------------------------------------------------------------
-- Predefined roles (cluster-wide, so made once and kept by DROP EXTENSION)
--
--   pyroscope_reader  may read the tables of profiles (series, head,
--                     stored pprofs, blocks, settings, retention)
--   pyroscope_writer  may ingest profiles and change settings
--   pyroscope_admin   everything: every tenant, compaction, offload,
--                     retention, credentials, grants, job history
--   pyroscope_http    the role of HTTP requests without credentials
--                     (pyroscope.http_role): reader and writer of every
--                     tenant, nothing of the admin's
--
-- Which tenants a role reads and writes is in pyroscope.tenant_grants;
-- row-level security applies it to every query, from SQL and HTTP alike.
--------------------------------------------------------------------------

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['pyroscope_reader', 'pyroscope_writer', 'pyroscope_admin',
							 'pyroscope_http']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$$;
GRANT pyroscope_reader, pyroscope_writer TO pyroscope_http;

CREATE TABLE @extschema@.tenant_grants (
	role		name NOT NULL,
	tenant		text NOT NULL,
	can_read	boolean NOT NULL DEFAULT true,
	can_write	boolean NOT NULL DEFAULT false,
	PRIMARY KEY (role, tenant)
);
COMMENT ON TABLE @extschema@.tenant_grants IS
	'which tenants a role (and every role that has its privileges) may read and write; tenant * stands for every tenant.  Members of pyroscope_admin and superusers need no grant';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_grants', '');
INSERT INTO @extschema@.tenant_grants VALUES ('pyroscope_http', '*', true, true);

-- Backends cache what role_tenants() answers: a change tells them all
CREATE FUNCTION @extschema@.tenant_grants_changed()
	RETURNS trigger
	AS 'MODULE_PATHNAME', 'pyroscope_tenant_grants_changed'
	LANGUAGE C;
CREATE TRIGGER tenant_grants_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.tenant_grants
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.tenant_grants_changed();

-- A role sees the grants it holds, and no one else's
ALTER TABLE @extschema@.tenant_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_grants ON @extschema@.tenant_grants FOR SELECT
	USING (EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
					WHERE r.rolname = role AND pg_catalog.pg_has_role(r.oid, 'USAGE')));
CREATE POLICY admin_grants ON @extschema@.tenant_grants FOR ALL
	USING (pg_catalog.pg_has_role('pyroscope_admin', 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role('pyroscope_admin', 'USAGE'));
GRANT SELECT ON @extschema@.tenant_grants TO PUBLIC;

-- The tenants the current role may use for access (read, write or any of
-- the two), or NULL for every tenant.  Policies call it once per query
-- (as an InitPlan), never per row.
CREATE FUNCTION @extschema@.role_tenants(access text)
	RETURNS text[]
	AS 'MODULE_PATHNAME', 'pyroscope_role_tenants'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.role_tenants(text) IS
	'the tenants the current role may read, write or use at all (access: read, write, any), from pyroscope.tenant_grants; NULL means every tenant (admins, superusers, a grant on *)';

CREATE FUNCTION @extschema@.tenant_allowed(tenant text, access text)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT t IS NULL OR tenant = ANY (t) FROM @extschema@.role_tenants(access) t
$$;
COMMENT ON FUNCTION @extschema@.tenant_allowed(text, text) IS
	'whether the current role may read, write or use (access) the tenant';

--------------------------------------------------------------------------
-- Per-tenant limits (upstream's names): NULL takes the GUC default
--------------------------------------------------------------------------

CREATE TABLE @extschema@.tenant_limits (
	tenant		text PRIMARY KEY,
	ingestion_rate_mb double precision CHECK (ingestion_rate_mb >= 0),
	ingestion_burst_size_mb double precision CHECK (ingestion_burst_size_mb > 0),
	max_global_series_per_tenant integer CHECK (max_global_series_per_tenant >= 0),
	max_label_names_per_series integer CHECK (max_label_names_per_series >= 0),
	max_label_name_length integer CHECK (max_label_name_length >= 0),
	max_label_value_length integer CHECK (max_label_value_length >= 0),
	max_query_length interval CHECK (max_query_length >= interval '0'),
	max_flamegraph_nodes_max integer CHECK (max_flamegraph_nodes_max > 0),
	max_query_concurrency integer CHECK (max_query_concurrency >= 0)
);
COMMENT ON TABLE @extschema@.tenant_limits IS
	'per-tenant overrides of the limits (NULL: the GUC default): ingestion rate and burst in MiB/s and MiB (pyroscope.ingestion_rate_mb, _burst_size_mb; 0 = no limit), series of the tenant (pyroscope.max_series_per_tenant), label limits (pyroscope.max_label_names, _name_length, _value_length), longest HTTP query (pyroscope.http_max_query_length), largest max_nodes (pyroscope.max_flamegraph_nodes_max), HTTP queries at once (pyroscope.max_query_concurrency)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_limits', '');

CREATE FUNCTION @extschema@.discarded_stats()
	RETURNS TABLE (tenant text, reason text, profiles bigint, samples bigint, bytes bigint)
	AS 'MODULE_PATHNAME', 'pyroscope_discarded_stats'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.discarded_stats() IS
	'uploads refused over HTTP since the server started, by tenant and reason (the counters of pyroscope_discarded_*_total), of the tenants the caller may use; the view pyroscope.discarded shows them';

--------------------------------------------------------------------------
-- Row-level security on every table of tenant data.  Reads need a read
-- grant (series and settings also show to writers, who look them up when
-- ingesting); writes need a write grant; deleting is the admin's.
--------------------------------------------------------------------------

DO $$
DECLARE
	t text;
	rd text := '(SELECT @extschema@.role_tenants(''%s'')) IS NULL OR tenant = ANY ((SELECT @extschema@.role_tenants(''%s''))::text[])';
BEGIN
	FOREACH t IN ARRAY ARRAY['series', 'head', 'head_pprof', 'blocks', 'settings', 'tenant_retention',
							 'tenant_limits']
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format('CREATE POLICY tenant_read ON @extschema@.%I FOR SELECT USING (%s)', t,
								  pg_catalog.format(rd,
									CASE WHEN t IN ('series', 'settings', 'tenant_limits') THEN 'any' ELSE 'read' END,
									CASE WHEN t IN ('series', 'settings', 'tenant_limits') THEN 'any' ELSE 'read' END));
		EXECUTE pg_catalog.format('CREATE POLICY tenant_insert ON @extschema@.%I FOR INSERT WITH CHECK (%s)', t,
								  pg_catalog.format(rd, 'write', 'write'));
		EXECUTE pg_catalog.format('CREATE POLICY tenant_update ON @extschema@.%I FOR UPDATE USING (%s) WITH CHECK (%s)', t,
								  pg_catalog.format(rd, 'write', 'write'), pg_catalog.format(rd, 'write', 'write'));
		EXECUTE pg_catalog.format('CREATE POLICY tenant_delete ON @extschema@.%I FOR DELETE USING (%s)', t,
								  pg_catalog.format(rd, 'write', 'write'));
	END LOOP;
END
$$;

-- Privileges: what each predefined role may do at all (RLS then says on
-- which tenants)
GRANT USAGE ON SCHEMA @extschema@ TO pyroscope_reader, pyroscope_writer, pyroscope_admin;
GRANT SELECT ON @extschema@.series, @extschema@.head, @extschema@.head_pprof, @extschema@.blocks,
	@extschema@.settings, @extschema@.tenant_retention TO pyroscope_reader;
GRANT SELECT, INSERT, UPDATE ON @extschema@.series TO pyroscope_writer;
GRANT SELECT ON @extschema@.tenant_limits TO pyroscope_reader, pyroscope_writer;
GRANT INSERT ON @extschema@.head, @extschema@.head_pprof TO pyroscope_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.settings TO pyroscope_writer;
GRANT USAGE ON SEQUENCE @extschema@.series_series_id_seq, @extschema@.head_pprof_pprof_id_seq
	TO pyroscope_writer;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA @extschema@ TO pyroscope_admin;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA @extschema@ TO pyroscope_admin;
GRANT EXECUTE ON FUNCTION @extschema@.compact(timestamptz, text), @extschema@.compactor_wakeup(),
	@extschema@.offload(timestamptz), @extschema@.read_block(bigint),
	@extschema@.object_store_put(text, bytea), @extschema@.object_store_get(text, bigint, bigint),
	@extschema@.object_store_head(text), @extschema@.object_store_list(text),
	@extschema@.object_store_delete(text)
	TO pyroscope_admin;
REVOKE INSERT, UPDATE, DELETE ON @extschema@.block_tiers, @extschema@.job_status,
	@extschema@.http_workers FROM pyroscope_admin;
-- block_tiers shows blocks as the reader may see them
ALTER VIEW @extschema@.block_tiers SET (security_invoker = true);
GRANT SELECT ON @extschema@.block_tiers TO pyroscope_reader;

--------------------------------------------------------------------------
-- HTTP credentials act as roles
--------------------------------------------------------------------------

ALTER TABLE @extschema@.http_credentials ADD COLUMN role name NOT NULL DEFAULT 'pyroscope_http';
COMMENT ON COLUMN @extschema@.http_credentials.role IS
	'the role the requests of this credential run as: its tenant grants and row-level security decide what they may read and write';
COMMENT ON TABLE @extschema@.http_credentials IS
	'HTTP API credentials used when pyroscope.auth is basic or bearer: the SHA-256 of the password or token (username is empty for bearer tokens), the role the requests run as, and optionally a tenant the requests are pinned to';

--------------------------------------------------------------------------
-- Cardinality: which label exploded
--------------------------------------------------------------------------

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
GRANT SELECT ON @extschema@.cardinality TO pyroscope_reader, pyroscope_writer, pyroscope_admin;

-- Refused uploads by tenant and reason, as a role may see them (its tenants)
CREATE VIEW @extschema@.discarded AS
	SELECT d.tenant, d.reason, d.profiles, d.samples, d.bytes
	  FROM @extschema@.discarded_stats() d;
COMMENT ON VIEW @extschema@.discarded IS
	'uploads refused over HTTP since the server started, by tenant ("" when the request named none) and reason (upstream''s pyroscope_discarded_* labels: rate_limited, series_limit, not_in_ingestion_window, limit, malformed, no_profile_type, permission_denied, other): profiles, samples where known, request bytes; a role sees its tenants'' rows';
GRANT SELECT ON @extschema@.discarded TO pyroscope_reader, pyroscope_writer, pyroscope_admin;

--------------------------------------------------------------------------
-- Flame graphs as SVG
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.flamegraph_svg(profile_type text,
										   selector text,
										   start timestamptz,
										   "end" timestamptz,
										   max_nodes integer DEFAULT 1024,
										   tenant text DEFAULT 'anonymous',
										   title text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'pyroscope_flamegraph_svg'
	LANGUAGE C STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.flamegraph_svg(text, text, timestamptz, timestamptz, integer, text, text) IS
	'the flame graph of the profiles matching the selector in the time range as an SVG document (an icicle; tooltips on every frame), of at most about max_nodes frames';

CREATE FUNCTION @extschema@.flamegraph_svg(p @extschema@.profile,
										   max_nodes integer DEFAULT 1024,
										   title text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'pyroscope_profile_flamegraph_svg'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.flamegraph_svg(@extschema@.profile, integer, text) IS
	'the flame graph of a profile value as an SVG document';

CREATE FUNCTION @extschema@.diff_svg(profile_type text,
									 left_selector text,
									 left_start timestamptz,
									 left_end timestamptz,
									 right_selector text,
									 right_start timestamptz,
									 right_end timestamptz,
									 max_nodes integer DEFAULT 1024,
									 tenant text DEFAULT 'anonymous',
									 title text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'pyroscope_diff_svg'
	LANGUAGE C STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.diff_svg(text, text, timestamptz, timestamptz, text, timestamptz, timestamptz, integer, text, text) IS
	'the diff flame graph of two selections (left: baseline, right: comparison) as an SVG document: red frames take a larger share on the right, green a smaller';

--------------------------------------------------------------------------
-- pyroscope.merge in parallel: partial merges combined
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.merge_combinefn(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'pyroscope_merge_combinefn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.merge_serialfn(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'pyroscope_merge_serialfn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.merge_deserialfn(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'pyroscope_merge_deserialfn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
DROP AGGREGATE @extschema@.merge(@extschema@.profile);
CREATE AGGREGATE @extschema@.merge(@extschema@.profile) (
	SFUNC = @extschema@.merge_transfn,
	STYPE = internal,
	FINALFUNC = @extschema@.merge_finalfn,
	COMBINEFUNC = @extschema@.merge_combinefn,
	SERIALFUNC = @extschema@.merge_serialfn,
	DESERIALFUNC = @extschema@.merge_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.merge(@extschema@.profile) IS
	'merges profiles: identical stacks summed, symbols de-duplicated; in parallel plans each worker merges its rows and the leader combines the partial merges';
-- a stored pprof's part can be read in parallel workers too.  Costs in
-- units of cpu_operator_cost: reading a part (a lookup, a gunzip and a
-- decode: about 0.1-1 ms) as 20000, merging a block's range (several
-- profiles) as 100000, so that the planner sees what parallel workers save
ALTER FUNCTION @extschema@.head_profile(@extschema@.head) PARALLEL SAFE COST 20000;

--------------------------------------------------------------------------
-- Profiles from the query's own rows: a stored pprof's part, a block's
-- merged range (no lookups of their own, so they run where the rows are)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.pprof_part(data bytea, part integer)
	RETURNS @extschema@.profile
	AS 'MODULE_PATHNAME', 'pyroscope_pprof_part'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 20000;
COMMENT ON FUNCTION @extschema@.pprof_part(bytea, integer) IS
	'the profile of part "part" of a stored pprof (pyroscope.head_pprof.data, the head row''s part), as head_profile() reads it but from the bytes given';

CREATE FUNCTION @extschema@.block_profile(data bytea,
										  series_ids bigint[],
										  start timestamptz DEFAULT '-infinity',
										  "end" timestamptz DEFAULT 'infinity')
	RETURNS @extschema@.profile
	AS 'MODULE_PATHNAME', 'pyroscope_block_profile'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 100000;
COMMENT ON FUNCTION @extschema@.block_profile(bytea, bigint[], timestamptz, timestamptz) IS
	'the merge of the profiles of an encoded block (pyroscope.blocks.data) in the given series (NULL: all; pass the series of one profile type) and time range, or NULL when none';

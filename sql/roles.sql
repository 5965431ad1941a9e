--
-- roles: tenants are PostgreSQL roles.  Two tenants, three roles and a
-- superuser: each role sees exactly its tenants' rows through every SQL
-- function, view and table, writes only where granted (42501 elsewhere),
-- and forced parallel plans give the same answers.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set labels :abs_srcdir '/test/data/pprof/go/cpu-labels.pb.gz'
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_alice;
DROP ROLE IF EXISTS regress_bob;
DROP ROLE IF EXISTS regress_carol;
RESET client_min_messages;

-- alice reads and writes tenant ta; bob only reads tb; carol is an admin
CREATE ROLE regress_alice IN ROLE pyroscope_reader, pyroscope_writer;
CREATE ROLE regress_bob IN ROLE pyroscope_reader;
CREATE ROLE regress_carol IN ROLE pyroscope_admin;
INSERT INTO pyroscope.tenant_grants VALUES
	('regress_alice', 'ta', true, true),
	('regress_bob', 'tb', true, false);

-- the pprofs, readable by the roles (pg_read_binary_file is not)
CREATE TABLE regress_files (name text PRIMARY KEY, data bytea);
INSERT INTO regress_files VALUES ('cpu', pg_read_binary_file(:'cpu')), ('labels', pg_read_binary_file(:'labels'));
GRANT SELECT ON regress_files TO PUBLIC;

-- tenant ta: one pprof compacted into a block, one in head; tb likewise
-- with another pprof; settings and a retention override of each
SELECT pyroscope.ingest_pprof(f.data, jsonb_build_object('service_name', 'svc-' || t), t,
							  at => '2031-02-01 10:00+00')
  FROM regress_files f, (VALUES ('ta', 'cpu'), ('tb', 'labels')) v(t, n) WHERE f.name = v.n;
SELECT pyroscope.compact('2031-02-01 12:00+00', t) ->> 'blocks_written' AS blocks FROM (VALUES ('ta'), ('tb')) v(t);
SELECT pyroscope.ingest_pprof(f.data, jsonb_build_object('service_name', 'svc-' || t), t,
							  at => '2031-02-01 12:30+00')
  FROM regress_files f, (VALUES ('ta', 'cpu'), ('tb', 'labels')) v(t, n) WHERE f.name = v.n;
INSERT INTO pyroscope.settings VALUES ('ta', 'k', 'va', 1), ('tb', 'k', 'vb', 1);
INSERT INTO pyroscope.tenant_retention VALUES ('ta', '90 days'), ('tb', '91 days');
INSERT INTO pyroscope.tenant_limits (tenant, max_query_concurrency) VALUES ('ta', 3), ('tb', 4);

-- Everything a role can learn of one tenant, one value per function, view
-- and table (an error shows as its SQLSTATE)
CREATE FUNCTION regress_probe(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	EXECUTE q INTO v;
	RETURN COALESCE(v, 'null');
EXCEPTION WHEN others THEN
	RETURN 'ERROR ' || SQLSTATE;
END
$$;
CREATE FUNCTION regress_view(t text) RETURNS TABLE (probe text, value text) LANGUAGE sql AS $$
	SELECT p, regress_probe(replace(replace(q, '$t', quote_literal(t)), '$T',
					quote_literal('process_cpu:cpu:nanoseconds:cpu:nanoseconds')))
	  FROM (VALUES
		('profile_types', 'SELECT count(*) FROM pyroscope.profile_types($t)'),
		('label_names', 'SELECT string_agg(n, '','' ORDER BY n) FROM pyroscope.label_names(''{}'', ''-infinity'', ''infinity'', $t) n'),
		('label_values', 'SELECT string_agg(n, '','' ORDER BY n) FROM pyroscope.label_values(''service_name'', ''{}'', ''-infinity'', ''infinity'', $t) n'),
		('select_series', 'SELECT count(*) FROM pyroscope.select_series($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('flamegraph', 'SELECT pyroscope.flamegraph($T, ''{}'', ''-infinity'', ''infinity'', tenant => $t) ->> ''numTicks'''),
		('top_functions', 'SELECT sum(self) FROM pyroscope.top_functions($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('stacks', 'SELECT count(*) || '' '' || sum(self) FROM pyroscope.stacks($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('merge_pprof', 'SELECT length(pyroscope.merge_pprof($T, ''{}'', ''-infinity'', ''infinity'', $t)) > 0'),
		('diff', 'SELECT (d ->> ''leftTicks'') || '' '' || (d ->> ''rightTicks'') FROM pyroscope.diff($T, ''{}'', ''2031-02-01 10:00+00'', ''2031-02-01 11:00+00'', ''{}'', ''2031-02-01 12:00+00'', ''2031-02-01 13:00+00'', tenant => $t) d'),
		('dot', 'SELECT pyroscope.dot($T, ''{}'', ''-infinity'', ''infinity'', tenant => $t) LIKE ''%->%'''),
		('select_profiles', 'SELECT count(*) || '' '' || sum(total) FROM pyroscope.select_profiles($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('profile_totals', 'SELECT count(*) || '' '' || sum(total) FROM pyroscope.profile_totals($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('list_profiles', 'SELECT count(DISTINCT profile_id) FROM pyroscope.list_profiles($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('list_spans', 'SELECT count(*) FROM pyroscope.list_spans($T, ''{}'', ''-infinity'', ''infinity'', $t)'),
		('heatmap', 'SELECT sum(count) FROM pyroscope.heatmap($T, ''{}'', ''2031-02-01 09:00+00'', ''2031-02-01 14:00+00'', ''1 hour'', tenant => $t)'),
		('exemplars', 'SELECT count(*) FROM pyroscope.exemplars($T, ''{}'', ''2031-02-01 09:00+00'', ''2031-02-01 14:00+00'', ''1 hour'', tenant => $t)'),
		('merge(head_profile)', 'SELECT pyroscope.total(pyroscope.merge(pyroscope.head_profile(h))) FROM pyroscope.head h WHERE tenant = $t'),
		('table series', 'SELECT count(*) FROM pyroscope.series WHERE tenant = $t'),
		('table head', 'SELECT count(*) || '' '' || sum(total) FROM pyroscope.head WHERE tenant = $t'),
		('table head_pprof', 'SELECT count(*) FROM pyroscope.head_pprof WHERE tenant = $t'),
		('table blocks', 'SELECT count(*) || '' '' || sum(nsamples) FROM pyroscope.blocks WHERE tenant = $t'),
		('table settings', 'SELECT string_agg(value, '','') FROM pyroscope.settings WHERE tenant = $t'),
		('table tenant_retention', 'SELECT string_agg(retention::text, '','') FROM pyroscope.tenant_retention WHERE tenant = $t'),
		('table tenant_limits', 'SELECT string_agg(max_query_concurrency::text, '','') FROM pyroscope.tenant_limits WHERE tenant = $t'),
		('view block_tiers', 'SELECT count(*) FROM pyroscope.block_tiers WHERE tenant = $t'),
		('view cardinality', 'SELECT sum(series) || '' '' || count(*) FROM pyroscope.cardinality WHERE tenant = $t'),
		('view job_status', 'SELECT count(*) > 0 FROM pyroscope.job_status'),
		('table job_runs', 'SELECT count(*) > 0 FROM pyroscope.job_runs')
	  ) v(p, q)
$$;

-- what there is, as the superuser sees it; tz has nothing
CREATE TABLE regress_truth AS
SELECT t.tenant, v.probe, v.value FROM (VALUES ('ta'), ('tb'), ('tz')) t(tenant), regress_view(t.tenant) v;
SELECT probe, max(value) FILTER (WHERE tenant = 'ta') AS ta, max(value) FILTER (WHERE tenant = 'tb') AS tb,
	   max(value) FILTER (WHERE tenant = 'tz') AS nothing
  FROM regress_truth GROUP BY probe ORDER BY probe;

-- What a role sees of each tenant: "all" when it is what the superuser
-- sees, "none" when it is what the superuser sees of a tenant with
-- nothing, else the value itself
CREATE FUNCTION regress_seen() RETURNS TABLE (probe text, ta text, tb text) LANGUAGE sql AS $$
	SELECT v.probe,
		   max(CASE WHEN v.value = a.value THEN 'all' WHEN v.value = z.value THEN 'none' ELSE v.value END)
			   FILTER (WHERE v.tenant = 'ta'),
		   max(CASE WHEN v.value = a.value THEN 'all' WHEN v.value = z.value THEN 'none' ELSE v.value END)
			   FILTER (WHERE v.tenant = 'tb')
	  FROM (SELECT t.tenant, r.probe, r.value FROM (VALUES ('ta'), ('tb')) t(tenant), regress_view(t.tenant) r) v
	  JOIN regress_truth a ON a.tenant = v.tenant AND a.probe = v.probe
	  JOIN regress_truth z ON z.tenant = 'tz' AND z.probe = v.probe
	 GROUP BY v.probe ORDER BY v.probe
$$;
GRANT SELECT ON regress_truth TO PUBLIC;

SET ROLE regress_alice;
SELECT * FROM regress_seen();
SELECT pyroscope.role_tenants('read') AS reads, pyroscope.role_tenants('write') AS writes;
SELECT * FROM pyroscope.tenant_grants;
RESET ROLE;
SET ROLE regress_bob;
SELECT * FROM regress_seen();
SELECT pyroscope.role_tenants('read') AS reads, pyroscope.role_tenants('write') AS writes;
SELECT * FROM pyroscope.tenant_grants;
RESET ROLE;
SET ROLE regress_carol;
SELECT * FROM regress_seen();
SELECT pyroscope.role_tenants('read') AS reads, pyroscope.role_tenants('write') AS writes;
SELECT count(*) AS grants_seen FROM pyroscope.tenant_grants;
RESET ROLE;

-- the same answers from forced parallel plans (RLS in parallel workers)
CREATE TABLE regress_serial AS SELECT 'x'::text AS who, * FROM regress_seen() WHERE false;
GRANT INSERT, SELECT ON regress_serial TO PUBLIC;
SET ROLE regress_alice;
INSERT INTO regress_serial SELECT 'alice', * FROM regress_seen();
RESET ROLE;
SET ROLE regress_bob;
INSERT INTO regress_serial SELECT 'bob', * FROM regress_seen();
RESET ROLE;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
					   THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) AS forced;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
-- The shape of a plan: its aggregation and gathering nodes, top down, and
-- the tables it reads (a partition counts as its table), the same whether
-- the tables are plain or hash-partitioned (scripts/test.sh runs both).
CREATE FUNCTION pg_temp.plan_nodes(n jsonb, OUT nodes text[], OUT tables text[])
LANGUAGE plpgsql AS $f$
DECLARE
	c record;
	k jsonb;
BEGIN
	nodes := CASE WHEN n ->> 'Node Type' IN ('Aggregate', 'Gather')
				  THEN ARRAY[concat_ws(' ', nullif(n ->> 'Partial Mode', 'Simple'), n ->> 'Node Type')]
				  ELSE '{}' END;
	tables := CASE WHEN n ? 'Relation Name'
				   THEN ARRAY[regexp_replace(n ->> 'Relation Name', '_p[0-9]+$', '')] ELSE '{}' END;
	FOR k IN SELECT jsonb_array_elements(coalesce(n -> 'Plans', '[]')) LOOP
		c := pg_temp.plan_nodes(k);
		nodes := nodes || c.nodes;
		tables := tables || c.tables;
	END LOOP;
END
$f$;
CREATE FUNCTION pg_temp.plan_shape(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	j jsonb;
	c record;
BEGIN
	EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || q INTO j;
	c := pg_temp.plan_nodes(j -> 0 -> 'Plan');
	RETURN array_to_string(c.nodes, ' > ') || '; reads '
		|| (SELECT string_agg(DISTINCT t, ', ') FROM unnest(c.tables) t);
END
$f$;
ANALYZE pyroscope.head;
-- (a parallel plan, whichever node gathers: that differs between plain and
-- partitioned tables)
SELECT s ~ 'Gather' AS parallel_plan, regexp_replace(s, '^.*; ', '') AS tables
  FROM pg_temp.plan_shape($$SELECT count(*) FROM pyroscope.head WHERE tenant = 'ta'$$) s;
SET ROLE regress_alice;
SELECT count(*) AS differences FROM (SELECT * FROM regress_seen() EXCEPT SELECT probe, ta, tb FROM regress_serial WHERE who = 'alice') d;
RESET ROLE;
SET ROLE regress_bob;
SELECT count(*) AS differences FROM (SELECT * FROM regress_seen() EXCEPT SELECT probe, ta, tb FROM regress_serial WHERE who = 'bob') d;
RESET ROLE;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
					   THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'off', false) AS forced;

-- Writes: only where granted.  alice writes ta, not tb
SET ROLE regress_alice;
SELECT pyroscope.ingest_pprof(data, '{"service_name": "svc-ta"}', 'ta', at => '2031-02-01 12:40+00') AS stored
  FROM regress_files WHERE name = 'cpu';
SELECT pyroscope.ingest_pprof(data, '{"service_name": "svc-ta"}', 'tb', at => '2031-02-01 12:40+00')
  FROM regress_files WHERE name = 'cpu';
INSERT INTO pyroscope.settings VALUES ('ta', 'k2', 'v', 1);
INSERT INTO pyroscope.settings VALUES ('tb', 'k2', 'v', 1);
INSERT INTO pyroscope.series (tenant, profile_type, service_name, labels, fingerprint, first_seen, last_seen)
	VALUES ('tb', 't', 's', '{}', 1, now(), now());
UPDATE pyroscope.settings SET value = 'x' WHERE tenant = 'tb';
DELETE FROM pyroscope.head WHERE tenant = 'ta';
INSERT INTO pyroscope.tenant_retention VALUES ('ta', '1 day');
INSERT INTO pyroscope.tenant_limits (tenant) VALUES ('ta2');
INSERT INTO pyroscope.tenant_grants VALUES ('regress_alice', 'tb', true, true);
SELECT pyroscope.compact('2031-02-01 12:00+00');
SELECT pyroscope.offload('2031-02-01 12:00+00');
SELECT count(*) FROM pyroscope.http_credentials;
RESET ROLE;
-- bob writes nothing
SET ROLE regress_bob;
SELECT pyroscope.ingest_pprof(data, '{"service_name": "svc-tb"}', 'tb') FROM regress_files WHERE name = 'cpu';
SELECT pyroscope.ingest_otlp('\x'::bytea, tenant => 'tb');
INSERT INTO pyroscope.settings VALUES ('tb', 'k3', 'v', 1);
RESET ROLE;
-- carol (admin) writes anywhere and runs the admin functions
SET ROLE regress_carol;
SELECT pyroscope.ingest_pprof(data, '{"service_name": "svc-tb"}', 'tb', at => '2031-02-01 12:40+00') AS stored
  FROM regress_files WHERE name = 'labels';
INSERT INTO pyroscope.tenant_grants VALUES ('regress_bob', 'tc', true, false);
DELETE FROM pyroscope.tenant_grants WHERE tenant = 'tc';
SELECT (pyroscope.compact('2031-02-01 12:00+00', 'tb') ->> 'head_rows_compacted')::int >= 0 AS compacted;
SELECT count(*) > 0 AS runs FROM pyroscope.job_status;
RESET ROLE;
-- what the writes left: one more ta profile (alice), one more tb (carol)
SELECT tenant, count(*) AS head_rows FROM pyroscope.head WHERE tenant IN ('ta', 'tb') GROUP BY 1 ORDER BY 1;
SELECT tenant, name, value FROM pyroscope.settings WHERE tenant IN ('ta', 'tb') ORDER BY 1, 2;

-- which label exploded: tb's labels by distinct values, with their top values
SELECT service_name, service_series, label_name, series, label_values, top_values
  FROM pyroscope.cardinality WHERE tenant = 'tb' AND label_name NOT LIKE '\_\_%'
 ORDER BY label_values DESC, label_name;

-- a grant on * is every tenant; a grant to a group role reaches its members
INSERT INTO pyroscope.tenant_grants VALUES ('pyroscope_reader', '*', true, false);
SET ROLE regress_bob;
SELECT probe, ta, tb FROM regress_seen() WHERE probe IN ('flamegraph', 'table head');
RESET ROLE;
DELETE FROM pyroscope.tenant_grants WHERE role = 'pyroscope_reader';
-- role membership counts, and changes of it are seen at once (within a
-- session that asked before)
SET ROLE regress_bob;
SELECT pyroscope.role_tenants('read') AS bob_reads;
RESET ROLE;
GRANT regress_alice TO regress_bob;
SET ROLE regress_bob;
SELECT pyroscope.role_tenants('read') AS bob_reads_as_member_of_alice;
RESET ROLE;
REVOKE regress_alice FROM regress_bob;
SET ROLE regress_bob;
SELECT pyroscope.role_tenants('read') AS bob_reads;
RESET ROLE;
SELECT pyroscope.role_tenants('none');

DROP FUNCTION regress_seen();
DROP FUNCTION regress_view(text);
DROP FUNCTION regress_probe(text);
DROP TABLE regress_files, regress_truth, regress_serial;
DELETE FROM pyroscope.tenant_grants WHERE role LIKE 'regress%';
DELETE FROM pyroscope.tenant_limits WHERE tenant IN ('ta', 'tb');
DROP ROLE regress_alice;
DROP ROLE regress_bob;
DROP ROLE regress_carol;

--
-- upgrade: a database made by version 1.0 (profile values in head rows)
-- is brought to the current version (1.1: pprofs kept as sent; 1.2: a
-- tenant retention of 0, ingest at a given time; 1.3: query workers on the
-- status board, stored pprofs not recompressed; 1.4: ingest_jfr; 1.5:
-- profile ids; 1.6: roles, tenant grants, row-level security; 1.7: the
-- distribution key shard_key; 1.8: DROP EXTENSION under Citus; 1.9: label
-- queries, profile-id and span selections read where the rows are) by ALTER
-- EXTENSION ... UPDATE, and then stores and reads pprofs like a new one.  (A new
-- database is made by the same scripts: pyroscope--1.0.sql and the
-- updates after it.)
--
\set regress_db :DBNAME
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set jfr :abs_srcdir '/test/data/jfr/dump1.jfr.gz'
CREATE DATABASE pyroscope_upgrade;
\c pyroscope_upgrade
SET client_min_messages = warning;
CREATE EXTENSION pyroscope VERSION '1.0';
SELECT a.attname, a.attnotnull
  FROM pg_attribute a WHERE a.attrelid = 'pyroscope.head'::regclass AND a.attnum > 0
 ORDER BY a.attnum;
-- head rows of 1.4 (written by hand: this library writes 1.5's): one
-- stored pprof split into two series, and a row of another
ALTER EXTENSION pyroscope UPDATE TO '1.4';
INSERT INTO pyroscope.series (tenant, profile_type, service_name, labels, fingerprint, first_seen, last_seen)
	SELECT 'old', 't', 's', jsonb_build_object('n', i), i, now(), now() FROM generate_series(1, 2) i;
INSERT INTO pyroscope.head_pprof (tenant, data) VALUES ('old', '\x00'), ('old', '\x01');
INSERT INTO pyroscope.head (series_id, tenant, ts, total, nsamples, pprof_id, part)
	SELECT s.series_id, 'old', now(), 1, 1, p.pprof_id, s.fingerprint - 1
	  FROM pyroscope.series s, pyroscope.head_pprof p
	 WHERE p.pprof_id = (SELECT min(pprof_id) FROM pyroscope.head_pprof)
	UNION ALL
	SELECT min(series_id), 'old', now(), 1, 1, max(pprof_id), 0 FROM pyroscope.series, pyroscope.head_pprof;
ALTER EXTENSION pyroscope UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pyroscope';
-- 1.7: every row has its service's shard key, stored pprofs are found by
-- their head rows' keys, and ids go on from where they were
SELECT (SELECT bool_and(shard_key = pyroscope.shard_key(tenant, service_name)) FROM pyroscope.series) AS series_keyed,
	   (SELECT bool_and(shard_key = pyroscope.shard_key('old', 's')) FROM pyroscope.head) AS head_keyed,
	   (SELECT count(*) FROM pyroscope.head h JOIN pyroscope.head_pprof p USING (shard_key, pprof_id))
	   AS head_rows_with_their_pprof,
	   nextval('pyroscope.series_series_id_seq') > (SELECT max(series_id) FROM pyroscope.series) AS series_ids_go_on,
	   nextval('pyroscope.head_pprof_pprof_id_seq') > (SELECT max(pprof_id) FROM pyroscope.head_pprof) AS pprof_ids_go_on;
-- 1.5: each stored pprof's rows got one id
SELECT pprof_id - (SELECT min(pprof_id) FROM pyroscope.head_pprof) AS pprof, count(*) AS rows,
	   count(DISTINCT profile_id) AS ids
  FROM pyroscope.head GROUP BY 1 ORDER BY 1;
SELECT count(DISTINCT profile_id) AS distinct_ids FROM pyroscope.head;
DELETE FROM pyroscope.head;
DELETE FROM pyroscope.head_pprof;
DELETE FROM pyroscope.series;
-- the same columns, in the same order, as a new database
SELECT a.attname, a.attnotnull
  FROM pg_attribute a WHERE a.attrelid = 'pyroscope.head'::regclass AND a.attnum > 0
 ORDER BY a.attnum;
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "upgraded"}');
SELECT count(*) AS pprofs FROM pyroscope.head_pprof;
SELECT h.part, h.total = pyroscope.total(pyroscope.head_profile(h)) AS same_total
  FROM pyroscope.head h ORDER BY 1;
SELECT (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="upgraded"}',
							 '-infinity', 'infinity') ->> 'numTicks')::bigint > 0 AS flamegraph;
-- what 1.2 added
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "upgraded"}',
							  at => '2031-01-01 00:00+00');
INSERT INTO pyroscope.tenant_retention VALUES ('kept', '0');
-- what 1.3 added: stored pprofs without recompression, query workers on the board
SELECT attstorage FROM pg_attribute
 WHERE attrelid = 'pyroscope.head_pprof'::regclass AND attname = 'data';
SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute
 WHERE attrelid = 'pyroscope.http_workers'::regclass AND attnum > 0;
-- what 1.4 added: JFR recordings from SQL
SELECT pyroscope.ingest_jfr(pg_read_binary_file(:'jfr'), labels => '{"service_name": "upgraded-jfr"}');
-- what 1.6 added: row-level security on the tables of tenant data, the
-- grants of the HTTP role, the role of each credential
SELECT c.relname, c.relrowsecurity, count(p.polname) AS policies
  FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
 WHERE c.relnamespace = 'pyroscope'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 GROUP BY 1, 2 ORDER BY 1;
SELECT * FROM pyroscope.tenant_grants;
SELECT column_default FROM information_schema.columns
 WHERE table_schema = 'pyroscope' AND table_name = 'http_credentials' AND column_name = 'role';
-- what 1.9 changed: label names and values found by one statement over the
-- series (C functions now, the same rows); a block's profiles of some ids
SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'pyroscope'::regnamespace AND p.proname IN ('label_names', 'label_values')
 ORDER BY 1;
SELECT * FROM pyroscope.label_names('{service_name="upgraded"}', '-infinity', 'infinity');
SELECT * FROM pyroscope.label_values('service_name', '{}', '-infinity', 'infinity');
SELECT pyroscope.label_names(NULL, '-infinity', 'infinity');
INSERT INTO pyroscope.tenant_retention VALUES ('anonymous', interval '100 years');
SELECT pyroscope.compact('2032-01-01') ->> 'blocks_written' AS blocks_written;
SELECT b.service_name,
	   pyroscope.total(pyroscope.block_profile(b.data, NULL, '-infinity', 'infinity', NULL, false))
	   = pyroscope.total(pyroscope.block_profile(b.data, NULL)) AS any_id_is_all,
	   pyroscope.block_profile(b.data, NULL, '-infinity', 'infinity', '{}', false) IS NULL AS no_id_is_none
  FROM pyroscope.blocks b ORDER BY 1;
-- head_profile() of a row of another row type with head's columns (what a
-- Citus shard hands it), checked by name and type
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "rowtype"}') IS NOT NULL AS ingested;
SELECT count(*) AS rows,
	   bool_and(pyroscope.total(pyroscope.head_profile(h::record)) = pyroscope.total(pyroscope.head_profile(h)))
	   AS same_as_head_row
  FROM pyroscope.head h JOIN pyroscope.series s USING (shard_key, series_id)
 WHERE s.service_name = 'rowtype';
SELECT pyroscope.head_profile(x)
  FROM (SELECT 1 AS profile, 2::bigint AS pprof_id, 0 AS part, 1::bigint AS total, 0 AS shard_key) x;
-- what 1.8 added: an event trigger of DROP EXTENSION, which on one node
-- leaves every DROP EXTENSION as it was (on a Citus coordinator it drops
-- the shards of the extension's tables first: docs/scaling-out.md)
SELECT evtname, evtevent, evttags FROM pg_event_trigger;
CREATE EXTENSION pg_trgm;
DROP EXTENSION pg_trgm;
SELECT count(*) > 0 AS has_relations FROM pg_class WHERE relnamespace = 'pyroscope'::regnamespace;
DROP EXTENSION pyroscope;
SELECT count(*) AS pyroscope_tables FROM pg_class WHERE relnamespace = 'pyroscope'::regnamespace;
SELECT count(*) AS event_triggers FROM pg_event_trigger;
\c :regress_db
DROP DATABASE pyroscope_upgrade;

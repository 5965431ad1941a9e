--
-- upgrade: a database made by version 1.0 (profile values in head rows)
-- is brought to the current version (1.1: pprofs kept as sent; 1.2: a
-- tenant retention of 0, ingest at a given time; 1.3: query workers on the
-- status board, stored pprofs not recompressed; 1.4: ingest_jfr) by ALTER
-- EXTENSION ...
-- UPDATE, and then stores and reads pprofs like a new one.  (A new
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
ALTER EXTENSION pyroscope UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pyroscope';
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
\c :regress_db
DROP DATABASE pyroscope_upgrade;

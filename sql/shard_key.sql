-- The distribution key (docs/scaling-out.md): shard_key(tenant,
-- service_name) on series, head, head_pprof, blocks and object_deletions,
-- in every primary and unique key and every statement of the engine, so
-- that a query of one service reads one partition (or Citus shard) of
-- each table.  The suites run with plain tables and again with the big
-- tables hash-partitioned (pyroscope.hash_partitions = 4, scripts/test.sh):
-- this file answers the same in both but for one plan (shard_key_1.out).
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';

-- the key's values never change (these were computed apart, in Python)
SELECT pyroscope.shard_key('anonymous', 'app') AS anonymous_app, pyroscope.shard_key('', '') AS empty,
	   pyroscope.shard_key('ab', 'c') <> pyroscope.shard_key('a', 'bc') AS separated;

-- every primary and unique key of the big tables holds it
SELECT c.conrelid::regclass AS tbl, c.conname,
	   (SELECT a.attnum FROM pg_attribute a
		 WHERE a.attrelid = c.conrelid AND a.attname = 'shard_key') = ANY (c.conkey) AS has_key
  FROM pg_constraint c
 WHERE c.conrelid IN ('pyroscope.series'::regclass, 'pyroscope.head'::regclass,
					  'pyroscope.head_pprof'::regclass, 'pyroscope.blocks'::regclass,
					  'pyroscope.object_deletions'::regclass)
   AND c.contype IN ('p', 'u')
 ORDER BY 1, 2;
-- the tables are partitioned by it into pyroscope.hash_partitions parts,
-- or not at all
SELECT c.relname,
	   CASE c.relkind WHEN 'p' THEN pg_get_partkeydef(c.oid) = 'HASH (shard_key)' ELSE c.relkind = 'r' END
	   AS by_shard_key,
	   (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)
	   = current_setting('pyroscope.hash_partitions')::int AS partitions_as_set
  FROM pg_class c
 WHERE c.relnamespace = 'pyroscope'::regnamespace
   AND c.relname IN ('series', 'head', 'head_pprof', 'blocks', 'object_deletions')
 ORDER BY 1;

-- pg_dump saves the tables' rows and where the id sequences are (a restored
-- database goes on from there instead of reusing ids)
SELECT c::regclass AS saved_by_pg_dump
  FROM pg_extension e, unnest(e.extconfig) c
 WHERE e.extname = 'pyroscope' AND c::regclass::text ~ '(series|head_pprof|blocks)_.*_seq$'
 ORDER BY 1;

-- three services of one tenant
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), jsonb_build_object('service_name', s), 'sk')
  FROM (VALUES ('a'), ('b'), ('c')) v(s);
-- each row has its service's key, and head rows find their stored pprof by it
SELECT s.service_name, s.shard_key = pyroscope.shard_key('sk', s.service_name) AS series_key,
	   (SELECT bool_and(h.shard_key = s.shard_key) FROM pyroscope.head h
		 WHERE h.series_id = s.series_id) AS head_key,
	   (SELECT count(*) FROM pyroscope.head h JOIN pyroscope.head_pprof p USING (shard_key, pprof_id)
		 WHERE h.series_id = s.series_id) AS head_rows_with_pprof
  FROM pyroscope.series s WHERE s.tenant = 'sk' ORDER BY 1, s.profile_type;
-- a row with another key than its service's is refused
\set VERBOSITY sqlstate
INSERT INTO pyroscope.series (tenant, profile_type, service_name, labels, fingerprint,
							  first_seen, last_seen, shard_key)
	VALUES ('sk', 't', 'a', '{}', 1, now(), now(), pyroscope.shard_key('sk', 'b'));
INSERT INTO pyroscope.blocks (tenant, service_name, level, min_ts, max_ts, series_ids, nprofiles,
							  nsamples, size, data, shard_key)
	VALUES ('sk', 'a', 0, now(), now(), '{}', 0, 0, 0, '\x', 0);
\set VERBOSITY default

-- which of the tables (or their partitions) this transaction has read
-- (the counts of earlier transactions not yet sent to the statistics are
-- shown too: each BEGIN below follows pg_stat_force_next_flush())
CREATE FUNCTION pg_temp.scanned(t text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM pg_stat_xact_user_tables
	 WHERE schemaname = 'pyroscope' AND relname ~ ('^' || t || '(_p[0-9]+)?$')
	   AND seq_scan + coalesce(idx_scan, 0) > 0
$$;

-- a flame graph of one service reads one part of each table
SELECT sum(h.total) AS b_total
  FROM pyroscope.head h JOIN pyroscope.series s USING (shard_key, series_id)
 WHERE s.tenant = 'sk' AND s.service_name = 'b'
   AND s.profile_type = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds' \gset
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="b"}',
							 '-infinity', 'infinity', 0, 'sk') ->> 'numTicks')::bigint = :b_total
	   AS right_total;
SELECT pg_temp.scanned('series') AS series, pg_temp.scanned('head') AS head,
	   pg_temp.scanned('head_pprof') AS head_pprof;
COMMIT;
-- the plan of the engine's head scan names one part (shard_key_1.out: one
-- partition of four)
EXPLAIN (COSTS OFF)
SELECT h.series_id FROM pyroscope.head h
 WHERE h.shard_key = ANY (ARRAY[pyroscope.shard_key('sk', 'b')]) AND h.tenant = 'sk';

-- compaction deletes exactly the rows it wrote into blocks, service by
-- service (a ctid is unique only within one partition or shard), and the
-- answers stay the same
CREATE TEMP TABLE before AS
SELECT s, pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
							   format('{service_name="%s"}', s), '-infinity', 'infinity', 0, 'sk')::text AS fg
  FROM (VALUES ('a'), ('b'), ('c')) v(s);
INSERT INTO pyroscope.tenant_retention VALUES ('sk', interval '100 years');
SELECT (pyroscope.compact('2030-01-01', 'sk') ->> 'head_rows_compacted')::int AS head_rows_compacted;
SELECT (SELECT count(*) FROM pyroscope.head WHERE tenant = 'sk') AS head_rows_left,
	   (SELECT count(*) FROM pyroscope.head_pprof WHERE tenant = 'sk') AS pprofs_left,
	   (SELECT count(*) FROM pyroscope.blocks WHERE tenant = 'sk') AS blocks,
	   (SELECT bool_and(shard_key = pyroscope.shard_key(tenant, service_name))
		  FROM pyroscope.blocks WHERE tenant = 'sk') AS blocks_keyed;
SELECT b.s, b.fg = pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
										format('{service_name="%s"}', b.s), '-infinity', 'infinity',
										0, 'sk')::text AS same
  FROM before b ORDER BY 1;
-- and a flame graph of one service reads one part of blocks
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="c"}',
							 '-infinity', 'infinity', 0, 'sk') ->> 'numTicks')::bigint > 0 AS answered;
SELECT pg_temp.scanned('series') AS series, pg_temp.scanned('blocks') AS blocks;
COMMIT;

-- a unit is a call of pyroscope.compact_unit() (what the compactor and
-- compact() run; under Citus it runs on the node holding the shard):
-- checked before it runs
SELECT pyroscope.compact_unit(pyroscope.shard_key('sk', 'a'), 'retention', 'sk', 'a', 0, NULL, '2030-01-01')
	   ->> 'units' AS units;
SELECT pyroscope.compact_unit(1, 'retention', 'sk', 'a', 0, NULL, '2030-01-01');
SELECT pyroscope.compact_unit(pyroscope.shard_key('sk', 'a'), 'sweep', 'sk', 'a', 0, NULL, '2030-01-01');
SELECT pyroscope.compact_unit(pyroscope.shard_key('sk', 'a'), 'merge', 'sk', 'a', 3, '2030-01-01', '2030-01-01');
SELECT pyroscope.compact_unit(pyroscope.shard_key('sk', 'a'), 'head', 'sk', 'a', 0, NULL, '2030-01-01');
SELECT pyroscope.compact_unit(pyroscope.shard_key('sk', 'a'), 'merge', 'sk', 'a', 1, '2030-01-01 00:30+00', '2030-01-01');
SELECT pyroscope.compact_unit(pyroscope.shard_key('sk', 'a'), 'head', NULL, 'a', 0, NULL, '2030-01-01');

-- retention runs service by service too: everything of the tenant goes
UPDATE pyroscope.tenant_retention SET retention = interval '1 day' WHERE tenant = 'sk';
SELECT (r ->> 'blocks_deleted')::int AS blocks_deleted, (r ->> 'series_deleted')::int AS series_deleted
  FROM (SELECT pyroscope.compact('2030-01-01', 'sk') AS r) x;
SELECT (SELECT count(*) FROM pyroscope.series WHERE tenant = 'sk') AS series,
	   (SELECT count(*) FROM pyroscope.blocks WHERE tenant = 'sk') AS blocks;

-- distributing the tables needs Citus: without it, a clear error
\set VERBOSITY sqlstate
SELECT pyroscope.distribute();
\set VERBOSITY default
SELECT pyroscope.distribute();
SELECT pyroscope.distribute(0);

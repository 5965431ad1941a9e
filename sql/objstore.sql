-- Offload to the object store (the filesystem backend: a directory in the
-- data directory): blocks move with every answer unchanged, each block is
-- in exactly one place, retention removes the objects (only once the
-- deleting transaction committed), orphaned objects are swept, keys are
-- checked.  Tenant "ot", year 2031, so other suites' data stays apart.
\getenv abs_srcdir PG_ABS_SRCDIR
-- one-hour level-0 windows and a 10-minute head, as the expected block
-- counts below were written for (the defaults are one minute since 1.3)
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';
SET timezone = 'UTC';
\set go :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set java :abs_srcdir '/test/data/pprof/java/profile_java.pb.gz'

CREATE FUNCTION pg_temp.ingest_at(path text, labels jsonb, at timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	n := pyroscope.ingest_pprof(pg_read_binary_file(path), labels, 'ot');
	UPDATE pyroscope.head h SET ts = at
	 WHERE h.tenant = 'ot' AND (h.ts < '2031-01-01 00:00+00' OR h.ts >= '2031-02-01 00:00+00');
	UPDATE pyroscope.series s SET first_seen = LEAST(s.first_seen, at), last_seen = at
	 WHERE s.tenant = 'ot' AND s.last_seen < at;
	RETURN n;
END $$;

SELECT sum(pg_temp.ingest_at(f.path, jsonb_build_object('service_name', f.service, 'pod', p.pod),
							 timestamptz '2031-01-01 00:00+00' + h * interval '1 hour' + p.off))
  FROM (VALUES (:'go', 'checkout'), (:'java', 'ledger')) f(path, service),
	   (VALUES ('p1', interval '10 min'), ('p2', interval '55 min')) p(pod, off),
	   generate_series(0, 5) h;
SELECT (pyroscope.compact('2031-01-03')->>'blocks_written')::int > 0 AS compacted;
SELECT count(*) > 0 AS has_blocks FROM pyroscope.blocks WHERE tenant = 'ot';

-- every answer: flame graphs per type, selector and range, and each
-- block's profiles read back (series, time, total)
CREATE FUNCTION pg_temp.answers()
RETURNS TABLE (q text, answer text) LANGUAGE sql AS $$
	WITH r(name, lo, hi) AS (VALUES
			('all', timestamptz '2031-01-01 00:00+00', timestamptz '2031-01-01 23:59+00'),
			('cut', '2031-01-01 01:30+00', '2031-01-01 03:20+00')),
		 t(pt) AS (SELECT * FROM pyroscope.profile_types('ot')),
		 s(sel) AS (VALUES ('{}'), ('{pod="p1"}'))
	SELECT r.name || ' ' || t.pt || ' ' || s.sel,
		   pyroscope.flamegraph(t.pt, s.sel, r.lo, r.hi, 16384, 'ot')::text
	  FROM r, t, s
	UNION ALL
	SELECT 'block ' || b.block_id, string_agg(x.series_id || '@' || x.ts || '=' || x.total, ','
											   ORDER BY x.series_id, x.ts)
	  FROM pyroscope.blocks b, pyroscope.read_block(b.block_id) x
	 WHERE b.tenant = 'ot' GROUP BY b.block_id
$$;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.answers();
SELECT count(*) > 4 AS answers, bool_and(answer IS NOT NULL) AS all_answered FROM before;

-- not due yet: nothing moves
SET pyroscope.offload_after = '30d';
SELECT pyroscope.offload('2031-01-05')->>'blocks_offloaded' AS none_due;
SELECT tier, count(*) FROM pyroscope.block_tiers WHERE tenant = 'ot' GROUP BY 1;

-- due: every block moves, in exactly one place, object size = block size
SET pyroscope.offload_after = '1d';
SELECT (pyroscope.offload('2031-01-05')->>'blocks_offloaded')::int > 0 AS offloaded;
SELECT tier, count(*) FROM pyroscope.block_tiers WHERE tenant = 'ot' GROUP BY 1;
SELECT count(*) FILTER (WHERE data IS NULL AND object_key IS NOT NULL) = count(*) AS one_place,
	   bool_and(object_key ~ '^blocks/[0-9a-f]{16}/[0-9a-f]{16}/[0-9]+\.pyb$') AS key_format,
	   bool_and(pyroscope.object_store_head(object_key) = size) AS sizes_match
  FROM pyroscope.blocks WHERE tenant = 'ot';
SELECT job, trigger, status, blocks_written > 0 AS wrote FROM pyroscope.job_runs
 WHERE job = 'offload' ORDER BY run_id DESC LIMIT 1;

-- same answers from the object store, through an empty then a warm cache
SELECT count(*) AS differing FROM
  ((SELECT * FROM before EXCEPT SELECT * FROM pg_temp.answers())
   UNION ALL (SELECT * FROM pg_temp.answers() EXCEPT SELECT * FROM before)) d;
CREATE TEMP TABLE c0 AS SELECT * FROM pyroscope.object_store_stats();
SELECT count(*) AS differing FROM
  (SELECT * FROM before EXCEPT SELECT * FROM pg_temp.answers()) d;
SELECT s.counter, s.value - c0.value > 0 AS grew
  FROM pyroscope.object_store_stats() s JOIN c0 USING (counter)
 WHERE s.counter IN ('cache_hits', 'downloads') ORDER BY 1;

-- a rolled-back deletion queues nothing and deletes no object
BEGIN;
DELETE FROM pyroscope.blocks WHERE tenant = 'ot';
SELECT count(*) > 0 AS queued_inside FROM pyroscope.object_deletions;
ROLLBACK;
SELECT count(*) AS queued FROM pyroscope.object_deletions;
SELECT pyroscope.offload('2031-01-05')->>'objects_deleted' AS deleted;
SELECT bool_and(pyroscope.object_store_head(object_key) = size) AS objects_kept
  FROM pyroscope.blocks WHERE tenant = 'ot';

-- an orphaned object under blocks/ (an upload whose commit never came) is swept
SELECT pyroscope.object_store_put('blocks/0000000000000000/0000000000000000/999999999.pyb', 'junk');
SELECT pyroscope.offload('2031-01-05') IS NOT NULL AS ran;
SELECT pyroscope.object_store_head('blocks/0000000000000000/0000000000000000/999999999.pyb') AS orphan;
SELECT bool_and(pyroscope.object_store_head(object_key) = size) AS live_objects_kept
  FROM pyroscope.blocks WHERE tenant = 'ot';

-- retention: rows go first (objects queued in the same transaction are
-- left to the next pass), then the objects
CREATE TEMP TABLE keys AS SELECT object_key FROM pyroscope.blocks WHERE tenant = 'ot';
INSERT INTO pyroscope.tenant_retention VALUES ('ot', '10 days');
SELECT (r->>'blocks_expired')::int > 0 AS expired, r->>'objects_deleted' AS deleted_same_xact
  FROM pyroscope.offload('2031-01-20') r;
SELECT count(*) FROM pyroscope.blocks WHERE tenant = 'ot';
SELECT count(*) = (SELECT count(*) FROM keys) AS all_queued FROM pyroscope.object_deletions;
SELECT (pyroscope.offload('2031-01-20')->>'objects_deleted')::int = (SELECT count(*) FROM keys) AS deleted;
SELECT count(*) AS objects_left FROM keys WHERE pyroscope.object_store_head(object_key) IS NOT NULL;
SELECT count(*) AS queued FROM pyroscope.object_deletions;
DELETE FROM pyroscope.tenant_retention WHERE tenant = 'ot';

-- keys are checked
SELECT pyroscope.object_store_put('../escape', 'x');
SELECT pyroscope.object_store_put('/abs', 'x');
SELECT pyroscope.object_store_get('a b', 0, 1);
DO $$
BEGIN
	PERFORM pyroscope.object_store_get('blocks/none.pyb', 0, 1);
EXCEPTION WHEN undefined_object THEN
	RAISE NOTICE 'no such object (%)', SQLSTATE;
END $$;

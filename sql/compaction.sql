-- Compaction and retention with an injected clock: real profiles of four
-- services and two pods spread over 30 hours are compacted in three steps
-- (level-0 blocks, an hour merged into level 1, a day merged into level
-- 2).  Every answer (flame graph, top table, series, label lists, merged
-- pprof) taken before compaction must be byte-identical afterwards, and
-- every profile must be in exactly one place with its total.  Then
-- retention, with a per-tenant override, removes exactly the expired
-- blocks, head rows and series.
\getenv abs_srcdir PG_ABS_SRCDIR
-- one-hour level-0 windows and a 10-minute head, as the expected block
-- counts below were written for (the defaults are one minute since 1.3)
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';
SET timezone = 'UTC';
\set go :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set java :abs_srcdir '/test/data/pprof/java/profile_java.pb.gz'
\set python :abs_srcdir '/test/data/pprof/python/profile_python_small.pb.gz'
\set ruby :abs_srcdir '/test/data/pprof/ruby/profile_ruby.pb.gz'

-- Ingest a pprof as if it had been pushed at "at": the rows just written
-- (the only ones of the tenant outside January 2030) are moved there.
-- Series first/last seen are recomputed from head once loading is done.
CREATE FUNCTION pg_temp.ingest_at(path text, labels jsonb, at timestamptz, tenant text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	n := pyroscope.ingest_pprof(pg_read_binary_file(path), labels, tenant);
	UPDATE pyroscope.head h SET ts = at
	 WHERE h.tenant = ingest_at.tenant
	   AND (h.ts < '2030-01-01 00:00+00' OR h.ts >= '2030-02-01 00:00+00');
	RETURN n;
END $$;
CREATE FUNCTION pg_temp.fix_seen() RETURNS void LANGUAGE sql AS $$
	UPDATE pyroscope.series s SET first_seen = m.lo, last_seen = m.hi
	  FROM (SELECT series_id, min(ts) AS lo, max(ts) AS hi
			  FROM pyroscope.head GROUP BY 1) m
	 WHERE m.series_id = s.series_id;
$$;

-- Hours 0..29 from 2030-01-01 00:00 UTC; pod p1 pushes at :10, p2 at :55.
-- "legacy" only pushes during hours 0..5.
SELECT sum(pg_temp.ingest_at(f.path,
							 jsonb_build_object('service_name', f.service, 'pod', p.pod),
							 timestamptz '2030-01-01 00:00+00' + h * interval '1 hour' + p.off,
							 'ct')) AS series_written
  FROM (VALUES (:'go', 'checkout', 29), (:'java', 'ledger', 29),
			   (:'python', 'search', 29), (:'ruby', 'legacy', 5)) f(path, service, last_hour),
	   (VALUES ('p1', interval '10 min'), ('p2', interval '55 min')) p(pod, off),
	   generate_series(0, 29) h
 WHERE h <= f.last_hour;
SELECT pg_temp.fix_seen();

SELECT s.service_name, count(*) AS head_rows, count(DISTINCT h.series_id) AS series,
	   min(h.ts), max(h.ts)
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE h.tenant = 'ct' GROUP BY 1 ORDER BY 1;

-- Every answer over several ranges (whole, each day, one hour, and a
-- range cutting through blocks), per profile type and selector.
CREATE FUNCTION pg_temp.answers()
RETURNS TABLE (q text, answer text) LANGUAGE sql AS $$
	WITH r(name, lo, hi) AS (VALUES
			('all', timestamptz '2030-01-01 00:00+00', timestamptz '2030-01-02 23:59:59+00'),
			('day1', '2030-01-01 00:00+00', '2030-01-01 23:59:59.999+00'),
			('day2', '2030-01-02 00:00+00', '2030-01-02 23:59:59.999+00'),
			('hour11', '2030-01-01 11:00+00', '2030-01-01 11:59:59.999+00'),
			('cut', '2030-01-01 10:30+00', '2030-01-02 01:20+00')),
		 t(pt) AS (SELECT * FROM pyroscope.profile_types('ct')),
		 s(sel) AS (VALUES ('{}'), ('{pod="p1"}'), ('{pod="p2"}')),
		 x AS (SELECT r.name || ' ' || t.pt || ' ' || s.sel AS k, r.lo, r.hi, t.pt, s.sel
				 FROM r, t, s)
	SELECT x.k || ' flamegraph', pyroscope.flamegraph(x.pt, x.sel, x.lo, x.hi, 16384, 'ct')::text
	  FROM x
	UNION ALL
	SELECT x.k || ' top', (SELECT string_agg(f.function_name || '=' || f.self || '/' || f.total, ','
											 ORDER BY f.self DESC, f.function_name)
							 FROM pyroscope.top_functions(x.pt, x.sel, x.lo, x.hi, 'ct') f)
	  FROM x
	UNION ALL
	SELECT x.k || ' pprof', md5(pyroscope.merge_pprof(x.pt, x.sel, x.lo, x.hi, 'ct'))
	  FROM x
	UNION ALL
	SELECT x.k || ' series', (SELECT string_agg(ss.series_id || ss.labels::text, ',' ORDER BY ss.series_id)
								FROM pyroscope.select_series(x.pt, x.sel, x.lo, x.hi, 'ct') ss)
	  FROM x
	UNION ALL
	SELECT r.name || ' label_names', (SELECT string_agg(n, ',')
										FROM pyroscope.label_names('{}', r.lo, r.hi, 'ct') n)
	  FROM r
	UNION ALL
	SELECT r.name || ' label_values', (SELECT string_agg(v, ',')
										 FROM pyroscope.label_values('pod', '{}', r.lo, r.hi, 'ct') v)
	  FROM r
$$;

-- Every profile, wherever it lives: head rows and the contents of blocks.
CREATE FUNCTION pg_temp.profiles()
RETURNS TABLE (series_id bigint, ts timestamptz, total bigint, place text) LANGUAGE sql AS $$
	SELECT h.series_id, h.ts, h.total, 'head' FROM pyroscope.head h WHERE h.tenant = 'ct'
	UNION ALL
	SELECT t.series_id, t.ts, t.total, 'level ' || b.level
	  FROM pyroscope.blocks b, pyroscope.block_totals(b.data) t WHERE b.tenant = 'ct'
$$;

CREATE TEMP TABLE before AS SELECT * FROM pg_temp.answers();
CREATE TEMP TABLE before_profiles AS SELECT series_id, ts, total FROM pg_temp.profiles();
-- the answers are not trivial
SELECT count(*) AS answers,
	   count(*) FILTER (WHERE q LIKE '% flamegraph' AND (answer::jsonb ->> 'numTicks')::bigint > 0)
		   AS nonempty_flamegraphs
  FROM before;

-- Answers that changed, and profiles lost, duplicated or altered.
CREATE FUNCTION pg_temp.changed()
RETURNS TABLE (q text) LANGUAGE sql AS $$
	SELECT b.q FROM before b JOIN pg_temp.answers() a USING (q)
	 WHERE a.answer IS DISTINCT FROM b.answer ORDER BY 1
$$;
CREATE FUNCTION pg_temp.profile_check()
RETURNS TABLE (profiles bigint, missing bigint, extra bigint) LANGUAGE sql AS $$
	WITH now_p AS (SELECT series_id, ts, total FROM pg_temp.profiles())
	SELECT (SELECT count(*) FROM now_p),
		   (SELECT count(*) FROM (SELECT * FROM before_profiles EXCEPT ALL SELECT * FROM now_p) m),
		   (SELECT count(*) FROM (SELECT * FROM now_p EXCEPT ALL SELECT * FROM before_profiles) e)
$$;
CREATE FUNCTION pg_temp.blocks()
RETURNS TABLE (level integer, blocks bigint, services bigint, profiles numeric) LANGUAGE sql AS $$
	SELECT level, count(*), count(DISTINCT service_name), sum(nprofiles)
	  FROM pyroscope.blocks WHERE tenant = 'ct' GROUP BY 1 ORDER BY 1
$$;

-- Step 1 at 12:00: head older than 11:50 into level-0 blocks (hour 11
-- only up to p1's 11:10 push).  42 blocks: 12 hours x 3 services + 6
-- hours of "legacy"; 127 head rows.
SELECT pyroscope.compact('2030-01-01 12:00+00', 'ct') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS step1;
SELECT * FROM pg_temp.blocks();
SELECT count(*) AS head_rows,
	   (SELECT count(*) FROM pyroscope.head_pprof p WHERE p.tenant = 'ct') AS stored_pprofs,
	   (SELECT count(*) FROM pyroscope.head_pprof p WHERE p.tenant = 'ct'
		   AND NOT EXISTS (SELECT 1 FROM pyroscope.head h
						   WHERE h.shard_key = p.shard_key AND h.pprof_id = p.pprof_id)) AS orphans
  FROM pyroscope.head WHERE tenant = 'ct';
SELECT * FROM pg_temp.profile_check();
SELECT * FROM pg_temp.changed();

-- Step 2 at 14:00: hours 11 (p2), 12 and 13 (p1) into level 0, then
-- hour 11's two level-0 blocks per service merged into level 1.
SELECT pyroscope.compact('2030-01-01 14:00+00', 'ct') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS step2;
SELECT * FROM pg_temp.blocks();
SELECT service_name, min_ts, max_ts, nprofiles FROM pyroscope.blocks
 WHERE tenant = 'ct' AND level = 1 ORDER BY 1;
SELECT * FROM pg_temp.profile_check();
SELECT * FROM pg_temp.changed();

-- A second call at the same time finds nothing left to do.
SELECT pyroscope.compact('2030-01-01 14:00+00', 'ct') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS again;

-- Step 3 the next day at 12:00: the rest of head into level 0, hour 13
-- into level 1, then all of day 1 into one level-2 block per service;
-- day 2 (not over yet) keeps its 6 hour blocks per service.
SELECT pyroscope.compact('2030-01-02 12:00+00', 'ct') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS step3;
SELECT * FROM pg_temp.blocks();
SELECT service_name, min_ts, max_ts, nprofiles FROM pyroscope.blocks
 WHERE tenant = 'ct' AND level = 2 ORDER BY 1;
SELECT count(*) AS head_rows,
	   (SELECT count(*) FROM pyroscope.head_pprof p WHERE p.tenant = 'ct') AS stored_pprofs,
	   (SELECT count(*) FROM pyroscope.head_pprof p WHERE p.tenant = 'ct'
		   AND NOT EXISTS (SELECT 1 FROM pyroscope.head h
						   WHERE h.shard_key = p.shard_key AND h.pprof_id = p.pprof_id)) AS orphans
  FROM pyroscope.head WHERE tenant = 'ct';
SELECT * FROM pg_temp.profile_check();
SELECT * FROM pg_temp.changed();

-- Late profiles: tenant "late" has 3 hours of one series on 2030-01-05,
-- merged into a level-2 block the next day; a profile pushed late into
-- that day becomes a level-0 block, which the next run merges into the
-- day's block (rather than leaving the day in two blocks).
SELECT sum(pg_temp.ingest_at(:'java', '{"service_name": "late"}',
							 timestamptz '2030-01-05 08:10+00' + h * interval '1 hour', 'late'))
  FROM generate_series(0, 2) h;
SELECT pyroscope.compact('2030-01-06 12:00+00', 'late') ->> 'blocks_written' AS written;
SELECT level, nprofiles, min_ts, max_ts FROM pyroscope.blocks WHERE tenant = 'late';
SELECT pg_temp.ingest_at(:'java', '{"service_name": "late"}', '2030-01-05 20:30+00', 'late');
SELECT pyroscope.compact('2030-01-06 13:00+00', 'late') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS late;
SELECT level, nprofiles, min_ts, max_ts FROM pyroscope.blocks WHERE tenant = 'late';
SELECT t.ts FROM pyroscope.blocks b, pyroscope.block_totals(b.data) t
 WHERE b.tenant = 'late' ORDER BY 1;

-- Every run was recorded (the runs are this test's own: it compacts
-- only its tenants, and the worker is off in the test cluster).
SELECT job, trigger, status, units_failed, head_rows_compacted, blocks_written, blocks_merged,
	   blocks_deleted, head_rows_deleted, series_deleted, error
  FROM pyroscope.job_runs ORDER BY run_id;
-- runs that wrote blocks say how much memory a unit needed
SELECT bool_and(peak_memory > 0) AS peak_recorded, bool_and(finished_at >= started_at) AS timed
  FROM pyroscope.job_runs WHERE blocks_written > 0;

-- Retention.  Tenant "ht" keeps two profiles in head (compact_after is
-- raised so they stay there): one on day 1 at 06:10, one on day 2.
SELECT pg_temp.ingest_at(:'go', '{"service_name": "checkout", "pod": "p1"}',
						 '2030-01-01 06:10+00', 'ht'),
	   pg_temp.ingest_at(:'go', '{"service_name": "checkout", "pod": "p1"}',
						 '2030-01-02 06:10+00', 'ht');
-- Tenant "kt" keeps everything (retention 0): its day-1 profile stays.
SELECT pg_temp.ingest_at(:'go', '{"service_name": "checkout"}', '2030-01-01 06:10+00', 'kt');
SELECT pg_temp.fix_seen();
-- ct keeps 29 days (cutoff 2030-01-02 00:00), every other tenant 29.5
-- days (cutoff 2030-01-01 12:00).
INSERT INTO pyroscope.tenant_retention VALUES ('ct', '29 days'), ('kt', '0');
-- one expired block of ct pretends to be offloaded: its row goes too, and
-- its object is queued for deletion from the object store
UPDATE pyroscope.blocks SET data = NULL, object_key = 'test/ct-legacy-day1'
 WHERE tenant = 'ct' AND service_name = 'legacy';
SET pyroscope.retention = '2548800s';
SET pyroscope.compact_after = '60d';
SELECT pyroscope.compact('2030-01-31 00:00+00', 'ct') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS retention_ct,
	   pyroscope.compact('2030-01-31 00:00+00', 'ht') - 'bytes_written' - 'bytes_deleted' - 'peak_memory' AS retention_ht;
SELECT pyroscope.compact('2030-01-31 00:00+00', 'kt') ->> 'head_rows_deleted' AS retention_kt_deleted,
	   (SELECT count(*) FROM pyroscope.head WHERE tenant = 'kt') AS kt_head_rows;
-- (kt's data is not for the tests after this one)
DELETE FROM pyroscope.head WHERE tenant = 'kt';
DELETE FROM pyroscope.head_pprof WHERE tenant = 'kt';
DELETE FROM pyroscope.series WHERE tenant = 'kt';
DELETE FROM pyroscope.tenant_retention WHERE tenant = 'kt';
SET pyroscope.compact_after = '10min';
RESET pyroscope.retention;

-- ct: the four day-1 blocks are gone, day 2's 18 remain; "legacy" only
-- had day-1 data, so its two series are gone too.
SELECT * FROM pg_temp.blocks();
SELECT service_name, count(*) AS series FROM pyroscope.series WHERE tenant = 'ct'
 GROUP BY 1 ORDER BY 1;
SELECT object_key FROM pyroscope.object_deletions;
-- ht: the day-1 head rows are gone, day 2's remain
SELECT ts, count(*) FROM pyroscope.head WHERE tenant = 'ht' GROUP BY 1 ORDER BY 1;
-- flame graphs of day 1 are empty now
SELECT DISTINCT (answer::jsonb ->> 'numTicks') AS day1_ticks
  FROM pg_temp.answers() WHERE q LIKE 'day1 % flamegraph';
-- day 2 answers are unchanged
SELECT count(*) AS day2_answers FROM before WHERE q LIKE 'day2 %';
SELECT q FROM pg_temp.changed() WHERE q LIKE 'day2 %';
-- and exactly the day-1 profiles are gone
SELECT (SELECT count(*) FROM before_profiles WHERE ts >= '2030-01-02') AS day2_before,
	   (SELECT count(*) FROM pg_temp.profiles()) AS now,
	   (SELECT count(*) FROM (SELECT * FROM before_profiles WHERE ts >= '2030-01-02'
							  EXCEPT ALL
							  SELECT series_id, ts, total FROM pg_temp.profiles()) x) AS missing;

-- The default one-minute level-0 windows: 20 pprofs of one service in the
-- first 20 minutes of an hour become 20 level-0 blocks, which the same run
-- merges into one level-1 block, though the hour is still filling (8 or
-- more blocks); three more minutes stay three level-0 blocks; once the
-- hour is over, everything is one block.  The flame graph never changes.
RESET pyroscope.block_window;
SET pyroscope.compact_after = '1min';
SELECT sum(pyroscope.ingest_pprof(pg_read_binary_file(:'go'), '{"service_name": "minutes"}', 'mw',
								  at => '2030-04-01 10:00+00'::timestamptz + m * interval '1 minute')) > 0
	   AS stored
  FROM generate_series(0, 19) m;
CREATE TEMP TABLE mw_before AS
SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="minutes"}',
							'2030-04-01 10:00+00', '2030-04-01 11:00+00', 0, 'mw')::text AS fg;
-- (block sizes vary by a byte or two with the random profile ids they keep)
SELECT pyroscope.compact('2030-04-01 10:21:30+00', 'mw')
	   - '{peak_memory,bytes_written,bytes_deleted}'::text[] AS compact;
SELECT level, min_ts, max_ts, nprofiles FROM pyroscope.blocks WHERE tenant = 'mw' ORDER BY 1, 2;
SELECT sum(pyroscope.ingest_pprof(pg_read_binary_file(:'go'), '{"service_name": "minutes"}', 'mw',
								  at => '2030-04-01 10:20+00'::timestamptz + m * interval '1 minute')) > 0
	   AS stored
  FROM generate_series(1, 3) m;
SELECT pyroscope.compact('2030-04-01 10:25:30+00', 'mw')
	   - '{peak_memory,bytes_written,bytes_deleted}'::text[] AS compact;
SELECT level, min_ts, max_ts, nprofiles FROM pyroscope.blocks WHERE tenant = 'mw' ORDER BY 1, 2;
SELECT pyroscope.compact('2030-04-01 11:01:30+00', 'mw')
	   - '{peak_memory,bytes_written,bytes_deleted}'::text[] AS compact;
SELECT level, min_ts, max_ts, nprofiles FROM pyroscope.blocks WHERE tenant = 'mw' ORDER BY 1, 2;
SELECT count(*) AS head_rows FROM pyroscope.head WHERE tenant = 'mw';
-- the first 20 minutes answer as before compaction, and the hour has 23 pprofs' worth
SELECT (SELECT fg FROM mw_before) =
	   pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="minutes"}',
							'2030-04-01 10:00+00', '2030-04-01 10:19:59+00', 0, 'mw')::text AS same_flamegraph;
SELECT (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="minutes"}',
							 '2030-04-01 10:00+00', '2030-04-01 11:00+00', 0, 'mw') ->> 'numTicks')::numeric /
	   ((SELECT fg FROM mw_before)::jsonb ->> 'numTicks')::numeric * 20 AS pprofs_worth;
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';

-- A compaction unit over pyroscope.compaction_memory_limit fails with an
-- error naming the limit and leaves the head as it was; with the limit
-- back, the same unit compacts.
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'java'), '{"service_name": "big"}', 'cm',
							  at => '2030-03-01 10:00+00') > 0 AS stored;
SELECT count(*) AS head_rows FROM pyroscope.head WHERE tenant = 'cm';
SET pyroscope.compaction_memory_limit = '64kB';
SELECT pyroscope.compact('2030-03-02 00:00+00', 'cm');
SELECT count(*) AS head_rows, (SELECT count(*) FROM pyroscope.blocks WHERE tenant = 'cm') AS blocks
  FROM pyroscope.head WHERE tenant = 'cm';
RESET pyroscope.compaction_memory_limit;
SELECT (pyroscope.compact('2030-03-02 00:00+00', 'cm') ->> 'blocks_written')::int AS blocks_written;
SELECT count(*) AS head_rows, (SELECT count(*) FROM pyroscope.blocks WHERE tenant = 'cm') AS blocks
  FROM pyroscope.head WHERE tenant = 'cm';

-- Compaction and retention delete data: not for everyone.
CREATE ROLE regress_pyro_reader;
GRANT USAGE ON SCHEMA pyroscope TO regress_pyro_reader;
SET ROLE regress_pyro_reader;
SELECT pyroscope.compact('2030-01-31 00:00+00', 'ct');
SELECT pyroscope.compactor_wakeup();
RESET ROLE;
REVOKE USAGE ON SCHEMA pyroscope FROM regress_pyro_reader;
DROP ROLE regress_pyro_reader;

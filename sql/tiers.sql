-- Time series are the same from every tier: profile_totals (what
-- SelectSeries and /render timelines are built from), flame graphs,
-- merged pprof and the individual profiles of select_profiles before and
-- after compaction into blocks.
\getenv abs_srcdir PG_ABS_SRCDIR
-- one-hour level-0 windows and a 10-minute head, as the expected block
-- counts below were written for (the defaults are one minute since 1.3)
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set mux :abs_srcdir '/test/data/pprof/go/cpu-multi-mapping.pb.gz'
\set labels :abs_srcdir '/test/data/pprof/go/cpu-labels.pb.gz'

SELECT pyroscope.ingest_pprof(pg_read_binary_file(f), jsonb_build_object('service_name', s), 'tiers')
  FROM (VALUES (:'cpu', 'a'), (:'mux', 'a'), (:'labels', 'b'), (:'cpu', 'b')) v(f, s);

CREATE TEMP TABLE before AS
SELECT 'totals' AS what, t.series_id::text || ' ' || t.ts::text || ' ' || t.total AS answer
  FROM pyroscope.profile_totals('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers') t
UNION ALL
SELECT 'flamegraph ' || s, pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		format('{service_name="%s"}', s), '-infinity', 'infinity', 0, 'tiers')::text
  FROM (VALUES ('a'), ('b')) v(s)
UNION ALL
SELECT 'pprof', encode(pyroscope.merge_pprof('process_cpu:samples:count:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers'), 'hex')
UNION ALL
SELECT 'profiles', concat_ws(' ', p.series_id, p.labels, p.ts, p.total, pyroscope.total(p.profile),
							 md5(pyroscope.flamegraph(p.profile, 0)::text))
  FROM pyroscope.select_profiles('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers') p;

SELECT what, count(*) FROM before GROUP BY 1 ORDER BY 1;

-- merged pprofs (SelectMergeProfile) merged where the rows are
-- (merge_pushdown = on, what a Citus cluster does: pyroscope.merge() of each
-- shard's head rows and blocks) are the bytes merged row by row: here over
-- head, and over blocks after compaction
CREATE TEMP TABLE merged_pprofs (tier text, pushdown text, cpu bytea, samples bytea);
CREATE FUNCTION pg_temp.keep_merged_pprofs(tier text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	mode text;
BEGIN
	FOREACH mode IN ARRAY ARRAY['on', 'off'] LOOP
		PERFORM set_config('pyroscope.merge_pushdown', mode, true);
		INSERT INTO merged_pprofs
		SELECT tier, mode,
			   pyroscope.merge_pprof('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers'),
			   pyroscope.merge_pprof('process_cpu:samples:count:cpu:nanoseconds', '{service_name="a"}', '-infinity', 'infinity', 'tiers');
	END LOOP;
END $$;
SELECT pg_temp.keep_merged_pprofs('head');

-- everything is years old: compaction moves it all into blocks (and a
-- per-tenant retention keeps it)
INSERT INTO pyroscope.tenant_retention VALUES ('tiers', interval '100 years');
SELECT (pyroscope.compact('2030-01-01', 'tiers') ->> 'head_rows_compacted')::int > 0 AS compacted;
SELECT count(*) AS head_rows FROM pyroscope.head WHERE tenant = 'tiers';
SELECT count(*) > 0 AS has_blocks FROM pyroscope.blocks WHERE tenant = 'tiers';

CREATE TEMP TABLE after AS
SELECT 'totals' AS what, t.series_id::text || ' ' || t.ts::text || ' ' || t.total AS answer
  FROM pyroscope.profile_totals('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers') t
UNION ALL
SELECT 'flamegraph ' || s, pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		format('{service_name="%s"}', s), '-infinity', 'infinity', 0, 'tiers')::text
  FROM (VALUES ('a'), ('b')) v(s)
UNION ALL
SELECT 'pprof', encode(pyroscope.merge_pprof('process_cpu:samples:count:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers'), 'hex')
UNION ALL
SELECT 'profiles', concat_ws(' ', p.series_id, p.labels, p.ts, p.total, pyroscope.total(p.profile),
							 md5(pyroscope.flamegraph(p.profile, 0)::text))
  FROM pyroscope.select_profiles('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers') p;

SELECT (SELECT count(*) FROM (SELECT * FROM before EXCEPT ALL SELECT * FROM after) x) AS missing,
	   (SELECT count(*) FROM (SELECT * FROM after EXCEPT ALL SELECT * FROM before) x) AS extra;

SELECT pg_temp.keep_merged_pprofs('blocks');
SELECT p.tier, p.cpu = s.cpu AS cpu_identical, p.samples = s.samples AS samples_identical,
	   length(p.cpu) > 100 AND length(p.samples) > 100 AS not_empty
  FROM merged_pprofs p JOIN merged_pprofs s USING (tier)
 WHERE p.pushdown = 'on' AND s.pushdown = 'off' ORDER BY 1;

-- a range that cuts the data still agrees with a sum over profile_totals
SELECT (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '2021-01-01', '2021-12-31', 0, 'tiers') ->> 'numTicks')::bigint
	 = (SELECT coalesce(sum(total), 0) FROM pyroscope.profile_totals('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '2021-01-01', '2021-12-31', 'tiers')) AS cut_range_agrees;

-- time series read where the blocks are (pyroscope.merge_pushdown = on, what
-- a Citus cluster does: block_profile_totals() over the rows of blocks):
-- the same rows, in the same order, as reading block by block
SET pyroscope.merge_pushdown = on;
CREATE TEMP TABLE pushed AS
SELECT row_number() OVER () AS n, t.* FROM pyroscope.profile_totals('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers') t;
SET pyroscope.merge_pushdown = off;
CREATE TEMP TABLE scanned AS
SELECT row_number() OVER () AS n, t.* FROM pyroscope.profile_totals('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'tiers') t;
RESET pyroscope.merge_pushdown;
SELECT (SELECT count(*) FROM pushed) AS pushed_rows,
	   (SELECT count(*) FROM (SELECT * FROM pushed EXCEPT ALL SELECT * FROM scanned) x)
	   + (SELECT count(*) FROM (SELECT * FROM scanned EXCEPT ALL SELECT * FROM pushed) y) AS differences;
-- block_profile_totals of a block: its index, filtered by series and range
-- as a selection filters them (block_totals lists every profile)
SELECT (SELECT count(*) FROM pyroscope.block_profile_totals(b.data, NULL)) AS all_profiles,
	   (SELECT count(*) FROM pyroscope.block_totals(b.data)) AS block_totals,
	   (SELECT count(*) FROM pyroscope.block_profile_totals(b.data, ARRAY[b.series_ids[1]], b.min_ts, b.min_ts)) AS first_series_at_min_ts,
	   (SELECT count(*) FROM pyroscope.block_totals(b.data) t
		 WHERE t.series_id = b.series_ids[1] AND t.ts = b.min_ts) AS expected,
	   (SELECT count(*) FROM pyroscope.block_profile_totals(b.data, '{}')) AS no_series_none,
	   (SELECT count(*) FROM pyroscope.block_profile_totals(b.data, NULL) WHERE profile_id IS NULL) AS without_id
  FROM pyroscope.blocks b WHERE b.tenant = 'tiers' ORDER BY b.block_id LIMIT 1;

-- Every ingested profile has an id (API-2.md 3.1): one per pprof, shared
-- by the series it is split into; list_profiles lists the individual
-- profiles of a selection with it, profiles_pprof and profiles_flamegraph
-- give those profiles alone, and all of it is the same before and after
-- compaction into blocks.
\getenv abs_srcdir PG_ABS_SRCDIR
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set labels :abs_srcdir '/test/data/pprof/go/cpu-labels.pb.gz'

-- the same pprof three times (equal times: only the id tells them apart),
-- and one whose samples carry labels (several series of one pprof)
SELECT pyroscope.ingest_pprof(pg_read_binary_file(f), jsonb_build_object('service_name', 'ids'), 'ids')
  FROM (VALUES (:'cpu'), (:'cpu'), (:'cpu'), (:'labels')) v(f);

CREATE TEMP TABLE listed AS
SELECT * FROM pyroscope.list_profiles('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}',
									  '-infinity', 'infinity', 'ids');
-- one row per stored profile, each with an id; 4 ingested profiles
SELECT count(*) = (SELECT count(*) FROM pyroscope.profile_totals('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'ids')) AS one_row_per_profile,
	   count(profile_id) = count(*) AS all_have_ids,
	   count(DISTINCT profile_id) AS ingested
  FROM listed;
-- ids are version 4 UUIDs, and the series of one pprof share theirs
SELECT bool_and(substr(profile_id::text, 15, 1) = '4') AS v4 FROM listed;
SELECT count(*) AS series_of_the_labelled_pprof
  FROM listed WHERE profile_id = (SELECT profile_id FROM listed GROUP BY 1 HAVING count(*) > 1);

-- one profile alone: the pprof as sent, not the three equal ones summed
CREATE TEMP TABLE one AS SELECT profile_id, total FROM listed WHERE series_id =
	(SELECT series_id FROM listed GROUP BY 1 HAVING count(*) = 3) ORDER BY profile_id LIMIT 1;
SELECT (pyroscope.profiles_flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
									  ARRAY[(SELECT profile_id FROM one)], '{}', '-infinity', 'infinity', 0, 'ids')
		->> 'numTicks')::bigint = (SELECT total FROM one) AS one_profile_flamegraph,
	   (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="ids"}',
							 '-infinity', 'infinity', 0, 'ids') ->> 'numTicks')::bigint
	   > (SELECT total FROM one) AS whole_selection_is_more;

-- a heatmap of the individual profiles: one point per ingested profile
CREATE TEMP TABLE win AS SELECT min(ts) - interval '1 hour' AS lo, max(ts) + interval '1 hour' AS hi FROM listed;
SELECT sum(count) AS points, count(*) AS cells, bool_and(exemplar_profile_id IS NOT NULL) AS exemplars,
	   max(exemplar_value) = (SELECT max(t) FROM (SELECT sum(total) t FROM listed GROUP BY profile_id) x)
	   AS top_exemplar_is_the_biggest_profile
  FROM pyroscope.heatmap('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', (SELECT lo FROM win),
						 (SELECT hi FROM win), '10 minutes', 'individual', '{service_name}', 0, 'ids');
-- the time series with its exemplars: each point's biggest profile
SELECT count(*) AS points, bool_and(profile_value <= value) AS exemplar_within_point,
	   bool_and(profile_id IS NOT NULL) AS all_have_one
  FROM pyroscope.exemplars('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', (SELECT lo FROM win),
						   (SELECT hi FROM win), '15 minutes', '{}', 'ids');
-- the DOT call graph
SELECT left(pyroscope.dot('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 5, 'ids'), 9) AS dot,
	   pyroscope.dot('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 5, 'ids')
	   LIKE '%Showing top 5 nodes out of%' AS limited,
	   pyroscope.dot('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="none"}', '-infinity', 'infinity', 5, 'ids') AS nothing;

CREATE TEMP TABLE before AS
SELECT 'list' AS what, concat_ws(' ', profile_id, series_id, ts, total) AS answer FROM listed
UNION ALL
SELECT 'pprof ' || profile_id, md5(pyroscope.profiles_pprof('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
															ARRAY[profile_id], '{}', '-infinity', 'infinity', 'ids'))
  FROM (SELECT DISTINCT profile_id FROM listed) d
UNION ALL
SELECT 'two', md5(pyroscope.profiles_flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
												(SELECT array_agg(profile_id ORDER BY profile_id) FROM (SELECT DISTINCT profile_id FROM listed ORDER BY 1 LIMIT 2) x),
												'{}', '-infinity', 'infinity', 0, 'ids')::text)
UNION ALL
SELECT 'heatmap ' || query_type, concat_ws(' ', h.labels, h.slot, h.bucket, h.y_min, h.count, h.exemplar_ts,
											h.exemplar_value, h.exemplar_profile_id, h.exemplar_span_id, h.exemplar_labels)
  FROM (VALUES ('individual'), ('span')) q(query_type),
	   pyroscope.heatmap('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', (SELECT lo FROM win),
						 (SELECT hi FROM win), '10 minutes', q.query_type, '{service_name}', 0, 'ids') h
UNION ALL
SELECT 'dot', md5(pyroscope.dot('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 100, 'ids'))
UNION ALL
SELECT 'exemplars', concat_ws(' ', e.labels, e.ts, e.value, e.profile_id, e.profile_ts, e.profile_value, e.profile_labels)
  FROM pyroscope.exemplars('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', (SELECT lo FROM win),
						   (SELECT hi FROM win), '15 minutes', '{}', 'ids') e;

INSERT INTO pyroscope.tenant_retention VALUES ('ids', interval '100 years');
SELECT (pyroscope.compact('2030-01-01', 'ids') ->> 'head_rows_compacted')::int > 0 AS compacted;
SELECT count(*) AS head_rows FROM pyroscope.head WHERE tenant = 'ids';
-- the blocks keep 16 bytes of id per profile, beside each index chunk
SELECT s.kind, sum(s.count) AS profiles, sum(s.raw_bytes) AS raw_bytes
  FROM pyroscope.blocks b, pyroscope.block_sections(b.data) s
 WHERE b.tenant = 'ids' AND s.kind IN ('index', 'ids') GROUP BY 1 ORDER BY 1;

CREATE TEMP TABLE after AS
SELECT 'list' AS what, concat_ws(' ', profile_id, series_id, ts, total) AS answer
  FROM pyroscope.list_profiles('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'ids')
UNION ALL
SELECT 'pprof ' || profile_id, md5(pyroscope.profiles_pprof('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
															ARRAY[profile_id], '{}', '-infinity', 'infinity', 'ids'))
  FROM (SELECT DISTINCT profile_id FROM listed) d
UNION ALL
SELECT 'two', md5(pyroscope.profiles_flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
												(SELECT array_agg(profile_id ORDER BY profile_id) FROM (SELECT DISTINCT profile_id FROM listed ORDER BY 1 LIMIT 2) x),
												'{}', '-infinity', 'infinity', 0, 'ids')::text)
UNION ALL
SELECT 'heatmap ' || query_type, concat_ws(' ', h.labels, h.slot, h.bucket, h.y_min, h.count, h.exemplar_ts,
											h.exemplar_value, h.exemplar_profile_id, h.exemplar_span_id, h.exemplar_labels)
  FROM (VALUES ('individual'), ('span')) q(query_type),
	   pyroscope.heatmap('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', (SELECT lo FROM win),
						 (SELECT hi FROM win), '10 minutes', q.query_type, '{service_name}', 0, 'ids') h
UNION ALL
SELECT 'dot', md5(pyroscope.dot('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 100, 'ids'))
UNION ALL
SELECT 'exemplars', concat_ws(' ', e.labels, e.ts, e.value, e.profile_id, e.profile_ts, e.profile_value, e.profile_labels)
  FROM pyroscope.exemplars('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', (SELECT lo FROM win),
						   (SELECT hi FROM win), '15 minutes', '{}', 'ids') e;

-- blocks answer exactly as head did
SELECT (SELECT count(*) FROM (SELECT * FROM before EXCEPT ALL SELECT * FROM after) x) AS missing,
	   (SELECT count(*) FROM (SELECT * FROM after EXCEPT ALL SELECT * FROM before) x) AS extra,
	   (SELECT count(*) FROM before) AS compared;

-- an id nobody has selects nothing; a NULL element is an error
SELECT (pyroscope.profiles_flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
									  ARRAY['00000000-0000-4000-8000-000000000000'::uuid], '{}',
									  '-infinity', 'infinity', 0, 'ids') ->> 'numTicks')::bigint AS unknown_id_ticks;
SELECT pyroscope.profiles_pprof('process_cpu:cpu:nanoseconds:cpu:nanoseconds', ARRAY[NULL::uuid], '{}',
								'-infinity', 'infinity', 'ids');

-- Bad input gets a clear error with a fitting SQLSTATE, and a rejected
-- profile stores nothing.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set heapraw :abs_srcdir '/test/data/pprof/go/heap.pb'
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TEMP TABLE raw AS SELECT pg_read_binary_file(:'heapraw') AS b, pg_read_binary_file(:'cpu') AS gz;

-- garbage and truncation
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof('\xdeadbeef'::bytea, '{}', 'err')$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(substr(b, 1, 1000), '{}', 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(''::bytea, '{}', 'err')$$);
-- bad gzip: the magic bytes followed by garbage, and a truncated gzip stream
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof('\x1f8b0800deadbeef'::bytea, '{}', 'err')$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(substr(gz, 1, 200), '{}', 'err') FROM raw$$);
-- string table entry 0 not empty: field 6 (string table) = "x", then a sample type
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof('\x3201780a0408011000'::bytea, '{}', 'err')$$);
-- out-of-range string index: sample type (field 1) with type = 5, string table [""]
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof('\x0a0208053200'::bytea, '{}', 'err')$$);
-- a sample referring to an unknown location id 9
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof('\x0a04080110013200320161320162120408091001'::bytea, '{}', 'err')$$);

-- oversize input against pyroscope.max_profile_size
SET pyroscope.max_profile_size = '64kB';
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(b, '{}', 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, '{}', 'err') FROM raw$$);
RESET pyroscope.max_profile_size;
SET pyroscope.max_profile_samples = 10;
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(b, '{}', 'err') FROM raw$$);
RESET pyroscope.max_profile_samples;

-- labels
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, '[1]', 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, '{"pod": 1}', 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, jsonb_build_object('pod', repeat('x', 3000)), 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, '{"": "x"}', 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, (SELECT jsonb_object_agg('l' || i, 'v') FROM generate_series(1, 40) i), 'err') FROM raw$$);
SELECT pg_temp.try($$SELECT pyroscope.ingest_pprof(gz, '{}', '') FROM raw$$);

-- nothing of the rejected profiles was stored
SELECT count(*) AS series FROM pyroscope.series WHERE tenant = 'err';
SELECT count(*) AS profiles FROM pyroscope.head WHERE tenant = 'err';

-- queries: bad selector, bad regex, bad profile type id, unknown type, reversed range
SELECT pyroscope.ingest_pprof(gz, '{"service_name": "ok"}', 'err2') FROM raw;
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="ok"', '-infinity', 'infinity', 10, 'err2')$$);
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name=~"("}', '-infinity', 'infinity', 10, 'err2')$$);
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu', '{}', '-infinity', 'infinity', 10, 'err2')$$);
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('memory:alloc_space:bytes:space:bytes', '{}', '-infinity', 'infinity', 10, 'err2')$$);
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', 'infinity', '-infinity', 10, 'err2')$$);
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', -1, 'err2')$$);
SELECT pg_temp.try($$SELECT * FROM pyroscope.label_names('{a="\q"}', '-infinity', 'infinity', 'err2')$$);
SELECT pg_temp.try($$SELECT * FROM pyroscope.top_functions('x:y:z:w:v', '{}', '-infinity', 'infinity', 'err2')$$);
SELECT pg_temp.try($$SELECT pyroscope.merge_pprof('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{', '-infinity', 'infinity', 'err2')$$);

-- a stored pprof that no longer decodes, or no longer matches its head
-- rows, is a data-corruption error at query time (not a crash, not a
-- wrong answer; pprof ids are masked).  The first query leaves the pprof
-- in the backend's cache (pyroscope.head_cache_size), which is keyed by
-- content: changed bytes are not found there, changed rows still checked.
SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2') AS fg \gset
BEGIN;
UPDATE pyroscope.head_pprof SET data = '\x0a0201'
 WHERE tenant = 'err2';
SELECT regexp_replace(pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2')$$), 'pprof \d+', 'pprof N') AS try;
ROLLBACK;
BEGIN;
UPDATE pyroscope.head SET total = total + 1 WHERE tenant = 'err2';
SELECT regexp_replace(pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2')$$), 'pprof \d+', 'pprof N') AS try;
UPDATE pyroscope.head SET total = total - 1, part = 99 WHERE tenant = 'err2';
SELECT regexp_replace(pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2')$$), 'pprof \d+', 'pprof N') AS try;
DELETE FROM pyroscope.head_pprof WHERE tenant = 'err2';
SELECT regexp_replace(pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2')$$), 'pprof \d+', 'pprof N') AS try;
ROLLBACK;
SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2') = :'fg'::jsonb AS intact,
	   (:'fg'::jsonb ->> 'numTicks')::bigint > 0 AS not_empty;
SET pyroscope.head_cache_size = 0;
SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 10, 'err2') = :'fg'::jsonb AS same_uncached;
RESET pyroscope.head_cache_size;

-- hand-made profile values are validated on input
SELECT pg_temp.try($$SELECT 'garbage'::pyroscope.profile$$);
SELECT pg_temp.try($$SELECT '\x5059'::pyroscope.profile$$);
SELECT pg_temp.try($$SELECT '\xdeadbeefdeadbeef'::pyroscope.profile$$);

-- a query over its memory budget fails cleanly, and the same query passes
-- with enough budget
\set java :abs_srcdir '/test/data/pprof/java/profile_java.pb.gz'
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'java'), '{"service_name": "big"}', 'budget');
SET pyroscope.query_memory_limit = '64kB';
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 0, 'budget')$$);
SELECT pg_temp.try($$SELECT pyroscope.merge_pprof('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'budget')$$);
-- so does the merge aggregate where no engine query runs: called directly,
-- and in the workers of a parallel plan (the leader only gathers)
SELECT pg_temp.try($$SELECT pyroscope.total(pyroscope.merge(pyroscope.head_profile(h)))
					   FROM pyroscope.head h WHERE h.tenant = 'budget'$$);
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
					   THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) AS forced;
CREATE FUNCTION pg_temp.plan_text(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	r record;
	t text := '';
BEGIN
	FOR r IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		t := t || r."QUERY PLAN" || E'\n';
	END LOOP;
	RETURN t;
END
$f$;
SELECT pg_temp.plan_text($$SELECT pyroscope.total(pyroscope.merge(pyroscope.head_profile(h)))
							FROM pyroscope.head h WHERE h.tenant = 'budget'$$) ~ 'Partial Aggregate'
	   AS merged_by_workers;
SELECT pg_temp.try($$SELECT pyroscope.total(pyroscope.merge(pyroscope.head_profile(h)))
					   FROM pyroscope.head h WHERE h.tenant = 'budget'$$);
RESET pyroscope.query_memory_limit;
SELECT pyroscope.total(pyroscope.merge(pyroscope.head_profile(h))) > 0 AS merged_in_parallel
  FROM pyroscope.head h WHERE h.tenant = 'budget';
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
					   THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'off', false) AS forced;
SELECT pg_temp.try($$SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 0, 'budget')$$);
-- the backend is healthy afterwards, and ingest is not limited by the budget
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'java'), '{"service_name": "big2"}', 'budget');

-- Merging: merge_pprof output re-ingested gives the same flame graph as
-- the merged selection; the merge aggregate over the profile type agrees
-- with the selection functions; profile values round-trip through text.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set mux :abs_srcdir '/test/data/pprof/go/cpu-multi-mapping.pb.gz'
\set heap :abs_srcdir '/test/data/pprof/go/heap.pb.gz'

SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "m", "pod": "1"}', 'merge');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'mux'), '{"service_name": "m", "pod": "2"}', 'merge');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "m", "pod": "3"}', 'merge');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'heap'), '{"service_name": "m", "pod": "1"}', 'merge');

-- merged pprof is gzip and re-ingests to the same flame graph
CREATE TEMP TABLE merged AS
SELECT pt, pyroscope.merge_pprof(pt, '{service_name="m"}', '-infinity', 'infinity', 'merge') AS pprof
  FROM pyroscope.profile_types('merge') pt;
SELECT pt, substr(pprof, 1, 2) AS gzip_magic FROM merged ORDER BY pt;
SELECT pyroscope.ingest_pprof(pprof, jsonb_build_object('service_name', 're', '__name__', split_part(pt, ':', 1)), 'remerge')
  FROM merged ORDER BY pt;
SELECT m.pt,
	   pyroscope.flamegraph(m.pt, '{service_name="m"}', '-infinity', 'infinity', 0, 'merge')
	 = pyroscope.flamegraph(m.pt, '{}', '-infinity', 'infinity', 0, 'remerge') AS same_flamegraph
  FROM merged m ORDER BY 1;

-- the merge aggregate in plain SQL equals the selection function
SELECT s.profile_type,
	   pyroscope.flamegraph(pyroscope.merge(pyroscope.head_profile(h)), 0)
	 = pyroscope.flamegraph(s.profile_type, '{}', '-infinity', 'infinity', 0, 'merge') AS same
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'merge' GROUP BY 1 ORDER BY 1;

-- per-pod totals with GROUP BY, and their sum equals the merged total
SELECT s.labels ->> 'pod' AS pod, pyroscope.total(pyroscope.merge(pyroscope.head_profile(h))) AS total
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'merge' AND s.profile_type = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
 GROUP BY 1 ORDER BY 1;
SELECT pyroscope.total(pyroscope.merge(profile))
  FROM pyroscope.select_profiles('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'merge');

-- stacks of a merged value sum to its total
WITH m AS (SELECT pyroscope.merge(profile) AS p
			 FROM pyroscope.select_profiles('memory:inuse_space:bytes:space:bytes', '{}',
											'-infinity', 'infinity', 'merge'))
SELECT (SELECT sum(self) FROM pyroscope.stacks((SELECT p FROM m)))
	 = (SELECT pyroscope.total(p) FROM m) AS stacks_sum_to_total;

-- to_pprof of a merged value re-ingests to the same total
SELECT pyroscope.ingest_pprof(pyroscope.to_pprof(pyroscope.merge(profile), 'memory:alloc_space:bytes:space:bytes'),
							  '{"service_name": "topprof", "__name__": "memory"}', 'topprof')
  FROM pyroscope.select_profiles('memory:alloc_space:bytes:space:bytes', '{}', '-infinity', 'infinity', 'merge');
SELECT (SELECT sum(total) FROM pyroscope.head WHERE tenant = 'topprof')
	 = (SELECT sum(h.total) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
		 WHERE s.tenant = 'merge' AND s.profile_type = 'memory:alloc_space:bytes:space:bytes') AS same_total;

-- merge of nothing is NULL
SELECT pyroscope.merge(pyroscope.head_profile(h)) IS NULL AS empty_merge FROM pyroscope.head h WHERE false;

-- profile values survive their text form
SELECT pyroscope.total(pyroscope.head_profile(h)::text::pyroscope.profile) = h.total AS text_round_trip
  FROM pyroscope.head h WHERE tenant = 'merge' LIMIT 1;

-- in parallel: each worker merges its rows, the leader combines the
-- partial merges (combine, serialize, deserialize); the same value as a
-- serial merge, for every profile type of the tenant
CREATE TEMP TABLE serial_all AS
SELECT pyroscope.merge(pyroscope.head_profile(h)) AS p FROM pyroscope.head h WHERE h.tenant = 'merge';
CREATE TEMP TABLE serial_merge AS
SELECT s.profile_type, pyroscope.merge(pyroscope.head_profile(h)) AS p
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE h.tenant = 'merge' GROUP BY 1;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 1;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
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
-- (partial merges combined after a Gather, whatever else the plan holds)
SELECT s ~ 'Partial Aggregate' AS partial_merges, s ~ 'Finalize Aggregate > Gather' AS combined,
	   regexp_replace(s, '^.*; ', '') AS tables
  FROM pg_temp.plan_shape($$SELECT pyroscope.merge(pyroscope.head_profile(h)) FROM pyroscope.head h
							 WHERE h.tenant = 'merge'$$) s;
SELECT count(*) AS types,
	   count(*) FILTER (WHERE (SELECT pyroscope.merge(pyroscope.head_profile(h))
							     FROM pyroscope.head h JOIN pyroscope.series s2 USING (series_id)
							    WHERE h.tenant = 'merge' AND s2.profile_type = sm.profile_type)::text
						  = sm.p::text) AS same_in_parallel
  FROM serial_merge sm;
-- the plan above, against the serial merge of the same rows: its stacks
-- and values (the rows mix profile types, and a merge takes the metadata
-- of whichever profile comes first, which a parallel plan may change)
SELECT (SELECT array_agg(s ORDER BY s::text)
		  FROM (SELECT pyroscope.merge(pyroscope.head_profile(h)) AS p FROM pyroscope.head h
				 WHERE h.tenant = 'merge') m, pyroscope.stacks(m.p) s)
	 = (SELECT array_agg(s ORDER BY s::text) FROM serial_all a, pyroscope.stacks(a.p) s)
	   AS same_in_parallel_plan;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

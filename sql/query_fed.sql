-- Profiles from the query's own rows: pprof_part() reads a stored pprof's
-- part from bytes the query joins in, block_profile() merges a block's
-- range; a flame graph over both tiers written in plain SQL equals
-- pyroscope.flamegraph(), serial and in parallel.
\getenv abs_srcdir PG_ABS_SRCDIR
SET pyroscope.block_window = '1h';
SET pyroscope.compact_after = '10min';
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set mux :abs_srcdir '/test/data/pprof/go/cpu-multi-mapping.pb.gz'
\set labels :abs_srcdir '/test/data/pprof/go/cpu-labels.pb.gz'

-- one hour compacted into blocks, the next in head
SELECT sum(pyroscope.ingest_pprof(pg_read_binary_file(f), jsonb_build_object('service_name', s), 'qf', at => t))
  FROM (VALUES (:'cpu', 'a', '2031-03-01 10:00+00'::timestamptz), (:'labels', 'b', '2031-03-01 10:20+00'),
			   (:'mux', 'a', '2031-03-01 12:30+00'), (:'labels', 'b', '2031-03-01 12:40+00')) v(f, s, t);
SELECT (pyroscope.compact('2031-03-01 12:00+00', 'qf') ->> 'blocks_written')::int > 0 AS blocks;
SELECT (SELECT count(*) FROM pyroscope.head WHERE tenant = 'qf') AS head_rows,
	   (SELECT count(*) FROM pyroscope.blocks WHERE tenant = 'qf') AS blocks;

-- head_profile() and pprof_part() read the same profile
SELECT bool_and(pyroscope.head_profile(h)::text = pyroscope.pprof_part(p.data, h.part)::text) AS same
  FROM pyroscope.head h JOIN pyroscope.head_pprof p USING (shard_key, pprof_id) WHERE h.tenant = 'qf';

-- a flame graph of one type over both tiers in plain SQL
CREATE FUNCTION sql_flamegraph(pt text, lo timestamptz, hi timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH s AS (SELECT series_id FROM pyroscope.series WHERE tenant = 'qf' AND profile_type = pt)
	SELECT pyroscope.flamegraph(pyroscope.merge(x.p), 0) FROM (
		SELECT pyroscope.pprof_part(hp.data, h.part) AS p
		  FROM pyroscope.head h JOIN pyroscope.head_pprof hp USING (shard_key, pprof_id)
		 WHERE h.tenant = 'qf' AND h.ts BETWEEN lo AND hi AND h.series_id IN (SELECT series_id FROM s)
		UNION ALL
		SELECT pyroscope.block_profile(b.data, (SELECT array_agg(series_id) FROM s), lo, hi)
		  FROM pyroscope.blocks b
		 WHERE b.tenant = 'qf' AND b.min_ts <= hi AND b.max_ts >= lo) x
$$;
SELECT t.pt, w.lo, sql_flamegraph(t.pt, w.lo, w.hi) = pyroscope.flamegraph(t.pt, '{}', w.lo, w.hi, 0, 'qf') AS same,
	   (sql_flamegraph(t.pt, w.lo, w.hi) ->> 'numTicks')::bigint AS ticks
  FROM pyroscope.profile_types('qf') t(pt),
	   (VALUES ('2031-03-01 09:00+00'::timestamptz, '2031-03-01 14:00+00'::timestamptz),
			   ('2031-03-01 10:10+00', '2031-03-01 12:35+00')) w(lo, hi)
 ORDER BY 1, 2;

-- the same in parallel plans
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
-- (with statistics, so that the plan does not depend on when autovacuum
-- last looked)
ANALYZE pyroscope.head, pyroscope.head_pprof, pyroscope.blocks;
-- (partial merges combined after a Gather, whatever else the plan holds)
SELECT s ~ 'Partial Aggregate' AS partial_merges, s ~ 'Finalize Aggregate > Gather' AS combined,
	   regexp_replace(s, '^.*; ', '') AS tables
  FROM pg_temp.plan_shape($$
SELECT pyroscope.merge(x.p) FROM (
	SELECT pyroscope.pprof_part(hp.data, h.part) AS p
	  FROM pyroscope.head h JOIN pyroscope.head_pprof hp USING (shard_key, pprof_id) WHERE h.tenant = 'qf'
	UNION ALL
	SELECT pyroscope.block_profile(b.data, NULL) FROM pyroscope.blocks b WHERE b.tenant = 'qf') x$$) s;
SELECT bool_and(sql_flamegraph(t.pt, '2031-03-01 09:00+00', '2031-03-01 14:00+00')
				= pyroscope.flamegraph(t.pt, '{}', '2031-03-01 09:00+00', '2031-03-01 14:00+00', 0, 'qf')) AS same_in_parallel
  FROM pyroscope.profile_types('qf') t(pt);
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- a block range with nothing in it, and every series of a block
SELECT pyroscope.block_profile(data, NULL, '1999-01-01', '1999-01-02') IS NULL AS nothing
  FROM pyroscope.blocks WHERE tenant = 'qf' LIMIT 1;
SELECT pyroscope.total(pyroscope.block_profile(b.data, NULL))
	 = (SELECT sum(t.total) FROM pyroscope.block_totals(b.data) t) AS all_series
  FROM pyroscope.blocks b WHERE tenant = 'qf' ORDER BY b.block_id LIMIT 1;

-- bad input is refused, never read
SELECT pyroscope.pprof_part('\x00010203'::bytea, 0);
SELECT pyroscope.pprof_part(data, 99) FROM pyroscope.head_pprof WHERE tenant = 'qf' LIMIT 1;
SELECT pyroscope.block_profile('\x5059423100'::bytea, NULL);
SELECT pyroscope.block_profile(data, ARRAY[NULL::bigint]) FROM pyroscope.blocks WHERE tenant = 'qf' LIMIT 1;
DROP FUNCTION sql_flamegraph(text, timestamptz, timestamptz);

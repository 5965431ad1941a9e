-- Diff flame graphs: the "double" layout, tick counts of both sides.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set mux :abs_srcdir '/test/data/pprof/go/cpu-multi-mapping.pb.gz'

SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "d", "version": "1"}', 'diff');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'mux'), '{"service_name": "d", "version": "2"}', 'diff');

SELECT d -> 'names' -> 0 AS root, d -> 'levels' -> 0 AS root_level, d -> 'numTicks' AS ticks,
	   d -> 'leftTicks' AS left_ticks, d -> 'rightTicks' AS right_ticks,
	   jsonb_array_length(d -> 'levels' -> 1) % 7 AS seven_wide
  FROM pyroscope.diff('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
					  '{version="1"}', '-infinity', 'infinity',
					  '{version="2"}', '-infinity', 'infinity', 16384, 'diff') d;

-- ticks of each side equal the totals of single flame graphs
SELECT (pyroscope.diff('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
					   '{version="1"}', '-infinity', 'infinity',
					   '{version="2"}', '-infinity', 'infinity', 0, 'diff') ->> 'leftTicks')::bigint
	 = (pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{version="1"}',
							 '-infinity', 'infinity', 0, 'diff') ->> 'numTicks')::bigint AS left_ok;

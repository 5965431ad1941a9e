-- Flame graphs: the flamebearer layout is decoded back into a tree and
-- compared with the stacks and top functions of the same selection;
-- truncation, empty ranges, and time filtering.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set java :abs_srcdir '/test/data/pprof/java/profile_java.pb.gz'

SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "go"}', 'fg');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'java'), '{"service_name": "java"}', 'fg');

-- Decode flamebearer levels (delta-encoded x, total, self, name) into
-- one row per node with its full path, checking that every node lies
-- inside a node of the level above.
CREATE FUNCTION pg_temp.fg_nodes(fg jsonb)
RETURNS TABLE (path text, self bigint, total bigint)
LANGUAGE plpgsql AS $$
DECLARE
	names text[] := ARRAY(SELECT jsonb_array_elements_text(fg -> 'names'));
	nlevels int := jsonb_array_length(fg -> 'levels');
	prev_x bigint[] := '{}'; prev_t bigint[] := '{}'; prev_p text[] := '{}';
	cur_x bigint[]; cur_t bigint[]; cur_p text[];
	lvl jsonb; x bigint; prev_end bigint; nx bigint; nt bigint; ns bigint; nm text; p text;
	i int; j int;
BEGIN
	FOR d IN 0 .. nlevels - 1 LOOP
		lvl := fg -> 'levels' -> d;
		cur_x := '{}'; cur_t := '{}'; cur_p := '{}';
		prev_end := 0;
		i := 0;
		WHILE i < jsonb_array_length(lvl) LOOP
			nx := prev_end + (lvl ->> i)::bigint;
			nt := (lvl ->> (i + 1))::bigint;
			ns := (lvl ->> (i + 2))::bigint;
			nm := names[(lvl ->> (i + 3))::int + 1];
			prev_end := nx + nt;
			IF d = 0 THEN
				p := nm;
			ELSE
				p := NULL;
				FOR j IN 1 .. coalesce(array_length(prev_x, 1), 0) LOOP
					IF nx >= prev_x[j] AND nx + nt <= prev_x[j] + prev_t[j] THEN
						p := prev_p[j] || ';' || nm;
					END IF;
				END LOOP;
				IF p IS NULL THEN
					RAISE EXCEPTION 'node % at level % is outside every parent', nm, d;
				END IF;
			END IF;
			cur_x := cur_x || nx; cur_t := cur_t || nt; cur_p := cur_p || p;
			path := p; self := ns; total := nt;
			RETURN NEXT;
			i := i + 4;
		END LOOP;
		prev_x := cur_x; prev_t := cur_t; prev_p := cur_p;
	END LOOP;
END $$;

-- shape of a small flame graph
SELECT fg -> 'names' -> 0 AS root_name, fg -> 'levels' -> 0 AS root_level,
	   fg -> 'numTicks' AS ticks, fg -> 'maxSelf' AS max_self, jsonb_array_length(fg -> 'levels') AS depth
  FROM pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="go"}',
							'-infinity', 'infinity', 16384, 'fg') fg;

-- every stack's self value appears at its node; totals are consistent
CREATE TEMP TABLE go_nodes AS
SELECT * FROM pg_temp.fg_nodes(pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		'{service_name="go"}', '-infinity', 'infinity', 0, 'fg'));
SELECT count(*) AS stacks_missing_in_flamegraph
  FROM pyroscope.stacks('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="go"}',
						'-infinity', 'infinity', 'fg') s
 WHERE NOT EXISTS (SELECT 1 FROM go_nodes n
				   WHERE n.path = 'total;' || array_to_string(s.stack, ';') AND n.self = s.self);
SELECT (SELECT sum(self) FROM go_nodes) = (SELECT total FROM go_nodes WHERE path = 'total') AS self_sums_to_total;
SELECT path, self, total FROM go_nodes ORDER BY total DESC, path LIMIT 8;

-- the top table agrees with the flame graph's self values per function
SELECT count(*) AS mismatches
  FROM pyroscope.top_functions('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="go"}',
							   '-infinity', 'infinity', 'fg') t
 WHERE t.self <> (SELECT coalesce(sum(n.self), 0) FROM go_nodes n
				  WHERE split_part(n.path, ';', -1) = t.function_name AND n.path <> 'total');

-- truncation: fewer nodes, same total, "other" nodes carry the rest
WITH full_fg AS (
	SELECT * FROM pg_temp.fg_nodes(pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		'{service_name="java"}', '-infinity', 'infinity', 0, 'fg'))),
small AS (
	SELECT * FROM pg_temp.fg_nodes(pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		'{service_name="java"}', '-infinity', 'infinity', 20, 'fg')))
SELECT (SELECT count(*) FROM full_fg) AS full_nodes,
	   (SELECT count(*) FROM small) AS truncated_nodes,
	   (SELECT count(*) FROM small WHERE path LIKE '%;other') > 0 AS has_other,
	   (SELECT total FROM full_fg WHERE path = 'total') = (SELECT total FROM small WHERE path = 'total') AS same_total;

-- an empty range gives an empty flame graph, not an error
SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', '2000-01-01', '2000-01-02', 100, 'fg');

-- names and label values with every character JSON escapes, and numbers
-- past int64's 18 digits: the jsonb made from the core's JSON text is the
-- one jsonb_in makes of the same text, and the names come back as stored
SELECT pyroscope.ingest_speedscope(convert_to(
	'{"$schema": "https://www.speedscope.app/file-format-schema.json",'
	' "shared": {"frames": [{"name": "main"}, {"name": "quote\" back\\ slash/"},'
	' {"name": "tab\t nl\n cr\r bell\u0007 nul-free"}, {"name": "caf\u00e9 \ud83d\ude00 \u00ff"}]},'
	' "profiles": [{"type": "sampled", "name": "p", "unit": "nanoseconds", "startValue": 0, "endValue": 1,'
	' "samples": [[0, 1], [0, 2], [0, 3], [0]], "weights": [4000000000000000000, 5000000000000000000, 1, 1023]}]}',
	'UTF8'), '{"service_name": "fg-escapes", "note": "a \"quoted\" \\ value\t"}', 'fg', 'cpu', 100, '2024-01-01');
WITH g AS (SELECT pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		'{service_name="fg-escapes"}', '-infinity', 'infinity', 0, 'fg') AS fg)
SELECT fg = fg::text::jsonb AS same_jsonb, fg::text = fg::text::jsonb::text AS same_text,
	   fg -> 'numTicks' AS ticks, jsonb_array_length(fg -> 'names') AS names
  FROM g;
SELECT n AS name, length(n) AS chars
  FROM jsonb_array_elements_text((pyroscope.flamegraph('process_cpu:cpu:nanoseconds:cpu:nanoseconds',
		'{service_name="fg-escapes"}', '-infinity', 'infinity', 0, 'fg')) -> 'names') n
 ORDER BY 1;
SELECT labels ->> 'note' AS note FROM pyroscope.series WHERE service_name = 'fg-escapes';

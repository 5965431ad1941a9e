-- Real profiles of every language and profiler we have: Java, Python, Ruby,
-- .NET, Node.js, Rust and native/eBPF.  Each shows its profile types,
-- total, and top functions.
\getenv abs_srcdir PG_ABS_SRCDIR
\set d :abs_srcdir '/test/data/pprof/'

CREATE TEMP TABLE files (lang text, path text);
INSERT INTO files VALUES
	('java', 'java/profile_java.pb.gz'),
	('python', 'python/pyspy-1.pb.gz'),
	('python-small', 'python/profile_python_small.pb.gz'),
	('ruby', 'ruby/profile_ruby.pb.gz'),
	('dotnet', 'dotnet/dotnet-pprof-3.pb.gz'),
	('nodejs', 'nodejs/cpu-js.pb.gz'),
	('nodejs-heap', 'nodejs/heap-js.pprof'),
	('rust', 'rust/profile_rust.pb.gz'),
	('ebpf', 'ebpf-native/normal-cpu.stripped.pprof'),
	('node-ebpf', 'ebpf-native/node-ebpf.pb.gz');

SELECT lang, pyroscope.ingest_pprof(pg_read_binary_file(:'d' || path),
									jsonb_build_object('service_name', lang), 'lang') AS series
  FROM files ORDER BY lang;

SELECT s.service_name, s.profile_type, sum(h.total) AS total
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'lang' GROUP BY 1, 2 ORDER BY 1, 2;

-- the three hottest functions of each language's first profile type
SELECT lang, function_name, self
  FROM (SELECT f.lang, t.function_name, t.self,
			   row_number() OVER (PARTITION BY f.lang ORDER BY t.self DESC, t.function_name) AS rn
		  FROM files f,
			   LATERAL (SELECT min(profile_type) AS pt FROM pyroscope.series
						 WHERE tenant = 'lang' AND service_name = f.lang) p,
			   LATERAL pyroscope.top_functions(p.pt, format('{service_name="%s"}', f.lang),
											   '-infinity', 'infinity', 'lang') t) x
 WHERE rn <= 3
 ORDER BY lang, self DESC, function_name;

-- native frames without symbols are named after their mapping and address
SELECT count(*) > 0 AS has_native_names
  FROM pyroscope.top_functions('process_cpu:samples:count:cpu:nanoseconds', '{service_name="ebpf"}',
							   '-infinity', 'infinity', 'lang')
 WHERE function_name ~ '\+0x[0-9a-f]+$';
SELECT count(*) AS empty_names
  FROM pyroscope.stacks('process_cpu:samples:count:cpu:nanoseconds', '{}', '-infinity', 'infinity', 'lang')
 WHERE '' = ANY (stack);

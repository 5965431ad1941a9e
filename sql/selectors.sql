-- Label selectors: every operator, anchoring, missing labels, metric
-- names, label names/values, and series split by pprof sample labels.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set labels :abs_srcdir '/test/data/pprof/go/cpu-labels.pb.gz'

SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "api", "env": "prod", "pod": "a"}', 'sel');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "api", "env": "stage", "pod": "b"}', 'sel');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "web", "env": "prod"}', 'sel');

CREATE TEMP VIEW q AS
SELECT sel,
	   (SELECT string_agg(concat(labels ->> 'service_name', '/', labels ->> 'env', '/', labels ->> 'pod'), ' ' ORDER BY 1)
		  FROM pyroscope.select_series('process_cpu:cpu:nanoseconds:cpu:nanoseconds', sel,
									   '-infinity', 'infinity', 'sel')) AS matches
  FROM (VALUES ('{}'), (''), ('{service_name="api"}'), ('{service_name!="api"}'),
			   ('{env=~"prod|stage"}'), ('{env=~"pro"}'), ('{env=~"pro.*"}'), ('{env!~"prod"}'),
			   ('{pod=""}'), ('{pod!=""}'), ('{pod=~".*"}'), ('{service_name="api", pod="b"}'),
			   ('{ service_name = "api" , }'), ('{service_name=''web''}'), ('{service_name=`web`}'),
			   ('process_cpu{}'), ('memory{}'),
			   ('process_cpu:cpu:nanoseconds:cpu:nanoseconds{env="prod"}'),
			   ('process_cpu:samples:count:cpu:nanoseconds{env="prod"}'),
			   ('{__profile_type__="process_cpu:cpu:nanoseconds:cpu:nanoseconds", pod="a"}')) v(sel);
SELECT * FROM q;

SELECT * FROM pyroscope.label_names('{}', '-infinity', 'infinity', 'sel');
SELECT * FROM pyroscope.label_names('{service_name="web"}', '-infinity', 'infinity', 'sel');
SELECT * FROM pyroscope.label_values('env', '{}', '-infinity', 'infinity', 'sel');
SELECT * FROM pyroscope.label_values('pod', '{env="prod"}', '-infinity', 'infinity', 'sel');
SELECT * FROM pyroscope.label_values('nope', '{}', '-infinity', 'infinity', 'sel');

-- the time range applies to series: nothing before the profiles' time
SELECT count(*) FROM pyroscope.label_names('{}', '2000-01-01', '2000-01-02', 'sel');

-- string sample labels split a profile into series; profile_id stays on samples
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'labels'), '{"service_name": "split"}', 'split');
SELECT * FROM pyroscope.label_names('{}', '-infinity', 'infinity', 'split');
SELECT labels ->> 'foo' AS foo, labels ->> 'function' AS function, count(*)
  FROM pyroscope.series WHERE tenant = 'split' GROUP BY 1, 2 ORDER BY 1, 2;
-- the split does not change the total: 873 over 480 samples, as Google's pprof sums them
SELECT sum(h.total)
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'split' AND s.profile_type = 'process_cpu:samples:count:cpu:nanoseconds';
SELECT count(*) FROM pyroscope.series WHERE tenant = 'split' AND labels ? 'profile_id';
SELECT count(*) FROM pyroscope.series WHERE tenant = 'split' AND labels ? 'span_id';

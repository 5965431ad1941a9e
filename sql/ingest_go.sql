-- Ingest of real Go profiles (CPU, heap) through ingest_pprof: series per
-- sample type, reserved labels, totals, idempotent series creation.
\getenv abs_srcdir PG_ABS_SRCDIR
\set cpu :abs_srcdir '/test/data/pprof/go/cpu.pb.gz'
\set heap :abs_srcdir '/test/data/pprof/go/heap.pb.gz'
\set heapraw :abs_srcdir '/test/data/pprof/go/heap.pb'

-- two sample types -> two series
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'),
							  '{"service_name": "go-app", "env": "prod"}', 'go');
SELECT * FROM pyroscope.profile_types('go');

-- every series label, the reserved ones included
SELECT profile_type, service_name, labels
  FROM pyroscope.series WHERE tenant = 'go' ORDER BY profile_type;

-- totals per profile type equal the sums computed by Google's pprof (47 samples, 470ms)
SELECT s.profile_type, sum(h.total) AS total, sum(h.nsamples) AS samples
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'go' GROUP BY 1 ORDER BY 1;

-- four sample types of a heap profile; gzip and raw give the same result
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'heap'), '{"service_name": "go-heap"}', 'go');
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'heapraw'), '{"service_name": "go-heap-raw"}', 'go');
SELECT s.profile_type, s.service_name, h.total, h.nsamples
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'go' AND s.service_name LIKE 'go-heap%'
 ORDER BY 1, 2;

-- the same labels again: no new series, one more profile
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'),
							  '{"env": "prod", "service_name": "go-app"}', 'go');
SELECT count(*) AS series, (SELECT count(*) FROM pyroscope.head WHERE tenant = 'go') AS profiles
  FROM pyroscope.series WHERE tenant = 'go';

-- each pprof is stored once, as sent; its series' head rows name their part
SELECT (SELECT count(*) FROM pyroscope.head_pprof WHERE tenant = 'go') AS pprofs,
	   (SELECT count(DISTINCT pprof_id) FROM pyroscope.head WHERE tenant = 'go') AS named,
	   (SELECT bool_and(p.data = pg_read_binary_file(:'cpu'))
		  FROM pyroscope.head_pprof p JOIN pyroscope.head h USING (shard_key, pprof_id)
		  JOIN pyroscope.series s USING (series_id)
		 WHERE s.tenant = 'go' AND s.service_name = 'go-app') AS as_sent;
SELECT h.part, s.profile_type, h.total = pyroscope.total(pyroscope.head_profile(h)) AS same_total
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'go' AND s.service_name = 'go-heap'
 ORDER BY 1;

-- profile time comes from time_nanos, truncated to milliseconds
SELECT DISTINCT h.ts AT TIME ZONE 'UTC' AS ts
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'go' AND s.service_name = 'go-app';

-- tenants are separate
SELECT count(*) FROM pyroscope.profile_types('nobody');

-- "at" sets the profile's time (milliseconds resolution), e.g. now for
-- a sample profile recorded long ago; the series' seen range follows it
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "go-now"}', 'go',
							  '2031-05-06 07:08:09.123456+00');
SELECT DISTINCT h.ts AT TIME ZONE 'UTC' AS ts, s.first_seen = h.ts AND s.last_seen = h.ts AS seen
  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
 WHERE s.tenant = 'go' AND s.service_name = 'go-now';
SELECT pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "go-now"}', 'go',
							  'infinity');
-- NULL arguments other than "at" give NULL and store nothing
SELECT pyroscope.ingest_pprof(NULL, '{}', 'go') IS NULL AS null_data,
	   pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), NULL, 'go') IS NULL AS null_labels,
	   pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{}', NULL) IS NULL AS null_tenant,
	   pyroscope.ingest_pprof(pg_read_binary_file(:'cpu'), '{"service_name": "go-null"}', 'go', NULL) AS null_time;

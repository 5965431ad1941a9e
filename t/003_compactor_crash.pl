# The compactor killed with SIGKILL in the middle of a run (inside a unit,
# with its block written but not committed): the postmaster restarts
# everything, the new worker marks the interrupted run failed and redoes
# the unfinished work, and every ingested profile is then in exactly one
# place with its total: nothing lost, nothing counted twice, no duplicate
# block.
use strict;
use warnings;

use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $data = File::Spec->rel2abs($ENV{PYRO_TEST_DATA} // 'test/data');
my $node = PostgreSQL::Test::Cluster->new('compactor');
$node->init;
$node->append_conf('postgresql.conf', qq{
pyroscope.reject_older_than = 0
pyroscope.reject_newer_than = 0
shared_preload_libraries = 'pyroscope'
pyroscope.http_listen_address = ''
pyroscope.compactor = off
pyroscope.compaction_interval = 1s
restart_after_crash = on
});
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION pyroscope');

# 3 services x 2 pods, one push per pod in each of 8 hours, the newest
# about 4 hours old: 24 level-0 units (one per service and hour).
# The placed hours are fixed once, so a run crossing an hour boundary
# places and finds them the same.
sql(qq{
CREATE TABLE base AS SELECT date_trunc('hour', now()) AS h0;
CREATE FUNCTION ingest_at(path text, labels jsonb, at timestamptz) RETURNS integer
LANGUAGE plpgsql AS \$\$
DECLARE n integer;
BEGIN
	n := pyroscope.ingest_pprof(pg_read_binary_file(path), labels);
	-- the rows just written are the only ones outside the 8 placed hours
	UPDATE pyroscope.head SET ts = at
	 WHERE ts < (SELECT h0 FROM base) - interval '12 hours'
		OR ts >= (SELECT h0 FROM base) - interval '4 hours';
	RETURN n;
END \$\$;
SELECT ingest_at(f.path, jsonb_build_object('service_name', f.service, 'pod', p.pod),
				 (SELECT h0 FROM base) - interval '12 hours' + h * interval '1 hour' + p.off)
  FROM (VALUES ('$data/pprof/go/cpu.pb.gz', 'checkout'),
			   ('$data/pprof/java/profile_java.pb.gz', 'ledger'),
			   ('$data/pprof/python/profile_python_small.pb.gz', 'search')) f(path, service),
	   (VALUES ('p1', interval '10 min'), ('p2', interval '55 min')) p(pod, off),
	   generate_series(0, 7) h;
UPDATE pyroscope.series s SET first_seen = m.lo, last_seen = m.hi
  FROM (SELECT series_id, min(ts) lo, max(ts) hi FROM pyroscope.head GROUP BY 1) m
 WHERE m.series_id = s.series_id;
CREATE TABLE expected AS SELECT series_id, ts, total FROM pyroscope.head;
});
my $nprofiles = sql('SELECT count(*) FROM expected');
# go cpu and python hold 2 sample types each, java 1: (2 + 1 + 2) x 2 pods x 8 hours
is($nprofiles, 80, 'profiles ingested');

# Every profile wherever it lives, head or blocks.
sql(q{
CREATE VIEW profiles AS
	SELECT series_id, ts, total FROM pyroscope.head
	UNION ALL
	SELECT t.series_id, t.ts, t.total FROM pyroscope.blocks b, pyroscope.block_totals(b.data) t;
});

# A slow run: each unit pauses 1.5 s after writing, before committing.
sql(q{ALTER SYSTEM SET pyroscope.compaction_test_delay = '1500ms'});
sql(q{ALTER SYSTEM SET pyroscope.compactor = on});
sql('SELECT pg_reload_conf()');

# Wait until some units have committed and the worker is inside the next
# one with its writes done (its transaction has an xid).
ok( $node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM pyroscope.blocks) >= 3
	   AND EXISTS (SELECT 1 FROM pg_stat_activity
				    WHERE backend_type = 'pyroscope compactor' AND backend_xid IS NOT NULL)}),
	'compactor is in the middle of a run');

# Ingest goes on while the compactor holds its rows: a new pod of
# "checkout" pushes into every hour being compacted, under a statement
# timeout that a lock wait would trip.  These profiles must end up
# compacted exactly once too.
sql(q{
SET statement_timeout = '5s';
SELECT ingest_at(:'go', '{"service_name": "checkout", "pod": "p3"}',
				 (SELECT h0 FROM base) - interval '12 hours' + h * interval '1 hour'
				 + interval '30 min')
  FROM generate_series(0, 7) h;
INSERT INTO expected SELECT h.series_id, h.ts, h.total FROM pyroscope.head h
  JOIN pyroscope.series s USING (series_id) WHERE s.labels ->> 'pod' = 'p3';
} =~ s/:'go'/'$data\/pprof\/go\/cpu.pb.gz'/r);
is(sql('SELECT count(*) FROM expected'), '96', 'ingest ran beside the compactor without waiting');
ok( $node->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				    WHERE backend_type = 'pyroscope compactor' AND backend_xid IS NOT NULL)}),
	'compactor is inside a unit');
my $pid = sql(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pyroscope compactor'});
my $blocks_before = sql('SELECT count(*) FROM pyroscope.blocks');
ok($blocks_before < 24, "run not finished at the kill ($blocks_before of 24 blocks)");
is(sql(q{SELECT status FROM pyroscope.job_runs WHERE job = 'compaction' ORDER BY run_id DESC LIMIT 1}),
	'running', 'the run is recorded as running');

kill 'KILL', $pid;
diag("killed compactor $pid");

# The postmaster reinitialises after the crash; wait until it accepts
# connections and a new compactor runs, then let it go at full speed.
ok($node->poll_query_until('postgres', "SELECT pid <> $pid FROM pyroscope.compactor_status()"),
	'a new compactor is running after the crash restart');
sql(q{ALTER SYSTEM SET pyroscope.compaction_test_delay = 0});
sql('SELECT pg_reload_conf()');

ok($node->poll_query_until('postgres', q{
	SELECT NOT EXISTS (SELECT 1 FROM pyroscope.head)
	   AND EXISTS (SELECT 1 FROM pyroscope.job_runs
				    WHERE job = 'compaction' AND trigger = 'worker' AND status = 'success')}),
	'compaction finished after the restart');

is(sql(q{SELECT count(*) FROM pyroscope.job_runs
		  WHERE job = 'compaction' AND status = 'failed' AND error LIKE 'interrupted%'}),
	'1', 'the killed run is recorded as failed (interrupted)');

# nothing lost, nothing counted twice
is(sql('SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM profiles) x'),
	'0', 'no profile lost');
is(sql('SELECT count(*) FROM (SELECT * FROM profiles EXCEPT ALL SELECT * FROM expected) x'),
	'0', 'no profile duplicated or altered');
is(sql(q{SELECT count(*) FROM (SELECT series_id, ts FROM profiles GROUP BY 1, 2
							  HAVING count(*) > 1) x}),
	'0', 'every (series, time) in exactly one place');
is(sql(q{SELECT sum(total) FROM profiles}), sql(q{SELECT sum(total) FROM expected}),
	'grand total unchanged');
# no block written twice: the blocks of a service never overlap in time
# (hours of a finished day may have been merged into one level-2 block)
is(sql(q{SELECT count(*) FROM pyroscope.blocks a JOIN pyroscope.blocks b
		   ON a.service_name = b.service_name AND a.block_id < b.block_id
		  AND a.min_ts <= b.max_ts AND b.min_ts <= a.max_ts}),
	'0', 'no two blocks of a service overlap');
is(sql(q{SELECT sum(nprofiles) FROM pyroscope.blocks}), '96', 'the blocks hold all 96 profiles');

# the view shows the worker and the latest runs
is(sql(q{SELECT worker_state <> 'not running' AND status = 'success'
		   FROM pyroscope.job_status WHERE job = 'compaction'}),
	't', 'job_status shows the worker and the successful run');

# A failing unit is recorded and the worker goes on: a trigger makes every
# block insert of "search" fail.  Late profiles of "ledger" and "search"
# arrive; ledger's are compacted in the same run, search's stay in head.
my $worker = sql('SELECT pid FROM pyroscope.compactor_status()');
sql(q{
CREATE FUNCTION fail_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.service_name = 'search' THEN
		RAISE EXCEPTION 'injected failure for search';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fail_search BEFORE INSERT ON pyroscope.blocks
	FOR EACH ROW EXECUTE FUNCTION fail_search();
});
sql(qq{
BEGIN;
SELECT ingest_at(f.path, jsonb_build_object('service_name', f.service, 'pod', 'p4'),
				 (SELECT h0 FROM base) - interval '11 hours' + interval '40 min')
  FROM (VALUES ('$data/pprof/java/profile_java.pb.gz', 'ledger'),
			   ('$data/pprof/python/profile_python_small.pb.gz', 'search')) f(path, service);
INSERT INTO expected SELECT h.series_id, h.ts, h.total FROM pyroscope.head h
  JOIN pyroscope.series s USING (series_id) WHERE s.labels ->> 'pod' = 'p4';
COMMIT;
});
ok( $node->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT 1 FROM pyroscope.job_runs
				    WHERE job = 'compaction' AND status = 'failed' AND units_failed > 0
					  AND finished_at IS NOT NULL AND error LIKE 'injected failure for search%')}),
	'the failed unit is recorded with its error');
is(sql(q{SELECT string_agg(DISTINCT s.service_name, ',') FROM pyroscope.head h
		  JOIN pyroscope.series s USING (series_id)}),
	'search', 'the other units of the run went on: only search is left in head');
my $runs = sql('SELECT runs FROM pyroscope.compactor_status()');
ok($node->poll_query_until('postgres', "SELECT runs > $runs FROM pyroscope.compactor_status()"),
	'the worker keeps running');
is(sql('SELECT pid FROM pyroscope.compactor_status()'), $worker, 'in the same process');

sql('DROP TRIGGER fail_search ON pyroscope.blocks');
ok($node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM pyroscope.head)'),
	'search compacted once the failure is gone');
is(sql(q{SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM profiles) x)
			 || ' ' || (SELECT count(*) FROM (SELECT * FROM profiles EXCEPT ALL SELECT * FROM expected) y)
			 || ' ' || (SELECT count(*) FROM expected)}),
	'0 0 99', 'still every profile exactly once (96 + 3 late)');

# SIGTERM ends the worker at once, even inside a slow unit; the
# postmaster then starts a new one.
sql(q{ALTER SYSTEM SET pyroscope.compaction_test_delay = '60s'});
sql('SELECT pg_reload_conf()');
sql(q{SELECT ingest_at('} . "$data/pprof/go/cpu.pb.gz" . q{', '{"service_name": "checkout", "pod": "p5"}',
				 (SELECT h0 FROM base) - interval '10 hours')});
ok( $node->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				    WHERE backend_type = 'pyroscope compactor' AND backend_xid IS NOT NULL)}),
	'compactor is inside a 60 s unit');
$worker = sql('SELECT pid FROM pyroscope.compactor_status()');
my $t0 = time();
sql("SELECT pg_terminate_backend($worker)");
ok($node->poll_query_until('postgres',
		"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $worker)"),
	'the worker exits on SIGTERM');
ok(time() - $t0 < 10, 'within seconds, not after the 60 s pause (' . (time() - $t0) . ' s)');
sql(q{ALTER SYSTEM SET pyroscope.compaction_test_delay = 0});
sql('SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM pyroscope.head)'),
	'a restarted worker compacts what the terminated one left');

# Asked from SQL, the worker runs at once instead of waiting an hour.
sql(q{ALTER SYSTEM SET pyroscope.compaction_interval = '1h'});
sql('SELECT pg_reload_conf()');
sleep(2);	# let the worker reload and finish any run in progress
sql(q{SELECT ingest_at('} . "$data/pprof/go/cpu.pb.gz" . q{', '{"service_name": "checkout", "pod": "p6"}',
				 (SELECT h0 FROM base) - interval '10 hours')});
is(sql('SELECT pyroscope.compactor_wakeup()'), 't', 'wakeup reaches the worker');
ok($node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM pyroscope.head)'),
	'woken worker compacted the new profiles');

$node->stop;
done_testing();

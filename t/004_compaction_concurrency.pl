# Two compactions at once, and ingest beside them: a compaction that holds
# a unit (its transaction still open) makes a second one skip that unit
# instead of waiting or redoing it; ingest into the held window does not
# wait, and the profile it adds stays in head until the next run.  In the
# end every profile is in exactly one place.
use strict;
use warnings;

use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $data = File::Spec->rel2abs($ENV{PYRO_TEST_DATA} // 'test/data');
my $go = "$data/pprof/go/cpu.pb.gz";
my $java = "$data/pprof/java/profile_java.pb.gz";
my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf('postgresql.conf', qq{
pyroscope.reject_older_than = 0
pyroscope.reject_newer_than = 0
shared_preload_libraries = 'pyroscope'
pyroscope.http_listen_address = ''
pyroscope.compactor = off
# one-hour level-0 windows, as the units below are counted
pyroscope.block_window = '1h'
pyroscope.compact_after = '10min'
});
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION pyroscope');
# The placed hours are fixed once, so a run that crosses an hour boundary
# counts them the same.
sql(qq{
CREATE TABLE base AS SELECT date_trunc('hour', now()) - interval '6 hours' AS h0;
CREATE FUNCTION ingest_at(path text, labels jsonb, at timestamptz) RETURNS integer
LANGUAGE plpgsql AS \$\$
DECLARE n integer;
BEGIN
	n := pyroscope.ingest_pprof(pg_read_binary_file(path), labels);
	-- the rows just written are the only ones outside the placed hours
	UPDATE pyroscope.head SET ts = at
	 WHERE ts < (SELECT h0 FROM base)
		OR ts >= (SELECT h0 FROM base) + interval '2 hours';
	RETURN n;
END \$\$;
-- checkout (2 sample types) and ledger (1), one push in each of 2 hours:
-- 4 level-0 units, 6 head rows
SELECT ingest_at(f.path, jsonb_build_object('service_name', f.service, 'pod', 'p1'),
				 (SELECT h0 FROM base) + h * interval '1 hour' + interval '10 min')
  FROM (VALUES ('$go', 'checkout'), ('$java', 'ledger')) f(path, service),
	   generate_series(0, 1) h;
CREATE TABLE expected AS SELECT series_id, ts, total FROM pyroscope.head;
CREATE VIEW profiles AS
	SELECT series_id, ts, total FROM pyroscope.head
	UNION ALL
	SELECT t.series_id, t.ts, t.total FROM pyroscope.blocks b, pyroscope.block_totals(b.data) t;
});
is(sql('SELECT count(*) FROM expected'), '6', 'six head rows');

# Session A: a compaction pausing 3 s inside each unit it writes, its
# transaction (and so its locks) open until the end.
my $a = $node->background_psql('postgres');
$a->query_safe(q{SET pyroscope.compaction_test_delay = '3s'});
$a->query_until(qr/started/, q{\echo started
SELECT pyroscope.compact();
});
ok( $node->poll_query_until('postgres', q{
	SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				    WHERE query LIKE 'SELECT pyroscope.compact()%' AND backend_xid IS NOT NULL)}),
	'session A is inside its first unit');

# Ingest into A's window (checkout, first hour) does not wait.
my $t0 = time();
sql(qq{SET statement_timeout = '2s';
SELECT ingest_at('$go', '{"service_name": "checkout", "pod": "p1"}',
				 (SELECT h0 FROM base) + interval '20 min');
INSERT INTO expected SELECT h.series_id, h.ts, h.total FROM pyroscope.head h
 WHERE h.ts = (SELECT h0 FROM base) + interval '20 min';});
ok(time() - $t0 < 2, 'ingest into the held window did not wait');

# Session B skips the unit A holds and does the other three at once.
$t0 = time();
my $b = sql(q{SET statement_timeout = '10s';
SELECT pyroscope.compact() ->> 'head_rows_compacted'});
my $took = time() - $t0;
ok($took < 2.5, sprintf('a second compaction did not wait for the first (%.1f s)', $took));
is($b, '4', 'it compacted the 4 rows of the three units A did not hold');

$a->quit;
is(sql(q{SELECT string_agg(j.head_rows_compacted::text, ' ' ORDER BY j.run_id)
		   FROM pyroscope.job_runs j WHERE j.job = 'compaction'}),
	'2 4', 'A compacted only its own unit\'s 2 rows, B the other 4');
is(sql(q{SELECT count(*) || ' ' || min(ts - (SELECT h0 FROM base))
		   FROM pyroscope.head}),
	'2 00:20:00', 'the 2 profiles ingested meanwhile are still in head');

sql('SELECT pyroscope.compact()');
is(sql('SELECT count(*) FROM pyroscope.head'), '0', 'the next run compacts them');
is(sql(q{SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM profiles) x)
			 || ' ' || (SELECT count(*) FROM (SELECT * FROM profiles EXCEPT ALL SELECT * FROM expected) y)
			 || ' ' || (SELECT count(*) FROM expected)}),
	'0 0 8', 'every profile exactly once');
is(sql(q{SELECT count(*) FROM pyroscope.blocks a JOIN pyroscope.blocks b
		   ON a.service_name = b.service_name AND a.block_id < b.block_id
		  AND a.min_ts <= b.max_ts AND b.min_ts <= a.max_ts}),
	'0', 'no two blocks of a service overlap (the hour was merged)');

$node->stop;
done_testing();

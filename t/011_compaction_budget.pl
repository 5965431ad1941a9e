# A compaction unit over pyroscope.compaction_memory_limit, run by the
# compactor worker: it fails cleanly, is recorded in pyroscope.job_runs
# with the limit named, deletes nothing, the worker goes on with the other
# units and stays up; once the limit is raised the unit compacts.
use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('budget_worker', workers => 1);
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $java = data_file('pprof/java/profile_java.pb.gz');
my $go = data_file('pprof/go/cpu.pb.gz');

# an aligned minute of yesterday, so that the worker (real clock) compacts it
my $minute = sql(q{SELECT date_trunc('minute', now() - interval '1 day')});

# what a unit of one Java pprof and one of a Go pprof need, compacted from SQL
sql(qq{SELECT pyroscope.ingest_pprof(pg_read_binary_file('$java'),
	'{"service_name": "probe"}', 'anonymous', '$minute'::timestamptz)});
my $peak = sql(q{SELECT (pyroscope.compact(now(), 'anonymous') ->> 'peak_memory')::bigint});
sql(qq{SELECT pyroscope.ingest_pprof(pg_read_binary_file('$go'),
	'{"service_name": "goprobe"}', 'anonymous', '$minute'::timestamptz)});
my $gopeak = sql(q{SELECT (pyroscope.compact(now(), 'anonymous') ->> 'peak_memory')::bigint});
ok($gopeak > 0 && $gopeak < $peak, "a unit of one Java pprof needs $peak bytes, of a Go pprof $gopeak");

# a limit between the two: the Java unit cannot be compacted, the Go one can
my $limit_kb = int(($peak + $gopeak) / 2 / 1024);
sql("ALTER SYSTEM SET pyroscope.compaction_memory_limit = '${limit_kb}kB'");
sql(q{ALTER SYSTEM SET pyroscope.compaction_interval = '1s'});
sql(qq{SELECT pyroscope.ingest_pprof(pg_read_binary_file('$java'),
	'{"service_name": "toolarge"}', 'anonymous', '$minute'::timestamptz)});
sql(qq{SELECT pyroscope.ingest_pprof(pg_read_binary_file('$go'),
	'{"service_name": "small"}', 'anonymous', '$minute'::timestamptz)});
my $pid = sql(q{SELECT pid FROM pyroscope.compactor_status()});
sql(q{ALTER SYSTEM SET pyroscope.compactor = on});
sql('SELECT pg_reload_conf()');

my $failed = 0;
for (1 .. 150)
{
	$failed = sql(q{SELECT count(*) FROM pyroscope.job_runs
		WHERE job = 'compaction' AND units_failed > 0
		  AND error LIKE '%compaction unit needs more than pyroscope.compaction_memory_limit%'});
	last if $failed > 0;
	usleep(200_000);
}
ok($failed > 0, 'the unit over the limit is recorded as failed, naming the limit');
# the run goes on after the failed unit; wait for its end
usleep(1_500_000);
ok(sql(q{SELECT count(*) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
	WHERE s.service_name = 'toolarge'}) > 0, 'its profile is still in head');
is(sql(q{SELECT count(*) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
	WHERE s.service_name = 'small'}), 0, 'the other unit of the run was compacted');
is(sql(q{SELECT pid FROM pyroscope.compactor_status()}), $pid, 'the worker did not restart');

sql(q{ALTER SYSTEM RESET pyroscope.compaction_memory_limit});
sql('SELECT pg_reload_conf()');
my $left = 1;
for (1 .. 150)
{
	$left = sql(q{SELECT count(*) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
		WHERE s.service_name = 'toolarge'});
	last if $left == 0;
	usleep(200_000);
}
is($left, 0, 'with the limit raised, the unit compacts');
is(sql(q{SELECT sum(nprofiles) FROM pyroscope.blocks WHERE service_name = 'toolarge'}),
	sql(q{SELECT sum(nprofiles) FROM pyroscope.blocks WHERE service_name = 'probe'}),
	'and every profile is in its block');

$node->stop;
done_testing();

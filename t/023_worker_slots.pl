# The extension's background workers and max_worker_processes: left unset,
# the setting grows by the workers registered, so parallel plans get the
# workers they plan (with the default 8, our six workers and the logical
# replication launcher left one); a setting made is kept, with a warning
# when it leaves little room.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Utils;
use PyroHttp;
use Test::More;

my $node = start_node('slots');

# two HTTP workers, two query workers, the compactor, the offloader
$node->poll_query_until('postgres',
	"SELECT count(*) = 6 FROM pg_stat_activity WHERE backend_type LIKE 'pyroscope %'")
  or die 'the workers did not start';
is($node->safe_psql('postgres',
		"SELECT setting || ' ' || source FROM pg_settings WHERE name = 'max_worker_processes'"),
	'14 default', 'unset, max_worker_processes is the default 8 plus the 6 workers');

$node->safe_psql('postgres',
	'CREATE TABLE numbers AS SELECT g FROM generate_series(1, 200000) g; ANALYZE numbers');
my $plan = $node->safe_psql('postgres', q{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM numbers});
like($plan, qr/Workers Planned: 2/, 'a parallel plan of two workers');
like($plan, qr/Workers Launched: 2/, 'gets both workers beside the extension\'s');
unlike(slurp_file($node->logfile), qr/background workers leave/, 'no warning');
$node->stop;

# more workers than the default has slots: every one registered and running
# (the slots are reserved before the workers are registered; registered
# first, three of these ten were refused, the compactor among them)
my $many = start_node('slots_many',
	conf => "pyroscope.http_workers = 4\npyroscope.http_query_workers = 4\n");
ok($many->poll_query_until('postgres',
		"SELECT count(*) = 10 FROM pg_stat_activity WHERE backend_type LIKE 'pyroscope %'"),
	'all ten workers start');
is($many->safe_psql('postgres', "SELECT string_agg(backend_type || ' ' || n, ', ' ORDER BY backend_type)
		FROM (SELECT backend_type, count(*) AS n FROM pg_stat_activity
		       WHERE backend_type LIKE 'pyroscope %' GROUP BY 1) w"),
	'pyroscope compactor 1, pyroscope http query worker 4, pyroscope http worker 4, pyroscope offloader 1',
	'ten workers, all running');
is($many->safe_psql('postgres', 'SHOW max_worker_processes'), '18', 'in 8 + 10 slots');
unlike(slurp_file($many->logfile), qr/too many background workers/, 'none refused');
$many->stop;

# a setting made is kept; too small a one is warned about at start
for my $case ([ 8, 1 ], [ 20, 0 ])
{
	my ($setting, $warns) = @$case;
	my $n = start_node("slots_$setting", conf => "max_worker_processes = $setting\n");
	is($n->safe_psql('postgres',
			"SELECT setting || ' ' || source FROM pg_settings WHERE name = 'max_worker_processes'"),
		"$setting configuration file", "max_worker_processes = $setting is kept");
	my $log = slurp_file($n->logfile);
	if ($warns)
	{
		like($log,
			qr/WARNING:  pyroscope's 6 background workers leave 2 of max_worker_processes = 8 for parallel queries and other workers/,
			'a warning says how many slots are left');
		like($log, qr/HINT:  Raise max_worker_processes to at least 9/, 'and what to set');
	}
	else
	{
		unlike($log, qr/background workers leave/, "no warning with $setting");
	}
	$n->stop;
}

done_testing();

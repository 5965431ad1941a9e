# Late profiles (older than pyroscope.compact_after) pushed while
# compaction runs: every compaction unit succeeds -- those of
# pyroscope.compact() called in a loop and those of the compactor worker
# -- and afterwards every pushed profile is in a block, counted once.
use strict;
use warnings;

use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('late', workers => 2);
sub sql { return $node->safe_psql('postgres', $_[0]); }

# the compactor worker runs every second beside the SQL calls below
sql(q{ALTER SYSTEM SET pyroscope.compactor = on});
sql(q{ALTER SYSTEM SET pyroscope.compaction_interval = '1s'});
sql('SELECT pg_reload_conf()');

# four clients push pprofs (Connect Push) dated 1 to 2 hours ago (late,
# in windows compaction is working on) for 8 seconds
my $now = int(time());
my $port = $node->{http_port};
my $dir = PostgreSQL::Test::Utils::tempdir();
my @clients;
for my $c (1 .. 4)
{
	for my $i (1 .. 400)
	{
		my $t = $now - 3600 - ($i * 37 + $c * 101) % 3600;
		my $pprof = make_pprof($t * 1_000_000_000, [ [ 'main', 'work', 'spin' ], 5 ]);
		open(my $f, '>:raw', "$dir/push-$c-$i.bin") or die;
		print $f push_request([ '__name__', 'process_cpu', 'service_name', "late$c" ], $pprof);
		close $f;
	}
	my $out = '';
	my $script = qq{
		end=\$((\$(date +%s) + 8)); i=0
		while [ \$(date +%s) -lt \$end ] && [ \$i -lt 400 ]; do
			i=\$((i + 1))
			curl -s -o /dev/null -w '%{http_code}\\n' -H 'Content-Type: application/proto' \\
				--data-binary \@$dir/push-$c-\$i.bin \\
				"http://127.0.0.1:$port/push.v1.PusherService/Push"
		done};
	push @clients, [ IPC::Run::start([ 'sh', '-c', $script ], '>', \$out), \$out ];
}

# meanwhile, compaction from SQL in a loop: each call's units see a
# snapshot older than the rows pushed during the call
my ($calls, $failed) = (0, 0);
my $errors = '';
my $until = time() + 8;
while (time() < $until)
{
	my ($ret, $out, $err) = $node->psql('postgres', 'SELECT pyroscope.compact()');
	$calls++;
	if ($ret != 0)
	{
		$failed++;
		$errors .= $err;
	}
}
$_->[0]->finish for @clients;
my $pushed = 0;
$pushed += () = ${ $_->[1] } =~ /^200$/mg for @clients;
my $answers = 0;
$answers += () = ${ $_->[1] } =~ /^\d+$/mg for @clients;
ok($pushed > 50, "late pushes answered 200 ($pushed)");
is($answers, $pushed, 'every push answered 200');
ok($calls > 3, "pyroscope.compact() called $calls times meanwhile");
is($failed, 0, 'no call of pyroscope.compact() failed') or diag($errors);

# the worker's runs, and one last pass for what arrived at the end
sql(q{ALTER SYSTEM SET pyroscope.compactor = off});
sql('SELECT pg_reload_conf()');
usleep(1_500_000);
ok(sql(q{SELECT count(*) FROM pyroscope.job_runs WHERE job = 'compaction'}) > 0,
	'the compactor worker ran meanwhile');
is(sql(q{SELECT count(*) FROM pyroscope.job_runs WHERE job = 'compaction' AND units_failed > 0}),
	0, 'none of its units failed')
  or diag(sql(q{SELECT string_agg(DISTINCT error, '; ') FROM pyroscope.job_runs WHERE error IS NOT NULL}));
sql('SELECT pyroscope.compact()');
is(sql(q{SELECT count(*) FROM pyroscope.head}), 0, 'the head is empty after a last pass');
is(sql(q{SELECT count(*) FROM pyroscope.head_pprof}), 0, 'and so are the stored pprofs');
my $types = sql(q{SELECT string_agg(DISTINCT profile_type, ',') FROM pyroscope.series});
my $tick = sql(qq{SELECT sum((pyroscope.flamegraph('$types',
		'{service_name="' || s || '"}', to_timestamp($now - 7300), to_timestamp($now))
		->> 'numTicks')::bigint) FROM unnest(ARRAY['late1','late2','late3','late4']) s});
is($tick, 5 * $pushed, 'every pushed profile is in the blocks, counted once');

$node->stop;
done_testing();

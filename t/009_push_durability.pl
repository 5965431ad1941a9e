# A push is answered 200 only once its commit is durable, though pushes
# commit asynchronously and share one WAL flush (group commit): every
# push answered 200 is still there after every process of the cluster is
# killed with SIGKILL at once.  The WAL writer is slowed to 10 s so that
# only the HTTP worker's own flush can have written the commits; without
# it the pushes would die with the shared WAL buffers.
use strict;
use warnings;

use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('durable', workers => 2,
	conf => "wal_writer_delay = 10s\nwal_writer_flush_after = 0\nsynchronous_commit = on\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

my $now = time();
my $gz = data_file('pprof/go/cpu.pb.gz');

# 20 pushes from 4 concurrent clients, each answered before the kill
my @clients;
for my $c (1 .. 4)
{
	my $out = '';
	my @cmd = ('sh', '-c', join(' ; ', map {
		"curl -s -o /dev/null -w '%{http_code}\\n' --data-binary \@$gz "
		  . "'http://127.0.0.1:$node->{http_port}/ingest?name=durable$c-$_&format=pprof&from=$now'"
	} 1 .. 5));
	push @clients, [ IPC::Run::start(\@cmd, '>', \$out), \$out ];
}
$_->[0]->finish for @clients;
my $ok = 0;
$ok += () = ${ $_->[1] } =~ /^200$/mg for @clients;
is($ok, 20, 'every push answered 200');

# SIGKILL to the postmaster and every child, in one go
open(my $pidf, '<', $node->data_dir . '/postmaster.pid') or die;
my $pmpid = <$pidf>;
chomp $pmpid;
close $pidf;
my @children = split /\s+/, `pgrep -P $pmpid`;
kill 'KILL', $pmpid, @children;
for (1 .. 100)
{
	last unless grep { kill 0, $_ } $pmpid, @children;
	usleep(100_000);
}
unlink($node->data_dir . '/postmaster.pid');	# stale: its process is gone
$node->_update_pid(0);
$node->start;
wait_ready($node);

is(sql(q{SELECT count(DISTINCT service_name) FROM pyroscope.series WHERE service_name LIKE 'durable%'}),
	20, 'after SIGKILL of every process, all 20 pushes are stored');
is(sql(q{SELECT count(*) FROM pyroscope.head_pprof}), 20, 'and their 20 pprofs');

$node->stop;
done_testing();

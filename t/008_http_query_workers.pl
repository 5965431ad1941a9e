# Queries run in the query workers, so that ingest never waits behind
# them: a push is answered while a long query holds the only query
# worker; the queue is bounded (429 with Retry-After past it); a query
# past pyroscope.http_request_timeout is answered 504 deadline_exceeded
# and counted on /metrics; a client that closes its connection cancels
# its query.  Long queries are made with pyroscope.query_test_delay.
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

my $node = start_node('qworkers', workers => 1,
	conf => "pyroscope.http_query_workers = 1\npyroscope.http_query_queue = 2\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

sub reload
{
	sql($_[0]);
	sql('SELECT pg_reload_conf()');
	usleep(300_000);
}

sub metric
{
	my ($name) = @_;
	my (undef, $body) = http($node, 'GET', '/metrics');
	return $body =~ /^\Q$name\E (\S+)$/m ? $1 + 0 : undef;
}

# wait (up to secs) until the metric has the value
sub wait_metric
{
	my ($name, $want, $secs) = @_;
	my $v;
	for (1 .. $secs * 10)
	{
		$v = metric($name);
		return 1 if defined $v && $v == $want;
		usleep(100_000);
	}
	diag("$name is " . ($v // 'absent') . ", expected $want");
	return 0;
}

my $now = time();
my ($st, $body, $hdrs) = http($node, 'POST', "/ingest?name=fleet&format=pprof&from=$now",
	body_file => data_file('pprof/java/profile_java.pb.gz'));
is($st, 200, 'a Java pprof pushed');
my $type = sql(q{SELECT profile_type FROM pyroscope.series
	WHERE service_name = 'fleet' ORDER BY 1 LIMIT 1});
my $ts = sql(q{SELECT (extract(epoch FROM min(ts)) * 1000)::bigint FROM pyroscope.head});
my $req = sprintf('{"profileTypeID":"%s","labelSelector":"{service_name=\"fleet\"}","start":%d,"end":%d}',
	$type, $ts - 600000, $ts + 600000);
my $url = "http://127.0.0.1:$node->{http_port}/querier.v1.QuerierService/SelectMergeStacktraces";

# a query in the background: (handle, \stdout) of curl printing "status body"
sub start_query
{
	my @extra = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H',
			'Content-Type: application/json', '--data-binary', $req, @extra, $url
		],
		'>', \$out, '2>', \$err);
	return ($h, \$out);
}

is(metric('pyroscope_http_query_workers'), 1, 'one query worker runs');
my $pids = worker_pids($node) . ';' . worker_pids($node, 'query');

# -- a push while the only query worker is held by a long query --
reload(q{ALTER SYSTEM SET pyroscope.query_test_delay = '8s'});
my ($q1, $q1out) = start_query();
ok(wait_metric('pyroscope_http_queries_running', 1, 5), 'the long query is running');
($st) = http($node, 'POST', "/ingest?name=fleet2&format=pprof&from=$now",
	body_file => data_file('pprof/java/profile_java.pb.gz'));
is($st, 200, 'a push is answered while the query runs');
ok($q1->pumpable, 'and the query is still running after the push was answered');
($st, $body) = http($node, 'GET', '/ready');
is($st, 200, '/ready answers meanwhile');

# -- the queue is bounded: one running, one queued, the third refused --
my ($q2, $q2out) = start_query();
ok(wait_metric('pyroscope_http_queries_queued', 1, 5), 'a second query waits in the queue');
($st, $body, $hdrs) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => ['Content-Type: application/json'], body => $req);
is($st, 429, 'a third query is refused: 429');
like($body, qr/"code":"resource_exhausted"/, 'Connect code resource_exhausted');
like($hdrs, qr/^Retry-After: 1\r?$/mi, 'with Retry-After');
is(metric('pyroscope_http_queries_rejected_total'), 1, 'counted on /metrics');

$q1->finish;
is($$q1out, '200', 'the long query is answered 200 in the end');
$q2->finish;
is($$q2out, '200', 'and so is the queued one');

# -- the deadline: 504 deadline_exceeded, counted --
reload(q{ALTER SYSTEM SET pyroscope.http_request_timeout = '1s'});
my $before = metric('pyroscope_http_errors_total{reason="deadline_exceeded"}');
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => ['Content-Type: application/json'], body => $req);
is($st, 504, 'a query past pyroscope.http_request_timeout: 504');
like($body, qr/"code":"deadline_exceeded"/, 'Connect code deadline_exceeded');
is(metric('pyroscope_http_errors_total{reason="deadline_exceeded"}'), $before + 1,
	'counted on /metrics');
ok(wait_metric('pyroscope_http_queries_running', 0, 5), 'the query worker is free again');
reload(q{ALTER SYSTEM RESET pyroscope.http_request_timeout});

# -- a client that goes away cancels its query --
reload(q{ALTER SYSTEM SET pyroscope.query_test_delay = '60s'});
my ($q3, $q3out) = start_query('--max-time', '1');
$q3->finish;
isnt($$q3out, '200', 'the impatient client gave up');
ok(wait_metric('pyroscope_http_queries_cancelled_total', 1, 10), 'its query was cancelled');
ok(wait_metric('pyroscope_http_queries_running', 0, 10),
	'and the query worker let it go long before the 60 s delay');

# -- a query worker that exits mid-query: the client hears at once --
my ($q4, $q4out) = start_query();
ok(wait_metric('pyroscope_http_queries_running', 1, 10), 'a long query is running');
my $qpid = worker_pids($node, 'query');
sql("SELECT pg_terminate_backend($qpid)");
my $t0 = time();
$q4->finish;
is($$q4out, '503', 'its client gets 503 unavailable when the query worker exits');
ok(time() - $t0 < 30, 'long before the query would have ended');
my $back;
for (1 .. 100)
{
	my $now = worker_pids($node, 'query');
	if ($now ne '' && $now ne $qpid) { $back = 1; last; }
	usleep(100_000);
}
ok($back, 'and the query worker is restarted');
$pids = worker_pids($node) . ';' . worker_pids($node, 'query');

reload(q{ALTER SYSTEM RESET pyroscope.query_test_delay});
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => ['Content-Type: application/json'], body => $req);
is($st, 200, 'the next query is answered');
like($body, qr/"total":"[1-9]/, 'with the flame graph');
# a request larger than a slot's shared area travels in a segment of its own
(my $big = $req) =~ s/^\{/'{' . (' ' x 100_000)/e;
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => ['Content-Type: application/json'], body => $big);
is($st, 200, 'a 100 kB query request is answered');
like($body, qr/"total":"[1-9]/, 'with the flame graph');
is(worker_pids($node) . ';' . worker_pids($node, 'query'), $pids, 'no worker restarted');

# -- with pyroscope.http_query_workers = 0 the HTTP workers run queries themselves --
$node->append_conf('postgresql.conf', "pyroscope.http_query_workers = 0\n");
$node->restart;
wait_ready($node);
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => ['Content-Type: application/json'], body => $req);
is($st, 200, 'without query workers the query is answered by the HTTP worker');
like($body, qr/"total":"[1-9]/, 'with the same flame graph');
is(metric('pyroscope_http_queries_dispatched_total'), 0, 'and nothing was dispatched');

$node->stop;
done_testing();

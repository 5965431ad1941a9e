# HTTP queries obey pyroscope.query_memory_limit as SQL does: a query over
# the budget is answered 429 / Connect resource_exhausted with the
# limit's hint, the worker serves the next request, and pushes are not
# limited by it.  And the range limit (pyroscope.http_max_query_length)
# cannot be bypassed by a range whose length overflows.
use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('budget', workers => 1);
sub sql { return $node->safe_psql('postgres', $_[0]); }

my $now = time();
my ($st, $body) = http($node, 'POST', "/ingest?name=budget&format=pprof&from=$now",
	body_file => data_file('pprof/java/profile_java.pb.gz'));
is($st, 200, 'a Java pprof pushed');
my $type = sql(q{SELECT profile_type FROM pyroscope.series
	WHERE service_name = 'budget' ORDER BY 1 LIMIT 1});
# the pprof keeps its own time
my $ts = sql(q{SELECT (extract(epoch FROM min(ts)) * 1000)::bigint FROM pyroscope.head});
my $req = sprintf('{"profileTypeID":"%s","labelSelector":"{service_name=\"budget\"}","start":%d,"end":%d}',
	$type, $ts - 600000, $ts + 600000);
my @json = ('Content-Type: application/json');

($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => \@json, body => $req);
is($st, 200, 'within the default budget the flame graph is answered');
like($body, qr/"total":"[1-9]/, 'and it is not empty');

my $pids = worker_pids($node);
sql(q{ALTER SYSTEM SET pyroscope.query_memory_limit = '16kB'});
sql('SELECT pg_reload_conf()');
my $over;
for (1 .. 100)
{
	($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
		headers => \@json, body => $req);
	if ($st != 200) { $over = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($over, 'once the worker has reloaded, the query is refused');
is($st, 429, 'over the budget: 429');
like($body, qr/"code":"resource_exhausted"/, 'Connect code resource_exhausted');
like($body, qr/query_memory_limit.*raise pyroscope\.query_memory_limit/,
	'the message names the limit and carries the hint');

# heatmaps gather their points under the same budget
for my $qt (1, 2)
{
	(my $hreq = $req) =~ s/}$/,"step":60,"queryType":$qt,"exemplarType":@{[$qt + 1]}}/;
	($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectHeatmap',
		headers => \@json, body => $hreq);
	is($st, 429, "a heatmap (query type $qt) over the budget: 429");
	like($body, qr/"code":"resource_exhausted".*query_memory_limit/,
		'resource_exhausted, naming the limit');
}

($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/ProfileTypes',
	headers => \@json, body => '{}');
is($st, 200, 'the worker serves the next request');
is(worker_pids($node), $pids, 'and did not restart');

($st) = http($node, 'POST', "/ingest?name=budget2&format=pprof&from=$now",
	body_file => data_file('pprof/java/profile_java.pb.gz'));
is($st, 200, 'ingest is not limited by the query budget');

my ($ret, $out, $err) = $node->psql('postgres', qq{
	SET pyroscope.query_memory_limit = '16kB';
	SELECT pyroscope.flamegraph('$type', '{service_name="budget"}', '-infinity', 'infinity')});
like($err, qr/query needs more than pyroscope.query_memory_limit/, 'SQL refuses the same query');

sql(q{ALTER SYSTEM RESET pyroscope.query_memory_limit});
sql('SELECT pg_reload_conf()');
my $ok;
for (1 .. 100)
{
	($st) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
		headers => \@json, body => $req);
	if ($st == 200) { $ok = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($ok, 'with the limit reset the flame graph is answered again');

# the 1-day range limit holds for ranges whose length overflows an int64
for my $r ([ '-9223372036854775808', '9223372036854775807' ],
	[ '-4611686018427387904', '4611686018427387904' ], [ '1', '9223372036854775807' ])
{
	my ($from, $to) = @$r;
	($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
		headers => \@json,
		body => sprintf('{"profileTypeID":"%s","labelSelector":"{}","start":"%s","end":"%s"}',
			$type, $from, $to));
	ok($st == 400 && $body =~ /exceeds the limit/, "range $from..$to refused")
	  or diag("$st $body");
}

$node->stop;
done_testing();

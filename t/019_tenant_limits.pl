# Per-tenant limits as upstream names them: the ingestion rate and burst,
# series per tenant, label limits, query length, max_nodes ceiling and
# query concurrency, from GUC defaults and pyroscope.tenant_limits.  Over a
# limit: upstream's status (429 with Retry-After for the rate), nothing of
# the refused upload stored, the refusal counted per tenant and reason on
# /metrics and in pyroscope.discarded; the tenant's other traffic and
# other tenants unaffected.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use IO::Compress::Gzip qw(gzip $GzipError);
use PostgreSQL::Test::Utils;
use Test::More;
use PyroHttp;

my $node = start_node('limits', conf => "pyroscope.multitenancy = on\n"
	  . "pyroscope.query_test_delay = 0\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

my $now_s = time();
my $start_ms = ($now_s - 3600) * 1000;
my $end_ms = ($now_s + 3600) * 1000;
my $cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

sub push_as
{
	my ($tenant, $service, @extra) = @_;
	my $pprof = make_pprof($now_s * 1_000_000_000, [ [ 'main', 'work' ], 10_000_000 ]);
	my $push = push_request([ '__name__', 'process_cpu', 'service_name', $service, @extra ], $pprof);
	return http($node, 'POST', '/push.v1.PusherService/Push', body => $push,
		headers => [ 'Content-Type: application/proto', "X-Scope-OrgID: $tenant" ]);
}

sub stored
{
	my ($tenant) = @_;
	return sql("SELECT count(*) FROM pyroscope.head WHERE tenant = '$tenant'") . '/'
	  . sql("SELECT count(*) FROM pyroscope.series WHERE tenant = '$tenant'");
}

sub metric
{
	my ($what, $reason, $tenant) = @_;
	my ($st, $body) = http($node, 'GET', '/metrics');
	my ($v) = $body =~ /^pyroscope_discarded_${what}_total\{reason="$reason",tenant="$tenant"\} (\d+)$/m;
	return $v // 0;
}

# ---------------------------------------------------------------- rate
# tenant "slow": 200 bytes/s with a burst of 2,000 bytes, set in the table
# (the bytes of a push are those of its pprofs)
my $pprof_len = length(make_pprof($now_s * 1_000_000_000, [ [ 'main', 'work' ], 10_000_000 ]));
note("one push stores a pprof of $pprof_len bytes");
sql("INSERT INTO pyroscope.tenant_limits (tenant, ingestion_rate_mb, ingestion_burst_size_mb)"
	  . " VALUES ('slow', 200.0 / 1048576, 2000.0 / 1048576)");
my ($st, $body, $hdrs);
my ($ok, $limited, $retry) = (0, 0, undef);
for (1 .. 40)
{
	($st, $body, $hdrs) = push_as('slow', 'rate');
	if ($st == 200) { $ok++; next; }
	$limited++;
	is($st, 429, 'over the rate: 429') if $limited == 1;
	like($body, qr/"code":"resource_exhausted".*push rate limit/, 'resource_exhausted, push rate limit')
	  if $limited == 1;
	($retry) = $hdrs =~ /^Retry-After: (\d+)\r?$/mi if $limited == 1;
}
ok($ok >= 1 && $limited >= 1, "the burst passes, then pushes are refused ($ok stored, $limited refused)");
ok(defined $retry && $retry >= 1, 'with Retry-After (' . ($retry // 'none') . ' s)');
is(stored('slow'), "$ok/1", 'exactly the admitted pushes are stored');
is(metric('profiles', 'rate_limited', 'slow'), $limited, 'counted on /metrics by tenant and reason');
ok(metric('bytes', 'rate_limited', 'slow') > 0, 'with their bytes');
is(sql("SELECT profiles FROM pyroscope.discarded WHERE tenant = 'slow' AND reason = 'rate_limited'"),
	$limited, 'and in pyroscope.discarded');
# other tenants and the tenant's queries go on
($st) = push_as('fast', 'rate');
is($st, 200, 'another tenant pushes meanwhile');
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => [ 'Content-Type: application/json', 'X-Scope-OrgID: slow' ],
	body => qq({"profileTypeID":"$cpu","labelSelector":"{}","start":$start_ms,"end":$end_ms}));
is($st, 200, 'the limited tenant still queries');
is(decode_json_body($body)->{flamegraph}{total}, 10_000_000 * $ok, 'and reads what was admitted');
# the bucket refills: after waiting what Retry-After said, a push fits
sleep($retry + 1);
($st) = push_as('slow', 'rate');
is($st, 200, 'after Retry-After the tenant pushes again');
# an upload larger than the burst never fits, and says so
sql("UPDATE pyroscope.tenant_limits SET ingestion_burst_size_mb = 10.0 / 1048576 WHERE tenant = 'slow'");
($st, $body, $hdrs) = push_as('slow', 'rate');
is($st, 429, 'larger than the burst: 429');
unlike($hdrs, qr/^Retry-After/mi, 'without Retry-After (it would never fit)');
# the bytes are the uncompressed ones, as upstream counts them: a gzip
# pprof of 100 bytes that holds 5,000 is larger than a 2,000-byte burst
sql("UPDATE pyroscope.tenant_limits SET ingestion_burst_size_mb = 2000.0 / 1048576, ingestion_rate_mb = 1"
	  . " WHERE tenant = 'slow'");
my $big = make_pprof($now_s * 1_000_000_000, [ [ 'main', 'x' x 5000 ], 10_000_000 ]);
my $gz;
gzip(\$big => \$gz) or die $GzipError;
note('a pprof of ' . length($big) . ' bytes, ' . length($gz) . ' gzipped');
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push',
	body => push_request([ '__name__', 'process_cpu', 'service_name', 'gz' ], $gz),
	headers => [ 'Content-Type: application/proto', 'X-Scope-OrgID: slow' ]);
is($st, 429, 'a gzip pprof counts uncompressed: larger than the burst');
like($body, qr/while adding \d{4,} bytes/, 'its uncompressed size named');
sql("DELETE FROM pyroscope.tenant_limits WHERE tenant = 'slow'");
($st) = push_as('slow', 'rate');
is($st, 200, 'the GUC default (no rate limit) applies again once the override is gone');

# ---------------------------------------------------------------- series
sql("INSERT INTO pyroscope.tenant_limits (tenant, max_global_series_per_tenant) VALUES ('few', 3)");
for my $i (1 .. 3)
{
	($st) = push_as('few', "svc$i");
	is($st, 200, "series $i of 3 accepted");
}
my $before = stored('few');
($st, $body) = push_as('few', 'svc4');
is($st, 429, 'a fourth series: 429');
like($body, qr/"code":"resource_exhausted".*series limit of 3/, 'resource_exhausted, series limit');
is(stored('few'), $before, 'nothing of it stored');
($st) = push_as('few', 'svc1');
is($st, 200, 'a push to an existing series is still accepted');
is(metric('profiles', 'series_limit', 'few'), 1, 'series_limit counted');
is(metric('samples', 'series_limit', 'few'), 1, 'with the refused profile\'s sample');
# the global default: pyroscope.max_series_per_tenant
$node->append_conf('postgresql.conf', "pyroscope.max_series_per_tenant = 2\n");
$node->reload;
sleep 1;
($st) = push_as('other', 'a');
($st) = push_as('other', 'b');
is($st, 200, 'the GUC default: two series');
($st) = push_as('other', 'c');
is($st, 429, 'and no third');
# SQL ingest obeys it too
my $sql_err = $node->psql('postgres',
	"SELECT pyroscope.ingest_pprof(pg_read_binary_file('" . data_file('pprof/go/cpu.pb.gz')
	  . "'), '{\"service_name\": \"sqlsvc\"}', 'other')");
isnt($sql_err, 0, 'SQL ingest over the series limit fails');
my (undef, undef, $sql_stderr) = $node->psql('postgres',
	"SELECT pyroscope.ingest_pprof(pg_read_binary_file('" . data_file('pprof/go/cpu.pb.gz')
	  . "'), '{\"service_name\": \"sqlsvc\"}', 'other')");
like($sql_stderr, qr/series limit of 2/, 'with the same message');
$node->append_conf('postgresql.conf', "pyroscope.max_series_per_tenant = 5000\n");
$node->reload;
sleep 1;

# ---------------------------------------------------------------- labels
sql("INSERT INTO pyroscope.tenant_limits (tenant, max_label_names_per_series, max_label_value_length)"
	  . " VALUES ('short', 4, 8)");
($st, $body) = push_as('short', 'svc', 'a', '1', 'b', '2', 'c', '3');
is($st, 400, 'too many label names for the tenant: 400');
($st, $body) = push_as('short', 'a-very-long-service-name');
is($st, 400, 'a label value over the tenant\'s length: 400');
is(stored('short'), '0/0', 'nothing stored');
($st) = push_as('roomy', 'svc', 'a', '1', 'b', '2', 'c', '3');
is($st, 200, 'another tenant has the defaults');

# ---------------------------------------------------------------- queries
sql("INSERT INTO pyroscope.tenant_limits (tenant, max_query_length, max_flamegraph_nodes_max)"
	  . " VALUES ('fast', '30 minutes', 100)");
my $q = sub {
	my ($tenant, $extra) = @_;
	return http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
		headers => [ 'Content-Type: application/json', "X-Scope-OrgID: $tenant" ],
		body => qq({"profileTypeID":"$cpu","labelSelector":"{}","start":$start_ms,"end":$end_ms$extra}));
};
($st, $body) = $q->('fast', '');
is($st, 400, 'a range over the tenant\'s max_query_length: 400');
like($body, qr/exceeds the limit of 1800 s/, 'naming the limit');
($st) = $q->('slow', '');
is($st, 200, 'another tenant queries two hours');
sql("UPDATE pyroscope.tenant_limits SET max_query_length = NULL WHERE tenant = 'fast'");
($st, $body) = $q->('fast', ',"maxNodes":"101"');
is($st, 400, 'max_nodes over the tenant\'s max_flamegraph_nodes_max: 400');
($st) = $q->('fast', ',"maxNodes":"100"');
is($st, 200, 'max_nodes at it: 200');

# concurrency: with a limit of 1, a second query of the tenant while one
# runs is refused with Retry-After; another tenant's is not
sql("INSERT INTO pyroscope.tenant_limits (tenant, max_query_concurrency) VALUES ('one', 1)");
push_as('one', 'svc');
$node->append_conf('postgresql.conf', "pyroscope.query_test_delay = 3000\n");
$node->reload;
sleep 1;
my $port = $node->{http_port};
my $long = IPC::Run::start([ 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST',
		'-H', 'Content-Type: application/json', '-H', 'X-Scope-OrgID: one',
		'--data', qq({"profileTypeID":"$cpu","labelSelector":"{}","start":$start_ms,"end":$end_ms}),
		"http://127.0.0.1:$port/querier.v1.QuerierService/SelectMergeStacktraces" ],
	'>', \my $long_out);
sleep 1;
($st, $body, $hdrs) = $q->('one', '');
is($st, 429, 'a second query of the tenant while one runs: 429');
like($body, qr/"code":"resource_exhausted".*max_query_concurrency/, 'resource_exhausted');
like($hdrs, qr/^Retry-After: 1\r?$/mi, 'with Retry-After');
($st) = $q->('slow', '');
is($st, 200, 'another tenant queries meanwhile');
$long->finish;
is($long_out, '200', 'the running query finished');
$node->append_conf('postgresql.conf', "pyroscope.query_test_delay = 0\n");
$node->reload;
sleep 1;
($st) = $q->('one', '');
is($st, 200, 'then the tenant queries again (its slot was given back)');

$node->stop;
done_testing();

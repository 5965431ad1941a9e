# The HTTP workers as processes: they survive bad requests, reload their
# configuration on SIGHUP (body limit, multi-tenancy, authentication), and
# the postmaster restarts one that is terminated.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Utils;
use PyroHttp;
use Test::More;
use Time::HiRes qw(usleep);

my $node = start_node('workers');
my $now_s = time();
my $now_ms = $now_s * 1000;
my $cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub reload_with
{
	my ($setting) = @_;
	sql("ALTER SYSTEM SET $setting");
	sql("SELECT pg_reload_conf()");
	# the workers handle SIGHUP at their next wakeup; give them a moment
	usleep(300_000);
}

my $pids = worker_pids($node);
is(scalar(split /,/, $pids), 2, 'two HTTP workers running');

# a burst of bad requests of every kind
my @bad = (
	[ 'POST', '/push.v1.PusherService/Push', [ 'Content-Type: application/proto' ], "\xff\xff\xff" ],
	[ 'POST', '/push.v1.PusherService/Push', [ 'Content-Type: application/json' ], '{"series":[{"samples":[{"rawProfile":"!!"}]}]}' ],
	[ 'POST', '/push.v1.PusherService/Push', [ 'Content-Type: application/proto', 'Content-Encoding: gzip' ], "\x1f\x8b\x08garbage" ],
	[ 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces', [ 'Content-Type: application/json' ], '{"profileTypeID":"a:b:c:d:e","labelSelector":"{x=~\"(\"}","start":1,"end":2}' ],
	[ 'POST', '/querier.v1.QuerierService/SelectSeries', [ 'Content-Type: application/json' ], '[1,2' ],
	[ 'POST', '/ingest?name=x&format=pprof', [], "\x0a\xff\xff\xff\xff\x0f" ],
	[ 'POST', '/ingest?name=x', [ 'Content-Type: multipart/form-data; boundary=zz' ], "--zz\r\nbroken" ],
	[ 'GET', '/pyroscope/render?query=%7B', [], undef ],
	[ 'DELETE', '/ready', [], undef ],);
for my $b (@bad)
{
	my ($st) = http($node, $b->[0], $b->[1], headers => $b->[2],
		defined $b->[3] ? (body => $b->[3]) : ());
	ok($st >= 400 && $st < 500, "bad request $b->[0] $b->[1] answered $st");
}
my ($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
	headers => ['Content-Type: application/json'],
	body => '{"profileTypeID":"a:b:c:d:e","labelSelector":"{x=~\"(\"}","start":1,"end":2}');
is($st, 400, 'a bad regular expression is invalid_argument, not a server error');
is(worker_pids($node), $pids, 'no worker died of the bad requests');
is(sql("SELECT sum(errors) >= " . scalar(@bad) . " FROM pyroscope.http_workers"), 't',
	'the view counts the error responses');
like(sql("SELECT string_agg(coalesce(last_error, ''), ' ') FROM pyroscope.http_workers"),
	qr/\S/, 'and shows the last error');

# SIGHUP: a smaller body limit takes effect without a restart
reload_with("pyroscope.http_max_body_size = '16kB'");
my $big = join('', map { "main;f$_ 1\n" } 1 .. 3000);
($st, $body) = http($node, 'POST', "/ingest?name=big&from=$now_s", body => $big);
is($st, 413, 'body over the reloaded limit is 413 on /ingest');
($st, $body) = http($node, 'POST', "/ingest?name=big&from=$now_s", body => $big,
	headers => ['Transfer-Encoding: chunked']);
is($st, 413, 'also when the body is chunked');
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push', body => 'x' x 20000,
	headers => ['Content-Type: application/proto']);
is($st, 429, 'Push over the limit is resource_exhausted');
like($body, qr/"code":"resource_exhausted"/, 'with the Connect code');
reload_with("pyroscope.http_max_body_size = '256MB'");
($st) = http($node, 'POST', "/ingest?name=big&from=$now_s", body => $big);
is($st, 200, 'accepted again after the limit is raised');
is(worker_pids($node), $pids, 'reloading did not restart the workers');

# multi-tenancy: the header becomes required and tenants are isolated
reload_with("pyroscope.multitenancy = on");
($st, $body) = http($node, 'POST', "/ingest?name=tenantapp&from=$now_s", body => "a;b 1\n");
is($st, 401, 'ingest without X-Scope-OrgID is 401 in multi-tenant mode');
like($body, qr/"code":"unauthenticated"/, 'unauthenticated');
($st) = http($node, 'POST', "/ingest?name=tenantapp&from=$now_s", body => "a;b 1\n",
	headers => ['X-Scope-OrgID: team-a']);
is($st, 200, 'ingest with a tenant');
($st) = http($node, 'POST', "/ingest?name=tenantapp&from=$now_s", body => "a;b 1\n",
	headers => ['X-Scope-OrgID: bad/tenant']);
is($st, 401, 'invalid tenant id rejected');
my $q = qq({"name":"service_name","start":@{[$now_ms - 60000]},"end":@{[$now_ms + 60000]}});
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/LabelValues', body => $q,
	headers => [ 'Content-Type: application/json', 'X-Scope-OrgID: team-a' ]);
is_deeply(decode_json_body($body)->{names}, ['tenantapp'], 'team-a sees its own data only');
($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/LabelValues', body => $q,
	headers => [ 'Content-Type: application/json', 'X-Scope-OrgID: team-b' ]);
is_deeply(decode_json_body($body), {}, 'team-b sees nothing');
($st) = http($node, 'GET', '/ready');
is($st, 200, '/ready needs no tenant');
reload_with("pyroscope.multitenancy = off");
is(sql("SELECT tenant FROM pyroscope.series WHERE service_name = 'tenantapp'"), 'team-a',
	'stored under the tenant of the header');

# bearer authentication with credentials kept in the database
sql("INSERT INTO pyroscope.http_credentials (kind, username, secret_sha256, tenant)"
	  . " VALUES ('bearer', '', sha256('s3cret'), 'team-c')");
is(sql("SELECT has_table_privilege('public', 'pyroscope.http_credentials', 'SELECT')"), 'f',
	'credentials are not readable by PUBLIC');
reload_with("pyroscope.auth = bearer");
($st) = http($node, 'POST', "/ingest?name=authapp&from=$now_s", body => "a;b 1\n");
is($st, 401, 'no credentials: 401');
($st) = http($node, 'POST', "/ingest?name=authapp&from=$now_s", body => "a;b 1\n",
	headers => ['Authorization: Bearer wrong']);
is($st, 401, 'wrong token: 401');
($st) = http($node, 'POST', "/ingest?name=authapp&from=$now_s", body => "a;b 1\n",
	headers => ['Authorization: Bearer s3cret']);
is($st, 200, 'right token: accepted');
is(sql("SELECT tenant FROM pyroscope.series WHERE service_name = 'authapp'"), 'team-c',
	'the credential pins its tenant');
sql("INSERT INTO pyroscope.http_credentials (kind, username, secret_sha256)"
	  . " VALUES ('basic', 'alice', sha256('pw'))");
reload_with("pyroscope.auth = basic");
($st) = http($node, 'POST', "/ingest?name=basicapp&from=$now_s", body => "a;b 1\n",
	args => [ '-u', 'alice:nope' ]);
is($st, 401, 'basic auth with a wrong password: 401');
($st) = http($node, 'POST', "/ingest?name=basicapp&from=$now_s", body => "a;b 1\n",
	args => [ '-u', 'alice:pw' ]);
is($st, 200, 'basic auth: accepted');
reload_with("pyroscope.auth = none");

# a terminated worker is restarted by the postmaster
my ($victim) = split /,/, $pids;
kill 'TERM', $victim;
my $restarted = 0;
for (1 .. 100)
{
	my $now = worker_pids($node);
	if ($now ne '' && scalar(split /,/, $now) == 2 && $now !~ /\b$victim\b/)
	{
		$restarted = 1;
		last;
	}
	usleep(100_000);
}
ok($restarted, 'the postmaster restarted the terminated worker');
wait_ready($node);
($st) = http($node, 'POST', "/ingest?name=afterrestart&from=$now_s", body => "a;b 1\n");
is($st, 200, 'the API works after the restart');

# a database left at an older extension version (an upgraded library
# before ALTER EXTENSION ... UPDATE): requests are refused with a message
# saying what to run, nothing is half-stored, and UPDATE puts it right
sql("DROP EXTENSION pyroscope CASCADE");
sql("CREATE EXTENSION pyroscope VERSION '1.0'");
my $gz = slurp_file("$FindBin::RealBin/../test/data/pprof/go/cpu.pb.gz");
($st, $body) = http($node, 'POST', "/ingest?name=oldschema&format=pprof", body => $gz);
is($st, 503, 'an out-of-date extension version: unavailable, as when it is not installed');
my $control_version = sql(q{SELECT default_version FROM pg_available_extensions WHERE name = 'pyroscope'});
like($body, qr/"code":"unavailable".*at version 1\.0, this server's library needs \Q$control_version\E/,
	'the answer names the installed and the needed version');
is(sql("SELECT count(*) FROM pyroscope.head"), '0', 'nothing was stored');
sql("ALTER EXTENSION pyroscope UPDATE");
($st) = http($node, 'POST', "/ingest?name=oldschema&format=pprof", body => $gz);
is($st, 200, 'after ALTER EXTENSION ... UPDATE the pprof is stored');
is(sql("SELECT count(*) FROM pyroscope.head_pprof"), '1', 'once, as sent');

$node->stop;
done_testing();

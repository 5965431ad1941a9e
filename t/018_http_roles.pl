# HTTP requests run as roles: each credential names a PostgreSQL role, the
# worker runs the request as that role, and its tenant grants decide.  Two
# tenants, three roles (alice reads and writes ta, bob reads tb, carol is an
# admin) and the default role of requests without credentials: the same
# matrix of reads and writes through every route, 401 and 403 where
# expected, nothing stored by a refused push.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use MIME::Base64;
use IO::Compress::Gzip qw(gzip $GzipError);
use PostgreSQL::Test::Utils;
use Test::More;
use PyroHttp;

my $node = start_node('roles', conf => "pyroscope.multitenancy = on\npyroscope.auth = basic\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
CREATE ROLE regress_alice IN ROLE pyroscope_reader, pyroscope_writer;
CREATE ROLE regress_bob IN ROLE pyroscope_reader;
CREATE ROLE regress_carol IN ROLE pyroscope_admin;
INSERT INTO pyroscope.tenant_grants VALUES ('regress_alice', 'ta', true, true),
	('regress_bob', 'tb', true, false);
INSERT INTO pyroscope.http_credentials (kind, username, secret_sha256, role)
	SELECT 'basic', u, sha256(convert_to('pw-' || u, 'UTF8')), 'regress_' || u
	  FROM unnest(ARRAY['alice', 'bob', 'carol']) u;
INSERT INTO pyroscope.http_credentials (kind, username, secret_sha256)
	VALUES ('basic', 'default', sha256(convert_to('pw-default', 'UTF8')));
INSERT INTO pyroscope.http_credentials (kind, username, secret_sha256, role)
	VALUES ('basic', 'ghost', sha256(convert_to('pw-ghost', 'UTF8')), 'regress_no_such_role');
});

my $now_s = time();
my $start_ms = ($now_s - 3600) * 1000;
my $end_ms = ($now_s + 3600) * 1000;
my $cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

# one profile in each tenant, stored from SQL
for my $t ('ta', 'tb')
{
	my $pprof = make_pprof($now_s * 1_000_000_000,
		[ [ 'main', "work_$t" ], $t eq 'ta' ? 10_000_000 : 20_000_000 ]);
	my $hex = unpack('H*', $pprof);
	sql("SELECT pyroscope.ingest_pprof('\\x$hex'::bytea, '{\"service_name\": \"svc\"}', '$t')");
}

sub request
{
	my ($who, $tenant, $method, $path, %o) = @_;
	my @h = @{ $o{headers} // [] };
	push @h, 'Authorization: Basic ' . encode_base64("$who:pw-$who", '') if defined $who;
	push @h, "X-Scope-OrgID: $tenant" if defined $tenant;
	return http($node, $method, $path, %o, headers => \@h);
}

my $sel = qq("profileTypeID":"$cpu","labelSelector":"{}","start":$start_ms,"end":$end_ms);
my $q = "query=$cpu%7B%7D&from=$start_ms&until=$end_ms";
my @reads = (
	[ 'ProfileTypes', 'ProfileTypes', '{}' ],
	[ 'LabelNames', 'LabelNames', qq({"start":$start_ms,"end":$end_ms}) ],
	[ 'LabelValues', 'LabelValues', qq({"name":"service_name","start":$start_ms,"end":$end_ms}) ],
	[ 'Series', 'Series', qq({"start":$start_ms,"end":$end_ms}) ],
	[ 'SelectMergeStacktraces', 'SelectMergeStacktraces', "{$sel}" ],
	[ 'SelectMergeSpanProfile', 'SelectMergeSpanProfile', qq({$sel,"spanSelector":["0000000000000001"]}) ],
	[ 'SelectMergeProfile', 'SelectMergeProfile', "{$sel}" ],
	[ 'SelectSeries', 'SelectSeries', qq({$sel,"step":60}) ],
	[ 'SelectHeatmap', 'SelectHeatmap', qq({$sel,"step":60,"queryType":"HEATMAP_QUERY_TYPE_INDIVIDUAL"}) ],
	[ 'Diff', 'Diff', qq({"left":{$sel},"right":{$sel}}) ],
	[ 'GetProfileStats', 'GetProfileStats', '{}' ],
	[ 'AnalyzeQuery', 'AnalyzeQuery', qq({"query":"$cpu\{\}","start":$start_ms,"end":$end_ms}) ],
	[ 'settings Get', '/settings.v1.SettingsService/Get', '{}' ],
	[ 'render', "/pyroscope/render?$q" ],
	[ 'render-diff',
		"/pyroscope/render-diff?leftQuery=$cpu%7B%7D&rightQuery=$cpu%7B%7D&leftFrom=$start_ms&leftUntil=$end_ms&rightFrom=$start_ms&rightUntil=$end_ms" ],
	[ 'label-values', '/pyroscope/label-values?label=service_name' ],);

sub read_as
{
	my ($who, $tenant, $r) = @_;
	my ($name, $path, $body) = @$r;
	return request($who, $tenant, 'GET', $path) if !defined $body;
	$path = "/querier.v1.QuerierService/$path" unless $path =~ m{^/};
	return request($who, $tenant, 'POST', $path, body => $body,
		headers => ['Content-Type: application/json']);
}

# who may read which tenant (default: the role of pyroscope_http, every tenant)
my %may_read = (
	alice => { ta => 1 },
	bob => { tb => 1 },
	carol => { ta => 1, tb => 1 },
	default => { ta => 1, tb => 1 });
for my $who (sort keys %may_read)
{
	for my $t ('ta', 'tb')
	{
		my $want = $may_read{$who}{$t} ? 200 : 403;
		for my $r (@reads)
		{
			my ($st, $body) = read_as($who, $t, $r);
			is($st, $want, "$who reads $t: $r->[0] $want") or diag($body);
			like($body, qr/"code":"permission_denied"/, "$who reads $t: $r->[0] is permission_denied")
			  if $want == 403;
		}
	}
}

# what an allowed reader reads is the tenant's data, whole
for my $c ([ 'alice', 'ta', 10_000_000 ], [ 'bob', 'tb', 20_000_000 ], [ 'carol', 'tb', 20_000_000 ])
{
	my ($who, $t, $total) = @$c;
	my ($st, $body) = read_as($who, $t, $reads[4]);
	is(decode_json_body($body)->{flamegraph}{total}, $total, "$who sees all of the flame graph of $t");
}

# no or wrong credentials: 401; a credential of a role that does not exist
# fails without serving anything
my ($st, $body) = read_as(undef, 'ta', $reads[4]);
is($st, 401, 'no credentials: 401');
($st) = http($node, 'POST', '/querier.v1.QuerierService/ProfileTypes', body => '{}',
	headers => [ 'Content-Type: application/json', 'X-Scope-OrgID: ta',
		'Authorization: Basic ' . encode_base64('alice:wrong', '') ]);
is($st, 401, 'a wrong password: 401');
($st, $body) = read_as('ghost', 'ta', $reads[4]);
ok($st >= 400 && $body !~ /work_ta/, "a credential naming a missing role is refused ($st)");
like($body, qr/regress_no_such_role/, 'naming the role');

# with authentication on, /metrics and the build info need a credential
# too (pyroscope.http_metrics_auth); /ready stays open for health checks
($st) = http($node, 'GET', '/metrics');
is($st, 401, '/metrics without credentials: 401');
($st, $body) = request('bob', undef, 'GET', '/metrics');
is($st, 200, '/metrics with any valid credential');
like($body, qr/pyroscope_http_requests_total/, 'the metrics');
($st) = http($node, 'GET', '/api/v1/status/buildinfo');
is($st, 401, 'build info without credentials: 401');
($st) = http($node, 'GET', '/ready');
is($st, 200, '/ready without credentials');

# ---------------------------------------------------------------- writes

sub counts
{
	return sql("SELECT (SELECT count(*) FROM pyroscope.head WHERE tenant = 'ta') || '/'"
		  . " || (SELECT count(*) FROM pyroscope.head WHERE tenant = 'tb') || '/'"
		  . " || (SELECT count(*) FROM pyroscope.series) || '/'"
		  . " || (SELECT count(*) FROM pyroscope.head_pprof) || '/'"
		  . " || (SELECT count(*) FROM pyroscope.settings)");
}

my $push_pprof = make_pprof($now_s * 1_000_000_000, [ [ 'main', 'pushed' ], 5_000_000 ]);
my $push = push_request([ '__name__', 'process_cpu', 'service_name', 'svc-push' ], $push_pprof);
my @writes = (
	[ 'Push', 'POST', '/push.v1.PusherService/Push', body => $push,
		headers => ['Content-Type: application/proto'] ],
	[ '/ingest', 'POST', "/ingest?name=svc-ingest&from=$now_s", body => "main;ingested 1\n" ],
	[ 'OTLP', 'POST', '/v1development/profiles', body_file => data_file('otlp/otel-ebpf-profile.pb.bin'),
		headers => ['Content-Type: application/x-protobuf'] ],
	[ 'settings Set', 'POST', '/settings.v1.SettingsService/Set',
		body => '{"setting":{"name":"s","value":"v","modifiedAt":"' . (1000 + int(rand(1000))) . '"}}',
		headers => ['Content-Type: application/json'] ],
	[ 'settings Delete', 'POST', '/settings.v1.SettingsService/Delete',
		body => '{"name":"s"}', headers => ['Content-Type: application/json'] ],);
my %may_write = (
	alice => { ta => 1 },
	bob => {},
	carol => { ta => 1, tb => 1 },
	default => { ta => 1, tb => 1 });
for my $who ('bob', 'alice', 'carol', 'default')
{
	for my $t ('ta', 'tb')
	{
		my $want = $may_write{$who}{$t} ? 200 : 403;
		for my $w (@writes)
		{
			my ($name, $method, $path, %o) = @$w;
			my $before = counts();
			($st, $body) = request($who, $t, $method, $path, %o);
			is($st, $want, "$who writes $t: $name $want") or diag($body);
			if ($want == 403)
			{
				like($body, qr/"code":"permission_denied"/, "$who writes $t: $name is permission_denied");
				is(counts(), $before, "$who writes $t: $name stored nothing");
			}
			elsif ($name ne 'settings Delete')
			{
				isnt(counts(), $before, "$who writes $t: $name stored");
			}
		}
	}
}
is(sql("SELECT count(*) FROM pyroscope.head JOIN pyroscope.series s USING (series_id)"
	  . " WHERE s.service_name = 'svc-push' AND s.tenant = 'tb'"), '2',
	'the pushes to tb are carol\'s and the default role\'s');

$node->append_conf('postgresql.conf', "pyroscope.http_metrics_auth = off\n");
$node->reload;
sleep 1;
($st) = http($node, 'GET', '/metrics');
is($st, 200, '/metrics open again with pyroscope.http_metrics_auth off');

# without authentication, requests run as pyroscope.http_role
$node->append_conf('postgresql.conf', "pyroscope.auth = none\npyroscope.http_role = 'regress_bob'\n");
$node->reload;
sleep 1;
($st) = read_as(undef, 'tb', $reads[4]);
is($st, 200, 'no auth: the configured role reads its tenant');
($st) = read_as(undef, 'ta', $reads[4]);
is($st, 403, 'and no other');
($st) = request(undef, 'tb', @{ $writes[1] }[ 1 .. $#{ $writes[1] } ]);
is($st, 403, 'nor writes');

$node->stop;
done_testing();

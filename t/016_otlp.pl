# OTLP profiles ingest (issue 12): the OpenTelemetry eBPF profiler's capture
# POSTed to /v1development/profiles as protobuf (plain and gzip), as
# protobuf-JSON, in the v1.8/v1.9 sample layout, and stored with
# pyroscope.ingest_otlp(): totals per profile type equal an independent
# decode; resource and sample attributes label the series; the OTLP
# response (partial success when a profile maps to no type); bad requests
# are 400/413/415 and store nothing.
use strict;
use warnings;

use FindBin;
use IO::Compress::Gzip qw(gzip $GzipError);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('otlp', workers => 1, conf => "pyroscope.multitenancy = on\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

my $bin = data_file('otlp/otel-ebpf-profile.pb.bin');
my $json = data_file('otlp/otel-ebpf-profile.pb.json');
my $v19 = "${PostgreSQL::Test::Utils::tmp_check}/otlp-v19.bin";
my $out = '';
IPC::Run::run([ 'python3', "$FindBin::RealBin/otlp_totals.py", $bin, '--to-v19', $v19 ],
	'>', \$out) or die 'otlp_totals.py failed';
my %want = map { split /=/ } split /\n/, $out;
ok(keys %want >= 2, 'the capture has CPU and off-CPU profiles: ' . join(', ', sort keys %want));

sub slurp
{
	open my $fh, '<:raw', $_[0] or die "$_[0]: $!";
	local $/;
	return scalar <$fh>;
}
sub totals
{
	my ($tenant) = @_;
	return { map { split /\|/ } split /\n/, sql(
		"SELECT s.profile_type, sum(h.total) FROM pyroscope.head h JOIN pyroscope.series s "
		  . "USING (series_id) WHERE h.tenant = '$tenant' GROUP BY 1") };
}

my $gz;
gzip(\slurp($bin) => \$gz) or die $GzipError;
my @cases = (
	[ 'protobuf', 'bin', [ 'Content-Type: application/x-protobuf' ], body_file => $bin ],
	[ 'protobuf, gzip', 'gz', [ 'Content-Type: application/x-protobuf', 'Content-Encoding: gzip' ],
	  body => $gz ],
	[ 'protobuf-JSON', 'json', [ 'Content-Type: application/json; charset=utf-8' ], body_file => $json ],
	[ 'the v1.9 sample layout', 'v19', [ 'Content-Type: application/protobuf' ], body_file => $v19 ],);
for my $c (@cases)
{
	my ($what, $tenant, $hdrs, @body) = @$c;
	my ($st, $body, $h) = http($node, 'POST', '/v1development/profiles',
		headers => [ @$hdrs, "X-Scope-OrgID: $tenant" ], @body);
	is($st, 200, "$what: 200") or diag($body);
	if ($tenant eq 'json')
	{
		like($h, qr{Content-Type: application/json}i, "$what: a JSON answer");
		is($body, '{}', "$what: the empty ExportProfilesServiceResponse");
	}
	else
	{
		like($h, qr{Content-Type: application/x-protobuf}i, "$what: a protobuf answer");
		is(length($body), 0, "$what: the empty ExportProfilesServiceResponse");
	}
	is_deeply(totals($tenant), \%want, "$what: totals per profile type equal an independent decode");
}
is(sql("SELECT pyroscope.ingest_otlp(pg_read_binary_file('$bin'), 'sql') > 0"), 't', 'ingest_otlp');
is_deeply(totals('sql'), \%want, 'ingest_otlp: the same totals');
is(sql("SELECT pyroscope.ingest_otlp(pg_read_binary_file('$json'), 'sqljson') > 0"), 't',
	'ingest_otlp of JSON (sniffed)');
is_deeply(totals('sqljson'), \%want, 'ingest_otlp of JSON: the same totals');

# labels: resource attributes, sample attributes, the service name rule
is(sql("SELECT count(*) > 0 FROM pyroscope.series WHERE tenant = 'bin' AND labels ? 'process.pid' "
	  . "AND labels ? 'thread.name'"), 't', 'resource and sample attributes are series labels');
is(sql("SELECT count(*) FROM pyroscope.series WHERE tenant = 'bin' AND NOT (labels->>'service_name' "
	  . "= 'unknown_service' OR labels->>'service_name' LIKE 'unknown_service:%' "
	  . "OR labels->>'service_name' = labels->>'service.name')"), 0,
	'service_name: service.name, else unknown_service[:executable]');

# unsymbolized native frames are named as upstream names them
is(sql("SELECT count(*) > 0 FROM (SELECT unnest(stack) f FROM pyroscope.stacks("
	  . "'off_cpu:off_cpu:nanoseconds::', '{}', '-infinity', 'infinity', 'bin') UNION ALL "
	  . "SELECT unnest(stack) FROM pyroscope.stacks('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{}', "
	  . "'-infinity', 'infinity', 'bin')) s WHERE f ~ '^[^ ]+!0x[0-9a-f]+\$'"), 't',
	'frames without symbols read <binary>!0x<address>');

# partial success: a profile without a period type maps to no profile type
my $two = '{"resourceProfiles":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"partial"}}]},'
  . '"scopeProfiles":[{"profiles":['
  . '{"sampleType":{"typeStrindex":1,"unitStrindex":2},"periodType":{"typeStrindex":3,"unitStrindex":4},"period":"10000000",'
  . '"samples":[{"stackIndex":1,"values":["3"],"linkIndex":1}]},'
  . '{"sampleType":{"typeStrindex":5,"unitStrindex":2},"samples":[{"stackIndex":1,"values":["1"]}]}]}]}],'
  . '"dictionary":{"stringTable":["","samples","count","cpu","nanoseconds","events","main"],'
  . '"functionTable":[{},{"nameStrindex":6}],"locationTable":[{},{"lines":[{"functionIndex":1}]}],'
  . '"stackTable":[{},{"locationIndices":[1]}],"mappingTable":[{}],"attributeTable":[{}],'
  . '"linkTable":[{},{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174"}]}}';
my ($st, $body) = http($node, 'POST', '/v1development/profiles',
	headers => [ 'Content-Type: application/json', 'X-Scope-OrgID: partial' ], body => $two);
is($st, 200, 'a request with an unnameable profile: 200');
like($body, qr/"partialSuccess":\{"rejectedProfiles":"1","errorMessage":"[^"]*no period type/,
	'partial_success counts it and says why');
is(sql("SELECT profile_type || ' ' || (labels->>'service_name') FROM pyroscope.series WHERE tenant = 'partial'"),
	'process_cpu:cpu:nanoseconds:cpu:nanoseconds partial', 'the other profile is stored');
($st, $body) = http($node, 'GET', '/metrics');
like($body, qr/^pyroscope_discarded_profiles_total\{reason="no_profile_type",tenant="partial"\} 1$/m,
	'/metrics counts the profile not stored');
like($body, qr/^pyroscope_discarded_samples_total\{reason="no_profile_type",tenant="partial"\} 1$/m, 'and its sample');
is(sql("SELECT sum(total) FROM pyroscope.head WHERE tenant = 'partial'"), 30000000,
	'samples/count with a cpu period: value x period');
is(sql("SELECT count(*) FROM pyroscope.select_profiles('process_cpu:cpu:nanoseconds:cpu:nanoseconds', "
	  . "'{}', '-infinity', 'infinity', 'partial')"), 1, 'queryable');

# bad requests: nothing stored
my $rows = sql('SELECT count(*) FROM pyroscope.head');
(my $bad_stack = $two) =~ s/"stackIndex":1,"values":\["3"\]/"stackIndex":7,"values":["3"]/;
my $bomb;
gzip(\("\0" x (3 * 1024 * 1024)) => \$bomb) or die $GzipError;
sql("ALTER SYSTEM SET pyroscope.max_otlp_size = '1MB'");
sql('SELECT pg_reload_conf()');
sleep 1;
for my $b (
	[ 'a stack index out of range', 400, [ 'Content-Type: application/json' ], $bad_stack ],
	[ 'garbage protobuf', 400, [ 'Content-Type: application/x-protobuf' ], "\xff\xff\xff\xff" ],
	[ 'malformed JSON', 400, [ 'Content-Type: application/json' ], '{"resourceProfiles": [' ],
	[ 'text/plain', 415, [ 'Content-Type: text/plain' ], 'x' ],
	[ 'gRPC', 415, [ 'Content-Type: application/grpc' ], 'x' ],
	[ 'a gzip past pyroscope.max_otlp_size', 413,
	  [ 'Content-Type: application/x-protobuf', 'Content-Encoding: gzip' ], $bomb ])
{
	my ($what, $status, $hdrs, $payload) = @$b;
	my ($s, $resp) = http($node, 'POST', '/v1development/profiles', headers => [ @$hdrs, 'X-Scope-OrgID: bad' ],
		body => $payload);
	is($s, $status, "$what: $status") or diag($resp);
}
sql("ALTER SYSTEM RESET pyroscope.max_otlp_size");
sql('SELECT pg_reload_conf()');
is(sql('SELECT count(*) FROM pyroscope.head'), $rows, 'nothing stored by the bad requests');
my ($ret, $o, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT pyroscope.ingest_otlp('\\xffffffff'::bytea)", on_error_stop => 0);
like($err, qr/22023.*OTLP/s, 'SQL: a malformed request is 22023');
($ret, $o, $err) = $node->psql('postgres', "SELECT pyroscope.ingest_otlp(convert_to('$two', 'UTF8'), 'sqlpartial')");
like($err, qr/WARNING:.*1 profile\(s\) of the OTLP request were not stored/, 'SQL: rejected profiles are a WARNING');

done_testing();

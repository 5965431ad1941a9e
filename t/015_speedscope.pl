# speedscope ingest (issue 12): documents POSTed to
# /ingest?format=speedscope and stored with pyroscope.ingest_speedscope()
# become profiles as upstream makes them (one per profile after merging
# equal ones, profile_name labels, the unit choosing the type when there
# are several), with values in nanoseconds; totals per sample type equal an
# independent decode of the JSON; bad documents are 422 and store nothing.
use strict;
use warnings;

use FindBin;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('speedscope', workers => 1);
sub sql { return $node->safe_psql('postgres', $_[0]); }

sub slurp
{
	open my $fh, '<:raw', $_[0] or die "$_[0]: $!";
	local $/;
	return scalar <$fh>;
}

# an independent decode: the total of each merged profile, in nanoseconds
# for time units, 10 ms per "none" unit at 100 Hz, bytes as they are
my %ns = (nanoseconds => 1, microseconds => 1e3, milliseconds => 1e6, seconds => 1e9,
	none => 1e7, bytes => 1);
sub expected_totals
{
	my ($doc) = @_;
	my %t;
	for my $p (@{ $doc->{profiles} })
	{
		my $v = 0;
		if ($p->{type} eq 'sampled')
		{
			$v += $_ for @{ $p->{weights} };
		}
		else
		{
			my ($depth, $last) = (0, $p->{startValue});
			for my $e (@{ $p->{events} })
			{
				$v += $e->{at} - $last if $depth > 0;
				$depth += $e->{type} eq 'O' ? 1 : -1;
				$last = $e->{at};
			}
		}
		$t{ $p->{name} } += $v * $ns{ $p->{unit} };
	}
	return \%t;
}

my $now = time();
my @ct = ('Content-Type: application/json');
my %want_type = (1 => 'process_cpu:cpu:nanoseconds:cpu:nanoseconds');
for my $f (glob(data_file('speedscope/*.json')))
{
	(my $svc = $f) =~ s{.*/(.*)\.speedscope\.json}{$1};
	my $doc = decode_json(slurp($f));
	my $want = expected_totals($doc);
	my ($st, $body) = http($node, 'POST',
		"/ingest?name=$svc&format=speedscope&from=" . ($now - 10), headers => \@ct, body_file => $f);
	is($st, 200, "$svc: POST /ingest?format=speedscope") or diag($body);
	sql("SELECT pyroscope.ingest_speedscope(pg_read_binary_file('$f'), '{\"service_name\": \"sql-$svc\"}')");
	for my $s ($svc, "sql-$svc")
	{
		my %got = map { split /\|/ } split /\n/, sql(
			"SELECT s.labels->>'profile_name', sum(h.total) FROM pyroscope.head h "
			  . "JOIN pyroscope.series s USING (series_id) WHERE s.labels->>'service_name' = '$s' GROUP BY 1");
		is_deeply(\%got, $want, "$s: totals per profile equal an independent decode")
		  or diag(explain(\%got), explain($want));
	}
}
# types: one profile -> the app name's (cpu), several -> each unit's
is(sql("SELECT string_agg(DISTINCT profile_type, ',') FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'simple'"),
	'process_cpu:cpu:nanoseconds:cpu:nanoseconds', 'one profile: the type of the app name');
is(sql("SELECT string_agg(DISTINCT profile_type, ',') FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'two-sampled'"),
	'wall:wall:nanoseconds:cpu:nanoseconds', 'several profiles in seconds: wall');
is(sql("SELECT string_agg(DISTINCT profile_type, ',') FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'two-sampled-bytes'"),
	'memory:samples:bytes::', 'several profiles in bytes: memory');
my ($st) = http($node, 'POST', "/ingest?name=walled.wall&format=speedscope&from=$now",
	headers => \@ct, body_file => data_file('speedscope/simple.speedscope.json'));
is(sql("SELECT profile_type || ' ' || (labels->>'profile_name') FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'walled'"),
	'wall:wall:nanoseconds:cpu:nanoseconds simple.txt', 'the app name suffix types a single profile');
is(sql("SELECT count(DISTINCT h.ts) FROM pyroscope.head h JOIN pyroscope.series s USING (series_id) "
	  . "WHERE s.labels->>'service_name' = 'simple' AND h.ts = to_timestamp(" . ($now - 10) . ")"), 1,
	'stored at "from"');

# bad documents: 422, nothing stored
my $rows = sql('SELECT count(*) FROM pyroscope.head');
my $schema = '"$schema":"https://www.speedscope.app/file-format-schema.json"';
for my $bad (
	[ 'not JSON', '{"profiles": [' ],
	[ 'unknown schema', '{"$schema":"https://example.com","profiles":[]}' ],
	[ 'frame index out of range', "{$schema,\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
		  . '{"type":"sampled","name":"x","unit":"seconds","samples":[[1]],"weights":[1]}]}' ],
	[ 'events out of order', "{$schema,\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
		  . '{"type":"evented","name":"x","unit":"seconds","events":[{"type":"O","at":5,"frame":0},'
		  . '{"type":"C","at":1,"frame":0}]}]}' ],
	[ 'a bad unit', "{$schema,\"profiles\":[{\"type\":\"sampled\",\"name\":\"x\",\"unit\":\"furlongs\"}]}" ],
	[ 'several profiles in "none" units',
	  "{$schema,\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
		  . '{"type":"sampled","name":"x","unit":"none","samples":[[0]],"weights":[1]},'
		  . '{"type":"sampled","name":"y","unit":"none","samples":[[0]],"weights":[1]}]}' ],
	[ 'a second profile broken after a good one',
	  "{$schema,\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
		  . '{"type":"sampled","name":"x","unit":"seconds","samples":[[0]],"weights":[1]},'
		  . '{"type":"sampled","name":"y","unit":"seconds","samples":[[0]],"weights":[-1]}]}' ])
{
	my ($what, $payload) = @$bad;
	my ($s, $resp) = http($node, 'POST', "/ingest?name=bad&format=speedscope&from=$now",
		headers => \@ct, body => $payload);
	is($s, 422, "$what: 422");
	like($resp, qr/"code":"unknown"/, "$what: code unknown");
}
is(sql('SELECT count(*) FROM pyroscope.head'), $rows, 'nothing stored by the bad documents');
my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT pyroscope.ingest_speedscope('{}')", on_error_stop => 0);
like($err, qr/22023.*unknown speedscope schema/s, 'SQL: a bad document is 22023');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT pyroscope.ingest_speedscope('{}', kind => 'nonsense')", on_error_stop => 0);
like($err, qr/unknown profile kind/, 'SQL: an unknown kind is refused');

done_testing();

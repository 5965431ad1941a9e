# Upstream's ingest rules (issue 12): the ingestion window (profiles older
# than pyroscope.reject_older_than or newer than reject_newer_than are
# refused on every path, with upstream's status and message, and counted on
# /metrics), 0 opening it; the Go SDK's __session_id__ label is not stored;
# a Connect Push carries several series.
use strict;
use warnings;

use FindBin;
use IO::Compress::Gzip qw(gzip $GzipError);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('window', workers => 1, window => 1);
sub sql { return $node->safe_psql('postgres', $_[0]); }
sub rows { return sql('SELECT count(*) FROM pyroscope.head'); }

my $now = time();
my $push_ct = [ 'Content-Type: application/proto', 'Connect-Protocol-Version: 1' ];
sub push_at
{
	my ($t_ns, $svc) = @_;
	return http($node, 'POST', '/push.v1.PusherService/Push', headers => $push_ct,
		body => push_request([ 'service_name', $svc, '__name__', 'process_cpu' ],
			make_pprof($t_ns, [ [ 'main', 'work' ], 100 ])));
}

# ---- the window's defaults: 1h back, 10min ahead -----------------------------
my ($st, $body) = push_at(int($now) * 1_000_000_000, 'now');
is($st, 200, 'a profile of now is stored');
($st, $body) = push_at(0, 'zero');
is($st, 200, 'a profile without a time is taken as now');
my $before = rows();
($st, $body) = push_at((int($now) - 7200) * 1_000_000_000, 'old');
is($st, 400, 'Push: two hours old is 400');
like($body, qr/"code":"invalid_argument".*outside of ingestion window.*the ingestion window starts at/,
	'with upstream\'s message');
($st, $body) = push_at((int($now) + 3600) * 1_000_000_000, 'future');
is($st, 400, 'Push: an hour ahead is 400');
($st, $body) = push_at(9_200_000_000_000_000_000, 'y2262');
is($st, 400, 'Push: year 2261 is 400');
my $old = int($now) - 7200;
($st) = http($node, 'POST', "/ingest?name=old.cpu&from=$old", body => "a;b 1\n");
is($st, 400, '/ingest folded from two hours ago: 400');
($st) = http($node, 'POST', "/ingest?name=old&format=pprof&from=$old",
	body => make_pprof($old * 1_000_000_000, [ [ 'a' ], 1 ]));
is($st, 400, '/ingest pprof of two hours ago: 400');
($st, $body) = http($node, 'POST', "/ingest?name=old&format=jfr&from=$old",
	headers => ['Content-Type: application/octet-stream'], body_file => data_file('jfr/dump1.jfr.gz'));
is($st, 422, '/ingest JFR from two hours ago: 422, as upstream');
like($body, qr/outside of ingestion window/, 'and says why');
($st) = http($node, 'POST', "/ingest?name=old&format=speedscope&from=$old",
	headers => ['Content-Type: application/json'], body_file => data_file('speedscope/simple.speedscope.json'));
is($st, 422, '/ingest speedscope from two hours ago: 422');
($st) = http($node, 'POST', '/v1development/profiles', headers => ['Content-Type: application/x-protobuf'],
	body_file => data_file('otlp/otel-ebpf-profile.pb.bin'));
is($st, 400, 'OTLP of a capture from 2025: 400');
is(rows(), $before, 'nothing stored out of the window');

my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT pyroscope.ingest_pprof(pg_read_binary_file('"
	  . data_file('pprof/go/cpu.pb.gz') . "'), '{\"service_name\": \"sqlold\"}')", on_error_stop => 0);
like($err, qr/22008.*outside of ingestion window/s, 'SQL: an old pprof is 22008');
is(sql("SET pyroscope.reject_older_than = 0; SELECT pyroscope.ingest_pprof(pg_read_binary_file('"
	  . data_file('pprof/go/cpu.pb.gz') . "'), '{\"service_name\": \"sqlold\"}') > 0"), 't',
	'SQL: SET pyroscope.reject_older_than = 0 backfills it');

# counted on /metrics
($st, $body) = http($node, 'GET', '/metrics');
my $window = 0;
$window += $_ for $body =~ /^pyroscope_discarded_profiles_total\{reason="not_in_ingestion_window",tenant="[^"]*"\} (\d+)$/mg;
is($window, 8, 'pyroscope_discarded_profiles_total{reason="not_in_ingestion_window"} counts the refusals');
like($body, qr/^pyroscope_discarded_bytes_total\{reason="not_in_ingestion_window",tenant="[^"]*"\} [1-9]\d*$/m,
	'and their bytes');
my $wsamples = 0;
$wsamples += $_ for $body =~ /^pyroscope_discarded_samples_total\{reason="not_in_ingestion_window",tenant="[^"]*"\} (\d+)$/mg;
ok(defined $wsamples && $wsamples >= 5, "and their samples ($wsamples)");

# 0 opens the window
sql("ALTER SYSTEM SET pyroscope.reject_older_than = 0");
sql("ALTER SYSTEM SET pyroscope.reject_newer_than = 0");
sql('SELECT pg_reload_conf()');
usleep(500_000);
($st) = push_at((int($now) - 7200) * 1_000_000_000, 'old');
is($st, 200, 'reject_older_than = 0: an old profile is stored');
($st) = push_at((int($now) + 3600) * 1_000_000_000, 'future');
is($st, 200, 'reject_newer_than = 0: a future one too');

# ---- __session_id__ ------------------------------------------------------------
($st) = http($node, 'POST',
	"/ingest?name=sess.cpu%7B__session_id__%3D4f1c2a3b5d6e7f80%2Cenv%3Dprod%7D&from=$now",
	body => "a;b 1\n");
is($st, 200, '/ingest with the Go SDK\'s __session_id__');
($st) = http($node, 'POST',
	"/ingest?name=sess.cpu%7B__session_id__%3D0123456789abcdef%2Cenv%3Dprod%7D&from=$now",
	body => "a;b 1\n");
is(sql("SELECT count(*) || ' ' || count(*) FILTER (WHERE labels ? '__session_id__') FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'sess'"), '1 0',
	'two sessions make one series, without the label');
sql("ALTER SYSTEM SET pyroscope.max_sessions_per_series = 4");
sql('SELECT pg_reload_conf()');
usleep(500_000);
($st) = http($node, 'POST',
	"/ingest?name=sess2.cpu%7B__session_id__%3D0500000000000000%7D&from=$now", body => "a;b 1\n");
is(sql("SELECT labels->>'__session_id__' FROM pyroscope.series WHERE labels->>'service_name' = 'sess2'"),
	'0100000000000000', 'max_sessions_per_series = 4 keeps the id modulo 4');

# ---- a Push with several series --------------------------------------------
my $t = int($now) * 1_000_000_000;
my $multi = push_request([ 'service_name', 'multi-a', '__name__', 'process_cpu' ],
	make_pprof($t, [ [ 'a' ], 10 ]))
  . push_request([ 'service_name', 'multi-b', '__name__', 'process_cpu' ],
	make_pprof($t, [ [ 'b' ], 20 ]), make_pprof($t + 1_000_000_000, [ [ 'b' ], 30 ]));
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push', headers => $push_ct, body => $multi);
is($st, 200, 'a Push of two series') or diag($body);
is(sql("SELECT string_agg(s.labels->>'service_name' || '=' || t, ' ' ORDER BY s.labels->>'service_name') FROM "
	  . "(SELECT series_id, sum(total) t FROM pyroscope.head GROUP BY 1) h JOIN pyroscope.series s "
	  . "USING (series_id) WHERE s.labels->>'service_name' LIKE 'multi-%'"),
	'multi-a=10 multi-b=50', 'both series stored, every profile of each');

# ---- old scripting agents: "<filename> <function>" ---------------------------
sub varint_b
{
	my ($v) = @_;
	my $out = '';
	while ($v >= 0x80) { $out .= chr(($v & 0x7f) | 0x80); $v >>= 7; }
	return $out . chr($v);
}
sub fld { my ($n, $d) = @_; return varint_b(($n << 3) | 2) . varint_b(length $d) . $d; }
sub vfld { my ($n, $v) = @_; return varint_b($n << 3) . varint_b($v); }
my @strs = ('', 'cpu', 'nanoseconds', 'main', 'app.py', 'work', '/usr/lib/python3/lib.py');
my $script_pprof = fld(1, vfld(1, 1) . vfld(2, 2))
  . fld(2, fld(1, varint_b(2) . varint_b(1)) . fld(2, varint_b(7)))
  . fld(4, vfld(1, 1) . fld(4, vfld(1, 1)))
  . fld(4, vfld(1, 2) . fld(4, vfld(1, 2)))
  . fld(5, vfld(1, 1) . vfld(2, 3) . vfld(4, 4))
  . fld(5, vfld(1, 2) . vfld(2, 5) . vfld(4, 6))
  . join('', map { fld(6, $_) } @strs)
  . vfld(9, int($now) * 1_000_000_000);
for my $spy ([ 'pyspy', 'app.py main;work' ], [ 'rbspy', 'app.py main;/usr/lib/python3/lib.py work' ],
	[ 'gospy', 'main;work' ])
{
	my ($name, $want) = @$spy;
	($st, $body) = http($node, 'POST', "/ingest?name=script-$name&format=pprof&spyName=$name&from=$now",
		body => $script_pprof);
	is($st, 200, "/ingest pprof from $name") or diag($body);
	is(sql("SELECT array_to_string(stack, ';') FROM pyroscope.stacks('process_cpu:cpu:nanoseconds::', "
		  . "'{service_name=\"script-$name\"}', '-infinity', 'infinity')"), $want,
		"$name: function names as upstream makes them");
}

done_testing();

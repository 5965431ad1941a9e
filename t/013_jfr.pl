# JFR ingest (issue 12): recordings POSTed to /ingest?format=jfr (raw,
# gzip, or the Java agent's multipart form with its "labels" part) and
# stored with pyroscope.ingest_jfr() come back as upstream's profiles: the
# same stacks and values as jfr-parser's expected outputs, the context
# labels of the labels part as series labels, the recording's jfr_event;
# bad recordings are 422 over HTTP (22023/54000 in SQL) and store nothing.
use strict;
use warnings;

use FindBin;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use IO::Compress::Gzip qw(gzip $GzipError);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use lib $FindBin::RealBin;
use PyroHttp;

my $node = start_node('jfr', workers => 1);
sub sql { return $node->safe_psql('postgres', $_[0]); }

sub slurp
{
	my ($f) = @_;
	open my $fh, '<:raw', $f or die "$f: $!";
	local $/;
	return scalar <$fh>;
}

sub gunzipped
{
	my ($bytes) = @_;
	my $out;
	gunzip(\$bytes => \$out) or die $GunzipError;
	return $out;
}

# the period type of each __name__ upstream's groups use
my %period = (process_cpu => 'cpu:nanoseconds', wall => 'wall:nanoseconds',
	memory => 'space:bytes', mutex => 'mutex:count', block => 'block:count');

# jfr-parser's collapsed stacks "frame:line;... [v1 v2]" by function names
# (root first, as pyroscope.stacks gives them), values summed
sub expected_stacks
{
	my ($file) = @_;
	my %agg;
	for my $line (split /\n/, gunzipped(slurp($file)))
	{
		next unless $line =~ /^(.*?) ?\[([-\d, ]+)\]\s*$/;
		my ($stack, @v) = ($1, split /[ ,]+/, $2);
		$stack = join ';', map { s/:\d+$//r } split /;/, $stack;
		$agg{$stack}[$_] += $v[$_] for 0 .. $#v;
	}
	return \%agg;
}

sub our_stacks
{
	my ($type, $svc) = @_;
	my %agg;
	for my $row (split /\n/, sql(
		"SELECT array_to_string(stack, ';'), self FROM pyroscope.stacks('$type', "
		  . "'{service_name=\"$svc\"}', '-infinity', 'infinity')"))
	{
		my ($s, $v) = split /\|/, $row;
		$agg{$s} += $v;
	}
	return \%agg;
}

sub head_rows { return sql('SELECT count(*) FROM pyroscope.head'); }

my $now = time();
my $query = sub {
	my ($name, %a) = @_;
	my $q = "/ingest?name=$name&format=jfr&sampleRate=100&from=" . ($now - 10) . "&until=$now";
	$q .= "&$_=$a{$_}" for sort keys %a;
	return $q;
};

# ---- 1. jfr-parser's recordings: the expected stacks and values -------------
for my $rec ([ 'FastSlow_2024_01_16_180855', 'fastslow' ], [ 'uint64-ref-id', 'refid' ])
{
	my ($base, $svc) = @$rec;
	my $file = data_file("jfr/$base.jfr.gz");
	my ($st, $body) = http($node, 'POST', $query->($svc),
		headers => ['Content-Type: application/octet-stream'], body_file => $file);
	is($st, 200, "$base: a gzip JFR body is stored") or diag($body);
	my $tps = unpack('Q>', substr(gunzipped(slurp($file)), 56, 8));

	is(sql("SELECT pyroscope.ingest_jfr(pg_read_binary_file('"
		  . data_file("jfr/$base.jfr.gz") . "'), NULL, '{\"service_name\": \"sql-$svc\"}')") > 0,
		1, "$base: ingest_jfr stores it too");

	for my $exp (glob(data_file("jfr/${base}_*_expected_collapsed.txt.gz")))
	{
		$exp =~ /${base}_\d+_(process_cpu|wall|memory|mutex|block)_(.*)_expected_collapsed/ or die $exp;
		my ($name, @types) = ($1, map { [ split /__/ ] } split /\+/, $2);
		my $expected = expected_stacks($exp);
		for my $i (0 .. $#types)
		{
			my $type = "$name:$types[$i][0]:$types[$i][1]:$period{$name}";
			my $ours = our_stacks($type, $svc);
			my ($bad, $n) = (0, 0);
			my ($exp_total, $our_total) = (0, 0);
			for my $s (keys %$expected)
			{
				my $e = $expected->{$s}[$i];
				my $o = $ours->{$s} // 0;
				# delays: jfr-parser keeps JFR ticks, we store nanoseconds
				# (each event rounded down: at most 1 ns per contention)
				my $ticks = $types[$i][1] eq 'nanoseconds' && $name =~ /^(mutex|block)$/;
				$e = int($e * 1e9 / $tps) if $ticks && $tps != 1e9;
				$bad++ if $ticks ? abs($e - $o) > $expected->{$s}[0] + 1 : $e != $o;
				$n++;
				$exp_total += $e;
			}
			$our_total += $_ for values %$ours;
			$bad += grep { !exists $expected->{$_} } keys %$ours;
			is($bad, 0, "$base $type: $n stacks as upstream expects (total $our_total)");
			is_deeply(our_stacks($type, "sql-$svc"), $ours, "$base $type: the same through SQL");
		}
	}
}
is(sql("SELECT string_agg(DISTINCT labels->>'jfr_event', ',') FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'fastslow'"), 'wall',
	'jfr_event is the recording\'s event setting');
is(sql("SELECT count(*) FROM pyroscope.series WHERE labels->>'service_name' = 'refid' "
	  . "AND labels ? 'jfr_event'"), 0, 'a recording without an event setting has no jfr_event');
is(sql("SELECT DISTINCT labels->>'pyroscope_spy' FROM pyroscope.series "
	  . "WHERE labels->>'service_name' = 'fastslow'"), 'unknown',
	'pyroscope_spy is "unknown" without a spyName');
is(sql("SELECT count(DISTINCT ts) || ' ' || min(ts) FROM pyroscope.head h JOIN pyroscope.series s "
	  . "USING (series_id) WHERE s.labels->>'service_name' = 'fastslow'"),
	'1 ' . sql("SELECT to_timestamp(" . ($now - 10) . ")"), 'the profiles are at "from"');

# ---- 2. the Java agent's form: jfr and labels parts, context labels ---------
my $boundary = 'jfr-test-boundary';
sub form
{
	my (%parts) = @_;
	my $b = '';
	for my $name (sort keys %parts)
	{
		$b .= "--$boundary\r\nContent-Disposition: form-data; name=\"$name\"; filename=\"$name\"\r\n"
		  . ($name eq 'labels' ? "Content-Type: application/x-protobuf\r\n" : '')
		  . "\r\n$parts{$name}\r\n";
	}
	return $b . "--$boundary--\r\n";
}
my @form_ct = ("Content-Type: multipart/form-data; boundary=$boundary");
my $dump1 = slurp(data_file('jfr/dump1.jfr.gz'));
my $dump1_labels = slurp(data_file('jfr/dump1.labels.pb.gz'));
my ($st, $body) = http($node, 'POST', $query->('kafka.app%7Benv=test%7D', spyName => 'javaspy'),
	headers => \@form_ct, body => form(jfr => $dump1, labels => $dump1_labels));
is($st, 200, 'multipart upload with a labels part') or diag($body);
# upstream's expected series of dump1 (its dump1.json.gz: samples x 10 ms)
is(sql("SELECT string_agg(coalesce(s.labels->>'thread_name', '-') || '=' || t, ' ' "
	  . "ORDER BY coalesce(s.labels->>'thread_name', '-')) FROM (SELECT series_id, sum(total) t "
	  . "FROM pyroscope.head GROUP BY 1) h JOIN pyroscope.series s USING (series_id) "
	  . "WHERE s.labels->>'service_name' = 'kafka.app' AND s.labels->>'env' = 'test'"),
	'-=12300000000 pool-2-thread-1=4710000000 pool-2-thread-3=1680000000 '
	  . 'pool-2-thread-5=1040000000 pool-2-thread-7=2150000000',
	'context ids become the labels of the labels part, one series each');
is(sql("SELECT DISTINCT labels->>'pyroscope_spy' || ' ' || (labels->>'jfr_event') "
	  . "FROM pyroscope.series WHERE labels->>'service_name' = 'kafka.app'"), 'javaspy itimer',
	'spyName and the event setting label the series');
# raw gunzipped parts work too, and the same labels through SQL
($st) = http($node, 'POST', $query->('kafka.raw'), headers => \@form_ct,
	body => form(jfr => gunzipped($dump1), labels => gunzipped($dump1_labels)));
is($st, 200, 'parts without gzip');
is(sql("SELECT count(*) FROM pyroscope.series WHERE labels->>'service_name' = 'kafka.raw'"), 5,
	'five series from raw parts');
is(sql("SELECT pyroscope.ingest_jfr(pg_read_binary_file('" . data_file('jfr/dump1.jfr.gz')
	  . "'), pg_read_binary_file('" . data_file('jfr/dump1.labels.pb.gz')
	  . "'), '{\"service_name\": \"kafka.sql\"}')"), 5, 'ingest_jfr with a labels part: five series');
# a service_name among the inline labels moves the app name to app_name
($st) = http($node, 'POST', $query->('kafka.named%7Bservice_name=svc%7D'),
	headers => ['Content-Type: application/octet-stream'], body => $dump1);
is(sql("SELECT DISTINCT labels->>'app_name' FROM pyroscope.series WHERE labels->>'service_name' = 'svc'"),
	'kafka.named', 'the app name goes to app_name when service_name is given');

# ---- 3. bad input: 422, nothing stored ---------------------------------------
my $rows = head_rows();
my $raw = gunzipped($dump1);
my @bad = (
	[ 'garbage', ['Content-Type: application/octet-stream'], "not a recording at all, really" ],
	[ 'truncated chunk', ['Content-Type: application/octet-stream'], substr($raw, 0, length($raw) / 2) ],
	[ 'wrong chunk size', ['Content-Type: application/octet-stream'],
	  substr($raw, 0, 8) . pack('Q>', length($raw) + 100) . substr($raw, 16) ],
	[ 'a metadata offset past the chunk', ['Content-Type: application/octet-stream'],
	  substr($raw, 0, 24) . pack('Q>', length($raw) - 2) . substr($raw, 32) ],
	[ 'no jfr part', \@form_ct, form(labels => $dump1_labels) ],
	[ 'a bad labels part', \@form_ct, form(jfr => $dump1, labels => "\xff\xff\xff") ],
);
for my $b (@bad)
{
	my ($what, $hdrs, $payload) = @$b;
	my ($s, $resp) = http($node, 'POST', $query->('bad'), headers => $hdrs, body => $payload);
	is($s, 422, "$what: 422");
	like($resp, qr/"code":"unknown"/, "$what: Connect-style body with code unknown");
}
like((http($node, 'POST', $query->('bad'), headers => \@form_ct, body => form(labels => 'x')))[1],
	qr/jfr field is required/, 'a form without a jfr part says so');
is(head_rows(), $rows, 'nothing stored by the bad uploads');

# a small gzip that inflates past pyroscope.max_jfr_size
sql("ALTER SYSTEM SET pyroscope.max_jfr_size = '1MB'");
sql('SELECT pg_reload_conf()');
usleep(500_000);
my $bomb;
gzip(\("\0" x (8 * 1024 * 1024)) => \$bomb) or die $GzipError;
($st, $body) = http($node, 'POST', $query->('bomb'),
	headers => ['Content-Type: application/octet-stream'], body => $bomb);
is($st, 422, 'a gzip that inflates past pyroscope.max_jfr_size: 422');
like($body, qr/exceeds its limit/, 'and says it exceeds the limit');
sql("ALTER SYSTEM RESET pyroscope.max_jfr_size");
sql('SELECT pg_reload_conf()');
is(head_rows(), $rows, 'nothing stored');

# SQL: SQLSTATEs
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT pyroscope.ingest_jfr('\\x464c520000020000'::bytea)", on_error_stop => 0);
like($err, qr/invalid JFR recording/, 'SQL: a bad recording is an error');
($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT pyroscope.ingest_jfr(pg_read_binary_file('"
	  . data_file('jfr/dump1.jfr.gz') . "'), '\\xffff'::bytea)", on_error_stop => 0);
like($err, qr/22023.*invalid JFR labels/s, 'SQL: a bad labels part is 22023');
is(sql("SELECT pyroscope.ingest_jfr(NULL)"), '', 'SQL: NULL data gives NULL');
is(head_rows(), $rows, 'nothing stored by the failed calls');

done_testing();

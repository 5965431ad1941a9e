# Helpers of the HTTP API TAP tests: a cluster with the HTTP workers on a
# free port, an HTTP client (curl through IPC::Run), hand-built protobuf
# messages, and JSON decoding.
package PyroHttp;

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempfile);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_node http wait_ready push_request pb_field decode_json_body
  data_file worker_pids make_pprof);

# test data (copied next to the tests by the runner)
sub data_file
{
	my ($name) = @_;
	my $dir = $ENV{PYRO_TEST_DATA} // 'test/data';
	return "$dir/$name";
}

# A started node with the extension created and its HTTP port in ->{http_port}.
sub start_node
{
	my ($name, %conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pyroscope'\n"
		  . "pyroscope.http_port = $port\n"
		  . "pyroscope.http_workers = " . ($conf{workers} // 2) . "\n"
		  . "pyroscope.compactor = off\n"	# no compaction or retention mid-test
		  # recorded profiles are stored at their own (old) times; the
		  # ingestion window's own test asks for it with window => 1
		  . ($conf{window} ? '' : "pyroscope.reject_older_than = 0\npyroscope.reject_newer_than = 0\n")
		  . ($conf{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pyroscope');
	$node->{http_port} = $port;
	$node->{http_scheme} = $conf{tls} ? 'https' : 'http';
	wait_ready($node);
	return $node;
}

# http($node, METHOD, PATH, headers => [..], body => BYTES, body_file => FILE,
#      args => [extra curl args]) -> (status, body, headers text)
sub http
{
	my ($node, $method, $path, %o) = @_;
	my ($bfh, $bodyfile) = tempfile(UNLINK => 1);
	my ($hfh, $hdrfile) = tempfile(UNLINK => 1);
	my @cmd = ('curl', '-s', '-S', '-X', $method, '-o', $bodyfile, '-D', $hdrfile,
		'-w', '%{http_code}', '--max-time', '60');
	push @cmd, map { ('-H', $_) } @{ $o{headers} // [] };
	my $in = '';
	if (defined $o{body})
	{
		push @cmd, '--data-binary', '@-';
		$in = $o{body};
	}
	elsif (defined $o{body_file})
	{
		push @cmd, '--data-binary', '@' . $o{body_file};
	}
	push @cmd, @{ $o{args} // [] };
	# a TLS node (start_node(tls => 1)) is reached over https, unverified
	push @cmd, '-k' if ($node->{http_scheme} // 'http') eq 'https';
	push @cmd, ($node->{http_scheme} // 'http') . "://127.0.0.1:$node->{http_port}$path";
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \$in, '>', \$out, '2>', \$err);
	my $body = do { local $/; open my $f, '<:raw', $bodyfile or die; <$f> };
	my $hdrs = do { local $/; open my $f, '<', $hdrfile or die; <$f> };
	return ($out + 0, $body // '', $hdrs // '');
}

# Wait until /ready answers 200 (the workers start after the postmaster).
sub wait_ready
{
	my ($node) = @_;
	for (1 .. 300)
	{
		my ($st) = http($node, 'GET', '/ready');
		return 1 if $st == 200;
		usleep(100_000);
	}
	die "HTTP API did not become ready";
}

sub varint
{
	my ($n) = @_;
	my $out = '';
	while (1)
	{
		my $b = $n & 0x7f;
		$n >>= 7;
		if ($n) { $out .= chr($b | 0x80); }
		else { return $out . chr($b); }
	}
}

# A length-delimited protobuf field.
sub pb_field
{
	my ($num, $data) = @_;
	return varint(($num << 3) | 2) . varint(length $data) . $data;
}

# A push.v1.PushRequest with one series: labels (name => value pairs, in
# order) and the given raw pprof documents.
sub push_request
{
	my ($labels, @profiles) = @_;
	my $series = '';
	for (my $i = 0; $i < @$labels; $i += 2)
	{
		$series .= pb_field(1, pb_field(1, $labels->[$i]) . pb_field(2, $labels->[ $i + 1 ]));
	}
	$series .= pb_field(2, pb_field(1, $_)) for @profiles;
	return pb_field(1, $series);
}

sub pb_varint_field
{
	my ($num, $v) = @_;
	return varint($num << 3) . varint($v);
}

# A raw CPU pprof (cpu/nanoseconds, period cpu/nanoseconds 10 ms) taken at
# time_ns, with samples given as [ [root, ..., leaf], value ] or
# [ [root, ..., leaf], value, { label => string value, ... } ].
sub make_pprof
{
	my ($time_ns, @samples) = @_;
	my @strings = ('', 'cpu', 'nanoseconds');
	my %str;
	my %fn;
	my $out = '';
	my $intern = sub {
		my ($s) = @_;
		$str{$s} //= do { push @strings, $s; $#strings };
		return $str{$s};
	};
	for my $s (@samples)
	{
		my ($stack, $value, $labels) = @$s;
		my @locs = map { $fn{$_} //= scalar(keys %fn) + 1 } reverse @$stack;
		my $lb = join('', map {
			pb_field(3, pb_varint_field(1, $intern->($_))
				  . pb_varint_field(2, $intern->($labels->{$_})))
		} sort keys %{ $labels // {} });
		$out .= pb_field(2,
			pb_field(1, join('', map { varint($_) } @locs))
			  . pb_field(2, varint($value)) . $lb);
	}
	for my $name (sort { $fn{$a} <=> $fn{$b} } keys %fn)
	{
		my $id = $fn{$name};
		my $ni = $intern->($name);
		$out .= pb_field(4, pb_varint_field(1, $id) . pb_field(4, pb_varint_field(1, $id)));
		$out .= pb_field(5, pb_varint_field(1, $id) . pb_varint_field(2, $ni));
	}
	my $head = pb_field(1, pb_varint_field(1, 1) . pb_varint_field(2, 2));
	my $tail = join('', map { pb_field(6, $_) } @strings)
	  . pb_varint_field(9, $time_ns)
	  . pb_field(11, pb_varint_field(1, 1) . pb_varint_field(2, 2))
	  . pb_varint_field(12, 10_000_000);
	return $head . $out . $tail;
}

sub decode_json_body
{
	my ($body) = @_;
	return JSON::PP->new->utf8->decode($body);
}

# pids of the running HTTP workers (or, given 'query', query workers), sorted
sub worker_pids
{
	my ($node) = @_;
	my $out = $node->safe_psql('postgres',
		"SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pyroscope.http_workers"
		  . " WHERE pid IS NOT NULL AND kind = '" . ($_[1] // 'http') . "'");
	return $out;
}

1;

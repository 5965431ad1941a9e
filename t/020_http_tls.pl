# TLS on the HTTP API: pyroscope.http_tls_cert_file and _key_file.  A real
# client (curl) pushes and queries over TLS 1.2 and 1.3; TLS 1.1 and
# plain HTTP to the TLS port get a clean failure; the worker survives a bad
# handshake and a slow one; a reload that changes the certificate serves
# the new one to new connections; a key that does not belong to the
# certificate keeps the old one.
use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use lib $FindBin::RealBin;
use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use PyroHttp;

# absolute: the server reads the certificate paths from its data directory
# (PostgreSQL 17's tempdir() is relative to the test's directory)
my $dir = abs_path(PostgreSQL::Test::Utils::tempdir());

# a self-signed certificate for 127.0.0.1 and localhost
sub make_cert
{
	my ($name, $cn) = @_;
	system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-nodes', '-days', '2', '-subj', "/CN=$cn",
		'-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.crt") == 0
	  or die "openssl req failed";
	chmod 0600, "$dir/$name.key";
}
make_cert('one', 'pyroscope-one');
make_cert('two', 'pyroscope-two');
system("cp $dir/one.crt $dir/server.crt && cp $dir/one.key $dir/server.key") == 0 or die;

my $node = start_node('tls', tls => 1, conf => "pyroscope.http_tls_cert_file = '$dir/server.crt'\n"
	  . "pyroscope.http_tls_key_file = '$dir/server.key'\n"
	  . "pyroscope.http_header_timeout = 2\n");
my $port = $node->{http_port};
my $base = "https://127.0.0.1:$port";

sub curl
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'curl', '-s', '-S', '--max-time', '20', '-w', '\n%{http_code}', @args ],
		'>', \$out, '2>', \$err);
	my ($body, $code) = $out =~ /^(.*)\n(\d+)$/s;
	return ($code // 0, $body // '', $err);
}

my ($code, $body, $err) = curl('--cacert', "$dir/one.crt", "$base/ready");
is($code, 200, 'GET /ready over TLS, verified against the certificate');
like($body, qr/ready/, 'ready');

# a push and a query over TLS
my $now_s = time();
my $pprof = make_pprof($now_s * 1_000_000_000, [ [ 'main', 'tls_work' ], 30_000_000 ]);
my $push = push_request([ '__name__', 'process_cpu', 'service_name', 'tlsapp' ], $pprof);
my $pfile = "$dir/push.bin";
open(my $fh, '>', $pfile) or die;
binmode $fh;
print $fh $push;
close $fh;
($code) = curl('--cacert', "$dir/one.crt", '-X', 'POST', '-H', 'Content-Type: application/proto',
	'--data-binary', "\@$pfile", "$base/push.v1.PusherService/Push");
is($code, 200, 'Push over TLS');
my $cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
my ($s, $e) = (($now_s - 600) * 1000, ($now_s + 600) * 1000);
($code, $body) = curl('--cacert', "$dir/one.crt", '-X', 'POST', '-H', 'Content-Type: application/json',
	'--data', qq({"profileTypeID":"$cpu","labelSelector":"{service_name=\\"tlsapp\\"}","start":$s,"end":$e}),
	"$base/querier.v1.QuerierService/SelectMergeStacktraces");
is($code, 200, 'SelectMergeStacktraces over TLS');
is(decode_json_body($body)->{flamegraph}{total}, 30_000_000, 'the pushed profile comes back');

# TLS 1.2 and 1.3 are served; nothing older
($code) = curl('--cacert', "$dir/one.crt", '--tlsv1.2', '--tls-max', '1.2', "$base/ready");
is($code, 200, 'TLS 1.2');
($code) = curl('--cacert', "$dir/one.crt", '--tlsv1.3', "$base/ready");
is($code, 200, 'TLS 1.3');
sub s_client
{
	my ($version) = @_;
	my $out = '';
	IPC::Run::run([ 'openssl', 's_client', '-connect', "127.0.0.1:$port", $version,
			'-cipher', 'DEFAULT:@SECLEVEL=0' ], '<', \'', '>&', \$out, IPC::Run::timeout(20));
	my ($cipher) = $out =~ /Cipher is (\S+)/;
	return $cipher // 'none';
}
my $c12 = s_client('-tls1_2');
ok($c12 ne '(NONE)' && $c12 ne 'none', "openssl s_client negotiates TLS 1.2 ($c12)");
is(s_client('-tls1_1'), '(NONE)', 'TLS 1.1 is refused (no cipher negotiated)');
is(s_client('-tls1'), '(NONE)', 'TLS 1.0 is refused');

# plain HTTP to the TLS port: a clean failure, not an answer
($code, $body, $err) = curl("http://127.0.0.1:$port/ready");
isnt($code, 200, 'plain HTTP to the TLS port is not served');
ok($err ne '' || $code >= 400, "curl reports it ($code: " . ($err =~ s/\s+$//r) . ')');

# a bad handshake (garbage) and a slow one (connected, silent) leave the
# workers serving
for my $junk ("GARBAGE\x00\x01\x02" x 100, "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")
{
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
	  or die "connect: $!";
	print $sock $junk;
	close $sock;
}
my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
  or die "connect: $!";
($code) = curl('--cacert', "$dir/one.crt", "$base/ready");
is($code, 200, 'served after bad handshakes and while a handshake hangs');
# the silent connection is closed by pyroscope.http_header_timeout (2 s)
$slow->blocking(1);
my $t0 = time();
my $got = '';
eval {
	local $SIG{ALRM} = sub { die "alarm\n" };
	alarm 15;
	sysread($slow, $got, 1);
	alarm 0;
};
ok(!$@, 'the silent connection was closed by the server (after ' . (time() - $t0) . ' s)');
close $slow;

# reload: a new certificate is served to new connections
system("cp $dir/two.crt $dir/server.crt && cp $dir/two.key $dir/server.key") == 0 or die;
$node->reload;
sleep 2;
($code) = curl('--cacert', "$dir/two.crt", "$base/ready");
is($code, 200, 'after a reload the new certificate is served');
($code, undef, $err) = curl('--cacert', "$dir/one.crt", "$base/ready");
isnt($code, 200, 'and the old one no longer');
# a key that does not belong to the certificate: the old certificate stays
system("cp $dir/one.key $dir/server.key") == 0 or die;
$node->reload;
sleep 2;
($code) = curl('--cacert', "$dir/two.crt", "$base/ready");
is($code, 200, 'a mismatched key keeps the certificate in use');
ok($node->log_contains('does not belong to the certificate'), 'and says why in the log');

$node->stop;
done_testing();

# One engine under two front doors: every pprof of the corpus ingested once
# through SQL (ingest_pprof) and once through HTTP (/ingest), each into a
# tenant of its own, gives the same stored data and the same answers, and
# the SQL and HTTP answers agree with each other: profile types, label
# values, series label sets, flame graphs (SQL flamegraph() and
# /pyroscope/render), top functions, and the merged pprof (SQL
# merge_pprof(), gunzipped, and Connect SelectMergeProfile, byte for
# byte).  A pprof one path rejects, the other rejects too.
#
# The corpus is ../shared/testdata/pprof when the runner copied it
# (PYRO_PPROF_CORPUS), else the repository's test/data/pprof.
use strict;
use warnings;

use File::Find;
use FindBin;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib $FindBin::RealBin;
use PyroHttp;

my $corpus = $ENV{PYRO_PPROF_CORPUS} // data_file('pprof');
my @files;
find(sub { push @files, $File::Find::name if -f $_ }, $corpus);
@files = sort @files;
ok(@files >= 10, scalar(@files) . " pprof files in $corpus");

my $node = start_node('golden');
$node->append_conf('postgresql.conf', qq{
pyroscope.multitenancy = on
pyroscope.http_max_query_length = 0
});
$node->reload;
wait_ready($node);

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub lit { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }

my $json = JSON::PP->new->utf8->canonical;
my $now = time();
my %svc;						# file -> service name

# ingest every file through both front doors
my $i = 0;
for my $f (@files)
{
	my $name = sprintf('golden%02d', $i++);
	$svc{$f} = $name;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SELECT pyroscope.ingest_pprof(pg_read_binary_file(@{[ lit($f) ]}),
			jsonb_build_object('service_name', '$name', 'pyroscope_spy', 'unknown'), 'sqlt')});
	my ($st, $body) = http($node, 'POST', "/ingest?name=$name&format=pprof&from=$now",
		headers => [ 'X-Scope-OrgID: httpt' ], body_file => $f);
	my $sql_ok = $ret == 0 ? 1 : 0;
	my $http_ok = $st == 200 ? 1 : 0;
	is($http_ok, $sql_ok, "$name ($f): SQL and HTTP both " . ($sql_ok ? 'store' : 'reject') . " it")
	  or diag("SQL: $err; HTTP $st: $body");
}

# the same series in both tenants
is(sql(q{SELECT count(*) FROM (
	(SELECT labels FROM pyroscope.series WHERE tenant = 'sqlt'
	 EXCEPT ALL SELECT labels FROM pyroscope.series WHERE tenant = 'httpt')
	UNION ALL
	(SELECT labels FROM pyroscope.series WHERE tenant = 'httpt'
	 EXCEPT ALL SELECT labels FROM pyroscope.series WHERE tenant = 'sqlt')) d}),
	'0', 'the same series labels (and so the same profile types) from SQL and HTTP ingest');
ok(sql(q{SELECT count(*) FROM pyroscope.series WHERE tenant = 'sqlt'}) > 20, 'and many of them');

sub connect_json
{
	my ($tenant, $method, $req) = @_;
	my ($st, $body) = http($node, 'POST', "/querier.v1.QuerierService/$method",
		headers => [ 'Content-Type: application/json', "X-Scope-OrgID: $tenant" ],
		body => $json->encode($req));
	die "$method: $st $body" unless $st == 200;
	return decode_json_body($body);
}

# profile types
my @types = split /\n/, sql(q{SELECT t FROM pyroscope.profile_types('sqlt') t ORDER BY 1});
for my $tenant (qw(sqlt httpt))
{
	is(sql(qq{SELECT string_agg(t, ',' ORDER BY t) FROM pyroscope.profile_types('$tenant') t}),
		join(',', @types), "SQL profile types of $tenant");
	my $r = connect_json($tenant, 'ProfileTypes', { start => 1000, end => 4102444800000 });
	is(join(',', sort map { $_->{ID} // $_->{id} } @{ $r->{profileTypes} // [] }),
		join(',', @types), "HTTP ProfileTypes of $tenant");
}

# label values and series
my $values = sql(q{SELECT string_agg(v, ',' ORDER BY v COLLATE "C")
	FROM pyroscope.label_values('service_name', '{}', '-infinity', 'infinity', 'sqlt') v});
for my $tenant (qw(sqlt httpt))
{
	is(sql(qq{SELECT string_agg(v, ',' ORDER BY v COLLATE "C")
		FROM pyroscope.label_values('service_name', '{}', '-infinity', 'infinity', '$tenant') v}),
		$values, "SQL label values of $tenant");
	my $r = connect_json($tenant, 'LabelValues',
		{ name => 'service_name', start => 1000, end => 4102444800000 });
	is(join(',', @{ $r->{names} // [] }), $values, "HTTP LabelValues of $tenant");

	my $sqlsets = sql(qq{SELECT string_agg(x, E'\\n' ORDER BY x COLLATE "C") FROM (
		SELECT DISTINCT (SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C")
						   FROM jsonb_each_text(labels)) x
		  FROM pyroscope.select_series(NULL, '{}', '-infinity', 'infinity', '$tenant')) s});
	$r = connect_json($tenant, 'Series', { start => 1000, end => 4102444800000 });
	my @httpsets = sort map {
		join(',', map { "$_->{name}=$_->{value}" } @{ $_->{labels} })
	} @{ $r->{labelsSet} // [] };
	is(join("\n", @httpsets), $sqlsets, "HTTP Series and SQL select_series label sets of $tenant");
}

# per service and profile type: flame graph, top functions, merged pprof
my $end_ms = 4102444800000;
my @pairs = split /\n/, sql(q{SELECT DISTINCT service_name || ' ' || profile_type
	FROM pyroscope.series WHERE tenant = 'sqlt' ORDER BY 1});
my ($fg_ok, $top_ok, $pprof_ok, $n) = (0, 0, 0, 0);
for my $pair (@pairs)
{
	my ($service, $type) = split / /, $pair;
	my $sel = qq[{service_name="$service"}];
	$n++;

	my %fg;
	for my $tenant (qw(sqlt httpt))
	{
		$fg{"sql $tenant"} = decode_json_body(sql(qq{SELECT pyroscope.flamegraph(
			@{[ lit($type) ]}, @{[ lit($sel) ]}, '-infinity', 'infinity', 16384, '$tenant')}));
		my ($st, $body) = http($node, 'GET',
			"/pyroscope/render?query=$type$sel&from=1&until=4102444800&max-nodes=16384",
			headers => [ "X-Scope-OrgID: $tenant" ], args => ['-g']);
		$fg{"http $tenant"} = $st == 200 ? decode_json_body($body)->{flamebearer} : { status => $st };
	}
	my $want = $json->encode($fg{'sql sqlt'});
	my @diff = grep { $json->encode($fg{$_}) ne $want } sort keys %fg;
	if (@diff) { diag("$pair: flame graphs differ: @diff"); } else { $fg_ok++; }

	my @tops = map {
		sql(qq{SELECT md5(string_agg(function_name || ' ' || self || ' ' || total, E'\\n'
						  ORDER BY total DESC, self DESC, function_name COLLATE "C"))
			   FROM pyroscope.top_functions(@{[ lit($type) ]}, @{[ lit($sel) ]}, '-infinity', 'infinity', '$_')})
	} qw(sqlt httpt);
	if ($tops[0] eq $tops[1]) { $top_ok++; } else { diag("$pair: top functions differ"); }

	my %pprof;
	for my $tenant (qw(sqlt httpt))
	{
		my $hex = sql(qq{SELECT encode(pyroscope.merge_pprof(@{[ lit($type) ]}, @{[ lit($sel) ]},
			'1970-01-01 00:00:01+00', to_timestamp(${end_ms} / 1000.0), '$tenant'), 'hex')});
		my $gz = pack('H*', $hex);
		my $raw;
		gunzip(\$gz => \$raw) or die "gunzip: $GunzipError";
		$pprof{"sql $tenant"} = $raw;
		my $req = pb_field(1, $type) . pb_field(2, $sel) . pb_varint(3, 1000) . pb_varint(4, $end_ms);
		my ($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeProfile',
			headers => [ 'Content-Type: application/proto', "X-Scope-OrgID: $tenant" ],
			body => $req);
		$pprof{"http $tenant"} = $st == 200 ? $body : "status $st";
	}
	my @pd = grep { $pprof{$_} ne $pprof{'sql sqlt'} } sort keys %pprof;
	if (@pd) { diag("$pair: merged pprof differ: @pd"); } else { $pprof_ok++; }
}
ok($n > 20, "$n service and profile type pairs compared");
is($fg_ok, $n, 'flame graphs: SQL and HTTP, of SQL- and HTTP-ingested data, all equal');
is($top_ok, $n, 'top functions of SQL- and HTTP-ingested data equal');
is($pprof_ok, $n, 'merged pprof: SQL merge_pprof and HTTP SelectMergeProfile byte-identical');

# one time rule: a pprof's time_nanos in ns, in µs (old SDKs) or in ms
# (py-spy through pyroscope-rs) is the same time through SQL and /ingest
{
	my $t_ms = 1_700_000_000_123;
	my %units = (ns => $t_ms * 1_000_000, us => $t_ms * 1_000, ms => $t_ms);
	for my $unit (sort keys %units)
	{
		my $pprof = make_pprof($units{$unit}, [ [ 'main', 'work' ], 5 ]);
		sql(sprintf(q{SELECT pyroscope.ingest_pprof('\\x%s', '{"service_name": "time_%s"}', 'sqlt')},
			unpack('H*', $pprof), $unit));
		my ($st) = http($node, 'POST', "/ingest?name=time_$unit&format=pprof&from=$now",
			headers => [ 'X-Scope-OrgID: httpt' ], body => $pprof);
		is($st, 200, "time in $unit pushed");
		is(sql(qq{SELECT string_agg(DISTINCT (extract(epoch FROM h.ts) * 1000)::bigint::text, ',')
				   FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
				  WHERE s.service_name = 'time_$unit'}),
			$t_ms, "time in $unit: the same millisecond through SQL and HTTP");
	}
}

# one set of limits: a pprof over pyroscope.max_profile_size (as sent) is
# refused by SQL, by /ingest and by Push alike, and nothing is stored
{
	my $f = data_file('pprof/go/heap.pb.gz');
	my $size = -s $f;
	sql(sprintf(q{ALTER SYSTEM SET pyroscope.max_profile_size = %d}, $size - 1));
	sql('SELECT pg_reload_conf()');
	$node->poll_query_until('postgres',
		sprintf(q{SELECT current_setting('pyroscope.max_profile_size') = '%dB'}, $size - 1))
	  or die;
	sleep 1;					# the workers reload too
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SET pyroscope.max_profile_size = @{[ $size - 1 ]};
		SELECT pyroscope.ingest_pprof(pg_read_binary_file(@{[ lit($f) ]}), '{"service_name": "big"}', 'sqlt')});
	like($err, qr/exceeds pyroscope.max_profile_size/, 'SQL: over the size limit');
	my ($st, $body) = http($node, 'POST', "/ingest?name=big&format=pprof&from=$now",
		headers => [ 'X-Scope-OrgID: httpt' ], body_file => $f);
	ok($st == 400 && $body =~ /exceeds pyroscope.max_profile_size/, '/ingest: over the size limit')
	  or diag("$st $body");
	my $gz = do { local $/; open my $fh, '<:raw', $f or die; <$fh> };
	($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push',
		headers => [ 'Content-Type: application/proto', 'X-Scope-OrgID: httpt' ],
		body => push_request([ __name__ => 'memory', service_name => 'big' ], $gz));
	ok($st == 400 && $body =~ /exceeds pyroscope.max_profile_size/, 'Push: over the size limit')
	  or diag("$st $body");
	is(sql(q{SELECT count(*) FROM pyroscope.series WHERE service_name = 'big'}), '0',
		'nothing stored');
}

$node->stop;
done_testing();

# protobuf varint field
sub pb_varint
{
	my ($field, $v) = @_;
	my $key = chr(($field << 3) | 0);
	my $out = '';
	while ($v >= 0x80)
	{
		$out .= chr(($v & 0x7f) | 0x80);
		$v >>= 7;
	}
	return $key . $out . chr($v);
}

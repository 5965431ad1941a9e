# The HTTP API against a real cluster: every /ingest variant and its
# errors, Connect Push (gzip, chunked, no Connect-Protocol-Version, JSON),
# the querier methods, the legacy render API, and a flame graph asked
# through HTTP that must equal the one asked through SQL.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IO::Compress::Gzip qw(gzip $GzipError);
use PostgreSQL::Test::Utils;
use PyroHttp;
use Test::More;

my $node = start_node('api');
my $now_s = time();
my $now_ms = $now_s * 1000;
my $start_ms = $now_ms - 3600 * 1000;
my $end_ms = $now_ms + 60 * 1000;
my $cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub json_post
{
	my ($path, $body, @headers) = @_;
	return http($node, 'POST', $path,
		headers => [ 'Content-Type: application/json', @headers ],
		body => $body);
}

# ---------------------------------------------------------------- /ingest

my ($st, $body) = http($node, 'POST',
	"/ingest?name=tapapp.cpu%7Benv%3Dtest%7D&from=$now_s&until=$now_s",
	body => "main;foo 3\nmain;bar 2\nmain 1\n");
is($st, 200, 'folded ingest accepted');
is(sql("SELECT total FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)"
	  . " WHERE s.service_name = 'tapapp'"),
	'60000000', 'folded values scaled by 1e9/sampleRate (100 Hz: 6 samples = 60 ms)');
is(sql("SELECT concat_ws(' ', labels->>'env', labels->>'pyroscope_spy', profile_type)"
	  . " FROM pyroscope.series WHERE service_name = 'tapapp'"),
	"test unknown $cpu", 'inline labels, spy label and profile type of the text path');

($st) = http($node, 'POST', "/pyroscope/ingest?name=lineapp.wall&format=lines&sampleRate=0&from=$now_s",
	body => "a;b\na;b\nc\n");
is($st, 200, 'format=lines accepted on the /pyroscope/ingest alias');
is(sql("SELECT profile_type || ' ' || h.total FROM pyroscope.series s JOIN pyroscope.head h USING (series_id)"
	  . " WHERE s.service_name = 'lineapp'"),
	'wall:samples:count:: 3', 'each line counts 1; sampleRate=0 keeps samples:count');

($st) = http($node, 'POST', "/ingest?name=rawpprof&format=pprof&from=$now_s",
	body_file => data_file('pprof/go/cpu.pb.gz'));
is($st, 200, 'raw gzip pprof with format=pprof accepted');
is(sql("SELECT string_agg(profile_type, ' ' ORDER BY profile_type) FROM pyroscope.series"
	  . " WHERE service_name = 'rawpprof'"),
	"$cpu process_cpu:samples:count:cpu:nanoseconds",
	'one series per sample type of the pprof');

my $cfg = '{"alloc_space":{"display-name":"alloc_space","units":"bytes"}}';
($st, $body) = http($node, 'POST', "/ingest?name=formapp&spyName=gospy&from=${now_s}000000000",
	args => [ '-F', 'profile=@' . data_file('pprof/go/heap.pb.gz') . ';filename=profile.pprof',
		'-F', "sample_type_config=$cfg;filename=sample_type_config.json" ]);
is($st, 200, 'multipart form with profile and sample_type_config accepted') or diag $body;
is(sql("SELECT concat_ws(' ', count(*), min(labels->>'__name__'), min(labels->>'pyroscope_spy'))"
	  . " FROM pyroscope.series WHERE service_name = 'formapp'"),
	'4 memory gospy', 'four heap sample types named memory, spy label kept');

($st, $body) = http($node, 'POST', "/ingest?name=prevapp",
	args => [ '-F', 'profile=@' . data_file('pprof/go/cpu.pb.gz') . ';filename=profile.pprof',
		'-F', 'prev_profile=@' . data_file('pprof/go/cpu.pb.gz') . ';filename=prev.pprof' ]);
is($st, 400, 'multipart with prev_profile rejected');
like($body, qr/"code":"invalid_argument"/, 'as invalid_argument');

my @bad = (
	[ 'name=myapp.cpu', "a;b x\n", 400, 'non-integer folded count' ],
	[ 'name=my.app', "a;b 1\n", 400, 'unknown type suffix' ],
	[ 'name=bad%24name', "a 1\n", 400, 'invalid character in app name' ],
	[ 'from=now', "a 1\n", 400, 'missing name' ],
	[ 'name=x&format=pprof', 'garbage', 400, 'malformed pprof' ],
	[ 'name=x&format=jfr', 'garbage', 422, 'malformed JFR (422, as upstream)' ],
	[ 'name=x&format=speedscope', '{}', 422, 'malformed speedscope (422, as upstream)' ],
	[ 'name=x&format=trie', 'x', 415, 'trie not supported' ],);
for my $b (@bad)
{
	($st, $body) = http($node, 'POST', "/ingest?$b->[0]", body => $b->[1]);
	is($st, $b->[2], "/ingest error: $b->[3]");
	like($body, qr/^\{"code":"[a-z_]+","message":".+"\}$/, "/ingest error body is Connect JSON: $b->[3]");
}
($st) = http($node, 'GET', '/ingest?name=x');
is($st, 405, '/ingest is POST only');

# a large folded body with Expect: 100-continue, as curl sends it
my $big = join('', map { "main;f$_ 1\n" } 1 .. 20000);
($st) = http($node, 'POST', "/ingest?name=bigapp&from=$now_s", body => $big,
	headers => ['Expect: 100-continue']);
is($st, 200, 'large body with Expect: 100-continue accepted');
is(sql("SELECT nsamples FROM pyroscope.head JOIN pyroscope.series USING (series_id) WHERE service_name = 'bigapp'"),
	'20000', 'all lines stored');

# ---------------------------------------------------------------- Push

my $pprof = make_pprof($now_s * 1_000_000_000,
	[ [ 'main', 'work', 'hot' ], 70_000_000 ], [ [ 'main', 'idle' ], 30_000_000 ]);
my $push = push_request([ '__name__', 'process_cpu', 'service_name', 'pushed' ], $pprof);
my $gz;
gzip(\$push => \$gz) or die $GzipError;
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push', body => $gz,
	headers => [ 'Content-Type: application/proto', 'Content-Encoding: gzip' ]);
is($st, 200, 'Push with gzip body and no Connect-Protocol-Version (pyroscope-rs shape)');
is($body, '', 'empty PushResponse');
($st) = http($node, 'POST', '/push.v1.PusherService/Push', body => $push,
	headers => [ 'Content-Type: application/proto', 'Connect-Protocol-Version: 1',
		'Transfer-Encoding: chunked' ]);
is($st, 200, 'Push with a chunked body');
is(sql("SELECT count(*) FROM pyroscope.head JOIN pyroscope.series USING (series_id) WHERE service_name = 'pushed'"),
	'2', 'two pushes stored two profiles');
is(sql("SELECT sum(total) FROM pyroscope.head JOIN pyroscope.series USING (series_id) WHERE service_name = 'pushed'"),
	'200000000', 'with the pushed totals');

($st, $body) = json_post('/push.v1.PusherService/Push', '{}');
is($st, 400, 'empty Push rejected');
like($body, qr/"code":"invalid_argument".*no profiles received/, 'with "no profiles received"');
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push', body => 'garbage',
	headers => ['Content-Type: application/proto']);
is($st, 400, 'malformed proto Push is invalid_argument');
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push', body => 'x',
	headers => ['Content-Type: text/plain']);
is($st, 415, 'unknown content type is 415');
like($body, qr/application\/proto/, 'naming the accepted types');
($st, $body) = http($node, 'POST', '/push.v1.PusherService/Push', body => 'x',
	headers => [ 'Content-Type: application/proto', 'Content-Encoding: br' ]);
is($st, 501, 'unknown content encoding is unimplemented');
my $before = sql("SELECT count(*) FROM pyroscope.head");
my $mixed = push_request([ '__name__', 'process_cpu', 'service_name', 'mixed' ], $pprof, 'not a pprof');
($st) = http($node, 'POST', '/push.v1.PusherService/Push', body => $mixed,
	headers => ['Content-Type: application/proto']);
is($st, 400, 'Push with one bad profile rejected');
is(sql("SELECT count(*) FROM pyroscope.head"), $before, 'and nothing of it was stored');

# ---------------------------------------------------------------- queries

($st, $body) = json_post('/querier.v1.QuerierService/ProfileTypes', '{}');
is($st, 200, 'ProfileTypes');
my $pt = decode_json_body($body);
ok((grep { $_->{ID} eq $cpu && $_->{name} eq 'process_cpu' && $_->{sampleType} eq 'cpu' }
	  @{ $pt->{profileTypes} }), 'lists the CPU profile type with its parts');

($st, $body) = json_post('/querier.v1.QuerierService/LabelNames',
	qq({"matchers":["{__profile_type__=\\"$cpu\\"}"],"start":"$start_ms","end":"$end_ms"}));
my $ln = decode_json_body($body);
ok((grep { $_ eq 'service_name' } @{ $ln->{names} }), 'LabelNames has service_name');
ok((grep { $_ eq 'env' } @{ $ln->{names} }), 'LabelNames has the inline label');

($st, $body) = json_post('/querier.v1.QuerierService/LabelValues',
	qq({"name":"service_name","matchers":["{__profile_type__=\\"$cpu\\"}"],"start":$start_ms,"end":$end_ms}));
is_deeply(decode_json_body($body)->{names}, [qw(bigapp pushed tapapp)],
	'LabelValues of service_name for the CPU type, sorted');

# the flame graph of the folded data, checked against hand-computed values
my $sel = qq({"profile_typeID":"$cpu","label_selector":"{service_name=\\"tapapp\\"}","start":$start_ms,"end":$end_ms});
($st, $body) = json_post('/querier.v1.QuerierService/SelectMergeStacktraces', $sel);
is($st, 200, 'SelectMergeStacktraces (JSON, snake_case keys)');
my $fg = decode_json_body($body)->{flamegraph};
my @nodes;
for my $d (0 .. $#{ $fg->{levels} })
{
	my @v = @{ $fg->{levels}[$d]{values} };
	my $prev = 0;
	for (my $i = 0; $i < @v; $i += 4)
	{
		my $x = $v[$i] + $prev;
		$prev = $x + $v[ $i + 1 ];
		push @nodes, "$d:$fg->{names}[$v[$i+3]]:$x:$v[$i+1]:$v[$i+2]";
	}
}
is_deeply(\@nodes,
	[ '0:total:0:60000000:0', '1:main:0:60000000:10000000', '2:bar:10000000:20000000:20000000',
		'2:foo:30000000:30000000:30000000' ],
	'flame graph levels: self first, children by name, delta-encoded x');
is($fg->{total}, '60000000', 'total as an int64 string');

# the same flame graph through SQL and through HTTP
($st, $body) = http($node, 'GET',
	"/pyroscope/render?query=$cpu%7Bservice_name%3D%22pushed%22%7D&from=$start_ms&until=$end_ms");
is($st, 200, '/pyroscope/render');
my $render = decode_json_body($body);
my $json = JSON::PP->new->canonical->encode($render->{flamebearer});
is(sql("SELECT pyroscope.flamegraph('$cpu', '{service_name=\"pushed\"}',"
	  . " to_timestamp($start_ms / 1000.0), to_timestamp($end_ms / 1000.0), 8192)"
	  . " = '$json'::jsonb"),
	't', 'HTTP flame graph equals pyroscope.flamegraph() of the same data');
ok($render->{flamebearer}{numTicks} > 0, 'render has data');
is($render->{metadata}{units}, 'samples', 'render metadata units for cpu');
is(eval { my $s = 0; $s += $_ for @{ $render->{timeline}{samples} }; $s },
	$render->{flamebearer}{numTicks}, 'timeline sums to the flame graph total');

# unknown profile type: empty result, not an error
($st, $body) = json_post('/querier.v1.QuerierService/SelectMergeStacktraces',
	qq({"profileTypeID":"nope:a:b:c:d","start":$start_ms,"end":$end_ms}));
is($st, 200, 'unknown profile type answers 200');
is_deeply(decode_json_body($body)->{flamegraph}{names}, ['total'], 'with a root-only flame graph');

# SelectSeries: totals per bucket, grouped
($st, $body) = json_post('/querier.v1.QuerierService/SelectSeries',
	qq({"profileTypeID":"$cpu","labelSelector":"{}","start":$start_ms,"end":$end_ms,"step":60,"groupBy":["service_name"]}));
is($st, 200, 'SelectSeries');
my %sum;
for my $s (@{ decode_json_body($body)->{series} })
{
	$sum{ $s->{labels}[0]{value} } += $_->{value} for @{ $s->{points} };
}
is($sum{tapapp}, 60000000, 'SelectSeries total of the folded app');
is($sum{pushed}, sql("SELECT sum(total) FROM pyroscope.head JOIN pyroscope.series USING (series_id)"
	  . " WHERE service_name = 'pushed' AND profile_type = '$cpu'"),
	'SelectSeries total of the pushed app equals the stored totals');

# SelectMergeProfile in JSON: a pprof with the profile type's sample type
($st, $body) = json_post('/querier.v1.QuerierService/SelectMergeProfile',
	qq({"profileTypeID":"$cpu","labelSelector":"{service_name=\\"tapapp\\"}","start":$start_ms,"end":$end_ms}));
is($st, 200, 'SelectMergeProfile');
my $prof = decode_json_body($body);
is($prof->{stringTable}[ $prof->{sampleType}[0]{type} ], 'cpu', 'merged pprof sample type');
my $tot = 0;
$tot += $_->{value}[0] for @{ $prof->{sample} };
is($tot, 60000000, 'merged pprof total');

# errors of the query API
($st, $body) = json_post('/querier.v1.QuerierService/SelectMergeStacktraces',
	qq({"profileTypeID":"cpu:x","start":$start_ms,"end":$end_ms}));
is($st, 400, 'malformed profile type is 400');
like($body, qr/"code":"invalid_argument"/, 'invalid_argument');
($st) = json_post('/querier.v1.QuerierService/SelectMergeStacktraces',
	qq({"profileTypeID":"$cpu","labelSelector":"{a=","start":$start_ms,"end":$end_ms}));
is($st, 400, 'bad selector is 400');
($st) = json_post('/querier.v1.QuerierService/SelectMergeStacktraces',
	qq({"profileTypeID":"$cpu","start":$end_ms,"end":$start_ms}));
is($st, 400, 'reversed time range is 400');
($st) = json_post('/querier.v1.QuerierService/SelectMergeStacktraces',
	qq({"profileTypeID":"$cpu","start":1,"end":$end_ms}));
is($st, 400, 'time range over a day is 400');
($st) = json_post('/querier.v1.QuerierService/SelectSeries',
	qq({"profileTypeID":"$cpu","start":$start_ms,"end":$end_ms,"step":0}));
is($st, 400, 'step 0 is 400');
($st, $body) = json_post('/adhocprofiles.v1.AdHocProfileService/Upload', '{}');
is($st, 501, 'an unserved Connect method is 501');
like($body, qr/"code":"unimplemented"/, 'unimplemented');
($st, $body) = json_post('/querier.v1.QuerierService/SelectHeatmap',
	qq({"profileTypeID":"$cpu","start":$start_ms,"end":$end_ms,"step":15}));
is($st, 400, 'SelectHeatmap without a query type is 400');
like($body, qr/valid heatmap query type must be specified/, 'as upstream says');
($st) = json_post('/querier.v1.QuerierService/LabelValues', '{"name":""}');
is($st, 400, 'LabelValues without a name is 400');

# settings
($st, $body) = json_post('/settings.v1.SettingsService/Set',
	'{"setting":{"name":"pluginSettings","value":"{}","modifiedAt":"1000"}}');
is($st, 200, 'settings Set');
($st) = json_post('/settings.v1.SettingsService/Set',
	'{"setting":{"name":"pluginSettings","value":"older","modifiedAt":"999"}}');
is($st, 409, 'settings Set with an older modifiedAt is already_exists');
($st, $body) = json_post('/settings.v1.SettingsService/Get', '{}');
is_deeply(decode_json_body($body),
	{ settings => [ { name => 'pluginSettings', value => '{}', modifiedAt => '1000' } ] },
	'settings Get');

# AnalyzeQuery: what the query would read, per tier, equal to the tables' counts
($st, $body) = json_post('/querier.v1.QuerierService/AnalyzeQuery',
	sprintf('{"query":"%s{}","start":"%d","end":"%d"}', $cpu, $start_ms, $end_ms));
is($st, 200, 'AnalyzeQuery over a range');
my $aq = decode_json_body($body);
my ($want_series, $want_profiles, $want_samples) = split /\|/, sql(qq{
	SELECT count(DISTINCT h.series_id), count(*), sum(h.nsamples)
	  FROM pyroscope.head h JOIN pyroscope.series s USING (series_id)
	 WHERE s.tenant = 'anonymous' AND s.profile_type = '$cpu'
	   AND h.ts >= to_timestamp($start_ms / 1000.0) AND h.ts <= to_timestamp($end_ms / 1000.0)});
ok($want_profiles > 0, "the range holds $want_profiles CPU profiles in head");
is($aq->{queryScopes}[0]{componentType}, 'Short term storage', 'the head tier first');
is($aq->{queryScopes}[0]{profileCount}, $want_profiles, '... its profile count');
is($aq->{queryScopes}[0]{sampleCount}, $want_samples, '... its sample count');
is($aq->{queryScopes}[0]{seriesCount}, $want_series, '... its series count');
ok($aq->{queryImpact}{totalBytesInTimeRange} > 0, 'bytes in the time range counted');
is($aq->{queryImpact}{totalQueriedSeries},
	sql(qq{SELECT count(*) FROM pyroscope.series WHERE tenant = 'anonymous' AND profile_type = '$cpu'
		AND first_seen <= to_timestamp($end_ms / 1000.0) AND last_seen >= to_timestamp($start_ms / 1000.0)}),
	'queried series: every CPU series seen in the range');
($st, $body) = json_post('/querier.v1.QuerierService/AnalyzeQuery', sprintf('{"query":"%s{}"}', $cpu));
is_deeply(decode_json_body($body), {}, 'without a time range: the empty answer, as upstream v2');

# ... and once compacted, the blocks tier: the blocks the query reads, whole
sql(qq{SET pyroscope.compact_after = '0'; SELECT pyroscope.compact(now() + interval '2 hours')});
($st, $body) = json_post('/querier.v1.QuerierService/AnalyzeQuery',
	sprintf('{"query":"%s{}","start":"%d","end":"%d"}', $cpu, $start_ms, $end_ms));
$aq = decode_json_body($body);
my ($want_blocks, $want_bprofiles, $want_bsamples, $want_bytes) = split /\|/, sql(qq{
	SELECT count(*), sum(b.nprofiles), sum(b.nsamples), sum(b.size) FROM pyroscope.blocks b
	 WHERE b.tenant = 'anonymous' AND b.min_ts <= to_timestamp($end_ms / 1000.0)
	   AND b.max_ts >= to_timestamp($start_ms / 1000.0)
	   AND b.series_ids && (SELECT array_agg(series_id) FROM pyroscope.series
							 WHERE tenant = 'anonymous' AND profile_type = '$cpu')});
ok($want_blocks > 0, "compacted into $want_blocks blocks");
is($aq->{queryScopes}[1]{componentType}, 'Long term storage', 'the blocks tier second');
is($aq->{queryScopes}[1]{blockCount}, $want_blocks, '... its block count');
is($aq->{queryScopes}[1]{profileCount}, $want_bprofiles, '... the profiles of those blocks');
is($aq->{queryScopes}[1]{sampleCount}, $want_bsamples, '... their samples');
is($aq->{queryScopes}[1]{profileBytes}, $want_bytes, '... their bytes');
is($aq->{queryScopes}[0]{profileCount} // 0, 0, 'nothing left in head');

# the small services Grafana probes (API-2.md 3.6)
($st, $body) = json_post('/capabilities.v1.FeatureFlagsService/GetFeatureFlags', '{}');
is($st, 200, 'GetFeatureFlags');
my $flags = decode_json_body($body)->{featureFlags};
is_deeply([ map { $_->{name} } @$flags ],
	[qw(functionProjections pyroscopeRuler pyroscopeRulerFunctions utf8LabelNames v2StorageLayer)],
	"upstream's flags and Drilldown's functionProjections, sorted by name");
is_deeply([ map { $_->{name} } grep { $_->{enabled} } @$flags ], ['v2StorageLayer'],
	'only v2StorageLayer enabled (profile ids, exemplars, heatmaps are served; the others are not)');
($st, $body) = http($node, 'POST', '/capabilities.v1.FeatureFlagsService/GetFeatureFlags',
	headers => [ 'Content-Type: application/proto' ], body => '');
is($st, 200, 'GetFeatureFlags in proto');
ok(index($body, 'functionProjections') >= 0, '... carries the flag names');
($st, $body) = json_post('/version.v1.Version/Version', '{}');
is($st, 200, 'Version');
is_deeply(decode_json_body($body), { QuerierAPI => '1' }, 'querier API version 1, as upstream');

# gzip responses when accepted
($st, $body, my $hdrs) = http($node, 'GET', "/pyroscope/render?query=$cpu%7B%7D&from=$start_ms&until=$end_ms",
	headers => ['Accept-Encoding: gzip']);
like($hdrs, qr/Content-Encoding: gzip/i, 'large responses are gzipped when accepted');

# ops
($st, $body) = http($node, 'GET', '/metrics');
like($body, qr/pyroscope_http_requests_total\{route="\/ingest",status="200"\} \d+/, 'metrics by route and status');
like($body, qr/pyroscope_http_request_duration_seconds_bucket\{route="\/push.v1.PusherService\/Push",le="\+Inf"\} \d+/,
	'latency histogram by route');
like($body, qr/pyroscope_ingested_profiles_total [1-9]/, 'ingested profiles counted');
like($body, qr/pyroscope_http_errors_total\{reason="invalid_argument"\} [1-9]/, 'errors by reason');
($st, $body) = http($node, 'GET', '/api/v1/status/buildinfo');
is(decode_json_body($body)->{status}, 'success', 'buildinfo');
($st) = http($node, 'GET', '/nope');
is($st, 404, 'unknown path is 404');

$node->stop;
done_testing();

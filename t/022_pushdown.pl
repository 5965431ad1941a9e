# Selections merged where the rows are (pyroscope.merge_pushdown, what a
# Citus cluster does: the per-shard merge runs on the worker holding the
# shard) give the answers of the row-by-row scan, byte for byte, for what
# the pushdown newly covers: span selections (SelectMergeSpanProfile,
# SelectMergeStacktraces with spanSelector or traceIdSelector),
# profile-id selections (SelectMergeProfile and SelectMergeStacktraces
# with profileIdSelector), span heatmaps (SelectHeatmap of spans),
# list_spans() and label queries (LabelNames, LabelValues, Series), over
# head rows, blocks in the database and offloaded blocks.  The answers are
# checked against the pushed samples too.
use strict;
use warnings;

use FindBin;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib $FindBin::RealBin;
use PyroHttp;

# blocks stay in the database until the test offloads them
my $node = start_node('pushdown',
	conf => "pyroscope.http_max_query_length = 0\npyroscope.offload_after = 0\n");
my $json = JSON::PP->new->utf8->canonical;
my $type = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
my $t0 = 1_704_067_200;			# 2024-01-01 00:00:00 UTC
my ($start, $end) = (($t0 - 3600) * 1000, ($t0 + 7200) * 1000);

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub span { return { span_id => sprintf('%016x', $_[0]) }; }
my $trace = '0000000000000000000000000000abcd';
sub traced { return { span_id => sprintf('%016x', $_[0]), trace_id => $trace }; }

# two services, three pprofs each; samples of spans 1-4 and some of none;
# span 1 says its trace where x first and y first have it
my @pprofs = (
	[ 'x', 0, [ [ 'main', 'a' ], 10, traced(1) ], [ [ 'main', 'b' ], 20, span(2) ],
		[ [ 'main', 'c' ], 5 ] ],
	[ 'x', 60, [ [ 'main', 'a' ], 7, span(1) ], [ [ 'main', 'd' ], 3, span(3) ] ],
	[ 'x', 120, [ [ 'main', 'b', 'e' ], 4, span(2) ], [ [ 'main', 'a' ], 1, span(4) ] ],
	[ 'y', 30, [ [ 'main', 'a' ], 100, traced(1) ], [ [ 'main', 'f' ], 50 ] ],
	[ 'y', 90, [ [ 'main', 'g' ], 9, span(3) ] ],
	[ 'y', 150, [ [ 'main', 'a' ], 2, span(2) ] ]);
for my $p (@pprofs)
{
	my ($svc, $dt, @samples) = @$p;
	my $hex = unpack('H*', make_pprof(($t0 + $dt) * 1_000_000_000, @samples));
	sql(qq{SELECT pyroscope.ingest_pprof(decode('$hex', 'hex'),
		jsonb_build_object('service_name', '$svc', 'pod', 'p$dt'), 'anonymous',
		to_timestamp($t0 + $dt))});
}
my @ids = split /\n/, sql(qq{SELECT profile_id FROM pyroscope.list_profiles('$type', '{}',
	'-infinity', 'infinity') ORDER BY ts});
is(scalar(@ids), 6, 'six profiles, each with an id');

# the requests; each answer is kept as the bytes the server sent
my %req = (
	span_flamegraph => [ 'SelectMergeSpanProfile',
		{ spanSelector => [ sprintf('%016x', 1), sprintf('%016x', 3) ] } ],
	span_stacktraces => [ 'SelectMergeStacktraces',
		{ spanSelector => [ sprintf('%016x', 2) ], maxNodes => 0 } ],
	span_one_service => [ 'SelectMergeSpanProfile',
		{ spanSelector => [ sprintf('%016x', 1) ], labelSelector => '{service_name="y"}' } ],
	span_none => [ 'SelectMergeSpanProfile', { spanSelector => [ sprintf('%016x', 99) ] } ],
	trace_stacktraces => [ 'SelectMergeStacktraces', { traceIdSelector => [$trace], maxNodes => 0 } ],
	span_heatmap => [ 'SelectHeatmap',
		{ step => 60, groupBy => [], queryType => 2, exemplarType => 3 } ],
	ids_pprof => [ 'SelectMergeProfile', { profileIdSelector => [ @ids[ 0, 3, 5 ] ] } ],
	ids_stacktraces => [ 'SelectMergeStacktraces',
		{ profileIdSelector => [ $ids[1], $ids[4] ], maxNodes => 0 } ],
	labels_names => [ 'LabelNames', { matchers => ['{service_name=~"x|y"}'] } ],
	labels_values => [ 'LabelValues', { name => 'pod', matchers => ['{service_name="x"}'] } ],
	labels_series => [ 'Series',
		{ matchers => ['{}'], labelNames => [ 'pod', 'service_name' ] } ]);

sub ask
{
	my %out;
	for my $k (sort keys %req)
	{
		my ($method, $body) = @{ $req{$k} };
		my %b = (start => $start, end => $end, %$body);
		$b{profileTypeID} = $type unless $k =~ /^labels_/;
		$b{labelSelector} //= '{}' unless $k =~ /^labels_/;
		my ($st, $resp) = http($node, 'POST', "/querier.v1.QuerierService/$method",
			headers => [ 'Content-Type: application/json' ], body => $json->encode(\%b));
		is($st, 200, "$k: 200") or diag($resp);
		$out{$k} = $resp;
	}
	return \%out;
}

sub with_pushdown
{
	my ($mode) = @_;
	$node->append_conf('postgresql.conf', "pyroscope.merge_pushdown = $mode\n");
	$node->restart;
	wait_ready($node);
	return ask();
}

# the total of a Connect flame graph answer
sub fg_total { return decode_json_body($_[0])->{flamegraph}{total}; }

for my $tier ('head', 'blocks', 'offloaded')
{
	if ($tier eq 'blocks')
	{
		sql(q{INSERT INTO pyroscope.tenant_retention VALUES ('anonymous', interval '100 years')});
		sql(q{SELECT pyroscope.compact('2030-01-01')});
		is(sql('SELECT count(*) FROM pyroscope.head'), '0', 'everything compacted');
		is(sql('SELECT count(*) FROM pyroscope.blocks WHERE data IS NOT NULL'), '2',
			'into a block per service');
	}
	elsif ($tier eq 'offloaded')
	{
		sql(q{SET pyroscope.offload_after = 1; SELECT pyroscope.offload('2030-01-01')});
		is(sql('SELECT count(*) FROM pyroscope.blocks WHERE data IS NULL'), '2',
			'both blocks offloaded');
	}
	my $off = with_pushdown('off');
	my $on = with_pushdown('on');
	for my $k (sort keys %req)
	{
		ok($on->{$k} eq $off->{$k}, "$tier, $k: pushed down = row by row")
		  or diag("on:  $on->{$k}\noff: $off->{$k}");
	}
	# what the pushed samples say
	is(fg_total($on->{span_flamegraph}), 10 + 7 + 3 + 100 + 9, "$tier: spans 1 and 3");
	is(fg_total($on->{span_stacktraces}), 20 + 4 + 2, "$tier: span 2");
	is(fg_total($on->{span_one_service}), 100, "$tier: span 1 of one service");
	is(fg_total($on->{span_none}) // 0, 0, "$tier: an unknown span selects nothing");
	is(fg_total($on->{trace_stacktraces}), 10 + 7 + 100,
		"$tier: a trace selects its span (1) wherever it is");
	{
		my $h = decode_json_body($on->{span_heatmap});
		my @ex = map { @{ $_->{exemplars} // [] } } map { @{ $_->{slots} } } @{ $h->{series} };
		my %spans = map { ($_->{spanId} => 1) } @ex;
		# a cell's exemplar is its biggest point: span 4 (1) loses to span 2 (4)
		is(join(',', sort keys %spans), join(',', map { sprintf('%016x', $_) } 1 .. 3),
			"$tier: span heatmap exemplars of spans 1-3");
	}
	is( sql(q{SET pyroscope.merge_pushdown = on;
			SELECT string_agg(concat_ws(' ', profile_id, series_id, ts, span_id, trace_id, total), ','
							  ORDER BY profile_id, span_id)
			  FROM pyroscope.list_spans('} . $type . q{', '{}', '-infinity', 'infinity')}),
		sql(q{SET pyroscope.merge_pushdown = off;
			SELECT string_agg(concat_ws(' ', profile_id, series_id, ts, span_id, trace_id, total), ','
							  ORDER BY profile_id, span_id)
			  FROM pyroscope.list_spans('} . $type . q{', '{}', '-infinity', 'infinity')}),
		"$tier: list_spans pushed down = row by row");
	is( sql(q{SELECT count(*) || ' ' || sum(total) || ' ' || count(trace_id)
			  FROM pyroscope.list_spans('} . $type . q{', '{}', '-infinity', 'infinity')}),
		'9 156 2', "$tier: 9 spans of profiles, their totals, 2 with their trace");
	is(fg_total($on->{ids_stacktraces}), 100 + 50 + 4 + 1,
		"$tier: two profiles by id (of both services)");
	ok(length($on->{ids_pprof}) > 50, "$tier: a merged pprof of three profiles");
	is_deeply(decode_json_body($on->{labels_values})->{names}, [ 'p0', 'p120', 'p60' ],
		"$tier: label values of one service");
	is(scalar(@{ decode_json_body($on->{labels_series})->{labelsSet} }), 6,
		"$tier: six label sets");
	if ($tier eq 'head')
	{
		# what a span listing reads of a head row: [span, total, trace hi, lo]
		is( sql(qq{SELECT pyroscope.pprof_part_spans(hp.data, h.part)
				  FROM pyroscope.head h JOIN pyroscope.head_pprof hp USING (shard_key, pprof_id)
				 WHERE h.ts = to_timestamp($t0)}),
			'{{1,10,0,43981},{2,20,NULL,NULL}}', 'pprof_part_spans of a head row');
	}
	next unless $tier eq 'blocks';
	is( sql(qq{SELECT count(*) || ' ' || sum(cardinality(s.spans) / 4)
			  FROM pyroscope.blocks b,
				   pyroscope.block_profile_spans(b.data, NULL, '-infinity', 'infinity') s}),
		'6 9', 'block_profile_spans: 6 profiles, 9 spans');

	# the SQL building blocks: a profile's samples of some spans, a block's
	# profiles of some ids
	is( sql(qq{SELECT pyroscope.total(pyroscope.filter_spans(
			pyroscope.block_profile(b.data, NULL, '-infinity', 'infinity', NULL, true),
			ARRAY[1, 3]::bigint[])) FROM pyroscope.blocks b WHERE b.service_name = 'x'}),
		10 + 7 + 3, 'filter_spans of a block kept with its spans');
	is( sql(qq{SELECT pyroscope.total(pyroscope.block_profile(b.data, NULL, '-infinity',
			'infinity', ARRAY['$ids[2]', '$ids[4]']::uuid[], false)) FROM pyroscope.blocks b
			WHERE b.service_name = 'x'}),
		7 + 3 + 4 + 1, 'block_profile of two profile ids');
	is( sql(qq{SELECT pyroscope.block_profile(b.data, NULL, '-infinity', 'infinity', '{}', false)
			IS NULL FROM pyroscope.blocks b WHERE b.service_name = 'x'}),
		't', 'block_profile of no profile id is NULL');
	my ($rc, $out, $err) = $node->psql('postgres',
		q{SELECT pyroscope.filter_spans(pyroscope.block_profile(b.data, NULL, '-infinity',
			'infinity'), ARRAY[1, NULL]::bigint[]) FROM pyroscope.blocks b});
	like($err, qr/span_ids must not contain NULL/, 'a NULL span id is an error');
}

done_testing();

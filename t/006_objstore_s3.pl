# Offload to a real S3-compatible server (s3rver, which verifies SigV4):
# a wrong secret fails clearly and drops nothing; the offload worker killed
# during an upload and after the upload but before its commit, and the S3
# server stopped in the middle, each leave every block in exactly one
# place and the next run finishes the job; answers are the same after
# offload; retention removes the objects; an unreachable or silent store
# gives a clear error or the statement timeout, never a hang; over HTTP
# an unreachable store is 503 unavailable and names no endpoint.
use strict;
use warnings;

use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IPC::Run;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PyroHttp;

# Skipped only when asked (scripts/test.sh --skip s3); a missing s3rver fails.
my $s3dir = $ENV{PYRO_S3RVER_DIR} // 'test/objstore';
plan skip_all => 'asked to skip the S3 tests (PYRO_SKIP_S3)' if $ENV{PYRO_SKIP_S3};
BAIL_OUT("s3rver is not installed in $s3dir (scripts/test.sh installs it; npm ci there)")
  unless -d "$s3dir/node_modules/\@20minutes/s3rver";

my $data = File::Spec->rel2abs($ENV{PYRO_TEST_DATA} // 'test/data');
my $s3port = PostgreSQL::Test::Cluster::get_free_port();
my $s3data = tempdir(CLEANUP => 1);
my $s3pid;

sub s3_start
{
	$s3pid = fork();
	die "fork: $!" unless defined $s3pid;
	if ($s3pid == 0)
	{
		chdir $s3dir or die;
		open(STDOUT, '>', "$s3data.log");
		open(STDERR, '>&', \*STDOUT);
		exec('node', '-e',
			"require('\@20minutes/s3rver/lib/cli.js').parseAsync(process.argv.slice(1),{from:'user'})",
			'--', '-d', $s3data, '-a', '127.0.0.1', '-p', $s3port, '-s',
			'--configure-bucket', 'pyro');
	}
	for (1 .. 100)
	{
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$s3port");
		return if $s;
		select(undef, undef, undef, 0.1);
	}
	die "s3rver did not start";
}

sub s3_stop
{
	return unless $s3pid;
	kill 'TERM', $s3pid;
	waitpid($s3pid, 0);
	$s3pid = undef;
}
END { local $?; s3_stop(); }

s3_start();

my $node = PostgreSQL::Test::Cluster->new('objstore');
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
$node->{http_port} = $http_port;
$node->init;
$node->append_conf('postgresql.conf', qq{
pyroscope.reject_older_than = 0
pyroscope.reject_newer_than = 0
shared_preload_libraries = 'pyroscope'
pyroscope.http_port = $http_port
pyroscope.http_workers = 1
pyroscope.http_query_workers = 1
pyroscope.compactor = off
pyroscope.offload_after = 0
pyroscope.offload_interval = 1s
pyroscope.object_store_url = 's3://pyro/t'
pyroscope.s3_endpoint = 'http://127.0.0.1:$s3port'
pyroscope.s3_access_key = 'S3RVER'
pyroscope.s3_secret_key = 'S3RVER'
pyroscope.object_store_retries = 1
restart_after_crash = on
});
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION pyroscope');
sql(qq{
CREATE FUNCTION ingest_at(path text, labels jsonb, at timestamptz) RETURNS integer
LANGUAGE plpgsql AS \$\$
DECLARE n integer;
BEGIN
	n := pyroscope.ingest_pprof(pg_read_binary_file(path), labels);
	UPDATE pyroscope.head SET ts = at
	 WHERE pprof_id = (SELECT max(pprof_id) FROM pyroscope.head_pprof);
	RETURN n;
END \$\$;
-- two hours either side of yesterday's midnight, so that the data spans
-- two days (and two day blocks per service) and is older than the
-- offload_after of 1 h below whatever the time the test runs (with today's
-- midnight, a run just after it found nothing old enough to offload)
SELECT ingest_at(f.path, jsonb_build_object('service_name', f.service, 'pod', p.pod),
				 date_trunc('day', now()) - interval '1 day' - interval '2 hours'
				 + h * interval '1 hour' + p.off)
  FROM (VALUES ('$data/pprof/go/cpu.pb.gz', 'checkout'),
			   ('$data/pprof/java/profile_java.pb.gz', 'ledger')) f(path, service),
	   (VALUES ('p1', interval '10 min'), ('p2', interval '55 min')) p(pod, off),
	   generate_series(0, 3) h;
UPDATE pyroscope.series s SET first_seen = m.lo, last_seen = m.hi
  FROM (SELECT series_id, min(ts) lo, max(ts) hi FROM pyroscope.head GROUP BY 1) m
 WHERE m.series_id = s.series_id;
SELECT pyroscope.compact(now() + interval '1 day');
});
my $nblocks = sql('SELECT count(*) FROM pyroscope.blocks');
ok($nblocks >= 4, "blocks to offload ($nblocks)");

sql(q{
CREATE VIEW profiles AS
	SELECT b.block_id, r.series_id, r.ts, r.total
	  FROM pyroscope.blocks b, pyroscope.read_block(b.block_id) r;
CREATE TABLE expected AS SELECT * FROM profiles;
-- a fixed window: heatmap slots are counted from its start, and merged
-- pprofs and call graphs are timed at its end
CREATE TABLE win AS SELECT now() - interval '3 days' AS lo, now() AS hi;
CREATE FUNCTION answers() RETURNS TABLE (q text, a text) LANGUAGE sql AS $$
	SELECT t.pt || ' ' || s.sel,
		   pyroscope.flamegraph(t.pt, s.sel, now() - interval '3 days', now())::text
	  FROM pyroscope.profile_types() t(pt), (VALUES ('{}'), ('{pod="p1"}')) s(sel)
	UNION ALL
	-- the individual profiles (ids kept in the blocks), each one alone, the
	-- heatmap of them and the call graph
	SELECT 'list ' || t.pt, string_agg(concat_ws(' ', l.profile_id, l.series_id, l.ts, l.total), ',' ORDER BY l.profile_id, l.series_id)
	  FROM pyroscope.profile_types() t(pt),
		   pyroscope.list_profiles(t.pt, '{}', now() - interval '3 days', now()) l GROUP BY t.pt
	UNION ALL
	SELECT 'one ' || t.pt || ' ' || l.profile_id,
		   md5(pyroscope.profiles_pprof(t.pt, ARRAY[l.profile_id], '{}', (SELECT lo FROM win), (SELECT hi FROM win)))
	  FROM pyroscope.profile_types() t(pt),
		   pyroscope.list_profiles(t.pt, '{}', now() - interval '3 days', now()) l
	UNION ALL
	SELECT 'heatmap ' || t.pt, string_agg(concat_ws(' ', h.labels, h.slot, h.bucket, h.count, h.exemplar_value, h.exemplar_profile_id),
										  ',' ORDER BY h.labels::text, h.slot, h.bucket)
	  FROM pyroscope.profile_types() t(pt),
		   pyroscope.heatmap(t.pt, '{}', (SELECT lo FROM win), (SELECT hi FROM win),
							 '1 hour', 'individual', '{pod}') h GROUP BY t.pt
	UNION ALL
	SELECT 'dot ' || t.pt, md5(pyroscope.dot(t.pt, '{}', (SELECT lo FROM win), (SELECT hi FROM win)))
	  FROM pyroscope.profile_types() t(pt)
$$;
CREATE TABLE expected_answers AS SELECT * FROM answers();
});

# every block in exactly one place, every profile once with its total
sub check_one_place
{
	my ($what) = @_;
	is(sql(q{SELECT count(*) FROM pyroscope.blocks WHERE (data IS NULL) = (object_key IS NULL)}),
		0, "$what: no block in two places or none");
	is(sql('SELECT count(*) FROM pyroscope.blocks'), $nblocks, "$what: no block lost or duplicated");
	is(sql(q{SELECT count(*) FROM ((SELECT * FROM expected EXCEPT ALL SELECT * FROM profiles)
				UNION ALL (SELECT * FROM profiles EXCEPT ALL SELECT * FROM expected)) d}),
		0, "$what: every profile once, same totals");
}

# 1. a wrong secret: a clear error, nothing dropped
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET pyroscope.s3_secret_key = 'wrong';
	SET pyroscope.offload_after = '1h';
	SELECT pyroscope.offload();});
isnt($ret, 0, 'offload with a wrong secret fails');
like($err, qr/could not upload block \d+ in object store "s3:\/\/pyro\/t\/ at http:\/\/127\.0\.0\.1:\d+": PUT .*HTTP 403 SignatureDoesNotMatch/,
	'wrong secret: the error names the block, the store and SignatureDoesNotMatch');
is(sql(q{SELECT count(*) FROM pyroscope.blocks WHERE data IS NOT NULL}), $nblocks,
	'wrong secret: every block still in the database');
check_one_place('wrong secret');

sub offloader_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pyroscope offloader'});
}

sub kill_offloader_at
{
	my ($point) = @_;
	my $off = -s $node->logfile;
	sql(qq{ALTER SYSTEM SET pyroscope.offload_test_pause = '$point'});
	sql(q{ALTER SYSTEM SET pyroscope.offload_test_delay = '60s'});
	sql(q{ALTER SYSTEM SET pyroscope.offload_after = '1h'});
	sql('SELECT pg_reload_conf()');
	$node->wait_for_log(qr/test pause "$point"/, $off);
	my $pid = offloader_pid();
	ok($pid, "offloader paused at $point");
	# what the restarted worker inherits from the postmaster (the paused
	# worker stays in its pause: it reloads only between blocks)
	sql(q{ALTER SYSTEM SET pyroscope.offload_after = 0});
	sql(q{ALTER SYSTEM RESET pyroscope.offload_test_pause});
	sql(q{ALTER SYSTEM RESET pyroscope.offload_test_delay});
	sql('SELECT pg_reload_conf()');
	$node->poll_query_until('postgres', q{SELECT current_setting('pyroscope.offload_after') = '0'})
	  or die;
	kill 'KILL', $pid;
	# the postmaster restarts everything after a crash
	$node->poll_query_until('postgres', 'SELECT true') or die;
}

# 2. killed during an upload
kill_offloader_at('upload');
check_one_place('killed during upload');
is(sql(q{SELECT count(*) FROM pyroscope.blocks WHERE object_key IS NOT NULL}), 0,
	'killed during upload: nothing switched');

# 3. killed after the upload, before the commit: an orphan, the row unchanged
kill_offloader_at('commit');
check_one_place('killed before commit');
is(sql(q{SELECT count(*) FROM pyroscope.blocks WHERE object_key IS NOT NULL}), 0,
	'killed before commit: nothing switched');
ok(sql(q{SELECT count(*) FROM pyroscope.object_store_list('blocks/')}) >= 1,
	'killed before commit: the uploaded object is there, referenced by no row');

# 4. the S3 server stops in the middle of an upload
{
	my $off = -s $node->logfile;
	sql(q{ALTER SYSTEM SET pyroscope.offload_test_pause = 'upload'});
	sql(q{ALTER SYSTEM SET pyroscope.offload_test_delay = '3s'});
	sql(q{ALTER SYSTEM SET pyroscope.offload_after = '1h'});
	sql('SELECT pg_reload_conf()');
	$node->wait_for_log(qr/test pause "upload"/, $off);
	s3_stop();
	$node->wait_for_log(qr/pyroscope offloader: block \d+: could not upload block/, $off);
	sql(q{ALTER SYSTEM SET pyroscope.offload_after = 0});
	sql('SELECT pg_reload_conf()');
	$node->poll_query_until('postgres', q{
		SELECT NOT EXISTS (SELECT 1 FROM pyroscope.job_runs WHERE job = 'offload' AND status = 'running')})
	  or die;
	ok(sql(q{SELECT count(*) FROM pyroscope.job_runs WHERE job = 'offload' AND status = 'failed'
			   AND error ~ 'could not upload block'}) >= 1, 'store down: the failure is recorded');
	s3_start();
	check_one_place('store down');
}

# 5. the next run finishes the job: every block offloaded, verified, no orphans
sql(q{ALTER SYSTEM RESET pyroscope.offload_test_pause});
sql(q{ALTER SYSTEM RESET pyroscope.offload_test_delay});
sql(q{ALTER SYSTEM SET pyroscope.offload_after = '1h'});
sql('SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pyroscope.blocks WHERE data IS NOT NULL}), 'every block offloaded');
ok($node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM pyroscope.object_store_list('blocks/'))
		 = (SELECT count(*) FROM pyroscope.blocks)}), 'orphans swept: one object per block');
check_one_place('offloaded');
is(sql(q{SELECT count(*) FROM pyroscope.blocks b
		  LEFT JOIN pyroscope.object_store_list('blocks/') o ON o.key = b.object_key
		  WHERE o.size IS DISTINCT FROM b.size}), 0, 'each object has its block size');
is(sql(q{SELECT count(*) FROM pyroscope.job_runs WHERE job = 'offload' AND trigger = 'worker'
		  AND status = 'success' AND blocks_written > 0}), 1, 'the finishing run is recorded');
like(sql(q{SELECT string_agg(counter || '=' || (value > 0), ',' ORDER BY counter)
			 FROM pyroscope.object_store_stats() WHERE counter IN ('uploads', 'blocks_offloaded')}),
	qr/blocks_offloaded=true,uploads=true/, 'counters count uploads');
sql(q{ALTER SYSTEM SET pyroscope.offload_after = 0});
sql('SELECT pg_reload_conf()');

is(sql(q{SELECT count(*) FROM ((SELECT * FROM expected_answers EXCEPT SELECT * FROM answers())
			UNION ALL (SELECT * FROM answers() EXCEPT SELECT * FROM expected_answers)) d}),
	0, 'flame graphs are the same after offload');
is(sql(q{SELECT count(*) FROM expected_answers WHERE q LIKE 'list %' AND a !~ '^[0-9a-f]{8}-'}), 0,
	'the blocks kept the profile ids');
is(sql(q{SELECT count(*) FROM expected_answers
		   WHERE a IS NULL OR (q !~ '^(list|one|heatmap|dot) ' AND a !~ '"numTicks": [1-9]')}), 0,
	'the compared flame graphs are not empty');

# 5b. other interrupts during a cold read: a session asked by another to log
# its memory contexts (an interrupt that is no cancel, like a parallel
# worker's message) reads on; a cancel stops the read with the cancel's error
for my $case ('log', 'cancel')
{
	my ($in, $o, $e) = ('', '', '');
	my $offset = -s $node->logfile;
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres') . " application_name=cold_$case",
			'-c', q{SET pyroscope.cache_size = 0},
			'-c', q{SET pyroscope.offload_test_pause = 'read'},
			'-c', q{SET pyroscope.offload_test_delay = '3s'},
			'-c', q{SELECT count(*) > 0 FROM pyroscope.read_block((SELECT min(block_id) FROM pyroscope.blocks))}
		],
		'<', \$in, '>', \$o, '2>', \$e);
	$node->wait_for_log(qr/test pause "read"/, $offset);
	my $pid = sql(qq{SELECT pid FROM pg_stat_activity WHERE application_name = 'cold_$case'});
	if ($case eq 'log')
	{
		sql(qq{SELECT pg_log_backend_memory_contexts($pid)});
		$h->finish;
		is($o, "t\n", 'a cold read asked to log its memory contexts reads on')
		  or diag($e);
	}
	else
	{
		sql(qq{SELECT pg_cancel_backend($pid)});
		$h->finish;
		like($e, qr/canceling statement due to user request/, 'a cancelled cold read: the cancel');
	}
}

# 6. cold reads with the store unreachable: a clear error naming block and store
s3_stop();
($ret, $out, $err) = $node->psql('postgres', q{
	SET pyroscope.cache_size = 0;
	SELECT count(*) FROM pyroscope.read_block((SELECT min(block_id) FROM pyroscope.blocks));});
isnt($ret, 0, 'unreachable store: the read fails');
like($err, qr/could not read block \d+: could not read block \d+ \(object "blocks\/[^"]+"\) from object store "s3:\/\/pyro\/t\/ at http:\/\/127\.0\.0\.1:\d+"/,
	'unreachable store: the error names the block and the store');

# ... and over HTTP: 503 unavailable, and the endpoint is not shown
sql(q{ALTER SYSTEM SET pyroscope.cache_size = 0});
sql('SELECT pg_reload_conf()');
select(undef, undef, undef, 0.5);
{
	my $type = sql(q{SELECT profile_type FROM pyroscope.series s
		WHERE EXISTS (SELECT 1 FROM pyroscope.blocks b WHERE s.series_id = ANY (b.series_ids)) LIMIT 1});
	my $end = sql(q{SELECT (extract(epoch FROM max(max_ts)) * 1000)::bigint + 1 FROM pyroscope.blocks});
	my ($st, $body) = http($node, 'POST', '/querier.v1.QuerierService/SelectMergeStacktraces',
		headers => [ 'Content-Type: application/json' ],
		body => sprintf('{"profileTypeID":"%s","labelSelector":"{}","start":%d,"end":%d}',
			$type, $end - 3_600_000, $end));
	is($st, 503, 'unreachable store over HTTP: 503');
	like($body, qr/"code":"unavailable"/, '... Connect code unavailable');
	unlike($body, qr/127\.0\.0\.1|$s3port|s3:/, '... and the body names no endpoint');
}
sql(q{ALTER SYSTEM RESET pyroscope.cache_size});
sql('SELECT pg_reload_conf()');

# 7. a store that accepts connections and never answers: statement_timeout wins
{
	my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5)
	  or die "listen: $!";
	my $port = $silent->sockport;
	my $t0 = time();
	($ret, $out, $err) = $node->psql('postgres', qq{
		SET pyroscope.cache_size = 0;
		SET pyroscope.s3_endpoint = 'http://127.0.0.1:$port';
		SET statement_timeout = '2s';
		SELECT count(*) FROM pyroscope.read_block((SELECT min(block_id) FROM pyroscope.blocks));});
	my $elapsed = time() - $t0;
	isnt($ret, 0, 'silent store: the read fails');
	like($err, qr/canceling statement due to statement timeout/, 'silent store: statement timeout');
	ok($elapsed < 15, sprintf('silent store: no hang (%.1f s)', $elapsed));
	close($silent);
}
s3_start();

# 8. retention removes the rows, then the objects
sql(q{INSERT INTO pyroscope.tenant_retention VALUES ('anonymous', '1 hour')});
sql(q{SELECT pyroscope.offload()});
is(sql('SELECT count(*) FROM pyroscope.blocks'), 0, 'retention: offloaded blocks deleted');
sql(q{SELECT pyroscope.offload()});
is(sql(q{SELECT count(*) FROM pyroscope.object_store_list('blocks/')}), 0,
	'retention: their objects deleted');
is(sql('SELECT count(*) FROM pyroscope.object_deletions'), 0, 'retention: queue drained');

$node->stop;
done_testing();

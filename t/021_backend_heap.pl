# The postmaster leaves its malloc heap ending on a 2 MB boundary, so that
# the heap each backend and worker grows from it is made of transparent
# huge pages from its first byte (glibc.malloc.hugetlb=1, what
# scripts/cluster.sh and scripts/server.sh start the server with).  Before,
# the postmaster's heap ended anywhere, and a new backend's first query
# took up to ~500 extra 4 kB page faults (bench/query.sh: "first query on
# a new connection").
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use PostgreSQL::Test::Utils;
use PyroHttp;
use Test::More;

# glibc aligns its heap growth only when transparent huge pages are
# available (madvise or always); say so instead of passing vacuously
my $thp = slurp_file('/sys/kernel/mm/transparent_hugepage/enabled');
plan skip_all => "transparent huge pages are off on this kernel ($thp)"
  if $thp =~ /\[never\]/;

$ENV{GLIBC_TUNABLES} = 'glibc.malloc.hugetlb=1';
my $node = start_node('heap');
my $two_mb = 2 * 1024 * 1024;

# the end of the last [heap] mapping of a process
sub heap_end
{
	my ($pid) = @_;
	my $end;
	for my $line (split /\n/, slurp_file("/proc/$pid/maps"))
	{
		$end = hex($1) if $line =~ /^[0-9a-f]+-([0-9a-f]+) .*\[heap\]$/;
	}
	return $end;
}

my ($pm) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
my $end = heap_end($pm);
ok(defined $end, "the postmaster ($pm) has a heap");
is($end % $two_mb, 0, sprintf('its end 0x%x is on a 2 MB boundary', $end));

# a backend grows that heap: its growth starts on the boundary, and the
# kernel may back it with huge pages (THPeligible)
# (3,000 prepared statements: a few MB in small memory contexts, malloc's
# heap and not its mmap; then the backend's own memory map)
my $smaps = $node->safe_psql('postgres', q{
	DO $$ BEGIN
		FOR i IN 1..3000 LOOP
			EXECUTE format('PREPARE p%s AS SELECT %s, $1::text', i, i);
		END LOOP;
	END $$;
	SELECT pg_read_file('/proc/self/smaps');});
my ($growth) = grep { /^([0-9a-f]+)-[0-9a-f]+ .*\[heap\]/ && hex($1) == $end }
  split /\n(?=[0-9a-f]+-[0-9a-f]+ )/, $smaps;
ok(defined $growth, 'a backend grows its heap from the postmaster\'s end')
  or diag join "\n", grep { /\[heap\]/ } split /\n/, $smaps;
like($growth // '', qr/^THPeligible:\s+1$/m, 'and that growth may be made of huge pages');

# Below that end, a backend first takes what the postmaster's heap has
# free, in ordinary pages: up to 2 MB, depending on where the heap began
# (a random place).  The postmaster takes that free top (less 64 kB) in
# chunks it never touches, so a backend's allocations go past the end
# instead.  Measured as the resident heap below the end, in the backend
# after its 3,000 prepared statements against the postmaster's: without
# that step it grew by 228 kB to 1.8 MB from one start to the next (57 to
# 460 pages of 4 kB, each a page fault; a new connection's first 1 h flame
# graph took 63 to 198 page faults, now 62 to 71).
# Three starts, as the place is random.
sub heap_rss_below
{
	my ($smaps, $end) = @_;
	my $rss = 0;
	for my $m (split /\n(?=[0-9a-f]+-[0-9a-f]+ )/, $smaps)
	{
		next unless $m =~ /^[0-9a-f]+-([0-9a-f]+) .*\[heap\]/ && hex($1) <= $end;
		$rss += $1 if $m =~ /^Rss:\s+(\d+) kB$/m;
	}
	return $rss;
}
for my $start (1 .. 3)
{
	$node->restart if $start > 1;
	($pm) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
	$end = heap_end($pm);
	my $pm_rss = heap_rss_below(slurp_file("/proc/$pm/smaps"), $end);
	my $be_rss = heap_rss_below(
		$node->safe_psql('postgres', q{
		DO $$ BEGIN
			FOR i IN 1..3000 LOOP
				EXECUTE format('PREPARE p%s AS SELECT %s, $1::text', i, i);
			END LOOP;
		END $$;
		SELECT pg_read_file('/proc/self/smaps');}), $end);
	cmp_ok($be_rss - $pm_rss, '<=', 128,
		"start $start: a backend touches no more than 128 kB of the heap below the postmaster's end"
		  . " beyond the postmaster's own ($be_rss kB against $pm_rss kB)");
}

# A crash makes the postmaster reinitialise.  The free top is taken once:
# taken again each time, the postmaster's next allocations grew its heap by
# a fresh huge page at every crash (2 MB more resident each, measured).
sub rss_anon
{
	my ($pid) = @_;
	return slurp_file("/proc/$pid/status") =~ /^RssAnon:\s+(\d+) kB$/m ? $1 : undef;
}
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");	# off in the TAP suites
$node->reload;
my $rss0 = rss_anon($pm);
for my $crash (1 .. 3)
{
	my ($victim, $t) = split /\|/, $node->safe_psql('postgres', q{
		SELECT pid, now() FROM pg_stat_activity WHERE backend_type LIKE 'pyroscope%' LIMIT 1});
	kill 'KILL', $victim;
	ok( $node->poll_query_until('postgres', qq{
		SELECT count(*) > 0 AND min(backend_start) > '$t'
		  FROM pg_stat_activity WHERE backend_type LIKE 'pyroscope%'}),
		"crash $crash (worker $victim killed): the server restarted its processes");
}
my $rss = rss_anon($pm);
cmp_ok($rss - $rss0, '<=', 3 * 1024,
	"three crashes grew the postmaster's private memory by at most 3 MB ($rss0 kB, then $rss kB)");

$node->stop;
done_testing();

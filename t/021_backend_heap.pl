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

$node->stop;
done_testing();

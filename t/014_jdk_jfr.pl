# A real producer (issue 12): a small Java program runs under the JDK's own
# Flight Recorder (openjdk-17-jdk-headless; scripts/install-deps.sh test
# installs it); its recording is pushed to /ingest?format=jfr and stored
# with pyroscope.ingest_jfr().  Per profile type the stored totals equal
# those of the JDK's `jfr print --json` summed by an independent script,
# and the program's hot method tops the CPU flame graph.
use strict;
use warnings;

use Cwd ();

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib $FindBin::RealBin;
use PyroHttp;

for my $tool (qw(java javac jfr python3))
{
	system("command -v $tool >/dev/null 2>&1") == 0
	  or BAIL_OUT("$tool is missing: scripts/install-deps.sh test installs a JDK");
}

# absolute: the server reads the recording from there (PostgreSQL 17's
# tmp_check is relative to the test's directory)
my $dir = Cwd::abs_path($PostgreSQL::Test::Utils::tmp_check) . "/jdk";
mkdir $dir;
sub write_file
{
	my ($f, $text) = @_;
	open my $fh, '>', $f or die "$f: $!";
	print $fh $text;
	close $fh;
}

# a CPU-hot method, allocation, a parked thread and a contended monitor
write_file("$dir/Hot.java", <<'JAVA');
import java.util.concurrent.locks.LockSupport;

public class Hot {
    static final Object lock = new Object();
    static volatile double sink;
    static volatile Object keep;

    static double burn(long n) {
        double s = 0;
        for (long i = 1; i < n; i++) s += Math.sqrt(i) / i;
        return s;
    }

    public static void main(String[] args) throws Exception {
        long until = System.nanoTime() + Long.parseLong(args[0]) * 1000000L;
        Thread parker = new Thread(() -> {
            while (System.nanoTime() < until) LockSupport.parkNanos(30000000L);
        }, "parker");
        Thread holder = new Thread(() -> {
            while (System.nanoTime() < until) {
                synchronized (lock) { LockSupport.parkNanos(40000000L); }
                LockSupport.parkNanos(1000000L);
            }
        }, "holder");
        parker.start();
        holder.start();
        while (System.nanoTime() < until) {
            sink += burn(2000000);
            keep = new byte[64 * 1024];
            synchronized (lock) { sink += 1; }
        }
        parker.join();
        holder.join();
    }
}
JAVA

# the JDK's own totals, summed from `jfr print --json` (not by our parser)
write_file("$dir/totals.py", <<'PY');
import collections, decimal, json, re, sys
def ns(d):
    h, m, s = re.match(r'^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$', d).groups()
    return int((decimal.Decimal(h or 0) * 3600 + decimal.Decimal(m or 0) * 60
                + decimal.Decimal(s or 0)) * 10**9)
period = 10**9 // int(sys.argv[2])
t = collections.Counter()
for e in json.load(open(sys.argv[1]))['recording']['events']:
    v = e['values']
    if not v.get('stackTrace'):
        continue
    if e['type'] == 'jdk.ExecutionSample' and v.get('state') != 'STATE_SLEEPING':
        t['process_cpu:cpu:nanoseconds:cpu:nanoseconds'] += period
    elif e['type'] == 'jdk.ObjectAllocationSample':
        t['memory:alloc_sample_objects:count:space:bytes'] += 1
        t['memory:alloc_sample_bytes:bytes:space:bytes'] += int(v['weight'])
    elif e['type'] == 'jdk.ThreadPark':
        t['block:contentions:count:block:count'] += 1
        t['block:delay:nanoseconds:block:count'] += ns(v['duration'])
    elif e['type'] == 'jdk.JavaMonitorEnter':
        t['mutex:contentions:count:mutex:count'] += 1
        t['mutex:delay:nanoseconds:mutex:count'] += ns(v['duration'])
for k in sorted(t):
    print('%s=%d' % (k, t[k]))
PY

sub run
{
	my @cmd = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err)
	  or die "@cmd failed: $err";
	return $out;
}
run('javac', '-d', $dir, "$dir/Hot.java");
run('java', '-cp', $dir,
	"-XX:StartFlightRecording:filename=$dir/rec.jfr,settings=profile,dumponexit=true",
	'Hot', '3000');
ok(-s "$dir/rec.jfr", 'the JDK wrote a recording');
my $json = run('jfr', 'print', '--json', '--events',
	'jdk.ExecutionSample,jdk.ObjectAllocationSample,jdk.ThreadPark,jdk.JavaMonitorEnter',
	"$dir/rec.jfr");
write_file("$dir/rec.json", $json);
my %jdk = map { split /=/ } split /\n/, run('python3', "$dir/totals.py", "$dir/rec.json", 100);
for my $t ('process_cpu:cpu:nanoseconds:cpu:nanoseconds', 'memory:alloc_sample_objects:count:space:bytes',
	'block:contentions:count:block:count', 'mutex:contentions:count:mutex:count')
{
	ok(($jdk{$t} // 0) > 0, "the recording has events of $t");
}

my $node = start_node('jdk', workers => 1);
sub sql { return $node->safe_psql('postgres', $_[0]); }

my $now = time();
my ($st, $body) = http($node, 'POST',
	"/ingest?name=hot.app&format=jfr&sampleRate=100&spyName=jfr&from=" . ($now - 5) . "&until=$now",
	headers => ['Content-Type: application/octet-stream'], body_file => "$dir/rec.jfr");
is($st, 200, 'POST /ingest?format=jfr of the JDK recording') or diag($body);
is(sql("SELECT pyroscope.ingest_jfr(pg_read_binary_file('$dir/rec.jfr'), NULL, "
	  . "'{\"service_name\": \"hot.sql\"}', sample_rate => 100) > 0"), 't',
	'pyroscope.ingest_jfr of the same recording');

for my $svc ('hot.app', 'hot.sql')
{
	my %ours = map { split /\|/ } split /\n/, sql(
		"SELECT s.profile_type, sum(h.total) FROM pyroscope.head h JOIN pyroscope.series s "
		  . "USING (series_id) WHERE s.labels->>'service_name' = '$svc' GROUP BY 1");
	is_deeply(\%ours, \%jdk, "$svc: totals per profile type equal the jfr tool's")
	  or diag(explain(\%ours), explain(\%jdk));
	is(sql("SELECT function_name FROM pyroscope.top_functions("
		  . "'process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name=\"$svc\"}', "
		  . "'-infinity', 'infinity') ORDER BY self DESC LIMIT 1"),
		'Hot.burn', "$svc: the hot method tops the CPU graph");
}
is(sql("SELECT count(*) FROM pyroscope.series WHERE labels ? 'jfr_event'"), 0,
	'a JDK recording has no jfr_event');

done_testing();

#!/usr/bin/perl
# Checks that every SQL statement in the C code that reads or writes a
# distributed table (series, head, head_pprof, blocks, object_deletions)
# names the distribution key shard_key (docs/scaling-out.md), so that it
# is pruned to the partitions or Citus shards it needs.  A statement that
# must read every shard says so in its text with the comment
# /* every shard */, and is listed.  The head of a statement over the
# series of a selection (pyroscope_series_statement(), whose WHERE clause
# names shard_key when the selector names the service and reads every
# shard otherwise) says so with /* series of a selection */, and is listed.
#
# A statement is a run of adjacent C string literals (concatenated by the
# compiler), macro calls between them included, outside comments.
#
#   scripts/check-shard-key.pl [FILE...]   default: every .c under src/ and bgworkers/
#   scripts/check-shard-key.pl --self-test  shows that the check fails on a bad statement
use strict;
use warnings;

# a table named where a statement reads or writes it (not, say, in a
# 'pyroscope.series'::regclass literal)
my $TABLES = qr/\b(?:FROM|JOIN|INTO|UPDATE)\s+pyroscope\.(?:series|head|head_pprof|blocks|object_deletions)\b/i;

# The statements of a C source: [line, text] for every run of literals.
sub statements
{
	my ($src) = @_;
	my @out;
	my $n = length $src;
	my $i = 0;
	my $line = 1;
	my ($text, $start, $last_end);

	my $flush = sub {
		push @out, [$start, $text] if defined $text;
		undef $text;
	};
	while ($i < $n)
	{
		my $c = substr($src, $i, 1);
		if ($c eq "\n") { $line++; $i++; next; }
		if (substr($src, $i, 2) eq '/*')
		{
			my $e = index($src, '*/', $i + 2);
			$e = $n - 2 if $e < 0;
			$line += (substr($src, $i, $e + 2 - $i) =~ tr/\n//);
			$i = $e + 2;
			next;
		}
		if (substr($src, $i, 2) eq '//')
		{
			my $e = index($src, "\n", $i);
			$i = $e < 0 ? $n : $e;
			next;
		}
		if ($c eq "'")
		{
			# a character constant: skip it, ending any run
			$flush->();
			$i++;
			$i++ while $i < $n && substr($src, $i, 1) ne "'" && (substr($src, $i, 1) ne "\\" || $i++);
			$i++;
			next;
		}
		if ($c eq '"')
		{
			my $s = '';
			my $at = $line;
			$i++;
			while ($i < $n && substr($src, $i, 1) ne '"')
			{
				if (substr($src, $i, 1) eq "\\") { $s .= substr($src, $i, 2); $i += 2; next; }
				$s .= substr($src, $i, 1);
				$i++;
			}
			$i++;
			if (defined $text) { $text .= $s; }
			else { $text = $s; $start = $at; }
			next;
		}
		if ($c =~ /\s/) { $i++; next; }
		# a macro call between literals (CppAsString2(X), RETENTION_OF("a", "b"))
		# keeps the run going; its literal arguments join the text
		if (defined $text && substr($src, $i) =~ /^([A-Z_][A-Z0-9_]*)\s*\(/)
		{
			$i += length $&;
			my $depth = 1;
			while ($i < $n && $depth > 0)
			{
				my $d = substr($src, $i, 1);
				if ($d eq '"')
				{
					$i++;
					my $s = '';
					while ($i < $n && substr($src, $i, 1) ne '"')
					{
						if (substr($src, $i, 1) eq "\\") { $s .= substr($src, $i, 2); $i += 2; next; }
						$s .= substr($src, $i, 1);
						$i++;
					}
					$text .= $s;
				}
				$depth++ if $d eq '(';
				$depth-- if $d eq ')';
				$line++ if $d eq "\n";
				$i++;
			}
			next;
		}
		$flush->();
		$i++;
	}
	$flush->();
	return @out;
}

# Check files; returns (bad, checked, fan-outs) and prints what is wrong.
sub check
{
	my ($quiet, @files) = @_;
	my ($bad, $checked, $fanout) = (0, 0, 0);

	for my $f (@files)
	{
		open my $fh, '<', $f or die "check-shard-key: $f: $!\n";
		local $/;
		my $src = <$fh>;
		close $fh;
		for my $st (statements($src))
		{
			my ($line, $sql) = @$st;
			next unless $sql =~ $TABLES;
			next unless $sql =~ /^\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
			$checked++;
			if ($sql =~ m{/\* every shard \*/|/\* series of a selection \*/})
			{
				$fanout++;
				print "check-shard-key: $f:$line reads every shard"
				  . ($sql =~ m{/\* every shard \*/} ? '' : ' unless its selector names the service')
				  . ": $sql\n" unless $quiet;
				next;
			}
			next if $sql =~ /\bshard_key\b/;
			$bad++;
			print "check-shard-key: $f:$line: statement does not name shard_key: $sql\n";
		}
	}
	return ($bad, $checked, $fanout);
}

if (@ARGV && $ARGV[0] eq '--self-test')
{
	my $tmp = "/tmp/check-shard-key.$$.c";
	open my $fh, '>', $tmp or die "$tmp: $!\n";
	print $fh <<'C';
/* "SELECT 1 FROM pyroscope.head" in a comment is no statement */
static const char *ok = "SELECT data FROM pyroscope.head_pprof"
	" WHERE shard_key = $1 AND pprof_id = $2";
static const char *fan = "SELECT count(*) FROM pyroscope.series WHERE tenant = $1 /* every shard */";
static const char *bad = "DELETE FROM pyroscope.head WHERE ctid = ANY ($1)";
static const char *bad2 = "SELECT x FROM pyroscope.blocks WHERE max_ts < $1 - " RETENTION_OF("r", "$2")
	" ORDER BY 1";
static const char *other = "SELECT 1 FROM pyroscope.settings";
static const char *catalog = "SELECT 1 FROM pg_catalog.pg_class WHERE oid = 'pyroscope.series'::regclass";
C
	close $fh;
	my ($bad, $checked, $fanout) = check(1, $tmp);
	unlink $tmp;
	if ($bad == 2 && $checked == 4 && $fanout == 1)
	{
		print "check-shard-key: self-test passed (2 bad statements of 4 found, 1 fan-out)\n";
		exit 0;
	}
	print "check-shard-key: self-test FAILED: $bad bad, $checked checked, $fanout fan-outs (want 2, 4, 1)\n";
	exit 1;
}

my @files = @ARGV;
@files = split /\n/, `find src bgworkers -name '*.c' -not -path '*/gen/*' | sort` unless @files;
my ($bad, $checked, $fanout) = check(0, @files);
if ($bad)
{
	print "check-shard-key: $bad of $checked statements on distributed tables do not name shard_key\n";
	exit 1;
}
print "check-shard-key: all $checked statements on distributed tables name shard_key"
  . " ($fanout read every shard, listed above)\n";
exit 0;

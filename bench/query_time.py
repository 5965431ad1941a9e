#!/usr/bin/env python3
"""Timing driver of bench/query.sh: our flame graph against Google's pprof.

  query_time.py CONFIG_JSON

CONFIG_JSON names the psql command (a list), the restart command (a shell
command that restarts the cluster), the pprof binary, the dataset
directory, the CPU profile type, the end time, the number of pairs and the
queries: [name, selector, service or "*", span in seconds].  For each query
it writes the exact pprof files of the range once (bench/query_data.py
write), then measures interleaved A/B pairs:

  cold: the page cache dropped (when the kernel lets us) and the server
        restarted before each side; ours is the first query of a new
        connection, pprof a new process over files read from disk.
  warm: ours in one long-lived connection after a first run, pprof over
        files in the page cache.

Ours is timed inside the server (wall: clock_timestamp(); CPU: the
backend's /proc/self/schedstat), pprof by the kernel (wall and the
rusage of the child).  Each pair gives pprof/ours for wall and for CPU;
the report is the median of the pair ratios, with the medians of the
times beside them.  Also the first query on a new connection (no restart)
against the warm median of the same connection, and, with "floor" (a
function name), the same for that function: PostgreSQL's own first-run
cost of the tables read.  Prints one JSON object.
"""
import json
import os
import statistics
import subprocess
import sys
import time

cfg = json.loads(sys.argv[1])
PSQL = cfg["psql"]
FN = "bench_fg"


def drop_caches():
	try:
		os.sync()
		with open("/proc/sys/vm/drop_caches", "w") as f:
			f.write("1\n")
		return True
	except OSError:
		return False


def restart():
	subprocess.run(cfg["restart"], shell=True, check=True, stdout=subprocess.DEVNULL)


def call(sel, lo, hi, fn=FN):
	return "SELECT %s('%s', %d, %d);" % (fn, sel.replace("'", "''"), lo, hi)


def parse(line):
	wall, cpu, ticks = line.strip().split()
	return float(wall), float(cpu), int(ticks)


def ours_fresh(sel, lo, hi):
	out = subprocess.run(PSQL + ["-c", call(sel, lo, hi)], check=True,
						 capture_output=True, text=True).stdout
	return parse(out.splitlines()[-1])


class Session:
	"""One long-lived connection."""

	def __init__(self, fn=FN):
		self.fn = fn
		self.p = subprocess.Popen(PSQL, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
								  text=True, bufsize=1)

	def run(self, sel, lo, hi):
		self.p.stdin.write(call(sel, lo, hi, self.fn) + "\n")
		self.p.stdin.flush()
		return parse(self.p.stdout.readline())

	def close(self):
		self.p.stdin.close()
		self.p.wait()


def pprof(files_dir):
	files = sorted(os.listdir(files_dir))
	t0 = time.monotonic()
	p = subprocess.Popen([cfg["pprof"], "-proto"] + files, cwd=files_dir,
						 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
	_, status, ru = os.wait4(p.pid, 0)
	wall = time.monotonic() - t0
	if status != 0:
		sys.exit("pprof failed: " + p.stderr.read().decode())
	return wall, ru.ru_utime + ru.ru_stime


def med(xs):
	return statistics.median(xs) if xs else None


def first_and_warm(fn, sel, lo, hi):
	"""On cfg["pairs"] new connections: the first call of fn, and the
	median of three more on the same connection"""
	firsts, warms = [], []
	for _ in range(cfg["pairs"]):
		sess = Session(fn)
		firsts.append(sess.run(sel, lo, hi)[0])
		warms.append(med([sess.run(sel, lo, hi)[0] for _ in range(3)]))
		sess.close()
	return firsts, warms


result = {"drop_caches": None, "queries": {}}
end = cfg["end"]
for name, sel, svc, span in cfg["queries"]:
	lo, hi = end - span, end
	d = os.path.join(cfg["tmp"], "peer")
	subprocess.run(["rm", "-rf", d], check=True)
	total, written = map(int, subprocess.run(
		[sys.executable, cfg["query_data"], "write", cfg["data"], d, svc, "cpu",
		 str(lo * 10**9), str(hi * 10**9), str(cfg["pprof_max_files"])],
		check=True, capture_output=True, text=True).stdout.split())
	scale = total / written			# pprof over an even subset, scaled
	q = {"pprofs": total, "pprof_run_on": written}
	for mode in ("cold", "warm"):
		pairs = []
		sess = None
		if mode == "warm":
			sess = Session()
			sess.run(sel, lo, hi)		# the first run is not a warm one
			pprof(d)
		for _ in range(cfg["pairs"]):
			if mode == "cold":
				dropped = drop_caches()
				result["drop_caches"] = dropped
				restart()
				a = ours_fresh(sel, lo, hi)
				drop_caches()
				b = pprof(d)
			else:
				a = sess.run(sel, lo, hi)
				b = pprof(d)
			bw, bc = b[0] * scale, b[1] * scale
			pairs.append({"ours_wall": a[0], "ours_cpu": a[1], "ticks": a[2],
						  "pprof_wall": bw, "pprof_cpu": bc,
						  "ratio_wall": bw / a[0], "ratio_cpu": bc / max(a[1], 1e-6)})
		if sess:
			sess.close()
		q[mode] = {k: med([p[k] for p in pairs]) for k in
				   ("ours_wall", "ours_cpu", "pprof_wall", "pprof_cpu", "ratio_wall", "ratio_cpu")}
		q[mode]["ticks"] = pairs[0]["ticks"]
	# the first query of a new connection (no restart) against the warm
	# median of the same connection
	firsts, warms = first_and_warm(FN, sel, lo, hi)
	q["first_on_new_connection"] = med(firsts)
	q["warm_same_connection"] = med(warms)
	q["first_over_warm"] = med([f / w for f, w in zip(firsts, warms)])
	result["queries"][name] = q
	subprocess.run(["rm", "-rf", d], check=True)
if cfg.get("floor"):
	# PostgreSQL's own first-run cost of the tables (bench/query.sh)
	firsts, warms = first_and_warm(cfg["floor"], "", 0, 0)
	result["floor"] = {"first_on_new_connection": med(firsts), "warm_same_connection": med(warms)}
print(json.dumps(result))

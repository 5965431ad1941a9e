#!/usr/bin/env python3
"""Load driver of bench/soak.sh: a fleet pushing while heavy queries run.

  soak.py CONFIG_JSON

For SECONDS seconds, against the HTTP API at PORT:
  - PUSHERS threads, one per service, push real pprofs of the corpus
    (OUT_DIR/src/*.pb from bench/query_data.py prepare, re-stamped with the
    current time and gzipped, as the SDKs send them) to /ingest every
    PUSH_INTERVAL seconds;
  - a probe pushes a small pprof with a function name of its own every
    second and polls SelectMergeStacktraces until that name is in the
    flame graph: push -> queryable latency;
  - HEAVY threads repeat a flame graph of every service over the last hour
    (SelectMergeStacktraces, {}), and SERIES threads SelectSeries of every
    service over the last hour by 15 s steps;
  - every 2 s the resident memory of each worker process of the cluster
    (VmRSS, and RssAnon: its private part) is sampled.
The compactor of the cluster runs meanwhile (configured by soak.sh).
Prints one JSON object with latencies, error counts by kind and memory.
"""
import gzip
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

from query_data import varint	# bench/query_data.py, beside this file

cfg = json.loads(sys.argv[1])
PORT = cfg["port"]
DURATION = cfg["seconds"]
stop_at = time.time() + DURATION
lock = threading.Lock()
stats = {"push": [], "probe": [], "heavy": [], "series": [], "errors": {}}


def field(num, data):
	return varint((num << 3) | 2) + varint(len(data)) + data


def vfield(num, v):
	return varint(num << 3) + varint(v)


def probe_pprof(name, t_ns):
	"""A one-sample CPU pprof whose leaf function is name."""
	strings = [b"", b"cpu", b"nanoseconds", b"main", name.encode()]
	out = field(1, vfield(1, 1) + vfield(2, 2))
	out += field(2, field(1, varint(2) + varint(1)) + field(2, varint(10_000_000)))
	for fid, si in ((1, 3), (2, 4)):
		out += field(4, vfield(1, fid) + field(4, vfield(1, fid)))
		out += field(5, vfield(1, fid) + vfield(2, si))
	out += b"".join(field(6, s) for s in strings)
	out += vfield(9, t_ns) + field(11, vfield(1, 1) + vfield(2, 2)) + vfield(12, 10_000_000)
	return out


def error(kind):
	with lock:
		stats["errors"][kind] = stats["errors"].get(kind, 0) + 1


def request(conn, method, path, body=None, headers=None):
	"""(status, body bytes, seconds); reconnects once on a broken connection."""
	for attempt in range(2):
		t0 = time.monotonic()
		try:
			conn.request(method, path, body=body, headers=headers or {})
			r = conn.getresponse()
			data = r.read()
			return r.status, data, time.monotonic() - t0
		except (http.client.HTTPException, OSError):
			conn.close()
			if attempt == 1:
				raise
	raise RuntimeError("unreachable")


def new_conn(timeout=120):
	return http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)


SOURCES = [os.path.join(cfg["src_dir"], f) for f in sorted(os.listdir(cfg["src_dir"]))]
BODIES = [open(f, "rb").read() for f in SOURCES]


def pusher(i):
	conn = new_conn()
	svc = "soak-%d" % i
	n = 0
	next_t = time.time() + random.random() * cfg["push_interval"]
	while time.time() < stop_at:
		time.sleep(max(0, next_t - time.time()))
		next_t += cfg["push_interval"]
		body = gzip.compress(BODIES[(i + n) % len(BODIES)] + vfield(9, time.time_ns()), 1)
		n += 1
		try:
			st, data, secs = request(conn, "POST", "/ingest?name=%s%%7Bpod%%3Dp1%%7D&format=pprof" % svc,
									 body, {"Content-Type": "application/octet-stream"})
		except Exception as e:
			error("push: " + type(e).__name__)
			conn = new_conn()
			continue
		if st == 200:
			with lock:
				stats["push"].append(secs)
		else:
			error("push %d" % st)


def fg_names(data):
	return json.loads(data).get("flamegraph", {}).get("names", [])


def prober():
	conn = new_conn()
	qconn = new_conn()
	n = 0
	while time.time() < stop_at - 5:
		n += 1
		name = "probe_fn_%d_%d" % (os.getpid(), n)
		t_push = time.monotonic()
		now_ns = time.time_ns()
		try:
			st, _, _ = request(conn, "POST", "/ingest?name=soak-probe&format=pprof",
							   probe_pprof(name, now_ns), {"Content-Type": "application/octet-stream"})
		except Exception as e:
			error("probe push: " + type(e).__name__)
			conn = new_conn()
			continue
		if st != 200:
			error("probe push %d" % st)
			continue
		q = json.dumps({"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
						"labelSelector": '{service_name="soak-probe"}',
						"start": now_ns // 10**6 - 60000, "end": now_ns // 10**6 + 60000}).encode()
		seen = None
		while time.monotonic() - t_push < 30:
			try:
				st, data, _ = request(qconn, "POST", "/querier.v1.QuerierService/SelectMergeStacktraces",
									  q, {"Content-Type": "application/json"})
			except Exception as e:
				error("probe query: " + type(e).__name__)
				qconn = new_conn()
				continue
			if st == 200 and name in fg_names(data):
				seen = time.monotonic() - t_push
				break
			if st != 200:
				error("probe query %d" % st)
			time.sleep(0.02)
		if seen is None:
			error("probe never queryable")
		else:
			with lock:
				stats["probe"].append(seen)
		time.sleep(max(0, 1 - (time.monotonic() - t_push)))


def querier(kind):
	conn = new_conn()
	while time.time() < stop_at:
		now_ms = int(time.time() * 1000)
		if kind == "heavy":
			path = "/querier.v1.QuerierService/SelectMergeStacktraces"
			q = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}",
				 "start": now_ms - 3600000, "end": now_ms, "maxNodes": 16384}
		else:
			path = "/querier.v1.QuerierService/SelectSeries"
			q = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "labelSelector": "{}",
				 "start": now_ms - 3600000, "end": now_ms, "step": 15, "groupBy": ["service_name"]}
		try:
			st, data, secs = request(conn, "POST", path, json.dumps(q).encode(),
									 {"Content-Type": "application/json"})
		except Exception as e:
			error(kind + ": " + type(e).__name__)
			conn = new_conn()
			continue
		if st == 200:
			with lock:
				stats[kind].append(secs)
		else:
			error("%s %d" % (kind, st))
			if st == 429:
				time.sleep(1)


def rss_of(pid):
	out = {}
	try:
		with open("/proc/%d/status" % pid) as f:
			for line in f:
				k, _, v = line.partition(":")
				if k in ("VmRSS", "RssAnon"):
					out[k] = int(v.split()[0]) * 1024
	except OSError:
		return None
	return out


def workers():
	"""pid -> name of the cluster's pyroscope processes."""
	out = subprocess.run(["pgrep", "-a", "-P", str(cfg["postmaster_pid"])], capture_output=True,
						 text=True).stdout
	procs = {}
	for line in out.splitlines():
		pid, _, cmd = line.partition(" ")
		if "pyroscope" in cmd:
			procs[int(pid)] = cmd.replace("postgres: ", "").replace(" waiting", "").strip()
	return procs


def sampler(samples):
	names = {}
	while time.time() < stop_at + 1:
		t = time.time() - (stop_at - DURATION)
		for pid, name in workers().items():
			m = rss_of(pid)
			if m:
				key = names.setdefault(pid, "%s (pid %d)" % (name, pid))
				samples.setdefault(key, []).append((t, m["VmRSS"], m.get("RssAnon", 0)))
		time.sleep(2)


samples = {}
threads = [threading.Thread(target=pusher, args=(i,)) for i in range(cfg["pushers"])]
threads += [threading.Thread(target=prober)]
threads += [threading.Thread(target=querier, args=("heavy",)) for _ in range(cfg["heavy"])]
threads += [threading.Thread(target=querier, args=("series",)) for _ in range(cfg["series"])]
threads += [threading.Thread(target=sampler, args=(samples,))]
for t in threads:
	t.daemon = True
	t.start()
for t in threads:
	t.join(timeout=max(0, stop_at - time.time()) + 60)


def pct(xs, p):
	if not xs:
		return None
	xs = sorted(xs)
	return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


warm = cfg["warmup"]
mem = {}
for name, ss in samples.items():
	after = [s for s in ss if s[0] >= warm] or ss
	mem[name] = {"start": ss[0][1], "after_warmup": after[0][1], "peak": max(s[1] for s in ss),
				 "end": ss[-1][1], "anon_start": ss[0][2], "anon_after_warmup": after[0][2],
				 "anon_peak": max(s[2] for s in ss), "anon_end": ss[-1][2]}
res = {"seconds": DURATION, "errors": stats["errors"], "memory": mem}
for k in ("push", "probe", "heavy", "series"):
	xs = stats[k]
	res[k] = {"n": len(xs), "p50": pct(xs, 50), "p99": pct(xs, 99), "max": max(xs) if xs else None}
print(json.dumps(res))

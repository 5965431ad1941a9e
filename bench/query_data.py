#!/usr/bin/env python3
"""Dataset helper of bench/query.sh.

  query_data.py prepare DATA_DIR OUT_DIR
      Picks real pprof files of the corpus per profile kind (Go CPU, heap,
      goroutine, contention), gunzips them and strips their time_nanos
      (field 9), writing OUT_DIR/src/<id>.pb.  Prints one TSV line per file:
      id, kind, relative name, uncompressed bytes without the time, bytes of
      the file gzipped as sent (its own size when the corpus file is gzip,
      else gzip -6 of it), samples (first sample type, non-zero).

  query_data.py schedule OUT_DIR SERVICES PODS INTERVAL_S DAYS END_UNIX_S
      Writes OUT_DIR/schedule.tsv, one line per pushed profile:
      ts_nanos, service, pod, kind, source id, hex of the field-9 tail
      (tag 0x48 and the varint of ts_nanos).  Every profile is the source's
      body followed by that tail, so it carries its own distinct time.
      Sources rotate per (service, pod, push), so one series sees every
      file of its kind in turn.

  query_data.py write OUT_DIR DEST_DIR SERVICE KIND FROM_NS TO_NS [MAX]
      Writes the exact pprof bytes that were ingested (body + tail) for one
      service (or "*") and kind with FROM_NS <= ts < TO_NS into DEST_DIR,
      at most MAX files (evenly spread when capped), and prints the number
      of files the range holds in total and the number written.
"""
import gzip
import os
import sys

KINDS = {
	# kind: corpus files (relative), all with identical sample and period
	# types so that Google's pprof can merge any mix of them
	"cpu": ["go/cpu.pb.gz", "go/cpu-labels.pb.gz", "go/cpu-span-id.pb.gz",
			"go/cpu-multi-mapping.pb.gz", "go/cpu_go_truncated_1.pb.gz",
			"ebpf-native/normal-cpu.stripped.pprof",
			"ebpf-native/inlining-disabled-cpu.stripped.pprof"],
	"heap": ["go/heap.pb.gz", "go/heap_delta.pb.gz", "go/req_5.pprof",
			 "go/fastdelta-heap.before.pprof", "go/fastdelta-heap.after.pprof"],
	"goroutine": ["go/req_2.pprof"],
	"contention": ["go/req_4.pprof", "go/req_3.pprof",
				   "go/fastdelta-block.before.pprof", "go/fastdelta-block.after.pprof"],
}
SERVICE_NAMES = ["checkout", "ledger", "search", "frontend", "payments", "auth",
				 "catalog", "shipping"]


def varint(v):
	out = bytearray()
	while True:
		b = v & 0x7F
		v >>= 7
		if v:
			out.append(b | 0x80)
		else:
			out.append(b)
			return bytes(out)


def read_varint(buf, i):
	v = 0
	shift = 0
	while True:
		b = buf[i]
		i += 1
		v |= (b & 0x7F) << shift
		if b < 0x80:
			return v, i
		shift += 7


def top_fields(buf):
	"""(field, wire type, start, end, value) of each top-level field."""
	i = 0
	while i < len(buf):
		start = i
		key, i = read_varint(buf, i)
		field, wt = key >> 3, key & 7
		val = None
		if wt == 0:
			val, i = read_varint(buf, i)
		elif wt == 1:
			i += 8
		elif wt == 5:
			i += 4
		elif wt == 2:
			n, i = read_varint(buf, i)
			val = (i, i + n)
			i += n
		else:
			raise ValueError("unsupported wire type %d" % wt)
		yield field, wt, start, i, val


def count_samples(buf):
	"""Samples with a non-zero first value (a rough count for the table)."""
	n = 0
	for field, wt, _s, _e, val in top_fields(buf):
		if field == 2 and wt == 2:
			sub = buf[val[0]:val[1]]
			for f2, wt2, _s2, _e2, v2 in top_fields(sub):
				if f2 == 2:
					if wt2 == 2:
						first, _ = read_varint(sub, v2[0]) if v2[1] > v2[0] else (0, 0)
					else:
						first = v2
					if first:
						n += 1
					break
	return n


def prepare(data_dir, out_dir):
	os.makedirs(os.path.join(out_dir, "src"), exist_ok=True)
	ident = 0
	for kind, names in KINDS.items():
		for name in names:
			path = os.path.join(data_dir, name)
			if not os.path.isfile(path):
				continue
			raw = open(path, "rb").read()
			if raw[:2] == b"\x1f\x8b":
				gz_size = len(raw)
				raw = gzip.decompress(raw)
			else:
				gz_size = len(gzip.compress(raw, 6))
			body = bytearray()
			for field, _wt, s, e, _v in top_fields(raw):
				if field != 9:
					body += raw[s:e]
			with open(os.path.join(out_dir, "src", "%d.pb" % ident), "wb") as f:
				f.write(body)
			print("%d\t%s\t%s\t%d\t%d\t%d" % (ident, kind, name, len(body), gz_size,
											  count_samples(bytes(body))))
			ident += 1


def load_sources(out_dir):
	srcs = {}
	with open(os.path.join(out_dir, "sources.tsv")) as f:
		for line in f:
			ident, kind = line.split("\t")[:2]
			srcs.setdefault(kind, []).append(int(ident))
	return srcs


def schedule(out_dir, services, pods, interval, days, end_s):
	srcs = load_sources(out_dir)
	kinds = [k for k in KINDS if k in srcs]
	pushes = days * 86400 // interval
	start_s = end_s - pushes * interval
	with open(os.path.join(out_dir, "schedule.tsv"), "w") as out:
		for s in range(services):
			svc = SERVICE_NAMES[s]
			for p in range(pods):
				pod = "%s-%d" % (svc, p)
				# pods push at different offsets inside the interval
				off = (p * interval) // pods + s
				for k, kind in enumerate(kinds):
					files = srcs[kind]
					for i in range(pushes):
						ts = (start_s + i * interval + off) * 1000000000 + k * 1000000
						src = files[(i + 3 * p + 5 * s) % len(files)]
						out.write("%d\t%s\t%s\t%s\t%d\t%s\n" % (
							ts, svc, pod, kind, src, (b"\x48" + varint(ts)).hex()))


def write(out_dir, dest, service, kind, lo, hi, cap):
	rows = []
	with open(os.path.join(out_dir, "schedule.tsv")) as f:
		for line in f:
			ts, svc, pod, k, src, tail = line.rstrip("\n").split("\t")
			ts = int(ts)
			if k == kind and (service == "*" or svc == service) and lo <= ts < hi:
				rows.append((ts, pod, int(src), tail))
	total = len(rows)
	if cap and total > cap:
		rows = [rows[(j * total) // cap] for j in range(cap)]
	os.makedirs(dest, exist_ok=True)
	bodies = {}
	for ts, pod, src, tail in rows:
		if src not in bodies:
			bodies[src] = open(os.path.join(out_dir, "src", "%d.pb" % src), "rb").read()
		with open(os.path.join(dest, "%s-%d.pb" % (pod, ts)), "wb") as f:
			f.write(bodies[src] + bytes.fromhex(tail))
	print(total, len(rows))


def main(argv):
	if argv[1] == "prepare":
		prepare(argv[2], argv[3])
	elif argv[1] == "schedule":
		schedule(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]), int(argv[7]))
	elif argv[1] == "write":
		write(argv[2], argv[3], argv[4], argv[5], int(argv[6]), int(argv[7]),
			  int(argv[8]) if len(argv) > 8 else 0)
	else:
		raise SystemExit(__doc__)


if __name__ == "__main__":
	main(sys.argv)

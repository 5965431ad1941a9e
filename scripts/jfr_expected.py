#!/usr/bin/env python3
"""Compare the core's JFR converter (build/jfr_dump) with upstream's expected
outputs for every recording of a directory (searched recursively):

- jfr-parser's "<base>_<i>_<name>_<type>__<unit>[+...]_expected_collapsed.txt.gz":
  every stack (frame names and line numbers, root first) with its values,
  at sampleRate 100.  Lock and park delays: jfr-parser leaves them in JFR
  ticks, we convert them to nanoseconds with the chunk's ticks per second
  (spec API-2 section 1.6); the expected value is converted the same way and
  may differ by the rounding of each event (at most 1 ns per contention).
- Pyroscope's "<input>.<name>_<type>_<unit>_<ptype>_<punit>.<fingerprint>.pb.gz":
  one pprof per series; its total and function names must be those of one
  of our series of that profile type (from a run with the recording's
  labels part when there is one, and one without: upstream's expected file
  of the empty label set comes from a run without it).

Exit status 1 on any difference.  Usage: jfr_expected.py JFR_DUMP DIR
"""
import collections
import glob
import gzip
import os
import re
import subprocess
import sys

dump, root = sys.argv[1], sys.argv[2]
failures = 0
checked = 0


def fail(msg):
    global failures
    failures += 1
    print('FAIL ' + msg)


def run_dump(path, labels=None):
    cmd = [dump, '--sample-rate', '100']
    if labels:
        cmd += ['--labels', labels]
    out = subprocess.run(cmd + [path], check=True, capture_output=True, text=True).stdout
    tps = int(re.search(r'^# ticks_per_second (\d+)$', out, re.M).group(1))
    sections = {}
    cur = None
    for line in out.split('\n'):
        m = re.match(r'^# (\S+)((?: \S+/\S+)+)$', line)
        if m:
            types = [t.split('/') for t in m.group(2).split()]
            key = m.group(1) + '_' + '+'.join('%s__%s' % (t, u) for t, u in types)
            cur = sections.setdefault(key, {'name': m.group(1), 'types': types, 'samples': []})
            continue
        m = re.match(r'^(?:\{([^}]*)\} )?(.*) \[([-\d ]+)\]$', line)
        if m and cur is not None:
            cur['samples'].append((m.group(1) or '', m.group(2), [int(x) for x in m.group(3).split()]))
    return tps, sections


def aggregate(samples):
    agg = collections.defaultdict(lambda: None)
    for _, stack, vals in samples:
        agg[stack] = vals if agg[stack] is None else [a + b for a, b in zip(agg[stack], vals)]
    return agg


def check_collapsed(exp_path, base, tps, sections):
    global checked
    name = os.path.basename(exp_path)
    key = re.match(r'^\d+_(.*)_expected_collapsed\.txt\.gz$', name[len(base) + 1:]).group(1)
    if key not in sections:
        return fail('%s: no %s profile made' % (name, key))
    sec = sections[key]
    expected = collections.defaultdict(lambda: None)
    for line in gzip.open(exp_path, 'rt'):
        m = re.match(r'^(.*?) ?\[([-\d, ]+)\]\s*$', line)
        if not m:
            continue
        vals = [int(x) for x in m.group(2).replace(',', ' ').split()]
        s = m.group(1)
        expected[s] = vals if expected[s] is None else [a + b for a, b in zip(expected[s], vals)]
    ours = aggregate(sec['samples'])
    ticks = [i for i, (t, u) in enumerate(sec['types']) if u == 'nanoseconds'
             and sec['name'] in ('mutex', 'block')]
    bad = 0
    for stack in set(expected) | set(ours):
        e, o = expected.get(stack), ours.get(stack)
        if e is None or o is None:
            bad += 1
            continue
        for i, (ev, ov) in enumerate(zip(e, o)):
            if i in ticks and tps != 10**9:
                want = ev * 10**9 // tps
                if abs(want - ov) > e[0] + 1:
                    bad += 1
            elif ev != ov:
                bad += 1
    checked += 1
    if bad:
        fail('%s: %d of %d stacks differ' % (name, bad, len(set(expected) | set(ours))))
    else:
        print('ok   %s: %d stacks, totals %s' % (name, len(expected),
              [sum(v[i] for v in ours.values()) for i in range(len(sec['types']))]))


def pprof_facts(path):
    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7f) << s
            s += 7
            if c < 0x80:
                return v, i

    def fields(b):
        i = 0
        while i < len(b):
            t, i = varint(b, i)
            f, w = t >> 3, t & 7
            if w == 0:
                v, i = varint(b, i)
                yield f, v
            elif w == 2:
                n, i = varint(b, i)
                yield f, b[i:i + n]
                i += n
            elif w == 1:
                i += 8
            elif w == 5:
                i += 4

    b = gzip.open(path).read()
    strs = [v.decode() for f, v in fields(b) if f == 6]
    total = 0
    names = set()
    for f, v in fields(b):
        if f == 2:
            for ff, x in fields(v):
                if ff == 2:
                    i = 0
                    while i < len(x):
                        n, i = varint(x, i)
                        total += n
        elif f == 5:
            d = dict(fields(v))
            names.add(strs[d.get(2, 0)])
    return total, names


for inp in sorted(glob.glob(os.path.join(root, '**', '*.jfr.gz'), recursive=True)):
    d = os.path.dirname(inp)
    base = os.path.basename(inp)[:-len('.jfr.gz')]
    tps, sections = run_dump(inp)
    for exp in sorted(glob.glob(os.path.join(d, base + '_*_expected_collapsed.txt.gz'))):
        check_collapsed(exp, base, tps, sections)
    pbs = sorted(glob.glob(inp + '.*.pb.gz'))
    if not pbs:
        continue
    runs = [sections]
    labels = glob.glob(os.path.join(d, base + '.labels.pb.gz'))
    if labels:
        runs.append(run_dump(inp, labels[0])[1])
    series = []    # (profile type file key, total, function names)
    for secs in runs:
        for key, sec in secs.items():
            for i, (t, u) in enumerate(sec['types']):
                by_labels = collections.defaultdict(lambda: [0, set()])
                for lab, stack, vals in sec['samples']:
                    by_labels[lab][0] += vals[i]
                    by_labels[lab][1].update(re.sub(r':\d+$', '', f) for f in stack.split(';') if f)
                for lab, (tot, names) in by_labels.items():
                    series.append((sec['name'], t, u, tot, names))
    for pb in pbs:
        m = re.match(r'^.*\.jfr\.gz\.(.*)\.(\d+)\.pb\.gz$', pb)
        ptype = m.group(1)
        total, names = pprof_facts(pb)
        match = [s for s in series
                 if ptype.startswith('%s_%s_%s_' % (s[0], s[1], s[2])) and s[3] == total and s[4] == names]
        checked += 1
        if match:
            print('ok   %s: total %d, %d functions' % (os.path.basename(pb), total, len(names)))
        elif any(ptype.startswith('%s_%s_%s_' % (s[0], s[1], s[2])) and s[4] == names
                 and s[2] == 'nanoseconds' and s[0] in ('mutex', 'block') for s in series):
            print('ok   %s: same functions; delay in nanoseconds where upstream keeps JFR ticks'
                  % os.path.basename(pb))
        else:
            fail('%s: no series of ours has total %d and its %d functions' % (os.path.basename(pb), total, len(names)))

print('%d expected outputs compared, %d differ' % (checked, failures))
if checked == 0:
    print('FAIL no expected outputs found under %s' % root)
    sys.exit(1)
sys.exit(1 if failures else 0)

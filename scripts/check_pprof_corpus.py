#!/usr/bin/env python3
"""Check the extension against Google's pprof tool over a directory of pprof files.

For every pprof file under the directory: ingest it through
pyroscope.ingest_pprof() into a tenant of its own, then for every sample type
compare the total and the top-20 self functions returned by SQL
(pyroscope.top_functions) with what scripts/pprof_expected.py derives from
`pprof -raw`.  Files that the reference tool cannot read are reported and
skipped (their handling is covered by the pg_regress suites).

usage: check_pprof_corpus.py --host SOCKETDIR --port PORT DIR
Prints one line per file and "N passed, N failed" at the end.
"""
import argparse
import json
import os
import subprocess
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = re.compile(r'^[^;]*\+(0x[0-9a-f]+)$')
NOT_PPROF = ('.json', '.txt', '.folded', '.md', '.gz.expected.folded')


def psql(args, sql):
    out = subprocess.run(
        ['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
         '-h', args.host, '-p', str(args.port), '-U', 'postgres', '-d', args.db],
        input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return out.stdout


def reference(path):
    out = subprocess.run([sys.executable, os.path.join(HERE, 'pprof_expected.py'),
                          '--no-line-frames=address', path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1:] or ['failed']
    return json.loads(out.stdout), None


def top20(selfmap):
    """The top-20 (name, self) by self desc, name asc, excluding zero."""
    items = sorted(((n, v) for n, v in selfmap.items() if v != 0), key=lambda x: (-x[1], x[0]))
    return items[:20]


def same_top(ours, ref):
    """Top-20 lists agree: the same values in order, the same names except
    within the run of values equal to the last one (ties at the cut)."""
    if [v for _, v in ours] != [v for _, v in ref]:
        return False
    cut = ref[-1][1] if ref else None
    return {n for n, v in ours if v != cut} == {n for n, v in ref if v != cut}


def check_file(args, path, tenant):
    ref, why = reference(path)
    if ref is None:
        return 'skip', 'reference tool cannot read it: %s' % ' '.join(why)
    with open(path, 'rb') as f:
        data = f.read()
    psql(args, "SELECT pyroscope.ingest_pprof(decode('%s', 'hex'), '{\"service_name\": \"check\"}', '%s');"
         % (data.hex(), tenant))
    types = psql(args, "SELECT pyroscope.profile_types('%s');" % tenant).split()
    problems = []
    for st in ref['sample_types']:
        stype = st['type'].replace('-', '_')
        match = [t for t in types if t.split(':')[1] == stype and t.split(':')[2] == st['unit']]
        if st['total'] == 0:
            if match:
                problems.append('%s: reference total is 0 but a series was stored' % stype)
            continue
        if len(match) != 1:
            problems.append('%s/%s: expected one profile type, found %s' % (stype, st['unit'], match))
            continue
        rows = psql(args, "SELECT function_name, self FROM pyroscope.top_functions("
                    "'%s', '{}', '-infinity', 'infinity', '%s');" % (match[0], tenant))
        ours = {}
        for line in rows.splitlines():
            name, _, value = line.rpartition('|')
            # we name a frame without symbols "<mapping basename>+0x<addr>",
            # the reference names it by its address alone
            name = NATIVE.sub(r'\1', name)
            ours[name] = ours.get(name, 0) + int(value)
        total = sum(ours.values())
        if total != st['total']:
            problems.append('%s: total %d, reference %d' % (stype, total, st['total']))
        if not same_top(top20(ours), top20(st['self'])):
            problems.append('%s: top-20 differs: ours %s reference %s'
                            % (stype, top20(ours)[:5], top20(st['self'])[:5]))
    return ('fail', '; '.join(problems)) if problems else ('ok', '%d sample types' % len(ref['sample_types']))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', required=True)
    ap.add_argument('--port', required=True)
    ap.add_argument('--db', default='pyroscope_check')
    ap.add_argument('dir')
    args = ap.parse_args()

    subprocess.run(['dropdb', '-h', args.host, '-p', str(args.port), '-U', 'postgres',
                    '--if-exists', args.db], check=True)
    subprocess.run(['createdb', '-h', args.host, '-p', str(args.port), '-U', 'postgres',
                    args.db], check=True)
    psql(args, 'CREATE EXTENSION pyroscope;')

    files = []
    for root, _, names in os.walk(args.dir):
        for n in names:
            if n.endswith(NOT_PPROF) or n.endswith('.st.json'):
                continue
            files.append(os.path.join(root, n))
    files.sort()
    counts = {'ok': 0, 'fail': 0, 'skip': 0}
    for i, path in enumerate(files):
        try:
            status, msg = check_file(args, path, 'check%d' % i)
        except RuntimeError as e:
            status, msg = 'fail', str(e)
        counts[status] += 1
        print('%-4s %s: %s' % (status.upper(), os.path.relpath(path, args.dir), msg))
    print('%d passed, %d failed, %d skipped' % (counts['ok'], counts['fail'], counts['skip']))
    return 1 if counts['fail'] else 0


if __name__ == '__main__':
    sys.exit(main())

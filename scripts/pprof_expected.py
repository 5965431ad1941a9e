#!/usr/bin/env python3
"""Independent reference results for a pprof file, from Google's pprof tool.

Runs `build/gopprof/pprof -symbolize=none -raw FILE` (built by
scripts/pprof_reference.sh, which this script runs when the binary is
missing) and derives from its text output, for every sample type:

  total  the sum of the values of the samples that have no negative value
         (a sample with any negative value is dropped for every type);
  self   function name -> self value: each sample's value goes to its leaf
         frame (spec §8.1): the first location of the stack (pprof lists
         the leaf first) that has lines, and within it the innermost inlined
         line (the first one pprof prints);
  top    the 20 largest non-zero self values, sorted by value descending
         then name ascending (byte-wise), as [name, value] pairs.

Output (JSON on stdout):
  {"file": ..., "period_type": [type, unit] or null, "period": N,
   "samples": N, "dropped_negative": N,
   "sample_types": [{"type": "cpu", "unit": "nanoseconds", "total": N,
                     "unattributed": N, "top": [[name, self], ...],
                     "self": {name: self, ...}}, ...]}
"self" holds every non-zero entry (sorted by name) so that a comparer can
deal with ties at the top-20 cut.  "unattributed" is the part of the total
whose stack has no frame at all (empty stack, or only locations without
lines); in the spec's tree model it is the root's self, so
total == sum(self) + unattributed.

What `pprof -raw` prints, and how it is read here:
  * pprof first merges the profile with itself (profile.Merge): samples with
    identical stacks and labels are summed, all-zero samples are removed,
    locations and functions are deduplicated and renumbered.  So a sample
    with a negative value may already be summed with an identical one before
    this script sees it (none of the test files has negative values).
    pprof also applies the profile's drop_frames/keep_frames regexps
    (RemoveUninteresting); Go runtime profiles do not set them.
  * -symbolize=none is essential: without it pprof tries to symbolize
    mappings from local binaries (a libc path can exist on this machine)
    and demangles names (Rust/C++ "<T as Trait>::f" and Go generics
    "pkg.(*T[go.shape.x]).f" come out rewritten).
  * "Samples:" is followed by one header line of "type/unit" tokens ("[dflt]"
    appended to the default type), then one line per sample:
    " %10d" per value, ": ", then the location ids, leaf first; label lines
    (16 blanks then "key:[values]") follow a sample line and are skipped.
  * "Locations": "%6d: %#x " id and address, "M=<mapping id> " when the
    location has a mapping, "[F] " when folded, then the first line; each
    further (inlined caller) line is on its own row indented by 13 blanks.
    A line is "NAME FILE:LINE s=STARTLINE", followed by "(SYSTEM_NAME)" when
    the system name differs from the name (so "()" for an empty one), or
    "??" when the line has no function.  A location without lines prints
    nothing after "M=n " (nor a name at all).
  * Names may contain blanks (Rust "file.rs:23 - <A as B>::f", Ruby
    "block in x"), so a line is split at the first ":LINE s=START" marker
    that is followed by nothing or by one "(...)" group, and the text before
    it at its last blank into NAME and FILE.  A file name containing a blank
    would be split wrongly (its head glued to the function name); none of
    the test files has one.  A "??" line (function id 0) is named "".
  * Locations without lines contribute no frame (spec §8.1).  With
    --no-line-frames=address they are instead named by their address
    ("0x5e997"), which is all the raw output gives for them besides the
    mapping id.

usage: pprof_expected.py [--pprof BIN] [--no-line-frames skip|address] FILE
Exit status: 0 ok; 1 pprof could not read the file (the last stderr line
says why); 2 the raw output could not be understood.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_PPROF = os.path.join(ROOT, 'build', 'gopprof', 'pprof')

SAMPLE_RE = re.compile(r'^((?: +-?\d+)*): ((?:\d+ )*)$')
LOC_RE = re.compile(r'^ *(\d+): 0x([0-9a-f]+) (?:M=(\d+) )?(?:\[F\] )?(.*)$')
MARK_RE = re.compile(r':(-?\d+) s=(-?\d+)')
CONT_PREFIX = ' ' * 13


class RawFormatError(Exception):
    pass


def ensure_pprof(path):
    """Build the reference binary when it is missing (default path only)."""
    if os.path.exists(path):
        return path
    if path != DEFAULT_PPROF:
        raise SystemExit('pprof_expected: %s does not exist' % path)
    r = subprocess.run(['bash', os.path.join(HERE, 'pprof_reference.sh')],
                       stdout=subprocess.DEVNULL)
    if r.returncode != 0 or not os.path.exists(path):
        raise SystemExit('pprof_expected: could not build %s' % path)
    return path


def parse_line_text(text):
    """Function name of one printed location line (see the module doc)."""
    if text == '??':
        return ''
    for m in MARK_RE.finditer(text):
        tail = text[m.end():]
        if tail == '' or (tail.startswith('(') and tail.endswith(')')):
            head = text[:m.start()]
            name, sep, _filename = head.rpartition(' ')
            if not sep:
                raise RawFormatError('no blank between name and file in %r' % text)
            return name
    raise RawFormatError('cannot read location line %r' % text)


def parse_raw(text, no_line_frames):
    """Parse `pprof -raw` output into (meta, types, samples, locations)."""
    lines = text.split('\n')
    i = 0
    meta = {'period_type': None, 'period': 0}
    while i < len(lines) and lines[i] != 'Samples:':
        ln = lines[i]
        if ln.startswith('PeriodType: '):
            parts = ln[len('PeriodType: '):].split(' ')
            if len(parts) == 2:
                meta['period_type'] = parts
        elif ln.startswith('Period: '):
            meta['period'] = int(ln[len('Period: '):])
        i += 1
    if i >= len(lines) - 1:
        raise RawFormatError('no "Samples:" section')
    i += 1
    types = []
    header = lines[i].strip()
    for tok in header.split(' ') if header else []:
        if tok.endswith('[dflt]'):
            tok = tok[:-len('[dflt]')]
        t, sep, u = tok.rpartition('/')
        if not sep:
            raise RawFormatError('bad sample type %r' % tok)
        types.append((t, u))
    i += 1

    samples = []
    while i < len(lines) and lines[i] != 'Locations':
        ln = lines[i]
        m = SAMPLE_RE.match(ln)
        if m:
            values = [int(v) for v in m.group(1).split()]
            if len(values) != len(types):
                raise RawFormatError('sample with %d values for %d types: %r'
                                     % (len(values), len(types), ln))
            samples.append((values, [int(x) for x in m.group(2).split()]))
        elif ln.startswith(' ' * 16) and samples:
            pass                # label / numeric label line of the last sample
        elif ln != '':
            raise RawFormatError('unexpected line in samples: %r' % ln)
        i += 1
    if i >= len(lines):
        raise RawFormatError('no "Locations" section')
    i += 1

    locations = {}              # id -> [frame names, innermost first]
    cur = None
    while i < len(lines) and lines[i] != 'Mappings':
        ln = lines[i]
        if ln.startswith(CONT_PREFIX) and cur is not None:
            locations[cur].append(parse_line_text(ln[len(CONT_PREFIX):]))
        elif ln != '':
            m = LOC_RE.match(ln)
            if not m:
                raise RawFormatError('unexpected line in locations: %r' % ln)
            cur = int(m.group(1))
            rest = m.group(4)
            if rest == '':
                locations[cur] = []
                if no_line_frames == 'address':
                    locations[cur] = ['0x' + m.group(2)]
            else:
                locations[cur] = [parse_line_text(rest)]
        i += 1
    if i >= len(lines):
        raise RawFormatError('no "Mappings" section')
    return meta, types, samples, locations


def leaf_name(stack, locations):
    """Name of the leaf frame of a stack, or None when it has no frame."""
    for loc_id in stack:
        if loc_id not in locations:
            raise RawFormatError('sample refers to unknown location %d' % loc_id)
        frames = locations[loc_id]
        if frames:
            return frames[0]
    return None


def expected(text, no_line_frames='skip'):
    meta, types, samples, locations = parse_raw(text, no_line_frames)
    totals = [0] * len(types)
    unattributed = [0] * len(types)
    selfs = [dict() for _ in types]
    kept = dropped = 0
    for values, stack in samples:
        if any(v < 0 for v in values):
            dropped += 1
            continue
        kept += 1
        leaf = leaf_name(stack, locations)
        for k, v in enumerate(values):
            totals[k] += v
            if v == 0:
                continue
            if leaf is None:
                unattributed[k] += v
            else:
                selfs[k][leaf] = selfs[k].get(leaf, 0) + v
    out = {'period_type': meta['period_type'], 'period': meta['period'],
           'samples': kept, 'dropped_negative': dropped, 'sample_types': []}
    for k, (t, u) in enumerate(types):
        selfmap = selfs[k]
        ranked = sorted(selfmap.items(), key=lambda kv: (-kv[1], kv[0].encode('utf-8')))
        out['sample_types'].append({
            'type': t, 'unit': u, 'total': totals[k],
            'unattributed': unattributed[k],
            'top': [[n, v] for n, v in ranked[:20]],
            'self': {n: selfmap[n] for n in sorted(selfmap, key=lambda s: s.encode('utf-8'))},
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pprof', default=DEFAULT_PPROF, help='pprof binary')
    ap.add_argument('--no-line-frames', choices=['skip', 'address'], default='skip',
                    help='locations without lines: no frame (spec), or named by address')
    ap.add_argument('file')
    args = ap.parse_args()

    binary = ensure_pprof(args.pprof)
    r = subprocess.run([binary, '-symbolize=none', '-raw', args.file],
                       capture_output=True)
    if r.returncode != 0:
        why = [ln for ln in r.stderr.decode('utf-8', 'replace').splitlines() if ln.strip()]
        for ln in why:
            print(ln, file=sys.stderr)
        # the first line names the real cause; the last is "failed to fetch"
        print('pprof_expected: pprof cannot read %s: %s'
              % (args.file, why[0] if why else 'exit status %d' % r.returncode),
              file=sys.stderr)
        return 1
    try:
        out = expected(r.stdout.decode('utf-8', 'replace'), args.no_line_frames)
    except (RawFormatError, ValueError) as e:
        print('pprof_expected: cannot understand pprof -raw output for %s: %s'
              % (args.file, e), file=sys.stderr)
        return 2
    out = dict(file=args.file, **out)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

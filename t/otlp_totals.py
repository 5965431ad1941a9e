#!/usr/bin/env python3
"""An independent decode of an OTLP ExportProfilesServiceRequest (binary,
v1.10 field numbers) for t/016_otlp.pl: prints "profile_type_id=total" per
profile type as upstream maps it (process_cpu from samples/count with a cpu
period, value x period; off_cpu; else the period type names it), each
sample's value the sum of its values or its timestamp count.  With
--to-v19 FILE it also writes the same request with the v1.8/v1.9 Sample
numbering (values 2, attribute indices 3, link 4)."""
import collections
import sys


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
        start = i
        t, i = varint(b, i)
        f, w = t >> 3, t & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif w == 1:
            v = int.from_bytes(b[i:i + 8], 'little')
            i += 8
        elif w == 5:
            v = int.from_bytes(b[i:i + 4], 'little')
            i += 4
        yield f, w, v, b[start:i]


def packed(b):
    out, i = [], 0
    while i < len(b):
        v, i = varint(b, i)
        out.append(v)
    return out


def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7f
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def field(f, w, payload):
    if w == 2:
        return enc_varint(f << 3 | 2) + enc_varint(len(payload)) + payload
    return enc_varint(f << 3 | w) + payload


data = open(sys.argv[1], 'rb').read()
strings = []
for f, w, v, _ in fields(data):
    if f == 2:
        for ff, ww, vv, _ in fields(v):
            if ff == 5:
                strings.append(vv.decode())

totals = collections.Counter()
for f, w, rp, _ in fields(data):
    if f != 1:
        continue
    for f2, _, sp, _ in fields(rp):
        if f2 != 2:
            continue
        for f3, _, prof, _ in fields(sp):
            if f3 != 2:
                continue
            st = pt = None
            period = 0
            samples = []
            for pf, pw, pv, _ in fields(prof):
                if pf == 1:
                    d = {a: b for a, _, b, _ in fields(pv)}
                    st = (strings[d.get(1, 0)], strings[d.get(2, 0)])
                elif pf == 5:
                    d = {a: b for a, _, b, _ in fields(pv)}
                    pt = (strings[d.get(1, 0)], strings[d.get(2, 0)])
                elif pf == 6:
                    period = pv
                elif pf == 2:
                    vals, ts = [], 0
                    for sf, sw, sv, _ in fields(pv):
                        if sf == 4:
                            vals += packed(sv) if sw == 2 else [sv]
                        elif sf == 5:
                            ts += len(sv) // 8 if sw == 2 else 1
                    samples.append(sum(vals) if vals else ts)
            if pt is None or period == 0:
                pt = None
            if st == ('samples', 'count') and pt == ('cpu', 'nanoseconds'):
                key, mult = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', period
            elif st == ('off_cpu', 'nanoseconds') and pt is None:
                key, mult = 'off_cpu:off_cpu:nanoseconds::', 1
            elif pt:
                key, mult = '%s:%s:%s:%s:%s' % (pt[0], st[0], st[1], pt[0], pt[1]), 1
            else:
                continue
            totals[key] += sum(samples) * mult
for k in sorted(totals):
    print('%s=%d' % (k, totals[k]))

if len(sys.argv) > 3 and sys.argv[2] == '--to-v19':
    def rewrite(b, depth):
        out = bytearray()
        for f, w, v, raw in fields(b):
            if depth < 4 and w == 2 and f == (1 if depth == 0 else 2):
                out += field(f, 2, rewrite(v, depth + 1))
            elif depth == 4:
                # a Sample: v1.10 -> v1.9 numbering
                nf = {2: 3, 3: 4, 4: 2}.get(f, f)
                out += field(nf, w, v if w == 2 else raw[len(enc_varint(f << 3 | w)):])
            else:
                out += raw
        return bytes(out)
    open(sys.argv[3], 'wb').write(rewrite(data, 0))

#!/usr/bin/env python3
"""Check that the target core does not reach into the NVMe/TCP transport.

Usage: check_core_cut.py LIBFQ_TARGET.a

The command layer (req.c, fabrics.c, admin.c, io.c, ctrl.c, discovery.c)
talks to a transport only through the ops of a queue (src/target/xprt.h).
A direct call into conn.c would tie it to TCP again: exit 1 naming each
such symbol and the core file that uses it, 0 when there is none.
"""
import re
import subprocess
import sys

CORE = ('req', 'fabrics', 'admin', 'io', 'ctrl', 'discovery')
TRANSPORT = 'conn'


def members(lib):
    """{member name: (defined, undefined)} from nm -A over the archive."""
    out = subprocess.run(['nm', '-A', lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        m = re.match(r'^[^:]+:([^:]+):\s*(?:[0-9a-fA-F]+)?\s+([A-Za-z])\s+(\S+)$', line)
        if not m:
            continue
        obj, kind, name = m.groups()
        base = re.sub(r'\.c\.o$|\.o$', '', obj.rsplit('/', 1)[-1])
        d, u = syms.setdefault(base, (set(), set()))
        if kind == 'U':
            u.add(name)
        elif kind.isupper():
            d.add(name)
    return syms


def main():
    syms = members(sys.argv[1])
    missing = [f for f in CORE + (TRANSPORT,) if f not in syms]
    if missing:
        print('objects not found in %s: %s' % (sys.argv[1], ', '.join(missing)))
        return 1
    tcp = syms[TRANSPORT][0]
    bad = [(f, s) for f in CORE for s in sorted(syms[f][1] & tcp)]
    for f, s in bad:
        print('%s.c calls %s, which is in %s.c (NVMe/TCP): go through q->xprt'
              % (f, s, TRANSPORT))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())

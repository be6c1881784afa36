#!/usr/bin/env python3
"""Check that the target core and its reactor do not reach into NVMe/TCP.

Usage: check_core_cut.py LIBFQ_TARGET.a SRC_TARGET_DIR

The command layer (req.c, fabrics.c, admin.c, io.c, ctrl.c, discovery.c)
talks to a transport only through the ops of a queue, and the reactor and
acceptor (tgt.c) only through the same table (src/target/xprt.h). A direct
call into conn.c, or to a function of the NVMe/TCP connection object
(fq_tcp_*, xport/tcp_conn.h), would tie them to TCP again: exit 1 naming
each such call and the file that makes it, 0 when there is none.

Two looks, because they catch different things: the archive's symbols
(what each object really calls, macros and all) and the source text
(static inline functions of a header leave no symbol behind).
"""
import os
import re
import subprocess
import sys

CORE = ('req', 'fabrics', 'admin', 'io', 'ctrl', 'discovery', 'tgt')
TRANSPORT = 'conn'
TCP_CALL = re.compile(r'\b(fq_tcp_\w+)\s*\(')


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


def code_of(path):
    """The file's text without comments and string literals."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2])
        return 2
    lib, src = sys.argv[1], sys.argv[2]
    syms = members(lib)
    missing = [f for f in CORE + (TRANSPORT,) if f not in syms]
    missing += [f + '.c' for f in CORE if not os.path.exists(os.path.join(src, f + '.c'))]
    if missing:
        print('not found in %s / %s: %s' % (lib, src, ', '.join(missing)))
        return 1
    tcp = syms[TRANSPORT][0]
    bad = []
    for f in CORE:
        for s in sorted(syms[f][1] & tcp):
            bad.append('%s.c calls %s, which is in %s.c (NVMe/TCP): go through its xprt ops'
                       % (f, s, TRANSPORT))
        for s in sorted(x for x in syms[f][1] - tcp if x.startswith('fq_tcp_')):
            bad.append('%s.c calls %s (the NVMe/TCP connection): go through its xprt ops'
                       % (f, s))
        calls = set(TCP_CALL.findall(code_of(os.path.join(src, f + '.c'))))
        for s in sorted(calls - syms[f][1]):
            bad.append('%s.c calls %s (xport/tcp_conn.h, inline): go through its xprt ops'
                       % (f, s))
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())

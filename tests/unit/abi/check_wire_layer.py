#!/usr/bin/env python3
"""Keep the NVMe/TCP wire out of the host and the target.

Usage: check_wire_layer.py SOURCE_ROOT

The PDU framing, the PDU builders, the wire structs and the digests belong
to src/proto/, and the connection that uses them for both roles to
src/xport/tcp_conn.c. The host (src/host/) and the target (src/target/)
speak to that connection in NVMe terms only: commands, responses, data
placement. A file there that names a PDU type, a wire PDU struct, a PDU
builder, the framer or the digest function, or includes their headers,
has let the wire back in. Exit 0 when no file does, 1 listing every
offending line otherwise. Comments count too: a comment that names the
framer is usually next to code that should not need it.
"""
import os
import re
import sys

FORBIDDEN = [
    (r'\bFQ_TCP_(ICREQ|ICRESP|H2C_TERM|C2H_TERM|CAPSULE_CMD|CAPSULE_RESP|'
     r'H2C_DATA|C2H_DATA|R2T)\b', 'a PDU type'),
    (r'\bFQ_TCP_KIND_\w+', 'a PDU kind'),
    (r'\bFQ_TCP_F_\w+', 'PDU header flags'),
    (r'\bstruct\s+fq_tcp_(ch|icreq|icresp|term|cmd|rsp|data|r2t|hbuf_\w+)\b',
     'a wire PDU struct'),
    (r'\bfq_tcp_(build_\w+|tx_iov|hdr_plen)\b', 'a PDU builder'),
    (r'\bfq_tcp_rx(_\w+)?\b', 'the framer'),
    (r'\bfq_crc32c\w*|\bcrc32_iscsi\b', 'the digest function'),
    (r'#\s*include\s*"proto/(tcp|tcp_rx|tcp_build|tcp_decode|crc32c)\.h"',
     'a wire header'),
]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
    pats = [(re.compile(p), what) for p, what in FORBIDDEN]
    offenders = []
    for sub in ('src/host', 'src/target'):
        top = os.path.join(root, sub)
        if not os.path.isdir(top):
            print('check_wire_layer: no directory %s' % top, file=sys.stderr)
            return 2
        for d, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith(('.c', '.h')):
                    continue
                path = os.path.join(d, name)
                with open(path, encoding='utf-8', errors='replace') as f:
                    for no, line in enumerate(f, 1):
                        for pat, what in pats:
                            m = pat.search(line)
                            if m:
                                offenders.append('%s:%d: %s (%s)' % (
                                    os.path.relpath(path, root), no, m.group(0), what))
    if offenders:
        print('The host and the target must not name the NVMe/TCP wire; '
              'use xport/tcp_conn.h:')
        for o in offenders:
            print('  ' + o)
        return 1
    print('src/host and src/target name no PDU, framer, builder or digest')
    return 0


if __name__ == '__main__':
    sys.exit(main())

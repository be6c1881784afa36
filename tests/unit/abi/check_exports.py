#!/usr/bin/env python3
"""Compare a shared library's exported functions with its public header.

Usage: check_exports.py LIBRARY.so HEADER...

Every function the headers declare (static inline ones excepted) must be
exported, and nothing else may be: an internal helper that leaks becomes
ABI that programs start to rely on. Exit 0 when the two sets are equal,
1 with the differences otherwise.
"""
import re
import subprocess
import sys


def header_functions(path):
    with open(path) as f:
        src = f.read()
    src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
    src = re.sub(r'//[^\n]*', ' ', src)
    src = re.sub(r'^\s*#[^\n]*', ' ', src, flags=re.M)
    # Static inline functions are compiled into callers, never exported:
    # drop each one, from "static inline" to the brace closing its body.
    kept = []
    pos = 0
    while True:
        m = re.search(r'\bstatic\s+inline\b[^{;]*\{', src[pos:])
        if not m:
            kept.append(src[pos:])
            break
        kept.append(src[pos:pos + m.start()])
        end = pos + m.end()
        depth = 1
        while depth:
            depth += {'{': 1, '}': -1}.get(src[end], 0)
            end += 1
        pos = end
    src = ''.join(kept)
    # A declaration names the function right before its parameter list;
    # a function pointer typedef has ')' there instead: (*fq_cmd_cb)(...).
    return set(re.findall(r'\b(fq_\w+)\s*\(', src))


def library_functions(path):
    out = subprocess.run(['nm', '-D', '--defined-only', path], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[1] == 'A':
            continue  # version nodes (FABRIQ_0.1) are absolute symbols
        names.add(fields[2].split('@')[0])
    return names


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lib = sys.argv[1]
    headers = sys.argv[2:]
    declared = set()
    for header in headers:
        found = header_functions(header)
        if not found:
            print(f'FAIL: found no functions in {header}')
            return 1
        declared |= found
    header = ' and '.join(h.split('include/')[-1] for h in headers)
    exported = library_functions(lib)
    extra = sorted(exported - declared)
    missing = sorted(declared - exported)
    for name in extra:
        print(f'FAIL: {lib} exports {name}, which {header} does not declare')
    for name in missing:
        print(f'FAIL: {header} declares {name}, which {lib} does not export')
    if extra or missing:
        return 1
    print(f'{lib}: exactly the {len(declared)} functions of {header}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Helpers of kpeer.sh that are awkward in shell.

  kpeer_util.py probe ADDR PORT DIGEST [TIMEOUT]
      Send an NVMe/TCP ICReq to ADDR:PORT and check the ICResp
      (NVMe/TCP Transport Specification 1.0, sections 3.6.2.2 and 3.6.2.3).
      DIGEST is the ICReq DGST field: 0 none, 1 header, 2 data, 3 both.
      Exit status 0 if a well-formed ICResp came back granting exactly DIGEST.

  kpeer_util.py vmlinux BZIMAGE OUT
      Write the uncompressed ELF kernel inside an x86 bzImage to OUT, so that
      QEMU can start it through its PVH entry point without the guest
      decompressing it first (seconds under TCG). Exit status 1 if the payload
      is not xz or gzip, or not an ELF image.
"""
import gzip
import lzma
import socket
import struct
import sys


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def probe(addr, port, digest, timeout):
    # ICReq: common header (type 0x00, flags 0, HLEN 128, PDO 0, PLEN 128),
    # PFV 0, HPDA 0, DGST, MAXR2T 0, then reserved bytes up to 128.
    icreq = struct.pack("<BBBBIHBBI", 0x00, 0, 128, 0, 128, 0, 0, digest, 0)
    icreq += bytes(128 - len(icreq))
    try:
        with socket.create_connection((addr, port), timeout=timeout) as sock:
            sock.sendall(icreq)
            resp = recv_exact(sock, 128)
    except OSError as err:
        print(f"probe {addr}:{port}: {err}", file=sys.stderr)
        return 1
    if len(resp) != 128:
        print(f"probe {addr}:{port}: {len(resp)} bytes instead of a 128-byte ICResp",
              file=sys.stderr)
        return 1
    ptype, flags, hlen, pdo, plen, pfv, cpda, dgst, maxh2c = struct.unpack_from(
        "<BBBBIHBBI", resp)
    print(f"ICResp from {addr}:{port}: type=0x{ptype:02x} flags=0x{flags:02x} hlen={hlen} "
          f"pdo={pdo} plen={plen} pfv={pfv} cpda={cpda} dgst=0x{dgst:02x} maxh2cdata={maxh2c}")
    if ptype != 0x01 or hlen != 128 or plen != 128:
        print("probe: not an ICResp", file=sys.stderr)
        return 1
    if dgst != digest:
        print(f"probe: digests granted 0x{dgst:02x}, asked for 0x{digest:02x}", file=sys.stderr)
        return 1
    return 0


def vmlinux(bzimage, out):
    with open(bzimage, "rb") as f:
        image = f.read()
    # x86 boot protocol: setup_sects at 0x1f1 (0 means 4), payload_offset at
    # 0x248 and payload_length at 0x24c, relative to the protected-mode code
    # that follows the boot sector and the setup sectors.
    if image[0x202:0x206] != b"HdrS":
        print(f"{bzimage}: not a bzImage", file=sys.stderr)
        return 1
    setup_sects = image[0x1F1] or 4
    off, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + off
    payload = image[start:start + length]
    try:
        if payload.startswith(b"\xfd7zXZ"):
            # The payload has trailing size bytes after the single xz stream.
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
        elif payload.startswith(b"\x1f\x8b"):
            elf = gzip.decompress(payload)
        else:
            print(f"{bzimage}: payload compression {payload[:4].hex()} not handled",
                  file=sys.stderr)
            return 1
    except (lzma.LZMAError, OSError, EOFError) as err:
        print(f"{bzimage}: cannot decompress the payload: {err}", file=sys.stderr)
        return 1
    if not elf.startswith(b"\x7fELF"):
        print(f"{bzimage}: the payload is not an ELF image", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(elf)
    return 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "probe":
        timeout = float(argv[4]) if len(argv) > 4 else 20.0
        return probe(argv[1], int(argv[2]), int(argv[3]), timeout)
    if len(argv) == 3 and argv[0] == "vmlinux":
        return vmlinux(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

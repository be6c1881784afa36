#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus for fuzz_tcp_decode and fuzz_tcp_rx: NVMe/TCP streams.

Each file is a byte stream one side of a connection receives: PDUs of every
type (NVMe/TCP 1.0 §3.6.2), with and without header and data digests, with
correct CRC32C digests. Run from anywhere; it writes the same seeds into
tests/fuzz/corpus/tcp_decode/ and tests/fuzz/corpus/tcp_rx/ next to this
script (the header validator and the framer read the same streams). The
output is deterministic, so the committed files match a fresh run.
"""
import os
import struct
import sys

ICREQ, ICRESP, H2C_TERM, C2H_TERM, CMD, RSP, H2C_DATA, C2H_DATA, R2T = (
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09)
F_HDGST, F_DDGST, F_LAST, F_SUCCESS = 0x01, 0x02, 0x04, 0x08


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc32c(bytes(32)) == 0x8A9136AA


def pdu(ptype, psh, data=b"", hdgst=False, ddgst=False, extra_flags=0, hlen=None):
    """Common header + PDU specific header (+HDGST) + data (+DDGST)."""
    hlen = 8 + len(psh) if hlen is None else hlen
    hdr_len = hlen + (4 if hdgst else 0)
    ddgst = ddgst and bool(data)
    flags = extra_flags | (F_HDGST if hdgst else 0) | (F_DDGST if ddgst else 0)
    pdo = hdr_len if data else 0
    plen = hdr_len + len(data) + (4 if ddgst else 0)
    hdr = struct.pack("<BBBBI", ptype, flags, hlen, pdo, plen) + psh
    out = hdr
    if hdgst:
        out += struct.pack("<I", crc32c(hdr))
    out += data
    if ddgst:
        out += struct.pack("<I", crc32c(data))
    return out


def icreq(dgst=0, maxr2t=0):
    return pdu(ICREQ, struct.pack("<HBBI", 0, 0, dgst, maxr2t) + bytes(112))


def icresp(dgst=0, maxh2cdata=0x400000):
    return pdu(ICRESP, struct.pack("<HBBI", 0, 0, dgst, maxh2cdata) + bytes(112))


def term(to_host, fes, fei, data=b""):
    psh = struct.pack("<H", fes) + struct.pack("<I", fei) + bytes(10)
    return pdu(C2H_TERM if to_host else H2C_TERM, psh, data)


def sqe(opc, cid, nsid=1, sgl_len=0, sgl_type=0x5A, cdw10=0, cdw11=0, cdw12=0, spec=None):
    head = struct.pack("<BBHIIIQ", opc, 0x40, cid, nsid, 0, 0, 0)
    sgl = struct.pack("<QI3xB", 0, sgl_len, sgl_type)
    tail = spec if spec is not None else struct.pack("<6I", cdw10, cdw11, cdw12, 0, 0, 0)
    return head + sgl + tail


def capsule_cmd(cmd, data=b"", **kw):
    return pdu(CMD, cmd, data, **kw)


def capsule_resp(cid, status=0, dw0=0, **kw):
    return pdu(RSP, struct.pack("<IIHHHH", dw0, 0, 1, 0, cid, status), **kw)


def data_pdu(ptype, cccid, ttag, datao, data, last=True, success=False, **kw):
    psh = struct.pack("<HHII4x", cccid, ttag, datao, len(data))
    flags = (F_LAST if last else 0) | (F_SUCCESS if success else 0)
    return pdu(ptype, psh, data, extra_flags=flags, **kw)


def r2t(cccid, ttag, r2to, r2tl, **kw):
    return pdu(R2T, struct.pack("<HHII4x", cccid, ttag, r2to, r2tl), **kw)


def connect(qid, sqsize, subnqn, hostnqn):
    spec = struct.pack("<HHHBBI12x", 0, qid, sqsize, 0, 0, 5000)
    # Fabrics command: opcode 0x7f, FCTYPE at byte 4 (NVMe-oF 1.1 Fig. 19).
    head = struct.pack("<BBHB19x", 0x7F, 0x40, qid, 0x01)
    sgl = struct.pack("<QI3xB", 0, 1024, 0x01)
    cmd = head + sgl + spec
    data = bytes(range(16)) + struct.pack("<H", 0xFFFF) + bytes(238)
    data += subnqn.encode().ljust(256, b"\0") + hostnqn.encode().ljust(256, b"\0")
    data += bytes(256)
    return cmd, data


def pattern(n, seed):
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def corpus():
    read = sqe(0x02, 1, sgl_len=4096, cdw12=7)
    write = sqe(0x01, 2, sgl_len=4096, cdw12=7)
    write_ic = sqe(0x01, 3, sgl_len=512, sgl_type=0x01)
    cmd, cdata = connect(0, 31, "nqn.2023-01.io.fabriq:sub1",
                         "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001")
    d4k = pattern(4096, 1)
    d512 = pattern(512, 2)
    files = {}
    # What a target receives.
    files["icreq"] = icreq()
    files["icreq_digests"] = icreq(dgst=3)
    files["target_connect"] = icreq() + capsule_cmd(cmd, cdata)
    # SPDK's tools without a host NQN send the HOSTNQN field all zero.
    zcmd, zdata = connect(0, 31, "nqn.2023-01.io.fabriq:sub1", "")
    files["target_connect_zero_hostnqn"] = icreq() + capsule_cmd(zcmd, zdata)
    files["target_session"] = (icreq() + capsule_cmd(read) + capsule_cmd(write_ic, d512)
                               + capsule_cmd(write) + data_pdu(H2C_DATA, 2, 0, 0, d4k))
    files["target_session_digests"] = (
        icreq(dgst=3) + capsule_cmd(read, hdgst=True, ddgst=True)
        + capsule_cmd(write_ic, d512, hdgst=True, ddgst=True)
        + capsule_cmd(write, hdgst=True, ddgst=True)
        + data_pdu(H2C_DATA, 2, 0, 0, d4k[:2048], last=False, hdgst=True, ddgst=True)
        + data_pdu(H2C_DATA, 2, 0, 2048, d4k[2048:], hdgst=True, ddgst=True))
    files["target_hdgst_only"] = (icreq(dgst=1) + capsule_cmd(write_ic, d512, hdgst=True)
                                  + data_pdu(H2C_DATA, 3, 1, 0, d512, hdgst=True))
    files["capsule_cmd"] = capsule_cmd(read)
    files["capsule_cmd_incapsule"] = capsule_cmd(write_ic, d512)
    files["h2c_data"] = data_pdu(H2C_DATA, 2, 5, 0, d4k)
    files["h2c_term"] = term(False, 0x01, 2, capsule_resp(1)[:24])
    files["h2c_term_empty"] = term(False, 0x02, 0)
    # What a host receives.
    files["icresp"] = icresp()
    files["icresp_digests"] = icresp(dgst=3)
    files["host_session"] = (icresp() + capsule_resp(0, dw0=1) + r2t(2, 0, 0, 4096)
                             + capsule_resp(2)
                             + data_pdu(C2H_DATA, 1, 0, 0, d4k, success=True))
    files["host_session_digests"] = (
        icresp(dgst=3) + capsule_resp(0, hdgst=True) + r2t(2, 0, 0, 4096, hdgst=True)
        + data_pdu(C2H_DATA, 1, 0, 0, d4k[:1024], last=False, hdgst=True, ddgst=True)
        + data_pdu(C2H_DATA, 1, 0, 1024, d4k[1024:], hdgst=True, ddgst=True)
        + capsule_resp(1, hdgst=True))
    files["capsule_resp"] = capsule_resp(7)
    files["capsule_resp_error"] = capsule_resp(7, status=(0x1 << 9) | (0x82 << 1) | 0x8000)
    files["c2h_data"] = data_pdu(C2H_DATA, 1, 0, 0, d512, success=True)
    files["r2t"] = r2t(4, 9, 8192, 65536)
    files["c2h_term"] = term(True, 0x05, 4, capsule_cmd(read)[:72])
    return files


def main():
    for harness in ("tcp_decode", "tcp_rx"):
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", harness)
        os.makedirs(out, exist_ok=True)
        for name, blob in sorted(corpus().items()):
            with open(os.path.join(out, name + ".bin"), "wb") as f:
                f.write(blob)
        print(f"wrote {len(corpus())} files to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

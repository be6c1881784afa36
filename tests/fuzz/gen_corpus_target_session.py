#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus for fuzz_target_session: valid target sessions.

An input is one byte choosing connection B's digests, then operations:
one byte (bit 7: connection B, else the already-connected admin queue A;
low bits: the builder) followed by the builder's parameter bytes, exactly as
tests/fuzz/fuzz_target_session.c reads them. Run from anywhere; it writes
into tests/fuzz/corpus/target_session/ next to this script. The output is
deterministic, so the committed files match a fresh run.
"""
import os
import struct

CAPSULE, IO, H2C, RAW, CONNECT, PROP, TERM, PUMP, ADMIN = range(9)
B = 0x80  # operation goes to connection B

IO_READ, IO_WRITE, IO_COMPARE, IO_FLUSH, IO_DSM, IO_WZ, IO_COPY = range(7)  # harness table indices
ADM_IDENTIFY, ADM_LOG, ADM_SETF, ADM_GETF, ADM_AER, ADM_ABORT, ADM_KA = range(7)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def op(kind, conn=B):
    return bytes([kind | conn])


def connect_admin():
    return op(CONNECT) + bytes([0x01])


def connect_io(qid=1):
    return op(CONNECT) + bytes([0x02, qid - 1])


def enable(conn=B):
    return op(PROP, conn) + bytes([0x09])  # Property Set CC = EN


def prop_get_csts(conn=B):
    return op(PROP, conn) + bytes([0x0C])


def admin(opc, cdw10=0, cdw11=0, lensel=0, conn=B):
    return op(ADMIN, conn) + bytes([lensel << 2, opc]) + u32(cdw10) + u32(cdw11)


def io(opc, nlb, slba, flags=0, chunk=0, dsm_slba=None):
    out = op(IO) + bytes([flags, opc, nlb - 1, chunk]) + u16(slba)
    if opc == IO_DSM:
        out += u16(dsm_slba or 0)
    return out


def copy(dest, ranges, flags=0x04):
    # NR comes from NLB modulo 8; each range is a selector byte (u16 SLBA
    # follows), the SLBA and NLB (0's based, one byte).
    out = op(IO) + bytes([flags, IO_COPY, len(ranges) + 6, 0]) + u16(dest)
    for slba, nlb0 in ranges:
        out += bytes([0]) + u16(slba) + bytes([nlb0])
    return out


def pump():
    return op(PUMP)


def h2c_answer_last_r2t():
    # cid/ttag/offset/length from the last R2T, DATAL = length, LAST set.
    return op(H2C) + bytes([0x01 | 0x02 | 0x08 | 0x10 | 0x20 | 0x40])


SEEDS = {
    "admin_identify": b"\x00" + connect_admin() + enable() + pump() +
    admin(ADM_IDENTIFY, 1, lensel=4) + admin(ADM_IDENTIFY, 0, lensel=4) +
    admin(ADM_IDENTIFY, 2, lensel=4) + admin(ADM_LOG, 0x02 | (127 << 16), lensel=3) +
    prop_get_csts(),
    "io_r2t_write_read": b"\x00" + connect_io() + pump() +
    io(IO_WRITE, 64, 16, flags=0x08, chunk=15) + io(IO_READ, 64, 16) +
    io(IO_WRITE, 8, 32, flags=0x04) + io(IO_COMPARE, 8, 32, flags=0x04) +
    io(IO_FLUSH, 1, 0) + io(IO_DSM, 1, 0, flags=0x04, dsm_slba=32) + io(IO_WZ, 8, 32),
    "io_digests": b"\x03" + connect_io() + pump() +
    io(IO_WRITE, 128, 0, flags=0x08, chunk=31) + io(IO_READ, 128, 0) +
    io(IO_WRITE, 16, 200, flags=0x04) + io(IO_READ, 16, 200),
    "io_4k_namespace": b"\x01" + connect_io(2) + pump() +
    io(IO_WRITE, 4, 3, flags=0x09, chunk=7) + io(IO_READ, 4, 3, flags=0x01),
    "h2c_after_r2t": b"\x00" + connect_io() + pump() + io(IO_WRITE, 32, 0) + pump() +
    h2c_answer_last_r2t() + pump() + h2c_answer_last_r2t(),
    "admin_queue_cmds": b"\x00" + admin(ADM_AER, conn=0) + admin(ADM_ABORT, 4 << 16, conn=0) +
    admin(ADM_GETF, 0x07, conn=0) + admin(ADM_SETF, 0x0F, 5000, conn=0) +
    admin(ADM_KA, conn=0) + admin(ADM_LOG, 0x05 | (1023 << 16), lensel=4, conn=0) +
    admin(ADM_LOG, 0x04 | (1023 << 16), lensel=4, conn=0),
    "discovery": b"\x00" + op(CONNECT) + bytes([0x41, 0x01]) + enable() + pump() +
    admin(ADM_LOG, 0x70 | (255 << 16), lensel=5),
    # An all-zero host NQN (what SPDK's tools send without one): accepted on
    # a subsystem open to any host and on the discovery controller.
    "zero_hostnqn": b"\x00" + op(CONNECT) + bytes([0x81, 0x00]) + enable() + pump() +
    admin(ADM_IDENTIFY, 1, lensel=4) + admin(ADM_IDENTIFY, 0, lensel=4),
    "zero_hostnqn_discovery": b"\x00" + op(CONNECT) + bytes([0xC1, 0x01, 0x00]) + enable() +
    pump() + admin(ADM_LOG, 0x70 | (255 << 16), lensel=5),
    "bad_pdus": b"\x00" + connect_io() + op(RAW) + bytes([8]) +
    struct.pack("<BBBBI", 0x0B, 0, 24, 0, 24),
    # Eight unanswered R2Ts hold every large buffer; the in-capsule 16 KiB
    # write then waits for one (NEED_BUF, receive stalled) until teardown.
    "buffer_exhaustion": b"\x00" + connect_io() + pump() +
    b"".join(io(IO_WRITE, 64, 64 * i) for i in range(8)) + pump() +
    io(IO_WRITE, 32, 0, flags=0x04) + io(IO_READ, 8, 0),
    # Copy: two ranges in order, then a bad descriptor format and a range past the end.
    "io_copy": b"\x00" + connect_io() + pump() + io(IO_WRITE, 16, 0, flags=0x04) +
    copy(100, [(8, 7), (0, 7)]) + io(IO_READ, 16, 100) + copy(200, [(0, 0)], flags=0x25) +
    copy(300, [(65000, 255)]),
    "host_term": b"\x02" + connect_io() + io(IO_WRITE, 16, 0) + op(TERM) + bytes([8]) +
    u16(1) + u32(0),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "target_session")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

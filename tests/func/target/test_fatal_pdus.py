# SPDX-License-Identifier: MIT
"""Malformed and out-of-order PDUs (NVMe/TCP 1.0 3.6.2.3, 3.3).

Every fatal case must get a C2HTermReq with the right FES (and FEI where the
target sets one), after which the target closes that connection only: a
controller connected before the bad connection keeps working, and the daemon
takes new connections.
"""

import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402


class FatalPduTest(TargetTestCase):

    def setUp(self):
        self.good = self.pair()
        self.bad = None

    def tearDown(self):
        self.close_all(self.good, self.bad)

    def expect_fatal(self, fes, fei=None):
        """The bad connection gets C2HTermReq(fes, fei), then is closed."""
        t = self.bad.expect_term()
        self.assertEqual(t.fes, fes, "FES 0x%x FEI %d, wanted FES 0x%x" % (t.fes, t.fei, fes))
        if fei is not None:
            self.assertEqual(t.fei, fei)
        self.assertLessEqual(len(t.data), 128)
        self.bad.wait_closed()
        self.assert_healthy(self.good)
        self.assert_serving()
        return t

    def bad_io(self, **kw):
        """A second controller with an I/O queue: the one that misbehaves."""
        a, q = self.pair(**kw)
        self.bad_admin = a
        self.addCleanup(a.close)
        self.bad = q
        return q

    def start_r2t_write(self, q, length):
        """Submit a write that needs an R2T; returns (cid, (ttag, r2to, r2tl))."""
        cid = q.submit(q.rw_cmd(raw.IO_WRITE, 1, 0, length // 512), os.urandom(length),
                       incapsule=False)
        r2t = q.wait_r2t(cid)
        self.assertIsNotNone(r2t, "no R2T for a %d-byte write" % length)
        self.assertEqual(r2t[1:], (0, length))
        return cid, r2t

    # -- common header --

    def test_unknown_pdu_type(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(0x0B, 0, 24, 0, 24) + bytes(16))
        self.expect_fatal(raw.FES_INVALID_HEADER, 0)

    def test_reserved_pdu_type_8(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(0x08, 0, 24, 0, 24) + bytes(16))
        self.expect_fatal(raw.FES_INVALID_HEADER, 0)

    def test_c2hdata_from_host(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(raw.C2H_DATA, raw.F_LAST, 24, 24, 24 + 512) +
                      struct.pack("<HHII4x", 1, 0, 0, 512) + bytes(512))
        self.expect_fatal(raw.FES_INVALID_HEADER, 0)

    def test_capsule_resp_from_host(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(raw.CAPSULE_RESP, 0, 24, 0, 24) + bytes(16))
        self.expect_fatal(raw.FES_INVALID_HEADER, 0)

    def test_wrong_hlen(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(raw.CAPSULE_CMD, 0, 70, 0, 70) + bytes(62))
        self.expect_fatal(raw.FES_INVALID_HEADER, 2)

    def test_wrong_pdo(self):
        self.bad = raw.Queue(self.addr, self.port)
        cmd = raw.connect_sqe(1, 0, 31)
        self.bad.send(raw.ch(raw.CAPSULE_CMD, 0, 72, 80, 72 + 8 + 1024) + cmd + bytes(8) +
                      raw.connect_data(self.NQN))
        self.expect_fatal(raw.FES_INVALID_HEADER, 3)

    def test_pdo_without_data(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(raw.CAPSULE_CMD, 0, 72, 72, 72) + raw.sqe(raw.ADM_IDENTIFY, 1))
        self.expect_fatal(raw.FES_INVALID_HEADER, 3)

    def test_plen_shorter_than_header(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(raw.ch(raw.CAPSULE_CMD, 0, 72, 0, 40) + bytes(64))
        self.expect_fatal(raw.FES_INVALID_HEADER, 4)

    def test_h2c_datal_disagrees_with_plen(self):
        q = self.bad_io()
        cid, (ttag, _, _) = self.start_r2t_write(q, 16384)
        # DATAL says 4 KiB, PLEN frames 8 KiB.
        q.send(q.h2c(cid, ttag, 0, bytes(8192), datal=4096, last=False))
        self.expect_fatal(raw.FES_INVALID_HEADER, 16)

    def test_termreq_data_is_offending_header(self):
        # The TermReq carries the bytes of the bad PDU's header that arrived;
        # after a rejected common header that is those 8 bytes, never stale
        # bytes of an earlier PDU.
        self.bad = raw.Queue(self.addr, self.port)
        c = self.bad.connect(self.NQN)  # leaves a CapsuleCmd header behind
        self.assertEqual(c.status, 0, c)
        bad_ch = raw.ch(raw.CAPSULE_CMD, 0, 72, 0, 40)
        self.bad.send(bad_ch + bytes(64))
        t = self.expect_fatal(raw.FES_INVALID_HEADER, 4)
        self.assertEqual(t.data, bad_ch)

    def test_pipelined_icreq_and_bad_pdu(self):
        # A host may send ICReq and more PDUs without waiting for ICResp.
        # The ICResp and the TermReq must both arrive, in that order.
        self.bad = raw.Queue(self.addr, self.port, icreq=False)
        self.bad.send(raw.ch(raw.ICREQ, 0, 128, 0, 128) + bytes(120) +
                      raw.ch(0x0B, 0, 24, 0, 24) + bytes(16))
        p = self.bad.recv_pdu()
        self.assertEqual(p.type, raw.ICRESP)
        self.expect_fatal(raw.FES_INVALID_HEADER, 0)

    def test_pipelined_connect_and_bad_pdu(self):
        # Responses queued before a fatal error still go out before the
        # TermReq, and the queue is torn down afterwards (no request lost).
        self.bad = raw.Queue(self.addr, self.port, icreq=False)
        self.bad.send(raw.ch(raw.ICREQ, 0, 128, 0, 128) + bytes(120) +
                      self.bad.capsule(raw.connect_sqe(1, 0, 31), raw.connect_data(self.NQN)) +
                      raw.ch(0x0B, 0, 24, 0, 24) + bytes(16))
        p = self.bad.recv_pdu()
        self.assertEqual(p.type, raw.ICRESP)
        p = self.bad.recv_pdu()
        self.assertEqual(p.type, raw.CAPSULE_RESP, "Connect response lost before the TermReq")
        self.expect_fatal(raw.FES_INVALID_HEADER, 0)

    def test_termreq_to_a_peer_that_never_reads(self):
        # A host that stops reading cannot be sent its TermReq: the data
        # queued before it fills the socket. The target must not keep the
        # queue (and its buffers) forever: after 5 s it shuts the socket
        # without the TermReq, and meanwhile its other connections are served.
        q = self.bad_io()
        # No receive-buffer autotuning: the target's send buffer fills with
        # far less than the 64 x 128 KiB of reads below.
        q.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        for i in range(64):
            q.submit(q.rw_cmd(raw.IO_READ, 1, i * 256, 256), data_in=131072)
        q.send(raw.ch(0x0B, 0, 24, 0, 24) + bytes(16))
        start = time.monotonic()
        self.assert_healthy(self.good)
        self.assertTrue(self.tgt.wait_log("not delivered within 5 s", timeout=15.0),
                        "the stalled TermReq was never given up")
        self.assertGreaterEqual(time.monotonic() - start, 4.5, "gave up before 5 s")
        # Everything the target had sent, then the end of the connection.
        q.sock.settimeout(10.0)
        got = 0
        while True:
            try:
                chunk = q.sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += len(chunk)
        self.assertLess(got, 64 * 131072, "all the data arrived: the target kept the stalled "
                        "queue open instead of shutting it after 5 s")
        self.assert_healthy(self.good)
        self.assert_serving()

    # -- digests --

    def test_header_digest_mismatch(self):
        self.bad = raw.Queue(self.addr, self.port, hdgst=True)
        self.bad.send(self.bad.capsule(raw.connect_sqe(1, 0, 31), raw.connect_data(self.NQN),
                                       bad_hdgst=True))
        self.expect_fatal(raw.FES_HDR_DIGEST)

    def test_header_digest_missing(self):
        self.bad = raw.Queue(self.addr, self.port, hdgst=True)
        self.bad.hdgst = False  # send without HDGST although it was negotiated
        self.bad.send(self.bad.capsule(raw.connect_sqe(1, 0, 31), raw.connect_data(self.NQN)))
        self.expect_fatal(raw.FES_INVALID_HEADER, 1)

    def test_data_digest_mismatch_incapsule_is_not_fatal(self):
        # Documented choice (NVMe/TCP 1.0 3.6.1.1 allows either): the command
        # fails with Transient Transport Error, the connection stays up.
        q = self.bad_io(hdgst=True, ddgst=True)
        old = os.urandom(4096)
        self.assertEqual(q.write(1, 64, old).status, 0)
        new = os.urandom(4096)
        cid = q.cid()
        cmd = q.rw_cmd(raw.IO_WRITE, 1, 64, 8)(cid, raw.sgl(raw.SGL_INCAPSULE, 4096))
        q.send(q.capsule(cmd, new, bad_ddgst=True))
        c = q.wait(cid)
        self.assertEqual(c.code, raw.SC_TRANSIENT_TRANSPORT, c)
        c = q.read(1, 64, 8)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.data, old, "a write with a bad data digest changed the media")
        self.assertEqual(self.bad_admin.identify(1).status, 0)
        self.assert_healthy(self.good)

    def test_data_digest_mismatch_h2c_is_not_fatal(self):
        q = self.bad_io(ddgst=True)
        data = os.urandom(32768)
        cid, (ttag, _, _) = self.start_r2t_write(q, len(data))
        q.send(q.h2c(cid, ttag, 0, data[:16384], last=False))
        q.send(q.h2c(cid, ttag, 16384, data[16384:], bad_ddgst=True))
        c = q.wait(cid)
        self.assertEqual(c.code, raw.SC_TRANSIENT_TRANSPORT, c)
        self.assertEqual(q.write(1, 0, data).status, 0)
        self.assertEqual(q.read(1, 0, 64).data, data)

    # -- H2CData --

    def test_h2c_beyond_transfer(self):
        q = self.bad_io()
        cid, (ttag, _, _) = self.start_r2t_write(q, 16384)
        q.send(q.h2c(cid, ttag, 0, bytes(20480)))
        self.expect_fatal(raw.FES_OUT_OF_RANGE)

    def test_h2c_wrong_offset(self):
        q = self.bad_io()
        cid, (ttag, _, _) = self.start_r2t_write(q, 16384)
        q.send(q.h2c(cid, ttag, 4096, bytes(4096), last=False))
        self.expect_fatal(raw.FES_OUT_OF_RANGE, 12)

    def test_h2c_after_last_chunk(self):
        q = self.bad_io()
        cid, (ttag, _, _) = self.start_r2t_write(q, 16384)
        q.send(q.h2c(cid, ttag, 0, bytes(16384)))
        q.send(q.h2c(cid, ttag, 16384, bytes(4096)))
        t = q.expect_term()
        # Either the tag is already released (FES 1) or the data is past
        # the transfer (FES 4); both are fatal and name the field.
        self.assertIn((t.fes, t.fei), [(raw.FES_INVALID_HEADER, 10), (raw.FES_OUT_OF_RANGE, 12)])
        q.wait_closed()
        self.assert_healthy(self.good)
        self.assert_serving()

    def test_h2c_above_maxh2cdata(self):
        q = self.bad_io()
        cid, (ttag, _, _) = self.start_r2t_write(q, 131072)
        n = q.maxh2cdata + 4
        q.send(raw.ch(raw.H2C_DATA, 0, 24, 24, 24 + n) +
               struct.pack("<HHII4x", cid, ttag, 0, n) + bytes(4096))
        self.expect_fatal(raw.FES_DATA_LIMIT)

    def test_h2c_unknown_ttag(self):
        q = self.bad_io()
        cid, _ = self.start_r2t_write(q, 16384)
        q.send(q.h2c(cid, 0xFFFF, 0, bytes(4096), last=False))
        self.expect_fatal(raw.FES_INVALID_HEADER, 10)

    def test_h2c_wrong_cccid(self):
        q = self.bad_io()
        cid, (ttag, _, _) = self.start_r2t_write(q, 16384)
        q.send(q.h2c(cid ^ 0x100, ttag, 0, bytes(4096), last=False))
        self.expect_fatal(raw.FES_INVALID_HEADER, 8)

    def test_h2c_no_r2t_outstanding(self):
        q = self.bad_io()
        q.send(q.h2c(1, 0, 0, bytes(4096)))
        self.expect_fatal(raw.FES_INVALID_HEADER, 10)

    def test_h2c_on_finished_transfer(self):
        q = self.bad_io()
        data = os.urandom(16384)
        cid = q.submit(q.rw_cmd(raw.IO_WRITE, 1, 0, 32), data, incapsule=False)
        r2t = q.wait_r2t(cid)
        q.send_h2c(cid, r2t, data)
        self.assertEqual(q.wait(cid).status, 0)
        q.send(q.h2c(cid, r2t[0], 0, bytes(4096)))
        self.expect_fatal(raw.FES_INVALID_HEADER, 10)

    # -- connection initialization --

    def test_capsule_before_icreq(self):
        self.bad = raw.Queue(self.addr, self.port, icreq=False)
        self.bad.send(self.bad.capsule(raw.connect_sqe(1, 0, 31), raw.connect_data(self.NQN)))
        self.expect_fatal(raw.FES_PDU_SEQUENCE)

    def test_second_icreq(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.icreq(expect_resp=False)
        self.expect_fatal(raw.FES_PDU_SEQUENCE)

    def test_oversize_icreq(self):
        self.bad = raw.Queue(self.addr, self.port, icreq=False)
        self.bad.send(raw.ch(raw.ICREQ, 0, 128, 0, 132) + bytes(124))
        self.expect_fatal(raw.FES_INVALID_HEADER, 4)

    def test_icreq_pfv_not_zero(self):
        self.bad = raw.Queue(self.addr, self.port, icreq=False)
        self.bad.icreq(pfv=1, expect_resp=False)
        self.expect_fatal(raw.FES_UNSUPPORTED, 8)

    # -- in-capsule data --

    def test_incapsule_above_limit_io(self):
        q = self.bad_io()
        n = q.icdata + 512
        cid = q.cid()
        cmd = q.rw_cmd(raw.IO_WRITE, 1, 0, n // 512)(cid, raw.sgl(raw.SGL_INCAPSULE, n))
        q.send(q.capsule(cmd, bytes(n)))
        self.expect_fatal(raw.FES_DATA_LIMIT, 4)

    def test_incapsule_above_limit_admin(self):
        self.bad = raw.Queue(self.addr, self.port)
        self.bad.send(self.bad.capsule(raw.connect_sqe(1, 0, 31, dlen=9216), bytes(9216)))
        self.expect_fatal(raw.FES_DATA_LIMIT, 4)

    def test_too_many_outstanding_commands(self):
        # More commands than the queue can hold (twice SQSIZE is accepted).
        q = self.bad_io()
        q.send(b"".join(q.capsule(q.rw_cmd(raw.IO_WRITE, 1, 0, 32)(
            q.cid(), raw.sgl(raw.SGL_TRANSPORT, 16384))) for _ in range(300)))
        self.expect_fatal(raw.FES_PDU_SEQUENCE)


if __name__ == "__main__":
    unittest.main(verbosity=2)

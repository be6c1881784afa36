# SPDX-License-Identifier: MIT
"""Many connections at once, the max_connections limit, and Connects from
hosts without a host NQN."""

import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402

NCONN = 64

LIMIT_INI = """
[target]
reactors = 2
max_connections = 4

[port "io"]
address = {addr}
port = {port}

[subsystem "nqn.2026-01.io.fabriq.test:sub1"]
namespace = ram:16M
"""


class ManyConnectionsTest(TargetTestCase):
    ARGS = TargetTestCase.ARGS[:-1] + ["2"]  # two reactors

    def test_concurrent_admin_connects(self):
        qs = [raw.Queue(self.addr, self.port, icreq=False) for _ in range(NCONN)]
        self.addCleanup(self.close_all, qs)
        for q in qs:
            q.icreq(expect_resp=False)
        for q in qs:
            p = q.recv_pdu()
            self.assertEqual(p.type, raw.ICRESP)
        # All Connects go out before any answer is read.
        data = raw.connect_data(self.NQN)
        for q in qs:
            q.send(q.capsule(raw.connect_sqe(1, 0, 31), data))
        ids = []
        for q in qs:
            c = q.wait(1)
            self.assertEqual(c.status, 0, c)
            ids.append(c.dw0 & 0xFFFF)
        self.assertEqual(len(set(ids)), NCONN, "controller IDs are not unique")
        for q in qs:
            q.send(q.capsule(raw.fabrics_sqe(raw.FCTYPE_DISCONNECT, 2)))
        for q in qs:
            self.assertEqual(q.wait(2).status, 0)
            q.wait_closed()
        self.assert_serving()


class ConnectionLimitTest(TargetTestCase):
    INI = LIMIT_INI

    def accepted(self):
        """A new connection, or None if the target closes it at once."""
        q = raw.Queue(self.addr, self.port, icreq=False, timeout=2)
        try:
            q.icreq()
            return q
        except (raw.Closed, ConnectionError):
            q.close()
            return None

    def test_max_connections(self):
        time.sleep(0.2)  # the start-up probe connection is gone by now
        held = [self.accepted() for _ in range(4)]
        self.addCleanup(self.close_all, [q for q in held if q])
        self.assertTrue(all(held), "fewer than max_connections accepted")
        for _ in range(3):
            self.assertIsNone(self.accepted(), "a connection above the limit was served")
        self.assertTrue(self.tgt.wait_log("connection limit"))
        # The held ones still work.
        c = held[0].connect(self.NQN)
        self.assertEqual(c.status, 0, c)
        # Closing one makes room again.
        held.pop().close()
        deadline = time.monotonic() + 3
        q = None
        while q is None and time.monotonic() < deadline:
            q = self.accepted()
            if q is None:
                time.sleep(0.05)
        self.assertIsNotNone(q, "no room after a connection closed")
        held.append(q)


class IdleHandshakeTest(TargetTestCase):
    """A connection that stops after ICReq, before Connect, is closed after
    about 10 s (regression: it used to hold its request array forever)."""

    def test_no_connect_after_icreq_is_closed(self):
        q = raw.Queue(self.addr, self.port, timeout=20)
        self.addCleanup(q.close)
        t0 = time.monotonic()
        q.wait_closed(timeout=20)
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 8, "closed too early")
        self.assertLess(elapsed, 16, "not closed in time")
        self.assertTrue(self.tgt.wait_log("no Connect within 10 s"))
        self.assert_serving()

    def test_no_icreq_is_closed(self):
        """A connection that never sends its ICReq is dropped by the
        transport's own deadline (the reactor's tick hands it the queue)."""
        s = socket.create_connection((self.addr, self.port), timeout=30)
        self.addCleanup(s.close)
        self.assertEqual(s.recv(1), b"", "the target sent something before an ICReq")
        self.assertTrue(self.tgt.wait_log("sent no ICReq within 10 s"))
        self.assertTrue(self.tgt.wait_log("closed: initialization timeout"))
        self.assert_serving()


ZERO_HOST_INI = """
[target]
reactors = 1

[port "io"]
address = {addr}
port = {port}

[port "disc"]
address = {addr}
port = {dport}
discovery_only = yes

[subsystem "nqn.2026-01.io.fabriq.test:sub1"]
namespace = ram:16M

[subsystem "nqn.2026-01.io.fabriq.test:locked"]
allow_host = nqn.2026-01.io.fabriq.test:host-allowed
namespace = ram:16M
"""


class ZeroHostNqnTest(TargetTestCase):
    """SPDK's host tools without a host NQN send an all-zero HOSTNQN field.
    An empty NQN is well formed: a subsystem open to any host takes it, one
    with allow_host entries refuses it as an unknown host (regression: both
    were refused as "host NQN not terminated", Invalid Parameter)."""

    INI = ZERO_HOST_INI
    LOCKED = "nqn.2026-01.io.fabriq.test:locked"

    def test_allow_any_subsystem_accepts_empty_host_nqn(self):
        a = raw.admin_queue(self.addr, self.port, self.NQN, hostnqn="")
        self.addCleanup(a.close)
        self.assertEqual(a.set_features(0x07, 0).status, 0)
        q = raw.io_queue(self.addr, self.port, self.NQN, a.cntlid, hostnqn="")
        self.addCleanup(q.close)
        self.assert_healthy((a, q))
        self.assertTrue(self.tgt.wait_log("for host (no host NQN)"))
        self.assertNotIn("not terminated", self.tgt.log_text())

    def test_acl_subsystem_refuses_empty_host_nqn(self):
        q = raw.Queue(self.addr, self.port)
        self.addCleanup(q.close)
        c = q.connect(self.LOCKED, hostnqn="")
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_HOST, c)
        self.assertTrue(c.dnr, c)
        self.assertTrue(self.tgt.wait_log("sent an empty host NQN, which matches no "
                                          "allow_host entry of " + self.LOCKED))
        # The allowed host still gets in on the same subsystem.
        q2 = raw.Queue(self.addr, self.port)
        self.addCleanup(q2.close)
        c = q2.connect(self.LOCKED, hostnqn="nqn.2026-01.io.fabriq.test:host-allowed")
        self.assertEqual(c.status, 0, c)

    def test_discovery_with_empty_host_nqn(self):
        a = raw.admin_queue(self.addr, self.tgt.dport, raw.DISCOVERY_NQN, hostnqn="")
        self.addCleanup(a.close)
        c = a.get_log(0x70, 1024 * 4)
        self.assertEqual(c.status, 0, c)
        numrec = struct.unpack_from("<Q", c.data, 8)[0]
        nqns = [c.data[1024 * (i + 1) + 256:1024 * (i + 1) + 512].rstrip(b"\0").decode()
                for i in range(numrec)]
        # Only the subsystem open to any host is listed for it.
        self.assertEqual(nqns, [self.NQN])

    def test_unterminated_host_nqn_is_invalid_parameter(self):
        q = raw.Queue(self.addr, self.port)
        self.addCleanup(q.close)
        c = q.connect(self.NQN, hostnqn="n" * 256)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertTrue(self.tgt.wait_log("host NQN not NUL-terminated"))
        q2 = raw.Queue(self.addr, self.port)
        self.addCleanup(q2.close)
        c = q2.connect(self.NQN, hostnqn="n" * 224)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertTrue(self.tgt.wait_log("host NQN longer than 223 bytes"))


if __name__ == "__main__":
    unittest.main(verbosity=2)

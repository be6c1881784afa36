# SPDX-License-Identifier: MIT
"""Many connections at once, and the max_connections limit."""

import os
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


if __name__ == "__main__":
    unittest.main(verbosity=2)

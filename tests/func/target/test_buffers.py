# SPDX-License-Identifier: MIT
"""Data-buffer exhaustion with a pool of 8 large buffers.

Regression tests for two bugs:
- a write parked while waiting for a buffer was executed without asking for
  its data (no R2T) once a buffer came free;
- a connection whose receive side waited for a buffer held by its own
  R2T'd writes deadlocked (it could never read the H2CData that frees them).

Namespace 1 is RAM: its in-capsule writes run straight from the receive
buffer and need no pool buffer. Namespace 2 is a file, whose asynchronous
writes do.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402

BIG = 131072  # one large buffer per command
INI = """
[target]
reactors = 1
buffers_per_reactor = 8
in_capsule_data = 16384
max_transfer = 131072

[port "io"]
address = {addr}
port = {port}

[subsystem "nqn.2026-01.io.fabriq.test:sub1"]
namespace = ram:64M
namespace = file:{tmp}/ns2.img:64M
"""


class BufferExhaustionTest(TargetTestCase):
    INI = INI

    def hold_all_buffers(self, q, base):
        """Eight 128 KiB writes that got their R2T and hold every large buffer."""
        data = [os.urandom(BIG) for _ in range(8)]
        cids = [q.submit(q.rw_cmd(raw.IO_WRITE, 1, base + i * 256, 256), data[i],
                         incapsule=False) for i in range(8)]
        r2ts = [q.wait_r2t(c) for c in cids]
        self.assertTrue(all(r2ts), "a write got no R2T")
        return cids, r2ts, data

    def finish(self, q, cids, r2ts, data):
        for cid, r2t, d in zip(cids, r2ts, data):
            q.send_h2c(cid, r2t, d)
        for cid in cids:
            self.assertEqual(q.wait(cid).status, 0)

    def test_parked_write_gets_r2t_when_a_buffer_frees(self):
        a, q = self.pair()
        self.addCleanup(self.close_all, [a, q])
        cids, r2ts, data = self.hold_all_buffers(q, 0)
        extra = os.urandom(BIG)
        cid9 = q.submit(q.rw_cmd(raw.IO_WRITE, 1, 4096, 256), extra, incapsule=False)
        # Completing one write frees its buffer for the parked one, which must
        # now ask for its data instead of completing without it.
        q.send_h2c(cids[0], r2ts[0], data[0])
        self.assertEqual(q.wait(cids[0]).status, 0)
        r2t9 = q.wait_r2t(cid9)
        self.assertIsNotNone(r2t9, "parked write completed without an R2T")
        q.send_h2c(cid9, r2t9, extra)
        self.assertEqual(q.wait(cid9).status, 0)
        self.finish(q, cids[1:], r2ts[1:], data[1:])
        c = q.read(1, 4096, 256)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.data, extra)

    def test_incapsule_without_buffer_is_interrupted_not_stalled(self):
        a, q = self.pair()
        self.addCleanup(self.close_all, [a, q])
        cids, r2ts, data = self.hold_all_buffers(q, 8192)
        small = os.urandom(16384)  # in-capsule, needs a large buffer here
        c = q.write(2, 16384, small, incapsule=True)
        # Retryable "Command Interrupted", and the socket keeps being read.
        self.assertEqual((c.sct, c.sc), (0, 0x21), c)
        self.assertFalse(c.dnr)
        self.finish(q, cids, r2ts, data)
        self.assertEqual(q.write(2, 16384, small, incapsule=True).status, 0)
        c = q.read(2, 16384, 32)
        self.assertEqual(c.data, small)
        self.assert_healthy((a, q))

    def test_ram_incapsule_write_needs_no_buffer(self):
        """RAM in-capsule writes run from the receive buffer: with the pool
        empty they still succeed, and many in one send land intact."""
        a, q = self.pair()
        self.addCleanup(self.close_all, [a, q])
        cids, r2ts, data = self.hold_all_buffers(q, 8192)
        blocks = [os.urandom(4096) for _ in range(16)]
        pending = [q.submit(q.rw_cmd(raw.IO_WRITE, 1, 40000 + i * 8, 8), b, incapsule=True)
                   for i, b in enumerate(blocks)]
        for cid in pending:
            self.assertEqual(q.wait(cid).status, 0)
        self.finish(q, cids, r2ts, data)
        for i, b in enumerate(blocks):
            self.assertEqual(q.read(1, 40000 + i * 8, 8).data, b)
        self.assert_healthy((a, q))


if __name__ == "__main__":
    unittest.main()

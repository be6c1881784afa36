# SPDX-License-Identifier: MIT
"""The qos layer end to end: fabriqd with a rate-limited namespace next to a
plain one. Reads over the limit are held back (checked from below only: a
limit makes I/O take at least so long; a busy machine can only make it
slower), the neighbouring namespace is not held back with it, and both keep
their data.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fabriqd_proc import TargetTestCase  # noqa: E402

NQN = "nqn.2026-01.io.fabriq.test:sub1"
IOPS, BURST_MS, N = 200, 10, 100


class QosTest(TargetTestCase):
    NQN = NQN
    ARGS = ["--nqn", NQN, "--reactors", "1",
            "--ns", "qos:read_iops=%d,burst_ms=%d+ram:4M" % (IOPS, BURST_MS),
            "--ns", "ram:4M"]

    def reads(self, q, nsid):
        t0 = time.monotonic()
        for i in range(N):
            c = q.read(nsid, 8 * (i % 64), 8)
            self.assertEqual(c.status, 0, c)
        return time.monotonic() - t0

    def test_read_iops_limit(self):
        a, q = self.pair()
        try:
            data = os.urandom(4096)
            for nsid in (1, 2):
                self.assertEqual(q.write(nsid, 0, data).status, 0)
            # Writes are not limited; the read limit holds N reads to at
            # least (N - burst) / IOPS seconds.
            limited = self.reads(q, 1)
            floor = (N - IOPS * BURST_MS / 1000) / IOPS
            self.assertGreaterEqual(limited, floor * 0.98)
            # The plain namespace on the same connection and reactor is not
            # held back: the same reads take well under the limited time.
            plain = self.reads(q, 2)
            self.assertLess(plain, limited / 2, "plain %.3f s, limited %.3f s" % (plain, limited))
            for nsid in (1, 2):
                c = q.read(nsid, 0, 8)
                self.assertEqual(c.data, data)
        finally:
            self.close_all(a, q)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: MIT
"""A host that vanishes mid-transfer (RST with SO_LINGER 0) leaves nothing
behind: no request, buffer or controller leaks.

The daemon runs with the smallest data-buffer pool (8 buffers of 128 KiB):
a buffer leaked per killed write would exhaust it within a few rounds and
the final writes would wait for a buffer forever (a timeout here). Under
the ASan build, LeakSanitizer checks the rest at exit.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402

INI = """
[target]
reactors = 1
buffers_per_reactor = 8

[port "io"]
address = {addr}
port = {port}

[subsystem "nqn.2026-01.io.fabriq.test:sub1"]
namespace = ram:64M
"""

ROUNDS = 50
XFER = 131072


class HostKilledTest(TargetTestCase):
    INI = INI

    def kill_mid_write(self, i):
        a, q = self.pair()
        data = os.urandom(XFER)
        slba = (i % 64) * (XFER // 512)
        cid = q.submit(q.rw_cmd(raw.IO_WRITE, 1, slba, XFER // 512), data, incapsule=False)
        ttag, r2to, r2tl = q.wait_r2t(cid)
        self.assertEqual((r2to, r2tl), (0, XFER))
        half = XFER // 2
        kind = i % 4
        if kind == 0:
            # One H2CData PDU for all the data, cut off halfway.
            pdu = q.h2c(cid, ttag, 0, data)
            q.send(pdu[:24 + half])
        elif kind == 1:
            # A complete first H2CData PDU, the second never comes.
            q.send(q.h2c(cid, ttag, 0, data[:half], last=False))
        elif kind == 2:
            # Also a read in flight and a second write waiting for its R2T.
            q.send_h2c(cid, (ttag, 0, half), data)
            q.submit(q.rw_cmd(raw.IO_READ, 1, 0, XFER // 512), data_in=XFER)
            q.submit(q.rw_cmd(raw.IO_WRITE, 1, slba, XFER // 512), data, incapsule=False)
        else:
            # Only the R2T was seen.
            pass
        q.close(rst=True)
        # The admin queue goes away too: by RST or by an ordinary close.
        a.close(rst=i % 2 == 0)

    def test_host_killed_mid_write(self):
        good = self.pair()
        self.addCleanup(self.close_all, good)
        for i in range(ROUNDS):
            self.kill_mid_write(i)
        self.assertTrue(self.tgt.alive())
        # Every buffer is back: the whole pool's worth of 128 KiB writes in
        # flight at once on a fresh controller completes.
        a, q = self.pair()
        self.addCleanup(self.close_all, a, q)
        blobs = [os.urandom(XFER) for _ in range(8)]
        cids = [q.submit(q.rw_cmd(raw.IO_WRITE, 1, n * 256, 256), b, incapsule=False)
                for n, b in enumerate(blobs)]
        for cid, b in zip(cids, blobs):
            r2t = q.wait_r2t(cid)
            self.assertIsNotNone(r2t)
            q.send_h2c(cid, r2t, b)
        for cid in cids:
            c = q.wait(cid)
            self.assertEqual(c.status, 0, c)
        for n, b in enumerate(blobs):
            self.assertEqual(q.read(1, n * 256, 256).data, b)
        self.assert_healthy(good)
        self.assert_serving()


if __name__ == "__main__":
    unittest.main(verbosity=2)

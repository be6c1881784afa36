# SPDX-License-Identifier: MIT
"""Keep-alive (NVMe Base 2.0 3.9): a controller whose host stays silent past
KATO is torn down with its I/O queues and a log line; one whose host sends
Keep Alive in time stays up.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402

KATO_MS = 1000  # the daemon's default minimum


class KatoTest(TargetTestCase):

    def test_kato_expiry_and_keep_alive(self):
        # Both controllers live through the same 4 s, so the run stays short:
        # "silent" sends nothing after enabling, "busy" sends Keep Alive
        # every 400 ms.
        t0 = time.monotonic()
        silent = self.admin(kato=KATO_MS)
        self.assertEqual(silent.set_features(0x07, 0).status, 0)
        silent_io = raw.io_queue(self.addr, self.port, self.NQN, silent.cntlid)
        busy = self.admin(kato=KATO_MS)
        self.assertEqual(busy.set_features(0x07, 0).status, 0)
        busy_io = raw.io_queue(self.addr, self.port, self.NQN, busy.cntlid)
        self.addCleanup(self.close_all, silent, silent_io, busy, busy_io)
        admin_closed = io_closed = None
        next_ka = time.monotonic() + 0.4
        while time.monotonic() - t0 < 4.0:
            now = time.monotonic()
            if now >= next_ka:
                c = busy.keep_alive()
                self.assertEqual(c.status, 0, c)
                next_ka += 0.4
            if admin_closed is None and silent.poll_closed():
                admin_closed = time.monotonic() - t0
            if io_closed is None and silent_io.poll_closed():
                io_closed = time.monotonic() - t0
            time.sleep(0.02)
        self.assertIsNotNone(admin_closed, "silent controller still connected after 4 s")
        self.assertIsNotNone(io_closed, "I/O queue of the expired controller still open")
        # Not before KATO has passed, and within about 3 s of the Connect.
        self.assertGreaterEqual(admin_closed, KATO_MS / 1000.0 - 0.05)
        self.assertLess(admin_closed, 3.0)
        self.assertLess(io_closed, 3.5)
        self.assertTrue(self.tgt.wait_log("controller %d " % silent.cntlid))
        log = self.tgt.log_text()
        expiry = [ln for ln in log.splitlines()
                  if "keep-alive" in ln and "controller %d " % silent.cntlid in ln]
        self.assertTrue(expiry, "no keep-alive log line for controller %d" % silent.cntlid)
        self.assertFalse([ln for ln in log.splitlines()
                          if "keep-alive" in ln and "controller %d " % busy.cntlid in ln])
        # The expired controller is gone: its I/O queue cannot be re-created.
        q = raw.Queue(self.addr, self.port)
        self.addCleanup(q.close)
        c = q.connect(self.NQN, qid=1, cntlid=silent.cntlid, sqsize=31)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        # The kept-alive controller and its I/O queue still work.
        self.assert_healthy((busy, busy_io))
        self.assert_serving()

    def test_kato_below_minimum_is_rounded_up(self):
        a = self.admin(kato=100)
        self.addCleanup(a.close)
        c = a.admin(raw.ADM_GET_FEATURES, cdw10=0x0F)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.dw0, KATO_MS)


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: MIT
"""Stacked bdev modules end to end: fabriqd started with error and delay
layers over ram and file namespaces (from --ns and from the INI file). The
host sees the chosen NVMe status on exactly the chosen LBAs while other I/O
succeeds, a torn write leaves only its first blocks written, and a delay
namespace answers no sooner than its delay (a lower bound only: timing
upper bounds are not checked).
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402

NQN = "nqn.2026-01.io.fabriq.test:sub1"
READ_US, WRITE_US = 20000, 30000
BAD_FIRST, BAD_LAST = 100, 107  # nsid 1: reads here fail
TEAR_LBA, TEAR_BLOCKS = 64, 2   # nsid 2: writes at 64..71 are torn after 2 blocks


def timed(fn):
    t0 = time.monotonic()
    c = fn()
    return c, time.monotonic() - t0


class StackArgsTest(TargetTestCase):
    NQN = NQN
    ARGS = ["--nqn", NQN, "--reactors", "1",
            "--ns", "error:op=read,lba=%d-%d,sct=2,sc=0x81+ram:16M" % (BAD_FIRST, BAD_LAST),
            "--ns", "error:op=write,lba=%d-%d,action=tear,tear=%d,sct=2,sc=0x80,dnr=1+ram:16M"
            % (TEAR_LBA, TEAR_LBA + 7, TEAR_BLOCKS),
            "--ns", "delay:read_us=%d,write_us=%d+ram:16M" % (READ_US, WRITE_US),
            "--ns", "ram:16M"]

    def setUp(self):
        self.a, self.q = self.pair()

    def tearDown(self):
        self.close_all(self.a, self.q)

    def test_read_errors_on_chosen_lbas_only(self):
        q = self.q
        data = os.urandom(32 * 512)
        # Writes are not chosen: they land even on the failing range.
        self.assertEqual(q.write(1, 88, data).status, 0)
        for lba in range(88, 120):
            c = q.read(1, lba, 1)
            if BAD_FIRST <= lba <= BAD_LAST:
                self.assertEqual(c.code, (2, 0x81), "lba %d: %r" % (lba, c))
                self.assertFalse(c.dnr)
            else:
                self.assertEqual(c.status, 0, "lba %d: %r" % (lba, c))
                off = (lba - 88) * 512
                self.assertEqual(c.data, data[off:off + 512], "lba %d" % lba)
        # A read that only touches an edge of the range fails too; one beside it does not.
        self.assertEqual(q.read(1, BAD_FIRST - 4, 5).code, (2, 0x81))
        self.assertEqual(q.read(1, BAD_LAST, 8).code, (2, 0x81))
        self.assertEqual(q.read(1, BAD_FIRST - 8, 8).status, 0)
        self.assertEqual(q.read(1, BAD_LAST + 1, 8).status, 0)
        # The other namespaces are untouched by nsid 1's rule.
        self.assertEqual(q.read(4, BAD_FIRST, 8).status, 0)

    def test_torn_write(self):
        q = self.q
        old = os.urandom(8 * 512)
        new = os.urandom(8 * 512)
        # Outside the range writes work; fill the range's neighbour and check.
        self.assertEqual(q.write(2, TEAR_LBA + 8, old).status, 0)
        self.assertEqual(q.read(2, TEAR_LBA + 8, 8).data, old)
        c = q.write(2, TEAR_LBA, new)
        self.assertEqual(c.code, (2, 0x80), c)
        self.assertTrue(c.dnr)
        c = q.read(2, TEAR_LBA, 8)
        self.assertEqual(c.status, 0, c)
        cut = TEAR_BLOCKS * 512
        self.assertEqual(c.data[:cut], new[:cut])
        self.assertEqual(c.data[cut:], bytes(len(new) - cut))
        # The R2T path (a write larger than the in-capsule size) is torn the same way.
        big = os.urandom(64 * 512)
        c = q.write(2, TEAR_LBA - 16, big, incapsule=False)
        self.assertEqual(c.code, (2, 0x80), c)

    def test_delay_adds_latency(self):
        q = self.q
        data = os.urandom(4096)
        for _ in range(3):
            c, t = timed(lambda: q.write(3, 16, data))
            self.assertEqual(c.status, 0, c)
            self.assertGreaterEqual(t, WRITE_US / 1e6)
            c, t = timed(lambda: q.read(3, 16, 8))
            self.assertEqual(c.status, 0, c)
            self.assertEqual(c.data, data)
            self.assertGreaterEqual(t, READ_US / 1e6)
        # Against the same I/O on a plain RAM namespace, the rise is at least the delay.
        base = min(timed(lambda: q.read(4, 16, 8))[1] for _ in range(5))
        slow = min(timed(lambda: q.read(3, 16, 8))[1] for _ in range(5))
        self.assertGreaterEqual(slow - base, 0.9 * READ_US / 1e6)


INI = """
[target]
reactors = 1

[port "io"]
address = {addr}
port = {port}

[subsystem "%s"]
namespace = delay:write_us=%d+error:op=read,lba=0,count=2+file:{tmp}/a+b.img:4M
namespace = ram:4M
""" % (NQN, WRITE_US)


class StackIniTest(TargetTestCase):
    """A stack from the INI file, over a file whose path holds '+'."""
    NQN = NQN
    INI = INI

    def test_file_stack(self):
        a, q = self.pair()
        try:
            self.assertTrue(os.path.exists(os.path.join(self.tgt.tmp.name, "a+b.img")))
            data = os.urandom(1024)
            c, t = timed(lambda: q.write(1, 0, data))
            self.assertEqual(c.status, 0, c)
            self.assertGreaterEqual(t, WRITE_US / 1e6)
            # count=2: the first two reads of LBA 0 fail with the default media read error.
            for _ in range(2):
                self.assertEqual(q.read(1, 0, 1).code, (2, 0x81))
            self.assertEqual(q.read(1, 1, 1).data, data[512:])
            c = q.read(1, 0, 2)
            self.assertEqual(c.status, 0, c)
            self.assertEqual(c.data, data)
            self.assertEqual(q.read(2, 0, 1).status, 0)
        finally:
            self.close_all(a, q)


class StackDropTest(TargetTestCase):
    """A dropped command never completes; the rest of the queue goes on."""
    NQN = NQN
    ARGS = ["--nqn", NQN, "--reactors", "1",
            "--ns", "error:op=read,lba=5,action=drop+ram:1M"]

    @classmethod
    def tearDownClass(cls):
        # At exit the dropped command is handed back aborted, so its
        # connection closes and is freed like any other: the base class's
        # checks (clean exit, no sanitizer report, leak checking on) apply,
        # and the log says what was aborted.
        log = None
        try:
            cls.tgt.stop()
            log = cls.tgt.log_text()
        finally:
            super().tearDownClass()
        if "1 held command(s) aborted at exit" not in log:
            raise AssertionError("fabriqd did not abort the dropped command at exit; log "
                                 "tail:\n%s" % "\n".join(log.splitlines()[-40:]))
        if "still busy at exit" in log:
            raise AssertionError("a connection outlived the exit:\n%s"
                                 % "\n".join(log.splitlines()[-40:]))

    def test_dropped_read(self):
        a, q = self.pair()
        try:
            self.assertEqual(q.write(1, 0, os.urandom(8 * 512)).status, 0)
            cid = q.submit(q.rw_cmd(raw.IO_READ, 1, 5, 1), data_in=512)
            # Later commands complete around it, the dropped one never does.
            for lba in (4, 6, 0):
                self.assertEqual(q.read(1, lba, 1).status, 0)
            q.timeout = 1.0
            with self.assertRaises(socket.timeout):
                q.wait(cid)
        finally:
            self.close_all(a, q)


if __name__ == "__main__":
    unittest.main()

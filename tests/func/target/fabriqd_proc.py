# SPDX-License-Identifier: MIT
"""Start and stop a fabriqd for one test module.

The daemon listens on free loopback ports picked at start. Its stderr goes to
a file so tests can look for log lines, and stop() checks the exit status of
an orderly SIGTERM shutdown (non-zero under ASan/LSan when something leaked)
and that no sanitizer report was printed.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import nvmeof_raw as raw

ADDR = "127.0.0.1"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def fabriqd_path():
    """The daemon under test: $FABRIQD (set by meson) or --fabriqd PATH."""
    if "--fabriqd" in sys.argv:
        i = sys.argv.index("--fabriqd")
        path = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        os.environ["FABRIQD"] = path
    path = os.environ.get("FABRIQD")
    if not path:
        raise RuntimeError("FABRIQD is not set: run this test through meson")
    return path


def free_port():
    """A TCP port nobody listens on right now (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ADDR, 0))
        return s.getsockname()[1]


class Fabriqd:
    """One fabriqd process.

    args: quick-start options (without --listen), or ini: an INI text in
    which {port} and {dport} are replaced by two free ports, {addr} by the
    loopback address and {tmp} by a scratch directory.
    """

    def __init__(self, args=None, ini=None, discovery=False):
        self.port = free_port()
        self.dport = free_port() if (discovery or ini) else None
        self.tmp = tempfile.TemporaryDirectory(prefix="fabriqd-test-")
        self.logpath = os.path.join(self.tmp.name, "fabriqd.log")
        cmd = [fabriqd_path()]
        if ini is not None:
            cfg = os.path.join(self.tmp.name, "fabriqd.ini")
            with open(cfg, "w") as f:
                f.write(ini.format(port=self.port, dport=self.dport, addr=ADDR, tmp=self.tmp.name))
            cmd += ["-c", cfg]
        else:
            cmd += ["--listen", "%s:%d" % (ADDR, self.port)]
            if discovery:
                cmd += ["--discovery-port", str(self.dport)]
            cmd += list(args or [])
        self.cmd = cmd
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        self._wait_listening()

    def _wait_listening(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("fabriqd exited with %d at start:\n%s" %
                                   (self.proc.returncode, self.log_text()))
            try:
                socket.create_connection((ADDR, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError("fabriqd did not listen on port %d" % self.port)

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, needle, timeout=5.0):
        """True once the log holds needle (the daemon logs asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return needle in self.log_text()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30.0):
        """SIGTERM, wait; returns (exit status, sanitizer report lines)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return "hung after SIGTERM", []
        self.log.close()
        text = self.log_text()
        reports = [ln for ln in text.splitlines() if any(m in ln for m in SANITIZER_MARKS)]
        # A connection that cannot be torn down holds the exit up; say so.
        reports += [ln for ln in text.splitlines() if "still busy at exit" in ln]
        return self.proc.returncode, reports

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def cleanup(self):
        self.tmp.cleanup()


class TargetTestCase(unittest.TestCase):
    """One daemon per test class; stopping it with SIGTERM must exit 0, clean."""

    ARGS = ["--nqn", "nqn.2026-01.io.fabriq.test:sub1", "--ns", "ram:64M",
            "--ns", "ram:32M,bs=4096", "--reactors", "1"]
    INI = None
    DISCOVERY = False
    NQN = "nqn.2026-01.io.fabriq.test:sub1"

    @classmethod
    def setUpClass(cls):
        cls.tgt = Fabriqd(cls.ARGS, ini=cls.INI, discovery=cls.DISCOVERY)
        cls.addr, cls.port = ADDR, cls.tgt.port

    @classmethod
    def tearDownClass(cls):
        rc, reports = cls.tgt.stop()
        log = cls.tgt.log_text()
        cls.tgt.cleanup()
        if rc != 0 or reports:
            raise AssertionError("fabriqd stopped with status %r, sanitizer reports %r; log "
                                 "tail:\n%s" % (rc, reports, "\n".join(log.splitlines()[-40:])))

    # -- helpers shared by the test modules --

    def admin(self, **kw):
        return raw.admin_queue(self.addr, self.port, self.NQN, **kw)

    def pair(self, hdgst=False, ddgst=False, cattr=0):
        """An enabled controller with one I/O queue: (admin, io)."""
        a = self.admin(hdgst=hdgst, ddgst=ddgst)
        c = a.set_features(0x07, 0)  # Number of Queues: one of each
        self.assertEqual(c.status, 0, c)
        q = raw.io_queue(self.addr, self.port, self.NQN, a.cntlid, hdgst=hdgst, ddgst=ddgst,
                         cattr=cattr)
        return a, q

    def assert_healthy(self, pair):
        """Both queues of pair still answer: Identify, then a write/read round trip."""
        a, q = pair
        c = a.identify(1)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(len(c.data), 4096)
        self.assertEqual(struct.unpack_from("<H", c.data, 78)[0], a.cntlid)
        pattern = os.urandom(4096)
        slba = 8 * (a.cntlid % 1000)
        self.assertEqual(q.write(1, slba, pattern).status, 0)
        c = q.read(1, slba, 8)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.data, pattern)

    def assert_serving(self):
        """The daemon takes a new connection and answers on it."""
        self.assertTrue(self.tgt.alive(), "fabriqd died")
        a = self.admin()
        c = a.identify(1)
        self.assertEqual(c.status, 0, c)
        a.disconnect()
        a.close()

    @staticmethod
    def close_all(*queues):
        for q in queues:
            if isinstance(q, (tuple, list)):
                for x in q:
                    x.close()
            elif q is not None:
                q.close()

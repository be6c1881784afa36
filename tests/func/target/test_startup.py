# SPDX-License-Identifier: MIT
"""Starting fabriqd: every shipped example, and starts that must fail cleanly.

A failing start exits 1 with a message naming what is wrong, and leaves no
namespace file (or directory) behind that it created; pre-existing files are
never removed. Every file or block device a namespace opens is locked, so a
second daemon cannot export it.
"""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import ADDR, Fabriqd, fabriqd_path, free_port  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                        "examples")
NQN = "nqn.2026-01.io.fabriq.test:start"


def run_failing(args, timeout=20):
    """Run fabriqd expecting it to give up at start: (exit status, stderr)."""
    p = subprocess.run([fabriqd_path(), "--listen", "%s:%d" % (ADDR, free_port()), "--nqn",
                        NQN, "--reactors", "1"] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stderr.decode(errors="replace")


class ExampleConfigTest(unittest.TestCase):
    """examples/fabriqd.ini starts as shipped, with ports moved to free ones and
    /var/lib/fabriq to a scratch directory that does not exist yet
    (regression: the start failed because the directory was missing)."""

    def test_fabriqd_ini(self):
        with open(os.path.join(EXAMPLES, "fabriqd.ini")) as f:
            text = f.read()
        self.assertIn("/var/lib/fabriq/", text)
        text = text.replace("/var/lib/fabriq", "{tmp}/var/lib/fabriq")
        text = text.replace("port = 4420", "port = {port}", 1)
        text = text.replace("port = 4420", "port = %d" % free_port(), 1)
        text = text.replace("port = 8009", "port = {dport}")
        # Tests use the IPv4 loopback only.
        text = text.replace("address = 127.0.0.1", "address = {addr}")
        text = text.replace("address = ::1", "address = {addr}")
        t = Fabriqd(ini=text)
        try:
            img = os.path.join(t.tmp.name, "var", "lib", "fabriq", "ns2.img")
            self.assertTrue(os.path.isfile(img), "namespace file not created")
            self.assertEqual(os.path.getsize(img), 1 << 30)
            # The allow-any subsystem serves I/O on its O_DIRECT file namespace.
            a = raw.admin_queue(ADDR, t.port, "nqn.2024-01.io.fabriq:files")
            self.addCleanup(a.close)
            self.assertEqual(a.set_features(0x07, 0).status, 0)
            q = raw.io_queue(ADDR, t.port, "nqn.2024-01.io.fabriq:files", a.cntlid)
            self.addCleanup(q.close)
            data = os.urandom(4096)
            self.assertEqual(q.write(5, 0, data).status, 0)
            c = q.read(5, 0, 8)
            self.assertEqual((c.status, c.data), (0, data))
            # The allow-listed one takes a listed host.
            b = raw.admin_queue(ADDR, t.port, "nqn.2024-01.io.fabriq:ram0",
                                hostnqn="nqn.2024-01.io.fabriq:client1")
            self.addCleanup(b.close)
            self.assertEqual(b.identify(1).status, 0)
            d = raw.admin_queue(ADDR, t.dport, raw.DISCOVERY_NQN)
            self.addCleanup(d.close)
            self.assertEqual(d.get_log(0x70, 1024).status, 0)
            for x in (a, q, b, d):
                x.close()
            rc, reports = t.stop()
            self.assertEqual((rc, reports), (0, []), t.log_text())
        finally:
            t.kill()
            t.cleanup()

    def run_example(self, env, args):
        exe = os.environ.get(env)
        if not exe:
            self.fail("%s is not set: run this test through meson" % env)
        p = subprocess.run([exe] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        return out

    def test_host_examples(self):
        """hello.c, and storage-demo.c with examples/storage.ini over both
        backends (target port and file path moved)."""
        nqn = "nqn.2026-11.io.fabriq:default"
        t = Fabriqd(["--nqn", nqn, "--reactors", "1", "--ns", "ram:64M"])
        try:
            out = self.run_example("HELLO", ["trtype:TCP traddr:%s trsvcid:%d subnqn:%s" %
                                             (ADDR, t.port, nqn)])
            self.assertIn('read back: "hello from libfabriq"', out)
            with open(os.path.join(EXAMPLES, "storage.ini")) as f:
                text = f.read()
            self.assertIn("target_port = 4420", text)
            self.assertIn("target_nqn = " + nqn, text)
            for backend in ("nvmeof", "file"):
                ini = text.replace("target_port = 4420", "target_port = %d" % t.port)
                ini = ini.replace("backend = nvmeof", "backend = " + backend)
                ini = ini.replace("/var/tmp/fabriq-storage.img",
                                  os.path.join(t.tmp.name, "storage.img"))
                cfg = os.path.join(t.tmp.name, "storage-%s.ini" % backend)
                with open(cfg, "w") as f:
                    f.write(ini)
                out = self.run_example("STORAGE_DEMO", [cfg])
                self.assertIn('read back: "hello from fabriq storage"', out, backend)
            self.assertTrue(os.path.isfile(os.path.join(t.tmp.name, "storage.img")))
            rc, reports = t.stop()
            self.assertEqual((rc, reports), (0, []), t.log_text())
        finally:
            t.kill()
            t.cleanup()

    def test_missing_directory_that_cannot_be_made(self):
        # A regular file where a directory must go: no one, root included,
        # can make the directory under it.
        with tempfile.TemporaryDirectory() as d:
            blocker = os.path.join(d, "blocker")
            open(blocker, "w").close()
            path = os.path.join(blocker, "sub", "x.img")
            rc, err = run_failing(["--ns", "file:%s:16M" % path])
            self.assertEqual(rc, 1, err)
            self.assertIn("file %s: Not a directory" % path, err)


class FailedStartTest(unittest.TestCase):
    """A start that fails removes the namespace files (and directories) it
    created, never a file that was there before."""

    def test_created_files_removed(self):
        with tempfile.TemporaryDirectory() as d:
            old = os.path.join(d, "old.img")
            with open(old, "wb") as f:
                f.write(b"\x5a" * (1 << 20))
            new = os.path.join(d, "new.img")
            deep = os.path.join(d, "a", "b", "deep.img")
            # The third namespace fails: the file does not exist and has no size.
            rc, err = run_failing(["--ns", "file:%s:4M" % new, "--ns", "file:%s:4M" % deep,
                                   "--ns", "file:%s" % old, "--ns",
                                   "file:%s" % os.path.join(d, "missing.img")])
            self.assertEqual(rc, 1, err)
            self.assertIn("missing.img", err)
            self.assertFalse(os.path.exists(new), "created file left behind")
            self.assertFalse(os.path.exists(os.path.join(d, "a")),
                             "created directories left behind")
            with open(old, "rb") as f:
                self.assertEqual(f.read(), b"\x5a" * (1 << 20))

    def test_created_files_removed_when_the_port_is_taken(self):
        with tempfile.TemporaryDirectory() as d:
            new = os.path.join(d, "new.img")
            import socket
            with socket.socket() as s:
                s.bind((ADDR, 0))
                s.listen(1)
                port = s.getsockname()[1]
                p = subprocess.run([fabriqd_path(), "--listen", "%s:%d" % (ADDR, port),
                                    "--ns", "file:%s:4M" % new, "--reactors", "1"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=20)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertFalse(os.path.exists(new), "created file left behind")


class ExclusiveFileTest(unittest.TestCase):
    """Two daemons cannot export one file; the error names the holder."""

    def test_second_daemon_refused(self):
        t = Fabriqd(["--nqn", NQN, "--reactors", "1", "--ns", "file:{}:8M".format(
            os.path.join(tempfile.gettempdir(), "fq-lock-%d.img" % os.getpid()))])
        path = os.path.join(tempfile.gettempdir(), "fq-lock-%d.img" % os.getpid())
        try:
            rc, err = run_failing(["--ns", "file:%s:8M" % path])
            self.assertEqual(rc, 1, err)
            self.assertIn("file %s: in use by process %d (fabriqd)" % (path, t.proc.pid), err)
            self.assertTrue(os.path.exists(path), "the first daemon's file was removed")
            rc, reports = t.stop()
            self.assertEqual((rc, reports), (0, []))
        finally:
            t.kill()
            t.cleanup()
            os.unlink(path)

    def test_same_file_twice_in_one_daemon(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.img")
            rc, err = run_failing(["--ns", "file:%s:4M" % path, "--ns", "file:%s" % path])
            self.assertEqual(rc, 1, err)
            self.assertIn("file %s: this process already has it open" % path, err)


class RamLimitTest(unittest.TestCase):
    """RAM namespaces are checked against available memory at start
    (regression: ram:64T started, and the process died once written)."""

    def test_ram_64t_refused(self):
        rc, err = run_failing(["--ns", "ram:1M", "--ns", "ram:64T"])
        self.assertEqual(rc, 1, err)
        self.assertIn("namespace 2 (ram, 64 TiB)", err)
        self.assertIn("memory available", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)

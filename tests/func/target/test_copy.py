# SPDX-License-Identifier: MIT
"""The Copy command end to end through `fabriq copy` (the host library) and
fabriqd (docs/cli.md "copy", docs/volumes.md "Shared clusters").

On a RAM and a file namespace the destination holds the sources, in order,
and the sources stay as they were; limits and ranges outside the namespace
fail with the status the NVM Command Set names (Command Size Limit
Exceeded, LBA Out of Range) and the daemon goes on serving. On a thin
volume, whole aligned clusters are shared: the volume's allocated_bytes
(volume_info over the management socket) does not grow for them and grows
for a partial cluster; the data reads back; a write to the source copies
the shared cluster so the destination keeps the old data; a Copy into a
snapshot fails as a write would (SC 20h); the pool checks clean offline
after the daemon stopped, with the shares counted.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fabriqd_proc import ADDR, TargetTestCase  # noqa: E402
from test_rpc import Rpc, fabriq_cli  # noqa: E402

MiB = 1 << 20
CLUSTER = 64 * 1024
NQN = "nqn.2026-01.io.fabriq.test:copy"
VOL_NQN = "nqn.2026-01.io.fabriq:vol:p0:v"


class CopyTest(TargetTestCase):
    NQN = NQN

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="fq-copy-")
        cls.sock = os.path.join(cls.dir.name, "fabriqd.sock")
        cls.pool_path = os.path.join(cls.dir.name, "pool.img")
        cls.file_path = os.path.join(cls.dir.name, "ns.img")
        cls.ARGS = ["--nqn", NQN, "--ns", "ram:64M", "--ns", "file:%s:64M" % cls.file_path,
                    "--reactors", "1", "--rpc-socket", cls.sock]
        super().setUpClass()
        rpc = Rpc(cls.sock)
        rpc.call("pool_create", {"name": "p0", "path": cls.pool_path, "size": 256 * MiB,
                                 "cluster_size": CLUSTER})
        rpc.call("volume_create", {"pool": "p0", "name": "v", "size": 16 * MiB})
        rpc.close()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
            p = subprocess.run([fabriq_cli(), "pool", "check", cls.pool_path, "--json"],
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                raise AssertionError("pool check: %s%s" % (p.stdout, p.stderr))
            rep = json.loads(p.stdout)
            # Clusters 1-3 are still shared with the copy (test_volume_shares_clusters).
            if not rep["clean"] or rep["clusters_shared"] != 3:
                raise AssertionError("pool check: %r" % rep)
        finally:
            cls.dir.cleanup()

    def cli(self, *args, check=True):
        p = subprocess.run([fabriq_cli()] + list(args), capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("fabriq %s: status %d, stderr %s" % (
                " ".join(args), p.returncode, p.stderr))
        return p

    def conn(self, nqn=NQN, nsid=None):
        c = ["-a", ADDR, "-s", str(self.port), "-n", nqn]
        return c + (["--nsid", str(nsid)] if nsid else [])

    def write(self, conn, data, offset):
        path = os.path.join(self.dir.name, "in.bin")
        with open(path, "wb") as f:
            f.write(data)
        self.cli("write", *conn, "--offset", str(offset), "--input", path)

    def read(self, conn, length, offset):
        path = os.path.join(self.dir.name, "out.bin")
        self.cli("read", *conn, "--offset", str(offset), "--length", str(length),
                 "--output", path)
        with open(path, "rb") as f:
            return f.read()

    def copy(self, conn, dest, ranges, *extra, check=True):
        args = ["copy", *conn, "--dest-lba", str(dest)]
        for s, n in ranges:
            args += ["--range", "%d:%d" % (s, n)]
        return self.cli(*args, *extra, check=check)

    def allocated(self):
        rpc = Rpc(self.sock)
        try:
            return rpc.call("volume_info", {"pool": "p0", "name": "v"})["allocated_bytes"]
        finally:
            rpc.close()

    def test_ram_and_file_namespaces(self):
        rnd = random.Random(7)
        for nsid in (1, 2):
            conn = self.conn(nsid=nsid)
            src = bytes(rnd.getrandbits(8) for _ in range(96 * 1024))
            self.write(conn, src, MiB)
            # Two ranges, the second before the first: 64 KiB then 32 KiB.
            out = self.copy(conn, 8192, [(2048 + 64, 128), (2048, 64)]).stdout
            self.assertIn("copied 192 blocks (2 ranges) to LBA 8192", out)
            got = self.read(conn, 96 * 1024, 4 * MiB)
            self.assertEqual(got[:64 * 1024], src[32 * 1024:])
            self.assertEqual(got[64 * 1024:], src[:32 * 1024])
            self.assertEqual(self.read(conn, 96 * 1024, MiB), src, "the source changed")
            js = json.loads(self.copy(conn, 9000, [(2048, 8)], "--json", "--fua").stdout)
            self.assertEqual((js["nsid"], js["dest_lba"], js["blocks"], js["bytes"]),
                             (nsid, 9000, 8, 4096))
            self.assertEqual(js["ranges"], [{"slba": 2048, "nlb": 8}])
            self.assertEqual(self.read(conn, 4096, 9000 * 512), src[:4096])

    def test_errors_have_the_right_status(self):
        conn = self.conn(nsid=1)
        end = 64 * MiB // 512
        p = self.copy(conn, 0, [(end - 1, 2)], check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("LBA Out of Range", p.stderr)
        p = self.copy(conn, end - 1, [(0, 2)], check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("LBA Out of Range", p.stderr)
        # MSRC is 127 (0's based): 129 ranges are one too many.
        p = self.copy(conn, 0, [(i, 1) for i in range(129)], check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("Command Size Limit Exceeded", p.stderr)
        self.copy(conn, 0, [(i, 1) for i in range(128)])
        for bad in (["--range", "5"], ["--range", "5:0"], ["--range", "5:65537"]):
            p = self.cli("copy", *conn, "--dest-lba", "0", *bad, check=False)
            self.assertEqual(p.returncode, 2, bad)
        p = self.cli("copy", *conn, "--range", "0:1", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--dest-lba", p.stderr)
        # Identify Namespace says the same limits the target enforces.
        js = json.loads(self.cli("id-ns", *conn, "--json").stdout)
        self.assertEqual((js["msrc"], js["mssrl"], js["mcl"]), (127, 65535, 524288))
        self.assertTrue(json.loads(self.cli("id-ctrl", *conn, "--json").stdout)["oncs"]
                        & (1 << 8))

    def test_volume_shares_clusters(self):
        conn = self.conn(VOL_NQN)
        rnd = random.Random(11)
        data = bytes(rnd.getrandbits(8) for _ in range(4 * CLUSTER))
        self.write(conn, data, 0)
        base = self.allocated()
        self.assertEqual(base, 4 * CLUSTER)
        # Four whole clusters: shared, nothing allocated.
        self.copy(conn, MiB // 512, [(0, 4 * CLUSTER // 512)])
        self.assertEqual(self.allocated(), base)
        self.assertEqual(self.read(conn, 4 * CLUSTER, MiB), data)
        # Part of a cluster: copied into a new cluster.
        self.copy(conn, 2 * MiB // 512, [(8, 16)])
        self.assertEqual(self.allocated(), base + CLUSTER)
        self.assertEqual(self.read(conn, 8192, 2 * MiB), data[4096:12288])
        # A write to the source copies its cluster; the destination keeps the old data.
        new = bytes(rnd.getrandbits(8) for _ in range(4096))
        self.write(conn, new, 0)
        self.assertEqual(self.read(conn, 4096, 0), new)
        self.assertEqual(self.read(conn, 4 * CLUSTER, MiB), data)
        self.assertEqual(self.allocated(), base + 2 * CLUSTER)
        # A snapshot is read-only: a Copy into it fails as a write would (SC 20h).
        rpc = Rpc(self.sock)
        try:
            rpc.call("volume_snapshot", {"pool": "p0", "name": "v@s"})
        finally:
            rpc.close()
        p = self.copy(self.conn(VOL_NQN + "@s"), 100, [(0, 8)], check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("sct 0x0 sc 0x20", p.stderr)


    def test_volume_suspended_copy_waits(self):
        """A Copy to a suspended volume is held like its reads and writes."""
        rpc = Rpc(self.sock)
        nqn = "nqn.2026-01.io.fabriq:vol:p0:w"
        try:
            rpc.call("volume_create", {"pool": "p0", "name": "w", "size": 4 * MiB})
            conn = self.conn(nqn)
            data = os.urandom(2 * CLUSTER)
            self.write(conn, data, 0)
            rpc.call("volume_suspend", {"pool": "p0", "name": "w"})
            args = [fabriq_cli(), "copy", *conn, "--dest-lba", str(MiB // 512),
                    "--range", "0:%d" % (2 * CLUSTER // 512)]
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                time.sleep(0.5)
                self.assertIsNone(p.poll(), "the copy ran while the volume was suspended")
                rpc.call("volume_resume", {"pool": "p0", "name": "w"})
                _, err = p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(self.read(conn, 2 * CLUSTER, MiB), data)
        finally:
            rpc.call("volume_delete", {"pool": "p0", "name": "w"})
            rpc.close()


if __name__ == "__main__":
    unittest.main()

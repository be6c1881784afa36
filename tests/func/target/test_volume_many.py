# SPDX-License-Identifier: MIT
"""A thousand volumes in one daemon: more than the 64 subsystems a
configuration file may hold, each volume exported as a subsystem of its
own. Every one is created through the management socket, listed, in the
discovery log, and reachable; the last one created serves I/O while the others exist; a
hundred are deleted again and their subsystems go with them.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import ADDR, TargetTestCase  # noqa: E402
from test_rpc import Rpc, fabriq_cli  # noqa: E402

COUNT = 1000
BASE = "nqn.2026-01.io.fabriq:vol:many:"


class ManyVolumesTest(TargetTestCase):
    DISCOVERY = True

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="fq-volmany-")
        cls.sock = os.path.join(cls.dir.name, "fabriqd.sock")
        cls.ARGS = TargetTestCase.ARGS + ["--rpc-socket", cls.sock]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.dir.cleanup()

    def test_thousand_volumes(self):
        rpc = Rpc(self.sock, timeout=60)
        rpc.call("pool_create", {"name": "many", "path": os.path.join(self.dir.name, "p.img"),
                                 "size": 512 << 20, "cluster_size": 64 << 10})
        start = time.monotonic()
        for i in range(COUNT):
            rpc.call("volume_create", {"pool": "many", "name": "v%04d" % i, "size": 1 << 20})
        created = time.monotonic() - start
        print("%d volumes created in %.1f s" % (COUNT, created), file=sys.stderr)
        vols = rpc.call("volume_list", {"pool": "many"})
        self.assertEqual(len(vols), COUNT)
        self.assertEqual(rpc.call("pool_info", {"name": "many"})["volumes"], COUNT)
        subs = {s["nqn"] for s in rpc.call("subsystem_list")}
        self.assertTrue(all(BASE + "v%04d" % i in subs for i in range(COUNT)))
        # Hosts find them all through discovery.
        p = subprocess.run([fabriq_cli(), "discover", "-a", ADDR, "-s", str(self.tgt.dport),
                            "--json"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        found = {r["subnqn"] for r in json.loads(p.stdout)["records"]}
        self.assertEqual(len([n for n in found if n.startswith(BASE)]), COUNT)
        # The first and the last serve I/O on their own namespace 1.
        for i in (0, COUNT - 1):
            nqn = BASE + "v%04d" % i
            a = raw.admin_queue(ADDR, self.port, nqn)
            self.assertEqual(a.set_features(0x07, 0).status, 0)
            q = raw.io_queue(ADDR, self.port, nqn, a.cntlid)
            data = os.urandom(4096)
            self.assertEqual(q.write(1, 8 * i % 2048, data).status, 0)
            c = q.read(1, 8 * i % 2048, 8)
            self.assertEqual((c.status, c.data), (0, data))
            q.close()
            a.close()
        for i in range(0, COUNT, 10):
            self.assertIs(rpc.call("volume_delete", {"pool": "many", "name": "v%04d" % i}), True)
        self.assertEqual(len(rpc.call("volume_list", {"pool": "many"})), COUNT - COUNT // 10)
        subs = {s["nqn"] for s in rpc.call("subsystem_list")}
        self.assertNotIn(BASE + "v0000", subs)
        self.assertIn(BASE + "v0001", subs)
        rpc.close()


if __name__ == "__main__":
    unittest.main()

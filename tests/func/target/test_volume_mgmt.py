# SPDX-License-Identifier: MIT
"""Pools and volumes through fabriqd's management socket (docs/volumes.md,
docs/rpc.md "Pools and volumes") and the fabriq CLI.

A pool is created on a file; volumes created through the socket are
exported as subsystems of their own (nqn.2026-01.io.fabriq:vol:POOL:NAME,
namespace 1, the volume's UUID as NGUID and UUID), written with `fabriq
write` and read back with `fabriq read`. A snapshot keeps the old data,
is read-only (SC 20h), and its clone shares it; a resize is announced by a
Namespace Attribute Changed event and seen by Identify; a rollback brings
the snapshot's data back; deletes are refused while snapshots or clones
depend on a volume and while a pool holds volumes; bad parameters are
named. `fabriq pool check` finds the pool clean once the daemon stopped.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import ADDR, Fabriqd, TargetTestCase  # noqa: E402
from test_rpc import (AEC_NS_ATTR, AEN_NS_CHANGED, FEAT_ASYNC_EVENT_CFG,  # noqa: E402
                      Rpc, fabriq_cli)

BASE = "nqn.2026-01.io.fabriq:vol"
MiB = 1 << 20
CLUSTER = 64 * 1024
NSATTR = 99  # Identify Namespace byte 99 (NVMe NVM command set 1.0, 4.1.5.1)


def vol_nqn(pool, name):
    return "%s:%s:%s" % (BASE, pool, name)


class VolumeMgmtTest(TargetTestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="fq-volmgmt-")
        cls.sock = os.path.join(cls.dir.name, "fabriqd.sock")
        cls.pool_path = os.path.join(cls.dir.name, "pool.img")
        cls.ARGS = TargetTestCase.ARGS + ["--rpc-socket", cls.sock]
        super().setUpClass()
        rpc = Rpc(cls.sock)
        rpc.call("pool_create", {"name": "p0", "path": cls.pool_path, "size": 256 * MiB,
                                 "cluster_size": CLUSTER})
        rpc.close()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
            # Stopped cleanly: the pool checks clean offline.
            p = subprocess.run([fabriq_cli(), "pool", "check", cls.pool_path],
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                raise AssertionError("pool check: %s%s" % (p.stdout, p.stderr))
        finally:
            cls.dir.cleanup()

    def setUp(self):
        self.rpc = Rpc(self.sock)

    def tearDown(self):
        self.rpc.close()

    def cli(self, *args, check=True):
        p = subprocess.run([fabriq_cli()] + list(args), capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("fabriq %s: status %d, stderr %s" % (
                " ".join(args), p.returncode, p.stderr))
        return p

    def mgmt(self, *args, check=True):
        return self.cli(*(list(args) + ["-S", self.sock]), check=check)

    def conn(self, nqn):
        return ["-a", ADDR, "-s", str(self.port), "-n", nqn]

    def write(self, nqn, data, offset=0, check=True):
        path = os.path.join(self.dir.name, "in.bin")
        with open(path, "wb") as f:
            f.write(data)
        return self.cli("write", *self.conn(nqn), "--offset", str(offset), "--input", path,
                        check=check)

    def read(self, nqn, length, offset=0):
        path = os.path.join(self.dir.name, "out.bin")
        self.cli("read", *self.conn(nqn), "--offset", str(offset), "--length", str(length),
                 "--output", path)
        with open(path, "rb") as f:
            return f.read()

    def error_of(self, method, params):
        resp = self.rpc.request(method, params)
        self.assertIn("error", resp, resp)
        return resp["error"]

    def test_pool_info_and_list(self):
        info = self.rpc.call("pool_info", {"name": "p0"})
        self.assertEqual(info["cluster_size"], CLUSTER)
        self.assertEqual(info["bdev"], "file:" + self.pool_path)
        self.assertGreater(info["capacity"], 200 * MiB)
        self.assertEqual(info["free"], info["capacity"] - info["allocated"])
        self.assertIn("p0", [p["name"] for p in self.rpc.call("pool_list")])
        out = json.loads(self.mgmt("pool", "info", "p0", "--json").stdout)
        self.assertEqual(out["name"], "p0")
        self.assertIn("cluster 64 KiB", self.mgmt("pool", "list").stdout)

    def test_write_snapshot_clone_rollback(self):
        out = json.loads(self.mgmt("volume", "create", "p0/data", "4M", "--json").stdout)
        self.assertEqual((out["size"], out["allocated_bytes"], out["nqn"]),
                         (4 * MiB, 0, vol_nqn("p0", "data")))
        nqn = vol_nqn("p0", "data")
        # Namespace 1 carries the volume's UUID as NGUID and UUID.
        a = raw.admin_queue(ADDR, self.port, nqn)
        c = a.identify(0, nsid=1)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(struct.unpack_from("<Q", c.data, 0)[0], 4 * MiB // 512)
        self.assertEqual(c.data[104:120].hex(), out["uuid"].replace("-", ""))
        a.close()
        # Reads of unwritten space are zeroes; data crosses cluster boundaries.
        self.assertEqual(self.read(nqn, 8192), bytes(8192))
        old = os.urandom(3 * CLUSTER)
        self.write(nqn, old, offset=CLUSTER // 2)
        self.assertEqual(self.read(nqn, len(old), CLUSTER // 2), old)
        self.assertGreater(self.rpc.call("volume_info", {"pool": "p0", "name": "data"})
                           ["allocated_bytes"], 0)
        # Snapshot: exported read-only, with the data of the moment.
        snap = json.loads(self.mgmt("volume", "snapshot", "p0/data@s1", "--json").stdout)
        self.assertTrue(snap["snapshot"])
        new = os.urandom(CLUSTER)
        self.write(nqn, new, offset=CLUSTER // 2)
        snqn = vol_nqn("p0", "data@s1")
        self.assertEqual(self.read(snqn, len(old), CLUSTER // 2), old)
        p = self.write(snqn, new, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Write Protected", p.stderr)
        # Clone: the snapshot's data, writable on its own.
        self.mgmt("volume", "clone", "p0/data@s1", "p0/copy")
        cnqn = vol_nqn("p0", "copy")
        # Identify Namespace NSATTR bit 0 (write protected) tells hosts the
        # snapshot is read-only (the Linux host then sets the disk
        # read-only); the volume and the clone are writable.
        for n, want in ((nqn, 0), (snqn, 1), (cnqn, 0)):
            a = raw.admin_queue(ADDR, self.port, n)
            c = a.identify(0, nsid=1)
            self.assertEqual(c.status, 0, c)
            self.assertEqual(c.data[NSATTR] & 1, want, n)
            a.close()
        self.assertEqual(self.read(cnqn, len(old), CLUSTER // 2), old)
        self.write(cnqn, new, offset=0)
        self.assertEqual(self.read(snqn, len(old), CLUSTER // 2), old)
        info = self.rpc.call("volume_info", {"pool": "p0", "name": "copy"})
        self.assertEqual(info["parent"], "data@s1")
        # The snapshot has a clone: it cannot go.
        err = self.error_of("volume_delete", {"pool": "p0", "name": "data@s1"})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 16))
        self.assertIn("depend", err["message"])
        self.mgmt("volume", "flatten", "p0/copy")
        self.assertEqual(self.rpc.call("volume_info", {"pool": "p0", "name": "copy"})["parent"],
                         "")
        self.assertEqual(self.read(cnqn, CLUSTER // 2, CLUSTER // 2), new[CLUSTER // 2:])
        # Rollback: the volume reads what the snapshot holds again.
        self.assertEqual(self.read(nqn, CLUSTER, CLUSTER // 2), new)
        self.mgmt("volume", "rollback", "p0/data@s1")
        self.assertEqual(self.read(nqn, len(old), CLUSTER // 2), old)
        # The volume has a snapshot: it cannot go before it.
        p = self.mgmt("volume", "delete", "p0/data", check=False)
        self.assertEqual(p.returncode, 6, p.stderr)
        self.mgmt("volume", "delete", "p0/data@s1")
        self.mgmt("volume", "delete", "p0/data")
        self.mgmt("volume", "delete", "p0/copy")
        names = [v["name"] for v in self.rpc.call("volume_list", {"pool": "p0"})]
        self.assertNotIn("data", names)
        self.assertNotIn("copy", names)
        subs = [s["nqn"] for s in self.rpc.call("subsystem_list")]
        self.assertNotIn(nqn, subs)
        self.assertNotIn(snqn, subs)

    def test_resize_is_announced(self):
        self.mgmt("volume", "create", "p0/grow", "1M")
        nqn = vol_nqn("p0", "grow")
        a = raw.admin_queue(ADDR, self.port, nqn)
        self.assertEqual(a.set_features(FEAT_ASYNC_EVENT_CFG, AEC_NS_ATTR).status, 0)
        aer = a.submit(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
        out = json.loads(self.mgmt("volume", "resize", "p0/grow", "3M", "--json").stdout)
        self.assertEqual(out["size"], 3 * MiB)
        c = a.wait(aer)
        self.assertEqual((c.status, c.dw0), (0, AEN_NS_CHANGED))
        c = a.get_log(0x04, 4096)
        self.assertEqual(int.from_bytes(c.data[0:4], "little"), 1)
        c = a.identify(0, nsid=1)
        self.assertEqual(struct.unpack_from("<Q", c.data, 0)[0], 3 * MiB // 512)
        a.close()
        data = os.urandom(4096)
        self.write(nqn, data, offset=3 * MiB - 4096)
        self.assertEqual(self.read(nqn, 4096, 3 * MiB - 4096), data)
        # Shrinking needs allow_shrink.
        err = self.error_of("volume_resize", {"pool": "p0", "name": "grow", "size": MiB})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "size"))
        self.assertIn("allow_shrink", err["message"])
        self.mgmt("volume", "resize", "p0/grow", "2M", "--allow-shrink")
        self.assertEqual(self.rpc.call("volume_info", {"pool": "p0", "name": "grow"})["size"],
                         2 * MiB)
        self.mgmt("volume", "delete", "p0/grow")

    def test_rename_thick_and_list(self):
        out = json.loads(self.mgmt("volume", "create", "p0/thick1", "1M", "--thick",
                                   "--json").stdout)
        self.assertTrue(out["thick"])
        self.assertEqual(out["allocated_bytes"], MiB)
        self.mgmt("volume", "rename", "p0/thick1", "thick2")
        subs = [s["nqn"] for s in self.rpc.call("subsystem_list")]
        self.assertIn(vol_nqn("p0", "thick2"), subs)
        self.assertNotIn(vol_nqn("p0", "thick1"), subs)
        data = os.urandom(4096)
        self.write(vol_nqn("p0", "thick2"), data)
        self.assertEqual(self.read(vol_nqn("p0", "thick2"), 4096), data)
        text = self.mgmt("volume", "list", "p0").stdout
        self.assertIn("p0/thick2  thick", text)
        self.assertIn("thick2", [v["name"] for v in
                                 json.loads(self.mgmt("volume", "list", "--json").stdout)])
        # Its snapshots follow it, subsystems included; a snapshot renames within it.
        self.mgmt("volume", "snapshot", "p0/thick2@a")
        self.mgmt("volume", "rename", "p0/thick2", "thick3")
        self.mgmt("volume", "rename", "p0/thick3@a", "thick3@b")
        err = self.error_of("volume_rename", {"pool": "p0", "name": "thick3@b",
                                              "new_name": "other@b"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "new_name"))
        subs = [s["nqn"] for s in self.rpc.call("subsystem_list")]
        self.assertIn(vol_nqn("p0", "thick3@b"), subs)
        self.assertNotIn(vol_nqn("p0", "thick2@a"), subs)
        self.assertNotIn(vol_nqn("p0", "thick3@a"), subs)
        self.assertEqual(self.read(vol_nqn("p0", "thick3@b"), 4096), data)
        self.mgmt("volume", "delete", "p0/thick3@b")
        self.mgmt("volume", "delete", "p0/thick3")

    def test_errors_name_the_parameter(self):
        cases = [
            ("volume_create", {"pool": "p0", "name": "x", "size": 1000}, "size"),
            ("volume_create", {"pool": "p0", "name": "bad/name", "size": MiB}, "name"),
            ("volume_create", {"pool": "p0", "name": "x@y", "size": MiB}, "name"),
            ("volume_create", {"pool": "p0", "name": "x"}, "size"),
            ("volume_create", {"pool": "p0", "name": "x", "size": "1M"}, "size"),
            ("volume_snapshot", {"pool": "p0", "name": "nosnap"}, "name"),
            ("volume_clone", {"pool": "p0", "snapshot": "a@b", "name": "c@d"}, "name"),
            ("volume_rename", {"pool": "p0", "name": "a", "new_name": "b c"}, "new_name"),
            ("pool_create", {"name": "p/1", "path": "/tmp/x"}, "name"),
            ("pool_create", {"name": "p1", "path": "rel"}, "path"),
            ("pool_create", {"name": "p1", "path": "/tmp/x", "cluster_size": 3000},
             "cluster_size"),
        ]
        for method, params, param in cases:
            err = self.error_of(method, params)
            self.assertEqual((err["code"], err["data"]["param"]), (-32602, param),
                             (method, params, err))
        err = self.error_of("volume_info", {"pool": "nope", "name": "x"})
        self.assertEqual((err["code"], err["data"]["errno"], err["message"]),
                         (-32000, 2, "no pool 'nope'"))
        err = self.error_of("volume_info", {"pool": "p0", "name": "missing"})
        self.assertEqual(err["message"], "pool 'p0' has no volume 'missing'")
        self.mgmt("volume", "create", "p0/dup", "1M")
        err = self.error_of("volume_create", {"pool": "p0", "name": "dup", "size": MiB})
        self.assertEqual((err["data"]["errno"], err["message"]),
                         (17, "pool 'p0' has a volume 'dup' already"))
        err = self.error_of("volume_rollback", {"pool": "p0", "snapshot": "dup@none"})
        self.assertEqual(err["data"]["errno"], 2)
        err = self.error_of("pool_create", {"name": "p0", "path": self.pool_path})
        self.assertEqual(err["data"]["errno"], 17)
        # A pool with volumes is not deleted without force.
        err = self.error_of("pool_delete", {"name": "p0"})
        self.assertEqual(err["data"]["errno"], 16)
        self.assertIn("force", err["message"])
        p = self.mgmt("volume", "create", "p0/y", "12Q", check=False)
        self.assertEqual(p.returncode, 2)
        self.mgmt("volume", "delete", "p0/dup")

    def test_changes_while_io_runs(self):
        """Snapshots, resizes and other volumes' creation while writes and
        reads run on a queue: every command completes, no data is torn."""
        self.mgmt("volume", "create", "p0/busy", "4M")
        nqn = vol_nqn("p0", "busy")
        a = raw.admin_queue(ADDR, self.port, nqn)
        self.assertEqual(a.set_features(0x07, 0).status, 0)
        q = raw.io_queue(ADDR, self.port, nqn, a.cntlid)
        stop = threading.Event()
        failures, done = [], [0]

        def io_loop():
            i = 0
            while not stop.is_set():
                blk = (i * 8) % (4 * MiB // 512)
                data = bytes([i % 251]) * 4096
                c = q.write(1, blk, data)
                r = q.read(1, blk, 8)
                if c.status or r.status or r.data != data:
                    failures.append((i, c.status, r.status))
                    return
                i += 1
            done[0] = i

        t = threading.Thread(target=io_loop)
        t.start()
        try:
            for k in range(10):
                self.rpc.call("volume_snapshot", {"pool": "p0", "name": "busy@k%d" % k})
                self.rpc.call("volume_resize", {"pool": "p0", "name": "busy",
                                                "size": 4 * MiB + (k + 1) * CLUSTER})
                self.rpc.call("volume_create", {"pool": "p0", "name": "side%d" % k,
                                                "size": MiB})
        finally:
            stop.set()
            t.join(60)
        self.assertFalse(t.is_alive())
        self.assertEqual(failures, [])
        self.assertGreater(done[0], 0)
        q.close()
        a.close()
        for k in reversed(range(10)):
            self.rpc.call("volume_delete", {"pool": "p0", "name": "busy@k%d" % k})
            self.rpc.call("volume_delete", {"pool": "p0", "name": "side%d" % k})
        self.rpc.call("volume_delete", {"pool": "p0", "name": "busy"})

    def test_second_pool_deleted_with_force(self):
        path = os.path.join(self.dir.name, "p1.img")
        self.mgmt("pool", "create", "p1", path, "--size", "64M", "--cluster-size", "128K")
        self.mgmt("volume", "create", "p1/v", "1M")
        self.write(vol_nqn("p1", "v"), os.urandom(4096))
        self.assertEqual(self.mgmt("pool", "delete", "p1", check=False).returncode, 6)
        self.mgmt("pool", "delete", "p1", "--force")
        self.assertNotIn("p1", [p["name"] for p in self.rpc.call("pool_list")])
        self.assertNotIn(vol_nqn("p1", "v"), [s["nqn"] for s in self.rpc.call("subsystem_list")])
        p = self.cli("pool", "check", path)
        self.assertIn("clean", p.stdout)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: MIT
"""Volumes of a pool as namespaces: fabriqd started from an INI file with a
[pool] section (a file bdev, formatted on first start, two thin volumes) and
vol:POOL/NAME namespaces. The host sees each volume's size, reads zeroes
where nothing was written, reads back what it wrote across cluster
boundaries on both volumes independently; after kill -9 every acknowledged
write is there (no Flush needed: only a power cut may lose unflushed
writes), and after a clean stop and start too.
"""

import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import Fabriqd, TargetTestCase  # noqa: E402

NQN = "nqn.2026-01.io.fabriq.test:vols"
POOL_DIR = tempfile.TemporaryDirectory(prefix="fabriq-pool-")

INI = """
[target]
reactors = 1

[port "io"]
address = {addr}
port = {port}

[pool "p0"]
bdev = file:%s/pool.img:256M
create = yes
cluster_size = 64K
volume = v1:64M
volume = v2:32M

[subsystem "%s"]
namespace = vol:p0/v1
namespace = vol:p0/v2
""" % (POOL_DIR.name, NQN)

CLUSTER = 64 * 1024


class VolumeTest(TargetTestCase):
    NQN = NQN
    INI = INI

    def test_size_zeroes_and_data(self):
        a, q = self.pair()
        try:
            c = a.identify(0, nsid=1)
            self.assertEqual(c.status, 0, c)
            self.assertEqual(struct.unpack_from("<Q", c.data, 0)[0], 64 * 1024 * 1024 // 512)
            c = a.identify(0, nsid=2)
            self.assertEqual(struct.unpack_from("<Q", c.data, 0)[0], 32 * 1024 * 1024 // 512)
            # Thin provisioning (NSFEAT bit 0) and nothing in use yet (NUSE).
            self.assertEqual(c.data[24] & 1, 1)
            self.assertEqual(struct.unpack_from("<Q", c.data, 16)[0], 0)
            # Never written: zeroes.
            c = q.read(1, 1000, 16)
            self.assertEqual(c.status, 0, c)
            self.assertEqual(c.data, bytes(16 * 512))
            # Across a cluster boundary, on both volumes.
            slba = CLUSTER // 512 - 4
            d1, d2 = os.urandom(8 * 512), os.urandom(8 * 512)
            self.assertEqual(q.write(1, slba, d1).status, 0)
            self.assertEqual(q.write(2, slba, d2).status, 0)
            self.assertEqual(q.read(1, slba, 8).data, d1)
            self.assertEqual(q.read(2, slba, 8).data, d2)
            # Two clusters allocated on nsid 2 now: NUSE counts them.
            c = a.identify(0, nsid=2)
            self.assertEqual(struct.unpack_from("<Q", c.data, 16)[0], 2 * CLUSTER // 512)
            # The rest of a freshly allocated cluster reads zeroes.
            self.assertEqual(q.read(1, slba - 8, 8).data, bytes(8 * 512))
            self.assertEqual(q.read(1, slba + 8, 8).data, bytes(8 * 512))
        finally:
            self.close_all(a, q)

    def test_volumes_exported_on_their_own(self):
        """At start each volume is also a subsystem of its own, namespace 1 with its
        UUID, sharing its data with the namespace of the file's subsystem."""
        a, q = self.pair()
        own_a = raw.admin_queue(self.addr, self.port, "nqn.2026-01.io.fabriq:vol:p0:v2")
        try:
            self.assertEqual(own_a.set_features(0x07, 0).status, 0)
            own_q = raw.io_queue(self.addr, self.port, "nqn.2026-01.io.fabriq:vol:p0:v2",
                                 own_a.cntlid)
            c = own_a.identify(0, nsid=1)
            self.assertEqual(struct.unpack_from("<Q", c.data, 0)[0], 32 * 1024 * 1024 // 512)
            self.assertNotEqual(c.data[104:120], bytes(16))
            data = os.urandom(4096)
            self.assertEqual(own_q.write(1, 4000, data).status, 0)
            self.assertEqual(q.read(2, 4000, 8).data, data)
            own_q.close()
        finally:
            self.close_all(a, q, own_a)

    def test_zy_kill_loses_nothing_acknowledged(self):
        """kill -9 right after the writes were acknowledged, no Flush: all of them are there."""
        a, q = self.pair()
        writes = []
        try:
            for i in range(40):
                # First writes (allocating, through the journal) and overwrites.
                slba = (i * 7919 % 500) * (CLUSTER // 512) + (i % 8) * 8
                data = os.urandom(8 * 512)
                self.assertEqual(q.write(1, slba, data).status, 0)
                writes.append((slba, data))
        finally:
            self.close_all(a, q)
        self.tgt.kill()
        self.tgt.cleanup()
        type(self).tgt = Fabriqd(None, ini=INI)
        type(self).port = self.tgt.port
        a, q = self.pair()
        try:
            last = {}
            for slba, data in writes:
                last[slba] = data
            for slba, data in last.items():
                c = q.read(1, slba, 8)
                self.assertEqual(c.status, 0, c)
                self.assertEqual(c.data, data, "lba %d" % slba)
        finally:
            self.close_all(a, q)

    def test_zz_persists_across_restart(self):
        a, q = self.pair()
        data = os.urandom(64 * 512)
        slba = 3 * CLUSTER // 512 + 16
        try:
            self.assertEqual(q.write(2, slba, data).status, 0)
        finally:
            self.close_all(a, q)
        rc, reports = self.tgt.stop()
        self.assertEqual(rc, 0)
        self.assertFalse(reports)
        self.tgt.cleanup()
        # The same pool file, opened again: nothing is formatted twice.
        type(self).tgt = Fabriqd(None, ini=INI)
        type(self).port = self.tgt.port
        a, q = self.pair()
        try:
            c = q.read(2, slba, 64)
            self.assertEqual(c.status, 0, c)
            self.assertEqual(c.data, data)
            self.assertEqual(q.read(2, slba - 16, 16).data, bytes(16 * 512))
        finally:
            self.close_all(a, q)


if __name__ == "__main__":
    unittest.main()

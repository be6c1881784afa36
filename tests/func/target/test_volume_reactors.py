# SPDX-License-Identifier: MIT
"""Volumes in a daemon with two reactors (docs/volumes.md "Reactors").

One pool's home reactor serves it; connections that land on the other
reactor send it their commands and get the completions back. Four hosts
(eight TCP connections, spread over both reactors) write and read their own
blocks of one thin volume at the same time while snapshots are taken and
deleted over the management socket; every block reads back, from its own
connection and from another one; the volume's snapshot holds what was
written before it; with the volume suspended and a read of every host held,
SIGTERM aborts them and stops the daemon cleanly (exit 0, every connection
closed) and the pool checks clean afterwards.

Two pools get two different home reactors (pool_list's "reactor"), and
each serves I/O from queues on both reactors; with both volumes suspended
and reads from both reactors held, the stop is clean.

A pool pinned to a reactor (reactor = N in its [pool] section, or
`fabriq pool create --reactor N`) lands there instead of where the spread
would put it, keeps it over a restart (the state file), and a reactor the
daemon lacks is refused with the file, line, key and number of reactors.
"""

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import ADDR, Fabriqd, free_port  # noqa: E402
from test_rpc import Rpc, fabriq_cli  # noqa: E402
from test_state import Daemon, StateDirCase, run_failing  # noqa: E402

NQN = "nqn.2026-01.io.fabriq:vol:p0:v1"
CLUSTER = 64 * 1024
BLOCK = 4096
LBAS = BLOCK // 512
HOSTS = 4
WRITES = 150

INI = """
[target]
reactors = 2

[port "io"]
address = {addr}
port = {port}

[rpc]
socket = {tmp}/fabriqd.sock

[pool "p0"]
bdev = file:%s:256M
create = yes
cluster_size = 64K
volume = v1:64M
"""


def connect(port, nqn=NQN):
    a = raw.admin_queue(ADDR, port, nqn)
    c = a.set_features(0x07, 0)
    if c.status != 0:
        raise AssertionError("Set Features: %r" % c)
    return a, raw.io_queue(ADDR, port, nqn, a.cntlid)


class VolumeReactorsTest(unittest.TestCase):

    def test_two_reactors(self):
        tmp = tempfile.TemporaryDirectory(prefix="fabriq-reactors-")
        pool = os.path.join(tmp.name, "pool.img")
        tgt = Fabriqd(None, ini=INI % pool)
        sock = os.path.join(tgt.tmp.name, "fabriqd.sock")
        try:
            conns = [connect(tgt.port) for _ in range(HOSTS)]
            written = [dict() for _ in range(HOSTS)]
            errors = []

            def host(i):
                rng = random.Random(i)
                _, q = conns[i]
                try:
                    for _ in range(WRITES):
                        # Host i owns clusters i, i + HOSTS, ...: first writes and overwrites.
                        cl = rng.randrange(i, 1024, HOSTS)
                        slba = (cl * CLUSTER + rng.randrange(CLUSTER // BLOCK) * BLOCK) // 512
                        data = rng.randbytes(BLOCK)
                        c = q.write(1, slba, data)
                        if c.status != 0:
                            errors.append("host %d write at %d: %r" % (i, slba, c))
                            return
                        written[i][slba] = data
                        c = q.read(1, slba, LBAS)
                        if c.status != 0 or c.data != data:
                            errors.append("host %d read at %d: %r" % (i, slba, c))
                            return
                except Exception as e:  # reported below, with the others
                    errors.append("host %d: %r" % (i, e))

            threads = [threading.Thread(target=host, args=(i,)) for i in range(HOSTS)]
            for t in threads:
                t.start()
            # Metadata changes while the commands cross between reactors.
            r = Rpc(sock)
            for k in range(5):
                r.call("volume_snapshot", {"pool": "p0", "name": "v1@s%d" % k})
                r.call("volume_delete", {"pool": "p0", "name": "v1@s%d" % k})
            for t in threads:
                t.join(120)
            self.assertEqual(errors, [])
            # Every block, read through another host's connection.
            for i in range(HOSTS):
                _, q = conns[(i + 1) % HOSTS]
                for slba, data in written[i].items():
                    c = q.read(1, slba, LBAS)
                    self.assertEqual(c.status, 0, c)
                    self.assertEqual(c.data, data, "host %d's block at %d" % (i, slba))
            # A snapshot now holds the data; a write after it does not reach it.
            r.call("volume_snapshot", {"pool": "p0", "name": "v1@last"})
            slba, old = next(iter(written[0].items()))
            _, q = conns[1]
            self.assertEqual(q.write(1, slba, bytes(BLOCK)).status, 0)
            sa, sq = raw.admin_queue(ADDR, tgt.port, NQN + "@last"), None
            sa.set_features(0x07, 0)
            sq = raw.io_queue(ADDR, tgt.port, NQN + "@last", sa.cntlid)
            self.assertEqual(sq.read(1, slba, LBAS).data, old)
            self.assertEqual(q.read(1, slba, LBAS).data, bytes(BLOCK))
            for x in (sq, sa):
                x.close()
            # Suspended, with a read of every host held: the stop aborts them
            # (the pool's home holds them for all) and every connection closes.
            r.call("volume_suspend", {"pool": "p0", "name": "v1"})
            for _, q in conns:
                q.submit(q.rw_cmd(raw.IO_READ, 1, 0, LBAS), data_in=BLOCK)
            # Stop only once the volume holds all of them (they cross reactors first).
            deadline = time.monotonic() + 30
            while r.call("volume_info", {"pool": "p0", "name": "v1"})["qos"]["held"] < HOSTS:
                self.assertLess(time.monotonic(), deadline, "the reads were never held")
                time.sleep(0.02)
            r.close()
            rc, reports = tgt.stop()
            log = tgt.log_text()
            self.assertEqual(rc, 0, log[-3000:])
            self.assertEqual(reports, [])
            self.assertIn("held command(s) aborted at exit", log)
            self.assertNotIn("still busy at exit", log)
            for a, q in conns:
                q.close()
                a.close()
            p = subprocess.run([fabriq_cli(), "pool", "check", pool], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            tgt.kill()
            tgt.cleanup()
            tmp.cleanup()


TWO_POOLS = """
[target]
reactors = 2

[port "io"]
address = {addr}
port = {port}

[rpc]
socket = {tmp}/fabriqd.sock

[pool "pa"]
bdev = file:{tmp}/pa.img:128M
create = yes
cluster_size = 64K
volume = v:32M

[pool "pb"]
bdev = file:{tmp}/pb.img:128M
create = yes
cluster_size = 64K
volume = v:32M
"""


class TwoHomesTest(unittest.TestCase):

    def test_pools_on_two_reactors(self):
        tgt = Fabriqd(None, ini=TWO_POOLS)
        sock = os.path.join(tgt.tmp.name, "fabriqd.sock")
        queues = []
        try:
            r = Rpc(sock)
            homes = {p["name"]: p["reactor"] for p in r.call("pool_list")}
            self.assertEqual(sorted(homes.values()), [0, 1], homes)
            out = subprocess.run([fabriq_cli(), "pool", "info", "pb", "-S", sock],
                                 capture_output=True, text=True, timeout=60)
            self.assertIn("reactor %d" % homes["pb"], out.stdout)
            # One controller per pool with two I/O queues: connections go to
            # the least loaded reactor in turn, so each volume has an I/O
            # queue on either reactor (one crosses to the pool's home).
            ioq = {}
            for pool in ("pa", "pb"):
                nqn = "nqn.2026-01.io.fabriq:vol:%s:v" % pool
                a = raw.admin_queue(ADDR, tgt.port, nqn)
                self.assertEqual(a.set_features(0x07, 0x00010001).status, 0)
                ioq[pool] = [raw.io_queue(ADDR, tgt.port, nqn, a.cntlid, qid=k)
                             for k in (1, 2)]
                queues += [a] + ioq[pool]
            written = {}
            errors = []

            def host(pool, k):
                rng = random.Random(pool + str(k))
                q = ioq[pool][k]
                try:
                    for _ in range(WRITES):
                        # Queue k writes the clusters of its parity: first writes, overwrites.
                        cl = rng.randrange(k, 512, 2)
                        slba = (cl * CLUSTER + rng.randrange(CLUSTER // BLOCK) * BLOCK) // 512
                        data = rng.randbytes(BLOCK)
                        c = q.write(1, slba, data)
                        if c.status != 0:
                            errors.append("%s/%d write at %d: %r" % (pool, k, slba, c))
                            return
                        written[(pool, slba)] = data
                        c = q.read(1, slba, LBAS)
                        if c.status != 0 or c.data != data:
                            errors.append("%s/%d read at %d: %r" % (pool, k, slba, c))
                            return
                except Exception as e:  # reported below, with the others
                    errors.append("%s/%d: %r" % (pool, k, e))

            threads = [threading.Thread(target=host, args=(p, k))
                       for p in ("pa", "pb") for k in (0, 1)]
            for t in threads:
                t.start()
            for k in range(3):  # metadata changes on both homes meanwhile
                for pool in ("pa", "pb"):
                    r.call("volume_snapshot", {"pool": pool, "name": "v@s%d" % k})
                    r.call("volume_delete", {"pool": pool, "name": "v@s%d" % k})
            for t in threads:
                t.join(120)
            self.assertEqual(errors, [])
            # Every block from the other queue of its pool; the pools hold apart data.
            for (pool, slba), data in written.items():
                for q in ioq[pool]:
                    c = q.read(1, slba, LBAS)
                    self.assertEqual((c.status, c.data), (0, data), "%s at %d" % (pool, slba))
            # Both volumes suspended, a read from either reactor held by each home.
            for pool in ("pa", "pb"):
                r.call("volume_suspend", {"pool": pool, "name": "v"})
                for q in ioq[pool]:
                    q.submit(q.rw_cmd(raw.IO_READ, 1, 0, LBAS), data_in=BLOCK)
            deadline = time.monotonic() + 30
            for pool in ("pa", "pb"):
                while r.call("volume_info", {"pool": pool, "name": "v"})["qos"]["held"] < 2:
                    self.assertLess(time.monotonic(), deadline, "%s never held them" % pool)
                    time.sleep(0.02)
            r.close()
            rc, reports = tgt.stop()
            log = tgt.log_text()
            self.assertEqual(rc, 0, log[-3000:])
            self.assertEqual(reports, [])
            self.assertIn("held command(s) aborted at exit", log)
            self.assertNotIn("still busy at exit", log)
            for pool in ("pa", "pb"):
                p = subprocess.run([fabriq_cli(), "pool", "check",
                                    os.path.join(tgt.tmp.name, pool + ".img")],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            for q in queues:
                q.close()
            tgt.kill()
            tgt.cleanup()


# pa asks for reactor 1: the spread would give it 0 (registered first) and pb 1.
PINNED = """[target]
reactors = 2

[port "io"]
address = {addr}
port = {port}

[pool "pa"]
bdev = ram:32M
create = yes
cluster_size = 64K
reactor = 1
volume = v:8M

[pool "pb"]
bdev = ram:32M
create = yes
cluster_size = 64K
volume = v:8M
"""


class PinnedPoolsTest(StateDirCase):

    PREFIX = "fq-pinned-"

    def ini_text(self):
        return PINNED.format(addr=ADDR, port=self.port)

    def homes(self, d):
        r = d.rpc()
        try:
            return {p["name"]: p["reactor"] for p in r.call("pool_list")}
        finally:
            r.close()

    def cli(self, d, *args):
        return subprocess.run([fabriq_cli(), "pool"] + list(args) + ["-S", d.sock],
                              capture_output=True, text=True, timeout=60)

    def test_pinned_pools(self):
        d = self.start(name="first")
        self.assertEqual(self.homes(d), {"pa": 1, "pb": 0})
        self.assertIn("reactor 1", self.cli(d, "info", "pa").stdout)
        # The pinned pool serves I/O, from a queue on either reactor.
        a, q = connect(self.port, "nqn.2026-01.io.fabriq:vol:pa:v")
        a2, q2 = connect(self.port, "nqn.2026-01.io.fabriq:vol:pa:v")
        try:
            self.assertEqual(q.write(1, 8, bytes(range(256)) * 16).status, 0)
            c = q2.read(1, 8, 8)
            self.assertEqual((c.status, c.data), (0, bytes(range(256)) * 16))
        finally:
            for x in (q, a, q2, a2):
                x.close()
        # Made at run time: the spread would give pc reactor 0 (one pool on each).
        img = os.path.join(self.tmp, "pc.img")
        p = self.cli(d, "create", "pc", img, "--size", "64M", "--reactor", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.homes(d)["pc"], 1)
        # A reactor the daemon lacks: refused before anything is formatted.
        bad = os.path.join(self.tmp, "pd.img")
        p = self.cli(d, "create", "pd", bad, "--size", "64M", "--reactor", "2")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("reactor 2 is out of range: the target has 2 reactors (0..1)", p.stderr)
        self.assertFalse(os.path.exists(bad))
        self.assertNotIn("pd", self.homes(d))
        # A reload adding a pool pinned out of range is refused with its line.
        with open(self.ini, "a") as f:
            f.write('\n[pool "late"]\nbdev = ram:16M\ncreate = yes\nreactor = 7\n')
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while "reload of" not in d.log_text():
            self.assertLess(time.monotonic(), deadline, d.log_text()[-2000:])
            time.sleep(0.05)
        line = self.text.count("\n") + 5
        self.assertIn("fabriqd.ini:%d: key 'reactor': pool 'late': reactor 7 is out of range: "
                      "the target has 2 reactors (0..1)" % line, d.log_text())
        self.assertNotIn("late", self.homes(d))
        with open(self.ini, "w") as f:
            f.write(self.text)
        d.stop()

        # The pin of the pool made at run time is kept: the spread would now give it 0.
        d = self.start(name="second")
        self.assertEqual(self.homes(d), {"pa": 1, "pb": 0, "pc": 1})
        d.stop()

    def test_bad_reactor_at_start(self):
        line = self.text.splitlines().index("reactor = 1") + 1
        for val, msg in (("2", "reactor 2 is out of range: the target has 2 reactors (0..1)"),
                         ("x", "reactor 'x': a reactor index")):
            with open(self.ini, "w") as f:
                f.write(self.text.replace("reactor = 1", "reactor = " + val))
            rc, err = run_failing(["-c", self.ini])
            self.assertNotEqual(rc, 0)
            self.assertIn("fabriqd.ini:%d: key 'reactor': " % line, err)
            self.assertIn(msg, err)
            if val == "2":
                self.assertIn("pool 'pa': ", err)
        # The same file with one reactor from the command line: out of range too.
        with open(self.ini, "w") as f:
            f.write(self.text)
        rc, err = run_failing(["-c", self.ini, "--reactors", "1"])
        self.assertNotEqual(rc, 0)
        self.assertIn("fabriqd.ini:%d: key 'reactor': pool 'pa': reactor 1 is out of range: "
                      "the target has 1 reactor (0..0)" % line, err)


if __name__ == "__main__":
    unittest.main()

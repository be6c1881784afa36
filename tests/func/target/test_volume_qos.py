# SPDX-License-Identifier: MIT
"""Volume throttles and suspend/resume through fabriqd's management socket
and the fabriq CLI (docs/volumes.md "QoS and control").

Limits are set whole or in part and shown by volume_info, volume_list and
`fabriq volume info`; a read limit holds reads back (checked from below
only: a limit makes I/O take at least so long, a busy machine can only
make it slower) while a neighbouring volume's I/O completes; lifting the
limit releases what waits. A suspended volume holds new commands (up to
1024; more are answered Namespace Not Ready, retryable), and a resume lets
them go on, fails them or completes them undone. Bad
parameters are named and the daemon carries on. The limits survive a
clean restart and a kill -9 (journal replay); the suspension does not.
Limits on a [pool] section's volume lines hold from the start, change on
a SIGHUP (the others kept), and a bad one is refused with its line and key.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import ADDR, Fabriqd, TargetTestCase, fabriqd_path, free_port  # noqa: E402
from test_rpc import Rpc, fabriq_cli  # noqa: E402
from test_state import Daemon, StateDirCase  # noqa: E402

BASE = "nqn.2026-01.io.fabriq:vol"
MiB = 1 << 20
CLUSTER = 64 * 1024
SC_INTERNAL = 0x06
SC_NS_NOT_READY = 0x82


def vol_nqn(pool, name):
    return "%s:%s:%s" % (BASE, pool, name)


def cli(*args, check=True):
    p = subprocess.run([fabriq_cli()] + list(args), capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("fabriq %s: status %d, stderr %s" % (
            " ".join(args), p.returncode, p.stderr))
    return p


class VolumeQosTest(TargetTestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="fq-volqos-")
        cls.sock = os.path.join(cls.dir.name, "fabriqd.sock")
        cls.ARGS = TargetTestCase.ARGS + ["--rpc-socket", cls.sock]
        super().setUpClass()
        rpc = Rpc(cls.sock)
        rpc.call("pool_create", {"name": "p0", "path": os.path.join(cls.dir.name, "pool.img"),
                                 "size": 128 * MiB, "cluster_size": CLUSTER})
        rpc.close()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.dir.cleanup()

    def setUp(self):
        self.rpc = Rpc(self.sock)
        self.queues = []

    def tearDown(self):
        for q in self.queues:
            q.close()
        self.rpc.close()

    def mgmt(self, *args, check=True):
        return cli(*(list(args) + ["-S", self.sock]), check=check)

    def mgmt_json(self, *args):
        return json.loads(self.mgmt(*(list(args) + ["--json"])).stdout)

    def info(self, name):
        return self.rpc.call("volume_info", {"pool": "p0", "name": name})

    def create(self, name):
        self.rpc.call("volume_create", {"pool": "p0", "name": name, "size": 4 * MiB})

    def io_queue(self, name):
        """An I/O queue to volume name's namespace 1."""
        nqn = vol_nqn("p0", name)
        a = raw.admin_queue(ADDR, self.port, nqn)
        self.assertEqual(a.set_features(0x07, 0).status, 0)
        q = raw.io_queue(ADDR, self.port, nqn, a.cntlid)
        self.queues += [a, q]
        return q

    def error_of(self, method, params):
        resp = self.rpc.request(method, params)
        self.assertIn("error", resp, resp)
        return resp["error"]

    def wait_for(self, name, key, value, timeout=10.0):
        """Poll volume_info until info['qos'][key] == value (commands arrive asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.info(name)["qos"][key] == value:
                return
            time.sleep(0.01)
        self.fail("%s: qos %s never became %r: %r" % (name, key, value, self.info(name)))

    def test_throttle_set_get_partial(self):
        self.create("lim")
        out = self.mgmt_json("volume", "throttle", "p0/lim", "read_iops=100,write_bps=1M")
        self.assertEqual(out["qos"]["read_iops"], 100)
        self.assertEqual(out["qos"]["write_bps"], MiB)
        self.assertEqual((out["qos"]["write_iops"], out["qos"]["read_bps"]), (0, 0))
        self.assertEqual(out["qos"]["burst_ms"], 100)  # the default
        self.assertEqual(out["state"], "online")
        # A subset: the others keep their values.
        out = self.mgmt_json("volume", "throttle", "p0/lim", "burst_ms=20,read_bps=2G")
        q = self.info("lim")["qos"]
        self.assertEqual((q["read_iops"], q["write_bps"], q["burst_ms"], q["read_bps"]),
                         (100, MiB, 20, 2 << 30))
        self.assertEqual(out["qos"], q)
        # Over the socket, with a 0 that lifts a limit.
        res = self.rpc.call("volume_throttle", {"pool": "p0", "name": "lim", "read_iops": 0,
                                                "write_iops": 7})
        self.assertEqual((res["qos"]["read_iops"], res["qos"]["write_iops"]), (0, 7))
        listed = {v["name"]: v for v in self.rpc.call("volume_list", {"pool": "p0"})}
        self.assertEqual(listed["lim"]["qos"], self.info("lim")["qos"])
        text = self.mgmt("volume", "info", "p0/lim").stdout
        self.assertIn("state online", text)
        self.assertIn("write_iops 7", text)
        self.assertIn("write_bps %d" % MiB, text)
        self.assertIn("read_iops -", text)
        self.rpc.call("volume_delete", {"pool": "p0", "name": "lim"})

    def reads(self, q, n):
        t0 = time.monotonic()
        for i in range(n):
            c = q.read(1, 8 * (i % 64), 8)
            self.assertEqual(c.status, 0, c)
        return time.monotonic() - t0

    def test_rate_is_enforced(self):
        self.create("rate")
        self.mgmt("volume", "throttle", "p0/rate", "read_iops=50,burst_ms=1")
        q = self.io_queue("rate")
        data = os.urandom(4096)
        self.assertEqual(q.write(1, 0, data).status, 0)  # writes are not limited
        # 100 reads at 50/s with 1 ms of burst: at least 99 / 50 s.
        took = self.reads(q, 100)
        self.assertGreaterEqual(took, 1.5, "100 reads took %.3f s" % took)
        self.assertGreater(self.info("rate")["qos"]["delayed"], 50)
        c = q.read(1, 0, 8)
        self.assertEqual((c.status, c.data), (0, data))
        self.rpc.call("volume_delete", {"pool": "p0", "name": "rate"})

    def test_neighbour_unaffected_and_live_change(self):
        self.create("slow")
        self.create("fast")
        self.mgmt("volume", "throttle", "p0/slow", "read_iops=1,burst_ms=1")
        slow, fast = self.io_queue("slow"), self.io_queue("fast")
        # 20 reads at 1/s: the last would wait ~19 s.
        cids = [slow.submit(slow.rw_cmd(raw.IO_READ, 1, 8 * i, 8), data_in=4096)
                for i in range(20)]
        self.wait_for("slow", "waiting", 19)
        # The neighbour on the same reactor is not held behind them.
        for i in range(50):
            self.assertEqual(fast.write(1, 8 * i, os.urandom(4096)).status, 0)
            self.assertEqual(fast.read(1, 8 * i, 8).status, 0)
        self.assertGreater(self.info("slow")["qos"]["waiting"], 10)
        # Lifting the limit applies to what waits: all of it completes now.
        self.mgmt("volume", "throttle", "p0/slow", "read_iops=0")
        for cid in cids:
            c = slow.wait(cid)
            self.assertEqual((c.status, c.data), (0, bytes(4096)))
        self.assertEqual(self.info("slow")["qos"]["waiting"], 0)
        for name in ("slow", "fast"):
            self.rpc.call("volume_delete", {"pool": "p0", "name": name})

    def held_writes(self, name, data, n=4):
        """Suspend name, send n writes of data; returns (queue, cids) once all are held."""
        q = self.io_queue(name)
        out = self.mgmt_json("volume", "suspend", "p0/" + name)
        self.assertEqual(out["state"], "suspended")
        cids = [q.submit(q.rw_cmd(raw.IO_WRITE, 1, 8 * i, 8), data) for i in range(n)]
        self.wait_for(name, "held", n)
        self.assertEqual(self.info(name)["state"], "suspended")
        return q, cids

    def test_suspend_resume_normal(self):
        self.create("sn")
        new = os.urandom(4096)
        q, cids = self.held_writes("sn", new)
        out = self.mgmt_json("volume", "resume", "p0/sn")
        self.assertEqual(out["state"], "online")
        for cid in cids:
            self.assertEqual(q.wait(cid).status, 0)
        for i in range(len(cids)):
            self.assertEqual(q.read(1, 8 * i, 8).data, new)
        self.assertEqual(self.info("sn")["qos"]["held"], 0)
        self.rpc.call("volume_delete", {"pool": "p0", "name": "sn"})

    def test_suspend_resume_error(self):
        self.create("se")
        q = self.io_queue("se")
        old = os.urandom(4096)
        self.assertEqual(q.write(1, 0, old).status, 0)
        q2, cids = self.held_writes("se", os.urandom(4096), n=2)
        self.mgmt("volume", "resume", "p0/se", "--mode", "error")
        for cid in cids:
            c = q2.wait(cid)
            self.assertEqual((c.sct, c.sc, c.dnr), (0, SC_INTERNAL, True), c)
        self.assertEqual(q.read(1, 0, 8).data, old)
        self.assertEqual(self.info("se")["state"], "online")
        self.rpc.call("volume_delete", {"pool": "p0", "name": "se"})

    def test_suspend_resume_discard(self):
        self.create("sd")
        q = self.io_queue("sd")
        old = os.urandom(4096)
        self.assertEqual(q.write(1, 0, old).status, 0)
        q2, cids = self.held_writes("sd", os.urandom(4096), n=2)
        rd = q2.submit(q2.rw_cmd(raw.IO_READ, 1, 0, 8), data_in=4096)
        self.wait_for("sd", "held", 3)
        self.rpc.call("volume_resume", {"pool": "p0", "name": "sd", "mode": "discard"})
        for cid in cids:
            self.assertEqual(q2.wait(cid).status, 0)
        c = q2.wait(rd)
        self.assertEqual((c.status, c.data), (0, bytes(4096)))
        # Nothing was written: the old data is there.
        self.assertEqual(q.read(1, 0, 8).data, old)
        self.rpc.call("volume_delete", {"pool": "p0", "name": "sd"})

    def test_suspend_bound(self):
        # 17 controllers with 61 flushes each: 1024 are held, the rest
        # complete at once with Namespace Not Ready, DNR clear (retryable).
        self.create("bound")
        self.mgmt("volume", "suspend", "p0/bound")
        sent = []
        for _ in range(17):
            q = self.io_queue("bound")
            for _ in range(61):
                sent.append((q, q.submit(lambda cid, dp: raw.sqe(raw.IO_FLUSH, cid, nsid=1))))
        self.wait_for("bound", "held", 1024)
        self.mgmt("volume", "resume", "p0/bound")
        statuses = {}
        for q, cid in sent:
            c = q.wait(cid)
            key = (c.sct, c.sc, c.dnr)
            statuses[key] = statuses.get(key, 0) + 1
        self.assertEqual(statuses, {(0, 0, False): 1024, (0, SC_NS_NOT_READY, False): 13})
        self.rpc.call("volume_delete", {"pool": "p0", "name": "bound"})

    def test_delete_while_suspended(self):
        # The held commands do not hold the delete up; the daemon serves on.
        self.create("gone")
        q, cids = self.held_writes("gone", os.urandom(4096), n=3)
        self.rpc.call("volume_delete", {"pool": "p0", "name": "gone"})
        self.assertNotIn("gone", [v["name"] for v in self.rpc.call("volume_list",
                                                                   {"pool": "p0"})])
        for cid in cids:
            try:
                c = q.wait(cid)
            except (raw.Closed, OSError):
                break  # the subsystem went with its connections
            self.assertNotEqual(c.status, 0, c)
        self.assert_serving()

    def test_bad_parameters(self):
        self.create("bad")
        p = self.mgmt("volume", "throttle", "p0/bad", "read_iops=5,speed=3", check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("unknown throttle key 'speed'", p.stderr)
        p = self.mgmt("volume", "throttle", "p0/bad", "read_iops=-5", check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("bad read_iops '-5'", p.stderr)
        p = self.mgmt("volume", "throttle", "p0/bad", "write_bps=1Q", check=False)
        self.assertIn("bad write_bps", p.stderr)
        err = self.error_of("volume_throttle", {"pool": "p0", "name": "bad", "read_iops": -1})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "read_iops"))
        err = self.error_of("volume_throttle", {"pool": "p0", "name": "bad", "burst_ms": 10001})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "burst_ms"))
        err = self.error_of("volume_throttle", {"pool": "p0", "name": "bad", "iops": 5})
        self.assertEqual(err["code"], -32602)
        self.assertIn("iops", err["message"])
        err = self.error_of("volume_throttle", {"pool": "p0", "name": "nope", "read_iops": 5})
        self.assertIn("no volume 'nope'", err["message"])
        err = self.error_of("volume_resume", {"pool": "p0", "name": "bad", "mode": "later"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "mode"))
        p = self.mgmt("volume", "resume", "p0/bad", "--mode", "later", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bad mode 'later'", p.stderr)
        err = self.error_of("volume_resume", {"pool": "p0", "name": "bad"})
        self.assertIn("not suspended", err["message"])
        self.rpc.call("volume_suspend", {"pool": "p0", "name": "bad"})
        err = self.error_of("volume_suspend", {"pool": "p0", "name": "bad"})
        self.assertIn("suspended already", err["message"])
        self.rpc.call("volume_resume", {"pool": "p0", "name": "bad"})
        # Nothing changed, and the daemon serves on.
        q = self.info("bad")["qos"]
        self.assertEqual((q["read_iops"], q["burst_ms"]), (0, 100))
        self.assert_serving()
        self.rpc.call("volume_delete", {"pool": "p0", "name": "bad"})


INI = """[target]
reactors = 1

[port "io"]
address = {addr}
port = {port}

[subsystem "nqn.2026-01.io.fabriq.test:qos-restart"]
namespace = ram:4M
"""


class VolumeQosRestartTest(StateDirCase):
    """The limits are kept in the pool: across SIGTERM and kill -9."""

    PREFIX = "fq-volqos-restart-"

    def ini_text(self):
        return INI.format(addr=ADDR, port=self.port)

    def qos(self, d, name="db"):
        out = json.loads(cli("volume", "info", "p1/" + name, "--json", "-S", d.sock).stdout)
        return out["qos"], out["state"]

    def test_limits_survive_restart_and_kill(self):
        d = self.start(name="first")
        r = d.rpc()
        r.call("pool_create", {"name": "p1", "path": os.path.join(self.tmp, "p1.img"),
                               "size": 64 * MiB, "cluster_size": CLUSTER})
        r.call("volume_create", {"pool": "p1", "name": "db", "size": 8 * MiB})
        r.call("volume_create", {"pool": "p1", "name": "other", "size": 8 * MiB})
        r.close()
        cli("volume", "throttle", "p1/db", "read_iops=300,write_iops=200,read_bps=8M,"
            "write_bps=4M,burst_ms=50", "-S", d.sock)
        cli("volume", "suspend", "p1/db", "-S", d.sock)
        d.stop()

        d = self.start(name="second")
        q, state = self.qos(d)
        self.assertEqual((q["read_iops"], q["write_iops"], q["read_bps"], q["write_bps"],
                          q["burst_ms"]), (300, 200, 8 * MiB, 4 * MiB, 50))
        self.assertEqual(state, "online")  # a suspension is not kept
        self.assertEqual(self.qos(d, "other")[0]["read_iops"], 0)
        # A change, then kill -9: the journal has it.
        cli("volume", "throttle", "p1/db", "read_iops=0,write_bps=1G", "-S", d.sock)
        d.kill()

        d = self.start(name="third")
        q, state = self.qos(d)
        self.assertEqual((q["read_iops"], q["write_iops"], q["read_bps"], q["write_bps"],
                          q["burst_ms"]), (0, 200, 8 * MiB, 1 << 30, 50))
        # A stop while a suspended volume holds a write and a throttled one
        # keeps reads waiting: they are aborted, and the daemon exits cleanly.
        cli("volume", "throttle", "p1/other", "read_iops=1,burst_ms=1", "-S", d.sock)
        cli("volume", "suspend", "p1/db", "-S", d.sock)
        queues = []
        for name in ("db", "other"):
            nqn = vol_nqn("p1", name)
            a = raw.admin_queue(ADDR, self.port, nqn)
            self.assertEqual(a.set_features(0x07, 0).status, 0)
            queues += [a, raw.io_queue(ADDR, self.port, nqn, a.cntlid)]
        qd, qo = queues[1], queues[3]
        qd.submit(qd.rw_cmd(raw.IO_WRITE, 1, 0, 8), os.urandom(4096))
        for i in range(5):
            qo.submit(qo.rw_cmd(raw.IO_READ, 1, 8 * i, 8), data_in=4096)
        deadline = time.monotonic() + 10
        r = d.rpc()
        while time.monotonic() < deadline:
            held = r.call("volume_info", {"pool": "p1", "name": "db"})["qos"]["held"]
            waiting = r.call("volume_info", {"pool": "p1", "name": "other"})["qos"]["waiting"]
            if (held, waiting) == (1, 4):
                break
            time.sleep(0.01)
        self.assertEqual((held, waiting), (1, 4))
        r.close()
        d.stop()  # exit status 0, no sanitizer report
        self.assertIn("5 held command(s) aborted at exit", d.log_text())
        for x in queues:
            x.close()


CONF_INI = """
[target]
reactors = 2

[port "io"]
address = {addr}
port = {port}

[rpc]
socket = {tmp}/fabriqd.sock

[pool "c0"]
bdev = file:{tmp}/c0.img:64M
create = yes
cluster_size = 64K
volume = slow:4M:read_iops=50,burst_ms=1,write_bps=1M
volume = free:4M
"""


class VolumeConfLimitsTest(unittest.TestCase):
    """Limits of the configuration file's volume lines (docs/volumes.md "Configuration")."""

    def setUp(self):
        self.d = Fabriqd(None, ini=CONF_INI)
        self.ini = os.path.join(self.d.tmp.name, "fabriqd.ini")
        self.rpc = Rpc(os.path.join(self.d.tmp.name, "fabriqd.sock"))
        self.queues = []

    def tearDown(self):
        for q in self.queues:
            q.close()
        self.rpc.close()
        rc, reports = self.d.stop()
        self.d.cleanup()
        self.assertEqual((rc, reports), (0, []))

    def qos(self, name):
        return self.rpc.call("volume_info", {"pool": "c0", "name": name})["qos"]

    def io_queue(self, name):
        nqn = vol_nqn("c0", name)
        a = raw.admin_queue(ADDR, self.d.port, nqn)
        self.assertEqual(a.set_features(0x07, 0).status, 0)
        q = raw.io_queue(ADDR, self.d.port, nqn, a.cntlid)
        self.queues += [a, q]
        return q

    def rewrite(self, old, new):
        with open(self.ini) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.ini, "w") as f:
            f.write(text.replace(old, new))

    def reload_until(self, name, key, value):
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while self.qos(name)[key] != value:
            self.assertLess(time.monotonic(), deadline, self.d.log_text()[-2000:])
            time.sleep(0.05)

    def test_limits_from_the_file(self):
        q = self.qos("slow")
        self.assertEqual((q["read_iops"], q["burst_ms"], q["write_bps"]), (50, 1, MiB))
        self.assertEqual((q["write_iops"], q["read_bps"]), (0, 0))
        self.assertEqual(self.qos("free")["read_iops"], 0)
        # The limit holds reads back: 100 reads at 50/s, 1 ms of burst.
        io = self.io_queue("slow")
        t0 = time.monotonic()
        for i in range(100):
            c = io.read(1, 8 * (i % 64), 8)
            self.assertEqual(c.status, 0, c)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 1.5, "100 reads took %.3f s" % took)
        self.assertGreater(self.qos("slow")["delayed"], 50)
        # Changed at run time, then the file reloaded: what the line names
        # is set again (live), the rest kept.
        self.rpc.call("volume_throttle", {"pool": "c0", "name": "slow", "read_iops": 7,
                                          "write_iops": 9})
        self.rewrite("read_iops=50,burst_ms=1,write_bps=1M", "read_iops=0,burst_ms=1,write_bps=2M")
        self.reload_until("slow", "write_bps", 2 * MiB)
        q = self.qos("slow")
        self.assertEqual((q["read_iops"], q["write_iops"], q["burst_ms"]), (0, 9, 1))
        # Limits added to a volume line on a reload; I/O goes on meanwhile.
        self.rewrite("volume = free:4M\n", "volume = free:4M:read_bps=64K\n")
        fio = self.io_queue("free")
        self.assertEqual(fio.write(1, 0, bytes(4096)).status, 0)
        self.reload_until("free", "read_bps", 64 * 1024)
        self.assertEqual(fio.read(1, 0, 8).status, 0)
        # A bad limit: the reload is refused with its line and key, nothing changes.
        self.rewrite("read_bps=64K", "read_bps=64X")
        self.d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log("reload of", timeout=10), self.d.log_text()[-2000:])
        log = self.d.log_text()
        self.assertIn("fabriqd.ini:17: key 'volume': volume 'free': read_bps '64X'", log)
        self.assertEqual(self.qos("free")["read_bps"], 64 * 1024)
        self.assertEqual(io.read(1, 0, 8).status, 0)

    def test_bad_limit_at_start(self):
        bad = os.path.join(self.d.tmp.name, "bad.ini")
        with open(self.ini) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace("read_iops=50", "read_iops=fast"))
        p = subprocess.run([fabriqd_path(), "-c", bad], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bad.ini:16: key 'volume': volume 'slow': read_iops 'fast'", p.stderr)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: MIT
"""fabriqd --state-dir and fabriq config save (docs/management.md).

What the management API changes survives a restart with the same state
directory, merged with the configuration file without duplicating what it
defines; a subsystem of the file deleted at run time stays deleted; kill -9
in the middle of a burst of changes leaves a state that existed, never a
torn one, and a truncated state file is refused; `fabriq config save`
output given to a fresh `fabriqd -c` reproduces the subsystems.
"""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from fabriqd_proc import ADDR, SANITIZER_MARKS, fabriqd_path, free_port
from test_rpc import Rpc, fabriq_cli

NQN_A = "nqn.2026-01.io.fabriq.test:state-a"
NQN_B = "nqn.2026-01.io.fabriq.test:state-b"
NQN_C = "nqn.2026-01.io.fabriq.test:state-c"
HOST = "nqn.2014-08.org.nvmexpress:uuid:00000000-1111-2222-3333-444444444444"
STATE_FILE = "fabriqd.state.ini"
END_MARK = "; end of fabriqd state\n"

INI = """[target]
reactors = 1

[port "io"]
address = {addr}
port = {port}

[subsystem "{nqn_a}"]
namespace = ram:16M

[subsystem "{nqn_c}"]
namespace = ram:8M
"""


class Daemon:
    """A fabriqd with a management socket; started with any arguments."""

    def __init__(self, tmp, args, name="fabriqd"):
        self.sock = os.path.join(tmp, name + ".sock")
        self.logpath = os.path.join(tmp, name + ".log")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([fabriqd_path(), "--rpc-socket", self.sock] + args,
                                     stdout=subprocess.DEVNULL, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError("fabriqd exited with %d at start:\n%s" %
                                   (self.proc.returncode, self.log_text()))
            try:
                Rpc(self.sock, timeout=5).close()
                return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError("fabriqd did not open %s" % self.sock)

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def rpc(self):
        return Rpc(self.sock)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        reports = [ln for ln in self.log_text().splitlines()
                   if any(m in ln for m in SANITIZER_MARKS)]
        if rc != 0 or reports:
            raise AssertionError("fabriqd stopped with %d, reports %r:\n%s" %
                                 (rc, reports, self.log_text()[-3000:]))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run_failing(args):
    """fabriqd that must refuse to start: (exit status, stderr)."""
    p = subprocess.run([fabriqd_path()] + args, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=30)
    return p.returncode, p.stderr.decode(errors="replace")


def by_nqn(subs):
    return {s["nqn"]: s for s in subs}


class StateDirCase(unittest.TestCase):
    """A configuration file (ini_text(), written as self.text) and a state
    directory in a fresh temporary directory; start() runs fabriqd on both,
    and whatever still runs at the end is killed."""

    PREFIX = "fq-state-"

    def ini_text(self):
        raise NotImplementedError

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix=self.PREFIX)
        self.tmp = self.tmpdir.name
        self.state = os.path.join(self.tmp, "state")
        self.port = free_port()
        self.ini = os.path.join(self.tmp, "fabriqd.ini")
        self.text = self.ini_text()
        with open(self.ini, "w") as f:
            f.write(self.text)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.kill()
        self.tmpdir.cleanup()

    def start(self, extra=None, name="fabriqd"):
        d = Daemon(self.tmp, ["-c", self.ini, "--state-dir", self.state] + (extra or []),
                   name=name)
        self.daemons.append(d)
        return d


class StateTest(StateDirCase):

    def ini_text(self):
        return INI.format(addr=ADDR, port=self.port, nqn_a=NQN_A, nqn_c=NQN_C)

    def change_everything(self, r, port2):
        r.call("subsystem_create", {"nqn": NQN_B, "allow_any_host": False,
                                    "serial_number": "STATE-B", "model_number": "Model B"})
        r.call("ns_add", {"nqn": NQN_B, "bdev": "ram:4M,bs=4096", "nsid": 7})
        r.call("ns_add", {"nqn": NQN_B, "bdev": "delay:read_us=10+ram:2M"})
        r.call("listener_add", {"nqn": NQN_B, "address": "%s:%d" % (ADDR, port2)})
        r.call("listener_remove", {"nqn": NQN_B, "address": "%s:%d" % (ADDR, self.port)})
        r.call("subsystem_add_host", {"nqn": NQN_B, "host": HOST})
        # A subsystem of the file, changed live: the state's version wins.
        r.call("ns_add", {"nqn": NQN_A, "bdev": "ram:1M"})
        r.call("subsystem_add_host", {"nqn": NQN_A, "host": HOST})
        r.call("subsystem_delete", {"nqn": NQN_C})

    def test_state_survives_restart(self):
        port2 = free_port()
        d = self.start()
        r = d.rpc()
        self.change_everything(r, port2)
        before = r.call("subsystem_list")
        r.close()
        d.stop()
        with open(os.path.join(self.state, STATE_FILE)) as f:
            text = f.read()
        self.assertTrue(text.endswith(END_MARK), text)

        d = self.start(name="second")
        r = d.rpc()
        after = r.call("subsystem_list")
        names = [s["nqn"] for s in after]
        self.assertEqual(sorted(names), sorted([NQN_A, NQN_B]), after)
        self.assertEqual(by_nqn(after), by_nqn(before))
        b = by_nqn(after)[NQN_B]
        self.assertFalse(b["allow_any_host"])
        self.assertEqual(b["listeners"], ["%s:%d" % (ADDR, port2)])
        self.assertEqual([n["nsid"] for n in b["namespaces"]], [1, 7])
        # The deleted file subsystem stays deleted; one more change is saved.
        r.call("subsystem_remove_host", {"nqn": NQN_B, "host": HOST})
        r.close()
        d.stop()
        d = self.start(name="third")
        r = d.rpc()
        b = by_nqn(r.call("subsystem_list"))[NQN_B]
        self.assertEqual(b["hosts"], [])
        self.assertFalse(b["allow_any_host"])
        r.close()
        d.stop()

    def io(self, verb, nqn, path, *extra):
        p = subprocess.run([fabriq_cli(), verb, "-a", ADDR, "-s", str(self.port), "-n", nqn]
                           + list(extra), capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "fabriq %s: %s" % (verb, p.stderr))

    def test_pools_and_volumes_survive_restart(self):
        # A pool of the file (RAM) and one made over the socket (a file).
        with open(self.ini, "a") as f:
            f.write('\n[pool "cfg"]\nbdev = ram:64M\ncreate = yes\n'
                    "cluster_size = 64K\nvolume = v0:8M\n")
        img = os.path.join(self.tmp, "p1.img")
        vol = "nqn.2026-01.io.fabriq:vol:p1:db"
        data = os.urandom(8192)
        src = os.path.join(self.tmp, "in.bin")
        with open(src, "wb") as f:
            f.write(data)
        d = self.start()
        r = d.rpc()
        r.call("pool_create", {"name": "p1", "path": img, "size": 64 << 20,
                               "cluster_size": 65536})
        r.call("volume_create", {"pool": "p1", "name": "db", "size": 16 << 20})
        r.call("volume_snapshot", {"pool": "p1", "name": "db@s1"})
        r.call("subsystem_allow_any_host", {"nqn": vol, "allow": False})
        r.call("subsystem_add_host", {"nqn": vol, "host": HOST})
        r.call("subsystem_allow_any_host", {"nqn": vol, "allow": True})
        self.io("write", vol, src, "--offset", "65536", "--input", src)
        before = by_nqn(r.call("subsystem_list"))
        r.close()
        d.stop()
        with open(os.path.join(self.state, STATE_FILE)) as f:
            text = f.read()
        self.assertIn('[pool "p1"]\nbdev = file:%s\n' % img, text)

        d = self.start(name="second")
        r = d.rpc()
        self.assertEqual(sorted(p["name"] for p in r.call("pool_list")), ["cfg", "p1"])
        vols = {v["name"]: v for v in r.call("volume_list", {"pool": "p1"})}
        self.assertEqual(sorted(vols), ["db", "db@s1"])
        after = by_nqn(r.call("subsystem_list"))
        for nqn in (vol, vol + "@s1", "nqn.2026-01.io.fabriq:vol:cfg:v0"):
            self.assertIn(nqn, after)
        self.assertEqual(after[vol]["hosts"], before[vol]["hosts"])
        self.assertEqual(after[vol]["hosts"], [HOST])
        out = os.path.join(self.tmp, "out.bin")
        self.io("read", vol, out, "--offset", "65536", "--length", "8192", "--output", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        # Deleting the pool is saved too: the third start has only the file's pool.
        r.call("pool_delete", {"name": "p1", "force": True})
        r.close()
        d.stop()
        d = self.start(name="third")
        r = d.rpc()
        self.assertEqual([p["name"] for p in r.call("pool_list")], ["cfg"])
        self.assertNotIn(vol, by_nqn(r.call("subsystem_list")))
        r.close()
        d.stop()

    def test_sighup_opens_new_pools(self):
        """A [pool] added to the file is opened by a SIGHUP, its volumes exported."""
        d = self.start()
        img = os.path.join(self.tmp, "late.img")
        vol = "nqn.2026-01.io.fabriq:vol:late:v"
        with open(self.ini, "a") as f:
            f.write('\n[pool "late"]\nbdev = file:%s:64M\ncreate = yes\n'
                    "cluster_size = 64K\nvolume = v:8M\n" % img)
        r = d.rpc()
        for _ in range(2):  # the second reload finds the pool open already
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 15
            while vol not in by_nqn(r.call("subsystem_list")):
                self.assertLess(time.monotonic(), deadline, d.log_text()[-2000:])
                time.sleep(0.05)
        self.assertEqual(r.call("volume_info", {"pool": "late", "name": "v"})["size"],
                         8 << 20)
        data = os.urandom(4096)
        src = os.path.join(self.tmp, "in.bin")
        out = os.path.join(self.tmp, "out.bin")
        with open(src, "wb") as f:
            f.write(data)
        self.io("write", vol, src, "--offset", "8192", "--input", src)
        self.io("read", vol, out, "--offset", "8192", "--length", "4096", "--output", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertNotIn("reload of", d.log_text())
        r.close()
        d.stop()

    def test_no_state_dir_nothing_persists(self):
        d = Daemon(self.tmp, ["-c", self.ini])
        self.daemons.append(d)
        r = d.rpc()
        r.call("subsystem_create", {"nqn": NQN_B})
        r.close()
        d.stop()
        self.assertFalse(os.path.exists(self.state))
        d = Daemon(self.tmp, ["-c", self.ini], name="again")
        self.daemons.append(d)
        r = d.rpc()
        self.assertNotIn(NQN_B, by_nqn(r.call("subsystem_list")))
        r.close()
        d.stop()

    def test_kill9_during_changes(self):
        d = self.start()
        acked = []  # namespaces of NQN_A after each acknowledged change
        stop = threading.Event()

        def churn():
            r = d.rpc()
            nsids = [1]
            try:
                for i in range(100000):
                    if stop.is_set():
                        return
                    if i % 2 == 0:
                        r.call("ns_add", {"nqn": NQN_A, "bdev": "null:1M", "nsid": 2})
                        nsids = [1, 2]
                    else:
                        r.call("ns_remove", {"nqn": NQN_A, "nsid": 2})
                        nsids = [1]
                    acked.append(list(nsids))
            except (OSError, ConnectionError, ValueError):
                return

        th = threading.Thread(target=churn)
        th.start()
        time.sleep(1.5)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        th.join(30)
        self.assertGreater(len(acked), 5, "too few changes before the kill")
        path = os.path.join(self.state, STATE_FILE)
        with open(path) as f:
            self.assertTrue(f.read().endswith(END_MARK))
        # io_uring tears a killed process's sockets down asynchronously: the
        # port may stay bound for a moment after the process is gone.
        deadline = time.monotonic() + 10
        while True:
            try:
                d = self.start(name="restarted")
                break
            except RuntimeError as e:
                if "Address already in use" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        r = d.rpc()
        got = [n["nsid"] for n in by_nqn(r.call("subsystem_list"))[NQN_A]["namespaces"]]
        # The last acknowledged state, or the one whose reply the kill cut off.
        self.assertIn(got, ([1], [1, 2]))
        r.close()
        d.stop()

    def test_truncated_state_refused(self):
        d = self.start()
        r = d.rpc()
        r.call("subsystem_create", {"nqn": NQN_B})
        r.close()
        d.stop()
        path = os.path.join(self.state, STATE_FILE)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text[:len(text) // 2])
        rc, err = run_failing(["-c", self.ini, "--state-dir", self.state])
        self.assertNotEqual(rc, 0)
        self.assertIn("incomplete state file", err)

    def test_referrals_survive_restart(self):
        disc = "nqn.2014-08.org.nvmexpress.discovery"
        with open(self.ini, "a") as f:
            f.write("\n[discovery]\nreferral = 192.0.2.1:8009\n")
        d = self.start()
        r = d.rpc()
        self.assertEqual(r.call("referral_list"), [{"address": "192.0.2.1:8009", "nqn": disc}])
        # The file's referral removed, another added: the state's list wins.
        r.call("referral_remove", {"address": "192.0.2.1:8009"})
        r.call("referral_add", {"address": "[2001:db8::9]:8009", "nqn": NQN_B})
        r.close()
        d.stop()
        d = self.start(name="second")
        r = d.rpc()
        self.assertEqual(r.call("referral_list"),
                         [{"address": "[2001:db8::9]:8009", "nqn": NQN_B}])
        # None left is a list too: the file's does not come back.
        r.call("referral_remove", {"address": "[2001:db8::9]:8009"})
        r.close()
        d.stop()
        d = self.start(name="third")
        r = d.rpc()
        self.assertEqual(r.call("referral_list"), [])
        r.close()
        d.stop()

    def test_bdev_params_survive_restart(self):
        d = self.start()
        r = d.rpc()
        nsid = r.call("ns_add", {"nqn": NQN_A, "bdev": "qos:read_iops=100+delay:read_us=5+ram:1M"})
        r.call("bdev_set_params", {"nqn": NQN_A, "nsid": nsid, "module": "delay",
                                   "params": {"write_us": 7}})
        r.call("bdev_set_params", {"nqn": NQN_A, "nsid": nsid, "module": "qos",
                                   "params": {"read_iops": 250}})
        before = [b for b in r.call("bdev_list") if b["nsid"] == nsid and b["nqn"] == NQN_A]
        r.close()
        d.stop()
        d = self.start(name="second")
        r = d.rpc()
        after = [b for b in r.call("bdev_list") if b["nsid"] == nsid and b["nqn"] == NQN_A]
        self.assertEqual(after, before)
        self.assertEqual([(l["module"], l.get("params")) for l in after[0]["stack"]][:2],
                         [("qos", "read_iops=250,write_iops=0,read_bps=0,write_bps=0,"
                                  "burst_ms=100,max_held=4096"),
                          ("delay", "read_us=5,write_us=7")])
        r.close()
        d.stop()

    def test_named_bdevs_survive_restart(self):
        img = os.path.join(self.tmp, "named.img")
        with open(self.ini, "a") as f:
            f.write('\n[bdev "fromfile"]\nspec = ram:2M\n')
        d = self.start()
        r = d.rpc()
        named = lambda: {b["name"]: (b["spec"], b["nqn"], b["nsid"])  # noqa: E731
                         for b in r.call("bdev_list") if b.get("named")}
        self.assertEqual(named(), {"fromfile": ("ram:2M", None, None)})
        # The file's bdev deleted, one made live and given to a namespace.
        r.call("bdev_delete", {"name": "fromfile"})
        r.call("bdev_create", {"name": "disk", "bdev": "delay:read_us=1+file:%s:1M" % img})
        r.call("ns_add", {"nqn": NQN_A, "bdev": "bdev:disk", "nsid": 5})
        r.close()
        d.stop()
        d = self.start(name="second")
        r = d.rpc()
        self.assertEqual(named(), {"disk": ("delay:read_us=1+file:%s:1M" % img, NQN_A, 5)})
        r.close()
        d.stop()

    def test_second_daemon_on_the_same_state_dir_refused(self):
        d = self.start()
        r = d.rpc()
        r.call("subsystem_create", {"nqn": NQN_B})
        path = os.path.join(self.state, STATE_FILE)
        with open(path) as f:
            before = f.read()
        # Another port, so that only the state directory is shared.
        other = os.path.join(self.tmp, "other.ini")
        with open(other, "w") as f:
            f.write(INI.format(addr=ADDR, port=free_port(), nqn_a=NQN_A, nqn_c=NQN_C))
        rc, err = run_failing(["-c", other, "--state-dir", self.state])
        self.assertNotEqual(rc, 0)
        self.assertIn("state directory %s is in use by another fabriqd (pid %d" %
                      (self.state, d.proc.pid), err)
        # The first one still owns the file and keeps saving into it.
        with open(path) as f:
            self.assertEqual(f.read(), before)
        r.call("subsystem_delete", {"nqn": NQN_B})
        with open(path) as f:
            self.assertNotIn(NQN_B, f.read())
        r.close()
        d.stop()
        # Its lock ended with it: the next daemon starts on the directory.
        d = self.start(name="next")
        r = d.rpc()
        self.assertNotIn(NQN_B, by_nqn(r.call("subsystem_list")))
        r.close()
        d.stop()

    def test_config_save_reproduces(self):
        port2 = free_port()
        d = self.start()
        r = d.rpc()
        self.change_everything(r, port2)
        before = r.call("subsystem_list")
        r.close()
        saved = os.path.join(self.tmp, "saved.ini")
        with open(saved, "w") as f:
            subprocess.run([fabriq_cli(), "config", "save", "-S", d.sock], stdout=f,
                           check=True, timeout=30)
        d.stop()
        fresh = Daemon(self.tmp, ["-c", saved], name="fresh")
        self.daemons.append(fresh)
        r = fresh.rpc()
        self.assertEqual(by_nqn(r.call("subsystem_list")), by_nqn(before))
        r.close()
        fresh.stop()


if __name__ == "__main__":
    unittest.main()

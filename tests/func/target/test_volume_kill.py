# SPDX-License-Identifier: MIT
"""kill -9 of fabriqd under load on a thin volume of a file pool, round
after round (docs/volumes.md "Ordering rules and guarantees").

Each round starts fabriqd on the same pool file, reads back everything the
earlier rounds had acknowledged, then two writers (one connection each, on
clusters of their own) write 4 KiB blocks — first writes that allocate and
overwrites, shared clusters after a snapshot — while a third thread takes
and deletes snapshots through the management socket. At a random moment
the daemon is killed with SIGKILL. Then, with no daemon running, `fabriq
pool check` must find the pool clean; at the next start every write that
was acknowledged must read back (no Flush was ever sent: a process kill
loses nothing acknowledged), and a block whose write was in flight at the
kill holds the old or the new data, nothing else.

FQ_KILL_ROUNDS sets the number of rounds (5 here; bench/volume_kill.sh runs
100). FQ_KILL_SEED fixes the random choices.
"""

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import ADDR, Fabriqd  # noqa: E402
from test_rpc import Rpc, fabriq_cli  # noqa: E402

NQN = "nqn.2026-01.io.fabriq:vol:p0:v1"
CLUSTER = 64 * 1024
VOL_BYTES = 64 << 20
BLOCK = 4096
LBAS = BLOCK // 512
BLOCKS_PER_CLUSTER = CLUSTER // BLOCK
CLUSTERS = VOL_BYTES // CLUSTER
WRITERS = 2

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


class Writer(threading.Thread):
    """Writes random 4 KiB blocks of its own clusters until the connection dies."""

    def __init__(self, port, idx, rng, model):
        super().__init__(daemon=True)
        self.port, self.idx, self.rng, self.model = port, idx, rng, model
        self.inflight = None  # (slba, data) sent and not yet answered
        self.acked = 0
        self.error = None

    def run(self):
        try:
            a = raw.admin_queue(ADDR, self.port, NQN)
            a.set_features(0x07, 0)
            q = raw.io_queue(ADDR, self.port, NQN, a.cntlid)
        except Exception as e:  # the kill may come before the connection
            self.error = e
            return
        try:
            while True:
                cluster = self.rng.randrange(self.idx, CLUSTERS, WRITERS)
                slba = (cluster * BLOCKS_PER_CLUSTER + self.rng.randrange(BLOCKS_PER_CLUSTER)) \
                    * LBAS
                data = self.rng.randbytes(BLOCK)
                self.inflight = (slba, data)
                c = q.write(1, slba, data)
                if c.status != 0:
                    self.error = AssertionError("write at %d: status 0x%x" % (slba, c.status))
                    return
                self.model[slba] = data
                self.inflight = None
                self.acked += 1
        except (raw.Closed, OSError, raw.ProtocolError):
            return  # killed: what was in flight stays in self.inflight


class Snapshotter(threading.Thread):
    """Takes a snapshot, then deletes it, over and over (metadata under load)."""

    def __init__(self, sock, rnd):
        super().__init__(daemon=True)
        self.sock, self.rnd = sock, rnd
        self.done = 0

    def run(self):
        try:
            r = Rpc(self.sock)
            i = 0
            while True:
                name = "v1@r%ds%d" % (self.rnd, i)
                r.call("volume_snapshot", {"pool": "p0", "name": name})
                time.sleep(0.02)
                r.call("volume_delete", {"pool": "p0", "name": name})
                self.done += 1
                i += 1
        except Exception:
            return  # killed


class VolumeKillTest(unittest.TestCase):

    def test_kill9_under_load(self):
        rounds = int(os.environ.get("FQ_KILL_ROUNDS", "5"))
        seed = int(os.environ.get("FQ_KILL_SEED", str(random.randrange(1 << 30))))
        rng = random.Random(seed)
        tmp = tempfile.TemporaryDirectory(prefix="fabriq-kill-")
        pool = os.path.join(tmp.name, "pool.img")
        ini = INI % pool
        model = {}  # slba -> the data acknowledged last
        maybe = {}  # slba -> data that was in flight at a kill
        tgt = None
        total_acked = total_snaps = 0
        try:
            for rnd in range(rounds + 1):
                tgt = Fabriqd(None, ini=ini)
                self.verify(tgt, model, maybe, "seed %d, start %d" % (seed, rnd))
                if rnd == rounds:
                    break
                self.drop_snapshots(tgt)
                writers = [Writer(tgt.port, i, random.Random(rng.random()), model)
                           for i in range(WRITERS)]
                snap = Snapshotter(os.path.join(tgt.tmp.name, "fabriqd.sock"), rnd)
                for t in writers + [snap]:
                    t.start()
                time.sleep(rng.uniform(0.3, 1.0))
                tgt.kill()
                for t in writers + [snap]:
                    t.join(30)
                    self.assertFalse(t.is_alive(), "a client hangs after the kill")
                total_snaps += snap.done
                for w in writers:
                    if w.error and not isinstance(w.error, (raw.Closed, OSError)):
                        raise w.error
                    total_acked += w.acked
                    if w.inflight:
                        maybe[w.inflight[0]] = w.inflight[1]
                tgt.cleanup()
                tgt = None
                p = subprocess.run([fabriq_cli(), "pool", "check", pool], capture_output=True,
                                   text=True, timeout=120)
                self.assertEqual(p.returncode, 0, "seed %d round %d: pool check: %s%s" % (
                    seed, rnd, p.stdout, p.stderr))
            # The rounds did work: writes were acknowledged and checked.
            print("seed %d: %d rounds, %d writes acknowledged (%d blocks), %d snapshots" % (
                seed, rounds, total_acked, len(model), total_snaps), file=sys.stderr)
            self.assertGreater(total_acked, rounds * 10, "seed %d" % seed)
            self.assertGreater(total_snaps, 0, "seed %d" % seed)
        finally:
            if tgt:
                tgt.kill()
                tgt.cleanup()
            tmp.cleanup()

    def drop_snapshots(self, tgt):
        r = Rpc(os.path.join(tgt.tmp.name, "fabriqd.sock"))
        try:
            for v in r.call("volume_list", {"pool": "p0"}):
                if "@" in v["name"]:
                    r.call("volume_delete", {"pool": "p0", "name": v["name"]})
        finally:
            r.close()

    def verify(self, tgt, model, maybe, where):
        a = raw.admin_queue(ADDR, tgt.port, NQN)
        try:
            a.set_features(0x07, 0)
            q = raw.io_queue(ADDR, tgt.port, NQN, a.cntlid)
            for slba in sorted(set(model) | set(maybe)):
                c = q.read(1, slba, LBAS)
                self.assertEqual(c.status, 0, "%s: read at %d: %r" % (where, slba, c))
                old = model.get(slba, bytes(BLOCK))
                if c.data == old:
                    maybe.pop(slba, None)
                    continue
                self.assertTrue(slba in maybe,
                                "%s: LBA %d lost an acknowledged write" % (where, slba))
                self.assertEqual(c.data, maybe.pop(slba),
                                 "%s: LBA %d holds neither the old nor the new data" % (
                                     where, slba))
                model[slba] = c.data
            maybe.clear()
            q.close()
        finally:
            a.close()


if __name__ == "__main__":
    unittest.main()

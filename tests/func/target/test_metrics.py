# SPDX-License-Identifier: MIT
"""fabriqd --metrics-listen: GET /metrics (docs/management.md).

Scraped with curl while a host reads and writes: the text passes
`promtool check metrics` (Debian package prometheus; the check is skipped
where it is missing), every series is named fabriq_..., and the
namespace counters and latency histograms grow with the I/O. Errors are
counted by status code type. Requests other than GET /metrics, an
oversized request and a client that sends nothing are answered or dropped
without disturbing I/O.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest
import tempfile
import urllib.request

from fabriqd_proc import ADDR, TargetTestCase, free_port
from test_rpc import Rpc, fabriq_cli


def parse(text):
    """{(name, labels-text): value} of the sample lines."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(samples, name, **labels):
    for (n, lab), v in samples.items():
        if n == name and all('%s="%s"' % (k, x) in lab for k, x in labels.items()):
            return v
    raise KeyError("%s %r not in the metrics" % (name, labels))


class MetricsTest(TargetTestCase):

    @classmethod
    def setUpClass(cls):
        cls.mport = free_port()
        cls.sockdir = tempfile.TemporaryDirectory(prefix="fq-metrics-")
        cls.sock = os.path.join(cls.sockdir.name, "fabriqd.sock")
        cls.ARGS = TargetTestCase.ARGS + ["--metrics-listen", "%s:%d" % (ADDR, cls.mport),
                                          "--rpc-socket", cls.sock]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sockdir.cleanup()

    def url(self, path="/metrics"):
        return "http://%s:%d%s" % (ADDR, self.mport, path)

    def scrape(self):
        if shutil.which("curl"):
            p = subprocess.run(["curl", "-sS", "--fail", "--max-time", "20", self.url()],
                               stdout=subprocess.PIPE, check=True, timeout=30)
            return p.stdout.decode()
        with urllib.request.urlopen(self.url(), timeout=20) as r:
            return r.read().decode()

    def promtool(self, text):
        if not shutil.which("promtool"):
            return
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_scrape_during_io(self):
        a, q = self.pair()
        stop = threading.Event()
        failures = []

        def io():
            data = os.urandom(4096)
            i = 0
            while not stop.is_set():
                if q.write(1, 8 * (i % 64), data).status != 0:
                    failures.append("write")
                if q.read(1, 8 * (i % 64), 8).status != 0:
                    failures.append("read")
                i += 1

        th = threading.Thread(target=io)
        th.start()
        try:
            time.sleep(0.5)
            first = self.scrape()
            time.sleep(0.5)
            second = self.scrape()
        finally:
            stop.set()
            th.join(30)
        self.assertEqual(failures, [])
        self.promtool(first)
        self.promtool(second)
        for line in second.splitlines():
            if line and not line.startswith("# "):
                self.assertTrue(line.startswith("fabriq_"), line)
        s1, s2 = parse(first), parse(second)
        lab = {"nqn": self.NQN, "nsid": "1"}
        for name in ("fabriq_namespace_read_ops_total", "fabriq_namespace_write_ops_total",
                     "fabriq_namespace_read_bytes_total", "fabriq_namespace_written_bytes_total",
                     "fabriq_namespace_read_latency_seconds_count",
                     "fabriq_namespace_write_latency_seconds_count"):
            self.assertGreater(value(s2, name, **lab), value(s1, name, **lab), name)
            self.assertGreater(value(s1, name, **lab), 0, name)
        # The +Inf bucket is the count; buckets never decrease along le.
        count = value(s2, "fabriq_namespace_read_latency_seconds_count", **lab)
        self.assertEqual(value(s2, "fabriq_namespace_read_latency_seconds_bucket", le="+Inf", **lab),
                         count)
        self.assertGreaterEqual(value(s2, "fabriq_connections"), 2)
        self.assertEqual(value(s2, "fabriq_subsystem_controllers", nqn=self.NQN), 1)
        self.assertGreater(value(s2, "fabriq_reactor_idle_seconds_total", reactor="0") +
                           value(s2, "fabriq_reactor_busy_seconds_total", reactor="0"), 0)
        self.close_all(a, q)

    def test_errors_by_status_type(self):
        a, q = self.pair()
        lab = {"nqn": self.NQN, "nsid": "1", "status_type": "generic"}
        before = value(parse(self.scrape()), "fabriq_namespace_errors_total", **lab)
        # Past the end of the 64 MiB namespace: LBA Out of Range (generic).
        c = q.read(1, (64 << 20) // 512, 8)
        self.assertNotEqual(c.status, 0)
        after = value(parse(self.scrape()), "fabriq_namespace_errors_total", **lab)
        self.assertEqual(after, before + 1)
        self.close_all(a, q)

    def cli(self, *args):
        p = subprocess.run([fabriq_cli()] + list(args) + ["-S", self.sock],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode()

    def test_connections_stats_and_iostat(self):
        a, q = self.pair()
        stop = threading.Event()

        def io():
            while not stop.is_set():
                q.read(1, 0, 8)

        th = threading.Thread(target=io)
        th.start()
        try:
            conns = json.loads(self.cli("connections", self.NQN, "--json"))
            text = self.cli("connections")
            lines = self.cli("stats", "--watch", "0.3", "--count", "2", "--json").splitlines()
            table = self.cli("stats")
        finally:
            stop.set()
            th.join(30)
        self.assertEqual([c["cntlid"] for c in conns], [a.cntlid])
        self.assertEqual(conns[0]["io_queues"], 1)
        self.assertIn(conns[0]["hostnqn"], text)
        self.assertEqual(len(lines), 2)
        for line in lines:
            ns = [n for n in json.loads(line)["namespaces"] if n["nsid"] == 1][0]
            self.assertGreater(ns["read_iops"], 0)
            self.assertGreaterEqual(ns["read_p99_us"], 0)
        self.assertIn("r/s", table)
        r = Rpc(self.sock)
        st = [n for n in r.call("iostat", {"nqn": self.NQN})[0]["namespaces"]
              if n["nsid"] == 1][0]
        r.close()
        self.assertGreater(st["read_latency"]["count"], 0)
        self.assertEqual(sum(st["read_latency"]["buckets"]), st["read_latency"]["count"])
        self.assertIn("p99_us", st["read_latency"])
        self.assertIn("generic", st["errors_by_status_type"])
        self.close_all(a, q)

    def http(self, request, timeout=10):
        with socket.create_connection((ADDR, self.mport), timeout=timeout) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk

    def test_other_requests(self):
        self.assertTrue(self.http(b"POST /metrics HTTP/1.0\r\n\r\n").startswith(
            b"HTTP/1.0 405"))
        self.assertTrue(self.http(b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 404"))
        self.assertTrue(self.http(b"GET /metrics HTTP/1.0\r\n\r\n").startswith(
            b"HTTP/1.0 200"))
        try:
            resp = self.http(b"GET /" + b"x" * 20000 + b" HTTP/1.0\r\n\r\n")
            self.assertTrue(resp == b"" or resp.startswith(b"HTTP/1.0 4"), resp[:80])
        except (ConnectionResetError, BrokenPipeError):
            pass

    def test_stalled_client_does_not_block_io(self):
        stalled = socket.create_connection((ADDR, self.mport))
        try:
            stalled.sendall(b"GET /metr")
            a, q = self.pair()
            t0 = time.monotonic()
            for i in range(50):
                self.assertEqual(q.read(1, i * 8, 8).status, 0)
            self.assertLess(time.monotonic() - t0, 4.0)
            # The stalled request times out; the next scrape is served.
            self.assertIn("fabriq_connections", self.scrape())
            self.close_all(a, q)
        finally:
            stalled.close()


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: MIT
"""fabriqd's management socket (docs/rpc.md) against a running daemon.

Every method is called and its effect checked through NVMe/TCP with the raw
host of nvmeof_raw.py (and through the fabriq CLI): a namespace added live
is announced by a Namespace Attribute Changed event and then served, a
listener added live accepts Connects, a disconnected controller loses its
queues. The protocol errors (-32700, -32600, -32601, -32602 naming the
parameter), an oversized request, 100 concurrent clients while I/O runs,
and the socket's life (mode 0600, a live one refused, a stale one
replaced) are checked too.
"""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import nvmeof_raw as raw
from fabriqd_proc import ADDR, Fabriqd, TargetTestCase, free_port

NQN = TargetTestCase.NQN
NQN2 = "nqn.2026-01.io.fabriq.test:live2"
OTHER_HOST = "nqn.2014-08.org.nvmexpress:uuid:00000000-1111-2222-3333-444444444444"
AEN_NS_CHANGED = 0x02 | (0x00 << 8) | (0x04 << 16)  # notice, NS attribute changed, log 04h
FEAT_ASYNC_EVENT_CFG = 0x0B
AEC_NS_ATTR = 1 << 8


def fabriq_cli():
    path = os.environ.get("FABRIQ")
    if not path:
        raise RuntimeError("FABRIQ is not set: run this test through meson")
    return path


class Rpc:
    """One connection to the socket: a line out, a line back."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send_line(self, data):
        self.sock.sendall(data + b"\n")

    def recv_obj(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None):
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params is not None:
            req["params"] = params
        self.send_line(json.dumps(req).encode())
        resp = self.recv_obj()
        if resp.get("id") != req["id"]:
            raise AssertionError("response id %r for request %r" % (resp.get("id"), req["id"]))
        return resp

    def call(self, method, params=None):
        resp = self.request(method, params)
        if "error" in resp:
            raise AssertionError("%s failed: %r" % (method, resp["error"]))
        return resp["result"]

    def close(self):
        self.sock.close()


class RpcTestCase(TargetTestCase):
    """A daemon with a management socket in a directory of its own."""

    @classmethod
    def setUpClass(cls):
        cls.sockdir = tempfile.TemporaryDirectory(prefix="fq-rpc-")
        cls.sock = os.path.join(cls.sockdir.name, "fabriqd.sock")
        cls.ARGS = TargetTestCase.ARGS + ["--rpc-socket", cls.sock]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.sockdir.cleanup()

    def setUp(self):
        self.rpc = Rpc(self.sock)

    def tearDown(self):
        self.rpc.close()

    def error_of(self, method, params=None):
        resp = self.rpc.request(method, params)
        self.assertIn("error", resp, resp)
        return resp["error"]

    def subsystem(self, nqn):
        for s in self.rpc.call("subsystem_list"):
            if s["nqn"] == nqn:
                return s
        return None

    def cli(self, *args, check=True):
        p = subprocess.run([fabriq_cli()] + list(args), capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("fabriq %s: status %d, stderr %s" % (
                " ".join(args), p.returncode, p.stderr))
        return p


class TestMethods(RpcTestCase):

    EXPECTED = {"rpc_methods", "get_version", "subsystem_list", "subsystem_create",
                "subsystem_delete", "subsystem_add_host", "subsystem_remove_host",
                "subsystem_allow_any_host", "ns_add", "ns_remove", "listener_add",
                "listener_remove", "bdev_list", "controller_list", "controller_disconnect",
                "iostat", "pool_create", "pool_list", "pool_info", "pool_delete",
                "volume_create", "volume_list", "volume_info", "volume_resize",
                "volume_rename", "volume_delete", "volume_snapshot", "volume_clone",
                "volume_rollback", "volume_flatten", "volume_throttle", "volume_suspend",
                "volume_resume", "config_dump", "referral_add", "referral_remove",
                "referral_list", "bdev_set_params", "bdev_qos_suspend", "bdev_qos_resume",
                "bdev_create", "bdev_delete"}

    def test_rpc_methods_describe_every_method(self):
        methods = self.rpc.call("rpc_methods")
        self.assertEqual({m["name"] for m in methods}, self.EXPECTED)
        for m in methods:
            self.assertTrue(m["description"] and "\n" not in m["description"], m)
            self.assertEqual(m["params"]["type"], "object")
            for name in m["params"]["required"]:
                self.assertIn(name, m["params"]["properties"])
        ns_add = next(m for m in methods if m["name"] == "ns_add")
        self.assertEqual(ns_add["params"]["required"], ["nqn", "bdev"])
        self.assertEqual(ns_add["params"]["properties"]["nsid"]["type"], "integer")

    def test_get_version(self):
        v = self.rpc.call("get_version")
        self.assertRegex(v["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(v["reactors"], 1)

    def test_subsystem_list_and_bdev_list(self):
        s = self.subsystem(NQN)
        self.assertTrue(s["allow_any_host"])
        self.assertEqual(s["hosts"], [])
        self.assertEqual(s["listeners"], ["%s:%d" % (ADDR, self.port)])
        self.assertEqual([(n["nsid"], n["num_blocks"], n["block_size"]) for n in s["namespaces"]],
                         [(1, 64 * 2048, 512), (2, 32 * 256, 4096)])
        bdevs = self.rpc.call("bdev_list")
        self.assertEqual([(b["nqn"], b["nsid"]) for b in bdevs if b["nqn"] == NQN],
                         [(NQN, 1), (NQN, 2)])
        err = self.error_of("subsystem_list", {"nqn": "nqn.2026-01.io.fabriq.test:none"})
        self.assertEqual(err["code"], -32000)
        self.assertEqual(err["data"]["errno"], 2)

    def test_ns_add_is_announced_and_served_then_removed(self):
        a = self.admin()
        self.assertEqual(a.set_features(FEAT_ASYNC_EVENT_CFG, AEC_NS_ATTR).status, 0)
        aer = a.submit(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
        nsid = self.rpc.call("ns_add", {"nqn": NQN, "bdev": "delay:read_us=10+ram:8M,bs=4096"})
        self.assertEqual(nsid, 3)
        c = a.wait(aer)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.dw0, AEN_NS_CHANGED)
        c = a.get_log(0x04, 4096)  # Changed Namespace List
        self.assertEqual(c.status, 0, c)
        self.assertEqual(int.from_bytes(c.data[0:4], "little"), 3)
        c = a.identify(2)  # Active Namespace ID list
        ids = [int.from_bytes(c.data[i:i + 4], "little") for i in range(0, 16, 4)]
        self.assertEqual(ids, [1, 2, 3, 0])
        # I/O on the new namespace, on a queue connected after the change.
        self.assertEqual(a.set_features(0x07, 0).status, 0)
        q = raw.io_queue(self.addr, self.port, NQN, a.cntlid)
        data = os.urandom(4096)
        self.assertEqual(q.write(3, 5, data, bs=4096).status, 0)
        c = q.read(3, 5, 1, bs=4096)
        self.assertEqual((c.status, c.data), (0, data))
        # The CLI (libfabriq host) sees it too.
        out = self.cli("list", "-a", ADDR, "-s", str(self.port), "-n", NQN, "--json").stdout
        self.assertIn(3, [n["nsid"] for n in json.loads(out)["namespaces"]])
        # Removal: another event, and the namespace is gone.
        aer = a.submit(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
        self.assertIs(self.rpc.call("ns_remove", {"nqn": NQN, "nsid": 3}), True)
        c = a.wait(aer)
        self.assertEqual((c.status, c.dw0), (0, AEN_NS_CHANGED))
        c = q.read(3, 5, 1, bs=4096)
        self.assertEqual((c.sct, c.sc), raw.SC_INVALID_NS, c)
        c = a.identify(2)
        self.assertEqual(int.from_bytes(c.data[8:12], "little"), 0)
        err = self.error_of("ns_remove", {"nqn": NQN, "nsid": 3})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 2))
        self.close_all(q, a)

    def test_ns_add_explicit_nsid_and_duplicate(self):
        self.assertEqual(self.rpc.call("ns_add", {"nqn": NQN, "bdev": "ram:1M", "nsid": 100}),
                         100)
        err = self.error_of("ns_add", {"nqn": NQN, "bdev": "ram:1M", "nsid": 100})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 17))  # EEXIST
        err = self.error_of("ns_add", {"nqn": NQN, "bdev": "bogus:1M"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "bdev"))
        self.rpc.call("ns_remove", {"nqn": NQN, "nsid": 100})

    def test_subsystem_create_hosts_listeners_delete(self):
        port2 = free_port()
        self.rpc.call("subsystem_create", {"nqn": NQN2, "serial_number": "LIVE2",
                                           "allow_any_host": False})
        self.rpc.call("ns_add", {"nqn": NQN2, "bdev": "ram:4M"})
        s = self.subsystem(NQN2)
        self.assertEqual((s["serial_number"], s["allow_any_host"]), ("LIVE2", False))
        self.assertEqual(s["listeners"], ["%s:%d" % (ADDR, self.port)])
        err = self.error_of("subsystem_create", {"nqn": NQN2})
        self.assertEqual(err["data"]["errno"], 17)

        def connect(port, hostnqn=raw.HOSTNQN):
            q = raw.Queue(self.addr, port)
            c = q.connect(NQN2, hostnqn=hostnqn)
            return q, c

        # No host allowed yet; then ours only.
        q, c = connect(self.port)
        self.assertEqual((c.sct, c.sc), raw.SC_CONNECT_INVALID_HOST, c)
        q.close()
        self.rpc.call("subsystem_add_host", {"nqn": NQN2, "host": raw.HOSTNQN})
        self.assertEqual(self.subsystem(NQN2)["hosts"], [raw.HOSTNQN])
        q, c = connect(self.port)
        self.assertEqual(c.status, 0, c)
        q.close()
        q, c = connect(self.port, OTHER_HOST)
        self.assertEqual((c.sct, c.sc), raw.SC_CONNECT_INVALID_HOST, c)
        q.close()
        self.rpc.call("subsystem_allow_any_host", {"nqn": NQN2, "allow": True})
        q, c = connect(self.port, OTHER_HOST)
        self.assertEqual(c.status, 0, c)
        q.close()
        self.rpc.call("subsystem_allow_any_host", {"nqn": NQN2, "allow": False})
        self.rpc.call("subsystem_remove_host", {"nqn": NQN2, "host": raw.HOSTNQN})
        q, c = connect(self.port)
        self.assertEqual((c.sct, c.sc), raw.SC_CONNECT_INVALID_HOST, c)
        q.close()
        self.rpc.call("subsystem_allow_any_host", {"nqn": NQN2, "allow": True})
        # A listener on a new port accepts Connects; removed, it refuses this subsystem.
        addr2 = "%s:%d" % (ADDR, port2)
        self.rpc.call("listener_add", {"nqn": NQN2, "address": addr2})
        self.assertIn(addr2, self.subsystem(NQN2)["listeners"])
        a = raw.admin_queue(self.addr, port2, NQN2)
        c = a.identify(1)
        self.assertEqual(c.status, 0, c)
        self.rpc.call("listener_remove", {"nqn": NQN2, "address": "%s:%d" % (ADDR, self.port)})
        self.assertEqual(self.subsystem(NQN2)["listeners"], [addr2])
        q, c = connect(self.port)
        self.assertEqual((c.sct, c.sc), raw.SC_CONNECT_INVALID_PARAM, c)
        q.close()
        # Delete: the connected controller goes, the NQN is unknown.
        self.rpc.call("subsystem_delete", {"nqn": NQN2})
        self.assertIsNone(self.subsystem(NQN2))
        a.wait_closed(5)  # the controller of a deleted subsystem goes
        a.close()
        q, c = connect(port2)
        self.assertEqual((c.sct, c.sc), raw.SC_CONNECT_INVALID_PARAM, c)
        q.close()
        self.assert_serving()

    def test_controller_list_and_disconnect(self):
        a, q = self.pair(hdgst=True)
        ctrls = [c for c in self.rpc.call("controller_list", {"nqn": NQN})
                 if c["cntlid"] == a.cntlid]
        self.assertEqual(len(ctrls), 1)
        c = ctrls[0]
        self.assertEqual(c["hostnqn"], raw.HOSTNQN)
        self.assertTrue(c["address"].startswith(ADDR + ":"), c)
        self.assertEqual((c["io_queues"], c["queue_depth"], c["hdgst"], c["ddgst"]),
                         (1, 64, True, False))
        self.assertIs(self.rpc.call("controller_disconnect", {"cntlid": a.cntlid}), True)
        a.wait_closed(5)
        q.wait_closed(5)
        self.close_all(a, q)
        deadline = time.monotonic() + 5
        while any(x["cntlid"] == c["cntlid"] for x in self.rpc.call("controller_list")):
            self.assertLess(time.monotonic(), deadline, "controller still listed")
            time.sleep(0.05)
        err = self.error_of("controller_disconnect", {"cntlid": c["cntlid"]})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 2))
        self.assert_serving()

    def test_iostat_counts_ops_bytes_errors(self):
        def stats():
            s = self.rpc.call("iostat", {"nqn": NQN})[0]
            return {n["nsid"]: n for n in s["namespaces"]}

        before = stats()[1]
        a, q = self.pair()
        data = os.urandom(8192)
        self.assertEqual(q.write(1, 100, data).status, 0)
        self.assertEqual(q.read(1, 100, 16).status, 0)
        c = q.read(1, 64 * 2048, 1)  # past the end
        self.assertEqual((c.sct, c.sc), raw.SC_LBA_RANGE, c)
        after = stats()[1]
        self.assertEqual(after["write_ops"] - before["write_ops"], 1)
        self.assertEqual(after["bytes_written"] - before["bytes_written"], 8192)
        self.assertEqual(after["read_ops"] - before["read_ops"], 1)
        self.assertEqual(after["bytes_read"] - before["bytes_read"], 8192)
        self.assertEqual(after["errors"] - before["errors"], 1)
        self.close_all(a, q)


class TestProtocolErrors(RpcTestCase):

    def test_malformed_json_then_the_connection_still_works(self):
        for bad in (b"{bad json", b'{"jsonrpc": "2.0", "id": 1', b"\x00\xff\xfe", b"[1, 2",
                    b'{"a": 1} {"b": 2}', b"[" * 10000):
            self.rpc.send_line(bad)
            resp = self.rpc.recv_obj()
            self.assertEqual(resp["error"]["code"], -32700, (bad[:40], resp))
            self.assertIsNone(resp["id"])
        self.assertIn("version", self.rpc.call("get_version"))

    def test_invalid_requests(self):
        cases = [b"[]", b"42", b'{"jsonrpc": "2.0", "id": 1}',
                 b'{"jsonrpc": "1.0", "id": 1, "method": "get_version"}',
                 b'{"jsonrpc": "2.0", "id": {}, "method": "get_version"}',
                 b'{"jsonrpc": "2.0", "id": 1, "method": 5}']
        for line in cases:
            self.rpc.send_line(line)
            resp = self.rpc.recv_obj()
            self.assertEqual(resp["error"]["code"], -32600, (line, resp))
        # A batch: one answer per request, none for the notification.
        self.rpc.send_line(json.dumps([
            {"jsonrpc": "2.0", "id": "a", "method": "get_version"},
            {"jsonrpc": "2.0", "method": "get_version"},
            {"jsonrpc": "2.0", "id": "c", "method": "nope"}]).encode())
        resp = self.rpc.recv_obj()
        self.assertEqual([r["id"] for r in resp], ["a", "c"])
        self.assertIn("result", resp[0])
        self.assertEqual(resp[1]["error"]["code"], -32601)

    def test_unknown_method(self):
        err = self.error_of("no_such_method")
        self.assertEqual(err["code"], -32601)
        self.assertIn("no_such_method", err["message"])

    def test_bad_params_name_the_parameter(self):
        cases = [
            ("ns_add", {"nqn": NQN}, "bdev"),
            ("ns_add", {"nqn": NQN, "bdev": "ram:1M", "nsid": "7"}, "nsid"),
            ("ns_add", {"nqn": NQN, "bdev": "ram:1M", "nsid": 0}, "nsid"),
            ("ns_add", {"nqn": NQN, "bdev": "ram:1M", "nsid": 2 ** 70}, "nsid"),
            ("ns_add", {"nqn": NQN, "bdev": "ram:1M", "colour": 1}, "colour"),
            ("ns_remove", {"nqn": 5, "nsid": 1}, "nqn"),
            ("subsystem_create", {"nqn": "not-an-nqn"}, "nqn"),
            ("subsystem_create", {"nqn": NQN2, "serial_number": "x" * 21}, "serial_number"),
            ("subsystem_allow_any_host", {"nqn": NQN, "allow": 1}, "allow"),
            ("subsystem_add_host", {"nqn": NQN, "host": "bad host"}, "host"),
            ("listener_add", {"nqn": NQN, "address": "localhost"}, "address"),
            ("controller_disconnect", {"cntlid": -1}, "cntlid"),
        ]
        for method, params, name in cases:
            err = self.error_of(method, params)
            self.assertEqual(err["code"], -32602, (method, params, err))
            self.assertEqual(err["data"]["param"], name, (method, params, err))
            self.assertIn(name, err["message"] if name in ("bdev", "nsid", "colour", "allow",
                                                             "cntlid") else name)
        err = self.error_of("get_version", [1, 2])
        self.assertEqual(err["code"], -32602)
        self.assertIsNone(self.subsystem(NQN2))

    def test_huge_request_is_rejected_and_the_connection_recovers(self):
        big = b'{"jsonrpc": "2.0", "id": 1, "method": "get_version", "params": {"x": "' + \
            b"a" * (2 << 20) + b'"}}'
        self.rpc.send_line(big)
        resp = self.rpc.recv_obj()
        self.assertEqual(resp["error"]["code"], -32600)
        self.assertIn("larger than 1048576", resp["error"]["message"])
        self.assertIn("version", self.rpc.call("get_version"))
        self.assertTrue(self.tgt.wait_log("larger than 1048576 bytes was rejected"))

    def test_half_request_and_vanishing_clients_do_not_block_others(self):
        stalled = Rpc(self.sock)
        stalled.sock.sendall(b'{"jsonrpc": "2.0", "id": 1, "meth')
        gone = Rpc(self.sock)
        gone.sock.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "rpc_methods"}\n')
        gone.close()  # before reading its (large) answer
        self.assertIn("version", self.rpc.call("get_version"))
        stalled.close()
        self.assertIn("version", self.rpc.call("get_version"))


class TestReferrals(RpcTestCase):
    """Referrals to other discovery services, seen by our host's discover."""

    DISCOVERY = True
    DISC_NQN = "nqn.2014-08.org.nvmexpress.discovery"
    OTHER_DISC = "nqn.2026-01.io.fabriq.test:disc2"

    def discover(self):
        p = self.cli("discover", "-a", ADDR, "-s", str(self.tgt.dport), "--json")
        return json.loads(p.stdout)["records"]

    def referrals_seen(self):
        return sorted((r["traddr"], r["trsvcid"], r["subnqn"], r["adrfam"])
                      for r in self.discover() if r["subtype"] == "referral")

    def test_add_list_discover_remove(self):
        self.assertEqual(self.rpc.call("referral_list"), [])
        self.assertEqual(self.referrals_seen(), [])
        self.assertTrue(self.rpc.call("referral_add", {"address": "192.0.2.10:8009"}))
        self.assertTrue(self.rpc.call("referral_add", {"address": "[2001:db8::5]:4430",
                                                       "nqn": self.OTHER_DISC}))
        self.assertEqual(self.rpc.call("referral_list"), [
            {"address": "192.0.2.10:8009", "nqn": self.DISC_NQN},
            {"address": "[2001:db8::5]:4430", "nqn": self.OTHER_DISC}])
        self.assertEqual(self.referrals_seen(), [
            ("192.0.2.10", "8009", self.DISC_NQN, "ipv4"),
            ("2001:db8::5", "4430", self.OTHER_DISC, "ipv6")])
        # The subsystem entries are still there, with their own subtype.
        self.assertIn(NQN, [r["subnqn"] for r in self.discover()
                            if r["subtype"] == "nvme subsystem"])
        dump = self.rpc.call("config_dump")["config"]
        self.assertIn("[discovery]\nreferral = 192.0.2.10:8009 %s\n"
                      "referral = [2001:db8::5]:4430 %s\n" % (self.DISC_NQN, self.OTHER_DISC),
                      dump)

        err = self.error_of("referral_add", {"address": "192.0.2.10:8009"})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 17))
        self.assertTrue(self.rpc.call("referral_remove", {"address": "192.0.2.10:8009"}))
        self.assertEqual(self.referrals_seen(),
                         [("2001:db8::5", "4430", self.OTHER_DISC, "ipv6")])
        err = self.error_of("referral_remove", {"address": "192.0.2.10:8009"})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 2))
        self.assertTrue(self.rpc.call("referral_remove", {"address": "[2001:db8::5]:4430"}))
        self.assertEqual(self.referrals_seen(), [])
        self.assertEqual(self.rpc.call("referral_list"), [])

    def test_host_follows_the_referral_to_another_daemon(self):
        other_nqn = "nqn.2026-01.io.fabriq.test:behind-referral"
        other = Fabriqd(["--nqn", other_nqn, "--ns", "ram:4M", "--reactors", "1"],
                        discovery=True)
        try:
            self.rpc.call("referral_add", {"address": "%s:%d" % (ADDR, other.dport)})
            p = self.cli("discover", "-a", ADDR, "-s", str(self.tgt.dport), "--referrals",
                         "--json")
            recs = json.loads(p.stdout)["records"]
            # Our own subsystem, the referral, and what the other daemon serves, one hop away.
            self.assertIn((NQN, "nvme subsystem", 0),
                          [(r["subnqn"], r["subtype"], r["depth"]) for r in recs])
            self.assertIn((self.DISC_NQN, "referral", str(other.dport), 0),
                          [(r["subnqn"], r["subtype"], r["trsvcid"], r["depth"]) for r in recs])
            self.assertIn((other_nqn, "nvme subsystem", str(other.port), 1),
                          [(r["subnqn"], r["subtype"], r["trsvcid"], r["depth"]) for r in recs])
            self.rpc.call("referral_remove", {"address": "%s:%d" % (ADDR, other.dport)})
        finally:
            rc, reports = other.stop()
            other.cleanup()
        self.assertEqual((rc, reports), (0, []))

    def test_bad_referrals_name_the_parameter(self):
        for params, param in (({"address": "192.0.2.10"}, "address"),
                              ({"address": "disc.example:8009"}, "address"),
                              ({"address": "0.0.0.0:8009"}, "address"),
                              ({"address": "192.0.2.10:8009", "nqn": "iqn.bad"}, "nqn"),
                              ({"address": 8009}, "address"),
                              ({}, "address")):
            err = self.error_of("referral_add", params)
            self.assertEqual((err["code"], err["data"]["param"]), (-32602, param), params)
        err = self.error_of("referral_remove", {"address": "nowhere"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "address"))
        self.assertEqual(self.rpc.call("referral_list"), [])


class TestBdevKnobs(RpcTestCase):
    """Stacked layers' parameters changed while a host reads (lower bounds only)."""

    STACK = "delay:read_us=0,write_us=0+qos:read_iops=0+ram:1M"
    NSID = 5

    def setUp(self):
        super().setUp()
        self.assertEqual(self.rpc.call("ns_add", {"nqn": NQN, "bdev": self.STACK,
                                                  "nsid": self.NSID}), self.NSID)
        self.a, self.q = self.pair()

    def tearDown(self):
        self.close_all(self.a, self.q)
        self.rpc.call("ns_remove", {"nqn": NQN, "nsid": self.NSID})
        super().tearDown()

    def layers(self):
        b = next(b for b in self.rpc.call("bdev_list", {"nqn": NQN}) if b["nsid"] == self.NSID)
        return [(l["module"], l.get("params")) for l in b["stack"]]

    def timed_read(self):
        t0 = time.monotonic()
        c = self.q.read(self.NSID, 0, 8)
        self.assertEqual(c.status, 0)
        return time.monotonic() - t0

    def set(self, module, params, **kw):
        p = {"nqn": NQN, "nsid": self.NSID, "module": module, "params": params}
        p.update(kw)
        return self.rpc.request("bdev_set_params", p)

    def test_delay_raised_live_makes_reads_slower(self):
        qos0 = "read_iops=0,write_iops=0,read_bps=0,write_bps=0,burst_ms=100,max_held=4096"
        self.assertEqual(self.layers(), [("delay", "read_us=0,write_us=0"), ("qos", qos0),
                                         ("ram", None)])
        self.timed_read()
        self.assertEqual(self.set("delay", {"read_us": 150000})["result"], True)
        self.assertEqual(self.layers()[0], ("delay", "read_us=150000,write_us=0"))
        for _ in range(3):
            self.assertGreaterEqual(self.timed_read(), 0.15)
        # Writes were left alone, and the new value is what a restart would use.
        self.assertEqual(self.q.write(self.NSID, 0, os.urandom(4096)).status, 0)
        dump = self.rpc.call("config_dump")["config"]
        # Only the layer that changed is rewritten in the namespace's spec.
        self.assertIn("namespace = delay:read_us=150000,write_us=0+qos:read_iops=0+ram:1M,"
                      "nsid=%d\n" % self.NSID, dump)

    def test_qos_limit_set_live(self):
        self.assertEqual(self.set("qos", {"read_iops": 10, "burst_ms": "1"})["result"], True)
        t0 = time.monotonic()
        for _ in range(6):
            self.timed_read()
        # Six reads at ten per second: at least half a second.
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)
        self.assertIn("read_iops=10,", self.layers()[1][1])

    def test_qos_suspend_holds_io_until_resume(self):
        self.assertTrue(self.rpc.call("bdev_qos_suspend", {"nqn": NQN, "nsid": self.NSID}))
        err = self.error_of("bdev_qos_suspend", {"nqn": NQN, "nsid": self.NSID})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 114))
        done = {}
        t = threading.Thread(target=lambda: done.setdefault("c", self.q.read(self.NSID, 0, 8)))
        t.start()
        t.join(0.5)
        self.assertNotIn("c", done, "a read completed while its namespace was suspended")
        self.assertTrue(self.rpc.call("bdev_qos_resume", {"nqn": NQN, "nsid": self.NSID}))
        t.join(30)
        self.assertEqual(done["c"].status, 0)
        err = self.error_of("bdev_qos_resume", {"nqn": NQN, "nsid": self.NSID})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 114))
        err = self.error_of("bdev_qos_resume", {"nqn": NQN, "nsid": self.NSID, "mode": "later"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "mode"))

    def test_error_rule_moved_live(self):
        self.assertEqual(self.rpc.call("ns_add", {"nqn": NQN, "nsid": 6,
                                                  "bdev": "error:op=write,lba=1000+ram:1M"}), 6)
        try:
            self.assertEqual(self.q.read(6, 40, 8).status, 0)
            self.assertTrue(self.rpc.call("bdev_set_params", {
                "nqn": NQN, "nsid": 6, "module": "error",
                "params": {"op": "read", "lba": "40-47", "sct": 2, "sc": "0x81"}}))
            c = self.q.read(6, 40, 8)
            self.assertEqual(c.code, (2, 0x81), c)
            self.assertEqual(self.q.read(6, 48, 8).status, 0)
            self.assertEqual(self.q.write(6, 40, os.urandom(4096)).status, 0)
            b = next(b for b in self.rpc.call("bdev_list", {"nqn": NQN}) if b["nsid"] == 6)
            self.assertEqual(b["stack"][0]["params"],
                             "op=read,action=fail,lba=40-47,count=0,sct=2,sc=129,dnr=0")
        finally:
            self.rpc.call("ns_remove", {"nqn": NQN, "nsid": 6})

    def test_bad_requests(self):
        for params, kw, param in (({"speed": 1}, {}, "params"),
                                  ({"read_us": 999999999999}, {}, "params"),
                                  ({"read_us": True}, {}, "params"),
                                  ({}, {}, "params"),
                                  ({"read_us": "1,write_us=2"}, {}, "params"),
                                  ({"read_us": 1}, {"index": 9}, "index"),
                                  ("read_us=1", {}, "params")):
            r = self.set("delay", params, **kw)
            self.assertEqual((r["error"]["code"], r["error"]["data"]["param"]), (-32602, param),
                             (params, kw))
        for module, kw, errno in (("error", {}, 2), ("delay", {"index": 1}, 2),
                                  ("ram", {}, 95)):
            r = self.set(module, {"read_us": 1}, **kw)
            self.assertEqual((r["error"]["code"], r["error"]["data"]["errno"]), (-32000, errno),
                             module)
        r = self.rpc.request("bdev_set_params", {"nqn": NQN, "nsid": 77, "module": "delay",
                                                 "params": {"read_us": 1}})
        self.assertEqual((r["error"]["code"], r["error"]["data"]["errno"]), (-32000, 2))
        # Nothing changed.
        self.assertEqual(self.layers()[0], ("delay", "read_us=0,write_us=0"))


class TestNamedBdevs(RpcTestCase):
    """Named bdevs: made on their own, lent to one namespace at a time, data kept."""

    def named(self):
        return {b["name"]: b for b in self.rpc.call("bdev_list") if b.get("named")}

    def test_create_use_move_delete(self):
        self.assertTrue(self.rpc.call("bdev_create", {"name": "b2",
                                                      "bdev": "delay:read_us=0+ram:1M"}))
        b = self.named()["b2"]
        self.assertEqual((b["spec"], b["nqn"], b["nsid"], b["num_blocks"], b["block_size"]),
                         ("delay:read_us=0+ram:1M", None, None, 2048, 512))
        self.assertEqual(self.rpc.call("ns_add", {"nqn": NQN, "bdev": "bdev:b2", "nsid": 7}), 7)
        self.assertEqual((self.named()["b2"]["nqn"], self.named()["b2"]["nsid"]), (NQN, 7))
        a, q = self.pair()
        data = os.urandom(4096)
        self.assertEqual(q.write(7, 16, data).status, 0)
        # One namespace at a time; a used bdev cannot go.
        err = self.error_of("ns_add", {"nqn": NQN, "bdev": "bdev:b2", "nsid": 8})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "bdev"))
        self.assertIn("is used by namespace 7", err["message"])
        err = self.error_of("bdev_delete", {"name": "b2"})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 16))
        # Its knobs are turned through the namespace, and recorded in its own spec.
        self.assertTrue(self.rpc.call("bdev_set_params", {
            "nqn": NQN, "nsid": 7, "module": "delay", "params": {"write_us": 3}}))
        self.assertEqual(self.named()["b2"]["spec"], "delay:read_us=0,write_us=3+ram:1M")
        dump = self.rpc.call("config_dump")["config"]
        self.assertIn('[bdev "b2"]\nspec = delay:read_us=0,write_us=3+ram:1M\n', dump)
        self.assertIn("namespace = bdev:b2,nsid=7\n", dump)
        # Moved to another namespace, the data comes along.
        self.assertTrue(self.rpc.call("ns_remove", {"nqn": NQN, "nsid": 7}))
        self.assertEqual(self.named()["b2"]["nqn"], None)
        self.assertEqual(self.rpc.call("ns_add", {"nqn": NQN, "bdev": "bdev:b2", "nsid": 8}), 8)
        c = q.read(8, 16, 8)
        self.assertEqual((c.status, c.data), (0, data))
        self.close_all(a, q)
        self.assertTrue(self.rpc.call("ns_remove", {"nqn": NQN, "nsid": 8}))
        self.assertTrue(self.rpc.call("bdev_delete", {"name": "b2"}))
        self.assertNotIn("b2", self.named())
        # The name is free again at once (the old bdev closes at exit).
        self.assertTrue(self.rpc.call("bdev_create", {"name": "b2", "bdev": "null:2M,bs=4096"}))
        self.assertEqual(self.named()["b2"]["num_blocks"], 512)
        self.assertTrue(self.rpc.call("bdev_delete", {"name": "b2"}))
        self.assertEqual(self.named(), {})

    def test_bad_requests(self):
        for params, param in (({"name": "a b", "bdev": "ram:1M"}, "name"),
                              ({"name": "x" * 32, "bdev": "ram:1M"}, "name"),
                              ({"name": "b", "bdev": "ram:1M,nsid=3"}, "bdev"),
                              ({"name": "b", "bdev": "bdev:c"}, "bdev"),
                              ({"name": "b", "bdev": "tape:1M"}, "bdev")):
            err = self.error_of("bdev_create", params)
            self.assertEqual((err["code"], err["data"]["param"]), (-32602, param), params)
        self.assertTrue(self.rpc.call("bdev_create", {"name": "b", "bdev": "ram:1M"}))
        err = self.error_of("bdev_create", {"name": "b", "bdev": "ram:1M"})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 17))
        err = self.error_of("ns_add", {"nqn": NQN, "bdev": "bdev:nope"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "bdev"))
        self.assertIn("no bdev named 'nope'", err["message"])
        err = self.error_of("ns_add", {"nqn": NQN, "bdev": "delay:read_us=1+bdev:b"})
        self.assertEqual((err["code"], err["data"]["param"]), (-32602, "bdev"))
        err = self.error_of("bdev_delete", {"name": "nope"})
        self.assertEqual((err["code"], err["data"]["errno"]), (-32000, 2))
        self.assertTrue(self.rpc.call("bdev_delete", {"name": "b"}))


class TestConcurrency(RpcTestCase):

    def test_100_clients_while_io_runs(self):
        a, q = self.pair()
        stop = threading.Event()
        io = {"ops": 0, "errors": []}

        def io_loop():
            data = os.urandom(4096)
            try:
                while not stop.is_set():
                    slba = 8 * (io["ops"] % 1000)
                    c = q.write(1, slba, data)
                    if c.status:
                        io["errors"].append(c)
                    c = q.read(1, slba, 8)
                    if c.status or c.data != data:
                        io["errors"].append(c)
                    io["ops"] += 2
            except Exception as e:  # noqa: BLE001 - any failure counts
                io["errors"].append(e)

        failures = []

        def client(i):
            try:
                r = Rpc(self.sock)
                for _ in range(10):
                    if [s["nqn"] for s in r.call("subsystem_list")] != [NQN]:
                        failures.append("bad subsystem_list")
                    r.call("controller_list")
                    r.call("iostat")
                if i % 10 == 0:  # some leave half a request behind
                    r.sock.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "get_')
                r.close()
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

        t = threading.Thread(target=io_loop)
        t.start()
        time.sleep(0.2)
        ops_before = io["ops"]
        clients = [threading.Thread(target=client, args=(i,)) for i in range(100)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(120)
        ops_during = io["ops"] - ops_before
        stop.set()
        t.join(30)
        self.assertEqual(failures, [])
        self.assertEqual(io["errors"], [])
        self.assertGreater(ops_during, 0, "I/O stalled while the clients ran")
        self.assert_healthy((a, q))
        self.close_all(a, q)
        self.assert_serving()


class TestNamespaceChurn(RpcTestCase):

    CYCLES = 1000

    def test_add_remove_while_reading_every_change_announced(self):
        """2,000 namespace changes while another namespace serves reads."""
        a, q = self.pair()
        self.assertEqual(a.set_features(FEAT_ASYNC_EVENT_CFG, AEC_NS_ATTR).status, 0)
        data = os.urandom(4096)
        self.assertEqual(q.write(1, 0, data).status, 0)
        stop = threading.Event()
        io = {"ops": 0, "errors": []}

        def reader():
            try:
                while not stop.is_set():
                    c = q.read(1, 0, 8)
                    if c.status or c.data != data:
                        io["errors"].append(c)
                    io["ops"] += 1
            except Exception as e:  # noqa: BLE001 - any failure counts
                io["errors"].append(e)

        t = threading.Thread(target=reader)
        t.start()
        seen = []
        try:
            for i in range(self.CYCLES):
                for method, params in (("ns_add", {"nqn": NQN, "bdev": "null:1M", "nsid": 9}),
                                       ("ns_remove", {"nqn": NQN, "nsid": 9})):
                    aer = a.submit(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
                    self.rpc.call(method, params)
                    c = a.wait(aer)
                    self.assertEqual((c.status, c.dw0), (0, AEN_NS_CHANGED), (i, method))
                    c = a.get_log(0x04, 4096)
                    self.assertEqual(c.status, 0)
                    seen.append(int.from_bytes(c.data[0:4], "little"))
        finally:
            stop.set()
            t.join(30)
        self.assertEqual(seen, [9] * (2 * self.CYCLES))
        self.assertEqual(io["errors"], [])
        self.assertGreater(io["ops"], 0)
        self.close_all(a, q)


class TestSocket(unittest.TestCase):

    ARGS = ["--nqn", NQN, "--ns", "ram:8M", "--reactors", "1"]

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="fq-rpc-")
        self.sock = os.path.join(self.dir.name, "fabriqd.sock")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            rc, reports = d.stop()
            d.cleanup()
            self.assertEqual((rc, reports), (0, []))
        self.dir.cleanup()

    def start(self, extra):
        d = Fabriqd(self.ARGS + extra)
        self.daemons.append(d)
        return d

    def run_daemon(self, extra):
        """A fabriqd expected to fail at start: (status, stderr)."""
        p = subprocess.run([os.environ["FABRIQD"], "--listen", "%s:%d" % (ADDR, free_port())] +
                           self.ARGS + extra, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr

    def test_mode_0600_and_removed_at_exit(self):
        d = self.start(["--rpc-socket", self.sock])
        st = os.lstat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.getuid())
        self.daemons.remove(d)
        self.assertEqual(d.stop(), (0, []))
        d.cleanup()
        self.assertFalse(os.path.exists(self.sock))

    def test_live_socket_refused(self):
        self.start(["--rpc-socket", self.sock])
        rc, err = self.run_daemon(["--rpc-socket", self.sock])
        self.assertNotEqual(rc, 0)
        self.assertIn("another process is listening", err)
        r = Rpc(self.sock)  # the first daemon still owns it
        self.assertIn("version", r.call("get_version"))
        r.close()

    def test_stale_socket_replaced(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)
        s.close()  # the file stays, nobody listens: a daemon that died
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.sock).st_mode))
        d = self.start(["--rpc-socket", self.sock])
        r = Rpc(self.sock)
        self.assertIn("version", r.call("get_version"))
        r.close()
        self.assertTrue(d.wait_log("replacing a stale socket file"))

    def test_other_file_left_alone(self):
        with open(self.sock, "w") as f:
            f.write("not a socket")
        rc, err = self.run_daemon(["--rpc-socket", self.sock])
        self.assertNotEqual(rc, 0)
        self.assertIn("not a socket", err)
        with open(self.sock) as f:
            self.assertEqual(f.read(), "not a socket")

    def test_ini_rpc_section(self):
        ini = ("[port \"io\"]\naddress = {addr}\nport = {port}\n"
               "[subsystem \"" + NQN + "\"]\nnamespace = ram:8M\n"
               "[rpc]\nsocket = {tmp}/ini.sock\n")
        d = Fabriqd(ini=ini)
        self.daemons.append(d)
        r = Rpc(os.path.join(d.tmp.name, "ini.sock"))
        self.assertEqual([s["nqn"] for s in r.call("subsystem_list")], [NQN])
        # SIGHUP sets the file's subsystems to what the file says (docs/rpc.md);
        # a subsystem made over the socket is left alone.
        self.assertEqual(r.call("ns_add", {"nqn": NQN, "bdev": "ram:1M"}), 2)
        r.call("subsystem_create", {"nqn": NQN2})
        r.call("ns_add", {"nqn": NQN2, "bdev": "ram:1M"})
        d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(d.wait_log("reload: 1 namespace change(s) applied"))
        subs = {s["nqn"]: [n["nsid"] for n in s["namespaces"]] for s in r.call("subsystem_list")}
        self.assertEqual(subs, {NQN: [1], NQN2: [1]})
        r.close()


class TestCli(RpcTestCase):

    def test_rpc_command(self):
        S = ["-S", self.sock]
        out = self.cli("rpc", *S, "--list").stdout.splitlines()
        self.assertIn("ns_add", [ln.split()[0] for ln in out])
        self.assertEqual(len(out), len(TestMethods.EXPECTED))
        v = json.loads(self.cli("rpc", *S, "get_version").stdout)
        self.assertIn("version", v)
        p = self.cli("rpc", *S, "ns_add", '{"nqn": "%s"}' % NQN, check=False)
        self.assertEqual(p.returncode, 6)
        self.assertIn("missing parameter 'bdev'", p.stderr)
        self.assertEqual(p.stdout, "")
        p = self.cli("rpc", "-S", self.sock + ".none", "get_version", check=False)
        self.assertEqual(p.returncode, 3)
        p = self.cli("rpc", *S, "get_version", "[1]", check=False)
        self.assertEqual(p.returncode, 2)

    def test_bdev_and_referral_verbs(self):
        S = ["-S", self.sock]
        p = self.cli("bdev", "create", "cli1", "delay:read_us=0+ram:2M", *S)
        self.assertIn("create: done", p.stdout)
        self.cli("subsystem", "add-ns", NQN, "bdev:cli1", "--nsid", "9", *S)
        self.cli("bdev", "set", NQN, "9", "delay", "read_us=40,write_us=2", *S)
        text = self.cli("bdev", "list", *S).stdout
        self.assertIn("%s namespace 9: 2 MiB\n  delay read_us=40,write_us=2\n  ram\n" % NQN,
                      text)
        self.assertIn("bdev cli1: delay:read_us=40,write_us=2+ram:2M, 2 MiB, namespace 9 of %s"
                      % NQN, text)
        p = self.cli("bdev", "set", NQN, "9", "delay", "read_us", *S, check=False)
        self.assertEqual(p.returncode, 2)
        p = self.cli("bdev", "set", NQN, "9", "qos", "read_iops=1", *S, check=False)
        self.assertEqual(p.returncode, 6)
        self.assertIn("no 'qos' layer", p.stderr)
        p = self.cli("bdev", "delete", "cli1", *S, check=False)
        self.assertEqual(p.returncode, 6)
        self.cli("subsystem", "remove-ns", NQN, "9", *S)
        self.cli("bdev", "delete", "cli1", *S)
        self.assertEqual([b for b in json.loads(self.cli("bdev", "list", "--json", *S).stdout)
                          if b.get("named")], [])
        p = self.cli("bdev", "qos-resume", NQN, "1", "--mode", "later", *S, check=False)
        self.assertEqual(p.returncode, 6)
        self.cli("referral", "add", "192.0.2.7:8009", *S)
        self.cli("referral", "add", "192.0.2.8:8009", "nqn.2026-01.io.fabriq.test:d", *S)
        self.assertEqual(self.cli("referral", "list", *S).stdout,
                         "192.0.2.7:8009 nqn.2014-08.org.nvmexpress.discovery\n"
                         "192.0.2.8:8009 nqn.2026-01.io.fabriq.test:d\n")
        self.cli("referral", "remove", "192.0.2.7:8009", *S)
        self.cli("referral", "remove", "192.0.2.8:8009", *S)
        self.assertEqual(json.loads(self.cli("referral", "list", "--json", *S).stdout), [])
        p = self.cli("referral", "add", *S, check=False)
        self.assertEqual(p.returncode, 2)

    def test_subsystem_verbs(self):
        S = ["-S", self.sock]
        nqn = "nqn.2026-01.io.fabriq.test:cli"
        self.cli("subsystem", "create", nqn, "--serial", "CLI1", *S)
        p = self.cli("subsystem", "add-ns", nqn, "ram:2M", "--nsid", "4", *S)
        self.assertIn("namespace 4 added", p.stdout)
        self.cli("subsystem", "add-host", nqn, raw.HOSTNQN, *S)
        port2 = free_port()
        self.cli("subsystem", "add-listener", nqn, "%s:%d" % (ADDR, port2), *S)
        text = self.cli("subsystem", "list", nqn, *S).stdout
        self.assertIn("serial CLI1", text)
        self.assertIn("ns 4: ram, 4096 blocks of 512 bytes (2 MiB)", text)
        self.assertIn(raw.HOSTNQN, text)
        s = json.loads(self.cli("subsystem", "list", nqn, "--json", *S).stdout)[0]
        self.assertEqual(s["listeners"], ["%s:%d" % (ADDR, self.port), "%s:%d" % (ADDR, port2)])
        # Reached through the new listener with the fabriq host.
        out = self.cli("list", "-a", ADDR, "-s", str(port2), "-n", nqn, "--json").stdout
        self.assertEqual([n["nsid"] for n in json.loads(out)["namespaces"]], [4])
        self.cli("subsystem", "remove-listener", nqn, "%s:%d" % (ADDR, port2), *S)
        self.cli("subsystem", "remove-host", nqn, raw.HOSTNQN, *S)
        self.cli("subsystem", "remove-ns", nqn, "4", *S)
        s = json.loads(self.cli("subsystem", "list", nqn, "--json", *S).stdout)[0]
        self.assertEqual((s["hosts"], s["namespaces"]), ([], []))
        self.cli("subsystem", "delete", nqn, *S)
        p = self.cli("subsystem", "delete", nqn, *S, check=False)
        self.assertEqual(p.returncode, 6)
        self.assertIn("no subsystem", p.stderr)
        p = self.cli("subsystem", "frobnicate", check=False)
        self.assertEqual(p.returncode, 2)
        p = self.cli("subsystem", "remove-ns", nqn, "x", *S, check=False)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()

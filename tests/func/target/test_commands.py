# SPDX-License-Identifier: MIT
"""Command handling that is not fatal to the connection: Fabrics, admin and
I/O commands, their status codes, data round trips with and without digests,
in-capsule and R2T writes, C2HData with and without SUCCESS, log pages and
the discovery controller.
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nvmeof_raw as raw  # noqa: E402
from fabriqd_proc import TargetTestCase  # noqa: E402

LOCKED_NQN = "nqn.2026-01.io.fabriq.test:locked"
ALLOWED_HOST = "nqn.2026-01.io.fabriq.test:host-allowed"

INI = """
[target]
reactors = 1
max_io_queues = 64
log_level = info

[port "io"]
address = {addr}
port = {port}

[port "disc"]
address = {addr}
port = {dport}
discovery_only = yes

[subsystem "nqn.2026-01.io.fabriq.test:sub1"]
namespace = ram:64M
namespace = ram:32M,bs=4096
namespace = file:{tmp}/ns3.img:16M

[subsystem "nqn.2026-01.io.fabriq.test:locked"]
allow_host = nqn.2026-01.io.fabriq.test:host-allowed
namespace = ram:16M
"""

NS1_BLOCKS = 64 * 1024 * 1024 // 512


class CommandTest(TargetTestCase):
    INI = INI

    def setUp(self):
        self.opened = []

    def tearDown(self):
        self.close_all(*self.opened)

    def keep(self, *qs):
        self.opened.extend(qs)
        return qs[0] if len(qs) == 1 else qs

    def io_pair(self, **kw):
        return self.keep(*self.pair(**kw))

    # -- Fabrics --

    def test_admin_commands_before_enable(self):
        a = self.keep(self.admin(enable=False))
        c = a.identify(1)
        self.assertEqual(c.code, raw.SC_CMD_SEQ_ERROR, c)
        self.assertEqual(a.keep_alive().code, raw.SC_CMD_SEQ_ERROR)
        # I/O Connect to a controller that is not ready is refused too.
        q = self.keep(raw.Queue(self.addr, self.port))
        c = q.connect(self.NQN, qid=1, cntlid=a.cntlid, sqsize=31)
        self.assertEqual(c.code, raw.SC_CMD_SEQ_ERROR, c)
        a.enable()
        self.assertEqual(a.identify(1).status, 0)

    def test_io_commands_after_disable(self):
        a, q = self.io_pair()
        self.assertEqual(q.read(1, 0, 1).status, 0)
        self.assertEqual(a.prop_set(raw.PROP_CC, 0).status, 0)
        self.assertEqual(a.prop_get(raw.PROP_CSTS).value & 1, 0)
        self.assertEqual(q.read(1, 0, 1).code, raw.SC_CMD_SEQ_ERROR)

    def test_connect_unknown_subsystem(self):
        q = self.keep(raw.Queue(self.addr, self.port))
        c = q.connect("nqn.2026-01.io.fabriq.test:nope")
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertTrue(c.dnr)
        # IPO 256 (SUBNQN in the Connect data), IATTR 1 (in the data).
        self.assertEqual(c.dw0, 256 | (1 << 16))
        # The queue stays usable for a correct Connect.
        self.assertEqual(q.connect(self.NQN).status, 0)

    def test_connect_host_not_allowed(self):
        q = self.keep(raw.Queue(self.addr, self.port))
        c = q.connect(LOCKED_NQN)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_HOST, c)
        self.assertTrue(c.dnr)
        c = q.connect(LOCKED_NQN, hostnqn=ALLOWED_HOST)
        self.assertEqual(c.status, 0, c)

    def test_io_connect_bad_cntlid(self):
        a = self.keep(self.admin())
        q = self.keep(raw.Queue(self.addr, self.port))
        c = q.connect(self.NQN, qid=1, cntlid=(a.cntlid + 777) % 0xFFEF, sqsize=31)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertEqual(c.dw0, 16 | (1 << 16))  # CNTLID in the data
        # Right cntlid, wrong host NQN: also no such controller.
        c = q.connect(self.NQN, qid=1, cntlid=a.cntlid, sqsize=31, hostnqn=ALLOWED_HOST)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        c = q.connect(self.NQN, qid=1, cntlid=a.cntlid, sqsize=31)
        self.assertEqual(c.status, 0, c)

    def test_io_connect_qid_above_granted(self):
        a = self.keep(self.admin())
        self.assertEqual(a.set_features(0x07, 0).status, 0)  # one I/O queue
        q = self.keep(raw.Queue(self.addr, self.port))
        c = q.connect(self.NQN, qid=2, cntlid=a.cntlid, sqsize=31)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertEqual(c.dw0, 42)  # QID in the command
        q2 = self.keep(raw.io_queue(self.addr, self.port, self.NQN, a.cntlid, qid=1))
        # The same qid twice is refused.
        c = q.connect(self.NQN, qid=1, cntlid=a.cntlid, sqsize=31)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertEqual(q2.read(1, 0, 1).status, 0)

    def test_property_get(self):
        a = self.keep(self.admin())
        cap = a.prop_get(raw.PROP_CAP, size8=True)
        self.assertEqual(cap.status, 0)
        self.assertEqual(cap.value & 0xFFFF, 127)  # MQES: 128 entries
        self.assertTrue(cap.value & (1 << 16))  # CQR
        self.assertGreater((cap.value >> 24) & 0xFF, 0)  # TO
        self.assertTrue(cap.value & (1 << 37))  # CSS: NVM command set
        vs = a.prop_get(raw.PROP_VS)
        self.assertEqual(vs.value, 0x00010300)
        csts = a.prop_get(raw.PROP_CSTS)
        self.assertEqual(csts.value & 0x3, 1)  # RDY, no CFS
        self.assertEqual(a.prop_get(raw.PROP_CC).value, raw.CC_ENABLE)
        self.assertEqual(a.prop_get(0x40).code, raw.SC_INVALID_FIELD)

    def test_shutdown_sequence(self):
        a = self.keep(self.admin())
        self.assertEqual(a.prop_set(raw.PROP_CC, raw.CC_ENABLE | (1 << 14)).status, 0)
        self.assertEqual(a.prop_get(raw.PROP_CSTS).value & 0xC, 0x8)  # SHST complete

    def test_disconnect_closes_queue(self):
        a, q = self.io_pair()
        c = q.disconnect()
        self.assertEqual(c.status, 0, c)
        q.wait_closed()
        self.assertEqual(a.identify(1).status, 0)
        c = a.disconnect()
        self.assertEqual(c.status, 0, c)
        a.wait_closed()

    def test_admin_disconnect_closes_io_queues(self):
        a, q = self.io_pair()
        self.assertEqual(a.disconnect().status, 0)
        a.wait_closed()
        q.wait_closed(timeout=3)

    def test_commands_before_connect(self):
        q = self.keep(raw.Queue(self.addr, self.port))
        self.assertEqual(q.identify(1).code, raw.SC_CMD_SEQ_ERROR)
        self.assertEqual(q.prop_get(raw.PROP_CAP).code, raw.SC_CMD_SEQ_ERROR)
        self.assertEqual(q.disconnect().code, raw.SC_CMD_SEQ_ERROR)
        self.assertEqual(q.connect(self.NQN).status, 0)
        self.assertEqual(q.connect(self.NQN).code, raw.SC_CMD_SEQ_ERROR)  # twice

    def test_connect_data_by_r2t(self):
        # Connect data may also come by R2T + H2CData (a transport SGL).
        q = self.keep(raw.Queue(self.addr, self.port))
        d = raw.connect_data(self.NQN)
        c = q.run(lambda cid, dp: raw.fabrics_sqe(raw.FCTYPE_CONNECT, cid,
                                                  struct.pack("<HHHBxI", 0, 0, 31, 0, 0),
                                                  dp), d, incapsule=False)
        self.assertEqual(c.status, 0, c)

    def test_host_termreq_closes_quietly(self):
        a, q = self.io_pair()
        q.send(raw.ch(raw.H2C_TERM, 0, 24, 0, 24 + 8) +
               struct.pack("<HI10x", raw.FES_INVALID_HEADER, 0) + bytes(8))
        q.wait_closed()
        self.assertEqual(a.identify(1).status, 0)

    def test_incapsule_length_mismatch(self):
        _, q = self.io_pair(ddgst=True)
        for sgl_len, n in ((4096, 2048), (1024, 2048)):
            cid = q.cid()
            cmd = q.rw_cmd(raw.IO_WRITE, 1, 0, 4)(cid, raw.sgl(raw.SGL_INCAPSULE, sgl_len))
            q.send(q.capsule(cmd, bytes(n)))
            c = q.wait(cid)
            self.assertEqual(c.code, (0, 0x0F), c)  # SGL Data Block invalid
        # In-capsule data on a read.
        cid = q.cid()
        cmd = q.rw_cmd(raw.IO_READ, 1, 0, 1)(cid, raw.sgl(raw.SGL_INCAPSULE, 512))
        q.send(q.capsule(cmd, bytes(512)))
        self.assertNotEqual(q.wait(cid).status, 0)
        self.roundtrip(q, 1, 0, os.urandom(2048))

    def test_async_event_request_held_and_aborted(self):
        a = self.keep(self.admin())
        aer = a.submit(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
        self.assertEqual(a.identify(1).status, 0)  # the AER is held, not answered
        self.assertNotIn(aer, a.done)
        c = a.admin(raw.ADM_ABORT, cdw10=(aer << 16) | 0)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.dw0 & 1, 0)  # aborted
        c = a.wait(aer)
        self.assertEqual(c.code, (0, 0x07), c)
        # Held AERs of a closing controller are dropped without trouble.
        for _ in range(4):
            a.submit(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
        c = a.run(lambda cid, dp: raw.sqe(raw.ADM_ASYNC_EVENT, cid, dptr=dp))
        self.assertEqual(c.code, (1, 0x05), c)  # Asynchronous Event Request Limit
        a.close(rst=True)
        self.assert_serving()

    # -- admin --

    def test_identify(self):
        a = self.keep(self.admin())
        c = a.identify(1)
        self.assertEqual(c.status, 0, c)
        d = c.data
        self.assertEqual(d[77], 5)  # MDTS: 128 KiB in 4 KiB units
        self.assertEqual(struct.unpack_from("<H", d, 78)[0], a.cntlid)
        self.assertEqual(struct.unpack_from("<I", d, 80)[0], 0x00010300)
        self.assertEqual(d[111], 1)  # CNTRLTYPE: I/O controller
        self.assertGreaterEqual(struct.unpack_from("<I", d, 516)[0], 3)  # NN
        self.assertEqual(d[768:768 + len(self.NQN)].decode(), self.NQN)
        self.assertEqual(struct.unpack_from("<I", d, 1792)[0], (64 + 8192) // 16)  # IOCCSZ
        c = a.identify(0, nsid=2)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(struct.unpack_from("<Q", c.data, 0)[0], 32 * 1024 * 1024 // 4096)
        self.assertEqual(c.data[128 + 2], 12)  # LBAF0 LBADS: 4 KiB
        c = a.identify(2)
        self.assertEqual(struct.unpack_from("<4I", c.data, 0), (1, 2, 3, 0))
        c = a.identify(3, nsid=1)
        self.assertEqual(c.status, 0, c)
        # NGUID (type 2), UUID (type 3) and CSI (type 4) descriptors.
        self.assertEqual(c.data[0:2], bytes([2, 16]))
        self.assertEqual(c.data[20:22], bytes([3, 16]))
        self.assertEqual(c.data[40:43], bytes([4, 1, 0]))
        # An inactive NSID reads as zeroes; one above NN is invalid.
        nn = struct.unpack_from("<I", d, 516)[0]
        c = a.identify(0, nsid=nn)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.data, bytes(4096))
        self.assertEqual(a.identify(0, nsid=nn + 1).code, raw.SC_INVALID_NS)
        self.assertEqual(a.identify(3, nsid=nn).code, raw.SC_INVALID_NS)

    def test_invalid_opcode(self):
        a, q = self.io_pair()
        self.assertEqual(a.admin(0xC1).code, raw.SC_INVALID_OPCODE)
        c = q.run(lambda cid, dp: raw.sqe(0x8E, cid, 1, dptr=dp))
        self.assertEqual(c.code, raw.SC_INVALID_OPCODE, c)
        self.assertTrue(c.dnr)

    def test_set_features_number_of_queues(self):
        a = self.keep(self.admin())
        c = a.set_features(0x07, 99 | (99 << 16))  # ask for 100
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.dw0, 63 | (63 << 16))  # granted the maximum, 64
        c = a.set_features(0x07, 1 | (4 << 16))  # 2 SQs, 5 CQs
        self.assertEqual(c.dw0, 1 | (1 << 16))
        c = a.admin(raw.ADM_GET_FEATURES, cdw10=0x07)
        self.assertEqual(c.dw0, 1 | (1 << 16))

    def test_keep_alive(self):
        a = self.keep(self.admin(kato=30000))
        for _ in range(3):
            self.assertEqual(a.keep_alive().status, 0)
        self.assertEqual(a.admin(raw.ADM_GET_FEATURES, cdw10=0x0F).dw0, 30000)

    def test_log_pages(self):
        a, q = self.io_pair()
        self.assertEqual(q.write(1, 0, bytes(4096)).status, 0)
        c = a.get_log(0x02, 512)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(len(c.data), 512)
        self.assertGreater(int.from_bytes(c.data[80:96], "little"), 0)  # host writes
        self.assertEqual(c.data[3], 100)  # available spare
        c = a.get_log(0x01, 64)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(len(c.data), 64)
        c = a.get_log(0x04, 4096)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.data, bytes(4096))  # no namespace changed
        c = a.get_log(0x05, 4096)
        self.assertEqual(c.status, 0, c)
        acs = struct.unpack_from("<256I", c.data, 0)
        iocs = struct.unpack_from("<256I", c.data, 1024)
        self.assertTrue(acs[raw.ADM_IDENTIFY] & 1)
        self.assertEqual(iocs[raw.IO_WRITE] & 3, 3)  # CSUPP and LBCC
        self.assertTrue(iocs[raw.IO_READ] & 1)
        # Part of a page, at an offset.
        c = a.get_log(0x05, 512, offset=1024)
        self.assertEqual(c.data, struct.pack("<128I", *iocs[:128]))
        c = a.get_log(0x70, 1024)  # discovery log on an I/O controller
        self.assertEqual(c.code, (1, 0x09), c)

    # -- I/O --

    def roundtrip(self, q, nsid, slba, data, bs=512, **kw):
        c = q.write(nsid, slba, data, bs=bs, **kw)
        self.assertEqual(c.status, 0, c)
        c = q.read(nsid, slba, len(data) // bs, bs=bs)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(len(c.data), len(data))
        self.assertTrue(c.data == data, "read back differs (%d bytes)" % len(data))
        return c

    def rw_sizes(self, hdgst=False, ddgst=False):
        _, q = self.io_pair(hdgst=hdgst, ddgst=ddgst)
        for n in (512, 4096, 8192):
            self.roundtrip(q, 1, 1000, os.urandom(n), incapsule=True)
        for n in (8704, 65536, 131072):
            self.roundtrip(q, 1, 2000, os.urandom(n), incapsule=False)
        self.roundtrip(q, 2, 10, os.urandom(8192), bs=4096)
        self.roundtrip(q, 2, 20, os.urandom(131072), bs=4096)
        self.roundtrip(q, 3, 30, os.urandom(65536))

    def test_rw_roundtrip(self):
        self.rw_sizes()

    def test_rw_roundtrip_header_digest(self):
        self.rw_sizes(hdgst=True)

    def test_rw_roundtrip_data_digest(self):
        self.rw_sizes(ddgst=True)

    def test_rw_roundtrip_both_digests(self):
        self.rw_sizes(hdgst=True, ddgst=True)

    def test_r2t_write_in_maxh2cdata_chunks(self):
        _, q = self.io_pair()
        q.maxh2cdata = 16384  # smaller chunks than the target allows are fine
        self.roundtrip(q, 1, 3000, os.urandom(131072), incapsule=False)

    def test_read_with_capsule_response(self):
        _, q = self.io_pair()
        data = os.urandom(8192)
        q.write(1, 500, data)
        c = q.read(1, 500, 16)
        self.assertFalse(c.via_success)
        self.assertEqual(c.data, data)
        self.assertEqual(c.sqid, 1)

    def test_read_with_success_flag(self):
        # SQ flow control disabled: C2HData with SUCCESS ends the command and
        # no CapsuleResp follows (NVMe/TCP 1.0 3.6.2.7); a stray CapsuleResp
        # would show up as a second completion of the same cid.
        _, q = self.io_pair(cattr=raw.CATTR_DISABLE_SQFLOW)
        data = os.urandom(16384)
        self.assertEqual(q.write(1, 600, data).status, 0)
        for _ in range(3):
            c = q.read(1, 600, 32)
            self.assertTrue(c.via_success)
            self.assertEqual(c.data, data)
        self.assertEqual(q.run(q.rw_cmd(raw.IO_FLUSH, 1, 0, 1)).status, 0)

    def test_read_past_end(self):
        _, q = self.io_pair()
        c = q.read(1, NS1_BLOCKS - 4, 8)
        self.assertEqual(c.code, raw.SC_LBA_RANGE, c)
        self.assertTrue(c.dnr)
        self.assertEqual(c.data, b"")
        self.assertEqual(q.read(1, NS1_BLOCKS, 1).code, raw.SC_LBA_RANGE)
        self.assertEqual(q.read(1, 1 << 40, 1).code, raw.SC_LBA_RANGE)
        c = q.write(1, NS1_BLOCKS - 1, bytes(1024))
        self.assertEqual(c.code, raw.SC_LBA_RANGE, c)
        self.assertEqual(q.read(1, NS1_BLOCKS - 1, 1).status, 0)

    def test_transfer_above_mdts(self):
        _, q = self.io_pair()
        c = q.read(1, 0, 512)  # 256 KiB
        self.assertEqual(c.code, raw.SC_INVALID_FIELD, c)
        c = q.write(1, 0, bytes(262144), incapsule=False)
        self.assertEqual(c.code, raw.SC_INVALID_FIELD, c)
        # A transfer length that disagrees with NLB is refused too.
        c = q.read(1, 0, 8, xfer=512)
        self.assertNotEqual(c.status, 0)
        self.assertEqual(q.read(1, 0, 256).status, 0)

    def test_invalid_namespace(self):
        _, q = self.io_pair()
        for nsid in (0, 4, 99, 0xFFFFFFFE):
            c = q.read(nsid, 0, 1)
            self.assertEqual(c.code, raw.SC_INVALID_NS, "nsid %d: %r" % (nsid, c))

    def test_write_zeroes(self):
        _, q = self.io_pair()
        for deac in (0, 1 << 25):
            self.roundtrip(q, 1, 4000, os.urandom(8192))
            c = q.run(lambda cid, dp: raw.sqe(raw.IO_WRITE_ZEROES, cid, 1, 4000, 0,
                                              15 | deac, dptr=dp))
            self.assertEqual(c.status, 0, c)
            self.assertEqual(q.read(1, 4000, 16).data, bytes(8192))
        c = q.run(lambda cid, dp: raw.sqe(raw.IO_WRITE_ZEROES, cid, 1, NS1_BLOCKS - 1, 0, 1,
                                          dptr=dp))
        self.assertEqual(c.code, raw.SC_LBA_RANGE)

    def test_dsm_deallocate(self):
        _, q = self.io_pair()
        data = os.urandom(16384)
        self.roundtrip(q, 1, 5000, data)
        ranges = struct.pack("<IIQ", 0, 8, 5008) + struct.pack("<IIQ", 0, 0, 0)
        c = q.run(lambda cid, dp: raw.sqe(raw.IO_DSM, cid, 1, 1, 1 << 2, dptr=dp), ranges)
        self.assertEqual(c.status, 0, c)
        c = q.read(1, 5000, 32)
        self.assertEqual(c.data[:4096], data[:4096])
        self.assertEqual(c.data[4096:8192], bytes(4096))
        self.assertEqual(c.data[8192:], data[8192:])
        bad = struct.pack("<IIQ", 0, 8, NS1_BLOCKS - 4)
        c = q.run(lambda cid, dp: raw.sqe(raw.IO_DSM, cid, 1, 0, 1 << 2, dptr=dp), bad)
        self.assertEqual(c.code, raw.SC_LBA_RANGE)

    def test_compare(self):
        _, q = self.io_pair()
        data = os.urandom(4096)
        self.roundtrip(q, 1, 6000, data)
        self.assertEqual(q.compare(1, 6000, data).status, 0)
        other = bytearray(data)
        other[100] ^= 0xFF
        c = q.compare(1, 6000, bytes(other))
        self.assertEqual(c.code, raw.SC_COMPARE_FAILED, c)
        big = os.urandom(65536)
        self.roundtrip(q, 1, 7000, big)
        self.assertEqual(q.compare(1, 7000, big).status, 0)

    def test_flush(self):
        _, q = self.io_pair()
        self.roundtrip(q, 3, 0, os.urandom(4096))
        for nsid in (1, 3, 0xFFFFFFFF):
            c = q.run(q.rw_cmd(raw.IO_FLUSH, nsid, 0, 1))
            self.assertEqual(c.status, 0, "nsid %#x: %r" % (nsid, c))
        self.assertEqual(q.run(q.rw_cmd(raw.IO_FLUSH, 9, 0, 1)).code, raw.SC_INVALID_NS)

    def test_queue_depth(self):
        # Many commands in flight on one queue, completed in any order.
        _, q = self.io_pair()
        data = os.urandom(512 * 64)
        self.assertEqual(q.write(1, 8000, data, incapsule=False).status, 0)
        cids = [q.submit(q.rw_cmd(raw.IO_READ, 1, 8000 + i, 1), data_in=512)
                for i in range(60)]
        for i, cid in enumerate(cids):
            c = q.wait(cid)
            self.assertEqual(c.status, 0, c)
            self.assertEqual(c.data, data[512 * i:512 * (i + 1)])

    # -- discovery --

    def discovery_log(self, port, hostnqn=raw.HOSTNQN):
        a = self.keep(raw.admin_queue(self.addr, port, raw.DISCOVERY_NQN, hostnqn=hostnqn))
        c = a.identify(1)
        self.assertEqual(c.status, 0, c)
        self.assertEqual(c.data[111], 2)  # CNTRLTYPE: discovery
        c = a.get_log(0x70, 1024)
        self.assertEqual(c.status, 0, c)
        genctr, numrec, recfmt = struct.unpack_from("<QQH", c.data, 0)
        self.assertEqual(recfmt, 0)
        full = a.get_log(0x70, 1024 * (numrec + 1))
        self.assertEqual(full.status, 0, full)
        self.assertEqual(full.data[:1024], c.data)
        again = a.get_log(0x70, 1024)
        self.assertEqual(struct.unpack_from("<Q", again.data, 0)[0], genctr)
        entries = [full.data[1024 * (i + 1):1024 * (i + 2)] for i in range(numrec)]
        return numrec, entries

    def check_entry(self, e, nqn):
        self.assertEqual(e[0], 3)  # TRTYPE TCP
        self.assertEqual(e[1], 1)  # ADRFAM IPv4
        self.assertEqual(e[2], 2)  # SUBTYPE NVM subsystem
        self.assertEqual(struct.unpack_from("<H", e, 6)[0], 0xFFFF)  # dynamic cntlid
        self.assertEqual(e[32:64].rstrip(b"\0 ").decode(), str(self.port))
        self.assertEqual(e[256:512].rstrip(b"\0").decode(), nqn)
        self.assertEqual(e[512:768].rstrip(b"\0 ").decode(), self.addr)

    def test_discovery_log(self):
        for port in (self.tgt.dport, self.port):
            n, entries = self.discovery_log(port)
            self.assertEqual(n, 1)
            self.check_entry(entries[0], self.NQN)
        n, entries = self.discovery_log(self.tgt.dport, hostnqn=ALLOWED_HOST)
        self.assertEqual(n, 2)
        self.assertEqual(sorted(e[256:512].rstrip(b"\0").decode() for e in entries),
                         sorted([self.NQN, LOCKED_NQN]))

    def test_discovery_port_refuses_io_subsystem(self):
        q = self.keep(raw.Queue(self.addr, self.tgt.dport))
        c = q.connect(self.NQN)
        self.assertEqual(c.code, raw.SC_CONNECT_INVALID_PARAM, c)
        self.assertEqual(c.dw0, 256 | (1 << 16))


ADVERTISE_INI = """
[target]
reactors = 1

[port "io"]
address = {addr}
port = {port}
advertise = 192.0.2.10:14420

[port "io6"]
address = {addr}
port = {dport}
advertise = [2001:db8::7]:4420

[subsystem "nqn.2026-01.io.fabriq.test:adv"]
namespace = ram:1M
"""


class AdvertiseTest(TargetTestCase):
    """advertise = ADDR:PORT: discovery gives hosts that address and port,
    while the port itself keeps listening where it was bound."""
    INI = ADVERTISE_INI
    NQN = "nqn.2026-01.io.fabriq.test:adv"

    def test_discovery_gives_the_advertised_address(self):
        a = raw.admin_queue(self.addr, self.port, raw.DISCOVERY_NQN)
        try:
            c = a.get_log(0x70, 1024 * 3)
            self.assertEqual(c.status, 0, c)
            numrec = struct.unpack_from("<Q", c.data, 8)[0]
            self.assertEqual(numrec, 2)
            got = set()
            for i in range(numrec):
                e = c.data[1024 * (i + 1):1024 * (i + 2)]
                self.assertEqual(e[256:512].rstrip(b"\0").decode(), self.NQN)
                got.add((e[1], e[32:64].rstrip(b"\0 ").decode(),
                         e[512:768].rstrip(b"\0 ").decode()))
            self.assertEqual(got, {(1, "14420", "192.0.2.10"), (2, "4420", "2001:db8::7")})
        finally:
            a.close()
        # The port still serves where it listens.
        self.assert_serving()


if __name__ == "__main__":
    unittest.main(verbosity=2)

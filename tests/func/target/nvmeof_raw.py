# SPDX-License-Identifier: MIT
"""A raw-socket NVMe/TCP host for testing fabriqd (standard library only).

It builds every PDU by hand with struct, so tests can send exactly the bytes
they want, including malformed ones, and parse exactly what the target sends
back. Wire layouts follow NVMe/TCP 1.0 (section 3.6), NVMe-oF 1.1 (Fabrics
commands) and NVMe Base 2.0 (SQE/CQE). Every read has a timeout, so a target
that stops answering shows up as a test failure, not a hang.
"""

import select
import socket
import struct
import time

# ---- constants ---------------------------------------------------------------

# PDU types, NVMe/TCP 1.0 Fig. 14.
ICREQ, ICRESP, H2C_TERM, C2H_TERM = 0x00, 0x01, 0x02, 0x03
CAPSULE_CMD, CAPSULE_RESP, H2C_DATA, C2H_DATA, R2T = 0x04, 0x05, 0x06, 0x07, 0x09

# Common header flags.
F_HDGST, F_DDGST, F_LAST, F_SUCCESS = 0x01, 0x02, 0x04, 0x08

# Fatal error status in TermReq, NVMe/TCP 1.0 Fig. 22.
FES_INVALID_HEADER = 0x01
FES_PDU_SEQUENCE = 0x02
FES_HDR_DIGEST = 0x03
FES_OUT_OF_RANGE = 0x04
FES_DATA_LIMIT = 0x05
FES_UNSUPPORTED = 0x06

HLEN = {ICREQ: 128, ICRESP: 128, H2C_TERM: 24, C2H_TERM: 24, CAPSULE_CMD: 72,
        CAPSULE_RESP: 24, H2C_DATA: 24, C2H_DATA: 24, R2T: 24}

# SGL descriptor types (NVMe Base 2.0 4.3.2): in-capsule data block with the
# offset subtype, and the transport data block NVMe/TCP uses for R2T data.
SGL_INCAPSULE = 0x01
SGL_TRANSPORT = 0x5A

# Opcodes.
ADM_GET_LOG_PAGE, ADM_IDENTIFY, ADM_ABORT = 0x02, 0x06, 0x08
ADM_SET_FEATURES, ADM_GET_FEATURES, ADM_ASYNC_EVENT, ADM_KEEP_ALIVE = 0x09, 0x0A, 0x0C, 0x18
FABRICS = 0x7F
IO_FLUSH, IO_WRITE, IO_READ, IO_COMPARE = 0x00, 0x01, 0x02, 0x05
IO_DSM, IO_WRITE_ZEROES = 0x09, 0x08

FCTYPE_PROP_SET, FCTYPE_CONNECT, FCTYPE_PROP_GET, FCTYPE_DISCONNECT = 0x00, 0x01, 0x04, 0x08

PROP_CAP, PROP_VS, PROP_CC, PROP_CSTS = 0x00, 0x08, 0x14, 0x1C
CC_ENABLE = 1 | (6 << 16) | (4 << 20)  # EN, IOSQES 64 B, IOCQES 16 B

CATTR_DISABLE_SQFLOW = 0x04
CNTLID_DYNAMIC = 0xFFFF
DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery"
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6c1a5b2e-7d4f-4e8a-9b3c-2f1e0d9c8b7a"
HOSTID = bytes(range(1, 17))

# Status: (SCT, SC) pairs.
SC_SUCCESS = (0, 0x00)
SC_INVALID_OPCODE = (0, 0x01)
SC_INVALID_FIELD = (0, 0x02)
SC_INVALID_NS = (0, 0x0B)
SC_CMD_SEQ_ERROR = (0, 0x0C)
SC_TRANSIENT_TRANSPORT = (0, 0x22)
SC_LBA_RANGE = (0, 0x80)
SC_CONNECT_INVALID_PARAM = (1, 0x82)
SC_CONNECT_INVALID_HOST = (1, 0x84)
SC_COMPARE_FAILED = (2, 0x85)


# ---- CRC32C (Castagnoli), reflected, as NVMe/TCP digests use it ----------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    """CRC32C of data; crc32c(b'123456789') == 0xE3069283."""
    crc ^= 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- errors ----------------------------------------------------------------------

class TermReq(Exception):
    """The target sent a C2HTermReq."""

    def __init__(self, fes, fei, data):
        super().__init__("C2HTermReq FES 0x%x FEI %d" % (fes, fei))
        self.fes, self.fei, self.data = fes, fei, data


class Closed(Exception):
    """The target closed the connection."""


class ProtocolError(Exception):
    """The target sent something a correct controller must not send."""


# ---- PDUs --------------------------------------------------------------------------

class Pdu:
    def __init__(self, ptype, flags, hlen, pdo, plen, header, data):
        self.type, self.flags, self.hlen, self.pdo, self.plen = ptype, flags, hlen, pdo, plen
        self.header = header  # hlen bytes, common header included
        self.data = data

    def __repr__(self):
        return "Pdu(type=%d flags=%#x hlen=%d pdo=%d plen=%d)" % (
            self.type, self.flags, self.hlen, self.pdo, self.plen)


def ch(ptype, flags, hlen, pdo, plen):
    """The 8-byte common header."""
    return struct.pack("<BBBBI", ptype, flags, hlen, pdo, plen)


def sgl(dtype, length, addr=0):
    """A 16-byte SGL descriptor: address, length, 3 reserved bytes, type."""
    return struct.pack("<QI3xB", addr, length, dtype)


def sqe(opcode, cid, nsid=0, cdw10=0, cdw11=0, cdw12=0, cdw13=0, cdw14=0, cdw15=0,
        dptr=None, flags=0x40):
    """A 64-byte submission queue entry (flags 0x40: PSDT says SGL)."""
    if dptr is None:
        dptr = sgl(SGL_TRANSPORT, 0)
    return (struct.pack("<BBHIIIQ", opcode, flags, cid, nsid, 0, 0, 0) + dptr +
            struct.pack("<6I", cdw10, cdw11, cdw12, cdw13, cdw14, cdw15))


def fabrics_sqe(fctype, cid, specific=b"", dptr=None):
    """A Fabrics command: FCTYPE at byte 4, SGL at 24, type-specific from 40."""
    if dptr is None:
        dptr = sgl(SGL_TRANSPORT, 0)
    spec = specific.ljust(24, b"\0")
    return struct.pack("<BBHB19x", FABRICS, 0x40, cid, fctype) + dptr + spec


def connect_sqe(cid, qid, sqsize, kato=0, cattr=0, recfmt=0, dlen=1024):
    spec = struct.pack("<HHHBxI", recfmt, qid, sqsize, cattr, kato)
    return fabrics_sqe(FCTYPE_CONNECT, cid, spec, sgl(SGL_INCAPSULE, dlen))


def connect_data(subnqn, hostnqn=HOSTNQN, cntlid=CNTLID_DYNAMIC, hostid=HOSTID):
    """The 1024-byte Connect data (NVMe-oF 1.1 Fig. 20)."""
    d = bytearray(1024)
    d[0:16] = hostid
    struct.pack_into("<H", d, 16, cntlid)
    s, h = subnqn.encode(), hostnqn.encode()
    d[256:256 + len(s)] = s
    d[512:512 + len(h)] = h
    return bytes(d)


class Completion:
    def __init__(self, cid, status=0, dw0=0, dw1=0, sqhd=0, sqid=0, via_success=False):
        self.cid, self.status, self.dw0, self.dw1 = cid, status, dw0, dw1
        self.sqhd, self.sqid = sqhd, sqid
        self.via_success = via_success  # completed by C2HData with SUCCESS
        self.data = b""

    @property
    def sc(self):
        return (self.status >> 1) & 0xFF

    @property
    def sct(self):
        return (self.status >> 9) & 0x7

    @property
    def dnr(self):
        return bool(self.status & 0x8000)

    @property
    def code(self):
        return (self.sct, self.sc)

    def __repr__(self):
        return "Completion(cid=%d sct=%d sc=%#x dnr=%d dw0=%#x)" % (
            self.cid, self.sct, self.sc, self.dnr, self.dw0)


# ---- a queue (one TCP connection) -------------------------------------------------------

class Queue:
    """One NVMe/TCP connection: an admin or an I/O queue of some controller."""

    def __init__(self, addr, port, hdgst=False, ddgst=False, timeout=5.0, icreq=True):
        self.addr, self.port, self.timeout = addr, port, timeout
        self.sock = socket.create_connection((addr, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.hdgst = self.ddgst = False  # what is in force (after ICResp)
        self.want_hdgst, self.want_ddgst = hdgst, ddgst
        self.maxh2cdata = 4096
        self.icdata = 8192  # in-capsule data limit (IOCCSZ); the target's default
        self.next_cid = 1
        self.done = {}
        self.c2h = {}
        self.r2ts = {}
        self.rxbuf = b""
        self.cntlid = None
        self.qid = None
        self.sqflow_disabled = False
        if icreq:
            self.icreq(hdgst=hdgst, ddgst=ddgst)

    # -- raw I/O --

    def close(self, rst=False):
        if self.sock is None:
            return
        if rst:
            # SO_LINGER 0: close sends RST, as a host that crashed would.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.sock = None

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        deadline = time.monotonic() + self.timeout
        while len(self.rxbuf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for %d bytes" % n)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self.rxbuf)))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed("connection closed by the target")
            self.rxbuf += chunk
        out, self.rxbuf = self.rxbuf[:n], self.rxbuf[n:]
        return out

    def wait_closed(self, timeout=None):
        """Return once the target closes the connection; fail on any PDU or timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("connection still open")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            if not chunk:
                if self.rxbuf:
                    raise ProtocolError("%d stray bytes before close" % len(self.rxbuf))
                return
            self.rxbuf += chunk
            if len(self.rxbuf) >= 8:
                raise ProtocolError("unexpected PDU type %d before close" % self.rxbuf[0])

    def poll_closed(self):
        """True if the target has closed the connection, False if it is quiet.

        Never blocks; any PDU arriving instead is a protocol error here.
        """
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return False
        try:
            chunk = self.sock.recv(65536, socket.MSG_PEEK)
        except ConnectionResetError:
            return True
        if chunk:
            raise ProtocolError("unexpected data (type %d) on a quiet connection" % chunk[0])
        return True

    def recv_pdu(self):
        """One PDU from the target, with its digests checked."""
        hdr = self.recv_exact(8)
        ptype, flags, hlen, pdo, plen = struct.unpack("<BBBBI", hdr)
        if ptype not in HLEN or HLEN[ptype] != hlen:
            raise ProtocolError("bad PDU from target: type %d hlen %d" % (ptype, hlen))
        if plen < hlen or plen > 16 * 1024 * 1024:
            raise ProtocolError("bad PLEN %d" % plen)
        hdr += self.recv_exact(hlen - 8)
        rest = plen - hlen
        if flags & F_HDGST:
            if not self.hdgst:
                raise ProtocolError("HDGST flag without header digests")
            dg = struct.unpack("<I", self.recv_exact(4))[0]
            if dg != crc32c(hdr):
                raise ProtocolError("bad header digest from the target")
            rest -= 4
        elif self.hdgst and ptype not in (ICRESP, C2H_TERM):
            raise ProtocolError("header digest missing on type %d" % ptype)
        data = b""
        if ptype == C2H_TERM:
            data = self.recv_exact(rest)
        elif rest:
            pad = pdo - (hlen + (4 if flags & F_HDGST else 0))
            if pad < 0:
                raise ProtocolError("PDO %d inside the header" % pdo)
            self.recv_exact(pad)
            rest -= pad
            dlen = rest - (4 if flags & F_DDGST else 0)
            data = self.recv_exact(dlen)
            if flags & F_DDGST:
                dg = struct.unpack("<I", self.recv_exact(4))[0]
                if dg != crc32c(data):
                    raise ProtocolError("bad data digest from the target")
            elif self.ddgst:
                raise ProtocolError("data digest missing on type %d" % ptype)
        return Pdu(ptype, flags, hlen, pdo, plen, hdr, data)

    # -- PDU builders --

    def pdu(self, ptype, specific, data=b"", flags=0, bad_hdgst=False, bad_ddgst=False):
        """Build a PDU with the negotiated digests; optionally corrupt them."""
        hlen = 8 + len(specific)
        hd = self.hdgst and ptype not in (ICREQ, H2C_TERM)
        dd = self.ddgst and bool(data) and ptype != H2C_TERM
        flags |= (F_HDGST if hd else 0) | (F_DDGST if dd else 0)
        hdrlen = hlen + (4 if hd else 0)
        pdo = hdrlen if data else 0
        plen = hdrlen + len(data) + (4 if dd else 0)
        h = ch(ptype, flags, hlen, pdo, plen) + specific
        out = h
        if hd:
            out += struct.pack("<I", crc32c(h) ^ (1 if bad_hdgst else 0))
        out += data
        if dd:
            out += struct.pack("<I", crc32c(data) ^ (1 if bad_ddgst else 0))
        return out

    def icreq(self, hdgst=False, ddgst=False, pfv=0, hpda=0, maxr2t=0, expect_resp=True):
        dg = (1 if hdgst else 0) | (2 if ddgst else 0)
        self.send(ch(ICREQ, 0, 128, 0, 128) + struct.pack("<HBBI", pfv, hpda, dg, maxr2t) +
                  bytes(112))
        if not expect_resp:
            return None
        p = self.recv_pdu()
        if p.type == C2H_TERM:
            raise self._term(p)
        if p.type != ICRESP or p.plen != 128:
            raise ProtocolError("expected ICResp, got %r" % p)
        pfv, cpda, rdg, maxh2c = struct.unpack_from("<HBBI", p.header, 8)
        if pfv != 0 or cpda != 0 or rdg != dg or maxh2c < 4096 or maxh2c % 4:
            raise ProtocolError("bad ICResp pfv=%d cpda=%d dgst=%d maxh2cdata=%d" %
                                (pfv, cpda, rdg, maxh2c))
        self.hdgst, self.ddgst, self.maxh2cdata = hdgst, ddgst, maxh2c
        return p

    def capsule(self, cmd, data=b"", **kw):
        return self.pdu(CAPSULE_CMD, cmd, data, **kw)

    def h2c(self, cid, ttag, datao, data, last=True, datal=None, **kw):
        spec = struct.pack("<HHII4x", cid, ttag, datao, len(data) if datal is None else datal)
        return self.pdu(H2C_DATA, spec, data, flags=F_LAST if last else 0, **kw)

    # -- receive side --

    @staticmethod
    def _term(p):
        fes = struct.unpack_from("<H", p.header, 8)[0]
        fei = struct.unpack_from("<I", p.header, 10)[0]
        return TermReq(fes, fei, p.data)

    def _complete(self, c):
        if c.cid in self.done:
            raise ProtocolError("cid %d completed twice" % c.cid)
        self.done[c.cid] = c

    def dispatch(self, p):
        if p.type == CAPSULE_RESP:
            dw0, dw1, sqhd, sqid, cid, st = struct.unpack_from("<IIHHHH", p.header, 8)
            self._complete(Completion(cid, st, dw0, dw1, sqhd, sqid))
        elif p.type == C2H_DATA:
            cid, _ttag, datao, datal = struct.unpack_from("<HHII", p.header, 8)
            buf = self.c2h.setdefault(cid, bytearray())
            if datao != len(buf) or datal != len(p.data):
                raise ProtocolError("C2HData cid %d datao %d datal %d (have %d, got %d)" %
                                    (cid, datao, datal, len(buf), len(p.data)))
            buf += p.data
            if p.flags & F_SUCCESS:
                if not p.flags & F_LAST:
                    raise ProtocolError("SUCCESS without LAST")
                self._complete(Completion(cid, via_success=True))
        elif p.type == R2T:
            cid, ttag, r2to, r2tl = struct.unpack_from("<HHII", p.header, 8)
            self.r2ts.setdefault(cid, []).append((ttag, r2to, r2tl))
        elif p.type == C2H_TERM:
            raise self._term(p)
        else:
            raise ProtocolError("unexpected %r" % p)

    def wait(self, cid):
        """Receive until command cid completes; its read data is in .data."""
        while cid not in self.done:
            self.dispatch(self.recv_pdu())
        c = self.done.pop(cid)
        c.data = bytes(self.c2h.pop(cid, b""))
        self.r2ts.pop(cid, None)
        return c

    def wait_r2t(self, cid):
        """Receive until an R2T for cid arrives (None if cid completes instead)."""
        while not self.r2ts.get(cid):
            if cid in self.done:
                return None
            self.dispatch(self.recv_pdu())
        return self.r2ts[cid].pop(0)

    def expect_term(self):
        """The next PDU must be a C2HTermReq; returns it as a TermReq."""
        while True:
            try:
                self.dispatch(self.recv_pdu())
            except TermReq as t:
                return t

    # -- commands --

    def cid(self):
        c = self.next_cid
        self.next_cid = (self.next_cid % 0xFFFE) + 1
        return c

    def submit(self, cmd_fn, data_out=b"", data_in=0, incapsule=None):
        """Send one command built by cmd_fn(cid, dptr); returns its cid.

        Write data goes in the capsule when it fits (or when incapsule says
        so); otherwise the command asks for an R2T with a transport SGL.
        """
        cid = self.cid()
        if data_out:
            inc = incapsule if incapsule is not None else len(data_out) <= self.icdata
            if inc:
                self.send(self.capsule(cmd_fn(cid, sgl(SGL_INCAPSULE, len(data_out))),
                                       data_out))
                return cid
            self.send(self.capsule(cmd_fn(cid, sgl(SGL_TRANSPORT, len(data_out)))))
            return cid
        self.send(self.capsule(cmd_fn(cid, sgl(SGL_TRANSPORT, data_in))))
        return cid

    def send_h2c(self, cid, r2t, data):
        """Answer an R2T with H2CData PDUs of at most MAXH2CDATA bytes."""
        ttag, r2to, r2tl = r2t
        off, end = r2to, r2to + r2tl
        while off < end:
            n = min(self.maxh2cdata, end - off)
            self.send(self.h2c(cid, ttag, off, data[off:off + n], last=off + n == end))
            off += n

    def run(self, cmd_fn, data_out=b"", data_in=0, incapsule=None):
        """Submit, do the R2T dance if asked, wait for the completion."""
        cid = self.submit(cmd_fn, data_out, data_in, incapsule)
        if data_out and cid not in self.done:
            inc = incapsule if incapsule is not None else len(data_out) <= self.icdata
            if not inc:
                r2t = self.wait_r2t(cid)
                if r2t is not None:
                    if r2t[1] + r2t[2] > len(data_out):
                        raise ProtocolError("R2T %r beyond the transfer" % (r2t,))
                    self.send_h2c(cid, r2t, data_out)
        return self.wait(cid)

    def connect(self, subnqn, qid=0, cntlid=CNTLID_DYNAMIC, sqsize=31, kato=0, cattr=0,
                hostnqn=HOSTNQN):
        d = connect_data(subnqn, hostnqn, cntlid)
        c = self.run(lambda cid, dp: connect_sqe(cid, qid, sqsize, kato, cattr), d)
        if c.status == 0:
            self.qid = qid
            self.cntlid = c.dw0 & 0xFFFF if qid == 0 else cntlid
            self.sqflow_disabled = bool(cattr & CATTR_DISABLE_SQFLOW)
        return c

    def prop_get(self, off, size8=False):
        spec = struct.pack("<B3xI", 1 if size8 else 0, off)
        c = self.run(lambda cid, dp: fabrics_sqe(FCTYPE_PROP_GET, cid, spec))
        c.value = c.dw0 | (c.dw1 << 32)
        return c

    def prop_set(self, off, value):
        spec = struct.pack("<B3xIQ", 0, off, value)
        return self.run(lambda cid, dp: fabrics_sqe(FCTYPE_PROP_SET, cid, spec))

    def enable(self, timeout=5.0):
        """CC.EN = 1, then poll CSTS until RDY (NVMe Base 2.0 3.5.1)."""
        c = self.prop_set(PROP_CC, CC_ENABLE)
        if c.status:
            raise ProtocolError("Property Set CC failed: %r" % c)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.prop_get(PROP_CSTS)
            if c.status == 0 and c.value & 1:
                return
            time.sleep(0.01)
        raise ProtocolError("CSTS.RDY never set")

    def disconnect(self):
        return self.run(lambda cid, dp: fabrics_sqe(FCTYPE_DISCONNECT, cid))

    def admin(self, opcode, nsid=0, cdw10=0, cdw11=0, cdw12=0, cdw13=0, data_in=0,
              data_out=b""):
        return self.run(lambda cid, dp: sqe(opcode, cid, nsid, cdw10, cdw11, cdw12, cdw13,
                                            dptr=dp), data_out, data_in)

    def identify(self, cns, nsid=0, cdw11=0):
        return self.admin(ADM_IDENTIFY, nsid, cdw10=cns, cdw11=cdw11, data_in=4096)

    def get_log(self, lid, length, offset=0, nsid=0xFFFFFFFF, rae=False):
        numd = length // 4 - 1
        cdw10 = lid | (0x8000 if rae else 0) | ((numd & 0xFFFF) << 16)
        return self.admin(ADM_GET_LOG_PAGE, nsid, cdw10=cdw10, cdw11=numd >> 16,
                          cdw12=offset & 0xFFFFFFFF, cdw13=offset >> 32, data_in=length)

    def set_features(self, fid, value):
        return self.admin(ADM_SET_FEATURES, cdw10=fid, cdw11=value)

    def keep_alive(self):
        return self.admin(ADM_KEEP_ALIVE)

    def rw_cmd(self, opcode, nsid, slba, nlb):
        def build(cid, dp):
            return sqe(opcode, cid, nsid, slba & 0xFFFFFFFF, slba >> 32, (nlb - 1) & 0xFFFF,
                       dptr=dp)
        return build

    def read(self, nsid, slba, nlb, bs=512, xfer=None):
        return self.run(self.rw_cmd(IO_READ, nsid, slba, nlb),
                        data_in=nlb * bs if xfer is None else xfer)

    def write(self, nsid, slba, data, bs=512, incapsule=None):
        return self.run(self.rw_cmd(IO_WRITE, nsid, slba, len(data) // bs), data,
                        incapsule=incapsule)

    def compare(self, nsid, slba, data, bs=512):
        return self.run(self.rw_cmd(IO_COMPARE, nsid, slba, len(data) // bs), data)


def admin_queue(addr, port, subnqn, kato=0, enable=True, hostnqn=HOSTNQN, **kw):
    """An admin queue: ICReq, Connect, and (by default) CC.EN with CSTS.RDY."""
    q = Queue(addr, port, **kw)
    c = q.connect(subnqn, kato=kato, hostnqn=hostnqn)
    if c.status:
        raise ProtocolError("admin Connect failed: %r" % c)
    if enable:
        q.enable()
    return q


def io_queue(addr, port, subnqn, cntlid, qid=1, sqsize=63, cattr=0, hostnqn=HOSTNQN, **kw):
    q = Queue(addr, port, **kw)
    c = q.connect(subnqn, qid=qid, cntlid=cntlid, sqsize=sqsize, cattr=cattr, hostnqn=hostnqn)
    if c.status:
        raise ProtocolError("I/O Connect failed: %r" % c)
    return q

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the seed corpus of the libFuzzer targets (tests/fuzz/fuzz_*.c):
well-formed and deliberately hostile inputs in each target's input format
(described at the top of each target). `make fuzz-corpus` runs it; the
output is committed, so a run must reproduce it byte for byte.

Usage: gen_corpus.py OUTDIR   (writes OUTDIR/<target>/<seed>; files of
regression inputs named crash-* are left alone)."""
import os
import struct
import sys

RAM_BASE = 0x40000000

# ---- fuzz_ioreq: 32-byte ioreq_t slots ----

IOREQ_PIO, IOREQ_COPY, IOREQ_PCI, IOREQ_TIMEOFFSET, IOREQ_INVALIDATE = 0, 1, 2, 7, 8
READ, WRITE = 1, 0


def ioreq(addr, data=0, count=1, size=4, dir_=READ, typ=IOREQ_COPY, ptr=0, df=0, state=1):
    bits = (state & 0xF) | (ptr << 4) | (dir_ << 5) | (df << 6)
    return struct.pack('<QQIIIHBB', addr, data, count, size, 7, 0, bits, typ)


def ioreq_seeds():
    base = 0x2000000
    s = {}
    for size in (1, 2, 4, 8):
        s['read-%d' % size] = ioreq(base + 0x70, size=size)
        s['write-%d' % size] = ioreq(base + 0x100, 0x1122334455667788, size=size, dir_=WRITE)
    s['invalidate'] = ioreq(0, 0xFFFFFFFF, size=4, dir_=WRITE, typ=IOREQ_INVALIDATE)
    s['pio'] = ioreq(0x3f8, size=1, typ=IOREQ_PIO)
    s['pci-config'] = ioreq(0x80000000, size=4, typ=IOREQ_PCI)
    s['timeoffset'] = ioreq(0, 12345, typ=IOREQ_TIMEOFFSET)
    s['unknown-type'] = ioreq(base, typ=0x42)
    s['rep-count'] = ioreq(base, count=16, size=4)
    s['data-is-ptr'] = ioreq(base, RAM_BASE, ptr=1)
    s['df-count1'] = ioreq(base + 4, df=1)
    s['df-rep'] = ioreq(base + 0x1FC, count=4, df=1)
    s['size-0'] = ioreq(base, size=0)
    s['size-3'] = ioreq(base, size=3)
    s['size-16'] = ioreq(base, size=16)
    s['wrap'] = ioreq(0xFFFFFFFFFFFFFFFF, size=2)
    s['wrap-8'] = ioreq(0xFFFFFFFFFFFFFFF9, size=8, dir_=WRITE)
    s['sequence'] = b''.join([ioreq(base + 4 * i, i, size=4, dir_=i & 1) for i in range(8)])
    return s


# ---- fuzz_mmio: setup byte, then operations ----

MAGIC, VERSION, DEVICE_ID, VENDOR_ID = 0x000, 0x004, 0x008, 0x00C
DEV_FEAT, DEV_FEAT_SEL, DRV_FEAT, DRV_FEAT_SEL = 0x010, 0x014, 0x020, 0x024
GUEST_PAGE_SIZE, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM = 0x028, 0x030, 0x034, 0x038
QUEUE_ALIGN, QUEUE_PFN, QUEUE_READY, QUEUE_NOTIFY = 0x03C, 0x040, 0x044, 0x050
INT_STATUS, INT_ACK, STATUS = 0x060, 0x064, 0x070
CONFIG_GEN, CONFIG = 0x0FC, 0x100
ACK, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40
DESC, AVAIL, USED = 0, 1, 2


def wr(off, val):
    return struct.pack('<BBI', 0, off // 4, val & 0xFFFFFFFF)


def rd(off):
    return struct.pack('<BB', 1, off // 4)


def raw_wr(off, width_log2, val):
    return struct.pack('<BHBQ', 2, off, width_log2, val)


def raw_rd(off, width_log2):
    return struct.pack('<BHB', 3, off, width_log2)


def process():
    return b'\x04'


def poke(off, val):
    return struct.pack('<BHQ', 5, off, val)


def knobs(k):
    return struct.pack('<BB', 6, k)


def ring_addr(which, ram_off):
    return struct.pack('<BBH', 7, which, ram_off // 16)


def desc_poke(table_off, i, addr, length, flags, nxt):
    off = table_off + 16 * i
    return poke(off, addr) + poke(off + 8, length | (flags << 32) | (nxt << 48))


def queue_base(q):
    """Queue q's rings: descriptors, avail at + 0x800, used at + 0x1000 (all below 0xD000)."""
    return 0x1000 + 0x1800 * q


def modern_init(queues, num=8, features_lo=0x9, event_idx=False, indirect=False):
    hi = 1  # VIRTIO_F_VERSION_1 is bit 32
    lo = features_lo | (1 << 28 if indirect else 0) | (1 << 29 if event_idx else 0)
    b = rd(MAGIC) + rd(VERSION) + rd(DEVICE_ID) + rd(VENDOR_ID)
    b += wr(STATUS, ACK) + wr(STATUS, ACK | DRIVER)
    b += wr(DEV_FEAT_SEL, 0) + rd(DEV_FEAT) + wr(DEV_FEAT_SEL, 1) + rd(DEV_FEAT)
    b += wr(DRV_FEAT_SEL, 0) + wr(DRV_FEAT, lo) + wr(DRV_FEAT_SEL, 1) + wr(DRV_FEAT, hi)
    b += wr(STATUS, ACK | DRIVER | FEATURES_OK) + rd(STATUS)
    for q in range(queues):
        base = queue_base(q)
        b += wr(QUEUE_SEL, q) + rd(QUEUE_NUM_MAX) + wr(QUEUE_NUM, num)
        b += ring_addr(DESC, base) + ring_addr(AVAIL, base + 0x800) + ring_addr(USED, base + 0x1000)
        b += wr(QUEUE_READY, 1) + rd(QUEUE_READY)
    b += wr(STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK)
    return b


def one_request(q=0, indirect=False):
    """A chain (readable 16, writable 512 + 1) on queue q."""
    base = queue_base(q)
    buf = RAM_BASE + 0xD000
    b = b''
    if indirect:
        table = 0xE000
        b += desc_poke(table, 0, buf, 16, 1, 1)
        b += desc_poke(table, 1, buf + 16, 513, 2, 0)
        b += desc_poke(base, 0, RAM_BASE + table, 32, 4, 0)
    else:
        b += desc_poke(base, 0, buf, 16, 1, 1) + desc_poke(base, 1, buf + 16, 513, 2, 0)
    b += poke(base + 0x800, 1 << 16)  # avail: flags 0, idx 1, ring[0] = 0
    b += wr(QUEUE_NOTIFY, q) + process() + rd(INT_STATUS) + wr(INT_ACK, 3)
    return b


def mmio_seeds():
    s = {}
    probe = b''.join(rd(o) for o in range(0, 0x100, 4))
    s['probe-modern'] = b'\x00' + probe
    s['probe-legacy'] = b'\x01' + probe
    s['init-modern-1q'] = b'\x00' + modern_init(1) + one_request()
    s['init-modern-2q-indirect-eventidx'] = (b'\x02' + modern_init(2, event_idx=True, indirect=True)
                                             + one_request(0, True) + one_request(1))
    s['init-modern-8q'] = b'\x0e' + modern_init(8, num=4)
    legacy = (b'\x01' + wr(STATUS, ACK) + wr(STATUS, ACK | DRIVER) + rd(DEV_FEAT)
              + wr(DRV_FEAT, 0x9) + wr(GUEST_PAGE_SIZE, 4096) + wr(QUEUE_SEL, 0)
              + rd(QUEUE_NUM_MAX) + wr(QUEUE_NUM, 8) + wr(QUEUE_ALIGN, 4096)
              + wr(QUEUE_PFN, (RAM_BASE + 0x1000) >> 12) + rd(QUEUE_PFN)
              + wr(STATUS, ACK | DRIVER | DRIVER_OK))
    s['init-legacy'] = legacy + desc_poke(0x1000, 0, RAM_BASE + 0xD000, 64, 2, 0) + \
        poke(0x1000 + 8 * 16, 1 << 16) + wr(QUEUE_NOTIFY, 0) + process() + rd(INT_STATUS)
    s['config-every-width'] = b'\x00' + b''.join(
        raw_rd(CONFIG + o, w) for o in range(0, 24) for w in range(4)) + raw_wr(CONFIG + 3, 0, 0x55)
    s['odd-widths-registers'] = b'\x00' + b''.join(
        raw_rd(o, w) + raw_wr(o, w, 0xFFFFFFFFFFFFFFFF) for o in (0, 1, 2, 3, 0x70, 0x71, 0xFE)
        for w in range(4))
    s['ready-without-addresses'] = b'\x00' + wr(STATUS, 3) + wr(QUEUE_NUM, 8) + wr(QUEUE_READY, 1)
    s['queue-sel-out-of-range'] = b'\x00' + wr(QUEUE_SEL, 9) + wr(QUEUE_NUM, 8) + \
        ring_addr(DESC, 0x1000) + wr(QUEUE_READY, 1) + rd(QUEUE_READY) + rd(QUEUE_NUM_MAX) + \
        wr(QUEUE_NOTIFY, 9) + wr(QUEUE_SEL, 0xFFFFFFFF) + wr(QUEUE_PFN, 1)
    s['status-backwards'] = b'\x00' + modern_init(1) + wr(STATUS, ACK) + wr(STATUS, 0xFF) + \
        wr(STATUS, 0x100) + wr(STATUS, 0)
    s['features-after-ok'] = b'\x00' + modern_init(1) + wr(DRV_FEAT_SEL, 1) + wr(DRV_FEAT, 0xFFFFFFFF) + \
        wr(DRV_FEAT_SEL, 7) + wr(DRV_FEAT, 1)
    s['unoffered-features'] = b'\x00' + wr(STATUS, 3) + wr(DRV_FEAT, 0xFFFFFFFF) + wr(STATUS, 0xB) + \
        rd(STATUS) + wr(STATUS, 0xF)
    s['queue-num-bad'] = b'\x00' + wr(STATUS, 3) + wr(QUEUE_NUM, 3) + ring_addr(DESC, 0x1000) + \
        ring_addr(AVAIL, 0x2000) + ring_addr(USED, 0x3000) + wr(QUEUE_READY, 1) + wr(QUEUE_NUM, 512) + \
        wr(QUEUE_NUM, 0x10000)
    s['ring-outside-ram'] = b'\x00' + wr(STATUS, 3) + wr(DRV_FEAT_SEL, 1) + wr(DRV_FEAT, 1) + \
        wr(STATUS, 0xB) + wr(QUEUE_NUM, 8) + wr(0x80, 0) + wr(0x84, 0x10) + \
        ring_addr(AVAIL, 0x2000) + ring_addr(USED, 0xFFF0) + wr(QUEUE_READY, 1) + wr(STATUS, 0xF)
    s['notify-flood-enomem'] = b'\x00' + modern_init(1) + knobs(1) + one_request() + \
        knobs(2 << 1) + (wr(QUEUE_NOTIFY, 0) + process()) * 8
    s['reset-in-between'] = b'\x00' + modern_init(1) + one_request() + wr(STATUS, 0) + \
        modern_init(1) + one_request()
    return s


# ---- fuzz_ring: header, then guest RAM from offset 0 ----

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
DESC_OFF, AVAIL_OFF, USED_OFF, BUF_OFF = 0x0000, 0x1000, 0x1800, 0x2000


class Ram:
    def __init__(self):
        self.b = bytearray()

    def put(self, off, data):
        if len(self.b) < off + len(data):
            self.b.extend(b'\0' * (off + len(data) - len(self.b)))
        self.b[off:off + len(data)] = data

    def desc(self, table, i, addr, length, flags, nxt=0):
        self.put(table + 16 * i, struct.pack('<QIHH', addr, length, flags, nxt))

    def avail(self, heads, idx=None, flags=0, num=8, start=0):
        """heads published from index start (the device's shadow start)."""
        idx = start + len(heads) if idx is None else idx
        self.put(AVAIL_OFF, struct.pack('<HH', flags, idx & 0xFFFF))
        for i, h in enumerate(heads):
            self.put(AVAIL_OFF + 4 + 2 * ((start + i) % num), struct.pack('<H', h))


def ring_header(log2, flags=0, start=0, push=1, boundaries=None, raw=None):
    b = struct.pack('<BB', log2, flags | (0x20 if boundaries else 0) | (0x40 if raw else 0))
    if boundaries:
        b += struct.pack('<HH', *boundaries)
    if raw:
        b += struct.pack('<QQQ', *raw)
    else:
        b += struct.pack('<HHH', DESC_OFF // 16, AVAIL_OFF // 2, USED_OFF // 4)
    return b + struct.pack('<HB', start, push)


def gpa(off):
    return RAM_BASE + off


def ring_seeds():
    s = {}
    r = Ram()  # header + data + status, three chains
    for c in range(3):
        h = 3 * c
        r.desc(DESC_OFF, h, gpa(BUF_OFF + 0x1000 * c), 16, F_NEXT, h + 1)
        r.desc(DESC_OFF, h + 1, gpa(BUF_OFF + 0x1000 * c + 16), 512, F_NEXT | F_WRITE * (c & 1), h + 2)
        r.desc(DESC_OFF, h + 2, gpa(BUF_OFF + 0x1000 * c + 528), 1, F_WRITE)
    r.avail([0, 3, 6], num=16)
    s['three-chains'] = ring_header(4) + bytes(r.b)
    s['three-chains-held-eventidx'] = ring_header(4, flags=1, push=0x20) + bytes(r.b)
    r.avail([0, 3, 6], num=16, start=0xFFFF)
    s['three-chains-wrap'] = ring_header(4, start=0xFFFF) + bytes(r.b)
    r.avail([0, 3, 6], num=16)
    s['three-chains-split8-boundaries'] = ring_header(4, flags=1 << 3, boundaries=(0x2100, 0x3005)) + bytes(r.b)
    s['three-chains-enomem'] = ring_header(4, flags=4) + bytes(r.b)

    r = Ram()  # indirect
    r.desc(0x3000, 0, gpa(BUF_OFF), 16, F_NEXT, 1)
    r.desc(0x3000, 1, gpa(BUF_OFF + 16), 4096, F_NEXT | F_WRITE, 2)
    r.desc(0x3000, 2, gpa(BUF_OFF + 8192), 1, F_WRITE)
    r.desc(DESC_OFF, 0, gpa(0x3000), 48, F_INDIRECT)
    r.avail([0])
    s['indirect'] = ring_header(3, flags=2) + bytes(r.b)
    s['indirect-not-negotiated'] = ring_header(3, flags=0) + bytes(r.b)
    s['indirect-split8'] = ring_header(3, flags=2 | (1 << 3)) + bytes(r.b)
    bad = bytearray(r.b)
    bad[8:12] = struct.pack('<I', 40)  # length not a multiple of 16
    s['indirect-len-40'] = ring_header(3, flags=2) + bytes(bad)
    r2 = Ram()
    r2.b = bytearray(r.b)
    r2.desc(0x3000, 1, gpa(0x3000), 48, F_INDIRECT | F_NEXT, 2)  # nested
    s['indirect-nested'] = ring_header(3, flags=2) + bytes(r2.b)
    r2.desc(0x3000, 1, gpa(BUF_OFF + 16), 4096, F_NEXT, 0)  # a loop inside the table
    s['indirect-loop'] = ring_header(3, flags=2) + bytes(r2.b)

    r = Ram()  # loops and bad links
    r.desc(DESC_OFF, 0, gpa(BUF_OFF), 16, F_NEXT, 1)
    r.desc(DESC_OFF, 1, gpa(BUF_OFF + 16), 16, F_NEXT, 0)
    r.avail([0])
    s['loop'] = ring_header(3) + bytes(r.b)
    r.desc(DESC_OFF, 1, gpa(BUF_OFF + 16), 16, F_NEXT, 200)
    s['next-beyond-num'] = ring_header(3) + bytes(r.b)
    r.avail([9])
    s['head-beyond-num'] = ring_header(3) + bytes(r.b)
    r.avail([0], idx=9)
    s['avail-jump'] = ring_header(3) + bytes(r.b)

    r = Ram()  # buffer rules
    r.desc(DESC_OFF, 0, gpa(BUF_OFF), 0, F_NEXT, 1)
    r.desc(DESC_OFF, 1, gpa(BUF_OFF), 1, F_WRITE)
    r.avail([0])
    s['zero-length'] = ring_header(3) + bytes(r.b)
    r.desc(DESC_OFF, 0, gpa(BUF_OFF), 1, F_WRITE | F_NEXT, 1)
    r.desc(DESC_OFF, 1, gpa(BUF_OFF + 1), 1, 0)
    s['readable-after-writable'] = ring_header(3) + bytes(r.b)
    r.desc(DESC_OFF, 0, gpa(0xFFF0), 0x20, 0)
    s['straddles-ram-end'] = ring_header(3) + bytes(r.b)
    r.desc(DESC_OFF, 0, 0xFFFFFFFFFFFFFF00, 0x1000, 0)
    s['address-overflow'] = ring_header(3) + bytes(r.b)
    r.desc(DESC_OFF, 0, 0x1000, 16, 0)
    s['below-ram'] = ring_header(3) + bytes(r.b)

    r = Ram()  # a chain as long as a 256-entry queue, split into more than REQ_MAX_IOV pieces
    for i in range(256):
        r.desc(DESC_OFF, i, gpa(BUF_OFF), 0x800, F_NEXT | (F_WRITE if i >= 128 else 0), i + 1)
    r.desc(DESC_OFF, 255, gpa(BUF_OFF), 0x800, F_WRITE)
    r.avail([0], num=256)
    s['chain-256-split512'] = struct.pack('<BB', 8, 2 << 3) + struct.pack(
        '<HHH', DESC_OFF // 16, 0x1000 // 2, 0x1400 // 4) + struct.pack('<HB', 0, 1) + bytes(r.b)

    s['rings-outside-ram'] = ring_header(3, raw=(0x1000, gpa(AVAIL_OFF), gpa(USED_OFF))) + b'\0' * 16
    s['rings-unaligned'] = ring_header(3, raw=(gpa(8), gpa(AVAIL_OFF + 1), gpa(USED_OFF + 2))) + b'\0' * 16
    s['queue-size-not-pow2'] = b'\x80' + struct.pack('<H', 100) + ring_header(0)[1:] + b'\0' * 16
    return s


# ---- fuzz_blk: device bytes, then operations ----

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES, T_RAW = 0, 1, 2, 3, 4, 5, 6


def blk_setup(ro=False, two_q=False, qlog2=3, event_idx=False, indirect=False, no_flush=False,
              wce=False, unoffered=False, serial_len=10, sectors=128, extra=0):
    dev = (ro << 0) | (two_q << 1) | (qlog2 << 2) | (event_idx << 5) | (indirect << 6) | (no_flush << 7)
    more = wce | (unoffered << 1) | (serial_len << 2)
    return struct.pack('<BBHB', dev, more, sectors, extra)


def seg(off, length, write=False, unit512=False, raw_len=False, raw_flags=None):
    sf = write | (raw_len << 1) | (unit512 << 2) | ((raw_flags is not None) << 3)
    b = struct.pack('<B', sf)
    b += struct.pack('<I', length) if raw_len else struct.pack('<B', length - 1)
    if raw_flags is not None:
        b += struct.pack('<H', raw_flags)
    return b + struct.pack('<H', off // 8)


def chain(tsel, sector, segs, q=0, indirect=False, header=True, raw_type=None, table=0x8000):
    ctl = q | (indirect << 1) | ((len(segs) - 1) << 2) | (header << 5)
    b = struct.pack('<BBB', 0, ctl, tsel)
    if raw_type is not None:
        b += struct.pack('<I', raw_type)
    b += struct.pack('<BQ', 0x80, sector) if sector > 0x7F else struct.pack('<B', sector)
    if indirect:
        b += struct.pack('<H', table // 8)
    return b + b''.join(segs)


def kick(q=0):
    return struct.pack('<BB', 1, q)


DISK = b'\x02'
HOLD = b'\x03'
REFUSE = b'\x05'


def fail(k):
    return struct.pack('<BB', 4, k)


def config(off, width_log2, val):
    return struct.pack('<BBBQ', 6, off, width_log2, val)


RESET = b'\x07'


def host(k):
    return struct.pack('<BB', 8, k)


def suppress(flags, used_event):
    return struct.pack('<BBH', 9, flags, used_event)


def rw(tsel, sector, nbytes=512, q=0, indirect=False, off=0):
    return chain(tsel, sector, [seg(off, 16), seg(off + 0x100, nbytes // 512, write=(tsel == T_IN), unit512=True),
                                seg(off + 0x100 + nbytes, 1, write=True)], q=q, indirect=indirect)


def blk_seeds():
    s = {}
    s['write-read-flush-getid'] = blk_setup() + rw(T_OUT, 3) + kick() + DISK + rw(T_IN, 3, off=0x2000) + \
        kick() + DISK + chain(T_FLUSH, 0, [seg(0x4000, 16), seg(0x4010, 1, write=True)]) + kick() + DISK + \
        chain(T_GET_ID, 0, [seg(0x5000, 16), seg(0x5100, 20, write=True), seg(0x5200, 1, write=True)]) + \
        kick() + DISK
    s['indirect-eventidx-2q'] = blk_setup(two_q=True, event_idx=True, indirect=True) + \
        rw(T_OUT, 1, 1024, q=0, indirect=True) + rw(T_IN, 1, 1024, q=1, off=0x3000) + kick(0) + kick(1) + \
        DISK + suppress(0, 1) + rw(T_IN, 5, q=1, indirect=True, off=0x6000) + kick(1) + DISK
    s['writethrough'] = blk_setup(no_flush=True) + rw(T_OUT, 7) + kick() + DISK + DISK
    s['wce-toggle'] = blk_setup(wce=True) + config(0x20, 0, 0) + rw(T_OUT, 7) + kick() + DISK + \
        config(0x20, 0, 1) + config(0, 3, 0xFFFFFFFFFFFFFFFF)
    s['read-only-write'] = blk_setup(ro=True) + rw(T_OUT, 0) + kick() + DISK
    s['beyond-capacity'] = blk_setup(sectors=16, extra=100) + rw(T_IN, 15, 1024) + rw(T_OUT, 16) + \
        rw(T_IN, 1 << 55) + rw(T_IN, 0xFFFFFFFFFFFFFFFF) + kick() + DISK
    s['unknown-type'] = blk_setup() + chain(T_RAW, 0, [seg(0, 16), seg(0x100, 1, write=True)],
                                            raw_type=0x12345678) + \
        chain(T_DISCARD, 0, [seg(0x200, 16), seg(0x300, 1, write=True)]) + kick() + DISK
    s['header-split'] = blk_setup() + chain(T_OUT, 2, [seg(0, 8), seg(8, 8), seg(0x100, 1, unit512=True),
                                                       seg(0x400, 1, write=True)]) + kick() + DISK
    s['header-short'] = blk_setup() + chain(T_IN, 2, [seg(0, 8), seg(0x100, 1, write=True)]) + kick()
    s['no-status'] = blk_setup() + chain(T_OUT, 2, [seg(0, 16), seg(0x100, 1, unit512=True)]) + kick() + DISK
    s['status-merged'] = blk_setup() + chain(T_IN, 2, [seg(0, 16), seg(0x100, 513, write=True, raw_len=True)]) + \
        kick() + DISK
    s['odd-length'] = blk_setup() + chain(T_IN, 2, [seg(0, 16), seg(0x100, 100, write=True),
                                                   seg(0x200, 1, write=True)]) + kick() + DISK
    s['disk-errors'] = blk_setup() + fail(0) + rw(T_OUT, 1) + fail(0x81) + rw(T_IN, 1, off=0x1000) + \
        kick() + DISK + REFUSE + rw(T_IN, 2, off=0x2000) + kick() + REFUSE + DISK
    s['reset-in-flight'] = blk_setup() + HOLD + rw(T_OUT, 1) + rw(T_IN, 2, off=0x1000) + kick() + RESET + \
        rw(T_IN, 2) + kick() + HOLD + DISK
    s['split-enomem'] = blk_setup() + host(2 << 1) + rw(T_IN, 0, 8192) + kick() + DISK + host(1) + \
        rw(T_IN, 0) + kick() + DISK
    s['unoffered-feature'] = blk_setup(unoffered=True) + rw(T_IN, 0) + kick()
    s['queue-size-2'] = blk_setup(qlog2=1) + rw(T_IN, 0) + rw(T_IN, 1) + rw(T_IN, 2) + kick() + DISK
    s['bad-descriptor-flags'] = blk_setup(indirect=True) + chain(
        T_IN, 0, [seg(0, 16), seg(0x100, 1, write=True, raw_flags=6)], indirect=True) + kick()
    return s


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    targets = {'fuzz_ioreq': ioreq_seeds(), 'fuzz_mmio': mmio_seeds(), 'fuzz_ring': ring_seeds(),
               'fuzz_blk': blk_seeds()}
    for target, seeds in targets.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith('seed-'):
                os.unlink(os.path.join(d, f))
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, 'seed-' + name), 'wb') as f:
                f.write(data)
        print('%s: %d seeds' % (target, len(seeds)))


if __name__ == '__main__':
    main()

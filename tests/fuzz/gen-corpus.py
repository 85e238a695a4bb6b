#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the seed corpora for the decode fuzz targets.

corpus/config-space/: config-space copies (QEMU cxl-rp shape and variants).
corpus/caparray/:     component blocks from offset 0x1000 on (what fuzz-caparray expects).
Run from anywhere; rewrites the files next to this script.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put16(b, off, v):
    b[off:off + 2] = struct.pack('<H', v)


def put32(b, off, v):
    b[off:off + 4] = struct.pack('<I', v & 0xffffffff)


def ext_header(cap_id, ver, nxt):
    return nxt << 20 | ver << 16 | cap_id


def dvsec(b, off, nxt, length, dvsec_id, vendor=0x1e98, rev=0):
    put32(b, off, ext_header(0x23, 1, nxt))
    put32(b, off + 4, length << 20 | rev << 16 | vendor)
    put16(b, off + 8, dvsec_id)


def qemu_cxl_rp():
    """QEMU cxl-rp: MSI 0x60, PCIe root port 0x90, AER 0x100, ACS 0x148, DVSECs 3, 4, 7, 8 (0x19c)."""
    b = bytearray(4096)
    put16(b, 0x00, 0x8086)
    put16(b, 0x02, 0x7075)
    put16(b, 0x06, 0x0010)
    b[0x0e] = 0x01
    put32(b, 0x10, 0x4)
    b[0x34] = 0x60
    b[0x60:0x62] = bytes([0x05, 0x80])
    b[0x80:0x82] = bytes([0x0d, 0x90])
    b[0x90:0x92] = bytes([0x10, 0x00])
    put16(b, 0x92, 0x4 << 4 | 0x2)
    put32(b, 0x100, ext_header(0x1, 2, 0x148))
    put32(b, 0x148, ext_header(0xd, 1, 0x150))
    dvsec(b, 0x150, 0x178, 0x28, 3)
    dvsec(b, 0x178, 0x188, 0x10, 4)
    dvsec(b, 0x188, 0x19c, 0x14, 7, rev=1)
    dvsec(b, 0x19c, 0x000, 0x24, 8)
    put32(b, 0x19c + 0xc, 1 << 8)
    return b


def type3_endpoint():
    """A memory device: DVSEC 0, and a locator with component (BAR0) and memdev (BAR2, 64-bit offset) blocks."""
    b = qemu_cxl_rp()
    put16(b, 0x92, 0x0 << 4 | 0x2)
    dvsec(b, 0x150, 0x19c, 0x38, 0, rev=1)
    dvsec(b, 0x19c, 0x000, 0x1c, 8)
    put32(b, 0x19c + 0xc, 1 << 8)
    put32(b, 0x19c + 0x14, 0x00010000 | 3 << 8 | 2)
    put32(b, 0x19c + 0x18, 0x1)
    return b


def looping_chain():
    b = qemu_cxl_rp()
    dvsec(b, 0x19c, 0x150, 0x24, 8)
    return b


def cap_header(cap_id, ver, ptr):
    return ptr << 20 | ver << 16 | cap_id


def block_from(dwords, size=0x1000):
    b = bytearray(size)
    for i, d in enumerate(dwords):
        put32(b, 4 * i, d)
    return b


def qemu72_rp_block():
    """The array read in a QEMU 7.2 guest, plus RAS registers at 0x80 (relative to 0x1000)."""
    b = block_from([0x05110001, 0x08020002, 0x0d820004, 0x11010005, 0x26010006, 0xa8410008])
    put32(b, 0x80 + 0x08, 0x1cfff)          # UE severity, QEMU reset value
    return b


def newer_qemu_block():
    return block_from([0x07110001, 0x08020002, 0x0d820004, 0x11010005, 0x26010006, 0xa8410008, 0, 0])


def ti_port_block():
    """RAS, a NULL slot, HDM, T&I at 0x300: full T&I capability, armed, isolated by link down, RP busy."""
    b = block_from([0x04110001, cap_header(2, 2, 0x080), 0, cap_header(5, 1, 0x110),
                    cap_header(9, 1, 0x300)])
    put32(b, 0x300, 0x360f131f)
    put32(b, 0x308, 0x0403001d)
    put32(b, 0x30c, 0x00004301)
    put32(b, 0x080, 0x00000480)             # RAS: mem data ECC + poison
    put32(b, 0x080 + 0x14, 7)               # first error pointer: bit 7
    for i in range(16):
        put32(b, 0x080 + 0x18 + 4 * i, 0xa0000000 + i)
    return b


def write(dirname, name, data):
    d = os.path.join(HERE, 'corpus', dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(bytes(data))


def main():
    rp = qemu_cxl_rp()
    write('config-space', 'qemu-cxl-rp', rp)
    write('config-space', 'qemu-cxl-rp-unprivileged-64', rp[:64])
    write('config-space', 'qemu-cxl-rp-256', rp[:256])
    write('config-space', 'type3-endpoint', type3_endpoint())
    write('config-space', 'looping-chain', looping_chain())
    write('config-space', 'gone', b'\xff' * 4096)

    write('caparray', 'qemu72-root-port', qemu72_rp_block())
    write('caparray', 'newer-qemu-null-slots', newer_qemu_block())
    write('caparray', 'ti-port-isolated', ti_port_block())
    write('caparray', 'gone', b'\xff' * 64)


if __name__ == '__main__':
    main()

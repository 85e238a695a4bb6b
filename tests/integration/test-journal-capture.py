#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness's journal capture reads all three forms libsystemd's sd_journal_sendv() uses:
plain FIELD=value lines, the binary-safe FIELD\\n<le64><data>\\n form (values with newlines),
and an entry too large for a datagram, passed as a memfd. The daemon's tests rely on it, so it
is checked against the real library, not against our own encoder.

Also: finish(), which Daemon.stop() calls once the daemon has exited, returns only with every entry the
sender sent, however far behind the reader thread is (made slow here on purpose)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# A tiny sender: sd_journal_sendv() through ctypes, run inside the namespace.
SENDER = r"""
import ctypes, sys
lib = ctypes.CDLL("libsystemd.so.0")
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_char_p), ("len", ctypes.c_size_t)]
def send(*fields):
    arr = (iovec * len(fields))(*[iovec(f, len(f)) for f in fields])
    r = lib.sd_journal_sendv(arr, len(fields))
    if r < 0:
        sys.exit(f"sd_journal_sendv: {r}")
send(b"MESSAGE=plain", b"PRIORITY=6", b"CXL_TEST=1")
send(b"MESSAGE=two\nlines", b"CXL_TEST=2", b"CXL_TEST_BINARY=a\nb\x00c")
send(b"MESSAGE=big", b"CXL_TEST=3", b"CXL_TEST_BIG=" + b"x" * (12 << 20))
"""

BURST = r"""
import ctypes, sys
lib = ctypes.CDLL("libsystemd.so.0")
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_char_p), ("len", ctypes.c_size_t)]
for i in range(40):
    f = [b"MESSAGE=burst", b"CXL_TEST_BURST=%d" % i]
    if lib.sd_journal_sendv((iovec * 2)(*[iovec(x, len(x)) for x in f]), 2) < 0:
        sys.exit("sd_journal_sendv failed")
"""


class SlowCapture(harness.JournalCapture):
    """A reader that lags, as the capture's thread does on a loaded machine."""

    def _receive_one(self):
        super()._receive_one()
        time.sleep(0.02)


def check_finish_catches_up(work):
    j = SlowCapture(os.path.join(work, "journal-slow"))
    try:
        r = harness.run_with_journal(j, ["/usr/bin/python3", "-c", BURST])
        assert r.returncode == 0, r.stderr
        behind = 40 - len(j.find(MESSAGE="burst"))
        j.finish()
        got = [e["CXL_TEST_BURST"] for e in j.find(MESSAGE="burst")]
        assert got == [str(i) for i in range(40)], got
        print(f"ok: finish() took in all 40 entries of a sender that had exited ({behind} not yet read then)")
    finally:
        j.close()


def main():
    harness.check_environment()
    with harness.Workdir() as work:
        j = harness.JournalCapture(os.path.join(work, "journal"))
        try:
            r = harness.run_with_journal(j, ["/usr/bin/python3", "-c", SENDER])
            if r.returncode != 0 and "libsystemd" in r.stderr:
                harness.skip("libsystemd.so.0 cannot be loaded by ctypes")
            assert r.returncode == 0, r.stderr
            (plain,) = j.wait_for(CXL_TEST="1")
            assert plain["MESSAGE"] == "plain" and plain["PRIORITY"] == "6", plain
            (binary,) = j.wait_for(CXL_TEST="2")
            assert binary["MESSAGE"] == "two\nlines", binary
            assert binary["CXL_TEST_BINARY"] == "a\nb\x00c", binary
            (big,) = j.wait_for(CXL_TEST="3")
            assert big["CXL_TEST_BIG"] == "x" * (12 << 20)
            assert j.n_memfd >= 1, "the 12 MiB entry (over libsystemd's 8 MiB send buffer) should have come as a memfd"
        finally:
            j.close()
        check_finish_catches_up(work)
    print("ok: plain, binary-safe and memfd journal entries parsed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

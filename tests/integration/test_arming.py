#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The arming gate in the real daemon on the simulated host.

- arm=auto arms a devdax-only port: control bit 16 (and ERR_COR 25, which the simulated capability
  has) reads back set, bit 26 stays 0 (no interrupt source; on a port without the interrupt
  capability it could not be set anyway), and nothing outside the capability is ever set;
- a port with a kmem device is refused (dax-system-ram), arm=never is refused (config-never),
  each decision is logged exactly once with its MESSAGE_ID and fields;
- rebinding an armed port's dax device to kmem disarms it within one poll interval
  (on-unsafe=disarm), and only warns on a port configured on-unsafe=alert;
- a refused port becomes armed once what was unsafe below it is gone (blocks offline, back to devdax);
- after a restart every decision is taken again from what is there: a port left armed and unsafe
  (on-unsafe=alert) is alerted on, not disarmed; one the daemon disarmed stays refused;
- a reload that lifts arm=never arms that port.
(The simulator removes a dax range's memory blocks when it leaves kmem, as the kernel does, so an
online block is reached here only through kmem; the memory-online reason is covered by the gate's
unit tests.)
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ARMING_DECISION = "4adee6c4938a45089bd672125421e358"
MESSAGE_ID_ARMED_PORT_UNSAFE = "09c8f721f2ff45978a517016f6494c09"

CTL_MEM_ISOLATION_ENABLE = 1 << 16
CTL_ERRCOR_ENABLE = 1 << 25
CTL_INTERRUPT_ENABLE = 1 << 26
POLL_S = 1.0


def status(tb, bdf):
    out = tb.cmd("status", "--port", bdf)
    kv = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            kv[k] = v.split()[0]
    return {"capability": int(kv["capability"], 16), "control": int(kv["control"], 16)}


def control(tb, bdf):
    return status(tb, bdf)["control"]


def check_within_capability(tb, bdf):
    s = status(tb, bdf)
    # Defined control bits whose capability bit is 0 must read 0 (cxl-registers.md §3).
    for cap_bit, ctl_bit in ((16, 16), (17, 17), (25, 25), (26, 26), (4, 4)):
        if not s["capability"] & (1 << cap_bit):
            assert not s["control"] & (1 << ctl_bit), (bdf, hex(s["capability"]), hex(s["control"]), ctl_bit)


def decisions(d, bdf):
    return d.journal.find(MESSAGE_ID=MESSAGE_ID_ARMING_DECISION, CXL_ISOLD_PORT=bdf)


def block_indices(tb, dax):
    """Memory blocks of a dax device's range that exist in the testbed."""
    base = os.path.join(tb.dir, "sys/bus/dax/devices", dax)
    start = int(open(os.path.join(base, "resource")).read(), 16)
    size = int(open(os.path.join(base, "size")).read())
    bs = int(open(os.path.join(tb.dir, "sys/devices/system/memory/block_size_bytes")).read(), 16)
    out = []
    for i in range(start // bs, (start + size) // bs):
        if os.path.exists(os.path.join(tb.dir, f"sys/devices/system/memory/memory{i}")):
            out.append(i)
    return out


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        # Default memory: port 0 devdax, 1 system-ram, 2 devdax, 3 none, 4 devdax, 5 system-ram.
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=6, port_opts=["0:no-interrupt"])
        p0, p1, p2, p3, p4, p5 = tb.ports
        assert not status(tb, p0)["capability"] & (1 << 26), "port-opt no-interrupt did not take"
        assert status(tb, p2)["capability"] & (1 << 26), "port 2 should have the interrupt capability"
        for bdf in tb.ports:
            assert control(tb, bdf) == 0, (bdf, "armed before the daemon ran")

        config = (f"[daemon]\npoll-interval={int(POLL_S * 1000)}ms\n\n"
                  f"[port \"{p2}\"]\non-unsafe=alert\n\n"
                  f"[port \"{p3}\"]\narm=never\n\n"
                  f"[port \"{p4}\"]\narm=auto\ntimeout=0x2\n\n"
                  f"[port \"{p5}\"]\narm=force\n\n"
                  "[policy \"default\"]\naction=log\n")
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()

            # --- startup decisions ---
            for bdf in (p0, p2, p4):
                c = control(tb, bdf)
                assert c & CTL_MEM_ISOLATION_ENABLE, (bdf, hex(c))
                assert c & CTL_ERRCOR_ENABLE, (bdf, hex(c), "ERR_COR is supported and should be enabled")
                assert not c & CTL_INTERRUPT_ENABLE, (bdf, hex(c), "no interrupt source: bit 26 must stay 0")
                check_within_capability(tb, bdf)
                (e,) = harness.wait_until(lambda: decisions(d, bdf), what=f"decision for {bdf}")
                assert e["CXL_ISOLD_GATE_REASON"] == "ok", e
                assert e["CXL_ISOLD_ARMED"] == "1", e
                assert int(e["CXL_ISOLD_CONTROL"], 16) == c, (e, hex(c))
            # [port] timeout=0x2 (range A, supported): timeout enable and value written.
            c4 = control(tb, p4)
            assert c4 & (1 << 4) and c4 & 0xF == 0x2, hex(c4)
            assert not control(tb, p0) & 0x1F, hex(control(tb, p0))

            # arm=force arms what auto refuses, loudly, and says what auto would have refused.
            assert control(tb, p5) & CTL_MEM_ISOLATION_ENABLE, hex(control(tb, p5))
            (e,) = harness.wait_until(lambda: decisions(d, p5), what=f"decision for {p5}")
            assert e["CXL_ISOLD_GATE_REASON"] == "forced" and e["CXL_ISOLD_ARMED"] == "1", e
            assert "dax-system-ram" in e["CXL_ISOLD_GATE_DETAIL"] and int(e["PRIORITY"]) == 4, e

            for bdf, reason in ((p1, "dax-system-ram"), (p3, "config-never")):
                assert not control(tb, bdf) & CTL_MEM_ISOLATION_ENABLE, (bdf, hex(control(tb, bdf)))
                (e,) = harness.wait_until(lambda: decisions(d, bdf), what=f"decision for {bdf}")
                assert e["CXL_ISOLD_GATE_REASON"] == reason, e
                assert e["CXL_ISOLD_ARMED"] == "0", e
                assert int(e["PRIORITY"]) == 5, e
                if reason == "dax-system-ram":
                    assert "kmem" in e["CXL_ISOLD_GATE_DETAIL"], e
                    assert f"{bdf}: not arming CXL.mem isolation: dax-system-ram" in e["MESSAGE"], e

            # Logged once, not per poll or per unrelated uevent.
            tb.cmd("uevent", "--sysfs", "/sys/bus/dax/devices/dax0.0", "--action", "change", "--subsystem", "dax")
            time.sleep(2 * POLL_S)
            for bdf in tb.ports:
                assert len(decisions(d, bdf)) == 1, (bdf, decisions(d, bdf))
            assert not d.journal.find(MESSAGE_ID=MESSAGE_ID_ARMED_PORT_UNSAFE)

            # --- armed port becomes unsafe, on-unsafe=disarm (the default) ---
            t0 = time.monotonic()
            tb.cmd("dax", "--name", "dax0.0", "--mode", "system-ram")
            harness.wait_until(lambda: not control(tb, p0) & CTL_MEM_ISOLATION_ENABLE, timeout=5,
                               what=f"{p0} disarmed")
            elapsed = time.monotonic() - t0
            assert elapsed <= POLL_S, f"disarmed after {elapsed:.2f}s, more than one poll interval ({POLL_S}s)"
            assert not control(tb, p0) & (CTL_ERRCOR_ENABLE | CTL_INTERRUPT_ENABLE), hex(control(tb, p0))
            (e,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ARMED_PORT_UNSAFE, CXL_ISOLD_PORT=p0, timeout=5)
            assert e["CXL_ISOLD_UNSAFE_REACTION"] == "disarm", e
            assert e["CXL_ISOLD_GATE_REASON"] in ("dax-system-ram", "memory-online"), e
            assert e["CXL_ISOLD_ARMED"] == "0", e

            # --- on-unsafe=alert: the port stays armed, a warning says why ---
            t0 = time.monotonic()
            tb.cmd("dax", "--name", "dax2.0", "--mode", "system-ram")
            (e,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ARMED_PORT_UNSAFE, CXL_ISOLD_PORT=p2, timeout=5)
            assert time.monotonic() - t0 <= POLL_S + 0.5, "alert later than one poll interval"
            assert e["CXL_ISOLD_UNSAFE_REACTION"] == "alert", e
            assert int(e["PRIORITY"]) == 4, e
            assert e["CXL_ISOLD_ARMED"] == "1", e
            time.sleep(0.5)
            assert control(tb, p2) & CTL_MEM_ISOLATION_ENABLE, hex(control(tb, p2))

            # --- a refused port is armed once it is safe: blocks offline, dax back to devdax ---
            blocks = block_indices(tb, "dax1.0")
            assert blocks, "dax1.0 should have memory blocks"
            for i in blocks:
                tb.cmd("memblock", "--index", str(i), "--state", "offline")
            assert not control(tb, p1) & CTL_MEM_ISOLATION_ENABLE, "armed while still bound to kmem"
            tb.cmd("dax", "--name", "dax1.0", "--mode", "devdax")
            harness.wait_until(lambda: control(tb, p1) & CTL_MEM_ISOLATION_ENABLE, timeout=5, what=f"{p1} armed")
            e = harness.wait_until(lambda: [x for x in decisions(d, p1) if x["CXL_ISOLD_ARMED"] == "1"],
                                   what=f"armed decision for {p1}")[0]
            assert e["CXL_ISOLD_GATE_REASON"] == "ok", e

            rc = d.stop()
            assert rc == 0, f"exit status {rc}"

            # --- restart: every decision is taken again from what is there now ---
            d.start()
            # Armed by the previous run and still safe: kept, and said so once.
            (e,) = harness.wait_until(lambda: decisions(d, p1), what=f"decision for {p1} after restart")
            assert e["CXL_ISOLD_GATE_REASON"] == "ok" and e["CXL_ISOLD_ARMED"] == "1", e
            assert control(tb, p1) & CTL_MEM_ISOLATION_ENABLE
            (e,) = harness.wait_until(lambda: decisions(d, p0), what=f"decision for {p0} after restart")
            assert e["CXL_ISOLD_GATE_REASON"] == "dax-system-ram", e
            # Left armed under on-unsafe=alert, and found so: alerted on, not disarmed behind the operator's back.
            (e,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ARMED_PORT_UNSAFE, CXL_ISOLD_PORT=p2, timeout=5)
            assert e["CXL_ISOLD_UNSAFE_REACTION"] == "alert", e
            assert control(tb, p2) & CTL_MEM_ISOLATION_ENABLE
            (e,) = harness.wait_until(lambda: decisions(d, p4), what=f"decision for {p4} after restart")
            assert e["CXL_ISOLD_GATE_REASON"] == "ok" and e["CXL_ISOLD_ARMED"] == "1", e

            # --- reload: arm=never lifted for p3 -> the gate decides again, and arms it ---
            assert not control(tb, p3) & CTL_MEM_ISOLATION_ENABLE
            d.write_config(config.replace(f"[port \"{p3}\"]\narm=never\n\n", ""))
            d.send_signal(signal.SIGHUP)
            harness.wait_until(lambda: control(tb, p3) & CTL_MEM_ISOLATION_ENABLE, timeout=5,
                               what=f"{p3} armed after the reload")
            e = decisions(d, p3)[-1]
            assert e["CXL_ISOLD_GATE_REASON"] == "ok" and e["CXL_ISOLD_ARMED"] == "1", e
            assert len(decisions(d, p3)) == 2, decisions(d, p3)

            # A port the daemon armed detects isolation end to end.
            tb.inject(p4, "mem-link-down")
            (ev,) = d.wait_for_event(p4, timeout=2 * POLL_S + 2)
            assert ev["kind"] == "mem-link-down", ev
            assert int(ev["control"], 16) & CTL_MEM_ISOLATION_ENABLE, ev

            assert d.proc.poll() is None, "daemon died"
            rc = d.stop()
            assert rc == 0, f"exit status {rc}"
            # The daemon never clears isolation on its own.
            assert "kind=mem-link-down" in tb.cmd("status", "--port", p4)
        except BaseException:
            print(d.output() if d.n_starts else "", file=sys.stderr)
            raise
        finally:
            d.cleanup()
    print("ok: devdax ports armed within their capability, unsafe ports refused with their reason, "
          "kmem rebind disarms (or alerts) within one poll interval, a port made safe is armed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

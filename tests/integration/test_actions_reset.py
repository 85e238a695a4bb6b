#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""reset: a function reset below accelerator ports only.

A port declared kind=accelerator gets "1" written to the reset attribute of the
function below it; a kind=memory port and a port of undeclared kind are refused
with the reason, and their functions' reset attributes are left untouched. The
simulator's functions have no reset attribute (no reset method), so the test
creates one where the kernel would have it."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def function_below(tb, bdf):
    port_dir = os.path.join(tb.dir, "sys/bus/pci/devices", bdf)
    (fn,) = [n for n in os.listdir(port_dir) if len(n) == 12 and n[4] == ":" and n[7] == ":" and n[10] == "."]
    return fn, os.path.join(port_dir, fn, "reset")


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=3,
                                port_opts=[f"{i}:mem=devdax" for i in range(3)])
        p_acc, p_mem, p_unknown = tb.ports
        resets = {}
        for bdf in tb.ports:
            tb.arm(bdf)
            fn, path = function_below(tb, bdf)
            open(path, "w").close()
            resets[bdf] = (fn, path)

        config = ("[daemon]\npoll-interval=50ms\n\n"
                  f"[port \"{p_acc}\"]\nkind=accelerator\n\n"
                  # By host bridge: the load-time check (which refuses reset for a kind=memory port it can
                  # compare) cannot judge a BDF glob against it, so the action's own refusal is what acts.
                  # (Until ports are discovered; a check then may refuse this config, and this case moves.)
                  f"[port \"host-bridge:pci{p_mem[:7]}\"]\nkind=memory\n\n"
                  "[policy \"reset\"]\nmatch-port=0000:*\naction=reset\ntimeout=20s\n")
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()
            for bdf in tb.ports:
                tb.inject(bdf, "mem-link-down")

            def result(bdf):
                (ev,) = d.wait_for_event(bdf)
                (r,) = d.wait_for_actions(ev["id"], 1, timeout=30)
                assert r["action"] == "reset", r
                return r

            fn, path = resets[p_acc]
            r = result(p_acc)
            assert r["result"] == "success" and r["detail"] == f"{fn}: reset", r
            with open(path) as f:
                assert f.read() == "1", "reset attribute not written"

            r = result(p_mem)
            assert r["result"] == "failed" and r["error"] == -1, r      # -EPERM
            assert r["detail"] == (f"refused: {p_mem} is a memory port; reset is only for ports configured "
                                   "kind=accelerator"), r
            r = result(p_unknown)
            assert r["result"] == "failed", r
            assert r["detail"].startswith(f"refused: {p_unknown} is not declared an accelerator port"), r
            for bdf in (p_mem, p_unknown):
                assert os.path.getsize(resets[bdf][1]) == 0, f"{bdf}: reset written on a refused port"
        except Exception:
            print(d.output())
            raise
        finally:
            d.stop()
            d.cleanup()
    print("ok")


if __name__ == "__main__":
    main()

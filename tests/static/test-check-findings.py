#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The static-analysis gate fails when it should: a leak report on a variable declared _cleanup_ (even
across lines) passes, the same report on a plain variable fails, a listed finding passes only while its
line reads as listed, and an unlisted finding fails."""

import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-findings.py")

SOURCE = """\
int f(void)
{
        _cleanup_free_ char *a = NULL,
                           *b = NULL;
        char *plain = NULL;

        if (x())
                return -ENOMEM;
        strcpy(dst, src);
        return 0;
}
"""


def run(top, cppcheck, tidy, justified):
    for name, text in (("cppcheck.txt", cppcheck), ("tidy.txt", tidy), ("justified.conf", justified)):
        with open(os.path.join(top, name), "w") as f:
            f.write(text)
    r = subprocess.run([sys.executable, CHECKER, top, top] + [os.path.join(top, n) for n in
                       ("cppcheck.txt", "tidy.txt", "justified.conf")], capture_output=True, text=True)
    return r.returncode, r.stdout


def main():
    with tempfile.TemporaryDirectory() as top:
        os.makedirs(os.path.join(top, "lib"))
        with open(os.path.join(top, "lib", "x.c"), "w") as f:
            f.write(SOURCE)
        leak_b = "lib/x.c:8: error(memleak): Memory leak: b\n"
        leak_plain = "lib/x.c:8: error(memleak): Memory leak: plain\n"
        tidy_b = "lib/x.c:8:17: warning: Potential leak of memory pointed to by 'b' [clang-analyzer-unix.Malloc]\n"
        strcpy = ("lib/x.c:9:9: warning: Call to function 'strcpy' is insecure [clang-analyzer-security."
                  "insecureAPI.strcpy]\n")
        listed = "clang-tidy|lib/x.c|clang-analyzer-security.insecureAPI.strcpy|strcpy(dst, src);  # checked above\n"

        rc, out = run(top, leak_b, tidy_b, "")
        assert rc == 0 and out.count("ok (_cleanup_ declared)") == 2, out
        rc, out = run(top, leak_plain, "", "")
        assert rc == 1 and "UNJUSTIFIED  lib/x.c:8: cppcheck memleak" in out, out
        rc, out = run(top, "", strcpy, "")
        assert rc == 1 and "key: clang-tidy|lib/x.c|clang-analyzer-security.insecureAPI.strcpy|strcpy(dst, src);" \
            in out, out
        rc, out = run(top, "", strcpy, listed)
        assert rc == 0 and "ok (justified.conf:1)" in out, out
        # The listed line changes: the entry no longer covers it, and says it matches nothing.
        with open(os.path.join(top, "lib", "x.c"), "w") as f:
            f.write(SOURCE.replace("strcpy(dst, src);", "strcpy(dst, other);"))
        rc, out = run(top, "", strcpy, listed)
        assert rc == 1 and "matches nothing any more" in out, out
        # An entry without a reason is refused.
        rc, out = run(top, "", "", "clang-tidy|lib/x.c|c|strcpy(dst, src);\n")
        assert rc != 0, out
    print("ok: the static-analysis gate accepts _cleanup_ leaks and listed lines only")


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared plumbing for integration tests of the real cxl-isold binary.

- JournalCapture: a SOCK_DGRAM socket speaking journald's native protocol
  (plain KEY=value lines, the binary-safe KEY\\n<le64 length><data>\\n form,
  and whole entries passed as a memfd over SCM_RIGHTS). The daemon runs in a
  private mount namespace where this socket is /run/systemd/journal/socket.
- NotifyCapture: a NOTIFY_SOCKET of our own, collecting sd_notify messages.
- SimTestbed: tests/sim/cxl-isol-sim (a umockdev testbed + the injector).
- Daemon: starts cxl-isold inside the namespace and the testbed.

Every wait is bounded; nothing here talks to anything but local files and
sockets. Tests that cannot run call skip() (exit 77 with one line).
"""

import array
import errno
import json
import mmap
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def check_environment():
    """Skip unless we can make a private mount namespace (root, unshare)."""
    if os.geteuid() != 0:
        skip("needs root for a private mount namespace (unshare -m)")
    if not shutil.which("unshare"):
        skip("unshare(1) is not installed")
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if r.returncode != 0:
        skip("cannot create a mount namespace here: " + r.stderr.decode(errors="replace").strip())


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- journald native protocol -------------------------------------------------

def parse_journal_native(data):
    """Parse one native-protocol entry into {FIELD: value or [values]} (values are str, or bytes if not UTF-8)."""
    fields = {}
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        eq = data.find(b"=", pos)
        if nl < 0:
            nl = n
        if 0 <= eq < nl:
            name = data[pos:eq].decode()
            value = data[eq + 1:nl]
            pos = nl + 1
        else:
            # Binary-safe form: NAME\n, little-endian 64-bit length, the data, \n.
            name = data[pos:nl].decode()
            if nl + 9 > n:
                raise ValueError(f"truncated binary field {name!r}")
            (length,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 9
            value = data[start:start + length]
            if len(value) != length or data[start + length:start + length + 1] != b"\n":
                raise ValueError(f"malformed binary field {name!r}")
            pos = start + length + 1
        try:
            value = value.decode()
        except UnicodeDecodeError:
            pass
        if name in fields:
            if not isinstance(fields[name], list):
                fields[name] = [fields[name]]
            fields[name].append(value)
        else:
            fields[name] = value
    return fields


class JournalCapture:
    """Receives what the daemon sends to journald."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.05)
        self.entries = []
        self.n_memfd = 0
        self.errors = []
        # Drain all the time: an AF_UNIX datagram queue holds only ~10 messages, and a full one
        # blocks the sender, as a stuck journald would.
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        while not self.closing:
            try:
                self._receive_one()
            except socket.timeout:
                continue
            except OSError:
                if self.closing:
                    return
                raise
            except ValueError as e:
                self.errors.append(str(e))

    def poll(self):
        with self.lock:
            if self.errors:
                raise AssertionError("unparseable journal entries: " + "; ".join(self.errors))
            return list(self.entries)

    def _receive_one(self):
        fd_size = array.array("i").itemsize
        # libsystemd raises its send buffer to 8 MiB, so a datagram can be that large.
        msg, anc, flags, _addr = self.sock.recvmsg(16 << 20, socket.CMSG_SPACE(4 * fd_size))
        arrived_ns = time.monotonic_ns()
        if flags & socket.MSG_TRUNC:
            raise ValueError("journal datagram truncated")
        fds = []
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(cdata[:len(cdata) - (len(cdata) % fd_size)])
                fds.extend(a)
        for fd in fds:
            # A large entry arrives as a sealed memfd and an empty datagram.
            try:
                size = os.fstat(fd).st_size
                msg = os.pread(fd, size, 0)
                self.n_memfd += 1
            finally:
                os.close(fd)
        if msg:
            self._add_entry(parse_journal_native(msg), arrived_ns)

    def _add_entry(self, entry, arrived_ns):
        """arrived_ns: CLOCK_MONOTONIC right after the datagram was received, before parsing (bench/)."""
        with self.lock:
            self.entries.append(entry)

    def find(self, **match):
        return [e for e in self.poll() if all(e.get(k) == v for k, v in match.items())]

    def wait_for(self, timeout=10.0, count=1, **match):
        return wait_until(lambda: (lambda r: r if len(r) >= count else None)(self.find(**match)),
                          timeout, what=f"{count} journal entr(ies) with {match}")

    def messages(self):
        return [e.get("MESSAGE", "") for e in self.poll()]

    def finish(self):
        """Stop the reader and take in what is still queued, once the sender is gone: the daemon's last
        messages are often sent right before it exits, and the reader may lag behind on a busy machine."""
        if self.sock.fileno() < 0:
            return
        self.closing = True
        self.thread.join(timeout=2)
        self.sock.setblocking(False)
        while True:
            try:
                self._receive_one()
            except (BlockingIOError, OSError):
                break

    def close(self):
        self.finish()
        self.sock.close()


class NotifyCapture:
    """A NOTIFY_SOCKET: every datagram is a list of KEY=VALUE lines."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.messages = []
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        while not self.closing:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            msg = {}
            for line in data.decode(errors="replace").split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    msg[k] = v
            with self.lock:
                self.messages.append(msg)

    def poll(self):
        with self.lock:
            return list(self.messages)

    def values(self, key):
        return [m[key] for m in self.poll() if key in m]

    def wait_for(self, key, predicate=lambda v: True, timeout=10.0):
        return wait_until(lambda: next((v for v in self.values(key) if predicate(v)), None), timeout,
                          what=f"sd_notify {key}")

    def close(self):
        self.closing = True
        self.thread.join(timeout=2)
        self.sock.close()


# --- simulated host -----------------------------------------------------------

class SimTestbed:
    def __init__(self, build_dir, directory, n_ports=4, port_opts=()):
        self.build_dir = build_dir
        self.sim = os.path.join(build_dir, "tests", "sim", "cxl-isol-sim")
        if not os.access(self.sim, os.X_OK):
            skip(f"simulator not built: {self.sim}")
        self.dir = directory
        args = [self.sim, "create", "--dir", directory, "--ports", str(n_ports)]
        for opt in port_opts:
            args += ["--port-opt", opt]
        out = self._run(args)
        self.ports = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "port":
                self.ports.append(parts[1])

    def _run(self, args, check=True):
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stdout} {r.stderr}")
        return r.stdout

    def cmd(self, *args, check=True):
        return self._run([self.sim, args[0], "--testbed", self.dir] + list(args[1:]), check=check)

    def wrap(self, argv):
        """argv run with the testbed as /sys."""
        return [self.sim, "run", "--testbed", self.dir, "--"] + list(argv)

    def arm(self, bdf, timeout_value=None):
        args = ["arm", "--port", bdf]
        if timeout_value is not None:
            args += ["--timeout-value", timeout_value]
        return self.cmd(*args)

    def inject(self, bdf, kind):
        out = self.cmd("inject", "--port", bdf, "--kind", kind)
        if "not isolated" in out:
            raise AssertionError(f"injection of {kind} on {bdf} did not isolate: {out}")
        return out

    def gone(self, bdf):
        return self.cmd("gone", "--port", bdf)

    def clear(self, bdf):
        return self.cmd("clear", "--port", bdf)

    def list_ports(self, daemon_binary):
        out = subprocess.run(self.wrap([daemon_binary, "--list-ports", "--json"]), capture_output=True,
                             text=True, timeout=60, check=True).stdout
        return {p["bdf"]: p for p in json.loads(out)["ports"]}

    def set_control_bits(self, port_info, bits):
        """Firmware-style enable of control bits the injector's `arm` does not set (CXL.cache isolation).

        Writes the control dword of the simulated BAR file directly, as platform firmware would have
        programmed it before the OS started."""
        block = port_info["register_block"]
        path = self.dir + port_info["sysfs_path"] + f"/resource{block['bir']}"
        offset = int(block["offset"], 16) + int(port_info["ti_offset"], 16) + 8
        with open(path, "r+b") as f:
            with mmap.mmap(f.fileno(), 0) as m:
                (value,) = struct.unpack_from("<I", m, offset)
                struct.pack_into("<I", m, offset, value | bits)


# --- a private system bus ----------------------------------------------------------

class PrivateBus:
    """A dbus-daemon in directory; policy_include=None makes a bus that lets everyone call anything."""

    def __init__(self, directory, policy_include):
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)      # nobody must reach the socket
        self.socket = os.path.join(directory, "bus")
        self.address = f"unix:path={self.socket}"
        conf = os.path.join(directory, "bus.conf")
        if policy_include:
            # Debian's system.conf defaults, then ours, as the real system bus includes it.
            policy = textwrap.dedent(f"""\
                <policy context="default">
                  <allow user="*"/>
                  <deny own="*"/>
                  <deny send_type="method_call"/>
                  <allow send_type="signal"/>
                  <allow send_requested_reply="true" send_type="method_return"/>
                  <allow send_requested_reply="true" send_type="error"/>
                  <allow receive_type="method_call"/>
                  <allow receive_type="method_return"/>
                  <allow receive_type="error"/>
                  <allow receive_type="signal"/>
                  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
                  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
                </policy>
                <policy user="root">
                  <allow own="*"/>
                </policy>
                <include>{policy_include}</include>
                """)
        else:
            policy = textwrap.dedent("""\
                <policy context="default">
                  <allow user="*"/>
                  <allow own="*"/>
                  <allow send_type="method_call"/>
                  <allow send_type="signal"/>
                  <allow send_requested_reply="true" send_type="method_return"/>
                  <allow send_requested_reply="true" send_type="error"/>
                  <allow receive_type="method_call"/>
                  <allow receive_type="method_return"/>
                  <allow receive_type="error"/>
                  <allow receive_type="signal"/>
                </policy>
                """)
        with open(conf, "w") as f:
            f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                    f"<busconfig>\n<type>system</type>\n<listen>{self.address}</listen>\n"
                    f"<auth>EXTERNAL</auth>\n{policy}</busconfig>\n")
        self.proc = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, 10,
                           what="dbus-daemon socket")
        if not os.path.exists(self.socket):
            raise AssertionError("dbus-daemon did not start: " + self.proc.stderr.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the daemon -----------------------------------------------------------------

# Inside the private mount namespace: a fresh /run/systemd whose journal socket is ours.
_NAMESPACE_SETUP = r"""
set -e
if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; else mount -t tmpfs tmpfs /run; fi
mkdir -p /run/systemd/journal
mount --bind "$CXL_TEST_JOURNAL_DIR" /run/systemd/journal
unset CXL_TEST_JOURNAL_DIR
exec "$@"
"""


class KernelLog:
    """The real kernel log (/dev/kmsg) from now on: what the daemon writes there is read back as the kernel
    holds it. unavailable says why it cannot be read (no /dev/kmsg in a container, say), else None."""

    def __init__(self):
        self.fd = None
        self.unavailable = None
        try:
            self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError as e:
            self.unavailable = f"/dev/kmsg cannot be read: {e.strerror}"
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
        self.records = []

    def _drain(self):
        while True:
            try:
                raw = os.read(self.fd, 8192)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EPIPE:     # overwritten while we read: go on with what is left
                    continue
                raise
            if not raw:
                return
            # "PRIO_FACILITY,SEQ,USEC,FLAGS;message\n continuation lines"
            head, _, rest = raw.decode(errors="replace").partition(";")
            fields = head.split(",")
            self.records.append({"priority": int(fields[0]) & 7, "facility": int(fields[0]) >> 3,
                                 "message": rest.split("\n", 1)[0]})

    def wait_for(self, *substrings, timeout=10.0):
        """The records holding every one of substrings, waited for."""
        def found():
            self._drain()
            return [r for r in self.records if all(s in r["message"] for s in substrings)]
        return wait_until(found, timeout=timeout, what=f"a kernel log record with {substrings}")

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def run_with_journal(journal, argv, env=None, timeout=30):
    """Run argv in a private mount namespace whose /run/systemd/journal/socket is journal's socket."""
    env = dict(env if env is not None else os.environ)
    env["CXL_TEST_JOURNAL_DIR"] = journal.directory
    return subprocess.run(["unshare", "-m", "--", "sh", "-c", _NAMESPACE_SETUP, "sh"] + list(argv), env=env,
                          capture_output=True, text=True, timeout=timeout)


class Daemon:
    def __init__(self, build_dir, testbed, workdir, config_text, args=(), watchdog_usec=None, name="daemon",
                 env=None):
        self.binary = os.path.join(build_dir, "daemon", "cxl-isold")
        if not os.access(self.binary, os.X_OK):
            skip(f"daemon not built: {self.binary}")
        self.testbed = testbed
        self.workdir = workdir
        self.state_dir = os.path.join(workdir, "state")
        self.config = os.path.join(workdir, "cxl-isold.conf")
        self.dropins = os.path.join(workdir, "policy.d")
        os.makedirs(self.dropins, exist_ok=True)
        with open(self.config, "w") as f:
            f.write(config_text)
        self.args = list(args)
        self.watchdog_usec = watchdog_usec
        self.name = name
        # Extra environment, e.g. DBUS_SYSTEM_BUS_ADDRESS of a private bus (python-dbusmock) for D-Bus tests.
        self.extra_env = dict(env or {})
        self.proc = None
        self.journal = None
        self.notify = None
        self.n_starts = 0

    def start(self, wait_ready=True, journal_stream=False):
        """journal_stream=True sets $JOURNAL_STREAM to our stderr file, as systemd does for a journal-connected
        service, so --log-target=auto picks the journal."""
        self.n_starts += 1
        tag = f"{self.name}-{self.n_starts}"
        self.journal = JournalCapture(os.path.join(self.workdir, f"journal-{tag}"))
        self.notify = NotifyCapture(os.path.join(self.workdir, f"notify-{tag}.sock"))
        self.stderr_path = os.path.join(self.workdir, f"stderr-{tag}.txt")
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                                                "JOURNAL_STREAM", "LD_PRELOAD")}
        env["NOTIFY_SOCKET"] = self.notify.path
        env["CXL_TEST_JOURNAL_DIR"] = self.journal.directory
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        # Never the host's system bus: a test daemon must not take a name there. Tests that want the
        # D-Bus API pass their own private bus address in env.
        env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=" + os.path.join(self.workdir, "no-system-bus")
        env.update(self.extra_env)
        argv = [self.binary, "--config", self.config, "--config-dir", self.dropins, "--state-dir", self.state_dir,
                "--log-target", "journal"] + self.args
        # CXL_ISOLD_TEST_WRAPPER="valgrind ..." (tests/valgrind/): the daemon runs under it, inside the testbed.
        argv = shlex.split(os.environ.get("CXL_ISOLD_TEST_WRAPPER", "")) + argv
        cmd = ["unshare", "-m", "--", "sh", "-c", _NAMESPACE_SETUP, "sh"] + self.testbed.wrap(argv)
        self.stderr_file = open(self.stderr_path, "w")
        if journal_stream:
            st = os.fstat(self.stderr_file.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self.stderr_file,
                                     stderr=subprocess.STDOUT)
        if wait_ready:
            try:
                self.notify.wait_for("READY", lambda v: v == "1", timeout=30)
            except AssertionError:
                self.proc.poll()
                raise AssertionError(f"daemon never sent READY=1 (exit {self.proc.returncode}); output:\n"
                                     + self.output())
        return self

    def write_config(self, text):
        with open(self.config + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.config + ".tmp", self.config)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def output(self):
        """The daemon's stderr and every journal message it sent, for failure reports."""
        if not hasattr(self, "stderr_file"):
            return "(daemon never started)\n"
        if not self.stderr_file.closed:
            self.stderr_file.flush()
        with open(self.stderr_path) as f:
            text = f.read()
        if self.journal:
            try:
                self.journal.poll()
            except OSError:
                pass
            text += "".join(f"journal[{e.get('PRIORITY')}]: {e.get('MESSAGE')}\n" for e in self.journal.entries)
        return text

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon did not exit within {timeout}s of {sig!r}")
        self.stderr_file.close()
        # Everything it sent is in the capture before anyone counts it.
        self.journal.finish()
        self.journal.poll()
        self.notify.poll()
        self.proc = None
        return rc

    def records(self):
        """Every record line, the rotated generation (events.jsonl.1) first, as the daemon reads them."""
        out = []
        for name in ("events.jsonl.1", "events.jsonl"):
            path = os.path.join(self.state_dir, name)
            if os.path.exists(path):
                out.extend(self._records_of(path))
        return out

    @staticmethod
    def _records_of(path):
        out = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    # Damage the daemon also skips (a torn line); tests that care read the file themselves.
                    continue
        return out

    def events(self, port=None):
        return [r for r in self.records() if r["type"] == "event" and (port is None or r["port"] == port)]

    def action_results(self, event_id):
        return [r for r in self.records() if r["type"] == "action" and r["event_id"] == event_id]

    def wait_for_event(self, port, count=1, timeout=10):
        return wait_until(lambda: (lambda e: e if len(e) >= count else None)(self.events(port)), timeout,
                          what=f"{count} event record(s) for {port}")

    def wait_for_actions(self, event_id, count, timeout=20):
        return wait_until(lambda: (lambda a: a if len(a) >= count else None)(self.action_results(event_id)),
                          timeout, what=f"{count} action result(s) for event {event_id}")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for c in (self.journal, self.notify):
            if c:
                c.close()


def env_recorder_script(path, directory, sleep=None):
    """An operator script that records its environment (one file per run, so repeats are visible)."""
    body = "#!/bin/sh\n"
    body += f'f="{directory}/env-$CXL_ISOLD_EVENT_ID-$$"\n'
    body += 'env > "$f.tmp" && mv "$f.tmp" "$f"\n'
    body += 'echo "script saw $CXL_ISOLD_REASON on $CXL_ISOLD_PORT"\n'
    body += 'echo "a line on stderr" >&2\n'
    if sleep:
        body += f"exec sleep {sleep}\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(body)
    os.chmod(path, 0o755)
    os.makedirs(directory, exist_ok=True)


def read_env_files(directory):
    """{event_id: [env dict per run]} from env_recorder_script()."""
    runs = {}
    for name in sorted(os.listdir(directory)):
        if not name.startswith("env-") or name.endswith(".tmp"):
            continue
        env = {}
        with open(os.path.join(directory, name)) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v
        runs.setdefault(env.get("CXL_ISOLD_EVENT_ID"), []).append(env)
    return runs


class Workdir:
    """A private temporary directory, removed unless CXL_ISOLD_KEEP_TEST_DIRS is set."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="cxl-isold-it-")
        return self.path

    def __exit__(self, *exc):
        if os.environ.get("CXL_ISOLD_KEEP_TEST_DIRS"):
            print(f"kept {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def build_dir_from_argv():
    if len(sys.argv) < 2:
        print("usage: test.py BUILD_DIR", file=sys.stderr)
        sys.exit(2)
    return os.path.abspath(sys.argv[1])

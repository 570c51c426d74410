"""Helpers for the userland system tests: `tools/cluster exec`, a raw console client for the
interactive tests, and a fake node for testing `exec` and the image without Shoal's kernel.

The fake node is the image itself run on the host: the initrd is unpacked into a directory, and
`/init` runs there as pid 1 of new PID, mount and UTS namespaces (hostname node0, the host's /dev
bound in), chrooted, on a pseudo-terminal that is its controlling terminal.  A small server copies
between that terminal and run/NAME/node0.sock the way QEMU's socket chardev does (one client at a
time; output while nobody is connected is only logged to node0.log), and writes the cluster.json and
node0.pid that `tools/cluster` looks for.  Run as a program: `shell.py fake-node ...` (needs root).
Standard library only.
"""

import argparse
import ctypes
import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

import harness

CTRL_C, CTRL_D, CTRL_U = b"\x03", b"\x04", b"\x15"
UP, DOWN, LEFT, RIGHT = b"\x1b[A", b"\x1b[B", b"\x1b[D", b"\x1b[C"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Result:
    """What `tools/cluster exec` gave: rc, stdout and stderr as text."""

    def __init__(self, p, cmd):
        self.rc, self.out, self.err, self.cmd = p.returncode, p.stdout, p.stderr, cmd

    def __repr__(self):
        return (f"`{self.cmd}`: exit {self.rc}\n--- stdout ---\n{self.out[-4000:]}"
                f"\n--- stderr ---\n{self.err[-2000:]}")


def exec_on(name, k, cmd, timeout=300, env=None):
    """Run `tools/cluster exec --name NAME K -- CMD`; returns a Result."""
    args = ["exec", "--name", name, "--timeout", str(harness.timeout(timeout)), str(k), "--", cmd]
    p = harness.cluster(*args, limit=timeout + 60, env=env)
    return Result(p, cmd)


class Console:
    """A raw connection to a node's serial console (run/NAME/nodeK.sock), for the tests that type
    keys: everything received is kept; expect() searches it from a cursor that moves forward."""

    def __init__(self, name, k, run_dir=None):
        path = os.path.join(run_dir or harness.RUN_DIR, name, f"node{k}.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def type(self, data, delay=0.05):
        """Send one byte at a time, like a person typing (escape sequences stay whole)."""
        data = data if isinstance(data, bytes) else data.encode()
        for part in re.split(rb"(\x1b\[[A-D])", data):
            chunks = [part] if part.startswith(b"\x1b") else [part[i:i + 1] for i in range(len(part))]
            for c in chunks:
                if c:
                    self.send(c)
                    time.sleep(delay)

    def _read(self, until):
        left = until - time.monotonic()
        if left > 0 and select.select([self.sock], [], [], left)[0]:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("the node closed its console")
            self.buf += data

    def expect(self, pattern, timeout=30):
        """Wait for a regex (bytes) after the cursor; move the cursor past it; return the match.
        Raises AssertionError with what was seen instead."""
        pat = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + harness.timeout(timeout)
        while True:
            m = pat.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out waiting for {pat.pattern!r}; the console showed:\n"
                                     f"{self.text(self.buf[max(0, self.pos - 200):])}")
            self._read(deadline)

    def drain(self, quiet=0.5):
        """Read until nothing arrives for `quiet` seconds; move the cursor to the end."""
        while True:
            n = len(self.buf)
            self._read(time.monotonic() + quiet)
            if len(self.buf) == n:
                self.pos = len(self.buf)
                return

    def prompt(self, timeout=60):
        """Get a fresh prompt: drop a half-typed line with ^U, press Enter, wait for the prompt."""
        self.send(CTRL_U + b"\n")
        return self.expect(PROMPT_LINE, timeout)

    def since(self, pos):
        return self.text(self.buf[pos:])

    @staticmethod
    def text(data):
        return ANSI.sub(b"", data).replace(b"\r", b"").decode("utf-8", "replace")


PROMPT_LINE = re.compile(rb"node\d+:[^\r\n]*[#$] ")


# ---------------------------------------------------------------- the fake node

def unpack_initrd(initrd, dest):
    """Unpack a cpio newc archive with cpio(1) into dest."""
    os.makedirs(dest, exist_ok=True)
    with open(initrd, "rb") as f:
        subprocess.run(["cpio", "-idm", "--quiet", "--no-absolute-filenames"], stdin=f, cwd=dest,
                       check=True)


def start_fake_node(name, rootfs, run_dir):
    """Start a fake one-node cluster NAME under run_dir (a fresh directory); returns the server's
    Popen.  The caller stops it with stop_fake_node."""
    d = os.path.join(run_dir, name)
    os.makedirs(d, exist_ok=True)
    pidfile = os.path.join(d, "node0.pid")
    state = {"name": name, "n": 1, "boot": "fake", "accel": "none", "mem": 0, "append": [],
             "timeout": 60, "netns": None, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
             "nodes": [{"id": 0, "argv": ["fake-node"]}]}
    with open(os.path.join(d, "cluster.json"), "w") as f:
        json.dump(state, f)
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "fake-node", "--dir", d,
                          "--rootfs", rootfs, "--pidfile", pidfile],
                         stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(d, "node0.sock")):
        if p.poll() is not None or time.monotonic() > deadline:
            stop_fake_node(p)
            raise RuntimeError(f"the fake node did not start (exit {p.poll()}); see {d}/node0.log")
        time.sleep(0.05)
    return p


def stop_fake_node(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def die_with_parent():
    """In a child before exec: SIGKILL when the fake node's server dies, however it dies (unshare
    --kill-child then takes the whole namespace down with it)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG


def fake_node_main(a):
    """Serve the console of /init running in `a.rootfs` on a.dir/node0.sock."""
    with open(a.pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")
    log = open(os.path.join(a.dir, "node0.log"), "ab", buffering=0)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    # /init must lead its own session, as on Shoal: ash's job control saves and restores the
    # terminal's process group, and the pgrp of unshare's session is invisible in the new PID
    # namespace (getpgrp() gives 0), so a respawned shell would find the terminal lost.
    script = ('hostname node0 && mount --make-rprivate / && mount --bind /dev "$1/dev" && '
              'exec setsid --ctty chroot "$1" /init')
    child = subprocess.Popen(
        ["unshare", "--pid", "--mount", "--uts", "--fork", "--kill-child", "sh", "-c", script,
         "sh", a.rootfs],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=die_with_parent,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    os.close(slave)
    log.write(b"shoal: node 0 ready (fake node: /init of the image on the host)\r\n")

    def on_term(signum, frame):
        child.kill()
        child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    sock_path = os.path.join(a.dir, "node0.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path + ".tmp")
    os.rename(sock_path + ".tmp", sock_path)
    server.listen(8)
    client = None
    while child.poll() is None:
        fds = [master] + ([client] if client else [server])
        ready, _, _ = select.select(fds, [], [], 0.5)
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            log.write(data)
            if client:
                try:
                    client.sendall(data)
                except OSError:
                    client.close()
                    client = None
        if client and client in ready:
            try:
                data = client.recv(65536)
            except OSError:         # ECONNRESET: it left with our output unread
                data = b""
            if data:
                os.write(master, data)
            else:
                client.close()
                client = None
        elif server in ready and not client:
            client, _ = server.accept()
    child.wait()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fake-node")
    f.add_argument("--dir", required=True)
    f.add_argument("--rootfs", required=True)
    f.add_argument("--pidfile", required=True)
    a = p.parse_args()
    return fake_node_main(a)


if __name__ == "__main__":
    sys.exit(main())

"""The userland (issue 3, "Done when"): busybox's shell on a node's console, pipelines that give the
host's bytes, Shoal's test programs (user/tests/), exit statuses, job control and line editing on the
console, and no memory leak over repeated runs; all through `tools/cluster exec` or the raw console.

Every test runs twice, on two kinds of node (module-scoped, always torn down):
  - `shoal`: a 1-node cluster of Shoal under QEMU (`tools/cluster up -n 1`): the real thing;
  - `fake`: the same image on the host's Linux kernel (tests/system/shell.py: /init as pid 1 of new
    namespaces, chrooted, on a pseudo-terminal).  It checks the tests, the image and `exec`
    themselves against Linux, so that a failure on `shoal` points at the kernel.
Both need root.  SHOAL_LEAK_ROUNDS (default 10) sets the rounds of the memory-leak test.
SHOAL_KERNEL, SHOAL_INITRD and SHOAL_RUN_DIR are honoured as by tools/cluster (with
MAKEFLAGS=B=DIR, `make` builds there too).
"""

import glob
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import harness
import shell

pytestmark = [pytest.mark.cluster, pytest.mark.qemu]

TESTS_DIR = "/usr/libexec/shoal-tests"
PROGRAMS = sorted(os.path.basename(p)[:-2] for p in
                  glob.glob(os.path.join(harness.ROOT, "user", "tests", "*.c")))
UP_TIMEOUT = harness.timeout(180)
LEAK_ROUNDS = int(os.environ.get("SHOAL_LEAK_ROUNDS", "10"))
INITRD = os.path.abspath(os.environ.get("SHOAL_INITRD", harness.INITRD))   # as tools/cluster does


class Node:
    """One node to test: `exec` runs a command line on it, `console()` opens its raw console."""

    def __init__(self, kind, name, run_dir):
        self.kind, self.name, self.run_dir = kind, name, run_dir
        self.env = {"SHOAL_RUN_DIR": run_dir}

    def exec(self, cmd, timeout=300):
        return shell.exec_on(self.name, 0, cmd, timeout=timeout, env=self.env)

    def ok(self, cmd, timeout=300):
        """exec, asserting exit status 0; returns stdout."""
        r = self.exec(cmd, timeout)
        assert r.rc == 0, f"{self.kind} node: {r}\n{self.log_tail()}"
        return r.out

    def console(self):
        return shell.Console(self.name, 0, run_dir=self.run_dir)

    def log(self):
        return harness.read(os.path.join(self.run_dir, self.name, "node0.log"))

    def log_tail(self, n=30):
        return harness.tail_text(self.log(), n, f"{self.kind} node0.log")


def boot_shoal(name):
    p = harness.cluster("up", "-n", "1", "--name", name, "--timeout", str(UP_TIMEOUT),
                        limit=UP_TIMEOUT + 120)
    if p.returncode != 0:
        pytest.fail(f"`tools/cluster up -n 1` failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")


def teardown_shoal(name):
    p = harness.cluster("down", "--name", name, limit=120)
    leftovers = harness.cluster_processes(name)
    if leftovers:
        subprocess.run(["kill", "-9", *map(str, leftovers)])
    assert p.returncode == 0, f"`tools/cluster down --name {name}` failed:\n{p.stderr}"
    assert not leftovers, f"`down` left QEMU processes {leftovers} running"


@pytest.fixture(scope="module", params=["fake", "shoal"])
def node(request):
    if os.geteuid() != 0:
        pytest.skip("needs root: clusters (namespaces, taps) and the fake node (unshare, chroot)")
    if request.param == "shoal":
        request.getfixturevalue("built")                    # `make all`, once per session
    else:
        p = subprocess.run(["make", "-C", harness.ROOT, "initrd"], capture_output=True, text=True,
                           timeout=harness.timeout(900))
        if p.returncode != 0:
            pytest.fail(f"`make initrd` failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n"
                        f"{p.stderr[-3000:]}")
    name = f"u{os.getpid() % 100000}{request.param[0]}"
    if request.param == "fake":
        tmp = tempfile.mkdtemp(prefix="shoal-fake-")
        run_dir = os.path.join(tmp, "run")
        rootfs = os.path.join(tmp, "rootfs")
        shell.unpack_initrd(INITRD, rootfs)
        server = shell.start_fake_node(name, rootfs, run_dir)
        try:
            yield Node("fake", name, run_dir)
        finally:
            shell.stop_fake_node(server)
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        failed_before = request.session.testsfailed
        try:
            boot_shoal(name)
            n = Node("shoal", name, harness.RUN_DIR)
            r = n.exec("true", timeout=180)
            if r.rc != 0:
                pytest.fail(f"no working shell on node 0 after boot: {r}\n{n.log_tail(40)}")
            yield n
        finally:
            teardown_shoal(name)
        if request.session.testsfailed == failed_before:   # keep the node's log when a test failed
            shutil.rmtree(os.path.join(harness.RUN_DIR, name), ignore_errors=True)


def host_md5(data):
    return hashlib.md5(data).hexdigest()


def seq_bytes(a, b):
    return "".join(f"{i}\n" for i in range(a, b + 1)).encode()


# ---------------------------------------------------------------- the shell and exec

def test_prompt_and_welcome_name_the_node(node):
    with node.console() as c:
        m = c.prompt()
    assert m.group(0).startswith(b"node0:"), f"prompt {m.group(0)!r} does not name node0"
    assert "Welcome to Shoal on node0" in node.log(), f"no welcome line\n{node.log_tail()}"


def test_exit_status_propagates(node):
    for cmd, want in (("true", 0), ("false", 1), ("exit 7", 7), ("sh -c 'exit 255'", 255),
                      ("sh -c 'kill -9 $$'", 137), ("nonexistent-command", 127)):
        r = node.exec(cmd)
        assert r.rc == want, f"expected exit {want}: {r}"


def test_exec_output_is_exact(node):
    r = node.exec("printf 'no newline'")
    assert (r.rc, r.out) == (0, "no newline"), r
    r = node.exec("printf 'a\\tb\\n\\n%s\\n' \"quo'te\" ; echo '@x''y@' $HOME '%'")
    assert r.out == "a\tb\n\nquo'te\n@xy@ /root %\n", r
    long_cmd = "; ".join(f"echo l{i}" for i in range(300))    # several upload lines
    r = node.exec(long_cmd)
    assert r.rc == 0 and r.out == "".join(f"l{i}\n" for i in range(300)), r
    r = node.exec("for i in 1 2\ndo echo m$i\ndone\ncat")      # newlines; stdin is /dev/null
    assert (r.rc, r.out) == (0, "m1\nm2\n"), r


def test_exec_long_output(node):
    out = node.ok("seq 1 200000")
    assert out.encode() == seq_bytes(1, 200000), f"{len(out)} bytes differ from seq 1 200000"


def test_exec_timeout_interrupts(node):
    t0 = time.monotonic()
    r = node.exec("sleep 100", timeout=5)
    assert r.rc == 124 and "timed out" in r.err, r
    assert time.monotonic() - t0 < 60, "exec did not give up at its timeout"
    assert node.ok("echo after") == "after\n", "the shell did not come back after ^C"


def test_exec_concurrent(node):
    """Concurrent execs on one node take turns (lock) and each gets its own output and status."""
    procs = []
    for i in range(1, 6):
        cmd = ["exec", "--name", node.name, str(0), "--", f"seq 1 {i * 3000} | md5sum; exit {i}"]
        procs.append((i, subprocess.Popen([harness.CLUSTER, *cmd], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True,
                                          env=dict(os.environ, **node.env))))
    for i, p in procs:
        out, err = p.communicate(timeout=harness.timeout(600))
        assert p.returncode == i and out.split()[:1] == [host_md5(seq_bytes(1, i * 3000))], \
            f"exec {i}: exit {p.returncode}, stdout {out!r}, stderr {err!r}"


# ---------------------------------------------------------------- pipelines: the host's bytes

def test_seq_sort_md5(node):
    want = host_md5("".join(sorted((f"{i}\n" for i in range(1, 100001)), reverse=True)).encode())
    out = node.ok("seq 1 100000 | sort -r | md5sum")
    assert out.split()[0] == want, out


def test_dmesg_reads_the_kernel_log(node):
    # busybox dmesg through syslog(2): the boot messages with Linux's timestamps; -c clears what
    # was read; -n sets what the console shows.
    if node.kind == "fake":
        pytest.skip("the host's kernel log is not Shoal's (and the fake node may not read it)")
    out = node.ok("dmesg | head -5")
    assert re.search(r"^\[\s*\d+\.\d{6}\] .*Shoal \(x86-64\) booting", out, re.M), out
    out = node.ok("dmesg -r | grep -c '^<[0-7]>\\['")
    assert int(out.split()[-1]) >= 10, f"dmesg -r should show <level>[time] lines: {out}"
    out = node.ok("dmesg -c > /dev/null; echo 0 > /dev/null; dmesg | wc -l")
    assert int(out.split()[-1]) <= 2, f"after dmesg -c the log should hold only what came since: {out}"
    assert node.ok("dmesg -n 8; echo rc=$?; dmesg -n 7; echo rc=$?").split()[-2:] == ["rc=0", "rc=0"]


def test_yes_head_wc(node):
    assert node.ok("yes | head -c 10000000 | wc -c").strip() == "10000000"


def test_gzip_round_trip(node):
    data = seq_bytes(1, 600000)                    # 4.4 MB
    busybox = os.path.join(os.path.dirname(INITRD), "busybox", "bin", "busybox")
    host_gz = subprocess.run([busybox, "gzip", "-c"] if os.path.exists(busybox) else
                             ["gzip", "-nc"], input=data, capture_output=True, check=True).stdout
    out = node.ok("seq 1 600000 > /tmp/gz.in && gzip -c < /tmp/gz.in > /tmp/gz.gz && "
                  "md5sum < /tmp/gz.gz && gunzip -c /tmp/gz.gz | md5sum && "
                  "gzip -c < /tmp/gz.in | gunzip -c | cmp - /tmp/gz.in && wc -c < /tmp/gz.in; "
                  "rm -f /tmp/gz.in /tmp/gz.gz")
    lines = out.split("\n")
    assert lines[0].split()[0] == host_md5(host_gz), f"gzip output differs from the host's: {out}"
    assert gzip.decompress(host_gz) == data
    assert lines[1].split()[0] == host_md5(data), f"gunzip -c gives other bytes: {out}"
    assert lines[2].strip() == str(len(data)), out


def test_redirections(node):
    out = node.ok("cd /tmp && echo one > r.txt && echo two >> r.txt && cat < r.txt | tr a-z A-Z; "
                  "ls /nonexistent 2>/dev/null || echo failed-$?; "
                  "{ echo out; echo err >&2; } 2>&1 >/dev/null | sed s/^/got-/; rm r.txt")
    assert out == "ONE\nTWO\nfailed-1\ngot-err\n", out


def test_find_ls(node):
    out = node.ok("find / -type f | wc -l")
    assert int(out) > len(PROGRAMS), f"find / -type f counted {out.strip()} files"
    out = node.ok("find /usr/libexec/shoal-tests -type f | sort")
    assert out.split() == sorted(f"{TESTS_DIR}/{p}" for p in PROGRAMS + ["run-all"]), out
    out = node.ok("ls -l /bin")
    assert re.search(r"^-rwxr-xr-x\s+1 root\s+root\s+\d+ .* busybox$", out, re.M), out
    assert re.search(r"^lrwxrwxrwx .* sh -> /bin/busybox$", out, re.M), out


def test_ps_top_free_uptime(node):
    out = node.ok("ps")
    assert re.search(r"^\s*PID\s+USER\s+COMMAND", out, re.M), out
    assert re.search(r"^\s*1\s+root\s+.*init", out, re.M), f"ps does not list pid 1 (init):\n{out}"
    assert re.search(r"^\s*\d+\s+root\s+.*\bps\b", out, re.M), f"ps does not list itself:\n{out}"
    out = node.ok("top -n 1")
    assert re.search(r"Mem: \d+K used, \d+K free", out), out
    assert re.search(r"CPU:\s+\d+% usr", out) and re.search(r"Load average: ", out), out
    assert re.search(r"^\s*1\s+0\s+root\s+", out, re.M), f"top does not list pid 1:\n{out}"
    out = node.ok("free")
    m = re.search(r"^Mem:\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    assert m and int(m.group(1)) > 0 and int(m.group(3)) > 0, out
    out = node.ok("uptime")
    assert re.search(r"up .*load average: [\d.]+, [\d.]+, [\d.]+", out), out


# ---------------------------------------------------------------- Shoal's test programs

@pytest.mark.parametrize("program", PROGRAMS)
def test_program(node, program):
    cmd = f"{TESTS_DIR}/{program}"
    if program == "forkbomb" and node.kind == "fake":
        # Linux exempts root from RLIMIT_NPROC: on the host the bomb runs as nobody.
        cmd = f"ulimit -u 300 && su -s /bin/sh -c {cmd} nobody"
    r = node.exec(cmd, timeout=600)
    assert r.rc == 0 and re.search(rf"^PASS {program}\b", r.out, re.M), f"{r}\n{node.log_tail()}"
    assert node.ok("echo alive") == "alive\n", "the shell is gone after the test"


def test_segfault_message_and_node_lives_on(node):
    r = node.exec(f"{TESTS_DIR}/segv crash")
    assert r.rc == 139, f"expected exit 139 (128 + SIGSEGV): {r}"
    assert "Segmentation fault" in r.out, f"the shell did not say Segmentation fault: {r}"
    assert node.ok("echo alive") == "alive\n"


def test_notelf_from_the_shell(node):
    """A non-ELF file without #! run from the shell: execve says ENOEXEC, ash runs it as a script
    (as on Linux); a binary of the wrong kind fails with 'Exec format error' or is not run."""
    out = node.ok("printf 'echo from-script\\n' > /tmp/plain && chmod +x /tmp/plain && /tmp/plain; "
                  "rm /tmp/plain")
    assert out == "from-script\n", out


# ---------------------------------------------------------------- the console, interactively

def test_ctrl_c_interrupts_sleep(node):
    with node.console() as c:
        c.prompt()
        t0 = time.monotonic()
        c.type("sleep 100\n")
        time.sleep(1.5)
        c.send(shell.CTRL_C)
        c.expect(shell.PROMPT_LINE, timeout=20)
        assert time.monotonic() - t0 < 60, "^C did not interrupt sleep 100"
        c.type("echo ok$((6*7))\n")
        c.expect(rb"\nok42\r?\n", timeout=20)       # the shell survived


def test_ctrl_z_stops_and_fg_resumes(node):
    with node.console() as c:
        c.prompt()
        c.type("sleep 100\n")
        time.sleep(1.5)
        c.send(b"\x1a")
        c.expect(rb"\[1\]\+\s+Stopped\s+sleep 100", timeout=20)
        c.expect(shell.PROMPT_LINE)
        c.type("fg\n")
        c.expect(rb"\nsleep 100\r?\n", timeout=20)
        time.sleep(1)
        c.send(shell.CTRL_C)
        c.expect(shell.PROMPT_LINE, timeout=20)
        start = len(c.buf)
        c.type("jobs; echo j$((1+1))\n")
        m = c.expect(rb"\nj2\r?\n", timeout=20)
        shown = c.text(c.buf[start:m.start()])
        assert "sleep" not in shown, f"a job is left after fg + ^C:\n{shown}"


def test_background_job_control(node):
    with node.console() as c:
        c.prompt()
        c.type("sleep 5 &\n")
        c.expect(shell.PROMPT_LINE, timeout=20)
        c.type("jobs\n")
        c.expect(rb"\[1\]\+\s+Running\s+sleep 5", timeout=20)
        c.expect(shell.PROMPT_LINE)
        t0 = time.monotonic()
        c.type("fg\n")
        c.expect(rb"\nsleep 5\r?\n", timeout=20)
        c.expect(shell.PROMPT_LINE, timeout=40)
        took = time.monotonic() - t0
        assert took < 30 * harness.SCALE, f"fg of sleep 5 took {took:.1f} s"
        c.type("sleep 60 &\n")
        c.expect(shell.PROMPT_LINE, timeout=20)
        c.type("kill %1\n")
        c.expect(shell.PROMPT_LINE, timeout=20)
        time.sleep(0.5)
        c.type("jobs\n")
        c.expect(rb"\[1\]\+\s+Terminated\s+sleep 60", timeout=20)
        c.expect(shell.PROMPT_LINE)
        start = len(c.buf)
        c.type("jobs; echo n$((2+3))\n")
        m = c.expect(rb"\nn5\r?\n", timeout=20)
        shown = c.text(c.buf[start:m.start()])
        assert "sleep" not in shown, f"jobs still lists a job after kill %1:\n{shown}"


def test_line_editing_and_history(node):
    with node.console() as c:
        c.prompt()
        c.type("echo abc" + "\x1b[D\x1b[D" + "X\n")           # cursor left twice, insert X
        c.expect(rb"\naXbc\r?\n", timeout=20)
        c.expect(shell.PROMPT_LINE)
        c.type("echo h$((40+2))\n")
        c.expect(rb"\nh42\r?\n", timeout=20)
        c.expect(shell.PROMPT_LINE)
        c.type("\x1b[A\x1b[A")                                # two commands back: echo aXbc
        c.type("\x1b[B")                                      # one forward: echo h$((40+2))
        c.type("\x7f\x7f\x7f7))\n")                          # "2))" -> "7))": h$((40+7))
        c.expect(rb"\nh47\r?\n", timeout=20)
        c.expect(shell.PROMPT_LINE)
        c.type("echo partial" + "\x15" + "echo k$((3*3))\n")  # ^U kills the line
        c.expect(rb"\nk9\r?\n", timeout=20)


def test_shell_respawns_after_exit(node):
    with node.console() as c:
        c.prompt()
        c.type("exit\n")
        c.expect(rb"init: the shell on node0 exited", timeout=20)
        c.expect(shell.PROMPT_LINE, timeout=30)
        c.type("echo back$((1+2))\n")
        c.expect(rb"\nback3\r?\n", timeout=20)


# ---------------------------------------------------------------- memory

def test_no_memory_leak(node):
    """MemFree after LEAK_ROUNDS rounds of everything returns to its level after one warm-up round."""
    if node.kind == "fake":
        pytest.skip("the host's MemFree says nothing about Shoal's kernel")
    skip = {"forkbomb"} if LEAK_ROUNDS > 20 else set()
    suite = " ".join(p for p in PROGRAMS if p not in skip)
    round_cmd = (f"{TESTS_DIR}/run-all {suite} >/tmp/leak.log 2>&1 || {{ tail -20 /tmp/leak.log; "
                 "exit 1; }; seq 1 20000 | sort -r | md5sum >/dev/null; "
                 "yes | head -c 1000000 | wc -c >/dev/null; seq 1 50000 | gzip -c | gunzip -c | "
                 "wc -l >/dev/null; ps >/dev/null; ls -l /bin >/dev/null; "
                 f"{TESTS_DIR}/segv crash >/dev/null 2>&1; rm -f /tmp/leak.log")
    memfree = "sed -n 's/^MemFree: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo"
    node.ok(round_cmd, timeout=900)                          # warm-up: caches, history, pools
    before = int(node.ok(memfree))
    node.ok(f"i=0; while [ $i -lt {LEAK_ROUNDS} ]; do {round_cmd} || exit 1; i=$((i+1)); done",
            timeout=900 * LEAK_ROUNDS)
    after = int(node.ok(memfree))
    margin = 256 + 2 * LEAK_ROUNDS      # KiB: the kernel heap's own ups and downs are a few pages
    assert after >= before - margin, \
        f"MemFree fell from {before} kB to {after} kB over {LEAK_ROUNDS} rounds " \
        f"({(before - after) / LEAK_ROUNDS:.0f} kB a round): a leak"

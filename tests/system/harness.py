"""Helpers for Shoal's QEMU system tests: boot one QEMU directly (no network), collect its serial
output, read ktest results; run tools/cluster.  Standard library only.

Timeouts are generous for TCG; scale them with SHOAL_TEST_TIMEOUT_SCALE=2 on a slow machine.
"""

import os
import re
import shutil
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
KERNEL32 = os.path.join(BUILD, "shoal32.elf")
KERNEL64 = os.path.join(BUILD, "shoal.elf")
ISO = os.path.join(BUILD, "shoal.iso")
INITRD = os.path.join(BUILD, "initrd.cpio")
NETBOOT = os.path.join(BUILD, "netboot")
CLUSTER = os.path.join(ROOT, "tools", "cluster")
RUN_DIR = os.path.abspath(os.environ.get("SHOAL_RUN_DIR", os.path.join(ROOT, "run")))
QEMU = "qemu-system-x86_64"
QBOOT = "/usr/share/qemu/qboot.rom"
SCALE = float(os.environ.get("SHOAL_TEST_TIMEOUT_SCALE", "1"))

KTEST_EXIT_PASS = 33  # isa-debug-exit: (0x10 << 1) | 1
KTEST_EXIT_FAIL = 35  # (0x11 << 1) | 1

KTEST_LINE = re.compile(r"ktest: (?P<name>[^:\s]+): (?P<verdict>\S+)(?P<rest>.*)")
KTEST_SUMMARY = re.compile(r"ktest: summary: (\d+) passed, (\d+) failed")


def timeout(seconds):
    return seconds * SCALE


class QemuRun:
    """What one QEMU run produced: exit status (None if we stopped it), whether it hit the timeout,
    whether it still ran when stopped, and the serial log as text."""

    def __init__(self, rc, timed_out, still_running, log, log_path, argv):
        self.rc, self.timed_out, self.still_running = rc, timed_out, still_running
        self.log, self.log_path, self.argv = log, log_path, argv

    def lines(self):
        return self.log.replace("\r", "").split("\n")

    def tail(self, n=40):
        return tail_text(self.log, n, f"serial log {self.log_path}")

    def describe(self):
        if self.timed_out:
            state = "timed out (killed)"
        elif self.rc is None:
            state = "stopped by the test while still running" if self.still_running else "?"
        else:
            state = f"exit status {self.rc}"
        return f"QEMU {state}\ncommand: {' '.join(self.argv)}\n{self.tail()}"


def tail_text(text, n, what):
    lines = text.replace("\r", "").rstrip("\n").split("\n")[-n:]
    return f"--- last {len(lines)} lines of {what} ---\n" + "\n".join(lines) + "\n--- end ---"


def base_argv(extra_devices=()):
    """Common QEMU arguments: no network, no display, no reboot, TCG, isa-debug-exit."""
    return [QEMU, "-nodefaults", "-no-reboot", "-display", "none", "-accel", "tcg",
            "-m", "128", "-smp", "1", "-nic", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", *extra_devices]


def kernel_argv(append):
    """Direct kernel boot (qboot + multiboot1 elf32 kernel), plus the initrd when it exists."""
    argv = ["-bios", QBOOT, "-kernel", KERNEL32, "-append", append]
    if os.path.exists(INITRD):
        argv += ["-initrd", INITRD]
    return argv


def iso_argv(iso):
    return ["-cdrom", iso, "-boot", "d"]


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def run_qemu(boot_args, log_path, limit, until=None, settle=1.5):
    """Run QEMU with COM1 written to log_path.

    Without `until`: wait for QEMU to exit, killing it after `limit` seconds.
    With `until` (a regex): stop once it appears in the log and `settle` more seconds have passed
    (to see whether QEMU then exits or reboots), or after `limit` seconds."""
    argv = base_argv() + ["-serial", f"file:{log_path}"] + boot_args
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + limit
    seen_at = None
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if until and seen_at is None and re.search(until, read(log_path)):
                seen_at = time.monotonic()
            if seen_at is not None and time.monotonic() - seen_at >= settle:
                break
            time.sleep(0.05)
        rc = proc.poll()
        timed_out = rc is None and seen_at is None
        still_running = rc is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = proc.stdout.read().decode("utf-8", "replace")
    proc.stdout.close()
    log = read(log_path)
    if output.strip():
        log += f"\n[QEMU's own output: {output.strip()}]\n"
    return QemuRun(rc, timed_out, still_running, log, log_path, argv)


def ktest_results(log):
    """([(name, verdict, rest)], (passed, failed) or None) from a serial log."""
    lines = log.replace("\r", "").split("\n")
    tests = []
    for line in lines:
        m = KTEST_LINE.search(line)
        if m and not KTEST_SUMMARY.search(line):
            tests.append((m.group("name"), m.group("verdict"), m.group("rest").strip()))
    summaries = [KTEST_SUMMARY.search(l) for l in lines if KTEST_SUMMARY.search(l)]
    summary = (int(summaries[-1].group(1)), int(summaries[-1].group(2))) if summaries else None
    return tests, summary


def banner_count(log):
    """How many times the boot banner appears: a line starting with `Shoal` (terminal escapes and a
    leading `[timestamp]` ignored; GRUB's "Booting `Shoal'" does not count).  A reboot prints it again."""
    count = 0
    for line in log.replace("\r", "\n").split("\n"):
        line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line).strip()
        line = re.sub(r"^\[[^\]]*\]\s*", "", line)
        count += bool(re.match(r"Shoal\b", line))
    return count


def remaster_iso(src, dst, workdir, extra_args):
    """Copy the ISO with `extra_args` appended to every multiboot2 line of /boot/grub/grub.cfg
    (the El Torito boot images are replayed unchanged).  Returns the new grub.cfg text."""
    if not shutil.which("xorriso"):
        raise RuntimeError("xorriso is not installed (tools/deps installs it)")
    cfg = os.path.join(workdir, "grub.cfg")
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", src, "-extract", "/boot/grub/grub.cfg",
                    cfg], check=True, capture_output=True)
    with open(cfg) as f:
        text = f.read()
    new, count = re.subn(r"^(\s*multiboot2\s+\S+.*?)\s*$", r"\1 " + extra_args, text, flags=re.M)
    if count == 0:
        raise RuntimeError(f"no multiboot2 line in the ISO's grub.cfg:\n{text}")
    os.chmod(cfg, 0o644)
    with open(cfg, "w") as f:
        f.write(new)
    subprocess.run(["xorriso", "-indev", src, "-outdev", dst, "-boot_image", "any", "replay",
                    "-update", cfg, "/boot/grub/grub.cfg"], check=True, capture_output=True)
    return new


def cluster(*args, limit=300, env=None):
    """Run tools/cluster with args; returns CompletedProcess (text, stdout and stderr captured)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([CLUSTER, *args], capture_output=True, text=True, timeout=limit * SCALE,
                          env=full_env, cwd=ROOT)


def cluster_processes(name):
    """Pids of live processes whose command line mentions cluster `name`'s run directory."""
    marker = f"{os.path.join(RUN_DIR, name)}/".encode()
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip()]


def explain_cluster(p, name=None, n=2):
    """A failed tools/cluster call, with the end of each node's console log."""
    text = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    for k in range(n if name else 0):
        log = read(f"{RUN_DIR}/{name}/node{k}.log")
        text += "\n" + tail_text(log, 30, f"node{k}.log")
    return text


def exec_ok(name, k, cmd, timeout, n=2):
    """Runs cmd in node k's shell through tools/cluster exec; must succeed; returns its output."""
    p = cluster("exec", "--name", name, "--timeout", str(timeout), str(k), "--", cmd, limit=timeout + 60)
    assert p.returncode == 0, f"node {k}: `{cmd}` failed\n{explain_cluster(p, name, n)}"
    return p.stdout.replace("\r", "")


def ps_pids(name, k, n=2):
    """{pid: command} from node k's ps (the whole cluster's processes)."""
    out = exec_ok(name, k, "ps", timeout(120), n)
    return {int(m.group(1)): m.group(2).strip() for m in re.finditer(r"^\s*(\d+)\s+\S+\s+(.*)$", out, re.M)}


def find_pids(name, k, cmd, limit=10, n=2):
    """The pids whose command starts with cmd (ps cuts long lines) in node k's ps, waiting up to
    limit seconds (scaled by timeout()) for one to appear."""
    deadline = time.monotonic() + timeout(limit)
    while True:
        listed = ps_pids(name, k, n)
        pids = [pid for pid, c in listed.items() if c.startswith(cmd)]
        if pids:
            return pids
        assert time.monotonic() < deadline, f"node {k}'s ps never listed {cmd!r}:\n{listed}"
        time.sleep(0.5)

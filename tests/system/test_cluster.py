"""tools/cluster: a 4-node cluster comes up with node ids from the MACs; status, fault kill/restart,
down (idempotent, leaves nothing but logs); failures are clean; refusals are clear."""

import os
import re
import shutil
import subprocess

import pytest

import harness

UP_TIMEOUT = harness.timeout(120)


def log_of(name, k):
    return harness.read(os.path.join(harness.RUN_DIR, name, f"node{k}.log"))


def explain(p, name=None, n=0):
    text = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    for k in range(n):
        text += "\n" + harness.tail_text(log_of(name, k), 20, f"node{k}.log")
    return text


def up(name, *args, n=4):
    return harness.cluster("up", "-n", str(n), "--name", name, "--timeout", str(UP_TIMEOUT), *args,
                           limit=UP_TIMEOUT + 120)


def assert_gone(name):
    """Nothing of cluster `name` is left but its logs."""
    assert not harness.cluster_processes(name), f"QEMU processes of {name} still run"
    assert f"shoal-{name}" not in harness.netns_list(), f"namespace shoal-{name} still exists"
    d = os.path.join(harness.RUN_DIR, name)
    left = [f for f in (os.listdir(d) if os.path.isdir(d) else []) if not f.endswith(".log")]
    assert not left, f"run/{name}/ still holds {left}"


def status(name):
    p = harness.cluster("status", "--name", name)
    m = re.search(r"^(\d+)/(\d+) nodes running", p.stdout, re.M)
    return p, (int(m.group(1)), int(m.group(2))) if m else None


def test_four_nodes_up_status_kill_restart_down(kernel, cluster_name):
    name = cluster_name
    p = up(name)
    assert p.returncode == 0, f"`tools/cluster up -n 4` failed\n{explain(p, name, 4)}"
    assert re.search(r"4 node\(s\) ready in [\d.]+ s", p.stdout), f"no summary line\n{explain(p)}"
    for k in range(4):
        assert f"shoal: node {k} ready" in log_of(name, k), \
            f"node{k}.log lacks 'shoal: node {k} ready' (node id from MAC)\n{explain(p, name, 4)}"
    s, counts = status(name)
    assert s.returncode == 0 and counts == (4, 4), f"status should show 4/4 running:\n{s.stdout}"

    p = harness.cluster("fault", "--name", name, "kill", "2")
    assert p.returncode == 0, f"fault kill 2 failed\n{explain(p)}"
    s, counts = status(name)
    assert counts == (3, 4) and re.search(r"^node 2: stopped", s.stdout, re.M), s.stdout

    p = harness.cluster("fault", "--name", name, "2", "restart", limit=UP_TIMEOUT + 60)
    assert p.returncode == 0, f"fault 2 restart failed\n{explain(p, name, 4)}"
    after = log_of(name, 2).split("node restarted")[-1]
    assert "shoal: node 2 ready" in after, f"node 2 not ready after restart\n{explain(p, name, 4)}"
    s, counts = status(name)
    assert counts == (4, 4), f"status after restart:\n{s.stdout}"

    harness.cluster("fault", "--name", name, "kill", "2")  # down must cope with a dead node
    p = harness.cluster("down", "--name", name)
    assert p.returncode == 0, f"down failed\n{explain(p)}"
    assert_gone(name)
    for k in range(4):
        assert log_of(name, k), f"down removed node{k}.log (logs are kept for post-mortem)"
    p = harness.cluster("down", "--name", name)
    assert p.returncode == 0, f"a second down failed\n{explain(p)}"
    assert_gone(name)


def test_iso_boot_cluster(built, cluster_name):
    p = up(cluster_name, "--boot", "iso", n=2)
    assert p.returncode == 0, f"`up --boot iso` failed\n{explain(p, cluster_name, 2)}"
    for k in range(2):
        assert f"shoal: node {k} ready" in log_of(cluster_name, k)


def test_up_refuses_a_name_already_up(kernel, cluster_name):
    p = up(cluster_name, n=1)
    assert p.returncode == 0, f"up -n 1 failed\n{explain(p, cluster_name, 1)}"
    again = up(cluster_name, n=1)
    assert again.returncode != 0, "a second `up` with the same name succeeded"
    assert "down" in again.stderr, f"the refusal does not tell the user to `down`:\n{again.stderr}"
    _, counts = status(cluster_name)
    assert counts == (1, 1), "the refused `up` disturbed the running cluster"


def test_up_fails_cleanly_on_a_kernel_panic(kernel, cluster_name):
    p = up(cluster_name, "--append", "crash=panic", n=2)
    assert p.returncode != 0, "up succeeded although every node panics"
    assert re.search(r"node \d failed: KERNEL PANIC", p.stderr), f"no clear reason\n{explain(p)}"
    assert "System halted." in p.stderr, f"the tail of the node's log is not shown\n{explain(p)}"
    assert_gone(cluster_name)


def test_up_fails_cleanly_on_an_unloadable_kernel(root, cluster_name, tmp_path):
    bad = tmp_path / "garbage.elf"
    bad.write_bytes(bytes(range(256)) * 64)
    p = harness.cluster("up", "-n", "3", "--name", cluster_name, env={"SHOAL_KERNEL": str(bad)})
    assert p.returncode != 0, "up succeeded with a garbage kernel"
    assert "node 0" in p.stderr and "QEMU" in p.stderr, f"no clear reason\n{explain(p)}"
    assert_gone(cluster_name)


def test_up_fails_cleanly_on_a_missing_kernel(root, cluster_name, tmp_path):
    p = harness.cluster("up", "--name", cluster_name, env={"SHOAL_KERNEL": str(tmp_path / "nope")})
    assert p.returncode != 0 and "make" in p.stderr, f"no hint to run make\n{explain(p)}"
    assert_gone(cluster_name)


def test_fault_and_exec_commands(kernel, cluster_name):
    p = up(cluster_name, n=2)
    assert p.returncode == 0, f"up -n 2 failed\n{explain(p, cluster_name, 2)}"
    for args in (["1", "cut"], ["1", "heal"], ["loss", "1", "5"], ["1", "loss", "0"]):
        r = harness.cluster("fault", "--name", cluster_name, *args)
        assert r.returncode == 0, f"fault {' '.join(args)} failed\n{explain(r)}"
    for args in (["1", "delay", "10ms"], ["1", "reorder"], ["7", "cut"], ["1", "loss", "150"]):
        r = harness.cluster("fault", "--name", cluster_name, *args)
        assert r.returncode == 2, f"fault {' '.join(args)} should be refused with status 2\n{explain(r)}"
    r = harness.cluster("exec", "--name", cluster_name, "1", "--", "echo on-$(uname -n); exit 3")
    assert r.returncode == 3 and r.stdout == "on-node1\n", explain(r)


def test_accel_kvm_refused_where_kvm_is_not_real(cluster_name):
    pvm = os.path.exists("/sys/module/kvm_pvm")
    with open("/proc/cpuinfo") as f:
        virt = bool(re.search(r"\b(vmx|svm)\b", f.read()))
    if not pvm and virt and os.path.exists("/dev/kvm"):
        pytest.skip("this host has real KVM, so --accel kvm is allowed here")
    p = harness.cluster("up", "-n", "1", "--name", cluster_name, "--accel", "kvm")
    assert p.returncode != 0 and "KVM" in p.stderr, f"--accel kvm was not refused clearly\n{explain(p)}"


def test_up_needs_root(tmp_path):
    if not shutil.which("setpriv") or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run tools/cluster as an unprivileged user")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", harness.CLUSTER, "up", "--name", "tnoroot"],
                       capture_output=True, text=True, timeout=60)
    if "Permission denied" in p.stderr and "root" not in p.stderr:
        pytest.skip("tools/cluster is not readable by an unprivileged user in this tree")
    assert p.returncode != 0 and "root" in p.stderr, f"no clear message without root\n{explain(p)}"

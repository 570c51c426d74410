"""The cluster-wide process table (docs/SSI.md) on a 3-node cluster: pids come from each node's range;
`ps` on any node lists every node's processes with their commands; /proc/PID/where and home name the
node; `kill` of another node's pid ends it there; `mps` shows the table; a node that goes down
leaves the listings within 3 s."""

import re
import time

import harness

UP_TIMEOUT = harness.timeout(120)
EXEC_TIMEOUT = harness.timeout(60)


def explain(p, name=None, n=3):
    return harness.explain_cluster(p, name, n)


def run(name, k, cmd, timeout=EXEC_TIMEOUT):
    return harness.exec_ok(name, k, cmd, timeout, 3)


def ps(name, k):
    """{pid: command} from busybox ps on node k."""
    out = run(name, k, "ps")
    table = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+\S+\s+(.*)$", line)
        if m:
            table[int(m.group(1))] = m.group(2).strip()
    return table


def stable(table):
    """The processes that are not the exec shells and ps of the moment."""
    return {pid for pid, cmd in table.items() if ".exec-" not in cmd and cmd != "ps" and pid != 1}


def sleepers(table):
    return sorted(pid for pid, cmd in table.items() if cmd == "sleep 300")


def test_cluster_process_table(kernel, cluster_name):
    name = cluster_name
    p = harness.cluster("up", "-n", "3", "--name", name, "--timeout", str(UP_TIMEOUT), limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n 3` failed\n{explain(p, name)}"
    for k in (1, 2):
        run(name, k, "sleep 300 >/dev/null 2>&1 &")

    t0 = ps(name, 0)
    s = sleepers(t0)
    in1 = [pid for pid in s if 10002 <= pid <= 19999]
    in2 = [pid for pid in s if 20002 <= pid <= 29999]
    assert len(in1) == 1 and len(in2) == 1 and len(s) == 2, f"node 0's ps should list one sleep of node 1 and " \
        f"one of node 2:\n{t0}"
    ranges = [range(2, 10000), range(10002, 20000), range(20002, 30000)]
    assert all(pid == 1 or any(pid in r for r in ranges) for pid in t0), f"pids outside the nodes' ranges:\n{t0}"
    pid1, pid2 = in1[0], in2[0]

    t2 = ps(name, 2)
    assert sleepers(t2) == s, f"node 2's ps lists other sleeps: {sleepers(t2)} vs {s}\n{t2}"
    assert stable(t2) == stable(t0), f"node 0 and node 2 list different processes:\n{t0}\n{t2}"

    assert run(name, 0, f"cat /proc/{pid2}/where").strip() == "2"
    assert run(name, 0, f"cat /proc/{pid2}/home").strip() == "2"
    assert run(name, 0, f"cat /proc/{pid1}/comm").strip() == "sleep"
    assert run(name, 0, f"cat /proc/{pid1}/cmdline | tr '\\0' ' '").strip() == "sleep 300"
    stat = run(name, 0, f"cat /proc/{pid2}/stat").strip()
    assert re.match(rf"{pid2} \(sleep\) S ", stat), stat
    assert len(stat.split()) == 52, f"remote stat has {len(stat.split())} fields, not 52:\n{stat}"
    assert run(name, 0, "cat /proc/1/where").strip() == "0"

    out = run(name, 0, "mps")
    assert re.search(r"^\s*PID\s+HOME\s+WHERE\s+STATE\s+RSS\s+COMMAND", out, re.M), out
    assert re.search(rf"^\s*{pid2}\s+2\s+2\s+S\s+\d+\s+sleep 300$", out, re.M), f"mps lacks node 2's sleep:\n{out}"
    assert re.search(rf"^\s*{pid1}\s+1\s+1\s+S\s+\d+\s+sleep 300$", out, re.M), f"mps lacks node 1's sleep:\n{out}"

    run(name, 0, f"kill {pid2}")
    deadline = time.monotonic() + 10
    while pid2 in ps(name, 2):
        assert time.monotonic() < deadline, f"`kill {pid2}` on node 0 did not end it on node 2"
        time.sleep(0.5)
    out = run(name, 0, f"kill {pid2} 2>&1; echo status=$?")
    assert "status=1" in out, f"kill of a gone remote pid should fail:\n{out}"

    run(name, 2, "sleep 300 >/dev/null 2>&1 &")
    s = sleepers(ps(name, 0))
    assert any(20002 <= pid <= 29999 for pid in s), s
    p = harness.cluster("fault", "--name", name, "kill", "2")
    assert p.returncode == 0, f"fault kill 2 failed\n{explain(p)}"
    start = time.monotonic()
    while True:
        t0 = ps(name, 0)
        left = [pid for pid in t0 if 20000 <= pid <= 29999]
        if not left:
            break
        assert time.monotonic() - start < harness.timeout(3) + 5, \
            f"node 2's processes still listed on node 0 after its death: {left}"
    assert pid1 in t0, f"node 1's sleep vanished with node 2:\n{t0}"


LONG_ARGS = " ".join(["0"] * 92)        # `sleep 1000 I 0 0 ...`: 197-199 bytes, whole in a record
SLEEPERS = 240                          # x ~295-byte records: more than one 64 KiB "list" page


def cmdlines(name, k, first, last):
    """{pid: command line} of every pid in first..last that node k's /proc lists."""
    out = run(name, k, f"cd /proc; for p in *; do [ \"$p\" -ge {first} -a \"$p\" -le {last} ] 2>/dev/null && "
                       f"echo \"$p $(tr '\\0' ' ' < $p/cmdline)\"; done; true", timeout=harness.timeout(120))
    table = {}
    for line in out.splitlines():
        m = re.match(r"(\d+) (.*)$", line)
        if m:
            table[int(m.group(1))] = m.group(2).rstrip()
    return table


def test_listing_has_no_cap(kernel, cluster_name):
    """A node with many processes with long command lines is listed whole on another node: the
    "list" service pages its answer (docs/SSI.md), nothing is left out."""
    name = cluster_name
    p = harness.cluster("up", "-n", "2", "--name", name, "--mem", "192", "--timeout", str(UP_TIMEOUT),
                        limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n 2` failed\n{explain(p, name, 2)}"
    run(name, 1, f"i=0; while [ $i -lt {SLEEPERS} ]; do sleep 1000 $i {LONG_ARGS} >/dev/null 2>&1 & "
                 f"i=$((i+1)); done; echo started", timeout=harness.timeout(180))
    local = {pid: cmd for pid, cmd in cmdlines(name, 1, 10002, 19999).items() if cmd.startswith("sleep 1000 ")}
    assert len(local) == SLEEPERS, f"node 1 itself lists {len(local)} of {SLEEPERS} sleeps"
    assert all(len(cmd) >= 195 for cmd in local.values()), "command lines should be about 200 bytes"

    seen = {pid: cmd for pid, cmd in cmdlines(name, 0, 10002, 19999).items() if cmd.startswith("sleep 1000 ")}
    missing = sorted(set(local) - set(seen))
    assert not missing, f"node 0 lists {len(seen)} of node 1's {SLEEPERS} sleeps; missing: {missing[:20]}..."
    wrong = [pid for pid in local if seen[pid] != local[pid]]
    assert not wrong, f"command lines differ on node 0: {[(p, seen[p], local[p]) for p in wrong[:3]]}"
    assert set(seen) == set(local), f"node 0 lists sleeps node 1 does not: {sorted(set(seen) - set(local))}"

    out = run(name, 0, "ps | grep -c '[s]leep 1000 '")
    assert int(out.strip().splitlines()[-1]) == SLEEPERS, f"ps on node 0 does not list all {SLEEPERS}:\n{out}"

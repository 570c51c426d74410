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

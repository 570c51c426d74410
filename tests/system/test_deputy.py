"""Processes away from home (docs/SSI.md, "The deputy") on a 4-node cluster: `on NODE CMD` runs CMD
there with this console as its terminal and its exit status back in this shell; children on three
nodes are waited for; ^C and kill reach a remote job; a process group spans nodes; killing the node
a child runs on gives its parent a SIGKILL status within 3 s and the child leaves every `ps`."""

import re
import time

import harness
import shell

UP_TIMEOUT = harness.timeout(120)
EXEC_TIMEOUT = harness.timeout(120)
N = 4


def explain(p, name=None):
    return harness.explain_cluster(p, name, N)


def run(name, k, cmd, timeout=EXEC_TIMEOUT):
    return harness.exec_ok(name, k, cmd, timeout, N)


def ps_pids(name, k):
    return harness.ps_pids(name, k, N)


def find(name, k, cmd):
    return harness.find_pids(name, k, cmd, 10, N)


def test_deputy(kernel, cluster_name):
    name = cluster_name
    p = harness.cluster("up", "-n", str(N), "--name", name, "--append", "balance=off",
                        "--timeout", str(UP_TIMEOUT), limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n {N}` failed\n{explain(p, name)}"

    # A pipeline on node 1 prints what it prints here; its status (also non-zero) comes back.
    local = run(name, 0, "seq 1 100000 | md5sum").strip()
    out = run(name, 0, "on 1 sh -c 'seq 1 100000 | md5sum; cat /proc/self/where'; echo rc=$?; "
                       "on 1 sh -c 'seq 1 100000 | md5sum; exit 3'; echo rc=$?; on 2 false; echo rc=$?")
    lines = [line.strip() for line in out.strip().splitlines()]
    assert lines == [local, "1", "rc=0", local, "rc=3", "rc=1"], \
        f"`on 1 sh -c 'seq 1 100000 | md5sum'` should print {local!r} on node 1 and return the status:\n{out}"

    # stdin is still this console's (here: a pipe of the shell at home); a missing command is 127.
    out = run(name, 0, "echo through-the-deputy | on 3 cat; on 2 /no/such/thing 2>&1; echo rc=$?")
    assert "through-the-deputy" in out and "rc=127" in out, out
    out = run(name, 0, "on 9 true 2>&1; echo rc=$?")
    assert "rc=125" in out and "Host is down" in out, f"`on` to a node that is not up should fail:\n{out}"

    # Every userland test program passes away from home too (vfork sharing memory on node 2; file
    # mappings made on node 2: of a file only home has, read from there, and of a file node 2 has
    # as well, its own copy).
    out = run(name, 0, "on 2 /usr/libexec/shoal-tests/run-all 2>&1 | grep -v '^PASS '")
    assert re.search(r"^shoal-tests: \d+ passed, 0 failed$", out, re.M), f"the test programs on node 2:\n{out}"
    stats = run(name, 2, "grep mmap /proc/cluster/stats")
    assert re.search(r"deputy_mmap_by_ref [1-9]", stats) and re.search(r"deputy_mmap_by_value [1-9]", stats), stats

    # mon: every node's load and memory as bars, inside (one frame) and from the host.
    out = run(name, 1, "mon -n 1")
    assert "4 of 4 nodes up" in out and len(re.findall(r"^\s+\d+\s+[#.]{30}\s+\d+\s+\d+\s+[#.]{30} [\d.]+M$",
                                                           out, re.M)) == N, f"mon -n 1:\n{out}"
    p = harness.cluster("mon", "--name", name, "--count", "1", "--node", "2")
    assert p.returncode == 0 and "4 of 4 nodes up" in p.stdout and p.stdout.count("M\n") == N, \
        f"tools/cluster mon --count 1:\n{p.stdout}\n{p.stderr}"

    # A parent on node 0 waits for 8 children on nodes 1, 2 and 3 and gets every status.
    out = run(name, 0, 'pids=""; for i in 1 2 3 4 5 6 7 8; do '
                       'on $((i % 3 + 1)) sh -c "echo child $i on \\$(cat /proc/self/where); exit $((i + 10))" & '
                       'pids="$pids $!"; done; '
                       'for p in $pids; do wait $p; echo "status $?"; done')
    for i in range(1, 9):
        assert f"child {i} on {i % 3 + 1}" in out, f"child {i} did not run on node {i % 3 + 1}:\n{out}"
    statuses = re.findall(r"^status (\d+)$", out, re.M)
    assert statuses == [str(i + 10) for i in range(1, 9)], f"statuses of the 8 children:\n{out}"

    # A job on node 2: listed with its node everywhere; kill from node 0 ends it there.
    run(name, 0, "on 2 sleep 301 >/dev/null 2>&1 &")
    pid = find(name, 0, "sleep 301")[0]
    assert pid < 10000, f"a process started by `on` keeps its home's pid: {pid}"
    for k in range(N):
        assert run(name, k, f"cat /proc/{pid}/where").strip() == "2", f"node {k}: /proc/{pid}/where"
        assert ps_pids(name, k).get(pid) == "sleep 301", f"node {k}'s ps lacks the job of node 0 on node 2"
    out = run(name, 0, "mps")
    assert re.search(rf"^\s*{pid}\s+0\s+2\s+S\s+\d+\s+sleep 301$", out, re.M), f"mps should show HOME 0 WHERE 2:\n{out}"
    run(name, 0, f"kill {pid}")
    deadline = time.monotonic() + harness.timeout(10)
    while pid in ps_pids(name, 2):
        assert time.monotonic() < deadline, f"`kill {pid}` on node 0 did not end it on node 2"
        time.sleep(0.5)

    # A process group spanning nodes 1 and 2 (a pipeline); one kill of the group, sent from node 3, ends both.
    with shell.Console(name, 0) as c:
        c.prompt()
        c.type("on 1 sleep 302 | on 2 sleep 303 &\n")
        c.expect(shell.PROMPT_LINE, timeout=30)
        both = find(name, 3, "sleep 302") + find(name, 3, "sleep 303")
        # (node 0's console is ours now: the other nodes answer)
        pgid = run(name, 1, f"cut -d' ' -f5 /proc/{both[0]}/stat").strip()
        assert pgid == run(name, 1, f"cut -d' ' -f5 /proc/{both[1]}/stat").strip(), "one process group"
        assert int(pgid) < 10000, f"the group is node 0's: {pgid}"
        run(name, 3, f"kill -TERM -{pgid}")          # from a third node
        deadline = time.monotonic() + harness.timeout(10)
        while {"sleep 302", "sleep 303"} & set(ps_pids(name, 1).values()):   # zombies show as [sleep]
            assert time.monotonic() < deadline, f"kill -TERM -{pgid} did not end the group on nodes 1 and 2"
            time.sleep(0.5)

        # ^C at node 0 reaches a job running on node 2.
        c.prompt()
        c.type("on 2 sleep 304\n")
        find(name, 2, "sleep 304")
        c.send(shell.CTRL_C)
        c.expect(shell.PROMPT_LINE, timeout=30)
        c.type("echo rc=$?\n")
        c.expect(rb"rc=130", timeout=30)
        deadline = time.monotonic() + harness.timeout(10)
        while "sleep 304" in ps_pids(name, 2).values():
            assert time.monotonic() < deadline, "^C did not end the job on node 2"
            time.sleep(0.5)

        # Node 3 dies while it runs a child of this shell: the shell gets a SIGKILL status at once.
        c.prompt()
        c.type("on 3 sleep 305 & echo started\n")
        c.expect(rb"started", timeout=30)
        c.expect(shell.PROMPT_LINE, timeout=30)
        find(name, 1, "sleep 305")
        c.type("wait $!; echo rc=$?\n")
        time.sleep(0.5)
        p = harness.cluster("fault", "--name", name, "kill", "3")
        t_kill = time.monotonic()
        assert p.returncode == 0, f"fault kill 3 failed\n{explain(p)}"
        c.expect(rb"rc=137", timeout=30)
        took = time.monotonic() - t_kill
        print(f"parent got the SIGKILL status {took:.2f} s after node 3 died")
        assert took < harness.timeout(3) + 1, f"the SIGKILL status came {took:.1f} s after node 3 died"
    for k in range(3):
        left = [pid for pid, cmd in ps_pids(name, k).items() if cmd == "sleep 305"]
        assert not left, f"node {k} still lists the child that ran on node 3: {left}"

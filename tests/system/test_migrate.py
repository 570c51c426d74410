"""Migration of running processes (docs/SSI.md, "Moving processes") on a 3-node cluster: CPU-bound
busybox pipelines moved once and ten times between the nodes print what they print unmoved and
return their status; a 64 MiB process with a file, a pipe to its parent, a timer and a handler
survives moving 0 -> 1 -> 2 -> home; ^C at home reaches a moved job; `ps` everywhere shows where it
is; a locked process stays; a move whose target dies midway leaves the process running where it was."""

import re
import time

import harness
import shell

UP_TIMEOUT = harness.timeout(120)
EXEC_TIMEOUT = harness.timeout(300)
N = 3
MEM = 384


def explain(p, name=None):
    return harness.explain_cluster(p, name, N)


def run(name, k, cmd, timeout=EXEC_TIMEOUT):
    return harness.exec_ok(name, k, cmd, timeout, N)


def find(name, k, cmd):
    return harness.find_pids(name, k, cmd, 20, N)


def where(name, k, pid):
    return run(name, k, f"cat /proc/{pid}/where").strip()


AWK = "awk 'BEGIN { for (i = 0; i < 3000000; i++) s += i % 7; print s; exit 3 }'"
PIPE = "seq 1 1500000 | md5sum"


def test_migrate(kernel, cluster_name):
    name = cluster_name
    p = harness.cluster("up", "-n", str(N), "--mem", str(MEM), "--name", name, "--append", "balance=off",
                        "--timeout", str(UP_TIMEOUT),
                        limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n {N}` failed\n{explain(p, name)}"

    # Pre-copy is on by default, next to the balancer's files.
    assert run(name, 0, "cat /proc/cluster/migrate/precopy /proc/cluster/balancer/enabled").split() == ["1", "0"]

    # The references, unmoved.
    want_awk = run(name, 0, f"{AWK}; echo rc=$?").split()
    want_pipe = run(name, 0, PIPE).strip()
    assert len(want_awk) == 2 and want_awk[1] == "rc=3", want_awk

    # Moved once, mid-run: the awk loop (user-mode CPU) and both ends of a pipeline.
    out = run(name, 0, f"({AWK}; echo rc=$? > /tmp/awk.rc) > /tmp/awk.out & "
                       f"({PIPE}) > /tmp/pipe.out & "
                       "sleep 1; A=$(pidof awk); S=$(pidof seq); M=$(pidof md5sum); echo pids $A $S $M; "
                       "migrate $A 1 && migrate $S 2 && migrate $M 1 && echo moved; "
                       "cat /proc/$A/where /proc/$S/where /proc/$M/where | tr '\\n' ' '; echo; "
                       "wait; cat /tmp/awk.out /tmp/awk.rc /tmp/pipe.out")
    assert "moved" in out and "1 2 1" in out, f"the processes did not move:\n{out}"
    assert out.split()[-4:] == [want_awk[0], want_awk[1], *want_pipe.split()][:4], \
        f"moved once, the output differs from {want_awk} {want_pipe!r}:\n{out}"

    # Moved ten times between the three nodes.
    out = run(name, 0, f"({AWK}; echo rc=$? > /tmp/awk.rc) > /tmp/awk.out & "
                       f"({PIPE}) > /tmp/pipe.out & "
                       "sleep 0.5; A=$(pidof awk); M=$(pidof md5sum); n=0; "
                       "for k in 1 2 0 2 1 0 1 2 1 0; do "
                       "migrate $A $k && n=$((n+1)); migrate $M $k && n=$((n+1)); done; echo moves $n; "
                       "wait; cat /tmp/awk.out /tmp/awk.rc /tmp/pipe.out")
    moves = re.search(r"moves (\d+)", out)
    assert moves and int(moves.group(1)) >= 15, f"fewer moves than asked (a process may end first):\n{out}"
    assert out.split()[-4:] == [want_awk[0], want_awk[1], *want_pipe.split()][:4], \
        f"moved ten times, the output differs:\n{out}"
    stats = run(name, 1, "grep -E '^migrate_(in|out|failed) ' /proc/cluster/stats")
    assert re.search(r"migrate_in [1-9]", stats), stats

    # 64 MiB, a file, a pipe to its parent, SIGALRM every 20 ms, the FPU: 0 -> 1 -> 2 -> home. It
    # writes a page each round, so the memory sent ahead while it ran (pre-copy) is not what it
    # holds when it stops: a page written meanwhile and not sent again shows in its checksum.
    out = run(name, 0, "/usr/libexec/shoal-tests/migwork 64 30 > /tmp/mw.out 2>&1 & sleep 4; "
                       "P=$(sed -n 's/^worker //p' /tmp/mw.out); "
                       "for k in 1 2 home; do migrate $P $k || echo FAILED $k; sleep 1; done; "
                       "wait; cat /tmp/mw.out; grep -E 'last_freeze|precop' /proc/cluster/stats")
    assert "PASS migwork" in out and "FAILED" not in out, f"the 64 MiB process did not survive:\n{out}"
    assert re.search(r"^nodes 0 1 2 0$", out, re.M), f"it did not run on 0, 1, 2, 0:\n{out}"
    assert re.search(r"^migrate_precopies [1-9]", out, re.M) and re.search(r"^migrate_precopy_pages [1-9]", out, re.M), \
        f"node 0 should have sent the 64 MiB ahead of the move:\n{out}"

    # A sleep moved twice sleeps its time, not its time again after each move: its clock goes on,
    # and the sleep restarts with what was left of it (8 s asked; the old restart took 11 s or more).
    out = run(name, 0, "s=$(date +%s); sleep 8 & P=$!; sleep 2; migrate $P 1; sleep 1; migrate $P 2; "
                       "cat /proc/$P/where; wait $P; echo rc=$? slept $(($(date +%s) - s))")
    m = re.search(r"^2\s+rc=0 slept (\d+)$", out, re.M)
    assert m, f"the sleep should have moved to node 2 and ended well:\n{out}"
    assert 8 <= int(m.group(1)) <= 10, f"an 8 s sleep moved twice took {m.group(1)} s"

    # A locked process stays; unlocked, it moves.
    out = run(name, 0, "sleep 100 & P=$!; lock $P; migrate $P 1; echo rc=$?; cat /proc/$P/where; "
                       "unlock $P; migrate $P 1 && cat /proc/$P/where; kill $P")
    assert re.search(r"rc=1\s+0\s+1", out), f"lock should keep it on node 0, unlock let it go:\n{out}"

    with shell.Console(name, 0) as c:
        # ^C at home reaches a job moved to node 2, which every node lists with its new place.
        c.prompt()
        c.type(f"{AWK}\n")
        pid = find(name, 1, "{awk}")[0]       # the shell runs the applet in its fork
        run(name, 1, f"migrate {pid} 2")
        for k in (1, 2):                # (node 0's console is ours: it cannot run commands meanwhile)
            assert where(name, k, pid) == "2", f"node {k}: /proc/{pid}/where"
        out = run(name, 2, "mps")
        assert re.search(rf"^\s*{pid}\s+0\s+2\s+", out, re.M), f"mps on node 2 should show HOME 0 WHERE 2:\n{out}"
        c.send(shell.CTRL_C)
        c.expect(shell.PROMPT_LINE, timeout=30)
        c.type("echo rc=$?\n")
        c.expect(rb"rc=130", timeout=30)

        # The target dies during the move: the process goes on where it was.
        c.prompt()
        c.type("/usr/libexec/shoal-tests/migwork 96 25 > /tmp/mw2.out 2>&1 &\n")
        c.expect(shell.PROMPT_LINE, timeout=30)
        time.sleep(harness.timeout(3))
        c.type("P=$(sed -n 's/^worker //p' /tmp/mw2.out); echo worker=$P; migrate $P 2; echo migrate=$?\n")
        m = c.expect(rb"worker=(\d+)", timeout=30)
        worker = int(m.group(1))
        time.sleep(0.3)
        p = harness.cluster("fault", "--name", name, "kill", "2")
        assert p.returncode == 0, f"fault kill 2 failed\n{explain(p)}"
        c.expect(rb"migrate=1", timeout=60)
        c.expect(shell.PROMPT_LINE, timeout=30)
        c.type("wait; cat /tmp/mw2.out; echo where=$(cat /proc/self/where)\n")
        m = c.expect(rb"(PASS|FAIL) migwork", timeout=120)
        text = c.since(0)
    assert m.group(1) == b"PASS", f"the process did not survive its target's death:\n{text[-3000:]}"
    log = harness.read(f"{harness.RUN_DIR}/{name}/node0.log")
    assert re.search(rf"migrate: pid {worker} \(migwork\) stays on node 0", log), \
        f"node 0 should log why pid {worker} stayed:\n{log[-2000:]}"

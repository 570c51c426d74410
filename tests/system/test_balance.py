"""Fork and forget (docs/BALANCER.md) on a 4-node cluster, without any user command to place
anything. The jobs (user/tests/cpuwork.c) note where they ran and when, on their own clock, which
goes on across moves: so the timelines tell how the cluster spread them, without asking loaded
nodes anything while they work.
  * 16 CPU-bound jobs forked at node 0 run 4 per node within 5 s, print what they print on one node,
    and none moves more than twice over the minute of steady load;
  * a node whose own (locked) work ends gets work; a node that rejoins the cluster gets work;
  * a process that needs more memory than its node has left is moved to a node with room, finishes;
  * on 2 nodes (where each node hears the other every period), 8 jobs from node 0 run 4 and 4 and
    stay so; the login shells, busy reading their profiles at boot, were not moved."""

import collections
import re
import time

import harness

UP_TIMEOUT = harness.timeout(120)
EXEC_TIMEOUT = harness.timeout(600)
N = 4
CPUWORK = "/usr/libexec/shoal-tests/cpuwork"
LONG = 6500                             # chunks: about 70 s of steady load at 4 per node under TCG


def explain(p, name=None):
    return harness.explain_cluster(p, name, N)


def run(name, k, cmd, timeout=EXEC_TIMEOUT):
    return harness.exec_ok(name, k, cmd, timeout, N)


def timelines(text):
    """{pid: (start, end, [(t, node)...])} and {pid: result} from cpuwork's output."""
    lines, results = {}, {}
    for m in re.finditer(r"^where (\d+) ([\d.]+) ([\d.]+)((?: [\d.]+:-?\d+)*)$", text, re.M):
        steps = [(float(t), int(k)) for t, k in re.findall(r"([\d.]+):(-?\d+)", m.group(4))]
        lines[int(m.group(1))] = (float(m.group(2)), float(m.group(3)), steps)
    for m in re.finditer(r"^cpuwork (\d+) result (\w+)$", text, re.M):
        results[int(m.group(1))] = m.group(2)
    return lines, results


def node_at(steps, t):
    node = None
    for ts, k in steps:
        if ts <= t:
            node = k
    return node


def spread_at(lines, t):
    """Jobs per node at time t, among the jobs alive then."""
    return collections.Counter(node_at(s, t) for start, end, s in lines.values() if start <= t <= end)


def wait_for_files(name, pattern, count, timeout):
    deadline = time.monotonic() + harness.timeout(timeout)
    while True:
        out = run(name, 0, f"cat {pattern} 2>/dev/null | grep -c '^where '; true")
        counts = [int(line) for line in out.split() if line.isdigit()]
        if counts and counts[-1] >= count:
            return run(name, 0, f"cat {pattern}")
        assert time.monotonic() < deadline, f"the jobs did not all finish: {out}"
        time.sleep(5)


def test_balance(kernel, cluster_name):
    name = cluster_name
    p = harness.cluster("up", "-n", str(N), "--mem", "192", "--name", name, "--timeout", str(UP_TIMEOUT),
                        limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n {N}` failed\n{explain(p, name)}"
    for k in range(N):
        assert run(name, k, "cat /proc/cluster/balancer/enabled").strip() == "1", "balancing is on by default"
        assert run(name, k, "cat /proc/$PPID/where").strip() == str(k), \
            f"node {k}'s login shell was moved: {run(name, k, 'cat /proc/cluster/balancer/log')}"
    # The console shells the commands go through stay at home (busy running them, they would be
    # worth moving too, and then node 0's commands would run elsewhere).
    for k in range(N):
        run(name, k, "lock $PPID")

    # 16 jobs forked at node 0, and nothing else asked. (The shell that forks them is locked: busy
    # forking, it would be worth moving too, and then they would be forked elsewhere.)
    run(name, 0, f"lock $$; rm -f /tmp/a.*; for i in $(seq 1 16); do {CPUWORK} {LONG} 250 > /tmp/a.$i & done")
    out = wait_for_files(name, "/tmp/a.*", 16, 600)
    lines, results = timelines(out)
    assert len(lines) == 16, f"16 timelines expected:\n{out}"
    first = min(start for start, end, s in lines.values())
    last_start = max(start for start, end, s in lines.values())
    steady_end = min(end for start, end, s in lines.values())
    converged = None
    t = last_start
    while t < steady_end:
        c = spread_at(lines, t)
        if sorted(c.values()) == [4, 4, 4, 4]:
            converged = t - first
            break
        t += 0.1
    history = [(round(dt, 1), dict(sorted(spread_at(lines, first + dt).items(), key=lambda kv: str(kv[0]))))
               for dt in
               (0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)]
    print(f"16 jobs from node 0: 4 per node {converged} s after the first started "
          f"(steady load for {steady_end - first:.0f} s): {history}")
    assert converged is not None, f"never 4 per node; at the end of the steady load: {spread_at(lines, steady_end)}"
    assert converged <= harness.timeout(5) + (last_start - first), \
        f"4 per node only after {converged:.1f} s: {history}"
    # Over (up to) a minute of steady load after the spreading, nobody ping-pongs.
    w0, w1 = first + converged, min(first + converged + 60, steady_end)
    moves = {pid: sum(1 for (t0, a), (t1, b) in zip(s, s[1:]) if a != b and w0 < t1 <= w1)
             for pid, (start, end, s) in lines.items()}
    print(f"moves per process over {w1 - w0:.0f} s of steady load: {sorted(moves.values())}")
    assert w1 - w0 >= 30, f"the steady load lasted only {w1 - w0:.0f} s"
    assert max(moves.values()) <= 2, f"a process moved more than twice under steady load: {moves}"
    one = timelines(run(name, 0, "echo 0 > /proc/cluster/balancer/enabled; "
                                 f"{CPUWORK} {LONG}; echo 1 > /proc/cluster/balancer/enabled"))[1]
    assert set(results.values()) == set(one.values()), f"the jobs printed {set(results.values())}, " \
                                                       f"one node prints {set(one.values())}"

    # Node 3 runs its own locked work; when that ends, it gets some of node 0's jobs.
    run(name, 0, "lock $$; rm -f /tmp/b.* /tmp/c.*; for i in 1 2 3 4; do "
                 f"on 3 sh -c 'echo 1 > /proc/self/lock; exec {CPUWORK} 2500' > /tmp/b.$i & done; sleep 1; "
                 f"for i in $(seq 1 12); do {CPUWORK} {LONG} > /tmp/c.$i & done")
    wait_for_files(name, "/tmp/b.*", 4, 600)
    locked = timelines(run(name, 0, "cat /tmp/b.*"))[0]
    assert all(all(k == 3 for t, k in s) for start, end, s in locked.values()), f"locked jobs moved: {locked}"
    locked_end = max(end for start, end, s in locked.values())

    # Node 3 leaves and comes back while the 12 run: it gets work again.
    p = harness.cluster("fault", "--name", name, "kill", "3")
    assert p.returncode == 0, f"fault kill 3 failed\n{explain(p)}"
    time.sleep(harness.timeout(3))
    p = harness.cluster("fault", "--name", name, "restart", "3")
    assert p.returncode == 0, f"fault restart 3 failed\n{explain(p)}"
    out = run(name, 0, "while pidof cpuwork >/dev/null; do sleep 2; done; cat /tmp/c.*")
    lines, _ = timelines(out)
    after_locked = [s for start, end, s in lines.values() if any(k == 3 and t > locked_end for t, k in s)]
    assert after_locked, f"node 3 got no work after its own ended (or after it rejoined): {lines}"
    # (jobs that were on node 3 when it died were killed; their parents saw SIGKILL, test_deputy checks that)

    # More memory than node 0 has left: moved to a node with room, it finishes. A locked process
    # holds half of node 0 first, so only the growing one can go.
    run(name, 0, "/usr/libexec/shoal-tests/memhog 96 0 600 > /dev/null & lock $!")
    time.sleep(harness.timeout(3))
    free0 = int(re.search(r"MemFree:\s+(\d+)", run(name, 0, "cat /proc/meminfo")).group(1)) // 1024
    want_mib = free0 + 16
    out = run(name, 0, f"/usr/libexec/shoal-tests/memhog {want_mib} 200")
    assert re.search(rf"memhog {want_mib} MiB ok on node [123]\b", out), \
        f"a {want_mib} MiB process on a node with {free0} MiB free should have been moved and finished:\n{out}"
    assert "memory" in run(name, 0, "cat /proc/cluster/balancer/log")


def test_balance_two_nodes(kernel, cluster_name):
    """Each node hears the other every period here: news of the peer must not stick (a peer's busy
    moment, held as long as it kept speaking, once stopped all balancing after one move)."""
    name = cluster_name
    p = harness.cluster("up", "-n", "2", "--mem", "192", "--name", name, "--timeout", str(UP_TIMEOUT),
                        limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n 2` failed\n{explain(p, name)}"
    for k in range(2):
        assert run(name, k, "cat /proc/$PPID/where").strip() == str(k), \
            f"node {k}'s login shell was moved: {run(name, k, 'cat /proc/cluster/balancer/log')}"
    for rnd in range(2):
        out = run(name, 0, f"lock $$; rm -f /tmp/d.*; for i in $(seq 1 8); do {CPUWORK} 2500 250 > /tmp/d.$i & done; "
                           "wait; cat /tmp/d.*")
        lines, results = timelines(out)
        assert len(lines) == 8 and len(set(results.values())) == 1, f"8 equal results expected:\n{out}"
        first = min(start for start, end, s in lines.values())
        steady_end = min(end for start, end, s in lines.values())
        t, converged = first, None
        while t < steady_end:
            if sorted(spread_at(lines, t).values()) == [4, 4]:
                converged = t - first
                break
            t += 0.1
        mid = spread_at(lines, (first + converged + steady_end) / 2) if converged is not None else None
        print(f"round {rnd}: 4 and 4 after {converged} s of {steady_end - first:.0f} s; then {mid}")
        assert converged is not None, f"round {rnd}: never 4 and 4: {lines}"
        assert sorted(mid.values()) == [4, 4], f"round {rnd}: not 4 and 4 any more: {lines}"

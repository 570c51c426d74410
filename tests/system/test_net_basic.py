"""The kernel side of the cluster network (e1000 driver, net glue, RPC, /proc/cluster) on a 2-node
cluster: both nodes list both as up (/proc/cluster/nodes and the `nodes` tool); 100 echo RPCs
(`ping`), a 16 MiB message through the bulk channel with its checksum (`bulk`), 1000 RPCs each
answered exactly once (`rpcflood`); the counters in /proc/cluster/stats move. Also the driver's and
the RPC layer's self-tests with an e1000 present (test_ktest.py boots with no NIC).
Formats: docs/PROC-CLUSTER.md."""

import re
import time

import harness

UP_TIMEOUT = harness.timeout(120)
EXEC_TIMEOUT = harness.timeout(120)
KTEST_LIMIT = harness.timeout(180)
MIB16 = 16 << 20


def explain(p, name=None, n=2):
    return harness.explain_cluster(p, name, n)


def run(name, k, cmd, timeout=EXEC_TIMEOUT):
    return harness.exec_ok(name, k, cmd, timeout, 2)


def nodes_table(text):
    """{id: (mac, state, load, free_kb, procs, incarnation)} from /proc/cluster/nodes."""
    table = {}
    for line in text.splitlines():
        f = line.split()
        assert len(f) == 7, f"a /proc/cluster/nodes line is not 7 fields: {line!r}\n{text}"
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", f[1]), f"bad MAC in {line!r}"
        assert f[2] in ("up", "down"), f"bad state in {line!r}"
        assert re.fullmatch(r"[0-9a-f]{8}", f[6]) and int(f[6], 16) != 0, f"bad incarnation in {line!r}"
        table[int(f[0])] = (f[1], f[2], int(f[3]), int(f[4]), int(f[5]), f[6])
    return table


def stats(name, k):
    out = run(name, k, "cat /proc/cluster/stats")
    values = {}
    for line in out.splitlines():
        m = re.fullmatch(r"(\w+) (\d+)", line.strip())
        if m:
            values[m.group(1)] = int(m.group(2))
    for key in ("frames_sent", "frames_received", "e1000_rx_frames", "e1000_tx_frames", "rpc_calls"):
        assert key in values, f"node {k}: /proc/cluster/stats has no `{key}`:\n{out}"
    return values


def ctl(name, k, command, timeout=EXEC_TIMEOUT):
    """Runs a /proc/cluster/ctl command on node k; returns the result line."""
    out = run(name, k, f"echo {command} > /proc/cluster/ctl && cat /proc/cluster/ctl", timeout)
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines, f"node {k}: no result for `{command}`"
    return lines[-1].strip()


def test_two_nodes_see_each_other_and_talk(kernel, cluster_name):
    name = cluster_name
    p = harness.cluster("up", "-n", "2", "--name", name, "--timeout", str(UP_TIMEOUT), limit=UP_TIMEOUT + 120)
    assert p.returncode == 0, f"`tools/cluster up -n 2` failed\n{explain(p, name)}"
    for k in range(2):
        log = harness.read(f"{harness.RUN_DIR}/{name}/node{k}.log")
        assert "net: 2 nodes up: 0 1" in log, f"node {k} never printed `net: 2 nodes up: 0 1`\n{explain(p, name)}"

    tables = {}
    for k in range(2):
        tables[k] = nodes_table(run(name, k, "cat /proc/cluster/nodes"))
        assert sorted(tables[k]) == [0, 1], f"node {k} knows nodes {sorted(tables[k])}"
        for n in (0, 1):
            mac, state, _, free_kb, procs, _ = tables[k][n]
            assert state == "up", f"node {k} sees node {n} {state}"
            assert mac == f"52:54:00:5a:00:{n:02x}", f"node {k} gives node {n} the MAC {mac}"
            assert free_kb > 0, f"node {k} says node {n} has no free memory"
    # Each node's idea of the other's incarnation is what the other says of itself.
    assert tables[0][1][5] == tables[1][1][5] and tables[1][0][5] == tables[0][0][5], tables

    out = run(name, 0, "nodes")
    assert re.search(r"^ID\s+MAC\s+STATE\s+LOAD\s+FREE\s+PROCS", out, re.M), f"no table header:\n{out}"
    for n in (0, 1):
        assert re.search(rf"^{n}\s+52:54:00:5a:00:0{n}\s+up\s", out, re.M), f"`nodes` lacks node {n}:\n{out}"
    assert "2 of 2 nodes up" in out, out

    before = [stats(name, k) for k in range(2)]

    line = ctl(name, 0, "ping 1 100")
    m = re.fullmatch(r"ping 1 100 (\d+) (\d+) (\d+) (\d+)", line)
    assert m, f"ping result: {line!r}"
    lo, med, p99, hi = map(int, m.groups())
    assert lo <= med <= p99 <= hi, line
    assert med < 50000, f"median round trip {med} us: something waits for a timer ({line})"

    t0 = time.monotonic()
    line = ctl(name, 0, f"bulk 1 {MIB16}", timeout=EXEC_TIMEOUT + 120)
    m = re.fullmatch(rf"bulk 1 {MIB16} (\d+) ([\d.]+) (\S+)", line)
    assert m, f"bulk result: {line!r} (after {time.monotonic() - t0:.1f} s)"
    assert m.group(3) == "checksum-ok", line

    line = ctl(name, 1, "rpcflood 0 1000")
    assert re.fullmatch(r"rpcflood 0 1000 \d+ ok replies=1000 bad=0 server_seen=1000 server_dups=0", line), line

    after = [stats(name, k) for k in range(2)]
    assert after[1]["bytes_received"] - before[1]["bytes_received"] >= MIB16, (before[1], after[1])
    assert after[0]["e1000_tx_bytes"] - before[0]["e1000_tx_bytes"] >= MIB16, (before[0], after[0])
    assert after[0]["rpc_calls_ok"] - before[0]["rpc_calls_ok"] >= 101, (before[0], after[0])
    assert after[1]["rpc_calls_ok"] - before[1]["rpc_calls_ok"] >= 1000, (before[1], after[1])
    assert after[0]["rpc_requests"] - before[0]["rpc_requests"] >= 1000, (before[0], after[0])
    for k in range(2):
        assert after[k]["e1000_interrupts"] > before[k]["e1000_interrupts"], f"node {k}: no interrupts"
        assert after[k]["e1000_rx_errors"] == 0, f"node {k}: receive errors {after[k]}"
        assert after[k]["nodes_up"] == 2, after[k]
    # NAPI and batching: a 16 MiB stream costs far fewer interrupts and doorbells than frames.
    rx = after[1]["e1000_rx_frames"] - before[1]["e1000_rx_frames"]
    assert after[1]["e1000_interrupts"] - before[1]["e1000_interrupts"] < rx, (before[1], after[1])
    assert after[1]["e1000_rdt_writes"] - before[1]["e1000_rdt_writes"] < rx, (before[1], after[1])


def test_driver_and_rpc_selftests_with_a_card(kernel, tmp_path):
    """`ktest` with an e1000 (no peer): rings and registers, 768 frames and 40 jumbo frames sent
    and reclaimed in batches, a full ring refusing with -EAGAIN, big-message memory, RPC over a
    fake transport, /proc/cluster (ping and rpcflood of this node itself)."""
    run_ = harness.run_qemu(harness.kernel_argv("ktest") + ["-device", "e1000,mac=52:54:00:5a:00:07"],
                            str(tmp_path / "serial.log"), KTEST_LIMIT)
    info = run_.describe()
    assert not run_.timed_out, f"ktest did not finish\n{info}"
    tests, summary = harness.ktest_results(run_.log)
    names = {t[0]: t[1] for t in tests}
    for t in ("e1000_registers_sane", "e1000_transmit_and_reclaim", "e1000_ring_full_is_eagain",
              "net_big_message_memory", "net_local_delivery_and_errors", "rpc_calls_over_fake_transport",
              "rpc_timeout_late_answer_and_peer_death", "rpc_many_outstanding_and_bulk", "proc_cluster_files"):
        assert names.get(t) == "ok", f"ktest {t}: {names.get(t)}\n{info}"
    assert "e1000: 52:54:00:5a:00:07" in run_.log, f"the driver did not come up\n{info}"
    assert run_.rc == harness.KTEST_EXIT_PASS, f"QEMU exit status {run_.rc}\n{info}"

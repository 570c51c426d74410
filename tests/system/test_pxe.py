"""PXE: 4 nodes boot over the network (SeaBIOS -> the e1000's iPXE ROM -> dnsmasq's DHCP and TFTP
inside the cluster's namespace -> GRUB netboot -> the kernel and initrd from build/netboot/), with no
disk and no -kernel, and all list the same 4 nodes as up within 10 s of their kernels being ready."""

import os
import re
import subprocess
import time

import pytest

import harness
from test_network import FORM_LIMIT, Cluster, mac

PXE_ROM = "/usr/lib/ipxe/qemu/pxe-e1000.rom"


def test_four_pxe_booted_nodes_form_one_cluster(built, request):
    if os.geteuid() != 0:
        pytest.skip("needs root: PXE uses a bridge, taps and dnsmasq in a network namespace")
    for path in (PXE_ROM, os.path.join(harness.NETBOOT, "boot/grub/i386-pc/core.0")):
        assert os.path.exists(path), f"{path} is missing (tools/deps, make)"
    c = Cluster(f"p{os.getpid() % 100000}x", 4)
    start = time.monotonic()
    up = subprocess.Popen([harness.CLUSTER, "up", "-n", "4", "--name", c.name, "--boot", "pxe",
                           "--accel", "tcg", "--formed", "no", "--timeout",
                           str(harness.timeout(180))], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=harness.ROOT)
    ready, formed = {}, {}
    passed = False
    try:
        # Watch the consoles: when each kernel printed its ready line, when each counted 4 nodes up.
        deadline = start + harness.timeout(240)
        while len(formed) < 4 and time.monotonic() < deadline:
            now = time.monotonic() - start
            for k in range(4):
                log = c.log(k)
                if k not in ready and f"shoal: node {k} ready" in log:
                    ready[k] = now
                if k in ready and k not in formed and c.members(k) == 4:
                    formed[k] = now
            if up.poll() is not None and up.returncode != 0:
                break
            if ready and now - min(ready.values()) > harness.timeout(FORM_LIMIT) + 5:
                break
            time.sleep(0.05)
        out, err = up.communicate(timeout=harness.timeout(240))
        assert up.returncode == 0, f"`up --boot pxe` failed:\n{out}\n{err}"
        assert "pxe boot" in out, out
        summary = (f"PXE, 4 nodes: kernels ready at {sorted(round(t, 1) for t in ready.values())} s, "
                   f"cluster formed (every node counts 4 up) at "
                   f"{round(max(formed.values()), 1) if len(formed) == 4 else None} s after start")
        print(summary)
        assert len(formed) == 4, f"not every node counted 4 nodes up: {summary}\n" + \
            "\n".join(c.tail(k, 10) for k in range(4))
        took = max(formed.values()) - min(ready.values())
        assert took <= FORM_LIMIT, \
            f"the cluster formed {took:.1f} s after the first kernel was ready ({summary})"
        for k in range(4):
            assert "cannot run /init" not in c.log(k), \
                f"node {k} booted without its initrd (see boot/grub-netboot.cfg)\n{c.tail(k)}"
        views = {k: c.nodes(k) for k in range(4)}
        for k, view in views.items():
            assert sorted(i for i, v in view.items() if v[1] == "up") == [0, 1, 2, 3], \
                f"node {k}'s /proc/cluster/nodes: {view}"
            assert all(v[0] == mac(i) for i, v in view.items()), view
        leases = harness.read(os.path.join(c.run_dir, "dnsmasq.log"))
        assert len(set(re.findall(r"DHCPACK\(br0\) \S+ (52:54:00:5a:00:0\d)", leases))) == 4, \
            "dnsmasq's log does not show a DHCP lease for each of the 4 nodes"
        passed = True
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        p, leftovers = c.down(keep_logs=not passed)
        assert p.returncode == 0 and not leftovers, f"teardown: {p.stderr} {leftovers}"

"""tools/shoal.lua, the Wireshark/tshark dissector of EtherType 0x88B5: on frames built here by the
layout of docs/PROTOCOL.md (net/wire.h), malformed ones included, and on a capture of a real 2-node
cluster's traffic (HELLO, DATA with RPC headers, ACK, with the right node ids)."""

import os
import shutil
import struct
import subprocess
import time

import pytest

import harness
from test_network import Cluster

LUA = os.path.join(harness.ROOT, "tools", "shoal.lua")
FIELDS = ["eth.src", "shoal.type", "shoal.type_name", "shoal.src", "shoal.dst", "shoal.seq",
          "shoal.channel", "shoal.len", "shoal.hello.nentries", "shoal.hello.entry.node",
          "shoal.rpc.kind", "shoal.rpc.service", "_ws.expert.message"]


def tshark():
    path = shutil.which("tshark")
    if not path:
        pytest.skip("tshark is not installed (tools/deps installs it)")
    return path


def decode(pcap):
    """tshark's view of every frame of pcap through the dissector: a list of {field: value}."""
    p = subprocess.run([tshark(), "-X", f"lua_script:{LUA}", "-r", str(pcap), "-T", "fields",
                        "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"] +
                       [a for f in FIELDS for a in ("-e", f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"tshark failed: {p.stderr}"
    assert "Lua" not in p.stderr, f"the dissector raised a Lua error:\n{p.stderr}"
    return [dict(zip(FIELDS, line.split("|"))) for line in p.stdout.splitlines()]


def header(ftype, src, dst, seq=0, ack=0, flags=0, channel=0, length=0, msg_len=0, inc=0x1234):
    """A Shoal header (56 bytes, tag included) as net/wire.c writes it."""
    dst_inc = 0 if ftype == 1 else 0x5678
    epochs = (0, 0) if ftype == 1 else (1, 1)
    return struct.pack(">BBBBHHIIIIIIQIHH", 1, ftype, flags, channel, src, dst, inc, dst_inc,
                       *epochs, seq, ack, 0, msg_len, length, 0) + bytes(8)


def eth(src_node, dst_node=None):
    dst = b"\xff" * 6 if dst_node is None else bytes.fromhex(f"5254005a00{dst_node:02x}")
    return dst + bytes.fromhex(f"5254005a00{src_node:02x}") + b"\x88\xb5"


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr)


def test_dissector_decodes_every_frame_type(tmp_path):
    hello_payload = bytes.fromhex("5254005a0002") + struct.pack(">HIII", 1, 0, 1000, 3) + bytes(4) \
        + struct.pack(">HHIII", 3, 0, 0xabc, 1, 1)
    rpc = struct.pack("<BBHiQ", 1, 1, 1, 0, 42) + b"x" * 32
    frames = [
        eth(2) + header(1, 2, 0xffff, seq=7, length=len(hello_payload)) + hello_payload,
        eth(0, 1) + header(2, 0, 1, seq=100, ack=5, flags=3, length=len(rpc), msg_len=len(rpc))
        + rpc,
        eth(1, 0) + header(3, 1, 0, ack=101, channel=1, length=8) + bytes(8),
        eth(3, 1) + header(2, 3, 1, seq=9, length=500)[:40],            # truncated header
        eth(3, 1) + header(2, 3, 1, seq=9, length=500) + b"short",       # payload runs past the end
        eth(3, 1) + b"\x07" + header(2, 3, 1)[1:],                      # unknown version
    ]
    pcap = tmp_path / "made.pcap"
    write_pcap(pcap, frames)
    rows = decode(pcap)
    assert len(rows) == len(frames), rows
    hello, data, ack, short, overrun, badver = rows
    assert (hello["shoal.type"], hello["shoal.type_name"], hello["shoal.src"], hello["shoal.dst"],
            hello["shoal.seq"], hello["shoal.hello.entry.node"]) == ("1", "HELLO", "2", "65535", "7",
                                                                    "3"), hello
    assert (data["shoal.type_name"], data["shoal.src"], data["shoal.dst"], data["shoal.seq"],
            data["shoal.rpc.kind"], data["shoal.rpc.service"]) == ("DATA", "0", "1", "100", "1",
                                                                   "1"), data
    assert (ack["shoal.type_name"], ack["shoal.src"], ack["shoal.dst"], ack["shoal.channel"]) == \
        ("ACK", "1", "0", "1"), ack
    assert "shorter" in short["_ws.expert.message"], short
    assert "past the frame" in overrun["_ws.expert.message"], overrun
    assert "version" in badver["_ws.expert.message"], badver


def test_dissector_on_a_real_cluster_capture(built, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root: the capture runs inside the cluster's network namespace")
    tshark()
    c = Cluster(f"d{os.getpid() % 100000}x", 2)
    pcap = tmp_path / "cluster.pcap"
    passed = False
    try:
        p = c.up("--formed", "yes")
        assert p.returncode == 0, f"up -n 2: {p.stdout}\n{p.stderr}"
        # tap0 carries everything node 0 sends and receives: every frame of a 2-node cluster once.
        cap = subprocess.Popen(["ip", "netns", "exec", f"shoal-{c.name}", tshark(), "-q", "-i",
                                "tap0", "-F", "pcap", "-w", str(pcap), "-a", "duration:6"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (pcap.exists() and pcap.stat().st_size >= 24) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        line = c.ctl(0, "ping 1 20")
        assert line.startswith("ping 1 20 "), line
        line = c.ctl(1, "bulk 0 200000")
        assert line.endswith("checksum-ok"), line
        _, err = cap.communicate(timeout=60)
        assert cap.returncode == 0, f"tshark capture failed: {err}"
        rows = decode(pcap)
        assert rows, "nothing captured on tap0"
        for r in rows:
            assert r["shoal.type"], f"a 0x88B5 frame was not dissected: {r}"
            assert not r["_ws.expert.message"], f"a real frame flagged as malformed: {r}"
            assert int(r["shoal.src"]) == int(r["eth.src"].split(":")[-1], 16), \
                f"shoal.src does not match the sender's MAC: {r}"
        kinds = {(r["shoal.type_name"], r["shoal.src"], r["shoal.dst"]) for r in rows}
        for want in (("HELLO", "0", "65535"), ("HELLO", "1", "65535"), ("DATA", "0", "1"),
                     ("DATA", "1", "0")):
            assert want in kinds, f"no {want[0]} frame from node {want[1]} to {want[2]}: {kinds}"
        assert any(r["shoal.type_name"] == "ACK" for r in rows), kinds
        assert any(r["shoal.rpc.service"] == "1" for r in rows), "no echo RPC header decoded"
        passed = True
    finally:
        p, leftovers = c.down(keep_logs=not passed)
        assert p.returncode == 0 and not leftovers, f"teardown: {p.stderr} {leftovers}"

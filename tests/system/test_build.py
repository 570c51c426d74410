"""`make` builds every artifact, a second `make` does nothing, and a header change rebuilds exactly
the objects that include it (from the compiler's dependency files)."""

import glob
import os
import re
import struct
import subprocess
import tempfile
import time

import pytest

import harness

MB1_MAGIC, MB2_MAGIC = 0x1BADB002, 0xE85250D6


def elf_header(path):
    with open(path, "rb") as f:
        head = f.read(20)
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return head[4], struct.unpack_from("<H", head, 18)[0]  # EI_CLASS, e_machine


def find_header(path, magic, limit, align, words):
    """Offset of a valid multiboot header (magic, checksum) in the first `limit` bytes, or None."""
    with open(path, "rb") as f:
        data = f.read(limit)
    for off in range(0, len(data) - 4 * words + 1, align):
        fields = struct.unpack_from(f"<{words}I", data, off)
        if fields[0] == magic and sum(fields) & 0xFFFFFFFF == 0:
            return off
    return None


def test_kernel_elf64_with_multiboot2_header(built):
    path = harness.KERNEL64
    assert os.path.isfile(path), f"`make` did not produce {path}"
    assert elf_header(path) == (2, 62), f"{path} must be ELF64 x86-64 (class 2, machine 62)"
    assert find_header(path, MB2_MAGIC, 32768, 8, 4) is not None, \
        f"{path}: no valid multiboot2 header in its first 32 KiB"


def test_kernel_elf32_with_multiboot1_header(built):
    path = harness.KERNEL32
    assert os.path.isfile(path), f"`make` did not produce {path}"
    assert elf_header(path) == (1, 3), f"{path} must be elf32-i386 (class 1, machine 3) for -kernel"
    assert find_header(path, MB1_MAGIC, 8192, 4, 3) is not None, \
        f"{path}: no valid multiboot1 header in its first 8 KiB (QEMU -kernel needs one)"


def test_iso_is_bootable_iso9660(built):
    path = harness.ISO
    assert os.path.isfile(path), f"`make` did not produce {path}"
    with open(path, "rb") as f:
        f.seek(0x8001)
        assert f.read(5) == b"CD001", f"{path} is not an ISO 9660 image"
        f.seek(0x8801)
        assert f.read(5) == b"CD001", f"{path} has no El Torito boot record (not bootable)"


def test_netboot_tree(built):
    d = harness.NETBOOT
    assert os.path.isdir(d), f"`make` did not produce {d}/ (the TFTP root for PXE)"
    files = [os.path.join(p, f) for p, _, fs in os.walk(d) for f in fs]
    loaders = [f for f in files if re.search(r"\.(0|pxe|kpxe|ipxe|efi)$", f)]
    assert loaders, f"{d}/ has no network boot program (*.0, *.pxe, *.ipxe, *.efi): {files}"
    # The netboot kernel is build/shoal.elf without its debug information (less to send over TFTP).
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, "shoal.elf")
        subprocess.run(["objcopy", "--strip-debug", harness.KERNEL64, stripped], check=True)
        with open(stripped, "rb") as f:
            kernel = f.read()
    copies = [f for f in files if os.path.getsize(f) == len(kernel) and open(f, "rb").read() == kernel]
    assert copies, f"{d}/ does not contain the current build/shoal.elf (debug information stripped)"


def test_initrd_is_cpio_newc(built):
    path = harness.INITRD
    if not os.path.exists(path):
        pytest.skip("build/initrd.cpio is not built yet (MISSION.md requires it; userland issue)")
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"070701", f"{path} is not a cpio newc archive"
    assert b"TRAILER!!!" in data, f"{path} has no cpio trailer"


def make_dry_run():
    p = subprocess.run(["make", "-C", harness.ROOT, "-n", "all"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"`make -n all` failed:\n{p.stderr}"
    return [l for l in p.stdout.splitlines()
            if l.strip() and not re.match(r"make(\[\d+\])?: (Entering|Leaving|Nothing)", l)]


def test_second_make_does_nothing(built):
    would_run = make_dry_run()
    assert not would_run, "right after `make`, `make` would run again:\n" + "\n".join(would_run)


def objects_depending_on(header):
    """Objects whose compiler-generated .d file lists `header`, and all the others."""
    deps, others = set(), set()
    for d in glob.glob(os.path.join(harness.BUILD, "**", "*.d"), recursive=True):
        if not os.path.isfile(d) or not os.path.exists(d[:-2] + ".o"):
            continue  # e.g. a directory named *.d inside the extracted busybox package
        with open(d) as f:
            text = f.read()
        obj = os.path.relpath(d[:-2] + ".o", harness.ROOT)
        source = text.split(":", 1)[1].split()[0] if ":" in text else ""
        if source.startswith("build/") or os.path.isabs(source):
            continue  # generated source (e.g. the symbol table): rebuilt whenever the kernel is
        (deps if re.search(r"(^|[\s:])" + re.escape(header) + r"(\s|$)", text) else others).add(obj)
    return deps, others


def test_header_change_rebuilds_its_includers(built):
    header = "kernel/printk.h"
    path = os.path.join(harness.ROOT, header)
    assert os.path.isfile(path), f"{header} does not exist"
    deps, others = objects_depending_on(header)
    assert deps, f"no build/**/*.d lists {header}: header dependencies are not tracked (-MMD)"
    st = os.stat(path)
    newest = max(os.stat(os.path.join(harness.ROOT, o)).st_mtime for o in deps)
    try:
        os.utime(path, (st.st_atime, max(time.time(), newest) + 2))
        would_run = "\n".join(make_dry_run())
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # leave the tree as it was
    missed = sorted(o for o in deps if not re.search(r"-o\s+" + re.escape(o) + r"\b", would_run))
    extra = sorted(o for o in others if re.search(r"-o\s+" + re.escape(o) + r"\b", would_run))
    assert not missed, f"touching {header} does not rebuild {missed}:\n{would_run}"
    assert not extra, f"touching {header} rebuilds objects that do not include it: {extra}"
    assert make_dry_run() == [], "the tree was left needing a rebuild"

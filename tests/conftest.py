"""pytest configuration shared by every test of Shoal (run: /usr/bin/python3 -m pytest tests/).

tests/unit/   host unit tests of portable kernel code (see tests/unit/).
tests/system/ QEMU system tests: build, in-kernel self-tests (ktest), crash reports, clusters.
              They need root for the cluster tests, QEMU and the tools tools/deps installs.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: starts QEMU clusters with tools/cluster (root)")
    config.addinivalue_line("markers", "qemu: boots the kernel in QEMU")


def pytest_report_header(config):
    kvm = "nested PVM" if os.path.exists("/sys/module/kvm_pvm") else (
        "present" if os.path.exists("/dev/kvm") else "absent")
    return [f"shoal: tree {ROOT}, uid {os.geteuid()}, python {sys.executable}, /dev/kvm {kvm}; "
            "system tests use TCG"]

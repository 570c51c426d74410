"""Fixtures for the QEMU system tests: a built tree, root, and clusters that are always torn down."""

import itertools
import os
import shutil
import subprocess

import pytest

import harness

_built = {}


@pytest.fixture(scope="session")
def built():
    """Run `make all` once per session; fail (not skip) every test that needs it if it fails."""
    if "result" not in _built:
        _built["result"] = subprocess.run(["make", "-C", harness.ROOT, "all"], capture_output=True,
                                          text=True, timeout=harness.timeout(900))
    p = _built["result"]
    if p.returncode != 0:
        pytest.fail(f"`make all` failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


@pytest.fixture
def kernel(built):
    if not os.path.isfile(harness.KERNEL32):
        pytest.fail(f"`make` did not produce {harness.KERNEL32}")
    return harness.KERNEL32


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.skip("needs root: tools/cluster creates network namespaces, bridges and taps")


_names = itertools.count()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item (fixtures use it to keep logs of failures)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def cluster_name(root, request):
    """A cluster name unique to this test run; `tools/cluster down` ALWAYS runs afterwards.
    The nodes' logs (run/NAME/) are removed when the test passed, kept when it failed."""
    name = f"t{os.getpid() % 100000}x{next(_names)}"
    yield name
    p = harness.cluster("down", "--name", name, limit=120)
    leftovers = harness.cluster_processes(name)
    if leftovers:
        subprocess.run(["kill", "-9", *map(str, leftovers)])
    if f"shoal-{name}" in harness.netns_list():
        subprocess.run(["ip", "netns", "del", f"shoal-{name}"])
    assert p.returncode == 0, f"teardown: `tools/cluster down --name {name}` failed:\n{p.stderr}"
    assert not leftovers, f"teardown: `down` left QEMU processes {leftovers} running"
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        shutil.rmtree(os.path.join(harness.RUN_DIR, name), ignore_errors=True)

"""In-kernel self-tests (`ktest` on the command line) under TCG, booted directly (qboot + -kernel)
and through the ISO (SeaBIOS + GRUB): every test ok, a summary, QEMU exit status 33."""

import os
import re

import pytest

import harness

KTEST_LIMIT = harness.timeout(180)
MIN_TESTS = 6


def check_ktest_run(run):
    """Assert a ktest boot passed, with the serial log in every failure message."""
    info = run.describe()
    assert not run.timed_out, f"ktest did not finish within {KTEST_LIMIT:g} s\n{info}"
    assert "KERNEL PANIC" not in run.log, f"kernel panic during ktest\n{info}"
    assert harness.banner_count(run.log) == 1, f"boot banner seen {harness.banner_count(run.log)} " \
        f"times (expected once: no banner, or a reboot)\n{info}"
    tests, summary = harness.ktest_results(run.log)
    failed = [t for t in tests if t[1] != "ok"]
    assert not failed, f"ktest failures: {failed}\n{info}"
    assert summary is not None, f"no 'ktest: summary: P passed, F failed' line\n{info}"
    passed, nfailed = summary
    assert nfailed == 0, f"summary says {nfailed} failed\n{info}"
    assert passed >= MIN_TESTS, f"only {passed} ktests passed, expected at least {MIN_TESTS}\n{info}"
    assert passed == len(tests), f"summary says {passed} passed but {len(tests)} 'ok' lines\n{info}"
    assert run.rc == harness.KTEST_EXIT_PASS, \
        f"QEMU exit status {run.rc}, expected {harness.KTEST_EXIT_PASS} (isa-debug-exit, all passed)\n{info}"
    return tests


def test_ktest_direct_kernel_boot(kernel, tmp_path):
    run = harness.run_qemu(harness.kernel_argv("ktest"), str(tmp_path / "serial.log"), KTEST_LIMIT)
    check_ktest_run(run)
    unknown = [l for l in run.lines() if "unknown" in l.lower()]
    assert not unknown, f"`ktest` is a known key, yet the kernel warned: {unknown}\n{run.tail()}"


def test_ktest_through_iso_and_grub(built, tmp_path):
    assert os.path.isfile(harness.ISO), f"`make` did not produce {harness.ISO}"
    iso = str(tmp_path / "ktest.iso")
    try:
        cfg = harness.remaster_iso(harness.ISO, iso, str(tmp_path), "ktest")
    except Exception as e:  # a broken ISO is a failure, not a reason to skip
        pytest.fail(f"cannot add `ktest` to the ISO's grub.cfg: {e}")
    assert "node=auto" in cfg, f"the ISO's grub.cfg does not pass node=auto:\n{cfg}"
    run = harness.run_qemu(harness.iso_argv(iso), str(tmp_path / "serial.log"), KTEST_LIMIT)
    check_ktest_run(run)


def test_unknown_command_line_key_warns(kernel, tmp_path):
    run = harness.run_qemu(harness.kernel_argv("bogus=1 ktest"), str(tmp_path / "serial.log"),
                           KTEST_LIMIT)
    assert not run.timed_out, f"boot with bogus=1 did not finish\n{run.describe()}"
    warnings = [l for l in run.lines() if "unknown" in l.lower() and "bogus" in l]
    assert warnings, f"no warning line naming the unknown key `bogus`\n{run.describe()}"
    assert run.rc == harness.KTEST_EXIT_PASS, \
        f"an unknown key must only warn, yet the ktest run did not pass\n{run.describe()}"

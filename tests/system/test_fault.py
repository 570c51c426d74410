"""Deliberate crashes (`crash=pagefault`, `crash=panic`): a readable report naming the faulting
function, then `System halted.`, and the node stays halted (no reboot, QEMU keeps running)."""

import re

import pytest

import harness

LIMIT = harness.timeout(120)


def frame_re(func):
    """A symbolized backtrace frame: `<func+0xoff>` or, Linux style, `[<address>] func+0xoff`."""
    return rf"(<{func}\+0x[0-9a-fA-F]+>|\]\s+{func}\+0x[0-9a-fA-F]+\b)"


def crash_boot(tmp_path, key):
    return harness.run_qemu(harness.kernel_argv(f"node=auto {key}"), str(tmp_path / "serial.log"),
                            LIMIT, until=r"System halted\.", settle=2.0)


def report_of(run):
    """The text from the first KERNEL PANIC line to the end."""
    i = run.log.find("KERNEL PANIC")
    assert i >= 0, f"no line containing 'KERNEL PANIC'\n{run.describe()}"
    return run.log[i:].replace("\r", "")


def check_halted(run, report):
    info = run.describe()
    assert not run.timed_out, f"no 'System halted.' within {LIMIT:g} s\n{info}"
    assert "System halted." in report, f"'System halted.' is not after the KERNEL PANIC line\n{info}"
    assert run.still_running, f"QEMU exited after the report (status {run.rc}): it must stay " \
        f"halted, not reset or power off\n{info}"
    assert harness.banner_count(run.log) == 1, f"boot banner seen {harness.banner_count(run.log)} " \
        f"times: the node rebooted (or printed no banner)\n{info}"
    assert run.log.count("KERNEL PANIC") == 1, f"more than one panic report\n{info}"


def test_page_fault_report_names_the_function(kernel, tmp_path):
    run = crash_boot(tmp_path, "crash=pagefault")
    report = report_of(run)
    check_halted(run, report)
    info = run.describe()
    assert re.search(r"(?i)page fault|#PF", report), f"the report does not name the page fault\n{info}"
    assert re.search(r"RIP.*<ktest_crash_pagefault\+0x[0-9a-fA-F]+>", report), \
        f"the RIP line does not name <ktest_crash_pagefault+0x...>\n{info}"
    after_rip = report.split("RIP", 1)[1].split("\n", 1)[-1]
    assert re.search(frame_re("ktest_crash_pagefault"), after_rip), \
        f"the backtrace has no ktest_crash_pagefault frame\n{info}"
    assert re.search(r"CR2\W*(0x)?[0-9a-fA-F]+", report), f"the report has no CR2 value\n{info}"
    assert re.search(r"(?i)error code\W*(0x)?[0-9a-f]+", report), f"the report has no error code\n{info}"


def test_panic_report_names_the_caller(kernel, tmp_path):
    run = crash_boot(tmp_path, "crash=panic")
    report = report_of(run)
    check_halted(run, report)
    assert re.search(frame_re("ktest_crash_panic"), report), \
        f"the panic backtrace has no ktest_crash_panic+0x... frame\n{run.describe()}"

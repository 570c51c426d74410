"""tests/test_docs.py: the generated documentation matches the code."""
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_syscall_table_is_current():
    r = subprocess.run([str(ROOT / "tools/syscall-table"), "--check"], cwd=ROOT)
    assert r.returncode == 0, "docs/syscalls.md is stale: run tools/syscall-table > docs/syscalls.md"


def test_every_syscall_has_a_number():
    out = subprocess.run([str(ROOT / "tools/syscall-table")], cwd=ROOT, capture_output=True, text=True).stdout
    assert "| ? |" not in out, "a SYSCALL() uses a name missing from kernel/syscall_nr.h"

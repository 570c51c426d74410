"""tests/test_unit.py: builds the host unit tests (tests/unit/unit.mk) once and
runs each binary as its own pytest case."""

import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
UNIT_DIR = ROOT / "build" / "unit"
# One binary per tests/unit/test_*.c, as unit.mk builds them.
UNIT_TESTS = sorted(p.stem for p in (ROOT / "tests" / "unit").glob("test_*.c"))


@pytest.fixture(scope="module")
def unit_binaries():
    # Before the root Makefile exists the fragment can still be used directly.
    if (ROOT / "Makefile").exists():
        cmd = ["make", "unit"]
    else:
        cmd = ["make", "-f", "tests/unit/unit.mk", "unit"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}", pytrace=False)
    return UNIT_DIR


@pytest.mark.parametrize("name", UNIT_TESTS)
def test_unit(unit_binaries, name):
    binary = unit_binaries / name
    r = subprocess.run([str(binary)], cwd=ROOT, capture_output=True, text=True,
                       errors="replace", timeout=600)
    assert r.returncode == 0, f"{name} exited with {r.returncode}:\n{r.stdout}{r.stderr}"

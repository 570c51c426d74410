"""tests/test_fuzz.py: runs the protocol engine's libFuzzer harnesses (tests/fuzz/fuzz.mk), each for
a bounded time (FUZZ_SECONDS, default 30) from the committed corpus; a crash, leak, timeout or
sanitizer report fails the test. Skipped only when clang cannot build a libFuzzer target (tools/deps
installs clang and libclang-rt-14-dev)."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("FUZZ_SECONDS", "30"))
HARNESSES = sorted(p.stem for p in (ROOT / "tests" / "fuzz").glob("fuzz_*.c"))


def _libfuzzer_problem():
    """None if clang links a trivial fuzz target, else why not."""
    if not shutil.which("clang"):
        return "clang is not installed (tools/deps installs it)"
    with tempfile.TemporaryDirectory() as d:
        src = pathlib.Path(d) / "t.c"
        src.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                       "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n")
        r = subprocess.run(["clang", "-fsanitize=fuzzer,address,undefined", str(src), "-o",
                            str(pathlib.Path(d) / "t")], capture_output=True, text=True)
        if r.returncode != 0:
            return "clang cannot build libFuzzer targets (libclang-rt-14-dev missing?): " + r.stderr[-500:]
    return None


def _make():
    # The root Makefile may include the fragment; it also works on its own.
    makefile = ROOT / "Makefile"
    if makefile.exists() and "tests/fuzz/fuzz.mk" in makefile.read_text():
        return ["make"]
    return ["make", "-f", "tests/fuzz/fuzz.mk"]


@pytest.fixture(scope="module")
def fuzz_ready():
    problem = _libfuzzer_problem()
    if problem:
        pytest.skip(problem)
    r = subprocess.run(_make() + ["fuzz-build"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"building the fuzz harnesses failed:\n{r.stdout}{r.stderr}"


def test_corpus_is_committed():
    for h in HARNESSES:
        seeds = list((ROOT / "tests" / "fuzz" / "corpus" / h).glob("*"))
        assert 5 <= len(seeds) <= 100, f"{h}: {len(seeds)} seed files"


@pytest.mark.parametrize("harness", HARNESSES)
def test_fuzz(fuzz_ready, harness):
    cmd = _make() + ["fuzz", f"FUZZ_SECONDS={SECONDS}", f"FUZZ_HARNESSES={harness}"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace",
                       timeout=3 * SECONDS + 300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"{harness} found a problem (exit {r.returncode}):\n{out[-6000:]}"
    assert "Done" in out and "runs in" in out, f"{harness} did not run:\n{out[-3000:]}"

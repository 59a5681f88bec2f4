"""Shared test fixtures.

The VerilogEval bundle in ``../shared/benchmarks`` is a corpus of real designs no one here wrote.
Tests that need it skip on a developer machine without it, but FAIL when ``CI`` is set: a CI run
that silently skipped the corpus would prove nothing.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

# A shell that starts a job in the background without job control (`( make test & )`, nohup
# wrappers, some CI runners) hands it SIGINT set to "ignore", and exec keeps that for every child.
# The Ctrl-C tests would then interrupt nothing and time out. Give this process a real handler:
# exec resets handled signals to the default, so the programs under test get Ctrl-C as a terminal
# would deliver it.
signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
VERILOGEVAL_FILES = {
    "verilogeval-v2-spec": "verilogeval_v2_spec.jsonl",
    "verilogeval-v2-completion": "verilogeval_v2_completion.jsonl",
    "verilogeval-v1-human": "verilogeval_v1_human.jsonl",
    "verilogeval-v1-machine": "verilogeval_v1_machine.jsonl",
}


def _require(path: Path) -> Path:
    if not path.exists():
        msg = f"benchmark data missing: {path} (set SALV_BENCHMARKS to the bundle directory)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """Directory of the benchmark bundle (``verilogeval/*.jsonl``)."""
    return _require(BENCH_DIR / "verilogeval")


def load_bundle(name: str) -> list[dict]:
    """Rows of one VerilogEval bundle file by benchmark tag (fails/skips like the fixture)."""
    path = _require(BENCH_DIR / "verilogeval" / VERILOGEVAL_FILES[name])
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def ref_passes_on_icarus11(row: dict) -> bool:
    """The bundle's own validation: does the reference pass its testbench on Icarus 11?"""
    return bool(row["validation"]["iverilog_11.0"]["ref_pass"])

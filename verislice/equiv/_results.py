"""Verdicts and result records of an equivalence check (shared with :mod:`verislice._formal`).

Verdicts are plain strings (JSON-friendly, comparable with ``==``); the constants below name them.
A candidate has one :class:`CandidateResult`; each output of the reference one :class:`OutputResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AMBIGUOUS",
    "BOUNDED",
    "COMPILE_ERROR",
    "CANDIDATE_VERDICTS",
    "CandidateResult",
    "FirstFailure",
    "INTERFACE",
    "MATCH",
    "MISMATCH",
    "MISSING",
    "OK",
    "OUTPUT_VERDICTS",
    "OutputResult",
    "PROVEN",
    "REFERENCE_ERROR",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN",
    "WIDTH",
]

# -- per candidate ---------------------------------------------------------------------------
OK = "OK"  # simulated; see the per-output verdicts
COMPILE_ERROR = "COMPILE_ERROR"  # does not parse/elaborate (pyslang) or compile (iverilog)
INTERFACE = "INTERFACE"  # an input missing, extra, of another width or direction; no top found
TIMEOUT = "TIMEOUT"  # simulation exceeded its wall-clock limit (infinite loop, ...)
REJECTED = "REJECTED"  # forbidden construct (file/system task, huge memory) or ended the run
REFERENCE_ERROR = "REFERENCE_ERROR"  # batch API only: the group's reference itself failed
CANDIDATE_VERDICTS = (OK, COMPILE_ERROR, INTERFACE, TIMEOUT, REJECTED, REFERENCE_ERROR)

# -- per output ------------------------------------------------------------------------------
MATCH = "MATCH"  # equal on every sample where the reference is known (0/1)
MISMATCH = "MISMATCH"  # differs on ``mismatches`` samples
MISSING = "MISSING"  # the candidate has no such output
WIDTH = "WIDTH"  # the candidate's output has another width (not compared)
AMBIGUOUS = "AMBIGUOUS"  # reference had X/Z bits on every sample and no difference was seen
# Formal checking (verislice._formal) adds these:
PROVEN = "PROVEN"  # equal for all inputs (and all states reachable in the proof)
BOUNDED = "BOUNDED"  # no difference within ``depth`` cycles
UNKNOWN = "UNKNOWN"  # the prover could not decide
OUTPUT_VERDICTS = (MATCH, MISMATCH, MISSING, WIDTH, AMBIGUOUS, PROVEN, BOUNDED, UNKNOWN)
_CORRECT = frozenset({MATCH, PROVEN, BOUNDED})


@dataclass(frozen=True)
class FirstFailure:
    """The first sample where an output differed.

    ``cycle`` counts samples from 0 (one sample per clock cycle, or per vector for combinational
    designs). ``inputs`` maps every reference input (clock excluded) to its value as a binary
    string, MSB first; ``expected``/``actual`` are the reference's and the candidate's output
    values, binary strings that may contain ``x``/``z``.
    """

    cycle: int
    inputs: dict[str, str]
    expected: str
    actual: str

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "inputs": dict(self.inputs), "expected": self.expected,
                "actual": self.actual}


@dataclass(frozen=True)
class OutputResult:
    """Verdict for one output of the reference.

    ``samples`` is how many samples were compared, ``mismatches`` how many differed, and
    ``ref_x_samples`` on how many the reference output had X/Z bits (don't-care bits there).
    ``method`` is ``"sim"`` or ``"formal"``.
    """

    name: str
    verdict: str
    mismatches: int = 0
    samples: int = 0
    first_failure: FirstFailure | None = None
    width: int | None = None
    candidate_width: int | None = None
    ref_x_samples: int = 0
    method: str = "sim"
    message: str = ""

    @property
    def correct(self) -> bool:
        """True when this output counts as right (MATCH, or PROVEN/BOUNDED from formal)."""
        return self.verdict in _CORRECT

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "mismatches": self.mismatches,
            "samples": self.samples,
            "first_failure": self.first_failure.to_json() if self.first_failure else None,
            "width": self.width,
            "candidate_width": self.candidate_width,
            "ref_x_samples": self.ref_x_samples,
            "method": self.method,
            "message": self.message,
        }


@dataclass(frozen=True)
class CandidateResult:
    """Verdict for one candidate against its reference.

    ``outputs`` is empty unless ``verdict == OK`` (formal results may also carry outputs).
    ``name`` is the candidate's file name or label; ``top`` its top module.
    """

    verdict: str
    message: str = ""
    outputs: dict[str, OutputResult] = field(default_factory=dict)
    name: str = ""
    top: str = ""
    method: str = "sim"
    seconds: float = 0.0
    engine: str = ""  # the simulator that judged it ("" when none ran): cocotb, vvp, verilator

    @property
    def ok(self) -> bool:
        """Simulated, and every output counts as right."""
        return self.verdict == OK and bool(self.outputs) and all(
            o.correct for o in self.outputs.values())

    @property
    def correct_outputs(self) -> frozenset[str]:
        """Names of the outputs that count as right (SALV's correct(y))."""
        return frozenset(n for n, o in self.outputs.items() if o.correct)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "top": self.top,
            "verdict": self.verdict,
            "message": self.message,
            "method": self.method,
            "seconds": round(self.seconds, 4),
            "engine": self.engine,
            "outputs": {n: o.to_json() for n, o in self.outputs.items()},
        }

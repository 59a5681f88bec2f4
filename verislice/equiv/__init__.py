"""Per-output randomized equivalence of Verilog designs (cocotb on Icarus Verilog, batched).

::

    from verislice import equiv
    r = equiv.check("ref.v", "gen.v")                # one reference, one candidate
    r.verdict, {n: o.verdict for n, o in r.outputs.items()}
    rs = equiv.check_batch([(ref, [c1, c2, c3]), (ref2, [c4])], jobs=2)   # input order kept

Results are :class:`CandidateResult` objects (``.verdict``, ``.message``, ``.outputs``); each
output has an :class:`OutputResult` (``.verdict``, ``.mismatches``, ``.first_failure``).
"""

from __future__ import annotations

from typing import Any

from ._results import (
    AMBIGUOUS,
    BOUNDED,
    CANDIDATE_VERDICTS,
    COMPILE_ERROR,
    INTERFACE,
    MATCH,
    MISMATCH,
    MISSING,
    OK,
    OUTPUT_VERDICTS,
    PROVEN,
    REFERENCE_ERROR,
    REJECTED,
    TIMEOUT,
    UNKNOWN,
    WIDTH,
    CandidateResult,
    FirstFailure,
    OutputResult,
)

__all__ = [
    "AMBIGUOUS", "BOUNDED", "CANDIDATE_VERDICTS", "COMPILE_ERROR", "INTERFACE", "MATCH",
    "MISMATCH", "MISSING", "OK", "OUTPUT_VERDICTS", "PROVEN", "REFERENCE_ERROR", "REJECTED",
    "TIMEOUT", "UNKNOWN", "WIDTH",
    "CandidateResult", "EquivOptions", "FirstFailure", "FormalOptions", "OutputResult", "check",
    "check_batch", "require_pyosys",
]

# FormalOptions: the prover's settings for method="formal"|"both" (check_batch(formal=...));
# require_pyosys(): raise a VerisliceError naming the `formal` extra when Yosys is missing.
_LAZY = {"check": "._api", "check_batch": "._api", "EquivOptions": "._options",
         "FormalOptions": ".._formal", "require_pyosys": ".._formal"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'verislice.equiv' has no attribute {name!r}")

"""What counts as right: one definition, shared by ``label``'s summary, ``pairs`` and ``stats``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verislice.equiv import AMBIGUOUS, BOUNDED, MATCH, OK, PROVEN

__all__ = ["CATEGORIES", "CORRECT_VERDICTS", "NO_CODE", "category", "correct_outputs", "is_fully_correct"]

#: Output verdicts that count as right (SALV's correct(y)).
CORRECT_VERDICTS = frozenset({MATCH, PROVEN, BOUNDED})

#: Candidate verdict of a response in which no Verilog module was found (never simulated).
NO_CODE = "NO_CODE"

#: Candidate categories of the ``label`` summary, best first.
CATEGORIES = ("fully right", "partially right", "wrong", "broken")


def correct_outputs(label: Mapping[str, Any]) -> frozenset[str]:
    """Outputs of a simulated candidate whose verdict counts as right (empty unless ``OK``)."""
    if label.get("verdict") != OK:
        return frozenset()
    return frozenset(n for n, v in (label.get("outputs") or {}).items() if v in CORRECT_VERDICTS)


def is_fully_correct(label: Mapping[str, Any]) -> bool:
    """Simulated, at least one output right, and every output that is not AMBIGUOUS right."""
    outputs = label.get("outputs") or {}
    return (
        label.get("verdict") == OK
        and any(v in CORRECT_VERDICTS for v in outputs.values())
        and all(v in CORRECT_VERDICTS for v in outputs.values() if v != AMBIGUOUS)
    )


def category(label: Mapping[str, Any]) -> str:
    """``fully right``, ``partially right``, ``wrong`` (simulated, nothing right) or ``broken``."""
    if label.get("verdict") != OK:
        return "broken"
    if is_fully_correct(label):
        return "fully right"
    return "partially right" if correct_outputs(label) else "wrong"

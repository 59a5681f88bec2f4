"""Checks that every synthetic reference is a real, working design.

A reference must parse and elaborate with :func:`verislice.load`, expose exactly the outputs its
spec lists (names and widths), and compile in Icarus Verilog. Icarus runs once per batch of
problems (:func:`verislice.untrusted.icarus_errors`: every module renamed at the syntax level with
its own prefix); a reference is reported only when it also fails alone, with that run's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import verislice
from verislice.untrusted import RunResult, icarus_errors

from ._generate import Problem

__all__ = ["ReferenceProblem", "check_references"]


@dataclass(frozen=True)
class ReferenceProblem:
    """A reference that fails a check: the problem id and what is wrong."""

    id: str
    message: str


def _frontend_problems(p: Problem) -> str | None:
    try:
        design = verislice.load([verislice.Source(p.reference, f"<{p.id}>")], top=p.top)
    except verislice.VerisliceError as exc:
        return exc.message
    got = [(q.name, q.width) for q in design.outputs]
    want = [(o.name, o.out_width) for o in p.outputs]
    if got != want:
        return f"outputs {got} differ from the spec's {want}"
    want_in = p.inputs
    got_in = [(q.name, q.width) for q in design.inputs]
    if got_in != want_in:
        return f"inputs {got_in} differ from the spec's {want_in}"
    return None


def _message(res: RunResult) -> str:
    if res.timed_out:
        return "iverilog timed out"
    return (res.stderr or res.stdout).strip()


def check_references(
    problems: Sequence[Problem], *, batch: int = 200, timeout: float = 60.0
) -> list[ReferenceProblem]:
    """Every problem whose reference fails to load, has the wrong ports, or does not compile
    cleanly (errors or warnings) in Icarus. An empty list means all references are sound."""
    bad: list[ReferenceProblem] = []
    good: list[Problem] = []
    for p in problems:
        msg = _frontend_problems(p)
        if msg:
            bad.append(ReferenceProblem(p.id, msg))
        else:
            good.append(p)
    for i in range(0, len(good), batch):
        chunk = good[i:i + batch]
        # strict: a warning fails a reference too; every message names the file ref0.v
        runs = icarus_errors([p.reference for p in chunk], args=("-g2012", "-o", "check.vvp"),
                             timeout=timeout, strict=True, names=["ref0.v"] * len(chunk),
                             tmp_prefix="salv-synth-")
        bad += [ReferenceProblem(p.id, f"iverilog: {_message(r) or 'failed'}")
                for p, r in zip(chunk, runs) if r is not None]
    return bad

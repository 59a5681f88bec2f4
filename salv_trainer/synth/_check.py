"""Checks that every synthetic reference is a real, working design.

A reference must parse and elaborate with :func:`verislice.load`, expose exactly the outputs its
spec lists (names and widths), and compile in Icarus Verilog. Icarus runs once per batch of
problems (every module renamed at the syntax level with its own prefix); a failing batch is
retried problem by problem so that each failure is reported against its problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import verislice
from verislice import rename_modules
from verislice.untrusted import run_limited, sandbox_dir

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


def _icarus(texts: Sequence[str], timeout: float) -> tuple[bool, str]:
    with sandbox_dir("salv-synth-") as tmp:
        files = []
        for i, text in enumerate(texts):
            path = tmp / f"ref{i}.v"
            path.write_text(text)
            files.append(path.name)
        res = run_limited(["iverilog", "-g2012", "-o", "check.vvp", *files], tmp, timeout=timeout)
    msg = (res.stderr or res.stdout).strip()
    if res.timed_out:
        return False, "iverilog timed out"
    return res.returncode == 0 and not msg, msg


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
        texts = [rename_modules(p.reference, f"p{j}_") for j, p in enumerate(chunk)]
        ok, _ = _icarus(texts, timeout)
        if ok:
            continue
        for p in chunk:
            ok, msg = _icarus([p.reference], timeout)
            if not ok:
                bad.append(ReferenceProblem(p.id, f"iverilog: {msg or 'failed'}"))
    return bad

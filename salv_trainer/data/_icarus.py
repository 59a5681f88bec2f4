"""Does Verilog text compile in Icarus? Many designs per ``iverilog`` run, sandboxed.

An ``iverilog -t null`` run (parse + elaborate, no code generation) takes a few milliseconds, most
of it start-up, so designs are checked in batches with :func:`verislice.untrusted.icarus_errors`:
a design is blamed only by the compiler's ``file:line:`` messages and only when it also fails
alone, and a batch nobody can be blamed for is split in halves, so a broken design never condemns
its neighbours and a clean batch costs one run. Designs that use compiler directives
(`` `define``, `` `default_nettype`` ...) are always checked alone: directives leak from one
design to the next. Messages always come from a run of the design alone, as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from verislice.untrusted import RunResult, icarus_errors

__all__ = ["IVERILOG_ARGS", "compile_errors"]

IVERILOG_ARGS = ("iverilog", "-g2012", "-t", "null")


def compile_errors(texts: Sequence[str], *, timeout: float = 30.0) -> list[str | None]:
    """For each design, ``None`` when it compiles in Icarus, else the compiler's message."""
    runs = icarus_errors(texts, args=IVERILOG_ARGS[1:], timeout=timeout, tmp_prefix="salv-icarus-")
    return [None if r is None else _message(r, timeout) for r in runs]


def _message(res: RunResult, timeout: float) -> str:
    if res.timed_out:
        return f"iverilog timed out after {timeout:g} s"
    text = (res.stderr + res.stdout).strip()
    # Located lines first (`d3.v:12: error: ...`, `d3.v:21: sorry: ...`), file name replaced.
    out = text.splitlines()
    located = [re.sub(r"^d\d+\.v:", "line ", ln) for ln in out if re.match(r"^d\d+\.v:\d+:", ln)]
    chosen = located or [ln for ln in out if "error" in ln.lower()] or out
    return "; ".join(chosen[:3])[:500] or f"iverilog exited with status {res.returncode}"

"""Does Verilog text compile in Icarus? Many designs per ``iverilog`` run, sandboxed.

An ``iverilog -t null`` run (parse + elaborate, no code generation) takes a few milliseconds, most
of it start-up, so designs are checked in batches: each design's modules are renamed with their own
prefix at the syntax-tree level (no clashes between designs) and the designs are concatenated into
one file, one run checking them all. When a batch fails, the designs named by the compiler's
``file:line:`` messages are taken out and checked alone, and the rest is checked again as a batch
(split in halves when no message names a design), so a broken design never condemns its
neighbours and a clean batch costs one run. Designs that use compiler directives (`` `define``,
`` `default_nettype`` ...) are always checked alone: directives leak from one design to the next.
Messages always come from a run of the design alone, as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from verislice import rename_modules
from verislice.untrusted import run_limited, sandbox_dir

__all__ = ["IVERILOG_ARGS", "compile_errors"]

IVERILOG_ARGS = ("iverilog", "-g2012", "-t", "null")
_LOCATED = re.compile(r"^(\S+?\.v):(\d+):")


def compile_errors(texts: Sequence[str], *, timeout: float = 30.0) -> list[str | None]:
    """For each design, ``None`` when it compiles in Icarus, else the compiler's message."""
    results: list[str | None] = [None] * len(texts)
    batchable: dict[int, str] = {}
    alone: list[int] = []
    for i, text in enumerate(texts):
        if "`" in text:
            alone.append(i)
            continue
        try:
            batchable[i] = rename_modules(text, f"d{i}_")
        except Exception:  # pyslang could not even tokenize it: check it alone as written
            alone.append(i)
    with sandbox_dir("salv-icarus-") as tmp:
        alone.extend(_failing(tmp, batchable, timeout))
        for i in sorted(alone):
            results[i] = _alone(tmp, i, texts[i], timeout)
    return results


def _failing(tmp: Path, designs: dict[int, str], timeout: float) -> list[int]:
    """Indices of ``designs`` that may fail (to be checked alone); the others compile."""
    if len(designs) <= 1:
        return list(designs)
    order = sorted(designs)
    starts, lines, line = [], [], 1
    for i in order:
        text = designs[i] if designs[i].endswith("\n") else designs[i] + "\n"
        starts.append(line)
        lines.append(text)
        line += text.count("\n")
    (tmp / "batch.v").write_text("".join(lines), encoding="utf-8")
    res = run_limited([*IVERILOG_ARGS, "batch.v"], tmp, timeout=timeout)
    if res.ok:
        return []
    blamed = set()
    for ln in (res.stderr + res.stdout).splitlines():
        m = _LOCATED.match(ln)
        if m and m.group(1) == "batch.v":
            n = int(m.group(2))
            k = max(j for j, s in enumerate(starts) if s <= n)
            blamed.add(order[k])
    if blamed and len(blamed) < len(order):
        rest = {i: designs[i] for i in order if i not in blamed}
        return sorted(blamed) + _failing(tmp, rest, timeout)
    if res.timed_out or not blamed:  # nothing located: halve
        half = len(order) // 2
        return (_failing(tmp, {i: designs[i] for i in order[:half]}, timeout)
                + _failing(tmp, {i: designs[i] for i in order[half:]}, timeout))
    return order  # every design blamed


def _alone(tmp: Path, i: int, text: str, timeout: float) -> str | None:
    name = f"d{i}.v"
    (tmp / name).write_text(text, encoding="utf-8")
    res = run_limited([*IVERILOG_ARGS, name], tmp, timeout=timeout)
    if res.ok:
        return None
    if res.timed_out:
        return f"iverilog timed out after {timeout:g} s"
    text = (res.stderr + res.stdout).strip()
    # Located lines first (`d3.v:12: error: ...`, `d3.v:21: sorry: ...`), file name replaced.
    out = text.splitlines()
    located = [re.sub(r"^d\d+\.v:", "line ", ln) for ln in out if re.match(r"^d\d+\.v:\d+:", ln)]
    chosen = located or [ln for ln in out if "error" in ln.lower()] or out
    return "; ".join(chosen[:3])[:500] or f"iverilog exited with status {res.returncode}"

"""Does Verilog text compile in Icarus? Many designs per ``iverilog`` run, sandboxed.

An ``iverilog -t null`` run (parse + elaborate, no code generation) takes a few milliseconds, most
of it start-up, so designs are checked in batches: each design's modules are renamed with their own
prefix at the syntax-tree level (no clashes between designs), every design goes in its own file,
and one run checks the batch. A failing batch is checked again one design at a time, so a broken
design never condemns its neighbours. Designs that use compiler directives (`` `define``,
`` `default_nettype`` ...) are always checked alone: directives leak from one file to the next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from verislice._frontend import rename_modules
from verislice._sandbox import run_limited, sandbox_dir

__all__ = ["IVERILOG_ARGS", "compile_errors"]

IVERILOG_ARGS = ("iverilog", "-g2012", "-t", "null")


def compile_errors(texts: Sequence[str], *, timeout: float = 30.0) -> list[str | None]:
    """For each design, ``None`` when it compiles in Icarus, else the compiler's message."""
    results: list[str | None] = [None] * len(texts)
    batch = [i for i, t in enumerate(texts) if "`" not in t]
    alone = [i for i, t in enumerate(texts) if "`" in t]
    with sandbox_dir("salv-icarus-") as tmp:
        files: dict[int, str] = {}
        for i, text in enumerate(texts):
            name = f"d{i}.v"
            source = text
            if i in batch:
                try:
                    source = rename_modules(text, f"d{i}_")
                except Exception:  # pyslang could not even tokenize it: check it alone as written
                    batch.remove(i)
                    alone.append(i)
            (tmp / name).write_text(source, encoding="utf-8")
            files[i] = name
        if len(batch) > 1:
            msg = _run(tmp, [files[i] for i in batch], timeout)
            if msg is not None:
                alone.extend(batch)
            batch = []
        alone.extend(batch)
        for i in alone:  # as written, so messages name the user's modules
            (tmp / files[i]).write_text(texts[i], encoding="utf-8")
            results[i] = _run(tmp, [files[i]], timeout)
    return results


def _run(tmp, names: list[str], timeout: float) -> str | None:
    res = run_limited([*IVERILOG_ARGS, *names], tmp, timeout=timeout)
    if res.ok:
        return None
    if res.timed_out:
        return f"iverilog timed out after {timeout:g} s"
    text = (res.stderr + res.stdout).strip()
    # Located lines first (`d3.v:12: error: ...`, `d3.v:21: sorry: ...`), file name replaced.
    lines = text.splitlines()
    located = [re.sub(r"^d\d+\.v:", "line ", ln) for ln in lines if re.match(r"^d\d+\.v:\d+:", ln)]
    chosen = located or [ln for ln in lines if "error" in ln.lower()] or lines
    return "; ".join(chosen[:3])[:500] or f"iverilog exited with status {res.returncode}"

"""Top-level parameter overrides (``-P NAME=VALUE``).

``cone`` and ``graph`` hand them to pyslang when elaborating (the slice keeps the original
text: it is a selection of it). ``equiv`` writes them into the canonical text of each design,
as the parameter's new default, so that every tool that compiles the text (Icarus, Verilator,
Yosys) simulates or proves the same parameterisation as pyslang saw; no tool needs an option of
its own. Either way a name that is not an overridable parameter of the top module (unknown, or a
``localparam``) is an error: pyslang alone would ignore it silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ._errors import VerisliceError

if TYPE_CHECKING:
    from ._frontend import Design, Source

__all__ = ["as_overrides", "check_top", "rewrite"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# a value is a constant expression or a type on one line: nothing that can end a declaration,
# start a comment or a directive
_BAD_VALUE = re.compile(r"[;`\n\r]|//|/\*")


def as_overrides(params: Mapping[str, str] | None) -> list[str]:
    """``NAME=VALUE`` strings for pyslang's ``CompilationOptions.paramOverrides``, each
    checked (raises :class:`VerisliceError`)."""
    out = []
    for name, value in (params or {}).items():
        if not _NAME.match(name):
            raise VerisliceError(f"-P {name}={value}: '{name}' is not a parameter name")
        value = str(value).strip()
        if not value or _BAD_VALUE.search(value):
            raise VerisliceError(f"-P {name}={value}: the value must be one constant expression "
                                 "or type on one line")
        out.append(f"{name}={value}")
    return out


def check_top(design: Design, params: Mapping[str, str] | None) -> None:
    """Raise :class:`VerisliceError` unless every name of ``params`` is a parameter of the top
    module that can be overridden (not a ``localparam``)."""
    if not params:
        return
    known = {p.name: p for p in design.body.parameters}
    for name in params:
        p = known.get(name)
        if p is None or p.isLocalParam:
            what = "a localparam" if p is not None else "no such parameter"
            names = ", ".join(n for n, q in known.items() if not q.isLocalParam) or "none"
            raise VerisliceError(f"-P {name}: {what} in top module {design.top} "
                                 f"(its parameters: {names})")


def rewrite(canon: Sequence[Source], design: Design,
            params: Mapping[str, str] | None) -> list[Source]:
    """``canon`` (the texts ``design`` was loaded from) with each overridden parameter of the
    top module given the new value as its default (``parameter W = 8``)."""
    from ._frontend import Source, apply_edits

    if not params:
        return list(canon)
    check_top(design, params)
    as_overrides(params)
    buffers = {t.root.sourceRange.start.buffer: i for i, t in enumerate(design.trees)}
    edits: dict[int, list[tuple[int, int, str]]] = {}
    for p in design.body.parameters:
        if p.name not in params:
            continue
        s = p.syntax
        value = str(params[p.name]).strip()
        init = getattr(s, "initializer", None)  # parameter W = 4 (a Declarator)
        if init is None and getattr(s, "assignment", None) is not None:
            init = s.assignment  # parameter type T = logic (a TypeAssignment)
        if init is not None:
            rng = init.sourceRange
            start, end, new = rng.start.offset, rng.end.offset, f"= {value}"
        else:  # no default (`parameter W`): give it one
            tok = s.name
            start = end = tok.location.offset + len(tok.rawText.encode())
            new = f" = {value}"
        i = buffers.get(s.sourceRange.start.buffer)
        if i is None:
            raise VerisliceError(f"-P {p.name}: cannot find its declaration in the design's text")
        edits.setdefault(i, []).append((start, end, new))
    return [Source(apply_edits(src.text, edits[i]), src.name) if i in edits else src
            for i, src in enumerate(canon)]

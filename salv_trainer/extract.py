"""Find the Verilog code inside a model response, keeping its position in the response.

The loss of signal-aware DPO is computed on the response text, so we never rewrite the response:
we locate the code and report where it starts, so cone spans computed on the code can be shifted
into response coordinates (character offsets).

Accepted forms, in order of preference: a fenced block (```verilog / ```systemverilog / ```v /
``` with no tag) that contains ``module``; VerilogEval v2's ``[BEGIN]`` ... ``[DONE]``; bare
``module ... endmodule`` text. With several fenced blocks, the last one that holds a module wins
(models often show a snippet, then the full answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CodeBlock", "extract_code"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_BEGIN_DONE = re.compile(r"\[BEGIN\]\s*?\n?(.*?)(?:\[DONE\]|\Z)", re.S)
_MODULE = re.compile(r"\b(?:module|macromodule)\b.*?\bendmodule\b", re.S)
_CODE_TAGS = {"", "verilog", "systemverilog", "sv", "v", "vlog"}


@dataclass(frozen=True)
class CodeBlock:
    """Code found in a response: ``response[start:end] == text``."""

    text: str
    start: int
    end: int
    form: str  # "fence", "begin_done", "bare"


_COMMENT = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)", re.S)


def _blank_comments(text: str) -> str:
    """``text`` with every comment replaced by spaces (same length, newlines kept).

    Searching the blanked text keeps offsets valid while a ``module`` inside a comment
    ("// this module decodes ...") is never taken for the start of the code.
    """
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _modules_span(text: str, offset: int) -> tuple[int, int] | None:
    """From the first ``module`` to the last ``endmodule`` inside ``text`` (comments ignored)."""
    found = list(_MODULE.finditer(_blank_comments(text)))
    if not found:
        return None
    return offset + found[0].start(), offset + found[-1].end()


def extract_code(response: str) -> CodeBlock | None:
    """Locate the Verilog module(s) in ``response``; ``None`` when there is no module at all."""
    fenced = [
        m for m in _FENCE.finditer(response)
        if m.group(1).lower() in _CODE_TAGS and re.search(r"\bmodule\b", _blank_comments(m.group(2)))
    ]
    if fenced:
        m = fenced[-1]
        body_start = m.start(2)
        span = _modules_span(m.group(2), body_start)
        if span is not None:
            return CodeBlock(response[span[0]:span[1]], span[0], span[1], "fence")
        # A module that never ends (truncated generation): keep the block as it is.
        text = m.group(2)
        return CodeBlock(text, body_start, body_start + len(text), "fence")
    m = _BEGIN_DONE.search(response)
    if m and re.search(r"\bmodule\b", _blank_comments(m.group(1))):
        span = _modules_span(m.group(1), m.start(1))
        if span is not None:
            return CodeBlock(response[span[0]:span[1]], span[0], span[1], "begin_done")
    span = _modules_span(response, 0)
    if span is not None:
        return CodeBlock(response[span[0]:span[1]], span[0], span[1], "bare")
    start = re.search(r"\bmodule\b", _blank_comments(response))
    if start:  # truncated: module without endmodule
        return CodeBlock(response[start.start():], start.start(), len(response), "bare")
    return None

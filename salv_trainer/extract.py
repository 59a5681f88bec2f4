"""Find the Verilog code inside a model response, keeping its position in the response.

The loss of signal-aware DPO is computed on the response text, so we never rewrite the response:
we locate the code and report where it starts, so cone spans computed on the code can be shifted
into response coordinates (character offsets).

Code is found only where there is code: a module *header* (``module NAME`` followed by ``(``,
``#``, ``;`` or ``import``, outside comments) starts it, so prose that merely says "module" ("I am
not able to write this module.") is no code. Accepted forms, in order of preference: a fenced block
(```verilog / ```systemverilog / ```v / ``` with no tag) that holds a header; VerilogEval v2's
``[BEGIN]`` ... ``[DONE]``; bare text. The code runs from the first header to the last
``endmodule`` after it; a generation cut off before its ``endmodule`` keeps everything from the
header on (a broken candidate, not a missing one). With several fenced blocks, the last one that
holds a header wins (models often show a snippet, then the full answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CodeBlock", "extract_code"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_BEGIN_DONE = re.compile(r"\[BEGIN\]\s*?\n?(.*?)(?:\[DONE\]|\Z)", re.S)
# A module header: the keyword, a name (plain, escaped or a macro), then what may follow a name in
# a module declaration. Prose ("this module.", "a module is") never has that shape.
_HEADER = re.compile(
    r"\b(?:module|macromodule)\s+(?:(?:automatic|static)\s+)?"
    r"(?:[A-Za-z_][A-Za-z0-9_$]*|\\\S+|`[A-Za-z_]\w*)\s*(?:#|\(|;|import\b)"
)
_ENDMODULE = re.compile(r"\bendmodule\b")
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
    """From the first module header to the last ``endmodule`` after it, or to the end of ``text``
    when none follows (a cut-off generation), shifted by ``offset``; ``None`` without a header."""
    blank = _blank_comments(text)
    head = _HEADER.search(blank)
    if head is None:
        return None
    ends = [m.end() for m in _ENDMODULE.finditer(blank, head.start())]
    return offset + head.start(), offset + (ends[-1] if ends else len(text))


def _find(response: str) -> tuple[tuple[int, int], str] | None:
    """The span of the code and its form, trying the forms in order of preference."""
    fenced = [m for m in _FENCE.finditer(response) if m.group(1).lower() in _CODE_TAGS]
    for m in reversed(fenced):  # the last fenced block with a header wins
        span = _modules_span(m.group(2), m.start(2))
        if span is not None:
            return span, "fence"
    m = _BEGIN_DONE.search(response)
    if m is not None:
        span = _modules_span(m.group(1), m.start(1))
        if span is not None:
            return span, "begin_done"
    span = _modules_span(response, 0)
    return (span, "bare") if span is not None else None


def extract_code(response: str) -> CodeBlock | None:
    """Locate the Verilog module(s) in ``response``; ``None`` when there is no module header."""
    found = _find(response)
    if found is None:
        return None
    (start, end), form = found
    return CodeBlock(response[start:end], start, end, form)

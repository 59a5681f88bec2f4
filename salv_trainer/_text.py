"""Text from generated data that cannot be encoded: lone surrogates.

``json.loads`` accepts the escape ``"\\ud800"`` and gives a ``str`` holding a lone surrogate, which
UTF-8 cannot encode: writing it to a file, a terminal or a C++ library (pyslang) raises. The data
files keep such text exactly (:class:`~salv_trainer.data.JsonlWriter` writes it back as the same
escape); these helpers cover the places where the text only has to be *shown* or *compiled*.
"""

from __future__ import annotations

__all__ = ["printable", "verilog_safe"]


def printable(text: str) -> str:
    """``text`` for a terminal: each lone surrogate shown as its escape (``\\ud800``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def verilog_safe(text: str) -> str:
    """``text`` for a Verilog tool: each lone surrogate replaced by ``?``.

    One character for one, so character offsets into the result (cone spans) are offsets into
    ``text`` too. A surrogate can only sit in a comment or a string of working Verilog, so the
    design's meaning is unchanged; anywhere else the code was broken either way.
    """
    return text.encode("utf-8", "replace").decode("utf-8")

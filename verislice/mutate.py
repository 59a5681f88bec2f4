"""Single-token mutants of a Verilog module, for testing labelers, testbenches and slicers.

A mutant changes exactly one token inside the design's logic (continuous assigns and always
blocks): an operator swapped for a near relative, a unary operator dropped, a literal digit
changed, or an edge flipped. Port lists and declarations are never touched, so every mutant keeps
the original interface and usually still compiles; whether it is *functionally* different is for a
simulator or a proof to say (some mutants are equivalent to the original).

    >>> from verislice.mutate import mutants
    >>> [m.replacement for m in mutants("module m(input a, b, output y); assign y = a & b; endmodule")]
    ['|', '^']
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pyslang import parsing, syntax

__all__ = ["Mutant", "mutants"]

TK = parsing.TokenKind
SK = syntax.SyntaxKind

# Operator token -> replacements (text). Chosen so that the result still parses.
_OPERATOR_SWAPS: dict[object, tuple[str, ...]] = {
    TK.And: ("|", "^"),
    TK.Or: ("&", "^"),
    TK.Xor: ("&", "|"),
    TK.Plus: ("-",),
    TK.Minus: ("+",),
    TK.DoubleEquals: ("!=",),
    TK.ExclamationEquals: ("==",),
    TK.LessThan: ("<=", ">"),
    TK.LessThanEquals: ("<",),
    TK.GreaterThan: (">=", "<"),
    TK.GreaterThanEquals: (">",),
    TK.DoubleAnd: ("||",),
    TK.DoubleOr: ("&&",),
    TK.LeftShift: (">>",),
    TK.RightShift: ("<<",),
    TK.PosEdgeKeyword: ("negedge",),
    TK.NegEdgeKeyword: ("posedge",),
}
# Unary operators that can simply be dropped.
_DROPPABLE = {TK.Tilde, TK.Exclamation}
_LOGIC_BLOCKS = {
    SK.ContinuousAssign,
    SK.AlwaysBlock,
    SK.AlwaysCombBlock,
    SK.AlwaysFFBlock,
    SK.AlwaysLatchBlock,
}
_DIGITS = {"'b": "01", "'o": "01234567", "'d": "0123456789", "'h": "0123456789abcdef"}


@dataclass(frozen=True)
class Mutant:
    """One mutated design. Offsets locate the changed token in the *original* text."""

    text: str
    kind: str  # "operator", "drop-unary", "literal", "edge"
    original: str
    replacement: str
    char_offset: int
    byte_offset: int
    line: int

    def describe(self) -> str:
        return f"line {self.line}: {self.kind} {self.original!r} -> {self.replacement!r}"


def _logic_ranges(tree: syntax.SyntaxTree) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []

    def visit(node):
        if isinstance(node, parsing.Token):
            return True
        if node.kind in _LOGIC_BLOCKS:
            r = node.sourceRange
            ranges.append((r.start.offset, r.end.offset))
            return False  # nested blocks are inside this range already
        return True

    tree.root.visit(visit)
    return ranges


def _literal_variants(base: str, digits: str) -> list[str]:
    """Change the last significant digit of a literal value to a neighbour of the same base."""
    alphabet = _DIGITS.get(base.lower().replace("s", ""), "0123456789")
    lower = digits.lower()
    for i in range(len(lower) - 1, -1, -1):
        ch = lower[i]
        if ch in alphabet:
            k = alphabet.index(ch)
            new = alphabet[(k + 1) % len(alphabet)]
            return [digits[:i] + new + digits[i + 1:]]
    return []


def mutants(text: str, *, seed: int | None = 0, limit: int | None = None) -> list[Mutant]:
    """All single-token mutants of ``text`` (deterministic order), or ``limit`` of them.

    With ``limit``, a random but reproducible subset (``seed``) is returned, in text order.
    Mutants whose text equals the original or another mutant are dropped.
    """
    tree = syntax.SyntaxTree.fromText(text)
    ranges = _logic_ranges(tree)
    data = text.encode()
    tokens: list = []

    def collect(node):
        if isinstance(node, parsing.Token):
            tokens.append(node)
        return True

    tree.root.visit(collect)
    # `<=` is also the nonblocking assignment; that token is not an operator to swap.
    assignment_ops: set[int] = set()

    def find_nonblocking(node):
        if isinstance(node, parsing.Token):
            return True
        if node.kind == SK.NonblockingAssignmentExpression:
            assignment_ops.add(node.operatorToken.location.offset)
        return True

    tree.root.visit(find_nonblocking)

    def inside(offset: int) -> bool:
        return any(a <= offset < b for a, b in ranges)

    edits: list[tuple[int, int, str, str, str]] = []  # byte start, byte end, new, kind, old
    previous = None
    for tok in tokens:
        off = tok.location.offset
        raw = tok.rawText
        if not raw or not inside(off) or off in assignment_ops:
            previous = tok
            continue
        end = off + len(raw.encode())
        if tok.kind in _OPERATOR_SWAPS:
            kind = "edge" if tok.kind in (TK.PosEdgeKeyword, TK.NegEdgeKeyword) else "operator"
            for new in _OPERATOR_SWAPS[tok.kind]:
                edits.append((off, end, new, kind, raw))
        elif tok.kind in _DROPPABLE:
            edits.append((off, end, "", "drop-unary", raw))
        elif tok.kind == TK.IntegerLiteral and previous is not None and previous.kind == TK.IntegerBase:
            for new in _literal_variants(previous.rawText.lower()[-2:], raw):
                edits.append((off, end, new, "literal", raw))
        previous = tok

    seen = {text}
    out: list[Mutant] = []
    for start, end, new, kind, old in edits:
        mutated = (data[:start] + new.encode() + data[end:]).decode()
        if mutated in seen:
            continue
        seen.add(mutated)
        char_offset = len(data[:start].decode())
        line = text.count("\n", 0, char_offset) + 1
        out.append(Mutant(mutated, kind, old, new, char_offset, start, line))
    if limit is not None and len(out) > limit:
        rng = random.Random(seed)
        keep = sorted(rng.sample(range(len(out)), limit))
        out = [out[i] for i in keep]
    return out

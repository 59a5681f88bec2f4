"""Clock, reset and control inputs of a design, found in its pyslang AST; constants for stimulus.

A clock is a top input that appears in an edge-triggered event control (``@(posedge clk)``),
followed through instance port connections into submodules. A reset is found by use, in order:
an input in the same event list as the clock and tested by the block's first ``if`` (asynchronous,
polarity from the edge and the test), or an input tested by the first ``if`` of a clocked block
(synchronous, polarity from the test); failing both, by name (``rst``, ``reset``, ``areset``,
``rst_n``, ...; a trailing ``n``/``_n``/``_b`` means active low). Every field can be overridden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyslang import ast

from .._errors import VerisliceError
from .._frontend import Design
from ._options import EquivOptions

__all__ = ["Timing", "constants_of", "detect_timing"]

_RESET_NAME = re.compile(r"^(a?s?rst|a?s?reset|areset|arst|clr|clear|init)(_?n|_?b|_?l|_ni)?$",
                         re.IGNORECASE)
_ACTIVE_LOW_NAME = re.compile(r"(_n|_b|_l|_ni|[^e]n)$", re.IGNORECASE)


@dataclass(frozen=True)
class Timing:
    """How a design is clocked: ``edges`` is ``"pos"``, ``"neg"``, ``"both"`` or ``""`` (none)."""

    clock: str | None = None
    edges: str = ""
    reset: str | None = None
    reset_active_low: bool = False
    reset_async: bool = False
    controls: tuple[str, ...] = ()
    controls_low: tuple[str, ...] = ()  # controls whose active value is 0
    how: str = ""  # how clock and reset were found, for messages

    @property
    def sequential(self) -> bool:
        return self.clock is not None

    def describe(self) -> str:
        if not self.clock:
            parts = ["combinational (no clock)"]
        else:
            edge = {"pos": "rising edge", "neg": "falling edge", "both": "both edges"}[self.edges]
            parts = [f"clock {self.clock} ({edge})"]
        if self.reset:
            parts.append(f"reset {self.reset} (active {'low' if self.reset_active_low else 'high'}, "
                         f"{'async' if self.reset_async else 'sync'})")
        return ", ".join(parts)


def _strip(expr):
    """The named signal an expression tests and whether the test is inverted, or (None, _)."""
    inv = False
    while True:
        k = expr.kind
        if k == ast.ExpressionKind.NamedValue:
            return expr.symbol.name, inv
        if k == ast.ExpressionKind.Conversion:
            expr = expr.operand
            continue
        if k == ast.ExpressionKind.UnaryOp and expr.op in (
                ast.UnaryOperator.LogicalNot, ast.UnaryOperator.BitwiseNot):
            inv = not inv
            expr = expr.operand
            continue
        if k == ast.ExpressionKind.BinaryOp and expr.op in (
                ast.BinaryOperator.Equality, ast.BinaryOperator.Inequality,
                ast.BinaryOperator.CaseEquality, ast.BinaryOperator.CaseInequality):
            lit, other = None, None
            for a, b in ((expr.left, expr.right), (expr.right, expr.left)):
                v = _literal(b)
                if v is not None:
                    lit, other = v, a
            if lit is None or lit not in (0, 1):
                return None, inv
            ne = expr.op in (ast.BinaryOperator.Inequality, ast.BinaryOperator.CaseInequality)
            inv = inv ^ (lit == 0) ^ ne
            expr = other
            continue
        return None, inv


def _literal(expr) -> int | None:
    while expr.kind == ast.ExpressionKind.Conversion:
        expr = expr.operand
    if expr.kind == ast.ExpressionKind.IntegerLiteral:
        return _svint(expr.value)
    return None


def _svint(v) -> int | None:
    import pyslang

    try:
        if v.hasUnknown:
            return None
        return int(v.toString(pyslang.LiteralBase.Hex, False), 16)
    except (ValueError, AttributeError):
        return None


def _first_statement(stmt):
    while stmt is not None:
        k = stmt.kind
        if k == ast.StatementKind.Block:
            stmt = stmt.body
        elif k == ast.StatementKind.List:
            items = list(stmt.list)
            if not items:
                return None
            stmt = items[0]
        else:
            return stmt
    return None


class _Walker:
    def __init__(self, inputs: dict[str, int]):
        self.inputs = inputs  # top input name -> width
        self.edges: dict[str, set[str]] = {}  # top input -> {"pos","neg"}
        self.async_resets: dict[str, bool] = {}  # name -> active_low
        self.sync_resets: dict[str, bool] = {}
        self.controls: list[str] = []
        self.controls_low: list[str] = []  # tested inverted: `if (!en_n)`

    def body(self, body, names: dict[str, str], depth: int = 0) -> None:
        if depth > 32:
            return
        for m in body:
            if m.kind == ast.SymbolKind.ProceduralBlock:
                self.block(m, names)
            elif m.kind == ast.SymbolKind.Instance:
                child: dict[str, str] = {}
                for pc in m.portConnections:
                    e = pc.expression
                    if e is None:
                        continue
                    if e.kind == ast.ExpressionKind.Assignment:  # output connection
                        continue
                    name, inv = _strip(e)
                    if name in names and not inv and e.kind == ast.ExpressionKind.NamedValue:
                        child[pc.port.name] = names[name]
                if child:
                    self.body(m.body, child, depth + 1)
            elif m.kind in (ast.SymbolKind.GenerateBlock,):
                self.body(m, names, depth + 1)
            elif m.kind == ast.SymbolKind.GenerateBlockArray:
                for blk in m:
                    if blk.kind == ast.SymbolKind.GenerateBlock:
                        self.body(blk, names, depth + 1)

    def block(self, block, names: dict[str, str]) -> None:
        stmt = block.body
        if stmt.kind != ast.StatementKind.Timed:
            return
        t = stmt.timing
        events = list(t.events) if t.kind == ast.TimingControlKind.EventList else [t]
        seen: dict[str, set[str]] = {}
        for ev in events:
            if ev.kind != ast.TimingControlKind.SignalEvent:
                continue
            edge = {ast.EdgeKind.PosEdge: {"pos"}, ast.EdgeKind.NegEdge: {"neg"},
                    ast.EdgeKind.BothEdges: {"pos", "neg"}}.get(ev.edge)
            if not edge:
                continue
            name, inv = _strip(ev.expr)
            if name is None or name not in names:
                continue
            top = names[name]
            if inv:
                edge = {{"pos": "neg", "neg": "pos"}[e] for e in edge}
            seen.setdefault(top, set()).update(edge)
        if not seen:
            return
        first = _first_statement(stmt.stmt)
        tested = None
        if first is not None and first.kind == ast.StatementKind.Conditional:
            conds = list(first.conditions)
            if conds:
                n, inv = _strip(conds[0].expr)
                if n in names:
                    tested = (names[n], inv)
        if len(seen) > 1 and tested and tested[0] in seen:
            name, inv = tested
            edge = seen.pop(name)
            self.async_resets[name] = inv or edge == {"neg"}
        elif tested and tested[0] not in seen and self.inputs.get(tested[0]) == 1:
            self.sync_resets.setdefault(tested[0], tested[1])
        for k, v in seen.items():
            self.edges.setdefault(k, set()).update(v)
        self._controls(stmt.stmt, names)

    def _controls(self, stmt, names) -> None:
        def visit(node):
            if isinstance(node, ast.Statement) and node.kind == ast.StatementKind.Conditional:
                for c in node.conditions:
                    n, inv = _strip(c.expr)
                    if n in names and self.inputs.get(names[n]) == 1 and names[n] not in self.controls:
                        self.controls.append(names[n])
                        if inv:
                            self.controls_low.append(names[n])
            return True

        stmt.visit(visit)


def detect_timing(design: Design, options: EquivOptions) -> Timing:
    """Clock, active edges, reset (polarity, sync/async) and control inputs of ``design``.

    Raises :class:`VerisliceError` for several clocks, unknown override names or inout ports.
    """
    inputs = {p.name: p.width for p in design.ports if p.direction == "input"}
    inouts = [p.name for p in design.ports if p.direction not in ("input", "output")]
    if inouts:
        raise VerisliceError(f"reference {design.top}: inout ports ({', '.join(inouts)}) are not "
                             "supported by the simulation check")
    w = _Walker(inputs)
    w.body(design.body, {n: n for n in inputs})
    how = []

    # -- clock
    if options.clock is not None:
        clock = options.clock or None
        if clock is not None and clock not in inputs:
            raise VerisliceError(f"--clock {clock}: no such input in {design.top} "
                                 f"(inputs: {', '.join(inputs) or 'none'})")
        edges_set = w.edges.get(clock, {"pos"}) if clock else set()
        how.append("clock given")
    else:
        clocks = [c for c in w.edges if c not in w.async_resets]
        if len(clocks) > 1:
            raise VerisliceError(
                f"reference {design.top}: several clocks ({', '.join(sorted(clocks))}) are not "
                "supported; choose one with --clock (the others then get random values)")
        clock = clocks[0] if clocks else None
        edges_set = w.edges.get(clock, set()) if clock else set()
        if clock:
            how.append("clock from event controls")
    if clock is not None and inputs.get(clock) != 1:
        raise VerisliceError(f"clock {clock} must be a 1-bit input (it is {inputs.get(clock)} bits)")
    edges = "" if not clock else ("both" if edges_set == {"pos", "neg"} else
                                  "neg" if edges_set == {"neg"} else "pos")

    # -- reset
    reset, low, is_async = None, False, False
    if options.reset is not None:
        reset = options.reset or None
        if reset is not None and reset not in inputs:
            raise VerisliceError(f"--reset {reset}: no such input in {design.top} "
                                 f"(inputs: {', '.join(inputs) or 'none'})")
        if reset in w.async_resets:
            low, is_async = w.async_resets[reset], True
        elif reset in w.sync_resets:
            low = w.sync_resets[reset]
        elif reset:
            low = bool(_ACTIVE_LOW_NAME.search(reset))
    else:
        named = [n for n in inputs if _RESET_NAME.match(n) and inputs[n] == 1 and n != clock]
        for table, asy in ((w.async_resets, True), (w.sync_resets, False)):
            cands = [n for n in table if n != clock]
            if cands:
                pick = next((n for n in cands if n in named), None)
                if pick is None and not asy:
                    continue  # a plain `if (load)` is not a reset unless named like one
                pick = pick or cands[0]
                reset, low, is_async = pick, table[pick], asy
                how.append("reset by use")
                break
        if reset is None and named:
            reset = named[0]
            low = bool(_ACTIVE_LOW_NAME.search(reset))
            how.append("reset by name")
    if options.reset_active_low is not None:
        low = options.reset_active_low
    if options.reset_async is not None:
        is_async = options.reset_async
    controls = tuple(c for c in w.controls if c not in (clock, reset))
    controls_low = tuple(c for c in w.controls_low if c in controls)
    return Timing(clock, edges, reset, low, is_async, controls, controls_low, ", ".join(how))


def constants_of(design: Design, limit: int = 256) -> set[int]:
    """Integer literals of a design (case labels, compared values, parameters): stimulus hints."""
    found: set[int] = set()

    def visit(node):
        if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.IntegerLiteral:
            v = _svint(node.value)
            if v is not None and len(found) < limit:
                found.add(v)
        return True

    design.body.visit(visit)
    return found

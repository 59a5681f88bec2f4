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

__all__ = ["Timing", "constants_of", "detect_timing", "hints_of", "state_of"]

_RESET_NAME = re.compile(r"^(a?s?rst|a?s?reset|areset|arst|clr|clear|init)(_?n|_?b|_?l|_ni)?$",
                         re.IGNORECASE)
# a reset of one clock domain: s_rst, m_rst_n, wr_reset (the full name rules are _RESET_NAME's)
_DOMAIN_RESET = re.compile(r"(^|_)(a?s?rst|reset)(_?n|_ni|_b)?$", re.IGNORECASE)
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
    state_bits: int = 0  # bits of the variables assigned in edge-triggered blocks (registers)
    hidden_bits: int = 0  # state bits that are not output ports
    counter_bits: int = 0  # bits of the registers (or parts) that count: q <= q + 1
    # values the design compares its inputs with, placed where they are compared: each hint is
    # ((input, lsb, width, value), ...), parts set together (`{hi, lo} == 16'hBEEF` sets both)
    hints: tuple[tuple[tuple[str, int, int, int], ...], ...] = ()
    # constants the design compares its counters with (`fall_counter >= 20`): how long a
    # condition has to last
    durations: tuple[int, ...] = ()
    # every clock with its edges when the design has several (``clock`` is the first of them);
    # empty for one clock or none
    clocks: tuple[tuple[str, str], ...] = ()
    # with several clocks, the resets of the other domains: (name, active low) each; the
    # stimulus asserts them with ``reset``
    resets: tuple[tuple[str, bool], ...] = ()

    @property
    def sequential(self) -> bool:
        return self.clock is not None

    @property
    def clock_names(self) -> tuple[str, ...]:
        """Every clock input (the testbench drives them; they get no stimulus)."""
        return tuple(c for c, _e in self.clocks) or ((self.clock,) if self.clock else ())

    def describe(self) -> str:
        if not self.clock:
            parts = ["combinational (no clock)"]
        else:
            name = {"pos": "rising edge", "neg": "falling edge", "both": "both edges"}
            parts = [f"clock {c} ({name[e]})" for c, e in self.clocks or ((self.clock,
                                                                            self.edges),)]
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


def _terms(expr, depth: int = 0):
    """The operands of a chain of ``&&``/``||`` (``if (ena && cnt != 9)`` tests ``ena``)."""
    if depth < 16 and expr.kind == ast.ExpressionKind.BinaryOp and expr.op in (
            ast.BinaryOperator.LogicalAnd, ast.BinaryOperator.LogicalOr):
        yield from _terms(expr.left, depth + 1)
        yield from _terms(expr.right, depth + 1)
    else:
        yield expr


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
        self.tested: dict[str, set[bool]] = {}  # 1-bit input -> polarities it is tested in

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
                    for term in _terms(c.expr):
                        n, inv = _strip(term)
                        if n in names and self.inputs.get(names[n]) == 1:
                            self.tested.setdefault(names[n], set()).add(inv)
            return True

        stmt.visit(visit)

    @property
    def controls(self) -> list[str]:
        """Inputs tested in one polarity only (an enable, a load, a valid); one tested both ways
        (`if (c < 3 && taken) ... else if (c > 0 && !taken)`) is a direction, not a control."""
        return [n for n, pol in self.tested.items() if len(pol) == 1]

    @property
    def controls_low(self) -> list[str]:
        return [n for n, pol in self.tested.items() if pol == {True}]


def detect_timing(design: Design, options: EquivOptions) -> Timing:
    """Clock, active edges, reset (polarity, sync/async) and control inputs of ``design``.

    Several clocks (asynchronous FIFOs, synchronizers) are all listed in ``clocks``; the
    simulation gives each its own period and phase. Raises :class:`VerisliceError` for unknown
    override names or inout ports.
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
        clocks = sorted(c for c in w.edges if c not in w.async_resets)
        clock = clocks[0] if clocks else None
        edges_set = w.edges.get(clock, set()) if clock else set()
        if clock:
            how.append("clock from event controls")
    if clock is not None and inputs.get(clock) != 1:
        raise VerisliceError(f"clock {clock} must be a 1-bit input (it is {inputs.get(clock)} bits)")
    edges = "" if not clock else _edge_kind(edges_set)
    several: tuple[tuple[str, str], ...] = ()
    if options.clock is None and len(clocks) > 1:
        for c in clocks:
            if inputs.get(c) != 1:
                raise VerisliceError(f"clock {c} must be a 1-bit input (it is "
                                     f"{inputs.get(c)} bits)")
        several = tuple((c, _edge_kind(w.edges[c])) for c in clocks)
        how.append(f"{len(clocks)} clocks")
    all_clocks = {c for c, _e in several} | {clock}

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
    others: tuple[tuple[str, bool], ...] = ()
    if several and options.reset is None:  # a reset per clock domain (s_rst, m_rst)
        others = tuple((n, low_n) for table in (w.async_resets, w.sync_resets)
                       for n, low_n in table.items()
                       if n not in all_clocks and n != reset and inputs.get(n) == 1
                       and (table is w.async_resets or _DOMAIN_RESET.search(n)))
        others = tuple(dict(others).items())
    controls = tuple(c for c in w.controls if c not in all_clocks and c != reset
                     and c not in dict(others))
    controls_low = tuple(c for c in w.controls_low if c in controls)
    st = _state(design)
    state_bits, hidden_bits, counter_bits = _sizes(design, st)
    hints = tuple(h for h in hints_of(design) if not any(p[0] in all_clocks or p[0] == reset
                                                         for p in h))
    durations = tuple(sorted(_thresholds(design, {path for path, _part in st.counters})))
    return Timing(clock, edges, reset, low, is_async, controls, controls_low, ", ".join(how),
                  state_bits, hidden_bits, counter_bits, hints, durations, several, others)


def _edge_kind(edges: set[str]) -> str:
    return "both" if edges == {"pos", "neg"} else "neg" if edges == {"neg"} else "pos"


def _root(expr):
    """The variable an lvalue (or an operand) names: ``q``, ``mem[i]``, ``r[3:0]``, ``s.f``."""
    while expr is not None:
        k = expr.kind
        if k == ast.ExpressionKind.NamedValue:
            return expr.symbol
        if k in (ast.ExpressionKind.ElementSelect, ast.ExpressionKind.RangeSelect,
                 ast.ExpressionKind.MemberAccess):
            expr = expr.value
        elif k == ast.ExpressionKind.Conversion:
            expr = expr.operand
        else:
            return None
    return None


def _lvalues(expr):
    """Every variable an assignment's left side writes (``{a, b} <= ...`` writes both)."""
    if expr.kind == ast.ExpressionKind.Concatenation:
        for op in expr.operands:
            yield from _lvalues(op)
        return
    sym = _root(expr)
    if sym is not None:
        yield sym, expr


def _bits(sym) -> int:
    try:
        t = sym.type
        return int(t.bitstreamWidth or t.bitWidth or 0)
    except (AttributeError, ValueError):
        return 0


_ADD_SUB = (ast.BinaryOperator.Add, ast.BinaryOperator.Subtract)


class _State:
    """Registers of a design (every instance, generate blocks included): variables assigned in
    edge-triggered blocks, and the widest one that counts (``q <= q + 1``)."""

    def __init__(self) -> None:
        self.regs: dict[str, int] = {}  # hierarchical path -> bits
        self.counters: dict[tuple[str, str], int] = {}  # (path, slice) -> bits

    def body(self, body, depth: int = 0) -> None:
        if depth > 32:
            return
        for m in body:
            k = m.kind
            if k == ast.SymbolKind.ProceduralBlock:
                self.block(m)
            elif k == ast.SymbolKind.Instance:
                self.body(m.body, depth + 1)
            elif k == ast.SymbolKind.GenerateBlock:
                self.body(m, depth + 1)
            elif k == ast.SymbolKind.GenerateBlockArray:
                for blk in m:
                    if blk.kind == ast.SymbolKind.GenerateBlock:
                        self.body(blk, depth + 1)

    def block(self, block) -> None:
        stmt = block.body
        if stmt.kind != ast.StatementKind.Timed:
            return
        t = stmt.timing
        events = list(t.events) if t.kind == ast.TimingControlKind.EventList else [t]
        if not any(ev.kind == ast.TimingControlKind.SignalEvent and
                   ev.edge in (ast.EdgeKind.PosEdge, ast.EdgeKind.NegEdge, ast.EdgeKind.BothEdges)
                   for ev in events):
            return
        loop_vars: set[str] = set()

        def visit(node):
            if isinstance(node, ast.Statement) and node.kind == ast.StatementKind.ForLoop:
                for e in node.initializers:
                    if e.kind == ast.ExpressionKind.Assignment:
                        for sym, _e in _lvalues(e.left):
                            loop_vars.add(sym.hierarchicalPath)
                for v in node.loopVars:
                    loop_vars.add(v.hierarchicalPath)
            elif isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.Assignment:
                for sym, lhs in _lvalues(node.left):
                    path = sym.hierarchicalPath
                    if sym.kind != ast.SymbolKind.Variable or path in loop_vars:
                        continue
                    self.regs.setdefault(path, _bits(sym))
                    if self._counts(node.right, sym):
                        part = _slice(lhs)
                        # a part chosen by a variable (`q[i*4 +: 4]` in a loop): any of it
                        self.counters[(path, part)] = _width(lhs) if part != "*" else \
                            self.regs[path]
            return True

        stmt.stmt.visit(visit)
        for path in loop_vars:
            self.regs.pop(path, None)
            for key in [key for key in self.counters if key[0] == path]:
                del self.counters[key]

    @staticmethod
    def _counts(rhs, sym) -> bool:
        """``rhs`` adds to or subtracts from ``sym`` itself (``q + 1``, ``mem[i] - 1``)."""
        path = sym.hierarchicalPath
        found = False

        def visit(node):
            nonlocal found
            if found:
                return False
            if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.BinaryOp \
                    and node.op in _ADD_SUB:
                for side in (node.left, node.right):
                    s = _root(side)
                    if s is not None and s.hierarchicalPath == path:
                        found = True
                        return False
            return True

        rhs.visit(visit)
        return found


def _slice(lhs) -> str:
    """Which part of a register an lvalue writes: ``""`` (all of it, or an element of a
    memory), or ``"[7:4]"`` for a constant part select (the digits of a BCD counter)."""
    if lhs.kind == ast.ExpressionKind.RangeSelect:
        lo, hi = _const_of(lhs.right), _const_of(lhs.left)
        return "*" if lo is None or hi is None else f"[{hi}:{lo}]"
    return ""


def state_of(design: Design) -> tuple[int, int, int]:
    """``(state bits, hidden bits, counter bits)`` of a design.

    State bits: every variable assigned in an edge-triggered block (registers and memories of
    every instance; loop variables excluded). Hidden bits: those of them that are not output
    ports, the state a stimulus has to build without seeing it (a predictor's table, an FSM's
    state register; not a shift register or a cellular automaton whose cells are the outputs).
    Counter bits: every register, or part of one, that counts (is assigned from itself plus or
    minus something: ``q <= q + 1``, ``ss[7:4] <= ss[7:4] + 1``; ``mem[i] <= mem[i] - 1``
    counts as one element), added up: a chain of counters (seconds, minutes, hours) runs as long
    as one counter of all their bits. Hidden and counter bits size the automatic cycle budget
    (:func:`._options.auto_cycles`)."""
    return _sizes(design, _state(design))


def _state(design: Design) -> _State:
    st = _State()
    try:
        st.body(design.body)
    except (AttributeError, ValueError, RuntimeError):  # an AST shape we do not know: no hint
        pass
    return st


def _sizes(design: Design, st: _State) -> tuple[int, int, int]:
    outs = {f"{design.top}.{p.name}" for p in design.ports if p.direction == "output"}
    hidden = sum(b for path, b in st.regs.items() if path not in outs)
    return sum(st.regs.values()), hidden, sum(st.counters.values())


def _thresholds(design: Design, counters: set[str], limit: int = 16) -> set[int]:
    """Constants a design compares its counters with (``fall_counter >= 20``, ``n == 999``):
    the number of cycles a condition must last for the count to get there."""
    found: set[int] = set()
    if not counters:
        return found

    def visit(node):
        if len(found) >= limit:
            return False
        if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.BinaryOp and \
                (node.op in _EQUALITY or node.op in _RELATIONAL):
            for a, b in ((node.left, node.right), (node.right, node.left)):
                c = _const_of(b)
                sym = _root(a) if c is not None else None
                if sym is not None and sym.hierarchicalPath in counters and 2 <= c <= 4096:
                    found.add(c)
        return True

    try:
        design.body.visit(visit)
    except (AttributeError, ValueError, RuntimeError):
        pass
    return found


def _cv_int(cv) -> int | None:
    """An integer ConstantValue as a Python int (None for reals, strings, X/Z bits)."""
    try:
        return _svint(cv.value) if cv is not None else None
    except (AttributeError, ValueError, TypeError):
        return None


def constants_of(design: Design, limit: int = 256) -> set[int]:
    """Integer literals and parameter values of a design (case labels, compared values,
    ``localparam IDLE = ...``, ``parameter W = 8``): stimulus hints."""
    found: set[int] = set()

    def visit(node):
        if len(found) >= limit:
            return False
        if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.IntegerLiteral:
            v = _svint(node.value)
            if v is not None:
                found.add(v)
        elif getattr(node, "kind", None) == ast.SymbolKind.Parameter:
            v = _cv_int(getattr(node, "value", None))
            if v is not None and v >= 0:
                found.add(v)
        return True

    design.body.visit(visit)
    return found


_EQUALITY = (ast.BinaryOperator.Equality, ast.BinaryOperator.Inequality,
             ast.BinaryOperator.CaseEquality, ast.BinaryOperator.CaseInequality)
_RELATIONAL = (ast.BinaryOperator.LessThan, ast.BinaryOperator.LessThanEqual,
               ast.BinaryOperator.GreaterThan, ast.BinaryOperator.GreaterThanEqual)


def _const_of(expr) -> int | None:
    """The value of a constant expression (a literal, a parameter, ``P + 1``), else None."""
    if expr.kind == ast.ExpressionKind.NamedValue:
        if expr.symbol.kind == ast.SymbolKind.Parameter:
            return _cv_int(expr.symbol.value)
        return None
    try:
        return _cv_int(expr.constant)
    except AttributeError:
        return None


def _width(expr) -> int:
    try:
        return int(expr.type.bitWidth or 0)
    except (AttributeError, ValueError):
        return 0


class _Hints:
    """Where a design compares an input (or a slice, a concatenation of inputs, an input plus a
    constant, a net driven by one of those) with a constant: the input values that make the
    comparison true, and its neighbours for ``<``/``>``."""

    def __init__(self, inputs: dict[str, int], nets: dict[str, object], limit: int):
        self.inputs = inputs
        self.nets = nets  # net path -> the expression driving it
        self.limit = limit
        self.found: dict[tuple, None] = {}

    def add(self, expr, value: int, relational: bool) -> None:
        for v in ((value - 1, value, value + 1) if relational else (value,)):
            if len(self.found) >= self.limit:
                return
            parts = self.place(expr, v, 0)
            if parts:
                self.found.setdefault(tuple(parts), None)

    def place(self, expr, value: int, depth: int) -> list[tuple[str, int, int, int]] | None:
        if depth > 8:
            return None
        w = _width(expr)
        if w <= 0:
            return None
        value &= (1 << w) - 1
        k = expr.kind
        if k == ast.ExpressionKind.Conversion:
            inner = _width(expr.operand)
            if inner <= 0 or (inner < w and value >> inner):
                return None  # a value the narrower operand cannot hold
            return self.place(expr.operand, value, depth + 1)
        if k == ast.ExpressionKind.NamedValue:
            sym = expr.symbol
            if sym.name in self.inputs and sym.kind in (ast.SymbolKind.Net,
                                                         ast.SymbolKind.Variable):
                if self.inputs[sym.name] == w:
                    return [(sym.name, 0, w, value)]
                return None
            drv = self.nets.get(sym.hierarchicalPath)
            return self.place(drv, value, depth + 1) if drv is not None else None
        if k == ast.ExpressionKind.RangeSelect or k == ast.ExpressionKind.ElementSelect:
            base = expr.value
            if base.kind != ast.ExpressionKind.NamedValue or base.symbol.name not in self.inputs:
                return None
            lo = _const_of(expr.right) if k == ast.ExpressionKind.RangeSelect else \
                _const_of(expr.selector)
            hi = _const_of(expr.left) if k == ast.ExpressionKind.RangeSelect else lo
            if lo is None or hi is None:
                return None
            lsb = min(lo, hi)
            try:  # [7:0] of a [15:8] vector is bits 0..7 of the input
                rng = base.symbol.type.fixedRange
                lsb -= min(rng.left, rng.right)
            except AttributeError:
                pass
            if lsb < 0 or lsb + w > self.inputs[base.symbol.name]:
                return None
            return [(base.symbol.name, lsb, w, value)]
        if k == ast.ExpressionKind.Concatenation:
            parts: list[tuple[str, int, int, int]] = []
            off = 0
            for op in reversed(list(expr.operands)):
                ow = _width(op)
                c = _const_of(op)
                if c is not None:  # a constant part must already hold its bits
                    if (value >> off) & ((1 << ow) - 1) != c & ((1 << ow) - 1):
                        return None
                else:
                    sub = self.place(op, (value >> off) & ((1 << ow) - 1), depth + 1)
                    if sub is None:
                        return None
                    parts += sub
                off += ow
            return parts or None
        if k == ast.ExpressionKind.BinaryOp and expr.op in (
                ast.BinaryOperator.Add, ast.BinaryOperator.Subtract,
                ast.BinaryOperator.BinaryXor):
            a, b = expr.left, expr.right
            ca, cb = _const_of(a), _const_of(b)
            if expr.op == ast.BinaryOperator.Add:
                if cb is not None:
                    return self.place(a, value - cb, depth + 1)
                if ca is not None:
                    return self.place(b, value - ca, depth + 1)
            elif expr.op == ast.BinaryOperator.Subtract:
                if cb is not None:
                    return self.place(a, value + cb, depth + 1)
                if ca is not None:
                    return self.place(b, ca - value, depth + 1)
            else:
                if cb is not None:
                    return self.place(a, value ^ cb, depth + 1)
                if ca is not None:
                    return self.place(b, value ^ ca, depth + 1)
            return None
        if k == ast.ExpressionKind.UnaryOp and expr.op == ast.UnaryOperator.BitwiseNot:
            return self.place(expr.operand, ~value, depth + 1)
        return None


Hint = tuple[tuple[str, int, int, int], ...]


def hints_of(design: Design, limit: int = 64) -> list[Hint]:
    """Input values a design compares with constants, placed where they are compared
    (``{hi, lo} == 16'hBEEF``, ``bus[23:8] == K``, ``x + 3 == K``, ``case (sel) ...``)."""
    inputs = {p.name: p.width for p in design.ports if p.direction == "input"}
    nets: dict[str, object] = {}
    for m in design.body:
        try:
            if m.kind == ast.SymbolKind.ContinuousAssign:
                a = m.assignment
                if a.kind == ast.ExpressionKind.Assignment and \
                        a.left.kind == ast.ExpressionKind.NamedValue:
                    nets[a.left.symbol.hierarchicalPath] = a.right
            elif m.kind == ast.SymbolKind.Net and m.initializer is not None:
                nets[m.hierarchicalPath] = m.initializer
        except AttributeError:
            continue
    h = _Hints(inputs, nets, limit)

    def visit(node):
        if len(h.found) >= limit:
            return False
        if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.BinaryOp:
            rel = node.op in _RELATIONAL
            if node.op in _EQUALITY or rel:
                for a, b in ((node.left, node.right), (node.right, node.left)):
                    c = _const_of(b)
                    if c is not None and _const_of(a) is None:
                        h.add(a, c, rel)
        elif isinstance(node, ast.Statement) and node.kind == ast.StatementKind.Case:
            if _const_of(node.expr) is None:
                for item in node.items:
                    for e in item.expressions:
                        c = _const_of(e)
                        if c is not None:
                            h.add(node.expr, c, False)
        return True

    try:
        design.body.visit(visit)
    except (AttributeError, ValueError, RuntimeError):
        pass
    return list(h.found)

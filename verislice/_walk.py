"""The walk over a design's elaborated AST that finds its statements (:mod:`verislice._stmts`).

For each assignment, declaration with initializer, instance, gate and procedural block: the
signals it writes, the ones whose values it stores (``data``) and the ones that decide whether or
when it writes (``control``), which :mod:`verislice._graph` turns into edges (its docstring says
what each kind of edge covers). Function and task calls are summarised by the module signals
their bodies read and write; an instance of an unknown module is a black box (a warning). The
walk reads ``Design.body`` (pyslang's elaborated AST: parameters resolved, generate blocks
expanded); each member kind and each procedural statement kind has one handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from pyslang import ast, syntax

from ._errors import VerisliceError
from ._frontend import Design
from ._stmts import DesignStatements, Dependency, Signal, Statement, StmtNode, Unit

__all__ = ["file_range", "walk"]

SK = ast.SymbolKind
EK = ast.ExpressionKind
STK = ast.StatementKind

_SEQ_BLOCK = syntax.SyntaxKind.SequentialBlockStatement

_INC_DEC = {
    ast.UnaryOperator.Preincrement,
    ast.UnaryOperator.Predecrement,
    ast.UnaryOperator.Postincrement,
    ast.UnaryOperator.Postdecrement,
}


def walk(design: Design) -> DesignStatements:
    """Signals, dependencies and the top module's units of ``design``. Raises
    :class:`VerisliceError` for unsupported constructs (interfaces). Recursive: callers give it
    room (:func:`verislice._graph.deep_recursion`)."""
    return _Walker(design).run()


class _Atomic(Exception):
    """Raised inside a procedural block that must be kept or dropped as a whole."""


# (targets, data, control, statement) of one procedural block, before they become Dependencies
_Edge = tuple[set[str], set[str], set[str], Statement]


class _Walker:
    def __init__(self, design: Design) -> None:
        self.design = design
        self.signals: dict[str, Signal] = {}
        self.deps: list[Dependency] = []
        self.names: dict[object, str] = {}  # symbol -> signal name
        self.taken: dict[str, object] = {}
        self.units: list[Unit] = []
        self.warnings: list[str] = []
        self.sm = design.compilation.sourceManager
        self.top_prefix = design.body.hierarchicalPath + "."
        _, src = design.source_of_top()
        self.top_file = src.name
        self.top_buffer = design.body.definition.location.buffer
        self.data = {s.name: s.text.encode("utf-8") for s in design.sources}
        # the source manager's file names (proximate paths) -> the names the user gave
        self.file_names = {}
        for t, src in zip(design.trees, design.sources):
            try:
                self.file_names[self.sm.getFileName(t.root.sourceRange.start)] = src.name
            except Exception:
                pass
        self.port_dirs = {p.name: p.direction for p in design.ports}
        self.sub_cache: dict[object, tuple[set, set]] = {}
        self.sub_active: set = set()
        self._edges: list[_Edge] = []

    def run(self) -> DesignStatements:
        body = self.design.body
        for p in body.portList:
            self.node(p.internalSymbol)
        self.scope(body, top=True)
        # one warning per black box, not one per generate iteration that instantiates it
        return DesignStatements(tuple(self.signals.values()), tuple(self.deps), tuple(self.units),
                                tuple(dict.fromkeys(self.warnings)))

    # -- signals ---------------------------------------------------------------------------------

    def node(self, sym) -> str | None:
        """Signal name for a value symbol (None for constants and subroutine locals)."""
        name = self.names.get(sym)
        if name is not None:
            return name
        if sym.kind not in (SK.Net, SK.Variable):
            return None
        path = sym.hierarchicalPath
        name = path[len(self.top_prefix):] if path.startswith(self.top_prefix) else path
        other = self.taken.get(name)
        if other is not None and other is not sym:
            if other.parentScope is sym.parentScope:
                # One name declared twice in one scope: an ANSI port redeclared in the body
                # (`output [3:0] c` then `reg [3:0] c;`). pyslang only warns; Icarus and Yosys
                # merge the two declarations, so they are one signal here too.
                self.names[sym] = name
                return name
            name = f"{name}@{self._line(sym.location)}"
        self.taken[name] = sym
        self.names[sym] = name
        scope = name.rpartition(".")[0]
        kind = "variable" if sym.kind == SK.Variable else "net"
        t = sym.type
        if t.isUnpackedArray:
            kind = "memory"
        if not scope and name in self.port_dirs:
            kind = self.port_dirs[name]
        try:
            width = int(t.bitWidth) if not t.isUnpackedArray else int(t.elementType.bitWidth)
        except Exception:  # pragma: no cover - exotic types
            width = 0
        self.signals[name] = Signal(name, kind, width, self._line(sym.location), scope)
        return name

    def _line(self, loc) -> int:
        try:
            return int(self.sm.getLineNumber(self.sm.getFullyOriginalLoc(loc)))
        except Exception:
            return 0

    def statement(self, kind: str, rng) -> Statement:
        sm = self.sm
        start, end = rng.start, rng.end
        try:
            start = sm.getFullyOriginalLoc(start)
            end = sm.getFullyOriginalLoc(end)
            name = sm.getFileName(start)
            name = self.file_names.get(name, name)
        except Exception:
            name = "<design>"
        data = self.data.get(name, b"")
        s, e = start.offset, max(start.offset, end.offset)
        text = data[s:e].decode("utf-8", "replace")
        if len(text) > 120:
            text = text[:117] + "..."
        return Statement(kind, name, self._line(start), s, e, " ".join(text.split()))

    def drive(self, targets: Iterable[str], data: Iterable[str], control: Iterable[str],
              st: Statement) -> None:
        """Record that ``st`` makes ``targets`` depend on ``data`` and ``control``."""
        # The tuples keep the iteration order of these sets: the order the graph adds edges.
        data = set(data)
        control = set(control) - data
        self.deps.append(Dependency(tuple(targets), tuple(data), tuple(control), st))

    # -- expressions -----------------------------------------------------------------------------

    def reads(self, expr) -> tuple[set[str], set[str]]:
        """(signals read, signals written) anywhere inside ``expr`` (calls summarised)."""
        reads: set[str] = set()
        writes: set[str] = set()
        if expr is None:
            return reads, writes

        def named(e) -> None:
            n = self.node(e.symbol)
            if n is not None:
                reads.add(n)

        def assign(e) -> None:
            t, idx = self.lvalue(e.left)
            writes.update(t)
            reads.update(idx)

        def unary(e) -> None:
            if e.op in _INC_DEC:
                t, idx = self.lvalue(e.operand)
                writes.update(t)
                reads.update(t | idx)

        def call(e) -> None:
            if e.isSystemCall:
                return
            sub = e.subroutine
            r, w = self.summary(sub)
            reads.update(r)
            writes.update(w)

        expr.visit(lookup_table={EK.NamedValue: named, EK.HierarchicalValue: named,
                                 EK.Assignment: assign, EK.UnaryOp: unary, EK.Call: call})
        return reads, writes

    def lvalue(self, expr) -> tuple[set[str], set[str]]:
        """(signals written, signals read in index expressions) of an assignment target."""
        k = expr.kind
        if k in (EK.NamedValue, EK.HierarchicalValue):
            n = self.node(expr.symbol)
            return ({n} if n else set()), set()
        if k == EK.ElementSelect:
            t, i = self.lvalue(expr.value)
            r, _ = self.reads(expr.selector)
            return t, i | r
        if k == EK.RangeSelect:
            t, i = self.lvalue(expr.value)
            r1, _ = self.reads(expr.left)
            r2, _ = self.reads(expr.right)
            return t, i | r1 | r2
        if k == EK.MemberAccess:
            return self.lvalue(expr.value)
        if k == EK.Concatenation:
            t: set[str] = set()
            i: set[str] = set()
            for op in expr.operands:
                a, b = self.lvalue(op)
                t |= a
                i |= b
            return t, i
        if k == EK.Conversion:
            return self.lvalue(expr.operand)
        if k == EK.EmptyArgument:
            return set(), set()
        # Anything else (streaming, patterns): every signal in it may be written and read.
        r, w = self.reads(expr)
        return r | w, r

    def summary(self, sub) -> tuple[set[str], set[str]]:
        """Module signals a function/task body reads and writes (locals excluded)."""
        got = self.sub_cache.get(sub)
        if got is not None:
            return got
        if sub in self.sub_active:  # recursion: the outer call accumulates
            return set(), set()
        self.sub_active.add(sub)
        locals_ = set(_scope_symbols(sub))
        reads: set[str] = set()
        writes: set[str] = set()

        def named(e) -> None:
            if e.symbol not in locals_:
                n = self.node(e.symbol)
                if n is not None:
                    reads.add(n)

        def assign(e) -> None:
            t, _ = self.lvalue(e.left)
            writes.update(t)

        def call(e) -> None:
            if not e.isSystemCall:
                r, w = self.summary(e.subroutine)
                reads.update(r)
                writes.update(w)

        sub.body.visit(lookup_table={EK.NamedValue: named, EK.HierarchicalValue: named,
                                     EK.Assignment: assign, EK.Call: call})
        # Assignments to locals were counted as writes through self.node: drop them again.
        local_nodes = {self.names[s] for s in locals_ if s in self.names}
        writes -= local_nodes
        reads -= local_nodes
        self.sub_active.discard(sub)
        self.sub_cache[sub] = (reads, writes)
        return reads, writes

    def _timing_reads(self, timing) -> set[str]:
        out: set[str] = set()

        def named(e) -> None:
            n = self.node(e.symbol)
            if n is not None:
                out.add(n)

        timing.visit(lookup_table={EK.NamedValue: named, EK.HierarchicalValue: named})
        return out

    def _assign_like(self, e) -> tuple[set[str], set[str]]:
        if e.kind == EK.Assignment:
            t, idx = self.lvalue(e.left)
            r, w = self.reads(e.right)
            return t | w, r | idx
        r, w = self.reads(e)
        return w, r

    # -- scopes: one handler per member kind (see _MEMBERS) ---------------------------------------

    def scope(self, scope, top: bool) -> None:
        for m in scope:
            handler = _MEMBERS.get(m.kind)
            if handler is not None:
                handler(self, m, top)

    def unit(self, kind: str, syn, targets: set[str], tree: StmtNode | None = None,
             module: str | None = None,
             triggers: tuple[set[str], set[str]] | None = None) -> None:
        fr = file_range(self.sm, syn.sourceRange, self.top_buffer)
        if fr is None:
            return  # from an include file: the slicer keeps what is around it
        reads, triggered = (None, frozenset()) if triggers is None \
            else (frozenset(triggers[0]), frozenset(triggers[1]))
        self.units.append(Unit(kind, fr[0], fr[1], frozenset(targets), tree, module, reads,
                               triggered))

    def _value(self, m, top: bool) -> None:
        n = self.node(m)
        init = m.initializer
        if init is not None and n is not None:
            st = self.statement("declaration", m.syntax.sourceRange)
            r, w = self.reads(init)
            self.drive({n} | w, r, (), st)
            if top:
                self.unit("declaration", m.syntax, {n} | w)

    def _continuous_assign(self, m, top: bool) -> None:
        st = self.statement("assign", m.syntax.sourceRange)
        e = m.assignment
        targets, idx = self.lvalue(e.left)
        r, w = self.reads(e.right)
        delay = set()
        if m.delay is not None:
            delay = self._timing_reads(m.delay)
        self.drive(targets | w, r | idx, delay, st)
        if top:
            self.unit("assign", m.syntax, targets | w)

    def _instance_array(self, m, top: bool) -> None:
        for e in m.elements:
            self.instance(e, top, anchor=m.syntax)

    def _generate_block(self, m, top: bool) -> None:
        if not m.isUninstantiated:
            self._generate([m], top)

    def _generate_array(self, m, top: bool) -> None:
        self._generate(list(m.entries), top)

    def _generate(self, blocks, top: bool) -> None:
        # The items of elaborated generate blocks are units like the module's own items (the
        # slicer cuts inside generate constructs); the blocks of one loop share their syntax, so
        # one item has a unit per iteration.
        for b in blocks:
            self.scope(b, top=top)

    def _interface(self, m, top: bool) -> None:
        raise VerisliceError(
            f"{self.top_file}:{self._line(m.location)}: interface port '{m.name}' "
            "is not supported")

    def instance(self, inst, top: bool, anchor=None) -> None:
        st = self.statement("instance", inst.syntax.sourceRange)
        body = inst.body
        outs: set[str] = set()
        for pc in inst.portConnections:
            port = pc.port
            expr = pc.expression
            if port.kind != SK.Port:
                raise VerisliceError(
                    f"{st.file}:{st.line}: instance '{inst.name}': interface port "
                    f"'{port.name}' is not supported")
            inner = self.node(port.internalSymbol) if port.internalSymbol is not None else None
            if expr is None or inner is None:
                continue
            if port.direction == ast.ArgumentDirection.In:
                r, w = self.reads(expr)
                self.drive({inner}, r, (), st)
            else:
                left = expr.left if expr.kind == EK.Assignment else expr
                t, idx = self.lvalue(left)
                self.drive(t, {inner} | idx, (), st)
                if port.direction == ast.ArgumentDirection.InOut:
                    self.drive({inner}, t, (), st)
                outs |= t
        n_before = set(self.signals)
        self.scope(body, top=False)
        if top:
            # the instance also "drives" its own internal signals: a cone asked for inside it
            # keeps the instance
            inner_nodes = {n for n in self.signals if n not in n_before}
            inner_nodes |= {self.names[p.internalSymbol] for p in body.portList
                            if p.kind == SK.Port and p.internalSymbol in self.names}
            self.unit("instance", anchor if anchor is not None else inst.syntax,
                      outs | inner_nodes, module=body.definition.name)

    def primitive(self, prim, top: bool) -> None:
        st = self.statement("gate", prim.syntax.sourceRange)
        outs: set[str] = set()
        ins: set[str] = set()
        for e in prim.portConnections:
            if e.kind == EK.Assignment:
                t, idx = self.lvalue(e.left)
                outs |= t
                ins |= idx
            else:
                r, w = self.reads(e)
                ins |= r
        delay = self._timing_reads(prim.delay) if prim.delay is not None else set()
        self.drive(outs, ins, delay, st)
        if top:
            self.unit("gate", prim.syntax, outs)

    def black_box(self, m, top: bool) -> None:
        st = self.statement("instance", m.syntax.sourceRange)
        sigs: set[str] = set()
        for e in m.portConnections:
            e = getattr(e, "expr", e)  # connections come wrapped as simple assertion exprs
            if e is None or not hasattr(e, "visit"):
                continue
            r, w = self.reads(e)
            sigs |= r | w
        # Outputs of the black box may be any connected signal except the top's own inputs.
        targets = {s for s in sigs if self.signals[s].kind != "input"}
        for s in targets:
            self.drive({s}, sigs - {s}, (), st)
        self.warnings.append(
            f"{st.file}:{st.line}: module '{m.definitionName}' is not defined: instance "
            f"'{m.name}' is a black box (every connected signal depends on all the others)")
        if top:
            self.unit("instance", m.syntax, targets, module=m.definitionName)

    # -- procedural code -------------------------------------------------------------------------

    def procedural(self, pb, top: bool) -> None:
        kind = str(pb.procedureKind).rpartition(".")[2].lower()
        kind = {"alwayscomb": "always_comb", "alwaysff": "always_ff",
                "alwayslatch": "always_latch"}.get(kind, kind)
        block_st = self.statement(kind, pb.syntax.sourceRange)
        self._edges = []
        try:
            if not self._in_top_file(pb.body):
                raise _Atomic
            tree = self.stmt(pb.body, frozenset(), slot=False)
        except _Atomic:
            r, w = self._all_rw(pb.body)
            self.drive(w, r, (), block_st)
            if top:
                self.unit(kind, pb.syntax, w)
            return
        targets: set[str] = set()
        for t, d, c, st in self._edges:
            self.drive(t, d, c, st)
            targets |= t
        trig = self._triggers(pb, targets)
        if top:
            self.unit(kind, pb.syntax, targets, tree=tree, triggers=trig)

    def _triggers(self, pb, targets: set[str]) -> tuple[set[str], set[str]] | None:
        """For an ``always @*`` block: (every signal it reads, the targets whose own statements
        read something from outside the block, directly or through other targets); None for
        other blocks.

        A target outside the second set (``y = 4'd5;``, ``w[i] = 1'b1;`` in a loop over a block
        variable) takes its value when *another* read triggers the block: cut down to its own
        statements the block would have an empty sensitivity list and never run in Icarus or
        Verilator (the target stays X / 0). When no target read by a triggered one, such targets
        depend (control) on everything the block reads, and the slicer keeps the block whole
        when its cone holds no triggered target (see :func:`verislice._cone.cone`)."""
        timing = getattr(pb.body, "timing", None)
        if pb.body.kind != STK.Timed or timing is None or \
                timing.kind != ast.TimingControlKind.ImplicitEvent:
            return None
        own: dict[str, set[str]] = {t: set() for t in targets}
        reads: set[str] = set()
        for t, d, c, _ in self._edges:
            r = set(d) | set(c)
            reads |= r
            for x in t:
                own[x] |= r
        # a target reading another target of the block keeps that one's statements (it is in
        # its cone): it is triggered by whatever triggers those, transitively
        triggered = {t for t, r in own.items() if r - targets}
        changed = True
        while changed:
            changed = False
            for t, r in own.items():
                if t not in triggered and r & triggered:
                    triggered.add(t)
                    changed = True
        if reads - targets:
            needed = set().union(*(own[t] for t in triggered)) if triggered else set()
            orphans = set(targets) - triggered - needed
            if orphans:
                st = self.statement("always", pb.syntax.sourceRange)
                for t in orphans:
                    self.drive({t}, (), reads - {t}, st)
        return reads, triggered

    def _in_top_file(self, s) -> bool:
        return file_range(self.sm, s.sourceRange, self.top_buffer) is not None

    def _all_rw(self, stmt) -> tuple[set[str], set[str]]:
        """Every signal a statement reads and writes (for blocks kept as a whole)."""
        reads: set[str] = set()
        writes: set[str] = set()

        def expr(e) -> None:
            r, w = self.reads(e)
            reads.update(r)
            writes.update(w)

        # Visit the top-level expressions of every statement; self.reads handles nesting.
        def visit(s) -> None:
            for e in _stmt_exprs(s):
                expr(e)
            for c in _stmt_children(s):
                visit(c)

        visit(stmt)
        for s in _locals_in(stmt):
            n = self.node(s)
            if n:
                writes.add(n)
        return reads, writes

    # -- procedural statements: one handler per statement kind (see _STATEMENTS) -----------------

    def stmt(self, s, ctrl: frozenset[str], slot: bool) -> StmtNode:
        """Record dependencies of statement ``s`` under control signals ``ctrl``; return its
        slicing node. Raises _Atomic for statements the slicer must not cut."""
        fr = file_range(self.sm, s.sourceRange, self.top_buffer)
        if fr is None:
            raise _Atomic
        handler = _STATEMENTS.get(s.kind)
        if handler is None:
            raise _Atomic  # jumps, waits, fork, assertions, force/release ...
        return handler(self, s, ctrl, fr, slot)

    def _expression(self, s, ctrl, span, slot) -> StmtNode:
        e = s.expr
        st = self.statement("assign" if e.kind == EK.Assignment else "call", s.sourceRange)
        if e.kind == EK.Assignment:
            t, idx = self.lvalue(e.left)
            r, w = self.reads(e.right)
            if e.isCompound if hasattr(e, "isCompound") else False:
                r |= t
            if e.timingControl is not None:
                ctrl = ctrl | self._timing_reads(e.timingControl)
            targets = t | w
            data = r | idx
        else:
            r, w = self.reads(e)
            targets, data = w, r
        if targets:
            self._edges.append((targets, data, set(ctrl), st))
        return StmtNode(*span, "leaf", frozenset(targets), slot=slot)

    def _list(self, s, ctrl, span, slot) -> StmtNode:
        return StmtNode(*span, "struct", children=tuple(self.stmt(c, ctrl, slot=False)
                                                       for c in s.list), slot=slot)

    def _block(self, s, ctrl, span, slot) -> StmtNode:
        if s.blockKind != ast.StatementBlockKind.Sequential:
            raise _Atomic  # fork/join: order and timing of branches matter
        inner = s.body
        syn = s.syntax
        # pyslang's range of a one-statement block is the statement's: take begin..end from
        # the syntax; a block with no begin/end syntax wraps a `for (int i ...)` loop.
        wrapper = syn is None or syn.kind != _SEQ_BLOCK
        if not wrapper:
            span = file_range(self.sm, syn.sourceRange, self.top_buffer)
            if span is None:
                raise _Atomic
        child = self.stmt(inner, ctrl, slot=False)
        children = child.children if child.role == "struct" and inner.kind == STK.List \
            else (child,)
        return StmtNode(*span, "wrapper" if wrapper else "struct", children=children, slot=slot)

    def _variable_declaration(self, s, ctrl, span, slot) -> StmtNode:
        sym = s.symbol
        n = self.node(sym)
        if sym.initializer is not None and n is not None:
            st = self.statement("declaration", s.sourceRange)
            r, w = self.reads(sym.initializer)
            self._edges.append(({n} | w, r, set(ctrl), st))
        return StmtNode(*span, "keep", slot=slot)

    def _empty(self, s, ctrl, span, slot) -> StmtNode:
        return StmtNode(*span, "keep", slot=slot)

    def _conditional(self, s, ctrl, span, slot) -> StmtNode:
        c = set(ctrl)
        for cond in s.conditions:
            if cond.pattern is not None:
                raise _Atomic
            r, w = self.reads(cond.expr)
            if w:
                raise _Atomic
            c |= r
        c = frozenset(c)
        children = [self.stmt(s.ifTrue, c, slot=True)]
        if s.ifFalse is not None:
            children.append(self.stmt(s.ifFalse, c, slot=True))
        return StmtNode(*span, "struct", children=tuple(children), slot=slot)

    def _case(self, s, ctrl, span, slot) -> StmtNode:
        c = set(ctrl)
        r, w = self.reads(s.expr)
        c |= r
        for item in s.items:
            for e in item.expressions:
                r2, w2 = self.reads(e)
                c |= r2
                w |= w2
        if w:
            raise _Atomic
        c = frozenset(c)
        children = [self.stmt(item.stmt, c, slot=True) for item in s.items]
        if s.defaultCase is not None:
            children.append(self.stmt(s.defaultCase, c, slot=True))
        return StmtNode(*span, "struct", children=tuple(children), slot=slot)

    def _for(self, s, ctrl, span, slot) -> StmtNode:
        st = self.statement("for", s.sourceRange)
        c = set(ctrl)
        own: set[str] = set()
        header: list[tuple[set[str], set[str]]] = []
        for v in s.loopVars:
            n = self.node(v)
            if n is None:
                continue
            r, w = self.reads(v.initializer) if v.initializer is not None else (set(), set())
            header.append(({n} | w, r))
        for e in s.initializers:
            header.append(self._assign_like(e))
        stop_r: set[str] = set()
        if s.stopExpr is not None:
            stop_r, w = self.reads(s.stopExpr)
            if w:
                raise _Atomic
        for e in s.steps:
            header.append(self._assign_like(e))
        c |= stop_r
        for t, r in header:
            own |= t
            self._edges.append((t, r, c, st))
        body = self.stmt(s.body, frozenset(c), slot=True)
        return StmtNode(*span, "struct", frozenset(own), (body,), slot=slot)

    def _while(self, s, ctrl, span, slot) -> StmtNode:
        """while, do-while and repeat loops."""
        r, w = self.reads(s.count if s.kind == STK.RepeatLoop else s.cond)
        if w:
            raise _Atomic
        body = self.stmt(s.body, frozenset(ctrl | r), slot=True)
        return StmtNode(*span, "struct", children=(body,), slot=slot)

    def _forever(self, s, ctrl, span, slot) -> StmtNode:
        return StmtNode(*span, "struct", children=(self.stmt(s.body, ctrl, slot=True),),
                        slot=slot)

    def _foreach(self, s, ctrl, span, slot) -> StmtNode:
        r, w = self.reads(s.arrayRef)
        own = set()
        for lv in s.loopDims:
            if lv.loopVar is not None:
                n = self.node(lv.loopVar)
                if n:
                    own.add(n)
        st = self.statement("foreach", s.sourceRange)
        for n in own:
            self._edges.append(({n}, r, set(ctrl), st))
        body = self.stmt(s.body, frozenset(ctrl | r | own), slot=True)
        return StmtNode(*span, "struct", frozenset(own), (body,), slot=slot)

    def _timed(self, s, ctrl, span, slot) -> StmtNode:
        c = frozenset(ctrl | self._timing_reads(s.timing))
        return StmtNode(*span, "timed", children=(self.stmt(s.stmt, c, slot=True),), slot=slot)


_Member = Callable[[_Walker, object, bool], None]
_MEMBERS: dict[object, _Member] = {
    SK.Net: _Walker._value,
    SK.Variable: _Walker._value,
    SK.ContinuousAssign: _Walker._continuous_assign,
    SK.ProceduralBlock: _Walker.procedural,
    SK.Instance: _Walker.instance,
    SK.InstanceArray: _Walker._instance_array,
    SK.PrimitiveInstance: _Walker.primitive,
    SK.UninstantiatedDef: _Walker.black_box,
    SK.GenerateBlock: _Walker._generate_block,
    SK.GenerateBlockArray: _Walker._generate_array,
    SK.InterfacePort: _Walker._interface,
    SK.Modport: _Walker._interface,
}

_Handler = Callable[[_Walker, object, frozenset, tuple[int, int], bool], StmtNode]
_STATEMENTS: dict[object, _Handler] = {
    STK.ExpressionStatement: _Walker._expression,
    STK.List: _Walker._list,
    STK.Block: _Walker._block,
    STK.VariableDeclaration: _Walker._variable_declaration,
    STK.Empty: _Walker._empty,
    STK.Conditional: _Walker._conditional,
    STK.Case: _Walker._case,
    STK.ForLoop: _Walker._for,
    STK.WhileLoop: _Walker._while,
    STK.DoWhileLoop: _Walker._while,
    STK.RepeatLoop: _Walker._while,
    STK.ForeverLoop: _Walker._forever,
    STK.ForeachLoop: _Walker._foreach,
    STK.Timed: _Walker._timed,
}


def file_range(sm, rng, buffer) -> tuple[int, int] | None:
    """Byte range of ``rng`` in the file ``buffer``: a start or end inside a macro expansion is
    moved out to the macro usage written in the file. None when it lies in another file."""
    out = []
    for loc, is_end in ((rng.start, False), (rng.end, True)):
        n = 0
        while loc.buffer != buffer and n < 64:
            try:
                er = sm.getExpansionRange(loc)
            except Exception:
                return None
            nxt = er.end if is_end else er.start
            if nxt.buffer == loc.buffer and nxt.offset == loc.offset:
                return None  # not a macro location: another file
            loc = nxt
            n += 1
        if loc.buffer != buffer:
            return None
        out.append(loc.offset)
    if out[1] < out[0]:
        return None
    return out[0], out[1]


def _scope_symbols(scope) -> Iterator:
    """Every symbol declared in ``scope`` and its nested statement blocks."""
    for m in scope:
        yield m
        if m.kind == SK.StatementBlock:
            yield from _scope_symbols(m)
    sub_args = getattr(scope, "arguments", None)
    if sub_args:
        yield from sub_args
    rv = getattr(scope, "returnValVar", None)
    if rv is not None:
        yield rv


def _stmt_children(s) -> list:
    k = s.kind
    if k == STK.List:
        return list(s.list)
    if k == STK.Block:
        return [s.body]
    if k == STK.Conditional:
        return [x for x in (s.ifTrue, s.ifFalse) if x is not None]
    if k == STK.Case:
        out = [i.stmt for i in s.items]
        if s.defaultCase is not None:
            out.append(s.defaultCase)
        return out
    if k == STK.PatternCase:
        out = [i.stmt for i in s.items]
        if s.defaultCase is not None:
            out.append(s.defaultCase)
        return out
    if k in (STK.ForLoop, STK.WhileLoop, STK.DoWhileLoop, STK.RepeatLoop, STK.ForeverLoop,
             STK.ForeachLoop):
        return [s.body]
    if k == STK.Timed:
        return [s.stmt]
    if k == STK.Wait:
        return [s.stmt]
    if k == STK.ImmediateAssertion:
        return [x for x in (s.ifTrue, s.ifFalse) if x is not None]
    if k == STK.RandCase:
        return [i.stmt for i in s.items]
    return []


def _stmt_exprs(s) -> list:
    k = s.kind
    out = []
    for attr in {
        STK.ExpressionStatement: ("expr",),
        STK.Conditional: (),
        STK.Case: ("expr",),
        STK.PatternCase: ("expr",),
        STK.ForLoop: ("stopExpr",),
        STK.WhileLoop: ("cond",),
        STK.DoWhileLoop: ("cond",),
        STK.RepeatLoop: ("count",),
        STK.ForeachLoop: ("arrayRef",),
        STK.Wait: ("cond",),
        STK.Return: ("expr",),
        STK.ImmediateAssertion: ("cond",),
        STK.ProceduralAssign: ("assignment",),
        STK.ProceduralDeassign: ("lvalue",),
    }.get(k, ()):
        e = getattr(s, attr, None)
        if e is not None:
            out.append(e)
    if k == STK.Conditional:
        out += [c.expr for c in s.conditions]
    elif k == STK.Case:
        out += [e for i in s.items for e in i.expressions]
    elif k == STK.ForLoop:
        out += list(s.initializers) + list(s.steps)
        out += [v.initializer for v in s.loopVars if v.initializer is not None]
    elif k == STK.VariableDeclaration and s.symbol.initializer is not None:
        out.append(s.symbol.initializer)
    elif k == STK.Timed:
        out.append(s.timing)
    elif k == STK.EventTrigger:
        out.append(s.target)
    return out


def _locals_in(stmt) -> list:
    out = []

    def visit(s) -> None:
        if s.kind == STK.VariableDeclaration:
            out.append(s.symbol)
        elif s.kind == STK.ForLoop:
            out.extend(s.loopVars)
        for c in _stmt_children(s):
            visit(c)

    visit(stmt)
    return out

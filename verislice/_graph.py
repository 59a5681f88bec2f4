"""Signal dependency graph of an elaborated design (networkx), the base of every cone.

A node per signal (ports, nets, variables, memories, block-local variables; signals inside
submodule instances are named ``inst.sig``), an edge ``u -> v`` when ``u`` affects ``v``:

* ``data``: ``u`` is read by an expression whose value is stored into ``v`` (right-hand sides,
  index expressions on either side, function arguments and the signals a function body reads,
  instance and gate connections);
* ``control``: ``u`` decides whether or when ``v`` is written (if/case selectors and case labels,
  loop conditions, clock and reset events of edge-triggered blocks, delays).

Every edge carries the :class:`Statement` (with its byte span in its file) that creates it.
Functions and tasks are summarised at their call sites (their results depend on their arguments
and on every module signal their bodies read). Instances of modules defined in the given files
are recursed into; an instance of an unknown module is a black box whose connected signals all
depend on one another (with a warning). Parameters, localparams and genvars are constants, not
nodes.

The graph is built from ``Design.body`` (pyslang's elaborated AST: parameters resolved,
generate blocks expanded). :mod:`verislice._cone` uses the per-statement records kept here to cut
the source text.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import networkx as nx
from pyslang import ast, syntax

from ._errors import VerisliceError
from ._frontend import Design, Source, load

__all__ = ["SignalGraph", "Statement", "build_graph"]

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


@dataclass(frozen=True)
class Statement:
    """A piece of source that creates dependencies: an assignment, a declaration with an
    initializer, an instance, a gate, or a whole procedural block (see ``kind``).

    ``start``/``end`` are UTF-8 byte offsets into ``file`` (end exclusive); ``line`` is 1-based.
    """

    kind: str
    file: str
    line: int
    start: int
    end: int
    text: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "file": self.file, "line": self.line,
                "start": self.start, "end": self.end, "text": self.text}


# --- records the slicer needs -------------------------------------------------------------------


@dataclass
class _SNode:
    """A procedural statement of the top module, for statement-level slicing.

    ``role``: ``leaf`` (kept when it writes a cone signal), ``struct`` (kept when a child is),
    ``keep`` (kept whenever its parent is: declarations, empty statements, timing), ``wrapper``
    (a statement pyslang adds around a ``for (int i ...)`` loop: same text as its child).
    ``slot``: the parent's syntax needs a statement here (if/case branch, loop or timed body), so
    removing it leaves a ``;``.
    """

    start: int
    end: int
    role: str
    targets: set[str] = field(default_factory=set)
    children: list[_SNode] = field(default_factory=list)
    slot: bool = False


@dataclass
class _Unit:
    """One driver at the top level of the top module (or in a top-level generate block):
    a continuous assignment, a declarator with initializer, a procedural block, an instance, a
    gate. ``start``/``end`` is the byte range of its syntax anchor in the top's file."""

    kind: str
    start: int
    end: int
    targets: set[str]
    tree: _SNode | None = None  # procedural blocks that can be sliced statement by statement
    module: str | None = None  # instantiated module name (instances)
    # `always @*` blocks: every signal read, and the targets triggered by their own reads
    reads: set[str] | None = None
    triggered: set[str] = field(default_factory=set)

    def untriggered(self, keep: set[str]) -> bool:
        """Would this ``always @*`` block, cut down to the cone ``keep``, read nothing from
        outside itself (an empty sensitivity list: it would never run)?"""
        if self.reads is None or not (self.reads - self.targets):
            return False
        mine = self.targets & keep
        return bool(mine) and not (mine & self.triggered)


class _Atomic(Exception):
    """Raised inside a procedural block that must be kept or dropped as a whole."""


class SignalGraph:
    """Signal dependency graph of a design's top module.

    ``graph`` is a :class:`networkx.DiGraph`:

    * node ``name`` (``"q"``, ``"u1.state"``, ``"gen[0].t"``) with attributes ``kind``
      (``input``/``output``/``inout``/``net``/``variable``/``memory``), ``width`` (bits of one
      element), ``line`` (declaration line) and ``scope`` (``""`` for the top module, else the
      instance/generate path);
    * edge ``u -> v`` (``u`` affects ``v``) with ``kind`` (``data`` when any statement makes it a
      data dependency, else ``control``), ``data``/``control`` booleans, and ``statements``
      (list of :class:`Statement`).

    Build it with :func:`build_graph`.
    """

    def __init__(self, design: Design, graph: nx.DiGraph, units: list[_Unit],
                 warnings: list[str]) -> None:
        self.design = design
        self.graph = graph
        self.warnings = warnings
        self._units = units

    # -- queries ---------------------------------------------------------------------------------

    @property
    def top(self) -> str:
        return self.design.top

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.design.ports if p.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p.name for p in self.design.ports if p.direction in ("output", "inout")]

    @property
    def signals(self) -> list[str]:
        """Every signal of the top module (not inside instances), in declaration order."""
        return [n for n, a in self.graph.nodes(data=True) if not a.get("scope")]

    def __contains__(self, name: object) -> bool:
        return name in self.graph

    def check_signals(self, signals: Iterable[str], *, allow_inputs: bool = False) -> list[str]:
        """Validate requested signal names; raise :class:`VerisliceError` with the closest name."""
        out: list[str] = []
        for s in signals:
            if s not in self.graph:
                raise VerisliceError(_unknown_signal_message(s, self))
            if not allow_inputs and self.graph.nodes[s]["kind"] == "input":
                outs = ", ".join(self.outputs) or "none"
                raise VerisliceError(
                    f"signal '{s}' is an input of module '{self.top}': its cone is empty "
                    f"(outputs: {outs})")
            if s not in out:
                out.append(s)
        if not out:
            raise VerisliceError("no signal given")
        return out

    def cone(self, signals: Iterable[str], depth: int | None = None) -> set[str]:
        """Names of every signal that affects one of ``signals`` (themselves included); with
        ``depth``, only those at most ``depth`` edges upstream of them."""
        sigs = self.check_signals(signals, allow_inputs=True)
        seen = set(sigs)
        level = list(sigs)
        pred = self.graph.pred
        n = 0
        while level and (depth is None or n < depth):
            nxt = []
            for v in level:
                for u in pred[v]:
                    if u not in seen:
                        seen.add(u)
                        nxt.append(u)
            level = nxt
            n += 1
        return seen

    def subgraph(self, signals: Iterable[str] | None = None,
                 depth: int | None = None) -> nx.DiGraph:
        """The graph restricted to the cone of ``signals`` (the whole graph when None); with
        ``depth``, to the signals at most ``depth`` edges upstream of them (of every output when
        ``signals`` is None)."""
        if signals is None:
            if depth is None:
                return self.graph
            signals = self.outputs or list(self.graph.nodes)
        return self.graph.subgraph(self.cone(signals, depth))

    def drivers(self, signal: str) -> list[Statement]:
        """Statements that write ``signal`` (from its incoming edges and initializers)."""
        seen: dict[tuple, Statement] = {}
        for st in self.graph.nodes[signal].get("drivers", ()):
            seen[(st.file, st.start, st.end)] = st
        return sorted(seen.values(), key=lambda s: (s.file, s.start))

    def to_json(self, signals: Iterable[str] | None = None, depth: int | None = None) -> dict:
        """Node-link JSON (networkx ``node_link_data`` layout, statements as dicts) of
        :meth:`subgraph`."""
        g = self.subgraph(signals, depth)
        nodes = []
        for n, a in g.nodes(data=True):
            nodes.append({"id": n, "kind": a["kind"], "width": a["width"], "line": a["line"],
                          "scope": a["scope"],
                          "drivers": [s.to_json() for s in self.drivers(n)]})
        links = []
        for u, v, a in g.edges(data=True):
            links.append({"source": u, "target": v, "kind": a["kind"], "data": a["data"],
                          "control": a["control"],
                          "statements": [s.to_json() for s in a["statements"]]})
        return {"directed": True, "multigraph": False,
                "graph": {"top": self.top, "inputs": self.inputs, "outputs": self.outputs},
                "nodes": nodes, "links": links}


def _unknown_signal_message(name: str, g: SignalGraph) -> str:
    import difflib

    outs = g.outputs
    candidates = list(g.signals)
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    if not close:
        lower = {c.lower(): c for c in candidates}
        if name.lower() in lower:
            close = [lower[name.lower()]]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return (f"no signal '{name}' in module '{g.top}'{hint} "
            f"(outputs: {', '.join(outs) if outs else 'none'})")


# --- building ---------------------------------------------------------------------------------


def build_graph(
    source: Design | Source | str | os.PathLike[str] | Sequence[Source | str | os.PathLike[str]],
    *,
    top: str | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: dict[str, str | None] | None = None,
) -> SignalGraph:
    """Signal dependency graph of ``source``'s top module.

    ``source`` is a loaded :class:`Design`, one path or :class:`Source`, or a list of them (the
    other arguments are those of :func:`verislice.load`). Raises :class:`VerisliceError` for
    unsupported constructs (interfaces) and :class:`DiagnosticError` for designs that do not
    elaborate.

    >>> g = build_graph("examples/kbd/gen.v")          # doctest: +SKIP
    >>> sorted(g.graph.predecessors("d"))              # doctest: +SKIP
    ['scancode']
    """
    design = as_design(source, top=top, include_dirs=include_dirs, defines=defines)
    with deep_recursion():
        return _Builder(design).build()


@contextmanager
def deep_recursion(limit: int = 20_000) -> Iterator[None]:
    """Room for deeply nested statements (pyslang itself parses about 1000 levels); a design
    deeper than that is a clear error, not a RecursionError."""
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    except RecursionError:
        raise VerisliceError("the design nests statements too deeply to analyse") from None
    finally:
        if old < limit:
            sys.setrecursionlimit(old)


def as_design(source, *, top=None, include_dirs=(), defines=None) -> Design:
    if isinstance(source, Design):
        return source
    if isinstance(source, (str, os.PathLike, Source)):
        source = [source]
    return load(list(source), top=top, include_dirs=include_dirs, defines=defines)


class _Builder:
    def __init__(self, design: Design) -> None:
        self.design = design
        self.g = nx.DiGraph()
        self.names: dict[object, str] = {}  # symbol -> node name
        self.taken: dict[str, object] = {}
        self.units: list[_Unit] = []
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

    # -- nodes -----------------------------------------------------------------------------------

    def node(self, sym) -> str | None:
        """Graph node for a value symbol (None for constants and subroutine locals)."""
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
        self.g.add_node(name, kind=kind, width=width, line=self._line(sym.location), scope=scope,
                        drivers=[])
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

    def edge(self, srcs: Iterable[str], dst: str, kind: str, st: Statement) -> None:
        g = self.g
        for u in srcs:
            if g.has_edge(u, dst):
                a = g.edges[u, dst]
                a[kind] = True
                a["kind"] = "data" if a["data"] else "control"
                if a["statements"][-1] is not st:
                    a["statements"].append(st)
            else:
                g.add_edge(u, dst, kind=kind, data=kind == "data", control=kind == "control",
                           statements=[st])

    def drive(self, targets: Iterable[str], data: Iterable[str], control: Iterable[str],
              st: Statement) -> None:
        data = set(data)
        control = set(control) - data
        for t in targets:
            drivers = self.g.nodes[t]["drivers"]
            if not drivers or drivers[-1] is not st:
                drivers.append(st)
            self.edge(data, t, "data", st)
            self.edge(control, t, "control", st)

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

    # -- scopes ----------------------------------------------------------------------------------

    def build(self) -> SignalGraph:
        body = self.design.body
        for p in body.portList:
            self.node(p.internalSymbol)
        self.scope(body, top=True)
        # one warning per black box, not one per generate iteration that instantiates it
        warnings = list(dict.fromkeys(self.warnings))
        return SignalGraph(self.design, self.g, self.units, warnings)

    def scope(self, scope, top: bool) -> None:
        for m in scope:
            k = m.kind
            if k in (SK.Net, SK.Variable):
                n = self.node(m)
                init = m.initializer
                if init is not None and n is not None:
                    st = self.statement("declaration", m.syntax.sourceRange)
                    r, w = self.reads(init)
                    self.drive({n} | w, r, (), st)
                    if top:
                        self.unit("declaration", m.syntax, {n} | w)
            elif k == SK.ContinuousAssign:
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
            elif k == SK.ProceduralBlock:
                self.procedural(m, top)
            elif k == SK.Instance:
                self.instance(m, top)
            elif k == SK.InstanceArray:
                for e in m.elements:
                    self.instance(e, top, anchor=m.syntax)
            elif k == SK.PrimitiveInstance:
                self.primitive(m, top)
            elif k == SK.UninstantiatedDef:
                self.black_box(m, top)
            elif k == SK.GenerateBlock:
                if not m.isUninstantiated:
                    self._generate([m], m, top)
            elif k == SK.GenerateBlockArray:
                self._generate(list(m.entries), m, top)
            elif k in (SK.InterfacePort, SK.Modport):
                raise VerisliceError(
                    f"{self.top_file}:{self._line(m.location)}: interface port '{m.name}' "
                    "is not supported")

    def _generate(self, blocks, sym, top: bool) -> None:
        # The items of elaborated generate blocks are units like the module's own items (the
        # slicer cuts inside generate constructs); the blocks of one loop share their syntax, so
        # one item has a unit per iteration.
        for b in blocks:
            self.scope(b, top=top)

    def unit(self, kind: str, syn, targets: set[str], tree: _SNode | None = None,
             module: str | None = None) -> None:
        fr = file_range(self.sm, syn.sourceRange, self.top_buffer)
        if fr is None:
            return  # from an include file: the slicer keeps what is around it
        self.units.append(_Unit(kind, fr[0], fr[1], set(targets), tree, module))

    # -- instances -------------------------------------------------------------------------------

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
        n_before = set(self.g.nodes)
        self.scope(body, top=False)
        if top:
            # the instance also "drives" its own internal signals: a cone asked for inside it
            # keeps the instance
            inner_nodes = {n for n in self.g.nodes if n not in n_before}
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
        targets = {s for s in sigs if self.g.nodes[s]["kind"] != "input"}
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
        self._edges: list[tuple[set[str], set[str], set[str], Statement]] = []
        try:
            if any(not self._in_top_file(s) for s in (pb.body,)):
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
            self.unit(kind, pb.syntax, targets, tree=tree)
            if trig is not None and self.units and self.units[-1].tree is tree:
                self.units[-1].reads, self.units[-1].triggered = trig

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

    def _timing_reads(self, timing) -> set[str]:
        out: set[str] = set()

        def named(e) -> None:
            n = self.node(e.symbol)
            if n is not None:
                out.add(n)

        timing.visit(lookup_table={EK.NamedValue: named, EK.HierarchicalValue: named})
        return out

    def stmt(self, s, ctrl: frozenset[str], slot: bool) -> _SNode:
        """Record dependencies of statement ``s`` under control signals ``ctrl``; return its
        slicing node. Raises _Atomic for statements the slicer must not cut."""
        k = s.kind
        rng = s.sourceRange
        fr = file_range(self.sm, rng, self.top_buffer)
        if fr is None:
            raise _Atomic
        start, end = fr
        if k == STK.ExpressionStatement:
            e = s.expr
            st = self.statement("assign" if e.kind == EK.Assignment else "call", rng)
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
            return _SNode(start, end, "leaf", targets, slot=slot)
        if k == STK.List:
            node = _SNode(start, end, "struct", slot=slot)
            node.children = [self.stmt(c, ctrl, slot=False) for c in s.list]
            return node
        if k == STK.Block:
            if s.blockKind != ast.StatementBlockKind.Sequential:
                raise _Atomic  # fork/join: order and timing of branches matter
            inner = s.body
            syn = s.syntax
            # pyslang's range of a one-statement block is the statement's: take begin..end from
            # the syntax; a block with no begin/end syntax wraps a `for (int i ...)` loop.
            wrapper = syn is None or syn.kind != _SEQ_BLOCK
            if not wrapper:
                fr = file_range(self.sm, syn.sourceRange, self.top_buffer)
                if fr is None:
                    raise _Atomic
                start, end = fr
            node = _SNode(start, end, "wrapper" if wrapper else "struct", slot=slot)
            child = self.stmt(inner, ctrl, slot=False)
            node.children = child.children if child.role == "struct" and inner.kind == STK.List \
                else [child]
            return node
        if k == STK.VariableDeclaration:
            sym = s.symbol
            n = self.node(sym)
            if sym.initializer is not None and n is not None:
                st = self.statement("declaration", rng)
                r, w = self.reads(sym.initializer)
                self._edges.append(({n} | w, r, set(ctrl), st))
            return _SNode(start, end, "keep", slot=slot)
        if k == STK.Empty:
            return _SNode(start, end, "keep", slot=slot)
        if k == STK.Conditional:
            c = set(ctrl)
            for cond in s.conditions:
                if cond.pattern is not None:
                    raise _Atomic
                r, w = self.reads(cond.expr)
                if w:
                    raise _Atomic
                c |= r
            c = frozenset(c)
            node = _SNode(start, end, "struct", slot=slot)
            node.children.append(self.stmt(s.ifTrue, c, slot=True))
            if s.ifFalse is not None:
                node.children.append(self.stmt(s.ifFalse, c, slot=True))
            return node
        if k == STK.Case:
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
            node = _SNode(start, end, "struct", slot=slot)
            for item in s.items:
                node.children.append(self.stmt(item.stmt, c, slot=True))
            if s.defaultCase is not None:
                node.children.append(self.stmt(s.defaultCase, c, slot=True))
            return node
        if k == STK.ForLoop:
            st = self.statement("for", rng)
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
                t, r = self._assign_like(e)
                header.append((t, r))
            stop_r: set[str] = set()
            if s.stopExpr is not None:
                stop_r, w = self.reads(s.stopExpr)
                if w:
                    raise _Atomic
            for e in s.steps:
                t, r = self._assign_like(e)
                header.append((t, r))
            c |= stop_r
            for t, r in header:
                own |= t
                self._edges.append((t, r, c, st))
            c = frozenset(c)
            node = _SNode(start, end, "struct", own, slot=slot)
            node.children.append(self.stmt(s.body, c, slot=True))
            return node
        if k in (STK.WhileLoop, STK.DoWhileLoop, STK.RepeatLoop):
            e = s.cond if k != STK.RepeatLoop else s.count
            r, w = self.reads(e)
            if w:
                raise _Atomic
            node = _SNode(start, end, "struct", slot=slot)
            node.children.append(self.stmt(s.body, frozenset(ctrl | r), slot=True))
            return node
        if k == STK.ForeverLoop:
            node = _SNode(start, end, "struct", slot=slot)
            node.children.append(self.stmt(s.body, ctrl, slot=True))
            return node
        if k == STK.ForeachLoop:
            r, w = self.reads(s.arrayRef)
            own = set()
            for lv in s.loopDims:
                if lv.loopVar is not None:
                    n = self.node(lv.loopVar)
                    if n:
                        own.add(n)
            st = self.statement("foreach", rng)
            for n in own:
                self._edges.append(({n}, r, set(ctrl), st))
            node = _SNode(start, end, "struct", own, slot=slot)
            node.children.append(self.stmt(s.body, frozenset(ctrl | r | own), slot=True))
            return node
        if k == STK.Timed:
            c = frozenset(ctrl | self._timing_reads(s.timing))
            node = _SNode(start, end, "timed", slot=slot)
            node.children.append(self.stmt(s.stmt, c, slot=True))
            return node
        raise _Atomic  # jumps, waits, fork, assertions, force/release ...

    def _assign_like(self, e) -> tuple[set[str], set[str]]:
        if e.kind == EK.Assignment:
            t, idx = self.lvalue(e.left)
            r, w = self.reads(e.right)
            return t | w, r | idx
        r, w = self.reads(e)
        return w, r


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


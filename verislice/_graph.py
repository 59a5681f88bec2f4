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

The walk over ``Design.body`` (pyslang's elaborated AST) that finds the signals and what each
statement reads and writes is :mod:`verislice._walk`; its records (:mod:`verislice._stmts`) are
the contract: this module turns them into the networkx graph, and :mod:`verislice._cone` cuts
the source text with them (``SignalGraph.statements``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import networkx as nx

from ._errors import VerisliceError
from ._frontend import Design, Source, load
from ._stmts import DesignStatements, Statement
from ._walk import SK, walk  # noqa: F401  (SK: tests/_slice_sim.py reads the symbol kinds here)

__all__ = ["SignalGraph", "Statement", "build_graph"]


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

    ``statements`` holds the records the graph was built from (signals, dependencies, and the
    top module's units that :func:`verislice.cone` cuts). Build it with :func:`build_graph`.
    """

    def __init__(self, design: Design, statements: DesignStatements) -> None:
        self.design = design
        self.statements = statements
        self.graph = _networkx(statements)
        self.warnings = list(statements.warnings)

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
        return SignalGraph(design, walk(design))


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
    """``source`` as a loaded :class:`Design` (a Design is returned as it is; a path, a
    :class:`Source` or a list of them is loaded)."""
    if isinstance(source, Design):
        return source
    if isinstance(source, (str, os.PathLike, Source)):
        source = [source]
    return load(list(source), top=top, include_dirs=include_dirs, defines=defines)


def _networkx(statements: DesignStatements) -> nx.DiGraph:
    """The graph of the walk's records: a node per signal, an edge per dependency, in their
    order (networkx keeps insertion order, and every listing follows it)."""
    g = nx.DiGraph()
    for sig in statements.signals:
        g.add_node(sig.name, kind=sig.kind, width=sig.width, line=sig.line, scope=sig.scope,
                   drivers=[])
    for dep in statements.dependencies:
        st = dep.statement
        for t in dep.targets:
            drivers = g.nodes[t]["drivers"]
            if not drivers or drivers[-1] is not st:
                drivers.append(st)
            _edges(g, dep.data, t, "data", st)
            _edges(g, dep.control, t, "control", st)
    return g


def _edges(g: nx.DiGraph, srcs: Iterable[str], dst: str, kind: str, st: Statement) -> None:
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

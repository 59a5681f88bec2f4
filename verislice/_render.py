"""Pictures and listings of a :class:`~verislice.SignalGraph`: terminal tree, DOT, JSON, SVG/PNG.

* :func:`tree` - a rich :class:`~rich.tree.Tree` per root signal, walking dependencies backward
  (``<-``), data edges plain, control edges marked ``(control)``, revisits marked ``...``;
* :func:`to_dot` - Graphviz DOT text (inputs green, outputs blue, memories as 3-D boxes, control
  edges dashed, edge labels = source lines, each instance / generate block in a labelled box);
* :func:`render_image` - SVG, PNG or PDF through Graphviz ``dot`` (run via the sandbox runner).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from rich.tree import Tree

from ._errors import VerisliceError
from ._graph import SignalGraph
from ._sandbox import run_limited, sandbox_dir

__all__ = ["render_image", "to_dot", "tree"]

_STYLE = {"input": "green", "output": "bold blue", "inout": "bold magenta",
          "memory": "yellow", "variable": "", "net": ""}


def _label(g: SignalGraph, n: str) -> str:
    a = g.graph.nodes[n]
    w = f"[{a['width']}]" if a["width"] and a["width"] != 1 else ""
    return f"{n}{w} ({a['kind']})"


def tree(g: SignalGraph, roots: Iterable[str] | None = None, max_depth: int | None = None) -> Tree:
    """Backward dependency tree of ``roots`` (default: every output), ``max_depth`` levels deep
    (default 40; deeper logic is elided with a note: use DOT or JSON for it)."""
    max_depth = 40 if max_depth is None else max_depth
    roots = list(roots) if roots is not None else g.outputs
    top = Tree(f"module {g.top}", guide_style="dim")
    expanded: set[str] = set()  # each signal's inputs are listed once (the tree stays O(edges))
    for r in roots:
        _grow(g, top, r, [], None, expanded, max_depth)
    return top


def _grow(g: SignalGraph, parent: Tree, n: str, path: list[str], edge: dict | None,
          expanded: set[str], max_depth: int) -> None:
    a = g.graph.nodes[n]
    label = _label(g, n)
    style = _STYLE.get(a["kind"], "")
    text = f"[{style}]{_esc(label)}[/]" if style else _esc(label)
    if edge is not None:
        lines = sorted({s.line for s in edge["statements"]})
        where = ", ".join(f"line {x}" for x in lines[:4]) + (" ..." if len(lines) > 4 else "")
        kind = "" if edge["kind"] == "data" else " [dim](control)[/]"
        text = f"{text}{kind} [dim]{where}[/]"
    preds = sorted(g.graph.predecessors(n))
    if n in path and preds:
        parent.add(text + " [dim]... (cycle)[/]")
        return
    if n in expanded and preds:
        parent.add(text + " [dim]... (see above)[/]")
        return
    if len(path) >= max_depth and preds:
        parent.add(text + " [dim]... (deeper levels elided: use --format dot or json)[/]")
        return
    node = parent.add(text)
    expanded.add(n)
    path.append(n)
    for u in preds:  # a signal that feeds itself (q <= q + a) lists itself, as "(cycle)"
        _grow(g, node, u, path, g.graph.edges[u, n], expanded, max_depth)
    path.pop()


def _esc(s: str) -> str:
    return s.replace("[", "\\[")


def to_dot(g: SignalGraph, signals: Iterable[str] | None = None,
           depth: int | None = None) -> str:
    """Graphviz DOT text of the graph (or of the cone of ``signals``; ``depth``: see
    :meth:`SignalGraph.subgraph`)."""
    sub = g.subgraph(signals, depth)
    lines = [f"digraph {_q(g.top)} {{", "  rankdir=LR;", '  graph [fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded"];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    shapes = {
        "input": 'shape=cds, style="filled", fillcolor="#d8f0d8"',
        "output": 'shape=cds, style="filled,bold", fillcolor="#d8e4f8"',
        "inout": 'shape=hexagon, style="filled", fillcolor="#efd8f0"',
        "memory": 'shape=box3d, style="filled", fillcolor="#fff4c8"',
    }
    requested = set(signals or ())
    by_scope: dict[str, list[str]] = {}
    for n, a in sub.nodes(data=True):
        w = f"[{a['width']}]" if a["width"] and a["width"] != 1 else ""
        attrs = shapes.get(a["kind"], "")
        if n in requested:
            attrs += (", " if attrs else "") + "penwidth=2.5"
        scope = a.get("scope", "")
        label = n[len(scope) + 1:] if scope else n
        by_scope.setdefault(scope, []).append(
            f"{_q(n)} [label={_q(label + w)}{', ' + attrs if attrs else ''}];")
    for scope in sorted(by_scope):
        if not scope:
            lines += [f"  {x}" for x in by_scope[scope]]
            continue
        # signals of one instance / generate block drawn inside a labelled box
        lines.append(f"  subgraph {_q('cluster_' + scope)} {{")
        lines.append(f'    label={_q(scope)}; style="rounded,dashed"; color="#888888";')
        lines += [f"    {x}" for x in by_scope[scope]]
        lines.append("  }")
    for u, v, a in sub.edges(data=True):
        lns = sorted({s.line for s in a["statements"]})
        label = "L" + ",".join(str(x) for x in lns[:3]) + ("..." if len(lns) > 3 else "")
        style = "" if a["kind"] == "data" else ", style=dashed, color=\"#c05010\""
        lines.append(f"  {_q(u)} -> {_q(v)} [label={_q(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Graphviz's layout grows much faster than linearly: beyond this it takes minutes or more
# (picorv32's whole graph timed out after 60 s), so a picture is refused before dot runs.
MAX_DRAWN_EDGES = 800
_TOO_BIG = ("use --depth N (the signals at most N edges upstream), --signal NAME (one cone), or "
            "--format tree, dot or json")


def check_drawable(g: SignalGraph, signals: Iterable[str] | None = None,
                   depth: int | None = None) -> None:
    """Raise :class:`VerisliceError` when the (sub)graph is too large for Graphviz to lay out
    in reasonable time."""
    sub = g.subgraph(signals, depth)
    if sub.number_of_edges() > MAX_DRAWN_EDGES:
        raise VerisliceError(
            f"the graph has {sub.number_of_nodes()} signals and {sub.number_of_edges()} edges, "
            f"too many to draw (at most {MAX_DRAWN_EDGES} edges): {_TOO_BIG}")


def render_image(dot_text: str, out: str | os.PathLike[str], fmt: str | None = None,
                 timeout: float = 60) -> Path:
    """Render DOT text to ``out`` (SVG, PNG or PDF, from ``fmt`` or the suffix) with Graphviz."""
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in ("svg", "png", "pdf"):
        raise VerisliceError(f"{out}: picture format must be svg, png or pdf, not '{fmt or '?'}'")
    dot = shutil.which("dot")
    if dot is None:
        raise VerisliceError("Graphviz 'dot' is not installed (apt-get install graphviz); "
                             "use --format dot to get the DOT text instead")
    with sandbox_dir("verislice-dot-") as d:
        (d / "g.dot").write_text(dot_text)
        r = run_limited([dot, f"-T{fmt}", "g.dot", "-o", f"g.{fmt}"], d, timeout=timeout)
        if not r.ok:
            if r.timed_out:
                raise VerisliceError(f"Graphviz dot did not finish the picture in {timeout:g} s: "
                                     f"{_TOO_BIG}")
            why = r.stderr.strip() or f"exit {r.returncode}"
            raise VerisliceError(f"Graphviz dot failed: {why}")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(d / f"g.{fmt}", out)
        except OSError as exc:
            raise VerisliceError(f"{out}: cannot write: {exc.strerror}") from None
    return out

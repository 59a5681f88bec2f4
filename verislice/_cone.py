"""Backward cone of signals as a standalone module that keeps the original text byte for byte.

:func:`cone` walks the :class:`~verislice.SignalGraph` backward from the requested signals, then
cuts the top module's source text at statement level:

* module items (continuous assignments, declarators, instances, gates, procedural blocks,
  generate constructs) that drive nothing in the cone are removed, with their indentation and
  the comment lines just above them;
* inside a procedural block, assignments to signals outside the cone are removed while the
  if/case/loop structure around the kept ones stays; a branch left empty keeps a ``;``;
* declarations, parameters, localparams, typedefs, functions, tasks and genvars are kept when the
  kept text names them (a fixpoint over identifiers); submodules used by kept instances are kept
  whole; compiler directives outside modules are kept;
* the header is unchanged (``ports="all"``: the slice drops into the original testbench, outputs
  outside the cone are left undriven) or reduced to the ports the kept text uses and the
  requested signals (``ports="used"``).

The result's ``spans`` are the kept byte ranges of the top's file (sorted, non-overlapping, always
including the header and ``endmodule``); ``char_spans`` are the same ranges in Python ``str``
characters. ``text`` is the kept text, plus a ``;`` where an emptied branch needs one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
import weakref
from dataclasses import dataclass, field
from typing import NamedTuple

from pyslang import parsing, syntax

from ._errors import VerisliceError
from ._frontend import Design, Source
from ._graph import SignalGraph, as_design, build_graph, deep_recursion
from ._stmts import StmtNode, Unit
from ._walk import file_range

__all__ = ["Slice", "cone"]

SX = syntax.SyntaxKind
_COMMA = parsing.TokenKind.Comma

_PROCEDURAL = {SX.AlwaysBlock, SX.AlwaysCombBlock, SX.AlwaysFFBlock, SX.AlwaysLatchBlock,
               SX.InitialBlock, SX.FinalBlock}
_GENERATE = {SX.LoopGenerate, SX.IfGenerate, SX.CaseGenerate, SX.GenerateBlock}
_DECLS = {SX.NetDeclaration, SX.DataDeclaration}
_ALWAYS_KEEP = {SX.EmptyMember, SX.TimeUnitsDeclaration, SX.PackageImportDeclaration}
# Items that never change a signal's value: always removed (they may name removed signals).
_ALWAYS_DROP = {SX.SpecifyBlock, SX.ConcurrentAssertionMember, SX.ImmediateAssertionMember}
_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Slice:
    """The backward cone of ``requested`` as a module.

    Attributes:
        text: the slice (original text of every kept part; compiles standalone).
        spans: kept ``(start, end)`` byte ranges of ``file`` (UTF-8), sorted, non-overlapping.
        char_spans: the same ranges in Python string characters of the file's text.
        signals: every signal in the cone (graph node names), requested ones first.
        requested: the signals asked for.
        dropped_outputs: outputs of the top outside the cone (undriven with ``ports="all"``,
            removed from the header with ``ports="used"``).
        top: top module name; file: the file the spans refer to; ports: ``"all"``/``"used"``.
        submodules: modules the kept instances need (kept whole when defined in ``file``).
        external_modules: of those, the ones defined in other files (not part of ``text``).
        warnings: black boxes and similar notes.
        size: how much of ``file`` the slice keeps: ``bytes`` (inside the spans), ``lines``
            (non-blank lines of ``text``), and the file's ``file_bytes`` and ``file_lines``
            (non-blank).
    """

    text: str
    spans: list[tuple[int, int]]
    char_spans: list[tuple[int, int]]
    signals: list[str]
    requested: list[str]
    dropped_outputs: list[str]
    top: str
    file: str
    ports: str = "all"
    submodules: list[str] = field(default_factory=list)
    external_modules: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    size: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "top": self.top,
            "file": self.file,
            "requested": self.requested,
            "signals": self.signals,
            "dropped_outputs": self.dropped_outputs,
            "ports": self.ports,
            "spans": [list(s) for s in self.spans],
            "char_spans": [list(s) for s in self.char_spans],
            "submodules": self.submodules,
            "external_modules": self.external_modules,
            "warnings": self.warnings,
            "size": self.size,
            "text": self.text,
        }


def cone(
    source: Design | SignalGraph | Source | str | os.PathLike[str] | Sequence[Source | str],
    signals: str | Iterable[str],
    *,
    top: str | None = None,
    ports: str = "all",
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: dict[str, str | None] | None = None,
) -> Slice:
    """Backward cone of ``signals`` in ``source``'s top module, as a module that compiles.

    ``source``: a path, a :class:`Source`, a list of them, a loaded :class:`Design` (its graph
    is built on the first call and reused by later ones) or a :class:`SignalGraph` (reused: build
    it once to slice many signals). ``ports``: ``"all"``
    keeps the header unchanged, ``"used"`` keeps only the ports the slice uses and the requested
    signals. Raises :class:`VerisliceError` for unknown signals (with the closest name), inputs,
    and constructs that cannot be sliced correctly.

    >>> sl = cone("examples/kbd/gen.v", ["d"])       # doctest: +SKIP
    >>> print(sl.text)                               # doctest: +SKIP
    """
    if ports not in ("all", "used"):
        raise VerisliceError(f"ports must be 'all' or 'used', not {ports!r}")
    if isinstance(signals, str):
        signals = [signals]
    if isinstance(source, SignalGraph):
        graph = source
    elif isinstance(source, Design):
        # slicing every output of one Design builds its graph once
        graph = getattr(source, "_verislice_graph", None)
        if graph is None:
            graph = build_graph(source)
            source._verislice_graph = graph  # type: ignore[attr-defined]
    else:
        design = as_design(source, top=top, include_dirs=include_dirs, defines=defines)
        graph = build_graph(design)
    requested = graph.check_signals(signals)
    keep = _cone_with_triggers(graph, requested)
    with deep_recursion():
        return _Slicer(graph, requested, keep, ports).run()


def _cone_with_triggers(graph: SignalGraph, requested: list[str]) -> set[str]:
    """The cone of ``requested``, grown so that every ``always @*`` block the slice keeps
    whole (its cut-down version would never run) has what triggers it: everything it reads."""
    keep = graph.cone(requested)
    while True:
        extra: set[str] = set()
        for u in graph.statements.units:
            if u.untriggered(keep):
                extra |= u.reads - keep
        if not extra:
            return keep
        keep = graph.cone(list(requested) + sorted(keep - set(requested)) + sorted(extra))


class _Slicer:
    def __init__(self, graph: SignalGraph, requested: list[str], keep: set[str], ports: str):
        self.g = graph
        self.design = graph.design
        self.requested = requested
        self.keep = keep
        self.ports = ports
        idx, src = self.design.source_of_top()
        self.src = src
        self.tree = self.design.trees[idx]
        self.data = src.text.encode("utf-8")
        self.removals: list[tuple[int, int, bytes]] = []
        self.units: dict[int, list[Unit]] = {}
        for u in graph.statements.units:
            self.units.setdefault(u.start, []).append(u)
        self.kept_modules: set[str] = set()
        # declarative candidates: (names declared, referenced-text ranges, removal ranges)
        self.cands: list[_Cand] = []

    # -- entry -----------------------------------------------------------------------------------

    def run(self) -> Slice:
        decl = self.design.body.definition.syntax
        if decl is None or decl.sourceRange.start.buffer != self.tree.root.sourceRange.start.buffer:
            raise VerisliceError(f"module '{self.design.top}': cannot find its source text")
        self.mod_start = decl.sourceRange.start.offset
        self.mod_end = decl.sourceRange.end.offset
        self.header(decl.header)
        for it in decl.members:
            self.item(it)
        self.file_level()
        self.subs = self.submodules()
        self.closure(decl)
        return self.assemble(decl)

    def file_level(self) -> None:
        """Declarations outside every module (typedefs, functions, packages, imports in the
        compilation unit): kept when the kept text names them."""
        root = self.tree.root
        if root.kind == SX.ModuleDeclaration:
            return
        self.file_regions: list[tuple[int, int]] = []
        for it in root.members:
            k = it.kind
            if k == SX.TypedefDeclaration:
                names = [it.name.valueText] + _enum_names(it.type)
            elif k in (SX.FunctionDeclaration, SX.TaskDeclaration):
                names = [str(it.prototype.name).strip()]
            elif k == SX.ParameterDeclarationStatement:
                names = _type_param_names(it.parameter)
            elif k == SX.PackageDeclaration:
                names = [it.header.name.valueText]
            elif k == SX.PackageImportDeclaration:
                s, e = self.rng(it)
                self.file_regions.append((s, e))
                continue
            else:
                continue
            c = _Cand.whole(self, it, names)
            c.file_level = True
            self.cands.append(c)

    # -- helpers ---------------------------------------------------------------------------------

    def rng(self, node) -> tuple[int, int]:
        r = node.sourceRange
        buf = self.tree.root.sourceRange.start.buffer
        fr = file_range(self.design.compilation.sourceManager, r, buf)
        if fr is None:
            sm = self.design.compilation.sourceManager
            try:
                loc = sm.getFullyOriginalLoc(r.start)
                line, col = sm.getLineNumber(loc), sm.getColumnNumber(loc)
            except Exception:
                line, col = 0, 0
            raise VerisliceError(f"{self.src.name}:{line}:{col}: cannot slice around a macro "
                                 "expansion or included text here (not supported)")
        return fr

    def where(self, node) -> str:
        start, _ = self.rng(node)
        line = self.data.count(b"\n", 0, start) + 1
        col = start - (self.data.rfind(b"\n", 0, start) + 1) + 1
        return f"{self.src.name}:{line}:{col}"

    def remove_item(self, start: int, end: int) -> None:
        """Remove a list element (module item or statement in a block) with its indentation,
        the whole-line comments right above it and a comment after it on the same line."""
        self.removals.append((_back(self.data, start, self.mod_start), _forward(self.data, end), b""))

    def remove_slot(self, start: int, end: int) -> None:
        """Remove a statement the syntax needs (if/case branch, loop body): leave a ``;``.

        The ``;`` is new text, never the statement's own: the spans (a DPO loss mask) then hold
        no character of the removed statement."""
        self.removals.append((start, end, b";"))

    def remove_list_elements(self, elems: list[_ListElem]) -> None:
        """Remove the unkept elements of a comma-separated list, commas included."""
        n = len(elems)
        for i, el in enumerate(elems):
            if el.keep:
                continue
            nxt = next((j for j in range(i + 1, n) if elems[j].keep), None)
            if nxt is not None:
                start = el.prefix_end if el.prefix_end is not None else el.start
                self.removals.append((start, elems[i + 1].start, b""))
            else:
                prev = next((j for j in range(i - 1, -1, -1) if elems[j].keep), None)
                if prev is None:
                    raise AssertionError("list with nothing kept")
                self.removals.append((elems[prev].end, el.end, b""))

    def unit_at(self, node) -> list[Unit]:
        return self.units.get(node.sourceRange.start.offset, [])

    def units_in(self, start: int, end: int) -> list[Unit]:
        return [u for s, us in self.units.items() if start <= s < end for u in us]

    def live(self, units: Iterable[Unit]) -> bool:
        return any(u.targets & self.keep for u in units)

    # -- header ----------------------------------------------------------------------------------

    def header(self, hdr) -> None:
        plist = hdr.ports
        if self.ports == "all" or plist is None:
            return
        elems = [p for p in plist.ports if hasattr(p, "kind") and p.kind in (
            SX.ImplicitAnsiPort, SX.ExplicitAnsiPort, SX.ImplicitNonAnsiPort, SX.ExplicitNonAnsiPort)]
        if not elems:
            return
        if any(p.kind not in (SX.ImplicitAnsiPort, SX.ImplicitNonAnsiPort) for p in elems):
            raise VerisliceError(f"{self.where(elems[0])}: --ports used does not support "
                                 "explicit port expressions (.name(expr)); use --ports all")
        want = set(self.requested) | (self.keep & set(self.g.inputs + self.g.outputs))
        decls = []
        for p in elems:
            name = (p.declarator.name.valueText if p.kind == SX.ImplicitAnsiPort
                    else str(p.expr).strip())
            s, e = self.rng(p)
            pfx = None
            if p.kind == SX.ImplicitAnsiPort and str(p.header).strip():
                pfx = p.declarator.sourceRange.start.offset
            inherits = p.kind == SX.ImplicitAnsiPort and not str(p.header).strip()
            decls.append(_Decl(s, e, name in want, pfx, name, inherits))
        self.cands.append(_Cand("header", [], decls))

    # -- module items ----------------------------------------------------------------------------

    def item(self, it) -> None:
        k = it.kind
        s, e = self.rng(it)
        if k in _PROCEDURAL:
            units = self.unit_at(it)
            if not units:
                return  # not in this file's text (macro) or an unelaborated branch: keep it
            if not self.live(units):
                self.remove_item(s, e)
            elif all(u.tree is not None and not u.untriggered(self.keep) for u in units):
                # one tree per elaboration (a generate loop): cut what none of them needs
                trees = [u.tree for u in units]
                if all(trees[0].same_shape(t) for t in trees[1:]):
                    self.prune(trees)
        elif k == SX.ContinuousAssign:
            elems = []
            for a in it.assignments:
                if not hasattr(a, "kind") or a.kind == _COMMA:
                    continue
                us = self.unit_at(a)
                as_, ae = self.rng(a)
                elems.append(_ListElem(as_, ae, self.live(us) if us else True))
            self.list_item(s, e, elems)
        elif k in (SX.HierarchyInstantiation, SX.PrimitiveInstantiation):
            elems = []
            for inst in it.instances:
                if not hasattr(inst, "kind") or inst.kind == _COMMA:
                    continue
                us = self.unit_at(inst)
                is_, ie = self.rng(inst)
                live = self.live(us) if us else True
                if live:
                    for u in us:
                        if u.module:
                            self.kept_modules.add(u.module)
                elems.append(_ListElem(is_, ie, live))
            self.list_item(s, e, elems)
        elif k in _DECLS:
            self.declaration(it, it.declarators)
        elif k == SX.PortDeclaration:
            if self.ports == "used":
                self.declaration(it, it.declarators, port=True)
        elif k == SX.ParameterDeclarationStatement:
            p = it.parameter
            if p.kind == SX.ParameterDeclaration:
                self.declaration(it, p.declarators)
            else:  # localparam type T = ...
                self.cands.append(_Cand.whole(self, it, _type_param_names(p)))
        elif k == SX.TypedefDeclaration:
            names = [it.name.valueText] + _enum_names(it.type)
            self.cands.append(_Cand.whole(self, it, names))
        elif k in (SX.FunctionDeclaration, SX.TaskDeclaration):
            self.cands.append(_Cand.whole(self, it, [str(it.prototype.name).strip()]))
        elif k == SX.GenvarDeclaration:
            names = [str(x).strip() for x in it.identifiers if hasattr(x, "kind") and x.kind != _COMMA]
            self.cands.append(_Cand.whole(self, it, names))
        elif k in _GENERATE:
            if not self.live(self.units_in(s, e)):
                self.remove_item(s, e)
            else:
                self.generate(it)
        elif k == SX.GenerateRegion:
            before = len(self.removals)
            members = list(it.members)
            for m in members:
                self.item(m)
            # all members gone -> drop `generate ... endgenerate` too
            if members and all(self._removed(self.rng(m)) for m in members):
                del self.removals[before:]
                self.remove_item(s, e)
        elif k in _ALWAYS_KEEP:
            pass
        elif k in _ALWAYS_DROP:
            self.remove_item(s, e)
        else:
            name = str(k).rpartition(".")[2]
            raise VerisliceError(f"{self.where(it)}: cannot slice a {name} item of module "
                                 f"'{self.design.top}' (not supported)")

    def generate(self, it) -> None:
        """A generate construct that drives the cone: cut inside it, item by item. A branch or
        loop body that is one item without ``begin``/``end`` is live (it is all the construct
        holds), so it is never removed from under its ``if``/``for``."""
        k = it.kind
        if k == SX.GenerateBlock:
            for m in it.members:
                self.item(m)
        elif k == SX.LoopGenerate:
            self.item(it.block)
        elif k == SX.IfGenerate:
            if self.live(self.units_in(*self.rng(it.block))):
                self.item(it.block)  # (an unelaborated `if` branch stays as written)
            ec = it.elseClause
            if ec is not None:
                if self.live(self.units_in(*self.rng(ec.clause))):
                    self.item(ec.clause)
                else:
                    self.remove_item(*self.rng(ec))
        elif k == SX.CaseGenerate:
            for ci in it.items:
                if not hasattr(ci, "clause"):
                    continue
                if self.live(self.units_in(*self.rng(ci.clause))):
                    self.item(ci.clause)
                else:
                    self.remove_item(*self.rng(ci))

    def _removed(self, rng: tuple[int, int]) -> bool:
        s, e = rng
        return any(rs <= s and e <= re_ for rs, re_, _ in self.removals)

    def list_item(self, s: int, e: int, elems: list[_ListElem]) -> None:
        if not any(el.keep for el in elems):
            self.remove_item(s, e)
        else:
            self.remove_list_elements(elems)

    def declaration(self, it, declarators, port: bool = False) -> None:
        elems = []
        for d in declarators:
            if not hasattr(d, "kind") or d.kind == _COMMA:
                continue
            name = d.name.valueText
            ds, de = self.rng(d)
            live = name in self.keep and not self.g.graph.nodes[name].get("scope", "")
            live = live or self.live(self.unit_at(d))
            if port and name in set(self.requested):
                live = True
            elems.append(_Decl(ds, de, live, None, name, False))
        self.cands.append(_Cand("decl", [self.rng(it)], elems, item=self.rng(it)))

    # -- procedural statements -------------------------------------------------------------------

    def prune(self, nodes: list[StmtNode]) -> None:
        """``nodes`` (one statement, elaborated once or once per generate iteration) is kept:
        remove its children that drive nothing in the cone in any elaboration."""
        for i, c in enumerate(nodes[0].children):
            cs = [n.children[i] for n in nodes]
            if any(x.needed(self.keep) for x in cs):
                self.prune(cs)
            elif c.role == "keep":
                continue
            elif c.role == "timed":
                self.prune(cs)  # timing stays, its body may empty out
            elif c.slot:
                self.remove_slot(c.start, c.end)
            else:
                self.remove_item(c.start, c.end)

    # -- declarations by name --------------------------------------------------------------------

    def closure(self, decl) -> None:
        """Keep every declaration whose name the kept text uses, to a fixpoint."""
        data = self.data
        removed = _merge([(s, e) for s, e, _ in self.removals])
        # Text of the module minus removals minus every candidate's element ranges.
        holes = list(removed)
        for c in self.cands:
            for el in c.elems:
                holes.append((el.start, el.end))
            if c.kind == "whole":
                holes.append(c.ranges[0])
            if c.item is not None:  # a declaration's type names count only if it is kept
                holes.append(c.item)
        holes = _merge(holes)
        names: set[bytes] = set()
        for s, e in _complement(holes, self.mod_start, self.mod_end):
            names.update(_IDENT.findall(data, s, e))
        for name in self.subs[0]:  # submodules kept whole may use file-level declarations
            r = self.module_range(name)
            if r is not None:
                names.update(_IDENT.findall(data, r[0], r[1]))
        # Worklist over names: each newly used name keeps the candidates that declare it, whose
        # text brings more names (linear in the size of the text).
        done: set = set()
        declares: dict[bytes, list[tuple[int, int]]] = {}  # name -> (candidate, element or -1)
        queue: list[tuple[int, int]] = []
        for ci, c in enumerate(self.cands):
            if c.kind == "whole":
                for n in c.names:
                    declares.setdefault(n.encode(), []).append((ci, -1))
            else:
                for ei, el in enumerate(c.elems):
                    declares.setdefault(el.name.encode(), []).append((ci, ei))
                    if el.kept:
                        queue.append((ci, ei))
        pending = list(names)

        def keep(ci: int, ei: int) -> None:
            if (ci, ei) in done:
                return
            done.add((ci, ei))
            c = self.cands[ci]
            if ei < 0:
                s, e = c.ranges[0]
            else:
                el = c.elems[ei]
                el.kept = True
                s, e = el.start, el.end
                if c.item is not None and ("item", ci) not in done:  # the type part, once
                    done.add(("item", ci))
                    pending.extend(_prefix_names(data, c) - names)
            pending.extend(set(_IDENT.findall(data, s, e)) - names)

        for ci, ei in queue:
            keep(ci, ei)
        while pending:
            n = pending.pop()
            if n in names and (n, "seen") in done:
                continue
            names.add(n)
            done.add((n, "seen"))
            for ci, ei in declares.get(n, ()):
                keep(ci, ei)
        for ci, c in enumerate(self.cands):
            if c.kind == "whole":
                if c.file_level:
                    if (ci, -1) in done:
                        self.file_regions.append(c.ranges[0])
                elif (ci, -1) not in done:
                    s, e = c.ranges[0]
                    self.remove_item(s, e)
                continue
            elems = [_ListElem(el.start, el.end, bool(el.kept), _pfx(c, i))
                     for i, el in enumerate(c.elems)]
            if c.kind == "header":
                if not any(el.keep for el in elems):
                    # no port left: remove everything between the parentheses
                    self.removals.append((elems[0].start, elems[-1].end, b""))
                else:
                    self.remove_list_elements(elems)
            else:
                s, e = c.item
                self.list_item(s, e, elems)

    # -- output ----------------------------------------------------------------------------------

    def assemble(self, decl) -> Slice:
        data = self.data
        regions = [(self.mod_start, _eol(data, self.mod_end))]
        regions += [(s, _eol(data, e)) for s, e in getattr(self, "file_regions", [])]
        submodules, external = self.subs
        for name in submodules:
            r = self.module_range(name)
            if r is None:
                external.append(name)
            else:
                regions.append((r[0], _eol(data, r[1])))
        regions += _directive_lines(data, self.module_ranges())
        regions = _merge(regions)
        joined: list[tuple[int, int]] = []
        for r in regions:
            if joined and not data[joined[-1][1]:r[0]].strip():
                joined[-1] = (joined[-1][0], r[1])
            else:
                joined.append(r)
        regions = joined
        removals = sorted(self.removals)
        # merge overlapping removals; replacements only come from slots (never overlapping)
        merged: list[list] = []
        for s, e, rep in removals:
            if merged and s <= merged[-1][1] and not rep and not merged[-1][2]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e, rep])
        for m in merged:
            m[1] = _close_conditionals(data, m[0], m[1])
            _check_conditionals(data, m[0], m[1], self.src.name)
        # then the inactive `ifdef branches go, with the directives of their groups
        # the same for every slice of one graph: computed once (a walk over every token)
        facts = _file_facts(self.g)
        if facts.conditional_groups is None:
            facts.conditional_groups = _inactive_branches(self.tree, data)
        pre, groups = facts.conditional_groups
        rem = _merge_removals([tuple(m) for m in merged] + pre)
        for group in groups:  # inner groups first: a group left with no code goes whole
            if _group_empty(data, group, rem):
                rem = _merge_removals(rem + [(*_whole_lines(data, gs, ge), b"")
                                             for gs, ge, _ in group])
        merged = [list(x) for x in rem]
        spans: list[tuple[int, int]] = []
        out: list[bytes] = []
        for rs, re_ in regions:
            if out and out[-1] and not out[-1][-1:].isspace():
                out.append(b"\n")  # `endmodule /* x */ module top`: a line break between regions
            pos = rs
            for s, e, rep in merged:
                if e <= rs or s >= re_:
                    continue
                s2, e2 = max(s, rs), min(e, re_)
                if s2 > pos:
                    spans.append((pos, s2))
                    out.append(data[pos:s2])
                out.append(rep)
                pos = max(pos, e2)
            if pos < re_:
                spans.append((pos, re_))
                out.append(data[pos:re_])
        spans = _merge(spans)
        text = b"".join(out).decode("utf-8", "replace")
        if not text.endswith("\n"):
            text += "\n"
        char_spans = _char_spans(data, spans)
        outputs = self.g.outputs
        dropped = [o for o in outputs if o not in self.keep]
        order = {n: i for i, n in enumerate(self.g.graph.nodes)}
        sigs = list(self.requested) + sorted(
            (s for s in self.keep if s not in self.requested), key=lambda n: order.get(n, 0))
        if facts.file_lines is None:
            facts.file_lines = _nonblank_lines(data)
        size = {"bytes": sum(e - s for s, e in spans), "lines": _nonblank_lines(text.encode()),
                "file_bytes": len(data), "file_lines": facts.file_lines}
        return Slice(text, spans, char_spans, sigs, list(self.requested), dropped,
                     self.design.top, self.src.name, self.ports, submodules, external,
                     list(self.g.warnings), size)

    def module_ranges(self) -> list[tuple[int, int]]:
        out = []
        for m in _module_decls(self.tree.root):
            out.append(self.rng(m))
        return out

    def module_range(self, name: str) -> tuple[int, int] | None:
        for m in _module_decls(self.tree.root):
            if m.header.name.valueText == name:
                return self.rng(m)
        return None

    def submodules(self) -> tuple[list[str], list[str]]:
        """Modules the kept instances need, transitively (file order for the ones here)."""
        defined: dict[str, object] = {}
        for t in self.design.trees:
            for m in _module_decls(t.root):
                defined.setdefault(m.header.name.valueText, m)
        out: list[str] = []
        external: list[str] = []
        stack = sorted(self.kept_modules)
        while stack:
            name = stack.pop()
            if name in out or name in external or name == self.design.top:
                continue
            m = defined.get(name)
            if m is None:
                continue  # black box: not defined anywhere
            here = self.module_range(name) is not None
            (out if here else external).append(name)
            for inner in _instantiated(m):
                stack.append(inner)
        return out, external


class _ListElem(NamedTuple):
    """An element of a comma-separated list (declarators, instances, ports, assignments): a
    removed one keeps its bytes up to ``prefix_end`` when the next kept element inherits them
    (ANSI port headers)."""

    start: int
    end: int
    keep: bool
    prefix_end: int | None = None


@dataclass
class _Decl:
    """A name declared by a declarator or a port of the header, kept (``kept``, set by the
    closure) when the kept text uses it. ``prefix_end``: end of an ANSI port's own header
    (``input wire [3:0]``), which ``inherits`` ports after it share."""

    start: int
    end: int
    kept: bool
    prefix_end: int | None
    name: str
    inherits: bool


@dataclass
class _FileFacts:
    """What every slice of one graph computes the same way from the top's file (once)."""

    conditional_groups: tuple[list, list] | None = None
    file_lines: int | None = None


_FACTS: weakref.WeakKeyDictionary[SignalGraph, _FileFacts] = weakref.WeakKeyDictionary()


def _file_facts(graph: SignalGraph) -> _FileFacts:
    """The facts of ``graph``'s top file, kept as long as the graph lives."""
    facts = _FACTS.get(graph)
    if facts is None:
        facts = _FACTS[graph] = _FileFacts()
    return facts


class _Cand:
    """Declarations kept by name: ``whole`` items (typedef, function, ...), ``decl`` items
    (declarators kept one by one) and the ``header`` port list with ``ports="used"``.

    ``elems``: the names declared one by one (declarators, ports), each kept or not."""

    def __init__(self, kind: str, ranges, elems: list[_Decl], item=None, names=()) -> None:
        self.kind = kind
        self.ranges = ranges
        self.elems = elems
        self.item = item
        self.names = list(names)
        self.file_level = False

    @classmethod
    def whole(cls, slicer: _Slicer, it, names: list[str]) -> _Cand:
        return cls("whole", [slicer.rng(it)], [], names=names)


def _pfx(c: _Cand, i: int) -> int | None:
    """Keep the ANSI header of removed port ``i`` when the next kept port inherits it."""
    el = c.elems[i]
    if c.kind != "header" or el.prefix_end is None:
        return None
    for nxt in c.elems[i + 1:]:
        if not nxt.inherits:
            return None  # a later port states its own header
        if nxt.kept:
            return el.prefix_end
    return None


def _prefix_names(data: bytes, c: _Cand) -> set[bytes]:
    s, _ = c.item
    first = c.elems[0].start if c.elems else c.item[1]
    return set(_IDENT.findall(data, s, first))


def _back(data: bytes, start: int, floor: int) -> int:
    """Start of a removed element: back over whitespace and whole-line // comments above it."""
    p = start
    while True:
        q = p
        while q > floor and data[q - 1:q] in (b" ", b"\t", b"\n", b"\r"):
            q -= 1
        # a whole-line comment just above?
        line_start = data.rfind(b"\n", 0, q) + 1
        line = data[line_start:q]
        if q < p and line.lstrip().startswith(b"//") and line_start > floor \
                and data[q:p].count(b"\n") == 1:
            p = line_start
            continue
        return q


def _forward(data: bytes, end: int) -> int:
    """End of a removed element: over spaces and a // comment on the same line."""
    p = end
    while p < len(data) and data[p:p + 1] in (b" ", b"\t"):
        p += 1
    if data[p:p + 2] == b"//":
        nl = data.find(b"\n", p)
        return len(data) if nl < 0 else (nl - 1 if data[nl - 1:nl] == b"\r" else nl)
    return end


def _eol(data: bytes, end: int) -> int:
    """End of a kept region: over the rest of its line when that is only spaces and a ``//``
    comment (``endmodule // sub``), so the next region starts on a line of its own."""
    m = _REST_OF_LINE.match(data, end)
    return m.end() if m else end


_REST_OF_LINE = re.compile(rb"[ \t]*(?://[^\r\n]*)?(?:\r?\n|\Z)")


def _merge_removals(removals: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Sorted, non-overlapping removals; an inserted ``;`` inside a larger removal goes with it."""
    out: list[list] = []
    for s, e, rep in sorted(removals, key=lambda r: (r[0], -r[1])):
        if out and s < out[-1][1]:
            if e > out[-1][1]:
                if out[-1][2]:  # a slot `;` overlapped by a wider removal: the wider one wins
                    out[-1][2] = b""
                out[-1][1] = e
            continue
        if out and s == out[-1][1] and not rep and not out[-1][2]:
            out[-1][1] = e
            continue
        out.append([s, e, rep])
    return [tuple(x) for x in out]


_BRANCH = {SX.IfDefDirective, SX.IfNDefDirective, SX.ElsIfDirective, SX.ElseDirective,
           SX.EndIfDirective}


def _group_empty(data: bytes, group: list[tuple[int, int, bool]],
                 removals: list[tuple[int, int, bytes]]) -> bool:
    """Is every byte between the directives of ``group`` removed or blank?"""
    for (_, e, _), (s2, _, _) in zip(group, group[1:]):
        pos = e
        for rs, re_, rep in removals:
            if re_ <= pos or rs >= s2:
                continue
            if rs > pos and data[pos:rs].strip():
                return False
            if rep:
                return False
            pos = max(pos, re_)
            if pos >= s2:
                break
        if pos < s2 and data[pos:s2].strip():
            return False
    return True


def _inactive_branches(tree, data: bytes) -> tuple[list[tuple[int, int, bytes]], list]:
    """Removals that drop the inactive branches of `` `ifdef`` groups of the file.

    The defines in force when the design was loaded decide (``-D FORMAL`` makes `` `ifdef
    FORMAL`` active). A group with an inactive branch keeps only its active branch's text: its
    directive lines (`` `ifdef``, `` `elsif``, `` `else``, `` `endif``) go with the inactive text,
    which pyslang holds as the disabled tokens of the directive before it. Groups whose every
    branch is active-or-empty are left as written."""
    if not _CONDITIONAL.search(data):
        return [], []
    buf = tree.root.sourceRange.start.buffer
    events: list[tuple[int, int, object, bool]] = []

    def visit(node):
        if isinstance(node, parsing.Token):
            for tr in node.trivia:
                if tr.kind != parsing.TriviaKind.Directive:
                    continue
                d = tr.syntax()
                if d is None or d.kind not in _BRANCH:
                    continue
                r = d.sourceRange
                if r.start.buffer != buf:
                    continue
                disabled = bool(len(getattr(d, "disabledTokens", ()) or ()))
                events.append((r.start.offset, r.end.offset, d.kind, disabled))
        return True

    tree.root.visit(visit)
    events.sort(key=lambda x: x[0])
    out: list[tuple[int, int, bytes]] = []
    groups: list[list[tuple[int, int, bool]]] = []  # in closing order (inner first)
    stack: list[list[tuple[int, int, bool]]] = []
    for s, e, kind, disabled in events:
        if kind in (SX.IfDefDirective, SX.IfNDefDirective):
            stack.append([(s, e, disabled)])
        elif not stack:
            continue  # an `else/`endif of a group opened in another file
        else:
            stack[-1].append((s, e, disabled))
            if kind == SX.EndIfDirective:
                group = stack.pop()
                if any(d for _, _, d in group):
                    out += [(*_whole_lines(data, gs, ge), b"") for gs, ge, _ in group]
                else:
                    groups.append(group)
    return out, groups


def _whole_lines(data: bytes, start: int, end: int) -> tuple[int, int]:
    """``start``..``end`` widened to whole lines when only spaces (and a ``//`` comment after)
    share them."""
    ls = data.rfind(b"\n", 0, start) + 1
    if not data[ls:start].strip(b" \t"):
        start = ls
    m = _REST_OF_LINE.match(data, end)
    if m:
        end = m.end()
    return start, end


def _nonblank_lines(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip())


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _complement(holes: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    pos = lo
    for s, e in holes:
        if s > pos:
            out.append((pos, min(s, hi)))
        pos = max(pos, e)
    if pos < hi:
        out.append((pos, hi))
    return out


def _char_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if data.isascii():
        return list(spans)
    out = []
    pos_b, pos_c = 0, 0
    for s, e in spans:
        pos_c += len(data[pos_b:s].decode("utf-8", "replace"))
        cs = pos_c
        pos_c += len(data[s:e].decode("utf-8", "replace"))
        out.append((cs, pos_c))
        pos_b = e
    return out


_CONDITIONAL = re.compile(rb"`(ifdef|ifndef|elsif|else|endif)\b")


def _close_conditionals(data: bytes, start: int, end: int) -> int:
    """Extend a removal over the `endif lines that close `ifdef groups it opened."""
    depth = 0
    for m in _CONDITIONAL.finditer(data, start, end):
        w = m.group(1)
        depth += 1 if w in (b"ifdef", b"ifndef") else (-1 if w == b"endif" else 0)
    while depth > 0:
        m = re.compile(rb"[ \t\r\n]*`endif\b").match(data, end)
        if not m:
            break
        end = m.end()
        depth -= 1
    return end


def _check_conditionals(data: bytes, start: int, end: int, name: str) -> None:
    """A removed range must hold whole `ifdef ... `endif groups, or the slice would not parse."""
    depth = 0
    for m in _CONDITIONAL.finditer(data, start, end):
        word = m.group(1)
        if word in (b"ifdef", b"ifndef"):
            depth += 1
        elif word == b"endif":
            depth -= 1
        if depth < 0 or (word in (b"else", b"elsif") and depth == 0):
            break
    else:
        if depth == 0:
            return
    line = data.count(b"\n", 0, start) + 1
    raise VerisliceError(f"{name}:{line}: cannot slice here: the code to remove is only part of "
                         "an `ifdef/`else/`endif group (not supported)")


_DIRECTIVE = re.compile(rb"^[ \t]*`[A-Za-z_][^\n]*(?:\\\r?\n[^\n]*)*\n?", re.M)


def _directive_lines(data: bytes, modules: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for m in _DIRECTIVE.finditer(data):
        s, e = m.span()
        if not any(ms <= s < me for ms, me in modules):
            out.append((s, e))
    return out


def _module_decls(root) -> list:
    """Module declarations of one file (the root is the module itself when it is alone)."""
    if root.kind == SX.ModuleDeclaration:
        return [root]
    return [m for m in root.members if m.kind == SX.ModuleDeclaration]


def _instantiated(mod) -> set[str]:
    names: set[str] = set()

    def visit(node):
        if node.kind == SX.HierarchyInstantiation:
            names.add(node.type.valueText)
        return True

    mod.visit(visit)
    return names


def _enum_names(t) -> list[str]:
    out = []
    if t.kind == SX.EnumType:
        for m in t.members:
            if hasattr(m, "kind") and m.kind == SX.Declarator:
                out.append(m.name.valueText)
    return out


def _type_param_names(p) -> list[str]:
    out = []
    for d in getattr(p, "declarators", []):
        if hasattr(d, "kind") and d.kind != _COMMA and hasattr(d, "name"):
            out.append(d.name.valueText)
    return out

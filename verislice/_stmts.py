"""The statement tree of a design: what each piece of source reads and writes, with its span.

This is the contract between the walk over pyslang's elaborated AST (:mod:`verislice._walk`),
the signal graph built from it (:mod:`verislice._graph`) and the slicer that cuts the source
text (:mod:`verislice._cone`). Every record is immutable; spans are UTF-8 byte offsets into a
file, end exclusive.

* :class:`Signal`: a graph node (a net, variable or memory; signals inside instances are named
  ``inst.sig``), in the order the walk met them.
* :class:`Dependency`: one statement makes each of ``targets`` depend on ``data`` and ``control``.
* :class:`Unit`: one driver at the top level of the top module (or of a top-level generate block)
  that the slicer keeps or removes as a module item, with the :class:`StmtNode` tree of a
  procedural block that can be cut statement by statement.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DesignStatements", "Dependency", "Signal", "Statement", "StmtNode", "Unit"]


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


@dataclass(frozen=True)
class Signal:
    """A signal of the design: ``kind`` is ``input``/``output``/``inout`` (ports of the top),
    ``net``, ``variable`` or ``memory``; ``width`` is the bits of one element; ``line`` the
    declaration line; ``scope`` ``""`` for the top module, else the instance/generate path."""

    name: str
    kind: str
    width: int
    line: int
    scope: str


@dataclass(frozen=True)
class Dependency:
    """``statement`` makes every signal of ``targets`` depend on ``data`` (values stored into
    it) and ``control`` (signals deciding whether or when it is written; none of ``data``).

    The tuples are in the order the graph adds their edges (networkx keeps insertion order, and
    the JSON, DOT and tree listings follow it)."""

    targets: tuple[str, ...]
    data: tuple[str, ...]
    control: tuple[str, ...]
    statement: Statement


@dataclass(frozen=True)
class StmtNode:
    """A procedural statement of the top module, for statement-level slicing.

    ``role``: ``leaf`` (kept when it writes a signal of the cone), ``struct`` (kept when a child
    is, or when it writes one itself: a loop's own variables), ``keep`` (kept whenever its parent
    is: declarations, empty statements), ``timed`` (an event or delay control: kept with its
    parent, its body may empty out), ``wrapper`` (a statement pyslang adds around a
    ``for (int i ...)`` loop: same text as its child).
    ``slot``: the parent's syntax needs a statement here (if/case branch, loop or timed body), so
    removing it leaves a ``;``.
    """

    start: int
    end: int
    role: str
    targets: frozenset[str] = frozenset()
    children: tuple[StmtNode, ...] = ()
    slot: bool = False

    def needed(self, keep: set[str]) -> bool:
        """Does this statement (or one inside it) write a signal of ``keep``?"""
        if self.role == "leaf":
            return bool(self.targets & keep)
        if self.targets & keep:
            return True
        return any(c.needed(keep) for c in self.children)

    def same_shape(self, other: StmtNode) -> bool:
        """Same spans, roles and nesting (one statement elaborated twice, by a generate loop)."""
        return (self.start, self.end, self.role, len(self.children)) == \
            (other.start, other.end, other.role, len(other.children)) \
            and all(a.same_shape(b) for a, b in zip(self.children, other.children))


@dataclass(frozen=True)
class Unit:
    """One driver at the top level of the top module (or in a top-level generate block): a
    continuous assignment, a declarator with initializer, a procedural block, an instance, a
    gate. ``start``/``end`` is the byte range of its syntax anchor in the top's file (a generate
    loop gives one unit per iteration, all at the same range)."""

    kind: str
    start: int
    end: int
    targets: frozenset[str]
    tree: StmtNode | None = None  # procedural blocks that can be sliced statement by statement
    module: str | None = None  # instantiated module name (instances)
    # `always @*` blocks: every signal read, and the targets triggered by their own reads
    reads: frozenset[str] | None = None
    triggered: frozenset[str] = frozenset()

    def untriggered(self, keep: set[str]) -> bool:
        """Would this ``always @*`` block, cut down to the cone ``keep``, read nothing from
        outside itself (an empty sensitivity list: it would never run)?"""
        if self.reads is None or not (self.reads - self.targets):
            return False
        mine = self.targets & keep
        return bool(mine) and not (mine & self.triggered)


@dataclass(frozen=True)
class DesignStatements:
    """Everything the walk over one design found: its signals (graph nodes, in order), the
    dependencies between them (graph edges, in order), the top module's units (for the slicer)
    and warnings (black boxes)."""

    signals: tuple[Signal, ...]
    dependencies: tuple[Dependency, ...]
    units: tuple[Unit, ...]
    warnings: tuple[str, ...]

"""Front end: source files -> a pyslang compilation, its top module, ports and clear diagnostics.

Everything else in verislice (graph, cone, equiv) starts from a :class:`Design` made by :func:`load`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyslang
from pyslang import ast, syntax

from . import _params
from ._errors import (Diagnostic, DiagnosticError, InterfaceError, SeveralTopModulesError,
                      VerisliceError)

__all__ = ["Design", "Port", "Source", "load", "rename_modules", "module_names"]


@dataclass(frozen=True)
class Source:
    """Verilog text with the name used in messages (a path, or e.g. ``<candidate 3>``)."""

    text: str
    name: str = "<string>"

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Source:
        p = Path(path)
        try:
            return cls(p.read_text(encoding="utf-8", errors="replace"), str(path))
        except OSError as exc:
            raise VerisliceError(f"{path}: cannot read: {exc.strerror}") from None


@dataclass(frozen=True)
class Port:
    """A port of the top module. ``width`` is in bits (packed), ``signed`` as declared."""

    name: str
    direction: str  # "input" | "output" | "inout" | "ref"
    width: int
    signed: bool = False


@dataclass
class Design:
    """A parsed and elaborated design with its top module chosen."""

    sources: list[Source]
    trees: list[syntax.SyntaxTree]
    compilation: ast.Compilation
    top: str
    body: ast.InstanceBodySymbol
    ports: list[Port]
    modules: list[str]
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def inputs(self) -> list[Port]:
        return [p for p in self.ports if p.direction == "input"]

    @property
    def outputs(self) -> list[Port]:
        return [p for p in self.ports if p.direction == "output"]

    def source_of_top(self) -> tuple[int, Source]:
        """Index and source of the file that declares the top module."""
        loc = self.body.definition.location
        for i, tree in enumerate(self.trees):
            if tree.root.sourceRange.start.buffer == loc.buffer:
                return i, self.sources[i]
        return 0, self.sources[0]


# An instance of a module defined in none of the given files is a black box (its outputs depend
# on all its inputs), reported as a warning rather than an error.
_BLACK_BOX_CODES = {"DiagCode(UnknownModule)"}

_DIRECTIONS = {
    ast.ArgumentDirection.In: "input",
    ast.ArgumentDirection.Out: "output",
    ast.ArgumentDirection.InOut: "inout",
    ast.ArgumentDirection.Ref: "ref",
}


def _as_sources(items: Iterable[Source | str | os.PathLike[str]]) -> list[Source]:
    out = []
    for item in items:
        out.append(item if isinstance(item, Source) else Source.read(item))
    if not out:
        raise VerisliceError("no source files given")
    return out


def _diagnostic(
    sm: pyslang.SourceManager, engine: pyslang.DiagnosticEngine, d, names: Mapping[object, str]
) -> Diagnostic:
    loc = d.location
    try:
        loc = sm.getFullyOriginalLoc(loc)
        # The name the user gave for their file (pyslang would print a path relative to the cwd);
        # included files keep pyslang's name.
        name = names.get(loc.buffer) or sm.getFileName(loc) or "<unknown>"
        line, col = sm.getLineNumber(loc), sm.getColumnNumber(loc)
    except Exception:  # a location with no buffer (e.g. a missing top module)
        name, line, col = "<design>", 0, 0
    severity = "error" if d.isError() and str(d.code) not in _BLACK_BOX_CODES else "warning"
    return Diagnostic(name, line, col, severity, engine.formatMessage(d), str(d.code))


def load(
    sources: Sequence[Source | str | os.PathLike[str]],
    *,
    top: str | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str | None] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Design:
    """Parse and elaborate ``sources`` (paths or :class:`Source`) and choose the top module.

    The top is ``top`` when given; otherwise the one module that no other module instantiates.
    ``parameters`` overrides parameters of the top module (``{"W": "8"}``; a name the top does
    not have as a parameter is an error).
    Raises :class:`DiagnosticError` (``file:line:col: error: ...`` lines) when the design has errors
    and :class:`VerisliceError` when the top is missing or ambiguous.
    """
    srcs = _as_sources(sources)
    include_dirs = _with_source_dirs(include_dirs, sources)
    sm = pyslang.SourceManager()
    for d in include_dirs:
        sm.addUserDirectories(os.fspath(d))
    pp = pyslang.parsing.PreprocessorOptions()
    if defines:
        pp.predefines = [k if v is None else f"{k}={v}" for k, v in defines.items()]
    if include_dirs:
        pp.additionalIncludePaths = [os.fspath(d) for d in include_dirs]
    copts = ast.CompilationOptions()
    if top:
        copts.topModules = {top}
    if parameters:
        copts.paramOverrides = _params.as_overrides(parameters)
    bag = pyslang.Bag([pp, copts])
    try:
        trees = [syntax.SyntaxTree.fromText(s.text, sm, s.name, s.name, bag) for s in srcs]
        comp = ast.Compilation(bag)
        for t in trees:
            comp.addSyntaxTree(t)
        modules = module_names_of_trees(trees)
        names = {t.root.sourceRange.start.buffer: s.name for t, s in zip(trees, srcs)}
        engine = pyslang.DiagnosticEngine(sm)
        design = _elaborate(srcs, trees, comp, modules, top, sm, engine, names)
        _params.check_top(design, parameters)
        return design
    except RuntimeError as exc:  # pyslang's own limits (e.g. nesting depth) surface as RuntimeError
        reason = str(exc) or "the parser gave up (nesting too deep or design too large)"
        raise VerisliceError(f"{srcs[0].name}: cannot parse: {reason}") from None


def _with_source_dirs(
    include_dirs: Sequence[str | os.PathLike[str]], sources: Sequence[object]
) -> list[str]:
    """``include_dirs``, then each source file's own directory: `` `include "x.vh"`` next to a
    file is found the way compilers find it."""
    dirs = [os.fspath(d) for d in include_dirs]
    for item in sources:
        if not isinstance(item, Source):
            parent = os.path.dirname(os.path.abspath(os.fspath(item)))
            if parent not in dirs:
                dirs.append(parent)
    return dirs


def _elaborate(srcs, trees, comp, modules, top, sm, engine, names) -> Design:
    """Check diagnostics, choose the top instance and read its ports."""
    if top and top not in modules:
        known = ", ".join(modules) or "none"
        raise InterfaceError(f"top module '{top}' is not defined (modules: {known})")
    root = comp.getRoot()
    diags = [_diagnostic(sm, engine, d, names) for d in comp.getAllDiagnostics()]
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise DiagnosticError(errors)
    tops = [inst for inst in root.topInstances]
    if not tops:
        if not modules:
            raise VerisliceError("no module found")
        raise InterfaceError(f"no top module: every module is instantiated ({', '.join(modules)})")
    if len(tops) > 1:
        found = tuple(sorted(t.name for t in tops))
        raise SeveralTopModulesError(f"several top modules ({', '.join(found)}): choose one with --top",
                                     found)
    inst = tops[0]
    body = inst.body
    ports = [_port(p) for p in body.portList]
    return Design(srcs, trees, comp, inst.name, body, ports, modules,
                  [d for d in diags if d.severity != "error"])


def _port(p) -> Port:
    if p.kind != ast.SymbolKind.Port:
        raise InterfaceError(f"port '{p.name}': interface and multi-ports are not supported")
    t = p.type
    return Port(p.name, _DIRECTIONS.get(p.direction, "inout"), int(t.bitWidth), bool(t.isSigned))


def module_names_of_trees(trees: Iterable[syntax.SyntaxTree]) -> list[str]:
    names: list[str] = []
    for t in trees:
        for node in _module_decls(t.root):
            names.append(node.header.name.valueText)
    return names


def module_names(text: str) -> list[str]:
    """Names of the modules declared in ``text`` (syntax only, no elaboration)."""
    return module_names_of_trees([syntax.SyntaxTree.fromText(text)])


def _module_decls(root) -> list:
    found = []

    def visit(node):
        if node.kind == syntax.SyntaxKind.ModuleDeclaration:
            found.append(node)
        return True

    root.visit(visit)
    return found


def rename_modules(text: str, prefix: str, names: Iterable[str] | None = None) -> str:
    """Prefix every module declared in ``text`` (and every instance of one) with ``prefix``.

    Works on the syntax tree: only module-name tokens in declarations and instantiation types are
    touched, never a substring of another identifier (``alu`` never turns ``value`` into
    ``valu_x``). ``names`` limits the renaming to those modules.
    """
    tree = syntax.SyntaxTree.fromText(text)
    declared = set(names) if names is not None else set(module_names_of_trees([tree]))
    edits: list[tuple[int, int, str]] = []  # byte offsets

    def visit(node):
        kind = node.kind
        tok = None
        if kind == syntax.SyntaxKind.ModuleDeclaration:
            tok = node.header.name
        elif kind == syntax.SyntaxKind.HierarchyInstantiation:
            tok = node.type
        if tok is not None and tok.valueText in declared:
            start = tok.location.offset
            raw = tok.rawText
            edits.append((start, start + len(raw.encode()), prefix + tok.valueText))
        return True

    tree.root.visit(visit)
    return apply_edits(text, edits)


def apply_edits(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, new)`` edit applied; offsets are UTF-8 byte offsets
    (pyslang's source offsets) into ``text``, and edits must not overlap."""
    data = text.encode()
    for start, end, new in sorted(edits, reverse=True):
        data = data[:start] + new.encode() + data[end:]
    return data.decode()

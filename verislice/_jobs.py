"""The jobs the sandboxed front-end worker runs (see :mod:`verislice._worker`).

Each takes plain, picklable arguments (texts, names, options) and returns plain data or
verislice dataclasses; each turns every problem with its input into a result, never an
exception. The parent trusts none of what comes back beyond its type: identities (which
candidate, which group) are kept by the parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._canonical import Rejected, canonicalize, rename_globals, screen, unknown_modules
from ._errors import DiagnosticError, InterfaceError, SeveralTopModulesError, VerisliceError
from ._frontend import Design, Port, Source, load, module_names

__all__ = ["JOBS", "RefInterface", "RefUnit", "Screened", "CandUnit"]


@dataclass(frozen=True)
class Screened:
    """A design after the front end: ``verdict`` ``OK``, ``REJECTED``, ``COMPILE_ERROR`` or
    ``TIMEOUT``; ``text`` the canonical text every tool must compile ("" unless OK)."""

    verdict: str
    message: str = ""
    text: str = ""
    top: str | None = None
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True)
class RefInterface:
    """What a candidate's front end needs to know of its reference (never its text)."""

    top: str
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class RefUnit:
    """A reference after the front end, ready for the testbench."""

    top: str
    text: str  # canonical, renamed with the group's prefix
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]
    timing: Any  # equiv._detect.Timing
    constants: frozenset[int] = frozenset()
    error: str = ""
    key: str = ""  # the canonical text before renaming: seeds the stimulus, whatever the group


@dataclass(frozen=True)
class CandUnit:
    """A candidate after the front end: a verdict already known (``verdict`` set), or the
    renamed canonical text to simulate with its outputs."""

    verdict: str = ""
    message: str = ""
    top: str = ""
    text: str = ""
    outputs: dict[str, int] = field(default_factory=dict)
    notes: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    constants: frozenset[int] = frozenset()


_SURROGATE = __import__("re").compile("[\ud800-\udfff]")


def _safe(sources: Sequence[Source]) -> list[Source]:
    """Texts pyslang can take: a lone surrogate (which a model can emit through a JSON escape)
    becomes ``?``, one character for one, so character offsets into the original stay true."""
    return [Source(_SURROGATE.sub("?", s.text), _SURROGATE.sub("?", s.name)) for s in sources]


def _canonical_design(sources: Sequence[Source], top: str | None, include_dirs: Sequence[str],
                      defines: Any, untrusted: bool) -> tuple[list[Source], Design]:
    canon = canonicalize(sources, include_dirs=include_dirs, defines=defines,
                         untrusted=untrusted)
    return canon, load(canon, top=top)


def _with_parameters(canon: list[Source], design: Design, options: Any
                     ) -> tuple[list[Source], Design]:
    """The texts with the ``-P`` overrides written in as the top's parameter defaults (so every
    tool compiles the same parameterisation), loaded again; unchanged without overrides."""
    from ._params import rewrite

    params = getattr(options, "parameters", None)
    if not params:
        return canon, design
    canon = rewrite(canon, design, params)
    return canon, load(canon, top=design.top)


def _keep_named(design: Design, used: set[str], units) -> None:
    """Add to ``used`` every module instantiated in the text of a used one, transitively."""
    from pyslang import syntax

    decls = {}
    for tree in design.trees:
        root = tree.root
        for m in (root.members if root.kind == syntax.SyntaxKind.CompilationUnit else [root]):
            if m.kind in units:
                decls[m.header.name.valueText] = m
    todo = list(used)
    while todo:
        decl = decls.get(todo.pop())
        if decl is None:
            continue
        named: set[str] = set()

        def visit(node):
            if node.kind == syntax.SyntaxKind.HierarchyInstantiation:
                named.add(node.type.valueText)
            return True

        decl.visit(visit)
        for n in named - used:
            used.add(n)
            todo.append(n)


def _prune_unused(canon: list[Source], design: Design) -> tuple[list[Source], Design]:
    """Drop the modules (interfaces, programs) that the top's instance tree never uses, such as
    a testbench shipped with an answer: they are never simulated, so they are neither screened
    nor compiled. Removed text becomes blank lines, so line numbers stay true."""
    from pyslang import ast, syntax

    used = {design.top}

    def visit(node):
        if isinstance(node, ast.Symbol) and node.kind == ast.SymbolKind.Instance:
            used.add(node.body.definition.name)
        return True

    design.body.visit(visit)
    units = (syntax.SyntaxKind.ModuleDeclaration, syntax.SyntaxKind.InterfaceDeclaration,
             syntax.SyntaxKind.ProgramDeclaration)
    # a kept module may name another in a generate branch its parameters turn off (`if (FPU)
    # cv32e40p_apu_disp ...`): never elaborated, still in the text every tool reads, so it stays
    _keep_named(design, used, units)
    out, changed = [], False
    for src, tree in zip(canon, design.trees):
        root = tree.root
        members = root.members if root.kind == syntax.SyntaxKind.CompilationUnit else [root]
        data = src.text.encode()
        cuts = [(m.sourceRange.start.offset, m.sourceRange.end.offset) for m in members
                if m.kind in units and m.header.name.valueText not in used]
        for a, b in sorted(cuts, reverse=True):
            data = data[:a] + b"\n" * data[a:b].count(b"\n") + data[b:]
        changed = changed or bool(cuts)
        out.append(Source(data.decode(), src.name))
    if not changed:
        return canon, design
    return out, load(out, top=design.top)


_UNRESOLVED = {"DiagCode(UndeclaredIdentifier)", "DiagCode(CouldNotResolveHierarchicalPath)",
               "DiagCode(UnknownClassOrPackage)"}


def _escape_attempt(exc: DiagnosticError, canon: Sequence[Source]) -> str | None:
    """A REJECTED message when a compile error is a dotted name that leads out of the design
    (``verislice_tb.r0_y``, ``$root.tb.x``): reaching into the testbench is an attack, not a
    typo, and gets the verdict that says so."""
    import re

    texts = {s.name: s.text.splitlines() for s in canon}
    for d in exc.diagnostics:
        if d.code not in _UNRESOLVED or d.file not in texts or d.line < 1:
            continue
        lines = texts[d.file]
        if d.line > len(lines):
            continue
        rest = lines[d.line - 1][max(d.column - 1, 0):]
        m = re.match(r"\.?\s*(\$root|\\\S+|[A-Za-z_][\w$]*)\s*(\[[^\]]*\]\s*)*\.", rest)
        if m or "$root" in lines[d.line - 1]:
            return (f"hierarchical reference out of the design's own module tree "
                    f"({d.file}:{d.line}:{d.column}: {rest.strip()[:60]})")
    return None


def _first_line(msg: str) -> str:
    return msg.splitlines()[0] if msg else ""


# -- screening (eval, prepare) -----------------------------------------------------------------

def screen_design(sources: Sequence[Source], top: str | None, include_dirs: Sequence[str],
                  allow_file_io: bool, max_memory_bits: int | None,
                  defines: Any = None) -> Screened:
    """Canonical text, parse, elaborate and screen one untrusted design."""
    sources = _safe(sources)
    canon: list[Source] = list(sources)
    try:
        canon = canonicalize(sources, include_dirs=include_dirs, defines=defines, untrusted=True)
        canon, design = _prune_unused(canon, load(canon, top=top))
        why = screen(design, allow_file_io=allow_file_io, max_memory_bits=max_memory_bits)
    except Rejected as exc:
        return Screened("REJECTED", exc.message)
    except DiagnosticError as exc:
        why = _escape_attempt(exc, canon)
        return Screened("REJECTED", why) if why else Screened("COMPILE_ERROR", exc.message)
    except VerisliceError as exc:
        return Screened("COMPILE_ERROR", exc.message)
    except RuntimeError as exc:  # pyslang's own limits
        return Screened("COMPILE_ERROR", f"cannot parse: {exc}")
    unknown = unknown_modules(design)
    if unknown:
        return Screened("COMPILE_ERROR", unknown, top=design.top)
    if why:
        return Screened("REJECTED", why, top=design.top)
    return Screened("OK", "", "\n".join(s.text for s in canon), design.top, tuple(design.ports))


# -- equivalence -------------------------------------------------------------------------------

def equiv_reference(sources: Sequence[Source], options: Any, prefix: str) -> RefUnit:
    """The reference of one group: canonical text, renamed; ports, clock/reset, constants."""
    sources = _safe(sources)
    from .equiv._detect import constants_of, detect_timing

    try:
        canon, d = _canonical_design(sources, options.top_ref, options.include_dirs,
                                     options.defines, False)
        canon, d = _with_parameters(canon, d, options)
        timing = detect_timing(d, options)
    except VerisliceError as exc:
        return RefUnit("", "", (), (), None, error=exc.message)
    except RuntimeError as exc:
        return RefUnit("", "", (), (), None, error=f"cannot parse: {exc}")
    odd = _non_vector_ports(d)
    if odd:
        return RefUnit("", "", (), (), None,
                       error=f"only bit-vector ports are supported ({odd})")
    outputs = tuple((p.name, p.width) for p in d.ports if p.direction == "output")
    if not outputs:
        return RefUnit("", "", (), (), None, error=f"module {d.top} has no outputs to compare")
    inputs = tuple((p.name, p.width) for p in d.ports if p.direction == "input")
    plain = "\n".join(s.text for s in canon)
    text = rename_globals(plain, prefix, keep={p.name for p in d.ports})
    return RefUnit(d.top, text, inputs, outputs, timing, frozenset(constants_of(d)), key=plain)


def _non_vector_ports(d: Design, only: set[str] | None = None) -> str:
    """Ports (of ``only``) that are not packed bit vectors (unpacked arrays, real, ...)."""
    odd = []
    for p in d.body.portList:
        if only is not None and p.name not in only:
            continue
        t = getattr(p, "type", None)
        if t is not None and not (t.isIntegral and t.bitWidth > 0):
            odd.append(f"'{p.name}' is {t}")
    return ", ".join(odd)


def _load_candidate(canon: list[Source], ref: RefInterface, top_gen: str | None) -> Design:
    """The candidate's design. Without ``top_gen``: the module no other instantiates, unless
    its ports are not the reference's; then the module that has the reference's port names
    (preferring the reference's module name): an answer may ship a testbench or helpers."""
    if top_gen is not None:
        return load(canon, top=top_gen)
    want = {n for n, _w in ref.inputs + ref.outputs}
    first: Design | None = None
    error: SeveralTopModulesError | None = None
    try:
        first = load(canon)
        if {p.name for p in first.ports} == want:
            return first
    except SeveralTopModulesError as exc:  # any other failure is the candidate's verdict
        error = exc
    names = [n for s in canon for n in module_names(s.text)]
    names = sorted(set(names), key=lambda n: (n != ref.top, names.index(n)))
    matches = []
    for name in names:
        if first is not None and name == first.top:
            continue
        try:
            d = load(canon, top=name)
        except VerisliceError:
            continue
        if {p.name for p in d.ports} == want:
            matches.append(d)
    if matches and (len(matches) == 1 or matches[0].top == ref.top):
        return matches[0]
    if len(matches) > 1:
        found = tuple(m.top for m in matches)
        raise SeveralTopModulesError(f"several top modules with the reference's ports "
                                     f"({', '.join(found)}): choose one with --top-gen", found)
    if first is not None:
        return first  # its ports differ: an INTERFACE verdict says how
    assert error is not None
    raise error


def equiv_candidate(sources: Sequence[Source], ref: RefInterface, options: Any,
                    prefix: str) -> CandUnit:
    """One candidate: canonical text, screen, interface against the reference, renamed text."""
    sources = _safe(sources)
    from .equiv._detect import constants_of
    from .equiv._results import COMPILE_ERROR, INTERFACE, MISSING, REJECTED, WIDTH

    canon: list[Source] = list(sources)
    try:
        canon = canonicalize(sources, include_dirs=options.include_dirs,
                             defines=options.defines, untrusted=True)
        d = _load_candidate(canon, ref, options.top_gen)
        canon, d = _with_parameters(canon, d, options)
        canon, d = _prune_unused(canon, d)
    except Rejected as exc:
        return CandUnit(REJECTED, exc.message)
    except DiagnosticError as exc:
        why = _escape_attempt(exc, canon)
        return CandUnit(REJECTED, why) if why else CandUnit(COMPILE_ERROR, exc.message)
    except InterfaceError as exc:
        return CandUnit(INTERFACE, exc.message)
    except VerisliceError as exc:
        return CandUnit(COMPILE_ERROR, exc.message)
    except RuntimeError as exc:
        return CandUnit(COMPILE_ERROR, f"cannot parse: {exc}")
    unknown = unknown_modules(d)
    if unknown:
        return CandUnit(COMPILE_ERROR, unknown, d.top)
    # equiv's testbench instantiates the top as elaborated here: a $finish no instance can
    # reach (a parameter check) never runs (one that does ends the run: REJECTED there)
    why = screen(d, allow_file_io=options.allow_file_io, max_memory_bits=options.max_memory_bits,
                 dead_stops=True)
    if why:
        return CandUnit(REJECTED, why, d.top)
    ports = {p.name: p for p in d.ports}
    problems = []
    odd = _non_vector_ports(d, {n for n, _w in ref.inputs + ref.outputs})
    if odd:
        problems.append(f"only bit-vector ports are supported ({odd})")
    ref_in, ref_out = dict(ref.inputs), dict(ref.outputs)
    for n, w in ref.inputs:
        p = ports.get(n)
        if p is None:
            problems.append(f"input '{n}' is missing")
        elif p.direction != "input":
            problems.append(f"'{n}' is an {p.direction}, the reference has an input")
        elif p.width != w:
            problems.append(f"input '{n}' is {p.width} bits, the reference's is {w}")
    for p in d.ports:
        if p.name in ref_in or p.name in ref_out:
            if p.name in ref_out and p.direction != "output":
                problems.append(f"'{p.name}' is an {p.direction}, the reference has an output")
            continue
        if p.direction != "output":
            problems.append(f"{p.direction} '{p.name}' is not in the reference")
    if problems:
        return CandUnit(INTERFACE, "; ".join(problems), d.top)
    outputs: dict[str, int] = {}
    notes: dict[str, tuple[str, int | None]] = {}
    for n, w in ref.outputs:
        p = ports.get(n)
        if p is None:
            notes[n] = (MISSING, None)
        elif p.width != w:
            notes[n] = (WIDTH, p.width)
        else:
            outputs[n] = w
    text = rename_globals("\n".join(s.text for s in canon), prefix, keep=set(ports))
    return CandUnit("", "", d.top, text, outputs, notes, frozenset(constants_of(d)))


# -- slicing (label) ---------------------------------------------------------------------------

def output_cones(code: str, name: str, top: str | None) -> tuple[dict[str, list[list[int]]], str]:
    """Character spans of the cone of every output of ``code``'s top module, and ``""`` or why
    (some) cones could not be made."""
    from ._cone import cone

    [src] = _safe([Source(code, name)])
    code, name = src.text, src.name
    try:
        design = load([Source(code, name)], top=top)
    except VerisliceError as exc:
        return {}, _first_line(exc.message) or "does not parse"
    except Exception as exc:  # pyslang on very odd input
        return {}, f"{type(exc).__name__}: {exc}"
    cones: dict[str, list[list[int]]] = {}
    errors = []
    for port in design.outputs:
        try:
            sl = cone(design, [port.name])
        except VerisliceError as exc:
            errors.append(f"{port.name}: {exc.message}")
            continue
        except Exception as exc:
            errors.append(f"{port.name}: {type(exc).__name__}: {exc}")
            continue
        cones[port.name] = [[s, e] for s, e in sl.char_spans]
    return cones, "; ".join(errors)


def describe_design(code: str, name: str, top: str | None) -> tuple[str, str, str, tuple[Port, ...]]:
    """``("", "", top, ports)`` for a design that parses and elaborates, else ``(reason,
    message, "", ())`` with reason ``parse-error`` or ``top``. A ``top`` that ``code`` does not
    declare is ignored (the module no other instantiates is taken)."""
    [src] = _safe([Source(code, name)])
    if top and top not in module_list(src.text):
        top = None
    try:
        d = load([src], top=top)
    except DiagnosticError as exc:
        return "parse-error", str(exc.diagnostics[0]), "", ()
    except VerisliceError as exc:
        return "top", exc.message, "", ()
    except RuntimeError as exc:
        return "parse-error", f"cannot parse: {exc}", "", ()
    return "", "", d.top, tuple(d.ports)


def module_list(code: str) -> list[str]:
    """Names of the modules ``code`` declares (syntax only)."""
    try:
        return module_names(code)
    except Exception:
        return []


JOBS = {
    "screen_design": screen_design,
    "equiv_reference": equiv_reference,
    "equiv_candidate": equiv_candidate,
    "output_cones": output_cones,
    "module_list": module_list,
    "describe_design": describe_design,
}

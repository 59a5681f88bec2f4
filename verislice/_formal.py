"""Per-output equivalence proofs with Yosys (pyosys): the formal cross-check of random simulation.

::

    from verislice._formal import check_formal
    [r] = check_formal("ref.v", ["gen.v"])              # combinational: PROVEN or MISMATCH
    r.outputs["y"].verdict, r.outputs["y"].first_failure  # counterexample when it differs
    check_formal("ref.v", ["gen.v"], depth=20)           # sequential: BOUNDED within 20 cycles

Each design's modules get their own prefix (syntax-level renaming), a wrapper with the reference's
ports is put around each top, and Yosys builds one miter per candidate
(``miter -equiv -flatten -make_outputs -make_outcmp -ignore_gold_x``) whose ``cmp_<output>``
signals are proven one by one with ``sat -prove``. Results are the same records as
:mod:`verislice.equiv` (``method="formal"``): per output PROVEN (combinational, all inputs),
BOUNDED (sequential, no difference within ``depth`` cycles from reset), MISMATCH with a
:class:`Counterexample` (inputs per cycle, expected, actual), MISSING, WIDTH or UNKNOWN (solver
time limit, construct Yosys cannot read or model: the message says which).

The X rule is the simulator's: where the reference output is X the bit is don't-care; a
candidate X/Z bit where the reference is 0/1 is a difference. Inputs are always 0/1. Registers
start as X (``init="undef"``, as in Icarus) unless they have an initial value; the reset inputs
are asserted in the first cycle (``reset_cycles``) and free afterwards, so the solver also tries
resets at any later cycle. Yosys ends its process on an error, so proofs run in sandboxed worker
processes (:mod:`verislice._formal_worker`); a crash or time-out costs only the step that was
running, which gets UNKNOWN with Yosys's message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from pyslang import parsing

from ._errors import DiagnosticError, VerisliceError
from ._canonical import canonicalize
from ._frontend import Design, Port, Source, load, rename_modules
from ._sandbox import run_limited, sandbox_dir
from .equiv._results import (
    AMBIGUOUS,
    BOUNDED,
    COMPILE_ERROR,
    INTERFACE,
    MISMATCH,
    MISSING,
    OK,
    PROVEN,
    REFERENCE_ERROR,
    UNKNOWN,
    WIDTH,
    CandidateResult,
    FirstFailure,
    OutputResult,
)

__all__ = ["Counterexample", "FormalOptions", "check_formal", "check_formal_batch"]

DesignInput = Union[str, os.PathLike, Source, Sequence[Union[str, os.PathLike, Source]], Design]

_WORKER = Path(__file__).with_name("_formal_worker.py")
_SETUP_SECONDS = 20.0  # wall-clock allowance per candidate for reading + miter building
_REF_PREFIX = "vsr_"
_X_LITERAL_NOTE = ("no difference found, but the candidate writes X/Z constants, which the "
                   "prover may resolve to any value (simulation keeps X): not proven")
_CHUNK = 64  # most candidates per worker process
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
_ERROR_LINE = re.compile(r"ERROR:.*")
_NO_SAT_MODEL = re.compile(r"No SAT model available for cell (\S+) \((\$\w+)\)")


@dataclass(frozen=True)
class FormalOptions:
    """Options of a formal check (also the ``--formal`` options of ``verislice equiv``).

    ``depth``: cycles checked from reset for sequential designs. ``timeout``: solver limit per
    output proof, in seconds (a proof that reaches it gets UNKNOWN). ``reset``: the reset input
    asserted in the first ``reset_cycles`` cycles (default: detected in the reference exactly as
    the simulation check detects it; ``""`` for none), ``reset_active_low`` its polarity
    (default: detected). ``init``: the start state of registers without an initial value,
    ``"undef"`` (X, as in simulation) or ``"zero"``.
    """

    depth: int = 20
    timeout: float = 10.0
    top_ref: str | None = None
    top_gen: str | None = None
    reset: str | None = None
    reset_active_low: bool | None = None
    reset_cycles: int = 1
    init: str = "undef"
    include_dirs: Sequence[str | os.PathLike[str]] = ()
    defines: Mapping[str, str | None] | None = None
    jobs: int = 1
    memory_mb: int = 4096

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise VerisliceError(f"--depth must be at least 1 (got {self.depth})")
        if self.timeout <= 0:
            raise VerisliceError(f"the proof time limit must be positive (got {self.timeout})")
        if self.init not in ("undef", "zero"):
            raise VerisliceError(f"init must be 'undef' or 'zero' (got {self.init!r})")
        if self.reset_cycles < 1:
            raise VerisliceError(f"reset_cycles must be at least 1 (got {self.reset_cycles})")
        if self.jobs < 1:
            raise VerisliceError(f"--jobs must be at least 1 (got {self.jobs})")


@dataclass(frozen=True)
class Counterexample(FirstFailure):
    """A :class:`~verislice.equiv.FirstFailure` found by the prover, with the whole input trace.

    ``trace[i]`` maps every reference input (clock excluded) to its binary value in cycle ``i``;
    ``cycle`` is the first cycle (from 0) where the output differs, ``inputs == trace[cycle]``.
    ``clock``/``clock_edge`` say how to replay it (``None`` for combinational designs): apply
    ``trace[i]``, let it settle, compare, then give one active clock edge. ``reset`` lists the
    reset inputs the proof asserted in the first cycles (already part of ``trace``).
    """

    trace: tuple[Mapping[str, str], ...] = ()
    clock: str | None = None
    clock_edge: str = "posedge"
    reset: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = super().to_json()
        d["trace"] = [dict(step) for step in self.trace]
        d["clock"] = self.clock
        d["clock_edge"] = self.clock_edge
        d["reset"] = {name: value for name, value in self.reset}
        return d


def _pyosys_available() -> bool:
    return importlib.util.find_spec("pyosys") is not None


def check_formal(
    ref: DesignInput,
    candidates: Sequence[DesignInput],
    *,
    depth: int = 20,
    timeout: float = 10.0,
    top_ref: str | None = None,
    top_gen: str | None = None,
    reset: str | None = None,
    reset_active_low: bool | None = None,
    reset_cycles: int = 1,
    init: str = "undef",
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str | None] | None = None,
    outputs: Sequence[Collection[str] | None] | None = None,
    jobs: int = 1,
    options: FormalOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[CandidateResult]:
    """Prove or refute each output of each candidate against ``ref``; results in input order.

    ``ref``/``candidates``: paths, :class:`~verislice.Source` texts or loaded
    :class:`~verislice.Design` objects. ``outputs``: one entry per candidate, the outputs to
    prove (``None``: all; e.g. the outputs simulation called MATCH); outputs not asked for are
    absent from that candidate's result. Raises :class:`~verislice.VerisliceError` when the
    reference does not load or pyosys is missing; every candidate problem is a verdict.
    """
    opts = options or FormalOptions(
        depth=depth, timeout=timeout, top_ref=top_ref, top_gen=top_gen, reset=reset,
        reset_active_low=reset_active_low, reset_cycles=reset_cycles, init=init,
        include_dirs=tuple(include_dirs), defines=defines, jobs=jobs)
    [results] = _check_groups([(ref, list(candidates), outputs)], opts, progress, strict=True)
    return results


def check_formal_batch(
    groups: Sequence[tuple[DesignInput, Sequence[DesignInput]]],
    *,
    options: FormalOptions | None = None,
    outputs: Sequence[Sequence[Collection[str] | None] | None] | None = None,
    progress: Callable[[int], None] | None = None,
    **kwargs: Any,
) -> list[list[CandidateResult]]:
    """Many (reference, candidates) groups, ``options.jobs`` workers at a time; input order kept.

    A reference that does not load gives every candidate of its group REFERENCE_ERROR instead of
    an exception. ``kwargs`` are :class:`FormalOptions` fields when ``options`` is not given.
    """
    opts = options or FormalOptions(**kwargs)
    outs = list(outputs) if outputs is not None else [None] * len(groups)
    if len(outs) != len(groups):
        raise VerisliceError("outputs: one entry per group expected")
    return _check_groups([(r, list(c), o) for (r, c), o in zip(groups, outs)], opts, progress,
                         strict=False)


# -- preparation -------------------------------------------------------------------------------


@dataclass
class _Cand:
    index: int
    name: str
    top: str = ""
    result: CandidateResult | None = None  # decided before any proof
    files: list[tuple[str, str]] = field(default_factory=list)
    wrapper: str = ""
    outputs: list[str] = field(default_factory=list)
    fixed: dict[str, OutputResult] = field(default_factory=dict)  # MISSING / WIDTH
    include_dirs: list[str] = field(default_factory=list)
    design: Design | None = None
    x_literals: list[int | None] = field(default_factory=list)  # see _x_literals


@dataclass
class _Group:
    ref: Design | None
    ref_error: str = ""
    reset: list[dict[str, Any]] | None = None
    gold_files: list[tuple[str, str]] = field(default_factory=list)
    gold_wrapper: str = ""
    include_dirs: list[str] = field(default_factory=list)
    cands: list[_Cand] = field(default_factory=list)


def _items(item: DesignInput) -> list[str | os.PathLike[str] | Source]:
    """The source files of a design given as one file/text or a list of them."""
    if isinstance(item, (str, os.PathLike, Source)):
        return [item]
    return list(item)


def _label(item: DesignInput) -> str:
    if isinstance(item, Design):
        return item.sources[0].name if item.sources else item.top
    return ", ".join(s.name if isinstance(s, Source) else os.fspath(s) for s in _items(item))


def _include_dirs(design: Design, opts: FormalOptions) -> list[str]:
    """The user's include directories, then the directory of each source file that is a file
    (where a compiler looks for `include "x.vh"` first)."""
    dirs = [os.path.abspath(os.fspath(d)) for d in opts.include_dirs]
    for s in design.sources:
        if os.path.isfile(s.name):
            parent = os.path.dirname(os.path.abspath(s.name))
            if parent not in dirs:
                dirs.append(parent)
    return dirs


def _load(item: DesignInput, top: str | None, opts: FormalOptions,
          fallback_top: str | None = None) -> Design:
    """Load like the simulation check: a candidate with several top modules falls back to the
    one named like the reference's top."""
    if isinstance(item, Design):
        return item
    items = _items(item)
    dirs = list(opts.include_dirs)  # load() adds each file's own directory
    try:
        return load(items, top=top, include_dirs=dirs, defines=opts.defines)
    except VerisliceError as exc:
        if top is None and fallback_top and "several top modules" in exc.message:
            try:
                return load(items, top=fallback_top, include_dirs=dirs, defines=opts.defines)
            except VerisliceError:
                pass
        raise


def _x_literals(design: Design) -> list[int | None]:
    """Where the design writes X/Z constants (``1'bx``, ``4'b10x1``, ``'z``): byte offsets in the
    top module's file, ``None`` for one in another file.

    Yosys treats such a constant as "any value" and its front end resolves some of them (e.g. an
    ``out = 1'bx`` case branch next to a latch) to a defined value, where Icarus keeps X. A
    candidate's X where the reference is defined is a difference, so a passing proof of an
    output whose cone holds one is not trusted (see :func:`_x_in_cone`)."""
    top_index, _ = design.source_of_top()
    found: list[int | None] = []
    for i, tree in enumerate(design.trees):
        prev_base = False

        def visit(node):
            nonlocal prev_base
            if isinstance(node, parsing.Token):
                kind = node.kind
                text = node.rawText.lower()
                if (kind == parsing.TokenKind.UnbasedUnsizedLiteral and text[-1:] in ("x", "z")
                        or kind == parsing.TokenKind.IntegerLiteral and prev_base
                        and any(ch in text for ch in "xz?")):
                    found.append(node.location.offset if i == top_index else None)
                prev_base = kind == parsing.TokenKind.IntegerBase
            return True

        tree.root.visit(visit)
    return found


def _x_in_cone(design: Design, output: str, where: list[int | None]) -> bool:
    """Can one of the X constants at ``where`` reach ``output``? (Its backward cone, from
    :func:`verislice.cone`, holds the constant; any doubt counts as yes.)"""
    if any(w is None for w in where):
        return True
    try:
        from ._cone import cone

        spans = cone(design, [output]).spans
    except Exception:  # no cone for this design: stay on the safe side
        return True
    return any(a <= w < b for w in where for a, b in spans)


def _reset_of(rd: Design, opts: FormalOptions) -> list[dict[str, Any]] | None:
    """The reset to assert first, found as the simulation check finds it; ``None``: let the
    worker take the inputs Yosys sees driving a reference flip-flop's reset (several clocks)."""
    from .equiv._detect import detect_timing
    from .equiv._options import EquivOptions

    try:
        timing = detect_timing(rd, EquivOptions(reset=opts.reset,
                                                reset_active_low=opts.reset_active_low))
    except VerisliceError as exc:
        if opts.reset and exc.message.startswith("--reset"):
            raise  # the given reset is no input of the reference
        if opts.reset:
            value = None if opts.reset_active_low is None else int(not opts.reset_active_low)
            return [{"name": opts.reset, "value": value}]
        return None
    if not timing.reset:
        return []
    return [{"name": timing.reset, "value": 0 if timing.reset_active_low else 1}]


def _vid(name: str) -> str:
    """``name`` as a Verilog identifier (escaped when it is not a plain one)."""
    return name if _IDENT.match(name) else f"\\{name} "


def _decl(p: Port) -> str:
    rng = f" [{p.width - 1}:0]" if p.width > 1 else ""
    return f"{p.direction}{rng} {_vid(p.name)}"


def _wrapper(module: str, inst_of: str, ref_ports: list[Port], connect: Collection[str]) -> str:
    """A module with exactly the reference's ports around ``inst_of`` (only ``connect`` outputs
    are driven; the others are X, never compared)."""
    lines = [f"module {module}(", ",\n".join("  " + _decl(p) for p in ref_ports), ");"]
    conns = []
    for p in ref_ports:
        if p.direction == "input" or p.name in connect:
            conns.append(f".{_vid(p.name)}({_vid(p.name)})")
        elif p.direction == "output":
            lines.append(f"  assign {_vid(p.name)} = {{{p.width}{{1'bx}}}};")
    lines.append(f"  {_vid(inst_of)} vsf_u ({', '.join(conns)});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def _renamed_files(design: Design, prefix: str) -> list[tuple[str, str]]:
    names = set(design.modules)
    return [(s.name, rename_modules(s.text, prefix, names)) for s in design.sources]


def _prepare_group(ref: DesignInput, cands: list[DesignInput], only, opts: FormalOptions,
                   strict: bool) -> _Group:
    try:
        rd = _load(ref, opts.top_ref, opts)
        # Yosys reads the preprocessed text, as the candidates' (it runs sandboxed, without the
        # reference's include directories)
        rd = load(canonicalize(rd.sources, include_dirs=_include_dirs(rd, opts),
                               defines=opts.defines, untrusted=False), top=rd.top)
    except VerisliceError as exc:
        if strict:
            raise
        return _Group(None, ref_error=f"reference {_label(ref)}: {exc.message}",
                      cands=[_Cand(i, _label(c)) for i, c in enumerate(cands)])
    bad = [p.name for p in rd.ports if p.direction not in ("input", "output")]
    if bad:
        msg = f"reference port(s) {', '.join(bad)}: only input and output ports can be compared"
        if strict:
            raise VerisliceError(msg)
        return _Group(None, ref_error=msg, cands=[_Cand(i, _label(c)) for i, c in enumerate(cands)])
    try:
        reset = _reset_of(rd, opts)
    except VerisliceError as exc:  # e.g. --reset names no input of the reference
        if strict:
            raise
        return _Group(None, ref_error=exc.message,
                      cands=[_Cand(i, _label(c)) for i, c in enumerate(cands)])
    group = _Group(rd, reset=reset, include_dirs=_include_dirs(rd, opts),
                   gold_files=_renamed_files(rd, _REF_PREFIX),
                   gold_wrapper=_wrapper("vsf_gold", _REF_PREFIX + rd.top, rd.ports,
                                         [p.name for p in rd.outputs]))
    if only is not None and len(only) != len(cands):
        raise VerisliceError("outputs: one entry per candidate expected")
    for i, item in enumerate(cands):
        group.cands.append(_prepare_cand(i, item, rd, None if only is None else only[i], opts))
    return group


def _screen_cand(item: DesignInput, rd: Design, opts: FormalOptions
                 ) -> tuple[list[Source] | Design | None, CandidateResult | None]:
    """The candidate as its canonical text, screened in the sandboxed front end (the same text
    simulation compiles: a `` `ifdef SYNTHESIS`` cannot show Yosys other code), or its verdict."""
    from .untrusted import screen_designs

    if isinstance(item, Design):
        srcs, top = list(item.sources), item.top
    else:
        srcs = [s if isinstance(s, Source) else Source.read(s) for s in _items(item)]
        top = opts.top_gen
    name = _label(item)
    kw = dict(include_dirs=opts.include_dirs, max_memory_bits=None, defines=opts.defines)
    [s] = screen_designs([srcs], top=top, **kw)
    if s.verdict == "COMPILE_ERROR" and top is None and "several top modules" in s.message:
        [s] = screen_designs([srcs], top=rd.top, **kw)
    if s.verdict == "OK":
        return [Source(s.text, srcs[0].name)], None
    verdict = INTERFACE if s.verdict == "COMPILE_ERROR" and not s.message[:1].isspace() and \
        ("top module" in s.message or "no module" in s.message) else s.verdict
    return None, CandidateResult(verdict, s.message, name=name, top=s.top or "", method="formal")


def _prepare_cand(i: int, item: DesignInput, rd: Design, only, opts: FormalOptions) -> _Cand:
    c = _Cand(i, _label(item))
    item, verdict = _screen_cand(item, rd, opts)
    if verdict is not None:
        c.result = verdict
        return c
    try:
        cd = _load(item, opts.top_gen, opts, fallback_top=rd.top)
    except DiagnosticError as exc:
        c.result = CandidateResult(COMPILE_ERROR, exc.message, name=c.name, method="formal")
        return c
    except VerisliceError as exc:
        c.result = CandidateResult(INTERFACE, exc.message, name=c.name, method="formal")
        return c
    c.top = cd.top
    ports = {p.name: p for p in cd.ports}
    problems = []
    ref_names = {p.name for p in rd.ports}
    for p in rd.inputs:
        q = ports.get(p.name)
        if q is None:
            problems.append(f"input '{p.name}' is missing")
        elif q.direction != "input":
            problems.append(f"'{p.name}' is an {q.direction}, the reference has an input")
        elif q.width != p.width:
            problems.append(f"input '{p.name}' is {q.width} bits wide, the reference's {p.width}")
    ref_outputs = {p.name for p in rd.outputs}
    for q in cd.ports:
        if q.name in ref_outputs and q.direction != "output":
            problems.append(f"'{q.name}' is an {q.direction}, the reference has an output")
        elif q.name not in ref_names and q.direction != "output":
            problems.append(f"{q.direction} '{q.name}' is not in the reference")
    if problems:
        c.result = CandidateResult(INTERFACE, "; ".join(problems), name=c.name, top=c.top,
                                   method="formal")
        return c
    wanted = [p for p in rd.outputs if only is None or p.name in set(only)]
    for p in wanted:
        q = ports.get(p.name)
        if q is None or q.direction != "output":
            c.fixed[p.name] = OutputResult(p.name, MISSING, width=p.width, method="formal",
                                           message="the candidate has no such output")
        elif q.width != p.width:
            c.fixed[p.name] = OutputResult(
                p.name, WIDTH, width=p.width, candidate_width=q.width, method="formal",
                message=f"{q.width} bits wide, the reference's {p.width}: not compared")
        else:
            c.outputs.append(p.name)
    c.design = cd
    c.x_literals = _x_literals(cd)
    prefix = f"vsc{i}_"
    c.files = _renamed_files(cd, prefix)
    c.wrapper = _wrapper("vsf_gate", prefix + cd.top, rd.ports, c.outputs)
    c.include_dirs = _include_dirs(cd, opts)
    return c


# -- running the workers -------------------------------------------------------------------------


@dataclass
class _Raw:
    """What the workers said about one candidate."""

    info: dict[str, Any] | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""  # candidate-level (setup) failure
    seconds: float = 0.0


def _error_text(stdout: str, stderr: str, names: Mapping[str, str]) -> str:
    """Yosys's ``ERROR:`` line (with its ``file:line:`` prefix), else the last line of stderr,
    with the worker's temporary file names replaced by the user's."""
    text = ""
    for stream in (stderr, stdout):
        found = _ERROR_LINE.search(stream)
        if found:
            line_start = stream.rfind("\n", 0, found.start()) + 1
            text = stream[line_start:found.end()].strip()
            break
    if not text:
        tail = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        text = tail[-1] if tail else ""
    m = _NO_SAT_MODEL.search(text)
    if m:  # "... cell $flatten\gate.\vsf_u.$pow$pow2.v:2$2 ($pow)." -> where it comes from
        where = re.search(r"\$([^$\\]+:\d+)\$\d+$", m.group(1))
        text = (f"the prover has no model for {m.group(2)} cells"
                + (f" ({where.group(1)})" if where else ""))
    for tmp, real in names.items():
        text = re.sub(rf"\b{re.escape(tmp)}\b", real, text)
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@dataclass
class _Unit:
    """One candidate of one group, with the outputs still to prove."""

    uid: int
    gi: int
    cand: _Cand
    outputs: list[str]
    joint: bool = True  # try one proof of all outputs first


def _step_limit(opts: FormalOptions) -> float:
    """Wall-clock allowance of one proof: the solver's limit, plus building the SAT problem
    (which the solver limit does not cover and which dominates for wide sequential states)."""
    return opts.timeout * 1.5 + 2


def _job(groups: list[_Group], units: list[_Unit], opts: FormalOptions) -> dict[str, Any]:
    segments: list[dict[str, Any]] = []
    for u in units:  # consecutive candidates of one group share the reference's reading
        if not segments or segments[-1]["g"] != u.gi:
            g = groups[u.gi]
            segments.append({"g": u.gi, "gold": g.gold_files, "gold_wrapper": g.gold_wrapper,
                             "include_dirs": g.include_dirs, "reset": g.reset, "cands": []})
        segments[-1]["cands"].append({"key": u.uid, "files": u.cand.files,
                                      "include_dirs": u.cand.include_dirs,
                                      "wrapper": u.cand.wrapper, "outputs": u.outputs,
                                      "joint": u.joint})
    return {
        "groups": segments,
        "defines": dict(opts.defines or {}), "depth": opts.depth, "timeout": opts.timeout,
        "setup_limit": _SETUP_SECONDS, "step_limit": _step_limit(opts),
        "init": opts.init, "reset_cycles": opts.reset_cycles,
    }


def _file_names(groups: list[_Group], units: list[_Unit]) -> dict[str, str]:
    """The worker's file names -> the user's (for error messages)."""
    names = {}
    for u in units:
        names.update({f"g{u.gi}_ref{i}.v": n for i, (n, _) in enumerate(groups[u.gi].gold_files)})
        names.update({f"c{u.uid}_{j}.v": n for j, (n, _) in enumerate(u.cand.files)})
    return names


def _run_units(groups: list[_Group], units: list[_Unit], opts: FormalOptions
               ) -> tuple[dict[int, _Raw], dict[int, str]]:
    """Prove every output of ``units`` in worker processes, one after the other; after a crash
    or time-out, blame the step that was running and start a new worker for the rest.
    Returns the raw results per unit id and the reference errors per group index."""
    raw = {u.uid: _Raw() for u in units}
    ref_errors: dict[int, str] = {}
    names = _file_names(groups, units)
    pending = list(units)
    while pending:
        before = [(u.uid, u.outputs, u.joint) for u in pending]
        limit = _SETUP_SECONDS + sum(
            _SETUP_SECONDS / 4 + (len(u.outputs) + 1) * _step_limit(opts) for u in pending)
        with sandbox_dir("verislice-formal-") as tmp:
            (tmp / "job.json").write_text(json.dumps(_job(groups, pending, opts)),
                                          encoding="utf-8")
            run = run_limited([sys.executable, str(_WORKER), "job.json", "events.jsonl"], tmp,
                              timeout=limit, memory_mb=opts.memory_mb)
            lines = _read(tmp / "events.jsonl").splitlines()
            step_log = "\n".join(_read(tmp / f) for f in ("step.log", "sat.log", "satx.log"))
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill
        why = (f"time limit reached ({_step_limit(opts):g} s per proof, {_SETUP_SECONDS:g} s "
               "to read a design)" if run.timed_out or run.returncode == -signal.SIGALRM
               else _error_text(step_log + "\n" + run.stdout, run.stderr, names)
               or (f"Yosys worker killed by signal {-run.returncode} (memory limit?)"
                   if (run.returncode or 0) < 0
                   else f"Yosys worker ended with exit code {run.returncode}"))
        done: set[int] = set()
        last: dict[str, Any] | None = None
        for prev, e in zip([None, *events], events):
            last = e
            k = e.get("k")
            if k is None:
                continue
            r = raw[k]
            if prev is not None and "t" in e and "t" in prev:
                r.seconds += e["t"] - prev["t"]  # time of the step that this event ends
            if e["ev"] == "info":
                r.info = e
            elif e["ev"] == "result":
                r.results[e["o"]] = e
            elif e["ev"] == "done":
                done.add(k)
        if run.ok:
            break
        if last is None:  # the worker did not even start (no pyosys, no memory, ...)
            for u in pending:
                raw[u.uid].error = f"the Yosys worker did not start: {why}"
            break
        if last["ev"] in ("gold", "gold_ok"):
            # reading the reference (or the step right after) ended the worker
            ref_errors[last["g"]] = f"Yosys cannot read the reference: {why}"
            done.update(u.uid for u in pending if u.gi == last["g"])
        elif last["k"] not in done:
            k = last["k"]
            if last["ev"] == "prove":
                raw[k].results[last["o"]] = {"status": "error", "message": why}
            elif last["ev"] == "prove_all":  # retry output by output: some may not need
                pending = [replace(u, joint=False) if u.uid == k else u for u in pending]
            else:  # setup / info
                raw[k].error = why
                done.add(k)
        nxt = []
        for u in pending:
            if u.uid in done:
                continue
            left = [o for o in u.outputs if o not in raw[u.uid].results]
            if left or raw[u.uid].info is None:
                nxt.append(replace(u, outputs=left))
        if [(u.uid, u.outputs, u.joint) for u in nxt] == before:
            for u in nxt:  # no progress at all: give up on these rather than loop
                raw[u.uid].error = why
            break
        pending = nxt
    return raw, ref_errors


# -- results -----------------------------------------------------------------------------------


def _counterexample(output: str, trace: list[dict[str, str]], rd: Design,
                    clocks: list[list[Any]], resets: list[list[Any]]) -> Counterexample:
    clock_names = {c[0] for c in clocks}
    steps = []
    for step in trace:
        steps.append({p.name: step.get(f"in_{p.name}", "x" * p.width)
                      for p in rd.inputs if p.name not in clock_names})
    fail = next((i for i, s in enumerate(trace) if s.get(f"cmp_{output}") == "0"),
                len(trace) - 1)
    fail = max(fail, 0)
    steps = steps[: fail + 1]
    at = trace[fail] if trace else {}
    clock = clocks[0][0] if clocks else None
    edge = "negedge" if clocks and int(clocks[0][1]) == 0 else "posedge"
    return Counterexample(
        cycle=fail, inputs=steps[fail] if steps else {},
        expected=at.get(f"gold_{output}", ""), actual=at.get(f"gate_{output}", ""),
        trace=tuple(steps), clock=clock, clock_edge=edge,
        reset=tuple((str(n), int(v)) for n, v in resets))


def _describe_reset(resets) -> str:
    if not resets:
        return "no reset found"
    return "reset " + ", ".join(f"{n}={v}" for n, v in resets) + " in the first cycle"


def _output_result(name: str, rd: Design, raw: _Raw, opts: FormalOptions) -> OutputResult:
    width = next(p.width for p in rd.outputs if p.name == name)
    res = raw.results.get(name)
    info = raw.info or {}
    if raw.error and res is None:
        return OutputResult(name, UNKNOWN, width=width, method="formal", message=raw.error)
    if info.get("unsupported"):
        return OutputResult(name, UNKNOWN, width=width, method="formal",
                            message=info["unsupported"])
    if res is None:
        return OutputResult(name, UNKNOWN, width=width, method="formal",
                            message="not proven (worker stopped)")
    seq = bool(info.get("seq"))
    status = res.get("status")
    if status == "pass" and res.get("ref_x"):
        where = f"in cycle {opts.depth} of every input sequence" if seq else "for every input"
        return OutputResult(name, AMBIGUOUS, width=width, method="formal",
                            message=f"the reference output is X {where}: nothing to compare")
    if status == "pass":
        if seq:
            msg = (f"no difference within {opts.depth} cycles from "
                   f"{'reset' if info.get('resets') else 'the initial state'} "
                   f"({_describe_reset(info.get('resets'))})")
            return OutputResult(name, BOUNDED, samples=opts.depth, width=width, method="formal",
                                message=msg)
        return OutputResult(name, PROVEN, width=width, method="formal",
                            message="equal for every input value")
    if status == "fail":
        cex = _counterexample(name, res.get("trace") or [], rd, info.get("clocks") or [],
                              info.get("resets") or [])
        return OutputResult(name, MISMATCH, mismatches=1, samples=cex.cycle + 1,
                            first_failure=cex, width=width, method="formal",
                            message=f"differs in cycle {cex.cycle}" if seq else "differs")
    if status == "timeout":
        return OutputResult(name, UNKNOWN, width=width, method="formal",
                            message=f"solver time limit ({opts.timeout:g} s) reached")
    msg = res.get("message") or "the prover gave no answer"
    if isinstance(msg, list):
        msg = " ".join(msg) or "the prover gave no answer"
    return OutputResult(name, UNKNOWN, width=width, method="formal", message=str(msg))


def _candidate_result(c: _Cand, rd: Design, raw: _Raw | None, ref_error: str,
                      opts: FormalOptions) -> CandidateResult:
    if c.result is not None:
        return c.result
    outs: dict[str, OutputResult] = {}
    raw = raw or _Raw()
    if ref_error:
        raw = _Raw(error=ref_error)
    for p in rd.outputs:
        if p.name in c.fixed:
            outs[p.name] = c.fixed[p.name]
        elif p.name in c.outputs:
            o = _output_result(p.name, rd, raw, opts)
            if (c.x_literals and o.verdict in (PROVEN, BOUNDED) and c.design is not None
                    and _x_in_cone(c.design, p.name, c.x_literals)):
                o = replace(o, verdict=UNKNOWN, message=_X_LITERAL_NOTE)
            outs[p.name] = o
    message = raw.error or (raw.info or {}).get("unsupported") or ""
    return CandidateResult(OK, message, outs, name=c.name, top=c.top, method="formal",
                           seconds=raw.seconds)


def _check_groups(items, opts: FormalOptions, progress, *, strict: bool):
    if not _pyosys_available():
        raise VerisliceError("formal checking needs Yosys from PyPI: "
                             "pip install 'verislice-salv[formal]' (pyosys)")
    groups = [_prepare_group(ref, cands, only, opts, strict) for ref, cands, only in items]
    units: list[_Unit] = []
    for gi, g in enumerate(groups):
        if g.ref is None:
            continue
        for c in g.cands:
            if c.result is None and c.outputs:
                units.append(_Unit(len(units), gi, c, list(c.outputs)))
    # Contiguous runs of units (a reference is read once per run), at most _CHUNK per worker
    # process so that progress shows and a crash costs little, `jobs` workers at a time.
    size = max(1, min(_CHUNK, -(-len(units) // opts.jobs)))
    chunks = [units[i:i + size] for i in range(0, len(units), size)]

    def work(chunk: list[_Unit]):
        result = _run_units(groups, chunk, opts)
        if progress is not None:
            progress(len(chunk))
        return result

    if opts.jobs > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=opts.jobs) as pool:
            done = list(pool.map(work, chunks))
    else:
        done = [work(c) for c in chunks]
    raws: dict[tuple[int, int], _Raw] = {}
    ref_errors: dict[int, str] = {}
    by_uid = {u.uid: u for u in units}
    for raw, errs in done:
        ref_errors.update(errs)
        for uid, r in raw.items():
            raws[(by_uid[uid].gi, by_uid[uid].cand.index)] = r
    out = []
    for gi, g in enumerate(groups):
        if g.ref is None:
            out.append([CandidateResult(REFERENCE_ERROR, g.ref_error, name=c.name, method="formal")
                        for c in g.cands])
            continue
        out.append([_candidate_result(c, g.ref, raws.get((gi, c.index)), ref_errors.get(gi, ""),
                                      opts) for c in g.cands])
    return out

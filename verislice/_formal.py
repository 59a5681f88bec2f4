"""Per-output equivalence proofs with Yosys (pyosys): the formal engine of :mod:`verislice.equiv`.

::

    from verislice import equiv
    r = equiv.check("ref.v", "gen.v", method="formal")      # PROVEN / BOUNDED / MISMATCH / ...
    r.outputs["y"].verdict, r.outputs["y"].first_failure      # counterexample when it differs
    equiv.check("ref.v", "gen.v", method="both")              # simulate, then prove the MATCHes

    from verislice._formal import check_formal               # the same, formal only
    [r] = check_formal("ref.v", ["gen.v"], depth=20)

Formal is an engine beside simulation: the reference and every candidate go through the same
sandboxed front end (:func:`verislice.equiv.check_batch`: canonical text, screen, choice of the
candidate's top, interface check), so a bad candidate gets the same INTERFACE / MISSING / WIDTH
verdicts and messages under both methods, and Yosys reads exactly the screened canonical text the
simulator compiles (each design's modules already renamed with its own prefix). A wrapper with
the reference's ports is put around each top, and Yosys builds one miter per candidate
(``miter -equiv -flatten -make_outputs -make_outcmp -ignore_gold_x``) whose ``cmp_<output>``
signals are proven with ``sat``: for all inputs (combinational), or by temporal induction from
reset (sequential: a counterexample is a real trace from reset; PROVEN when the induction step
holds, BOUNDED when ``depth`` cycles from reset pass first). See :mod:`verislice._formal_worker`.

The X rule is the simulator's: where the reference output is X the bit is don't-care; a
candidate X/Z bit where the reference is 0/1 is a difference. Inputs are always 0/1. Registers
start as X (``init="undef"``, as in Icarus) unless they have an initial value; the reset input
is asserted in the first cycle (``reset_cycles``) and free afterwards, so the solver also tries
resets at any later cycle. Yosys ends its process on an error, so proofs run in sandboxed worker
processes; a crash or time-out costs only the step that was running, which gets UNKNOWN with
Yosys's message (or BOUNDED with the cycles it had covered).
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
from typing import TYPE_CHECKING, Any, Union

from ._errors import VerisliceError
from ._frontend import Design, Source
from ._sandbox import run_limited, sandbox_dir
from .equiv._results import (
    AMBIGUOUS,
    BOUNDED,
    MISMATCH,
    OK,
    PROVEN,
    UNKNOWN,
    CandidateResult,
    FirstFailure,
    OutputResult,
)

if TYPE_CHECKING:
    from .equiv._batch import SimCandidate, SimGroup

__all__ = ["Counterexample", "FormalOptions", "check_formal", "check_formal_batch",
           "prove_groups"]

DesignInput = Union[str, os.PathLike, Source, Sequence[Union[str, os.PathLike, Source]], Design]

_WORKER = Path(__file__).with_name("_formal_worker.py")
_SETUP_SECONDS = 20.0  # wall-clock allowance per candidate for reading + miter building
_CHUNK = 64  # most candidates per worker process
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
_ERROR_LINE = re.compile(r"ERROR:.*")
_NO_SAT_MODEL = re.compile(r"No SAT model available for cell (\S+) \((\$\w+)\)")
_BASE = re.compile(r"Base case for induction length (\d+) proven")
#: A proof stopped by the time limit counts as BOUNDED when it had covered at least this many
#: cycles from reset (or the whole depth when that is smaller); fewer: UNKNOWN.
MIN_BOUNDED_CYCLES = 4


@dataclass(frozen=True)
class FormalOptions:
    """Options of the formal engine (``--method formal|both`` of ``verislice equiv``).

    ``depth``: cycles from reset the base case of a sequential proof covers (an output whose
    induction step does not hold within ``depth`` cycles is BOUNDED). ``timeout``: solver limit
    per SAT call, in seconds; a whole proof may take 1.5x that plus 2 s of wall-clock time.
    ``init``: the start state of registers without an initial value, ``"undef"`` (X, as in
    simulation) or ``"zero"``. ``reset_cycles``: cycles the reset is asserted at the start.
    ``top_ref``, ``top_gen``, ``reset``, ``reset_active_low``, ``include_dirs``, ``defines``
    and ``jobs`` are used by :func:`check_formal`/:func:`check_formal_batch` only (the equiv API
    takes them from :class:`~verislice.equiv.EquivOptions`).
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
    ``trace[i]``, let it settle, compare, then give one active clock edge (``clock_edge`` is
    ``"posedge"``, ``"negedge"`` or ``"both"``: the clock toggles once per cycle, rising first).
    ``after_edge``: the difference shows after the active edge of cycle ``cycle`` (with that
    cycle's inputs), not before it. ``reset`` lists the reset inputs the proof asserted in the
    first cycles (already part of ``trace``).
    """

    trace: tuple[Mapping[str, str], ...] = ()
    clock: str | None = None
    clock_edge: str = "posedge"
    reset: tuple[tuple[str, int], ...] = ()
    after_edge: bool = False

    def to_json(self) -> dict[str, Any]:
        d = super().to_json()
        d["trace"] = [dict(step) for step in self.trace]
        d["clock"] = self.clock
        d["clock_edge"] = self.clock_edge
        d["reset"] = {name: value for name, value in self.reset}
        d["after_edge"] = self.after_edge
        return d


def _pyosys_available() -> bool:
    return importlib.util.find_spec("pyosys") is not None


def require_pyosys() -> None:
    if not _pyosys_available():
        raise VerisliceError("formal checking needs Yosys from PyPI: "
                             "pip install 'verislice-salv[formal]' (pyosys)")


# -- the old entry points: the equiv API with method="formal" ------------------------------------


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

    The same as ``verislice.equiv.check_batch([(ref, candidates)], method="formal")``.
    ``outputs``: one entry per candidate, the outputs to prove (``None``: all); outputs not asked
    for are absent from that candidate's result. Raises :class:`~verislice.VerisliceError` when
    the reference does not load or pyosys is missing; every candidate problem is a verdict.
    """
    opts = options or FormalOptions(
        depth=depth, timeout=timeout, top_ref=top_ref, top_gen=top_gen, reset=reset,
        reset_active_low=reset_active_low, reset_cycles=reset_cycles, init=init,
        include_dirs=tuple(include_dirs), defines=defines, jobs=jobs)
    only = None if outputs is None else [list(outputs)]
    [results] = _via_equiv([(ref, list(candidates))], opts, only, progress, "raise")
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
    outs = list(outputs) if outputs is not None else None
    if outs is not None and len(outs) != len(groups):
        raise VerisliceError("outputs: one entry per group expected")
    return _via_equiv([(r, list(c)) for r, c in groups], opts, outs, progress, "report")


def _via_equiv(groups, opts: FormalOptions, outputs, progress, reference_errors: str):
    from .equiv._api import run_checks
    from .equiv._options import EquivOptions

    require_pyosys()
    eopts = EquivOptions(method="formal", top_ref=opts.top_ref, top_gen=opts.top_gen,
                         reset=opts.reset, reset_active_low=opts.reset_active_low,
                         include_dirs=tuple(str(d) for d in opts.include_dirs),
                         defines=opts.defines)
    only = None
    if outputs is not None:
        only = {}
        for gid, ((_ref, cands), outs) in enumerate(zip(groups, outputs)):
            if outs is None:
                continue
            if len(outs) != len(cands):
                raise VerisliceError("outputs: one entry per candidate expected")
            for j, o in enumerate(outs):
                if o is not None:
                    only[(gid, j)] = set(o)
    done = [0]

    def tick(n: int, _total: int) -> None:
        if progress is not None and n > done[0]:
            progress(n - done[0])
            done[0] = n

    return run_checks(groups, jobs=opts.jobs, options=eopts, formal=opts,
                      reference_errors=reference_errors, progress=tick, only=only)


# -- the engine: prepared groups in, results out ------------------------------------------------


def _vid(name: str) -> str:
    """``name`` as a Verilog identifier (escaped when it is not a plain one)."""
    return name if _IDENT.match(name) else f"\\{name} "


def _decl(direction: str, name: str, width: int) -> str:
    rng = f" [{width - 1}:0]" if width > 1 else ""
    return f"{direction}{rng} {_vid(name)}"


def _wrapper(module: str, inst_of: str, inputs, outputs, connect: Collection[str]) -> str:
    """A module with exactly the reference's ports around ``inst_of`` (only ``connect`` outputs
    are driven; the others are X, never compared)."""
    decls = [_decl("input", n, w) for n, w in inputs] + [_decl("output", n, w) for n, w in outputs]
    lines = [f"module {module}(", ",\n".join("  " + d for d in decls), ");"]
    conns = [f".{_vid(n)}({_vid(n)})" for n, _w in inputs]
    for n, w in outputs:
        if n in connect:
            conns.append(f".{_vid(n)}({_vid(n)})")
        else:
            lines.append(f"  assign {_vid(n)} = {{{w}{{1'bx}}}};")
    lines.append(f"  {_vid(inst_of)} vsf_u ({', '.join(conns)});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def _reset_of(g: SimGroup) -> list[list[Any]]:
    t = g.timing
    if not t.reset:
        return []
    return [[t.reset, 0 if t.reset_active_low else 1]]


@dataclass
class _Raw:
    """What the workers said about one candidate."""

    info: dict[str, Any] | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""  # candidate-level (setup) failure
    vacuous: bool = False
    ambiguous: set[str] = field(default_factory=set)
    unchecked: str = ""  # the vacuity/ambiguity checks did not finish: why
    retry: str = ""  # why the candidate goes again on the approximate model
    approx: str = ""  # proven on the approximate model (see _drop_async_edges): why
    seconds: float = 0.0


@dataclass
class _Unit:
    """One candidate of one group, with the outputs still to prove."""

    uid: int
    gi: int
    cand: SimCandidate
    outputs: list[str]
    joint: bool = True  # try one proof of all outputs first
    approx: bool = False  # the approximate model (asynchronous edges ignored)
    defined: bool = False  # simulation saw the reference outputs defined (no ambiguity check)


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
    if re.search(r"Async reset \S+ yields non-constant value", text):
        text += (" (an asynchronous reset branch that loads a value Yosys cannot model, e.g. "
                 "`negedge rst` tested as `if (rst)`; simulation decides)")
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _step_limit(opts: FormalOptions) -> float:
    """Wall-clock allowance of one proof: the solver's limit, plus building the SAT problem
    (which the solver limit does not cover and which dominates for wide sequential states)."""
    return opts.timeout * 1.5 + 2


def _job(groups: list[SimGroup], units: list[_Unit], opts: FormalOptions) -> dict[str, Any]:
    segments: list[dict[str, Any]] = []
    for u in units:  # consecutive candidates of one group share the reference's reading
        if not segments or segments[-1]["g"] != u.gi:
            g = groups[u.gi]
            segments.append({
                "g": u.gi, "gold": [[g.ref_name, g.ref_text]],
                "gold_wrapper": _wrapper("vsf_gold", g.ref_sim_top, _data_inputs(g), g.outputs,
                                         [n for n, _w in g.outputs]),
                "clock": g.timing.clock, "edges": g.timing.edges, "reset": _reset_of(g),
                "cands": []})
        g = groups[u.gi]
        segments[-1]["cands"].append({
            "key": u.uid, "files": [[u.cand.name, u.cand.text]],
            "wrapper": _wrapper("vsf_gate", u.cand.sim_top, _data_inputs(g), g.outputs,
                                list(u.cand.outputs)),
            "outputs": u.outputs, "joint": u.joint, "ambiguity": not u.defined,
            "approx": u.approx})
    return {
        "groups": segments, "depth": opts.depth, "timeout": opts.timeout,
        "setup_limit": _SETUP_SECONDS, "step_limit": _step_limit(opts),
        "init": opts.init, "reset_cycles": opts.reset_cycles,
        "min_bounded": _min_bounded(opts),
    }


def _min_bounded(opts: FormalOptions) -> int:
    return min(opts.depth, MIN_BOUNDED_CYCLES)


def _data_inputs(g: SimGroup):
    return list(g.inputs)


def _file_names(groups: list[SimGroup], units: list[_Unit]) -> dict[str, str]:
    """The worker's file names -> the user's (for error messages)."""
    names = {}
    for u in units:
        names[f"g{u.gi}_ref0.v"] = groups[u.gi].ref_name
        names[f"c{u.uid}_0.v"] = u.cand.name
    return names


def _partial_depth(log: str, info: dict[str, Any] | None) -> int:
    """Whole cycles from reset a killed proof had covered (its base case), from Yosys's log."""
    found = _BASE.findall(log)
    per_cycle = 2 if (info or {}).get("mode") == "seq2" else 1
    return (int(found[-1]) if found else 0) // per_cycle


def _run_units(groups: list[SimGroup], units: list[_Unit], opts: FormalOptions
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
            _SETUP_SECONDS / 4 + (len(u.outputs) + 2) * _step_limit(opts) for u in pending)
        with sandbox_dir("verislice-formal-") as tmp:
            (tmp / "job.json").write_text(json.dumps(_job(groups, pending, opts)),
                                          encoding="utf-8")
            run = run_limited([sys.executable, str(_WORKER), "job.json", "events.jsonl"], tmp,
                              timeout=limit, memory_mb=opts.memory_mb)
            lines = _read(tmp / "events.jsonl").splitlines()
            sat_log = _read(tmp / "sat.log")
            step_log = "\n".join(_read(tmp / f) for f in ("step.log", "satx.log")) + sat_log
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill
        killed = run.timed_out or run.returncode == -signal.SIGALRM
        why = (f"time limit reached ({_step_limit(opts):g} s per proof, {_SETUP_SECONDS:g} s "
               "to read a design)" if killed
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
            kind = e["ev"]
            if kind == "info":
                r.info = e
                r.retry = e.get("approx_retry") or ""
            elif kind == "result":
                r.results[e["o"]] = e
            elif kind == "vacuous":
                r.vacuous = True
            elif kind == "ambiguous":
                r.ambiguous.add(e["o"])
            elif kind == "done":
                done.add(k)
        retries = _retries(pending, raw)
        if run.ok:
            if not retries:
                break
            pending = retries
            continue
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
            r = raw[k]
            depth = _partial_depth(sat_log, r.info) if killed else 0
            if last["ev"] == "prove":
                r.results[last["o"]] = ({"status": "timeout", "depth": depth, "killed": True}
                                        if killed else {"status": "error", "message": why})
            elif last["ev"] == "prove_all":
                u = next(u for u in pending if u.uid == k)
                if depth >= _min_bounded(opts):  # the base case covered them all
                    for o in u.outputs:
                        r.results.setdefault(o, {"status": "timeout", "depth": depth,
                                                 "killed": True})
                else:  # retry output by output: some may not need the time
                    pending = [replace(x, joint=False) if x.uid == k else x for x in pending]
            elif last["ev"] == "checks":
                r.unchecked = why
                done.add(k)
            else:  # setup / info
                r.error = why
                done.add(k)
        retries = _retries(pending, raw)
        done.update(u.uid for u in retries)
        nxt = list(retries)
        for u in pending:
            if u.uid in done:
                continue
            left = [o for o in u.outputs if o not in raw[u.uid].results]
            if left or raw[u.uid].info is None:
                nxt.append(replace(u, outputs=left))
        if [(u.uid, u.outputs, u.joint) for u in nxt] == before and not retries:
            for u in nxt:  # no progress at all: give up on these rather than loop
                raw[u.uid].error = why
            break
        pending = nxt
    return raw, ref_errors


def _retries(pending: list[_Unit], raw: dict[int, _Raw]) -> list[_Unit]:
    """Units to prove again on the approximate model: their worker asked for it (a loop through
    an asynchronous load of the candidate), or Yosys could not read the candidate's
    asynchronous reset ("yields non-constant value"). Once each."""
    out = []
    for u in pending:
        r = raw[u.uid]
        if u.approx:
            continue
        why = r.retry or (r.error if re.search(r"Async reset \S+ yields non-constant", r.error)
                          else "")
        if why:
            raw[u.uid] = _Raw(approx=why, seconds=r.seconds)
            out.append(replace(u, approx=True, joint=True))
    return out


# -- results -----------------------------------------------------------------------------------


def _counterexample(output: str, trace: list[dict[str, str]], g: SimGroup,
                    info: dict[str, Any]) -> Counterexample:
    clock = g.timing.clock
    mode = info.get("mode")
    per_cycle = 2 if mode == "seq2" else 1
    fail = next((i for i, s in enumerate(trace) if s.get(f"cmp_{output}") == "0"),
                len(trace) - 1)
    fail = max(fail, 0)
    cycles = []
    for i in range(0, fail + 1, per_cycle):
        step = trace[i] if i < len(trace) else {}
        cycles.append({n: step.get(f"in_{n}", "x" * w) for n, w in g.inputs if n != clock})
    cycle, phase = divmod(fail, per_cycle)
    at = trace[fail] if trace else {}
    edge = {"neg": "negedge", "both": "both"}.get(g.timing.edges, "posedge")
    resets = info.get("resets") or []
    return Counterexample(
        cycle=cycle, inputs=cycles[cycle] if cycles else {},
        expected=at.get(f"gold_{output}", ""), actual=at.get(f"gate_{output}", ""),
        trace=tuple(cycles), clock=clock if mode != "comb" else None,
        clock_edge=edge, reset=tuple((str(n), int(v)) for n, v in resets),
        after_edge=bool(phase))


def _describe_reset(resets) -> str:
    if not resets:
        return "no reset found"
    return "reset " + ", ".join(f"{n}={v}" for n, v in resets) + " in the first cycle"


def _output_result(name: str, width: int, g: SimGroup, raw: _Raw, opts: FormalOptions
                   ) -> OutputResult:
    res = raw.results.get(name)
    info = raw.info or {}

    def unknown(message: str) -> OutputResult:
        return OutputResult(name, UNKNOWN, width=width, candidate_width=width, method="formal",
                            message=message)

    if raw.error and res is None:
        return unknown(raw.error)
    if info.get("unsupported"):
        return unknown(info["unsupported"])
    tainted = (info.get("tainted") or {}).get(name)
    if tainted:
        return unknown(f"no proof: {tainted}")
    if res is None:
        return unknown("not proven (worker stopped)")
    seq = info.get("mode") in ("seq", "seq2")
    status = res.get("status")
    depth = int(res.get("depth") or 0)
    if status == "timeout" and depth >= _min_bounded(opts):
        status = "pass"  # the base case covered `depth` cycles before the time limit
    if status == "pass":
        if raw.vacuous:
            return unknown("no difference found, but no run meets the proof's assumptions "
                           "(a vacuous proof): not proven")
        if raw.unchecked:
            return unknown(f"no difference found, but the vacuity check did not finish "
                           f"({raw.unchecked})")
        if name in raw.ambiguous:
            where = "in every cycle checked" if seq else "for every input"
            return OutputResult(name, AMBIGUOUS, width=width, candidate_width=width,
                                method="formal",
                                message=f"the reference output is X {where}: nothing to compare")
    if status == "pass" and not seq:
        return OutputResult(name, PROVEN, width=width, candidate_width=width, method="formal",
                            message="equal for every input value")
    if status == "pass":
        start = "reset" if info.get("resets") else "the initial state"
        how = res.get("how")
        if how == "induction":
            return OutputResult(name, PROVEN, width=width, candidate_width=width,
                                method="formal",
                                message=f"equal in every cycle from {start} "
                                        f"({_describe_reset(info.get('resets'))}; induction)")
        cycles = opts.depth if how == "bounded" else depth
        msg = (f"no difference within {cycles} cycles from {start} "
               f"({_describe_reset(info.get('resets'))})")
        if how != "bounded":
            msg += (f"; the time limit stopped the proof there (depth {opts.depth} asked; "
                    f"raise the time limit for more)")
        return OutputResult(name, BOUNDED, samples=cycles, width=width, candidate_width=width,
                            method="formal", message=msg)
    if status == "fail":
        cex = _counterexample(name, res.get("trace") or [], g, info)
        where = ""
        if seq:
            where = (f"differs in cycle {cex.cycle}, "
                     f"{'after' if cex.after_edge else 'before'} the active clock edge")
        return OutputResult(name, MISMATCH, mismatches=1, samples=cex.cycle + 1,
                            first_failure=cex, width=width, candidate_width=width,
                            method="formal", message=where or "differs")
    if status == "timeout":
        got = f" after {depth} cycle{'s' if depth != 1 else ''} from reset" if depth else ""
        return unknown(f"solver time limit ({opts.timeout:g} s) reached{got}"
                       if not res.get("killed") else
                       f"time limit reached ({_step_limit(opts):g} s per proof){got}")
    msg = res.get("message") or "the prover gave no answer"
    if isinstance(msg, list):
        msg = " ".join(msg) or "the prover gave no answer"
    return unknown(str(msg))


def _candidate_result(c: SimCandidate, g: SimGroup, wanted: list[str], raw: _Raw | None,
                      ref_error: str, opts: FormalOptions) -> CandidateResult:
    outs: dict[str, OutputResult] = {}
    raw = raw or _Raw()
    if ref_error:
        raw = _Raw(error=ref_error)
    for name, width in g.outputs:
        if name in c.notes:  # MISSING / WIDTH: exactly as the simulation reports them
            verdict, cw = c.notes[name]
            outs[name] = OutputResult(name, verdict, 0, 0, None, width, cw, method="formal")
        elif name in wanted:
            outs[name] = _output_result(name, width, g, raw, opts)
            if raw.approx:
                outs[name] = _confirmed(outs[name], g, c, raw.approx)
    message = raw.error or (raw.info or {}).get("unsupported") or ""
    return CandidateResult(OK, message, outs, name=c.name, top=c.top, method="formal",
                           seconds=raw.seconds)


def _confirmed(o: OutputResult, g: SimGroup, c: SimCandidate, why: str) -> OutputResult:
    """An output proved on the approximate model: only a difference Icarus reproduces on the
    real texts stands (a MISMATCH); anything else is UNKNOWN, for ``why``."""
    if o.verdict == MISMATCH and o.first_failure is not None:
        from ._formal_replay import replay_prepared

        try:
            r = replay_prepared(g, c, o.name, o.first_failure)
        except VerisliceError:
            r = None
        if r is not None and r.differs:
            return replace(o, message=o.message + "; found with the asynchronous edges of the "
                                                  "candidate ignored, replayed in Icarus")
    if o.verdict == UNKNOWN:
        return o
    return replace(o, verdict=UNKNOWN, mismatches=0, samples=0, first_failure=None,
                   message=why)


def prove_groups(
    groups: Sequence[SimGroup],
    opts: FormalOptions,
    *,
    jobs: int = 1,
    only: Mapping[tuple[int, int], Collection[str]] | None = None,
    progress: Callable[[int], None] | None = None,
    defined: bool = False,
) -> dict[tuple[int, int], CandidateResult]:
    """Prove the candidates of groups prepared by the equiv front end (canonical, screened and
    renamed texts; outputs matched; MISSING/WIDTH noted). ``only[key]``: the outputs to prove
    for candidate ``key`` (the others are absent from its result). Returns one result per
    candidate key. A reference Yosys cannot read gives its candidates' outputs UNKNOWN.
    ``defined``: simulation saw every asked output of the reference defined (``method="both"``
    proves only MATCHes), so no proof needs to ask whether it ever is (AMBIGUOUS)."""
    require_pyosys()
    units: list[_Unit] = []
    wanted: dict[tuple[int, int], list[str]] = {}
    gi_of: dict[tuple[int, int], int] = {}
    for gi, g in enumerate(groups):
        for c in g.cands:
            ask = [n for n, _w in g.outputs if only is None or c.key not in only
                   or n in only[c.key]]
            wanted[c.key] = ask
            gi_of[c.key] = gi
            todo = [n for n in ask if n in c.outputs]
            if todo:
                units.append(_Unit(len(units), gi, c, todo, defined=defined))
    # Contiguous runs of units (a reference is read once per run), at most _CHUNK per worker
    # process so that progress shows and a crash costs little, `jobs` workers at a time.
    size = max(1, min(_CHUNK, -(-len(units) // max(1, jobs))))
    chunks = [units[i:i + size] for i in range(0, len(units), size)]

    def work(chunk: list[_Unit]):
        result = _run_units(list(groups), chunk, opts)
        if progress is not None:
            progress(len(chunk))
        return result

    if jobs > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(work, chunks))
    else:
        done = [work(c) for c in chunks]
    raws: dict[tuple[int, int], _Raw] = {}
    ref_errors: dict[int, str] = {}
    by_uid = {u.uid: u for u in units}
    for raw, errs in done:
        ref_errors.update(errs)
        for uid, r in raw.items():
            raws[by_uid[uid].cand.key] = r
    out: dict[tuple[int, int], CandidateResult] = {}
    for gi, g in enumerate(groups):
        for c in g.cands:
            out[c.key] = _candidate_result(c, g, wanted[c.key], raws.get(c.key),
                                           ref_errors.get(gi, ""), opts)
    return out

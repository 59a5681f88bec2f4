"""Public entry points: :func:`check` and :func:`check_batch`."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Union

from .. import _worker
from .._errors import VerisliceError
from .._frontend import Design, Source
from .._jobs import RefInterface
from .._sandbox import require_sandbox
from ._batch import SimCandidate, SimGroup
from ._options import COUNTER_BITS_MAX, EquivOptions
from ._results import (COMPILE_ERROR, INTERFACE, MATCH, MISMATCH, OK, PROVEN, REFERENCE_ERROR,
                       REJECTED, TIMEOUT, UNKNOWN, CandidateResult)
from ._runner import BatchOutcome, run_batch
from ._stimulus import InputSpec, make_stimulus
from ._clocks import clock_plan, hold_resets

if TYPE_CHECKING:
    from .._formal import FormalOptions

__all__ = ["DesignInput", "check", "check_batch"]

#: A design: a path, a :class:`Source`, several of them (one design in many files), or a loaded
#: :class:`Design`.
DesignInput = Union[Source, str, "os.PathLike[str]", Sequence[Union[Source, str, "os.PathLike[str]"]],
                    Design]


def _sources(x) -> list:
    if isinstance(x, (Source, str, os.PathLike)):
        return [x]
    return list(x)


def _label(x) -> str:
    if isinstance(x, Design):
        return x.sources[0].name
    srcs = _sources(x)
    return ", ".join(s.name if isinstance(s, Source) else os.fspath(s) for s in srcs)


def _sources_and_top(x, top: str | None) -> tuple[list[Source], str | None]:
    """The texts of a design input (files are read here, by the trusted caller; the worker
    sees only texts) and its top module (a loaded :class:`Design` keeps its own)."""
    if isinstance(x, Design):
        return list(x.sources), x.top
    return [s if isinstance(s, Source) else Source.read(s) for s in _sources(x)], top


def _file_dirs(x) -> list[str]:
    """Directories of a reference's files: its `` `include`` files live next to it."""
    if isinstance(x, Design):
        return []
    return [os.path.dirname(os.path.abspath(os.fspath(s))) for s in _sources(x)
            if not isinstance(s, Source)]


#: Wall-clock limit of the front end (parse, elaborate, screen) of one design.
FRONTEND_TIMEOUT = 30.0


def _frontend_failure(exc: _worker.WorkerFailed) -> str:
    return {"timeout": TIMEOUT, "memory": REJECTED}.get(exc.reason, COMPILE_ERROR)


def check(ref: DesignInput, cand: DesignInput, *, options: EquivOptions | None = None,
          formal: FormalOptions | None = None, **kw) -> CandidateResult:
    """Compare one candidate with a reference, output by output.

    ``ref``/``cand``: a path, a :class:`~verislice.Source`, a list of them, or a loaded
    :class:`~verislice.Design`. Keyword arguments are :class:`EquivOptions` fields
    (``cycles=2000, seed=7, clock="clk", method="both", ...``); ``formal`` holds the prover's
    own options (:class:`verislice._formal.FormalOptions`: ``depth``, ``timeout``, ...) for
    ``method="formal"|"both"``. Raises :class:`~verislice.VerisliceError` when the reference is
    unusable; every candidate problem is a verdict in the result.
    """
    return check_batch([(ref, [cand])], options=options, formal=formal, **kw)[0][0]


@dataclass
class _Prepared:
    """One group after the front end: what to simulate, and the verdicts already known."""

    gid: int
    group: SimGroup | None
    verdicts: dict[int, CandidateResult]
    ref_error: str | None = None


def _prepare_group(gid: int, ref, cands, opts: EquivOptions) -> _Prepared:
    """Front end of one group in sandboxed workers: the reference (which may read its own
    directory and the -I directories), then each candidate (which may read only the -I
    directories and never sees the reference's text)."""
    name = _label(ref)
    ref_srcs, ref_top = _sources_and_top(ref, opts.top_ref)
    ref_dirs = (*opts.include_dirs, *_file_dirs(ref))
    ref_opts = opts.with_(top_ref=ref_top, include_dirs=ref_dirs)
    try:
        unit = _worker.call("equiv_reference", ref_srcs, ref_opts, f"vs{gid}r_",
                            readable=ref_dirs,
                            timeout=FRONTEND_TIMEOUT * 2, memory_mb=opts.memory_mb)
    except _worker.WorkerFailed as exc:
        return _Prepared(gid, None, {}, f"reference {name}: {exc.message}")
    if unit.error:
        return _Prepared(gid, None, {}, f"reference {name}: {unit.error}")
    if opts.method != "sim" and len(unit.timing.clocks) > 1:
        names = ", ".join(c for c, _e in unit.timing.clocks)
        return _Prepared(gid, None, {}, f"reference {name}: several clocks ({names}) are not "
                         f"supported by --method {opts.method}; choose one with --clock (the "
                         "others then get random values) or simulate (--method sim)")
    iface = RefInterface(unit.top, unit.inputs, unit.outputs)
    constants = set(unit.constants)
    sims, verdicts = [], {}
    with _worker.worker(opts.include_dirs, opts.memory_mb) as w:
        for j, cand in enumerate(cands):
            start = time.monotonic()
            cname = _label(cand)
            prefix = f"vs{gid}c{j}_"
            srcs, top = _sources_and_top(cand, opts.top_gen)
            try:
                cu = w.call("equiv_candidate", srcs, iface, opts.with_(top_gen=top), prefix,
                            timeout=FRONTEND_TIMEOUT)
            except _worker.WorkerFailed as exc:
                verdicts[j] = CandidateResult(_frontend_failure(exc), exc.message, name=cname,
                                              seconds=time.monotonic() - start)
                continue
            if cu.verdict:
                verdicts[j] = CandidateResult(cu.verdict, cu.message, name=cname, top=cu.top,
                                              seconds=time.monotonic() - start)
                continue
            constants.update(cu.constants)
            sims.append(SimCandidate((gid, j), cname, cu.top, prefix + cu.top, prefix, cu.text,
                                     dict(cu.outputs), dict(cu.notes), ()))
    if not sims:
        return _Prepared(gid, None, verdicts)
    ref_prefix = f"vs{gid}r_"
    # every clock is driven by the testbench; the stimulus is for the other inputs
    specs = [InputSpec(n, w) for n, w in unit.inputs if n not in unit.timing.clock_names[1:]]
    stim = make_stimulus(specs, unit.timing, constants, samples=opts.cycles_for(unit.timing),
                         seed=opts.seed,
                         sequences=opts.sequences, key=unit.key)
    plan = clock_plan(unit.timing, opts.seed, unit.key)
    stim = hold_resets(stim, unit.timing, plan)
    group = SimGroup(gid, name, unit.top, ref_prefix + unit.top, ref_prefix, unit.text,
                     unit.inputs, unit.outputs, unit.timing, stim, tuple(sims), (), plan)
    return _Prepared(gid, group, verdicts)


def _mp_context():
    """``fork`` (workers start at once, no re-import of the caller's script) unless the caller
    runs other threads: a fork copies the locks they hold, so then ``forkserver`` (which
    re-imports the ``__main__`` script in the workers: it needs the ``if __name__ ==
    "__main__":`` guard, as console scripts and pytest have)."""
    import multiprocessing
    import threading

    return multiprocessing.get_context("fork" if threading.active_count() == 1 else "forkserver")


def check_batch(groups: Sequence[tuple[DesignInput, Sequence[DesignInput]]], *, jobs: int = 1,
                options: EquivOptions | None = None, reference_errors: str = "raise",
                progress: Callable[[int, int], None] | None = None,
                formal: FormalOptions | None = None,
                **kw) -> list[list[CandidateResult]]:
    """Check many ``(reference, [candidates])`` groups; results in input order.

    Candidates of several groups are packed into one simulation (up to ``batch_size``);
    parsing and simulations run on ``jobs`` worker processes. ``reference_errors="raise"``
    raises :class:`~verislice.VerisliceError` for an unusable reference; ``"report"`` gives each
    of that group's candidates the verdict ``REFERENCE_ERROR`` instead. ``progress(done,
    total)`` is called as candidates finish.

    ``method`` (an :class:`EquivOptions` field): ``"sim"`` simulates; ``"formal"`` proves every
    output with Yosys instead (:mod:`verislice._formal`; ``formal`` holds its options, ``jobs``
    workers); ``"both"`` simulates, then proves the outputs simulation called MATCH: a proof
    overrides the MATCH (PROVEN/BOUNDED), and so does a difference the prover finds once its
    counterexample is replayed in Icarus; an undecided proof keeps the MATCH (with the prover's
    reason in the output's message). The front end (canonical text, screen, top, interface) is
    the same for every method.
    """
    return run_checks(groups, jobs=jobs, options=options, reference_errors=reference_errors,
                      progress=progress, formal=formal, **kw)


def run_checks(groups: Sequence[tuple[DesignInput, Sequence[DesignInput]]], *, jobs: int = 1,
               options: EquivOptions | None = None, reference_errors: str = "raise",
               progress: Callable[[int, int], None] | None = None,
               formal: FormalOptions | None = None,
               only: dict[tuple[int, int], set[str]] | None = None,
               **kw) -> list[list[CandidateResult]]:
    """:func:`check_batch`, and for ``method="formal"`` ``only[(group, candidate)]``: the outputs
    to prove (the others are absent from that candidate's result)."""
    if reference_errors not in ("raise", "report"):
        raise ValueError("reference_errors must be 'raise' or 'report'")
    if jobs < 1:
        raise VerisliceError("--jobs must be at least 1")
    opts = EquivOptions.from_kwargs(options, **kw)
    method = opts.method
    if method != "sim":
        from .._formal import FormalOptions as _FO, require_pyosys

        require_pyosys()
        formal = formal or _FO()
    require_sandbox()  # refuse up front, before any candidate is touched
    if opts.engine == "verilator" and method != "formal":
        from . import _verilator

        _verilator.require()
    results: list[list[CandidateResult | None]] = [[None] * len(c) for _r, c in groups]
    items = [(gid, ref, list(cands)) for gid, (ref, cands) in enumerate(groups)]
    total = sum(len(c) for _r, c in groups)
    pool = None
    if jobs > 1 and total > 1:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context())
    # every simulation directory of this call lives in one place, removed as a whole at the end,
    # even those of a worker killed mid-simulation on Ctrl-C
    base = None if opts.keep_dir else tempfile.mkdtemp(prefix="verislice-batch-")
    try:
        # 1. front end (pyslang), screening, stimulus: per group, in the workers when possible
        #    (each thread drives its own sandboxed front-end worker process)
        if jobs > 1 and len(items) > 1:
            with ThreadPoolExecutor(max_workers=jobs) as threads:
                prepared = list(threads.map(lambda it: _prepare_group(*it, opts), items))
        else:
            prepared = [_prepare_group(*it, opts) for it in items]
        ref_error: dict[int, str] = {}
        sim_groups: list[SimGroup] = []
        for p in prepared:
            if p.ref_error is not None:
                ref_error[p.gid] = p.ref_error
            for j, res in p.verdicts.items():
                results[p.gid][j] = res
            if p.group is not None:
                sim_groups.append(p.group)
        if ref_error and reference_errors == "raise":
            raise VerisliceError(ref_error[min(ref_error)])

        # 2. simulations, many candidates (of several groups) each
        batches = _pack(sim_groups, opts.batch_size) if method != "formal" else []
        done = total - sum(_n(b) for b in batches)
        if method == "formal":
            done -= _n(sim_groups)  # proved below
        if progress:
            progress(done, total)
        outcomes: list[BatchOutcome] = []
        if pool is None or len(batches) <= 1:
            for b in batches:
                outcomes.append(run_batch(b, opts, base))
                done += _n(b)
                if progress:
                    progress(done, total)
        else:
            futs = [pool.submit(run_batch, b, opts, base) for b in batches]
            for f, b in zip(futs, batches):
                try:
                    outcomes.append(f.result())
                except Exception:  # a worker died (e.g. killed for memory): redo it here
                    outcomes.append(run_batch(b, opts, base))
                done += _n(b)
                if progress:
                    progress(done, total)
        outcomes = _verilator_fallback(sim_groups, outcomes, opts, base)
    except BaseException:
        if pool is not None:  # interrupted: stop the simulations now, not when they end
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if base is not None:  # with the directories of simulations killed mid-run
            shutil.rmtree(base, ignore_errors=True)
    for o in outcomes:
        ref_error.update(o.ref_errors)
        for (gid, j), res in o.results.items():
            results[gid][j] = res
    if ref_error and reference_errors == "raise":
        raise VerisliceError(ref_error[min(ref_error)])
    if method == "formal":
        # 3. proofs instead of simulations, on the same front end's texts
        proved = _prove(sim_groups, formal, jobs, only, progress, total, total - _n(sim_groups))
        for (gid, j), res in proved.items():
            results[gid][j] = res
    elif method == "both":
        # 3. proofs of what simulation matched; a difference the prover finds is replayed
        _both(sim_groups, results, formal, jobs)
    for gid, msg in ref_error.items():
        for j, res in enumerate(results[gid]):
            if res is None or res.verdict not in (COMPILE_ERROR, INTERFACE, REJECTED):
                results[gid][j] = CandidateResult(REFERENCE_ERROR, msg,
                                                  name=_label(groups[gid][1][j]))
    for gid, row in enumerate(results):
        for j, res in enumerate(row):
            if res is None:  # cannot happen; never hand back a hole
                row[j] = CandidateResult(REFERENCE_ERROR, "internal error: no verdict",
                                         name=_label(groups[gid][1][j]))
    if method != "sim":  # one method per run: every result says which
        for row in results:
            for j, res in enumerate(row):
                if res is not None and res.method != method:
                    row[j] = replace(res, method=method)
    return results  # type: ignore[return-value]


def _verilator_fallback(sim_groups: list[SimGroup], outcomes: list[BatchOutcome],
                        opts: EquivOptions, base: str | None) -> list[BatchOutcome]:
    """Groups whose reference Icarus cannot compile (real SystemVerilog), simulated again with
    the Verilator engine when it is installed; their Icarus outcomes are dropped (a candidate
    compiled alone with such a reference fails too). Every simulated result names its engine."""
    from . import _verilator

    refused: set[int] = set()
    for o in outcomes:
        refused |= o.icarus_refused
    retry = [g for g in sim_groups if g.gid in refused]
    if retry and opts.engine != "verilator" and _verilator.find() is None:
        for o in outcomes:  # say what would read it
            for gid in refused & set(o.ref_errors):
                o.ref_errors[gid] += f"\n(Verilator could simulate it: {_verilator.HINT})"
    elif retry and opts.engine != "verilator":
        for o in outcomes:
            for gid in refused:
                o.ref_errors.pop(gid, None)
            for key in [k for k in o.results if k[0] in refused]:
                del o.results[key]
        vopts = opts.with_(engine="verilator")
        extra = [run_batch(b, vopts, base) for b in _pack(retry, opts.batch_size)]
        for o in extra:
            o.results.update({k: replace(r, engine="verilator") for k, r in o.results.items()})
        outcomes = outcomes + extra
    for o in outcomes:
        o.results.update({k: replace(r, engine=opts.engine) for k, r in o.results.items()
                          if not r.engine})
    return outcomes


def _prove(sim_groups: list[SimGroup], formal, jobs: int, only, progress, total: int,
           done: int, defined: bool = False) -> dict[tuple[int, int], CandidateResult]:
    """The formal engine on the prepared groups (their candidates passed the front end)."""
    from .._formal import prove_groups

    count = [done]

    def tick(n: int) -> None:
        count[0] += n
        if progress:
            progress(count[0], total)

    if progress:
        progress(done, total)
    return prove_groups(sim_groups, formal, jobs=jobs, only=only, progress=tick,
                        defined=defined)


def _both(sim_groups: list[SimGroup], results: list[list[CandidateResult | None]], formal,
          jobs: int) -> None:
    """``method="both"``: prove the outputs simulation called MATCH and merge, in place."""
    from .._formal_replay import replay_prepared

    only: dict[tuple[int, int], set[str]] = {}
    for g in sim_groups:
        for c in g.cands:
            res = results[c.key[0]][c.key[1]]
            if res is not None and res.verdict == OK:
                matched = {n for n, o in res.outputs.items() if o.verdict == MATCH}
                if matched:
                    only[c.key] = matched
    todo = [g.with_cands([c for c in g.cands if c.key in only]) for g in sim_groups]
    todo = [g for g in todo if g.cands]
    if not todo:
        return
    proved = _prove(todo, formal, jobs, only, None, 0, 0, defined=True)
    for g in todo:
        for c in g.cands:
            gid, j = c.key
            results[gid][j] = _merge(results[gid][j], proved[c.key], g, c, replay_prepared)


def _merge(s: CandidateResult, f: CandidateResult, g: SimGroup, c, replay) -> CandidateResult:
    """Simulation result refined by proofs of its MATCH outputs: PROVEN/BOUNDED replace the
    MATCH; a MISMATCH replaces it once Icarus reproduces the counterexample; anything else
    (UNKNOWN, AMBIGUOUS, a counterexample Icarus does not reproduce) keeps the MATCH with the
    prover's word in the message."""
    from .._errors import VerisliceError as _VE

    short = _uncovered(g)
    if f.verdict != OK:
        note = f"formal: {f.verdict}: {f.message}"
        outs = {n: (replace(o, verdict=UNKNOWN, message=f"{short}; {note}")
                    if short and o.verdict == MATCH else o) for n, o in s.outputs.items()}
        return replace(s, outputs=outs, message=(s.message + "; " if s.message else "") + note)
    outs = dict(s.outputs)
    for n, o in f.outputs.items():
        if n not in outs or outs[n].verdict != MATCH:
            continue
        sim_o = outs[n]
        if o.correct and not (short and o.verdict != PROVEN):
            outs[n] = replace(o, ref_x_samples=sim_o.ref_x_samples)
            continue
        if short and o.verdict != MISMATCH:
            outs[n] = replace(sim_o, verdict=UNKNOWN, message=(
                f"{short}; formal: {o.verdict.lower()}: {o.message}".strip()))
            continue
        if o.verdict == MISMATCH and o.first_failure is not None:
            try:
                r = replay(g, c, n, o.first_failure)
            except _VE as exc:
                note = f"formal: a difference the replay could not check ({exc.message})"
            else:
                if r.differs:
                    outs[n] = replace(o, message=(o.message + "; " if o.message else "") +
                                      "replayed in Icarus (simulation missed it)")
                    continue
                note = (f"formal: a counterexample Icarus does not reproduce (expected "
                        f"{r.expected}, actual {r.actual}): kept the simulation's MATCH")
        else:
            note = f"formal: {o.verdict.lower()}: {o.message}".strip()
        outs[n] = replace(sim_o, message=(sim_o.message + "; " if sim_o.message else "") + note)
    return replace(s, outputs=outs, method="both")


def _uncovered(g: SimGroup) -> str:
    """Why neither a MATCH nor a bounded proof can be trusted for ``g``'s reference, or "".

    Its counters have more bits than any stimulus runs through (``COUNTER_BITS_MAX``: a clock
    counting seconds to twelve hours needs 43,200 enabled cycles to show an error in its hour
    roll-over) and a bounded proof covers a few cycles from reset: under ``method="both"`` such an
    output is correct only when proven for ever (``PROVEN``), otherwise ``UNKNOWN``."""
    bits = g.timing.counter_bits if g.timing.sequential else 0
    if bits <= COUNTER_BITS_MAX:
        return ""
    return (f"not covered: the reference's counters ({bits} bits) need more than the "
            f"{g.stimulus.samples} cycles simulated to run through their range, and no proof "
            f"holds for every cycle")


def _n(groups: list[SimGroup]) -> int:
    return sum(len(g.cands) for g in groups)


def _pack(groups: list[SimGroup], size: int) -> list[list[SimGroup]]:
    """Fill simulations with up to ``size`` candidates, splitting big groups across them. One
    simulation steps one stimulus length, so groups are packed by length (stable order)."""
    batches: list[list[SimGroup]] = []
    cur: list[SimGroup] = []
    room = size
    for g in sorted(groups, key=lambda g: g.stimulus.samples):
        if cur and cur[-1].stimulus.samples != g.stimulus.samples:
            batches.append(cur)
            cur, room = [], size
        cands = list(g.cands)
        while cands:
            take, cands = cands[:room], cands[room:]
            cur.append(g.with_cands(take))
            room -= len(take)
            if room == 0:
                batches.append(cur)
                cur, room = [], size
    if cur:
        batches.append(cur)
    return batches

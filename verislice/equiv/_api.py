"""Public entry points: :func:`check` and :func:`check_batch`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Union

from .._errors import VerisliceError
from .._frontend import Design, Source, load, rename_modules
from ._batch import SimCandidate, SimGroup
from ._detect import Timing, constants_of, detect_timing
from ._options import EquivOptions
from ._results import (COMPILE_ERROR, INTERFACE, MISSING, REFERENCE_ERROR, REJECTED, WIDTH,
                       CandidateResult)
from ._runner import BatchOutcome, run_batch
from ._screen import defined_macros, forbidden_tasks, memory_bits
from ._stimulus import InputSpec, make_stimulus

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


def _load(x, top: str | None, options: EquivOptions) -> Design:
    if isinstance(x, Design):
        return x
    # load() also searches each source file's own directory for `include files
    return load(_sources(x), top=top, include_dirs=options.include_dirs, defines=options.defines)


def _text_of(design: Design) -> str:
    return "\n".join(s.text for s in design.sources)


@dataclass
class _Ref:
    design: Design
    name: str
    timing: Timing
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]
    constants: set[int]


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


def _prepare_ref(gid: int, ref, options: EquivOptions) -> _Ref:
    name = _label(ref)
    try:
        d = _load(ref, options.top_ref, options)
        timing = detect_timing(d, options)
    except VerisliceError as exc:
        raise VerisliceError(f"reference {name}: {exc.message}") from None
    odd = _non_vector_ports(d)
    if odd:
        raise VerisliceError(f"reference {name}: only bit-vector ports are supported ({odd})")
    outputs = tuple((p.name, p.width) for p in d.ports if p.direction == "output")
    if not outputs:
        raise VerisliceError(f"reference {name}: module {d.top} has no outputs to compare")
    inputs = tuple((p.name, p.width) for p in d.ports if p.direction == "input")
    return _Ref(d, name, timing, inputs, outputs, constants_of(d))


def _load_candidate(cand, ref: _Ref, options: EquivOptions) -> Design:
    """The candidate's design. Without ``top_gen``: the module no other instantiates, unless
    its ports are not the reference's; then the module that has the reference's port names
    (preferring the reference's module name): an answer may ship a testbench or helpers."""
    if isinstance(cand, Design) or options.top_gen is not None:
        return _load(cand, options.top_gen, options)
    want = {p.name for p in ref.design.ports}
    first: Design | None = None
    try:
        first = _load(cand, None, options)
        if {p.name for p in first.ports} == want:
            return first
    except VerisliceError as exc:
        if "several top modules" not in exc.message:
            raise
        error = exc
    from .._frontend import module_names

    names = [n for s in _sources(cand) for n in module_names(
        s.text if isinstance(s, Source) else Source.read(s).text)]
    names = sorted(set(names), key=lambda n: (n != ref.design.top, names.index(n)))
    matches = []
    for name in names:
        if first is not None and name == first.top:
            continue
        try:
            d = _load(cand, name, options)
        except VerisliceError:
            continue
        if {p.name for p in d.ports} == want:
            matches.append(d)
    if matches and (len(matches) == 1 or matches[0].top == ref.design.top):
        return matches[0]
    if len(matches) > 1:
        raise VerisliceError(f"several top modules with the reference's ports "
                             f"({', '.join(m.top for m in matches)}): choose one with --top-gen")
    if first is not None:
        return first  # its ports differ: an INTERFACE verdict says how
    raise error


def _prepare_candidate(key: tuple[int, int], cand, ref: _Ref, options: EquivOptions,
                       constants: set[int]) -> SimCandidate | CandidateResult:
    name = _label(cand)
    start = time.monotonic()

    def fail(verdict: str, msg: str, top: str = "") -> CandidateResult:
        return CandidateResult(verdict, msg, name=name, top=top,
                               seconds=time.monotonic() - start)

    try:
        d = _load_candidate(cand, ref, options)
    except VerisliceError as exc:
        from .._errors import DiagnosticError

        if isinstance(exc, DiagnosticError):
            return fail(COMPILE_ERROR, exc.message)
        return fail(INTERFACE if "top" in exc.message or "port" in exc.message else
                    COMPILE_ERROR, exc.message)
    if not options.allow_file_io:
        bad = forbidden_tasks(d)
        if bad:
            listed = ", ".join(f"{t} ({w})" for t, w in bad[:5])
            return fail(REJECTED, f"file/system tasks are not allowed: {listed} "
                                  "(allow them with --allow-file-io)", d.top)
    bits = memory_bits(d)
    if bits > options.max_memory_bits:
        return fail(REJECTED, f"variables hold {bits} bits, more than the limit of "
                              f"{options.max_memory_bits} (--max-memory-bits)", d.top)
    ports = {p.name: p for p in d.ports}
    problems = []
    odd = _non_vector_ports(d, {n for n, _w in ref.inputs + ref.outputs})
    if odd:
        problems.append(f"only bit-vector ports are supported ({odd})")
    ref_in = dict(ref.inputs)
    ref_out = dict(ref.outputs)
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
        return fail(INTERFACE, "; ".join(problems), d.top)
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
    constants.update(constants_of(d))
    prefix = f"vs{key[0]}c{key[1]}_"
    text = rename_modules(_text_of(d), prefix)
    return SimCandidate(key, name, d.top, prefix + d.top, prefix, text, outputs, notes,
                        defined_macros(d))


def check(ref: DesignInput, cand: DesignInput, *, options: EquivOptions | None = None,
          **kw) -> CandidateResult:
    """Compare one candidate with a reference, output by output.

    ``ref``/``cand``: a path, a :class:`~verislice.Source`, a list of them, or a loaded
    :class:`~verislice.Design`. Keyword arguments are :class:`EquivOptions` fields
    (``cycles=2000, seed=7, clock="clk", ...``). Raises :class:`~verislice.VerisliceError` when
    the reference is unusable; every candidate problem is a verdict in the result.
    """
    return check_batch([(ref, [cand])], options=options, **kw)[0][0]


@dataclass
class _Prepared:
    """One group after the front end: what to simulate, and the verdicts already known."""

    gid: int
    group: SimGroup | None
    verdicts: dict[int, CandidateResult]
    ref_error: str | None = None


def _prepare_group(gid: int, ref, cands, opts: EquivOptions) -> _Prepared:
    try:
        r = _prepare_ref(gid, ref, opts)
    except VerisliceError as exc:
        return _Prepared(gid, None, {}, exc.message)
    constants = set(r.constants)
    sims, verdicts = [], {}
    for j, cand in enumerate(cands):
        prepared = _prepare_candidate((gid, j), cand, r, opts, constants)
        if isinstance(prepared, CandidateResult):
            verdicts[j] = prepared
        else:
            sims.append(prepared)
    if not sims:
        return _Prepared(gid, None, verdicts)
    ref_prefix = f"vs{gid}r_"
    specs = [InputSpec(n, w) for n, w in r.inputs]
    stim = make_stimulus(specs, r.timing, constants, samples=opts.cycles, seed=opts.seed,
                         sequences=opts.sequences, key=_text_of(r.design))
    group = SimGroup(gid, r.name, r.design.top, ref_prefix + r.design.top, ref_prefix,
                     rename_modules(_text_of(r.design), ref_prefix), r.inputs, r.outputs,
                     r.timing, stim, tuple(sims), defined_macros(r.design))
    return _Prepared(gid, group, verdicts)


def _prepare_chunk(items: list, opts: EquivOptions) -> list[_Prepared]:
    return [_prepare_group(gid, ref, cands, opts) for gid, ref, cands in items]


def _chunks(items: list, size: int) -> list[list]:
    out, cur, n = [], [], 0
    for it in items:
        cur.append(it)
        n += max(1, len(it[2]))
        if n >= size:
            out.append(cur)
            cur, n = [], 0
    if cur:
        out.append(cur)
    return out


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
                **kw) -> list[list[CandidateResult]]:
    """Check many ``(reference, [candidates])`` groups; results in input order.

    Candidates of several groups are packed into one simulation (up to ``batch_size``);
    parsing and simulations run on ``jobs`` worker processes. ``reference_errors="raise"``
    raises :class:`~verislice.VerisliceError` for an unusable reference; ``"report"`` gives each
    of that group's candidates the verdict ``REFERENCE_ERROR`` instead. ``progress(done,
    total)`` is called as candidates finish.
    """
    if reference_errors not in ("raise", "report"):
        raise ValueError("reference_errors must be 'raise' or 'report'")
    if jobs < 1:
        raise VerisliceError("--jobs must be at least 1")
    opts = EquivOptions.from_kwargs(options, **kw)
    results: list[list[CandidateResult | None]] = [[None] * len(c) for _r, c in groups]
    items = [(gid, ref, list(cands)) for gid, (ref, cands) in enumerate(groups)]
    total = sum(len(c) for _r, c in groups)
    pool = None
    if jobs > 1 and total > 1:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context())
    try:
        # 1. front end (pyslang), screening, stimulus: per group, in the workers when possible
        in_process = any(isinstance(x, Design) for _g, ref, cands in items for x in [ref, *cands])
        chunks = _chunks(items, opts.batch_size)
        if pool is None or in_process or len(chunks) < 2:
            prepared = _prepare_chunk(items, opts)
        else:
            prepared = [p for part in pool.map(_prepare_chunk, chunks, [opts] * len(chunks))
                        for p in part]
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
        batches = _pack(sim_groups, opts.batch_size)
        done = total - sum(_n(b) for b in batches)
        if progress:
            progress(done, total)
        outcomes: list[BatchOutcome] = []
        if pool is None or len(batches) <= 1:
            for b in batches:
                outcomes.append(run_batch(b, opts))
                done += _n(b)
                if progress:
                    progress(done, total)
        else:
            futs = [pool.submit(run_batch, b, opts) for b in batches]
            for f, b in zip(futs, batches):
                try:
                    outcomes.append(f.result())
                except Exception:  # a worker died (e.g. killed for memory): redo it here
                    outcomes.append(run_batch(b, opts))
                done += _n(b)
                if progress:
                    progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for o in outcomes:
        ref_error.update(o.ref_errors)
        for (gid, j), res in o.results.items():
            results[gid][j] = res
    if ref_error and reference_errors == "raise":
        raise VerisliceError(ref_error[min(ref_error)])
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
    return results  # type: ignore[return-value]


def _n(groups: list[SimGroup]) -> int:
    return sum(len(g.cands) for g in groups)


def _pack(groups: list[SimGroup], size: int) -> list[list[SimGroup]]:
    """Fill simulations with up to ``size`` candidates, splitting big groups across them."""
    batches: list[list[SimGroup]] = []
    cur: list[SimGroup] = []
    room = size
    for g in groups:
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

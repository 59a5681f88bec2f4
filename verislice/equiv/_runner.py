"""Compile and simulate one batch in its own directory; isolate bad candidates.

* Compile: iverilog on the testbench, every reference and every candidate (one file each). When it
  fails, the errors are attributed to files (and testbench lines to their candidate); those
  candidates get COMPILE_ERROR and the rest is compiled again (the loop of
  :func:`verislice._blame.blame_batch`). Errors nobody can be blamed for split the batch in
  halves.
* Verilator (``engine="verilator"``, :mod:`._verilator`) builds the same testbench into a C++
  binary instead; blame is found the same way (its messages name files and lines too), a design
  alone is checked with Verilator's front end only (no C++ build).
* Simulate: cocotb on Icarus (or vvp alone, or the Verilator binary). A run that times out,
  ends early (``$finish``, ``$stop``) or crashes is split in halves until the one candidate
  responsible is alone; it gets TIMEOUT or REJECTED, the others their normal verdicts.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._blame import LOCATED, Attempt, blame_batch
from .._sandbox import RunResult, run_limited, sandbox_dir
from . import _verilator
from ._batch import SimCandidate, SimGroup
from ._options import EquivOptions
from ._results import (AMBIGUOUS, COMPILE_ERROR, MATCH, MISMATCH, OK, REJECTED, TIMEOUT,
                       CandidateResult, FirstFailure, OutputResult)
from ._wrapper import TB_TOP, Layout, build_testbench, stimulus_hex

__all__ = ["BatchOutcome", "run_batch"]

_COCOTB_DIR = Path(__file__).with_name("_cocotb")
_COCOTB_MODULE = "verislice_equiv_cocotb"


@dataclass
class BatchOutcome:
    results: dict[tuple[int, int], CandidateResult]
    ref_errors: dict[int, str]  # gid -> message
    simulations: int = 0
    slowest_ok: float = 0.0  # wall seconds of the slowest simulation that finished
    compiles: int = 0
    # groups whose reference an Icarus engine cannot compile (the caller may retry them with
    # Verilator)
    icarus_refused: set[int] = field(default_factory=set)


_workdir: str | None = None  # where this process's simulation directories go (see run_batch)


def run_batch(groups: list[SimGroup], options: EquivOptions,
              workdir: str | None = None) -> BatchOutcome:
    """Verdicts for every candidate of ``groups`` (never raises for bad candidates).

    ``workdir``: the directory to make simulation directories in (the caller removes it as a
    whole, even when it had to kill this process mid-simulation)."""
    global _workdir
    lengths = {g.stimulus.samples for g in groups}
    if len(lengths) > 1:
        raise ValueError(f"one simulation steps one stimulus length, not {sorted(lengths)}")
    if lengths:  # the reference's own budget (automatic cycles) drives this simulation
        options = options.with_(cycles=lengths.pop())
    out = BatchOutcome({}, {})
    previous, _workdir = _workdir, workdir
    try:
        _run(groups, options, out, ref_checked=set())
    finally:
        _workdir = previous
    return out


# -- driver ------------------------------------------------------------------------------------

def _ncands(groups: list[SimGroup]) -> int:
    return sum(len(g.cands) for g in groups)


def _split(groups: list[SimGroup]) -> tuple[list[SimGroup], list[SimGroup]]:
    flat = [(g, c) for g in groups for c in g.cands]
    half = len(flat) // 2
    parts = []
    for sel in (flat[:half], flat[half:]):
        by: dict[int, list[SimCandidate]] = {}
        for g, c in sel:
            by.setdefault(g.gid, []).append(c)
        parts.append([g.with_cands(by[g.gid]) for g in groups if g.gid in by])
    return parts[0], parts[1]


def _run(groups: list[SimGroup], options: EquivOptions, out: BatchOutcome,
         ref_checked: set[int]) -> None:
    groups = [g for g in groups if g.gid not in out.ref_errors]
    if not groups:
        return
    start = time.monotonic()
    with sandbox_dir("verislice-equiv-", keep=options.keep_dir,
                     parent=None if options.keep_dir else _workdir) as d:
        groups = _compile(groups, options, out, d)
        if groups is None:  # split and handled recursively
            return
        if not groups:
            return
        n = _ncands(groups)
        res, detail = _simulate(groups, options, out, d, n)
        if res is not None:
            layout, text = res
            _collect(groups, layout, text, out, (time.monotonic() - start) / max(n, 1))
            ref_checked.update(g.gid for g in groups)
            return
        where = f" (kept in {d})" if options.keep_dir else ""
    # the simulation failed: find who is responsible
    if n > 1:
        for part in _split(groups):
            _run(part, options, out, ref_checked)
        return
    if n == 0:
        for g in groups:
            out.ref_errors[g.gid] = f"reference {g.ref_name} does not simulate: {detail}{where}"
        return
    g = groups[0]
    if g.gid not in ref_checked:
        _run([g.with_cands([])], options, out, ref_checked)
        if g.gid in out.ref_errors:
            return
        ref_checked.add(g.gid)
    c = g.cands[0]
    timed_out = detail.startswith("timed out")
    verdict = TIMEOUT if timed_out else REJECTED
    msg = (f"simulation {detail}" if timed_out else
           f"the candidate stopped the simulation early ($finish/$stop, a fatal error or a "
           f"crash): {detail}")
    out.results[c.key] = CandidateResult(verdict, _clean(msg, {}), name=c.name, top=c.top,
                                         seconds=time.monotonic() - start)


# -- compile -----------------------------------------------------------------------------------

def _write_sources(groups: list[SimGroup], d: Path) -> dict[str, object]:
    """One file per design under a random name (file -> SimCandidate or ("ref", gid)).

    The texts are canonical (no directives), so no file can change the meaning of the next; the
    names are unguessable, so no text can point a compile error at a neighbour."""
    owner: dict[str, object] = {}
    for g in groups:
        fn = f"r{secrets.token_hex(6)}.v"
        _write(d / fn, g.ref_text)
        owner[fn] = ("ref", g.gid)
        for c in g.cands:
            fn = f"c{secrets.token_hex(6)}.v"
            _write(d / fn, c.text)
            owner[fn] = c
    return owner


def _write(path: Path, text: str) -> None:
    # a model may emit lone surrogates: never crash on them, never change other text
    path.write_bytes(text.encode("utf-8", "replace"))


_COMPILE_FAILED = 97  # exit code of the combined run when iverilog failed


def _tool(options: EquivOptions) -> str:
    return "Verilator" if options.engine == "verilator" else "iverilog"


def _artifact(options: EquivOptions, d: Path) -> Path:
    """What a successful compile leaves in ``d``."""
    return d / (_verilator.BINARY if options.engine == "verilator" else "sim.vvp")


def _compile_command(options: EquivOptions, files: list[str], lint: bool = False
                     ) -> tuple[list[str], dict[str, str] | None, tuple[str, ...], float]:
    """argv, environment, extra readable paths and time limit of compiling ``files`` (the
    testbench first); ``lint``: Verilator's front end only."""
    if options.engine != "verilator":
        argv = ["iverilog", "-g2012", "-o", "sim.vvp", "-s", TB_TOP, "-f", "cmds.f"]
        if options.engine == "vvp":
            # read only by tb.v: the designs have no directives
            argv.append("-DVERISLICE_STANDALONE")
        return argv + files, None, (), 60 + 2 * len(files)
    v = _verilator.require()
    if lint:
        return _verilator.lint_argv(v, files), v.env(), (), 60 + 2 * len(files)
    runtime = _verilator.runtime_dir(v, options.memory_mb)
    # C++ is the cost: allow minutes for big designs
    script = _verilator.build_script(v, files, runtime, jobs=min(4, os.cpu_count() or 1))
    return ["sh", "-c", script], v.env(), (str(runtime),), 180 + 30 * len(files)


def _try_compile(groups: list[SimGroup], options: EquivOptions, d: Path, out: BatchOutcome,
                 simulate: bool = False, lint: bool = False
                 ) -> tuple[RunResult, Layout, str, dict[str, object]]:
    """One iverilog run of the testbench and ``groups`` in the (emptied) directory ``d``.

    With ``simulate``, the simulation runs right after a successful compile in the same sandbox
    (one sandbox start instead of two: most batches compile at once); its outcome is left in
    ``d`` for :func:`_simulate` to read instead of running it again."""
    for f in d.iterdir():
        if f.is_file():
            f.unlink()
        elif f.name == "obj":  # a Verilator build
            shutil.rmtree(f, ignore_errors=True)
    nonce = secrets.token_hex(8)
    tb, layout = build_testbench(groups, options.cycles, nonce)
    _write(d / "tb.v", tb)
    _write(d / "cmds.f", "+timescale+1ns/1ps\n")
    owner = _write_sources(groups, d)
    argv, cenv, readable, timeout = _compile_command(options, ["tb.v", *owner], lint)
    out.compiles += 1
    if not simulate:
        return run_limited(argv, d, timeout=timeout, env=cenv, memory_mb=options.memory_mb,
                           readable=readable), layout, nonce, owner
    _write(d / "stim.hex", stimulus_hex(groups, layout, options.cycles))
    _write(d / ".nonce", nonce)
    sim_argv, env, sim_timeout = _sim_command(groups, options, d, out)
    # the simulation gets its own limit inside (coreutils timeout), so a hang is found as fast
    # as in a run of its own
    script = (f"{shlex.join(argv)} >compile.log 2>&1 || exit {_COMPILE_FAILED}; "
              f"exec timeout -s KILL {sim_timeout:.3f} {shlex.join(sim_argv)} >sim.log 2>&1")
    if cenv is not None:
        env = {**cenv, **(env or {})}
    r = run_limited(["sh", "-c", script], d, timeout=timeout + sim_timeout + 5, env=env,
                    memory_mb=options.memory_mb, readable=readable)
    log = (d / "compile.log").read_text(errors="replace") if (d / "compile.log").exists() else ""
    compiled = r.returncode != _COMPILE_FAILED and _artifact(options, d).exists() and \
        not (r.timed_out and not (d / "sim.log").exists())
    if not compiled:
        return RunResult(tuple(argv), None if r.timed_out else 1, "", log, r.timed_out,
                         r.seconds), layout, nonce, owner
    # compiled: record the simulation's outcome for _simulate (a KILL from `timeout` is its
    # time limit)
    timed_out = r.timed_out or r.returncode in (-9, 137)
    _SIM_DONE[d] = (RunResult(tuple(sim_argv), None if timed_out else r.returncode, "", "",
                              timed_out, r.seconds), sim_timeout)
    return RunResult(tuple(argv), 0, "", log, False, r.seconds), layout, nonce, owner


#: Simulations already run by a combined compile-and-simulate run, by directory.
_SIM_DONE: dict[Path, tuple[RunResult, float]] = {}


def _compile(groups: list[SimGroup], options: EquivOptions, out: BatchOutcome,
             d: Path) -> list[SimGroup] | None:
    """Compile, dropping candidates that fail; None when the batch was split instead.

    Compiler messages only suggest whom to blame (:func:`verislice._blame.blame_batch`): a
    reference is blamed when it fails alone (its candidates leave with it, unblamed), a candidate
    gets COMPILE_ERROR only when it also fails compiled alone with its reference, so no text can
    make a neighbour fail. The batch's designs are ``("ref", gid)`` and the candidates' keys."""
    by_gid = {g.gid: g for g in groups}
    cands = {c.key: (g, c) for g in groups for c in g.cands}
    designs = [k for g in groups for k in (("ref", g.gid), *(c.key for c in g.cands))]
    first = True
    last: tuple[RunResult, dict[str, object]] | None = None  # the last failed compile

    def batch_groups(keys: list[tuple]) -> list[SimGroup]:
        keep = set(keys)
        return [g.with_cands([c for c in g.cands if c.key in keep]) for g in groups
                if ("ref", g.gid) in keep]

    def attempt(keys: list[tuple]) -> Attempt[tuple]:
        nonlocal first, last
        batch = batch_groups(keys)
        r, layout, nonce, owner = _try_compile(batch, options, d, out, simulate=first)
        if r.ok and _artifact(options, d).exists():
            if not first:
                _write(d / "stim.hex", stimulus_hex(batch, layout, options.cycles))
                _write(d / ".nonce", nonce)
            first = False
            return Attempt(True)
        first, last = False, (r, owner)
        named: set[tuple] = set()
        for line in ([] if r.timed_out else (r.stderr + "\n" + r.stdout).splitlines()):
            m = LOCATED.match(line)
            if not m or ": warning:" in line or line.startswith("%Warning"):  # never blames
                continue
            f, ln = m["file"], int(m["line"])
            who = layout.line_owner.get(ln) if f == "tb.v" else owner.get(f)
            if isinstance(who, SimCandidate):
                named.add(who.key)
            elif isinstance(who, tuple):  # ("ref", gid), or a candidate's key (testbench lines)
                named.add(who)
        return Attempt(False, frozenset(named))

    def alone(key: tuple) -> str | None:
        if key[0] == "ref":
            return _alone_error(by_gid[key[1]].with_cands([]), options)
        g, c = cands[key]
        return _alone_error(g.with_cands([c]), options)

    def candidates_of(key: tuple) -> list[tuple]:
        return [c.key for c in by_gid[key[1]].cands] if key[0] == "ref" else []

    found = blame_batch(designs, attempt, alone, split=False, dependents=candidates_of)
    for key, error in found.errors.items():
        if key[0] == "ref":
            out.ref_errors[key[1]] = (f"reference {by_gid[key[1]].ref_name} does not compile "
                                      f"with {_tool(options)}:\n{error}")
            if options.engine != "verilator":
                out.icarus_refused.add(key[1])
        else:
            c = cands[key][1]
            out.results[c.key] = CandidateResult(COMPILE_ERROR, error, name=c.name, top=c.top)
    groups = batch_groups(found.left)
    if not found.stuck:
        return groups
    # nobody to blame: split, or blame the only one left
    assert last is not None
    r, owner = last
    text = (r.stderr + "\n" + r.stdout).strip()
    n = _ncands(groups)
    detail = "timed out" if r.timed_out else (text.splitlines()[-1] if text else
                                              f"exit code {r.returncode}")
    if n > 1:
        for part in _split(groups):
            _run(part, options, out, set())
        return None
    if n == 1:
        g = groups[0]
        c = g.cands[0]
        verdict = TIMEOUT if r.timed_out else COMPILE_ERROR
        out.results[c.key] = CandidateResult(
            verdict, _clean(f"{_tool(options)}: {text or detail}"[:4000], owner), name=c.name,
            top=c.top)
        return []
    for g in groups:
        out.ref_errors[g.gid] = f"reference {g.ref_name} does not compile: {detail}"
    return []


def _alone_error(group: SimGroup, options: EquivOptions) -> str | None:
    """``None`` when ``group`` (a reference and at most one candidate) compiles in a testbench
    of its own, else the compiler's messages about it."""
    lint = options.engine == "verilator"  # its front end finds what a design is to blame for
    with sandbox_dir("verislice-equiv-alone-", parent=_workdir) as d:
        r, _layout, _nonce, owner = _try_compile([group], options, d, BatchOutcome({}, {}),
                                                 lint=lint)
        if r.ok and (lint or _artifact(options, d).exists()):
            return None
        lines = [ln for ln in (r.stderr + "\n" + r.stdout).splitlines()
                 if ln.strip() and not ln.startswith(("%Warning", "- V e r i l a t i o n",
                                                      "- Verilator:"))]
        if r.timed_out:
            lines.append(f"{_tool(options)} timed out")
        return _clean("\n".join(lines[:20]), owner)


def _clean(msg: str, owner: dict[str, object]) -> str:
    """Compiler messages in the user's terms: file names and module prefixes of our own
    making replaced by the designs' names."""
    for fn, who in owner.items():
        if isinstance(who, SimCandidate):
            msg = msg.replace(fn + ":", who.name + ":").replace(who.prefix, "")
        else:
            msg = msg.replace(fn + ":", "reference:")
    return re.sub(r"\bvs\d+[rc]\d*_", "", msg)


# -- simulate ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _cocotb_paths() -> tuple[str, str, str, str]:
    """(libpython, cocotb's PyGPI library, its VPI module for Icarus, its libs directory), found
    once per process and without importing the ``cocotb`` package (which imports pytest)."""
    import importlib.machinery

    import cocotb_tools.config as cfg
    import find_libpython

    simulator = next((cfg.base_cocotb_dir / f"simulator{suffix}"
                      for suffix in importlib.machinery.EXTENSION_SUFFIXES
                      if (cfg.base_cocotb_dir / f"simulator{suffix}").is_file()), None)
    if simulator is None:  # an unusual layout: ask cocotb itself
        import cocotb.simulator

        simulator = Path(cocotb.simulator.__file__)
    return (find_libpython.find_libpython() or "", str(simulator.resolve()),
            str(cfg.lib_entry("vpi", "icarus")), str(cfg.libs_dir))


def _cocotb_env(d: Path, sim_ns: int) -> dict[str, str]:
    """Environment of a cocotb simulation in ``d``: cocotb's PyGPI starts Python in ``vvp`` and
    calls ``verislice_equiv_cocotb.start`` (``verislice/equiv/_cocotb``), which starts the
    testbench's driver, waits for ``done`` (at most ``sim_ns`` simulated ns), checks the results
    file's nonce and writes its verdict to ``cocotb.txt``."""
    lib, simulator, _vpi, libs = _cocotb_paths()
    # only what cocotb needs: the sandbox starts from an empty environment, so nothing of the
    # caller's (tokens, credentials) reaches the simulation
    return {
        "GPI_USERS": ";".join([lib, f"{simulator},initialize"]),
        "PATH": "/usr/local/bin:/usr/bin:/bin" + os.pathsep + libs,
        "PYTHONPATH": str(_COCOTB_DIR),
        "PYGPI_PYTHON_BIN": sys.executable,
        "PYGPI_USERS": f"{_COCOTB_MODULE}:start",
        "PYTHONDONTWRITEBYTECODE": "1",
        "VERISLICE_COCOTB_SIMULATOR": simulator,
        "VERISLICE_NONCE": (d / ".nonce").read_text(),
        "VERISLICE_TOP": TB_TOP,
        "VERISLICE_SIM_NS": str(sim_ns),
    }


def _sim_command(groups: list[SimGroup], options: EquivOptions, d: Path,
                 out: BatchOutcome) -> tuple[list[str], dict[str, str] | None, float]:
    """How to simulate the compiled ``groups`` in ``d``: argv, environment, time limit."""
    timeout = options.sim_timeout(_ncands(groups))
    if out.slowest_ok:
        # isolating a hang: parts of a batch that already ran cannot need 10x its time
        timeout = min(timeout, max(3.0, 10 * out.slowest_ok))
    if options.engine == "cocotb":
        argv = ["vvp", "-n", "-m", _cocotb_paths()[2], "sim.vvp", "-none"]
        return argv, _cocotb_env(d, options.cycles * 10 + 100), timeout
    if options.engine == "verilator":
        return ["./" + _verilator.BINARY, *_verilator.RUN_ARGS], None, timeout
    return ["vvp", "-n", "sim.vvp", "-none"], None, timeout


def _simulate(groups: list[SimGroup], options: EquivOptions, out: BatchOutcome, d: Path,
              n: int) -> tuple[tuple[Layout, str] | None, str]:
    samples = options.cycles
    nonce = (d / ".nonce").read_text()
    _, layout = build_testbench(groups, samples, nonce)
    log = d / "sim.log"
    done = _SIM_DONE.pop(d, None)
    if done is not None:  # already run by the combined compile-and-simulate run
        r, timeout = done
    else:
        argv, env, timeout = _sim_command(groups, options, d, out)
        # the simulator's output goes to a file: the file-size limit stops a candidate that
        # floods it ($display in a loop) instead of the parent buffering it in memory
        r = run_limited(["sh", "-c", 'exec "$@" >sim.log 2>&1', "sh", *argv], d,
                        timeout=timeout, env=env, memory_mb=options.memory_mb)
    size = 0
    if log.exists():
        with log.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 20000))
            tail = fh.read().decode("utf-8", "replace")
        r = RunResult(r.argv, r.returncode, tail, r.stderr, r.timed_out, r.seconds)
    out.simulations += 1
    res = d / "results.txt"
    text = res.read_text(errors="replace") if res.exists() else ""
    # cocotb's verdict on the run (it checked the same nonce); the vvp engine has none
    status = _cocotb_status(d) if options.engine == "cocotb" else "PASS"
    if not r.timed_out and text.rstrip().endswith(f"END {nonce}") and status == "PASS":
        out.slowest_ok = max(out.slowest_ok, r.seconds)
        return (layout, text), ""
    return None, _failure(r, timeout, status, size)


def _cocotb_status(d: Path) -> str:
    """The first line of ``cocotb.txt`` (``PASS`` or ``FAIL <why>``), "" when there is none."""
    path = d / "cocotb.txt"
    if not path.is_file():
        return ""
    with path.open("rb") as fh:
        return fh.read(1000).decode("utf-8", "replace").partition("\n")[0].strip()


#: Simulator output (the candidates' own $display; the testbench writes results.txt) beyond which
#: a stopped simulation was flooding, whether the file-size limit or the time limit stopped it
#: first: which comes first depends on the machine's load, the verdict must not.
FLOOD_BYTES = 8 << 20


def _failure(r: RunResult, timeout: float, status: str = "", log_bytes: int = 0) -> str:
    if log_bytes >= FLOOD_BYTES:
        return (f"stopped after printing {log_bytes >> 20} MB (output file size limit: the "
                f"candidate printed too much)")
    if r.timed_out:
        return f"timed out after {timeout:.1f} s"
    tail = [ln for ln in (r.stdout + "\n" + r.stderr).splitlines() if ln.strip()]
    keep = [ln.strip() for ln in tail if "$finish" in ln or "$stop" in ln or "rror" in ln
            or "FATAL" in ln or "alloc" in ln.lower()][-3:]
    if status.startswith("FAIL "):
        keep.append("cocotb: " + status[5:])
    code = r.returncode
    why = {-25: " (output file size limit: the candidate printed too much)",
           153: " (output file size limit: the candidate printed too much)",
           -9: " (killed)", -11: " (segmentation fault)", -6: " (aborted)"}.get(code or 0, "")
    return f"exit code {code}{why}" + (": " + " | ".join(keep) if keep else "")


# -- results -----------------------------------------------------------------------------------

def _collect(groups: list[SimGroup], layout: Layout, text: str, out: BatchOutcome,
             seconds: float) -> None:
    pairs: dict[int, tuple[int, int, str, str]] = {}
    refs: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "P" and len(parts) == 6:
            pairs[int(parts[1])] = (int(parts[2]), int(parts[3]), parts[4], parts[5])
        elif parts and parts[0] == "R" and len(parts) == 4:
            refs[int(parts[1])] = (int(parts[2]), int(parts[3]))
    ref_stats = {(gid, name): refs.get(q, (0, 0)) for q, (gid, name, _w) in enumerate(layout.refs)}
    slot_of = {(s.key, s.output): p for p, s in enumerate(layout.pairs)}
    samples = None
    for g in groups:
        clocks = set(g.timing.clock_names)
        data_widths = {n: w for n, w in g.inputs if n not in clocks}
        samples = g.stimulus.samples
        for c in g.cands:
            outputs: dict[str, OutputResult] = {}
            for name, width in g.outputs:
                refx, refk = ref_stats[(g.gid, name)]
                if name in c.notes:
                    verdict, cw = c.notes[name]
                    outputs[name] = OutputResult(name, verdict, 0, 0, None, width, cw, refx)
                    continue
                cnt, first, exp, act = pairs.get(slot_of[(c.key, name)], (0, -1, "", ""))
                seq = g.timing.clock is not None
                n_samples = samples * (2 if seq else 1)
                ff = None
                msg = ""
                if cnt and first >= 0:
                    cycle, phase = divmod(first, 2)
                    ff = FirstFailure(cycle, g.stimulus.inputs_at(cycle, data_widths),
                                      exp[-width:], act[-width:])
                    if g.clocks:  # free-running clocks: say when, not which edge
                        msg = (f"first difference in step {cycle}, {9 if phase else 4} ns into "
                               f"it (clocks {', '.join(c[0] for c in g.clocks)} run free)")
                    elif seq:
                        msg = (f"first difference in cycle {cycle}, "
                               f"{'after' if phase else 'before'} the active clock edge")
                if cnt:
                    verdict = MISMATCH
                elif refk == 0:
                    verdict = AMBIGUOUS
                else:
                    verdict = MATCH
                if verdict == AMBIGUOUS:
                    msg = "the reference output was X/Z on every sample: nothing to compare"
                elif refx and not cnt:
                    msg = (f"the reference output had X/Z bits on {refx} of {n_samples} samples "
                           "(don't-care there)")
                outputs[name] = OutputResult(name, verdict, cnt, n_samples, ff, width, width, refx,
                                             message=msg)
            out.results[c.key] = CandidateResult(OK, "", outputs, name=c.name, top=c.top,
                                                 seconds=seconds)

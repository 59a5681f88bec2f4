"""Compile and simulate one batch in its own directory; isolate bad candidates.

* Compile: iverilog on the testbench, every reference and every candidate (one file each). When it
  fails, the errors are attributed to files (and testbench lines to their candidate); those
  candidates get COMPILE_ERROR and the rest is compiled again. Errors nobody can be blamed for
  split the batch in halves.
* Simulate: cocotb on Icarus (or vvp alone). A run that times out, ends early (``$finish``,
  ``$stop``) or crashes is split in halves until the one candidate responsible is alone; it gets
  TIMEOUT or REJECTED, the others their normal verdicts.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .._sandbox import RunResult, run_limited, sandbox_dir
from ._batch import SimCandidate, SimGroup
from ._options import EquivOptions
from ._results import (AMBIGUOUS, COMPILE_ERROR, MATCH, MISMATCH, OK, REJECTED, TIMEOUT,
                       CandidateResult, FirstFailure, OutputResult)
from ._wrapper import TB_TOP, Layout, build_testbench, stimulus_hex

__all__ = ["BatchOutcome", "run_batch"]

_LOC = re.compile(r"^(?P<file>[^:\s]+\.v):(?P<line>\d+):", re.MULTILINE)
_COCOTB_DIR = Path(__file__).with_name("_cocotb")
_COCOTB_MODULE = "verislice_equiv_cocotb"


@dataclass
class BatchOutcome:
    results: dict[tuple[int, int], CandidateResult]
    ref_errors: dict[int, str]  # gid -> message
    simulations: int = 0
    slowest_ok: float = 0.0  # wall seconds of the slowest simulation that finished
    compiles: int = 0


def run_batch(groups: list[SimGroup], options: EquivOptions) -> BatchOutcome:
    """Verdicts for every candidate of ``groups`` (never raises for bad candidates)."""
    out = BatchOutcome({}, {})
    _run(groups, options, out, ref_checked=set())
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
    with sandbox_dir("verislice-equiv-", keep=options.keep_dir) as d:
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
    out.results[c.key] = CandidateResult(verdict, _clean(msg, [c]), name=c.name, top=c.top,
                                         seconds=time.monotonic() - start)


# -- compile -----------------------------------------------------------------------------------

def _epilogue(macros: tuple[str, ...], options: EquivOptions) -> str:
    """What ends every design file: nothing it set may reach the next file (Icarus compiles
    all files as one unit): `resetall, its macros undefined, the user's -D macros restored."""
    lines = ["", "`resetall"]
    lines += [f"`undef {m}" for m in macros]
    for name, value in (options.defines or {}).items():
        if name in macros:
            lines.append(f"`define {name}" + ("" if value is None else f" {value}"))
    return "\n".join(lines) + "\n"


def _write_sources(groups: list[SimGroup], d: Path,
                   options: EquivOptions) -> tuple[list[str], dict[str, object]]:
    files: list[str] = []
    owner: dict[str, object] = {}  # file -> SimCandidate or ("ref", gid)
    for g in groups:
        fn = f"g{g.gid}_ref.v"
        (d / fn).write_text(g.ref_text + _epilogue(g.ref_macros, options), encoding="utf-8")
        files.append(fn)
        owner[fn] = ("ref", g.gid)
        for j, c in enumerate(g.cands):
            fn = f"g{g.gid}_c{j}.v"
            (d / fn).write_text(c.text + _epilogue(c.macros, options), encoding="utf-8")
            files.append(fn)
            owner[fn] = c
    return files, owner


def _compile(groups: list[SimGroup], options: EquivOptions, out: BatchOutcome,
             d: Path) -> list[SimGroup] | None:
    """Compile, dropping candidates that fail; None when the batch was split instead."""
    while True:
        for f in d.iterdir():
            if f.is_file():
                f.unlink()
        samples = options.cycles
        nonce = secrets.token_hex(8)
        tb, layout = build_testbench(groups, samples, nonce)
        (d / "tb.v").write_text(tb, encoding="utf-8")
        (d / "cmds.f").write_text("+timescale+1ns/1ps\n", encoding="utf-8")
        files, owner = _write_sources(groups, d, options)
        argv = ["iverilog", "-g2012", "-o", "sim.vvp", "-s", TB_TOP, "-f", "cmds.f"]
        if options.engine == "vvp":
            argv.append("-DVERISLICE_STANDALONE")
        argv += [f"-I{os.path.abspath(i)}" for i in options.include_dirs]
        for name, value in (options.defines or {}).items():
            argv.append(f"-D{name}" if value is None else f"-D{name}={value}")
        r = run_limited(argv + ["tb.v", *files], d, timeout=60 + 2 * len(files),
                        memory_mb=options.memory_mb)
        out.compiles += 1
        if r.ok and (d / "sim.vvp").exists():
            (d / "stim.hex").write_text(stimulus_hex(groups, layout, samples), encoding="ascii")
            (d / ".nonce").write_text(nonce)
            return groups
        text = (r.stderr + "\n" + r.stdout).strip()
        blamed: dict[tuple[int, int], list[str]] = {}
        ref_blamed: dict[int, list[str]] = {}
        cands = {c.key: c for g in groups for c in g.cands}
        for line in text.splitlines():
            m = _LOC.match(line)
            if not m or ": warning:" in line:  # a warning never blames anyone
                continue
            f, ln = m["file"], int(m["line"])
            if f == "tb.v":
                key = layout.line_owner.get(ln)
                if key is not None:
                    blamed.setdefault(key, []).append(line)
                continue
            who = owner.get(f)
            if isinstance(who, SimCandidate):
                blamed.setdefault(who.key, []).append(line)
            elif isinstance(who, tuple):
                ref_blamed.setdefault(who[1], []).append(line)
        if r.timed_out:
            blamed, ref_blamed = {}, {}
        for gid, lines in list(ref_blamed.items()):
            g = next(g for g in groups if g.gid == gid)
            if g.cands and _ref_alone_compiles(g, options):
                del ref_blamed[gid]  # a candidate next to it broke it (e.g. a leaked macro)
                continue
            msg = _clean("\n".join(lines[:20]), [], g)
            out.ref_errors[gid] = f"reference {g.ref_name} does not compile with iverilog:\n{msg}"
        for key, lines in blamed.items():
            c = cands[key]
            out.results[key] = CandidateResult(
                COMPILE_ERROR, _clean("\n".join(lines[:20]), [c]), name=c.name, top=c.top)
        if blamed or ref_blamed:
            groups = [g.with_cands([c for c in g.cands if c.key not in blamed])
                      for g in groups if g.gid not in ref_blamed]
            if not groups:
                return []
            continue
        # nobody to blame: split, or blame the only one left
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
                verdict, _clean(f"iverilog: {text or detail}"[:4000], [c]), name=c.name,
                top=c.top)
            return []
        for g in groups:
            out.ref_errors[g.gid] = f"reference {g.ref_name} does not compile: {detail}"
        return []


def _ref_alone_compiles(g: SimGroup, options: EquivOptions) -> bool:
    with sandbox_dir("verislice-equiv-ref-") as d:
        probe = BatchOutcome({}, {})
        return bool(_compile([g.with_cands([])], options, probe, d)) and not probe.ref_errors


def _clean(msg: str, cands: list[SimCandidate], group: SimGroup | None = None) -> str:
    for c in cands:
        msg = msg.replace(c.prefix, "")
        msg = re.sub(r"\bg\d+_c\d+\.v:", f"{c.name}:", msg)
    if group is not None:
        msg = msg.replace(group.ref_prefix, "")
        msg = re.sub(r"\bg\d+_ref\.v:", f"{group.ref_name}:", msg)
    return msg


# -- simulate ----------------------------------------------------------------------------------

def _cocotb_env(d: Path, sim_ns: int) -> dict[str, str]:
    import cocotb_tools.config as cfg
    import find_libpython

    env = dict(os.environ)
    lib = find_libpython.find_libpython() or ""
    env.update({
        "GPI_USERS": ";".join([lib, cfg.pygpi_entry_point()]),
        "PATH": env.get("PATH", "") + os.pathsep + str(cfg.libs_dir),
        "PYTHONPATH": str(_COCOTB_DIR),
        "PYGPI_PYTHON_BIN": sys.executable,
        "COCOTB_TOPLEVEL": TB_TOP,
        "TOPLEVEL_LANG": "verilog",
        "COCOTB_TEST_MODULES": _COCOTB_MODULE,
        "COCOTB_RESULTS_FILE": str(d / "results.xml"),
        # cocotb imports pytest for assertion rewriting unless told not to: ~0.15 s per start
        "COCOTB_REWRITE_ASSERTION_FILES": "",
        "COCOTB_ANSI_OUTPUT": "0",
        "VERISLICE_SIM_NS": str(sim_ns),
    })
    return env


def _simulate(groups: list[SimGroup], options: EquivOptions, out: BatchOutcome, d: Path,
              n: int) -> tuple[tuple[Layout, str] | None, str]:
    samples = options.cycles
    nonce = (d / ".nonce").read_text()
    _, layout = build_testbench(groups, samples, nonce)
    timeout = options.sim_timeout(n)
    if out.slowest_ok:
        # isolating a hang: parts of a batch that already ran cannot need 10x its time
        timeout = min(timeout, max(3.0, 10 * out.slowest_ok))
    if options.engine == "cocotb":
        import cocotb_tools.config as cfg

        argv = ["vvp", "-n", "-m", str(cfg.lib_entry("vpi", "icarus")), "sim.vvp", "-none"]
        env = _cocotb_env(d, samples * 10 + 100)
    else:
        argv = ["vvp", "-n", "sim.vvp", "-none"]
        env = None
    # the simulator's output goes to a file: the file-size limit stops a candidate that floods
    # it ($display in a loop) instead of the parent buffering it in memory
    log = d / "sim.log"
    r = run_limited(["sh", "-c", 'exec "$@" >sim.log 2>&1', "sh", *argv], d, timeout=timeout,
                    env=env, memory_mb=options.memory_mb)
    if log.exists():
        with log.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 20000))
            tail = fh.read().decode("utf-8", "replace")
        r = RunResult(r.argv, r.returncode, tail, r.stderr, r.timed_out, r.seconds)
    out.simulations += 1
    res = d / "results.txt"
    text = res.read_text(errors="replace") if res.exists() else ""
    if not r.timed_out and text.rstrip().endswith(f"END {nonce}"):
        out.slowest_ok = max(out.slowest_ok, r.seconds)
        return (layout, text), ""
    return None, _failure(r, timeout)


def _failure(r: RunResult, timeout: float) -> str:
    if r.timed_out:
        return f"timed out after {timeout:.1f} s"
    tail = [ln for ln in (r.stdout + "\n" + r.stderr).splitlines() if ln.strip()]
    keep = [ln.strip() for ln in tail if "$finish" in ln or "$stop" in ln or "rror" in ln
            or "FATAL" in ln or "alloc" in ln.lower()][-3:]
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
        data_widths = {n: w for n, w in g.inputs if n != g.timing.clock}
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
                    if seq:
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

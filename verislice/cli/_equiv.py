"""`verislice equiv` command (thin layer over :mod:`verislice.equiv`)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from .._sandbox import SANDBOX_ENV
from ..equiv import _results as R
from ..equiv._options import EquivOptions
from ._app import app
from ._common import (DEFINE, EXIT_DIFFERENT, EXIT_OK, INCLUDE, JSON, PARAM, console, err_console,
                      parse_defines, parse_parameters, print_json, read_file_list, run_cli,
                      show_progress)

_H = {f: EquivOptions.__dataclass_fields__[f].metadata["help"]
      for f in EquivOptions.__dataclass_fields__}
_D = EquivOptions()

EPILOG = """[b]Examples[/b]

  verislice equiv ref.v gen.v                       # table: output | verdict | mismatches | first failure
  verislice equiv ref.v gen.v --json                # one JSON object, candidates in argument order
  verislice equiv ref.v gen.v --cycles 2000 --seed 7
  verislice equiv ref.v gen.v --clock clk --reset rst_n --reset-active-low --reset-async
  verislice equiv ref.v gen.v --top-ref RefModule --top-gen TopModule
  verislice equiv ref.v gen1.v gen2.v gen3.v        # one reference, many candidates, one batched run
  verislice equiv ref.v gen.v --method both --depth 20   # simulation, then Yosys proofs of the MATCHes
  verislice equiv alu.sv gen.sv -f pkgs.f           # packages (a file list) before each design
  verislice equiv top.sv gen.sv --ref-files sub.sv --gen-files pkg.sv -I include
  verislice equiv fifo.v gen.v -P DEPTH=16          # top-level parameter of every design
  verislice equiv alu.sv gen.sv --engine verilator  # SystemVerilog (automatic if Icarus refuses it)

Exit codes: 0 every output of every candidate matches, 1 a difference or a failed candidate,
2 usage or reference error."""


@app.command(epilog=EPILOG)
def equiv(
    reference: Path = typer.Argument(..., help="Reference design (Verilog/SystemVerilog).",
                                     show_default=False),
    candidates: list[Path] = typer.Argument(..., help="Candidate designs (one file each; "
                                                 "--gen-files adds files to every one).",
                                            show_default=False),
    json_out: bool = JSON,
    cycles: Optional[int] = typer.Option(None, help=_H["cycles"], show_default=False),
    seed: int = typer.Option(_D.seed, help=_H["seed"]),
    sequences: int = typer.Option(_D.sequences, help=_H["sequences"]),
    clock: str = typer.Option(None, help=_H["clock"], show_default=False),
    reset: str = typer.Option(None, help=_H["reset"], show_default=False),
    reset_active_low: bool = typer.Option(None, "--reset-active-low/--reset-active-high",
                                          help=_H["reset_active_low"], show_default=False),
    reset_async: bool = typer.Option(None, "--reset-async/--reset-sync", help=_H["reset_async"],
                                     show_default=False),
    top_ref: str = typer.Option(None, help=_H["top_ref"], show_default=False),
    top_gen: str = typer.Option(None, help=_H["top_gen"], show_default=False),
    allow_file_io: bool = typer.Option(False, help=_H["allow_file_io"]),
    timeout: float = typer.Option(None, help=_H["timeout"], show_default=False),
    batch_size: int = typer.Option(_D.batch_size, help=_H["batch_size"]),
    engine: str = typer.Option(_D.engine, help=_H["engine"]),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Simulations run in parallel (processes)."),
    max_memory_bits: int = typer.Option(_D.max_memory_bits, help=_H["max_memory_bits"]),
    method: str = typer.Option("sim", help=_H["method"]),
    formal: bool = typer.Option(False, "--formal", help="Same as --method formal."),
    depth: int = typer.Option(20, help="Cycles checked from reset by formal proofs of "
                              "sequential designs."),
    include: list[Path] = INCLUDE,
    define: list[str] = DEFINE,
    parameter: list[str] = PARAM,
    file_list: list[Path] = typer.Option([], "--file-list", "-f", show_default=False,
                                         help="Files read before the reference and before every "
                                              "candidate (packages first): a .f list (a path a "
                                              "line, -I DIR, +incdir+DIR) or a source file. "
                                              "Repeatable."),
    ref_files: list[Path] = typer.Option([], "--ref-files", show_default=False,
                                         help="More files of the reference, read before it "
                                              "(packages, submodules; a .f list is expanded). "
                                              "Repeatable."),
    gen_files: list[Path] = typer.Option([], "--gen-files", show_default=False,
                                         help="More files of every candidate, read before it "
                                              "(a .f list is expanded). Repeatable."),
    keep_dir: bool = typer.Option(False, help=_H["keep_dir"]),
    no_sandbox: bool = typer.Option(False, "--no-sandbox",
                                    help="Run candidates without the bubblewrap sandbox, "
                                         "accepting the risk (same as VERISLICE_SANDBOX=none; "
                                         "see docs/security.md)."),
) -> None:
    """Per-output equivalence of candidates with a reference (random simulation on Icarus,
    Yosys proofs, or both).

    Every output of the reference gets a verdict per candidate: MATCH, MISMATCH (with the first
    failing sample: cycle, inputs, expected, actual), MISSING, WIDTH or AMBIGUOUS (reference X on
    every sample); with --method formal|both also PROVEN, BOUNDED or UNKNOWN. A candidate that
    cannot be simulated gets COMPILE_ERROR, INTERFACE, TIMEOUT or REJECTED instead.
    """
    args = dict(locals())
    if args.pop("no_sandbox"):
        os.environ[SANDBOX_ENV] = "none"  # inherited by every worker and simulator process
    run_cli(lambda: _equiv(args))


def _equiv(a: dict) -> int:
    from .._errors import VerisliceError

    method = "formal" if a["formal"] else a["method"]
    if method not in ("sim", "formal", "both"):
        raise VerisliceError(f"--method must be sim, formal or both, not {method!r}")
    opts = EquivOptions(
        cycles=a["cycles"], seed=a["seed"], sequences=a["sequences"], clock=a["clock"],
        reset=a["reset"], reset_active_low=a["reset_active_low"], reset_async=a["reset_async"],
        top_ref=a["top_ref"], top_gen=a["top_gen"], allow_file_io=a["allow_file_io"],
        timeout=a["timeout"], batch_size=a["batch_size"], engine=a["engine"],
        max_memory_bits=a["max_memory_bits"], include_dirs=tuple(str(i) for i in a["include"]),
        defines=parse_defines(a["define"]) or None, keep_dir=a["keep_dir"], method=method,
        parameters=parse_parameters(a["parameter"]) or None)
    formal = None
    if method != "sim":
        if importlib.util.find_spec("verislice._formal") is None:
            raise VerisliceError("formal checking is not available in this installation")
        from .._formal import FormalOptions

        formal = FormalOptions(depth=a["depth"])
    ref = str(a["reference"])
    cands = [str(c) for c in a["candidates"]]
    shared, incs = _expand(a["file_list"])
    ref_more, ref_incs = _expand(a["ref_files"])
    gen_more, gen_incs = _expand(a["gen_files"])
    for p in [ref, *cands, *shared, *ref_more, *gen_more]:
        if not Path(p).is_file():
            raise VerisliceError(f"{p}: no such file")
    if incs or ref_incs or gen_incs:
        opts = opts.with_(include_dirs=(*opts.include_dirs, *incs, *ref_incs, *gen_incs))
    # a design of several files: the shared files, its own extra files, then its own file
    ref_design = [*shared, *ref_more, ref] if shared or ref_more else ref
    cand_designs = [[*shared, *gen_more, c] if shared or gen_more else c for c in cands]
    results = _check(ref_design, cand_designs, opts, formal, a["jobs"], a["json_out"])
    results = [r if r.name == c else replace(r, name=c) for r, c in zip(results, cands)]
    ok = all(r.ok for r in results)
    if a["json_out"]:
        print_json({"reference": ref, "method": method, "ok": ok,
                    "options": {"cycles": opts.cycles, "seed": opts.seed,
                                "sequences": opts.sequences, "engine": opts.engine,
                                "parameters": dict(opts.parameters or {})},
                    "candidates": [r.to_json() for r in results]})
    else:
        _table(results)
    return EXIT_OK if ok else EXIT_DIFFERENT


def _expand(items: list[Path]) -> tuple[list[str], list[str]]:
    """Files and include directories of ``--file-list``/``--ref-files``/``--gen-files`` values
    (``.f`` lists expanded, in order)."""
    files: list[str] = []
    incs: list[str] = []
    for item in items:
        if item.suffix == ".f":
            more, dirs = read_file_list(item)
            files += more
            incs += dirs
        else:
            files.append(str(item))
    return files, incs


def _check(ref, cands: list, opts: EquivOptions, formal, jobs: int, quiet: bool):
    from .. import equiv as api

    if not show_progress() or quiet or len(cands) < 2:
        return api.check_batch([(ref, cands)], jobs=jobs, options=opts, formal=formal)[0]
    from rich.progress import Progress

    label = {"sim": "simulating", "formal": "proving", "both": "simulating, proving"}
    with Progress(console=err_console(), transient=True) as bar:
        task = bar.add_task(label[opts.method], total=len(cands))
        return api.check_batch([(ref, cands)], jobs=jobs, options=opts, formal=formal,
                               progress=lambda d, t: bar.update(task, completed=d, total=t))[0]


_STYLE = {R.MATCH: "green", R.PROVEN: "green", R.BOUNDED: "green", R.MISMATCH: "red",
          R.MISSING: "red", R.WIDTH: "red", R.AMBIGUOUS: "yellow", R.UNKNOWN: "yellow"}


def _table(results) -> None:
    from rich.table import Table

    from rich import box

    con = console()
    plain = not con.is_terminal
    for r in results:
        head = f"{r.name}" + (f" ({r.top})" if r.top else "")
        if r.verdict != R.OK:
            con.print(f"{head}: {r.verdict}", style="bold red", markup=False)
            for line in r.message.splitlines()[:20]:
                con.print(f"  {line}", markup=False)
            continue
        t = Table(title=head, title_justify="left", show_lines=False,
                  box=box.SIMPLE if plain else box.HEAVY_HEAD)
        for col in ("output", "verdict", "mismatches", "first failure"):
            t.add_column(col)
        for name, o in r.outputs.items():
            ff = o.first_failure
            fail = ""
            if ff is not None:
                ins = " ".join(f"{k}={v}" for k, v in ff.inputs.items())
                fail = f"cycle {ff.cycle}: {ins} expected {ff.expected} actual {ff.actual}"
            elif o.verdict in (R.WIDTH,):
                fail = f"{o.candidate_width} bits, reference {o.width}"
            elif o.message:
                fail = o.message
            t.add_row(name, f"[{_STYLE.get(o.verdict, '')}]{o.verdict}[/]",
                      f"{o.mismatches}/{o.samples}" if o.samples else "-", fail)
        con.print(t)
        if r.engine == "verilator":
            con.print("  simulated with Verilator (2-state: X and Z read as 0, no don't-care "
                      "samples)", markup=False)
        if r.message:
            con.print(f"  {r.message}", markup=False)
    if len(results) > 1:
        good = sum(r.ok for r in results)
        failed = sum(r.verdict != R.OK for r in results)
        con.print(f"{len(results)} candidates: {good} with every output right, "
                  f"{len(results) - good - failed} with wrong outputs, {failed} not simulated",
                  markup=False)

"""`salv-train eval`: pass@k with each benchmark's own testbench (thin layer over
:mod:`salv_trainer.eval`). Exit codes: 0 done, 2 bad input (message, no traceback), 130 interrupted
(rerun the same command to resume)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

from ..eval import EvalConfig
from . import _engine
from ._app import app
from ._common import print_json, progress_bars, quiet_libraries, run
from ._flags import Flags

_INTERRUPTED = "interrupted: finished verdicts are in the cache; rerun the same command to resume"

_EPILOG = """
[bold]Examples[/bold]

  # generate 20 samples per task with a local model and score them
  salv-train eval --model out/dpo --benchmark verilogeval-v2-spec --data ~/verilog-eval -n 20 -k 1,5,10 --temperature 0.8

  # score existing generations (rows: {"id": task id, "responses": [...]}) on an RTLLM clone
  salv-train eval --responses gens.jsonl --benchmark rtllm-v2.0 --data ~/RTLLM

  # generate with vLLM: one engine for the run, a base model plus an unmerged LoRA adapter, 2 GPUs
  salv-train eval --model base/ --lora out/dpo --backend vllm --tensor-parallel-size 2 --benchmark verilogeval-v2-spec --data DIR -n 20 -k 1,5,10 --temperature 0.8

  # check the harness and simulator: every reference solution as the response
  salv-train eval --canonical --benchmark verilogeval-v1-human --data ../shared/benchmarks

  # per-task results for scripts; rerunning the same command resumes from results.cache.jsonl
  salv-train eval --responses gens.jsonl --benchmark verilogeval-v2-spec --data DIR --json results.json

  # score on a Ray cluster; or as shard I of 4 (e.g. a Slurm array), then join the shards
  salv-train eval --responses gens.jsonl --benchmark verilogeval-v2-spec --data DIR --executor ray --ray-address auto
  salv-train eval --responses gens.jsonl --benchmark verilogeval-v2-spec --data DIR --shard $I/4 --json results.$I.json
  salv-train merge-shards results.*.json --out results.json

  # the paper's whole protocol for one model (Tables 1 and 2), resumable in --output-dir
  salv-train eval --protocol paper --model out/dpo --data ../shared/benchmarks \\
      --rtllm-v1 ~/RTLLM-1.1 --rtllm-v2 ~/RTLLM --output-dir eval-paper

Benchmarks: verilogeval-v2-spec, verilogeval-v2-completion, verilogeval-v1-human,
verilogeval-v1-machine, rtllm-v1.1, rtllm-v2.0. See docs/eval.md.
"""


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(x) for x in text.replace(" ", "").split(",") if x}))
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got '{text}'") from None
    if not ks or ks[0] < 1:
        raise typer.BadParameter("k values must be positive integers")
    return ks


def _fail(message: str) -> NoReturn:
    """A usage error: ``error: message``, exit 2 (through :func:`run`)."""
    from ..eval import EvalError

    raise EvalError(message)


_EVAL = (
    Flags()
    .field(EvalConfig, "benchmark", "--benchmark", "-b", help_suffix=" Required unless --protocol.")
    .fields(EvalConfig, "data", "model", "responses")
    .option("canonical", bool, typer.Option(False, "--canonical", help="Score each task's reference "
                                            "solution (harness/simulator self-check)."))
    # None: the default depends on --protocol (the help says which)
    .field(EvalConfig, "n", "-n", default=None, help_suffix=" With --responses: responses every task "
           "must have (default 1). With --protocol: default 20.")
    .field(EvalConfig, "k", "-k", default=None, annotation=Optional[str],
           help_suffix=" Default 1; --protocol: 1,5,10.")
    .field(EvalConfig, "temperature", "--temperature", "-t", default=None, annotation=Optional[float],
           help_suffix=" Default 0.")
    .fields(EvalConfig, "top_p", "max_new_tokens", "seed", "batch_size", "backend", "dtype")
    .extend(_engine.flags(EvalConfig))
    .field(EvalConfig, "jobs", "--jobs", "-j")
    .fields(EvalConfig, "executor", "ray_address", "shard", "timeout", "fail_fast")
    .field(EvalConfig, "task_ids", "--task", default=None, annotation=Optional[list[str]])
    .fields(EvalConfig, "limit")
    .field(EvalConfig, "json_path", "--json")
    .fields(EvalConfig, "cache")
    .field(EvalConfig, "use_cache", "--no-cache")
    .fields(EvalConfig, "save_responses")
    .option("details", bool, typer.Option(False, "--details", help="Also print a per-task table."))
    .fields(EvalConfig, "allow_missing")
    .option("protocol", Optional[str], typer.Option(None, "--protocol", help="Run a whole evaluation "
                                                    "protocol for --model: 'paper' = the grid of the "
                                                    "paper's Tables 1 and 2 (see docs/eval.md)."))
    .option("rtllm_v1", Optional[str], typer.Option(None, "--rtllm-v1", help="--protocol: a clone of "
                                                    "RTLLM v1.1 (else reported missing)."))
    .option("rtllm_v2", Optional[str], typer.Option(None, "--rtllm-v2", help="--protocol: a clone of "
                                                    "RTLLM v2.0 (else reported missing)."))
    .option("output_dir", Optional[str], typer.Option(None, "--output-dir", help="--protocol: where its "
                                                      "runs and tables go (default eval-paper-<model "
                                                      "dir name>); rerun to resume."))
)


@_EVAL.command(app, "eval", epilog=_EPILOG)
def eval_command(*, canonical: bool, details: bool, protocol: Optional[str], rtllm_v1: Optional[str],
                 rtllm_v2: Optional[str], output_dir: Optional[str], **settings) -> None:
    """Score a model (or existing responses) by pass@k with each benchmark's own testbench."""
    k = settings.pop("k")
    ks = _ks(k) if k else None  # a usage error, reported before anything runs
    if protocol is not None:
        model = settings["model"]
        out = output_dir or (f"eval-paper-{Path(model).resolve().name}" if model else "")
        run(lambda: _protocol(protocol, ks, canonical=canonical, rtllm_v1=rtllm_v1, rtllm_v2=rtllm_v2,
                              output_dir=out, **settings),
            interrupted=f"interrupted: finished responses and verdicts are kept in {out}; "
                        "rerun the same command to resume", tracebacks=True)
        return
    run(lambda: _eval(ks, canonical=canonical, details=details, rtllm_v1=rtllm_v1, rtllm_v2=rtllm_v2,
                      output_dir=output_dir, **settings),
        interrupted=_INTERRUPTED, tracebacks=True)


def _eval(ks: Optional[tuple[int, ...]], *, canonical: bool, details: bool, rtllm_v1: Optional[str],
          rtllm_v2: Optional[str], output_dir: Optional[str], **settings) -> None:
    """One benchmark: per-task verdicts and pass@k (tables on a terminal, one line when piped,
    the results as JSON with ``--json -``)."""
    from ..eval import load_benchmark, run_eval

    for name, v in (("--rtllm-v1", rtllm_v1), ("--rtllm-v2", rtllm_v2), ("--output-dir", output_dir)):
        if v:
            _fail(f"{name} goes with --protocol")
    if not settings["benchmark"]:
        _fail("give --benchmark (e.g. verilogeval-v2-spec), or --protocol paper")
    if sum(bool(x) for x in (settings["model"], settings["responses"], canonical)) != 1:
        _fail("give exactly one of --model, --responses or --canonical")
    to_stdout = settings["json_path"] == "-"
    n, temperature = settings.pop("n"), settings.pop("temperature")
    cfg = EvalConfig(**settings, n=1 if n is None else n, k=ks or (1,),
                     temperature=0.0 if temperature is None else temperature)
    cfg.task_ids = tuple(cfg.task_ids or ())
    cfg.json_path = None if to_stdout else cfg.json_path
    tasks = load_benchmark(cfg.benchmark, cfg.data, task_ids=cfg.task_ids or None, limit=cfg.limit)
    given = None
    if canonical:
        given = {t.task_id: [t.canonical_solution] for t in tasks}
        cfg.extra = {"responses": "canonical solutions"}
    quiet_libraries(quiet=True if to_stdout else None)
    with progress_bars(elapsed=True) as update:
        if update is None or to_stdout:
            result = run_eval(cfg, tasks=tasks, responses=given)
        else:
            result = run_eval(cfg, tasks=tasks, responses=given,
                              on_generate=lambda d, t: update("generating", d, t),
                              on_simulate=lambda d, t: update("simulating", d, t))
    if to_stdout:
        print_json(result.to_json())
    elif sys.stdout.isatty():
        _print_tables(result, details)
    else:
        pk = " ".join(f"pass@{kk}={v:.4f}" for kk, v in result.pass_at_k.items())
        typer.echo(f"{result.benchmark}: {pk} ({_coverage_text(result.coverage)})")


def _coverage_text(cov: dict) -> str:
    """``156 tasks``, or, for a partial run, ``1/156 tasks, 1-3 responses per task``."""
    if cov["complete"]:
        return f"{cov['tasks']} tasks"
    lo, hi = cov["samples_per_task"]["min"], cov["samples_per_task"]["max"]
    per = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{cov['tasks']}/{cov['of']} tasks, {per} responses per task: incomplete"


def _protocol(name: str, ks: Optional[tuple[int, ...]], *, canonical: bool, output_dir: str,
              **settings) -> None:
    """``--protocol``: the grid, one Markdown report on stdout (or the JSON with ``--json -``)."""
    from ..eval import PROTOCOLS, ProtocolConfig, run_protocol, write_json

    given = {"--benchmark": settings["benchmark"], "--responses": settings["responses"],
             "--canonical": canonical, "--temperature": settings["temperature"] is not None,
             "--task": settings["task_ids"], "--save-responses": settings["save_responses"],
             "--cache": settings["cache"], "--no-cache": not settings["use_cache"],
             "--allow-missing": settings["allow_missing"], "--executor": settings["executor"] != "local",
             "--ray-address": settings["ray_address"], "--shard": settings["shard"]}
    clash = [flag for flag, v in given.items() if v]
    if clash:
        _fail(f"--protocol runs its own grid of benchmarks and temperatures: drop {', '.join(clash)}")
    if name not in PROTOCOLS:
        _fail(f"unknown protocol '{name}' (known: {', '.join(PROTOCOLS)})")
    if not settings["model"]:
        _fail("--protocol needs --model (a local model directory)")
    json_out, n = settings["json_path"], settings.pop("n")
    options = Flags.of(ProtocolConfig, settings)
    cfg = ProtocolConfig(**options, n=20 if n is None else n, k=ks or (1, 5, 10), output_dir=output_dir)
    to_stdout = json_out == "-"
    quiet_libraries(quiet=True if to_stdout else None)
    with progress_bars(elapsed=True) as update:
        result = run_protocol(cfg) if update is None or to_stdout else run_protocol(cfg, progress=update)
    if json_out and not to_stdout:
        write_json(json_out, result.to_json())
    if to_stdout:
        print_json(result.to_json())
    else:
        typer.echo(result.to_markdown() + f"\n(tables: {Path(cfg.output_dir) / 'paper.md'}, "
                   f"{Path(cfg.output_dir) / 'paper.json'})")


def _print_tables(result, details: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .._text import printable

    con = Console()
    s = result.settings
    t = Table(title=f"{result.benchmark}: pass@k", show_header=True)
    t.add_column("tasks")
    for kk in result.pass_at_k:
        t.add_column(f"pass@{kk}", justify="right")
    t.add_row(f"all ({len(result.tasks)})", *(f"{v * 100:.2f}" for v in result.pass_at_k.values()))
    passable = len(result.tasks) - len(result.unpassable)
    t.add_row(f"reference passes on Icarus 11 ({passable})",
              *(f"{v * 100:.2f}" for v in result.pass_at_k_passable.values()))
    con.print(t)
    src = s.get("model") or s.get("responses")
    con.print(f"source: {src}   n={s.get('n')}   temperature={s.get('temperature', '-')}   "
              f"simulator: {s.get('simulator')}")
    counts = ", ".join(f"{k} {v}" for k, v in result.verdict_counts().items())
    con.print(f"verdicts: {counts}")
    con.print(f"{result.simulations} simulations ({result.cached} cached) in {result.seconds:.1f} s")
    if result.unpassable:
        con.print(f"[yellow]reference fails on Icarus 11 (counted as in the benchmark): "
                  f"{', '.join(result.unpassable)}[/yellow]")
    cov = result.coverage
    con.print(f"coverage: {cov['tasks']}/{cov['of']} tasks, responses per task "
              f"{cov['samples_per_task']['min']}-{cov['samples_per_task']['max']}"
              + ("" if cov["complete"] else "   [yellow](incomplete: --allow-missing)[/yellow]"))
    if result.missing:
        con.print(f"[yellow]{len(result.missing)} task(s) without responses left out: "
                  f"{', '.join(result.missing[:8])}{' ...' if len(result.missing) > 8 else ''}[/yellow]")
    if result.unknown:  # ids from the responses file: any text, lone surrogates included
        ids = escape(printable(", ".join(result.unknown[:8])))
        con.print(f"[yellow]response ids that are no task: {ids}[/yellow]")
    if details:
        d = Table(show_header=True)
        for col in ("task", "c/n", "verdicts", "first message"):
            d.add_column(col)
        for tid, tr in result.tasks.items():
            msg = next((x.message for x in tr.samples if x.message), "")
            d.add_row(tid, f"{tr.c}/{tr.n}", " ".join(x.verdict for x in tr.samples[:10]), msg[:60])
        con.print(d)

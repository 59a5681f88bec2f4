"""`salv-train eval`: pass@k with each benchmark's own testbench (thin layer over
:mod:`salv_trainer.eval`). Exit codes: 0 done, 2 bad input (message, no traceback), 130 interrupted
(rerun the same command to resume)."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Optional

import typer

from ..eval._model import EvalConfig
from . import _engine
from ._app import app


def _default(name: str):
    return EvalConfig.__dataclass_fields__[name].default


def _help(name: str) -> str:
    """An option's help text: the metadata of the EvalConfig field it sets."""
    return EvalConfig.__dataclass_fields__[name].metadata["help"]

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


@app.command("eval", epilog=_EPILOG)
def eval_command(
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help=_help("benchmark") + " Required unless --protocol."),
    data: Optional[str] = typer.Option(None, "--data", help=_help("data")),
    model: Optional[str] = typer.Option(None, "--model", help=_help("model")),
    responses: Optional[str] = typer.Option(None, "--responses", help=_help("responses")),
    canonical: bool = typer.Option(False, "--canonical", help="Score each task's reference solution (harness/simulator self-check)."),
    n: Optional[int] = typer.Option(None, "-n", help=_help("n") + " With --responses: responses every "
                                    "task must have (default 1). With --protocol: default 20."),
    k: Optional[str] = typer.Option(None, "-k", help=_help("k") + " Default 1; --protocol: 1,5,10."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help=_help("temperature") + " Default 0."),
    top_p: float = typer.Option(_default("top_p"), "--top-p", help=_help("top_p")),
    max_new_tokens: int = typer.Option(_default("max_new_tokens"), "--max-new-tokens", help=_help("max_new_tokens")),
    seed: int = typer.Option(_default("seed"), "--seed", help=_help("seed")),
    batch_size: int = typer.Option(_default("batch_size"), "--batch-size", help=_help("batch_size")),
    backend: str = typer.Option(_default("backend"), "--backend", help=_help("backend")),
    dtype: Optional[str] = typer.Option(None, "--dtype", help=_help("dtype")),
    lora: Optional[str] = _engine.LORA,
    tensor_parallel_size: int = _engine.TENSOR_PARALLEL,
    gpu_memory_utilization: float = _engine.GPU_MEMORY,
    max_model_len: Optional[int] = _engine.MAX_MODEL_LEN,
    enable_prefix_caching: bool = _engine.PREFIX_CACHING,
    enforce_eager: bool = _engine.ENFORCE_EAGER,
    jobs: int = typer.Option(_default("jobs"), "--jobs", "-j", help=_help("jobs")),
    executor: str = typer.Option(_default("executor"), "--executor", help=_help("executor")),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=_help("ray_address")),
    shard: Optional[str] = typer.Option(None, "--shard", help=_help("shard")),
    timeout: Optional[float] = typer.Option(None, "--timeout", help=_help("timeout")),
    fail_fast: bool = typer.Option(True, "--fail-fast/--no-fail-fast", help=_help("fail_fast")),
    task: Optional[list[str]] = typer.Option(None, "--task", help=_help("task_ids")),
    limit: Optional[int] = typer.Option(None, "--limit", help=_help("limit")),
    json_out: Optional[str] = typer.Option(None, "--json", help=_help("json_path")),
    cache: Optional[str] = typer.Option(None, "--cache", help=_help("cache")),
    no_cache: bool = typer.Option(False, "--no-cache", help=_help("use_cache")),
    save_responses: Optional[str] = typer.Option(None, "--save-responses", help=_help("save_responses")),
    details: bool = typer.Option(False, "--details", help="Also print a per-task table."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help=_help("allow_missing")),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Run a whole evaluation protocol "
                                           "for --model: 'paper' = the grid of the paper's Tables 1 "
                                           "and 2 (see docs/eval.md)."),
    rtllm_v1: Optional[str] = typer.Option(None, "--rtllm-v1", help="--protocol: a clone of RTLLM v1.1 "
                                           "(else reported missing)."),
    rtllm_v2: Optional[str] = typer.Option(None, "--rtllm-v2", help="--protocol: a clone of RTLLM v2.0 "
                                           "(else reported missing)."),
    output_dir: Optional[str] = typer.Option(None, "--output-dir", help="--protocol: where its runs "
                                             "and tables go (default eval-paper-<model dir name>); "
                                             "rerun to resume."),
) -> None:
    """Score a model (or existing responses) by pass@k with each benchmark's own testbench."""
    from verislice import VerisliceError
    from verislice.cli import terminate_as_interrupt

    from ..eval import EvalConfig, load_benchmark, run_eval

    engine = _engine.settings(tensor_parallel_size=tensor_parallel_size,
                              gpu_memory_utilization=gpu_memory_utilization,
                              max_model_len=max_model_len, enable_prefix_caching=enable_prefix_caching,
                              enforce_eager=enforce_eager, lora=lora)
    if protocol is not None:
        given = {"--benchmark": benchmark, "--responses": responses, "--canonical": canonical,
                 "--temperature": temperature is not None, "--task": task,
                 "--save-responses": save_responses, "--cache": cache, "--no-cache": no_cache,
                 "--allow-missing": allow_missing, "--executor": executor != "local",
                 "--ray-address": ray_address, "--shard": shard}
        clash = [name for name, v in given.items() if v]
        if clash:
            _fail(f"--protocol runs its own grid of benchmarks and temperatures: drop {', '.join(clash)}")
        _protocol_command(protocol, model=model, data=data, rtllm_v1=rtllm_v1, rtllm_v2=rtllm_v2,
                          output_dir=output_dir, n=n, k=k, top_p=top_p, max_new_tokens=max_new_tokens,
                          seed=seed, batch_size=batch_size, backend=backend, jobs=jobs,
                          timeout=timeout, fail_fast=fail_fast, limit=limit, json_out=json_out,
                          dtype=dtype, **engine)
        return
    for name, v in (("--rtllm-v1", rtllm_v1), ("--rtllm-v2", rtllm_v2), ("--output-dir", output_dir)):
        if v:
            _fail(f"{name} goes with --protocol")
    if not benchmark:
        _fail("give --benchmark (e.g. verilogeval-v2-spec), or --protocol paper")
    ks = _ks(k or "1")
    sources = sum(bool(x) for x in (model, responses, canonical))
    if sources != 1:
        _fail("give exactly one of --model, --responses or --canonical")
    to_stdout = json_out == "-"
    cfg = EvalConfig(
        benchmark=benchmark, data=data, model=model, responses=responses, n=1 if n is None else n, k=ks,
        temperature=0.0 if temperature is None else temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
        batch_size=batch_size, backend=backend, dtype=dtype, jobs=jobs, timeout=timeout, fail_fast=fail_fast,
        task_ids=tuple(task or ()), limit=limit, executor=executor, ray_address=ray_address, **engine,
        shard=shard,
        json_path=None if to_stdout else json_out,
        cache=cache, use_cache=not no_cache, save_responses=save_responses,
        allow_missing=allow_missing,
    )
    interactive = sys.stderr.isatty() and not to_stdout
    try:
        with terminate_as_interrupt():  # SIGTERM/SIGHUP unwind like Ctrl-C: cleanup runs
            tasks = load_benchmark(benchmark, data, task_ids=cfg.task_ids or None, limit=limit)
            given = None
            if canonical:
                given = {t.task_id: [t.canonical_solution] for t in tasks}
                cfg.extra = {"responses": "canonical solutions"}
            if interactive:
                result = _with_progress(cfg, tasks, given)
            else:
                _silence()
                result = run_eval(cfg, tasks=tasks, responses=given)
    except VerisliceError as exc:
        _fail(exc.message)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished verdicts are in the cache; rerun the same command to resume",
                   err=True)
        raise typer.Exit(130)
    if to_stdout:
        typer.echo(json.dumps(result.to_json(), indent=1))
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


def _protocol_command(name: str, *, model: Optional[str], data: Optional[str], output_dir: Optional[str],
                      n: Optional[int], k: Optional[str], json_out: Optional[str], **options) -> None:
    """``--protocol``: the grid, one Markdown report on stdout (or the JSON with ``--json -``)."""
    from pathlib import Path

    from verislice import VerisliceError
    from verislice.cli import terminate_as_interrupt

    from ..eval import PROTOCOLS, ProtocolConfig, run_protocol

    if name not in PROTOCOLS:
        _fail(f"unknown protocol '{name}' (known: {', '.join(PROTOCOLS)})")
    if not model:
        _fail("--protocol needs --model (a local model directory)")
    cfg = ProtocolConfig(model=model, data=data, n=20 if n is None else n, k=_ks(k) if k else (1, 5, 10),
                         output_dir=output_dir or f"eval-paper-{Path(model).resolve().name}", **options)
    interactive = sys.stderr.isatty() and json_out != "-"
    try:
        with terminate_as_interrupt():
            if interactive:
                with _progress_bars() as update:
                    result = run_protocol(cfg, progress=update)
            else:
                _silence()
                result = run_protocol(cfg)
            if json_out and json_out != "-":
                from ..eval import write_json

                write_json(json_out, result.to_json())
    except VerisliceError as exc:
        _fail(exc.message)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: finished responses and verdicts are kept in {cfg.output_dir}; "
                   "rerun the same command to resume", err=True)
        raise typer.Exit(130)
    if json_out == "-":
        typer.echo(json.dumps(result.to_json(), indent=1))
    else:
        typer.echo(result.to_markdown() + f"\n(tables: {Path(cfg.output_dir) / 'paper.md'}, "
                   f"{Path(cfg.output_dir) / 'paper.json'})")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _silence() -> None:
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass


@contextmanager
def _progress_bars():
    """Progress bars on stderr, one per stage name: yields ``update(name, done, total)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        ids: dict[str, int] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in ids:
                ids[name] = bar.add_task(name, total=total)
            bar.update(ids[name], completed=done, total=total)

        yield update


def _with_progress(cfg, tasks, given):
    from ..eval import run_eval

    with _progress_bars() as update:
        return run_eval(cfg, tasks=tasks, responses=given,
                        on_generate=lambda d, t: update("generating", d, t),
                        on_simulate=lambda d, t: update("simulating", d, t))


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

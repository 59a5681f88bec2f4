"""`salv-train prepare|sample|label|pairs|stats`: the data stage (thin layer over
:mod:`salv_trainer.data`). Exit codes: 0 done, 2 bad input (one message, no traceback; an output
that is the same file as an input is refused so), 130 interrupted by Ctrl-C, SIGTERM or SIGHUP
(rerun the same command to resume ``sample`` and ``label``)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from verislice.cli import console, err_console, print_json, run_cli, show_progress

from . import _engine, _scale
from ._app import app

_JSON = typer.Option(False, "--json", help="Print the summary as JSON on stdout (for scripts).")
_RESTART = typer.Option(False, "--restart", help="Start the output afresh instead of resuming it.")
_DOCS = "Formats: docs/data.md."


@contextmanager
def _progress(description: str):
    """A progress callback ``(done, total)``: a bar on a terminal, nothing when piped."""
    if not show_progress():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console(), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int | None = None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _table(title: str, rows: list[tuple[str, object]]) -> None:
    """A two-column table on stdout. Keys may come from the data (``stats``: verdicts, signal
    names), so lone surrogates are shown as escapes instead of crashing the print."""
    from .._text import printable

    table = Table(title=printable(title), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for k, v in rows:
        table.add_row(printable(k), printable(str(v)))
    console().print(table)


# -- prepare ---------------------------------------------------------------------------------

_PREPARE_EPILOG = f"""
[bold]Examples[/bold]

  salv-train prepare raw.jsonl --out train.jsonl
  salv-train prepare codev.jsonl --out train.jsonl --prompt-field description --code-field code --jobs 2 --rejects dropped.jsonl

Input rows need a description (prompt, messages, description, instruction, ...) and code
(reference, code, verilog, solution, output, ...). {_DOCS}
"""


@app.command("prepare", epilog=_PREPARE_EPILOG)
def prepare_command(
    source: Path = typer.Argument(..., help="Raw corpus, JSONL (description + code per row).", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Prompts file to write (JSONL)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes (default: all cores)."),
    prompt_field: Optional[str] = typer.Option(None, "--prompt-field", help="Field with the description (default: detected)."),
    code_field: Optional[str] = typer.Option(None, "--code-field", help="Field with the code (default: detected)."),
    id_field: str = typer.Option("id", "--id-field", help="Field with the row id (default rows get row-<line>)."),
    no_icarus: bool = typer.Option(False, "--no-icarus", help="Skip the Icarus Verilog compile check."),
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Write every dropped row's id, reason and message here."),
    json_out: bool = _JSON,
) -> None:
    """Clean a (description, code) corpus: keep valid, unique designs with at least one output."""
    from ..data import DROP_REASONS, PrepareConfig, prepare

    def body() -> int:
        cfg = PrepareConfig(prompt_field=prompt_field, code_field=code_field, id_field=id_field,
                            icarus=not no_icarus)
        if jobs is not None:
            cfg.jobs = max(1, jobs)
        with _progress("prepare") as update:
            report = prepare(source, out, cfg, rejects=rejects, progress=update)
        if json_out:
            print_json(report.to_json())
            return 0
        rows = [("rows read", report.total), ("kept", report.kept)]
        rows += [(f"dropped: {r} ({DROP_REASONS[r]})", n) for r, n in sorted(report.dropped.items())]
        rows.append(("seconds", f"{report.seconds:.1f}"))
        _table(f"prepare -> {out}", rows)
        return 0

    run_cli(body)


# -- sample ----------------------------------------------------------------------------------

_SAMPLE_EPILOG = f"""
[bold]Examples[/bold]

  salv-train sample --model out/sft --prompts train.jsonl -k 5 --temperature 1.0 --top-p 0.95 --out samples.jsonl
  salv-train sample --model out/sft --prompts train.jsonl -k 5 --backend vllm --out samples.jsonl
  salv-train sample --model base/ --lora out/dpo --prompts train.jsonl -k 5 --backend vllm --tensor-parallel-size 2 --max-model-len 4096 --out samples.jsonl
  salv-train sample --model out/sft --prompts train.jsonl -k 5 --backend vllm --executor ray --ray-address auto --out samples.jsonl   # a replica per GPU
  salv-train sample --model out/sft --prompts train.jsonl -k 5 --shard $SLURM_ARRAY_TASK_ID/8 --out samples.$SLURM_ARRAY_TASK_ID.jsonl
  salv-train merge-shards samples.*.jsonl --expect train.jsonl --out samples.jsonl

Rerunning the same command skips the prompts already in --out. {_DOCS} At scale: docs/scale.md.
"""


@app.command("sample", epilog=_SAMPLE_EPILOG)
def sample_command(
    model: Path = typer.Option(..., "--model", "-m", help="Local model directory (Hugging Face layout or PEFT adapter)."),
    prompts: Path = typer.Option(..., "--prompts", "-p", help="Prompts file (JSONL: id, prompt or messages)."),
    out: Path = typer.Option(..., "--out", "-o", help="Samples file to write/extend (JSONL)."),
    k: int = typer.Option(5, "-k", help="Responses per prompt."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold."),
    max_new_tokens: int = typer.Option(1024, "--max-new-tokens", help="Generation length limit."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    batch_size: int = typer.Option(8, "--batch-size", help="Sequences per generate call."),
    backend: str = typer.Option("transformers", "--backend", help="transformers (HF generate), or vllm (pip install -e '.\\[vllm]'; one engine per process, options --tensor-parallel-size ... below)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda when available); transformers only."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, bfloat16 or float16 (default: the checkpoint's; vllm: vLLM's choice, 16 bits for a float32 checkpoint)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Sample only the first N prompts."),
    lora: Optional[str] = _engine.LORA,
    tensor_parallel_size: int = _engine.TENSOR_PARALLEL,
    gpu_memory_utilization: float = _engine.GPU_MEMORY,
    max_model_len: Optional[int] = _engine.MAX_MODEL_LEN,
    enable_prefix_caching: bool = _engine.PREFIX_CACHING,
    enforce_eager: bool = _engine.ENFORCE_EAGER,
    executor: str = _scale.EXECUTOR,
    ray_address: Optional[str] = _scale.RAY_ADDRESS,
    replicas: Optional[int] = typer.Option(None, "--replicas", help="--executor ray: data-parallel replicas, one engine each (default: one per GPU of the cluster, else 1)."),
    gpus_per_replica: Optional[float] = typer.Option(None, "--gpus-per-replica", help="--executor ray: GPUs each replica holds (default: --tensor-parallel-size with --backend vllm, else 1 when the cluster has GPUs, else 0)."),
    shard: Optional[str] = _scale.SHARD,
    restart: bool = _RESTART,
    json_out: bool = _JSON,
) -> None:
    """Sample k responses per prompt from a local model (resumable)."""
    from ..data import SampleConfig, sample

    def body() -> int:
        cfg = SampleConfig(model=str(model), k=k, temperature=temperature, top_p=top_p,
                           max_new_tokens=max_new_tokens, seed=seed, batch_size=batch_size,
                           backend=backend, device=device, dtype=dtype, limit=limit,
                           shard=_scale.shard(shard), replicas=replicas,
                           gpus_per_replica=gpus_per_replica,
                           **_engine.settings(tensor_parallel_size=tensor_parallel_size,
                                              gpu_memory_utilization=gpu_memory_utilization,
                                              max_model_len=max_model_len,
                                              enable_prefix_caching=enable_prefix_caching,
                                              enforce_eager=enforce_eager, lora=lora))
        with _scale.executor(executor, ray_address) as ex, _progress("sample (prompts)") as update:
            report = sample(prompts, out, cfg, resume=not restart, progress=update, executor=ex)
        if json_out:
            print_json(report.to_json())
        else:
            _table(f"sample -> {out}", [("prompts", report.prompts), ("already done", report.skipped),
                                        ("sampled now", report.sampled), ("responses", report.responses),
                                        ("seconds", f"{report.seconds:.1f}")])
        return 0

    run_cli(body)


# -- label -----------------------------------------------------------------------------------

_LABEL_EPILOG = f"""
[bold]Examples[/bold]

  salv-train label samples.jsonl --out labeled.jsonl --jobs 2
  salv-train label samples.jsonl --out labeled.jsonl --cycles 4000 --engine vvp --json
  salv-train label samples.jsonl --out labeled.jsonl --method both     # prove what simulation matched
  salv-train label samples.jsonl --out labeled.jsonl --executor ray --ray-address auto   # a Ray cluster
  salv-train label samples.jsonl --out labeled.$I.jsonl --shard $I/8 --jobs 2           # Slurm array task I
  salv-train merge-shards labeled.*.jsonl --expect samples.jsonl --out labeled.jsonl

Rerunning the same command skips the prompts already in --out. Candidate categories: fully right
(every output matches), partially right (some do), wrong (simulated, none match), broken (no code,
compile error, interface mismatch, timeout, rejected). {_DOCS}
"""


@app.command("label", epilog=_LABEL_EPILOG)
def label_command(
    samples: Path = typer.Argument(..., help="Samples file (JSONL: id, reference, responses).", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Labeled file to write/extend (JSONL)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Parallel simulations (with --executor ray: per Ray task, the CPUs each task takes)."),
    prompts_per_call: int = typer.Option(64, "--prompts-per-call", help="Prompts packed into one batched equivalence call (and written together; with --executor ray: one Ray task)."),
    # the defaults are verislice.equiv.EquivOptions' (one default for the CLI, the API and label)
    cycles: Optional[int] = typer.Option(None, "--cycles", help="Samples per simulation (clock cycles or input vectors; default: automatic per reference, as `verislice equiv`).", show_default=False),
    sequences: int = typer.Option(6, "--sequences", help="Independent stimulus sequences (as `verislice equiv`)."),
    seed: int = typer.Option(0, "--seed", help="Stimulus seed."),
    engine: str = typer.Option("cocotb", "--engine", help="cocotb, or vvp (same testbench, faster start)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds per simulation (default: automatic)."),
    batch_size: int = typer.Option(50, "--batch-size", help="Most candidates per simulation."),
    no_cones: bool = typer.Option(False, "--no-cones", help="Verdicts only, no cone spans."),
    method: str = typer.Option("sim", "--method", help="sim: random simulation; formal: Yosys proofs of every output; both: simulate, then prove the outputs simulation calls MATCH (needs pyosys)."),
    executor: str = _scale.EXECUTOR,
    ray_address: Optional[str] = _scale.RAY_ADDRESS,
    shard: Optional[str] = _scale.SHARD,
    restart: bool = _RESTART,
    json_out: bool = _JSON,
) -> None:
    """Per-output verdicts and cone spans for every response (resumable)."""
    from verislice.equiv import EquivOptions

    from ..data import CATEGORIES, LabelConfig, label

    def body() -> int:
        opts = EquivOptions(cycles=cycles, sequences=sequences, seed=seed, engine=engine,
                            timeout=timeout, batch_size=batch_size, method=method)
        cfg = LabelConfig(jobs=max(1, jobs), prompts_per_call=prompts_per_call, equiv=opts,
                          cones=not no_cones, shard=_scale.shard(shard))
        with _scale.executor(executor, ray_address) as ex, _progress("label (candidates)") as update:
            report = label(samples, out, cfg, resume=not restart, progress=update, executor=ex)
        if json_out:
            print_json(report.to_json())
            return 0
        rows = [("prompts", report.prompts), ("already done", report.skipped),
                ("labeled now", report.labeled), ("candidates", report.candidates)]
        rows += [(f"  {c}", report.categories.get(c, 0)) for c in CATEGORIES]
        rows += [(f"  verdict {v}", n) for v, n in sorted(report.verdicts.items())]
        if report.cone_errors:
            rows.append(("cone errors", report.cone_errors))
        rate = report.candidates / report.seconds if report.seconds and report.candidates else 0
        rows += [("seconds", f"{report.seconds:.1f}"), ("candidates/s", f"{rate:.1f}")]
        _table(f"label -> {out}", rows)
        return 0

    run_cli(body)


# -- pairs -----------------------------------------------------------------------------------

_PAIRS_EPILOG = f"""
[bold]Examples[/bold]

  salv-train pairs labeled.jsonl --out pairs.jsonl                     # Eq. 1 pairs with cone spans
  salv-train pairs labeled.jsonl --out pairs.jsonl --mode module       # standard DPO pairs
  salv-train pairs labeled.jsonl --out pairs.jsonl --kinds partial --max-pairs-per-prompt 4 --seed 1

{_DOCS}
"""


@app.command("pairs", epilog=_PAIRS_EPILOG)
def pairs_command(
    labeled: Path = typer.Argument(..., help="Labeled file (JSONL, from `salv-train label`).", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Pairs file to write (JSONL, overwritten)."),
    mode: str = typer.Option("signal", "--mode", help="signal (Eq. 1, cone spans) or module (standard DPO)."),
    kinds: str = typer.Option("complete,partial", "--kinds", help="Pair kinds to keep, comma-separated."),
    max_pairs_per_prompt: Optional[int] = typer.Option(None, "--max-pairs-per-prompt", help="Keep at most N pairs per prompt (random draw)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --max-pairs-per-prompt draw."),
    json_out: bool = _JSON,
) -> None:
    """Preference pairs (Eq. 1 of QiMeng-SALV) from labeled candidates."""
    from ..data import KINDS, PairsConfig, make_pairs
    from ..data.pairs import MASK_RULES

    def body() -> int:
        cfg = PairsConfig(mode=mode,  # type: ignore[arg-type]
                          kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()),
                          max_pairs_per_prompt=max_pairs_per_prompt, seed=seed)
        report = make_pairs(labeled, out, cfg)
        if json_out:
            print_json(report.to_json())
        else:
            _table(f"pairs ({mode}) -> {out}", [
                ("prompts", report.prompts), ("prompts with pairs", report.prompts_with_pairs),
                ("pairs", report.pairs), *[(f"  {k}", report.kinds.get(k, 0)) for k in KINDS],
                *[(f"  mask {r}", report.mask_rules.get(r, 0)) for r in MASK_RULES],
                ("dropped (no mask possible)", report.dropped)])
        return 0

    run_cli(body)


# -- stats -----------------------------------------------------------------------------------

_STATS_EPILOG = f"""
[bold]Examples[/bold]

  salv-train stats pairs.jsonl            # pairs, kinds, contrast-signal histogram, span coverage
  salv-train stats labeled.jsonl --json   # candidates by category and verdict

{_DOCS}
"""


@app.command("stats", epilog=_STATS_EPILOG)
def stats_command(
    path: Path = typer.Argument(..., help="A prompts, samples, labeled or pairs file.", show_default=False),
    json_out: bool = _JSON,
) -> None:
    """Counts of a data file: pairs, kinds, contrast signals, span coverage, verdicts."""
    from ..data import stats

    def body() -> int:
        s = stats(path)
        if json_out:
            print_json(s)
            return 0
        rows: list[tuple[str, object]] = []
        for key, value in s.items():
            if key == "kind":
                continue
            if isinstance(value, dict):
                rows.append((key, ""))
                rows += [(f"  {k}", v) for k, v in value.items()]
            elif value is not None:
                rows.append((key, value))
        _table(f"{path} ({s['kind']})", rows)
        return 0

    run_cli(body)

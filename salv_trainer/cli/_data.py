"""`salv-train prepare|sample|label|pairs|stats`: the data stage (thin layer over
:mod:`salv_trainer.data`). Exit codes: 0 done, 2 bad input (one message, no traceback; an output
that is the same file as an input is refused so), 130 interrupted by Ctrl-C, SIGTERM or SIGHUP
(rerun the same command to resume ``sample`` and ``label``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from verislice.equiv import EquivOptions

from ..data import LabelConfig, PairsConfig, SampleConfig
from . import _engine, _scale
from ._app import app
from ._common import JSON, Summary, progress, run
from ._flags import Flags

_RESTART = typer.Option(False, "--restart", help="Start the output afresh instead of resuming it.")
_DOCS = "Formats: docs/data.md."


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
    json_out: bool = JSON,
) -> None:
    """Clean a (description, code) corpus: keep valid, unique designs with at least one output."""
    from ..data import DROP_REASONS, PrepareConfig, prepare

    def body() -> Summary:
        cfg = PrepareConfig(prompt_field=prompt_field, code_field=code_field, id_field=id_field,
                            icarus=not no_icarus)
        if jobs is not None:
            cfg.jobs = max(1, jobs)
        with progress("prepare") as update:
            report = prepare(source, out, cfg, rejects=rejects, progress=update)
        rows = [("rows read", report.total), ("kept", report.kept)]
        rows += [(f"dropped: {r} ({DROP_REASONS[r]})", n) for r, n in sorted(report.dropped.items())]
        rows.append(("seconds", f"{report.seconds:.1f}"))
        return Summary(report.to_json(), f"prepare -> {out}", rows)

    run(body, json_out=json_out)


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


_SAMPLE = (
    Flags()
    .field(SampleConfig, "model", default=..., annotation=Path)
    .option("prompts", Path, typer.Option(..., "--prompts", "-p", help="Prompts file (JSONL: id, prompt or messages)."))
    .option("out", Path, typer.Option(..., "--out", "-o", help="Samples file to write/extend (JSONL)."))
    .fields(SampleConfig, "k", "temperature", "top_p", "max_new_tokens", "seed", "batch_size", "backend",
            "device", "dtype", "limit")
    .extend(_engine.flags(SampleConfig))
    .extend(_scale.flags(SampleConfig))
    .option("restart", bool, _RESTART)
    .option("json_out", bool, JSON)
)


@_SAMPLE.command(app, "sample", epilog=_SAMPLE_EPILOG)
def sample_command(*, prompts: Path, out: Path, executor: str, ray_address: Optional[str],
                   shard: Optional[str], restart: bool, json_out: bool, **settings: object) -> None:
    """Sample k responses per prompt from a local model (resumable)."""
    from ..data import sample

    def body() -> Summary:
        settings["model"] = str(settings["model"])
        cfg = SampleConfig(**settings, shard=_scale.shard(shard))  # type: ignore[arg-type]
        with _scale.executor(executor, ray_address) as ex, progress("sample (prompts)") as update:
            report = sample(prompts, out, cfg, resume=not restart, progress=update, executor=ex)
        return Summary(report.to_json(), f"sample -> {out}", [
            ("prompts", report.prompts), ("already done", report.skipped), ("sampled now", report.sampled),
            ("responses", report.responses), ("seconds", f"{report.seconds:.1f}")])

    run(body, json_out=json_out)


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


_LABEL = (
    Flags()
    .option("samples", Path, typer.Argument(..., help="Samples file (JSONL: id, reference, responses).",
                                            show_default=False))
    .option("out", Path, typer.Option(..., "--out", "-o", help="Labeled file to write/extend (JSONL)."))
    .fields(LabelConfig, "jobs", "prompts_per_call")
    # the simulation options and their defaults are verislice.equiv.EquivOptions' (as `verislice equiv`)
    .field(EquivOptions, "cycles", show_default=False)
    .fields(EquivOptions, "sequences", "seed", "engine")
    .fields(EquivOptions, "timeout")
    .fields(EquivOptions, "batch_size")
    .fields(LabelConfig, "cones")
    .field(EquivOptions, "method", help_suffix=" formal and both need pyosys.")
    .extend(_scale.flags())
    .option("restart", bool, _RESTART)
    .option("json_out", bool, JSON)
)


@_LABEL.command(app, "label", epilog=_LABEL_EPILOG)
def label_command(*, samples: Path, out: Path, executor: str, ray_address: Optional[str],
                  shard: Optional[str], restart: bool, json_out: bool, **settings: object) -> None:
    """Per-output verdicts and cone spans for every response (resumable)."""
    from ..data import CATEGORIES, label

    def body() -> Summary:
        values = Flags.of(LabelConfig, settings)
        values["jobs"] = max(1, values["jobs"])
        cfg = LabelConfig(**values, equiv=EquivOptions(**Flags.of(EquivOptions, settings)),
                          shard=_scale.shard(shard))
        with _scale.executor(executor, ray_address) as ex, progress("label (candidates)") as update:
            report = label(samples, out, cfg, resume=not restart, progress=update, executor=ex)
        rows = [("prompts", report.prompts), ("already done", report.skipped),
                ("labeled now", report.labeled), ("candidates", report.candidates)]
        rows += [(f"  {c}", report.categories.get(c, 0)) for c in CATEGORIES]
        rows += [(f"  verdict {v}", n) for v, n in sorted(report.verdicts.items())]
        if report.cone_errors:
            rows.append(("cone errors", report.cone_errors))
        rate = report.candidates / report.seconds if report.seconds and report.candidates else 0
        rows += [("seconds", f"{report.seconds:.1f}"), ("candidates/s", f"{rate:.1f}")]
        return Summary(report.to_json(), f"label -> {out}", rows)

    run(body, json_out=json_out)


# -- pairs -----------------------------------------------------------------------------------

_PAIRS_EPILOG = f"""
[bold]Examples[/bold]

  salv-train pairs labeled.jsonl --out pairs.jsonl                     # Eq. 1 pairs with cone spans
  salv-train pairs labeled.jsonl --out pairs.jsonl --mode module       # standard DPO pairs
  salv-train pairs labeled.jsonl --out pairs.jsonl --kinds partial --max-pairs-per-prompt 4 --seed 1

{_DOCS}
"""


_PAIRS = (
    Flags()
    .option("labeled", Path, typer.Argument(..., help="Labeled file (JSONL, from `salv-train label`).",
                                            show_default=False))
    .option("out", Path, typer.Option(..., "--out", "-o", help="Pairs file to write (JSONL, overwritten)."))
    .field(PairsConfig, "mode", annotation=str)
    .field(PairsConfig, "kinds", default=",".join(PairsConfig.kinds), annotation=str)
    .fields(PairsConfig, "max_pairs_per_prompt", "seed")
    .option("json_out", bool, JSON)
)


@_PAIRS.command(app, "pairs", epilog=_PAIRS_EPILOG)
def pairs_command(*, labeled: Path, out: Path, json_out: bool, **settings: object) -> None:
    """Preference pairs (Eq. 1 of QiMeng-SALV) from labeled candidates."""
    from ..data import KINDS, make_pairs
    from ..data.pairs import MASK_RULES

    def body() -> Summary:
        kinds = tuple(k.strip() for k in str(settings.pop("kinds")).split(",") if k.strip())
        cfg = PairsConfig(**settings, kinds=kinds)  # type: ignore[arg-type]
        report = make_pairs(labeled, out, cfg)
        return Summary(report.to_json(), f"pairs ({cfg.mode}) -> {out}", [
            ("prompts", report.prompts), ("prompts with pairs", report.prompts_with_pairs),
            ("pairs", report.pairs), *[(f"  {k}", report.kinds.get(k, 0)) for k in KINDS],
            *[(f"  mask {r}", report.mask_rules.get(r, 0)) for r in MASK_RULES],
            ("dropped (no mask possible)", report.dropped)])

    run(body, json_out=json_out)


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
    json_out: bool = JSON,
) -> None:
    """Counts of a data file: pairs, kinds, contrast signals, span coverage, verdicts."""
    from ..data import stats

    def body() -> Summary:
        s = stats(path)
        rows: list[tuple[str, object]] = []
        for key, value in s.items():
            if key == "kind":
                continue
            if isinstance(value, dict):
                rows.append((key, ""))
                rows += [(f"  {k}", v) for k, v in value.items()]
            elif value is not None:
                rows.append((key, value))
        return Summary(s, f"{path} ({s['kind']})", rows)

    run(body, json_out=json_out)

"""`salv-train sft | dpo | merge`: thin layer over :mod:`salv_trainer.training`.

Every field of :class:`~salv_trainer.config.SFTRunConfig` / :class:`~salv_trainer.config.DPORunConfig`
becomes a ``--flag``; ``--config file.yaml`` supplies the same keys; flags given on the command line
override the file. Exit codes: 0 done, 2 bad input or configuration (message, no traceback).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from ._app import app
from ._common import Summary, print_json, quiet_libraries, run
from ._flags import field_option

_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
_INTERRUPTED = "interrupted: resume with --resume latest"


def _main_process() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def _config_command(name: str, cls: type, runner: Callable[[Any], Any], help_text: str) -> None:
    """Register ``name`` with one ``--flag`` per field of ``cls`` plus --config and --json."""
    params = [
        inspect.Parameter(
            "config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
            default=typer.Option(None, "--config", "-c", help="YAML file with the same keys as the flags "
                                 "(underscores or dashes); flags override it."),
        ),
        inspect.Parameter(
            "as_json", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
            default=typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
        ),
    ]
    for f in fields(cls):
        # every flag defaults to None ("not given"), so that a flag overrides the --config file
        kind = _TYPES[f.type if isinstance(f.type, str) else f.type.__name__]
        flag = "--" + f.name.replace("_", "-")
        shown = f" (default: {f.default})" if f.default not in ("", None) else ""
        params.append(field_option(cls, f.name, f"{flag}/--no-{flag[2:]}" if kind is bool else flag,
                                   default=None, annotation=Optional[kind], help_suffix=shown,
                                   show_default=False)[0])

    def command(**kwargs: Any) -> None:
        from ..config import load_config

        config, as_json = kwargs.pop("config"), kwargs.pop("as_json")
        quiet_libraries()

        def go() -> Optional[Summary]:
            cfg = load_config(cls, config, **kwargs)
            cfg.validate()
            result = runner(cfg)
            return _summary(result) if _main_process() else None

        run(go, json_out=as_json, interrupted=_INTERRUPTED, tracebacks=True)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = help_text
    command.__name__ = name
    app.command(name=name, help=help_text)(command)


def _summary(result: Any) -> Summary:
    """A training run's summary: steps, rows, the last metrics, the rows left out and why."""
    data = result.to_dict()
    rows: list[tuple[str, object]] = [("optimizer steps", result.steps), ("rows trained on", result.rows)]
    keys = ("train_loss", "loss", "rewards/accuracies", "rewards/margins", "mask/fraction", "train_runtime")
    rows += [(key, f"{result.metrics[key]:.4g}") for key in keys if key in result.metrics]
    for key in ("dropped_kind", "dropped_empty", "dropped_truncated", "dropped_unaligned"):
        if data["data"].get(key):
            rows.append((key.replace("_", " "), data["data"][key]))
    rows += [(f"  unaligned: {reason}", n) for reason, n in (data["data"].get("unaligned_reasons") or {}).items()]
    return Summary(data, f"salv-train {result.stage}: {result.output_dir}", rows)


def _run_sft(cfg):  # noqa: ANN001
    from ..training import train_sft

    return train_sft(cfg)


def _run_dpo(cfg):  # noqa: ANN001
    from ..training import train_dpo

    return train_dpo(cfg)


def _register() -> None:
    from ..config import DPORunConfig, SFTRunConfig

    _config_command(
        "sft", SFTRunConfig, _run_sft,
        "Supervised fine-tuning (full weights, TRL SFTTrainer) on prompt/reference rows.\n\n"
        "Data: JSONL with prompt (text or chat messages), optional module_header, and reference (Verilog). "
        "The output directory holds full weights + tokenizer, usable as `dpo --model`.\n\n"
        "Examples:\n\n"
        "  salv-train sft --model base/ --data train.jsonl --output-dir sft/\n\n"
        "  salv-train sft --config examples/configs/sft.yaml --max-steps 100\n\n"
        "  salv-train sft --config sft.yaml --resume latest",
    )
    _config_command(
        "dpo", DPORunConfig, _run_dpo,
        "Signal-aware DPO (paper Eq. 2) with a LoRA adapter; reference = the policy, adapter disabled.\n\n"
        "Pairs: JSONL from `salv-train pairs` (prompt, chosen, rejected, chosen_spans, rejected_spans, kind). "
        "--mask cone trains on the contrast signals' cone tokens only (paper), full is standard DPO, inverse "
        "trains on everything except the cone (the released code's behaviour). The output directory holds a "
        "PEFT adapter (see `salv-train merge`).\n\n"
        "Examples:\n\n"
        "  salv-train dpo --model sft/ --pairs pairs.jsonl --output-dir dpo/\n\n"
        "  salv-train dpo --config examples/configs/dpo.yaml --mask full --kinds complete\n\n"
        "  accelerate launch -m salv_trainer.cli dpo --config dpo.yaml",
    )


_register()


@app.command()
def merge(
    adapter: Path = typer.Argument(..., help="Directory holding a PEFT adapter (a `salv-train dpo` output)."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the merged full weights + tokenizer."),
    bf16: bool = typer.Option(False, "--bf16", help="Load and save in bfloat16."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Merge a LoRA adapter into its base model and save full weights (loadable without peft).

    Examples:

      salv-train merge dpo/ --output dpo-merged/

      salv-train sample --model dpo-merged/ ...
    """
    from ..training import merge_adapter

    quiet_libraries()

    def body() -> None:
        out = merge_adapter(adapter, output, bf16=bf16)
        if as_json:
            print_json({"adapter": str(adapter), "output": str(out)})
        else:
            typer.echo(f"merged {adapter} -> {out}")

    run(body, interrupted=_INTERRUPTED, tracebacks=True)

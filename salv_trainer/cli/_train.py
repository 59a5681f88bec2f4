"""`salv-train sft | dpo | merge`: thin layer over :mod:`salv_trainer.training`.

Every field of :class:`~salv_trainer.config.SFTRunConfig` / :class:`~salv_trainer.config.DPORunConfig`
becomes a ``--flag``; ``--config file.yaml`` supplies the same keys; flags given on the command line
override the file. Exit codes: 0 done, 2 bad input or configuration (message, no traceback).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from ._app import app

_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _quiet() -> bool:
    return not sys.stderr.isatty()


def _main_process() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def _silence_libraries() -> None:
    """No progress bars or library chatter when the output is piped."""
    import warnings

    warnings.filterwarnings("ignore", module="torch.utils.data")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if _quiet():
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _run(fn: Callable[[], Any]) -> Any:
    from verislice.cli import terminate_as_interrupt

    from ..errors import SalvError

    try:
        with terminate_as_interrupt():  # SIGTERM/SIGHUP unwind like Ctrl-C: cleanup runs
            return fn()
    except SalvError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("interrupted: resume with --resume latest", err=True)
        raise typer.Exit(130) from None


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
        kind = _TYPES[f.type if isinstance(f.type, str) else f.type.__name__]
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        decl = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        shown = f" (default: {default})" if default not in ("", None) else ""
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[kind],
                default=typer.Option(None, *decl, help=f.metadata.get("help", "") + shown, show_default=False),
            )
        )

    def command(**kwargs: Any) -> None:
        from ..config import load_config

        config, as_json = kwargs.pop("config"), kwargs.pop("as_json")
        _silence_libraries()

        def go():
            cfg = load_config(cls, config, **kwargs)
            cfg.validate()
            return runner(cfg)

        result = _run(go)
        if _main_process():
            _report(result, as_json)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = help_text
    command.__name__ = name
    app.command(name=name, help=help_text)(command)


def _report(result: Any, as_json: bool) -> None:
    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"salv-train {result.stage}: {result.output_dir}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("optimizer steps", str(result.steps))
    table.add_row("rows trained on", str(result.rows))
    keys = ("train_loss", "loss", "rewards/accuracies", "rewards/margins", "mask/fraction", "train_runtime")
    for key in keys:
        if key in result.metrics:
            table.add_row(key, f"{result.metrics[key]:.4g}")
    for key in ("dropped_kind", "dropped_empty", "dropped_truncated", "dropped_unaligned"):
        if data["data"].get(key):
            table.add_row(key.replace("_", " "), str(data["data"][key]))
    for reason, n in (data["data"].get("unaligned_reasons") or {}).items():
        table.add_row(f"  unaligned: {reason}", str(n))
    Console(stderr=False).print(table)


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

    _silence_libraries()
    out = _run(lambda: merge_adapter(adapter, output, bf16=bf16))
    if as_json:
        typer.echo(json.dumps({"adapter": str(adapter), "output": str(out)}))
    else:
        typer.echo(f"merged {adapter} -> {out}")

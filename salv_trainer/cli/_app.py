"""The typer application object shared by every ``salv-train`` sub-command module."""

import typer

app = typer.Typer(
    name="salv-train",
    help="Signal-aware LLM training for Verilog (QiMeng-SALV): prepare, sample, label, pairs, "
    "sft, dpo, eval.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

"""The typer application object shared by every ``verislice`` sub-command module."""

import typer

app = typer.Typer(
    name="verislice",
    help="Signal-level Verilog analysis: dependency graphs, backward cones, per-output equivalence.\n\n"
    "Exit codes follow diff: 0 same/ok, 1 different, 2 error.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

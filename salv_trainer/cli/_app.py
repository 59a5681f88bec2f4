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


@app.callback()
def _main(
    no_sandbox: bool = typer.Option(
        False, "--no-sandbox",
        help="Run untrusted Verilog (label, eval, prepare, pipeline) without the bubblewrap "
             "sandbox, accepting the risk (same as VERISLICE_SANDBOX=none; docs/security.md). "
             "Give it before the command: salv-train --no-sandbox label ..."),
) -> None:
    """Signal-aware LLM training for Verilog (QiMeng-SALV)."""
    if no_sandbox:
        import os

        from verislice.untrusted import SANDBOX_ENV

        os.environ[SANDBOX_ENV] = "none"  # inherited by every worker and simulator process

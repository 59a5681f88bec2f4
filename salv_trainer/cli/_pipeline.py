"""`salv-train pipeline`: the miniature end-to-end replication (thin layer over
:mod:`salv_trainer.pipeline`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ._app import app
from ._common import is_tty, print_json, quiet_libraries, run

_HELP = """Run the miniature SALV replication end to end on a CPU, in one command.

Synthetic spec-to-Verilog problems, a tokenizer and tiny LM from scratch, SFT, k samples per
train prompt, per-output labels, pairs (signal and module mode), the DPO variants of the paper's
Table 3 from the same SFT checkpoint and step budget, then every model scored on the held-out test
split: a table on stdout, results.json and results.png in the output directory.

Rerunning the same command resumes: every stage whose artefact exists is skipped.

Examples:

  salv-train pipeline --config examples/mini/config.yaml                # full run (~1 h 10 min, 2 cores)
  salv-train pipeline --config examples/mini/ci.yaml --output-dir /tmp/mini
  salv-train pipeline --config examples/mini/config.yaml --seeds 0,1,2  # confidence over seeds
  salv-train pipeline --config examples/mini/config.yaml --report       # table of a finished run
  salv-train pipeline --config examples/mini/config.yaml --json > results.json
  salv-train pipeline --config examples/mini/config.yaml --report --markdown   # tables for docs

Exit status: 0 done, 2 bad configuration or input (message, no traceback).
"""


class _ConsoleReporter:
    """Stage lines on stderr; progress bars only on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console

        tty = is_tty(sys.stderr)
        self.console = Console(file=sys.stderr, force_terminal=None if tty else False,
                               color_system="auto" if tty else None, highlight=False,
                               width=None if tty else 10_000)
        self.tty = tty
        self._progress = None
        self._task = None

    def _close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def stage(self, name: str, detail: str = "") -> None:
        self._close()
        self.console.print(f"[bold]>[/bold] {name}" + (f": {detail}" if detail else ""))

    def skip(self, name: str, why: str) -> None:
        self.console.print(f"[dim]- {name}: skipped ({why})[/dim]")

    def done(self, name: str, seconds: float, summary: str = "") -> None:
        self._close()
        self.console.print(f"[green]ok[/green] {name} ({seconds:.1f} s)" + (f": {summary}" if summary else ""))

    def progress(self, name: str, done: int, total: int) -> None:
        if not self.tty or total <= 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        if self._progress is None or self._name != name:
            self._close()
            self._progress = Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(name, total=total)
            self._name = name
        self._progress.update(self._task, completed=done, total=total)


@app.command(help=_HELP, no_args_is_help=False)
def pipeline(
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="YAML file (keys of PipelineConfig: output_dir, seeds, synth, model, "
        "sft, sample, label, pairs, dpo, eval, variants; see docs/mini.md)."),
    output_dir: Optional[str] = typer.Option(None, "--output-dir", "-o", help="Override output_dir."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Override seeds, comma-separated (e.g. 0,1,2)."),
    report: bool = typer.Option(False, "--report", help="Only print the table of the finished run in "
                                "output_dir (results.json); run nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print results.json on stdout instead of the table."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the tables as Markdown (for docs)."),
) -> None:
    def body() -> None:
        results, out = _pipeline(config, output_dir, seeds, report)
        if as_json:
            print_json(results)
            return
        if markdown:
            from ..pipeline import render_markdown

            typer.echo(render_markdown(results), nl=False)
            return
        from rich.console import Console

        from ..pipeline import render_table

        tty = is_tty(sys.stdout)
        render_table(results, Console(force_terminal=None if tty else False,
                                      color_system="auto" if tty else None, width=None if tty else 200))
        # the directory read or written now (a copied run records where it was made)
        typer.echo(f"results: {out / 'results.json'}, chart: {out / 'results.png'}", err=True)

    run(body, interrupted="interrupted: rerun the same command to resume", tracebacks=True)


def _pipeline(config: Optional[Path], output_dir: Optional[str], seeds: Optional[str],
              report: bool) -> tuple[dict, Path]:
    """The results of the run (read with ``report``, else made) and its output directory."""
    from ..config import ConfigError
    from ..pipeline import load_pipeline_config, run_pipeline

    seed_list = None
    if seeds is not None:
        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"--seeds: expected comma-separated integers, got {seeds!r}") from None
    cfg = load_pipeline_config(config, output_dir=output_dir, seeds=seed_list)
    out = Path(cfg.output_dir).resolve()
    if report:
        path = Path(cfg.output_dir) / "results.json"
        if not path.is_file():
            raise ConfigError(f"{path}: no finished run there (run the pipeline first)")
        try:
            return json.loads(path.read_text(encoding="utf-8")), out
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not a results file ({exc.msg}); "
                              f"rerun the pipeline to rewrite it") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: unreadable ({exc}); rerun the pipeline to rewrite it") from None
    _refuse_overwrite(config, Path(cfg.output_dir))
    quiet_libraries()
    return run_pipeline(cfg, _ConsoleReporter()), out


def _refuse_overwrite(config: Optional[Path], output_dir: Path) -> None:
    """The configuration file must not be one of the files the run writes in ``output_dir``."""
    from .._paths import refuse_overwrite
    from ..config import ConfigError

    written = ("config.yaml", "results.json", "results.png")
    refuse_overwrite({"--config": config}, {f"the run's {name}": output_dir / name for name in written},
                     error=ConfigError)

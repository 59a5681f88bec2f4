"""What every ``salv-train`` command is made of: the error-to-exit runner, the terminal checks,
the progress bars, and the summary a command prints (a table, or JSON with ``--json``).

Exit codes, for every command: 0 done, 2 bad input or configuration (``error: message`` on
stderr, no traceback: any :class:`~verislice.VerisliceError`, salv_trainer's ``SalvError``
included), 130 interrupted by Ctrl-C, SIGTERM or SIGHUP (after every ``finally`` block ran).
Built on verislice's own helpers (:mod:`verislice.cli`), so both command lines behave alike.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import typer

from verislice import VerisliceError
from verislice.cli import console, err_console, print_json, run_cli, show_progress

from .._quiet import is_tty, quiet_libraries

__all__ = ["JSON", "Summary", "err_console", "is_tty", "print_json", "progress", "progress_bars",
           "quiet_libraries", "run", "table"]

#: ``--json`` of the data commands.
JSON = typer.Option(False, "--json", help="Print the summary as JSON on stdout (for scripts).")

EXIT_BUG = 1  # an exception that is no user error, with tracebacks=True (as Python exits)
EXIT_INTERRUPTED = 130


@dataclass
class Summary:
    """What a command reports when it is done: ``doc`` on stdout as JSON with ``--json``,
    else a two-column table of ``rows`` under ``title``."""

    doc: Any
    title: str
    rows: Sequence[tuple[str, object]]


def run(body: Callable[[], Summary | int | None], *, json_out: bool = False,
        interrupted: str | None = None, tracebacks: bool = False) -> None:
    """Run a command's ``body`` and exit: 0 (or the int it returns; a :class:`Summary` it
    returns is printed first, as JSON when ``json_out``), 2 for a user error, 130 when
    interrupted, printing ``interrupted`` (default ``error: interrupted``). Another exception
    is a bug: one line and exit 2, or with ``tracebacks`` (commands that run training or model
    code, whose errors need their stack) its traceback and exit 1.

    A user error is printed ``error: <message>``; without ``tracebacks`` (the data commands, as
    ``verislice``'s own) a message line that already reads ``file:line:col: error: ...`` is
    printed as it is."""

    def guarded() -> int | None:
        try:
            result = body()
        except KeyboardInterrupt:
            if interrupted is None:
                raise
            typer.echo(interrupted, err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except VerisliceError as exc:
            if not tracebacks:
                raise
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, BrokenPipeError):
            raise
        except Exception:
            if not tracebacks:
                raise
            traceback.print_exc()
            return EXIT_BUG
        if isinstance(result, Summary):
            if json_out:
                print_json(result.doc)
            else:
                table(result.title, result.rows)
            return 0
        return result

    run_cli(guarded)


def table(title: str, rows: Sequence[tuple[str, object]]) -> None:
    """A two-column table on stdout. Keys may come from the data (``stats``: verdicts, signal
    names), so lone surrogates are shown as escapes instead of crashing the print."""
    from rich.table import Table

    from .._text import printable

    t = Table(title=printable(title), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in rows:
        t.add_row(printable(k), printable(str(v)))
    console().print(t)


@contextmanager
def progress_bars(*, elapsed: bool = False) -> Iterator[Optional[Callable[[str, int, Optional[int]], None]]]:
    """Progress bars on stderr, one per name: yields ``update(name, done, total)``, or None
    when nobody watches (stderr is no terminal, or ``CI`` is set). ``elapsed``: show the time
    spent instead of the time left."""
    if not show_progress():
        yield None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    clock = TimeElapsedColumn() if elapsed else TimeRemainingColumn()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), clock,
                  console=err_console(), transient=True) as bar:
        ids: dict[str, Any] = {}

        def update(name: str, done: int, total: Optional[int] = None) -> None:
            if name not in ids:
                ids[name] = bar.add_task(name, total=total)
            bar.update(ids[name], completed=done, total=total)

        yield update


@contextmanager
def progress(description: str) -> Iterator[Optional[Callable[..., None]]]:
    """One progress bar: yields ``update(done, total=None)``, or None when nobody watches."""
    with progress_bars() as update:
        yield None if update is None else (lambda done, total=None: update(description, done, total))

"""Helpers shared by every ``verislice`` sub-command: errors, consoles, JSON output, common options.

Each command is a thin layer over the Python API::

    @app.command()
    def thing(files: list[Path] = FILES, json_out: bool = JSON) -> None:
        run_cli(lambda: _thing(files, json_out))

:func:`run_cli` turns a :class:`~verislice.VerisliceError` into a red message on stderr and exit
code 2 (never a traceback); the function's integer return value (0 same/ok, 1 different) becomes
the exit code. Ctrl-C, SIGTERM and SIGHUP all end a command the same way: ``finally`` blocks run
(temporary directories removed, simulators killed), one ``error: interrupted`` line, exit code 130
(:func:`terminate_as_interrupt`). :func:`console` prints rich output to a terminal and plain text
when piped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from .._errors import DiagnosticError, VerisliceError

__all__ = [
    "DEFINE",
    "FILES",
    "INCLUDE",
    "JSON",
    "PARAM",
    "TOP",
    "console",
    "err_console",
    "fail",
    "parse_defines",
    "parse_parameters",
    "read_file_list",
    "print_json",
    "run_cli",
    "split_signals",
    "terminate_as_interrupt",
]

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C; also used for SIGTERM/SIGHUP

# Options every design-reading command shares (same names, same help everywhere).
FILES = typer.Argument(..., help="Verilog/SystemVerilog source files.", show_default=False)
TOP = typer.Option(None, "--top", "-t", help="Top module (default: the module no other instantiates).")
INCLUDE = typer.Option([], "--include", "-I", help="Include directory (repeatable).")
DEFINE = typer.Option([], "--define", "-D", help="Macro definition NAME or NAME=VALUE (repeatable).")
JSON = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
PARAM = typer.Option([], "--parameter", "-P", help="Top-level parameter override NAME=VALUE "
                     "(repeatable), e.g. -P DATA_WIDTH=16.")


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console() -> Console:
    """Console for stdout: colours and tables on a terminal, plain text (no markup codes,
    no wrapping) when piped or redirected. ``NO_COLOR`` is honoured by rich itself."""
    tty = _is_tty(sys.stdout)
    return Console(
        file=sys.stdout,
        force_terminal=None if tty else False,
        color_system="auto" if tty else None,
        soft_wrap=not tty,
        highlight=False,
        width=None if tty else 10_000,
    )


def err_console() -> Console:
    """Console for stderr (messages, progress bars); plain when stderr is not a terminal."""
    tty = _is_tty(sys.stderr)
    return Console(
        file=sys.stderr,
        force_terminal=None if tty else False,
        color_system="auto" if tty else None,
        soft_wrap=True,
        highlight=False,
    )


def show_progress() -> bool:
    """Progress bars only for people: stderr is a terminal and ``CI`` is not set."""
    return _is_tty(sys.stderr) and not os.environ.get("CI")


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; return the exit to raise (code 2)."""
    _print_error(message)
    return typer.Exit(EXIT_ERROR)


def _print_error(message: str) -> None:
    con = err_console()
    for line in message.splitlines() or [""]:
        # DiagnosticError lines already read `file:line:col: error: ...`: print them as they are.
        text = line if ": error:" in line or ": warning:" in line else f"error: {line}"
        con.print(text, style="bold red" if ": warning:" not in text else "yellow", markup=False)


_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the body runs, SIGTERM and SIGHUP raise :class:`KeyboardInterrupt`, as Ctrl-C does.

    Their default action ends the process on the spot: no ``finally`` block runs, so temporary
    directories stay and running simulators are orphaned. Raised as an interrupt, they unwind
    the command like Ctrl-C. A second signal while that cleanup runs is ignored (SIGKILL still
    works). A forked worker process inherits the handler; there the signal keeps its default
    action, as a pool's ``terminate()`` expects. Only the main thread can set handlers: elsewhere
    this does nothing. The previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner, fired = os.getpid(), []

    def interrupt(signum: int, _frame: object) -> None:
        if os.getpid() != owner:  # a forked worker: die as the default action would
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if fired:
            return  # already unwinding: let the cleanup finish
        fired.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in _TERMINATING}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_cli(fn: Callable[[], int | None]) -> None:
    """Run a command body: VerisliceError -> message on stderr + exit 2; return value -> exit code.

    Broken pipes (``verislice graph x.v | head``) end quietly. Ctrl-C, SIGTERM and SIGHUP end it
    with ``error: interrupted`` and exit code 130, after every ``finally`` block has run. Any
    other exception is a bug in verislice: it is reported in one line (exit 2) and the traceback
    is shown only with ``VERISLICE_DEBUG=1``.
    """
    try:
        with terminate_as_interrupt():
            code = fn()
    except typer.Exit:
        raise
    except DiagnosticError as exc:
        _print_error(exc.message)
        raise typer.Exit(EXIT_ERROR) from None
    except VerisliceError as exc:
        _print_error(exc.message)
        raise typer.Exit(EXIT_ERROR) from None
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (silence the interpreter's flush)
        except OSError:
            pass
        raise typer.Exit(EXIT_OK) from None
    except KeyboardInterrupt:
        _print_error("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # a bug: one clear line, never a bare traceback
        if os.environ.get("VERISLICE_DEBUG"):
            raise
        _print_error(f"internal error: {type(exc).__name__}: {exc} (set VERISLICE_DEBUG=1 for details)")
        raise typer.Exit(EXIT_ERROR) from None
    raise typer.Exit(int(code or 0))


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON on stdout (one document, trailing newline).

    Text stays readable (``ensure_ascii=False``) unless it holds a lone surrogate (read from a
    ``"\\ud800"`` escape in a data file), which no encoding can write: then the document is
    written with ``ensure_ascii=True``, which escapes it losslessly instead of crashing."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, indent=2, ensure_ascii=True, default=_json_default)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def parse_defines(items: Sequence[str]) -> dict[str, str | None]:
    """``-D NAME`` / ``-D NAME=VALUE`` options -> the ``defines`` mapping of :func:`verislice.load`."""
    out: dict[str, str | None] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not name or not (name[0].isalpha() or name[0] == "_") or not all(
            c.isalnum() or c in "_$" for c in name
        ):
            raise VerisliceError(f"-D {item}: expected NAME or NAME=VALUE")
        out[name] = value if eq else None
    return out


def parse_parameters(items: Sequence[str]) -> dict[str, str]:
    """``-P NAME=VALUE`` options -> the ``parameters`` mapping of :func:`verislice.load` and
    ``EquivOptions`` (the value is checked where it is used)."""
    out: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise VerisliceError(f"-P {item}: expected NAME=VALUE")
        out[name] = value
    return out


def read_file_list(path: Path) -> tuple[list[str], list[str]]:
    """Source files and include directories of a ``.f`` file list: one path a line (relative
    to the list's folder), ``-I DIR`` or ``+incdir+DIR`` lines, ``//`` and ``#`` comments;
    ``-f OTHER.f`` nests. Anything else (``-D``, ``+define+``, tool options) is an error, so
    nothing in a list is silently ignored."""
    files: list[str] = []
    incdirs: list[str] = []
    _read_list(Path(path), files, incdirs, set())
    return files, incdirs


def _read_list(path: Path, files: list[str], incdirs: list[str], seen: set[Path]) -> None:
    real = path.resolve()
    if real in seen:
        raise VerisliceError(f"{path}: the file list includes itself")
    seen.add(real)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise VerisliceError(f"{path}: cannot read: {exc.strerror}") from None
    base = path.parent
    for n, raw in enumerate(lines, 1):
        line = raw.split("//", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        for i, w in enumerate(words):
            if w in ("-I", "-f") and i + 1 < len(words):
                continue
            prev = words[i - 1] if i else ""
            if prev == "-I" or w.startswith("+incdir+"):
                for d in ([w] if prev == "-I" else w[len("+incdir+"):].split("+")):
                    if d:
                        incdirs.append(str(base / d))
            elif prev == "-f":
                _read_list(base / w, files, incdirs, seen)
            elif w.startswith(("-", "+")):
                raise VerisliceError(f"{path}:{n}: unsupported file-list entry '{w}' (only "
                                     "files, -I DIR, +incdir+DIR and -f LIST)")
            else:
                files.append(str(base / w))


def split_signals(items: Sequence[str]) -> list[str]:
    """``-s a -s b,c`` -> ``["a", "b", "c"]`` (commas separate names too)."""
    out: list[str] = []
    for item in items:
        out += [x.strip() for x in item.split(",") if x.strip()]
    return out


def load_args(
    files: Sequence[Path], top: str | None, include: Sequence[Path], define: Sequence[str],
    parameter: Sequence[str] = (),
) -> Mapping[str, Any]:
    """Keyword arguments for :func:`verislice.load` from the shared options."""
    return {
        "sources": [str(f) for f in files],
        "top": top,
        "include_dirs": [str(d) for d in include],
        "defines": parse_defines(define) or None,
        "parameters": parse_parameters(parameter) or None,
    }

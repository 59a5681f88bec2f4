"""`verislice cone`: the code that drives some signals, as a module that compiles."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from ._app import app
from ._common import (DEFINE, FILES, INCLUDE, PARAM, TOP, console, err_console, load_args, print_json,
                      split_signals)
from ._isolate import run_isolated


class ConeFormat(str, Enum):
    text = "text"
    spans = "spans"
    json = "json"


class Ports(str, Enum):
    all = "all"
    used = "used"


@app.command(
    epilog="Examples:\n\n"
    "  verislice cone examples/kbd/gen.v --signal d\n\n"
    "  verislice cone design.v -s q -s r --top top\n\n"
    "  verislice cone a.v b.v -I inc -D WIDTH=8 -s y\n\n"
    "  verislice cone fifo.v -P DEPTH=16 -s full     # top-level parameter override\n\n"
    "  verislice cone design.v -s d --format spans     # byte and character ranges\n\n"
    "  verislice cone design.v -s d --ports used -o d_only.v\n\n"
    "Exit codes: 0 ok, 2 error (unknown signal, parse error, unsupported construct).",
)
def cone(
    files: list[Path] = FILES,
    signal: list[str] = typer.Option(..., "--signal", "-s", help="Signal whose cone to keep (repeatable, or comma-separated).",
                                     show_default=False),
    top: str = TOP,
    ports: Ports = typer.Option(Ports.all, "--ports", help="all: header unchanged (drops into the "
                                "original testbench); used: only the ports the cone uses."),
    fmt: ConeFormat = typer.Option(ConeFormat.text, "--format", "-f", help="text: the module; "
                                   "spans: kept byte/char ranges; json: everything."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the result to this file."),
    include: list[Path] = INCLUDE,
    define: list[str] = DEFINE,
    parameter: list[str] = PARAM,
) -> None:
    """Print the backward cone of signals: the statements that drive them, as a module that
    compiles, with the original text of every kept statement."""
    fmt_name = "json" if json_out else fmt.value
    signals = split_signals(signal)

    def front_end() -> None:
        import verislice

        verislice.cone(verislice.load(**load_args(files, top, include, define, parameter)), signals,
                       ports=ports.value)

    run_isolated(lambda: _cone(files, signals, top, ports.value, fmt_name, output, include,
                               define, parameter), front_end, files)


def _cone(files, signals, top, ports, fmt, output, include, define, parameter=()) -> int:
    import verislice

    design = verislice.load(**load_args(files, top, include, define, parameter))
    sl = verislice.cone(design, signals, ports=ports)
    err = err_console()
    for w in sl.warnings:
        err.print(f"warning: {w}", style="yellow", markup=False)
    if fmt == "json":
        text = None
    elif fmt == "spans":
        lines = [f"# {sl.file}: cone of {', '.join(sl.requested)} "
                 "(byte_start byte_end char_start char_end, end exclusive)"]
        lines += [f"{b0} {b1} {c0} {c1}" for (b0, b1), (c0, c1) in zip(sl.spans, sl.char_spans)]
        text = "\n".join(lines) + "\n"
    else:
        text = sl.text
    if output is not None:
        import json

        body = json.dumps(sl.to_json(), indent=2, ensure_ascii=False) + "\n" if text is None else text
        try:
            output.write_text(body, encoding="utf-8")
        except OSError as exc:
            raise verislice.VerisliceError(f"{output}: cannot write: {exc.strerror}") from None
        if sl.dropped_outputs:
            err.print(f"{output}: cone of {', '.join(sl.requested)}; outputs outside it: "
                      f"{', '.join(sl.dropped_outputs)}", markup=False, highlight=False)
        return 0
    if text is None:
        print_json(sl.to_json())
        return 0
    con = console()
    if fmt == "text" and con.is_terminal:
        from rich.syntax import Syntax

        con.print(Syntax(text.rstrip("\n"), "verilog", theme="ansi_dark", background_color="default"))
        if sl.dropped_outputs:
            err.print(f"(outputs outside the cone, left undriven: {', '.join(sl.dropped_outputs)})"
                      if ports == "all" else
                      f"(outputs outside the cone, removed: {', '.join(sl.dropped_outputs)})",
                      style="dim", markup=False)
    else:
        con.file.write(text)
        con.file.flush()
    return 0

"""`verislice graph`: the signal dependency graph as a tree, DOT, JSON or a picture."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from ._app import app
from ._common import (DEFINE, FILES, INCLUDE, PARAM, TOP, console, err_console, load_args,
                      split_signals)
from ._isolate import run_isolated


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    json = "json"
    svg = "svg"
    png = "png"
    pdf = "pdf"


@app.command(
    epilog="Examples:\n\n"
    "  verislice graph examples/kbd/gen.v                 # tree of every output's dependencies\n\n"
    "  verislice graph design.v --format dot | dot -Tsvg > g.svg\n\n"
    "  verislice graph design.v --format json -s d        # node-link JSON of d's cone\n\n"
    "  verislice graph design.v -s d -o cone.svg          # picture (svg/png from the suffix)\n\n"
    "  verislice graph core.v -s pc --depth 3 -o pc.svg  # only 3 levels upstream of pc\n\n"
    "Exit codes: 0 ok, 2 error (also: a picture too large to draw).",
)
def graph(
    files: list[Path] = FILES,
    signal: list[str] = typer.Option([], "--signal", "-s", help="Only the cone of this signal (repeatable, or comma-separated)."),
    top: str = TOP,
    fmt: GraphFormat = typer.Option(None, "--format", "-f", help="tree (default on stdout), dot, json, "
                                    "svg, png or pdf (default with -o: from the file suffix).",
                                    show_default=False),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (.svg/.png/.pdf: a picture)."),
    include: list[Path] = INCLUDE,
    define: list[str] = DEFINE,
    parameter: list[str] = PARAM,
    depth: int = typer.Option(None, "--depth", min=1, help="Only signals at most N edges "
                              "upstream of the outputs (or of --signal); tree: N levels.",
                              show_default=False),
) -> None:
    """Show the signal dependency graph (data and control edges with their source lines)."""
    f = "json" if json_out else (fmt.value if fmt is not None else None)
    def front_end() -> None:
        import verislice

        verislice.build_graph(verislice.load(**load_args(files, top, include, define, parameter)))

    run_isolated(lambda: _graph(files, split_signals(signal), top, f, output, include, define,
                                parameter, depth),
                 front_end, files)


def _graph(files, signals, top, fmt, output, include, define, parameter=(), depth=None) -> int:
    import verislice
    from .. import _render

    design = verislice.load(**load_args(files, top, include, define, parameter))
    g = verislice.build_graph(design)
    sigs = g.check_signals(signals, allow_inputs=True) if signals else None
    err = err_console()
    for w in g.warnings:
        err.print(f"warning: {w}", style="yellow", markup=False)
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = suffix if suffix in ("svg", "png", "pdf", "dot", "json") else (
            "dot" if suffix == "gv" else "tree")
    if fmt in ("svg", "png", "pdf"):
        if output is None:
            raise verislice.VerisliceError(f"--format {fmt} writes a picture: give a file with -o")
        _render.check_drawable(g, sigs, depth)
        _render.render_image(_render.to_dot(g, sigs, depth), output, fmt)
        err.print(f"wrote {output}", style="dim", markup=False)
        return 0
    if fmt == "dot":
        text = _render.to_dot(g, sigs, depth)
    elif fmt == "json":
        import json

        text = json.dumps(g.to_json(sigs, depth), indent=2, ensure_ascii=False) + "\n"
    else:
        text = None
    if output is not None:
        if text is None:
            con = console()
            with con.capture() as cap:
                con.print(_render.tree(g, sigs, depth))
            text = cap.get()
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise verislice.VerisliceError(f"{output}: cannot write: {exc.strerror}") from None
        return 0
    if text is not None:
        con = console()
        con.file.write(text)
        con.file.flush()
        return 0
    console().print(_render.tree(g, sigs, depth))
    return 0

"""Options shared by ``sample`` and ``label`` to run at scale (``--executor``, ``--ray-address``,
``--shard``; ``eval`` has them as fields of ``EvalConfig``), and ``salv-train merge-shards``,
which joins shard outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from verislice.cli import console

from ._app import app
from ._common import JSON, err_console, print_json, run
from ._flags import Flags

EXECUTOR = typer.Option("local", "--executor", help="Where the work runs: local (this process) "
                        "or ray (a Ray cluster; pip install -e '.\\[ray]'). See docs/scale.md.")
RAY_ADDRESS = typer.Option(None, "--ray-address", help="--executor ray: address of a running "
                           "cluster (e.g. 10.0.0.1:6379, or auto); default $RAY_ADDRESS, else a "
                           "local cluster for this run.")
SHARD = typer.Option(None, "--shard", help="Only shard I of N (I/N, 0 <= I < N, e.g. "
                     "$SLURM_ARRAY_TASK_ID/8): rows split by a hash of their id; join the shards "
                     "with salv-train merge-shards.")


def flags(replicas_of: type | None = None) -> Flags:
    """``--executor``, ``--ray-address``, the replica options of ``replicas_of`` (a config with
    ``replicas`` and ``gpus_per_replica`` fields) when given, and ``--shard``, in ``--help`` order."""
    out = Flags().option("executor", str, EXECUTOR).option("ray_address", Optional[str], RAY_ADDRESS)
    if replicas_of is not None:
        out.fields(replicas_of, "replicas", "gpus_per_replica")
    return out.option("shard", Optional[str], SHARD)


def executor(kind: str, address: Optional[str]):
    """The executor for ``--executor``/``--ray-address`` (a context manager)."""
    from .._executor import make_executor

    return make_executor(kind, address=address)


def shard(text: Optional[str]):
    """``--shard`` parsed (``None`` when not given)."""
    from .._shard import parse_shard

    return parse_shard(text)


_MERGE_EPILOG = """
[bold]Examples[/bold]

  salv-train merge-shards labeled.*.jsonl --out labeled.jsonl --expect samples.jsonl
  salv-train merge-shards samples.*.jsonl --out samples.jsonl --expect prompts.jsonl --json
  salv-train merge-shards results.*.json --out results.json         # eval --shard ... --json results.I.json

JSONL shards (sample, label, eval --save-responses): every id must be there once, and with
--expect every id of that file (the one the shards were cut from); the rows are written in its
order. Eval results (.json): shards 0/N .. N-1/N each once; pass@k is recomputed over all tasks.
Exit codes: 0 merged, 1 ids missing or doubled (nothing written; they are listed), 2 bad input.
Sharding: docs/scale.md.
"""


@app.command("merge-shards", epilog=_MERGE_EPILOG)
def merge_command(
    shards: list[Path] = typer.Argument(..., help="Shard outputs: JSONL files, or eval --json results.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="Merged file to write (replaced)."),
    expect: Optional[Path] = typer.Option(None, "--expect", help="JSONL shards: the file they were cut from (every id of it must be there)."),
    json_out: bool = JSON,
) -> None:
    """Join the outputs of --shard I/N runs; check every id is there exactly once."""

    def body() -> int:
        if shards and all(p.suffix == ".json" for p in shards):
            return _merge_results(shards, out, expect, json_out)
        from ..data.merge import merge_shards

        report = merge_shards(shards, out, expect=expect)
        if json_out:
            print_json(report.to_json())
        for line in report.problems():
            err_console().print(f"error: {line}", markup=False, highlight=False)
        if not report.ok:
            err_console().print(f"error: {out} not written", markup=False, highlight=False)
            return 1
        if not json_out:
            console().print(f"merged {report.rows} rows of {report.files} files -> {out}",
                            markup=False, highlight=False)
        return 0

    run(body)


def _merge_results(paths: list[Path], out: Path, expect: Optional[Path], json_out: bool) -> int:
    from .._paths import refuse_overwrite
    from ..eval import EvalError, write_json
    from ..eval._merge import merge_results

    if expect is not None:
        raise EvalError("--expect goes with JSONL shards (eval results record their shard)")
    refuse_overwrite({f"result {p}": p for p in paths}, {"--out": out}, error=EvalError)
    result, problems = merge_results(paths)
    for line in problems:
        err_console().print(f"error: {line}", markup=False, highlight=False)
    if result is None:
        err_console().print(f"error: {out} not written", markup=False, highlight=False)
        if json_out:
            print_json({"ok": False, "problems": problems})
        return 1
    write_json(out, result)
    if json_out:
        print_json({"ok": True, "files": len(paths), "tasks": len(result.tasks),
                    "pass_at_k": result.pass_at_k})
    else:
        pk = " ".join(f"pass@{k}={v:.4f}" for k, v in result.pass_at_k.items())
        console().print(f"merged {len(paths)} results ({len(result.tasks)} tasks) -> {out}: {pk}",
                        markup=False, highlight=False)
    return 0

"""Find a benchmark's tasks in whatever the user points ``--data`` at."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ._errors import EvalError
from ._native import V1_NAMES, V2_FOLDERS, load_rtllm, load_verilogeval_v1, load_verilogeval_v2
from ._tasks import Task, read_bundle, rule_of

__all__ = ["load_benchmark"]

ENV_VAR = "SALV_BENCHMARKS"


def _bundle_files(d: Path, benchmark: str) -> list[Path]:
    found = []
    for folder in (d, d / "verilogeval", d / "rtllm"):
        for f in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
            try:
                with f.open(encoding="utf-8") as fh:
                    first = fh.readline()
                if json.loads(first).get("benchmark") == benchmark:
                    found.append(f)
            except (OSError, ValueError, AttributeError):
                continue
    return found


def load_benchmark(
    benchmark: str,
    data: str | os.PathLike[str] | None = None,
    *,
    task_ids: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Task]:
    """The tasks of ``benchmark`` (a tag such as ``verilogeval-v2-spec`` or ``rtllm-v2.0``).

    ``data`` is a bundle JSONL file, a directory holding bundle files (``verilogeval/*.jsonl``), or
    a clone of the benchmark's own repository (NVlabs/verilog-eval, hkust-zhiyao/RTLLM); default
    ``$SALV_BENCHMARKS``. ``task_ids`` keeps those tasks (in that order); ``limit`` the first N.
    Raises :class:`EvalError` with a clear message when nothing usable is found.
    """
    rule = rule_of(benchmark)
    if data is None:
        data = os.environ.get(ENV_VAR)
        if not data:
            raise EvalError(f"no benchmark data: give --data (a clone of the benchmark's repository "
                            f"or a bundle directory) or set ${ENV_VAR}")
    root = Path(data)
    if not root.exists():
        raise EvalError(f"{root}: no such file or directory")
    if root.is_file():
        tasks = read_bundle([root], benchmark)
        if not tasks:
            raise EvalError(f"{root}: no rows of benchmark '{benchmark}'")
    elif rule == "verilogeval-v2" and ((root / V2_FOLDERS[benchmark]).is_dir()
                                       or any(root.glob("*_prompt.txt"))):
        tasks = load_verilogeval_v2(root, benchmark)
    elif rule == "verilogeval-v1" and (root / "data" / f"VerilogEval_{V1_NAMES[benchmark]}.jsonl").is_file():
        tasks = load_verilogeval_v1(root, benchmark)
    elif files := _bundle_files(root, benchmark):
        tasks = read_bundle(files, benchmark)
    elif rule == "rtllm" and next(root.rglob("design_description.txt"), None) is not None:
        tasks = load_rtllm(root, benchmark)
    else:
        raise EvalError(f"{root}: found no data for '{benchmark}' (neither the benchmark's own "
                        f"repository layout nor bundle JSONL files; see docs/eval.md)")
    if task_ids:
        by_id = {t.task_id: t for t in tasks}
        unknown = [t for t in task_ids if t not in by_id]
        if unknown:
            raise EvalError(f"unknown task id(s) for {benchmark}: {', '.join(unknown[:5])}")
        tasks = [by_id[t] for t in task_ids]
    if limit is not None:
        tasks = tasks[: max(0, limit)]
    return tasks

"""Benchmark tasks: one typed record per problem, read from the JSONL bundle format.

The bundle format (one JSON object per line) is documented in ``docs/eval.md``; it is the format of
``../shared/benchmarks`` and what :func:`salv_trainer.eval.load_benchmark` returns for every
source, native repository layouts included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data._jsonl import read_jsonl
from ._errors import EvalError

__all__ = ["BENCHMARKS", "Benchmark", "Task", "read_bundle", "rule_of"]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark tag and how it is judged."""

    tag: str
    rule: str  # "verilogeval-v2" | "verilogeval-v1" | "rtllm"
    description: str


BENCHMARKS: dict[str, Benchmark] = {
    b.tag: b
    for b in (
        Benchmark("verilogeval-v2-spec", "verilogeval-v2", "VerilogEval v2 spec-to-RTL (156)"),
        Benchmark("verilogeval-v2-completion", "verilogeval-v2",
                  "VerilogEval v2 code completion, ICCAD 2023 set (156)"),
        Benchmark("verilogeval-v1-human", "verilogeval-v1", "VerilogEval v1 Human (156)"),
        Benchmark("verilogeval-v1-machine", "verilogeval-v1", "VerilogEval v1 Machine (143)"),
        Benchmark("rtllm-v1.1", "rtllm", "RTLLM v1.1 (29)"),
        Benchmark("rtllm-v2.0", "rtllm", "RTLLM v2.0 (50)"),
    )
}


def rule_of(benchmark: str) -> str:
    """The harness rule of a benchmark tag; :class:`EvalError` for an unknown tag."""
    try:
        return BENCHMARKS[benchmark].rule
    except KeyError:
        known = ", ".join(BENCHMARKS)
        raise EvalError(f"unknown benchmark '{benchmark}' (known: {known})") from None


@dataclass(frozen=True)
class Task:
    """One benchmark problem with everything its own testbench needs.

    ``module_header`` is the interface given to the model separately (v1, v2-completion) or
    ``None``; ``harness_prompt`` is the v2 generator's ``{system, user}`` pair or ``None``.
    ``ref_passes`` is the bundle's validation verdict of the reference on Icarus 11 (``None`` when
    unknown, e.g. for native layouts that were not validated).
    """

    task_id: str
    benchmark: str
    prompt: str
    top_module: str
    testbench: str
    testbench_top: str
    reference: str = ""
    reference_module: str = ""
    canonical_solution: str = ""
    module_header: str | None = None
    harness_prompt: Mapping[str, str] | None = None
    completion_only: str | None = None
    extra_files: Mapping[str, str] = field(default_factory=dict)
    ref_passes: bool | None = None
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        return rule_of(self.benchmark)

    def messages(self) -> list[dict[str, str]]:
        """Chat messages for generation: the v2 harness prompt when stored, else the shared
        template of :func:`salv_trainer.prompts.build_messages`."""
        from ..prompts import build_messages

        if self.harness_prompt:
            msgs = []
            if self.harness_prompt.get("system"):
                msgs.append({"role": "system", "content": self.harness_prompt["system"]})
            msgs.append({"role": "user", "content": self.harness_prompt["user"]})
            return msgs
        return build_messages(self.prompt, module_header=self.module_header)

    def to_row(self) -> dict[str, Any]:
        """The task as a bundle row (``read_bundle`` reads it back unchanged)."""
        row = {
            "task_id": self.task_id, "benchmark": self.benchmark, "prompt": self.prompt,
            "module_header": self.module_header, "harness_prompt": dict(self.harness_prompt)
            if self.harness_prompt else None, "top_module": self.top_module,
            "reference": self.reference, "reference_module": self.reference_module,
            "canonical_solution": self.canonical_solution, "completion_only": self.completion_only,
            "testbench": self.testbench, "testbench_top": self.testbench_top,
            "extra_files": dict(self.extra_files), "source": dict(self.source),
        }
        if self.ref_passes is not None:
            row["validation"] = {"iverilog_11.0": {"ref_pass": self.ref_passes}}
        return row


_REQUIRED = ("task_id", "prompt", "top_module", "testbench")


def task_from_row(row: Mapping[str, Any], *, where: str, benchmark: str | None = None) -> Task:
    missing = [k for k in _REQUIRED if not isinstance(row.get(k), str)]
    if missing:
        raise EvalError(f"{where}: missing field(s) {', '.join(missing)}")
    bench = benchmark or row.get("benchmark")
    if not bench:
        raise EvalError(f"{where}: no 'benchmark' field; name the benchmark with --benchmark")
    rule_of(bench)
    ref_pass = None
    validation = row.get("validation") or {}
    ic11 = validation.get("iverilog_11.0") if isinstance(validation, Mapping) else None
    if isinstance(ic11, Mapping) and "ref_pass" in ic11:
        ref_pass = bool(ic11["ref_pass"])
    return Task(
        task_id=row["task_id"],
        benchmark=bench,
        prompt=row["prompt"],
        top_module=row["top_module"],
        testbench=row["testbench"],
        testbench_top=row.get("testbench_top") or "tb",
        reference=row.get("reference") or "",
        reference_module=row.get("reference_module") or "",
        canonical_solution=row.get("canonical_solution") or "",
        module_header=row.get("module_header"),
        harness_prompt=row.get("harness_prompt"),
        completion_only=row.get("completion_only"),
        extra_files=dict(row.get("extra_files") or {}),
        ref_passes=ref_pass,
        source=dict(row.get("source") or {}),
    )


def read_bundle(paths: Iterable[str | Path], benchmark: str) -> list[Task]:
    """Tasks of ``benchmark`` from bundle JSONL files (rows of other benchmarks are skipped)."""
    tasks: list[Task] = []
    seen: set[str] = set()
    for path in paths:
        p = Path(path)
        for lineno, row in read_jsonl(p, error=EvalError):
            if row.get("benchmark", benchmark) != benchmark:
                continue
            task = task_from_row(row, where=f"{p}:{lineno}", benchmark=benchmark)
            if task.task_id in seen:
                raise EvalError(f"{p}:{lineno}: duplicate task_id '{task.task_id}'")
            seen.add(task.task_id)
            tasks.append(task)
    return tasks

"""Score responses against their tasks: parallel sandboxed simulations, a resumable cache, pass@k.

Identical candidates of a task (common at low temperature) are simulated once. Every finished
simulation is appended to the cache file at once, so an interrupted run loses nothing: running the
same command again reuses every verdict already on disk.

The simulations run through an executor (:mod:`salv_trainer._executor`): ``jobs`` threads of this
process, each driving one sandboxed simulation (default), or one Ray task per simulation over a
cluster; the verdicts come back in input order either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verislice.untrusted import kill_all

from .._executor import Executor, LocalExecutor
from ..data._jsonl import JsonlWriter
from ._errors import EvalError
from ._harness import HARNESS_VERSION, Job, SampleResult, plan, run_job, screen_jobs
from ._passk import mean_pass_at_k
from ._tasks import Task

__all__ = ["EvalResult", "TaskResult", "VerdictCache", "score_responses"]

Progress = Callable[[int, int], None]


@dataclass
class TaskResult:
    """Verdicts of one task's responses, in response order."""

    task_id: str
    samples: list[SampleResult]
    ref_passes: bool | None = None

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def c(self) -> int:
        return sum(s.passed for s in self.samples)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "c": self.c, "verdicts": [s.verdict for s in self.samples],
                "ref_passes_icarus11": self.ref_passes,
                "samples": [s.to_json() for s in self.samples]}


@dataclass
class EvalResult:
    """Outcome of an evaluation: per-task verdicts, pass@k, and the settings that produced it."""

    benchmark: str
    ks: tuple[int, ...]
    tasks: dict[str, TaskResult]
    settings: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)   # tasks of the benchmark with no responses
    unknown: list[str] = field(default_factory=list)   # response ids that are no task
    simulations: int = 0                               # simulations actually run
    cached: int = 0                                    # verdicts taken from the cache
    seconds: float = 0.0

    @property
    def pass_at_k(self) -> dict[str, float]:
        """Mean unbiased pass@k over every scored task."""
        return mean_pass_at_k(((t.n, t.c) for t in self.tasks.values()), self.ks)

    @property
    def unpassable(self) -> list[str]:
        """Scored tasks whose reference fails its own testbench on Icarus 11 (bundle validation)."""
        return [tid for tid, t in self.tasks.items() if t.ref_passes is False]

    @property
    def pass_at_k_passable(self) -> dict[str, float]:
        """pass@k over the tasks whose reference passes on Icarus 11 (unknown counts as passable)."""
        return mean_pass_at_k(((t.n, t.c) for t in self.tasks.values() if t.ref_passes is not False),
                              self.ks)

    @property
    def coverage(self) -> dict[str, Any]:
        """What was scored against what was asked: tasks with responses out of the tasks of the
        run (after ``--task``/``--limit``), and responses per scored task (min, max)."""
        ns = [t.n for t in self.tasks.values()]
        return {"tasks": len(self.tasks), "of": len(self.tasks) + len(self.missing),
                "samples_per_task": {"min": min(ns, default=0), "max": max(ns, default=0)},
                "complete": not self.missing and len(set(ns)) <= 1}

    def verdict_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tasks.values():
            for s in t.samples:
                counts[s.verdict] = counts.get(s.verdict, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            **self.settings,
            "k": list(self.ks),
            "harness_version": HARNESS_VERSION,
            "pass_at_k": self.pass_at_k,
            "pass_at_k_icarus11_passable": self.pass_at_k_passable,
            "num_tasks": len(self.tasks),
            "coverage": self.coverage,
            "unpassable_on_icarus11": self.unpassable,
            "missing_tasks": self.missing,
            "unknown_tasks": self.unknown,
            "verdict_counts": self.verdict_counts(),
            "simulations": self.simulations,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "tasks": {tid: t.to_json() for tid, t in self.tasks.items()},
        }


class VerdictCache:
    """Append-only JSONL of ``{"key", "result"}``: verdicts keyed by the exact simulation inputs
    (harness version, rule, files, limits).

    Lines that are not a cached verdict are skipped (a cache entry can always be simulated
    again). Appends go through :class:`~salv_trainer.data.JsonlWriter`, which judges a last line
    without its newline as the reader does: a whole entry is kept (and its newline added), a torn
    one is cut off, so a new entry is never glued onto it and lost."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self._data: dict[str, SampleResult] = {}
        self._lock = threading.Lock()
        if self.path and self.path.exists():
            try:
                lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError as exc:
                raise EvalError(f"{self.path}: cannot read cache: {exc.strerror}") from None
            for line in lines:
                try:
                    d = json.loads(line)
                    self._data[d["key"]] = SampleResult.from_json(d["result"])
                except (ValueError, KeyError, TypeError):
                    continue
        self._writer: JsonlWriter | None = None

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> SampleResult | None:
        return self._data.get(key)

    def put(self, key: str, result: SampleResult) -> None:
        with self._lock:
            self._data[key] = result
            if self.path is None:
                return
            if self._writer is None:
                self._writer = JsonlWriter(self.path, resume=True, error=EvalError)
            self._writer.write({"key": key, "result": result.to_json()})

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def run_job_safely(job: Job) -> SampleResult:
    """:func:`run_job`, with a bug of ours as a ``sim_error`` verdict: it must not lose the batch."""
    try:
        return run_job(job)
    except Exception as exc:
        return SampleResult("sim_error", message=f"internal error: {exc!r}")


def score_responses(
    tasks: Sequence[Task],
    responses: Mapping[str, Sequence[str]],
    *,
    ks: Iterable[int] = (1,),
    jobs: int = 2,
    timeout: float | None = None,
    fail_fast: bool = True,
    cache: str | os.PathLike[str] | VerdictCache | None = None,
    settings: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> EvalResult:
    """Judge every response of every task with the task's own testbench.

    ``responses`` maps task id to that task's responses (raw model output; the code is extracted
    here). Tasks without responses are listed in ``missing`` and left out of pass@k; ids that are no
    task are listed in ``unknown``. ``jobs`` simulations run at once; ``timeout`` overrides the
    benchmark's own limit (seconds per compile and per run). ``fail_fast`` stops a VerilogEval
simulation at its first mismatch (same verdicts; see :mod:`._harness`). ``cache`` (a path) makes the run
    resumable. ``progress(done, total)`` is called as simulations finish. A bad response never
    raises: it gets a verdict. ``executor`` runs the simulations (default: ``jobs`` threads of
    this process; a Ray executor: one task per simulation).
    """
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise EvalError("k must be a list of positive integers, e.g. 1,5,10")
    if jobs < 1:
        raise EvalError("--jobs must be at least 1")
    start = time.monotonic()
    vc = cache if isinstance(cache, VerdictCache) else VerdictCache(cache)
    by_id = {t.task_id: t for t in tasks}
    benchmark = tasks[0].benchmark if tasks else ""
    slots: dict[str, list[SampleResult | str]] = {}
    pending: dict[str, Job] = {}
    cached = 0
    for tid, task in by_id.items():
        resp = responses.get(tid)
        if resp is None:
            continue
        row: list[SampleResult | str] = []
        for text in resp:
            p = plan(task, text if isinstance(text, str) else "", timeout=timeout,
                     fail_fast=fail_fast)
            if isinstance(p, SampleResult):
                row.append(p)
                continue
            hit = vc.get(p.key)
            if hit is not None:
                cached += 1
                row.append(hit)
            else:
                pending.setdefault(p.key, p)
                row.append(p.key)
        slots[tid] = row

    done: dict[str, SampleResult] = {}
    # screen every candidate to simulate in one batched call (verislice.untrusted): a refused one
    # gets its verdict here, an accepted one is simulated from the screened text
    for key, screened in zip(list(pending), screen_jobs(list(pending.values()), workers=jobs)):
        if isinstance(screened, SampleResult):
            del pending[key]
            done[key] = screened
            vc.put(key, screened)
        else:
            pending[key] = screened
    total = len(pending)
    if progress:
        progress(0, total)
    ex = executor or LocalExecutor()
    try:
        with contextlib.closing(ex.map(run_job_safely, list(pending.values()), threads=jobs)) as results:
            for i, (key, result) in enumerate(zip(list(pending), results), 1):
                done[key] = result
                vc.put(key, result)
                if progress:
                    progress(i, total)
    except BaseException:
        # interrupted: the queue is dropped (closing(); finished verdicts are in the cache
        # already); end the simulations running on this process's threads now, not at their
        # time limit
        kill_all()
        raise
    finally:
        if not isinstance(cache, VerdictCache):
            vc.close()

    results = {
        tid: TaskResult(tid, [s if isinstance(s, SampleResult) else done[s] for s in row],
                        by_id[tid].ref_passes)
        for tid, row in slots.items()
    }
    return EvalResult(
        benchmark=benchmark,
        ks=ks,
        tasks=results,
        settings=dict(settings or {}),
        missing=[tid for tid in by_id if tid not in responses],
        unknown=sorted(tid for tid in responses if tid not in by_id),
        simulations=total,
        cached=cached,
        seconds=time.monotonic() - start,
    )

"""Run independent pipeline stages in worker processes (``workers`` in the config).

The pipeline's stages are resumable: each writes its marker last and is skipped when the marker
exists. So parallelism needs no second code path: before a phase whose stages do not depend on
each other (the sweep's grid points, the DPO runs, the evaluations of different models), the
phase's stages are handed to a process pool as ``(method, args)`` jobs on a fresh ``_Run``; the
ordinary sequential code that follows finds every marker written and only reads them. A stage
that failed in a worker raises here, in the parent, with the worker's exception.

Workers are spawned, not forked: the parent holds torch threads and verislice's sandbox spawner
thread, neither of which survives a fork. Each worker sets its own torch thread count, and reports
the stages it ran back to the parent's reporter when its job ends.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._config import PipelineConfig
    from ._run import Reporter

#: One job: the name of a ``_Run`` method, its positional and its keyword arguments (picklable).
Job = tuple[str, tuple[Any, ...], dict[str, Any]]


class _Recorder:
    """The worker's reporter: keeps the stages it ran for the parent to replay."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float, str]] = []

    def stage(self, name: str, detail: str = "") -> None:
        self.events.append(("stage", name, 0.0, detail))

    def skip(self, name: str, why: str) -> None: ...

    def done(self, name: str, seconds: float, summary: str = "") -> None:
        self.events.append(("done", name, seconds, summary))

    def progress(self, name: str, done: int, total: int) -> None: ...


def _init_worker(threads: int) -> None:
    import torch

    from .._quiet import quiet_libraries

    torch.set_num_threads(threads)
    quiet_libraries(quiet=True)  # the parent reports the worker's stages; bars would interleave


def _work(cfg: PipelineConfig, job: Job) -> list[tuple[str, str, float, str]]:
    from ._run import _Run

    recorder = _Recorder()
    method, args, kwargs = job
    getattr(_Run(cfg, recorder), method)(*args, **kwargs)  # type: ignore[arg-type]
    return recorder.events


def run_jobs(cfg: PipelineConfig, jobs: Sequence[Job], reporter: Reporter) -> None:
    """Run ``jobs`` on ``cfg.workers`` processes; replay their stages into ``reporter``.

    Returns when every job has ended; the first failure cancels the jobs not yet started and is
    raised after the running ones end (their stages stay resumable)."""
    if not jobs:
        return
    threads = max(1, (cfg.threads or 1) // cfg.workers)
    ctx = multiprocessing.get_context("spawn")
    failure: BaseException | None = None
    with ProcessPoolExecutor(max_workers=min(cfg.workers, len(jobs)), mp_context=ctx,
                             initializer=_init_worker, initargs=(threads,)) as pool:
        pending: dict[Future, Job] = {pool.submit(_work, cfg, job): job for job in jobs}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    pending.pop(fut)
                    try:
                        events = fut.result()
                    except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others
                        failure = failure or exc
                        for other in pending:
                            other.cancel()
                        continue
                    for kind, name, seconds, text in events:
                        if kind == "stage":
                            reporter.stage(name, text)
                        else:
                            reporter.done(name, seconds, text)
                reporter.progress(f"{cfg.workers} workers", len(jobs) - len(pending), len(jobs))
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    if failure is not None:
        raise failure

"""``label``: per-output verdicts and cone spans for every sampled response.

For each prompt row (``reference`` + ``responses``):

1. the code of each response is located with :func:`salv_trainer.extract.extract_code` (a response
   without a module gets the verdict ``NO_CODE`` and is never simulated);
2. the reference and all its candidates go to :func:`verislice.equiv.check_batch` as one group,
   several prompts' groups per call (``prompts_per_call``), so one simulation checks many
   candidates; every candidate gets its verdict (``OK``, ``COMPILE_ERROR``, ``INTERFACE``,
   ``TIMEOUT``, ``REJECTED``) and, when simulated, a verdict per reference output (with
   ``method="both"`` the outputs simulation matched are then proven with Yosys: ``PROVEN``,
   ``BOUNDED``, or ``MISMATCH`` where the prover finds a difference simulation missed);
3. every candidate whose code parses gets, for each of its outputs, the backward cone
   (:func:`verislice.cone`) as character spans of the code, shifted by the code block's start into
   *response* coordinates (``response[s:e]`` is code of the cone).

A candidate that fails anywhere gets its verdict and message; it never stops the run. Finished rows
are appended to the output at once; a rerun skips the ids already there.

Chunks of ``prompts_per_call`` rows are labelled by an executor (:mod:`salv_trainer._executor`):
in this process (default), or as Ray tasks over a cluster (``--executor ray``); either way the
labelled chunks come back in input order and this process writes them. ``shard`` labels only the
rows of one shard (:mod:`salv_trainer._shard`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import verislice
from verislice.equiv import COMPILE_ERROR, OK, EquivOptions
from verislice.untrusted import SandboxUnavailable, output_cones, require_sandbox

from .._executor import Executor, LocalExecutor
from .._paths import refuse_overwrite
from .._shard import Shard
from .._text import verilog_safe
from ..config import setting
from ..extract import extract_code
from ._errors import DataError
from ._jsonl import JsonlWriter, done_ids, read_jsonl, require_fields
from ._verdicts import CATEGORIES, NO_CODE, category

__all__ = ["LabelConfig", "LabelReport", "cone_spans", "label", "label_rows"]


@dataclass
class LabelConfig:
    """Options of :func:`label` (and of ``salv-train label``)."""

    jobs: int = setting(1, "Parallel simulations (with --executor ray: per Ray task, the CPUs each "
                           "task takes).", short="-j")
    prompts_per_call: int = setting(64, "Prompts packed into one batched equivalence call "
                                        "(verislice.equiv.check_batch) and written together (with "
                                        "--executor ray: one Ray task); more packs more candidates "
                                        "into each simulation.")
    equiv: EquivOptions = field(default_factory=EquivOptions)
    """How references and candidates are checked: ``method`` (``"sim"``, ``"formal"`` or
    ``"both"``: simulate, then prove the outputs simulation calls MATCH), and for simulation
    cycles, seed, engine, timeout, ... (``verislice.equiv.EquivOptions``; its defaults)."""
    cones: bool = setting(True, "Verdicts only, no cone spans.", flag="--no-cones")
    """Compute cone spans (``--no-cones``, the help above: verdicts only)."""
    formal: Any = None
    """The prover's options for ``method="formal"|"both"`` (``verislice.equiv.FormalOptions``:
    depth, solver time limit, ...); ``None``: its defaults."""
    shard: Shard | None = None
    """Label only this shard's rows (``--shard I/N``; ``None``: all)."""


@dataclass
class LabelReport:
    """What :func:`label` did: counts by candidate category and verdict."""

    prompts: int = 0
    skipped: int = 0
    labeled: int = 0
    candidates: int = 0
    categories: Counter = field(default_factory=Counter)
    verdicts: Counter = field(default_factory=Counter)
    cone_errors: int = 0
    """Simulated candidates for which some output's cone could not be made."""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "already_done": self.skipped,
            "labeled": self.labeled,
            "candidates": self.candidates,
            "categories": {c: self.categories.get(c, 0) for c in CATEGORIES},
            "verdicts": dict(sorted(self.verdicts.items())),
            "cone_errors": self.cone_errors,
            "seconds": round(self.seconds, 3),
            "candidates_per_second": round(self.candidates / self.seconds, 2) if self.seconds else None,
        }


def cone_spans(
    code: str, *, offset: int = 0, name: str = "<candidate>", top: str | None = None
) -> tuple[dict[str, list[list[int]]], str]:
    """Cone of every output of ``code``'s top module as character spans shifted by ``offset``.

    ``top`` names the top module (default: the one module no other instantiates). Returns
    ``(cones, error)``: ``error`` is ``""`` on success, else why no cones could be made (the code
    does not parse or elaborate, ...). Never raises for bad Verilog.
    """
    # the response is untrusted: it is parsed and sliced in verislice's sandboxed worker
    cones, error = output_cones(code, name=name, top=top)
    return {k: [[st + offset, en + offset] for st, en in v] for k, v in cones.items()}, error


def label_rows(
    rows: Sequence[dict[str, Any]],
    config: LabelConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Label ``rows`` (sample rows) with one ``check_batch`` call; return the labeled rows.

    The cones are computed in a thread of this process while the simulations run in their worker
    processes (this process would only wait for them otherwise). ``progress(done, total)`` is
    passed on to ``check_batch`` (candidates simulated in this call).
    """
    cfg = config or LabelConfig()
    require_sandbox()  # without one, refuse the run: never label everything REJECTED
    if cfg.equiv.method != "sim":
        from verislice.equiv import require_pyosys

        require_pyosys()  # likewise: no prover, no run (rather than every row failed)
    groups, where = [], []  # where[g] = (row index, [response indices])
    blocks_of = []
    for r, row in enumerate(rows):
        blocks = [extract_code(resp) if isinstance(resp, str) else None for resp in row["responses"]]
        blocks_of.append(blocks)
        with_code = [j for j, b in enumerate(blocks) if b is not None]
        if with_code:
            ref = _reference(row)
            cands = [verislice.Source(verilog_safe(blocks[j].text), f"<response {j}>") for j in with_code]
            groups.append((ref, cands))
            where.append((r, with_code))
    cones: dict[tuple[int, int], tuple[dict, str]] = {}
    stop = threading.Event()  # set when the check ends by an exception (Ctrl-C, SIGTERM)

    def make_cones() -> None:
        for r, blocks in enumerate(blocks_of):
            for j, b in enumerate(blocks):
                if stop.is_set():
                    return  # the rows will not be written: an interrupted run must end promptly
                if b is not None:
                    cones[r, j] = cone_spans(verilog_safe(b.text), offset=b.start, name=f"<response {j}>")

    worker = threading.Thread(target=make_cones, name="salv-cones", daemon=True) if cfg.cones else None
    if worker:
        worker.start()
    try:
        results = _check_groups(groups, cfg, progress)
    except BaseException:
        stop.set()
        raise
    finally:
        if worker:
            worker.join()
    verdicts: list[list[Any]] = [[None] * len(row["responses"]) for row in rows]
    for (r, idx), res in zip(where, results):
        for j, cr in zip(idx, res):
            verdicts[r][j] = cr
            # Several modules and no single top (e.g. the answer includes a testbench): slice the
            # top the equivalence check chose, as it did.
            if cfg.cones and not cones.get((r, j), ({}, ""))[0] and cr.verdict == OK and cr.top:
                b = blocks_of[r][j]
                cones[r, j] = cone_spans(verilog_safe(b.text), offset=b.start, name=f"<response {j}>",
                                         top=cr.top)
    out = []
    for r, row in enumerate(rows):
        labels = [_label(block, verdicts[r][j], cones.get((r, j))) for j, block in enumerate(blocks_of[r])]
        out.append({**row, "labels": labels})
    return out


def _check_groups(groups: list, cfg: LabelConfig, progress: Callable[[int, int], None] | None) -> list:
    """``check_batch`` over ``groups``; should the call itself fail (a bug, not a bad candidate),
    each group is checked on its own, and a group that still fails gives its candidates the
    verdict ``REJECTED`` with the reason, so one prompt never costs the others their labels."""
    from verislice.equiv import REJECTED, CandidateResult, check_batch

    if not groups:
        return []
    try:
        # A reference that cannot be simulated gives its candidates REFERENCE_ERROR, not a dead run.
        return check_batch(groups, jobs=cfg.jobs, options=cfg.equiv, reference_errors="report",
                           progress=progress, formal=cfg.formal)
    except SandboxUnavailable:
        raise
    except Exception as exc:
        if len(groups) > 1:
            return [_check_groups([g], cfg, None)[0] for g in groups]
        reason = f"the equivalence check failed: {type(exc).__name__}: {exc}"
        return [[CandidateResult(REJECTED, reason) for _ in groups[0][1]]]


def _reference(row: dict[str, Any]) -> Any:
    """The row's reference: loaded with the row's ``top_module`` when the reference defines that
    module (a reference with several top-level modules), else as text for the check to load."""
    src = verislice.Source(verilog_safe(row["reference"]), "<reference>")
    top = row.get("top_module")
    if isinstance(top, str) and top:
        try:
            return verislice.load([src], top=top)
        except verislice.VerisliceError:
            pass  # not defined there (e.g. VerilogEval names the candidate's top): auto-detect
    return src


def _label(block: Any, result: Any, cone: tuple[dict, str] | None) -> dict[str, Any]:
    if block is None:
        return {"verdict": NO_CODE, "message": "no Verilog module found in the response",
                "outputs": {}, "cones": {}, "code_span": None, "cone_error": ""}
    if result is None:  # cannot happen unless check_batch dropped it; never lose the candidate
        verdict, message, outputs = COMPILE_ERROR, "no result from the equivalence check", {}
    else:
        verdict, message = result.verdict, result.message
        outputs = {name: o.verdict for name, o in result.outputs.items()}
    cones, cone_error = cone if cone is not None else ({}, "")
    return {"verdict": verdict, "message": message, "outputs": outputs, "cones": cones,
            "code_span": [block.start, block.end], "cone_error": cone_error}


def _check_row(path: Any, lineno: int, row: dict[str, Any], seen: dict[str, int]) -> None:
    require_fields(path, lineno, row, ("id", "reference", "responses"))
    if not isinstance(row["responses"], list):
        raise DataError(f"{path}:{lineno}:1: error: 'responses' must be a list of strings")
    if not isinstance(row["reference"], str):
        raise DataError(f"{path}:{lineno}:1: error: 'reference' must be Verilog text")
    key = str(row["id"])
    if key in seen:
        raise DataError(f"{path}:{lineno}:1: error: duplicate id {key!r} (first on line {seen[key]})")
    seen[key] = lineno


def label(
    samples: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: LabelConfig | None = None,
    *,
    resume: bool = True,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
) -> LabelReport:
    """Label every row of ``samples`` (of ``config.shard``) not yet in ``out``; append the labeled
    rows to ``out``, in input order.

    ``progress(done, total)`` counts candidates. Returns the summary of this run's candidates.
    The file is streamed (read twice: once to check every row and count, once to label), so
    memory does not grow with its size. ``executor`` runs the chunks (default: this process;
    a :class:`~salv_trainer._executor.RayExecutor` runs each chunk as a task taking
    ``config.jobs`` CPUs).
    """
    cfg = config or LabelConfig()
    ex = executor or LocalExecutor()
    mine = cfg.shard.has if cfg.shard else (lambda _id: True)
    start = time.monotonic()
    refuse_overwrite({"the samples file": samples}, {"the output": out}, error=DataError)
    done = done_ids(out) if resume else set()
    # First pass: check every row before hours of simulation, count the work; keep only ids.
    seen: dict[str, int] = {}
    prompts = todo_prompts = total = 0
    for lineno, row in read_jsonl(samples):
        _check_row(samples, lineno, row, seen)
        if mine(row["id"]):
            prompts += 1
            if str(row["id"]) not in done:
                todo_prompts += 1
                total += len(row["responses"])
    report = LabelReport(prompts=prompts, skipped=prompts - todo_prompts)
    if progress:
        progress(0, total)
    size = max(1, cfg.prompts_per_call)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        rows = (row for _, row in read_jsonl(samples) if mine(row["id"]) and str(row["id"]) not in done)
        while chunk := list(itertools.islice(rows, size)):
            yield chunk

    def step(n: int, _total: int) -> None:
        # candidates of the chunk being labelled, after those written (in this process only: a
        # Ray task reports when its whole chunk is back)
        if progress:
            progress(report.candidates + n, total)

    work = functools.partial(label_rows, config=cfg,
                             progress=step if isinstance(ex, LocalExecutor) else None)
    # closing(): a run ended early (an error, Ctrl-C) stops the chunks still queued or running
    with JsonlWriter(out, resume=resume) as writer, \
            contextlib.closing(ex.map(work, chunks(), cpus=cfg.jobs)) as results:
        for labeled in results:
            for row in labeled:
                writer.write(row)
                report.labeled += 1
                for lab in row["labels"]:
                    report.candidates += 1
                    report.categories[category(lab)] += 1
                    report.verdicts[lab["verdict"]] += 1
                    # cones are expected of every simulated candidate
                    report.cone_errors += bool(lab["cone_error"]) and lab["verdict"] == OK
            if progress:
                progress(report.candidates, total)
    report.seconds = time.monotonic() - start
    return report

"""Untrusted Verilog: the front end in a sandbox, for code that a model (or anyone) wrote.

Everything here parses and elaborates in a sandboxed worker process (see ``docs/security.md``):
a design that crashes pyslang, exhausts its memory or time becomes a verdict, never the end of
the caller's process. ::

    from verislice import Source
    from verislice.untrusted import screen_designs, output_cones

    [s] = screen_designs([[Source(code, "response.v")]])
    if s.verdict == "OK":
        compile_with_icarus(s.text)          # the canonical text: what the screen saw
    cones, error = output_cones(code)        # character spans of every output's cone
    with sandbox_dir() as d:                 # any tool on untrusted text: bubblewrap + limits
        r = run_limited(["iverilog", "-o", "a.vvp", "a.v"], d, timeout=30)
    errors = icarus_errors(texts)            # many designs per iverilog run, each error blamed

A design is preprocessed once into a *canonical text* (macros expanded, `` `ifdef`` resolved,
every directive removed, includes inlined only from the ``include_dirs``), and every tool must
compile that text: the screen (system tasks outside an allowlist, hierarchical references out of
the design's own tree, huge memories) can then never be shown other code than the simulator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from . import _worker
from ._blame import Attempt, Blame, blame_batch, icarus_errors
from ._frontend import Port, Source
from ._jobs import Screened
from ._sandbox import (
    DEFAULT_FILE_SIZE_MB,
    SANDBOX_ENV,
    RunResult,
    SandboxUnavailable,
    kill_all,
    require_sandbox,
    run_limited,
    sandbox_dir,
)

__all__ = ["DEFAULT_FILE_SIZE_MB", "SANDBOX_ENV", "RunResult", "SandboxUnavailable", "kill_all", "Screened",
           "describe_design", "output_cones", "require_sandbox", "run_limited", "sandbox_dir",
           "screen_designs", "FRONTEND_TIMEOUT", "Attempt", "Blame", "blame_batch", "icarus_errors"]

#: Wall-clock limit of the front end of one design (seconds).
FRONTEND_TIMEOUT = 30.0

_FAILURE_VERDICT = {"timeout": "TIMEOUT", "memory": "REJECTED", "crash": "COMPILE_ERROR"}


def screen_designs(designs: Sequence[Sequence[Source]], *, top: str | None = None,
                   include_dirs: Sequence[str | os.PathLike[str]] = (),
                   allow_file_io: bool = False, max_memory_bits: int | None = 1 << 24,
                   defines: Mapping[str, str | None] | None = None, jobs: int = 1,
                   timeout: float = FRONTEND_TIMEOUT) -> list[Screened]:
    """Preprocess, parse, elaborate and screen each design (a list of :class:`Source`), in
    sandboxed workers; results in input order.

    ``Screened.verdict`` is ``OK``, ``REJECTED`` (a file/system task, a hierarchical reference
    out of the design's tree, an include outside ``include_dirs``, too much memory),
    ``COMPILE_ERROR`` (pyslang's ``file:line:col: error:`` messages, or a crash of the parser) or
    ``TIMEOUT``. ``Screened.text`` is the canonical text to compile instead of the original.
    ``defines`` are the user's ``-D`` macros (applied before the text is made canonical).
    Raises :class:`SandboxUnavailable` when no sandbox can start.
    """
    require_sandbox()
    dirs = tuple(os.fspath(d) for d in include_dirs)

    def one(chunk: list[tuple[int, Sequence[Source]]]) -> list[tuple[int, Screened]]:
        out = []
        with _worker.worker(dirs) as w:
            for i, srcs in chunk:
                try:
                    res = w.call("screen_design", list(srcs), top, dirs, allow_file_io,
                                 max_memory_bits, dict(defines or {}), timeout=timeout)
                except _worker.WorkerFailed as exc:
                    res = Screened(_FAILURE_VERDICT[exc.reason], exc.message)
                out.append((i, res))
        return out

    items = list(enumerate(designs))
    chunks = [items[k::max(1, jobs)] for k in range(max(1, min(jobs, len(items))))]
    results: list[Screened | None] = [None] * len(items)
    if len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            parts = list(pool.map(one, chunks))
    else:
        parts = [one(c) for c in chunks]
    for part in parts:
        for i, res in part:
            results[i] = res
    return results  # type: ignore[return-value]


def describe_design(code: str, *, name: str = "<design>", top: str | None = None,
                    timeout: float = FRONTEND_TIMEOUT) -> tuple[str, str, str, tuple[Port, ...]]:
    """Parse and elaborate ``code`` in a sandboxed worker: ``("", "", top, ports)``, or
    ``(reason, message, "", ())`` with reason ``parse-error`` (including a crash of the parser)
    or ``top`` (no single top module). Never raises for bad Verilog."""
    require_sandbox()
    try:
        return _worker.call("describe_design", code, name, top, timeout=timeout)
    except _worker.WorkerFailed as exc:
        return "parse-error", exc.message, "", ()


def output_cones(code: str, *, name: str = "<candidate>", top: str | None = None,
                 timeout: float = FRONTEND_TIMEOUT) -> tuple[dict[str, list[list[int]]], str]:
    """The backward cone of every output of ``code``'s top module as character spans of
    ``code``, computed in a sandboxed worker. Returns ``(cones, error)``: ``error`` is ``""``
    on success, else why (some) cones could not be made. Never raises for bad Verilog."""
    require_sandbox()
    try:
        return _worker.call("output_cones", code, name, top, timeout=timeout)
    except _worker.WorkerFailed as exc:
        return {}, exc.message

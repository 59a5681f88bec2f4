"""Run untrusted simulator processes: own temp dir, wall-clock limit, memory and file-size limits.

Generated Verilog is untrusted: a candidate may loop forever, allocate without bound, or try to fill
the disk. Every external tool run by verislice (iverilog, vvp, cocotb runs) goes through
:func:`run_limited`, which puts the child in its own process group so that on timeout the whole
group (compiler, simulator, any helpers) is killed, never just the parent.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunResult", "run_limited", "sandbox_dir"]

DEFAULT_MEMORY_MB = 4096
DEFAULT_FILE_SIZE_MB = 64


@dataclass(frozen=True)
class RunResult:
    """Outcome of one limited run."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0


# util-linux's prlimit sets the limits and then execs the command. Using it (instead of a Python
# preexec_fn) lets subprocess spawn the child with vfork/posix_spawn: a preexec_fn forces a full
# fork of this process, which costs milliseconds per run and more once a model is loaded.
_PRLIMIT = shutil.which("prlimit")


def _prlimit_argv(argv: Sequence[str], memory_mb: int | None, file_size_mb: int | None) -> list[str]:
    limits = ["--core=0"]
    if memory_mb:
        limits.append(f"--as={memory_mb * 1024 * 1024}")
    if file_size_mb:
        limits.append(f"--fsize={file_size_mb * 1024 * 1024}")
    return [_PRLIMIT or "prlimit", *limits, "--", *argv]


def _limits(memory_mb: int | None, file_size_mb: int | None):
    def apply() -> None:
        os.setsid()  # own process group: killpg on timeout reaches every child
        if memory_mb:
            nbytes = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
        if file_size_mb:
            nbytes = file_size_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_limited(
    argv: Sequence[str],
    cwd: str | os.PathLike[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    file_size_mb: int | None = DEFAULT_FILE_SIZE_MB,
    max_output_chars: int = 2_000_000,
) -> RunResult:
    """Run ``argv`` in ``cwd`` with a wall-clock ``timeout`` (seconds) and resource limits.

    Never raises for a failing or hanging child: a timeout gives ``timed_out=True`` and
    ``returncode=None``; a missing executable gives returncode 127 and a message in ``stderr``.
    Output is decoded leniently and truncated to ``max_output_chars`` per stream.
    """
    start = time.monotonic()
    if shutil.which(argv[0], path=(env or os.environ).get("PATH")) is None and "/" not in argv[0]:
        return RunResult(tuple(argv), 127, "", f"{argv[0]}: command not found", False, 0.0)
    if _PRLIMIT:
        spawn = dict(args=_prlimit_argv(argv, memory_mb, file_size_mb), process_group=0)
    else:
        spawn = dict(args=list(argv), preexec_fn=_limits(memory_mb, file_size_mb))
    try:
        proc = subprocess.Popen(
            cwd=os.fspath(cwd),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **spawn,
        )
    except FileNotFoundError as exc:
        return RunResult(tuple(argv), 127, "", f"{exc.filename}: command not found", False, 0.0)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        out, err = proc.communicate()
    seconds = time.monotonic() - start
    # A child that exits normally may still leave grandchildren in its group.
    _kill_group(proc.pid)
    return RunResult(
        tuple(argv),
        None if timed_out else proc.returncode,
        out.decode("utf-8", "replace")[:max_output_chars],
        err.decode("utf-8", "replace")[:max_output_chars],
        timed_out,
        seconds,
    )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def sandbox_dir(prefix: str = "verislice-", keep: bool = False) -> Iterator[Path]:
    """A fresh temporary directory for one run; removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if not keep:
            import shutil

            shutil.rmtree(path, ignore_errors=True)

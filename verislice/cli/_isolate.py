"""Parse in a child process first, so that a crash of pyslang ends with a message.

pyslang is C++: some inputs (a 350 KB expression chain) overflow its stack with a segfault, which
no ``except`` can catch. ``verislice cone`` and ``graph`` therefore run the front end of their
command (parse, elaborate, graph, slice) once in a forked child with an address-space limit and
its output discarded; a child killed by a signal becomes one ``error:`` line and exit code 2,
never a silent exit 139. Only then does the command run here, on input known not to crash it.
(Untrusted code, such as a model's answers, goes through the sandboxed worker of
:mod:`verislice.untrusted` instead.)
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence

import typer

from ._common import EXIT_ERROR, err_console, run_cli, terminate_as_interrupt

__all__ = ["run_isolated"]

#: Address-space limit of the child (MiB): an instance-array bomb fails there, not the machine.
MEMORY_MB = int(os.environ.get("VERISLICE_CLI_MEMORY_MB", "8192"))


def run_isolated(fn: Callable[[], int | None], preflight: Callable[[], object],
                 files: Sequence[object]) -> None:
    """:func:`run_cli` of ``fn``, after ``preflight`` (the same front-end work, no output)
    has survived in a forked child."""
    crash = _crash_of(preflight)
    if crash:
        where = ", ".join(str(f) for f in files) or "the design"
        err_console().print(f"error: {where}: the parser (pyslang) crashed: {crash}",
                            style="bold red", markup=False)
        raise typer.Exit(EXIT_ERROR)
    run_cli(fn)


def _crash_of(preflight: Callable[[], object]) -> str:
    """``""`` when ``preflight`` ends (even with an exception), else how the child died."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: the front end, silenced
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            nbytes = MEMORY_MB * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
            preflight()
        except BaseException:  # an error the command itself will report
            pass
        os._exit(0)
    try:
        with terminate_as_interrupt():  # SIGTERM unwinds here too, so the child is never orphaned
            _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if not os.WIFSIGNALED(status):
        return ""
    sig = os.WTERMSIG(status)
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return name + (" (likely a stack overflow: the design nests too deeply)"
                   if sig == signal.SIGSEGV else "")

"""Run a command body in a child process, so that a crash of pyslang ends with a message.

pyslang is C++: some inputs (a 350 KB expression chain) overflow its stack with a segfault, which
no ``except`` can catch. ``verislice cone`` and ``graph`` parse the user's own files in a forked
child with an address-space limit; a child killed by a signal becomes one ``error:`` line and
exit code 2, never a silent exit 139. (Untrusted code, such as a model's answers, goes through the
sandboxed worker of :mod:`verislice.untrusted` instead.)
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


def run_isolated(fn: Callable[[], int | None], files: Sequence[object]) -> None:
    """:func:`run_cli` of ``fn`` in a forked child; the parent exits with the child's code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: the command itself
        code = EXIT_ERROR
        try:
            nbytes = MEMORY_MB * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
            run_cli(fn)
        except typer.Exit as exc:
            code = exc.exit_code
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else EXIT_ERROR
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    try:
        with terminate_as_interrupt():  # SIGTERM unwinds here too, so the child is never orphaned
            _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C reached us too: the child handles its own, never orphan it
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        why = (" (likely a stack overflow: the design nests too deeply)" if sig == signal.SIGSEGV
               else "")
        where = ", ".join(str(f) for f in files) or "the design"
        err_console().print(f"error: {where}: the parser (pyslang) crashed: {name}{why}",
                            style="bold red", markup=False)
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(os.WEXITSTATUS(status))

"""The front end in a sandboxed worker process.

pyslang is a C++ library: a 350 KB expression chain overflows its stack (a segfault, not an
exception), an instance-array bomb takes gigabytes, and an `` `include`` of a device can hang.
Untrusted text is therefore parsed only here: a long-lived Python process inside the sandbox
(:mod:`verislice._sandbox`: no network, read-only system, its own empty temp dir), with limits on
memory and CPU time, that runs the jobs of :mod:`verislice._jobs` one at a time. A job that
crashes the worker, runs out of memory or out of time becomes :class:`WorkerFailed` for that job
alone; the next job starts a fresh worker.

Results come back pickled, and a worker that a job took over could send anything: the parent
unpickles them with :class:`_SafeUnpickler`, which builds only plain data and verislice's own
dataclasses (never functions or other classes), so a compromised worker cannot run code here.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import io
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._sandbox import sandbox_argv, sandbox_mode

__all__ = ["Worker", "WorkerFailed", "call", "worker"]

_HEADER = struct.Struct("<Q")
#: Most bytes one result may have (a result bigger than this is a broken worker).
_MAX_RESULT = 256 * 1024 * 1024
DEFAULT_MEMORY_MB = 2048


class WorkerFailed(Exception):
    """The job crashed the worker, exhausted its memory or time. ``reason`` is one of
    ``"crash"``, ``"memory"``, ``"timeout"``; ``message`` says what happened."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# -- the parent's side -------------------------------------------------------------------------

class _SafeUnpickler(pickle.Unpickler):
    """Builds plain data, sets and verislice's dataclasses and enums; refuses every other
    global (functions, ``os.system``, arbitrary classes)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in ("set", "frozenset", "complex", "slice"):
            return getattr(__import__("builtins"), name)
        if module.split(".")[0] == "verislice" and "." not in name:
            import importlib

            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type) and (dataclasses.is_dataclass(obj) or
                                          issubclass(obj, enum.Enum)):
                return obj
        raise pickle.UnpicklingError(f"worker result refers to {module}.{name}: refused")


class Worker:
    """One sandboxed front-end process. ``readable``: the paths its jobs may read (include
    directories; a reference's own directory). Not thread-safe: one job at a time (see
    :func:`worker`)."""

    def __init__(self, readable: Sequence[str] = (), memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        self.readable = tuple(readable)
        self.memory_mb = memory_mb
        self._proc: subprocess.Popen | None = None
        self._err: Any = None  # the worker's stderr: an unlinked temporary file

    def _start(self) -> subprocess.Popen:
        # no directory on the host: the worker works in a private tmpfs, and its stderr goes to
        # an unlinked temporary file, so a killed run leaves nothing behind
        env = {"PYTHONPATH": _package_root(), "PYTHONHASHSEED": "0"}
        argv = sandbox_argv([sys.executable, "-B", "-m", "verislice._worker"], None,
                            readable=self.readable, memory_mb=self.memory_mb, file_size_mb=16,
                            env=env)
        self._err = tempfile.TemporaryFile()
        none = sandbox_mode() == "none"  # then Popen's environment is the worker's
        return _spawner.run(lambda: subprocess.Popen(
            argv, cwd=tempfile.gettempdir() if none else "/", stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._err, process_group=0,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env if none else {})}))

    def call(self, job: str, *args: Any, timeout: float = 60.0) -> Any:
        """``job(*args)`` run in the worker (a function of :mod:`verislice._jobs`). Raises
        :class:`WorkerFailed` when the worker dies or overruns ``timeout`` seconds; exceptions
        raised by the job itself come back as ``("error", kind, message)`` results from the
        job's own handling, never as exceptions here."""
        reused = self._proc is not None and self._proc.poll() is None
        try:
            return self._call(job, args, timeout)
        except WorkerFailed as exc:
            if not reused or exc.reason == "timeout":
                raise
            # a worker that served earlier jobs may have died between them (the OOM killer, a
            # lost parent thread): that is not this job's doing, so it gets one fresh worker
            return self._call(job, args, timeout)

    def _call(self, job: str, args: tuple, timeout: float) -> Any:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self._proc = self._start()
        proc = self._proc
        payload = pickle.dumps((job, args), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            proc.stdin.flush()
            data = self._read(proc, time.monotonic() + timeout)
        except _Overrun:
            self.close()
            raise WorkerFailed("timeout", f"the front end ran out of time ({timeout:.0f} s)") \
                from None
        except (OSError, EOFError, ValueError):
            raise self._death() from None
        except BaseException:
            self.close()  # Ctrl-C mid-job: the worker's state is unknown
            raise
        try:
            result = _SafeUnpickler(io.BytesIO(data)).load()
        except Exception as exc:
            self.close()
            raise WorkerFailed("crash", f"the front end sent an unreadable result ({exc})") \
                from None
        if isinstance(result, JobError):
            raise WorkerFailed("crash", f"the front end failed on this design: {result.message}")
        return result

    def _read(self, proc: subprocess.Popen, deadline: float) -> bytes:
        fd = proc.stdout.fileno()
        buf = bytearray()
        need = _HEADER.size
        have_header = False
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                while len(buf) < need:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _Overrun
                    if not sel.select(min(left, 1.0)):
                        continue
                    chunk = os.read(fd, max(need - len(buf), 65536) if have_header else
                                    need - len(buf))
                    if not chunk:
                        raise EOFError
                    buf += chunk
                if have_header:
                    return bytes(buf[_HEADER.size:])
                (n,) = _HEADER.unpack(buf[:_HEADER.size])
                if n > _MAX_RESULT:
                    raise ValueError("result too large")
                need = _HEADER.size + n
                have_header = True

    def _death(self) -> WorkerFailed:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        tail = ""
        if self._err is not None:
            try:
                self._err.seek(0)
                tail = self._err.read()[-2000:].decode("utf-8", "replace")
            except OSError:
                pass
        self.close()
        if code is not None and code > 128:  # prlimit reports a death by signal n as 128+n
            code = 128 - code
        if "MemoryError" in tail or "bad_alloc" in tail:
            return WorkerFailed("memory", f"the front end ran out of memory "
                                          f"(limit {self.memory_mb} MiB)")
        if code == -signal.SIGXCPU:
            return WorkerFailed("timeout", "the front end ran out of CPU time")
        if code is not None and code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            why = " (stack overflow: the design nests too deeply)" if sig == "SIGSEGV" else ""
            return WorkerFailed("crash", f"the front end (pyslang) crashed: {sig}{why}")
        return WorkerFailed("crash", f"the front end stopped unexpectedly (exit code {code})")

    def close(self) -> None:
        """Stop the worker (if running) and remove its temp dir."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for s in (proc.stdin, proc.stdout):
                try:
                    s.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._err is not None:
            self._err.close()
            self._err = None


class _Overrun(Exception):
    pass


#: Signals a process gets as a whole; kept away from the spawner thread.
_PROCESS_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class _Spawner:
    """Starts worker processes from one long-lived thread.

    bubblewrap's ``--die-with-parent`` is the kernel's parent-death signal, which fires when the
    *thread* that started the child ends, not the process: a worker started from a pool thread
    would be killed when that thread is retired, and a pooled worker would die under its next
    job. Started from here, a worker lives as long as this process."""

    def __init__(self) -> None:
        self._jobs: list[tuple[Any, threading.Event, list[Any]]] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def run(self, fn: Any) -> Any:
        done, box = threading.Event(), []
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="verislice-spawner",
                                                daemon=True)
                self._thread.start()
            self._jobs.append((fn, done, box))
            self._cv.notify()
        done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _loop(self) -> None:
        # Signals sent to the whole process (Ctrl-C, a pool's SIGTERM) must reach the main
        # thread, the only one where Python runs their handlers: delivered to this thread, which
        # waits on a lock, they would be flagged and never acted on while the main thread sleeps
        # in a system call (a multiprocessing pool worker then never ends). The workers started
        # from here inherit the mask and unblock it first thing (``_serve``).
        signal.pthread_sigmask(signal.SIG_BLOCK, _PROCESS_SIGNALS)
        while True:
            with self._cv:
                while not self._jobs:
                    self._cv.wait()
                fn, done, box = self._jobs.pop(0)
            try:
                box.append(fn())
            except BaseException as exc:  # handed to the caller
                box.append(exc)
            done.set()


_spawner = _Spawner()


@dataclasses.dataclass(frozen=True)
class JobError:
    """What a worker sends back when a job raised instead of returning a result."""

    message: str


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- a pool of idle workers per set of readable paths ------------------------------------------

_idle: dict[tuple[tuple[str, ...], int], list[Worker]] = {}
_lock = threading.Lock()
_MAX_IDLE = 4


@contextmanager
def worker(readable: Sequence[str] = (), memory_mb: int = DEFAULT_MEMORY_MB) -> Iterator[Worker]:
    """An idle worker that can read ``readable`` (started if none is idle); returned to the
    pool afterwards. Each thread that runs jobs at the same time gets its own worker."""
    key = (tuple(sorted({os.path.realpath(p) for p in readable})), memory_mb)
    with _lock:
        pool = _idle.setdefault(key, [])
        w = pool.pop() if pool else None
    if w is None:
        w = Worker(key[0], memory_mb)
    try:
        yield w
    except BaseException:
        w.close()
        raise
    with _lock:
        if len(_idle[key]) < _MAX_IDLE:
            _idle[key].append(w)
            w = None
    if w is not None:
        w.close()


def call(job: str, *args: Any, readable: Sequence[str] = (), timeout: float = 60.0,
         memory_mb: int = DEFAULT_MEMORY_MB) -> Any:
    """Run one job in a pooled worker (see :meth:`Worker.call`)."""
    with worker(readable, memory_mb) as w:
        return w.call(job, *args, timeout=timeout)


def _forget_inherited() -> None:
    """In a forked child: the parent's idle workers are the parent's (sharing their pipes would
    mix two processes' jobs); start with none."""
    global _lock, _spawner
    _idle.clear()
    _lock = threading.Lock()
    _spawner = _Spawner()


os.register_at_fork(after_in_child=_forget_inherited)


@atexit.register
def _close_all() -> None:
    with _lock:
        workers = [w for pool in _idle.values() for w in pool]
        _idle.clear()
    for w in workers:
        w.close()


# -- the worker's side (runs inside the sandbox) -----------------------------------------------

def _serve() -> None:
    """Read jobs from stdin, write results to stdout, until stdin closes."""
    rd = sys.stdin.buffer
    wr = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # nothing a job prints may corrupt the result stream
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from . import _jobs

    while True:
        head = rd.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        (n,) = _HEADER.unpack(head)
        job, args = pickle.loads(rd.read(n))
        fn = _jobs.JOBS[job]
        try:
            result = fn(*args)
        except MemoryError:
            sys.stderr.write("MemoryError\n")
            sys.stderr.flush()
            os._exit(3)
        except Exception as exc:  # a bug, or pyslang refusing odd input: one job's failure
            result = JobError(f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        wr.write(_HEADER.pack(len(data)) + data)
        wr.flush()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _PROCESS_SIGNALS)  # blocked by the spawner thread
    sys.setrecursionlimit(20000)
    _serve()

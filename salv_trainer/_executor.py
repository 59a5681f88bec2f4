"""Where the work of ``label``, ``eval`` scoring and ``sample`` runs: this process, or a Ray cluster.

One interface, two implementations, chosen with ``--executor local|ray``:

* :class:`LocalExecutor`: this process (as before Ray existed). ``map`` runs the function inline,
  or on ``threads`` threads when the function mostly waits on child processes (eval simulations);
  ``label`` keeps its own process pool inside each call (``--jobs``).
* :class:`RayExecutor`: one Ray task per item (``num_cpus=cpus``), or, for stateful work
  (sampling: one engine per replica), one Ray actor per replica (``num_gpus=gpus``).

Both hand the results back **in input order** as they stream in, so the caller writes them with
the same crash-safe, resumable writer (:class:`salv_trainer.data.JsonlWriter`) whatever ran them.
A Ray worker that dies (killed, out of memory, node lost) has its task run again by Ray
(``max_retries``; an actor is restarted and its pending calls retried): the driver takes exactly
one result per item, so nothing is lost or written twice. An item still failing after the retries
ends the run with a one-line :class:`ExecutorError`; rerunning the command resumes it.

Only this module imports ``ray`` (an optional extra: ``pip install -e '.[ray]'``). Functions
given to :meth:`Executor.map` must be importable module-level functions (Ray ships them by
reference); the workers import ``salv_trainer`` from their own installation, and run untrusted
Verilog through the same sandbox (bubblewrap) as this process: ``VERISLICE_SANDBOX`` is passed on.
"""

from __future__ import annotations

import collections
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from .errors import SalvError

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "RayExecutor", "make_executor"]

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

EXECUTORS = ("local", "ray")

# Environment passed on to Ray workers: whether (and how) untrusted Verilog is sandboxed must not
# depend on where it runs.
_PASSED_ENV = ("VERISLICE_SANDBOX",)


class ExecutorError(SalvError):
    """The executor cannot start, or a task failed for good (CLI: message, exit status 2)."""


class Executor(Protocol):
    """Runs functions over items; results come back in input order, one per item."""

    name: str

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, cpus: int = 1,
            threads: int = 1) -> Iterator[R]:
        """``fn(item)`` for every item. ``cpus``: CPUs one call uses (Ray's ``num_cpus``);
        ``threads``: calls run at once by :class:`LocalExecutor`."""
        ...

    def map_with(self, setup: Callable[[], S], fn: Callable[[S, T], R], items: Iterable[T], *,
                 replicas: int | None = None, cpus: int = 1,
                 gpus: float | None = None) -> Iterator[R]:
        """``fn(state, item)`` for every item, ``state = setup()`` made once per replica (a model,
        an inference engine). Ray only: ``replicas`` each take ``cpus`` CPUs and ``gpus`` GPUs
        (default: 1 when the cluster has GPUs, else 0); default ``replicas``: as many as the
        cluster's GPUs allow, else one."""
        ...

    def close(self) -> None:
        ...


class LocalExecutor:
    """This process: inline, or ``threads`` threads for calls that wait on child processes."""

    name = "local"

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, cpus: int = 1,
            threads: int = 1) -> Iterator[R]:
        if threads <= 1:
            for item in items:
                yield fn(item)
            return
        pool = ThreadPoolExecutor(max_workers=threads)
        try:
            yield from _in_order((pool.submit(fn, item) for item in items), _window(threads),
                                 lambda fut: fut.result(), lambda fut: fut.cancel())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def map_with(self, setup: Callable[[], S], fn: Callable[[S, T], R], items: Iterable[T], *,
                 replicas: int | None = None, cpus: int = 1,
                 gpus: float | None = None) -> Iterator[R]:
        state = setup()
        for item in items:
            yield fn(state, item)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_order(handles: Iterable[Any], window: int, get: Callable[[Any], R],
              drop: Callable[[Any], None]) -> Iterator[R]:
    """``get(handle)`` for each submitted call, in submission order, with at most ``window``
    calls in flight (a slow head holds the others back; they keep running). Should the caller
    stop early (an error, Ctrl-C), ``drop(handle)`` is called for every call still in flight."""
    pending: collections.deque = collections.deque()
    try:
        for handle in handles:
            pending.append(handle)
            if len(pending) >= max(1, window):
                yield get(pending.popleft())
        while pending:
            yield get(pending.popleft())
    finally:
        for handle in pending:
            drop(handle)


def _window(workers: int) -> int:
    """Calls kept in flight for ``workers`` parallel workers. Results are handed back in order,
    so a slow call at the head (a simulation running into its time limit) holds the others back:
    a deep queue keeps every worker busy meanwhile (a waiting call costs a few bytes)."""
    return max(64, 8 * max(1, workers))


def salv_task(fn: Callable[[T], R], item: T) -> R:
    """The body of every Ray task: ``fn(item)`` in a worker process."""
    return fn(item)


class _Replica:
    """The body of every Ray actor: ``state = setup()`` once, then ``fn(state, item)`` per call."""

    def __init__(self, setup: Callable[[], Any]) -> None:
        self.state = setup()

    def run(self, fn: Callable[[Any, Any], Any], item: Any) -> Any:
        return fn(self.state, item)


class RayExecutor:
    """A Ray cluster: ``address`` of a running one (``ray start --head`` / ``RAY_ADDRESS``), or
    ``None`` to start a local one for this run (``num_cpus``: its size; default all cores).

    When Ray is already initialised in this process (a test's cluster), it is used as it is and
    left running. ``max_retries``: times a task whose worker died is run again.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 max_retries: int = 3) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError("--executor ray needs the ray package, which is not installed "
                                "(pip install -e '.[ray]')") from None
        self._ray = ray
        self.max_retries = max_retries
        self._owned = False
        if not ray.is_initialized():
            _probe(address)
            env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
            try:
                ray.init(address=address, num_cpus=num_cpus if address is None else None,
                         include_dashboard=False, log_to_driver=False, configure_logging=True,
                         logging_level="warning",
                         runtime_env={"env_vars": env} if env else None)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"at {address}" if address else "(local)"
                raise ExecutorError(f"cannot start or reach a Ray cluster {where}: "
                                    f"{str(exc).splitlines()[0]}") from None
            self._owned = True

    # -- tasks -----------------------------------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, cpus: int = 1,
            threads: int = 1) -> Iterator[R]:
        if cpus > self.cpus():  # Ray would wait for ever for a node this large
            raise ExecutorError(f"a task needs {cpus} CPU(s) (--jobs) and the Ray cluster has "
                                f"{self.cpus():g}")
        remote = self._ray.remote(salv_task).options(num_cpus=cpus, max_retries=self.max_retries)
        fn_ref = self._ray.put(fn)  # shipped once, not with every task
        window = _window(int(self.cpus() // max(cpus, 1)))
        handles = (remote.remote(fn_ref, item) for item in items)
        yield from _in_order(handles, window, self._get, self._cancel)

    # -- actors ----------------------------------------------------------------------------

    def map_with(self, setup: Callable[[], S], fn: Callable[[S, T], R], items: Iterable[T], *,
                 replicas: int | None = None, cpus: int = 1,
                 gpus: float | None = None) -> Iterator[R]:
        ray = self._ray
        total_gpus = ray.cluster_resources().get("GPU", 0)
        if gpus is None:
            gpus = 1 if total_gpus else 0
        if replicas is None:
            replicas = max(1, int(total_gpus // gpus)) if gpus else 1
        if replicas < 1:
            raise ExecutorError(f"--replicas must be at least 1, got {replicas}")
        # Ray would wait for ever for resources no node has: say so instead
        if gpus > total_gpus:
            raise ExecutorError(f"a replica needs {gpus:g} GPU(s) and the Ray cluster has "
                                f"{total_gpus:g} (--gpus-per-replica)")
        if cpus > self.cpus():
            raise ExecutorError(f"a replica needs {cpus} CPU(s) and the Ray cluster has "
                                f"{self.cpus():g}")
        actor = ray.remote(_Replica).options(num_cpus=cpus, num_gpus=gpus,
                                             max_restarts=self.max_retries,
                                             max_task_retries=self.max_retries)
        actors = [actor.remote(setup) for _ in range(replicas)]
        fn_ref = ray.put(fn)
        # round-robin with two calls queued per replica: items are alike (a chunk of prompts each)
        handles = (actors[i % replicas].run.remote(fn_ref, item) for i, item in enumerate(items))
        try:
            yield from _in_order(handles, 2 * replicas, self._get, lambda ref: None)
        finally:
            for a in actors:  # an engine holds its GPUs until its actor ends
                ray.kill(a)

    # -- common ----------------------------------------------------------------------------

    def cpus(self) -> float:
        """CPUs of the cluster."""
        return self._ray.cluster_resources().get("CPU", 1)

    def _get(self, ref: Any) -> Any:
        """The result of one task; a failure as the task's own exception (a bad input file, the
        sandbox missing) or one :class:`ExecutorError` line (a worker lost for good)."""
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
            if cause is not None:
                raise cause from None
            raise ExecutorError(f"a Ray task failed: {str(exc).splitlines()[0]}") from None
        except ray.exceptions.RayError as exc:
            raise ExecutorError(f"a Ray task failed after {self.max_retries} retries: "
                                f"{type(exc).__name__}: {str(exc).splitlines()[0]} "
                                "(rerun the same command to resume)") from None

    def _cancel(self, ref: Any) -> None:
        try:
            self._ray.cancel(ref, force=True)
        except Exception:  # already finished or gone: nothing to stop
            pass

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()
        self._owned = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _probe(address: str | None, timeout: float = 10.0) -> None:
    """Refuse an address where nothing listens, at once: Ray itself retries for minutes."""
    if not address or address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return  # a form Ray knows and we do not: let Ray judge it
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ExecutorError(f"cannot reach a Ray cluster at {address}: "
                            f"{exc.strerror or type(exc).__name__}") from None


def make_executor(kind: str = "local", *, address: str | None = None,
                  num_cpus: int | None = None) -> LocalExecutor | RayExecutor:
    """The executor named ``kind`` (``local`` or ``ray``); ``address``: a Ray cluster to join."""
    if kind == "local":
        if address:
            raise ExecutorError("--ray-address goes with --executor ray")
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address, num_cpus=num_cpus)
    raise ExecutorError(f"unknown executor '{kind}' (local, ray)")

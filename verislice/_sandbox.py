"""Run untrusted processes inside an operating-system sandbox, with limits.

Generated Verilog is untrusted: the model being trained wrote it, and a checker it can fool is a
reward it will learn to hack. Every external tool verislice and salv_trainer run on such input
(iverilog, vvp with or without cocotb, Yosys, the pyslang front-end worker) goes through
:func:`run_limited` or :func:`sandbox_argv`, which wrap the command in bubblewrap:

* new user, PID, network, IPC, UTS and cgroup namespaces (no network, sees only its own
  processes), all capabilities dropped, a new session (no terminal to inject keys into), and
  death with its parent;
* a read-only view of only ``/usr`` (and ``/etc/ld.so.cache``), the Python installation, and
  the paths the caller names in ``readable``; the root is remounted read-only, so the one private
  work directory is the only place a process can write;
* rlimits on address space, file size, CPU time, open files and core dumps (``prlimit``), a
  ``pids`` cgroup where this machine lets us create one, a wall-clock timeout that kills the whole
  process tree, and a cap on the output kept in memory.

Where no sandbox can start, :func:`run_limited` raises :class:`SandboxUnavailable`, whose message
names the way to accept the risk (``--no-sandbox`` or ``VERISLICE_SANDBOX=none``); it never falls
back silently.
"""

from __future__ import annotations

import atexit
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._errors import VerisliceError

__all__ = ["RunResult", "SandboxUnavailable", "kill_all", "run_limited", "sandbox_argv", "sandbox_dir",
           "sandbox_mode", "require_sandbox", "SANDBOX_ENV"]

DEFAULT_MEMORY_MB = 4096
DEFAULT_FILE_SIZE_MB = 64
#: Output kept per stream: the head up to this many bytes, plus the last ``_TAIL_BYTES``.
DEFAULT_MAX_OUTPUT = 2_000_000
_TAIL_BYTES = 64 * 1024

#: ``bwrap`` (default): every run in bubblewrap; ``none``: no sandbox (the user accepts the risk).
SANDBOX_ENV = "VERISLICE_SANDBOX"
_ACCEPT_RISK = ("pass --no-sandbox (`verislice equiv --no-sandbox`, `salv-train --no-sandbox "
                "COMMAND`) or set VERISLICE_SANDBOX=none to run untrusted Verilog without a "
                "sandbox, accepting the risk")


class SandboxUnavailable(VerisliceError):
    """No sandbox can start here, and the user has not accepted running without one."""


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


def sandbox_mode() -> str:
    """``"bwrap"`` or ``"none"`` (from ``VERISLICE_SANDBOX``; anything else is an error)."""
    mode = os.environ.get(SANDBOX_ENV, "bwrap").strip().lower() or "bwrap"
    if mode not in ("bwrap", "none"):
        raise VerisliceError(f"{SANDBOX_ENV} must be 'bwrap' or 'none', not {mode!r}")
    return mode


_probe_lock = threading.Lock()
_probe_result: dict[str, str | None] = {}


def require_sandbox() -> None:
    """Raise :class:`SandboxUnavailable` unless sandboxed runs work here (or the user turned the
    sandbox off). Probes bubblewrap once per process."""
    if sandbox_mode() == "none":
        return
    with _probe_lock:
        if "bwrap" not in _probe_result:
            _probe_result["bwrap"] = _probe()
    problem = _probe_result["bwrap"]
    if problem:
        raise SandboxUnavailable(f"cannot start the sandbox for untrusted Verilog: {problem}; "
                                 f"install bubblewrap (apt-get install bubblewrap) or "
                                 f"{_ACCEPT_RISK}")


def _probe() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="verislice-probe-") as d:
        argv = _bwrap_argv(Path(d), (), {"PATH": "/usr/bin:/bin"}) + ["/usr/bin/true"]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap failed to start ({exc})"
    if r.returncode != 0:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap failed ({msg[-1] if msg else f'exit code {r.returncode}'})"
    return None


def _python_roots() -> list[str]:
    """What a sandboxed Python (the front-end worker, cocotb inside vvp, Yosys via pyosys) needs
    to read: the interpreter's installation, the virtual environment, and verislice itself (an
    editable install lives in the project tree, which must not be visible as a whole)."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
             os.path.dirname(os.path.realpath(__file__))}
    exe = os.path.realpath(sys.executable)
    if not any(exe.startswith(r + os.sep) for r in roots):
        roots.add(os.path.dirname(exe))
    return sorted(r for r in roots if not r.startswith("/usr/") and r != "/usr")


def _bind_system() -> list[str]:
    out = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        p = f"/{name}"
        if os.path.islink(p):
            out += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            out += ["--ro-bind", p, p]
    # the dynamic loader's cache and fontconfig (dot renders text)
    for p in ("/etc/ld.so.cache", "/etc/fonts", "/var/cache/fontconfig"):
        if os.path.exists(p):
            out += ["--ro-bind", p, p]
    return out


#: The working directory of a sandbox that has no directory of the host's: a small tmpfs. At the
#: top of the sandbox's root, so that no readable path (a reference in /tmp: /tmp bound
#: read-only) lies above it and blocks the mount.
PRIVATE_WORK = "/verislice-work"


def _bwrap_argv(cwd: Path | None, readable: Sequence[str | os.PathLike[str]],
                env: Mapping[str, str]) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", *_bind_system(), "--proc", "/proc", "--dev", "/dev"]
    seen: set[str] = set()
    for p in [*_python_roots(), *(os.path.realpath(os.fspath(r)) for r in readable)]:
        if p in seen or not os.path.exists(p):
            continue
        seen.add(p)
        argv += ["--ro-bind", p, p]
    if cwd is None:  # nothing on the host's disk: a 16 MiB tmpfs, gone with the sandbox
        argv += ["--size", str(16 << 20), "--tmpfs", PRIVATE_WORK, "--remount-ro", "/",
                 "--chdir", PRIVATE_WORK]
    else:
        work = os.path.realpath(os.fspath(cwd))
        argv += ["--bind", work, work, "--remount-ro", "/", "--chdir", work]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    return argv + ["--"]


def _base_env(cwd: Path | None) -> dict[str, str]:
    work = PRIVATE_WORK if cwd is None else os.path.realpath(os.fspath(cwd))
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work,
            "LANG": "C.UTF-8"}


def _prlimit_argv(memory_mb: int | None, file_size_mb: int | None,
                  cpu_seconds: float | None) -> list[str]:
    limits = ["--core=0", "--nofile=256"]
    if memory_mb:
        limits.append(f"--as={memory_mb * 1024 * 1024}")
    if file_size_mb:
        limits.append(f"--fsize={file_size_mb * 1024 * 1024}")
    if cpu_seconds:
        limits.append(f"--cpu={max(1, int(cpu_seconds + 0.999))}")
    return ["prlimit", *limits, "--"]


def sandbox_argv(
    argv: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    *,
    env: Mapping[str, str] | None = None,
    readable: Sequence[str | os.PathLike[str]] = (),
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    file_size_mb: int | None = DEFAULT_FILE_SIZE_MB,
    cpu_seconds: float | None = None,
) -> list[str]:
    """The command line that runs ``argv`` sandboxed in ``cwd`` (the only writable directory;
    ``None``: a private tmpfs, so that nothing is left on the host's disk), with the limits. ``env`` replaces the environment (``PATH``, ``HOME``, ``TMPDIR`` and
    ``LANG`` are set unless given). Raises :class:`SandboxUnavailable` (see
    :func:`require_sandbox`). With the sandbox turned off, only the limits apply."""
    require_sandbox()
    full_env = _base_env(None if cwd is None else Path(cwd))
    full_env.update(env or {})
    limits = _prlimit_argv(memory_mb, file_size_mb, cpu_seconds)
    if sandbox_mode() == "none":
        return [*limits, *argv]
    return [*_bwrap_argv(None if cwd is None else Path(cwd), readable, full_env), *limits, *argv]


# -- a pids cgroup, where the machine lets us make one --------------------------------------------
#
# RLIMIT_NPROC does not bind root, and moving each sandbox into a cgroup of its own costs a cgroup
# migration (milliseconds) per run. So the first sandboxed run moves this process itself into a
# cgroup of its own with a pids limit; every sandbox it (or a forked worker) starts inherits it.
# The budget is shared by this process's threads and all its sandboxes: generous for honest use,
# a hard stop for a fork bomb.

#: Processes and threads this process and all its sandboxes may hold together.
MAX_PIDS = 1024


def _pids_root() -> Path | None:
    for root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if (root / "cgroup.procs").exists() and os.access(root, os.W_OK):
            if root.name == "cgroup" and "pids" not in _read(root / "cgroup.subtree_control"):
                continue  # cgroup v2 without the pids controller delegated here
            return root
    return None


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


_cg_lock = threading.Lock()
_cg_done: set[int] = set()  # pids that have joined their cgroup (a fork joins its own)


def _join_pids_cgroup() -> None:
    """Move this process into a pids-limited cgroup of its own, once (best effort)."""
    pid = os.getpid()
    if pid in _cg_done:
        return
    with _cg_lock:
        if pid in _cg_done:
            return
        _cg_done.add(pid)
        root = _pids_root()
        if root is None:
            return
        _sweep_stale_cgroups(root)
        cg = root / f"verislice-{pid}"
        try:
            cg.mkdir(exist_ok=True)
            current = len(os.listdir(f"/proc/{pid}/task"))
            (cg / "pids.max").write_text(str(MAX_PIDS + current))
            (cg / "cgroup.procs").write_text(str(pid))
        except OSError:
            return
        atexit.register(_leave_pids_cgroup, root, cg, pid)


def _inherit_cgroup() -> None:
    # a forked child is already in its parent's cgroup, under the same budget
    if os.getppid() in _cg_done:
        _cg_done.add(os.getpid())


os.register_at_fork(after_in_child=_inherit_cgroup)


def _leave_pids_cgroup(root: Path, cg: Path, pid: int) -> None:
    if os.getpid() != pid:
        return
    try:
        (root / "cgroup.procs").write_text(str(pid))
        cg.rmdir()
    except OSError:
        pass


def _sweep_stale_cgroups(root: Path) -> None:
    """Remove the cgroups of verislice processes that are gone (killed before cleaning up)."""
    try:
        entries = list(root.glob("verislice-*"))
    except OSError:
        return
    for cg in entries:
        try:
            os.kill(int(cg.name.split("-")[1]), 0)
        except ProcessLookupError:
            try:
                cg.rmdir()
            except OSError:
                pass
        except (ValueError, IndexError, PermissionError):
            pass


# -- running -----------------------------------------------------------------------------------

_live: set[int] = set()  # process groups of the sandboxes running now (any thread)
_live_lock = threading.Lock()


def kill_all() -> None:
    """Kill every sandbox this process is running, from any thread: an interrupted command
    calls it so that simulations running on pool threads end now, not at their time limit."""
    with _live_lock:
        groups = list(_live)
    for pgid in groups:
        _kill_group(pgid)


class _Capped:
    """Bytes of one stream: the first ``limit`` bytes and the last ``_TAIL_BYTES``, never more
    in memory however much the child prints."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > _TAIL_BYTES:
                cut = len(self.tail) - _TAIL_BYTES
                self.dropped += cut
                del self.tail[:cut]

    def text(self) -> str:
        mid = f"\n[... {self.dropped} bytes of output dropped ...]\n".encode() if self.dropped else b""
        return (bytes(self.head) + mid + bytes(self.tail)).decode("utf-8", "replace")


def run_limited(
    argv: Sequence[str],
    cwd: str | os.PathLike[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    file_size_mb: int | None = DEFAULT_FILE_SIZE_MB,
    max_output_chars: int = DEFAULT_MAX_OUTPUT,
    readable: Sequence[str | os.PathLike[str]] = (),
) -> RunResult:
    """Run ``argv`` sandboxed in ``cwd`` with a wall-clock ``timeout`` (seconds) and limits.

    ``cwd`` is the only writable directory; ``readable`` adds read-only paths (the system, the
    Python installation and verislice itself are always readable). Never raises for a failing or
    hanging child: a timeout gives ``timed_out=True`` and ``returncode=None``; a missing
    executable gives returncode 127. At most ``max_output_chars`` bytes (plus a 64 KiB tail) of
    each stream are kept. The whole process tree is killed on timeout, on return, and when the
    caller is interrupted (Ctrl-C, SIGTERM turned into an exception). Raises
    :class:`SandboxUnavailable` when no sandbox can start.
    """
    start = time.monotonic()
    if "/" not in argv[0] and shutil.which(argv[0], path=(env or {}).get("PATH") or
                                           os.environ.get("PATH")) is None:
        return RunResult(tuple(argv), 127, "", f"{argv[0]}: command not found", False, 0.0)
    cpu = timeout * 2 + 5  # CPU time can never exceed the wall clock by much (a few threads)
    full = sandbox_argv(argv, cwd, env=env, readable=readable, memory_mb=memory_mb,
                        file_size_mb=file_size_mb, cpu_seconds=cpu)
    if sandbox_mode() != "none":
        _join_pids_cgroup()
    if sandbox_mode() == "none":  # no sandbox: the caller's environment, as before
        run_env = dict(env) if env is not None else None
    else:  # bwrap clears the environment and sets the sandbox's own (see sandbox_argv)
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    try:
        proc = subprocess.Popen(full, cwd=os.fspath(cwd), env=run_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    except FileNotFoundError as exc:
        return RunResult(tuple(argv), 127, "", f"{exc.filename}: command not found", False, 0.0)
    out, err = _Capped(max_output_chars), _Capped(max_output_chars)
    timed_out = False
    with _live_lock:
        _live.add(proc.pid)
    try:
        timed_out = not _pump(proc, out, err, start + timeout)
        if timed_out:
            _kill_group(proc.pid)
        proc.wait()
    finally:
        # also on KeyboardInterrupt/SystemExit: no sandbox outlives its caller
        _kill_group(proc.pid)
        with _live_lock:
            _live.discard(proc.pid)
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        for s in (proc.stdout, proc.stderr):
            if s is not None:
                s.close()
    code = None if timed_out else proc.returncode
    if code is not None and 128 < code <= 128 + 64 and sandbox_mode() != "none":
        code = 128 - code  # bwrap reports a child killed by signal n as 128+n: say -n as Popen does
    return RunResult(tuple(argv), code, out.text(), err.text(), timed_out,
                     time.monotonic() - start)


def _pump(proc: subprocess.Popen, out: _Capped, err: _Capped, deadline: float) -> bool:
    """Read both pipes until the child closes them; False when ``deadline`` passes first."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in sel.select(min(left, 1.0)):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                else:
                    key.data.add(data)
        left = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(left, 0.001))
        except subprocess.TimeoutExpired:
            return False
        return True
    finally:
        sel.close()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def sandbox_dir(prefix: str = "verislice-", keep: bool = False,
                parent: str | None = None) -> Iterator[Path]:
    """A fresh private temporary directory for one run (inside ``parent`` if given); removed
    afterwards (also on Ctrl-C) unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)

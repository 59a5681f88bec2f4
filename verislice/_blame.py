"""Compile many designs in one run; blame a design only when it also fails alone.

A compiler run costs mostly its start-up, so designs are compiled in batches. When a batch fails,
the designs its ``file:line:`` messages name are compiled alone: one that fails alone is taken out
with that error, and the rest is compiled again. A message is only a suggestion (a design cannot
make a neighbour fail by naming it), and when nobody can be blamed (a timeout, an error that
names no file, a design that only fails next to another) the batch is split in halves until each
design is alone. A clean batch costs one run.

:func:`blame_batch` is the loop, for any compiler and any way of building a batch (the equivalence
engine compiles a testbench with a reference and its candidates, in Icarus or Verilator);
:func:`icarus_errors` is that loop for plain design texts in Icarus. Every run is sandboxed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from ._frontend import rename_modules
from ._sandbox import RunResult, run_limited, sandbox_dir

__all__ = ["LOCATED", "Attempt", "Blame", "blame_batch", "icarus_errors"]

K = TypeVar("K", bound=Hashable)
E = TypeVar("E")

#: A message that names a place: iverilog's ``file.v:12: ...``, Verilator's ``%Error: file.v:12:5:
#: ...`` (``%Error-CODE: ...``).
LOCATED = re.compile(r"^(?:%Error[-\w]*: )?(?P<file>[^:\s]+\.v):(?P<line>\d+):", re.MULTILINE)


@dataclass(frozen=True)
class Attempt(Generic[K]):
    """One compile of a batch: did it succeed, and which of its designs its messages name."""

    ok: bool
    named: frozenset[K] = frozenset()


@dataclass
class Blame(Generic[K, E]):
    """What :func:`blame_batch` found.

    ``errors``: each design that fails alone, with what ``alone`` returned for it. ``left``: the
    other designs, in batch order, less the ``dependents`` of failed ones. ``stuck``: ``left``
    does not compile as one batch and nobody in it could be blamed (only without ``split``;
    the caller decides what then)."""

    errors: dict[K, E]
    left: list[K]
    stuck: bool = False


def blame_batch(designs: Sequence[K], compile: Callable[[list[K]], Attempt[K]],
                alone: Callable[[K], E | None], *, split: bool = True,
                dependents: Callable[[K], Iterable[K]] = lambda k: ()) -> Blame[K, E]:
    """Find the designs that fail to compile, compiling them in as few runs as it can.

    ``compile(batch)`` compiles the designs of ``batch`` together and says which of them its
    messages name (name nobody on a timeout: its messages are cut short). ``alone(design)``
    compiles one design on its own: ``None`` when it compiles, else its error. Named designs are
    compiled alone in batch order; one that fails is taken out with its ``dependents(design)``
    (a reference's candidates: they are not blamed for it), the rest is compiled again. When
    nobody can be blamed, ``split`` halves the batch (a batch of one is just compiled alone);
    without ``split`` the batch is returned ``stuck``. Each design is compiled alone at most
    once. ::

        from verislice.untrusted import Attempt, blame_batch

        def compile(batch):                # e.g. one iverilog run over the batch's files
            r = run_limited(["iverilog", *(files[k] for k in batch)], d, timeout=30)
            return Attempt(r.ok, frozenset(k for k in batch if files[k] + ":" in r.stderr))

        found = blame_batch(list(files), compile, lambda k: compile_alone(k))
        found.errors                       # {design: its error alone}
    """
    errors: dict[K, E] = {}
    checked: dict[K, E | None] = {}

    def alone_once(k: K) -> E | None:
        if k not in checked:
            checked[k] = alone(k)
        return checked[k]

    def walk(batch: list[K]) -> tuple[list[K], bool]:
        while batch:
            if split and len(batch) == 1:
                err = alone_once(batch[0])
                if err is None:
                    return batch, False
                errors[batch[0]] = err
                return [], False
            attempt = compile(batch)
            if attempt.ok:
                return batch, False
            out: set[K] = set()
            for k in batch:
                if k in attempt.named and k not in out:
                    err = alone_once(k)
                    if err is not None:
                        errors[k] = err
                        out.add(k)
                        out.update(dependents(k))
            if out:
                batch = [k for k in batch if k not in out]
                continue
            if not split:
                return batch, True
            half = len(batch) // 2
            first, _ = walk(batch[:half])
            second, _ = walk(batch[half:])
            return first + second, False
        return [], False

    left, stuck = walk(list(designs))
    return Blame(errors, left, stuck)


#: Icarus's arguments of a parse-and-elaborate check (no code generation).
ICARUS_CHECK = ("-g2012", "-t", "null")


def icarus_errors(texts: Sequence[str], *, args: Sequence[str] = ICARUS_CHECK,
                  timeout: float = 30.0, strict: bool = False,
                  names: Sequence[str] | None = None,
                  tmp_prefix: str = "verislice-icarus-") -> list[RunResult | None]:
    """For each design text, ``None`` when it compiles in Icarus (``iverilog *args``), else the
    run of it alone: its ``stderr``/``stdout`` are the compiler's messages about it, which name
    the file ``names[i]`` (default ``d<i>.v``, a plain file name).

    Batches rename every design's modules with its own prefix (syntax only), so designs cannot
    clash; a design with a compiler directive (`` `define``, `` `timescale`` ...) is only ever
    compiled alone, as directives leak into the next file. ``strict``: a warning is a failure
    too. Runs in one sandboxed directory named ``tmp_prefix...``. ::

        from verislice.untrusted import icarus_errors

        errs = icarus_errors([good, "module m; assign y = q; endmodule\\n", good])
        errs[1].stderr   # "d1.v:1: error: Unable to bind wire/reg/memory `q' in `m'" ...
    """
    names = [f"d{i}.v" for i in range(len(texts))] if names is None else list(names)
    if len(names) != len(texts) or any("/" in n or n.startswith(".") or not n for n in names):
        raise ValueError("one plain file name per design")
    argv = ["iverilog", *args]
    batch_texts: dict[int, str] = {}
    for i, text in enumerate(texts):
        if "`" in text:
            continue
        try:
            batch_texts[i] = rename_modules(text, f"d{i}_")
        except Exception:  # pyslang could not even tokenize it: compile it alone, as written
            continue

    def failed(r: RunResult) -> bool:
        return not r.ok or (strict and bool((r.stderr or r.stdout).strip()))

    with sandbox_dir(tmp_prefix) as tmp:
        def compile(batch: list[int]) -> Attempt[int]:
            # unguessable file names: no text can point a message at a neighbour
            files = {f"b{secrets.token_hex(6)}.v": i for i in batch}
            for fn, i in files.items():
                _write(tmp / fn, batch_texts[i])
            r = run_limited([*argv, *files], tmp, timeout=timeout)
            named = set()
            for line in ([] if r.timed_out else (r.stderr + "\n" + r.stdout).splitlines()):
                m = LOCATED.match(line)
                # a warning only fails a strict batch: only then does it blame
                if m and m["file"] in files and (strict or ": warning:" not in line):
                    named.add(files[m["file"]])
            for fn in files:
                (tmp / fn).unlink()
            return Attempt(not failed(r), frozenset(named))

        def alone(i: int) -> RunResult | None:
            _write(tmp / names[i], texts[i])
            r = run_limited([*argv, names[i]], tmp, timeout=timeout)
            if not failed(r):
                return None
            return r

        found = blame_batch(sorted(batch_texts), compile, alone)
        errors: dict[int, RunResult | None] = dict(found.errors)
        for i in range(len(texts)):
            if i not in batch_texts:
                errors[i] = alone(i)
    return [errors.get(i) for i in range(len(texts))]


def _write(path: Path, text: str) -> None:
    # a model may emit lone surrogates: never crash on them, never change other text
    path.write_bytes(text.encode("utf-8", "replace"))

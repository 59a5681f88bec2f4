"""Refuse to write over an input: the one same-file check of every ``salv-train`` command.

``salv-train pairs x.jsonl --out x.jsonl`` used to truncate ``x.jsonl`` before reading it, and
``eval --json F`` replaced the responses file ``F`` with the results. Every command that reads
files and writes others calls :func:`refuse_overwrite` before it opens anything for writing.

Two paths are the same file when :func:`os.path.samefile` says so (both exist: this catches hard
links and symlinks), else when their fully resolved paths (symlinks followed, even dangling ones,
whose target a write would create) are equal. An output *directory* must neither be an input nor
hold one (a training run writes weights, tokenizer files and checkpoints into it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

__all__ = ["refuse_overwrite", "same_file"]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Do ``a`` and ``b`` name one file (hard links and symlinks included)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where a write would land
        return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> bool:
    """Is ``path`` the directory ``directory`` itself or somewhere below it?"""
    if same_file(path, directory):
        return True
    p, d = os.path.realpath(path), os.path.realpath(directory)
    return p.startswith(d.rstrip(os.sep) + os.sep)


def _given(paths: Mapping[str, str | os.PathLike[str] | None] | None) -> list[tuple[str, str]]:
    """``(what, path)`` for every path that was given (``None`` and ``""`` mean "not used")."""
    return [(what, os.fspath(p)) for what, p in (paths or {}).items() if p not in (None, "")]


def refuse_overwrite(
    inputs: Mapping[str, str | os.PathLike[str] | None],
    outputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
    *,
    output_dirs: Mapping[str, str | os.PathLike[str] | None] | None = None,
    error: Callable[[str], Exception],
) -> None:
    """Raise ``error(message)`` when a write would destroy an input or another output.

    ``inputs``, ``outputs`` and ``output_dirs`` map a description ("the samples file",
    "--out") to a path; ``None`` entries are ignored. Refused: an output that is the same file as
    an input or as another output, and an output directory that is an input or holds one. The
    message is one line naming both paths. Call it before opening anything for writing.
    """
    ins, outs = _given(inputs), _given(outputs)
    for i, (out_what, out) in enumerate(outs):
        for in_what, inp in ins:
            if same_file(out, inp):
                raise error(f"{out_what} {out} is the same file as {in_what} {inp}: "
                            "refusing to overwrite an input (choose another output path)")
        for other_what, other in outs[:i]:
            if same_file(out, other):
                raise error(f"{out_what} {out} is the same file as {other_what} {other}: "
                            "two outputs cannot share a file")
    for dir_what, directory in _given(output_dirs):
        for in_what, inp in ins:
            if _inside(inp, directory):
                raise error(f"{dir_what} {directory} is or holds {in_what} {inp}: refusing to "
                            "write over an input (choose another output directory)")

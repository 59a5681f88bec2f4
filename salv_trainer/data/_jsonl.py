"""Resumable JSONL files: streaming reads with located errors, crash-safe appends, done-sets.

Every data command writes one JSON object per line and can be stopped at any moment (Ctrl-C, a
killed job, a full disk) and rerun: rows are appended whole with one ``write`` call on a file
opened with ``O_APPEND``, so a crash can at worst leave one truncated last line.

The last line of one of our files without its newline is judged by one rule, :func:`_tail_row`,
in both places that look at it: it is a complete row when it parses as a JSON object (a row cut
short never does: only the whole text of an object parses as one), else the remains of an
interrupted append. :func:`done_ids` counts a complete one as done and skips a torn one;
:class:`JsonlWriter` reopening the file adds the missing newline after a complete one and cuts a
torn one off, so the row is redone. No row is lost or written twice.

Rows are written as UTF-8; a row holding a lone surrogate (``"\\ud800"`` in the input, which
``json.loads`` accepts) is written with ``ensure_ascii`` instead, so it reads back identically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._errors import DataError

__all__ = ["JsonlWriter", "done_ids", "encode_row", "read_jsonl", "read_rows", "require_fields"]


def read_jsonl(
    path: str | os.PathLike[str],
    *,
    partial_tail_ok: bool = False,
    error: type[Exception] = DataError,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for every non-blank line of ``path``.

    Raises ``error`` (default :class:`DataError`; the evaluation and training stages pass their
    own error types, so every stage reads JSONL through this one function) with a
    ``file:line:col: error: ...`` message for a line that is not a JSON object, and for a file
    that cannot be read. With ``partial_tail_ok`` (our own output
    files), a last line without its newline that does not parse is the remains of an interrupted
    append and is skipped.
    """
    p = Path(path)
    try:
        fh = p.open("r", encoding="utf-8", errors="replace", newline="\n")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if partial_tail_ok and not line.endswith("\n"):  # only ever the last line
                tail = _tail_row(path, lineno, line, error)
                if tail is not None:
                    yield tail
                return  # else the remains of an interrupted append: that row will be redone
            yield _parse(path, lineno, line, error)


def _tail_row(path: Any, lineno: int, line: str, error: type[Exception] = DataError
              ) -> tuple[int, dict[str, Any]] | None:
    """The last line of one of our files, without its newline: ``(lineno, row)`` when it is a
    complete row (parses as a JSON object), ``None`` when it is torn. The reader and the writer
    both decide with this function, so they never disagree about that line."""
    try:
        return _parse(path, lineno, line, error)
    except error:
        return None


def _parse(path: Any, lineno: int, line: str, error: type[Exception]) -> tuple[int, dict[str, Any]]:
    try:
        row = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise error(f"{path}:{lineno}:{exc.colno}: error: invalid JSON: {exc.msg}") from None
    if not isinstance(row, dict):
        raise error(f"{path}:{lineno}:1: error: expected a JSON object, got {type(row).__name__}")
    return lineno, row


def require_fields(path: Any, lineno: int, row: Mapping[str, Any], fields: Iterable[str]) -> None:
    """Raise a located :class:`DataError` when ``row`` lacks one of ``fields``."""
    missing = [f for f in fields if f not in row]
    if missing:
        names = ", ".join(repr(f) for f in missing)
        raise DataError(f"{path}:{lineno}:1: error: missing field {names}")


def read_rows(
    path: str | os.PathLike[str], fields: Iterable[str] = (), *, unique_ids: bool = True
) -> list[dict[str, Any]]:
    """All rows of ``path`` (see :func:`read_jsonl`), each checked for ``fields``; with
    ``unique_ids`` a repeated ``id`` is an error (prompt, sample and labeled files)."""
    need = list(fields)
    rows, seen = [], {}
    for lineno, row in read_jsonl(path):
        require_fields(path, lineno, row, need)
        if unique_ids and "id" in row:
            key = str(row["id"])
            if key in seen:
                raise DataError(
                    f"{path}:{lineno}:1: error: duplicate id {key!r} (first on line {seen[key]})"
                )
            seen[key] = lineno
        rows.append(row)
    return rows


def done_ids(path: str | os.PathLike[str], key: str = "id") -> set[str]:
    """Ids (as strings) of the complete rows already in ``path``; empty when it does not exist.

    A last line without its newline counts when it is a whole row (see :func:`_tail_row`)."""
    if not Path(path).exists():
        return set()
    return {str(row[key]) for _, row in read_jsonl(path, partial_tail_ok=True) if key in row}


def encode_row(row: Mapping[str, Any]) -> bytes:
    """One JSONL line (newline included) as UTF-8 bytes; never raises for a lone surrogate.

    Non-ASCII text stays readable (``ensure_ascii=False``). A lone surrogate cannot be encoded as
    UTF-8, so such a row is written with ``ensure_ascii=True``: the surrogate becomes the escape it
    was read from and ``json.loads`` gives back exactly the same text.
    """
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row, ensure_ascii=True) + "\n").encode("ascii")


class JsonlWriter:
    """Append rows to a JSONL file, one whole line per ``write`` call.

    ``resume=False`` truncates the file first; ``resume=True`` keeps the rows already there: a
    last line without its newline is completed when it is a whole row and cut off when it is the
    remains of an interrupted append (the rule of :func:`done_ids`). ``error`` is the exception
    type raised when the file cannot be written (each stage passes its own). Use as a context
    manager.
    """

    def __init__(self, path: str | os.PathLike[str], *, resume: bool = True, fsync: bool = False,
                 error: type[Exception] = DataError):
        self.path = Path(path)
        self.count = 0
        self._fsync = fsync
        self._error = error
        try:
            if self.path.parent != Path(""):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            if not resume:
                flags |= os.O_TRUNC
            self._fd = os.open(self.path, flags, 0o644)
            if resume:
                self._mend_tail()
        except OSError as exc:
            raise error(f"{path}: cannot write: {exc.strerror}") from None

    def _last_line_start(self, size: int) -> int:
        """Offset just after the file's last newline (0 when it has none)."""
        with self.path.open("rb") as fh:
            pos, tail = size, b""
            while pos > 0 and b"\n" not in tail:
                step = min(65536, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
        return pos + tail.rfind(b"\n") + 1 if b"\n" in tail else 0

    def _mend_tail(self) -> None:
        """End the file with a newline: complete a whole last row, cut off a torn one."""
        size = os.fstat(self._fd).st_size
        start = self._last_line_start(size) if size else 0
        if start == size:
            return
        with self.path.open("rb") as fh:
            fh.seek(start)
            # decoded as read_jsonl decodes it, so both judge the same text
            line = fh.read().decode("utf-8", "replace")
        if line.strip() and _tail_row(self.path, 0, line, self._error) is not None:
            self._write_all(b"\n")
        else:
            os.truncate(self.path, start)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # a regular file takes it in one call; loop only for safety
            n = os.write(self._fd, view)
            view = view[n:]

    def write(self, row: Mapping[str, Any]) -> None:
        data = encode_row(row)
        try:
            self._write_all(data)
            if self._fsync:
                os.fsync(self._fd)
        except OSError as exc:
            raise self._error(f"{self.path}: cannot write: {exc.strerror}") from None
        self.count += 1

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

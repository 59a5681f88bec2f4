"""The one error type of the data stage."""

from __future__ import annotations

from ..errors import SalvError

__all__ = ["DataError"]


class DataError(SalvError):
    """Bad input to a data command (unreadable file, malformed JSONL row, missing field).

    The CLI prints ``message`` and exits with status 2. Never raised for a bad *candidate*: a
    response that does not parse, compile or simulate becomes a per-candidate verdict instead.
    """

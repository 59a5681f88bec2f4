"""The one error type of the evaluation stage."""

from __future__ import annotations

from ..errors import SalvError

__all__ = ["EvalError"]


class EvalError(SalvError):
    """Bad input to the evaluator (missing data, unknown benchmark, malformed file).

    The CLI prints ``message`` and exits with status 2; never raised for a bad *response*, which
    always becomes a per-sample verdict instead.
    """


"""salv_trainer: the second stage of QiMeng-SALV (sample, label, pair, signal-aware DPO, SFT, eval).

Uses verislice's public Python API; verislice never imports salv_trainer. Needs the ``train``
extra (``pip install 'verislice-salv[train]'``): a plain install is verislice alone, without
torch. Without the extra, ``import salv_trainer`` raises :class:`MissingExtraError` (an
``ImportError``); uncaught (``salv-train``, ``python -c 'import salv_trainer'``) it is one line
on stderr and exit status 2, never a traceback. See ``docs/architecture.md`` for the map.
"""

from __future__ import annotations

import importlib.util
import sys

__version__ = "0.1.0"

#: The ``train`` extra's packages (pyproject.toml): import name -> distribution name. Looked up
#: without importing them (importing torch alone takes seconds).
_TRAIN_MODULES = {"torch": "torch", "transformers": "transformers", "trl": "trl", "peft": "peft",
                  "accelerate": "accelerate", "datasets": "datasets", "tokenizers": "tokenizers",
                  "yaml": "pyyaml"}


class MissingExtraError(ImportError):
    """The ``train`` extra is not installed; the message says what to install."""


def _one_line_exit(previous):  # type: ignore[no-untyped-def]
    """An excepthook that reports an uncaught :class:`MissingExtraError` as one line and exit
    status 2 (the CLI's code for a usage problem), and leaves every other exception to
    ``previous``. Raising SystemExit from the hook ends the interpreter normally (atexit runs)."""

    def hook(kind, exc, tb):  # type: ignore[no-untyped-def]
        if isinstance(exc, MissingExtraError):
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2)
        previous(kind, exc, tb)

    return hook


def _require_train_extra() -> None:
    missing = [dist for mod, dist in _TRAIN_MODULES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        sys.excepthook = _one_line_exit(sys.excepthook)
        raise MissingExtraError(
            f"salv_trainer needs the 'train' extra (missing: {', '.join(missing)}): "
            "pip install 'verislice-salv[train]'")


class _ToStderr:
    """A logging filter that writes each record to stderr and keeps it from the logger's handlers."""

    def filter(self, record) -> bool:  # type: ignore[no-untyped-def]
        print(f"[{record.name}] {record.levelname}: {record.getMessage()}", file=sys.stderr)
        return False


def _deepspeed_logs_to_stderr() -> None:
    """DeepSpeed (the optional ``deepspeed`` extra) logs to stdout, and accelerate imports it with
    transformers: on a machine without GPUs its first record ("Setting accelerator to CPU ...")
    would precede the JSON of ``salv-train ... --json``. A filter on its logger (which DeepSpeed's
    own set-up keeps) sends its records to stderr instead."""
    import logging

    logging.getLogger("DeepSpeed").addFilter(_ToStderr())


_require_train_extra()
_deepspeed_logs_to_stderr()

"""Silence library chatter (progress bars, logging, torch warnings) for our commands and for
the pipeline's worker processes, whose output would interleave with the parent's."""

from __future__ import annotations

import os
import sys
from typing import Optional

__all__ = ["is_tty", "quiet_libraries"]


def quiet_libraries(quiet: Optional[bool] = None) -> None:
    """No progress bars or library chatter from transformers and datasets when ``quiet``
    (default: stderr is not a terminal), and none of torch's warnings that say nothing to a
    user of these commands."""
    import warnings

    warnings.filterwarnings("ignore", module="torch.utils.data")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if quiet is None:
        quiet = not is_tty(sys.stderr)
    if not quiet:
        return
    try:
        import datasets
        import transformers
    except ImportError:  # not installed: nothing of theirs to silence
        return
    datasets.disable_progress_bars()
    # tqdm's own switch: TRL's bars (reference log-probs, ...) are plain tqdm read at call time
    os.environ["TQDM_DISABLE"] = "1"
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def is_tty(stream: object) -> bool:
    """Whether ``stream`` is a terminal (False for a closed or fake stream)."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # a closed or fake stream
        return False

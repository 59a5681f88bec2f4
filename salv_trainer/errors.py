"""salv_trainer's errors: one root, :class:`SalvError`, for every problem with the user's input.

``except SalvError`` catches all of salv_trainer's own errors; ``except verislice.VerisliceError``
catches those and verislice's. The root is a :class:`~verislice.VerisliceError` so that both
command lines treat every user error alike (``verislice.cli.run_cli`` and salv-train's commands:
the message in one line, exit status 2, no traceback) and one ``except`` serves a caller that uses
both packages. A bad *candidate* (a model's answer that does not parse, compile or match) is never
an error: it becomes a verdict in the data.

The typed errors live beside the code that raises them:

=========================================  ===============  =============================================================
error                                      also a           raised for
=========================================  ===============  =============================================================
``salv_trainer.config.ConfigError``        ``ValueError``   a bad configuration file or value
``salv_trainer.synth.SynthError``          ``ConfigError``  a synthetic-data catalogue that cannot work
``salv_trainer.data.DataError``                             bad input to prepare/sample/label/pairs
``salv_trainer.eval.EvalError``                             bad input to the evaluator
``salv_trainer.training.DataFormatError``  ``ValueError``   a malformed SFT/DPO data file (``file:line``)
``salv_trainer.masks.SpanError``           ``ValueError``   a span outside its text
``salv_trainer.masks.MaskAlignmentError``  ``ValueError``   spans that cannot be placed on tokens
``salv_trainer.generate.GenerationError``                   a model that cannot be loaded or run as asked
``salv_trainer._executor.ExecutorError``                    an executor that cannot start, or a task that failed for good
=========================================  ===============  =============================================================

(``ValueError`` is kept where callers caught it before the root existed.)
"""

from __future__ import annotations

from verislice import VerisliceError

__all__ = ["SalvError"]


class SalvError(VerisliceError):
    """A problem with the user's input or request to salv_trainer; ``message`` says what, in one
    line where it can. The CLI prints it and exits with status 2."""

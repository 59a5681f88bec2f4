"""``salv-train`` command line: a thin layer over :mod:`salv_trainer`'s Python API.

Also runnable as ``python -m salv_trainer.cli`` (and so ``accelerate launch -m salv_trainer.cli``).
"""

from ._app import app
from . import _data, _eval, _pipeline, _scale, _train  # noqa: F401  (each registers its commands on app)

__all__ = ["app", "main"]


def main() -> None:
    app()

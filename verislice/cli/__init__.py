"""``verislice`` command line: a thin layer over :mod:`verislice`'s Python API."""

from ._app import app
from . import _cone, _equiv, _graph  # noqa: F401  (each module registers its commands on app)

__all__ = ["app", "main"]


def main() -> None:
    app()

"""`salv-train` pipeline commands (thin layer over the Python API)."""

from ._app import app  # noqa: F401

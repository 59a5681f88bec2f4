"""`salv-train` train commands (thin layer over the Python API)."""

from ._app import app  # noqa: F401

"""``verislice`` command line: a thin layer over :mod:`verislice`'s Python API.

Also the helpers every such command is made of, public so that ``salv-train`` behaves the same
(one-line errors and exit 2, exit 130 on Ctrl-C/SIGTERM, plain text when piped): :func:`run_cli`,
:func:`terminate_as_interrupt`, :func:`console`, :func:`err_console`, :func:`print_json`,
:func:`show_progress` (see ``verislice/cli/_common.py``).
"""

from ._app import app
from . import _cone, _equiv, _graph  # noqa: F401  (each module registers its commands on app)
from ._common import console, err_console, print_json, run_cli, show_progress, terminate_as_interrupt

__all__ = ["app", "console", "err_console", "main", "print_json", "run_cli", "show_progress",
           "terminate_as_interrupt"]


def main() -> None:
    app()

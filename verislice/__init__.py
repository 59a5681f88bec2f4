"""verislice: signal-level Verilog analysis with pyslang, networkx, cocotb and Icarus Verilog.

No torch here. Public surface (everything else lives in private ``_modules``)::

    import verislice
    design = verislice.load(["design.v"])               # parse + elaborate, top module, ports
    sl = verislice.cone("design.v", ["d"])             # backward cone of d as a compilable module
    g = verislice.build_graph(design)                  # signal dependency graph (networkx)
    from verislice import equiv                        # per-output randomized equivalence
    verislice.rename_modules(text, "p_")               # p_alu for alu, instances too (syntax only)
    verislice.module_names(text)                       # modules declared in a text (syntax only)

Untrusted code (a model's answers) goes through :mod:`verislice.untrusted` (sandboxed front end,
sandboxed tool runs); the ``verislice``-style command helpers are in :mod:`verislice.cli`.
"""

from __future__ import annotations

from typing import Any

from ._errors import (Diagnostic, DiagnosticError, InterfaceError, SeveralTopModulesError,
                      VerisliceError)
from ._frontend import Design, Port, Source, load, module_names, rename_modules

__version__ = "0.1.0"

__all__ = [
    "Design",
    "Diagnostic",
    "DiagnosticError",
    "InterfaceError",
    "Port",
    "SeveralTopModulesError",
    "Slice",
    "Source",
    "VerisliceError",
    "build_graph",
    "cone",
    "load",
    "module_names",
    "rename_modules",
]

# Imported on first use so that `import verislice` stays fast for the parts that need only the
# front end (each of these pulls in networkx or the simulator glue).
_LAZY = {"cone": "._cone", "Slice": "._cone", "build_graph": "._graph", "SignalGraph": "._graph"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'verislice' has no attribute {name!r}")

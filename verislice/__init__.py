"""verislice: signal-level Verilog analysis with pyslang, networkx, cocotb and Icarus Verilog.

No torch here. Public surface (the rest lives in private ``_modules``)::

    from verislice import load, VerisliceError
"""

from ._errors import DiagnosticError, VerisliceError
from ._frontend import Design, Port, Source, load

__version__ = "0.1.0"

__all__ = ["Design", "DiagnosticError", "Port", "Source", "VerisliceError", "load"]

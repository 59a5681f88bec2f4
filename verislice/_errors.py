"""Errors verislice reports to users: one message, one exit code, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Diagnostic", "DiagnosticError", "InterfaceError", "SeveralTopModulesError",
           "VerisliceError"]


class VerisliceError(Exception):
    """A problem with the user's input or request. The CLI prints ``message`` and exits 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InterfaceError(VerisliceError):
    """The design compiles but has no top module or ports that can stand for the one asked
    for: a named top that is not defined, no top or several, a port kind verislice cannot drive.
    ``verislice equiv`` reports a candidate with this problem as INTERFACE, not COMPILE_ERROR."""


class SeveralTopModulesError(InterfaceError):
    """More than one module could be the top and none was chosen: ``names`` are the candidates.
    Callers that can decide (e.g. by the reference's port names) catch this one and retry with
    ``top=``; every other VerisliceError is a real failure."""

    def __init__(self, message: str, names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.names = names


@dataclass(frozen=True)
class Diagnostic:
    """One compiler diagnostic, located in the user's files."""

    file: str
    line: int
    column: int
    severity: str  # "error" | "warning" | "note"
    message: str
    code: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class DiagnosticError(VerisliceError):
    """The design does not parse or elaborate; ``diagnostics`` holds every error found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))

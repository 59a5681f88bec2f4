"""Static checks of untrusted candidates before anything is compiled or run.

* File and system tasks (``$fopen``, ``$fwrite``, ``$readmemh``, ``$dumpfile``, ``$system``, ...)
  are rejected unless explicitly allowed: a candidate must not touch the file system.
* Variables holding more than ``max_memory_bits`` bits in total are rejected: a huge memory would
  exhaust the simulator's memory (and so every other candidate of the same simulation).
"""

from __future__ import annotations

from pyslang import ast

from .._frontend import Design

__all__ = ["FORBIDDEN_TASKS", "forbidden_tasks", "memory_bits"]

FORBIDDEN_TASKS = frozenset({
    "$fopen", "$fclose", "$fdisplay", "$fdisplayb", "$fdisplayh", "$fdisplayo", "$fwrite",
    "$fwriteb", "$fwriteh", "$fwriteo", "$fstrobe", "$fstrobeb", "$fstrobeh", "$fstrobeo",
    "$fmonitor", "$fmonitorb", "$fmonitorh", "$fmonitoro", "$fscanf", "$fgets", "$fgetc",
    "$fread", "$fseek", "$ftell", "$rewind", "$fflush", "$feof", "$ferror", "$ungetc",
    "$readmemb", "$readmemh", "$writememb", "$writememh", "$sreadmemb", "$sreadmemh",
    "$dumpfile", "$dumpvars", "$dumpall", "$dumpflush", "$dumpon", "$dumpoff", "$dumplimit",
    "$dumpports", "$dumpportsall", "$dumpportsflush", "$dumpportson", "$dumpportsoff",
    "$dumpportslimit", "$system", "$shell", "$exec", "$save", "$restart", "$incsave", "$input",
    "$key", "$nokey", "$log", "$nolog", "$list", "$scope", "$showscopes", "$sdf_annotate",
    "$value$plusargs", "$test$plusargs",
})


def forbidden_tasks(design: Design) -> list[tuple[str, str]]:
    """``(task, "file:line")`` for every forbidden system task or function call in the top's
    instance tree (modules that are never instantiated, such as a testbench shipped with a
    candidate, are never simulated and do not count)."""
    found: list[tuple[str, str]] = []
    sm = design.compilation.sourceManager

    def visit(node):
        if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.Call \
                and node.isSystemCall and node.subroutineName in FORBIDDEN_TASKS:
            loc = node.sourceRange.start
            try:
                where = f"{sm.getFileName(loc)}:{sm.getLineNumber(loc)}"
            except Exception:
                where = "?"
            found.append((node.subroutineName, where))
        return True

    design.body.visit(visit)
    return found


def memory_bits(design: Design) -> int:
    """Total bits of the variables of the whole instance tree (unpacked arrays included)."""
    total = 0

    def visit(node):
        nonlocal total
        if isinstance(node, ast.Symbol) and node.kind == ast.SymbolKind.Variable:
            try:
                total += int(node.type.bitstreamWidth)
            except Exception:
                pass
        return True

    design.body.visit(visit)
    return total

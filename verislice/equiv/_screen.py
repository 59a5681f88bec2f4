"""Static checks of untrusted candidates before anything is compiled or run.

* File and system tasks (``$fopen``, ``$fwrite``, ``$readmemh``, ``$dumpfile``, ``$system``, ...)
  are rejected unless explicitly allowed: a candidate must not touch the file system.
* Variables holding more than ``max_memory_bits`` bits in total are rejected: a huge memory would
  exhaust the simulator's memory (and so every other candidate of the same simulation).
"""

from __future__ import annotations

from pyslang import ast, parsing, syntax

from .._frontend import Design

__all__ = ["FORBIDDEN_TASKS", "defined_macros", "forbidden_tasks", "memory_bits"]

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


def defined_macros(design: Design) -> tuple[str, ...]:
    """Names of the macros the design's files define (`` `define``), in order, once each.

    All files of one simulation are one compilation unit for Icarus, and Icarus 11 has no
    `` `undefineall``: a macro must be undefined after the file that defines it, or it changes
    the meaning of the files after it (another candidate, another reference).
    """
    names: list[str] = []

    def visit(node):
        if isinstance(node, parsing.Token):
            for tr in node.trivia:
                if tr.kind == parsing.TriviaKind.Directive:
                    sx = tr.syntax()
                    if sx is not None and sx.kind == syntax.SyntaxKind.DefineDirective:
                        name = sx.name.valueText
                        if name and name not in names:
                            names.append(name)
        return True

    for tree in design.trees:
        tree.root.visit(visit)
    return tuple(names)

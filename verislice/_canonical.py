"""One text for every tool: untrusted Verilog preprocessed once, screened, renamed.

pyslang, Icarus and Yosys preprocess differently (Icarus predefines ``__ICARUS__``, Yosys
``SYNTHESIS``, our testbench ``VERISLICE_STANDALONE``; `` `line`` rewrites the file names that
compile errors are blamed by; `` `begin_keywords`` leaks into the next file). So a design is
preprocessed here, by pyslang, into a *canonical text*: macros expanded, inactive `` `ifdef``
branches and every directive removed, includes inlined. The screen, the simulator and the prover
all compile that text and nothing else, so no tool can see code that the screen did not.

For untrusted designs (candidates) an `` `include`` may name only a relative path without ``..``
that exists under one of the user's ``-I`` directories; nothing else is ever opened.

:func:`rename_globals` then gives every name that Icarus shares between files (modules,
interfaces, programs, packages, primitives, and declarations at ``$unit`` scope) a per-design
prefix, so that designs packed into one simulation can neither collide nor refer to each other.
:func:`screen` rejects what a candidate must not do (system tasks outside an allowlist,
hierarchical references out of its own module tree, huge memories).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath

import pyslang
from pyslang import ast, parsing, syntax

from ._errors import VerisliceError
from ._frontend import Design, Source, apply_edits
from ._reach import reach_problems

__all__ = ["ALLOWED_SYSTEM_TASKS", "FILE_TASKS", "SIMULATION_CONTROL", "Rejected", "canonicalize", "global_names",
           "rename_globals", "screen"]


class Rejected(VerisliceError):
    """The design does something a candidate must not do (the verdict REJECTED)."""


#: System tasks and functions a candidate may use: printing, math, queries, randomness,
#: assertions. Anything else (file I/O, $system, VPI tasks, dumps, plusargs, ...) is rejected.
ALLOWED_SYSTEM_TASKS = frozenset("""
$display $displayb $displayh $displayo $write $writeb $writeh $writeo $strobe $strobeb $strobeh
$strobeo $monitor $monitorb $monitorh $monitoro $monitoron $monitoroff
$time $stime $realtime $timeformat $printtimescale $timeunit $timeprecision
$random $urandom $urandom_range $dist_uniform $dist_normal $dist_exponential $dist_poisson
$dist_chi_square $dist_t $dist_erlang
$signed $unsigned $cast $clog2 $bits $size $left $right $low $high $increment $dimensions
$unpacked_dimensions $countones $countbits $onehot $onehot0 $isunknown $typename $isunbounded
$rtoi $itor $realtobits $bitstoreal $shortrealtobits $bitstoshortreal
$ln $log10 $exp $sqrt $pow $floor $ceil $sin $cos $tan $asin $acos $atan $atan2 $hypot $sinh
$cosh $tanh $asinh $acosh $atanh
$sformat $sformatf $swrite $swriteb $swriteh $swriteo $psprintf
$info $warning $error $assertoff $asserton $assertkill
$sampled $rose $fell $stable $changed $past
""".split())

#: File and operating-system tasks: allowed only with ``allow_file_io`` (and then still inside
#: the sandbox, which has nothing to read and only a private directory to write).
FILE_TASKS = frozenset("""
$fopen $fclose $fdisplay $fdisplayb $fdisplayh $fdisplayo $fwrite $fwriteb $fwriteh $fwriteo
$fstrobe $fstrobeb $fstrobeh $fstrobeo $fmonitor $fmonitorb $fmonitorh $fmonitoro $fscanf
$sscanf $fgets $fgetc $fread $fseek $ftell $rewind $fflush $feof $ferror $ungetc $readmemb
$readmemh $writememb $writememh $sreadmemb $sreadmemh $dumpfile $dumpvars $dumpall $dumpflush
$dumpon $dumpoff $dumplimit $value$plusargs $test$plusargs
""".split())

#: Tasks that end the simulation. A candidate has no business ending it, and one that does could
#: cut a benchmark's testbench short right before its first counted mismatch and have it report
#: a pass (the testbench's own, real ``Mismatches: 0`` line): always rejected.
SIMULATION_CONTROL = frozenset({"$finish", "$stop", "$exit", "$fatal"})


# -- preprocessing -----------------------------------------------------------------------------

def _include_problems(src: Source, include_dirs: Sequence[str]) -> list[str]:
    """Every active `` `include`` of an untrusted ``src`` that names something other than a
    relative file under ``include_dirs``. Found with includes switched off, so that nothing is
    opened before it is checked (`` `include "/dev/stdin"`` would hang, ``/dev/zero`` would
    fill memory, an absolute path would read the host)."""
    pp = parsing.PreprocessorOptions()
    pp.maxIncludeDepth = 0
    tree = syntax.SyntaxTree.fromText(src.text, pyslang.SourceManager(), src.name, src.name,
                                      pyslang.Bag([pp]))
    problems: list[str] = []

    def visit(node):
        if isinstance(node, parsing.Token):
            for tr in node.trivia:
                if tr.kind != parsing.TriviaKind.Directive:
                    continue
                sx = tr.syntax()
                if sx is None or sx.kind != syntax.SyntaxKind.IncludeDirective:
                    continue
                raw = sx.fileName.valueText if sx.fileName is not None else ""
                why = _include_refusal(raw, include_dirs)
                if why:
                    problems.append(f"`include {raw}: {why}")
        return True

    tree.root.visit(visit)
    return problems


def _include_refusal(raw: str, include_dirs: Sequence[str]) -> str | None:
    name = raw.strip()
    if len(name) < 2 or name[0] not in "\"<" or name[-1] not in "\">":
        return "only a quoted file name may be included"
    name = name[1:-1]
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name:
        return "a candidate may include only a relative path without '..' under an -I directory"
    for d in include_dirs:
        base = os.path.realpath(d)
        full = os.path.realpath(os.path.join(base, name))
        if full.startswith(base + os.sep) and os.path.isfile(full):
            return None
    return "not found under the -I directories"


def canonicalize(sources: Sequence[Source], *, include_dirs: Sequence[str] = (),
                 defines: Mapping[str, str | None] | None = None,
                 untrusted: bool = True) -> list[Source]:
    """``sources`` preprocessed by pyslang into directive-free, comment-free texts (same names).

    Comments go too: tools read some of them (Yosys skips ``// synopsys translate_off``
    regions, which the simulator compiles). A text with no directive keeps its layout (comments
    become blanks, so offsets and line numbers stay true). Raises :class:`Rejected` for an
    include an untrusted design may not use, or a backtick left in an untrusted text (in a
    string or an escaped identifier, where Icarus's preprocessor still acts on it), and
    :class:`~verislice.DiagnosticError` for preprocessor errors.
    """
    dirs = [os.fspath(d) for d in include_dirs]
    if untrusted:
        problems = [f"{s.name}: {p}" for s in sources for p in _include_problems(s, dirs)]
        if problems:
            raise Rejected("; ".join(problems[:5]))
    else:
        dirs += [os.path.dirname(os.path.abspath(s.name)) for s in sources
                 if os.path.isfile(s.name)]
    out = []
    for s in sources:
        sm = pyslang.SourceManager()
        for d in dirs:
            sm.addUserDirectories(d)
        pp = parsing.PreprocessorOptions()
        if defines:
            pp.predefines = [k if v is None else f"{k}={v}" for k, v in defines.items()]
        pp.additionalIncludePaths = dirs
        tree = syntax.SyntaxTree.fromText(s.text, sm, s.name, s.name, pyslang.Bag([pp]))
        if not _has_directives(tree):
            text = _blank_comments(s.text, tree)
        else:
            printer = syntax.SyntaxPrinter()
            printer.setIncludeDirectives(False)
            printer.setIncludeSkipped(False)
            printer.setExpandMacros(True)
            printer.setExpandIncludes(True)
            printer.setIncludeComments(False)
            printer.print(tree.root)
            text = printer.str()
        if untrusted and len(text) > max(_MAX_CANONICAL, 20 * len(s.text)):
            raise Rejected(f"{s.name}: macro expansion makes the text {len(text)} characters "
                           f"long from {len(s.text)} (a macro bomb)")
        if untrusted and "`" in text:
            line = text[:text.index("`")].count("\n") + 1
            raise Rejected(f"{s.name}:{line}: a backtick outside a directive (in a string or an "
                           "escaped identifier) is not allowed: Icarus's preprocessor would "
                           "read it as one")
        out.append(Source(text, s.name))
    return out


_COMMENTS = (parsing.TriviaKind.LineComment, parsing.TriviaKind.BlockComment)
#: Longest canonical text an untrusted design may expand to (or 20x its own length if more).
_MAX_CANONICAL = 1 << 20


def _blank_comments(text: str, tree: syntax.SyntaxTree) -> str:
    """``text`` with every comment replaced by spaces (newlines kept): same offsets, same
    lines. Only for a text without directives, where every token lies in ``text`` itself."""
    data = bytearray(text.encode())
    found = False

    def visit(node):
        nonlocal found
        if isinstance(node, parsing.Token):
            pos = node.location.offset
            for tr in reversed(node.trivia):
                raw = tr.getRawText().encode()
                start = pos - len(raw)
                if tr.kind in _COMMENTS and start >= 0:
                    found = True
                    for i in range(start, pos):
                        if data[i] not in (10, 13):
                            data[i] = 32
                pos = start
        return True

    tree.root.visit(visit)
    last = tree.root.getLastToken()
    if last is not None:  # after the last token only blanks and comments can follow
        end = last.location.offset + len(last.rawText.encode())
        for i in range(end, len(data)):
            if data[i] not in (9, 10, 13, 32):
                data[i] = 32
                found = True
    return data.decode() if found else text


def _has_directives(tree: syntax.SyntaxTree) -> bool:
    found = False

    def visit(node):
        nonlocal found
        if found:
            return False
        if isinstance(node, parsing.Token):
            for tr in node.trivia:
                if tr.kind in (parsing.TriviaKind.Directive, parsing.TriviaKind.SkippedTokens,
                               parsing.TriviaKind.SkippedSyntax, parsing.TriviaKind.DisabledText):
                    found = True
                    return False
            if node.isMissing is False and _is_macro_token(node):
                found = True
                return False
        return True

    tree.root.visit(visit)
    return found


def _is_macro_token(tok) -> bool:
    # a token that came out of a macro expansion or an include has a location in another buffer
    return tok.kind == parsing.TokenKind.MacroUsage


# -- renaming ----------------------------------------------------------------------------------

_DESIGN_UNITS = {syntax.SyntaxKind.ModuleDeclaration, syntax.SyntaxKind.InterfaceDeclaration,
                 syntax.SyntaxKind.ProgramDeclaration, syntax.SyntaxKind.PackageDeclaration}


def global_names(tree: syntax.SyntaxTree) -> set[str]:
    """Names Icarus shares between the files of one simulation: design units (modules,
    interfaces, programs, packages, primitives, classes, configs) and everything declared at
    ``$unit`` scope (functions, tasks, parameters, typedefs, nets, variables)."""
    names: set[str] = set()
    root = tree.root
    # pyslang hands back a file of one member as that member, not as a compilation unit
    members = root.members if root.kind == syntax.SyntaxKind.CompilationUnit else [root]
    for m in members:
        k = m.kind
        if k in _DESIGN_UNITS:
            names.add(m.header.name.valueText)
        else:
            if k in (syntax.SyntaxKind.FunctionDeclaration, syntax.SyntaxKind.TaskDeclaration):
                names.add(_function_name(m))
            names.update(_declared_names(m))
    names.discard("")
    return names


def _function_name(m) -> str:
    name = m.prototype.name
    # a plain name, or the last part of a scoped name (class::method)
    tok = getattr(name, "identifier", None)
    if tok is None and hasattr(name, "right"):
        tok = getattr(name.right, "identifier", None)
    return tok.valueText if tok is not None else ""


def _declared_names(m) -> set[str]:
    """Identifiers a top-level declaration introduces: the name token of a UDP, class or
    config, and every declarator in it (nets, variables, parameters, enum members; locals of a
    function too, which is harmless: renaming is consistent across the whole text)."""
    out: set[str] = set()
    tok = getattr(m, "name", None)
    if isinstance(tok, parsing.Token) and tok.kind == parsing.TokenKind.Identifier:
        out.add(tok.valueText)

    def visit(node):
        if not isinstance(node, parsing.Token) and node.kind == syntax.SyntaxKind.Declarator:
            out.add(node.name.valueText)
        return True

    m.visit(visit)
    return out


def rename_globals(text: str, prefix: str, keep: Iterable[str] = ()) -> str:
    """``text`` with every global name (see :func:`global_names`) prefixed with ``prefix``,
    everywhere it appears as an identifier (declarations, instances, package references,
    calls, hierarchical paths). ``keep``: names left alone (the top module's ports, which the
    testbench connects by name). Works on tokens, never on substrings: ``alu`` never turns
    ``value`` into ``valu_x``."""
    tree = syntax.SyntaxTree.fromText(text)
    names = global_names(tree) - set(keep)
    if not names:
        return text
    edits: list[tuple[int, int, str]] = []

    def visit(node):
        if isinstance(node, parsing.Token):
            if node.kind == parsing.TokenKind.Identifier and node.valueText in names:
                raw = node.rawText
                start = node.location.offset
                new = prefix + node.valueText
                if raw.startswith("\\"):
                    new = "\\" + new  # an escaped identifier stays one (its trailing blank is trivia)
                edits.append((start, start + len(raw.encode()), new))
        return True

    tree.root.visit(visit)
    return apply_edits(text, edits)


# -- the screen --------------------------------------------------------------------------------

def screen(design: Design, *, allow_file_io: bool = False,
           max_memory_bits: int | None = None, dead_stops: bool = False) -> str | None:
    """Why ``design`` (loaded from canonical text) must be REJECTED, or ``None``.

    Looks at every file of the design, every scope (packages and ``$unit`` included, instantiated
    or not): system tasks outside the allowlist, `bind` directives, and hierarchical references
    that resolve outside the top module's own instance tree.

    ``dead_stops``: let ``$finish``/``$stop``/``$exit``/``$fatal`` through where they sit in a
    branch that no instance can run (a check of the parameters). Only for a design instantiated
    exactly as pyslang elaborated it (``equiv``'s own testbench): a benchmark testbench may give
    the top other parameters, which could bring the call to life."""
    problems: list[str] = []
    allowed = ALLOWED_SYSTEM_TASKS | (FILE_TASKS if allow_file_io else frozenset())
    # the elaborated design is walked for dead branches only when a stop call is found at all
    dead = functools.cache(lambda: _dead_branches(design) if dead_stops else [])
    for tree in design.trees:
        problems += _token_problems(tree, allowed, dead)
    problems += reach_problems(design.trees)
    problems += _hierarchy_problems(design)
    if problems:
        seen = list(dict.fromkeys(problems))
        more = f" (and {len(seen) - 5} more)" if len(seen) > 5 else ""
        return "; ".join(seen[:5]) + more
    if max_memory_bits is not None:
        bits = memory_bits(design)
        if bits > max_memory_bits:
            return (f"variables hold {bits} bits, more than the limit of {max_memory_bits} "
                    "(--max-memory-bits)")
    return None


def unknown_modules(design: Design) -> str | None:
    """``file:line:col: error: unknown module`` lines for instances of modules the design does
    not define. pyslang only warns (a black box), but an untrusted design must never name a
    module of someone else: in a shared simulation that could be the reference's."""
    bad = [str(w).replace(": warning: ", ": error: ") for w in design.warnings
           if w.code == "DiagCode(UnknownModule)"]
    return "\n".join(bad) or None


def _dead_branches(design: Design) -> list[tuple[object, int, int]]:
    """(buffer, start, end) of the branches of procedural ``if`` statements that can never run:
    the condition is an elaboration-time constant that is false in every instance of its module
    (real RTL checks its parameters this way: ``initial if (DEPTH < 2) begin $error(...);
    $finish; end``). A branch any instance may run is live."""
    dead: set[tuple[object, int, int]] = set()
    live: set[tuple[object, int, int]] = set()

    def key(stmt):
        r = stmt.sourceRange
        return (r.start.buffer, r.start.offset, r.end.offset)

    def visit(node):
        if isinstance(node, ast.Statement) and node.kind == ast.StatementKind.Conditional:
            conds = node.conditions
            value = conds[0].expr.constant if len(conds) == 1 and conds[0].pattern is None \
                else None
            for branch, never in ((node.ifTrue, value is not None and value.isFalse()),
                                  (node.ifFalse, value is not None and value.isTrue())):
                if branch is not None:
                    (dead if never else live).add(key(branch))
        return True

    design.compilation.getRoot().visit(visit)
    return sorted(dead - live, key=lambda k: (str(k[0]), k[1]))


def _in(tok, ranges: list[tuple[object, int, int]]) -> bool:
    loc = tok.location
    return any(b == loc.buffer and a <= loc.offset < e for b, a, e in ranges)


def _token_problems(tree: syntax.SyntaxTree, allowed: frozenset[str],
                    dead: Callable[[], list[tuple[object, int, int]]] = list) -> list[str]:
    files: list[str] = []
    others: list[str] = []
    stops: list[str] = []
    found: list[str] = []
    sm = tree.sourceManager

    def where(tok) -> str:
        try:
            return f"{sm.getFileName(tok.location)}:{sm.getLineNumber(tok.location)}"
        except Exception:
            return "?"

    def visit(node):
        if isinstance(node, parsing.Token):
            if node.kind == parsing.TokenKind.SystemIdentifier:
                name = node.valueText
                if name in SIMULATION_CONTROL and _in(node, dead()):
                    return True  # a check of the parameters that never fires
                if name not in allowed:
                    bucket = (files if name in FILE_TASKS else stops if name in SIMULATION_CONTROL
                              else others)
                    bucket.append(f"{name} ({where(node)})")
            elif node.kind == parsing.TokenKind.RootSystemName:
                found.append(f"$root references are not allowed ({where(node)})")
            elif node.kind == parsing.TokenKind.Identifier and node.rawText.startswith("\\") \
                    and any(ch in node.rawText[1:] for ch in '"\\/*'):
                found.append(f"escaped identifier {node.rawText.strip()[:40]} holds characters "
                             f"that the tools' preprocessors read differently ({where(node)})")
            return True
        if node.kind == syntax.SyntaxKind.BindDirective:
            found.append("bind directives are not allowed")
        return True

    tree.root.visit(visit)
    if files:
        found.insert(0, f"file/system tasks are not allowed: {', '.join(dict.fromkeys(files))} "
                        "(allow them with --allow-file-io)")
    if stops:
        found.insert(0, "a candidate may not end the simulation: "
                        f"{', '.join(dict.fromkeys(stops))}")
    if others:
        found.insert(0, "system tasks outside the allowed set (printing, math, randomness, "
                        f"queries) are not allowed: {', '.join(dict.fromkeys(others))}")
    return found


def _hierarchy_problems(design: Design) -> list[str]:
    top = design.top
    sm = design.compilation.sourceManager
    found: list[str] = []

    def visit(node):
        if isinstance(node, ast.Expression) and node.kind == ast.ExpressionKind.HierarchicalValue:
            path = node.symbol.hierarchicalPath
            if not path.startswith(top + "."):
                loc = node.sourceRange.start
                try:
                    at = f"{sm.getFileName(loc)}:{sm.getLineNumber(loc)}"
                except Exception:
                    at = "?"
                found.append(f"hierarchical reference to '{path}' outside the design's own "
                             f"module tree ({at})")
        return True

    design.compilation.getRoot().visit(visit)
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

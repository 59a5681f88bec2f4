"""What an untrusted design may reach, checked on its syntax, in every generate branch.

The screen's elaborated checks see only what pyslang elaborates, and the tools do not always
elaborate the same generate branches: Icarus 11 and Yosys evaluate unsized constant expressions
losslessly where pyslang wraps them at 32 bits, so ``if (4294967295 + 1 == 0)`` picks one branch
in the screen and the other in the simulator. So these rules hold for the text itself, whichever
branch a tool takes:

* no procedural continuous assignment (``assign``/``deassign``, ``force``/``release`` in a
  procedure): Icarus collapses an input port into the net it is connected to, so forcing one's
  own input forces the testbench's stimulus;
* no driver on one's own input port (a continuous or procedural assignment, or an output of a
  submodule connected to it), for the same reason;
* every instance is of a module the design defines (an undefined name could be another design's
  module in a shared simulation: the reference's);
* every hierarchical name starts at a name declared in the module itself, outside any generate
  construct, or in the generate block that holds the use: a name that a tool cannot find there is
  searched upward, out of the design, into the testbench.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pyslang import parsing, syntax

__all__ = ["reach_problems"]

K = syntax.SyntaxKind
_UNITS = {K.ModuleDeclaration, K.InterfaceDeclaration, K.ProgramDeclaration}
_PROCEDURAL_CONTINUOUS = {K.ProceduralAssignStatement, K.ProceduralForceStatement,
                          K.ProceduralDeassignStatement, K.ProceduralReleaseStatement}
_GENERATE = {K.IfGenerate, K.CaseGenerate, K.LoopGenerate, K.GenerateRegion}
_ASSIGNMENTS = {K.AssignmentExpression, K.NonblockingAssignmentExpression}


def _children(node) -> Iterator:
    for child in node:
        if child is not None and not isinstance(child, parsing.Token):
            yield child


def _tokens(node) -> Iterator[parsing.Token]:
    for child in node:
        if isinstance(child, parsing.Token):
            yield child
        elif child is not None:
            yield from _tokens(child)


def _members(tree: syntax.SyntaxTree) -> list:
    root = tree.root
    return list(root.members) if root.kind == K.CompilationUnit else [root]


def _units(tree: syntax.SyntaxTree) -> list:
    return [m for m in _members(tree) if m.kind in _UNITS]


def _port_directions(unit) -> dict[str, str]:
    """Port name -> ``input``/``output``/``inout``/``ref`` from the header (ANSI, where a port
    without a direction takes the previous one) or from the body's port declarations."""
    dirs: dict[str, str] = {}
    ports = unit.header.ports
    last = "inout"
    if ports is not None and ports.kind == K.AnsiPortList:
        for p in _children(ports):
            if p.kind != K.ImplicitAnsiPort:
                continue
            tok = getattr(p.header, "direction", None)
            if tok is not None and tok.valueText:
                last = tok.valueText
            dirs[p.declarator.name.valueText] = last
    for m in unit.members:
        if m.kind == K.PortDeclaration:
            d = m.header.direction.valueText if getattr(m.header, "direction", None) else "inout"
            for decl in m.declarators:
                if not isinstance(decl, parsing.Token) and decl.kind == K.Declarator:
                    dirs[decl.name.valueText] = d
    return dirs


def _port_order(unit) -> list[str]:
    ports = unit.header.ports
    if ports is None:
        return []
    names = []
    for p in _children(ports):
        decl = getattr(p, "declarator", None)
        if decl is not None:
            names.append(decl.name.valueText)
        else:  # non-ANSI: `module m(a, b)`
            toks = [t.valueText for t in _tokens(p) if t.kind == parsing.TokenKind.Identifier]
            names.append(toks[0] if toks else "")
    return names


def _root_name(expr) -> str | None:
    """The first identifier of an lvalue or a name (``a``, ``a[3]``, ``a.b``, ``{a, b}`` -> a)."""
    for tok in _tokens(expr):
        if tok.kind == parsing.TokenKind.Identifier:
            return tok.valueText
        if tok.kind == parsing.TokenKind.SystemIdentifier:
            return None
    return None


def _lvalue_names(expr) -> list[str]:
    """Every identifier that starts a name in an lvalue (a concatenation has several)."""
    if expr.kind == K.ConcatenationExpression:
        return [n for e in _children(expr) for n in _lvalue_names(e)]
    name = _root_name(expr)
    return [name] if name else []


def _declared_here(scope) -> set[str]:
    """Names a scope declares directly: not in nested generate constructs or nested blocks."""
    names: set[str] = set()

    def visit(node, top: bool) -> None:
        if not top and (node.kind in _GENERATE or node.kind == K.GenerateBlock):
            return
        if node.kind == K.Declarator:
            names.add(node.name.valueText)
        elif node.kind == K.HierarchicalInstance and node.decl is not None:
            names.add(node.decl.name.valueText)
        elif node.kind == K.NamedBlockClause:
            names.add(node.name.valueText)
        elif node.kind in (K.FunctionDeclaration, K.TaskDeclaration):
            tok = getattr(node.prototype.name, "identifier", None)
            if tok is not None:
                names.add(tok.valueText)
        elif node.kind == K.ImplicitAnsiPort:
            names.add(node.declarator.name.valueText)
        for child in _children(node):
            visit(child, False)

    visit(scope, True)
    return names


def reach_problems(trees: Sequence[syntax.SyntaxTree]) -> list[str]:
    """Why a design (the syntax trees of its canonical files) reaches out of itself; empty
    when it does not."""
    units = [u for tree in trees for u in _units(tree)]
    defined = {u.header.name.valueText: u for u in units}
    primitives = {m.name.valueText for tree in trees for m in _members(tree)
                  if m.kind == K.UdpDeclaration}
    problems: list[str] = []

    def at(node) -> str:
        loc = node.sourceRange.start
        for tree in trees:
            try:
                return f"{tree.sourceManager.getFileName(loc)}:" \
                       f"{tree.sourceManager.getLineNumber(loc)}"
            except Exception:
                continue
        return "?"

    for unit in units:
        dirs = _port_directions(unit)
        inputs = {n for n, d in dirs.items() if d == "input"}

        def walk(node, scopes: list[set[str]]) -> None:
            kind = node.kind
            if kind in _PROCEDURAL_CONTINUOUS:
                problems.append(f"procedural assign/force/release is not allowed ({at(node)})")
            elif kind in _ASSIGNMENTS:  # continuous or procedural
                _check_lvalue(node.left, node)
            elif kind == K.HierarchyInstantiation:
                _check_instance(node)
            elif kind == K.ScopedName and node.separator.valueText == ".":
                first = _root_name(node.left)
                if first is not None and not any(first in s for s in scopes):
                    problems.append(f"hierarchical name '{str(node).strip()[:60]}' does not start "
                                    f"at a name the module declares outside generate constructs "
                                    f"({at(node)})")
                return  # its parts are member names, not further references
            if kind == K.GenerateBlock:
                scopes = [*scopes, _declared_here(node)]
            for child in _children(node):
                walk(child, scopes)

        def _check_lvalue(left, where) -> None:
            for name in _lvalue_names(left):
                if name in inputs:
                    problems.append(f"a design may not drive its own input '{name}' ({at(where)})")

        def _check_instance(node) -> None:
            name = node.type.valueText
            sub = defined.get(name)
            if sub is None and name in primitives:
                return
            if sub is None:
                problems.append(f"instance of module '{name}', which the design does not define "
                                f"({at(node)})")
                return
            sub_dirs, order = _port_directions(sub), _port_order(sub)
            for inst in _children(node.instances):
                if inst.kind != K.HierarchicalInstance:
                    continue
                pos = 0
                for conn in _children(inst.connections):
                    if conn.kind == K.NamedPortConnection:
                        port = conn.name.valueText
                        expr = conn.expr
                    elif conn.kind == K.OrderedPortConnection:
                        port = order[pos] if pos < len(order) else ""
                        expr = conn.expr
                        pos += 1
                    else:
                        continue
                    if expr is None or sub_dirs.get(port, "input") == "input":
                        continue
                    for driven in _lvalue_names(expr):
                        if driven in inputs:
                            problems.append(f"a design may not drive its own input '{driven}' "
                                            f"through output '{port}' of '{name}' ({at(node)})")

        # its own module names are fine too: an upward reference by module name (renamed with
        # the design's prefix like the modules) can only find the design's own instances
        walk(unit, [_declared_here(unit) | set(defined)])
    return list(dict.fromkeys(problems))

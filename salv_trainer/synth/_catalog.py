"""The catalogue of output functions a synthetic module is built from.

Each output of a synthetic module is one :class:`OutputFunc`: a small combinational function of the
data inputs (gate, mux, comparator, adder, reduction, shift) or a register clocked by ``clk`` with a
synchronous active-high reset ``rst`` (delay, counter, accumulator, enable counter, toggle).

An output function is rendered twice, from the same record, so the two can never disagree:

* as one **spec line** (``- y0 (4 bits): the bitwise AND of a and b.``) that states the width, the
  operands in order, the operation, signedness (everything is unsigned) and, for registers, the
  clock edge, the reset and the next-state rule: the line alone determines the output;
* as **code** in one canonical style (one ``assign`` per combinational output, one
  ``always @(posedge clk)`` block per register), so the reference is the most literal
  translation of the spec and a small model can learn the mapping line by line.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "Kind", "OutputFunc", "kind"]


@dataclass(frozen=True)
class Kind:
    """One entry of the catalogue.

    ``spec`` and ``expr`` are templates over ``{x}``, ``{y}`` (data operands), ``{k}`` (a
    constant), ``{w}`` (the data width) and ``{o}`` (the output's own name, for registers).
    ``expr`` is the right-hand side of the ``assign`` (combinational) or the register's next value
    when not in reset. ``enable`` makes a register hold its value while ``en`` is 0.
    """

    key: str
    arity: int  # number of data operands (0, 1 or 2)
    one_bit: bool  # result is 1 bit wide (else: the data width)
    registered: bool
    spec: str
    expr: str
    min_width: int = 1
    uses_sel: bool = False
    enable: bool = False
    const: bool = False
    commutative: bool = False  # swapping the two operands gives the same function


_COMB = [
    Kind("and", 2, False, False, "the bitwise AND of {x} and {y}", "{x} & {y}", commutative=True),
    Kind("or", 2, False, False, "the bitwise OR of {x} and {y}", "{x} | {y}", commutative=True),
    Kind("xor", 2, False, False, "the bitwise XOR of {x} and {y}", "{x} ^ {y}", commutative=True),
    Kind("nand", 2, False, False, "the bitwise NAND of {x} and {y} (NOT of their AND)", "~({x} & {y})", commutative=True),
    Kind("nor", 2, False, False, "the bitwise NOR of {x} and {y} (NOT of their OR)", "~({x} | {y})", commutative=True),
    Kind("not", 1, False, False, "the bitwise NOT of {x}", "~{x}"),
    Kind("add", 2, False, False, "{x} plus {y}, keeping the low {w} bits", "{x} + {y}", commutative=True),
    Kind("sub", 2, False, False, "{x} minus {y}, keeping the low {w} bits (wraps around)", "{x} - {y}"),
    Kind("inc", 1, False, False, "{x} plus 1, keeping the low {w} bits", "{x} + {w}'d1"),
    Kind("mux", 2, False, False, "{x} when sel is 1, otherwise {y}", "sel ? {x} : {y}", uses_sel=True),
    Kind("max", 2, False, False, "the larger of {x} and {y} (unsigned)", "({x} > {y}) ? {x} : {y}",
         commutative=True),
    Kind("min", 2, False, False, "the smaller of {x} and {y} (unsigned)", "({x} < {y}) ? {x} : {y}",
         commutative=True),
    Kind("shl", 1, False, False, "{x} shifted left by 1 bit (a 0 enters at bit 0)", "{x} << 1", min_width=2),
    Kind("shr", 1, False, False, "{x} shifted right by 1 bit (a 0 enters at the top bit)", "{x} >> 1",
         min_width=2),
    Kind("eq", 2, True, False, "1 when {x} equals {y}, otherwise 0", "{x} == {y}", commutative=True),
    Kind("ne", 2, True, False, "1 when {x} differs from {y}, otherwise 0", "{x} != {y}", commutative=True),
    Kind("lt", 2, True, False, "1 when {x} is less than {y} (unsigned), otherwise 0", "{x} < {y}"),
    Kind("gt", 2, True, False, "1 when {x} is greater than {y} (unsigned), otherwise 0", "{x} > {y}"),
    Kind("ge", 2, True, False, "1 when {x} is greater than or equal to {y} (unsigned), otherwise 0",
         "{x} >= {y}"),
    Kind("eqk", 1, True, False, "1 when {x} equals the constant {k}, otherwise 0", "{x} == {w}'d{k}",
         const=True),
    Kind("all", 1, True, False, "1 when every bit of {x} is 1, otherwise 0", "&{x}", min_width=2),
    Kind("any", 1, True, False, "1 when any bit of {x} is 1, otherwise 0", "|{x}", min_width=2),
    Kind("parity", 1, True, False, "the XOR of all bits of {x} (its parity)", "^{x}", min_width=2),
]

_REG_PREFIX = "a register updated on the rising edge of clk; when rst is 1 it becomes 0, otherwise "
_REG = [
    Kind("dff", 1, False, True, _REG_PREFIX + "it becomes {x}", "{x}"),
    Kind("count", 0, False, True, _REG_PREFIX + "it becomes {o} plus 1 (wraps around)", "{o} + {w}'d1"),
    Kind("down", 0, False, True, _REG_PREFIX + "it becomes {o} minus 1 (wraps around)", "{o} - {w}'d1"),
    Kind("acc", 1, False, True, _REG_PREFIX + "it becomes {o} plus {x}, keeping the low {w} bits",
         "{o} + {x}"),
    Kind("count_en", 0, False, True,
         _REG_PREFIX + "when en is 1 it becomes {o} plus 1 (wraps around), and it keeps its value "
         "when en is 0", "{o} + {w}'d1", enable=True),
    Kind("dff_and", 2, False, True, _REG_PREFIX + "it becomes the bitwise AND of {x} and {y}",
         "{x} & {y}", commutative=True),
    Kind("toggle", 0, True, True,
         _REG_PREFIX + "when en is 1 it becomes the NOT of {o}, and it keeps its value when en is 0",
         "~{o}", enable=True),
]

#: Every kind, by key, in a fixed order (the generator samples from this order).
KINDS: dict[str, Kind] = {k.key: k for k in _COMB + _REG}


def kind(key: str) -> Kind:
    """The catalogue entry ``key`` (``KeyError`` with the known keys otherwise)."""
    try:
        return KINDS[key]
    except KeyError:
        raise KeyError(f"unknown output kind {key!r} (known: {', '.join(KINDS)})") from None


@dataclass(frozen=True)
class OutputFunc:
    """One output port of a synthetic module and the function that drives it."""

    name: str
    kind: str
    width: int  # width of the data inputs (the output's own width is :attr:`out_width`)
    operands: tuple[str, ...] = ()
    const: int | None = None

    @property
    def entry(self) -> Kind:
        return kind(self.kind)

    @property
    def registered(self) -> bool:
        return self.entry.registered

    @property
    def out_width(self) -> int:
        return 1 if self.entry.one_bit else self.width

    def _fields(self) -> dict[str, object]:
        ops = self.operands + ("", "")
        return {"x": ops[0], "y": ops[1], "k": self.const, "w": self.width, "o": self.name}

    def signature(self) -> tuple:
        """What the output computes, independent of its port name and, for a commutative kind,
        of the operand order (used to deduplicate problems)."""
        ops = tuple(sorted(self.operands)) if self.entry.commutative else self.operands
        return (self.kind, self.width, ops, self.const)

    def spec_line(self) -> str:
        """``- y0 (4 bits): the bitwise AND of a and b.``"""
        bits = "1 bit" if self.out_width == 1 else f"{self.out_width} bits"
        return f"- {self.name} ({bits}): {self.entry.spec.format(**self._fields())}."

    def declaration(self) -> str:
        """Port declaration in the module header, e.g. ``output reg [3:0] y2``."""
        vec = f" [{self.out_width - 1}:0]" if self.out_width > 1 else ""
        return f"output{' reg' if self.registered else ''}{vec} {self.name}"

    def comment(self) -> str:
        """The spec line as a Verilog comment: ``// y0 (4 bits): the bitwise AND of a and b.``"""
        return "  // " + self.spec_line()[2:] + "\n"

    def internal_declaration(self) -> str:
        """Declaration of the signal inside the module body (an internal signal of the shared
        family), e.g. ``  wire [3:0] t0;``."""
        vec = f" [{self.out_width - 1}:0]" if self.out_width > 1 else ""
        return f"  {'reg' if self.registered else 'wire'}{vec} {self.name};\n"

    def reset_assignment(self) -> str:
        """The register's reset statement, ``y2 <= 4'd0;``."""
        zero = f"{self.out_width}'d0" if self.out_width > 1 else "1'b0"
        return f"{self.name} <= {zero};"

    def update_assignment(self) -> str:
        """The register's next-state statement when not in reset (``if (en) ...`` with an enable)."""
        update = f"{self.name} <= {self.entry.expr.format(**self._fields())};"
        return f"if (en) {update}" if self.entry.enable else update

    def code(self, comment: bool = False) -> str:
        """The statement(s) driving the output, indented for the module body, with a newline;
        with ``comment``, preceded by :meth:`comment`."""
        head = self.comment() if comment else ""
        if not self.registered:
            return f"{head}  assign {self.name} = {self.entry.expr.format(**self._fields())};\n"
        return head + (
            "  always @(posedge clk) begin\n"
            f"    if (rst) {self.reset_assignment()}\n"
            f"    else {self.update_assignment()}\n"
            "  end\n"
        )

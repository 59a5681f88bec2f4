"""Seeded generation of synthetic spec-to-Verilog problems and their train/validation/test splits."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config import ConfigError
from ._catalog import KINDS, OutputFunc

__all__ = [
    "DATA_INPUTS", "FAMILIES", "SPLITS", "Problem", "SynthConfig", "SynthError", "generate", "iter_rows",
    "problem_from_row",
]

#: Names of the data inputs a module can have (each ``width`` bits, unsigned).
DATA_INPUTS = ("a", "b", "c")
#: The task families: ``independent`` (each output one statement over the inputs) and ``shared``
#: (outputs computed through shared internal wires ``t0, t1`` and a register ``r0``, every
#: register in one always block, so the outputs' cones overlap).
FAMILIES = ("independent", "shared")
TOP = "top_module"
SPLITS = ("train", "validation", "test")


class SynthError(ConfigError):
    """A synthetic-task configuration cannot be satisfied (the message says which value)."""


@dataclass(frozen=True)
class SynthConfig:
    """How many problems of which shape to generate. The same config always gives the same splits.

    Problems are unique across all three splits: no two problems (in the same split or not) compute
    the same set of output functions, whatever the port names or output order.
    """

    seed: int = 0
    train: int = 800
    validation: int = 50
    test: int = 100
    min_outputs: int = 2
    max_outputs: int = 4
    widths: tuple[int, ...] = (2, 4, 8)
    registered_fraction: float = 0.3
    kinds: tuple[str, ...] = ()  # empty: every kind of the catalogue
    comments: bool = True  # the reference restates each output's spec line as a comment
    family: str = "independent"
    """``independent``: one statement per output over the inputs; ``shared``: 1-2 internal
    wires (``t0``, ``t1``) over the inputs and, with probability ``registered_fraction``, an
    internal register ``r0``; at least two outputs read an internal signal, and every register
    (internal or output) is updated in one always block."""

    def validate(self) -> None:
        for name in ("train", "validation", "test"):
            if getattr(self, name) < 0:
                raise SynthError(f"synth.{name} must be >= 0, got {getattr(self, name)}")
        if not 1 <= self.min_outputs <= self.max_outputs:
            raise SynthError(
                f"synth outputs: need 1 <= min_outputs <= max_outputs, got "
                f"{self.min_outputs}..{self.max_outputs}"
            )
        if not self.widths or any(not 1 <= w <= 32 for w in self.widths):
            raise SynthError(f"synth.widths must be a non-empty list of 1..32, got {list(self.widths)}")
        if not 0 <= self.registered_fraction <= 1:
            raise SynthError(f"synth.registered_fraction must be in [0, 1], got {self.registered_fraction}")
        if self.family not in FAMILIES:
            raise SynthError(f"synth.family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise SynthError(f"synth.kinds: unknown {', '.join(unknown)} (known: {', '.join(KINDS)})")


@dataclass(frozen=True)
class Problem:
    """One synthetic task: a spec, the interface, and the reference module that meets it."""

    id: str
    split: str
    width: int
    outputs: tuple[OutputFunc, ...]
    top: str = TOP
    comments: bool = True
    internals: tuple[OutputFunc, ...] = ()  # the shared family's internal wires and register

    @property
    def signals(self) -> tuple[OutputFunc, ...]:
        """Internal signals first (in declaration order), then the outputs."""
        return self.internals + self.outputs

    # -- interface ---------------------------------------------------------------------------
    @property
    def registered(self) -> bool:
        return any(o.registered for o in self.signals)

    @property
    def inputs(self) -> list[tuple[str, int]]:
        """``(name, width)`` of every input, in header order: clk, rst, en, sel, a, b, c."""
        ins: list[tuple[str, int]] = []
        if self.registered:
            ins += [("clk", 1), ("rst", 1)]
        if any(o.entry.enable for o in self.signals):
            ins.append(("en", 1))
        if any(o.entry.uses_sel for o in self.signals):
            ins.append(("sel", 1))
        used = {op for o in self.signals for op in o.operands}
        ins += [(d, self.width) for d in DATA_INPUTS if d in used]
        return ins

    @property
    def module_header(self) -> str:
        lines = [f"input{f' [{w - 1}:0]' if w > 1 else ''} {n}" for n, w in self.inputs]
        lines += [o.declaration() for o in self.outputs]
        return f"module {self.top}(\n" + ",\n".join("  " + ln for ln in lines) + "\n);"

    # -- texts -------------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """The problem statement: every input and every output's function, one line each."""
        parts = []
        names = dict(self.inputs)
        if "clk" in names:
            parts.append("clk (clock), rst (synchronous reset, active high)")
        parts += [f"{n} (1 bit)" for n in ("en", "sel") if n in names]
        data = [d for d in DATA_INPUTS if d in names]
        if data:
            listed = data[0] if len(data) == 1 else ", ".join(data[:-1]) + " and " + data[-1]
            each = "" if len(data) == 1 else " each"
            bits = "1 bit" if self.width == 1 else f"{self.width} bits"
            parts.append(f"{listed} ({bits}{each}, unsigned)")
        internal = ""
        if self.internals:
            internal = ("Internal signals (declare them inside the module):\n"
                        + "\n".join(o.spec_line() for o in self.internals) + "\n")
        return (
            f"Write a Verilog module named {self.top}.\n"
            f"Inputs: {'; '.join(parts)}.\n" + internal
            + "Outputs:\n" + "\n".join(o.spec_line() for o in self.outputs)
        )

    @property
    def reference(self) -> str:
        if not self.internals:
            body = "".join(o.code(self.comments) for o in self.outputs)
            return f"{self.module_header}\n{body}endmodule\n"
        return f"{self.module_header}\n{_shared_body(self.internals, self.outputs, self.comments)}endmodule\n"

    def signature(self) -> tuple:
        """What the module computes, independent of output names and order."""
        outs = tuple(sorted(o.signature() for o in self.outputs))
        if not self.internals:
            return (self.width, outs)
        return (self.width, outs, tuple(o.signature() for o in self.internals))

    def to_row(self) -> dict:
        """A row of the data stage's prompts format (plus ``split`` and the output catalogue)."""
        return {
            "id": self.id,
            "split": self.split,
            "prompt": self.spec,
            "module_header": self.module_header,
            "reference": self.reference,
            "top_module": self.top,
            "width": self.width,
            "comments": self.comments,
            "outputs": [_record(o) for o in self.outputs],
            "internals": [_record(o) for o in self.internals],
        }


def _record(o: OutputFunc) -> dict:
    return {"name": o.name, "kind": o.kind, "width": o.out_width, "registered": o.registered,
            "operands": list(o.operands), "const": o.const}


def _shared_body(internals: Sequence[OutputFunc], outputs: Sequence[OutputFunc], comments: bool) -> str:
    """Module body of the shared family: internal declarations, every combinational signal's
    ``assign`` (internals first), then one always block updating every register (so a wrong
    update of one register sits inside code the others' cones share)."""
    signals = [*internals, *outputs]
    body = "".join(o.internal_declaration() for o in internals)
    comb = [o for o in signals if not o.registered]
    regs = [o for o in signals if o.registered]
    body += "".join(o.code(comments) for o in comb)
    if regs:
        body += "  always @(posedge clk) begin\n    if (rst) begin\n"
        body += "".join(f"      {o.reset_assignment()}\n" for o in regs)
        body += "    end else begin\n"
        for o in regs:
            if comments:
                body += "    " + o.comment()
            body += f"      {o.update_assignment()}\n"
        body += "    end\n  end\n"
    return body


def problem_from_row(row: dict) -> Problem:
    """Rebuild a :class:`Problem` from :meth:`Problem.to_row` output (texts are regenerated)."""
    def funcs(key: str) -> tuple[OutputFunc, ...]:
        return tuple(
            OutputFunc(o["name"], o["kind"], int(row["width"]), tuple(o.get("operands") or ()), o.get("const"))
            for o in row.get(key) or ()
        )

    return Problem(row["id"], row.get("split", ""), int(row["width"]), funcs("outputs"),
                   row.get("top_module", TOP), bool(row.get("comments", False)), funcs("internals"))


def _draw_output(rng: random.Random, name: str, width: int, cfg: SynthConfig, keys: Sequence[str]):
    allowed = [KINDS[k] for k in keys if KINDS[k].min_width <= width]
    reg = [k for k in allowed if k.registered]
    comb = [k for k in allowed if not k.registered]
    pool = reg if reg and (not comb or rng.random() < cfg.registered_fraction) else comb
    entry = rng.choice(pool)
    operands = tuple(rng.sample(DATA_INPUTS, entry.arity))
    const = rng.randrange(2 ** width) if entry.const else None
    return OutputFunc(name, entry.key, width, operands, const)


def _draw_shared(rng: random.Random, cfg: SynthConfig, keys: Sequence[str]) -> tuple[int, tuple, tuple]:
    """One problem of the shared family: ``(width, outputs, internals)``; outputs empty when the
    draw failed the sharing rules (every internal read, one internal read by two outputs)."""
    width = rng.choice(cfg.widths)
    allowed = [KINDS[k] for k in keys if KINDS[k].min_width <= width]
    wire_kinds = [k for k in allowed if not k.registered and not k.one_bit and k.arity >= 1]
    reg_kinds = [k for k in allowed if k.registered and not k.one_bit]
    if not wire_kinds:
        raise SynthError("synth.family shared needs a multi-bit combinational kind with operands in synth.kinds")

    def draw(name: str, entry, pool: Sequence[str], internal: Sequence[str]) -> OutputFunc:
        ops: list[str] = []
        for _ in range(entry.arity):  # an internal operand first, more often than not
            left = [x for x in internal if x not in ops]
            src = left if left and (not ops or rng.random() < 0.5) else [x for x in pool if x not in ops]
            ops.append(rng.choice(src))
        const = rng.randrange(2 ** width) if entry.const else None
        return OutputFunc(name, entry.key, width, tuple(ops), const)

    internals = [draw(f"t{i}", rng.choice(wire_kinds), DATA_INPUTS, ()) for i in range(rng.randint(1, 2))]
    wires = [o.name for o in internals]
    if reg_kinds and rng.random() < cfg.registered_fraction:
        internals.append(draw("r0", rng.choice(reg_kinds), DATA_INPUTS + tuple(wires), wires))
    names = [o.name for o in internals]
    outs: list[OutputFunc] = []
    seen: set[tuple] = set()
    n_out = rng.randint(cfg.min_outputs, cfg.max_outputs)
    tries = 0
    while len(outs) < n_out and tries < 50:
        tries += 1
        entry = _draw_output(rng, "-", width, cfg, keys).entry
        o = draw(f"y{len(outs)}", entry, DATA_INPUTS + tuple(names), names)
        if o.signature() in seen:
            continue
        seen.add(o.signature())
        outs.append(o)
    readers = {n: sum(n in o.operands for o in outs) for n in names}
    fed = {op for o in internals for op in o.operands}
    if any(readers[n] == 0 and n not in fed for n in names) or max(readers.values()) < 2:
        return width, (), ()
    return width, tuple(outs), tuple(internals)


def _draw_problem(rng: random.Random, cfg: SynthConfig, keys: Sequence[str]) -> tuple[int, tuple, tuple]:
    if cfg.family == "shared":
        return _draw_shared(rng, cfg, keys)
    width = rng.choice(cfg.widths)
    n_out = rng.randint(cfg.min_outputs, cfg.max_outputs)
    outs: list[OutputFunc] = []
    seen: set[tuple] = set()
    tries = 0
    while len(outs) < n_out and tries < 50:
        tries += 1
        o = _draw_output(rng, f"y{len(outs)}", width, cfg, keys)
        if o.signature() in seen:  # two outputs computing the same thing teach nothing
            continue
        seen.add(o.signature())
        outs.append(o)
    return width, tuple(outs), ()


def generate(cfg: SynthConfig | None = None) -> dict[str, list[Problem]]:
    """Generate the three splits: ``{"train": [...], "validation": [...], "test": [...]}``.

    Deterministic for a given config. Raises :class:`SynthError` when the catalogue (restricted by
    ``kinds``/``widths``) cannot provide that many distinct problems.
    """
    cfg = cfg or SynthConfig()
    cfg.validate()
    keys = list(cfg.kinds) or list(KINDS)
    rng = random.Random(cfg.seed)
    want = cfg.train + cfg.validation + cfg.test
    drawn: list[tuple[int, tuple, tuple]] = []
    seen: set[tuple] = set()
    misses = 0
    while len(drawn) < want:
        width, outs, internals = _draw_problem(rng, cfg, keys)
        sig = Problem("", "", width, outs, internals=internals).signature()
        if len(outs) < cfg.min_outputs or sig in seen:
            misses += 1
            if misses > 20 * want + 1000:
                raise SynthError(
                    f"only {len(drawn)} distinct problems found for {want} requested: widen "
                    "synth.kinds/widths or ask for fewer"
                )
            continue
        seen.add(sig)
        drawn.append((width, outs, internals))
    out: dict[str, list[Problem]] = {}
    start = 0
    for split in SPLITS:
        n = getattr(cfg, split)
        out[split] = [
            Problem(f"{split}_{i:04d}", split, width, outs, comments=cfg.comments, internals=internals)
            for i, (width, outs, internals) in enumerate(drawn[start:start + n])
        ]
        start += n
    return out


def iter_rows(splits: dict[str, list[Problem]], names: Iterable[str] = SPLITS) -> Iterable[dict]:
    for name in names:
        for p in splits.get(name, []):
            yield p.to_row()

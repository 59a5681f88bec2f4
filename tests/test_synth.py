"""The synthetic task family: deterministic, disjoint splits, sound references, specs that determine
every output.

The strongest check reads each problem's *spec text* with an interpreter written here (regexes over
the English lines, no access to the generator's records), simulates the reference module in Icarus
on random stimuli (with resets and enables), and requires every output to match the interpreter on
every cycle. A spec line that were ambiguous or disagreed with its code would fail it.
"""

from __future__ import annotations

import json
import random
import re

import pytest

import verislice
from salv_trainer.synth import (
    KINDS,
    SynthConfig,
    SynthError,
    check_references,
    generate,
    read_split,
    write_splits,
)
from verislice._sandbox import run_limited, sandbox_dir

# sha256 of the seed-0 train references of the independent family, as drawn before the shared
# family existed (computed with that commit's code)
INDEPENDENT_SEED0_SHA256 = "e7571bd5a79d05b862301de249b9f0cedb7b287416df48256dd3776b242087f7"


# --------------------------------------------------------------------------- spec interpreter
def _parse_inputs(spec: str) -> dict[str, int]:
    line = next(ln for ln in spec.splitlines() if ln.startswith("Inputs:"))
    widths: dict[str, int] = {}
    if "clk (clock)" in line:
        widths.update(clk=1, rst=1)
    for name in ("en", "sel"):
        if f"{name} (1 bit)" in line:
            widths[name] = 1
    for part in line[len("Inputs: "):].rstrip(".").split("; "):
        m = re.fullmatch(r"(.*) \((\d+) bits?(?: each)?, unsigned\)", part)
        if m:
            for name in re.findall(r"\b[abc]\b", m.group(1)):
                widths[name] = int(m.group(2))
    return widths


_COMB_RULES = [
    (r"the bitwise AND of ([abc]) and ([abc])", lambda v, x, y, m, wx: v[x] & v[y]),
    (r"the bitwise OR of ([abc]) and ([abc])", lambda v, x, y, m, wx: v[x] | v[y]),
    (r"the bitwise XOR of ([abc]) and ([abc])", lambda v, x, y, m, wx: v[x] ^ v[y]),
    (r"the bitwise NAND of ([abc]) and ([abc]) \(NOT of their AND\)", lambda v, x, y, m, wx: ~(v[x] & v[y]) & m),
    (r"the bitwise NOR of ([abc]) and ([abc]) \(NOT of their OR\)", lambda v, x, y, m, wx: ~(v[x] | v[y]) & m),
    (r"the bitwise NOT of ([abc])()", lambda v, x, y, m, wx: ~v[x] & m),
    (r"([abc]) plus ([abc]), keeping the low \d+ bits", lambda v, x, y, m, wx: (v[x] + v[y]) & m),
    (r"([abc]) minus ([abc]), keeping the low \d+ bits \(wraps around\)", lambda v, x, y, m, wx: (v[x] - v[y]) & m),
    (r"([abc]) plus 1, keeping the low \d+ bits()", lambda v, x, y, m, wx: (v[x] + 1) & m),
    (r"([abc]) when sel is 1, otherwise ([abc])", lambda v, x, y, m, wx: v[x] if v["sel"] else v[y]),
    (r"the larger of ([abc]) and ([abc]) \(unsigned\)", lambda v, x, y, m, wx: max(v[x], v[y])),
    (r"the smaller of ([abc]) and ([abc]) \(unsigned\)", lambda v, x, y, m, wx: min(v[x], v[y])),
    (r"([abc]) shifted left by 1 bit \(a 0 enters at bit 0\)()", lambda v, x, y, m, wx: (v[x] << 1) & m),
    (r"([abc]) shifted right by 1 bit \(a 0 enters at the top bit\)()", lambda v, x, y, m, wx: v[x] >> 1),
    (r"1 when ([abc]) equals ([abc]), otherwise 0", lambda v, x, y, m, wx: int(v[x] == v[y])),
    (r"1 when ([abc]) differs from ([abc]), otherwise 0", lambda v, x, y, m, wx: int(v[x] != v[y])),
    (r"1 when ([abc]) is less than ([abc]) \(unsigned\), otherwise 0", lambda v, x, y, m, wx: int(v[x] < v[y])),
    (r"1 when ([abc]) is greater than ([abc]) \(unsigned\), otherwise 0", lambda v, x, y, m, wx: int(v[x] > v[y])),
    (r"1 when ([abc]) is greater than or equal to ([abc]) \(unsigned\), otherwise 0",
     lambda v, x, y, m, wx: int(v[x] >= v[y])),
    (r"1 when ([abc]) equals the constant (\d+), otherwise 0", lambda v, x, y, m, wx: int(v[x] == int(y))),
    (r"1 when every bit of ([abc]) is 1, otherwise 0()", lambda v, x, y, m, wx: int(v[x] == wx)),
    (r"1 when any bit of ([abc]) is 1, otherwise 0()", lambda v, x, y, m, wx: int(v[x] != 0)),
    (r"the XOR of all bits of ([abc]) \(its parity\)()", lambda v, x, y, m, wx: bin(v[x]).count("1") & 1),
]
_REG_HEAD = r"a register updated on the rising edge of clk; when rst is 1 it becomes 0, otherwise "
_REG_RULES = [
    (r"it becomes (\w+)()", lambda s, v, x, y, m: v[x]),
    (r"it becomes (\w+) plus 1 \(wraps around\)()", lambda s, v, x, y, m: (s + 1) & m),
    (r"it becomes (\w+) minus 1 \(wraps around\)()", lambda s, v, x, y, m: (s - 1) & m),
    (r"it becomes \w+ plus (\w+), keeping the low \d+ bits()", lambda s, v, x, y, m: (s + v[x]) & m),
    (r"when en is 1 it becomes (\w+) plus 1 \(wraps around\), and it keeps its value when en is 0()",
     lambda s, v, x, y, m: ((s + 1) & m) if v["en"] else s),
    (r"it becomes the bitwise AND of (\w+) and (\w+)", lambda s, v, x, y, m: v[x] & v[y]),
    (r"when en is 1 it becomes the NOT of (\w+)(), and it keeps its value when en is 0",
     lambda s, v, x, y, m: (~s & 1) if v["en"] else s),
]


# An operand is a data input, or in the shared family an internal wire t<i> or register r<i>.
_OPERAND = r"([abc]|[tr]\d)"
_COMB_RULES = [(pat.replace("([abc])", _OPERAND), fn) for pat, fn in _COMB_RULES]


def interpret(spec: str):
    """Spec text -> (inputs {name: width}, signals [(name, width, registered, fn, is_output)]).

    Signals come in spec order: the internal signals of the shared family (under "Internal
    signals"), then the outputs. A combinational ``fn(values)`` reads inputs, registers' current
    values and the internal wires listed above it."""
    inputs = _parse_inputs(spec)
    widths = dict(inputs)
    outputs = []
    is_output = False
    for line in spec.splitlines():
        if line == "Outputs:":
            is_output = True
        m = re.fullmatch(r"- (\w+) \((\d+) bits?\): (.*)\.", line)
        if not m:
            continue
        name, width, text = m.group(1), int(m.group(2)), m.group(3)
        widths[name] = width
        mask = (1 << width) - 1
        if text.startswith(_REG_HEAD):
            rest = text[len(_REG_HEAD):]
            hits = [(fn, mm) for pat, fn in _REG_RULES if (mm := re.fullmatch(pat, rest))]
            assert len(hits) == 1, f"register line matches {len(hits)} rules: {line}"
            fn, mm = hits[0]
            outputs.append((name, width, True,
                            lambda s, v, fn=fn, g=mm.groups(), k=mask: fn(s, v, g[0], g[1], k), is_output))
            continue
        hits = [(pat, fn, mm) for pat, fn in _COMB_RULES if (mm := re.fullmatch(pat, text))]
        assert len(hits) == 1, f"line matches {len(hits)} rules: {line}"
        _, fn, mm = hits[0]
        x, y = mm.groups()
        wx = (1 << widths[x]) - 1
        outputs.append((name, width, False, lambda v, fn=fn, x=x, y=y, k=mask, wx=wx: fn(v, x, y, k, wx),
                        is_output))
    return inputs, outputs


class _Known(dict):
    """Signal values; reading one still unknown (a register before the first reset) raises."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if value is None:
            raise TypeError(f"{key} is unknown")
        return value


def _value(fn, *args):
    """``fn(*args)``, or None while a register it reads is still unknown (before the first reset)."""
    try:
        return fn(*args)
    except TypeError:
        return None


# --------------------------------------------------------------------------- Icarus comparison
def _simulate_against_spec(problem, cycles: int = 48, seed: int = 0) -> list[str]:
    """Drive the reference with random stimuli; return the mismatches against the interpreter."""
    inputs, signals = interpret(problem.spec)
    outputs = [sig for sig in signals if sig[4]]
    rng = random.Random(seed)
    vectors = []
    for i in range(cycles):
        v = {n: rng.randrange(1 << w) for n, w in inputs.items() if n != "clk"}
        if "rst" in v:
            v["rst"] = 1 if i == 0 else int(rng.random() < 0.1)
        vectors.append(v)
    names = [o[0] for o in outputs]
    decls = "".join(f"  reg [{w - 1}:0] {n};\n" for n, w in inputs.items())
    decls += "".join(f"  wire [{w - 1}:0] {n};\n" for n, w, *_ in outputs)
    conns = ", ".join(f".{n}({n})" for n in [*inputs, *names])
    steps = []
    for v in vectors:
        steps.append(" ".join(f"{n} = {val};" for n, val in v.items()))
        steps.append('#1 $display("%0d' + " %0d" * (len(names) - 1) + '", ' + ", ".join(names) + ");")
        steps.append("clk = 1; #1 clk = 0;" if "clk" in inputs else "#1;")
    tb = (
        "module tb;\n" + decls + f"  top_module dut({conns});\n"
        "  initial begin\n" + ("    clk = 0;\n" if "clk" in inputs else "")
        + "".join(f"    {s}\n" for s in steps) + "    $finish;\n  end\nendmodule\n"
    )
    with sandbox_dir("synth-test-") as tmp:
        (tmp / "ref.v").write_text(problem.reference)
        (tmp / "tb.v").write_text(tb)
        comp = run_limited(["iverilog", "-g2012", "-o", "sim", "ref.v", "tb.v"], tmp, timeout=30)
        assert comp.ok, comp.stderr
        run = run_limited(["vvp", "-n", "sim"], tmp, timeout=30)
        assert run.ok, run.stderr
    lines = [ln.split() for ln in run.stdout.splitlines() if re.fullmatch(r"[0-9xzXZ ]+", ln)]
    assert len(lines) == cycles, run.stdout
    state = {n: None for n, _, reg, _, _ in signals if reg}
    bad = []
    for i, (v, got) in enumerate(zip(vectors, lines)):
        env = _Known({**v, **state})
        for name, _w, reg, fn, _ in signals:  # internal wires, in spec order
            if not reg:
                env[name] = _value(fn, env)
        for (name, _w, reg, fn, _), text in zip(outputs, got):
            want = dict.get(env, name)
            if want is not None and text != str(want):
                bad.append(f"{problem.id} cycle {i} {name}: got {text}, spec says {want}")
        state = {name: 0 if v["rst"] else _value(fn, state[name], env)  # rising edge, all at once
                 for name, _w, reg, fn, _ in signals if reg}
    return bad


@pytest.fixture(scope="module")
def splits():
    return generate(SynthConfig(seed=3, train=300, validation=30, test=60))


def test_specs_determine_every_output_of_the_reference(splits):
    # Every kind of the catalogue, in combinational and registered problems, across widths.
    problems = splits["train"][:120]
    seen = {o.kind for p in problems for o in p.outputs}
    assert seen == set(KINDS), f"sample misses kinds {set(KINDS) - seen}"
    bad = [msg for p in problems for msg in _simulate_against_spec(p)]
    assert not bad, "\n".join(bad[:10])


def test_every_reference_loads_compiles_and_has_the_stated_outputs(splits):
    everything = [p for ps in splits.values() for p in ps]
    assert check_references(everything) == []
    for p in everything[:50]:
        design = verislice.load([verislice.Source(p.reference)])
        assert design.top == "top_module"
        assert [q.name for q in design.outputs] == [f"y{i}" for i in range(len(p.outputs))]
        assert 2 <= len(design.outputs) <= 4


def test_check_references_reports_a_broken_reference(splits):
    import dataclasses

    from salv_trainer.synth import OutputFunc

    p = splits["test"][0]
    # An output whose operand is not an input of the module: the reference cannot elaborate.
    broken_out = dataclasses.replace(p.outputs[0], operands=("zz",) + p.outputs[0].operands[1:])
    broken = dataclasses.replace(p, id="broken", outputs=(broken_out,) + p.outputs[1:])
    assert isinstance(broken_out, OutputFunc)
    found = check_references([p, broken])
    assert [b.id for b in found] == ["broken"]
    assert "zz" in found[0].message


def test_generation_is_deterministic_and_seeded():
    cfg = SynthConfig(seed=11, train=40, validation=5, test=10)
    a, b = generate(cfg), generate(cfg)
    assert [p.reference for p in a["train"]] == [p.reference for p in b["train"]]
    other = generate(SynthConfig(seed=12, train=40, validation=5, test=10))
    assert [p.reference for p in a["train"]] != [p.reference for p in other["train"]]


def test_splits_have_the_requested_sizes_and_share_no_problem(splits):
    assert {k: len(v) for k, v in splits.items()} == {"train": 300, "validation": 30, "test": 60}
    sigs = {k: {p.signature() for p in v} for k, v in splits.items()}
    assert sum(len(s) for s in sigs.values()) == 390  # unique within and across splits
    assert not sigs["train"] & sigs["test"] and not sigs["train"] & sigs["validation"]
    ids = [p.id for ps in splits.values() for p in ps]
    assert len(set(ids)) == len(ids)
    assert not {p.spec for p in splits["train"]} & {p.spec for p in splits["test"]}


def test_rows_round_trip_through_jsonl_files(splits, tmp_path):
    paths = write_splits(splits, tmp_path)
    assert sorted(paths) == ["test", "train", "validation"]
    rows = [json.loads(line) for line in paths["test"].read_text().splitlines()]
    assert len(rows) == 60
    row = rows[0]
    assert {"id", "prompt", "module_header", "reference", "top_module", "split", "outputs"} <= set(row)
    assert row["reference"].startswith(row["module_header"])
    back = read_split(paths["test"])
    assert [p.reference for p in back] == [p.reference for p in splits["test"]]
    assert [p.spec for p in back] == [r["prompt"] for r in rows]


def test_config_errors_name_the_bad_value():
    with pytest.raises(SynthError, match=r"min_outputs <= max_outputs, got 3\.\.2"):
        generate(SynthConfig(min_outputs=3, max_outputs=2))
    with pytest.raises(SynthError, match="synth.kinds: unknown bogus"):
        generate(SynthConfig(kinds=("and", "bogus")))
    # Two kinds, one width: far fewer distinct problems than requested.
    with pytest.raises(SynthError, match="distinct problems found for 1000 requested"):
        generate(SynthConfig(kinds=("and", "or"), widths=(4,), train=1000, validation=0, test=0))


def test_the_spec_check_has_teeth(splits):
    """A reference changed by one token no longer matches its spec (the check above can fail)."""
    from types import SimpleNamespace

    from verislice.mutate import mutants

    caught = 0
    problems = splits["train"][:40]
    for p in problems:
        m = next(iter(mutants(p.reference, seed=1, limit=1)), None)
        if m is None:
            continue
        fake = SimpleNamespace(id=p.id, spec=p.spec, reference=m.text)
        caught += bool(_simulate_against_spec(fake))
    # A single-token mutant can be equivalent or show only on a rare input: nearly all are caught.
    assert caught >= 0.8 * len(problems)


def test_reference_comments_restate_the_spec_and_can_be_turned_off():
    with_c = generate(SynthConfig(seed=5, train=20, validation=0, test=0))["train"]
    without = generate(SynthConfig(seed=5, train=20, validation=0, test=0, comments=False))["train"]
    for p, q in zip(with_c, without):
        assert p.spec == q.spec
        comments = [ln.strip()[3:] for ln in p.reference.splitlines() if ln.strip().startswith("//")]
        assert comments == [ln[2:] for ln in p.spec.splitlines() if ln.startswith("- ")]
        assert "//" not in q.reference
        assert [ln for ln in p.reference.splitlines() if "//" not in ln] == q.reference.splitlines()


def test_swapped_operands_of_a_commutative_kind_are_the_same_problem():
    from salv_trainer.synth import OutputFunc

    assert OutputFunc("y0", "and", 4, ("a", "b")).signature() == OutputFunc("y1", "and", 4, ("b", "a")).signature()
    assert OutputFunc("y0", "sub", 4, ("a", "b")).signature() != OutputFunc("y0", "sub", 4, ("b", "a")).signature()


# --------------------------------------------------------------------------- the shared family
@pytest.fixture(scope="module")
def shared():
    return generate(SynthConfig(seed=4, train=200, validation=20, test=40, family="shared"))


def _body_lines(problem, signal: str) -> set[int]:
    """Lines of the module body (header and endmodule left out) that ``signal``'s cone keeps."""
    text = problem.reference
    sl = verislice.cone(verislice.Source(text), signal)
    first = text.count("\n", 0, text.index(");")) + 1
    last = text.count("\n", 0, text.rindex("endmodule"))
    lines = set()  # a line counts when a non-blank character of it is in the cone
    for a, b in sl.char_spans:
        lines |= {text.count("\n", 0, i) for i in range(a, b) if not text[i].isspace()}
    return {n for n in lines if first <= n < last}


def test_shared_references_compile_and_specs_with_internal_signals_determine_every_output(shared):
    everything = [p for ps in shared.values() for p in ps]
    assert check_references(everything) == []
    problems = shared["train"][:80]
    assert any(o.name == "r0" for p in problems for o in p.internals)
    assert any(sum(o.registered for o in p.signals) >= 2 for p in problems)
    bad = [msg for p in problems for msg in _simulate_against_spec(p)]
    assert not bad, "\n".join(bad[:10])
    # and the check still has teeth on this family
    from types import SimpleNamespace

    from verislice.mutate import mutants

    fakes = [SimpleNamespace(id=p.id, spec=p.spec, reference=m.text)
             for p in problems[:30] for m in mutants(p.reference, seed=2, limit=1)]

    def caught(fake) -> bool:
        try:
            return bool(_simulate_against_spec(fake))
        except AssertionError:  # the mutant's output is not even well-formed numbers
            return True

    assert sum(caught(f) for f in fakes) >= 0.8 * len(fakes)


def test_shared_cones_overlap_and_independent_ones_do_not(shared, splits):
    """In the shared family two outputs' cones share code (an internal signal's statement or the
    common always block); in the independent family no two outputs' cones share a body line."""
    for p in shared["test"]:
        cones = {o.name: _body_lines(p, o.name) for o in p.outputs}
        names = list(cones)
        assert any(cones[a] & cones[b] for i, a in enumerate(names) for b in names[i + 1:]), p.reference
        for o in p.internals:  # every internal signal is read by some output
            line = next(n for n, ln in enumerate(p.reference.splitlines())
                        if re.match(rf"\s*(assign )?{o.name} (=|<=) ", ln))
            assert any(line in c for c in cones.values()), (o.name, p.reference)
    for p in splits["test"][:30]:
        cones = {o.name: _body_lines(p, o.name) for o in p.outputs}
        names = list(cones)
        assert not any(cones[a] & cones[b] for i, a in enumerate(names) for b in names[i + 1:])


def test_a_register_update_in_the_shared_always_block_lies_outside_the_other_registers_cones(shared):
    """An error in one register's line of the common block is wrong code a full mask trains on for
    a pair contrasting another register, and that register's cone leaves out."""
    checked = 0
    for p in shared["train"]:
        regs = [o for o in p.outputs if o.registered]
        if len(regs) < 2:
            continue
        lines = p.reference.splitlines()
        for o in regs:
            own = next(n for n, ln in enumerate(lines) if ln.strip() == o.update_assignment())
            others = [q for q in regs if q is not o]
            assert own in _body_lines(p, o.name)
            assert all(own not in _body_lines(p, q.name) for q in others)
            checked += 1
    assert checked >= 10


def test_shared_rows_round_trip_and_the_family_is_validated(shared, tmp_path):
    paths = write_splits(shared, tmp_path)
    back = read_split(paths["test"])
    assert [p.reference for p in back] == [p.reference for p in shared["test"]]
    assert [p.internals for p in back] == [p.internals for p in shared["test"]]
    row = json.loads(paths["test"].read_text().splitlines()[0])
    assert row["internals"] and "Internal signals" in row["prompt"]
    with pytest.raises(SynthError, match="synth.family must be one of independent, shared, got 'bogus'"):
        generate(SynthConfig(family="bogus"))
    sigs = {p.signature() for ps in shared.values() for p in ps}
    assert len(sigs) == 260


def test_the_independent_family_is_unchanged_by_the_shared_option():
    """The default family draws exactly the problems it drew before the option existed."""
    import hashlib

    refs = "".join(p.reference for p in generate(SynthConfig(seed=0, train=50, validation=5, test=10))["train"])
    assert hashlib.sha256(refs.encode()).hexdigest() == INDEPENDENT_SEED0_SHA256

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


def interpret(spec: str):
    """Spec text -> (inputs {name: width}, outputs [(name, width, registered, fn)])."""
    inputs = _parse_inputs(spec)
    outputs = []
    for line in spec.splitlines():
        m = re.fullmatch(r"- (\w+) \((\d+) bits?\): (.*)\.", line)
        if not m:
            continue
        name, width, text = m.group(1), int(m.group(2)), m.group(3)
        mask = (1 << width) - 1
        if text.startswith(_REG_HEAD):
            rest = text[len(_REG_HEAD):]
            hits = [(fn, mm) for pat, fn in _REG_RULES if (mm := re.fullmatch(pat, rest))]
            assert len(hits) == 1, f"register line matches {len(hits)} rules: {line}"
            fn, mm = hits[0]
            outputs.append((name, width, True,
                            lambda s, v, fn=fn, g=mm.groups(), k=mask: fn(s, v, g[0], g[1], k)))
            continue
        hits = [(pat, fn, mm) for pat, fn in _COMB_RULES if (mm := re.fullmatch(pat, text))]
        assert len(hits) == 1, f"line matches {len(hits)} rules: {line}"
        _, fn, mm = hits[0]
        x, y = mm.groups()
        wx = (1 << inputs[x]) - 1
        outputs.append((name, width, False, lambda v, fn=fn, x=x, y=y, k=mask, wx=wx: fn(v, x, y, k, wx)))
    return inputs, outputs


# --------------------------------------------------------------------------- Icarus comparison
def _simulate_against_spec(problem, cycles: int = 48, seed: int = 0) -> list[str]:
    """Drive the reference with random stimuli; return the mismatches against the interpreter."""
    inputs, outputs = interpret(problem.spec)
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
    lines = [ln.split() for ln in run.stdout.splitlines() if re.fullmatch(r"[0-9xz ]+", ln)]
    assert len(lines) == cycles, run.stdout
    state = {n: None for n, _, reg, _ in outputs if reg}
    bad = []
    for i, (v, got) in enumerate(zip(vectors, lines)):
        for (name, _w, reg, fn), text in zip(outputs, got):
            want = state[name] if reg else fn(v)
            if want is not None and text != str(want):
                bad.append(f"{problem.id} cycle {i} {name}: got {text}, spec says {want}")
        for name, _w, reg, fn in outputs:  # rising edge
            if reg:
                state[name] = 0 if v["rst"] else fn(state[name], v)
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

"""The examples end to end: each output's slice of gen.v keeps that output's behaviour.

The slice of a right output, compared with the reference by ``verislice.equiv``, still matches;
the slice of the wrong output still mismatches (the slicer neither breaks nor repairs anything).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import verislice
from verislice import equiv

REPO = Path(__file__).resolve().parents[1]

# example -> (right outputs of gen.v, wrong outputs of gen.v)
EXAMPLES = {
    "kbd": (["d"], ["a"]),
    "seq": (["rise", "count"], ["fall"]),
    "shared_always": (["result", "zero"], ["carry"]),
    "submodule": (["sum", "cout"], ["parity"]),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_slices_keep_each_outputs_verdict(name: str) -> None:
    right, wrong = EXAMPLES[name]
    d = REPO / "examples" / name
    gen = d / "gen.v"
    g = verislice.build_graph(gen)
    assert sorted(g.outputs) == sorted(right + wrong)
    slices = {o: verislice.cone(g, [o]) for o in g.outputs}
    cands = [verislice.Source(slices[o].text, f"{name}/gen.v cone of {o}") for o in g.outputs]
    (results,) = equiv.check_batch([(d / "ref.v", cands)])
    for o, r in zip(g.outputs, results):
        assert r.verdict == equiv.OK, (o, r.verdict, r.message)
        expected = equiv.MATCH if o in right else equiv.MISMATCH
        assert r.outputs[o].verdict == expected, (o, r.outputs[o])

"""Formal checking on real designs: VerilogEval references against their canonical solutions and
single-token mutants, cross-checked with simulation and Icarus replays of every counterexample.

A sample of tasks keeps this fast; ``tools/agreement_formal.py`` runs the whole corpus.
"""

from __future__ import annotations

import collections

import pytest
from conftest import load_bundle, ref_passes_on_icarus11

from verislice import Source, equiv

pytest.importorskip("pyosys")

from verislice._formal import FormalOptions  # noqa: E402
from verislice._formal_replay import replay  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

STEP = 9  # every 9th task of the bundle (17 tasks, combinational and sequential)


@pytest.fixture(scope="module")
def sample():
    rows = [r for r in load_bundle("verilogeval-v2-completion") if ref_passes_on_icarus11(r)]
    rows = rows[::STEP]
    groups = []
    for r in rows:
        ref = Source(r["reference"], f"{r['task_id']}_ref.sv")
        cands = [Source(r["canonical_solution"], f"{r['task_id']}_canonical.sv")]
        cands += [Source(m.text, f"{r['task_id']}_mut{i}.sv")
                  for i, m in enumerate(mutants(r["canonical_solution"], seed=1, limit=2))]
        groups.append((ref, cands))
    formal = equiv.check_batch(groups, method="formal", reference_errors="report",
                               formal=FormalOptions(depth=20, timeout=5))
    return rows, groups, formal


def test_canonical_solutions_are_never_refuted(sample):
    rows, _groups, formal = sample
    verdicts = collections.Counter()
    for r, results in zip(rows, formal):
        canonical = results[0]
        for name, o in canonical.outputs.items():
            verdicts[o.verdict] += 1
            assert o.verdict in ("PROVEN", "BOUNDED", "UNKNOWN"), (r["task_id"], name, o)
    # Almost every output is decided, most of them for ever (induction, register pairs).
    decided = verdicts["PROVEN"] + verdicts["BOUNDED"]
    assert decided >= 0.95 * sum(verdicts.values()), verdicts
    assert verdicts["PROVEN"] >= 0.9 * sum(verdicts.values()), verdicts


def test_every_counterexample_is_a_real_difference_in_icarus(sample):
    _rows, groups, formal = sample
    replayed = 0
    for (ref, cands), results in zip(groups, formal):
        for cand, res in zip(cands, results):
            for name, o in res.outputs.items():
                if o.verdict != "MISMATCH":
                    continue
                r = replay(ref, cand, name, o.first_failure)
                assert r.differs, (cand.name, name, o.first_failure, r)
                assert (r.expected, r.actual) == (o.first_failure.expected,
                                                  o.first_failure.actual), (cand.name, name)
                replayed += 1
    assert replayed >= 10


def test_formal_and_simulation_agree_where_both_decide(sample):
    _rows, groups, formal = sample
    sim = equiv.check_batch(groups, reference_errors="report")
    pairs = collections.Counter()
    for srs, frs, (_ref, cands) in zip(sim, formal, groups):
        for s, f, cand in zip(srs, frs, cands):
            for name, so in s.outputs.items():
                fo = f.outputs[name]
                pairs[(so.verdict, fo.verdict)] += 1
                # A proof of equality must never meet a difference simulation saw ...
                assert not (so.verdict == "MISMATCH" and fo.verdict == "PROVEN"), (cand.name, name)
                # ... and a bounded check only where the difference needs more cycles.
                if so.verdict == "MISMATCH" and fo.verdict == "BOUNDED":
                    assert so.first_failure.cycle >= 20, (cand.name, name, so.first_failure)
    assert pairs[("MATCH", "PROVEN")] + pairs[("MATCH", "BOUNDED")] > 0
    assert pairs[("MISMATCH", "MISMATCH")] > 0
    # and UNKNOWN is rare (the target is 1% of outputs over the whole bundles)
    assert pairs[("MATCH", "UNKNOWN")] + pairs[("MISMATCH", "UNKNOWN")] <= \
        0.03 * sum(pairs.values()), pairs


def test_method_both_never_calls_a_difference_simulation_found_right(sample):
    _rows, groups, _formal = sample
    sim = equiv.check_batch(groups, reference_errors="report", engine="vvp")
    both = equiv.check_batch(groups, method="both", reference_errors="report", engine="vvp",
                             formal=FormalOptions(depth=20, timeout=5))
    for srs, brs in zip(sim, both):
        for s, b in zip(srs, brs):
            assert b.method == "both" and b.verdict == s.verdict
            for name, so in s.outputs.items():
                bo = b.outputs[name]
                if so.verdict != "MATCH":
                    assert bo == so, (b.name, name)  # simulation's verdict stands
                else:
                    assert bo.verdict in ("MATCH", "PROVEN", "BOUNDED", "MISMATCH"), bo
                    if bo.verdict == "MISMATCH":  # only with a counterexample Icarus confirmed
                        assert "replayed in Icarus" in bo.message

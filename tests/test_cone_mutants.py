"""Soundness of cones, checked with mutants: a change outside an output's cone never changes it.

For every multi-output VerilogEval v2 reference passing on Icarus 11, single-token mutants of
the design (``verislice.mutate``) are simulated in the task's own testbench. Whenever a mutant's
token lies outside the spans of output ``o``'s slice, the testbench must report no mismatches for
``o``: otherwise the cone missed a dependency. Mutants that do not compile or hang are skipped
(counted).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import load_bundle, ref_passes_on_icarus11
from test_cone_verilogeval import _HINT, IVERILOG, report

import verislice
from verislice._sandbox import run_limited, sandbox_dir
from verislice.mutate import mutants

pytestmark = pytest.mark.slow

MUTANTS_PER_DESIGN = 12


def _run(job):
    row, mutant, outside = job
    with sandbox_dir("verislice-mut-") as d:
        (d / "candidate.sv").write_text(mutant.text)
        (d / "test.sv").write_text(row["testbench"])
        (d / "ref.sv").write_text(row["reference"])
        comp = run_limited(IVERILOG + ["-o", "sim.vvp", "candidate.sv", "test.sv", "ref.sv"], d,
                           timeout=60)
        if not comp.ok:
            return "skip", []
        run = run_limited(["vvp", "-n", "sim.vvp"], d, timeout=60)
        if run.timed_out:
            return "skip", []
        hints = {m.group(1): m.group(2) for m in _HINT.finditer(run.stdout)}
        bad = [o for o in outside if hints.get(o, "no") != "no"]
        changed = any(v != "no" for v in hints.values())
        return ("changed" if changed else "same"), bad


def test_mutants_outside_a_cone_never_change_that_output(capsys) -> None:
    jobs = []
    for row in load_bundle("verilogeval-v2-spec"):
        if not ref_passes_on_icarus11(row):
            continue
        text = row["canonical_solution"]
        g = verislice.build_graph(verislice.Source(text, row["task_id"]))
        if len(g.outputs) < 2:
            continue
        slices = {o: verislice.cone(g, [o]) for o in g.outputs}
        for m in mutants(text, seed=0, limit=MUTANTS_PER_DESIGN):
            outside = [o for o, sl in slices.items()
                       if not any(s <= m.byte_offset < e for s, e in sl.spans)]
            if outside:
                jobs.append((row, m, outside))
    assert jobs
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run, jobs))
    failures = [(job[0]["task_id"], job[1].line, job[1].original, job[1].replacement, bad)
                for job, (_, bad) in zip(jobs, results) if bad]
    counts = {k: sum(1 for r, _ in results if r == k) for k in ("same", "changed", "skip")}
    claims = sum(len(job[2]) for job, (r, _) in zip(jobs, results) if r != "skip")
    report(capsys, f"cone soundness: {len(jobs)} mutants outside some output's cone; {claims} "
          f"(mutant, output) independence claims checked by simulation, {len(failures)} wrong; "
          f"{counts['changed']} mutants changed another output, {counts['skip']} skipped "
          "(no compile / hang)")
    assert not failures, failures[:20]

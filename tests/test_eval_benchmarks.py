"""The harness rules against the real VerilogEval testbenches (Icarus 11 simulations).

The proof that our harness judges like the benchmarks' own: every reference solution passes
exactly where the bundle's validation says it passes on Icarus 11, for all four VerilogEval files;
empty modules and mutated solutions score lower, task by task, as the testbenches say.
"""

from __future__ import annotations

import re

import pytest

from conftest import BENCH_DIR, load_bundle
from salv_trainer.eval import load_benchmark, score_responses

ALL = ["verilogeval-v2-spec", "verilogeval-v2-completion", "verilogeval-v1-human",
       "verilogeval-v1-machine"]


def _tasks(tag, limit=None):
    load_bundle(tag)  # fails under CI / skips elsewhere when the bundle is missing
    return load_benchmark(tag, BENCH_DIR, limit=limit)


@pytest.mark.slow
@pytest.mark.parametrize("tag", ALL)
def test_canonical_solutions_pass_exactly_where_the_reference_passes_on_icarus11(tag):
    rows = {r["task_id"]: r for r in load_bundle(tag)}
    tasks = _tasks(tag)
    assert len(tasks) == len(rows)
    result = score_responses(tasks, {t.task_id: [t.canonical_solution] for t in tasks}, jobs=2)
    for tid, tr in result.tasks.items():
        expected = rows[tid]["validation"]["iverilog_11.0"]["ref_pass"]
        assert tr.c == int(expected), (tid, tr.samples[0])
    assert result.pass_at_k_passable == {"1": 1.0}
    # the tasks no reference can pass on Icarus 11 are listed, not hidden
    assert sorted(result.unpassable) == sorted(
        tid for tid, r in rows.items() if not r["validation"]["iverilog_11.0"]["ref_pass"])
    assert result.pass_at_k["1"] == pytest.approx(1 - len(result.unpassable) / len(rows))


_ASSIGN = re.compile(r"(assign\s+[^=;]+=\s*)([^;]+);")


def _invert_first_assign(code: str) -> str | None:
    """Invert the right-hand side of the first continuous assignment outside comments."""
    for m in _ASSIGN.finditer(code):
        before = code[:m.start()]
        in_line_comment = "//" in before[before.rfind("\n") + 1:]
        in_block_comment = before.count("/*") > before.count("*/")
        if not (in_line_comment or in_block_comment):
            return code[:m.start()] + m.group(1) + "~(" + m.group(2) + ");" + code[m.end():]
    return None


def _hollow(code: str) -> str:
    """The module header with nothing inside: outputs left undriven."""
    end = code.index(");", code.index("module")) + 2
    return code[:end] + "\nendmodule\n"


@pytest.mark.parametrize("tag", ["verilogeval-v2-spec", "verilogeval-v1-human"])
def test_empty_modules_and_mutants_score_lower_as_the_testbenches_say(tag):
    rows = {r["task_id"]: r for r in load_bundle(tag)}
    tasks = [t for t in _tasks(tag, limit=40) if t.ref_passes]
    responses, mutated = {}, set()
    for t in tasks:
        responses[t.task_id] = [t.canonical_solution, _hollow(t.canonical_solution)]
        mutant = _invert_first_assign(t.canonical_solution)
        if mutant:
            responses[t.task_id].append(mutant)
            mutated.add(t.task_id)
    assert len(mutated) >= 20
    result = score_responses(tasks, responses, jobs=2)
    for tid, tr in result.tasks.items():
        canonical, hollow, *mutant = tr.samples
        assert canonical.verdict == "pass", (tid, canonical)
        assert hollow.passed == rows[tid]["validation"]["hollow_candidate_passes"], (tid, hollow)
        if not hollow.passed:
            # outputs left undriven are X; X in the DUT never matches a 0/1 reference
            assert hollow.verdict == "mismatch" and hollow.mismatches > 0, (tid, hollow)
        if mutant:
            assert mutant[0].verdict == "mismatch" and mutant[0].mismatches > 0, (tid, mutant[0])
    # pass@1 over (canonical, hollow, mutant): strictly lower than the canonical-only score
    assert result.pass_at_k["1"] < 1.0


def test_completion_style_responses_get_the_module_header_in_front():
    """v1 and v2-completion give the model a header; a response may be the body alone, fenced or
    bare (the harnesses concatenate header + completion), or a full module of its own."""
    v1 = [t for t in _tasks("verilogeval-v1-human", limit=12) if t.ref_passes]
    v2 = [t for t in _tasks("verilogeval-v2-completion", limit=12) if t.ref_passes]
    resp = {}
    for t in v1:
        body = t.completion_only
        resp[t.task_id] = [body, f"Here it is:\n```verilog\n{body}\n```\n", t.canonical_solution,
                           "I cannot help with that."]
    for t in v2:
        body = t.canonical_solution.strip()[len(t.module_header.strip()):]
        resp[t.task_id] = [body, f"```\n{body}\n```", f"[BEGIN]\n{t.canonical_solution}\n[DONE]",
                           "```verilog\n  assign nothing_here = ;\nendmodule\n```"]
    r1 = score_responses(v1, resp, jobs=2)
    r2 = score_responses(v2, resp, jobs=2)
    for r in (r1, r2):
        for tid, tr in r.tasks.items():
            assert [s.verdict for s in tr.samples[:3]] == ["pass"] * 3, (tid, tr.samples)
    # prose without code still goes through the header + completion rule and fails to compile
    # (in pyslang's screen, before Icarus: compile_error with pyslang's message)
    assert {tr.samples[3].verdict for tr in r1.tasks.values()} == {"compile_error"}
    assert {tr.samples[3].verdict for tr in r2.tasks.values()} == {"compile_error"}


def test_fail_fast_changes_no_verdict():
    """Stopping at the first mismatch (the default) gives the same pass/fail, sample by sample,
    as the testbench run to its end; only the mismatch counts are partial."""
    from verislice.mutate import mutants

    tasks = [t for t in _tasks("verilogeval-v2-spec", limit=25) if t.ref_passes]
    tasks += [t for t in _tasks("verilogeval-v1-machine", limit=10)]
    responses = {}
    for t in tasks:
        code = t.canonical_solution
        responses[t.task_id] = [code, _hollow(code)] + [m.text for m in mutants(code, seed=1, limit=3)]
    by_rule = {}
    for t in tasks:
        by_rule.setdefault(t.benchmark, []).append(t)
    for group in by_rule.values():
        fast = score_responses(group, responses, jobs=2, fail_fast=True)
        full = score_responses(group, responses, jobs=2, fail_fast=False)
        for tid in fast.tasks:
            for a, b in zip(fast.tasks[tid].samples, full.tasks[tid].samples):
                assert a.passed == b.passed, (tid, a, b)
                if b.verdict == "mismatch":
                    assert a.verdict == "mismatch" and 0 < a.mismatches <= b.mismatches

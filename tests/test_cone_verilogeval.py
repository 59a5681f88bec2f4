"""Proof on real designs: every output's cone of every VerilogEval reference passes its own testbench.

For each reference whose testbench passes on Icarus 11 (the bundle's own validation) and each
output ``o``: the ``ports="all"`` slice of ``canonical_solution`` for ``o`` compiles with
``iverilog -g2012`` and, run in place of the design in the task's own testbench, the testbench's
``Hint: Output 'o' ...`` line says it has no mismatches. Identical (slice, testbench, reference)
triples across the bundles are simulated once.
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

import verislice
from verislice._sandbox import run_limited, sandbox_dir

from conftest import VERILOGEVAL_FILES, load_bundle, ref_passes_on_icarus11

pytestmark = pytest.mark.slow

IVERILOG = ["iverilog", "-Wall", "-Winfloop", "-Wno-timescale", "-g2012", "-s", "tb"]
_HINT = re.compile(r"^Hint: Output '([^']+)' has (no|\d+) mismatches", re.M)


@dataclass
class Case:
    task: str
    bench: str
    output: str
    files: dict[str, str]  # file name -> text, the slice included
    order: list[str]  # iverilog source order


@dataclass
class Verdict:
    case: Case
    ok: bool
    why: str


def report(capsys, message: str) -> None:
    """Show a figure in the test output even when pytest captures stdout."""
    with capsys.disabled():
        print("\n" + message)


def _cases() -> tuple[list[Case], int, list[str]]:
    """Every (task, output) case; number of reference designs; slicing failures."""
    cases: list[Case] = []
    seen: set[str] = set()
    refs = 0
    failures: list[str] = []
    for tag in VERILOGEVAL_FILES:
        for row in load_bundle(tag):
            if not ref_passes_on_icarus11(row):
                continue
            refs += 1
            name = f"{tag}/{row['task_id']}"
            try:
                graph = verislice.build_graph(verislice.Source(row["canonical_solution"], name))
                slices = {o: verislice.cone(graph, [o]) for o in graph.outputs}
            except verislice.VerisliceError as exc:
                failures.append(f"{name}: {exc.message}")
                continue
            for o, sl in slices.items():
                if tag.startswith("verilogeval-v2"):
                    files = {"candidate.sv": sl.text, "test.sv": row["testbench"],
                             "ref.sv": row["reference"]}
                    order = ["candidate.sv", "test.sv", "ref.sv"]
                else:  # v1: the testbench already holds the reference module
                    files = {"f.sv": row["testbench"] + "\n" + sl.text}
                    order = ["f.sv"]
                key = hashlib.sha1(repr((o, sorted(files.items()))).encode()).hexdigest()
                if key in seen:
                    continue
                seen.add(key)
                cases.append(Case(row["task_id"], tag, o, files, order))
    return cases, refs, failures


def _simulate(case: Case) -> Verdict:
    with sandbox_dir("verislice-cone-") as d:
        for fname, text in case.files.items():
            (d / fname).write_text(text)
        comp = run_limited(IVERILOG + ["-o", "sim.vvp", *case.order], d, timeout=60)
        if not comp.ok:
            return Verdict(case, False, "compile: " + (comp.stderr or comp.stdout)[-400:])
        run = run_limited(["vvp", "-n", "sim.vvp"], d, timeout=120)
        if run.timed_out:
            return Verdict(case, False, "simulation timed out")
        hints = {m.group(1): m.group(2) for m in _HINT.finditer(run.stdout)}
        if case.output not in hints:
            return Verdict(case, False, f"no Hint line for '{case.output}': {run.stdout[-300:]}")
        if hints[case.output] != "no":
            return Verdict(case, False, f"{hints[case.output]} mismatches")
        return Verdict(case, True, "")


def test_every_output_cone_of_every_reference_passes_its_testbench(capsys) -> None:
    cases, refs, failures = _cases()
    assert not failures, "slicing failed:\n" + "\n".join(failures)
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(_simulate, cases))
    bad = [v for v in verdicts if not v.ok]
    good = len(verdicts) - len(bad)
    report(capsys, f"VerilogEval cones: {good}/{len(verdicts)} (task, output) slices pass their own "
          f"testbench's per-output check ({refs} reference rows passing on Icarus 11)")
    assert not bad, "\n".join(f"{v.case.bench}/{v.case.task} output {v.case.output}: {v.why}"
                              for v in bad[:30])


def _compile_alone(job: tuple[str, str, str]) -> str | None:
    name, top, text = job
    with sandbox_dir("verislice-used-") as d:
        (d / "s.sv").write_text(text)
        r = run_limited(["iverilog", "-g2012", "-s", top, "-o", "s.vvp", "s.sv"], d, timeout=60)
        return None if r.ok else f"{name}: {(r.stderr or r.stdout)[-300:]}"


def test_every_ports_used_slice_compiles_standalone(capsys) -> None:
    jobs: dict[str, tuple[str, str, str]] = {}
    for tag in VERILOGEVAL_FILES:
        for row in load_bundle(tag):
            if not ref_passes_on_icarus11(row):
                continue
            graph = verislice.build_graph(verislice.Source(row["canonical_solution"], row["task_id"]))
            for o in graph.outputs:
                sl = verislice.cone(graph, [o], ports="used")
                assert o in sl.text.split(";", 1)[0], "requested output missing from the header"
                jobs.setdefault(sl.text, (f"{tag}/{row['task_id']}:{o}", sl.top, sl.text))
    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = [e for e in pool.map(_compile_alone, jobs.values()) if e]
    report(capsys, f"--ports used: {len(jobs) - len(errors)}/{len(jobs)} distinct slices compile standalone")
    assert not errors, "\n".join(errors[:20])

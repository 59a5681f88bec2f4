"""Read the benchmarks' own repository layouts into :class:`Task` records.

* NVlabs/verilog-eval v2 (branch ``main``): ``dataset_spec-to-rtl/`` and
  ``dataset_code-complete-iccad2023/`` hold ``ProbNNN_name_{prompt.txt,ref.sv,test.sv}``
  (+ ``_ifc.txt`` for completion). The v2 generator's 0-shot prompt (no rules, no explanation) is
  rebuilt exactly as ``scripts/sv-generate`` builds it.
* NVlabs/verilog-eval v1 (branch ``release/1.0.0``): ``data/VerilogEval_{Human,Machine}.jsonl``
  (``task_id``, ``prompt`` = module header, ``canonical_solution`` = body, ``test``) and
  ``descriptions/VerilogDescription_{Human,Machine}.jsonl`` (``detail_description``).
* hkust-zhiyao/RTLLM (v1.1: one folder per design; v2.0: ``Category/Sub/design/``): every folder
  with ``design_description.txt`` and ``testbench.v``; the reference is ``verified_*.v``, data files
  (``*.dat``, ``*.txt``) are copied into the simulation directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from pyslang import syntax

from ..data._jsonl import read_jsonl
from ._errors import EvalError
from ._tasks import Task

__all__ = ["load_rtllm", "load_verilogeval_v1", "load_verilogeval_v2", "v2_harness_prompt"]

V2_FOLDERS = {"verilogeval-v2-spec": "dataset_spec-to-rtl",
              "verilogeval-v2-completion": "dataset_code-complete-iccad2023"}
V1_NAMES = {"verilogeval-v1-human": "Human", "verilogeval-v1-machine": "Machine"}

# The v2 generator's prompt pieces (scripts/sv-generate, 0-shot, no rules, no explanation).
_V2_SYSTEM = {
    "verilogeval-v2-spec":
        "\nYou are a Verilog RTL designer that only writes code using correct Verilog syntax.\n",
    "verilogeval-v2-completion":
        "\nYou only complete chats with syntax correct Verilog code. End the Verilog module code "
        "completion with 'endmodule'. Do not include module, input and output definitions.\n",
}
_V2_COMPLETION_PREFIX = (
    "\n// Implement the Verilog module based on the following description. Assume that signals "
    "are positive clock/clk triggered unless otherwise stated.\n"
)
_V2_NO_EXPLAIN = (
    "\nEnclose your code with [BEGIN] and [DONE]. Only output the code snippet\n"
    "and do NOT output anything else.\n"
)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EvalError(f"{path}: cannot read: {exc.strerror}") from None


def v2_harness_prompt(benchmark: str, prompt: str) -> dict[str, str]:
    """The ``{system, user}`` pair VerilogEval v2 sends for a ``*_prompt.txt`` text."""
    if benchmark == "verilogeval-v2-spec":
        user = "\nQuestion:\n" + prompt.strip() + "\n"
        user = user.rstrip() + "\n" + _V2_NO_EXPLAIN + "\nAnswer:\n"
    else:
        lines, prefix = [], True
        for line in prompt.splitlines():
            if "module TopModule" in line:
                lines.append("")
                prefix = False
            lines.append("// " + line if prefix else line)
        user = _V2_COMPLETION_PREFIX + "\n".join(lines)
    return {"system": _V2_SYSTEM[benchmark], "user": user}


def _rename(text: str, old: str, new: str) -> str:
    """Whole-word rename of a module name (references are known, trusted designs)."""
    return text if old == new or not old else re.sub(rf"\b{re.escape(old)}\b", new, text)


def load_verilogeval_v2(root: Path, benchmark: str) -> list[Task]:
    """Tasks from a verilog-eval v2 clone (or the dataset folder itself)."""
    folder = root / V2_FOLDERS[benchmark]
    if not folder.is_dir():
        folder = root
    prompts = sorted(folder.glob("*_prompt.txt"))
    if not prompts:
        raise EvalError(f"{root}: no {V2_FOLDERS[benchmark]}/*_prompt.txt files "
                        f"(expected a clone of NVlabs/verilog-eval)")
    tasks = []
    for p in prompts:
        name = p.name[: -len("_prompt.txt")]
        ref, test, ifc = (folder / f"{name}_ref.sv", folder / f"{name}_test.sv",
                          folder / f"{name}_ifc.txt")
        for needed in (ref, test) + ((ifc,) if benchmark.endswith("completion") else ()):
            if not needed.is_file():
                raise EvalError(f"{needed}: missing (task {name})")
        prompt = _read(p)
        reference = _read(ref)
        tasks.append(Task(
            task_id=name, benchmark=benchmark, prompt=prompt, top_module="TopModule",
            testbench=_read(test), testbench_top="tb", reference=reference,
            reference_module="RefModule",
            canonical_solution=_rename(reference, "RefModule", "TopModule"),
            module_header=_read(ifc) if benchmark.endswith("completion") else None,
            harness_prompt=v2_harness_prompt(benchmark, prompt),
            source={"layout": "verilog-eval-v2", "paths": [str(p), str(ref), str(test)]},
        ))
    return tasks


def _jsonl(path: Path) -> list[dict]:
    return [row for _, row in read_jsonl(path, error=EvalError)]


def load_verilogeval_v1(root: Path, benchmark: str) -> list[Task]:
    """Tasks from a verilog-eval ``release/1.0.0`` clone."""
    which = V1_NAMES[benchmark]
    data = root / "data" / f"VerilogEval_{which}.jsonl"
    desc = root / "descriptions" / f"VerilogDescription_{which}.jsonl"
    for f in (data, desc):
        if not f.is_file():
            raise EvalError(f"{f}: missing (expected a clone of NVlabs/verilog-eval, "
                            f"branch release/1.0.0)")
    descriptions = {r["task_id"]: r.get("detail_description", "") for r in _jsonl(desc)}
    tasks = []
    for i, r in enumerate(_jsonl(data), 1):
        try:
            tid, header, body, test = r["task_id"], r["prompt"], r["canonical_solution"], r["test"]
        except KeyError as exc:
            raise EvalError(f"{data}:{i}: missing field {exc}") from None
        if tid not in descriptions:
            raise EvalError(f"{desc}: no description for task '{tid}'")
        tasks.append(Task(
            task_id=tid, benchmark=benchmark, prompt=descriptions[tid], top_module="top_module",
            testbench=test, testbench_top="tb", reference_module="reference_module",
            canonical_solution=header + body, module_header=header, completion_only=body,
            source={"layout": "verilog-eval-v1", "paths": [str(data), str(desc)]},
        ))
    return tasks


def _modules_and_instances(text: str) -> tuple[list[str], list[str]]:
    """Module names declared in ``text`` and module types it instantiates (syntax only)."""
    tree = syntax.SyntaxTree.fromText(text)
    declared: list[str] = []
    used: list[str] = []

    def visit(node):
        if node.kind == syntax.SyntaxKind.ModuleDeclaration:
            declared.append(node.header.name.valueText)
        elif node.kind == syntax.SyntaxKind.HierarchyInstantiation:
            used.append(node.type.valueText)
        return True

    tree.root.visit(visit)
    return declared, used


_RTLLM_SKIP = {"design_description.txt", "testbench.v", "makefile", "Makefile"}


def load_rtllm(root: Path, benchmark: str) -> list[Task]:
    """Tasks from an RTLLM clone: every folder with ``design_description.txt`` + ``testbench.v``."""
    folders = sorted({p.parent for p in root.rglob("design_description.txt")
                      if (p.parent / "testbench.v").is_file()}, key=lambda p: p.name)
    if not folders:
        raise EvalError(f"{root}: no design folder with design_description.txt and testbench.v "
                        f"(expected a clone of hkust-zhiyao/RTLLM)")
    tasks, seen = [], {}
    for d in folders:
        if d.name in seen:
            raise EvalError(f"{d}: design name '{d.name}' also used by {seen[d.name]}")
        seen[d.name] = d
        testbench = _read(d / "testbench.v")
        tb_mods, tb_uses = _modules_and_instances(testbench)
        tb_top = next((m for m in tb_mods if m not in tb_uses), tb_mods[0] if tb_mods else "")
        duts = [u for u in tb_uses if u not in tb_mods]
        if not tb_top or not duts:
            raise EvalError(f"{d / 'testbench.v'}: cannot find the testbench module and the "
                            f"design it instantiates")
        dut = d.name if d.name in duts else duts[0]
        refs = sorted(d.glob("verified_*.v"))
        reference = _read(refs[0]) if refs else ""
        ref_top = ""
        if reference:
            mods, uses = _modules_and_instances(reference)
            tops = [m for m in mods if m not in uses]
            ref_top = tops[-1] if tops else (mods[0] if mods else "")
        extra = {f.name: _read(f) for f in sorted(d.iterdir())
                 if f.is_file() and f.suffix in (".dat", ".txt") and f.name not in _RTLLM_SKIP}
        tasks.append(Task(
            task_id=d.name, benchmark=benchmark, prompt=_read(d / "design_description.txt"),
            top_module=dut, testbench=testbench, testbench_top=tb_top, reference=reference,
            reference_module=ref_top, canonical_solution=_rename(reference, ref_top, dut),
            extra_files=extra,
            source={"layout": "rtllm", "paths": [str(d.relative_to(root))]},
        ))
    return tasks

"""A plain ``pip install`` of the project is verislice alone: it works, and it brings no torch.

The project (its ``pyproject.toml``, README and both packages, as a fresh clone has them) is
built and installed by pip, with pip's own resolver, into a new virtual environment that sees no
site-packages but its own; the dependencies come from PyPI (or pip's cache). Then the installed
``verislice`` slices and checks ``examples/kbd`` with both simulation engines, and
``salv_trainer``, whose ``train`` extra is absent, refuses to start with one line. About 30 s
with a warm pip cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
KBD = REPO / "examples" / "kbd"
TRAIN_STACK = {"torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "pyyaml"}
ONE_LINE = ("error: salv_trainer needs the 'train' extra (missing: torch, transformers, trl, peft, "
            "accelerate, datasets, tokenizers, pyyaml): pip install 'verislice-salv[train]'\n")


def _env() -> dict[str, str]:
    """The caller's environment without what would let the outer venv leak into the new one."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_USER")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str | os.PathLike[str]], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([os.fspath(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, env=_env(), **kw)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A venv with ``pip install <project>`` (no extras): its bin dir and pip's install report."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"  # built from a copy: pip's in-tree build must not write into the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for pkg in ("verislice", "salv_trainer"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", venv])
    assert made.returncode == 0, made.stderr
    bin_dir = venv / "bin"
    report = tmp / "report.json"
    inst = _run([bin_dir / "python", "-m", "pip", "install", "-q", "--report", report, src], timeout=600)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    return {"bin": bin_dir, "report": json.loads(report.read_text())}


def test_resolver_pulls_no_training_stack(plain: dict) -> None:
    installed = {item["metadata"]["name"].lower() for item in plain["report"]["install"]}
    assert {"verislice-salv", "pyslang", "networkx", "cocotb", "rich", "typer"} <= installed
    assert not installed & TRAIN_STACK
    assert not any(n.startswith("nvidia-") for n in installed)
    # and nothing the venv could see from elsewhere provides it either
    probe = _run([plain["bin"] / "python", "-c",
                  "import importlib.util as u; print([m for m in ('torch', 'transformers', 'trl') "
                  "if u.find_spec(m)])"])
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", probe.stderr


def test_cone_works_without_the_training_stack(plain: dict) -> None:
    r = _run([plain["bin"] / "verislice", "cone", KBD / "gen.v", "--signal", "d"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("module kbd_decoder (")
    assert "d = 1'b1;" in r.stdout and "endmodule" in r.stdout
    assert "a = 1'b" not in r.stdout  # the statements that drive only a are cut away


@pytest.mark.parametrize("engine", ["cocotb", "vvp"])
def test_equiv_works_without_the_training_stack(plain: dict, engine: str) -> None:
    r = _run([plain["bin"] / "verislice", "equiv", KBD / "ref.v", KBD / "gen.v",
              "--engine", engine, "--json"])
    assert r.returncode == 1, r.stderr  # the outputs differ: exit 1
    [cand] = json.loads(r.stdout)["candidates"]
    assert cand["verdict"] == "OK"
    assert {n: o["verdict"] for n, o in cand["outputs"].items()} == {"a": "MISMATCH", "d": "MATCH"}


@pytest.mark.parametrize("argv", [["python", "-c", "import salv_trainer"], ["salv-train", "--help"]],
                         ids=["import", "salv-train"])
def test_salv_trainer_names_the_missing_extra(plain: dict, argv: list[str]) -> None:
    r = _run([plain["bin"] / argv[0], *argv[1:]])
    assert (r.returncode, r.stdout, r.stderr) == (2, "", ONE_LINE)

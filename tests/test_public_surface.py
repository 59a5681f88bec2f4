"""The wall between the packages: salv_trainer uses verislice's public names only, and both
report user errors through one root each (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import verislice
from verislice import Source, VerisliceError

REPO = Path(__file__).resolve().parents[1]

def _verislice_imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every verislice module or name ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "verislice":
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "verislice"]
    return found


def test_salv_trainer_imports_nothing_private_from_verislice() -> None:
    private = []
    for path in sorted((REPO / "salv_trainer").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        private += [f"{rel}:{line}: {name}" for line, name in _verislice_imports(path)
                    if any(part.startswith("_") for part in name.split("."))]
    assert private == []


def test_the_public_names_salv_trainer_uses_exist() -> None:
    from verislice import cli, equiv, untrusted

    assert verislice.rename_modules("module a; endmodule\nmodule b; a u(); endmodule\n", "p_") == \
        "module p_a; endmodule\nmodule p_b; p_a u(); endmodule\n"
    assert verislice.module_names("module a; endmodule module b; endmodule") == ["a", "b"]
    for name in ("run_limited", "sandbox_dir", "RunResult", "DEFAULT_FILE_SIZE_MB", "require_sandbox"):
        assert name in untrusted.__all__ and hasattr(untrusted, name)
    for name in ("FormalOptions", "require_pyosys", "check_batch", "EquivOptions"):
        assert name in equiv.__all__ and callable(getattr(equiv, name))
    for name in ("run_cli", "terminate_as_interrupt", "console", "err_console", "print_json", "show_progress"):
        assert name in cli.__all__ and callable(getattr(cli, name))


def test_several_top_modules_is_a_typed_error_with_the_same_message() -> None:
    src = Source("module a(input x, output y); assign y = x; endmodule\n"
                 "module b(input x, output y); assign y = ~x; endmodule\n", "two.v")
    with pytest.raises(verislice.SeveralTopModulesError) as info:
        verislice.load([src])
    assert info.value.names == ("a", "b")
    assert info.value.message == "several top modules (a, b): choose one with --top"
    assert isinstance(info.value, VerisliceError)


def test_salv_trainer_errors_share_one_root() -> None:
    from salv_trainer.config import ConfigError
    from salv_trainer.data import DataError
    from salv_trainer.errors import SalvError
    from salv_trainer.eval import EvalError
    from salv_trainer.masks import MaskAlignmentError, SpanError, TokenizerOffsetsError
    from salv_trainer.synth import SynthError
    from salv_trainer.training import DataFormatError

    for cls in (ConfigError, DataError, EvalError, MaskAlignmentError, SpanError, TokenizerOffsetsError,
                SynthError, DataFormatError):
        exc = cls("bad input")
        assert isinstance(exc, SalvError) and isinstance(exc, VerisliceError), cls
        assert exc.message == str(exc) == "bad input"
    # callers that caught ValueError before the root existed still do
    for cls in (ConfigError, MaskAlignmentError, SpanError, DataFormatError):
        assert issubclass(cls, ValueError)

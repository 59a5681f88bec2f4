"""`salv-train pairs|stats|prepare` on the command line, and `stats` figures."""

from __future__ import annotations

import json

from test_data_pairs import ROW
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.data import stats

runner = CliRunner()


def _labeled(tmp_path):
    path = tmp_path / "labeled.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    return path


def test_stats_of_labeled_and_pairs(tmp_path):
    labeled = _labeled(tmp_path)
    s = stats(labeled)
    assert s["kind"] == "labeled" and s["candidates"] == 6
    assert s["categories"] == {"fully right": 1, "partially right": 2, "wrong": 1, "broken": 2}
    assert s["verdicts"] == {"COMPILE_ERROR": 1, "NO_CODE": 1, "OK": 4}
    assert s["prompts_with_fully_right"] == 1
    result = runner.invoke(app, ["pairs", str(labeled), "--out", str(tmp_path / "pairs.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pairs"] == 7
    s = stats(tmp_path / "pairs.jsonl")
    assert s["kind"] == "pairs" and s["pairs"] == 7 and s["prompts"] == 1
    assert s["kinds"] == {"complete": 4, "partial": 3}
    # c sizes: 0>1 {z}, 0>2 {y,z}, 0>3 {y,z}, 0>4 {y,z}, 1>2 {y}, 1>3 {y}, 1>4 {y}
    assert s["contrast_signals"] == {"1": 4, "2": 3}
    assert s["rejected_whole_response"] == 4  # 0>3, 1>3 (no parse), 0>4, 1>4 (no code)
    assert 0 < s["chosen_coverage"]["min"] <= s["chosen_coverage"]["max"] == 1.0


def test_cli_tables_when_piped_and_errors(tmp_path):
    labeled = _labeled(tmp_path)
    out = tmp_path / "pairs.jsonl"
    result = runner.invoke(app, ["pairs", str(labeled), "--out", str(out), "--mode", "module"])
    assert result.exit_code == 0
    assert "pairs" in result.stdout and "\x1b[" not in result.stdout  # plain text when piped
    result = runner.invoke(app, ["stats", str(out)])
    assert result.exit_code == 0 and "complete" in result.stdout
    bad = runner.invoke(app, ["pairs", str(labeled), "--out", str(out), "--mode", "cone"])
    assert bad.exit_code == 2 and "error: unknown pair mode 'cone': choose signal or module" in bad.stderr
    missing = runner.invoke(app, ["stats", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "none.jsonl: cannot read" in missing.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x", "responses": [], "labels": []}\n{"id": \n')
    result = runner.invoke(app, ["pairs", str(broken), "--out", str(out)])
    assert result.exit_code == 2 and "broken.jsonl:2:8: error: invalid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_prepare_cli_json(tmp_path):
    src = tmp_path / "raw.jsonl"
    src.write_text(json.dumps({"id": 1, "description": "buffer",
                               "code": "module b(input a, output y); assign y = a; endmodule"}) + "\n"
                   + json.dumps({"id": 2, "description": "none", "code": "module b(input a); endmodule"}) + "\n")
    result = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "p.jsonl"), "--json", "-j", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kept"] == 1 and report["dropped"] == {"no-output": 1}
    help_text = runner.invoke(app, ["label", "--help"]).stdout
    assert "salv-train label samples.jsonl --out labeled.jsonl --jobs 2" in help_text

"""salv_trainer.extract: locate the code in a response without rewriting the response."""

import pytest

from salv_trainer.extract import extract_code


@pytest.mark.parametrize(
    "response, form",
    [
        ("Here:\n```verilog\nmodule a(); endmodule\n```\nDone.", "fence"),
        ("```systemverilog\nmodule a(); endmodule\n```", "fence"),
        ("```\nmodule a(); endmodule\n```", "fence"),
        ("[BEGIN]\nmodule a(); endmodule\n[DONE]", "begin_done"),
        ("The answer is module a(); endmodule and that is all.", "bare"),
    ],
)
def test_forms_and_offsets(response, form):
    block = extract_code(response)
    assert block is not None and block.form == form
    assert block.text == "module a(); endmodule"
    assert response[block.start:block.end] == block.text


def test_last_fenced_module_wins_and_other_languages_are_ignored():
    r = ("First a sketch:\n```verilog\nmodule s(); endmodule\n```\n```python\nprint('module x')\n```\n"
         "Final:\n```verilog\nmodule top(input a, output y);\n  assign y = a;\nendmodule\n```\n")
    block = extract_code(r)
    assert block.text.startswith("module top(")
    assert r[block.start:block.end] == block.text


def test_module_inside_a_comment_is_not_the_start_of_the_code():
    r = ("```verilog\n// The decoder: this module drives `d` from the scan code.\n/* a module\n"
         "   comment */\nmodule kbd(input [15:0] s, output d);\n  assign d = s == 16'h23; // endmodule?\n"
         "endmodule\n```")
    block = extract_code(r)
    assert block.text.startswith("module kbd(")
    assert block.text.endswith("endmodule")
    assert r[block.start:block.end] == block.text


def test_several_modules_are_kept_together():
    r = "```verilog\nmodule sub(); endmodule\n\nmodule top(); sub u(); endmodule\n```"
    assert extract_code(r).text == "module sub(); endmodule\n\nmodule top(); sub u(); endmodule"


def test_truncated_generation_and_no_code():
    block = extract_code("```verilog\nmodule a(input x, output y);\n  assign y = x")
    assert block is not None and block.text.startswith("module a(")
    assert extract_code("I cannot help with that.") is None
    assert extract_code("```python\nprint(1)\n```") is None

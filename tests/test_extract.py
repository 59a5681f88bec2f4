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


@pytest.mark.parametrize("response", [
    "I am not able to write this module.",
    "Sorry, this module is beyond me; the endmodule keyword ends a module, that much I know.",
    "A module: a unit of design. I cannot write it.",
    "```python\nprint('module x')\n```\nNo Verilog module here.",
])
def test_prose_that_mentions_module_is_not_code(response):
    assert extract_code(response) is None


def test_bare_code_needs_a_module_header():
    r = "Here it is: module top(input a, output y); assign y = a; endmodule"
    assert extract_code(r).text == "module top(input a, output y); assign y = a; endmodule"
    # a generation cut off after a real header is still (broken) code
    cut = "module top #(parameter W = 4) (input [W-1:0] a,"
    assert extract_code("Sure.\n" + cut).text == cut
    assert extract_code("module m; endmodule").text == "module m; endmodule"
    assert extract_code("[BEGIN]\nmodule TopModule(input a, output y);\n  assign y").form == "begin_done"

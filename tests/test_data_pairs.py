"""Eq. 1 pairing over hand-made labeled rows (pure functions, no simulator)."""

from __future__ import annotations

import json

import pytest

from salv_trainer.data import DataError, PairsConfig, make_pairs, merge_spans, pairs_for_row, read_rows

# Five responses of one prompt with outputs y and z. Each response is 60 characters; cones are
# made up but distinct so the test can see which cone went where.
R = [f"response {i} ".ljust(60, "x") for i in range(5)]
HEAD, TAIL = [0, 10], [50, 60]


def lab(verdict, outputs, cones, code=True):
    return {"verdict": verdict, "message": "", "outputs": outputs, "cones": cones,
            "code_span": [0, 60] if code else None, "cone_error": ""}


def cones(y, z):
    return {"y": [HEAD, y, TAIL], "z": [HEAD, z, TAIL]}


ROW = {
    "id": "p1",
    "prompt": "Write y and z.",
    "reference": "module ...",
    "responses": R + [R[1]],  # the last one duplicates response 1
    "labels": [
        lab("OK", {"y": "MATCH", "z": "MATCH"}, cones([12, 20], [30, 40])),          # 0 fully right
        lab("OK", {"y": "MATCH", "z": "MISMATCH"}, cones([12, 22], [25, 45])),       # 1 partial
        lab("OK", {"y": "MISMATCH", "z": "MISMATCH"}, cones([11, 19], [31, 41])),    # 2 wrong
        lab("COMPILE_ERROR", {}, {}),                                                  # 3 broken
        lab("NO_CODE", {}, {}, code=False),                                           # 4 no code
        lab("OK", {"y": "MATCH", "z": "MISMATCH"}, cones([12, 22], [25, 45])),       # 5 = dup of 1
    ],
}
CORRECT = {0: {"y", "z"}, 1: {"y"}, 2: set(), 3: set(), 4: set()}  # what Eq. 1 sees


def expected_pairs():
    """Eq. 1 computed independently: every ordered pair with a non-empty contrast set."""
    out = {}
    for a in CORRECT:
        for b in CORRECT:
            c = CORRECT[a] - CORRECT[b]
            if a != b and c:
                out[(a, b)] = sorted(c)
    return out


def test_signal_pairs_follow_eq1():
    pairs = pairs_for_row(ROW)
    got = {(p["chosen_index"], p["rejected_index"]): p["contrast_signals"] for p in pairs}
    assert got == expected_pairs()
    assert len(pairs) == 7
    for p in pairs:
        assert p["chosen"] == R[p["chosen_index"]] and p["rejected"] == R[p["rejected_index"]]
        assert p["kind"] == ("complete" if p["chosen_index"] == 0 else "partial")
        assert p["id"] == "p1" and p["prompt"] == "Write y and z."


def test_spans_are_the_cones_of_the_contrast_signals():
    by = {(p["chosen_index"], p["rejected_index"]): p for p in pairs_for_row(ROW)}
    # 0 vs 1: c = {z}; A's cone of z, B's cone of z
    assert by[0, 1]["chosen_spans"] == [HEAD, [30, 40], TAIL]
    assert by[0, 1]["rejected_spans"] == [HEAD, [25, 45], TAIL]
    # 0 vs 2: c = {y, z}; the union of both cones, merged
    assert by[0, 2]["chosen_spans"] == [HEAD, [12, 20], [30, 40], TAIL]
    assert by[0, 2]["rejected_spans"] == [HEAD, [11, 19], [31, 41], TAIL]
    # 1 vs 2: c = {y}: a partial pair on y only
    assert by[1, 2]["chosen_spans"] == [HEAD, [12, 22], TAIL] and by[1, 2]["kind"] == "partial"
    # the rejected one does not parse: no cone, so its whole response
    assert by[1, 3]["rejected_spans"] == [[0, 60]] and by[1, 3]["chosen_spans"] == [HEAD, [12, 22], TAIL]
    # a fully right one against no code at all: an ordinary full-response pair
    assert by[0, 4]["chosen_spans"] == [[0, 60]] and by[0, 4]["rejected_spans"] == [[0, 60]]
    # a partially right one against no code: the chosen keeps its cone of c, never its wrong z
    assert by[1, 4]["chosen_spans"] == [HEAD, [12, 22], TAIL] and by[1, 4]["rejected_spans"] == [[0, 60]]
    assert {k: p["mask_rule"] for k, p in by.items()} == {
        (0, 1): "cone/cone", (0, 2): "cone/cone", (0, 3): "cone/whole", (0, 4): "whole/whole",
        (1, 2): "cone/cone", (1, 3): "cone/whole", (1, 4): "cone/whole"}


# One candidate per rejected verdict of the rule table in docs/data.md (outputs y and z).
def _table_row() -> dict:
    broken = [lab(v, {}, cones([11, 19], [31, 41])) for v in ("COMPILE_ERROR", "INTERFACE", "TIMEOUT", "REJECTED")]
    return {"id": "t", "prompt": "p", "responses": [f"r{i} ".ljust(60, "x") for i in range(9)], "labels": [
        lab("OK", {"y": "MATCH", "z": "MATCH"}, cones([12, 20], [30, 40])),          # 0 all right
        lab("OK", {"y": "MATCH", "z": "MISMATCH"}, cones([12, 22], [25, 45])),       # 1 some right
        lab("OK", {"y": "MISMATCH", "z": "MISMATCH"}, cones([11, 19], [31, 41])),    # 2 none right
        *broken,                                                                      # 3-6 (cones parse)
        lab("COMPILE_ERROR", {}, {}),                                                 # 7 does not parse
        lab("NO_CODE", {}, {}, code=False),                                          # 8 no code
    ]}


def test_mask_rule_table():
    """Chosen all right / some right against every rejected verdict: the cone of c in the
    chosen unless the paper's full-response pair applies; the rejected's cone only where it was
    simulated (its outputs were judged), else its whole response."""
    by = {(p["chosen_index"], p["rejected_index"]): p for p in pairs_for_row(_table_row())}
    expect = {b: "cone/whole" for b in range(3, 8)} | {1: "cone/cone", 2: "cone/cone", 8: "whole/whole"}
    assert {b: by[0, b]["mask_rule"] for b in range(1, 9)} == expect
    partial = {**expect, 8: "cone/whole"}   # a partially right one against no code: its cone
    del partial[1]
    assert {b: by[1, b]["mask_rule"] for b in range(2, 9)} == partial
    for (a, b), p in by.items():
        if p["mask_rule"].startswith("cone"):
            own = ROW["labels"][a]["cones"]   # 0 and 1 have the cones of ROW's 0 and 1
            assert p["chosen_spans"] == merge_spans(x for s in p["contrast_signals"] for x in own[s])
        if p["mask_rule"].endswith("whole"):
            assert p["rejected_spans"] == [[0, 60]]
    assert by[1, 8]["chosen_spans"] == [HEAD, [12, 22], TAIL]   # z (wrong in 1) never in its mask


def test_pairs_without_a_mask_are_dropped_and_counted(tmp_path):
    row = {"id": "d", "prompt": "p", "responses": ["a" * 30, "b" * 30, "c" * 30, "d" * 30], "labels": [
        lab("OK", {"y": "MATCH", "z": "MISMATCH"}, {}),                              # 0 no cones at all
        lab("OK", {"y": "MATCH", "z": "MATCH"}, {"y": [[0, 9]], "z": [[0, 5], [9, 12]]}),  # 1 all right
        lab("OK", {"y": "MATCH", "z": "MISSING"}, {"y": [[0, 8]]}),                  # 2 lacks z
        lab("OK", {"y": "MISMATCH", "z": "MISSING"}, {"y": [[0, 7]]}),               # 3 lacks z, none right
    ]}
    by = {(p["chosen_index"], p["rejected_index"]): p for p in pairs_for_row(row)}
    assert not any(a == 0 for a, _ in by)           # 0's cone of y is unknown: no pair, no whole chosen
    assert (1, 2) not in by                         # 2 is right on y and has no cone of z
    assert by[1, 3]["mask_rule"] == "cone/whole" and by[1, 3]["rejected_spans"] == [[0, 30]]
    assert by[2, 3]["mask_rule"] == "cone/cone" and by[2, 3]["rejected_spans"] == [[0, 7]]
    labeled = tmp_path / "l.jsonl"
    labeled.write_text(json.dumps(row) + "\n")
    report = make_pairs(labeled, tmp_path / "p.jsonl").to_json()
    assert report["pairs"] == len(by) and report["dropped"] == 3   # 0-2, 0-3 and 1-2


def test_module_mode_is_standard_dpo():
    pairs = pairs_for_row(ROW, PairsConfig(mode="module"))
    assert [(p["chosen_index"], p["rejected_index"]) for p in pairs] == [(0, 1), (0, 2), (0, 3), (0, 4)]
    assert all(p["chosen_spans"] == [[0, 60]] == p["rejected_spans"] and p["kind"] == "complete"
               for p in pairs)


def test_kinds_filter_and_cap_with_seed():
    assert {p["kind"] for p in pairs_for_row(ROW, PairsConfig(kinds=("partial",)))} == {"partial"}
    assert len(pairs_for_row(ROW, PairsConfig(kinds=("complete",)))) == 4
    a = pairs_for_row(ROW, PairsConfig(max_pairs_per_prompt=3, seed=1))
    b = pairs_for_row(ROW, PairsConfig(max_pairs_per_prompt=3, seed=1))
    c = pairs_for_row(ROW, PairsConfig(max_pairs_per_prompt=3, seed=2))
    assert len(a) == 3 and a == b
    assert [p["pair_id"] for p in a] != [p["pair_id"] for p in c]
    full = [p["pair_id"] for p in pairs_for_row(ROW)]
    assert [p["pair_id"] for p in a] == [x for x in full if x in {p["pair_id"] for p in a}]  # order kept


def test_ambiguous_outputs_never_enter_a_contrast_set():
    row = {"id": "amb", "prompt": "p", "responses": ["a" * 20, "b" * 20], "labels": [
        lab("OK", {"y": "MATCH", "q": "AMBIGUOUS"}, {"y": [[0, 5]], "q": [[5, 9]]}),
        lab("OK", {"y": "MISMATCH", "q": "AMBIGUOUS"}, {"y": [[0, 6]], "q": [[6, 9]]}),
    ]}
    [pair] = pairs_for_row(row)
    assert pair["contrast_signals"] == ["y"] and pair["kind"] == "complete"  # AMBIGUOUS doesn't count against


def test_formal_verdicts_count_as_correct():
    row = {"id": "f", "prompt": "p", "responses": ["a" * 9, "b" * 9], "labels": [
        lab("OK", {"y": "PROVEN"}, {"y": [[0, 9]]}), lab("OK", {"y": "UNKNOWN"}, {"y": [[0, 9]]})]}
    assert [p["contrast_signals"] for p in pairs_for_row(row)] == [["y"]]


def test_merge_spans():
    assert merge_spans([[5, 9], [0, 3], [3, 4], [8, 12], [7, 7]]) == [[0, 4], [5, 12]]


def test_make_pairs_file_and_errors(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "id": "p2", "labels": ROW["labels"][:2]}) + "\n")
    with pytest.raises(DataError, match=r"labeled.jsonl:2:1: error: 6 responses but 2 labels"):
        make_pairs(labeled, tmp_path / "pairs.jsonl")
    labeled.write_text(json.dumps(ROW) + "\n")
    report = make_pairs(labeled, tmp_path / "pairs.jsonl")
    assert report.to_json() == {"prompts": 1, "prompts_with_pairs": 1, "pairs": 7,
                                "kinds": {"complete": 4, "partial": 3},
                                "mask_rules": {"cone/cone": 3, "cone/whole": 3, "whole/whole": 1},
                                "dropped": 0}
    rows = read_rows(tmp_path / "pairs.jsonl", unique_ids=False)
    assert len(rows) == 7 and len({r["pair_id"] for r in rows}) == 7
    with pytest.raises(DataError, match="unknown pair kind wrong: choose from complete, partial"):
        PairsConfig(kinds=("wrong",))

"""Signal-aware DPO through real chat templates and byte-level BPE tokenizers (issue 13, items 2-3).

No model hub here, so each tokenizer is trained offline with ``tokenizers`` and given the
behaviours of the real ones that matter for the mask: ``"\\n\\n"`` as one token (Qwen2.5, Llama 3),
added special tokens, left padding, BOS written by the template, and these chat templates:

* ``chatml``: Qwen2.5's ChatML; a response that starts with a newline merges with the newline after
  ``assistant`` into one ``"\\n\\n"`` token;
* ``llama3``: Llama 3's header template, ``message['content'] | trim``, a Llama 3 style tokenizer
  (its split regex, ``ignore_merges``, BOS);
* ``gemma``: Gemma's ``<start_of_turn>model`` turns, also ``| trim``;
* ``think``: Qwen3 style: ``<think>\\n\\n</think>\\n\\n`` injected into every assistant turn, and a
  response's own think block cut off (``content.split('</think>')[-1]``);
* ``generation``: ChatML with ``{% generation %}`` around the assistant content.

Each runs ``pairs -> dpo``: labeled candidates (real verislice cones) -> ``make_pairs`` ->
``train_dpo`` for a few steps, then checks on a trainer built from the same pairs that every pair is
either trained with masks whose tokens decode to exactly its cone text (and Eq. 2 recomputed by hand
matches the trainer's loss) or dropped with a counted reason, and that no mask is silently empty.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig

from salv_trainer._trainer_setup import checkpointing_kwarg
from salv_trainer.masks import MaskAlignmentError, normalize_spans
from salv_trainer.tiny import CHAT_TEMPLATE, DEFAULT_CORPUS, build_tiny_model, build_tiny_tokenizer, save_tiny
from salv_trainer.training import DPORunConfig, SignalAwareDPOTrainer, load_pairs, pairs_to_dataset, train_dpo

warnings.filterwarnings("ignore", category=FutureWarning)

# ------------------------------------------------------------------------------ the candidates

HEADER = "module top_module(input a, input b, output x, output y);\n"
BODY = HEADER + "  assign x = a & b;\n  assign y = a | b;\nendmodule\n"


def fence(code: str) -> str:
    return "```verilog\n" + code + "```"


# (response, verdict per output); the odd ones are what real samplers write
CANDIDATES = [
    ("\n" + fence(BODY) + "\n", {"x": "MATCH", "y": "MATCH"}),  # starts and ends with a newline
    (fence(BODY.replace("a | b", "a ^ b")), {"x": "MATCH", "y": "MISMATCH"}),
    ("Here is the module.\n\n" + fence(BODY.replace("a & b", "~a")) + "\n\n", {"x": "MISMATCH", "y": "MATCH"}),
    ("<think>\nx is an AND.\n</think>\n\n" + fence(BODY.replace("a | b", "a & b")), {"x": "MATCH", "y": "MISMATCH"}),
    ("Sorry, I cannot.", None),  # no code: paired as a whole response
]
PROMPTS = ["x is a AND b, y is a OR b.", "Drive x with a AND b and y with a OR b."]

# text for the tokenizers: Verilog, prose and many blank lines, so that BPE learns "\n\n"
CORPUS = list(DEFAULT_CORPUS) + [c for c, _ in CANDIDATES] + PROMPTS + ["One.\n\nTwo.\n\n\nThree.\n\n"] * 20

# ------------------------------------------------------------------------------ chat templates

THINK_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

GENERATION_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

GEMMA_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{{- '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)

LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def kept_content(template: str, response: str) -> tuple[str, int]:
    """By hand, per template: the part of ``response`` the template writes, and where it starts."""
    if template in ("llama3", "gemma"):
        return response.strip(), len(response) - len(response.lstrip())
    if template == "think" and "</think>" in response:
        kept = response.split("</think>")[-1].lstrip("\n")
        return kept, len(response) - len(kept)
    return response, 0


# ------------------------------------------------------------------------------ tokenizers + models


def qwen_style_dir(out: Path, template: str, extra_tokens: tuple[str, ...] = ()) -> Path:
    """salv_trainer.tiny's Qwen2 tokenizer (ChatML specials, left padding) with another template."""
    tok = build_tiny_tokenizer(CORPUS, vocab_size=420)
    if extra_tokens:
        tok.add_tokens(list(extra_tokens))  # Qwen3's <think> / </think> are added, non-special tokens
    tok.chat_template = template
    return save_tiny(build_tiny_model(tok, hidden=32, layers=1, heads=4, kv_heads=2), tok, out)


def llama_style_dir(out: Path, template: str, specials: list[str], *, bos: str, eos: str, pad: str) -> Path:
    """A Llama 3 style byte-level BPE (its split regex, ``ignore_merges``, BOS post-processor),
    saved next to a tiny Llama model the way Meta ships it (``PreTrainedTokenizerFast``)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(ignore_merges=True))
    raw.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(CORPUS, trainer=trainers.BpeTrainer(
        vocab_size=420, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    raw.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                      special_tokens=[(bos, raw.token_to_id(bos))]),
    ])
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=bos, eos_token=eos, pad_token=pad,
                                  additional_special_tokens=[s for s in specials if s not in (bos, eos, pad)],
                                  padding_side="left", model_max_length=4096)
    tok.chat_template = template
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"  # as in Meta's Llama 3 repositories
    cfg_path.write_text(json.dumps(cfg))
    return out


def make_model_dir(name: str, out: Path) -> Path:
    if name == "chatml":
        return qwen_style_dir(out, CHAT_TEMPLATE)
    if name == "generation":
        return qwen_style_dir(out, GENERATION_TEMPLATE)
    if name == "think":
        return qwen_style_dir(out, THINK_TEMPLATE, ("<think>", "</think>"))
    if name == "llama3":
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                    "<|eot_id|>", "<|finetune_right_pad_id|>"]
        return llama_style_dir(out, LLAMA3_TEMPLATE, specials, bos="<|begin_of_text|>", eos="<|eot_id|>",
                               pad="<|finetune_right_pad_id|>")
    if name == "gemma":
        specials = ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"]
        return llama_style_dir(out, GEMMA_TEMPLATE, specials, bos="<bos>", eos="<end_of_turn>", pad="<pad>")
    raise ValueError(name)


TEMPLATES = ["chatml", "llama3", "gemma", "think", "generation"]


@pytest.fixture(scope="module", params=TEMPLATES)
def model_dir(request, tmp_path_factory):
    path = make_model_dir(request.param, tmp_path_factory.mktemp(request.param))
    tok = AutoTokenizer.from_pretrained(path)
    # the behaviours this file is about, on the tokenizer exactly as training loads it
    assert len(tok("a\n\nb", add_special_tokens=False).input_ids) == 3, "'\\n\\n' must be one token"
    assert tok.padding_side == "left" and tok.pad_token_id != tok.eos_token_id
    return request.param, path


# ------------------------------------------------------------------------------ pairs (real cones)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    """labeled rows (cones from verislice, verdicts given) -> salv-train pairs -> pairs.jsonl."""
    from salv_trainer.data import PairsConfig, make_pairs
    from salv_trainer.data.label import cone_spans

    d = tmp_path_factory.mktemp("pairs")
    labels = []
    for response, outputs in CANDIDATES:
        if outputs is None:
            labels.append({"verdict": "NO_CODE", "message": "no module", "outputs": {}, "cones": {},
                           "code_span": None, "cone_error": ""})
            continue
        start = response.index("module ")
        end = response.index("endmodule") + len("endmodule\n")
        cones, error = cone_spans(response[start:end], offset=start)
        assert not error and set(cones) == {"x", "y"}
        labels.append({"verdict": "OK", "message": "", "outputs": outputs, "cones": cones,
                       "code_span": [start, end], "cone_error": ""})
    rows = [{"id": f"t{i}", "prompt": p, "reference": BODY, "responses": [c for c, _ in CANDIDATES],
             "labels": labels} for i, p in enumerate(PROMPTS)]
    (d / "labeled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # signal-aware pairs (cone spans) and the standard-DPO baseline's pairs (whole responses)
    make_pairs(d / "labeled.jsonl", d / "signal.jsonl", PairsConfig(mode="signal"))
    make_pairs(d / "labeled.jsonl", d / "module.jsonl", PairsConfig(mode="module"))
    pairs = [json.loads(line) for line in (d / "signal.jsonl").read_text().splitlines()]
    pairs += [dict(p, pair_id="module:" + p["pair_id"])
              for p in map(json.loads, (d / "module.jsonl").read_text().splitlines())]
    (d / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return d / "pairs.jsonl"


# ------------------------------------------------------------------------------ oracles


def expected_cone_texts(response: str, spans: list[list[int]], template: str) -> list[str]:
    """The cone text, per stretch of spans separated by more than whitespace (what the template keeps)."""
    kept, k0 = kept_content(template, response)
    merged: list[list[int]] = []
    for a, b in normalize_spans(spans, len(response)):
        a, b = max(a, k0), min(b, k0 + len(kept))
        if a >= b:
            continue
        if merged and not response[merged[-1][1]:a].strip():
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [response[a:b].strip() for a, b in merged if response[a:b].strip()]


def decoded_mask_runs(tok, ids: list[int], mask: list[int]) -> list[str]:
    """Decoded text of each run of masked tokens (special tokens and surrounding blanks left out)."""
    runs, cur = [], []
    for t, m in zip(ids, mask):
        if m:
            cur.append(t)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    texts = [tok.decode(r, skip_special_tokens=True).strip() for r in runs]
    # a whitespace-only run (a token straddling a blank gap) belongs to no stretch of cone text
    return [t for t in texts if t]


def conversation(tok, row, side):
    ds = pairs_to_dataset([row], tok)
    return ds[0]["prompt"] + ds[0][side]


def hand_mask(tok, template: str, row: dict, side: str) -> tuple[list[int], list[int]]:
    """Eq. 2's token set, by hand: the full templated sequence and a 0/1 per token.

    A token counts when it shares a character with the cone placed where the template wrote the
    response (not when that is only a blank and the token holds other code); the end of turn
    counts when a span reaches the end of what the template kept of the response."""
    response, spans = row[side], row[f"{side}_spans"]
    text = tok.apply_chat_template(conversation(tok, row, side), tokenize=False)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    kept, k0 = kept_content(template, response)
    t0 = text.rindex(kept)  # the last turn is the assistant's
    t1 = t0 + len(kept)
    in_cone = {i - k0 + t0 for a, b in spans for i in range(max(a, k0), min(b, k0 + len(kept)))}
    reaches_end = any(b >= k0 + len(kept) > a for a, b in spans)

    def counts(s, e):
        inside = "".join(text[i] for i in range(s, e) if i in in_cone)
        # the boundary rule: a blank overlap does not pull in a token's non-blank text outside
        return bool(inside) and (bool(inside.strip()) or not text[s:e].strip())

    mask = [int(counts(s, e) or (reaches_end and s >= t1)) for s, e in enc.offset_mapping]
    return list(enc.input_ids), mask


def summed_logp(model, ids: list[int], mask: list[int], *, adapter: bool) -> torch.Tensor:
    x = torch.tensor([ids])
    ctx = model.disable_adapter() if not adapter else torch.enable_grad()
    with torch.no_grad(), ctx:
        logits = model(input_ids=x).logits[0, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(1, x[0, 1:, None])[:, 0]
    return (logp * torch.tensor(mask[1:])).sum()


def perturb_lora(model, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


LORA = dict(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


def build_trainer(path, rows, tmp_path, tok=None, mask="cone"):
    tok = tok or AutoTokenizer.from_pretrained(path)
    args = DPOConfig(output_dir=str(tmp_path / "tr"), per_device_train_batch_size=2, max_length=1024,
                     report_to=[], beta=0.1, seed=0, disable_tqdm=True, bf16=False,
                     **checkpointing_kwarg(False))
    tr = SignalAwareDPOTrainer(model=AutoModelForCausalLM.from_pretrained(path), args=args,
                               train_dataset=pairs_to_dataset(rows, tok), processing_class=tok,
                               peft_config=LoraConfig(**LORA), mask_mode=mask)
    return tr


def expected_drops(template: str, rows: list[dict]) -> dict[str, str]:
    """The pairs a template cannot train on, by hand: Qwen3's template cuts a response's own think
    block, so a pair whose cone includes it (the whole response, in a standard-DPO pair) has cone
    text that is never trained on. Trimmed blanks are not cone text."""
    out = {}
    for row in rows:
        for side in ("chosen", "rejected"):
            kept, k0 = kept_content(template, row[side])
            cut = [row[side][a:b] for a, b in row[f"{side}_spans"]
                   if row[side][a:min(b, k0)].strip() or row[side][max(a, k0 + len(kept)):b].strip()]
            if cut and row["pair_id"] not in out:
                out[row["pair_id"]] = "template_drops_cone_text"
    return out


# ------------------------------------------------------------------------------ the tests


def test_pairs_to_dpo_trains_every_alignable_row_with_its_exact_cone(model_dir, pairs_file, tmp_path):
    template, path = model_dir
    rows, _ = load_pairs(pairs_file)
    assert len(rows) == 2 * (11 + 4)  # per prompt: 11 signal-aware pairs, 4 standard-DPO pairs
    expected = expected_drops(template, rows)
    assert len(expected) == (2 if template == "think" else 0)  # the think block of candidate 3

    # 1. the run finishes (it used to stop with "the chat template does not reproduce the response tokens")
    cfg = DPORunConfig(model=str(path), pairs=str(pairs_file), output_dir=str(tmp_path / "dpo"), max_steps=2,
                       per_device_batch_size=2, logging_steps=1, save_steps=100, learning_rate=1e-3,
                       max_length=1024)
    result = train_dpo(cfg)
    assert result.steps == 2
    data = result.data
    assert data["rows_trained"] == len(rows) - len(expected)
    assert data["dropped_unaligned"] == len(expected)
    assert data["rows_trained"] + data["dropped_empty"] + data["dropped_truncated"] + data["dropped_unaligned"] \
        == data["rows_tokenized"] == len(rows)
    assert sum(data["unaligned_reasons"].values()) == data["dropped_unaligned"]

    # 2. every pair: trained with masks that decode to its cone text, or dropped with its reason
    tr = build_trainer(path, rows, tmp_path)
    tok = tr.processing_class
    stats = tr.mask_stats["train"]
    assert dict(stats.unaligned_reasons) == ({"template_drops_cone_text": len(expected)} if expected else {})
    dropped = {d["id"]: d["reason"] for d in stats.unaligned}
    assert dropped == expected
    trained = {ex["id"]: ex for ex in tr.train_dataset}
    assert set(trained) | set(dropped) == {r["pair_id"] for r in rows} and not set(trained) & set(dropped)
    for row in rows:
        if row["pair_id"] in dropped:
            continue
        ex = trained[row["pair_id"]]
        for side in ("chosen", "rejected"):
            mask = ex[f"{side}_token_mask"]
            assert len(mask) == len(ex[f"{side}_ids"]) and sum(mask) > 0, (row["pair_id"], side)  # never silent
            want = expected_cone_texts(row[side], row[f"{side}_spans"], template)
            got = decoded_mask_runs(tok, ex[f"{side}_ids"], mask)
            assert got == want, (row["pair_id"], side)

    # 3. Eq. 2 by hand on the templated sequence equals the trainer's loss (three pairs, one batch)
    perturb_lora(tr.model)
    batch_rows = [rows[i] for i in (0, 3, 9) if rows[i]["pair_id"] in trained]
    examples = [{c: trained[r["pair_id"]][c] for c in ("prompt_ids", "chosen_ids", "rejected_ids",
                                                        "chosen_token_mask", "rejected_token_mask")}
                for r in batch_rows]
    tr.model.train()
    loss = tr.compute_loss(tr.model, tr._prepare_inputs(tr.data_collator(examples))).item()

    def log_ratio(row, side):
        ids, mask = hand_mask(tok, template, row, side)
        ex = trained[row["pair_id"]]
        assert ids == ex["prompt_ids"] + ex[f"{side}_ids"]
        assert mask[len(ex["prompt_ids"]):] == ex[f"{side}_token_mask"] and not any(mask[:len(ex["prompt_ids"])])
        return summed_logp(tr.model, ids, mask, adapter=True) - summed_logp(tr.model, ids, mask, adapter=False)

    per_pair = [-F.logsigmoid(0.1 * (log_ratio(r, "chosen") - log_ratio(r, "rejected"))) for r in batch_rows]
    assert loss == pytest.approx(torch.stack(per_pair).mean().item(), abs=1e-5)
    assert abs(loss - 0.6931) > 1e-4  # a real comparison, not log 2 at an untouched adapter


def test_full_mask_needs_no_alignment_and_drops_nothing(model_dir, pairs_file, tmp_path):
    """--mask full is standard DPO: TRL's batches whatever the template does to the responses."""
    template, path = model_dir
    rows, _ = load_pairs(pairs_file)
    tr = build_trainer(path, rows, tmp_path, mask="full")
    stats = tr.mask_stats["train"]
    assert stats.rows_trained == len(rows) and stats.dropped_unaligned == 0
    for ex in tr.train_dataset:
        assert ex["chosen_token_mask"] == [1] * len(ex["chosen_ids"])


def test_salv_train_dpo_exits_0_when_a_response_starts_with_a_newline(pairs_file, tmp_path):
    """The whole run used to exit 2 on one chosen response starting with "\\n" (ChatML, "\\n\\n" token)."""
    from typer.testing import CliRunner

    from salv_trainer.cli import app

    path = make_model_dir("chatml", tmp_path / "chatml")
    result = CliRunner().invoke(app, ["dpo", "--model", str(path), "--pairs", str(pairs_file), "--output-dir",
                                      str(tmp_path / "dpo"), "--max-steps", "1", "--per-device-batch-size", "2",
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["data"]["rows_trained"] == 30 and summary["data"]["dropped_unaligned"] == 0


# ------------------------------------------------------------------------------ rows that cannot align


def test_a_template_that_rewrites_some_responses_drops_those_rows_and_counts_them(pairs_file, tmp_path):
    """A template that rewrites the content (here: it expands tabs) cannot be aligned for the rows it
    changes: those are dropped with a reason, the others train, the run never aborts."""
    path = qwen_style_dir(tmp_path / "tabs", CHAT_TEMPLATE.replace("message['content']",
                                                                   "message['content'] | replace('\\t', '    ')"))
    rows, _ = load_pairs(pairs_file)

    def with_tab(row):  # the pairs whose chosen response is indented with a tab
        chosen = row["chosen"].replace("  assign y", "\tassign y")
        return dict(row, chosen=chosen, chosen_spans=[[0, len(chosen)]])

    rows = [with_tab(r) if r["chosen"] == CANDIDATES[1][0] else r for r in rows]
    n_tabbed = sum("\t" in r["chosen"] for r in rows)
    assert n_tabbed == 4
    tr = build_trainer(path, rows, tmp_path)
    stats = tr.mask_stats["train"]
    assert stats.dropped_unaligned == n_tabbed and stats.rows_trained == len(rows) - n_tabbed
    assert stats.unaligned_reasons == {"template_rewrites_response": n_tabbed}
    assert all(d["side"] == "chosen" and "does not write the response" in d["detail"] for d in stats.unaligned)


def test_when_no_row_can_be_aligned_the_run_stops_with_the_reasons(tmp_path, pairs_file):
    path = qwen_style_dir(tmp_path / "upper", CHAT_TEMPLATE.replace("message['content']",
                                                                    "message['content'] | upper"))
    rows, _ = load_pairs(pairs_file)
    with pytest.raises(ValueError, match=r"no row of the train dataset can be trained on: "
                                         r"30 cannot be aligned with the chat template \(30 template_rewrites"):
        build_trainer(path, rows, tmp_path)


# ------------------------------------------------------------------------------ offsets (item 3)


def _zero_width(tok, every: int):
    """The tokenizer with the offsets bug of tokenizers < 0.20.1 for Llama 3 (``ignore_merges``):
    tokens found whole in the vocabulary get zero-width offsets ``(start, start)``."""

    class ZeroWidthOffsets(type(tok)):
        def __call__(self, *args, **kwargs):
            enc = super().__call__(*args, **kwargs)
            if "offset_mapping" in enc:
                enc["offset_mapping"] = [(s, s) if i % every == 0 else (s, e)
                                         for i, (s, e) in enumerate(enc["offset_mapping"])]
            return enc

    tok.__class__ = ZeroWidthOffsets
    return tok


@pytest.mark.parametrize("every", [1, 3], ids=["every token", "some tokens"])
def test_offsets_that_do_not_cover_the_response_fail_loudly(tmp_path, pairs_file, every):
    path = make_model_dir("chatml", tmp_path / "chatml")
    tok = _zero_width(AutoTokenizer.from_pretrained(path), every)
    rows, _ = load_pairs(pairs_file)
    rows = [r for r in rows if not r["chosen"].startswith("\n")]  # pairs that align with any fix or none
    with pytest.raises(MaskAlignmentError) as err:
        build_trainer(path, rows, tmp_path, tok=tok)
    msg = str(err.value)
    assert "ZeroWidthOffsets" in msg and str(path) in msg
    assert "offset mapping" in msg and "zero-width" in msg and "not covered" in msg

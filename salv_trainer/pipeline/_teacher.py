"""Teacher-forced metrics of a DPO policy against its reference, on held-out preference pairs.

Generation scores (pass@1) move slowly; these take seconds and say whether a variant moved the
policy in the right direction at all. For each pair (chosen ``w``, rejected ``l``) of the
validation split, with ``Δ(y) = log π(y|x) - log π_ref(y|x)`` summed over the completion tokens
(TRL's tokenization through the chat template, end-of-turn tokens included):

* **reward accuracy**: the share of pairs whose DPO implicit reward ranks them right,
  ``β (Δ(w) - Δ(l)) > 0``; **reward margin**: the mean of ``β (Δ(w) - Δ(l))``. Both over whole
  responses (the standard DPO reward, the same yardstick for every variant), and over the
  pair's cone spans (``cone_*``, Eq. 2's reward);
* **chosen shift**: the mean ``Δ(w)``; negative when DPO pushed the chosen responses down too (the
  known failure of a too large learning rate);
* **signal shift**, for each contrast signal ``s`` of a pair (an output right in ``w``, wrong in
  ``l``): ``[log π(w_s) - log π(l_s)] - [log π_ref(w_s) - log π_ref(l_s)]``, where ``w_s`` /
  ``l_s`` are the tokens of ``s``'s backward cone in each response (its right and its wrong
  statement, through whatever intermediate signals it reads, and the module header both share).
  Positive: the policy now prefers the right statement more than the reference did.

``pair_logps`` does the forward passes for one model (each distinct response once); the metrics
combine a policy's and a reference's records, so the SFT model's are computed once per seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data import read_jsonl, read_rows
from ..masks import MaskAlignmentError, completion_token_mask, template_frame
from ..prompts import DEFAULT_SYSTEM, build_messages

__all__ = ["load_scoring_model", "pair_logps", "signal_pairs", "teacher_metrics"]


def signal_pairs(pairs_path: str | Path, labeled_path: str | Path) -> list[dict[str, Any]]:
    """The rows of a pairs file, each with ``signal_spans``: ``{signal: [chosen cone, rejected
    cone]}`` for every contrast signal that has a cone on both sides (from the labeled file)."""
    labeled = {str(r["id"]): r for r in read_rows(labeled_path)}
    out = []
    for _, p in read_jsonl(pairs_path):  # several pairs share a prompt id
        labels = labeled[str(p["id"])]["labels"]
        won = labels[p["chosen_index"]].get("cones") or {}
        lost = labels[p["rejected_index"]].get("cones") or {}
        spans = {s: [won[s], lost[s]] for s in p.get("contrast_signals", []) if won.get(s) and lost.get(s)}
        out.append({**p, "signal_spans": spans})
    return out


def load_scoring_model(model_dir: str | Path) -> tuple[Any, Any]:
    """Model (a PEFT adapter on its base, or a plain model) and tokenizer, on the CPU in eval mode."""
    from ..generate import load_model

    return load_model(model_dir, device="cpu", dtype="float32")


def _token_logps(model: Any, ids: Sequence[int], start: int) -> list[float]:
    """log p(ids[t] | ids[:t]) for t >= start."""
    import torch

    x = torch.tensor([list(ids)], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=x).logits[0, start - 1:-1].float()
    logp = torch.log_softmax(logits, -1).gather(1, x[0, start:, None])[:, 0]
    return logp.tolist()


class _Scorer:
    """Token log-probs of each distinct (prompt, response) once, and masked sums over them."""

    def __init__(self, model: Any, tokenizer: Any, system: str) -> None:
        self.model, self.tok, self.system = model, tokenizer, system
        self.cache: dict[tuple[str, str], tuple[str, list[int], int, list[float], Any]] = {}

    def _encode(self, row: Mapping[str, Any], response: str):
        key = (str(row["prompt"]) + "\0" + str(row.get("module_header")), response)
        if key not in self.cache:
            messages = build_messages(row["prompt"], module_header=row.get("module_header"), system=self.system)
            prompt_text = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            full_text = self.tok.apply_chat_template(
                messages + [{"role": "assistant", "content": response}], tokenize=False)
            prompt_ids = self.tok(prompt_text, add_special_tokens=False).input_ids
            full_ids = self.tok(full_text, add_special_tokens=False).input_ids
            n = 0  # where prompt and prompt+completion diverge, as TRL cuts the completion
            while n < min(len(prompt_ids), len(full_ids)) and prompt_ids[n] == full_ids[n]:
                n += 1
            frame = template_frame(self.tok, messages)
            self.cache[key] = (full_text, full_ids, n, _token_logps(self.model, full_ids, n), frame)
        return self.cache[key]

    def total(self, row: Mapping[str, Any], response: str, spans: Sequence[Sequence[int]] | None) -> float | None:
        """Sum of the completion's token log-probs, over every token (``spans`` None) or the
        tokens of ``spans`` (the trainer's cone rule); None when the spans cannot be aligned."""
        text, ids, n, logps, frame = self._encode(row, response)
        if spans is None:
            return float(sum(logps))
        try:
            mask = completion_token_mask(self.tok, text, response, spans, ids, n, "cone", frame=frame)
        except MaskAlignmentError:
            return None
        return float(sum(lp for lp, m in zip(logps, mask) if m))


def pair_logps(model: Any, tokenizer: Any, pairs: Iterable[Mapping[str, Any]], *,
               system: str = DEFAULT_SYSTEM) -> list[dict[str, Any]]:
    """Per pair: summed log-probs under ``model`` of the whole chosen and rejected responses
    (``chosen``, ``rejected``), of their cone spans (``chosen_cone``, ``rejected_cone``) and, per
    contrast signal, of its right and wrong statement (``signals``: ``{s: [right, wrong]}``)."""
    was_training = getattr(model, "training", False)
    model.eval()
    scorer = _Scorer(model, tokenizer, system)
    out = []
    try:
        for p in pairs:
            rec = {"pair_id": p.get("pair_id") or p.get("id"), "kind": p.get("kind", "complete"),
                   "chosen": scorer.total(p, p["chosen"], None),
                   "rejected": scorer.total(p, p["rejected"], None),
                   "chosen_cone": scorer.total(p, p["chosen"], p.get("chosen_spans")),
                   "rejected_cone": scorer.total(p, p["rejected"], p.get("rejected_spans")),
                   "signals": {}}
            for s, (right, wrong) in (p.get("signal_spans") or {}).items():
                r, w = scorer.total(p, p["chosen"], right), scorer.total(p, p["rejected"], wrong)
                if r is not None and w is not None:
                    rec["signals"][s] = [r, w]
            out.append(rec)
    finally:
        if was_training:
            model.train()
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def teacher_metrics(policy: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]],
                    beta: float) -> dict[str, Any]:
    """Reward accuracy and margin (whole responses and cones), chosen shift and signal shift of
    ``policy`` against ``reference`` (records of :func:`pair_logps` on the same pairs)."""
    ref = {r["pair_id"]: r for r in reference}
    margins, cone_margins, chosen_shift, signal_shift = [], [], [], []
    for p in policy:
        r = ref[p["pair_id"]]
        margins.append(beta * ((p["chosen"] - r["chosen"]) - (p["rejected"] - r["rejected"])))
        chosen_shift.append(p["chosen"] - r["chosen"])
        if None not in (p["chosen_cone"], p["rejected_cone"], r["chosen_cone"], r["rejected_cone"]):
            cone_margins.append(beta * ((p["chosen_cone"] - r["chosen_cone"])
                                        - (p["rejected_cone"] - r["rejected_cone"])))
        for s, (right, wrong) in p["signals"].items():
            if s in r["signals"]:
                ref_right, ref_wrong = r["signals"][s]
                signal_shift.append((right - wrong) - (ref_right - ref_wrong))
    return {
        "pairs": len(margins),
        "beta": beta,
        "reward_accuracy": _mean([float(m > 0) for m in margins]),
        "reward_margin": _mean(margins),
        "cone_reward_accuracy": _mean([float(m > 0) for m in cone_margins]),
        "cone_reward_margin": _mean(cone_margins),
        "chosen_shift": _mean(chosen_shift),
        "signals": len(signal_shift),
        "signal_shift": _mean(signal_shift),
        "signal_shift_positive": _mean([float(x > 0) for x in signal_shift]),
    }

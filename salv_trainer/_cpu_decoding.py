"""Faster HF decoding on a CPU for grouped-query-attention models, without changing a token.

Measured on the miniature's model (Qwen2 layout, 4 query heads over 2 key/value heads, one torch
thread, batch 40; ``tools/bench_sample.py`` measures both paths): HF ``generate`` spent most of each step copying
the KV cache, not computing. Two copies, two fixes:

- transformers' ``sdpa`` attention repeats every key/value head to the query heads whenever a mask
  is given (its fused GQA path is for masks-free CUDA kernels), so each decoding step copied the
  whole cache once per layer. :data:`ATTENTION` is the same scaled-dot-product attention with
  torch's ``enable_gqa``: the kernel reads each key/value head for its query group in place.
- the default dynamic cache grows by ``torch.cat`` each step (another full copy); a static cache
  (:func:`generate_kwargs`) writes each step's keys in place.

Both give the same logits up to float rounding; the greedy answers of the miniature's test split
are token for token the same (``tests/test_generate.py`` pins that on a tiny GQA model). Neither
is used on a GPU, where transformers' kernels are already the fast ones.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ATTENTION", "generate_kwargs", "use_gqa_attention"]

#: The attention implementation registered with transformers under this name.
ATTENTION = "salv_sdpa_gqa"
_registered = False


def _sdpa_gqa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
              dropout: float = 0.0, scaling: float | None = None, is_causal: bool | None = None,
              **_: Any) -> tuple[Any, None]:
    import torch

    # transformers' rule: the causal flag only when no mask is given and more than one query
    causal = (query.shape[2] > 1 and attention_mask is None
              and (is_causal if is_causal is not None else getattr(module, "is_causal", True)))
    groups = getattr(module, "num_key_value_groups", 1)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling,
        is_causal=causal, enable_gqa=groups > 1)
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, _sdpa_gqa)
    # the mask must be built as for sdpa (boolean, padding included); an unknown name gets none
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    _registered = True


def use_gqa_attention(model: Any) -> bool:
    """Switch ``model`` (a transformers or PEFT model, loaded) to :data:`ATTENTION` when it runs
    on a CPU, its key/value heads are fewer than its query heads and its layers use transformers'
    attention interface; True when switched."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    heads = getattr(config, "num_attention_heads", None)
    kv = getattr(config, "num_key_value_heads", None)
    if (next(base.parameters()).device.type != "cpu" or not heads or not kv or kv >= heads
            or not getattr(base, "_can_set_attn_implementation", lambda: False)()):
        return False
    _register()
    base.set_attn_implementation(ATTENTION)
    return True


def generate_kwargs(model: Any) -> dict[str, Any]:
    """Extra ``generate`` arguments for ``model``: a static KV cache on a CPU when the model
    supports one (its cache then is written in place instead of grown by concatenation)."""
    device = next(model.parameters()).device
    if device.type != "cpu" or not getattr(model, "_can_compile_fullgraph", False):
        return {}
    return {"cache_implementation": "static"}

"""Tiny, fully offline language models for tests, examples and from-scratch experiments.

No model hub is needed: the tokenizer is a byte-level BPE trained in a fraction of a second with
``tokenizers`` on whatever text you give it (Verilog by default), and the model is a randomly
initialised Qwen2 causal LM built from a config. Both are saved in the standard Hugging Face layout,
so every part of the project (``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained``, TRL,
PEFT, ``salv-train sft|dpo|sample``) treats the directory like any downloaded checkpoint.

Typical use in a test::

    @pytest.fixture(scope="session")
    def tiny_model(tmp_path_factory):
        return make_tiny_model_dir(tmp_path_factory.mktemp("tiny"))

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)

The tokenizer carries a ChatML chat template (``<|im_start|>role\\n...<|im_end|>\\n``, like Qwen),
so :func:`salv_trainer.prompts.render_prompt` and TRL's conversational datasets work unchanged.
Its ``eos_token`` is ``<|im_end|>`` (generation stops at the end of the assistant turn) and it has
a dedicated ``<|pad|>`` token. Offsets are not trimmed, so ``return_offsets_mapping`` covers every
character of the text (spaces included); :mod:`salv_trainer.masks` checks that every non-blank
character is covered. Train it on text with blank lines and ``"\n\n"`` becomes one token, as in
Qwen2.5 and Llama 3 (``tests/test_train_templates.py`` builds such tokenizers, other chat
templates and a Llama 3 style tokenizer on top of this kit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError

__all__ = [
    "CHAT_TEMPLATE",
    "DEFAULT_CORPUS",
    "SPECIAL_TOKENS",
    "TinyModelConfig",
    "build_tiny_model",
    "build_tiny_tokenizer",
    "make_tiny_model_dir",
    "save_tiny",
]

#: Special tokens of every tiny tokenizer, in id order (ids 0..3).
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>")

#: ChatML, as used by Qwen2.5 instruct models (no default system prompt is injected).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

#: A few small modules and sentences: enough for a tokenizer that splits Verilog sensibly.
DEFAULT_CORPUS: tuple[str, ...] = (
    "module top_module(input a, input b, output out);\n  assign out = a & b;\nendmodule\n",
    "module mux2(input [7:0] a, input [7:0] b, input sel, output [7:0] y);\n"
    "  assign y = sel ? b : a;\nendmodule\n",
    "module counter(input clk, input reset, output reg [3:0] q);\n"
    "  always @(posedge clk) begin\n    if (reset) q <= 4'd0;\n    else q <= q + 4'd1;\n  end\n"
    "endmodule\n",
    "module dff(input clk, input d, output reg q);\n  always @(posedge clk) q <= d;\nendmodule\n",
    "module alu(input [3:0] a, input [3:0] b, input [1:0] op, output reg [3:0] y, output zero);\n"
    "  always @(*) begin\n    case (op)\n      2'b00: y = a + b;\n      2'b01: y = a - b;\n"
    "      2'b10: y = a & b;\n      default: y = a | b;\n    endcase\n  end\n"
    "  assign zero = (y == 4'd0);\nendmodule\n",
    "Write a Verilog module that implements the specification. Answer with the complete module "
    "in a single ```verilog code block.\n",
    "Implement this module interface: the output is the AND of the two inputs.\n",
)


@dataclass
class TinyModelConfig:
    """The shape of a tiny model and of its tokenizer: the one definition of these settings.

    :func:`make_tiny_model_dir` and :func:`build_tiny_model` take one (or its fields as keywords),
    and the pipeline's ``model:`` section is one (:class:`salv_trainer.pipeline.PipelineConfig`,
    with larger defaults of its own). The defaults give about 0.1 M parameters: a forward +
    backward pass over a few hundred tokens takes milliseconds on a CPU. Their :attr:`head_size`
    (``hidden / heads`` = 32) is the smallest vLLM's CPU attention supports (32, 64, 80, ...), so
    ``TinyModelConfig()`` is the shape that runs on the vLLM backend (``tests/test_vllm.py``);
    smaller shapes (e.g. ``hidden=32, heads=4``) still work everywhere else. The feed-forward
    layer is ``2 * hidden`` wide.
    """

    vocab_size: int = 512
    """Tokenizer vocabulary, counting the 256 byte symbols and the 4 :data:`SPECIAL_TOKENS` (the
    model's embedding is sized by the tokenizer it is built for)."""
    hidden: int = 64
    layers: int = 2
    heads: int = 2
    """Attention heads; ``hidden`` must divide by it."""
    kv_heads: int = 1
    """Key/value heads (grouped-query attention); ``heads`` must divide by it."""
    max_positions: int = 4096
    """Longest sequence: the model's position embeddings and the tokenizer's ``model_max_length``."""

    @property
    def head_size(self) -> int:
        """``hidden / heads``: what vLLM's attention kernels must support."""
        return self.hidden // self.heads

    def validate(self) -> None:
        """Raise :class:`~salv_trainer.config.ConfigError` (a ``ValueError``) for a shape no
        model can have."""
        if min(self.hidden, self.layers, self.heads, self.kv_heads, self.max_positions) < 1:
            raise ConfigError(f"hidden, layers, heads, kv_heads and max_positions must be at least 1, "
                              f"got {self}")
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ConfigError(f"hidden ({self.hidden}) must divide by heads ({self.heads}), "
                              f"heads by kv_heads ({self.kv_heads})")


def _shape(config: TinyModelConfig | None, overrides: dict[str, int]) -> TinyModelConfig:
    """``config`` (default: ``TinyModelConfig()``) with the keyword ``overrides`` of its fields;
    an unknown keyword is a TypeError, as for any function."""
    shape = dataclasses.replace(config or TinyModelConfig(), **overrides)
    shape.validate()
    return shape


def build_tiny_tokenizer(
    texts: Iterable[str] | None = None,
    *,
    vocab_size: int = TinyModelConfig.vocab_size,
    model_max_length: int = TinyModelConfig.max_positions,
) -> Any:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it for ``transformers``.

    Returns a fast ``transformers`` tokenizer (as reloaded from a Qwen2 model directory) with the
    ChatML :data:`CHAT_TEMPLATE`, ``eos_token="<|im_end|>"``, ``pad_token="<|pad|>"`` and no BOS.
    ``vocab_size`` counts the 256 byte symbols and the 4 :data:`SPECIAL_TOKENS`; any text at all
    can be encoded (byte fallback). Training is deterministic for a given corpus.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = list(texts) if texts is not None else list(DEFAULT_CORPUS)
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)}, got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        additional_special_tokens=["<|endoftext|>", "<|im_start|>"],
        model_max_length=model_max_length,
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return _as_reloaded(fast)


def _as_reloaded(tokenizer: Any) -> Any:
    """The tokenizer exactly as every later stage will load it from a model directory.

    transformers 5 loads a tokenizer saved next to a Qwen2 ``config.json`` as ``Qwen2Tokenizer``,
    which rebuilds its own pre-tokenizer from the saved vocabulary: the same text can then split
    into different ids than with the object we trained (``"\n\n"`` as one token instead of two).
    Returning the reloaded tokenizer keeps in-memory training and saved models consistent.
    """
    import tempfile

    from transformers import AutoTokenizer, Qwen2Config

    with tempfile.TemporaryDirectory(prefix="salv-tiny-tok-") as tmp:
        tokenizer.save_pretrained(tmp)
        Qwen2Config(vocab_size=len(tokenizer)).save_pretrained(tmp)
        return AutoTokenizer.from_pretrained(tmp)


def build_tiny_model(
    tokenizer: Any,
    config: TinyModelConfig | None = None,
    *,
    seed: int = 0,
    **shape: int,
) -> Any:
    """A randomly initialised Qwen2 causal LM (float32) sized for ``tokenizer``.

    ``config`` (default :class:`TinyModelConfig`'s defaults) gives the shape; keywords named like
    its fields (``hidden=32, layers=1``) override it. ``vocab_size`` is the tokenizer's, whatever
    the config says. Initialisation is deterministic for a given ``seed``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    m = _shape(config, shape)
    qwen = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=m.hidden,
        intermediate_size=2 * m.hidden,
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        num_key_value_heads=m.kv_heads,
        max_position_embeddings=m.max_positions,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        use_cache=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(qwen)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return model


def save_tiny(model: Any, tokenizer: Any, out_dir: str | Path) -> Path:
    """Save ``model`` and ``tokenizer`` into ``out_dir`` (created) in the Hugging Face layout."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def make_tiny_model_dir(
    out_dir: str | Path,
    texts: Sequence[str] | None = None,
    config: TinyModelConfig | None = None,
    *,
    seed: int = 0,
    **shape: int,
) -> Path:
    """Build a tokenizer (trained on ``texts``, default :data:`DEFAULT_CORPUS`) and a tiny model
    of the shape ``config`` (default :class:`TinyModelConfig`'s defaults; keywords named like its
    fields override it, e.g. ``vocab_size=300, hidden=32, layers=1``), save both into ``out_dir``
    and return it. Takes well under a second with the defaults.

    The result loads with ``AutoTokenizer.from_pretrained(out_dir)`` and
    ``AutoModelForCausalLM.from_pretrained(out_dir)``, and is a valid ``--model`` for every
    ``salv-train`` command.
    """
    m = _shape(config, shape)
    tokenizer = build_tiny_tokenizer(texts, vocab_size=m.vocab_size, model_max_length=m.max_positions)
    return save_tiny(build_tiny_model(tokenizer, m, seed=seed), tokenizer, out_dir)

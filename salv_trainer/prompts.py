"""The one prompt template, shared by SFT, sampling, DPO and evaluation.

Keeping it in one place matters: a model trained on one template and sampled or evaluated with
another loses accuracy for reasons that have nothing to do with the method.

A row's prompt is either plain text (a problem description, optionally with a module header) or a
ready list of chat ``messages``; both become a chat conversation here. A response is the assistant
turn: for training targets we write the reference code in one fenced ``verilog`` block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_SYSTEM",
    "Message",
    "build_messages",
    "format_response",
    "render_prompt",
]

Message = dict[str, str]

DEFAULT_SYSTEM = (
    "You are a Verilog RTL designer. Write one synthesizable Verilog module that meets the "
    "specification. Answer with the complete module in a single ```verilog code block."
)


def build_messages(
    prompt: str | Sequence[Mapping[str, str]],
    *,
    module_header: str | None = None,
    system: str | None = DEFAULT_SYSTEM,
) -> list[Message]:
    """Turn a row's prompt into chat messages (system + user), unless it already is a chat.

    ``module_header`` (e.g. VerilogEval's ``module top_module(...);``) is appended to the user turn
    so the model sees the exact interface it must implement.
    """
    if not isinstance(prompt, str):
        return [dict(m) for m in prompt]
    user = prompt.rstrip()
    if module_header:
        user += "\n\nImplement this module interface:\n" + module_header.strip()
    messages: list[Message] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    return messages


def format_response(code: str) -> str:
    """The assistant turn used as a training target for ``code``."""
    return "```verilog\n" + code.strip("\n") + "\n```"


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """Text the model is conditioned on before it writes its answer.

    Uses the tokenizer's chat template (with the generation prompt). Tokenizers without one get a
    plain, documented fallback so that base models still work.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
    parts = [f"### {m['role'].capitalize()}:\n{m['content']}\n" for m in messages]
    return "".join(parts) + "### Assistant:\n"

"""The benchmark's text protocol as pure functions: prompts, option letters, the strict reply parser.

Everything here follows SPEC section 3 (the authors' evaluation code) to the character, because a model's
score depends on it: the same user text, the same letters, the same matching rules.

>>> render_prompt("What is it?", ["Move the block to the left.", "I cannot tell.", "Vase."])
'What is it? Choose from the following options. Options:\\nA. Move the block to the left.\\nB. I cannot tell.\\nC. Vase.\\nPlease only return one of the options without any other words.'
>>> evaluate_reply("C. Vase.", correct=["Vase."], options=["Cup.", "Vase."], shift=1)
('correct', 'Vase.')
>>> evaluate_reply("The answer is C", correct=["Vase."], options=["Cup.", "Vase."], shift=1)
('mismatch', None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

Verdict = Literal["correct", "wrong", "mismatch"]

CHOOSE = " Choose from the following options. Options:\n"
FINAL_INSTRUCTION = "Please only return one of the options without any other words."
# Everything up to and including the last "capital letter + period" (and the spaces after it), from the
# start of the text; like the reference, "." does not cross a newline.
_LETTER_PREFIX = re.compile(r"^.*[A-Z]\.\s*")
ABSTAIN_MARKERS = ("cannot", "do not")


def letter(index: int) -> str:
    """The option letter for a 0-based position: 0 -> "A", 1 -> "B", ..."""
    return chr(65 + index)


#: The categories are the last four options shown (SPEC section 3); the proactive options come first.
N_CATEGORIES = 4


def split_options(options: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(proactive, categories)``: the shown options before the last four, and the last four."""
    options = list(options)
    cut = max(0, len(options) - N_CATEGORIES)
    return options[:cut], options[cut:]


def is_abstain(option: str) -> bool:
    """True for the abstain option: its text contains "cannot" or "do not" (any case)."""
    low = option.lower()
    return any(marker in low for marker in ABSTAIN_MARKERS)


def build_question(prompt: str, pre_prompt: str = "", hint: str | None = None) -> str:
    """The question part of the user text: ``[pre-prompt ]{prompt}[ {hint}]``."""
    question = f"{pre_prompt} {prompt}" if pre_prompt else prompt
    return f"{question} {hint}" if hint else question


def render_prompt(question: str, options: Sequence[str]) -> str:
    """The multiple-choice user text: question, lettered options, and the final instruction."""
    lines = "".join(f"{letter(i)}. {opt}\n" for i, opt in enumerate(options))
    return f"{question}{CHOOSE}{lines}{FINAL_INSTRUCTION}"


def standardize_text(text: str) -> str:
    """Normalise a reply or an option for text matching: drop a letter prefix, lower-case, drop spaces."""
    return _LETTER_PREFIX.sub("", text, count=1).lower().strip().replace(" ", "")


def standardize_letter(text: str) -> str | None:
    """The single lower-case character before the first ".", or None when it is not exactly one character."""
    head = text.split(".")[0].lower().strip()
    return head if len(head) == 1 else None


def evaluate_reply(
    reply: str, correct: Sequence[str], options: Sequence[str], shift: int
) -> tuple[Verdict, str | None]:
    """Judge ``reply`` against one block of shown options (the proactive block or the category block).

    ``options`` is the block in display order, ``correct`` the subset that counts as right now, ``shift``
    the number of options displayed before the block (its first letter is ``letter(shift)``).
    Returns ``("correct", option)``, ``("wrong", option)`` when the reply picks another option of the
    block, or ``("mismatch", None)``. Text matching is tried before letters, and within each, the right
    options before the others, exactly as the authors' evaluator does.
    """
    full = standardize_text(reply)
    std_options = [standardize_text(o) for o in options]
    if full in {standardize_text(c) for c in correct}:
        return "correct", options[std_options.index(full)]
    if full in std_options:
        return "wrong", options[std_options.index(full)]
    picked = standardize_letter(reply)
    if picked is None:
        return "mismatch", None
    letters = [letter(i + shift).lower() for i in range(len(options))]
    if picked in {letter(options.index(c) + shift).lower() for c in correct if c in options}:
        return "correct", options[letters.index(picked)]
    if picked in letters:
        return "wrong", options[letters.index(picked)]
    return "mismatch", None


def resize_short_edge(image: Any, short_edge: int = 224) -> Any:
    """Resize a PIL image so that its short edge is ``short_edge`` pixels (the paper's history setting)."""
    w, h = image.size
    scale = short_edge / min(w, h)
    return image.resize((int(w * scale), int(h * scale)))


def to_messages(obs: dict[str, Any]) -> list[dict[str, Any]]:
    """Chat messages for one observation: earlier turns (history / in-context examples) then the current one.

    Each user turn is ``{"role": "user", "content": [{"type": "image", "image": PIL.Image},
    {"type": "text", "text": ...}]}``; each earlier reply is an assistant turn with one text part. Every
    model agent builds its input from this function, so all agents see the same conversation.
    """
    from PIL import Image as PILImage

    def user(image: np.ndarray, text: str) -> dict[str, Any]:
        return {
            "role": "user",
            "content": [
                {"type": "image", "image": PILImage.fromarray(np.asarray(image))},
                {"type": "text", "text": text},
            ],
        }

    messages: list[dict[str, Any]] = []
    for turn in obs.get("history", ()):
        messages.append(user(turn["image"], turn["dialogue"]))
        messages.append({"role": "assistant", "content": [{"type": "text", "text": turn["reply"]}]})
    messages.append(user(obs["image"], obs["dialogue"]))
    return messages


def openai_messages(obs: dict[str, Any], image_format: str = "png") -> list[dict[str, Any]]:
    """:func:`to_messages` in the OpenAI chat-completions wire format, ready for any OpenAI-compatible
    client: plain JSON, each image a ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``
    part (``image_format="jpeg"`` for smaller requests). The ``openai:`` agent sends exactly this.

    >>> import numpy as np
    >>> msgs = openai_messages({"image": np.zeros((2, 2, 3), np.uint8), "dialogue": "What is it?"})
    >>> [part["type"] for part in msgs[0]["content"]], msgs[0]["content"][0]["image_url"]["url"][:22]
    (['image_url', 'text'], 'data:image/png;base64,')
    """
    from proactive_gym.agents.messages import observation_messages, to_openai_messages

    return to_openai_messages(observation_messages(obs), image_format)

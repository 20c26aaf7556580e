"""Judges for open-ended mode (SPEC section 4): did a free-text reply ask for a useful intervention (ps),
name the right category (cc), or either (agg)?

>>> judge = make_judge("keyword")
>>> judge.score([{"prompt": "What is behind the blocks?", "acceptable_answers": ["Move the blocks", "Vase"],
...               "n_suggestion_answers": 1, "reply": "Please move the blocks.", "scenario": "ROD"}])[0]
{'ps': 1, 'cc': 0, 'agg': 1, 'raw': 'keyword: 1, 0', 'flags': [1, 0]}

Two kinds:

- ``make_judge("keyword")``: offline and deterministic, for tests and quick looks. An acceptable answer counts
  as matched when every content word of it (stop words dropped, crude suffix stemming: "moving" = "move",
  "blocks" = "block") appears in the reply. It misses paraphrases; use an LLM judge for real numbers.
- ``make_judge("<agent spec>", **options)``, e.g. ``openai:Qwen/Qwen3-8B`` (the paper's judge, thinking on) or
  ``hf:<model>``: an LLM reads a grading rubric (:data:`JUDGE_SYSTEM_PROMPT`), the prompt, the acceptable
  answers and the reply; it may reason, then must end with one comma-separated 0/1 per acceptable answer.

Parsing an LLM judge's output (:func:`parse_judge_output`): reasoning is removed first (everything up to the
last ``</think>``; an unfinished ``<think>`` block and everything after it); then the *last* comma-separated
list of standalone 0/1 digits in the remaining text is taken. No list, or a list whose length differs from
the number of acceptable answers, gives all zeros (documented scores, never a crash). The first
``n_suggestion_answers`` flags are suggestions (ps = any of them), the rest categories (cc = any of them),
agg = ps or cc. A judge request that fails for good (server down, after the agent's retries) makes
:meth:`LLMJudge.score` raise :class:`JudgeBatchError`, which carries the scores of the other items (the
failed ones: zeros and an ``error`` key); a harness that does not know the type retries items one by one,
and gets each item's settled score back at once, without asking the model again.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "Judge",
    "JudgeBatchError",
    "KeywordJudge",
    "LLMJudge",
    "make_judge",
    "parse_judge_output",
    "strip_reasoning",
    "score_flags",
    "JUDGE_SYSTEM_PROMPT",
    "JUDGE_USER_TEMPLATE",
]

JUDGE_SYSTEM_PROMPT = """You grade the replies of an AI assistant automatically.

You receive the request the assistant was given, a list of acceptable answers (a JSON list of strings), and \
the assistant's reply. For every acceptable answer, decide whether the reply expresses it.

How to decide:
1. Meaning counts, not wording. A paraphrase or an action with the same effect is a match.
2. A reply that describes an action which clearly requires or implies the acceptable answer matches it \
(for example, "look at it from another side" implies "change the camera angle").
3. Exact phrasing is never required.
4. Give 0 only when the idea is missing from the reply, when the reply contradicts it, or when the reply \
rejects or negates it.

Work through the answers step by step first. Then finish with one last line that holds one 0 or 1 per \
acceptable answer, in the order of the list, separated by commas, for example:
1, 0, 0
That last line must contain nothing else."""

JUDGE_USER_TEMPLATE = """## Request given to the assistant
{prompt}
## Acceptable answers
{answers}
## Assistant's reply
{reply}"""

_REQUIRED = ("prompt", "acceptable_answers", "n_suggestion_answers", "reply")
# A 0/1 list: standalone digits (not part of a number or a word) joined by commas.
_FLAG_LIST = re.compile(r"(?<![\w.])[01](?:\s*,\s*[01])*(?!\w|\.\d)")


def strip_reasoning(text: str) -> str:
    """Remove the model's reasoning: keep what follows the last ``</think>``; cut an unfinished ``<think>``.

    >>> strip_reasoning("<think>maybe 1, 1</think>\\n0, 1")
    '\\n0, 1'
    >>> strip_reasoning("0, 1 <think>still thinking 1, 1")
    '0, 1 '
    """
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text


def parse_judge_output(raw: str, n_answers: int) -> list[int] | None:
    """The 0/1 flags of a judge's output, or None when there is no list of exactly ``n_answers`` flags.

    >>> parse_judge_output("Both apply.\\n1, 0\\nso: 1,1", 2)
    [1, 1]
    >>> parse_judge_output("1, 0, 1", 2) is None
    True
    """
    matches = _FLAG_LIST.findall(strip_reasoning(raw))
    if not matches:
        return None
    flags = [int(token) for token in re.split(r"\s*,\s*", matches[-1].strip())]
    return flags if len(flags) == n_answers else None


def score_flags(flags: list[int] | None, n_suggestions: int) -> dict[str, int]:
    """ps / cc / agg from per-answer flags (None = all zeros); the first ``n_suggestions`` are suggestions."""
    if not flags:
        return {"ps": 0, "cc": 0, "agg": 0}
    ps = int(any(flags[:n_suggestions]))
    cc = int(any(flags[n_suggestions:]))
    return {"ps": ps, "cc": cc, "agg": int(ps or cc)}


def _check_items(items: list[dict[str, Any]]) -> None:
    for i, item in enumerate(items):
        missing = [key for key in _REQUIRED if key not in item]
        if missing:
            raise ValueError(
                f"judge item {i} lacks {', '.join(missing)}; an item needs {', '.join(_REQUIRED)}"
            )
        answers, k = item["acceptable_answers"], item["n_suggestion_answers"]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise ValueError(f"judge item {i}: acceptable_answers must be a list of strings, got {answers!r}")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(answers):
            raise ValueError(
                f"judge item {i}: n_suggestion_answers must be an int in 0..{len(answers)}, got {k!r}"
            )


class JudgeBatchError(RuntimeError):
    """Some judge requests failed for good.

    Attributes:
        scores: One score per item; a failed item has zeros, ``raw`` ``""`` and an ``error`` key.
        errors: One entry per item: None, or the error message of a failed item.
    """

    def __init__(self, scores: list[dict[str, Any]], errors: list[str | None]) -> None:
        self.scores = scores
        self.errors = errors
        failed = [e for e in errors if e is not None]
        super().__init__(f"{len(failed)} of {len(errors)} judge requests failed; first error: {failed[0]}")


def _clean_answer(answer: str) -> str:
    return answer.strip().rstrip(".").strip()


class Judge:
    """Scores open-ended replies: ``score(items) -> [{"ps", "cc", "agg", "raw", ...}]`` (one per item)."""

    name = "judge"

    def score(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One score per item; an item is ``{"prompt", "acceptable_answers", "n_suggestion_answers",
        "reply", "scenario"}``."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """JSON settings of the judge, for the run summary."""
        return {"name": self.name}

    def close(self) -> None:
        """Release the judge's model or client."""


_STOP_WORDS = frozenset(
    "a an the to of for in on at by from with and or it its is be this that some more your you please".split()
)
_SUFFIXES = ("ing", "ed", "es", "s", "e")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _content_words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP_WORDS}


class KeywordJudge(Judge):
    """Offline judge: an answer is matched when all its content words occur in the reply (see module doc)."""

    name = "keyword"

    def score(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keyword scores; ``raw`` is ``"keyword: "`` plus the flags, ``flags`` the per-answer 0/1 list."""
        _check_items(items)
        scores = []
        for item in items:
            reply_words = _content_words(str(item["reply"]))
            flags = []
            for answer in item["acceptable_answers"]:
                words = _content_words(answer)
                flags.append(int(bool(words) and words <= reply_words))
            score: dict[str, Any] = score_flags(flags, item["n_suggestion_answers"])
            score.update(raw="keyword: " + ", ".join(map(str, flags)), flags=flags)
            scores.append(score)
        return scores


class LLMJudge(Judge):
    """A chat model used as judge. ``agent`` is a model agent with ``generate(conversations)``."""

    def __init__(self, agent: Any, max_new_tokens: int | None = None) -> None:
        if not callable(getattr(agent, "generate", None)):
            raise ValueError(
                f"judge: {getattr(agent, 'name', agent)!r} cannot generate free text; use 'keyword', "
                "'hf:<model>' or 'openai:<model>'"
            )
        self.agent = agent
        self.max_new_tokens = max_new_tokens
        self.name = getattr(agent, "name", type(agent).__name__)
        # Scores of the last batch that raised JudgeBatchError, by item content: a harness that retries
        # such a batch item by item gets them back without asking the model again.
        self._settled: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _key(item: dict[str, Any]) -> str:
        fields = [item["prompt"], item["acceptable_answers"], item["n_suggestion_answers"], item["reply"]]
        return json.dumps(fields, ensure_ascii=False)

    @staticmethod
    def conversation(item: dict[str, Any]) -> list[dict[str, Any]]:
        """The judge's chat for one item: the rubric as system message, the case as user message."""
        answers = json.dumps([_clean_answer(a) for a in item["acceptable_answers"]], ensure_ascii=False)
        user = JUDGE_USER_TEMPLATE.format(prompt=item["prompt"], answers=answers, reply=item["reply"])
        return [
            {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
            {"role": "user", "content": [{"type": "text", "text": user}]},
        ]

    def _raw_outputs(self, items: list[dict[str, Any]]) -> tuple[list[str | None], list[str | None]]:
        convs = [self.conversation(item) for item in items]
        try:
            return list(self.agent.generate(convs, max_new_tokens=self.max_new_tokens)), [None] * len(items)
        except Exception as err:  # noqa: BLE001 - failures become per-item errors below
            replies = getattr(err, "replies", None)
            errors = getattr(err, "errors", None)
            if isinstance(replies, list) and isinstance(errors, list) and len(replies) == len(items):
                return replies, errors
            if len(items) == 1:
                return [None], [f"{type(err).__name__}: {err}"]
        # A whole-batch failure: try each item alone so that one bad item does not sink the others.
        outs: list[str | None] = []
        errs: list[str | None] = []
        for item in items:
            out, err_list = self._raw_outputs([item])
            outs.append(out[0])
            errs.append(err_list[0])
        return outs, errs

    def score(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Ask the model once per item and parse its last 0/1 list (see the module docstring).

        Raises :class:`JudgeBatchError` (holding every item's score) when a request failed for good.
        """
        _check_items(items)
        if not items:
            return []
        if len(items) == 1 and self._key(items[0]) in self._settled:
            settled = self._settled.pop(self._key(items[0]))
            if "error" in settled:
                raise JudgeBatchError([settled], [settled["error"]])
            return [settled]
        self._settled = {}
        outputs, errors = self._raw_outputs(items)
        scores = []
        for item, raw, error in zip(items, outputs, errors, strict=True):
            flags = None if raw is None else parse_judge_output(raw, len(item["acceptable_answers"]))
            score: dict[str, Any] = score_flags(flags, item["n_suggestion_answers"])
            score.update(raw=raw or "", flags=flags)
            if error is not None:
                score["error"] = error
            scores.append(score)
        if any(e is not None for e in errors):
            self._settled = {self._key(item): score for item, score in zip(items, scores, strict=True)}
            raise JudgeBatchError(scores, errors)
        return scores

    def describe(self) -> dict[str, Any]:
        """The judge model's settings."""
        info = {"name": self.name, "kind": "llm", "max_new_tokens": self.max_new_tokens}
        describe = getattr(self.agent, "describe", None)
        if callable(describe):
            info["agent"] = describe()
        return info

    def close(self) -> None:
        """Close the judge model's agent."""
        self.agent.close()


#: Default reply budget of an LLM judge: enough for Qwen3-8B to think before the final line.
DEFAULT_JUDGE_TOKENS = 4096


def make_judge(spec: str, **options: Any) -> Judge:
    """Build a judge: ``"keyword"`` (no options) or a model agent spec (``openai:...``, ``hf:...``).

    For a model spec, ``options`` go to :func:`proactive_gym.agents.make_agent` (``base_url``,
    ``concurrency``, ``dtype``, ...); ``max_new_tokens`` defaults to 4096 (room to think). An ``hf:`` judge
    may be a text-only chat model.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("judge spec must be 'keyword', 'openai:<model>' or 'hf:<model>'")
    spec = spec.strip()
    if spec == "keyword":
        if options:
            raise ValueError(f"the keyword judge takes no options, got {sorted(options)}")
        return KeywordJudge()
    if not spec.startswith(("openai:", "hf:")):
        raise ValueError(f"unknown judge spec {spec!r}; use 'keyword', 'openai:<model>' or 'hf:<model>'")
    from proactive_gym.agents import make_agent

    options = dict(options)
    options.setdefault("max_new_tokens", DEFAULT_JUDGE_TOKENS)
    if spec.startswith("hf:"):
        options.setdefault("text_only", True)
    agent = make_agent(spec, **options)
    return LLMJudge(agent)

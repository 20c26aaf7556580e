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
  ``hf:<model>``: an LLM reads a grading rubric (system message), the prompt, the acceptable answers and the
  reply; it may reason, then must end with one comma-separated 0/1 per acceptable answer.

As the paper, by default (each a documented option of :func:`make_judge`):

- **prompt** (``prompt="auto"``): the paper's exact system prompt and user template when the authors'
  ``proactivebench`` package is installed, read from its ``open_ended_gen.py`` at run time (parsed, never
  imported, never copied into this repository; see :func:`paper_prompt`); otherwise our own rubric
  (:data:`JUDGE_SYSTEM_PROMPT`, :data:`JUDGE_USER_TEMPLATE`). ``describe()`` (and so ``summary.json``) records
  which one judged the run.
- **messages**: plain strings (system and user), so that text-only chat templates such as Qwen3's, which
  render list content as an empty string, see the whole case.
- **decoding** (:data:`PAPER_DECODING`): sampling with Qwen3-8B's settings (temperature 0.6, top-p 0.95,
  top-k 20, the checkpoint's own defaults, which the authors' ``do_sample=True`` uses) and a 32,768-token
  budget (``2**15``), recorded in ``describe()``.
- **parser** (``parser="paper"``, :func:`parse_judge_output`): as the authors' ``parse_judge_prediction``:
  keep what follows the last ``</think>`` (all of it when the reasoning never closed), take the last run of
  0/1 digits joined by commas anywhere in it (also one glued to a word, ``"Final1, 0"``, or inside a
  number, ``"10"`` is two lists of one), and give all zeros when its length differs from the number of
  acceptable answers the authors' parser expects. That number is the list's length, except for the
  authors' ChangeIt quirk (:meth:`proactive_gym.scenarios.Scenario.judge_answer_count`).
  ``parser="strict"`` is ours: reasoning removed first (an unfinished ``<think>`` block and all after it
  too), then only standalone 0/1 digits count (not inside words or numbers such as ``10`` or ``0.5``).

The first ``n_suggestion_answers`` flags are suggestions (ps = any of them), the rest categories (cc = any
of them), agg = ps or cc. A judge request that fails for good (server down, after the agent's retries) makes
:meth:`LLMJudge.score` raise :class:`JudgeBatchError`, which carries the scores of the other items (the
failed ones: zeros and an ``error`` key); a harness that does not know the type retries items one by one,
and gets each item's settled score back at once, without asking the model again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import string
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "Judge",
    "JudgeBatchError",
    "KeywordJudge",
    "LLMJudge",
    "JudgePrompt",
    "make_judge",
    "paper_prompt",
    "own_prompt",
    "parse_judge_output",
    "strip_reasoning",
    "score_flags",
    "JUDGE_SYSTEM_PROMPT",
    "JUDGE_USER_TEMPLATE",
    "PAPER_DECODING",
    "PARSERS",
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
# Ours (strict): standalone digits (not part of a number or a word) joined by commas.
_FLAG_LIST = re.compile(r"(?<![\w.])[01](?:\s*,\s*[01])*(?!\w|\.\d)")
# The authors': any run of 0/1 digits joined by commas.
_PAPER_FLAG_LIST = re.compile(r"[01](?:\s*,\s*[01])*")
PARSERS = ("paper", "strict")


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


def parse_judge_output(raw: str, n_answers: int, parser: str = "paper") -> list[int] | None:
    """The 0/1 flags of a judge's output, or None when there is no list of exactly ``n_answers`` flags.

    ``parser="paper"`` (the default) parses as the authors' code, ``"strict"`` as ours (module docstring).

    >>> parse_judge_output("Both apply.\\n1, 0\\nso: 1,1", 2)
    [1, 1]
    >>> parse_judge_output("1, 0, 1", 2) is None
    True
    >>> parse_judge_output("<think>so 1, 1", 2), parse_judge_output("<think>so 1, 1", 2, parser="strict")
    ([1, 1], None)
    """
    if parser == "paper":
        text = raw.rsplit("</think>", 1)[1] if "</think>" in raw else raw
        matches = _PAPER_FLAG_LIST.findall(text)
    elif parser == "strict":
        matches = _FLAG_LIST.findall(strip_reasoning(raw))
    else:
        raise ValueError(f"judge parser must be one of {PARSERS}, got {parser!r}")
    if not matches:
        return None
    flags = [int(token) for token in re.split(r"\s*,\s*", matches[-1].strip()) if token]
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


#: The fields the paper's user template must have (``str.format`` names).
PAPER_FIELDS = frozenset({"user_prompt", "correct_answers", "generated_answer"})


@dataclasses.dataclass(frozen=True)
class JudgePrompt:
    """A judge's system prompt and user template, and where they come from.

    ``source`` is ``"paper"`` (read from the authors' installed package; ``origin`` is the file) or
    ``"proactive_gym"`` (our own rubric, the fallback).
    """

    system: str
    user_template: str
    source: str
    origin: str

    def messages(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The judge's chat for one item: the rubric as system message, the case as user message, both as
        plain strings (a text-only chat template such as Qwen3's drops list content)."""
        if self.source == "paper":
            # As the authors' get_oeg_judge_messages: periods removed, the list written as Python writes it.
            answers = [a.strip().replace(".", "") for a in item["acceptable_answers"]]
            user = self.user_template.format(
                user_prompt=item["prompt"], correct_answers=answers, generated_answer=item["reply"]
            )
        else:
            listed = json.dumps([_clean_answer(a) for a in item["acceptable_answers"]], ensure_ascii=False)
            user = self.user_template.format(prompt=item["prompt"], answers=listed, reply=item["reply"])
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def describe(self) -> dict[str, Any]:
        """Which prompt this is, for the run summary (a short hash tells two versions apart)."""
        digest = hashlib.sha256((self.system + "\0" + self.user_template).encode("utf-8")).hexdigest()
        return {"source": self.source, "origin": self.origin, "sha256": digest[:16]}


def own_prompt() -> JudgePrompt:
    """Our own rubric (:data:`JUDGE_SYSTEM_PROMPT`, :data:`JUDGE_USER_TEMPLATE`)."""
    return JudgePrompt(JUDGE_SYSTEM_PROMPT, JUDGE_USER_TEMPLATE, "proactive_gym", __name__)


def paper_prompt() -> JudgePrompt | None:
    """The paper's judge prompt from the installed ``proactivebench`` (its ``open_ended_gen.py``: the
    ``SYSTEM_PROMPT`` and ``USER_PROMPT`` literals, parsed with :mod:`ast`, never imported), or None when
    the package is not installed. Raises ValueError when the file holds no usable prompt."""
    from proactive_gym.data.subsets import proactivebench_file, read_literal

    path = proactivebench_file("open_ended_gen.py")
    if path is None:
        return None
    system, template = read_literal(path, "SYSTEM_PROMPT"), read_literal(path, "USER_PROMPT")
    if not isinstance(system, str) or not isinstance(template, str):
        raise ValueError(
            f"{path}: no literal SYSTEM_PROMPT and USER_PROMPT strings; use make_judge(..., prompt='own')"
        )
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if fields != PAPER_FIELDS:
        raise ValueError(
            f"{path}: USER_PROMPT has the fields {sorted(fields)}, expected {sorted(PAPER_FIELDS)}; "
            "use make_judge(..., prompt='own')"
        )
    return JudgePrompt(system, template, "paper", str(path))


PROMPTS = ("auto", "paper", "own")


def resolve_prompt(prompt: str | JudgePrompt = "auto") -> JudgePrompt:
    """``"auto"``: the paper's prompt when the authors' package is installed, else ours; ``"paper"``: the
    paper's or an error; ``"own"``: ours; or a :class:`JudgePrompt` as it is."""
    if isinstance(prompt, JudgePrompt):
        return prompt
    if prompt not in PROMPTS:
        raise ValueError(f"judge prompt must be one of {PROMPTS} or a JudgePrompt, got {prompt!r}")
    if prompt == "own":
        return own_prompt()
    found = paper_prompt()
    if found is not None:
        return found
    if prompt == "paper":
        raise ValueError(
            "judge prompt='paper' reads the paper's prompt from the authors' package: install it next to "
            "this one (`pip install proactivebench`, Python >= 3.12; it is only read, never imported), or "
            "use prompt='own'"
        )
    logger.info("judge: proactivebench is not installed; using our own judge prompt")
    return own_prompt()


def expected_flags(item: dict[str, Any], parser: str) -> int:
    """How many flags a verdict must hold: the authors' count (their ChangeIt quirk included, see
    :meth:`proactive_gym.scenarios.Scenario.judge_answer_count`) with the paper's parser, else the
    number of acceptable answers."""
    answers = item["acceptable_answers"]
    if parser != "paper":
        return len(answers)
    from proactive_gym.scenarios import SCENARIOS, get_scenario

    name = item.get("scenario")
    if isinstance(name, str) and name in SCENARIOS:
        return get_scenario(name).judge_answer_count(answers)
    return len([a for a in answers if a.strip()])


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

    def __init__(
        self,
        agent: Any,
        max_new_tokens: int | None = None,
        prompt: str | JudgePrompt = "auto",
        parser: str = "paper",
    ) -> None:
        if not callable(getattr(agent, "generate", None)):
            raise ValueError(
                f"judge: {getattr(agent, 'name', agent)!r} cannot generate free text; use 'keyword', "
                "'hf:<model>' or 'openai:<model>'"
            )
        if parser not in PARSERS:
            raise ValueError(f"judge parser must be one of {PARSERS}, got {parser!r}")
        self.agent = agent
        self.max_new_tokens = max_new_tokens
        self.prompt = resolve_prompt(prompt)
        self.parser = parser
        self.name = getattr(agent, "name", type(agent).__name__)
        # Scores of the last batch that raised JudgeBatchError, by item content: a harness that retries
        # such a batch item by item gets them back without asking the model again.
        self._settled: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _key(item: dict[str, Any]) -> str:
        fields = [item["prompt"], item["acceptable_answers"], item["n_suggestion_answers"], item["reply"]]
        return json.dumps(fields, ensure_ascii=False)

    def conversation(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The judge's chat for one item (see :meth:`JudgePrompt.messages`)."""
        return self.prompt.messages(item)

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
            n = expected_flags(item, self.parser)
            flags = None if raw is None else parse_judge_output(raw, n, self.parser)
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
        info = {
            "name": self.name,
            "kind": "llm",
            "max_new_tokens": self.max_new_tokens,
            "prompt": self.prompt.describe(),
            "parser": self.parser,
        }
        describe = getattr(self.agent, "describe", None)
        if callable(describe):
            info["agent"] = describe()
        return info

    def close(self) -> None:
        """Close the judge model's agent."""
        self.agent.close()


#: The paper's judge decoding: sampling with Qwen3-8B's own defaults (the authors call ``generate`` with
#: ``do_sample=True``, so the checkpoint's temperature 0.6, top-p 0.95, top-k 20 apply) and ``2**15``
#: new tokens.
PAPER_DECODING: dict[str, Any] = {"max_new_tokens": 2**15, "temperature": 0.6, "top_p": 0.95, "top_k": 20}


def make_judge(spec: str, prompt: str | JudgePrompt = "auto", parser: str = "paper", **options: Any) -> Judge:
    """Build a judge: ``"keyword"`` (no options) or a model agent spec (``openai:...``, ``hf:...``).

    ``prompt``: ``"auto"`` (the paper's when ``proactivebench`` is installed, else ours), ``"paper"``,
    ``"own"`` or a :class:`JudgePrompt`. ``parser``: ``"paper"`` or ``"strict"`` (module docstring).
    For a model spec, ``options`` go to :func:`proactive_gym.agents.make_agent` (``base_url``,
    ``concurrency``, ``dtype``, ...), with the paper's decoding (:data:`PAPER_DECODING`) unless given:
    ``max_new_tokens`` 32768; ``openai:`` ``temperature`` 0.6 and ``extra_body={"top_p": 0.95, "top_k":
    20}`` (vLLM takes ``top_k``; pass ``extra_body={}`` for a server that refuses it); ``hf:``
    ``sampling={"do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20}`` (``sampling=None``:
    greedy). An ``hf:`` judge may be a text-only chat model.
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

    the_prompt = resolve_prompt(prompt)  # a bad prompt or parser fails before a model loads
    if parser not in PARSERS:
        raise ValueError(f"judge parser must be one of {PARSERS}, got {parser!r}")
    options = dict(options)
    options.setdefault("max_new_tokens", PAPER_DECODING["max_new_tokens"])
    sampling = {k: PAPER_DECODING[k] for k in ("temperature", "top_p", "top_k")}
    if spec.startswith("hf:"):
        options.setdefault("text_only", True)
        options.setdefault("sampling", {"do_sample": True, **sampling})
    else:
        options.setdefault("temperature", sampling["temperature"])
        options.setdefault("extra_body", {"top_p": sampling["top_p"], "top_k": sampling["top_k"]})
    agent = make_agent(spec, **options)
    return LLMJudge(agent, prompt=the_prompt, parser=parser)

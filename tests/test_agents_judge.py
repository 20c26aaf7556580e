"""Open-ended judges: the output parser, the keyword judge, and an LLM judge over a real HTTP server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from proactive_gym.agents.judge import (
    JUDGE_SYSTEM_PROMPT,
    JudgeBatchError,
    KeywordJudge,
    LLMJudge,
    make_judge,
    parse_judge_output,
    score_flags,
    strip_reasoning,
)

sys.path.insert(0, str(Path(__file__).parent))


@pytest.mark.parametrize(
    ("raw", "n", "expected"),
    [
        ("1, 0, 1", 3, [1, 0, 1]),
        ("1,0,1", 3, [1, 0, 1]),
        ("Reasoning...\n0, 0, 1", 3, [0, 0, 1]),
        ("1", 1, [1]),
        ("0", 1, [0]),
        ("First guess 1, 1, 1.\nOn reflection:\n1, 0, 0", 3, [1, 0, 0]),  # the last list wins
        ("<think>the list is 1, 1, 1</think>\n0, 1, 0", 3, [0, 1, 0]),  # reasoning removed first
        ("<think>1, 1, 1</think>Nothing to say.", 3, None),  # the only list was in the reasoning
        ("0, 1 <think>unfinished 1, 1", 2, [0, 1]),  # an unfinished <think> and what follows it go
        ("1, 0", 3, None),  # wrong length: all zeros
        ("1, 0, 1, 1", 3, None),
        ("no list here", 2, None),
        ("", 2, None),
        ("Scores: 10, 0.5 and 1.0\n1, 1", 2, [1, 1]),  # digits inside numbers are not flags
        ("Final: 1, 0.", 2, [1, 0]),  # a closing period is fine
        ("answer [1, 0]", 2, [1, 0]),
        ("1, 0\n", 2, [1, 0]),
        ("1 0 1", 3, None),  # no commas: three lists of one
        ("1 0 1", 1, [1]),
    ],
)
def test_parse_judge_output_strict(raw: str, n: int, expected: list[int] | None) -> None:
    assert parse_judge_output(raw, n, parser="strict") == expected


@pytest.mark.parametrize(
    ("raw", "n", "expected"),
    [
        # where the authors' parser and the strict one agree
        ("1, 0, 1", 3, [1, 0, 1]),
        ("Reasoning...\n0, 0, 1", 3, [0, 0, 1]),
        ("First guess 1, 1, 1.\nOn reflection:\n1, 0, 0", 3, [1, 0, 0]),
        ("<think>the list is 1, 1, 1</think>\n0, 1, 0", 3, [0, 1, 0]),
        ("<think>1, 1, 1</think>Nothing to say.", 3, None),
        ("1, 0", 3, None),
        ("no list here", 2, None),
        ("", 2, None),
        ("Final: 1, 0.", 2, [1, 0]),
        ("answer [1, 0]", 2, [1, 0]),
        # where they differ: an unfinished think block is parsed whole ...
        ("<think>the flags are 1, 1 I guess", 2, [1, 1]),
        ("0, 1 <think>unfinished 1, 1", 2, [1, 1]),
        # ... a list glued to a word counts ...
        ("Final1, 0", 2, [1, 0]),
        ("flags:1,1done", 2, [1, 1]),
        # ... and digits after the list count too, also inside numbers ("10" is "1" and "0")
        ("1, 0\nconfidence 10", 2, None),
        ("1, 1\n(checked 0 times)", 2, None),
        ("Scores: 10, 0.5 and 1.0\n1, 1", 2, [1, 1]),
        ("1, 1\nscore 0.5", 2, None),
    ],
)
def test_parse_judge_output_as_the_authors(raw: str, n: int, expected: list[int] | None) -> None:
    assert parse_judge_output(raw, n) == expected  # parser="paper" is the default


def test_unknown_parser() -> None:
    with pytest.raises(ValueError, match="judge parser must be one of"):
        parse_judge_output("1", 1, parser="lenient")
    with pytest.raises(ValueError, match="judge parser must be one of"):
        make_judge("openai:m", parser="lenient", base_url="http://127.0.0.1:9")


def test_strip_reasoning() -> None:
    assert strip_reasoning("a<think>b</think>c<think>d</think>e") == "e"
    assert strip_reasoning("plain") == "plain"


@pytest.mark.parametrize(
    ("flags", "k", "expected"),
    [
        ([1, 0, 0], 2, {"ps": 1, "cc": 0, "agg": 1}),
        ([0, 0, 1], 2, {"ps": 0, "cc": 1, "agg": 1}),
        ([0, 1, 1], 2, {"ps": 1, "cc": 1, "agg": 1}),
        ([0, 0, 0], 2, {"ps": 0, "cc": 0, "agg": 0}),
        ([1, 1], 2, {"ps": 1, "cc": 0, "agg": 1}),  # ROD / MVP-N: no category answer
        (None, 2, {"ps": 0, "cc": 0, "agg": 0}),
    ],
)
def test_score_flags(flags: list[int] | None, k: int, expected: dict) -> None:
    assert score_flags(flags, k) == expected


def item(reply: str, answers: list[str], k: int, scenario: str = "VSOD") -> dict:
    return {
        "prompt": "Who is talking?",
        "acceptable_answers": answers,
        "n_suggestion_answers": k,
        "reply": reply,
        "scenario": scenario,
    }


VSOD_ANSWERS = ["Move the camera.", "Wait for the occlusion to disappear.", "Rewind the video.", "The man."]


def test_keyword_judge_exact_scores() -> None:
    judge = make_judge("keyword")
    assert isinstance(judge, KeywordJudge)
    scores = judge.score(
        [
            item("I would rewind the video a bit.", VSOD_ANSWERS, 3),
            item("It is the man on the left.", VSOD_ANSWERS, 3),
            item("Waiting until the occlusion disappears, then rewinding the video.", VSOD_ANSWERS, 3),
            item("I cannot tell.", VSOD_ANSWERS, 3),
            item("Moving the blocks.", ["Move the blocks", "Move the camera"], 2, "ROD"),
        ]
    )
    assert [s["flags"] for s in scores] == [[0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0], [1, 0]]
    assert [(s["ps"], s["cc"], s["agg"]) for s in scores] == [
        (1, 0, 1),
        (0, 1, 1),
        (1, 0, 1),
        (0, 0, 0),
        (1, 0, 1),
    ]
    assert scores[0]["raw"] == "keyword: 0, 0, 1, 0"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"reply": None}, "lacks reply"),
        ({"acceptable_answers": "Vase"}, "acceptable_answers must be a list of strings"),
        ({"n_suggestion_answers": 5}, r"n_suggestion_answers must be an int in 0\.\.4"),
    ],
)
def test_bad_items(bad: dict, message: str) -> None:
    it = item("x", VSOD_ANSWERS, 3)
    for key, value in bad.items():
        if value is None:
            del it[key]
        else:
            it[key] = value
    with pytest.raises(ValueError, match=message):
        KeywordJudge().score([it])


def test_make_judge_errors() -> None:
    with pytest.raises(ValueError, match="unknown judge spec 'oracle'"):
        make_judge("oracle")
    with pytest.raises(ValueError, match="takes no options"):
        make_judge("keyword", base_url="http://x")
    with pytest.raises(ValueError, match="cannot generate free text"):
        LLMJudge(object())


def test_llm_judge_over_http() -> None:
    pytest.importorskip("httpx")
    from fake_openai_server import FakeOpenAIServer, last_user_text

    outputs = {
        "A": "<think>Maybe 1, 1, 1, 1</think>\nThe reply rewinds.\n0, 0, 1, 0",
        "B": "I think 1, 1 fits but the list must be:\n1, 0, 0, 1",
        "C": "0, 1",  # wrong length
        "D": "Everything is fine.",  # no list
    }

    def script(body: dict) -> str:
        return outputs[last_user_text(body).rsplit("\n", 1)[1]]

    with FakeOpenAIServer(script=script) as server:
        judge = make_judge(
            "openai:judge-model",
            base_url=server.url,
            concurrency=2,
            backoff=0.01,
            max_retries=0,
            prompt="own",
        )
        items = [item(reply, VSOD_ANSWERS, 3) for reply in "ABCD"]
        scores = judge.score(items)
        assert [(s["ps"], s["cc"], s["agg"]) for s in scores] == [(1, 0, 1), (1, 1, 1), (0, 0, 0), (0, 0, 0)]
        assert [s["flags"] for s in scores] == [[0, 0, 1, 0], [1, 0, 0, 1], None, None]
        assert scores[0]["raw"] == outputs["A"]
        assert all("error" not in s for s in scores)

        body = next(b for b in server.requests if last_user_text(b).endswith("\nA"))
        # the paper's decoding by default: sampling with Qwen3-8B's settings, a 2**15-token budget
        assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"]) == (
            32768,
            0.6,
            0.95,
            20,
        )
        assert body["messages"][0] == {"role": "system", "content": JUDGE_SYSTEM_PROMPT}
        assert isinstance(body["messages"][1]["content"], str)  # text-only: a plain string
        described = judge.describe()
        assert described["prompt"]["source"] == "proactive_gym" and described["parser"] == "paper"
        assert described["agent"]["temperature"] == 0.6
        user = last_user_text(body)
        answers = json.dumps(
            ["Move the camera", "Wait for the occlusion to disappear", "Rewind the video", "The man"]
        )
        assert user == (
            f"## Request given to the assistant\nWho is talking?\n## Acceptable answers\n{answers}\n"
            "## Assistant's reply\nA"
        )

        judge.close()
        # A judge request that fails for good: an error that carries the other items' scores. One worker,
        # so the first item's request is the one that gets the 500.
        judge = make_judge(
            "openai:judge-model", base_url=server.url, concurrency=1, max_retries=0, prompt="own"
        )
        server.queue_faults("500")
        with pytest.raises(JudgeBatchError) as caught:
            judge.score([item("A", VSOD_ANSWERS, 3), item("B", VSOD_ANSWERS, 3)])
        failed, ok = caught.value.scores
        assert (failed["ps"], failed["cc"], failed["agg"], failed["raw"]) == (0, 0, 0, "")
        assert "HTTP 500" in failed["error"] and "HTTP 500" in caught.value.errors[0]
        assert caught.value.errors[1] is None and ok["flags"] == [1, 0, 0, 1]
        # The harness retries item by item: settled scores come back without new requests.
        sent = len(server.requests)
        with pytest.raises(JudgeBatchError, match="HTTP 500"):
            judge.score([item("A", VSOD_ANSWERS, 3)])
        assert judge.score([item("B", VSOD_ANSWERS, 3)]) == [ok]
        assert len(server.requests) == sent
        judge.close()


# ----- the paper's prompt, read from the authors' package; messages through the real Qwen3 template -----

# A stand-in for the authors' open_ended_gen.py: literal prompts next to an import that would fail. The
# texts are made up here (the real ones are never copied into this repository); the fields are the paper's.
FAKE_SYSTEM = "Stand-in rubric.\n\n<comma-separated list of 0s and 1s>"
FAKE_USER = "### U:\n{user_prompt}\n### A:\n{correct_answers}\n### S:\n{generated_answer}"


@pytest.fixture
def fake_proactivebench(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "proactivebench"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "open_ended_gen.py").write_text(
        f"import re\nimport torch_is_not_installed_here\nSYSTEM_PROMPT = {FAKE_SYSTEM!r}\n"
        f"USER_PROMPT = {FAKE_USER!r}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return pkg / "open_ended_gen.py"


class _Echo:
    """A judge agent that answers each conversation with a fixed verdict and keeps what it was sent."""

    name = "echo"

    def __init__(self, verdict: str) -> None:
        self.verdict, self.sent = verdict, []

    def generate(self, conversations, max_new_tokens=None):
        self.sent.extend(conversations)
        return [self.verdict] * len(conversations)

    def close(self) -> None:
        pass


def test_paper_prompt_read_from_the_installed_package(fake_proactivebench) -> None:
    from proactive_gym.agents.judge import paper_prompt

    prompt = paper_prompt()
    assert (prompt.system, prompt.user_template, prompt.source) == (FAKE_SYSTEM, FAKE_USER, "paper")
    assert prompt.origin == str(fake_proactivebench)
    assert "proactivebench" not in sys.modules  # read, never imported
    agent = _Echo("ok\n1, 0, 0, 0")
    judge = LLMJudge(agent)  # prompt="auto": the paper's, since the package is there
    [score] = judge.score([item("I would rewind.", VSOD_ANSWERS, 3)])
    assert score["flags"] == [1, 0, 0, 0]
    assert agent.sent[0] == [
        {"role": "system", "content": FAKE_SYSTEM},
        {
            "role": "user",
            "content": "### U:\nWho is talking?\n### A:\n['Move the camera', 'Wait for the occlusion to "
            "disappear', 'Rewind the video', 'The man']\n### S:\nI would rewind.",
        },
    ]
    assert judge.describe()["prompt"] == {
        "source": "paper",
        "origin": str(fake_proactivebench),
        "sha256": prompt.describe()["sha256"],
    }
    assert LLMJudge(agent, prompt="own").describe()["prompt"]["source"] == "proactive_gym"


def test_paper_prompt_missing_or_unusable(monkeypatch, fake_proactivebench) -> None:
    from proactive_gym.agents import judge as judge_mod

    fake_proactivebench.write_text("SYSTEM_PROMPT = 'x'\nUSER_PROMPT = '{user_prompt} {reply}'\n")
    with pytest.raises(ValueError, match=r"USER_PROMPT has the fields \['reply', 'user_prompt'\]"):
        judge_mod.paper_prompt()
    monkeypatch.setattr("proactive_gym.data.subsets.proactivebench_file", lambda name: None)
    assert judge_mod.paper_prompt() is None
    assert judge_mod.resolve_prompt("auto").source == "proactive_gym"  # the fallback
    with pytest.raises(ValueError, match="pip install proactivebench"):
        judge_mod.resolve_prompt("paper")
    with pytest.raises(ValueError, match="pip install proactivebench"):
        make_judge("openai:m", prompt="paper", base_url="http://127.0.0.1:9")


def _qwen3_render(messages: list[dict]) -> str:
    """Render with TRL's copy of Qwen3's real chat template, as an hf: judge's tokenizer does."""
    pytest.importorskip("trl")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    )
    tokenizer.chat_template = qwen3_chat_template
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def test_judge_messages_through_the_real_qwen3_template(fake_proactivebench) -> None:
    for prompt in ("paper", "own"):
        judge = LLMJudge(_Echo("1"), prompt=prompt)
        conv = judge.conversation(item("Rewind it.", VSOD_ANSWERS, 3))
        system, user = conv[0]["content"], conv[1]["content"]
        assert user.endswith("Rewind it.") and "Rewind the video" in user
        assert _qwen3_render(conv) == (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
    # why strings: the same template renders list content as an empty user turn
    parts = [conv[0], {"role": "user", "content": [{"type": "text", "text": user}]}]
    assert "<|im_start|>user\n<|im_end|>" in _qwen3_render(parts)


def test_changeit_answer_list_grows_as_in_the_authors_code() -> None:
    """Both options valid on the first frame: the authors' parser expects one flag more than shown."""
    grown = ["Wait for the object to appear", "Rewind the video", "Rewind the video", "Bike"]
    agent = _Echo("1, 0, 0, 1")  # a verdict of the shown length ...
    [score] = LLMJudge(agent, prompt="own").score([item("x", grown, 2, "ChangeIt")])
    assert (score["flags"], score["agg"]) == (None, 0)  # ... scores all zeros, as in the paper's code
    agent = _Echo("1, 0, 0, 0, 1")
    [score] = LLMJudge(agent, prompt="own").score([item("x", grown, 2, "ChangeIt")])
    assert (score["ps"], score["cc"]) == (1, 1)
    # the strict parser counts the shown list; other ChangeIt lists (an option gone) do not grow
    [score] = LLMJudge(_Echo("1, 0, 0, 1"), prompt="own", parser="strict").score(
        [item("x", grown, 2, "ChangeIt")]
    )
    assert score["flags"] == [1, 0, 0, 1]
    short = ["Wait for the object to appear", "Rewind the video", "Bike"]
    [score] = LLMJudge(_Echo("0, 0, 1"), prompt="own").score([item("x", short, 2, "ChangeIt")])
    assert score["flags"] == [0, 0, 1]

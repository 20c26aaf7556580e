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
def test_parse_judge_output(raw: str, n: int, expected: list[int] | None) -> None:
    assert parse_judge_output(raw, n) == expected


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
            "openai:judge-model", base_url=server.url, concurrency=2, backoff=0.01, max_retries=0
        )
        items = [item(reply, VSOD_ANSWERS, 3) for reply in "ABCD"]
        scores = judge.score(items)
        assert [(s["ps"], s["cc"], s["agg"]) for s in scores] == [(1, 0, 1), (1, 1, 1), (0, 0, 0), (0, 0, 0)]
        assert [s["flags"] for s in scores] == [[0, 0, 1, 0], [1, 0, 0, 1], None, None]
        assert scores[0]["raw"] == outputs["A"]
        assert all("error" not in s for s in scores)

        body = next(b for b in server.requests if last_user_text(b).endswith("\nA"))
        assert body["max_tokens"] == 4096
        assert body["messages"][0] == {"role": "system", "content": JUDGE_SYSTEM_PROMPT}
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
        judge = make_judge("openai:judge-model", base_url=server.url, concurrency=1, max_retries=0)
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

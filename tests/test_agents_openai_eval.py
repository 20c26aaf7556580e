"""The openai: agent through the evaluation harness: a server that dies mid-run, then a resumed run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import FakeOpenAIServer, last_user_text  # noqa: E402

from proactive_gym.evaluation import evaluate  # noqa: E402

ENVS = "ROD,ImageNet-C,COCO"
EPISODES = 4  # per scenario


def first_letter_of_abstain(body: dict) -> str:
    """Answer with the abstain option's letter: every episode ends after one turn, deterministically."""
    for line in last_user_text(body).splitlines():
        if "cannot" in line or "do not" in line:
            return line.split(".")[0] + "."
    return "A."


def options(url: str) -> dict:
    return {"base_url": url, "concurrency": 4, "max_retries": 1, "backoff": 0.01, "timeout": 5}


def records_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def test_full_run_against_the_stub(tmp_path: Path) -> None:
    with FakeOpenAIServer(script=first_letter_of_abstain, model="stub") as server:
        summary = evaluate(
            "openai:stub", envs=ENVS, out=tmp_path, batch_size=6, max_episodes=EPISODES,
            agent_options=options(server.url),
        )  # fmt: skip
    assert sum(m["errors"] for m in summary.scenarios.values()) == 0
    records = records_of(tmp_path)
    assert len(records) == 3 * EPISODES
    assert all(r["outcome"] == "abstain" and r["turns"] == 1 for r in records)
    assert len(server.requests) == 3 * EPISODES
    assert summary.data["agent"]["describe"]["model"] == "stub"
    assert [m["n"] for m in summary.scenarios.values()] == [EPISODES] * 3


def run_until_the_server_dies(out: Path) -> tuple[int, list[dict]]:
    """A run whose server dies after answering 5 requests; returns (port, failed records)."""
    server = FakeOpenAIServer(script=first_letter_of_abstain, die_after=5, model="stub").start()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    first = evaluate(
        "openai:stub", envs=ENVS, out=out, batch_size=6, max_episodes=EPISODES,
        agent_options=options(server.url),
    )  # fmt: skip
    server.stop()
    records = records_of(out)
    assert len(records) == 3 * EPISODES  # every episode has a record: the run survived
    failed = [r for r in records if r.get("error")]
    # The 5 answered requests end their episodes (the agent keeps them when the harness retries the failed
    # batch item by item); the other 7 episodes fail.
    assert len(failed) == 3 * EPISODES - 5
    assert len(server.requests) == 5
    assert sum(m["errors"] for m in first.scenarios.values()) == len(failed)
    assert all("connection failed" in r["error"] for r in failed)
    return port, failed


def test_server_dies_mid_run(tmp_path: Path) -> None:
    _, failed = run_until_the_server_dies(tmp_path)
    assert "COCO" in {r["scenario"] for r in failed}  # the last scenario never got an answer


def test_resume_finishes_the_failed_episodes(tmp_path: Path) -> None:
    port, failed = run_until_the_server_dies(tmp_path)
    url = f"http://127.0.0.1:{port}/v1"
    # The server comes back on the same port; --resume runs the failed episodes again.
    with FakeOpenAIServer(script=first_letter_of_abstain, port=port, model="stub") as again:
        second = evaluate(
            "openai:stub", envs=ENVS, out=tmp_path, batch_size=6, max_episodes=EPISODES,
            agent_options=options(url), resume=True,
        )  # fmt: skip
    assert sum(m["errors"] for m in second.scenarios.values()) == 0
    assert len(again.requests) == len(failed)
    assert [m["n"] for m in second.scenarios.values()] == [EPISODES] * 3


def test_open_mode_with_an_llm_judge_over_http(tmp_path: Path) -> None:
    """Open-ended mode: the agent and the judge are both served by the stub; scores come from the judge."""

    def script(body: dict) -> str:
        text = last_user_text(body)
        if "## Acceptable answers\n" not in text:
            return "Please move the camera to the left."
        answers = json.loads(text.split("## Acceptable answers\n")[1].split("\n")[0])
        # Flag only the last acceptable answer: a category where the scenario has one, else a suggestion.
        return "<think>1, 1, 1</think>\n" + ", ".join(["0"] * (len(answers) - 1) + ["1"])

    with FakeOpenAIServer(script=script, model=("stub", "judge")) as server:
        summary = evaluate(
            "openai:stub", envs="ROD,QuickDraw", out=tmp_path, batch_size=4, max_episodes=3,
            env_kwargs={"mode": "open"}, agent_options=options(server.url),
            judge="openai:judge", judge_options={"base_url": server.url, "backoff": 0.01},
        )  # fmt: skip
    # ROD has no category answer (its last answer is a suggestion); QuickDraw's last answer is the category.
    assert (summary.scenarios["ROD"]["ps"], summary.scenarios["ROD"]["cc"]) == (100.0, 0.0)
    assert (summary.scenarios["QuickDraw"]["ps"], summary.scenarios["QuickDraw"]["cc"]) == (0.0, 100.0)
    records = records_of(tmp_path)
    assert all(r["judge"]["raw"].startswith("<think>1, 1, 1</think>\n") for r in records)
    judge_requests = [b for b in server.requests if b["model"] == "judge"]
    assert len(judge_requests) == 6 and all(b["max_tokens"] == 32768 for b in judge_requests)
    described = summary.data["judge"]["describe"]  # which prompt and parser judged the run
    assert (described["prompt"]["source"], described["parser"]) == ("proactive_gym", "paper")

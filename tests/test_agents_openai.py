"""The openai: agent against a real HTTP server on 127.0.0.1 (tests/fake_openai_server.py)."""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import FakeOpenAIServer, last_user_text  # noqa: E402

from proactive_gym.agents import make_agent  # noqa: E402
from proactive_gym.agents.openai_agent import OpenAIAgent, OpenAIBatchError, OpenAIRequestError  # noqa: E402


def echo(body: dict) -> str:
    return "R:" + last_user_text(body)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(script=echo, stall_seconds=3.0) as srv:
        yield srv


def observations(n: int, size: int = 8) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {"image": rng.integers(0, 256, (size, size + 2, 3), dtype=np.uint8), "dialogue": f"q{i}"}
        for i in range(n)
    ]


def agent_for(urls: str | list[str], **options) -> OpenAIAgent:
    options.setdefault("backoff", 0.01)
    agent = make_agent("openai:test-model", base_url=urls, **options)
    assert isinstance(agent, OpenAIAgent)
    return agent


def test_request_format_and_replies_in_order(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setenv("MY_KEY", "sekrit")
    obs = observations(5)
    with agent_for(server.url, concurrency=3, api_key_env="MY_KEY", max_new_tokens=7) as agent:
        assert agent.act(obs, [{}] * 5) == [f"R:q{i}" for i in range(5)]
        described = agent.describe()
    assert described["model"] == "test-model" and described["base_url"] == [server.url]
    assert "sekrit" not in repr(described)
    body = next(b for b in server.requests if last_user_text(b) == "q3")
    assert body["model"] == "test-model"
    assert body["max_tokens"] == 7 and body["temperature"] == 0.0
    parts = body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(pixels, obs[3]["image"])  # lossless: the server sees the exact image
    assert all(h["authorization"] == "Bearer sekrit" for h in server.headers)


def test_no_key_no_header(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with agent_for(server.url) as agent:
        agent.act(observations(1), [{}])
    assert "authorization" not in server.headers[0]


def test_retries_every_transient_fault_then_succeeds(server: FakeOpenAIServer) -> None:
    server.queue_faults("500", "429", "503", "garbage", "empty", "drop")
    with agent_for(server.url, concurrency=1, max_retries=6) as agent:
        assert agent.act(observations(1), [{}]) == ["R:q0"]
    assert server.statuses == ["500", "429", "503", "garbage", "empty", "drop", 200]


def test_timeout_is_retried(server: FakeOpenAIServer) -> None:
    server.queue_faults("stall")
    with agent_for(server.url, concurrency=1, timeout=0.3, max_retries=1) as agent:
        assert agent.act(observations(1), [{}]) == ["R:q0"]
    assert server.statuses == ["stall", 200]


def test_exhausted_retries_give_per_item_errors(server: FakeOpenAIServer) -> None:
    # One slot: requests arrive in item order, so item 0 takes the 500 and has no retry left.
    server.queue_faults("500")
    with agent_for(server.url, concurrency=1, max_retries=0) as agent:
        with pytest.raises(OpenAIBatchError) as caught:
            agent.act(observations(3), [{}] * 3)
    err = caught.value
    assert err.replies == [None, "R:q1", "R:q2"]
    assert err.errors[1:] == [None, None]
    assert err.errors[0].startswith("OpenAIRequestError: failed after 1 attempts; last error: ")
    assert "HTTP 500" in err.errors[0]
    assert str(err).startswith("1 of 3 requests failed")


def test_a_backoff_frees_its_slot(server: FakeOpenAIServer) -> None:
    # One slot; item 0 fails and waits about 0.5 s for its retry: items 1 and 2 are served meanwhile.
    server.queue_faults("500")
    with agent_for(server.url, concurrency=1, max_retries=1, backoff=0.5) as agent:
        assert agent.act(observations(3), [{}] * 3) == ["R:q0", "R:q1", "R:q2"]
    assert [last_user_text(body) for body in server.requests] == ["q0", "q1", "q2", "q0"]
    assert server.statuses == ["500", 200, 200, 200]


def test_client_error_is_not_retried(server: FakeOpenAIServer) -> None:
    server.queue_faults("400")
    with agent_for(server.url, max_retries=5) as agent:
        with pytest.raises(OpenAIBatchError) as caught:
            agent.act(observations(1), [{}])
    assert "HTTP 400 (not retried)" in caught.value.errors[0]
    assert len(server.requests) == 1


def test_garbage_forever_is_a_clear_error(server: FakeOpenAIServer) -> None:
    server.set_default_fault("garbage")
    with agent_for(server.url, max_retries=2) as agent:
        with pytest.raises(OpenAIBatchError) as caught:
            agent.act(observations(1), [{}])
    assert "response is not JSON: '<html>this is not json'" in caught.value.errors[0]
    assert len(server.requests) == 3
    server.set_default_fault("empty")
    with agent_for(server.url, max_retries=0) as agent:
        with pytest.raises(OpenAIBatchError) as caught:
            agent.act(observations(1), [{}])
    assert "response has no choices" in caught.value.errors[0]


def test_null_content_is_the_empty_reply(server: FakeOpenAIServer) -> None:
    server.queue_faults("null")
    with agent_for(server.url) as agent:
        assert agent.act(observations(1), [{}]) == [""]
    assert len(server.requests) == 1


def test_concurrency_is_bounded_and_used() -> None:
    with FakeOpenAIServer(script=echo, latency=0.15) as srv:
        with agent_for(srv.url, concurrency=4) as agent:
            assert agent.act(observations(12), [{}] * 12) == [f"R:q{i}" for i in range(12)]
        assert srv.max_in_flight == 4


def test_round_robin_and_failover_to_a_live_server() -> None:
    with FakeOpenAIServer(script=lambda b: "one") as one, FakeOpenAIServer(script=lambda b: "two") as two:
        with agent_for([one.url, two.url], concurrency=2) as agent:
            replies = agent.act(observations(10), [{}] * 10)
        assert sorted(replies) == ["one"] * 5 + ["two"] * 5
        assert len(one.requests) == len(two.requests) == 5
        one.stop()
        # The dead server refuses connections; every item is retried on the live one, without waiting,
        # and once it refused, the dead server is skipped.
        with agent_for(f"{one.url},{two.url}", concurrency=1, max_retries=1, backoff=100.0) as agent:
            waits: list[float] = []
            agent._sleep = waits.append  # type: ignore[method-assign]
            assert agent.act(observations(6), [{}] * 6) == ["two"] * 6
            assert waits == []
            assert len(two.requests) == 5 + 6
            assert list(agent._down_until) == [one.url]


def test_server_dies_mid_run() -> None:
    srv = FakeOpenAIServer(script=echo).start()
    with agent_for(srv.url, concurrency=2, max_retries=1) as agent:
        assert agent.act(observations(2), [{}] * 2) == ["R:q0", "R:q1"]
        srv.stop()
        with pytest.raises(OpenAIBatchError) as caught:
            agent.act(observations(3), [{}] * 3)
    assert caught.value.replies == [None, None, None]
    assert all("connection failed" in e for e in caught.value.errors)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "localhost:8000"}, r"is not an http\(s\) URL"),
        ({"base_url": ""}, "base_url is empty"),
        ({"base_url": "http://x/v1", "concurrency": 0}, "concurrency must be an integer >= 1"),
        ({"base_url": "http://x/v1", "timeout": "fast"}, "timeout must be a number"),
        ({"base_url": "http://x/v1", "image_format": "gif"}, "image_format must be 'png' or 'jpeg'"),
        ({"base_url": "https://api.openai.com/v1", "api_key_env": "NO_SUCH_KEY_VAR"}, r"\$NO_SUCH_KEY_VAR"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_agent("openai:m", **options)


def test_base_url_variants_and_close_twice() -> None:
    agent = make_agent("openai:m", base_url=" http://a:1/v1/ , http://b:2/v1/chat/completions ")
    assert agent.base_urls == ["http://a:1/v1", "http://b:2/v1"]
    agent.close()
    agent.close()
    with pytest.raises(RuntimeError, match="after close"):
        agent.act(observations(1), [{}])


def test_history_reaches_the_server_as_a_conversation(server: FakeOpenAIServer) -> None:
    import gymnasium as gym

    import proactive_gym  # noqa: F401

    env = gym.make("ProactiveBench/ROD-v0", history=True)
    obs, info = env.reset(seed=0)
    first_reply = info["oracle"]
    obs, *_ = env.step(first_reply)
    env.close()
    with agent_for(server.url) as agent:
        agent.act([obs], [{}])
    messages = server.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == first_reply
    assert [[p["type"] for p in m["content"]] for m in messages[::2]] == [["image_url", "text"]] * 2
    assert messages[2]["content"][1]["text"] == obs["dialogue"]


def test_item_by_item_retry_after_a_failed_batch_sends_nothing_new(server: FakeOpenAIServer) -> None:
    """The harness retries a failed batch item by item: settled items come back without new requests."""
    server.queue_faults("500")
    obs = observations(3)
    with agent_for(server.url, concurrency=1, max_retries=0) as agent:
        with pytest.raises(OpenAIBatchError):
            agent.act(obs, [{}] * 3)
        sent = len(server.requests)
        with pytest.raises(OpenAIRequestError, match="HTTP 500"):
            agent.act([obs[0]], [{}])
        assert agent.act([obs[1]], [{}]) == ["R:q1"]
        assert agent.act([obs[2]], [{}]) == ["R:q2"]
        assert len(server.requests) == sent
        # Asked again later, an observation is sent again (the memo is used once).
        assert agent.act([obs[0]], [{}]) == ["R:q0"]
        assert len(server.requests) == sent + 1
        # An equal but different observation object is always sent.
        server.queue_faults("500")
        with pytest.raises(OpenAIBatchError):
            agent.act(obs[:2], [{}] * 2)
        assert agent.act([dict(obs[0])], [{}]) == ["R:q0"]

"""A real OpenAI-compatible server: the tiny model behind ``transformers serve`` on loopback, reached with
the official ``openai`` client and through the ``openai:`` agent, images included."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time

import httpx
import pytest

pytest.importorskip("trl")  # the tiny model's chat template
pytest.importorskip("fastapi")  # transformers[serving]
pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")

from proactive_gym.evaluation import evaluate  # noqa: E402
from proactive_gym.protocol import openai_messages, to_messages  # noqa: E402

pytestmark = pytest.mark.slow

SERVE = "from transformers.cli.transformers import main; import sys; sys.argv[0] = 'transformers'; sys.exit(main())"


@pytest.fixture(scope="module")
def server(tiny_model):
    """``transformers serve <tiny model> --trust-remote-code`` on 127.0.0.1, a port the OS picks."""
    cmd = [sys.executable, "-c", SERVE, "serve", tiny_model, "--host", "127.0.0.1", "--port", "0",
           "--device", "cpu", "--trust-remote-code", "--log-level", "info"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        port, deadline, log = None, time.monotonic() + 120, []
        while port is None:
            try:
                log.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail("transformers serve did not start in 120 s:\n" + "".join(log))
            found = re.search(r"running on http://127\.0\.0\.1:(\d+)", log[-1])
            port = int(found.group(1)) if found else None
            if proc.poll() is not None:
                pytest.fail("transformers serve exited:\n" + "".join(log))
        url = f"http://127.0.0.1:{port}/v1"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_server_sees_the_image(server, tiny_model, make_env):
    from proactive_gym.models import load_processor

    env = make_env("ROD")
    obs, _ = env.reset(seed=0, options={"sample_id": env.unwrapped.sample_ids[0]})
    with_image = openai_messages(obs)
    text_only = [
        {"role": m["role"], "content": [p for p in m["content"] if p["type"] == "text"]} for m in with_image
    ]
    client = openai.OpenAI(base_url=server, api_key="unused", max_retries=0)
    tokens = []
    for messages in (text_only, with_image):
        response = client.chat.completions.create(
            model=tiny_model, messages=messages, max_tokens=2, temperature=0
        )
        tokens.append(response.usage.prompt_tokens)
    # the same counts as the model's own processor: the image became exactly its image tokens
    processor = load_processor(tiny_model)
    local = [
        len(
            processor.apply_chat_template(m, tokenize=True, return_dict=True, add_generation_prompt=True)[
                "input_ids"
            ][0]
        )
        for m in (
            [{"role": "user", "content": [{"type": "text", "text": obs["dialogue"]}]}],
            to_messages(obs),
        )
    ]
    assert tokens == local and tokens[1] > tokens[0]


def test_eval_end_to_end_through_the_openai_agent(server, tiny_model, fixture_root, tmp_path):
    summary = evaluate(
        f"openai:{tiny_model}",
        envs="ROD,COCO",
        out=tmp_path / "run",
        max_episodes=2,
        env_kwargs={"data_root": str(fixture_root), "subset": "all"},
        agent_options={"base_url": server, "max_new_tokens": 8, "timeout": 120, "max_retries": 0},
    )
    assert summary.errors == 0 and summary.data["complete"]
    assert [m["n"] for m in summary.scenarios.values()] == [2, 2]
    records = [json.loads(line) for line in (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()]
    assert sorted((r["scenario"], r["index"]) for r in records) == [
        ("COCO", 0),
        ("COCO", 1),
        ("ROD", 0),
        ("ROD", 1),
    ]
    steps = [s for r in records for s in r["steps"]]
    assert steps and all(isinstance(s["reply"], str) and s["outcome"] for s in steps)

"""The rollout engine against a real HTTP server (tests/fake_openai_server.py): every episode advances on
its own reply, the in-flight count stays at --concurrency, replies in any order give the records of
sequential play, a kill -9 with requests in flight resumes to the same result, fail-fast server checks,
exit codes, hostile replies, redacted keys, progress lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import FakeOpenAIServer, last_user_text  # noqa: E402

from proactive_gym.cli import ProgressStats, main  # noqa: E402
from proactive_gym.evaluation import RunDir, evaluate  # noqa: E402

SYN = {"data": "synthetic"}
ENVS = "ROD,QuickDraw,COCO"


def hashed_letter(body: dict) -> str:
    """A reply that depends only on the prompt: a letter picked by its CRC among the shown options, so
    episodes run several turns with mixed outcomes and the replies do not depend on the request order."""
    lines = [line for line in last_user_text(body).splitlines() if line[:2] in {f"{c}." for c in "ABCDEFGH"}]
    if not lines:
        return "A."
    return lines[zlib.crc32(last_user_text(body).encode()) % len(lines)][:2]


def first_option(body: dict) -> str:
    return "Z."  # not an option: every episode ends after one unparsable turn


def options(url: str, concurrency: int, **extra) -> dict:
    return {
        "base_url": url,
        "concurrency": concurrency,
        "max_retries": 1,
        "backoff": 0.01,
        "timeout": 30,
        **extra,
    }


def lines_of(out: Path) -> list[str]:
    return (out / "episodes.jsonl").read_text(encoding="utf-8").splitlines()


def strip_run(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("run", "git")}


def test_shuffled_replies_give_the_records_and_metrics_of_sequential_play(tmp_path):
    with FakeOpenAIServer(script=hashed_letter, model="stub") as server:
        sequential = evaluate(
            "openai:stub", envs=ENVS, env_kwargs=SYN, out=tmp_path / "seq", batch_size=1, max_episodes=4,
            agent_options=options(server.url, 1),
        )  # fmt: skip
        assert server.max_in_flight == 1
    # Replies held until 4 are in flight, then answered in a seeded random order.
    with FakeOpenAIServer(script=hashed_letter, model="stub", gate=4, gate_timeout=0.2, gate_seed=7) as gated:
        shuffled = evaluate(
            "openai:stub", envs=ENVS, env_kwargs=SYN, out=tmp_path / "shuf", batch_size=1, max_episodes=4,
            agent_options=options(gated.url, 4),
        )  # fmt: skip
    assert gated.max_in_flight == 4
    seq_lines, shuf_lines = lines_of(tmp_path / "seq"), lines_of(tmp_path / "shuf")
    assert len(seq_lines) == 12 and sorted(seq_lines) == sorted(shuf_lines)
    assert seq_lines != shuf_lines  # written as they finished: another order
    assert sum(json.loads(line)["turns"] for line in seq_lines) > 12  # multi-turn episodes
    assert shuffled.data["metrics"] == sequential.data["metrics"]
    assert strip_run(shuffled.data)["complete"] is True


def test_in_flight_stays_at_the_limit_while_work_remains(tmp_path):
    episodes = 3 * 8  # one turn each: 24 requests in all
    # The gate answers only while 6 requests (or all that are left) are in flight: any dip stalls it.
    with FakeOpenAIServer(script=first_option, model="stub", gate=6, expected=episodes) as server:
        summary = evaluate(
            "openai:stub", envs=ENVS, env_kwargs=SYN, out=tmp_path, max_episodes=8,
            agent_options=options(server.url, 6),
        )  # fmt: skip
    assert len(server.requests) == episodes and summary.data["complete"]
    assert server.starved == 0  # never fewer than 6 in flight while 6 or more requests were left
    assert server.max_in_flight == 6  # and never more
    assert server.in_flight_at_arrival[5 : episodes - 5] == [6] * (episodes - 10)


SERVED_RUN = textwrap.dedent(
    """
    import sys
    from proactive_gym.evaluation import evaluate
    evaluate("openai:stub", envs="ROD,QuickDraw,COCO", env_kwargs={"data": "synthetic"}, out=sys.argv[1],
             max_episodes=12, resume=True,
             agent_options={"base_url": sys.argv[2], "concurrency": 4, "max_retries": 1, "backoff": 0.01,
                            "timeout": 30})
    """
)


def test_kill_with_requests_in_flight_then_resume(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SERVED_RUN)
    killed = tmp_path / "killed"
    episodes = killed / "episodes.jsonl"
    with FakeOpenAIServer(script=hashed_letter, model="stub", latency=0.03) as server:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(killed), server.url], stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if episodes.exists() and episodes.read_bytes().count(b"\n") >= 10:
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended (rc {proc.returncode}) before it could be killed")
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = episodes.read_bytes().count(b"\n")
        assert 10 <= before < 36 and not (killed / "summary.json").exists()
        resumed = evaluate(
            "openai:stub", envs=ENVS, env_kwargs=SYN, out=killed, max_episodes=12, resume=True,
            agent_options=options(server.url, 4),
        )  # fmt: skip
        whole = evaluate(
            "openai:stub", envs=ENVS, env_kwargs=SYN, out=tmp_path / "whole", max_episodes=12,
            agent_options=options(server.url, 1),
        )  # fmt: skip
    assert resumed.data["run"]["resumed_from"] == before
    keys = [(r["scenario"], r["sample_id"]) for r in map(json.loads, lines_of(killed))]
    assert len(keys) == 36 == len(set(keys))  # none missing, none twice
    assert sorted(lines_of(killed)) == sorted(lines_of(tmp_path / "whole"))
    assert resumed.data["metrics"] == whole.data["metrics"] and resumed.data["complete"]


# ------------------------------------------------------------------------------------------ fail fast


def eval_args(out: Path, *extra: str) -> list[str]:
    return ["eval", "--envs", "ROD", "--max-episodes", "2", "--out", str(out), "--quiet", *extra]


def run_main(args: list[str], capsys) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    rc = main(args)
    return rc, capsys.readouterr().err, time.perf_counter() - t0


def test_a_dead_server_fails_at_once_naming_the_flag(tmp_path, capsys):
    dead = FakeOpenAIServer(model="stub")
    url = dead.url
    dead.stop()
    rc, err, took = run_main(eval_args(tmp_path, "--agent", "openai:stub", "--base-url", url), capsys)
    assert rc == 2 and took < 10
    assert err.strip().startswith(f"error: --base-url {url}: cannot connect")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "episodes.jsonl").read_text()  # no episode was played


def test_a_wrong_model_name_fails_naming_the_served_ones(tmp_path, capsys):
    with FakeOpenAIServer(model="Qwen/Qwen2.5-VL-7B-Instruct") as server:
        rc, err, _ = run_main(eval_args(tmp_path, "--agent", "openai:qwen", "--base-url", server.url), capsys)
        assert server.requests == []
    assert rc == 2
    assert err.strip() == (
        f"error: --agent: the server at {server.url} does not serve 'qwen'; it serves "
        "'Qwen/Qwen2.5-VL-7B-Instruct'. Fix the model name in --agent (openai:<name>)"
    )


def test_a_refused_key_fails_naming_the_variable_and_never_shows_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PG_TEST_KEY", "sk-wrong-0123456789")
    with FakeOpenAIServer(model="stub", api_key="sk-right") as server:
        rc, err, _ = run_main(
            eval_args(
                tmp_path, "--agent", "openai:stub", "--base-url", server.url, "--api-key-env", "PG_TEST_KEY"
            ),
            capsys,
        )
    assert rc == 2 and "sk-wrong" not in err
    assert err.strip() == (
        f"error: --base-url {server.url}: the server refused the API key (HTTP 401, a key was sent); put a "
        "valid key in $PG_TEST_KEY or name another variable with --api-key-env"
    )


def test_a_dead_judge_server_names_the_judge_flag(tmp_path, capsys):
    dead = FakeOpenAIServer(model="judge")
    url = dead.url
    dead.stop()
    with FakeOpenAIServer(model="stub") as server:
        rc, err, _ = run_main(
            eval_args(tmp_path, "--agent", "openai:stub", "--base-url", server.url, "--mode", "open",
                      "--judge", "openai:judge", "--judge-base-url", url),
            capsys,
        )  # fmt: skip
        assert server.requests == []
    assert rc == 2 and err.strip().startswith(f"error: --judge-base-url {url}: cannot connect")


# --------------------------------------------------------------------------------- exit codes, resume


def test_errors_make_the_run_incomplete_and_the_exit_status_1_until_resumed(tmp_path, capsys):
    with FakeOpenAIServer(script=first_option, model="stub") as server:
        args = eval_args(tmp_path, "--agent", "openai:stub", "--base-url", server.url, "--concurrency", "1")
        server.queue_faults("400")  # the first request is refused (not retried): one episode errors
        assert main(args) == 1
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["complete"] is False and summary["data"]["ROD"]["errors"] == 1
        assert (
            "exit status 1: 1 of 2 episodes errored, more than --max-error-rate 0" in capsys.readouterr().out
        )
        server.queue_faults("400")
        assert main([*args, "--resume", "--max-error-rate", "0.5"]) == 0  # 1 of 2 is not more than half
        assert json.loads((tmp_path / "summary.json").read_text())["complete"] is False
        assert main([*args, "--resume"]) == 0  # the errored episode runs again and succeeds
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["complete"] is True and summary["data"]["ROD"]["errors"] == 0
    assert len(server.requests) == 2 + 1 + 1


# ----------------------------------------------------------------------------------- hostile replies


HOSTILE = ["A\ud800.", "B.\x00\x00", ["A.", {"no": "text"}], 12, "x" * 3_000_000, None]


def test_hostile_replies_are_recorded_and_scored_and_resume_reads_them(tmp_path):
    count = iter(range(10_000))

    def script(body: dict):
        return HOSTILE[next(count) % len(HOSTILE)]

    with FakeOpenAIServer(script=script, model="stub") as server:
        summary = evaluate(
            "openai:stub", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=6,
            agent_options=options(server.url, 1),
        )  # fmt: skip
        assert summary.errors == 0 and summary.data["complete"]
        raw = (tmp_path / "episodes.jsonl").read_bytes()
        raw.decode("utf-8")  # valid UTF-8 throughout
        got = {s["reply"]: s["outcome"] for r in RunDir(tmp_path).records() for s in r["steps"]}
        assert set(got) == {"A\ud800.", "B.\x00\x00", '["A.", {"no": "text"}]', "12", "x" * 3_000_000, ""}
        assert got["A\ud800."] == "unparsable" and got["12"] == "unparsable"
        assert got["x" * 3_000_000] == "unparsable" and got[""] == "unparsable"
        assert got["B.\x00\x00"] != "unparsable"  # the env reads the letter, as it does without the NULs
        # a resumed run reads the file back
        again = evaluate(
            "openai:stub", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=6, resume=True,
            agent_options=options(server.url, 1),
        )  # fmt: skip
        assert again.data["metrics"] == summary.data["metrics"]


def test_a_surrogate_in_a_judge_output_is_recorded(tmp_path):
    def script(body: dict) -> str:
        if "## Acceptable answers\n" in last_user_text(body):
            return "\udcff thinking \x00 1, 0"
        return "Please move the camera."

    with FakeOpenAIServer(script=script, model=("stub", "judge")) as server:
        summary = evaluate(
            "openai:stub", envs="ROD", env_kwargs={**SYN, "mode": "open"}, out=tmp_path, max_episodes=3,
            agent_options=options(server.url, 2), judge="openai:judge", judge_options={"base_url": server.url},
        )  # fmt: skip
    assert summary.errors == 0
    records = RunDir(tmp_path).records()
    assert len(records) == 3 and all(r["judge"]["raw"] == "\udcff thinking \x00 1, 0" for r in records)


def test_the_key_never_reaches_the_records_when_a_server_echoes_headers(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_TEST_KEY", "sk-secret-abcdef")
    with FakeOpenAIServer(script=first_option, model="stub", api_key="sk-secret-abcdef") as server:
        server.queue_faults("401")
        summary = evaluate(
            "openai:stub", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=2,
            agent_options=options(server.url, 1, api_key_env="PG_TEST_KEY"),
        )  # fmt: skip
    assert summary.errors == 1
    text = (tmp_path / "episodes.jsonl").read_text()
    error = next(r["error"] for r in map(json.loads, text.splitlines()) if r["error"])
    assert "HTTP 401" in error and "Bearer ***" in error
    assert "sk-secret" not in text


# ---------------------------------------------------------------------------------------- progress


def test_progress_line_counts_eta_and_live_turns_per_second():
    now = [100.0]
    stats = ProgressStats(window=10.0, clock=lambda: now[0])
    stats.start({"ROD": 10, "COCO": 10}, {"ROD": 2})
    for _ in range(30):
        now[0] += 0.5
        stats.step()  # 21 turns in the last 10 s
    stats.update({"scenario": "ROD", "error": None})
    stats.update({"scenario": "COCO", "error": "boom"})
    assert stats.line() == "4/20 episodes (20.0%), 1 errors; ROD 3/10, COCO 1/10; 2.1 turns/s; ETA 0:02:00"

"""End to end on the built-in synthetic data: scripted agents, exact numbers, errors, open mode, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gymnasium as gym
import pytest

import proactive_gym  # noqa: F401
from proactive_gym.agents import make_agent
from proactive_gym.agents.scripted import OracleAgent, RandomAgent
from proactive_gym.evaluation import evaluate, rollout
from proactive_gym.evaluation.results import RunDir
from proactive_gym.scenarios import SCENARIOS

SYN = {"data": "synthetic"}
NAMES = list(SCENARIOS)


def n_episodes(name: str, **env_kwargs) -> int:
    """How many episodes a scenario of the synthetic data has (its size is the synthetic owner's choice)."""
    env = gym.make(SCENARIOS[name].env_id, **{**SYN, **env_kwargs})
    n = len(env.unwrapped.sample_ids)
    env.close()
    return n


@pytest.fixture(scope="module")
def synthetic_root():
    from proactive_gym.data.synthetic import ensure_synthetic

    return ensure_synthetic()


@pytest.fixture(scope="module")
def entries(synthetic_root):
    """The raw released-format lines of the synthetic data, by scenario short name."""
    out = {}
    for name, scenario in SCENARIOS.items():
        path = Path(synthetic_root) / f"{scenario.prefix}_preprocessed.jsonl"
        out[name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def naive_loop(agent, name, env_kwargs=SYN):
    """The simplest possible evaluation of one scenario, for comparison with the harness."""
    env = gym.make(SCENARIOS[name].env_id, **env_kwargs)
    outcomes, turns = [], []
    for sid in env.unwrapped.sample_ids:
        obs, info = env.reset(options={"sample_id": sid})
        n, done = 0, False
        while not done:
            (reply,) = agent.act([obs], [info])
            obs, _, terminated, truncated, info = env.step(reply)
            n += 1
            done = terminated or truncated
        outcomes.append(info["outcome"])
        turns.append(n)
    env.close()
    return outcomes, turns


def strip_run(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "run"}


def test_oracle_solves_everything_in_the_minimum_turns():
    s = evaluate("oracle", envs="all", env_kwargs=SYN)
    for name in NAMES:
        m = s.scenarios[name]
        assert m["n"] == n_episodes(name) > 0 and m["errors"] == 0
        assert m["acc"] == 100.0
        assert m["optimal_rate"] == 100.0
        assert m["psr"] == pytest.approx(m["mean_min_turns"] - 1)
    assert s.acc["avg"] == 100.0
    assert s.data["complete"] is True
    assert all(d["data_source"] == "synthetic" for d in s.data["data"].values())


def test_abstain_scores_zero_and_never_asks():
    s = evaluate("abstain", envs="all", env_kwargs=SYN)
    for name in NAMES:
        m = s.scenarios[name]
        assert (m["acc"], m["psr"], m["abstain_rate"], m["mean_turns"]) == (0.0, 0.0, 100.0, 1.0)
    assert (s.acc["avg"], s.psr["avg"]) == (0.0, 0.0)


def test_first_guess_matches_the_data(entries):
    s = evaluate("first-guess", envs="all", env_kwargs=SYN)
    for name in NAMES:
        lines = entries[name]
        # ROD never accepts a category at turn 0 (nothing moved yet); elsewhere the first category wins
        # exactly when it is the answer.
        hits = 0 if name == "ROD" else sum(e["categories"][0] == e["answer"] for e in lines)
        assert s.scenarios[name]["acc"] == pytest.approx(100.0 * hits / len(lines)), name
        assert s.scenarios[name]["psr"] == 0.0
        assert s.scenarios[name]["mean_turns"] == 1.0
    assert s.psr["avg"] == 0.0


@pytest.mark.parametrize("spec", ["suggest", "random"])
def test_harness_equals_a_naive_loop(spec):
    s = evaluate(spec, envs="all", env_kwargs=SYN, batch_size=5)
    for name in NAMES:
        outcomes, turns = naive_loop(make_agent(spec), name)
        m = s.scenarios[name]
        assert m["acc"] == pytest.approx(100.0 * outcomes.count("correct") / len(outcomes)), name
        assert m["psr"] == pytest.approx(sum(t - 1 for t in turns) / len(turns)), name
        assert m["abstain_rate"] == pytest.approx(100.0 * outcomes.count("abstain") / len(outcomes)), name


def test_suggest_asks_and_never_abstains(tmp_path):
    s = evaluate("suggest", envs="all", env_kwargs=SYN, out=tmp_path)
    first = {r["steps"][0]["outcome"] for r in RunDir(tmp_path).records()}
    assert first <= {"useful_suggestion", "useless_suggestion", "out_of_turns"}  # always asks first
    for name in NAMES:
        m = s.scenarios[name]
        assert m["abstain_rate"] == 0.0
        if name != "ImageNet-C":  # elsewhere every shown non-abstain option helps: at least one more turn
            assert m["psr"] >= 1.0, name


def test_batch_size_does_not_change_any_record(tmp_path):
    for bs in (1, 7):
        evaluate("random", envs="ROD,ChangeIt,COCO", env_kwargs=SYN, batch_size=bs, out=tmp_path / f"b{bs}")
    one = sorted(RunDir(tmp_path / "b1").records(), key=lambda r: (r["scenario"], r["sample_id"]))
    seven = sorted(RunDir(tmp_path / "b7").records(), key=lambda r: (r["scenario"], r["sample_id"]))
    assert one == seven and len(one) == sum(n_episodes(n) for n in ("ROD", "ChangeIt", "COCO"))


def test_rollout_returns_the_same_record_as_the_runner(tmp_path):
    env = gym.make("ProactiveBench/COCO-v0", **SYN)
    sid = env.unwrapped.sample_ids[3]
    record = rollout(env, OracleAgent(), sample_id=sid)
    assert record["outcome"] == "correct" and record["turns"] == record["min_turns"]
    assert [s["turn"] for s in record["steps"]] == list(range(record["turns"]))
    assert record["steps"][-1]["reply"] == record["steps"][-1]["oracle"]
    env.close()


class FailsOn(OracleAgent):
    """The oracle, except that any batch holding one given episode raises."""

    def __init__(self, scenario, sample_id):
        self.target = (scenario, sample_id)

    def act(self, observations, infos):
        if any((i["scenario"], i["sample_id"]) == self.target for i in infos):
            raise RuntimeError("model crashed")
        return super().act(observations, infos)


def test_an_agent_error_is_recorded_and_the_run_goes_on(tmp_path):
    env = gym.make("ProactiveBench/VSOD-v0", **SYN)
    bad = env.unwrapped.sample_ids[5]
    env.close()
    agent = FailsOn("VSOD", bad)
    agent.name = "oracle"
    s = evaluate(agent, envs="ROD,VSOD", env_kwargs=SYN, batch_size=4, out=tmp_path)
    assert s.errors == 1
    assert s.scenarios["VSOD"]["errors"] == 1 and s.scenarios["VSOD"]["n"] == n_episodes("VSOD") - 1
    assert s.scenarios["VSOD"]["acc"] == 100.0 and s.scenarios["ROD"]["acc"] == 100.0
    failed = [r for r in RunDir(tmp_path).records() if r["error"]]
    assert [(r["scenario"], r["sample_id"]) for r in failed] == [("VSOD", bad)]
    assert "RuntimeError: model crashed" in failed[0]["error"]


class KeywordJudge:
    """A tiny offline judge: a suggestion / category counts when the reply contains its words."""

    name = "fake-keyword"

    def __init__(self):
        self.items = []

    def score(self, items):
        self.items.extend(items)
        out = []
        for item in items:
            reply = item["reply"].lower()
            k = item["n_suggestion_answers"]
            hits = [a.lower() in reply for a in item["acceptable_answers"]]
            ps, cc = int(any(hits[:k])), int(any(hits[k:]))
            out.append({"ps": ps, "cc": cc, "agg": int(ps or cc), "raw": ",".join(str(int(h)) for h in hits)})
        return out


def test_open_mode_judges_the_single_turn(tmp_path):
    judge = KeywordJudge()
    kwargs = {**SYN, "mode": "open"}
    s = evaluate("oracle", envs="ROD,COCO", env_kwargs=kwargs, judge=judge, out=tmp_path, batch_size=3)
    # the oracle replies the first acceptable answer, a suggestion: ps 100, and never a category
    for name in ("ROD", "COCO"):
        m = s.scenarios[name]
        assert (m["ps"], m["cc"], m["agg"], m["psr"]) == (100.0, 0.0, 100.0, 0.0)
    assert len(judge.items) == s.avg["n"] == n_episodes("ROD", mode="open") + n_episodes("COCO", mode="open")
    assert all(item["prompt"] and item["acceptable_answers"] for item in judge.items)
    records = RunDir(tmp_path).records()
    assert all(r["judge"]["agg"] == 1 and r["mode"] == "open" for r in records)
    assert s.data["judge"]["spec"] == "fake-keyword"

    abstain = evaluate("abstain", envs="ROD,COCO", env_kwargs=kwargs, judge=KeywordJudge())
    assert abstain.avg["agg"] == 0.0


def test_refuses_a_different_config_and_resumes_the_same(tmp_path):
    evaluate("oracle", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=5)
    with pytest.raises(ValueError, match=r'agent: "oracle" -> "abstain"'):
        evaluate("abstain", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=5)
    with pytest.raises(ValueError, match="--resume"):
        evaluate("oracle", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=5)
    s = evaluate("oracle", envs="ROD", env_kwargs=SYN, out=tmp_path, max_episodes=5, resume=True)
    assert s.data["run"]["episodes_this_session"] == 0 and s.avg["n"] == 5


def test_truncated_last_line_is_repaired_on_resume(tmp_path):
    full = evaluate("random", envs="VSOD,QuickDraw", env_kwargs=SYN, out=tmp_path / "full", max_episodes=10)
    run = tmp_path / "cut"
    evaluate("random", envs="VSOD,QuickDraw", env_kwargs=SYN, out=run, max_episodes=10)
    path = run / "episodes.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:7]) + lines[7][: len(lines[7]) // 2])  # killed mid-write
    (run / "summary.json").unlink()
    resumed = evaluate("random", envs="VSOD,QuickDraw", env_kwargs=SYN, out=run, max_episodes=10, resume=True)
    assert resumed.data["run"]["resumed_from"] == 7
    assert strip_run(resumed.data) == strip_run(full.data)
    keys = [(r["scenario"], r["sample_id"]) for r in RunDir(run).records()]
    assert len(keys) == len(set(keys)) == 20


SLOW_RUN = textwrap.dedent(
    """
    import sys, time
    from proactive_gym.agents.scripted import RandomAgent
    from proactive_gym.evaluation import evaluate

    class Slow(RandomAgent):
        def act(self, observations, infos):
            time.sleep(0.004)
            return super().act(observations, infos)

    agent = Slow(seed=3)
    agent.name = "random"
    evaluate(agent, envs="all", env_kwargs={"data": "synthetic"}, out=sys.argv[1], batch_size=3,
             max_episodes=40, resume=True)
    """
)


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_summary(tmp_path):
    script = tmp_path / "slow_run.py"
    script.write_text(SLOW_RUN)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed)], stderr=subprocess.DEVNULL)
    episodes = killed / "episodes.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if episodes.exists() and episodes.read_bytes().count(b"\n") >= 60:
            break
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before it could be killed")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()
    done_before = episodes.read_bytes().count(b"\n")
    assert 60 <= done_before < 280

    agent = RandomAgent(seed=3)
    agent.name = "random"
    resumed = evaluate(
        agent, envs="all", env_kwargs=SYN, out=killed, batch_size=5, max_episodes=40, resume=True
    )
    assert resumed.data["run"]["resumed_from"] >= 60

    whole = RandomAgent(seed=3)
    whole.name = "random"
    uninterrupted = evaluate(
        whole, envs="all", env_kwargs=SYN, out=tmp_path / "whole", batch_size=3, max_episodes=40
    )
    assert strip_run(resumed.data) == strip_run(uninterrupted.data)
    assert json.loads((killed / "summary.json").read_text())["metrics"] == uninterrupted.data["metrics"]

    def by_key(path):
        return {(r["scenario"], r["sample_id"]): r for r in RunDir(path).records()}

    got = [json.loads(line) for line in episodes.read_text().splitlines()]
    assert len(got) == 280 == len({(r["scenario"], r["sample_id"]) for r in got})  # none missing, none twice
    assert by_key(killed) == by_key(tmp_path / "whole")


def test_resume_runs_the_errored_episodes_again(tmp_path):
    env = gym.make("ProactiveBench/QuickDraw-v0", **SYN)
    bad = env.unwrapped.sample_ids[2]
    env.close()
    flaky = FailsOn("QuickDraw", bad)
    flaky.name = "oracle"
    first = evaluate(flaky, envs="ROD,QuickDraw", env_kwargs=SYN, out=tmp_path / "run", max_episodes=6)
    assert first.errors == 1
    second = evaluate("oracle", envs="ROD,QuickDraw", env_kwargs=SYN, out=tmp_path / "run", max_episodes=6,
                      resume=True)  # fmt: skip
    assert second.errors == 0 and second.data["run"]["episodes_this_session"] == 1
    clean = evaluate("oracle", envs="ROD,QuickDraw", env_kwargs=SYN, out=tmp_path / "clean", max_episodes=6)
    assert strip_run(second.data) == strip_run(clean.data)
    lines = (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 12 and not any(json.loads(line)["error"] for line in lines)


def test_rollout_without_a_sample_id_lets_the_seeded_env_pick():
    env = gym.make("ProactiveBench/MVP-N-v0", **SYN)
    a = rollout(env, OracleAgent(), seed=11)
    b = rollout(env, OracleAgent(), seed=11)
    assert a == b and a["scenario"] == "MVP-N" and a["sample_id"] in env.unwrapped.sample_ids
    picks = {rollout(env, OracleAgent(), seed=s)["sample_id"] for s in range(12)}
    assert len(picks) > 3
    env.close()


def test_env_flags_reach_the_env_and_the_summary(tmp_path):
    ref = evaluate("oracle", envs="ROD,COCO", env_kwargs={**SYN, "reference": True}, max_episodes=5)
    assert ref.acc == {"ROD": 100.0, "COCO": 100.0, "avg": 100.0} and ref.psr["avg"] == 0.0
    assert ref.data["flags"] == {
        "hint": False,
        "reference": True,
        "history": False,
        "icl_examples": 0,
        "icl_full": False,
        "random_options": False,
        "mode": "mcqa",
    }
    hint = evaluate("first-guess", envs="ROD", env_kwargs={**SYN, "hint": True}, max_episodes=3, out=tmp_path)
    assert hint.data["flags"]["hint"] is True and hint.data["env_kwargs"] == {**SYN, "hint": True}
    prompts = [r["steps"][0]["prompt"] for r in RunDir(tmp_path).records()]
    assert all("Hint: moving the occluding object might reveal what is behind it." in p for p in prompts)
    hist = evaluate("oracle", envs="VSOD", env_kwargs={**SYN, "history": True}, max_episodes=4)
    assert hist.acc["VSOD"] == 100.0 and hist.data["flags"]["history"] is True


class CountsBatches(OracleAgent):
    """The oracle, remembering the size of every batch it was handed."""

    def __init__(self):
        self.sizes = []

    def act(self, observations, infos):
        self.sizes.append(len(observations))
        return super().act(observations, infos)


def test_an_env_error_at_reset_is_recorded_and_no_empty_batch_is_sent():
    class BrokenAtReset(gym.Wrapper):
        def reset(self, **kwargs):
            if kwargs.get("options", {}).get("sample_id") in bad:
                raise OSError("image file is truncated")
            return self.env.reset(**kwargs)

    from proactive_gym.evaluation.rollout import Task, run_batched

    env = gym.make("ProactiveBench/ROD-v0", **SYN)
    ids = env.unwrapped.sample_ids[:6]
    bad = set(ids[1:])  # after the first episode every reset fails: nothing is left to act on
    records = []
    tasks = [Task("ROD", sid, i, 0) for i, sid in enumerate(ids)]
    agent = CountsBatches()
    run_batched(
        tasks, lambda _: BrokenAtReset(gym.make("ProactiveBench/ROD-v0", **SYN)), agent, 1, records.append
    )
    errors = {r["sample_id"]: r["error"] for r in records}
    assert len(records) == 6
    assert {sid for sid, e in errors.items() if e} == bad
    assert agent.sizes == [1] * records[0]["turns"]  # the first episode's turns, never an empty batch
    assert all("OSError: image file is truncated" in errors[sid] for sid in bad)
    env.close()

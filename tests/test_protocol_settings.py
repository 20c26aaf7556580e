"""The paper's other settings, settled against the authors' code: in-context demonstrations, the random
option pools, the max-steps statistic, and the filtering step (``proactive-gym filter``)."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from proactive_gym.cli import main
from proactive_gym.evaluation.filtering import filter_runs
from proactive_gym.evaluation.metrics import max_steps_rate, scenario_metrics
from proactive_gym.evaluation.table import details_rows
from proactive_gym.scenarios import SCENARIOS
from proactive_gym.scenarios.invalid import HELPS, KINDS, pool, randomize_options

# ----- in-context examples -------------------------------------------------------------------------------

ROD_TEXT = (
    "What is the object behind the blocks? Choose from the following options. Options:\n"
    "A. Move the block to the left.\nB. I cannot tell.\nC. Move the block to the right.\n"
    "D. Cup.\nE. {}.\nF. Lamp.\nG. Shoe.\nPlease only return one of the options without any other words."
)


def test_rod_demo_is_one_random_move_then_the_answer(make_env):
    """The authors' ROD demo: first frame, one move at random, the category on the frame it reaches."""
    for query, other, answer in ((0, 1, "Banana"), (1, 0, "Vase")):
        obs, _ = make_env("ROD", icl_examples=1).reset(options={"sample_id": query})
        demo = obs["history"]
        assert [t["reply"] for t in demo] == ["Move the block to the right.", f"{answer}."]
        assert [t["dialogue"] for t in demo] == [ROD_TEXT.format(answer)] * 2
        # fixture frames are filled with red = 10 * frame and green = sample id: frame 7, then 8 (the
        # reference is 9: the demo answers on a frame that one move reaches, not at the reference)
        assert [tuple(t["image"][0, 0]) for t in demo] == [(70, other, 0), (80, other, 0)]
        assert all(t["image"].shape == (512, 682, 3) for t in demo)  # the paper's 512-pixel resize


def test_rod_demo_moves_are_random_but_deterministic():
    """On the synthetic ROD split: both directions occur, always one move, the same draw every time."""
    env = gym.make("ProactiveBench/ROD-v0", data="synthetic", icl_examples=1)
    moves = []
    for sample_id in env.unwrapped.sample_ids[:12]:
        demo = env.reset(options={"sample_id": sample_id})[0]["history"]
        assert len(demo) == 2 and demo[1]["reply"].endswith(".") and "block" not in demo[1]["reply"]
        moves.append(demo[0]["reply"])
        again = env.reset(options={"sample_id": sample_id})[0]["history"]
        assert [t["reply"] for t in again] == [t["reply"] for t in demo]
    assert (
        moves.count("Move the block to the left.") == 5 and moves.count("Move the block to the right.") == 7
    )
    env.close()


def test_mvpn_demo_and_the_full_length_variant():
    env = gym.make("ProactiveBench/MVP-N-v0", data="synthetic", icl_examples=1)
    entry_ids = env.unwrapped.sample_ids
    demo = env.reset(options={"sample_id": entry_ids[0]})[0]["history"]
    # the paper's variant: first and last turn, 112-pixel short edge; the last turn answers
    assert len(demo) == 2 and min(demo[0]["image"].shape[:2]) == 112
    full = gym.make("ProactiveBench/MVP-N-v0", data="synthetic", icl_examples=1, icl_full=True)
    long = full.reset(options={"sample_id": entry_ids[0]})[0]["history"]
    assert long[0]["dialogue"] == demo[0]["dialogue"] and long[-1]["reply"] == demo[-1]["reply"]
    assert len(long) > 2 and all(r["reply"] == long[0]["reply"] for r in long[:-1])
    query = full.reset(options={"sample_id": entry_ids[0]})[0]["image"]
    assert long[0]["image"].shape == query.shape  # the query's own image size
    with pytest.raises(ValueError, match="icl_full=True .* needs icl_examples"):
        gym.make("ProactiveBench/MVP-N-v0", data="synthetic", icl_full=True)
    env.close()
    full.close()


# ----- random invalid options --------------------------------------------------------------------------------


def test_random_pools_per_scenario():
    assert {name: sorted({KINDS[t] for t in pool(name)}) for name in SCENARIOS} == {
        "ROD": ["details", "quality", "rewind", "rotate", "wait"],
        "VSOD": ["blocks", "details", "quality", "rotate"],
        "MVP-N": ["blocks", "details", "quality", "rewind", "wait"],
        "ImageNet-C": ["blocks", "camera", "details", "rewind", "rotate", "wait"],
        "QuickDraw": ["blocks", "camera", "quality", "rewind", "rotate", "wait"],
        "ChangeIt": ["blocks", "camera", "details", "quality", "rotate"],
        "COCO": ["blocks", "details", "quality", "rewind", "rotate", "wait"],
    }
    assert "Move the camera down." not in pool("ROD") and "Change the camera angle." not in pool("COCO")
    assert set(HELPS) == set(SCENARIOS)


def test_random_options_never_help_on_the_synthetic_splits():
    """Every drawn option, on every synthetic sample: a kind that does not help there, drawn the same twice."""
    for name in SCENARIOS:
        env = gym.make(f"ProactiveBench/{name}-v0", data="synthetic")
        scenario = env.unwrapped.scenario
        for entry in env.unwrapped.episodes.entries:
            drawn = randomize_options(scenario, entry)
            assert drawn == randomize_options(scenario, entry)
            replaced = [o for o in drawn["options"] if o not in entry["options"]]
            assert len(replaced) == len(entry["options"]) - 1  # all but the abstain option
            assert all(KINDS[o] not in HELPS[name] for o in replaced), (name, entry["id"], replaced)
        env.close()


# ----- the paper's max-steps statistic -----------------------------------------------------------------------


def test_max_steps_statistic():
    recs = [
        {"outcome": "useless_suggestion", "turns": 3, "max_turns": 3},  # all turns used (MVP-N's last turn)
        {"outcome": "out_of_turns", "turns": 3, "max_turns": 3},
        {"outcome": "correct", "turns": 3, "max_turns": 3},  # solved on the last turn: not flagged
        {"outcome": "abstain", "turns": 1, "max_turns": 3},
    ]
    assert max_steps_rate(recs) == 50.0
    m = scenario_metrics([{**r, "scenario": "MVP-N", "min_turns": 3, "steps": []} for r in recs])
    assert (m["max_steps_rate"], m["out_of_turns_rate"]) == (50.0, 25.0)
    assert (
        max_steps_rate([{"outcome": "wrong_answer", "turns": 1, "max_turns": 1}]) is None
    )  # one-turn settings


def test_max_steps_in_summary_and_table(tmp_path):
    from proactive_gym.evaluation.runner import evaluate

    s = evaluate(
        "suggest", envs="MVP-N,QuickDraw", out=tmp_path, env_kwargs={"data": "synthetic"}, batch_size=4
    )
    per = s.data["metrics"]["scenarios"]
    # "suggest" asks for the intervention on every turn: the last turn's ask is useless on MVP-N and
    # QuickDraw, so no episode ends out of turns but every one used all its turns
    assert [per[n]["out_of_turns_rate"] for n in ("MVP-N", "QuickDraw")] == [0.0, 0.0]
    assert [per[n]["max_steps_rate"] for n in ("MVP-N", "QuickDraw")] == [100.0, 100.0]
    assert s.data["metrics"]["avg"]["max_steps_rate"] == 100.0
    header, rows = details_rows(s.data)
    assert header[8] == "maxst%" and [r[8] for r in rows] == ["100.0", "100.0", "100.0"]


# ----- the filtering step ------------------------------------------------------------------------------------


def _write_run(path, outcomes: dict[tuple[str, int], str], mode="mcqa", error=()):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"mode": mode, "env_kwargs": {}}))
    lines = []
    for (scenario, sid), outcome in outcomes.items():
        rec = {"scenario": scenario, "sample_id": sid, "outcome": outcome, "turns": 1, "error": None}
        rec["steps"] = [{"turn": 0, "outcome": outcome}]
        if (scenario, sid) in error:
            rec["error"], rec["steps"] = "boom", []
        lines.append(json.dumps(rec))
    (path / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    return path


# four probe models on ROD 0, 1 and COCO 0, 1, 2 (the fixture's samples)
SOLVED = {  # sample -> which of the four models answered it on the first turn
    ("ROD", 0): (0, 0, 0, 0),
    ("ROD", 1): (1, 0, 0, 0),  # 25%: dropped (at least the threshold)
    ("COCO", 0): (0, 1, 1, 0),
    ("COCO", 1): (0, 0, 0, 0),
    ("COCO", 2): (0, 0, 0, 0),
}


def _probe_runs(tmp_path):
    runs = []
    for m in range(4):
        outcomes = {k: ("correct" if v[m] else "useful_suggestion") for k, v in SOLVED.items()}
        error = {("COCO", 2)} if m == 3 else set()  # an errored episode casts no vote
        runs.append(_write_run(tmp_path / f"model{m}", outcomes, error=error))
    return runs


def test_filter_hand_made_runs(tmp_path, fixture_root):
    runs = _probe_runs(tmp_path)
    result = filter_runs(runs, threshold=0.25)
    assert result.kept == {"ROD": [0], "COCO": [1, 2]}
    assert result.stats["ROD"] == {
        "before": 2,
        "after": 1,
        "unscored": 0,
        "before_acc": 12.5,
        "after_acc": 0.0,
    }
    assert result.stats["COCO"]["before_acc"] == pytest.approx(200 / 11)  # 2 of 11 votes
    assert result.stats["all"] == {
        "before": 5,
        "after": 3,
        "unscored": 0,
        "before_acc": pytest.approx(300 / 19),
        "after_acc": 0.0,
    }
    assert filter_runs(runs, threshold=0.5).kept == {"ROD": [0, 1], "COCO": [1, 2]}  # COCO 0: 2 of 4

    out = tmp_path / "ids.json"
    assert main(["filter", *map(str, runs), "--threshold", "0.25", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == {"ROD": [0], "COCO": [1, 2]}
    # the file is a subset file the envs accept
    env = gym.make("ProactiveBench/COCO-v0", data_root=fixture_root, subset_file=str(out))
    assert env.unwrapped.sample_ids == [1, 2]


def test_filter_prints_before_and_after(tmp_path, capsys):
    runs = _probe_runs(tmp_path)
    assert main(["filter", *map(str, runs), "--out", str(tmp_path / "ids.json")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "ROD │ 2 │ 1 │ 12.5 │ 0.0 │ 0" in out and "all │ 5 │ 3 │ 15.8 │ 0.0 │ 0" in out


def test_filter_bad_input(tmp_path):
    runs = _probe_runs(tmp_path)
    with pytest.raises(ValueError, match="threshold must be in"):
        filter_runs(runs, threshold=0)
    with pytest.raises(ValueError, match="the same run directory is given twice"):
        filter_runs([runs[0], runs[0]])
    partial = _write_run(tmp_path / "partial", {("ROD", 0): "correct"})
    with pytest.raises(ValueError, match=r"run .*partial does not hold the same episodes .* lacks 4"):
        filter_runs([runs[0], partial])
    open_run = _write_run(tmp_path / "open", {("ROD", 0): "unjudged"}, mode="open")
    with pytest.raises(ValueError, match="is a open-ended run; filter needs multiple-choice runs"):
        filter_runs([open_run])
    assert main(["filter", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.json")]) == 2


def test_filter_real_runs(tmp_path):
    """Runs written by evaluate() on synthetic data: first-guess and random sometimes solve at once."""
    from proactive_gym.evaluation.runner import evaluate

    paths = []
    for agent in ("first-guess", "random", "abstain", "oracle"):
        evaluate(agent, envs="ImageNet-C,VSOD", out=tmp_path / agent, env_kwargs={"data": "synthetic"},
                 batch_size=8, max_episodes=20)  # fmt: skip
        paths.append(tmp_path / agent)
    result = filter_runs(paths)
    assert result.kept == {
        "VSOD": [0, 1, 2, 3, 4, 6, 9, 10, 11, 12, 13, 15, 16, 17, 18],
        "ImageNet-C": [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 16, 17, 19],
    }
    assert [result.stats["all"][k] for k in ("before", "after", "before_acc", "after_acc")] == [
        40,
        29,
        8.125,
        0.0,
    ]


# ----- the settings as objects (proactive_gym.settings) ------------------------------------------------------


def test_each_setting_is_one_object_picked_from_the_config(make_env):
    from proactive_gym.config import EnvConfig
    from proactive_gym.settings import (
        History,
        InContext,
        MultipleChoice,
        OpenEnded,
        RandomOptions,
        Reference,
        flags,
        protocol_for,
    )

    cases = [
        ({}, MultipleChoice),
        ({"random_options": True}, RandomOptions),
        ({"reference": True, "random_options": True}, Reference),
        ({"mode": "open", "hint": True}, OpenEnded),
    ]
    for kwargs, cls in cases:
        assert type(protocol_for(EnvConfig(**kwargs))) is cls
    env = make_env("ROD", history=True, icl_examples=1).unwrapped
    assert (type(env.protocol), env.history, env.in_context) == (MultipleChoice, History(True), InContext(1))
    # the summary's flags: every field EnvConfig marks as a setting, defaults filled in
    assert EnvConfig.setting_names() == (
        "hint", "reference", "history", "icl_examples", "icl_full", "random_options", "mode"
    )  # fmt: skip
    assert flags({"hint": True, "data": "synthetic"}) == flags(EnvConfig(hint=True)) == {
        "hint": True, "reference": False, "history": False, "icl_examples": 0, "icl_full": False,
        "random_options": False, "mode": "mcqa",
    }  # fmt: skip


def test_a_protocol_read_on_its_own(make_env):
    """A protocol is pure: what a turn shows and how a reply is judged, from (scenario, entry, state)."""
    from proactive_gym.settings import RandomOptions, Reference, Verdict

    env = make_env("ROD").unwrapped
    sc, entry = env.scenario, env._original[0]
    state = sc.initial_state(entry)
    ref = Reference()
    assert ref.question(sc, entry, hint=False) == "What type of object is in the image?"
    assert ref.options(sc, entry, state) == ["Cup.", "Vase.", "Lamp.", "Shoe."]
    assert ref.judge(sc, entry, state, "B") == Verdict("correct", "Vase.")
    assert ref.judge(sc, entry, state, "A. Move the block to the left.") == Verdict("wrong_answer", "Cup.")
    assert ref.judge(sc, entry, state, "Move the block to the left.") == Verdict("unparsable")
    rnd = RandomOptions()
    played = rnd.entry(sc, entry)
    assert played["options"][1] == "I cannot tell." and rnd.judge(sc, played, state, "A").outcome == (
        "useful_suggestion"
    )
    # the random action of turn 1 (the authors' random move), applied in the one place that moves a scene
    after = sc.apply_suggestion(played, state, rnd.action(sc, played, state, played["options"][0]))
    assert (after["turn"], after["last_action"], after["frame"], state["turn"]) == (1, "left", 6, 0)

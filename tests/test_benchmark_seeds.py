"""benchmarks/cpu_demo_seeds.py: the per-seed figures read from a run's summary and episode files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("cpu_demo_seeds", REPO / "benchmarks" / "cpu_demo_seeds.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cpu_demo_seeds"] = module
    spec.loader.exec_module(module)
    return module


seeds = _load()


def _episodes(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")


def test_episode_counts_split_first_turn_from_asked(tmp_path):
    _episodes(
        tmp_path / "episodes.jsonl",
        [
            {"scenario": "ROD", "outcome": "correct", "turns": 1},
            {"scenario": "ROD", "outcome": "correct", "turns": 4},
            {"scenario": "ROD", "outcome": "out_of_turns", "turns": 13},
            {"scenario": "MVP-N", "outcome": "unparsable", "turns": 1},
            {"scenario": "COCO", "outcome": "correct", "turns": 1},  # in domain: not counted
        ],
    )
    counts = seeds.episode_counts(seeds.read_episodes(tmp_path), ["ROD", "MVP-N"])
    assert dict(counts) == {
        ("correct", "first"): 1,
        ("correct", "asked"): 1,
        ("out_of_turns", "asked"): 1,
        ("unparsable", "first"): 1,
    }


def test_seed_row_and_table():
    from collections import Counter

    summary = {
        "config": {"seed": 3},
        "reward": {"first_tenth": 0.25, "last_tenth": 0.5, "gain": 0.25},
        "in_domain": ["QuickDraw", "COCO"],
        "held_out": ["ROD", "MVP-N"],
        "before": {
            "QuickDraw": {"acc": 10.0, "psr": 0.0},
            "COCO": {"acc": 20.0, "psr": 1.0},
            "ROD": {"acc": 0.0, "psr": 0.5},
            "MVP-N": {"acc": 20.0, "psr": 0.0},
        },
        "after": {
            "QuickDraw": {"acc": 30.0, "psr": 1.0},
            "COCO": {"acc": 20.0, "psr": 2.0},
            "ROD": {"acc": 5.0, "psr": 2.5},
            "MVP-N": {"acc": 10.0, "psr": 1.0},
        },
        "episodes_changed": {
            "QuickDraw": {"gained": 4, "lost": 2},
            "COCO": {"gained": 1, "lost": 1},
            "ROD": {"gained": 1, "lost": 0},
            "MVP-N": {"gained": 0, "lost": 2},
        },
    }
    before = Counter({("correct", "first"): 4, ("unparsable", "first"): 6, ("wrong_answer", "first"): 10})
    after = Counter({("correct", "first"): 1, ("correct", "asked"): 2, ("out_of_turns", "asked"): 7})
    row = seeds.seed_row(summary, before, after)
    assert row == {
        "seed": 3,
        "reward_first": 0.25,
        "reward_last": 0.5,
        "reward_gain": 0.25,
        "in_domain_acc": [15.0, 25.0],
        "in_domain_gained_lost": [5, 3],
        "held_out_acc": [10.0, 7.5],
        "held_out_gained_lost": [1, 2],
        "held_out_psr": [0.25, 1.75],
        "held_out_correct_first": [4, 1],
        "held_out_correct_asked": [0, 2],
        "held_out_out_of_turns": [0, 7],
        "held_out_unparsable": [6, 0],
        "held_out_episodes": 20,
        "target_a": True,
        "target_b": False,
    }
    assert seeds.table([row]).splitlines()[2] == (
        "| 3 | 0.250 -> 0.500 (+0.250) | yes | 15.0 -> 25.0 (5 / 3) | 10.0 -> 7.5 (1 / 2) | no "
        "| 0.25 -> 1.75 | 4 -> 1 | 0 -> 2 | 0 -> 7 | 6 -> 0 | - |"
    )
    gained = {**row, "held_out_acc": [22.0, 32.0], "ceiling_held_out_acc": 44.0}
    assert seeds.table([gained]).splitlines()[2].endswith("| 6 -> 0 | 44.0 |")
    summary["after"]["ROD"]["acc"], summary["after"]["MVP-N"]["acc"] = 20.0, 20.0  # +10.0 held out
    assert seeds.seed_row(summary, before, after)["target_b"] is True
    summary["after"]["MVP-N"]["acc"] = 19.9  # +9.95
    assert seeds.seed_row(summary, before, after)["target_b"] is False


def test_a_finished_seed_with_the_same_flags_is_not_run_again(tmp_path, monkeypatch):
    calls = []
    failed = seeds.subprocess.CompletedProcess(args=[], returncode=1)
    monkeypatch.setattr(seeds.subprocess, "run", lambda *a, **k: calls.append(a) or failed)
    done = tmp_path / "seed0"
    done.mkdir()
    (done / "summary.json").write_text("{}")
    (done / "sweep_flags.json").write_text(json.dumps(["--reward-suggestion", "0.75"]))
    assert seeds.run_seed(0, tmp_path, ["--reward-suggestion", "0.75"]) == done
    assert calls == []
    # Other flags: the old summary is dropped and the seed runs again (here the stub leaves no summary).
    with pytest.raises(RuntimeError, match="seed 0 failed"):
        seeds.run_seed(0, tmp_path, [])
    assert len(calls) == 1 and "--preset" in calls[0][0] and not (done / "summary.json").exists()


def test_held_out_details_count_out_of_turns_and_unparsable_replies():
    def record(scenario, outcome, reply="A."):
        return {"scenario": scenario, "outcome": outcome, "turns": 2, "steps": [{"reply": reply}]}

    records = [
        record("ROD", "out_of_turns"),
        record("ROD", "out_of_turns"),
        record("VSOD", "out_of_turns"),
        record("COCO", "out_of_turns"),  # in domain: not counted
        record("MVP-N", "unparsable", "Cherryogurt."),
        record("MVP-N", "unparsable", "Cherryogurt."),
        record("VSOD", "unparsable", "Theapot."),
        record("ROD", "correct", "Chair."),
    ]
    assert seeds.held_out_details(records, ["ROD", "VSOD", "MVP-N"]) == {
        "out_of_turns_by_scenario": {"ROD": 2, "VSOD": 1},
        "unparsable_replies": [["MVP-N", "Cherryogurt.", 2], ["VSOD", "Theapot.", 1]],
    }

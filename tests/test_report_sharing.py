"""Side-by-side reports: the image budget is shared fairly and the page says what was left out; judged
open-mode episodes show the judge's verdict; the acc plot's scenario labels never overlap."""

from __future__ import annotations

from pathlib import Path

import pytest

from proactive_gym.evaluation.report import (
    Run,
    episode_data,
    image_note,
    judged_outcome,
    plan_images,
    plot_acc,
)
from proactive_gym.scenarios import SCENARIOS


def fake_run(label: str, turns: int, per_scenario: int = 10) -> Run:
    records = [
        {"scenario": s, "sample_id": i, "index": i, "outcome": "correct", "turns": turns,
         "steps": [{"turn": k, "reply": "A.", "outcome": "correct"} for k in range(turns)]}
        for s in SCENARIOS for i in range(per_scenario)
    ]  # fmt: skip
    return Run(Path(label), label, {"envs": list(SCENARIOS)}, {}, records)


def test_a_run_with_long_episodes_cannot_crowd_out_the_others():
    long, short = fake_run("long", turns=6), fake_run("short", turns=1)
    plan = plan_images([long, short], images_per_scenario=8, max_images=40)
    by_run = {0: [], 1: []}
    for ri, record in plan:
        by_run[ri].append(record)
    # first pass: 20 images each -> 3 long episodes (18 images), 20 short ones; second pass: the 2 left
    assert [r["scenario"] for r in by_run[0]] == ["ROD", "VSOD", "MVP-N"]
    assert len(by_run[1]) == 22 and {r["scenario"] for r in by_run[1]} == set(SCENARIOS)
    assert sum(len(r["steps"]) for _, r in plan) == 40
    # the old behaviour (first run first) would have given the second run nothing at this cap
    plan = plan_images([long, short], images_per_scenario=1, max_images=1000)
    assert len(plan) == 14  # images_per_scenario caps each (run, scenario)


def test_the_page_says_what_was_left_out():
    runs = [fake_run("a", turns=2, per_scenario=2), fake_run("b", turns=1, per_scenario=2)]
    images = {(0, "ROD", 0, 0): "x", (0, "ROD", 0, 1): "x", (1, "COCO", 1, 0): "x"}
    assert image_note(runs, images) == (
        "Images for 1 of the 14 episodes of a; 1 of the 14 episodes of b. The other 26 episodes show their "
        "text only (caps: --images-per-scenario episodes per scenario and run, --max-images images in all, "
        "shared across the runs)."
    )
    everything = {(0, s, i, 0): "x" for s in SCENARIOS for i in range(2)}
    assert image_note(runs[:1], everything) == "Images for 14 of the 14 episodes of a."


def test_judged_open_mode_episodes_show_the_verdict():
    assert judged_outcome(None) is None and judged_outcome({"ps": None, "cc": None, "agg": None}) is None
    assert judged_outcome({"ps": 1, "cc": 0, "agg": 1}) == "judged: suggestion"
    assert judged_outcome({"ps": 0, "cc": 1, "agg": 1}) == "judged: category"
    assert judged_outcome({"ps": 1, "cc": 1, "agg": 1}) == "judged: suggestion + category"
    assert judged_outcome({"ps": 0, "cc": 0, "agg": 0}) == "judged: neither"
    step = {"turn": 0, "reply": "Move the blocks.", "outcome": "unjudged", "prompt": "What?"}
    records = [
        {"scenario": "ROD", "sample_id": 1, "outcome": "unjudged", "turns": 1, "steps": [step],
         "judge": {"ps": 1, "cc": 0, "agg": 1, "raw": "1, 0"}},
        {"scenario": "ROD", "sample_id": 2, "outcome": "unjudged", "turns": 1, "steps": [dict(step)],
         "judge": None, "error": "judge: server down"},
    ]  # fmt: skip
    data = episode_data([Run(Path("o"), "o", {"envs": ["ROD"]}, {}, records)], {})
    first, second = (e["runs"][0] for e in data["episodes"])
    assert first["outcome"] == "judged: suggestion" and first["steps"][0]["outcome"] == "judged: suggestion"
    assert second["outcome"] == "error" and second["steps"][0]["outcome"] == "unjudged"


def test_scenario_labels_of_the_acc_plot_do_not_overlap(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import math

    import matplotlib.pyplot as plt

    summary = {"agent": {"spec": "r"}, "envs": list(SCENARIOS), "mode": "mcqa",
               "metrics": {"scenarios": {s: {"acc": 50.0, "acc_ci": [40.0, 60.0]} for s in SCENARIOS},
                           "avg": {"acc": 50.0, "acc_ci": [45.0, 55.0]}}}  # fmt: skip
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to measure it
    # one run with a long label: its legend narrows the axes (where the labels used to overlap)
    plot_acc([Run(Path("r"), "a-rather-long-run-label", {}, summary, [])], tmp_path / "acc.png")
    fig = figures[0]
    fig.set_dpi(110)  # the dpi of the saved PNG
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = fig.axes[0].get_xticklabels()
    assert [label.get_text() for label in labels] == [*SCENARIOS, "avg"]
    for left, right in zip(labels, labels[1:], strict=False):
        angle = math.radians(left.get_rotation())
        if angle == 0:
            a, b = left.get_window_extent(renderer), right.get_window_extent(renderer)
            assert a.x1 < b.x0, (left.get_text(), right.get_text())
            continue
        # parallel rotated labels: the distance between their baselines must exceed the text height
        step = fig.axes[0].transData.transform((1, 0))[0] - fig.axes[0].transData.transform((0, 0))[0]
        left.set_rotation(0)
        height = left.get_window_extent(renderer).height
        left.set_rotation(math.degrees(angle))
        assert step * math.sin(angle) > height, (left.get_text(), right.get_text())
    plt.close(fig)

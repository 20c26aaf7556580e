"""Metrics as pure functions, on hand-made episode records with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from proactive_gym.evaluation.metrics import (
    bootstrap_means,
    outcomes_per_turn,
    percentile_ci,
    scenario_metrics,
    summarize,
)


def rec(scenario, sid, outcome, turns, min_turns=2, error=None, judge=None, ret=0.0):
    steps = [{"turn": k, "outcome": "useful_suggestion"} for k in range(turns - 1)]
    steps.append({"turn": turns - 1, "outcome": outcome})
    r = {
        "scenario": scenario,
        "sample_id": sid,
        "index": sid,
        "outcome": outcome,
        "turns": turns,
        "min_turns": min_turns,
        "return": ret,
        "error": error,
        "steps": steps,
    }
    if judge is not None:
        r["judge"] = judge
    return r


def test_acc_psr_and_rates_match_hand_counts():
    records = [
        rec("ROD", 0, "correct", 3, ret=2.0),
        rec("ROD", 1, "correct", 2, ret=1.5),
        rec("ROD", 2, "abstain", 1),
        rec("ROD", 3, "unparsable", 1),
        rec("ROD", 4, "useless_suggestion", 2),
    ]
    m = scenario_metrics(records)
    assert m["n"] == 5 and m["errors"] == 0
    assert m["acc"] == pytest.approx(40.0)
    assert m["psr"] == pytest.approx((2 + 1 + 0 + 0 + 1) / 5)
    assert m["abstain_rate"] == pytest.approx(20.0)
    assert m["unparsable_rate"] == pytest.approx(20.0)
    assert m["useless_suggestion_rate"] == pytest.approx(20.0)
    assert m["wrong_answer_rate"] == 0.0
    assert m["mean_turns"] == pytest.approx(9 / 5)
    # solved episodes: 3 turns vs min 2 (one extra), 2 vs 2 (optimal)
    assert m["excess_turns"] == pytest.approx(0.5)
    assert m["optimal_rate"] == pytest.approx(20.0)
    assert m["mean_return"] == pytest.approx(3.5 / 5)
    assert m["outcomes"] == {"abstain": 1, "correct": 2, "unparsable": 1, "useless_suggestion": 1}


def test_errors_are_counted_apart_and_left_out_of_rates():
    records = [rec("COCO", 0, "correct", 1), rec("COCO", 1, None, 0, error="RuntimeError: boom")]
    m = scenario_metrics(records)
    assert (m["n"], m["errors"], m["acc"], m["psr"]) == (1, 1, 100.0, 0.0)


def test_avg_is_unweighted_over_scenarios_and_in_given_order():
    records = [rec("ROD", 0, "correct", 1)] + [rec("COCO", i, "abstain", 1) for i in range(9)]
    s = summarize(records, ["ROD", "COCO"])
    assert list(s["scenarios"]) == ["ROD", "COCO"]
    assert s["scenarios"]["ROD"]["acc"] == 100.0 and s["scenarios"]["COCO"]["acc"] == 0.0
    assert s["avg"]["acc"] == pytest.approx(50.0)  # not 10.0 (the pooled rate)
    assert s["avg"]["n"] == 10


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = [100.0] * 30 + [0.0] * 70
    a = bootstrap_means(values, 1000, [0, 1])
    b = bootstrap_means(values, 1000, [0, 1])
    assert np.array_equal(a, b)
    lo, hi = percentile_ci(a)
    assert lo < 30.0 < hi
    assert 18.0 < lo and hi < 42.0  # binomial sd ~4.6 points: the 95% interval is about +-9
    assert percentile_ci(bootstrap_means([], 10)) is None


def test_summary_ci_does_not_depend_on_other_scenarios():
    rod = [rec("ROD", i, "correct" if i % 3 == 0 else "abstain", 1) for i in range(20)]
    alone = summarize(rod, ["ROD"])["scenarios"]["ROD"]["acc_ci"]
    with_coco = summarize(rod + [rec("COCO", 0, "correct", 1)], ["ROD", "COCO"])["scenarios"]["ROD"]["acc_ci"]
    assert alone == with_coco


def test_constant_outcomes_have_degenerate_ci():
    s = summarize([rec("VSOD", i, "correct", 2) for i in range(5)], ["VSOD"])
    assert s["scenarios"]["VSOD"]["acc_ci"] == [100.0, 100.0]
    assert s["avg"]["acc_ci"] == [100.0, 100.0]


def test_open_mode_ps_cc_agg():
    records = [
        rec("ROD", 0, "unjudged", 1, judge={"ps": 1, "cc": 0, "agg": 1}),
        rec("ROD", 1, "unjudged", 1, judge={"ps": 0, "cc": 1, "agg": 1}),
        rec("ROD", 2, "unjudged", 1, judge={"ps": 0, "cc": 0, "agg": 0}),
        rec("ROD", 3, "unjudged", 1, judge={"ps": 1, "cc": 1, "agg": 1}),
    ]
    s = summarize(records, ["ROD"])
    m = s["scenarios"]["ROD"]
    assert (m["ps"], m["cc"], m["agg"]) == (50.0, 50.0, 75.0)
    assert s["avg"]["agg"] == 75.0


def test_outcomes_per_turn_counts_every_step():
    records = [rec("ROD", 0, "correct", 3), rec("ROD", 1, "abstain", 1), rec("ROD", 2, "x", 0, error="boom")]
    assert outcomes_per_turn(records) == {
        0: {"abstain": 1, "useful_suggestion": 1},
        1: {"useful_suggestion": 1},
        2: {"correct": 1},
    }


def test_missing_scenario_gives_undefined_metrics_not_zero():
    s = summarize([rec("ROD", 0, "correct", 1)], ["ROD", "COCO"])
    assert s["scenarios"]["COCO"]["n"] == 0 and s["scenarios"]["COCO"]["acc"] is None
    assert s["avg"]["acc"] == 100.0

"""benchmarks/probe_policy.py: the count of suggestions a state still shows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("probe_policy", REPO / "benchmarks" / "probe_policy.py")
probe_policy = importlib.util.module_from_spec(spec)
sys.modules["probe_policy"] = probe_policy
spec.loader.exec_module(probe_policy)


def test_suggestions_shown_leave_out_abstain_and_the_four_categories():
    options = ["Move the block to the left.", "I cannot answer.", "Move the block to the right."]
    assert probe_policy.suggestions_shown(options + ["Chair.", "Clock.", "Lamp.", "Fork."]) == 2
    assert probe_policy.suggestions_shown(["I do not know.", "Lemon.", "Banana.", "Pear.", "Apple."]) == 0

"""The harness's examples run as documented and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, *args, cwd):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=180, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(autouse=True)
def no_data_root(monkeypatch):
    monkeypatch.delenv("PROACTIVE_GYM_DATA", raising=False)


def test_evaluate_scripted(tmp_path):
    out = run("evaluate_scripted.py", "--max-episodes", "3", cwd=tmp_path)
    assert "oracle       avg acc 100.0" in out
    assert "abstain      avg acc   0.0  avg psr 0.00" in out
    assert "first-guess" in out and "ProactiveBench: acc (%) / psr" in out
    for spec in ("oracle", "random", "abstain", "suggest", "first-guess"):
        assert (tmp_path / "runs" / "examples" / spec / "summary.json").exists()


def test_custom_agent(tmp_path):
    out = run("custom_agent.py", cwd=tmp_path)
    lines = out.splitlines()
    assert lines[0].startswith("turn 0:") and "useful_suggestion" in lines[0]
    assert lines[1].startswith("turn 1:")
    assert lines[-1].startswith("avg")
    # asks exactly once wherever turn 0 offers a useful suggestion
    assert "ROD         acc" in out and "psr 1.00" in out


def test_compare_runs_report(tmp_path):
    out = run("compare_runs_report.py", "--max-episodes", "2", "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert "html" in out
    html = (tmp_path / "cmp" / "report" / "report.html").read_text()
    assert "oracle" in html and "random" in html

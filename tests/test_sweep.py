"""Several agents and epochs in one ``eval``: sibling run folders, one side-by-side report, the spread."""

from __future__ import annotations

import json
import statistics

import pytest

from proactive_gym.cli import main
from proactive_gym.evaluation import Summary
from proactive_gym.evaluation.sweep import run_name, spread, sweep


@pytest.fixture(autouse=True)
def no_data_root(monkeypatch):
    monkeypatch.delenv("PROACTIVE_GYM_DATA", raising=False)


def records(path):
    return [json.loads(line) for line in (path / "episodes.jsonl").read_text().splitlines()]


def test_several_agents_and_epochs_from_the_cli(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["eval", "--agent", "oracle", "random", "--epochs", "3", "--envs", "ROD,COCO", "--max-episodes", "5",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    names = [f"{a}-epoch{e}" for a in ("oracle", "random") for e in range(3)]
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "report", "sweep.json"])
    assert "note: --epochs 3: oracle gives the same replies" in text and "spread over 3 epochs" in text
    summaries = {n: Summary.load(out / n) for n in names}
    assert [summaries[f"random-epoch{e}"].data["seed"] for e in range(3)] == [0, 1, 2]
    assert [summaries[f"random-epoch{e}"].data["agent"]["options"] for e in range(3)] == [
        {"seed": e} for e in range(3)
    ]
    replies = [[s["reply"] for r in records(out / f"random-epoch{e}") for s in r["steps"]] for e in range(3)]
    assert replies[0] != replies[1] != replies[2]  # other seeds, other episodes of the random agent
    data = json.loads((out / "sweep.json").read_text())
    assert data["agents"] == ["oracle", "random"] and data["seeds"] == [0, 1, 2]
    assert [r["path"] for r in data["runs"]] == names
    accs = [summaries[f"random-epoch{e}"].acc["avg"] for e in range(3)]
    row = data["spread"]["random"]["avg"]
    assert row["acc_mean"] == pytest.approx(statistics.fmean(accs)) and row["acc_sd"] == pytest.approx(
        statistics.stdev(accs)
    )
    assert (row["acc_min"], row["acc_max"]) == (min(accs), max(accs))
    assert data["spread"]["oracle"]["ROD"] == {"acc_mean": 100.0, "acc_sd": 0.0, "acc_min": 100.0, "acc_max": 100.0,
                                               "psr_mean": 4.8, "psr_sd": 0.0, "psr_min": 4.8, "psr_max": 4.8}  # fmt: skip
    page = (out / "report" / "report.html").read_text()
    assert all(name in page for name in names)
    # the same command with --resume finishes nothing twice
    assert main([*argv, "--resume"]) == 0
    assert [len(records(out / n)) for n in names] == [10] * 6


def test_several_agents_one_epoch_use_plain_folder_names(tmp_path):
    result = sweep(["oracle", "abstain"], out=tmp_path, envs="ROD", max_episodes=3, report=False)
    assert [r.path.name for r in result.runs] == ["oracle", "abstain"]
    assert result.spread["abstain"]["ROD"]["acc_sd"] == 0.0 and result.report == {}
    assert run_name("hf:/models/Qwen 3", 0, 1) == "hf_models_Qwen_3"
    with pytest.raises(ValueError, match="listed twice"):
        sweep(["oracle", "oracle"], out=tmp_path / "x", envs="ROD")


def test_spread_of_crafted_summaries():
    def summary(rod, coco):
        return {"mode": "mcqa", "metrics": {"scenarios": {"ROD": {"acc": rod, "psr": 1.0}, "COCO": {"acc": coco, "psr": None}},
                                             "avg": {"acc": (rod + coco) / 2, "psr": 1.0}}}  # fmt: skip

    rows = spread([summary(10.0, 20.0), summary(30.0, 40.0)])
    assert list(rows) == ["ROD", "COCO", "avg"]
    assert rows["ROD"]["acc_mean"] == 20.0 and rows["ROD"]["acc_sd"] == pytest.approx(14.142135623730951)
    assert rows["COCO"]["psr_mean"] is None and rows["avg"]["acc_max"] == 35.0
    assert spread([summary(10.0, 20.0)])["avg"]["acc_sd"] == 0.0

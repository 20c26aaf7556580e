"""Run directories: config checks, JSONL repair, resume bookkeeping (no env needed)."""

from __future__ import annotations

import json

import pytest

from proactive_gym.evaluation.results import RunDir, RunDirError, config_diff, repair_jsonl

CONFIG = {"format": 1, "agent": "oracle", "envs": ["ROD"], "env_kwargs": {}, "seed": 0}


def line(sid):
    return json.dumps({"scenario": "ROD", "sample_id": sid, "turns": 1}) + "\n"


def test_repair_drops_a_cut_off_last_line_only(tmp_path):
    path = tmp_path / "episodes.jsonl"
    good = line(0) + line(1)
    path.write_text(good + line(2)[:17])
    assert repair_jsonl(path) == 17
    assert path.read_text() == good
    assert repair_jsonl(path) == 0  # idempotent


def test_repair_drops_an_invalid_last_line_even_with_newline(tmp_path):
    path = tmp_path / "episodes.jsonl"
    path.write_text(line(0) + '{"scenario": "RO\n')
    repair_jsonl(path)
    assert path.read_text() == line(0)


def test_corruption_in_the_middle_is_an_error_naming_the_line(tmp_path):
    run = RunDir(tmp_path)
    run.prepare(CONFIG)
    run.episodes_path.write_text(line(0) + "garbage\n" + line(2))
    with pytest.raises(RunDirError, match="line 2"):
        run.prepare(CONFIG, resume=True)


def test_fresh_then_resume_returns_done_records_deduplicated(tmp_path):
    run = RunDir(tmp_path)
    assert run.prepare(CONFIG) == []
    for sid in (0, 1, 1):
        run.append(json.loads(line(sid)))
    run.close()
    with open(run.episodes_path, "a") as f:
        f.write(line(2)[:10])
    done = RunDir(tmp_path).prepare(CONFIG, resume=True)
    assert [r["sample_id"] for r in done] == [0, 1]
    assert run.episodes_path.read_text().endswith("\n")


def test_same_config_without_resume_refuses(tmp_path):
    run = RunDir(tmp_path)
    run.prepare(CONFIG)
    run.append(json.loads(line(0)))
    run.close()
    with pytest.raises(RunDirError, match="--resume"):
        RunDir(tmp_path).prepare(CONFIG)


def test_different_config_refuses_with_the_difference_unless_forced(tmp_path):
    run = RunDir(tmp_path)
    run.prepare(CONFIG)
    run.append(json.loads(line(0)))
    run.close()
    other = {**CONFIG, "agent": "abstain", "env_kwargs": {"hint": True}}
    for resume in (False, True):
        with pytest.raises(RunDirError) as err:
            RunDir(tmp_path).prepare(other, resume=resume)
        msg = str(err.value)
        assert 'agent: "oracle" -> "abstain"' in msg
        assert "env_kwargs.hint: (absent) -> true" in msg
        assert "--force" in msg
    assert RunDir(tmp_path).prepare(other, force=True) == []
    assert run.episodes_path.read_text() == ""
    assert json.loads(run.config_path.read_text())["agent"] == "abstain"


def test_resume_without_previous_run_starts_fresh(tmp_path):
    assert RunDir(tmp_path / "new").prepare(CONFIG, resume=True) == []
    assert (tmp_path / "new" / "config.json").exists()


def test_config_diff_lists_nested_changes():
    assert config_diff({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": None}) == [
        "b.c: 2 -> 3",
        "d: (absent) -> null",
    ]


def test_a_directory_in_use_by_another_run_is_refused(tmp_path):
    first = RunDir(tmp_path)
    first.prepare(CONFIG)
    with pytest.raises(RunDirError, match="in use by another running evaluation"):
        RunDir(tmp_path).prepare(CONFIG, resume=True)
    first.close()  # the run ended (or died): the lock is gone
    assert RunDir(tmp_path).prepare(CONFIG, resume=True) == []

"""The ``proactive-gym`` command line: eval, report, list, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from proactive_gym.cli import agent_options, build_parser, env_kwargs, main
from proactive_gym.scenarios import SCENARIOS


@pytest.fixture(autouse=True)
def no_data_root(monkeypatch):
    monkeypatch.delenv("PROACTIVE_GYM_DATA", raising=False)


def test_list_shows_envs_and_agents(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for scenario in SCENARIOS.values():
        assert scenario.name in out and scenario.env_id in out
    for spec in ("oracle", "random", "abstain", "suggest", "first-guess", "hf:", "openai:"):
        assert spec in out


def test_default_eval_runs_synthetic_and_prints_table_1(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["eval", "--agent", "oracle", "--envs", "all", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "ProactiveBench: acc (%) / psr" in out
    header = next(line for line in out.splitlines() if " ROD " in line)
    assert header.split() == ["run", *SCENARIOS, "avg"]
    acc_row = next(line for line in out.splitlines() if line.strip().startswith("oracle"))
    assert acc_row.split() == ["oracle", "acc"] + ["100.0"] * 8
    assert f"proactive-gym report {out_dir}" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["agent"]["spec"] == "oracle" and summary["complete"]
    assert {d["data_source"] for d in summary["data"].values()} == {"synthetic"}
    assert (out_dir / "config.json").exists() and (out_dir / "episodes.jsonl").exists()


def test_unknown_agent_and_env_list_the_valid_ones(tmp_path, capsys):
    assert main(["eval", "--agent", "gpt5", "--envs", "ROD", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "unknown agent spec 'gpt5'" in err and "first-guess" in err and "openai:<model>" in err
    assert main(["eval", "--agent", "oracle", "--envs", "ROD,Atari", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'Atari'" in err
    assert all(name in err.replace("\n", " ") for name in SCENARIOS)


def test_out_with_another_config_is_refused_with_the_difference(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["eval", "--agent", "oracle", "--envs", "ROD", "--max-episodes", "3", "--out", out]) == 0
    capsys.readouterr()
    argv = ["eval", "--agent", "abstain", "--envs", "ROD", "--max-episodes", "3", "--hint", "--out", out]
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert 'agent: "oracle" -> "abstain"' in err
    assert "env_kwargs.hint: (absent) -> true" in err
    assert "--force" in err
    assert main([*argv, "--force"]) == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["flags"]["hint"] is True


def test_resume_flag_finishes_the_run(tmp_path, capsys):
    out = str(tmp_path / "run")
    argv = ["eval", "--agent", "random", "--envs", "VSOD", "--max-episodes", "4", "--out", out]
    assert main(argv) == 0
    assert main(argv) == 2  # same config, results present, no --resume
    assert "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    lines = (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 4


def test_model_options_are_passed_only_when_given():
    parser = build_parser()
    args = parser.parse_args(["eval", "--agent", "oracle"])
    assert agent_options(args) == {}
    assert env_kwargs(args) == {}
    args = parser.parse_args(
        ["eval", "--agent", "openai:gpt-4.1", "--base-url", "http://a", "--base-url", "http://b",
         "--temperature", "0.5", "--max-new-tokens", "20", "--timeout", "30"]
    )  # fmt: skip
    assert agent_options(args) == {
        "base_url": ["http://a", "http://b"],
        "temperature": 0.5,
        "max_new_tokens": 20,
        "timeout": 30.0,
    }
    args = parser.parse_args(
        ["eval", "--agent", "hf:tiny", "--dtype", "float32", "--device", "cpu", "--adapter", "lora/",
         "--batch-size", "4", "--attn-implementation", "eager", "--hint", "--mode", "open",
         "--data-root", "/data/pb", "--subset", "paper"]
    )  # fmt: skip
    assert agent_options(args) == {
        "dtype": "float32",
        "device": "cpu",
        "adapter": "lora/",
        "attn_implementation": "eager",
        "batch_size": 4,
    }
    assert env_kwargs(args) == {"data_root": "/data/pb", "subset": "paper", "mode": "open", "hint": True}
    assert agent_options(parser.parse_args(["eval", "--agent", "random", "--seed", "7"])) == {"seed": 7}


def test_bad_numbers_are_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--batch-size", "0"])
    assert "expected a positive integer" in capsys.readouterr().err


def test_report_command_and_module_entry_point(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "proactive_gym", "eval", "--agent", "suggest", "--envs", "COCO,ROD",
           "--max-episodes", "2", "--out", str(run)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "suggest" in done.stdout and "COCO" in done.stdout
    rep = subprocess.run(
        [sys.executable, "-m", "proactive_gym", "report", str(run), "--max-images", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rep.returncode == 0, rep.stderr
    for name in ("report.md", "report.html", "acc_per_scenario.png", "outcomes_per_turn.png"):
        assert (run / "report" / name).exists(), name
    assert rep.stdout.count("report.") >= 2


def test_open_mode_with_the_default_keyword_judge(tmp_path, capsys):
    base = ["eval", "--mode", "open", "--envs", "ROD,COCO", "--max-episodes", "5"]
    assert main([*base, "--agent", "oracle", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "ps / cc / agg (%), open-ended, judged" in " ".join(out.split())
    ps_row = next(line for line in out.splitlines() if line.strip().startswith("oracle"))
    assert ps_row.split() == ["oracle", "ps", "100.0", "100.0", "100.0"]  # the first acceptable answer
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["judge"]["spec"] == "keyword" and summary["mode"] == "open"
    assert main([*base, "--agent", "abstain", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["metrics"]["avg"]["agg"] == 0.0


def test_data_commands_come_from_the_data_package_when_present(capsys):
    import importlib.util

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"eval", "report", "data", "list"} <= set(sub.choices)
    if importlib.util.find_spec("proactive_gym.data.cli") is None:
        assert main(["data"]) == 2
        assert "data commands are not available" in capsys.readouterr().err
    else:  # the synthetic owner's commands are mounted under `data`
        with pytest.raises(SystemExit) as done:
            main(["data", "--help"])
        assert done.value.code == 0
        assert "usage: proactive-gym data" in capsys.readouterr().out


def test_ctrl_c_prints_how_to_resume(monkeypatch, tmp_path, capsys):
    import proactive_gym.evaluation as evaluation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "evaluate", interrupted)
    assert main(["eval", "--agent", "oracle", "--out", str(tmp_path / "r")]) == 130
    out = " ".join(capsys.readouterr().out.split())
    assert "interrupted" in out and "repeat the command with --resume" in out


def test_icl_and_random_options_flags_reach_the_env(tmp_path):
    args = build_parser().parse_args(["eval", "--envs", "ROD", "--icl-examples", "3", "--random-options"])
    assert env_kwargs(args) == {"icl_examples": 3, "random_options": True}
    args = build_parser().parse_args(["eval", "--envs", "MVP-N", "--icl-examples", "1", "--icl-full"])
    assert env_kwargs(args) == {"icl_examples": 1, "icl_full": True}
    out = tmp_path / "run"
    argv = ["eval", "--agent", "oracle", "--envs", "MVP-N", "--icl-examples", "1", "--max-episodes", "3"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["env_kwargs"] == {"icl_examples": 1}
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 3 and all(e["outcome"] == "correct" for e in episodes)

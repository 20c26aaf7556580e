"""What a new user meets first: the install commands, and one clear line for each common mistake."""

from __future__ import annotations

import re
import shutil
import socket
import time
from pathlib import Path

import pytest

from proactive_gym.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "PROACTIVE_GYM_DATA",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
    ):
        monkeypatch.delenv(name, raising=False)


def error_of(capsys, argv: list[str]) -> str:
    """Run the CLI, expect the usage exit status, return stderr as one line."""
    assert main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


def test_the_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = 'pip install -c constraints-cpu.txt -e ".[all,dev]" && python -m pytest -q'
    assert command in readme
    assert [line for line in ci.splitlines() if line.startswith("pip install")] == [command]
    constraints = (ROOT / "constraints-cpu.txt").read_text(encoding="utf-8").split()
    assert "torch==2.13.0" in constraints and "setuptools<81" in constraints


def test_the_package_pins_no_exact_torch():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.findall(r'"torch[^"a-z]*"', pyproject) == ['"torch>=2.6"']
    assert '"transformers[serving]' in pyproject  # the real server of tests/test_real_server.py


def test_subset_paper_on_synthetic_data_refuses(tmp_path, capsys):
    err = error_of(
        capsys,
        ["eval", "--agent", "oracle", "--envs", "ROD", "--subset", "paper", "--out", str(tmp_path / "r")],
    )
    assert "--subset paper (the paper's 7,557 samples) needs the real release (--data-root DIR)" in err
    assert "use --subset all" in err
    assert not (tmp_path / "r" / "summary.json").exists()


def test_resume_on_a_folder_without_a_run_says_so(tmp_path, capsys):
    out = tmp_path / "fresh"
    argv = [
        "eval",
        "--agent",
        "oracle",
        "--envs",
        "ROD",
        "--max-episodes",
        "1",
        "--resume",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: --resume: {out} holds no run to resume (no config.json); starting a fresh run there"
    ]
    assert main(argv) == 0  # now there is a run: no note
    assert "note:" not in capsys.readouterr().out


def test_out_pointing_at_a_file_names_the_flag(tmp_path, capsys):
    path = tmp_path / "results.txt"
    path.write_text("mine\n")
    err = error_of(capsys, ["eval", "--agent", "oracle", "--envs", "ROD", "--out", str(path)])
    assert err == f"error: --out {path} is a file, not a run folder: choose another --out"
    assert path.read_text() == "mine\n"


def test_messages_name_the_cli_flags(tmp_path, capsys):
    err = error_of(capsys, ["eval", "--agent", "openai:gpt-4.1", "--base-url", "https://api.openai.com/v1",
                            "--envs", "ROD", "--out", str(tmp_path / "a")])  # fmt: skip
    assert err == "error: openai agent: set the API key in $OPENAI_API_KEY (or pass --api-key-env NAME)"
    err = error_of(
        capsys,
        ["eval", "--agent", "oracle", "--envs", "ROD", "--data", "released", "--out", str(tmp_path / "b")],
    )
    assert err.startswith("error: --data released needs --data-root DIR or PROACTIVE_GYM_DATA.")
    assert "--data synthetic" in err and "data='" not in err and "data_root=" not in err
    err = error_of(capsys, ["eval", "--agent", "oracle", "--envs", "ROD", "--mode", "open", "--judge", "openai:judge-x",
                            "--out", str(tmp_path / "c")])  # fmt: skip
    assert err.startswith("error: --judge openai:judge-x: no --judge-base-url given")  # no emoji for ':x'
    assert "pass --judge-base-url http://HOST:PORT/v1" in err


def test_a_data_root_from_the_environment_is_named(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("PROACTIVE_GYM_DATA", str(missing))
    err = error_of(capsys, ["eval", "--agent", "oracle", "--envs", "ROD", "--out", str(tmp_path / "r")])
    assert f"data root {missing} (split 'test') is not a directory" in err
    assert err.endswith(
        f"(the data root {missing} comes from $PROACTIVE_GYM_DATA; pass --data-root DIR, or unset it for --data synthetic)"
    )
    monkeypatch.delenv("PROACTIVE_GYM_DATA")
    err = error_of(
        capsys,
        [
            "eval",
            "--agent",
            "oracle",
            "--envs",
            "ROD",
            "--data-root",
            str(missing),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert "PROACTIVE_GYM_DATA;" not in err  # given on the command line: no note


def test_envs_all_on_a_partial_data_root_suggests_the_envs_that_work(fixture_root, tmp_path, capsys):
    from proactive_gym.scenarios import SCENARIOS

    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("ROD", "COCO"):
        shutil.copy(fixture_root / f"{SCENARIOS[name].prefix}_preprocessed.jsonl", partial)
    err = error_of(
        capsys,
        [
            "eval",
            "--agent",
            "oracle",
            "--envs",
            "all",
            "--data-root",
            str(partial),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert err == (
        f"error: --envs all: the data root {partial} holds only 2 of 7 scenarios (missing VSOD, MVP-N, "
        "ImageNet-C, QuickDraw, ChangeIt); run the others with --envs ROD,COCO"
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hf_model_out_of_reach_fails_in_seconds_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = ["eval", "--agent", "hf:someone/some-vlm", "--envs", "ROD", "--out", str(tmp_path / "r")]
    err = error_of(capsys, argv)
    assert err == (
        f"error: --agent hf:someone/some-vlm: offline mode is on and someone/some-vlm is not in the Hugging "
        f"Face cache ({tmp_path / 'hf' / 'hub'}); download it where there is internet (`hf download "
        "someone/some-vlm`), or pass a local folder: --agent hf:DIR"
    )
    monkeypatch.delenv("HF_HUB_OFFLINE")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    start = time.monotonic()
    err = error_of(capsys, argv)
    assert time.monotonic() - start < 10
    assert f"and the hub {endpoint} cannot be reached" in err and "hf:DIR" in err
    err = error_of(
        capsys, ["eval", "--agent", "hf:./no/such/model", "--envs", "ROD", "--out", str(tmp_path / "r")]
    )
    assert (
        err
        == "error: --agent hf:./no/such/model: ./no/such/model is not a folder (a local model needs its folder's path)"
    )
    cached = tmp_path / "hf" / "hub" / "models--someone--some-vlm" / "snapshots" / "abc"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{}")
    from proactive_gym.cli_checks import check_hf_model

    check_hf_model("hf:someone/some-vlm")  # in the cache: no hub needed


def test_help_prints_each_default_once(capsys):
    parser = build_parser()
    texts = {}
    for command in ("eval", "report", "filter", "data synth"):
        with pytest.raises(SystemExit):
            parser.parse_args([*command.split(), "--help"])
        texts[command] = text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text and "(default: False)" not in text
        for option in re.split(r" (?=--[a-z])", text):
            assert option.count("default") <= 1, option
    assert "--split SPLIT data split (default: test)" in texts["eval"]
    assert "--out OUT run directory (default: runs/<agent>-<time>)" in texts["eval"]


def test_openai_messages_are_json_with_the_exact_pixels(make_env):
    import base64
    import io
    import json

    import numpy as np
    from PIL import Image

    from proactive_gym.protocol import openai_messages

    env = make_env("ROD", history=True)
    obs, info = env.reset(seed=0, options={"sample_id": env.unwrapped.sample_ids[0]})
    obs, *_ = env.step(info["oracle"])
    messages = json.loads(json.dumps(openai_messages(obs)))  # plain JSON all the way
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == info["oracle"]
    image_part, text_part = messages[-1]["content"]
    assert text_part == {"type": "text", "text": obs["dialogue"]}
    header, data = image_part["image_url"]["url"].split(",", 1)
    assert header == "data:image/png;base64"
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    assert np.array_equal(pixels, obs["image"])


def test_an_hf_judge_out_of_reach_names_the_judge_flag(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = ["eval", "--agent", "suggest", "--envs", "ROD", "--mode", "open", "--judge", "hf:Qwen/Qwen3-8B",
            "--out", str(tmp_path / "r")]  # fmt: skip
    assert error_of(capsys, argv).startswith("error: --judge hf:Qwen/Qwen3-8B: offline mode is on")

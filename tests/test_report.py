"""``report``: Markdown, plots and the self-contained HTML (opened in headless Chromium)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import warnings

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import proactive_gym  # noqa: F401
from proactive_gym.evaluation import evaluate
from proactive_gym.evaluation.report import write_report
from proactive_gym.evaluation.results import RunDir
from proactive_gym.scenarios import SCENARIOS

SYN = {"data": "synthetic"}
PER_SCENARIO = 6
IMAGES_PER_SCENARIO = 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    for spec in ("oracle", "random"):
        evaluate(spec, envs="all", env_kwargs=SYN, out=base / spec, max_episodes=PER_SCENARIO)
    return base


@pytest.fixture(scope="module")
def report(runs):
    return write_report(
        [runs / "oracle", runs / "random"],
        out=runs / "report",
        images_per_scenario=IMAGES_PER_SCENARIO,
        max_images=1000,
    )


def embedded(html_text: str) -> dict:
    blob = re.search(r"<script type='application/json' id='episode-data'>(.*?)</script>", html_text, re.S)
    assert blob, "the episode data block is missing"
    return json.loads(blob.group(1).replace("<\\/", "</"))


def test_files_exist_and_markdown_holds_the_table(report):
    assert set(report) == {"acc_per_scenario", "outcomes_per_turn", "markdown", "html"}
    for key in ("acc_per_scenario", "outcomes_per_turn"):
        with Image.open(report[key]) as img:
            assert img.format == "PNG" and img.size[0] > 400
    md = report["markdown"].read_text()
    assert "| run | " + " | ".join(SCENARIOS) + " | avg |" in md
    oracle_row = next(line for line in md.splitlines() if line.startswith("| oracle |"))
    assert oracle_row.count("100.0 / ") == 8  # seven scenarios and avg
    assert "| random |" in md and "## random" in md and "acc_per_scenario.png" in md


def test_html_embeds_every_episode_and_capped_images(report, runs):
    text = report["html"].read_text()
    assert "src='data:image/png;base64," in text  # the plots are inside the file
    assert "http://" not in text and "https://" not in text  # nothing to fetch: self-contained
    data = embedded(text)
    assert data["runs"] == ["oracle", "random"]
    assert len(data["episodes"]) == 7 * PER_SCENARIO
    expected_images = 0
    for spec in ("oracle", "random"):
        records = sorted(RunDir(runs / spec).records(), key=lambda r: r["index"])  # file order: finish order
        for name in SCENARIOS:
            first = [r for r in records if r["scenario"] == name][:IMAGES_PER_SCENARIO]
            expected_images += sum(r["turns"] for r in first)
    images = [s["img"] for e in data["episodes"] for r in e["runs"] for s in r["steps"] if s["img"]]
    assert len(images) == expected_images


def test_thumbnails_are_the_images_the_agent_saw(report, runs):
    data = embedded(report["html"].read_text())
    episode = next(e for e in data["episodes"] if e["scenario"] == "COCO")
    run = episode["runs"][0]  # oracle: several turns, the crop grows
    assert len(run["steps"]) >= 2
    env = gym.make("ProactiveBench/COCO-v0", **SYN)
    replies = [s["reply"] for s in run["steps"]]
    for k, step in enumerate(run["steps"]):
        obs, _ = env.reset(options={"sample_id": episode["sample_id"], "replies": replies[:k]})
        thumb = Image.open(io.BytesIO(base64.b64decode(step["img"].split(",", 1)[1]))).convert("RGB")
        assert abs(thumb.size[0] / thumb.size[1] - obs["image"].shape[1] / obs["image"].shape[0]) < 0.05
        want = np.asarray(Image.fromarray(obs["image"]).resize(thumb.size), dtype=float)
        assert np.abs(np.asarray(thumb, dtype=float) - want).mean() < 12.0, k
    env.close()


def test_unfinished_run_is_reported_as_incomplete(runs, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(runs / "random", part)
    (part / "summary.json").unlink()
    lines = (part / "episodes.jsonl").read_text().splitlines(keepends=True)
    (part / "episodes.jsonl").write_text("".join(lines[:10]) + lines[10][:30])  # still being written
    files = write_report([part], out=tmp_path / "rep", max_images=0, plots=False)
    assert "incomplete run" in files["markdown"].read_text()
    assert len(embedded(files["html"].read_text())["episodes"]) == 10


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_opens_in_headless_chromium_and_lists_every_episode(report, tmp_path):
    binary = chromium_binary()
    if binary is None:
        msg = (
            "CHROMIUM IS NOT INSTALLED: the HTML report was NOT checked in a browser. "
            "Install it with `apt-get install chromium chromium-driver`."
        )
        warnings.warn(msg, stacklevel=1)
        pytest.skip(msg)
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        report["html"].resolve().as_uri() + "#expand",
    ]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=90).stdout
    # The episode rows exist only once the page's script has run.
    assert len(re.findall(r'<details class="episode"', dom)) == 7 * PER_SCENARIO
    assert f"{7 * PER_SCENARIO} episodes shown" in dom
    # "#expand" opened every episode: both runs' turns are rendered side by side.
    assert len(re.findall(r'<div class="run">', dom)) == 2 * 7 * PER_SCENARIO
    assert "data:image/jpeg;base64," in dom
    prompts = re.findall(r'<div class="prompt">([^<]*)</div>', dom)
    assert len(prompts) == sum(len(r["steps"]) for e in embedded(report["html"].read_text())["episodes"]
                               for r in e["runs"])  # fmt: skip
    assert all("Choose from the following options. Options:" in p for p in prompts)


def test_without_matplotlib_the_report_has_no_plots_and_says_why(runs, tmp_path, monkeypatch, caplog):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    with caplog.at_level("WARNING"):
        files = write_report([runs / "oracle"], out=tmp_path / "rep", max_images=0)
    assert sorted(files) == ["html", "markdown"]
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["report.html", "report.md"]
    assert "pip install 'proactive_gym[report]'" in caplog.text
    assert "## Plots" not in (tmp_path / "rep" / "report.md").read_text()

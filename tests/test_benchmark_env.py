"""benchmarks/bench_env.py: the manifest it writes is released-format data that passes the schema, with
every image each episode can show on disk and frames numbered as the authors' env expects."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import proactive_gym  # noqa: F401 - registers the envs
from proactive_gym.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_env", REPO / "benchmarks" / "bench_env.py")
bench_env = importlib.util.module_from_spec(spec)
sys.modules["bench_env"] = bench_env
spec.loader.exec_module(bench_env)


@pytest.mark.slow  # writes the 17,909-entry manifest (a few seconds)
def test_the_manifest_loads_in_every_env_with_every_image_present(tmp_path):
    bench_env.write_manifest(tmp_path)
    checked = {}
    for sc in SCENARIOS.values():
        env = gym.make(sc.env_id, data_root=str(tmp_path), subset="all").unwrapped
        assert len(env.sample_ids) == bench_env.SIZES[sc.prefix]
        checked[sc.name] = env.check_images()
    # distinct images the manifest's episodes can show, per scenario
    assert checked == {
        "ROD": 14,
        "VSOD": 14,
        "MVP-N": 28,
        "ImageNet-C": 5,
        "QuickDraw": 8,
        "ChangeIt": 5,
        "COCO": 1,
    }
    first = json.loads((tmp_path / "QuickDraw_preprocessed.jsonl").read_text().splitlines()[0])
    assert (first["first_image"], first["num_images"], first["reference_image"]) == (0, 8, 7)
    assert first["options"] == ["Add more details.", "I cannot tell."]  # one action keyword, as theirs needs

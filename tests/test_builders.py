"""``proactive-gym data build``: QuickDraw simplified .ndjson and COCO instances -> released-format episodes."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import proactive_gym  # noqa: F401  (registers the envs)
from proactive_gym.baselines.perception import oracle_final_state
from proactive_gym.cli import main as cli_main
from proactive_gym.data.builders import build_coco, build_quickdraw, plan_crop
from proactive_gym.data.errors import DataError
from proactive_gym.scenarios import SCENARIOS


def drawing(n_strokes: int, offset: int) -> list:
    """A simplified drawing: n short horizontal strokes, each [[x...], [y...]] in 0..255."""
    return [
        [[10 + offset, 60 + offset, 120], [20 + 30 * i, 20 + 30 * i, 40 + 30 * i]] for i in range(n_strokes)
    ]


def write_ndjson(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def qd_row(word: str, n: int, recognized: bool = True, offset: int = 0) -> dict:
    return {
        "word": word,
        "countrycode": "US",
        "timestamp": "2017-03-01 12:00:00.0",
        "recognized": recognized,
        "key_id": f"{word}{n}{offset}",
        "drawing": drawing(n, offset),
    }


@pytest.fixture
def qd_files(tmp_path):
    a = write_ndjson(
        tmp_path / "cat.ndjson",
        [qd_row("cat", 3), qd_row("cat", 4, offset=5), qd_row("cat", 2, recognized=False), qd_row("cat", 1)],
    )
    b = write_ndjson(tmp_path / "more.ndjson", [qd_row("dog", 2), qd_row("hot dog", 3), qd_row("house", 5)])
    return [a, b]


def test_quickdraw_build_makes_one_episode_per_kept_drawing(tmp_path, qd_files):
    out = tmp_path / "out"
    report = build_quickdraw(qd_files, out)
    assert report.written == 5
    assert report.skipped == [
        f"{qd_files[0]}:3: not recognised by QuickDraw",
        f"{qd_files[0]}:4: 1 strokes, outside 2..12",
    ]
    recs = [json.loads(x) for x in (out / "QuickDraw_preprocessed.jsonl").read_text().splitlines()]
    assert [r["answer"] for r in recs] == ["Cat.", "Cat.", "Dog.", "Hot dog.", "House."]
    assert [r["num_images"] for r in recs] == [3, 4, 2, 3, 5]
    for r in recs:
        assert r["first_image"] == 0 and r["reference_image"] == r["num_images"] - 1
        assert len(set(r["categories"])) == 4 and r["answer"] in r["categories"]
        ink = [
            int((np.asarray(Image.open(out / r["image_template"].format(image=f"{k:04d}"))) < 128).sum())
            for k in range(r["num_images"])
        ]
        assert all(a < b for a, b in zip(ink, ink[1:], strict=False)), ink  # each frame adds a stroke
    env = gym.make("ProactiveBench/QuickDraw-v0", data="released", data_root=out, subset="all")
    for sid in env.unwrapped.sample_ids:
        obs, info = env.reset(options={"sample_id": sid})
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(info["oracle"])
            done = term or trunc
        assert info["outcome"] == "correct" and info["turn"] == recs[sid]["num_images"]


def test_quickdraw_malformed_line_names_file_and_line(tmp_path, qd_files):
    bad = write_ndjson(
        tmp_path / "bad.ndjson", [qd_row("dog", 2), "{not json", {"word": "dog", "drawing": [[[1], []]]}]
    )
    with pytest.raises(DataError, match=rf"{bad}:2: not valid JSON.*--skip-bad"):
        build_quickdraw([*qd_files, bad], tmp_path / "o1")
    report = build_quickdraw([*qd_files, bad], tmp_path / "o2", skip_bad=True)
    assert report.written == 6
    assert [s for s in report.skipped if str(bad) in s] == [
        f"{bad}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"{bad}:3: stroke 0 must be [[x...], [y...]] with equal, non-zero lengths",
    ]
    with pytest.raises(DataError, match="4 distinct words"):
        build_quickdraw([qd_files[0]], tmp_path / "o3")


def write_coco(tmp_path: Path) -> tuple[Path, Path, dict]:
    images_dir = tmp_path / "val2014"
    images_dir.mkdir()
    boxes = {
        1: [20, 40, 70, 60],
        2: [240, 110, 70, 70],
        3: [130, 70, 60, 80],
        4: [30, 150, 70, 60],
        5: [100, 20, 40, 40],
    }
    cats = [
        {"id": 1, "name": "cup", "supercategory": "kitchen"},
        {"id": 2, "name": "bowl", "supercategory": "kitchen"},
        {"id": 3, "name": "fork", "supercategory": "kitchen"},
        {"id": 4, "name": "dog", "supercategory": "animal"},
        {"id": 5, "name": "cat", "supercategory": "animal"},
    ]
    images, anns = [], []
    for i in range(1, 7):
        name = f"COCO_val2014_{i:012d}.jpg"
        Image.new("RGB", (320, 240), (i * 30, 100, 100)).save(images_dir / name)
        images.append({"id": i, "file_name": name, "width": 320, "height": 240})
    for i, box in boxes.items():
        anns.append(
            {
                "id": 100 + i,
                "image_id": i,
                "category_id": 1 + i % 5,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
        )
    anns.append(
        {"id": 200, "image_id": 5, "category_id": 2, "bbox": [200, 150, 40, 40], "iscrowd": 0}
    )  # 2 objects
    anns.append(
        {"id": 201, "image_id": 6, "category_id": 2, "bbox": [10, 10, 90, 90], "iscrowd": 1}
    )  # crowd only
    data = {"images": images, "annotations": anns, "categories": cats}
    path = tmp_path / "instances_val2014.json"
    path.write_text(json.dumps(data))
    return path, images_dir, data


def test_coco_build_single_object_images_with_low_overlap_crops(tmp_path):
    instances, images_dir, _ = write_coco(tmp_path)
    out = tmp_path / "out"
    report = build_coco(instances, images_dir, out, seed=1)
    assert report.written == 4
    assert sorted(s.split(": ", 2)[2] for s in report.skipped) == [
        "0 objects, not a single-object image",
        "2 objects, not a single-object image",
    ]
    scenario = SCENARIOS["COCO"]
    recs = [json.loads(x) for x in (out / "coco2014_preprocessed.jsonl").read_text().splitlines()]
    boxes = {1: [20, 40, 70, 60], 2: [240, 110, 70, 70], 3: [130, 70, 60, 80], 4: [30, 150, 70, 60]}
    for r in recs:
        assert (out / r["image_template"]).is_file()
        x, y, w, h = boxes[r["coco_image_id"]]
        first = scenario.crop_box(r, scenario.initial_state(r))
        last = scenario.crop_box(r, oracle_final_state(scenario, r))
        inter = max(0, min(first[2], x + w) - max(first[0], x)) * max(
            0, min(first[3], y + h) - max(first[1], y)
        )
        if r["direction"] == "zoom":
            assert first[0] >= x and first[2] <= x + w and first[1] >= y and first[3] <= y + h
        else:
            assert inter <= 0.16 * w * h, (r["direction"], first, (x, y, w, h))
        assert last[0] <= x and last[1] <= y and last[2] >= x + w and last[3] >= y + h, (r["direction"], last)
        assert 0 <= last[0] and 0 <= last[1] and last[2] <= 320 and last[3] <= 240
    bowl = next(r for r in recs if r["answer"] == "Bowl.")
    assert {"Cup.", "Fork."} <= set(bowl["categories"])  # same supercategory first
    env = gym.make("ProactiveBench/COCO-v0", data="released", data_root=out, subset="all")
    for sid in env.unwrapped.sample_ids:
        obs, info = env.reset(options={"sample_id": sid})
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(info["oracle"])
            done = term or trunc
        assert info["outcome"] == "correct"


def test_plan_crop_every_direction_on_a_centred_object():
    for direction in ("left", "right", "up", "down", "up_left", "down_right"):
        plan = plan_crop(640, 480, [280, 200, 80, 80], direction, 4)
        assert plan is not None and plan["horizontal_step"] >= 0 and plan["vertical_step"] >= 0
    assert plan_crop(640, 480, [0, 0, 80, 80], "right", 3) is None  # no room left of the object
    assert plan_crop(640, 480, [0, 0, 80, 80], "left", 3) == {
        "crop": {"left": 102, "width": 108, "top": 0, "height": 88},
        "horizontal_step": 34,
        "vertical_step": 0,
    }


def test_coco_bad_inputs_are_named(tmp_path):
    instances, images_dir, data = write_coco(tmp_path)
    data["annotations"][2]["bbox"] = [1, 2, 3]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"annotations\[2\] needs a bbox of 4 numbers"):
        build_coco(bad, images_dir, tmp_path / "o1")
    (images_dir / "COCO_val2014_000000000003.jpg").unlink()
    with pytest.raises(DataError, match="COCO_val2014_000000000003.jpg not found.*--skip-bad"):
        build_coco(instances, images_dir, tmp_path / "o2")
    report = build_coco(instances, images_dir, tmp_path / "o3", skip_bad=True)
    assert report.written == 3 and any("000000000003.jpg not found" in s for s in report.skipped)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(DataError, match="broken.json: not valid JSON"):
        build_coco(tmp_path / "broken.json", images_dir, tmp_path / "o4")


def test_cli_synth_and_build(tmp_path, qd_files):
    assert cli_main(["data", "synth", "--out", str(tmp_path / "s"), "--size", "2", "--envs", "ROD,COCO"]) == 0
    assert sorted(p.name for p in (tmp_path / "s").glob("*.jsonl")) == [
        "Realistic-Occlusion-Dataset_preprocessed.jsonl",
        "coco2014_preprocessed.jsonl",
    ]
    assert cli_main(["data", "synth", "--out", str(tmp_path / "s"), "--size", "2"]) == 2  # not empty
    assert cli_main(["data", "build", "quickdraw", "--out", str(tmp_path / "q"), *map(str, qd_files)]) == 0
    assert len((tmp_path / "q" / "QuickDraw_preprocessed.jsonl").read_text().splitlines()) == 5

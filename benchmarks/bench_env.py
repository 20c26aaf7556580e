"""Env performance on a released-format manifest of the full benchmark's size (17,909 entries).

    python benchmarks/bench_env.py [--workdir DIR] [--steps 2000]

Measures, in fresh subprocesses where it matters: the time of ``import proactive_gym``; ``gym.make`` of
the largest scenario; the median ``step`` time with 500x375 JPEG images, next to the cost of decoding one
such image (the floor: a step must read one image); the resident memory with all seven envs open at once.
The manifest is generated (random entries that follow the released format; images shared between
entries so that the disk holds a few dozen JPEGs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# 17,909 samples in all, split roughly like the release (largest: QuickDraw and MVP-N)
SIZES = {
    "Realistic-Occlusion-Dataset": 88,
    "OcclusionDataSet-MM20": 200,
    "MVP-N": 4860,
    "ImageNet-C": 3000,
    "QuickDraw": 5000,
    "ChangeIt": 1500,
    "coco2014": 3261,
}
FRAMES = 14
CATS = ["Vase.", "Cup.", "Lamp.", "Shoe."]


def _entry(prefix: str, i: int, rng: np.random.Generator) -> dict:
    base = {"id": i, "prompt": "What is the object in the image?", "categories": CATS, "answer": CATS[i % 4]}
    abstain = "I cannot tell."
    if prefix == "Realistic-Occlusion-Dataset":
        return {
            **base,
            "options": ["Move the block to the left.", abstain, "Move the block to the right."],
            "image_template": "rod/s{image}.jpg",
            "first_image": 7,
            "num_images": FRAMES,
            "reference_image": int(rng.integers(FRAMES)),
        }
    if prefix == "OcclusionDataSet-MM20":
        return {
            **base,
            "options": ["Rewind the video.", abstain, "Wait for the occlusion to disappear."],
            "image_template": "vsod/{image}.jpg",
            "first_image": 7,
            "num_images": FRAMES,
            "reference_image": int(rng.integers(FRAMES)),
            "strong_occlusions": True,
        }
    if prefix == "MVP-N":
        views = [int(v) for v in rng.permutation(FRAMES)[:5]]
        return {
            **base,
            "options": ["Rotate the object.", abstain],
            "image_template": "mvpn/{image}_{informative}.jpg",
            "first_image": views[0],
            "num_images": 5,
            "reference_image": views[-1],
            "valid_images": views,
        }
    if prefix == "ImageNet-C":
        fixes = [
            "Deblur the image.",
            "Increase the brightness.",
            abstain,
            "Denoise the image.",
            "Increase the contrast.",
        ]
        return {
            **base,
            "options": fixes,
            "image_template": "inc/{level}.jpg",
            "first_image": 5,
            "num_images": 5,
            "reference_image": 1,
            "quality_answer": "Deblur the image.",
        }
    if prefix == "QuickDraw":
        return {
            **base,
            "options": ["Add more details to the drawing.", abstain],
            "image_template": "qd/{image}.jpg",
            "first_image": 1,
            "num_images": 8,
            "reference_image": 8,
        }
    if prefix == "ChangeIt":
        return {
            **base,
            "options": ["Wait for the object to appear.", abstain, "Rewind the video."],
            "image_template": "cit/{image}.jpg",
            "first_image": 1,
            "num_images": FRAMES,
            "reference_image": 10,
            "step_size": 3,
            "max_steps": 5,
        }
    return {
        **base,
        "options": ["Move the camera to the left.", abstain],
        "image_template": "coco/img.jpg",
        "first_image": 0,
        "num_images": 1,
        "reference_image": 0,
        "direction": "left",
        "granularity": 4,
        "horizontal_step": 40,
        "vertical_step": 0,
        "crop": {"top": 0, "left": 300, "height": 375, "width": 500},
    }


def write_manifest(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for prefix, n in SIZES.items():
        with (root / f"{prefix}_preprocessed.jsonl").open("w") as fh:
            for i in range(n):
                fh.write(json.dumps(_entry(prefix, i, rng)) + "\n")
    names = [f"rod/s{k}.jpg" for k in range(FRAMES)] + [f"vsod/{k:04d}.jpg" for k in range(FRAMES)]
    names += [f"mvpn/{k:04d}_{b}.jpg" for k in range(FRAMES) for b in (0, 1)] + [
        f"inc/{k}.jpg" for k in range(6)
    ]
    names += (
        [f"qd/{k:04d}.jpg" for k in range(10)] + [f"cit/{k}.jpg" for k in range(FRAMES)] + ["coco/img.jpg"]
    )
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(375 // 5, 500 // 5, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((500, 375), Image.BILINEAR).save(path, quality=90)


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to write the manifest (default: a temp dir)"
    )
    parser.add_argument("--steps", type=int, default=2000, help="steps to time")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="pg-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root)

    imports = [
        float(_run("import time; t=time.perf_counter(); import proactive_gym; print(time.perf_counter()-t)"))
        for _ in range(5)
    ]
    make_code = (
        "import time, gymnasium as gym, proactive_gym; t=time.perf_counter(); "
        f"gym.make('ProactiveBench/QuickDraw-v0', data_root={str(root)!r}, subset='all'); "
        "print(time.perf_counter()-t)"
    )
    makes = [float(_run(make_code)) for _ in range(3)]
    mem_code = (
        "import gymnasium as gym, proactive_gym, resource\n"
        f"envs = [gym.make(i, data_root={str(root)!r}, subset='all') for i in proactive_gym.ENV_IDS]\n"
        "for e in envs: e.reset(seed=0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    memory_mb = float(_run(mem_code))

    import gymnasium as gym
    from PIL import Image

    import proactive_gym

    envs = {i: gym.make(i, data_root=str(root), subset="all") for i in proactive_gym.ENV_IDS}
    rng = np.random.default_rng(0)
    step_times: list[float] = []
    ids = list(envs)
    while len(step_times) < args.steps:
        env = envs[ids[int(rng.integers(len(ids)))]]
        obs, info = env.reset(seed=int(rng.integers(1 << 30)))
        done = False
        while not done and len(step_times) < args.steps:
            reply = info["oracle"]
            t = time.perf_counter()
            obs, _, terminated, truncated, info = env.step(reply)
            step_times.append(time.perf_counter() - t)
            done = terminated or truncated
    decode = []
    for k in range(300):
        t = time.perf_counter()
        with Image.open(root / f"rod/s{k % FRAMES}.jpg") as img:
            np.array(img.convert("RGB"))
        decode.append(time.perf_counter() - t)
    step_ms, decode_ms = statistics.median(step_times) * 1e3, statistics.median(decode) * 1e3
    result = {
        "entries": sum(SIZES.values()),
        "import_s_median": statistics.median(imports),
        "make_largest_s_median": statistics.median(makes),
        "step_ms_median": step_ms,
        "jpeg_decode_ms_median": decode_ms,
        "step_over_decode": step_ms / decode_ms,
        "seven_envs_max_rss_mb": memory_mb,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

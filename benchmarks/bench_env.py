"""Env performance on a released-format manifest of the full benchmark's size (17,909 entries), side by side
with the authors' environment when their file is at hand.

    python benchmarks/bench_env.py [--workdir DIR] [--steps 2000] [--episodes 100] [--rounds 3]
                                   [--reference path/to/environment.py] [--no-scale]

Measures:

- ``import proactive_gym`` (fresh processes), ``gym.make`` of every scenario, the schema's one
  validation pass over all seven files (``read_entries``, every line checked), and the image check before
  the first episode (``check_images`` of every episode of the seven envs);
- the median ``step`` time with 500x375 JPEG images next to one decode (the floor: a step reads one image),
  and the resident memory with all seven envs open;
- side by side with the authors' ``proactivebench/environment.py`` (found as
  ``check_against_reference.py`` finds it: the installed package, or ``--reference FILE``): the CPU time
  per turn of each env on the same data and the same reply sequences (our oracle's, and
  ``check_against_reference.pick_reply``'s mix of right, wrong and junk replies), paired and interleaved
  episode by episode (each episode ``--rounds`` times in rotated order, the fastest run of each counting,
  so that other jobs on the machine weigh less), next to two floors for the same images: ``decode`` (open and decode) and ``array``
  (open, decode and pack into an array: the least an env returning arrays must do). A turn of theirs is ``get_state``, the
  image opened, converted to RGB, transformed (COCO's crop) and turned into an array (the pixels our env
  returns), then ``evaluate_generated_answer``; a turn of ours is ``reset`` or ``step``. Episodes where
  the two envs disagree (turns, end, success) are counted;
- at 10x the manifest (179,090 entries): the CPU time of making all seven envs and the summary's peak
  memory (``tracemalloc``) against 1x: time should grow 10x (linear), memory far less.

The manifest is generated: random entries that follow the released format in the way the authors' env
accepts (frames numbered from 0 to ``num_images`` - 1, one action keyword per option); images are shared
between entries so that the disk holds a few dozen JPEGs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

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
STROKES = 8
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
    if prefix == "QuickDraw":  # frames 0 .. num_images - 1; "details" is the option's one action keyword
        return {
            **base,
            "options": ["Add more details.", abstain],
            "image_template": "qd/{image}.jpg",
            "first_image": 0,
            "num_images": STROKES,
            "reference_image": STROKES - 1,
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


def write_manifest(root: Path, scale: int = 1, prefixes: list[str] | None = None) -> None:
    """The JSONL files (``scale`` times the benchmark's size) and the few images they share."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for prefix, n in SIZES.items():
        if prefixes is not None and prefix not in prefixes:
            continue
        with (root / f"{prefix}_preprocessed.jsonl").open("w") as fh:
            for i in range(n * scale):
                fh.write(json.dumps(_entry(prefix, i, rng)) + "\n")
    names = [f"rod/s{k}.jpg" for k in range(FRAMES)] + [f"vsod/{k:04d}.jpg" for k in range(FRAMES)]
    names += [f"mvpn/{k:04d}_{b}.jpg" for k in range(FRAMES) for b in (0, 1)] + [
        f"inc/{k}.jpg" for k in range(1, 6)
    ]
    names += (
        [f"qd/{k:04d}.jpg" for k in range(STROKES)]
        + [f"cit/{k}.jpg" for k in range(FRAMES)]
        + ["coco/img.jpg"]
    )
    for name in names:
        path = root / name
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(375 // 5, 500 // 5, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((500, 375), Image.BILINEAR).save(path, quality=90)


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _decode(path: str) -> None:
    """The floor of a turn: open and decode one image."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()


def _to_array(path: str) -> None:
    """The floor of a turn that returns pixels as an array: open, decode, pack (one copy)."""
    from PIL import Image

    with Image.open(path) as img:
        np.asarray(img)


def reference_module(path: str | None) -> Any:
    """The authors' environment module, as check_against_reference.py finds it; None when absent."""
    import importlib.util

    if path is None and importlib.util.find_spec("proactivebench") is None:
        return None
    sys.path.insert(0, str(Path(__file__).parent))
    from check_against_reference import load_reference

    return load_reference(path)


def side_by_side(root: Path, ref: Any, episodes: int, rounds: int) -> dict[str, Any]:
    """CPU time per turn of ours and theirs on the same replies, paired and interleaved (see the docstring)."""
    import gymnasium as gym
    from check_against_reference import pick_reply
    from PIL import Image

    import proactive_gym  # noqa: F401
    from proactive_gym.scenarios import SCENARIOS

    def theirs(cls: Any, entry: dict, replies: list[str]) -> tuple[bool, bool, int]:
        env = cls(entry=entry, data_dir=str(root))
        for reply in replies:
            state = env.get_state()
            with Image.open(state["image_path"]) as raw:
                np.asarray(state["transform"](raw.convert("RGB")))
            env.evaluate_generated_answer(reply)
            if env.stop:
                break
        return env.stop, env.correct_prediction, env.num_turns

    out: dict[str, Any] = {}
    clock = time.process_time_ns
    for name, sc in SCENARIOS.items():
        env = gym.make(sc.env_id, data_root=str(root), subset="all", disable_env_checker=True)
        cls = ref.get_environment(sc.prefix)
        by_id = {e["id"]: e for e in env.unwrapped.episodes.entries}
        ids = env.unwrapped.sample_ids[:episodes]
        for plan in ("oracle", "mixed"):
            cost = {"ours": 0, "theirs": 0, "decode": 0, "array": 0}
            turns = mismatches = 0
            for k, sid in enumerate(ids):
                rng = random.Random(f"{name}/{sid}/{plan}")
                replies, paths = [], []
                obs, info = env.reset(options={"sample_id": sid})
                while True:  # the reply plan, from a first (untimed) play of ours
                    paths.append(str(root / info["image_path"]))
                    reply = info["oracle"] if plan == "oracle" else pick_reply(rng, info)
                    replies.append(reply)
                    obs, _, terminated, truncated, info = env.step(reply)
                    if terminated or truncated:
                        break
                done = (True, info["solved"], info["turn"])

                def ours(env: Any = env, sid: int = sid, replies: list[str] = replies) -> None:
                    env.reset(options={"sample_id": sid})
                    for reply in replies:
                        env.step(reply)

                def reference(cls: Any = cls, entry: dict = by_id[sid], replies: list[str] = replies) -> Any:
                    try:
                        return theirs(cls, entry, replies)
                    except AssertionError as err:  # their env refused a state: counted as a mismatch
                        return repr(err)

                def decode(paths: list[str] = paths) -> None:
                    for path in paths:
                        _decode(path)

                def array(paths: list[str] = paths) -> None:
                    for path in paths:
                        _to_array(path)

                jobs = [("ours", ours), ("theirs", reference), ("decode", decode), ("array", array)]
                best = dict.fromkeys(cost, 1 << 62)
                for r in range(rounds):  # each job `rounds` times, the order rotated; the fastest counts
                    for label, job in jobs[(k + r) % 4 :] + jobs[: (k + r) % 4]:
                        t = clock()
                        result = job()
                        best[label] = min(best[label], clock() - t)
                        if label == "theirs" and r == 0 and result != done:
                            mismatches += 1
                for label in cost:
                    cost[label] += best[label]
                turns += len(replies)
            out[f"{name}/{plan}"] = {
                "episodes": len(ids),
                "turns": turns,
                "ours_us_per_turn": round(cost["ours"] / turns / 1e3, 1),
                "theirs_us_per_turn": round(cost["theirs"] / turns / 1e3, 1),
                "decode_us_per_turn": round(cost["decode"] / turns / 1e3, 1),
                "array_us_per_turn": round(cost["array"] / turns / 1e3, 1),
                "ours_over_theirs": round(cost["ours"] / cost["theirs"], 3),
                "ours_over_decode": round(cost["ours"] / cost["decode"], 3),
                "theirs_over_decode": round(cost["theirs"] / cost["decode"], 3),
                "ours_over_array": round(cost["ours"] / cost["array"], 3),
                "theirs_over_array": round(cost["theirs"] / cost["array"], 3),
                "mismatched_episodes": mismatches,
            }
        env.close()
    rows = list(out.values())
    total = {key: sum(r[key] for r in rows) for key in ("episodes", "turns", "mismatched_episodes")}
    for key in (
        "ours_over_theirs",
        "ours_over_decode",
        "theirs_over_decode",
        "ours_over_array",
        "theirs_over_array",
    ):
        values = [r[key] for r in rows]
        total[f"{key}_mean"] = round(statistics.fmean(values), 3)
        total[f"{key}_range"] = [min(values), max(values)]
    out["all"] = total
    return out


def _fake_records(n: int) -> list[dict]:
    from proactive_gym.scenarios import SCENARIOS

    names = list(SCENARIOS)
    return [
        {"scenario": names[i % 7], "sample_id": i, "outcome": "correct" if i % 3 else "abstain", "turns": 2,
         "min_turns": 2, "steps": [], "index": i}
        for i in range(n)
    ]  # fmt: skip


def scale_checks(workdir: Path) -> dict[str, Any]:
    """make and summary at 1x and 10x: CPU time of making all seven envs in fresh processes (median of 3),
    and the summary's peak memory (tracemalloc)."""
    from proactive_gym.evaluation.metrics import summarize

    out: dict[str, Any] = {}
    make_s = {}
    for scale in (1, 10):
        root = workdir / f"x{scale}"
        root.mkdir(parents=True, exist_ok=True)
        write_manifest(root, scale)
        code = (
            "import time, gymnasium as gym, proactive_gym; t=time.process_time(); "
            f"envs = [gym.make(i, data_root={str(root)!r}, subset='all') for i in proactive_gym.ENV_IDS]; "
            "print(time.process_time()-t)"
        )
        make_s[scale] = statistics.median(float(_run(code)) for _ in range(3))
    out["make_all_seven_cpu_s"] = {"1x": round(make_s[1], 3), "10x": round(make_s[10], 3)}
    out["make_10x_over_1x"] = round(make_s[10] / make_s[1], 2)
    peak = {}
    for scale in (1, 10):
        records = _fake_records(sum(SIZES.values()) * scale)
        tracemalloc.start()
        summarize(records)
        peak[scale] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    out["summary_peak_mb"] = {"1x": round(peak[1], 1), "10x": round(peak[10], 1)}
    out["summary_10x_over_1x"] = round(peak[10] / peak[1], 2)
    return out


def _old_floor(path: str) -> None:
    """What this script called one decode before 2026-12-02: open, decode, convert to RGB, copy."""
    from PIL import Image

    with Image.open(path) as img:
        np.array(img.convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to write the manifest (default: a temp dir)"
    )
    parser.add_argument("--steps", type=int, default=2000, help="steps to time for the step median")
    parser.add_argument(
        "--episodes", type=int, default=100, help="side by side: episodes per scenario and plan"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="side by side: runs of each episode (fastest counts)"
    )
    parser.add_argument("--reference", default=None, help="path to a copy of proactivebench/environment.py")
    parser.add_argument("--no-scale", action="store_true", help="skip the 10x make and summary checks")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="pg-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root)

    imports = [
        float(_run("import time; t=time.perf_counter(); import proactive_gym; print(time.perf_counter()-t)"))
        for _ in range(5)
    ]
    mem_code = (
        "import gymnasium as gym, proactive_gym, resource\n"
        f"envs = [gym.make(i, data_root={str(root)!r}, subset='all') for i in proactive_gym.ENV_IDS]\n"
        "for e in envs: e.reset(seed=0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    memory_mb = float(_run(mem_code))

    import gymnasium as gym

    import proactive_gym
    from proactive_gym.data.released import read_entries
    from proactive_gym.scenarios import SCENARIOS

    passes = []  # CPU time (single-threaded work; other jobs on a shared machine distort wall time)
    for _ in range(5):
        t = time.process_time()
        for sc in SCENARIOS.values():
            read_entries(root / f"{sc.prefix}_preprocessed.jsonl", sc)
        passes.append(time.process_time() - t)
    makes = {}
    for sc in SCENARIOS.values():
        times = []
        for _ in range(5):
            t = time.process_time()
            gym.make(sc.env_id, data_root=str(root), subset="all").close()
            times.append(time.process_time() - t)
        makes[sc.name] = round(statistics.median(times), 3)

    envs = {i: gym.make(i, data_root=str(root), subset="all") for i in proactive_gym.ENV_IDS}
    t = time.process_time()
    images = sum(env.unwrapped.check_images() for env in envs.values())
    check_s = time.process_time() - t
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
    floors: dict[str, list[float]] = {"decode": [], "array": [], "convert_copy": []}
    for k in range(300):
        for label, floor in (("decode", _decode), ("array", _to_array), ("convert_copy", _old_floor)):
            t = time.perf_counter()
            floor(str(root / f"rod/s{k % FRAMES}.jpg"))
            floors[label].append(time.perf_counter() - t)
    step_ms = statistics.median(step_times) * 1e3
    floor_ms = {k: statistics.median(v) * 1e3 for k, v in floors.items()}
    result: dict[str, Any] = {
        "entries": sum(SIZES.values()),
        "import_s_median": round(statistics.median(imports), 3),
        "validation_pass_cpu_s_median": round(statistics.median(passes), 3),
        "make_cpu_s_median": makes,
        "check_images_cpu_s": round(check_s, 3),
        "check_images_distinct_images": images,
        "step_ms_median": round(step_ms, 3),
        "jpeg_decode_ms_median": round(floor_ms["decode"], 3),
        "jpeg_to_array_ms_median": round(floor_ms["array"], 3),
        "jpeg_convert_copy_ms_median": round(floor_ms["convert_copy"], 3),
        "step_over_decode": round(step_ms / floor_ms["decode"], 3),
        "step_over_array": round(step_ms / floor_ms["array"], 3),
        "seven_envs_max_rss_mb": round(memory_mb, 1),
    }
    ref = reference_module(args.reference)
    if ref is None:
        result["side_by_side"] = (
            "skipped: the authors' environment is not installed; pass --reference path/to/environment.py "
            "(pip download --no-deps proactivebench --python-version 3.12 --only-binary=:all:, unzip the wheel)"
        )
    else:
        result["side_by_side"] = side_by_side(root, ref, args.episodes, args.rounds)
    if not args.no_scale:
        result["scale"] = scale_checks(root / "scale")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

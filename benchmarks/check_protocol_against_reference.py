"""Differential check of the paper's other settings against the authors' code: in-context demonstrations
and the open-ended judge.

    python benchmarks/check_protocol_against_reference.py DATA_ROOT --package path/to/proactivebench

``--package`` is the folder of the authors' ``proactivebench`` package (``pip download --no-deps
proactivebench`` and unzip the wheel; on Python 3.11 its 3.12-only f-strings are rewritten on load, as in
check_against_reference.py). Nothing of theirs is part of this repository.

- In-context examples (ROD and MVP-N samples under DATA_ROOT, with and without hints): for each query,
  our demonstration is compared with the authors' ``get_icl_example(resize=True,
  reduce_icl_steps=True)`` of the same demonstration sample, turn by turn: image path, user text, reply
  and image size. The authors' ROD demo draws its move with ``random.choice``; ours is accepted when it
  equals their demo for one of the possible draws.
- Judge messages: for every open-ended sample, our judge's messages (the paper's prompt read from
  ``--package``) against their ``get_oeg_judge_messages``.
- Open-ended answer lists: ours against their ``get_open_ended_gen_answers`` (first call: the judge's
  prompt), and the number of flags their parser expects (second call: ChangeIt's list grows in place)
  against ours.
- Verdict parser: ``--strings`` random judge outputs (digits, commas, words, numbers, think tags)
  parsed by ours and by their ``parse_judge_prediction`` (given the text after ``</think>``, as their
  evaluation loop does by token id).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import types
from pathlib import Path

import gymnasium as gym
from PIL import Image

import proactive_gym  # noqa: F401
from proactive_gym.protocol import render_prompt

sys.path.insert(0, str(Path(__file__).parent))
from check_against_reference import load_reference  # noqa: E402

SHORT = {"ROD": "ROD", "VSOD": "VSOD", "MVP-N": "MVP-N", "ImageNet-C": "IN-C", "QuickDraw": "QD"}
SHORT.update({"ChangeIt": "CIT", "COCO": "COCO"})


def load_module(path: Path) -> types.ModuleType:
    module = types.ModuleType(path.stem)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def check_demos(ref: types.ModuleType, root: str, limit: int) -> tuple[int, int]:
    checked = bad = 0
    for name in ("ROD", "MVP-N"):
        for hint in (False, True):
            env = gym.make(
                f"ProactiveBench/{name}-v0", data_root=root, subset="all", icl_examples=1, hint=hint
            )
            base = env.unwrapped
            if len(base.sample_ids) < 2:
                continue
            cls = ref.get_environment(base.scenario.prefix)
            for sid in base.sample_ids[:limit]:
                obs, _ = env.reset(options={"sample_id": sid})
                demo = base._demos
                ours = [
                    (t["key"][0], t["dialogue"], t["reply"], (seen["image"].shape[1], seen["image"].shape[0]))
                    for t, seen in zip(demo, obs["history"], strict=True)
                ]
                entry = demo[0]["entry"]
                picks = [
                    i
                    for i, o in enumerate(entry["options"])
                    if "cannot" not in o.lower() and "do not" not in o.lower()
                ]
                candidates = []
                for pick in picks:
                    choice = ref.random.choice
                    ref.random.choice = lambda seq, _p=pick: _p
                    try:
                        steps = cls(entry=json.loads(json.dumps(entry)), data_dir=root).get_icl_example(
                            hint=hint, resize=True, reduce_icl_steps=True
                        )
                    finally:
                        ref.random.choice = choice
                    candidates.append(
                        [
                            (
                                os.path.relpath(st["image_path"], root),
                                render_prompt(st["prompt"], st["options"]),
                                st["generated_answer"],
                                st["transform"](Image.open(st["image_path"]).convert("RGB")).size,
                            )
                            for st in steps
                        ]
                    )
                checked += 1
                if ours not in candidates:
                    bad += 1
                    print(
                        f"demo mismatch: {name} query {sid} hint={hint}\n  ours   {ours}\n  theirs {candidates[0]}"
                    )
            env.close()
    return checked, bad


def check_answer_counts(ref: types.ModuleType, root: str) -> tuple[int, int]:
    """The number of flags their parser expects (their second call of get_open_ended_gen_answers, after
    the first one built the judge's prompt) against ours, for every open-ended sample."""
    checked = bad = 0
    for name in SHORT:
        try:
            env = gym.make(f"ProactiveBench/{name}-v0", data_root=root, subset="all", mode="open")
        except Exception:  # noqa: BLE001 - a scenario missing from the data root
            continue
        base = env.unwrapped
        cls = ref.get_environment(base.scenario.prefix)
        for sid in base.sample_ids:
            entry = base._original[sid]
            theirs = cls(entry=json.loads(json.dumps(entry)), data_dir=root)
            shown = theirs.get_open_ended_gen_answers()
            parsed = theirs.get_open_ended_gen_answers()
            expected = len([a for a in parsed.split(",") if a.strip() != ""])
            ours = base.scenario.judge_answer_count(base.scenario.open_answers(entry))
            checked += 1
            if ours != expected or base.scenario.open_answer_string(entry) != shown:
                bad += 1
                print(f"answer-count mismatch: {name} {sid}: ours {ours}, theirs {expected} ({shown!r})")
        env.close()
    return checked, bad


def check_judge(oeg: types.ModuleType, root: str, strings: int) -> tuple[int, int, int]:
    from proactive_gym.agents.judge import JudgePrompt, parse_judge_output, score_flags

    prompt = JudgePrompt(oeg.SYSTEM_PROMPT, oeg.USER_PROMPT, "paper", "reference")
    messages = bad_messages = 0
    for name in SHORT:
        try:
            env = gym.make(f"ProactiveBench/{name}-v0", data_root=root, subset="all", mode="open")
        except Exception as err:  # noqa: BLE001 - a scenario missing from the data root
            print(f"skip {name}: {err}")
            continue
        for sid in env.unwrapped.sample_ids:
            obs, info = env.reset(options={"sample_id": sid})
            entry = env.unwrapped._entry
            answer_string = env.unwrapped.scenario.open_answer_string(entry)
            item = {
                "prompt": obs["dialogue"],
                "acceptable_answers": info["acceptable_answers"],
                "reply": "Rewind.",
            }
            theirs = oeg.get_oeg_judge_messages(obs["dialogue"], answer_string, "Rewind.")
            ours = [{"content": m["content"], "role": m["role"]} for m in prompt.messages(item)]
            messages += 1
            bad_messages += ours != theirs
        env.close()
    rng = random.Random(0)
    alphabet = ["0", "1", ",", ", ", " ", "\n", "a", "x1", "10", "0.5", "</think>", "<think>", "Final:"]
    bad_parse = 0
    for _ in range(strings):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        n = rng.randint(1, 4)
        visible = raw.rsplit("</think>", 1)[1] if "</think>" in raw else raw
        theirs = oeg.parse_judge_prediction(", ".join(["A"] * n) + ".", visible, "ROD")
        score = score_flags(parse_judge_output(raw, n), 2)
        ours = {
            "proactive_suggestion": score["ps"],
            "category_prediction": score["cc"],
            "aggregate": score["agg"],
        }
        bad_parse += ours != theirs
    return messages, bad_messages, bad_parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root")
    parser.add_argument("--package", required=True, help="folder of the authors' proactivebench package")
    parser.add_argument("--limit", type=int, default=40, help="queries per scenario and hint setting")
    parser.add_argument("--strings", type=int, default=20000, help="random judge outputs to parse")
    args = parser.parse_args()
    package = Path(args.package)
    ref = load_reference(str(package / "environment.py"))
    oeg = load_module(package / "open_ended_gen.py")
    checked, bad = check_demos(ref, args.data_root, args.limit)
    messages, bad_messages, bad_parse = check_judge(oeg, args.data_root, args.strings)
    counts, bad_counts = check_answer_counts(ref, args.data_root)
    print(f"in-context demos compared: {checked}, mismatches: {bad}")
    print(f"open-ended answer lists and parser lengths compared: {counts}, mismatches: {bad_counts}")
    print(f"judge messages compared: {messages}, mismatches: {bad_messages}")
    print(f"judge outputs parsed: {args.strings}, disagreements: {bad_parse}")


if __name__ == "__main__":
    main()

"""Differential check: run the authors' evaluation environment and ours side by side on the same data.

    python benchmarks/check_against_reference.py DATA_ROOT [--trials 30] [--hint] [--reference FILE]

For every sample of every scenario found under DATA_ROOT (released format), plays ``--trials`` reply
sequences (the oracle's reply, random letters, option texts with and without letters, junk) through both
environments and compares, turn by turn, the user text, the image path, COCO's crop box, the turn count,
the end of the episode and its success; prints acc / psr per scenario for both and the number of
mismatches. The authors' code comes from the ``proactivebench`` package (``proactivebench.environment``,
which imports no torch) or from ``--reference path/to/environment.py`` (a copy of that file; on Python 3.11
its 3.12-only f-strings are rewritten on load). Nothing of theirs is part of this repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import types
from pathlib import Path

import gymnasium as gym

import proactive_gym  # noqa: F401
from proactive_gym.data.released import read_jsonl
from proactive_gym.scenarios import SCENARIOS


def load_reference(path: str | None) -> types.ModuleType:
    if path is None:
        if importlib.util.find_spec("proactivebench") is None:
            sys.exit("install proactivebench (Python >= 3.12) or pass --reference path/to/environment.py")
        import proactivebench.environment as ref  # type: ignore[import-not-found]

        return ref
    source = Path(path).read_text()
    for var in ("step_0", "step_1", "step"):  # PEP 701 nested quotes -> Python 3.11 syntax
        source = source.replace(
            f'inspect.getsource({var}["transform"])', f"inspect.getsource({var}['transform'])"
        )
    module = types.ModuleType("reference_environment")
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def mcqa_text(question: str, options: list[str]) -> str:
    lines = "".join(f"{chr(65 + i)}. {o}\n" for i, o in enumerate(options))
    return f"{question} Choose from the following options. Options:\n{lines}Please only return one of the options without any other words."


class BoxRecorder:
    def crop(self, box):
        return [float(x) for x in box]


def pick_reply(rng: random.Random, info: dict) -> str:
    shown, k = info["options"], rng.random()
    if k < 0.55:
        return info["oracle"]
    if k < 0.7:
        return chr(65 + rng.randrange(len(shown) + 1))
    if k < 0.8:
        return rng.choice(shown)
    if k < 0.88:
        return f"{chr(65 + rng.randrange(len(shown)))}. {rng.choice(shown)}"
    if k < 0.93:
        return rng.choice(["", "I think", "The answer is B", "b)", " c ", "zzz. Vase.", "X."])
    return rng.choice(shown).rstrip(".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--hint", action="store_true")
    parser.add_argument("--reference", default=None, help="path to a copy of proactivebench/environment.py")
    args = parser.parse_args()
    ref_mod = load_reference(args.reference)
    root = str(Path(args.data_root).expanduser())
    states = mismatches = reference_crashes = 0
    table = {}
    for name, sc in SCENARIOS.items():
        path = Path(root) / f"{sc.prefix}_preprocessed.jsonl"
        if not path.exists():
            continue
        env = gym.make(sc.env_id, data_root=root, subset="all", hint=args.hint).unwrapped
        reference_class = ref_mod.get_environment(sc.prefix)
        n, acc, psr = 0, [0, 0], [0, 0]
        for entry in read_jsonl(path, sc):
            if name == "VSOD" and not entry["strong_occlusions"]:
                continue
            for trial in range(args.trials):
                rng = random.Random(f"{name}/{entry['id']}/{trial}")
                ref = reference_class(entry=entry, data_dir=root)
                obs, info = env.reset(options={"sample_id": entry["id"]})
                while True:
                    state = ref.get_state(hint=args.hint)
                    states += 1
                    same = mcqa_text(state["prompt"], state["options"]) == obs["dialogue"]
                    same &= str(Path(state["image_path"]).relative_to(root)) == info["image_path"]
                    if name == "COCO":
                        same &= state["transform"](BoxRecorder()) == info["frame"]
                    if not same:
                        mismatches += 1
                        print("state mismatch:", name, entry["id"], trial)
                        break
                    reply = pick_reply(rng, info)
                    try:
                        ref.evaluate_generated_answer(reply)
                    except AssertionError:  # e.g. ChangeIt "wait" shown where the video cannot go on
                        reference_crashes += 1
                        break
                    obs, _, terminated, truncated, info = env.step(reply)
                    if (ref.stop, ref.correct_prediction, ref.num_turns) != (
                        terminated or truncated,
                        info["solved"],
                        info["turn"],
                    ):
                        mismatches += 1
                        print("step mismatch:", name, entry["id"], trial, repr(reply), info["outcome"])
                        break
                    if ref.stop:
                        n += 1
                        acc[0] += ref.correct_prediction
                        acc[1] += info["solved"]
                        psr[0] += ref.num_turns - 1
                        psr[1] += info["turn"] - 1
                        break
        table[name] = {
            "episodes": n,
            "acc_reference": round(100 * acc[0] / max(n, 1), 2),
            "acc_ours": round(100 * acc[1] / max(n, 1), 2),
            "psr_reference": round(psr[0] / max(n, 1), 3),
            "psr_ours": round(psr[1] / max(n, 1), 3),
        }
    print(json.dumps(table, indent=1))
    print(
        f"states compared: {states}, mismatches: {mismatches}, reference crashes skipped: {reference_crashes}"
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""What the CPU demo's recognizer line allows: the figures behind training/README.md's recognizer section.

    python benchmarks/recognizer_ceiling.py                      # thresholds 0,5,6,7,8,9,10, seed 0
    python benchmarks/recognizer_ceiling.py --thresholds 8,9 --reward-suggestion 0.8

1. The scripted policy on the line (``RecognizerPolicy``: answer when the confidence digit is at least the
   threshold, else make the shown suggestion; 10 = always ask) on the synthetic test split, 100 episodes
   per scenario, held-out mean over the five scenarios the demo does not train on.
2. On the preset's GRPO training rows (QuickDraw + COCO), per scenario and confidence digit: how many
   rows, how often answering the line's letter is correct, and how often its suggestion is useful (the env's
   own scorer): where answering pays more than asking for a given r_p.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from proactive_gym.evaluation import evaluate
from proactive_gym.training.args import parse_args
from proactive_gym.training.recognizer import Recognizer, RecognizerPolicy, train_root
from proactive_gym.training.rewards import EnvReward
from proactive_gym.training.rows import env_kwargs
from proactive_gym.training.run import training_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--thresholds", default="0,5,6,7,8,9,10")
    parser.add_argument("--reward-suggestion", default="1.0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/recognizer-ceiling")
    opts = parser.parse_args()
    args = parse_args(
        ["--preset", "cpu-demo-recognizer", "--seed", str(opts.seed), "--reward-suggestion", opts.reward_suggestion]
    )
    recognizer = Recognizer.for_train_root(train_root(args))
    held = args.eval_scenarios()
    print("| threshold | " + " | ".join(held) + " | held-out mean |\n|---|" + "---|" * (len(held) + 1))
    for threshold in [int(t) for t in opts.thresholds.split(",")]:
        result = evaluate(
            RecognizerPolicy(recognizer, threshold),
            envs=held,
            out=f"{opts.out}/threshold{threshold}",
            env_kwargs=env_kwargs(args, args.eval_split),
            seed=args.seed,
            max_episodes=args.eval_max_episodes,
            force=True,
        )
        accs = [float(result.acc[s]) for s in held]
        print(f"| {threshold} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {sum(accs) / len(accs):.1f} |")

    reward = EnvReward(env_kwargs(args, args.train_split))
    counts: Counter = Counter()
    for row in training_rows(args):
        hint, replies = json.loads(row["hint"]), json.loads(row["replies"])
        key = (row["scenario"], hint["confidence"])
        _, answered = reward.score(row["scenario"], row["sample_id"], replies, f"{hint['answer']}.")
        _, asked = reward.score(row["scenario"], row["sample_id"], replies, f"{hint['suggestion']}.")
        counts[key + ("rows",)] += 1
        counts[key + ("correct",)] += answered == "correct"
        counts[key + ("useful",)] += asked == "useful_suggestion"
    print("\n| scenario | confidence | rows | answer correct | suggestion useful |\n|---|---|---|---|---|")
    for scenario, digit in sorted({k[:2] for k in counts}):
        n = counts[(scenario, digit, "rows")]
        print(
            f"| {scenario} | {digit} | {n} | {counts[(scenario, digit, 'correct')]} "
            f"| {counts[(scenario, digit, 'useful')]} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

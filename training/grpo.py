#!/usr/bin/env python
r"""GRPO that teaches a vision-language model to be proactive, with the ProactiveBench envs as the reward.

Launch commands (run from the repository root):

    # The paper's recipe on one GPU: Qwen2.5-VL-3B, r_p = 0.75, trained on QuickDraw + COCO,
    # evaluated before and after on the five other scenarios (held out) and on the two training ones.
    python training/grpo.py --model Qwen/Qwen2.5-VL-3B-Instruct --train-envs QuickDraw,COCO \
        --eval-envs ROD,VSOD,MVP-N,ImageNet-C,ChangeIt --reward-suggestion 0.75 --out runs/grpo-qwen3b

    # Several GPUs with DeepSpeed ZeRO-3 (the paper's setting; the same flags as above).
    accelerate launch --config_file training/configs/zero3.yaml training/grpo.py \
        --model Qwen/Qwen2.5-VL-3B-Instruct --reward-suggestion 0.75 --out runs/grpo-qwen3b

    # Multi-turn recipe for tool-calling VLMs (Qwen3-VL ...): tools = interventions, answer, abstain.
    python training/grpo.py --recipe multi-turn --model Qwen/Qwen3-VL-2B-Instruct --out runs/grpo-mt

    # The paper's recipe on the authors' train parquet (tdemin16/ProactiveBench, split train, downloaded).
    python training/grpo.py --model Qwen/Qwen2.5-VL-3B-Instruct --data parquet \
        --train-data /path/to/ProactiveBench/data --reward-suggestion 0.75 --out runs/grpo-qwen3b

    # A tiny VLM built offline, synthetic data, a laptop CPU, under 15 minutes.
    python training/grpo.py --preset cpu-demo

How it works, in the order ``proactive_gym.training.run.run()`` runs it (the code is the package
``proactive_gym.training``, one job per module):

1. Check the arguments (scenario names, extras, the model's architecture, tool calling for multi-turn)
   before anything heavy loads.
2. Training rows = env states of the training scenarios: for every sampled episode, the states after the
   first k useful suggestions for a few k, so prompts mix ambiguous first frames and clear last frames.
   Each row carries the prompt exactly as the env renders it (``proactive_gym.protocol.to_messages``)
   plus what is needed to rebuild that state: scenario, sample_id, the replies so far (JSON), seed.
   With ``--data parquet`` the rows come from the authors' train parquet instead (``--train-data``,
   ``proactive_gym/training/parquet.py``) and the reward scores a reply against the row's own ground truth and
   proactive actions with the env's parser; the evaluation still runs on envs.
3. The reward replays every sampled reply through the env's own scorer: what
   ``env.reset(options={"sample_id": i, "replies": prefix})`` then ``env.step(reply)`` give, without
   decoding the frames (``ProactiveEnv.score``), returns the reward
   (1 correct category, ``--reward-suggestion`` for a useful suggestion, 0 otherwise), so training and
   evaluation can never disagree on what "correct" means.
4. (Optional, the CPU demo uses them) supervised stages that give a random tiny model what a pretrained
   VLM brings: vision pretraining and a knowledge phase on the clear reference frames of the train splits
   (recognition), and a format warm-up on the training scenarios' states (never the evaluation ones) with
   targets drawn uniformly among the shown options (plus an optional share of the oracle's reply): the
   model then emits parsable replies but knows nothing about which reply the env rewards, so GRPO still
   has everything to learn.
5. Evaluation with the project's harness (``hf:`` agent) before and after training on ``--eval-envs``
   (held out) and on the training scenarios' test split (in domain); one before/after table is written
   next to the LoRA adapter and the full config.
"""

import sys

from proactive_gym.training.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], description=__doc__))

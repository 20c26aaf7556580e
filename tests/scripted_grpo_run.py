"""``training/grpo.py`` with scripted rollouts, for the multi-process tests (run under ``torchrun``).

The sampler of every rank's trainer is replaced by a fixed policy (``training_helpers.script_sampler``):
completion ``i`` of a batch is ``SCRIPT[i % 4]``, a pure function of its place in its group, so one process
and several processes at the same global batch see the same completions and rewards. Everything else (the
rows, the env rewards, the loss, the LoRA update, the evaluation before and after) is the real run.
"""

from __future__ import annotations

import sys

from training_helpers import script_sampler  # run as a script, so tests/ is on the path

from proactive_gym.training import run as training_run

SCRIPT = ("D. Cat.", "Add more details.", "I cannot tell.", "zzz")


def scripted_trainer(*args, **kwargs):
    trainer = real_make_trainer(*args, **kwargs)
    script_sampler(trainer, lambda i, _: SCRIPT[i % len(SCRIPT)] + "<|im_end|>")
    return trainer


real_make_trainer = training_run.make_trainer
training_run.make_trainer = scripted_trainer

if __name__ == "__main__":
    sys.exit(training_run.main(sys.argv[1:]))

"""GRPO training of vision-language models with the ProactiveBench envs as the reward.

``training/grpo.py`` is the launch script (its docstring gives the launch commands); this package is the
code, one job per module, every heavy library (torch, transformers, trl, peft, datasets) imported inside
the functions that need it, so that bad input is refused before any of them loads:

- :mod:`~proactive_gym.training.args`: :class:`Args` (every flag), the presets, the parser;
- :mod:`~proactive_gym.training.checks`: the input checks (:class:`UsageError`), the global batch;
- :mod:`~proactive_gym.training.distributed`: rank, world size, barriers (who builds and writes what);
- :mod:`~proactive_gym.training.rows`: env plumbing and the training rows;
- :mod:`~proactive_gym.training.parquet`: training rows from the authors' train parquet;
- :mod:`~proactive_gym.training.rewards`: the reward functions;
- :mod:`~proactive_gym.training.episodes`: the tool-calling episode of the multi-turn recipe;
- :mod:`~proactive_gym.training.warmup`: the supervised stages (vision pretraining, knowledge, format);
- :mod:`~proactive_gym.training.trainer`: TRL's config and trainer;
- :mod:`~proactive_gym.training.compare`: the before/after evaluation and its table;
- :mod:`~proactive_gym.training.run`: the whole run (rank-aware) and :func:`main`.
"""

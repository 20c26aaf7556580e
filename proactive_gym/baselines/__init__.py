"""Baselines that need no model download: the perception baseline for the synthetic scenarios
(:mod:`proactive_gym.baselines.perception`, agent spec ``perception``)."""

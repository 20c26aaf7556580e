"""Evaluation harness: rollouts, the rollout engine, metrics, resumable results, tables and reports.

>>> from proactive_gym.evaluation import evaluate
>>> summary = evaluate("oracle", envs="ROD,COCO", max_episodes=5)   # doctest: +SKIP
>>> summary.acc                                                       # doctest: +SKIP
{'ROD': 100.0, 'COCO': 100.0, 'avg': 100.0}
"""

from proactive_gym.evaluation.metrics import scenario_metrics, summarize
from proactive_gym.evaluation.results import RunDir, RunDirError
from proactive_gym.evaluation.rollout import Episode, Task, rollout, run_batched, run_episodes
from proactive_gym.evaluation.runner import Progress, Summary, evaluate, resolve_envs

__all__ = [
    "evaluate",
    "rollout",
    "run_episodes",
    "run_batched",
    "Summary",
    "Progress",
    "RunDir",
    "RunDirError",
    "Episode",
    "Task",
    "summarize",
    "scenario_metrics",
    "resolve_envs",
]

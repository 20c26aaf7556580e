"""proactive_gym: the ProactiveBench scenarios as Gymnasium environments.

Importing the package registers ``ProactiveBench/<Name>-v0`` for the seven scenarios:

>>> import gymnasium as gym, proactive_gym
>>> sorted(k for k in gym.registry if k.startswith("ProactiveBench/"))[:2]
['ProactiveBench/COCO-v0', 'ProactiveBench/ChangeIt-v0']
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from proactive_gym.config import OUTCOMES, EnvConfig, RewardConfig
from proactive_gym.env import ProactiveEnv
from proactive_gym.scenarios import SCENARIOS, get_scenario, parse_scenarios

__version__ = "0.1.0"

ENV_IDS = [scenario.env_id for scenario in SCENARIOS.values()]

for _name, _scenario in SCENARIOS.items():
    if _scenario.env_id not in registry:
        register(
            id=_scenario.env_id,
            entry_point="proactive_gym.env:ProactiveEnv",
            kwargs={"scenario": _name},
            disable_env_checker=True,
        )

__all__ = [
    "ENV_IDS",
    "OUTCOMES",
    "SCENARIOS",
    "EnvConfig",
    "ProactiveEnv",
    "RewardConfig",
    "__version__",
    "get_scenario",
    "parse_scenarios",
]

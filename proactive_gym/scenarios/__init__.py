"""The seven ProactiveBench scenarios, in the paper's order.

>>> list(SCENARIOS)
['ROD', 'VSOD', 'MVP-N', 'ImageNet-C', 'QuickDraw', 'ChangeIt', 'COCO']
>>> get_scenario("coco2014").name
'COCO'
"""

from __future__ import annotations

from proactive_gym.scenarios.base import Scenario
from proactive_gym.scenarios.changeit import ChangeIt
from proactive_gym.scenarios.coco import COCO
from proactive_gym.scenarios.imagenet_c import ImageNetC
from proactive_gym.scenarios.mvpn import MVPN
from proactive_gym.scenarios.quickdraw import QuickDraw
from proactive_gym.scenarios.rod import ROD
from proactive_gym.scenarios.vsod import VSOD

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (ROD(), VSOD(), MVPN(), ImageNetC(), QuickDraw(), ChangeIt(), COCO())
}


def get_scenario(name: str) -> Scenario:
    """Look a scenario up by short name, released file prefix or env id (case-insensitive)."""
    key = name.strip().lower()
    for scenario in SCENARIOS.values():
        if key in (scenario.name.lower(), scenario.prefix.lower(), scenario.env_id.lower()):
            return scenario
    valid = ", ".join(SCENARIOS)
    raise ValueError(f"unknown scenario {name!r}; valid names: {valid} (or 'all')")


def parse_scenarios(spec: str) -> list[str]:
    """Turn ``"all"`` or a comma-separated list into short names, in the order given."""
    if spec.strip().lower() == "all":
        return list(SCENARIOS)
    return [get_scenario(part).name for part in spec.split(",") if part.strip()]


__all__ = ["SCENARIOS", "Scenario", "get_scenario", "parse_scenarios"]

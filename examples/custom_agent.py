"""Write your own agent: subclass Agent, implement act() on a batch, then roll it out and evaluate it.

    python examples/custom_agent.py

The agent below asks for exactly one intervention (the first proactive option that is not the abstain
one), then answers the first category. It sees only what a model would see: the observation and the
public parts of info (the options). It never reads info["oracle"].
"""

from __future__ import annotations

import gymnasium as gym

import proactive_gym  # noqa: F401  (registers the envs)
from proactive_gym.agents.base import Agent
from proactive_gym.evaluation import evaluate, rollout
from proactive_gym.protocol import is_abstain, letter


class AskOnceAgent(Agent):
    """Suggest at turn 0, answer the first category afterwards."""

    name = "ask-once"

    def act(self, observations: list[dict], infos: list[dict]) -> list[str]:
        replies = []
        for info in infos:
            options = info["options"]
            proactive = [o for o in options[:-4] if not is_abstain(o)]
            choice = proactive[0] if info["turn"] == 0 and proactive else options[-4]
            replies.append(f"{letter(options.index(choice))}. {choice}")
        return replies


def main() -> None:
    agent = AskOnceAgent()

    # One episode, turn by turn.
    env = gym.make("ProactiveBench/ROD-v0", data="synthetic")
    record = rollout(env, agent, sample_id=env.unwrapped.sample_ids[0])
    for step in record["steps"]:
        print(f"turn {step['turn']}: frame {step['frame']}, reply {step['reply']!r} -> {step['outcome']}")
    env.close()

    # Every scenario, batched (8 episodes per act() call), without writing files.
    summary = evaluate(agent, envs="all", env_kwargs={"data": "synthetic"}, batch_size=8)
    for name, acc in summary.acc.items():
        print(f"{name:11s} acc {acc:5.1f}  psr {summary.psr[name]:.2f}")


if __name__ == "__main__":
    main()

"""Evaluation before and after training with the project's harness, and the before/after table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proactive_gym.training.args import SCENARIO_ORDER, Args
from proactive_gym.training.rows import env_kwargs


def evaluate_model(
    args: Args, model_path: str, adapter: str | None, scenarios: list[str], out_dir: Path
) -> dict[str, dict[str, float]]:
    """acc and psr per scenario of ``model_path`` (+ ``adapter``) with the project's harness."""
    from proactive_gym.agents import make_agent

    options: dict[str, Any] = {"max_new_tokens": args.eval_max_new_tokens, "batch_size": args.eval_batch_size}
    if adapter:
        options["adapter"] = adapter
    agent: Any = f"hf:{model_path}"
    if args.recognizer:  # the same prompt line as the training rows
        from proactive_gym.training.recognizer import HintedAgent, Recognizer, train_root

        agent = HintedAgent(make_agent(agent, **options), Recognizer.for_train_root(train_root(args)))
    try:
        summary = run_evaluation(args, agent, scenarios, out_dir, options)
    finally:
        if not isinstance(agent, str):
            agent.close()
    return {s: {"acc": float(summary.acc[s]), "psr": float(summary.psr[s])} for s in scenarios}


def run_evaluation(args: Args, agent: Any, scenarios: list[str], out_dir: Path, options: dict[str, Any]) -> Any:
    """The harness run of :func:`evaluate_model` (``agent``: a spec or an Agent)."""
    from proactive_gym.evaluation import evaluate

    return evaluate(
        agent,
        envs=scenarios,
        out=str(out_dir),
        batch_size=args.eval_batch_size,
        env_kwargs=env_kwargs(args, args.eval_split),
        seed=args.seed,
        max_episodes=args.eval_max_episodes,
        agent_options=options if isinstance(agent, str) else None,
        force=True,
    )


def read_episodes(run: Path) -> list[dict[str, Any]]:
    """The episode records of a harness run directory (its ``episodes.jsonl``)."""
    with open(run / "episodes.jsonl") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def split_mean(metrics: dict[str, dict[str, float]], names: list[str], key: str) -> float:
    """Mean of ``metrics[s][key]`` over the scenarios ``names`` (the mean rows of the before/after table)."""
    return sum(metrics[s][key] for s in names) / len(names)


def changed_episodes(changes: dict[str, dict[str, int]], names: list[str], key: str) -> int:
    """Episodes ``gained`` or ``lost`` (``key``) summed over ``names``, from :func:`paired_changes`."""
    return sum(changes.get(s, {}).get(key, 0) for s in names)


def paired_changes(before_dir: Path, after_dir: Path) -> dict[str, dict[str, int]]:
    """Per scenario, the episodes that changed between the two evaluations (the same episodes, same seeds):
    ``gained`` = correct after but not before, ``lost`` = correct before but not after. Read from the
    harness's ``episodes.jsonl`` files; a paired count says more than two accs on a few dozen episodes."""

    def correct(run: Path) -> dict[tuple[str, int], bool]:
        return {(r["scenario"], r["sample_id"]): r["outcome"] == "correct" for r in read_episodes(run)}

    before, after = correct(before_dir), correct(after_dir)
    changes: dict[str, dict[str, int]] = {}
    for (scenario, sample_id), was in sorted(before.items()):
        now = after.get((scenario, sample_id))
        entry = changes.setdefault(scenario, {"gained": 0, "lost": 0})
        if now is not None and now != was:
            entry["gained" if now else "lost"] += 1
    return changes


def before_after_table(
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
    in_domain: list[str],
    changes: dict[str, dict[str, int]] | None = None,
) -> str:
    """Markdown table: acc and psr per scenario before and after, in-domain vs held-out marked; with
    ``changes`` (:func:`paired_changes`) also the episodes gained and lost (summed in the mean rows)."""
    paired = changes is not None
    lines = [
        "| scenario | split | acc before | acc after | psr before | psr after |"
        + (" episodes gained | episodes lost |" if paired else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if paired else ""),
    ]

    def counts(names: list[str]) -> str:
        if changes is None:
            return ""
        return f" {changed_episodes(changes, names, 'gained')} | {changed_episodes(changes, names, 'lost')} |"

    groups: dict[str, list[str]] = {"in-domain": [], "held-out": []}
    for scenario in [s for s in SCENARIO_ORDER if s in before]:
        kind = "in-domain" if scenario in in_domain else "held-out"
        groups[kind].append(scenario)
        b, a = before[scenario], after[scenario]
        lines.append(
            f"| {scenario} | {kind} | {b['acc']:.1f} | {a['acc']:.1f} | {b['psr']:.2f} | {a['psr']:.2f} |"
            + counts([scenario])
        )
    for kind, names in groups.items():
        if names:
            b_acc, a_acc = split_mean(before, names, "acc"), split_mean(after, names, "acc")
            b_psr, a_psr = split_mean(before, names, "psr"), split_mean(after, names, "psr")
            lines.append(
                f"| mean | {kind} | {b_acc:.1f} | {a_acc:.1f} | {b_psr:.2f} | {a_psr:.2f} |" + counts(names)
            )
    return "\n".join(lines) + "\n"

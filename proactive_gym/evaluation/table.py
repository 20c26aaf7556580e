"""The paper's Table 1 layout: one row per run, scenarios as columns, ``acc / psr`` per cell, avg last.

Open-mode runs show ``ps / cc / agg`` per cell. :func:`rich_table` renders for the terminal (rich is
imported only there), :func:`markdown_table` for reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proactive_gym.evaluation.metrics import fmt


def _columns(summaries: Sequence[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for s in summaries:
        for name in s["envs"]:
            if name not in cols:
                cols.append(name)
    from proactive_gym.scenarios import SCENARIOS

    order = list(SCENARIOS)
    return sorted(cols, key=lambda c: order.index(c) if c in order else len(order))


def cell(metrics: dict[str, Any] | None, mode: str) -> str:
    """One table cell: ``"acc / psr"`` (mcqa) or ``"ps / cc / agg"`` (open), ``-`` when missing."""
    if not metrics or not metrics.get("n"):
        return "-"
    if mode == "open":
        return " / ".join(fmt(metrics.get(k)) for k in ("ps", "cc", "agg"))
    return f"{fmt(metrics.get('acc'))} / {fmt(metrics.get('psr'))}"


def table_rows(
    summaries: Sequence[dict[str, Any]], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Table 1 layout for several run summaries (plain strings)."""
    cols = _columns(summaries)
    header = ["run", *cols, "avg"]
    rows = []
    for i, s in enumerate(summaries):
        label = labels[i] if labels else s["agent"]["spec"]
        per = s["metrics"]["scenarios"]
        rows.append(
            [label, *(cell(per.get(c), s["mode"]) for c in cols), cell(s["metrics"]["avg"], s["mode"])]
        )
    return header, rows


def metric_names(summaries: Sequence[dict[str, Any]]) -> str:
    """What the cells hold, for the table caption."""
    if summaries and all(s["mode"] == "open" for s in summaries):
        return "ps / cc / agg (%), open-ended, judged"
    return "acc (%) / psr (interventions per episode)"


def markdown_table(summaries: Sequence[dict[str, Any]], labels: Sequence[str] | None = None) -> str:
    """The Table 1 layout as a Markdown table."""
    header, rows = table_rows(summaries, labels)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + [":-:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def rich_table(summaries: Sequence[dict[str, Any]], labels: Sequence[str] | None = None) -> Any:
    """The Table 1 layout as a ``rich.table.Table``: per run one row per metric (acc and psr; open mode
    ps, cc and agg), scenarios as columns, avg last, and an error count when any run has errors."""
    from rich import box
    from rich.table import Table

    cols = _columns(summaries)
    table = Table(
        title=f"ProactiveBench: {metric_names(summaries)}",
        title_style="bold",
        header_style="bold cyan",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("run")
    table.add_column("")
    for name in cols:
        table.add_column(name, justify="right")
    table.add_column("avg", justify="right", style="bold")
    errors = [int(s["metrics"]["avg"].get("errors", 0)) for s in summaries]
    if any(errors):
        table.add_column("errors", justify="right", style="red")
    for i, s in enumerate(summaries):
        label = labels[i] if labels else s["agent"]["spec"]
        keys = [("ps", 1), ("cc", 1), ("agg", 1)] if s["mode"] == "open" else [("acc", 1), ("psr", 2)]
        per = s["metrics"]["scenarios"]
        for j, (key, digits) in enumerate(keys):
            values = [
                fmt((per.get(c) or {}).get(key), digits) if (per.get(c) or {}).get("n") else "-" for c in cols
            ]
            extra = [str(errors[i]) if j == 0 else ""] if any(errors) else []
            table.add_row(
                label if j == 0 else "",
                key,
                *values,
                fmt(s["metrics"]["avg"].get(key), digits),
                *extra,
                end_section=j == len(keys) - 1,
            )
    return table


def details_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The extra metrics of one run, one row per scenario plus avg (open mode: the judge's rates)."""
    items = [*summary["metrics"]["scenarios"].items(), ("avg", summary["metrics"]["avg"])]
    if summary.get("mode") == "open":
        header = ["scenario", "n", "ps %", "cc %", "agg %", "err"]
        rows = [
            [
                name,
                str(m.get("n", 0)),
                fmt(m.get("ps")),
                fmt(m.get("cc")),
                fmt(m.get("agg")),
                str(m.get("errors", 0)),
            ]
            for name, m in items
        ]
        return header, rows
    header = [
        "scenario",
        "n",
        "acc",
        "95% CI",
        "psr",
        "abst%",
        "unpars%",
        "useless%",
        "maxst%",
        "turns",
        "min",
        "err",
    ]
    rows = []
    for name, m in items:
        ci = m.get("acc_ci")
        rows.append(
            [
                name,
                str(m.get("n", 0)),
                fmt(m.get("acc")),
                f"{fmt(ci[0])}-{fmt(ci[1])}" if ci else "-",
                fmt(m.get("psr"), 2),
                fmt(m.get("abstain_rate")),
                fmt(m.get("unparsable_rate")),
                fmt(m.get("useless_suggestion_rate")),
                fmt(m.get("max_steps_rate")),
                fmt(m.get("mean_turns"), 2),
                fmt(m.get("mean_min_turns"), 2),
                str(m.get("errors", 0)),
            ]
        )
    return header, rows


def rich_details(summary: dict[str, Any]) -> Any:
    """The extra metrics of one run as a rich table."""
    from rich import box
    from rich.table import Table

    header, rows = details_rows(summary)
    table = Table(
        title="details"
        if summary.get("mode") == "open"
        else "details (maxst: all turns used, unsolved, the paper's max-steps; turns: mean replies; "
        "min: the oracle's)",
        header_style="cyan",
        title_style="dim",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table

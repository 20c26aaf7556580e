"""``proactive-gym report``: Markdown, plots and one self-contained HTML file for one or more runs.

- ``report.md``: the Table 1 layout (runs as rows), the detailed metrics of each run, provenance;
- ``acc_per_scenario.png``: acc per scenario (and avg) with 95% bootstrap CIs, runs side by side;
- ``outcomes_per_turn.png``: how the replies at each turn ended, one panel per run;
- ``report.html``: everything above plus an episode browser. Each episode is one row (runs side by side);
  opening it shows every turn: the image the agent saw, the prompt, the reply and what it did. Images are
  re-rendered from the env (``reset(options={"sample_id": id, "replies": replies[:k]})``), embedded as
  base64 JPEG thumbnails, at most ``images_per_scenario`` episodes per scenario and run and ``max_images``
  in all, so the file stays small; the budget is shared fairly between the runs (see :func:`plan_images`)
  and the page says how many episodes of each run have images; the others show their text only.
  Open-mode episodes scored by a judge show what the judge found (``judged: suggestion`` ...).

Any string a run holds (a reply, a path, a label) is safe in every file: the HTML embeds the episode data
as JSON with ``<``, ``>``, ``&``, U+2028/U+2029 and lone surrogates escaped (no reply can end the data
block or open a comment in it); the text files write a lone surrogate as its backslash escape. Every
file is written to a temporary name and renamed, so a failure never leaves a truncated report.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proactive_gym.config import OUTCOMES
from proactive_gym.evaluation.metrics import fmt, outcomes_per_turn
from proactive_gym.evaluation.results import RunDir, RunDirError
from proactive_gym.evaluation.table import details_rows, markdown_table, metric_names, table_rows

log = logging.getLogger(__name__)

THUMB_SIZE = 192
JPEG_QUALITY = 70
OUTCOME_COLORS = {
    "correct": "#2e7d32",
    "useful_suggestion": "#1565c0",
    "wrong_answer": "#c62828",
    "abstain": "#6d4c41",
    "useless_suggestion": "#ef6c00",
    "unparsable": "#7b1fa2",
    "out_of_turns": "#546e7a",
    "unjudged": "#9e9e9e",
    "judged: category": "#2e7d32",
    "judged: suggestion": "#1565c0",
    "judged: suggestion + category": "#00838f",
    "judged: neither": "#c62828",
    "error": "#000000",
}


def judged_outcome(judge: dict[str, Any] | None) -> str | None:
    """What an open-mode judge found, as a badge label; None when the episode was not judged."""
    if not judge or judge.get("agg") is None:
        return None
    if judge.get("ps") and judge.get("cc"):
        return "judged: suggestion + category"
    if judge.get("ps"):
        return "judged: suggestion"
    return "judged: category" if judge.get("cc") else "judged: neither"


def _judged_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with each judged episode's "unjudged" outcomes replaced by the judge's verdict."""
    out = []
    for r in records:
        verdict = judged_outcome(r.get("judge"))
        if verdict is None:
            out.append(r)
            continue
        steps = [
            {**s, "outcome": verdict} if s.get("outcome") == "unjudged" else s for s in r.get("steps", [])
        ]
        out.append(
            {**r, "outcome": verdict if r.get("outcome") == "unjudged" else r.get("outcome"), "steps": steps}
        )
    return out


@dataclass
class Run:
    """One run loaded for reporting."""

    path: Path
    label: str
    config: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)


def load_run(path: str | os.PathLike[str], label: str | None = None) -> Run:
    """Load a run directory; a run without ``summary.json`` (still going, or killed) is summarised from
    its episodes so far."""
    from proactive_gym.evaluation.runner import build_summary

    run_dir = RunDir(path)
    config = run_dir.read_config()
    if config is None:
        raise RunDirError(f"{run_dir.path} has no config.json: is it a proactive-gym run directory?")
    records = run_dir.records()
    names = list(config["envs"])
    records.sort(
        key=lambda r: (names.index(r["scenario"]) if r["scenario"] in names else 99, r.get("index", 0))
    )
    summary = run_dir.read_summary()
    if summary is None:
        log.warning(
            "%s has no summary.json (unfinished run): summarising its %d episodes", path, len(records)
        )
        planned = {n: sum(1 for r in records if r["scenario"] == n) for n in names}
        summary = build_summary(records, config, {"name": config["agent"]}, None, planned, {}).data
        summary["complete"] = False
    return Run(Path(path), label or Path(path).name, config, summary, records)


def _printable(text: str) -> str:
    """``text`` with lone surrogates (e.g. undecodable bytes in a path) as backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _labels(paths: Sequence[Path]) -> list[str]:
    names = [_printable(p.resolve().name) for p in paths]
    if len(set(names)) == len(names):
        return names
    return [_printable(str(p)) for p in paths]


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8; a lone surrogate as its backslash escape) to a temporary name beside
    ``path``, then rename it: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _save_figure(fig: Any, path: Path) -> None:
    """``fig.savefig`` as PNG to a temporary name, then rename (as :func:`_write_text`)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=110)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def embed_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` whatever its strings hold: ASCII
    only (U+2028/U+2029 and lone surrogates escaped), and ``<``, ``>``, ``&`` as ``\\u003c``,
    ``\\u003e``, ``\\u0026``, so no ``</script>`` or ``<!--`` can appear in the block.
    ``JSON.parse`` reads the same strings back."""
    text = json.dumps(data, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ----------------------------------------------------------------------------------------------- markdown


def markdown(runs: Sequence[Run], plots: Sequence[str]) -> str:
    """The Markdown report."""
    summaries = [r.summary for r in runs]
    labels = [r.label for r in runs]
    parts = [
        "# ProactiveBench report",
        "",
        f"Cells: {metric_names(summaries)}.",
        "",
        markdown_table(summaries, labels),
    ]
    for run in runs:
        s = run.summary
        parts += ["", f"## {run.label}", ""]
        parts.append(f"- agent: `{s['agent']['spec']}` {json.dumps(s['agent'].get('options') or {})}")
        data = ", ".join(
            f"{k}: {v.get('data_source')}/{v.get('subset')} ({v.get('finished')}/{v.get('planned')})"
            for k, v in s.get("data", {}).items()
        )
        parts.append(f"- data: {data}")
        parts.append(f"- mode: {s['mode']}; flags: {json.dumps(s.get('flags', {}))}; seed {s.get('seed')}")
        git = s.get("git") or {}
        parts.append(
            f"- proactive_gym {s.get('version')}, commit {git.get('commit', 'unknown')}"
            + (" (dirty)" if git.get("dirty") else "")
        )
        if not s.get("complete", True):
            parts.append("- **incomplete run**: numbers cover the finished episodes only")
        header, rows = details_rows(s)
        parts += ["", "| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
        parts += ["| " + " | ".join(r) + " |" for r in rows]
    if plots:
        parts += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------------------- plots


def plot_acc(runs: Sequence[Run], path: Path) -> None:
    """Grouped bars: acc per scenario and avg, one bar per run, 95% CI error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = table_rows([r.summary for r in runs])[0][1:]
    key = "agg" if all(r.summary["mode"] == "open" for r in runs) else "acc"
    width = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(cols) * max(1, len(runs) / 2)), 4))
    x = np.arange(len(cols))
    for i, run in enumerate(runs):
        metrics = [
            run.summary["metrics"]["avg"] if c == "avg" else run.summary["metrics"]["scenarios"].get(c, {})
            for c in cols
        ]
        acc = [m.get(key) if m.get(key) is not None else 0.0 for m in metrics]
        ci = [
            m.get("acc_ci") if key == "acc" and m.get("acc_ci") else [a, a]
            for a, m in zip(acc, metrics, strict=True)
        ]
        lo = [max(0.0, a - c[0]) for a, c in zip(acc, ci, strict=True)]
        hi = [max(0.0, c[1] - a) for a, c in zip(acc, ci, strict=True)]
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, acc, width, yerr=[lo, hi], capsize=3, label=run.label)
    ax.set_xticks(x, cols, rotation=30, ha="right", rotation_mode="anchor")  # long names never overlap
    ax.set_ylabel(f"{key} (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Accuracy per scenario (95% bootstrap CI)" if key == "acc" else "agg per scenario (judged)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def plot_outcomes(runs: Sequence[Run], path: Path) -> None:
    """Stacked bars per run: the outcome of the reply at each turn (counts over all episodes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.6), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        table = outcomes_per_turn(_judged_records(run.records))
        turns = sorted(table)
        bottom = [0] * len(turns)
        names = list(
            dict.fromkeys(o for o in (*OUTCOMES, *OUTCOME_COLORS) if any(o in table[t] for t in turns))
        )
        names += sorted({o for t in turns for o in table[t]} - set(names))
        for name in names:
            counts = [table[t].get(name, 0) for t in turns]
            ax.bar(turns, counts, bottom=bottom, label=name, color=OUTCOME_COLORS.get(name))
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_title(run.label, fontsize="medium")
        ax.set_xlabel("turn")
        ax.set_ylabel("replies")
        if turns:
            ax.set_xticks(turns)
        ax.legend(fontsize="x-small")
    fig.suptitle("Outcome of the reply at each turn")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- images


def _thumbnail(image: Any) -> str:
    from PIL import Image

    img = Image.fromarray(image)
    img.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plan_images(
    runs: Sequence[Run], images_per_scenario: int, max_images: int
) -> list[tuple[int, dict[str, Any]]]:
    """Which episodes get images: ``(run index, record)`` pairs within the caps, shared fairly.

    Episodes are taken in rounds: the first episode of every (run, scenario), then the second of each, and
    so on up to ``images_per_scenario``; an episode whose turns no longer fit is skipped (a shorter one
    later may still fit). A first pass gives each run at most its share of ``max_images`` (runs with long
    episodes cannot crowd out the others); a second pass hands out what is left.
    """
    queues: list[tuple[int, list[dict[str, Any]]]] = []
    for ri, run in enumerate(runs):
        by_scenario: dict[str, list[dict[str, Any]]] = {}
        for record in run.records:
            if record.get("steps"):
                by_scenario.setdefault(record["scenario"], []).append(record)
        queues += [(ri, rs[: max(images_per_scenario, 0)]) for rs in by_scenario.values()]
    chosen: dict[int, tuple[int, dict[str, Any]]] = {}
    used, used_by_run = 0, [0] * len(runs)
    rounds = max((len(q) for _, q in queues), default=0)
    for run_cap in (max_images // max(len(runs), 1), max_images):
        for k in range(rounds):
            for ri, queue in queues:
                if k >= len(queue) or id(queue[k]) in chosen:
                    continue
                n = len(queue[k]["steps"])
                if used + n <= max_images and used_by_run[ri] + n <= run_cap:
                    chosen[id(queue[k])] = (ri, queue[k])
                    used += n
                    used_by_run[ri] += n
    return list(chosen.values())


def render_images(
    runs: Sequence[Run], images_per_scenario: int, max_images: int
) -> dict[tuple[int, str, int, int], str]:
    """Thumbnails keyed by (run index, scenario, sample_id, turn) for the episodes of :func:`plan_images`."""
    from proactive_gym.evaluation.runner import make_env_factory

    images: dict[tuple[int, str, int, int], str] = {}
    plan = plan_images(runs, images_per_scenario, max_images)
    for ri, run in enumerate(runs):
        make_env = make_env_factory(run.config.get("env_kwargs", {}))
        envs: dict[str, Any] = {}
        try:
            for record in (r for i, r in plan if i == ri):
                scenario = record["scenario"]
                if scenario not in envs:
                    try:
                        envs[scenario] = make_env(scenario)
                    except Exception as err:  # noqa: BLE001 - data missing here: text only
                        log.warning(
                            "report: cannot build %s for %s (%s); no images", scenario, run.label, err
                        )
                        envs[scenario] = None
                env = envs[scenario]
                if env is None:
                    continue
                replies = [s["reply"] for s in record["steps"]]
                for k in range(len(replies)):
                    try:
                        obs, _ = env.reset(
                            seed=record.get("seed"),
                            options={"sample_id": int(record["sample_id"]), "replies": replies[:k]},
                        )
                    except Exception as err:  # noqa: BLE001
                        log.warning(
                            "report: cannot re-render %s/%s turn %d: %s",
                            scenario,
                            record["sample_id"],
                            k,
                            err,
                        )
                        break
                    images[(ri, scenario, int(record["sample_id"]), k)] = _thumbnail(obs["image"])
        finally:
            for env in envs.values():
                if env is not None:
                    env.close()
    return images


def image_note(runs: Sequence[Run], images: dict[tuple[int, str, int, int], str]) -> str:
    """One sentence: how many episodes of each run have images, and that the others are text only."""
    shown = [len({(s, i) for ri, s, i, _ in images if ri == k}) for k in range(len(runs))]
    parts = [
        f"{n} of the {len(run.records)} episodes of {run.label}" for n, run in zip(shown, runs, strict=True)
    ]
    left = sum(len(run.records) for run in runs) - sum(shown)
    text = "Images for " + "; ".join(parts) + "."
    if left:
        text += (
            f" The other {left} episodes show their text only (caps: --images-per-scenario episodes per "
            "scenario and run, --max-images images in all, shared across the runs)."
        )
    return text


# ----------------------------------------------------------------------------------------------- html


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def episode_data(runs: Sequence[Run], images: dict[tuple[int, str, int, int], str]) -> dict[str, Any]:
    """The JSON the HTML episode browser renders: episodes by (scenario, sample_id), runs side by side;
    a step's ``prompt`` is an index into ``prompts``."""
    from proactive_gym.scenarios import SCENARIOS

    order = list(SCENARIOS)
    prompts: dict[str, int] = {}  # each distinct prompt stored once (turns and runs repeat them)
    episodes: dict[tuple[str, int], dict[str, Any]] = {}
    for ri, run in enumerate(runs):
        for r in _judged_records(run.records):
            key = (r["scenario"], int(r["sample_id"]))
            ep = episodes.setdefault(
                key, {"scenario": key[0], "sample_id": key[1], "runs": [None] * len(runs)}
            )
            steps = []
            for s in r.get("steps", []):
                steps.append(
                    {
                        "turn": s.get("turn"),
                        "prompt": prompts.setdefault(s.get("prompt") or "", len(prompts)),
                        "reply": s.get("reply"),
                        "outcome": s.get("outcome"),
                        "chosen": s.get("chosen"),
                        "frame": s.get("frame"),
                        "reward": s.get("reward"),
                        "img": images.get((ri, key[0], key[1], int(s.get("turn") or 0))),
                    }
                )
            ep["runs"][ri] = {
                "outcome": "error" if r.get("error") else r.get("outcome"),
                "turns": r.get("turns"),
                "min_turns": r.get("min_turns"),
                "error": r.get("error"),
                "judge": r.get("judge"),
                "steps": steps,
            }
    rows = sorted(
        episodes.values(),
        key=lambda e: (order.index(e["scenario"]) if e["scenario"] in order else 99, e["sample_id"]),
    )
    return {"runs": [r.label for r in runs], "prompts": list(prompts), "episodes": rows}


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: center; }
th { background: #f0f3f7; }
h1 { font-size: 1.5em; }
h2 { font-size: 1.2em; margin-top: 1.5em; }
.controls { position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #ddd; }
.episode { border: 1px solid #ddd; border-radius: 4px; margin: 4px 0; }
.episode summary { cursor: pointer; padding: 4px 8px; }
.badge { display: inline-block; border-radius: 3px; color: #fff; padding: 0 6px; margin-left: 6px; }
.runs { display: flex; gap: 12px; padding: 8px; overflow-x: auto; }
.run { flex: 1; min-width: 260px; }
.turn { border-top: 1px dashed #ccc; padding: 6px 0; display: flex; gap: 8px; }
.turn img { width: 160px; height: auto; align-self: flex-start; border: 1px solid #aaa; }
.prompt { white-space: pre-wrap; font-size: .8em; color: #555; max-height: 14em; overflow: auto; }
.reply { font-family: monospace; }
.muted { color: #888; }
.plots img { max-width: 100%; }
"""

_JS = """
const DATA = JSON.parse(document.getElementById('episode-data').textContent);
const COLORS = %COLORS%;
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function badge(outcome, extra) {
  const b = el('span', 'badge', (outcome || 'none') + (extra || ''));
  b.style.background = COLORS[outcome] || '#999';
  return b;
}
function renderRun(label, run) {
  const box = el('div', 'run');
  box.appendChild(el('b', null, label));
  if (!run) { box.appendChild(el('div', 'muted', 'not in this run')); return box; }
  if (run.error) box.appendChild(el('div', null, 'error: ' + run.error));
  if (run.judge) {
    const j = run.judge;
    box.appendChild(el('div', null, 'judge: ps ' + j.ps + ' cc ' + j.cc + ' agg ' + j.agg));
  }
  for (const s of run.steps) {
    const t = el('div', 'turn');
    if (s.img) { const im = el('img'); im.src = s.img; im.alt = 'turn ' + s.turn; t.appendChild(im); }
    const txt = el('div');
    txt.appendChild(el('div', null, 'turn ' + s.turn + ' \u00b7 frame ' + JSON.stringify(s.frame)));
    txt.appendChild(el('div', 'prompt', DATA.prompts[s.prompt]));
    const r = el('div', 'reply', '\u2192 ' + JSON.stringify(s.reply));
    r.appendChild(badge(s.outcome));
    txt.appendChild(r);
    t.appendChild(txt);
    box.appendChild(t);
  }
  return box;
}
function episodeRow(ep) {
  const d = el('details', 'episode');
  d.dataset.scenario = ep.scenario;
  d.dataset.sampleId = ep.sample_id;
  const s = el('summary');
  s.appendChild(el('b', null, ep.scenario + ' #' + ep.sample_id));
  ep.runs.forEach((r, i) => {
    if (!r) return;
    const who = DATA.runs.length > 1 ? ' (' + DATA.runs[i] + ')' : '';
    s.appendChild(badge(r.outcome, ' \u00b7 ' + r.turns + ' turn' + (r.turns === 1 ? '' : 's') + who));
  });
  d.appendChild(s);
  d.addEventListener('toggle', () => {
    if (!d.open || d.childNodes.length > 1) return;
    const rs = el('div', 'runs');
    ep.runs.forEach((r, i) => rs.appendChild(renderRun(DATA.runs[i], r)));
    d.appendChild(rs);
  });
  return d;
}
function render() {
  const sc = document.getElementById('f-scenario').value;
  const oc = document.getElementById('f-outcome').value;
  const list = document.getElementById('episodes');
  list.textContent = '';
  let shown = 0;
  for (const ep of DATA.episodes) {
    if (sc && ep.scenario !== sc) continue;
    if (oc && !ep.runs.some(r => r && r.outcome === oc)) continue;
    list.appendChild(episodeRow(ep));
    shown++;
  }
  document.getElementById('count').textContent = shown + ' episodes shown';
}
function fill(id, values) {
  const sel = document.getElementById(id);
  for (const v of values) { const o = el('option', null, v); o.value = v; sel.appendChild(o); }
  sel.onchange = render;
}
fill('f-scenario', [...new Set(DATA.episodes.map(e => e.scenario))]);
fill('f-outcome', [...new Set(DATA.episodes.flatMap(e => e.runs.filter(r => r).map(r => r.outcome)))]);
render();
document.getElementById('expand').onclick = () => {
  const all = document.querySelectorAll('details.episode');
  const open = ![...all].every(d => d.open);
  all.forEach(d => { d.open = open; });
};
if (location.hash === '#expand') document.getElementById('expand').click();
"""


def html_report(
    runs: Sequence[Run], plots: dict[str, Path], images: dict[tuple[int, str, int, int], str]
) -> str:
    """The self-contained HTML report."""
    summaries = [r.summary for r in runs]
    header, rows = table_rows(summaries, [r.label for r in runs])
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>ProactiveBench report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ProactiveBench report</h1>",
        f"<p>Cells: {html.escape(metric_names(summaries))}.</p>",
        _html_table(header, rows),
    ]
    for run in runs:
        s = run.summary
        dh, dr = details_rows(s)
        git = (s.get("git") or {}).get("commit", "unknown")
        parts.append(
            f"<h2>{html.escape(run.label)}</h2><p class='muted'>agent <code>{html.escape(s['agent']['spec'])}"
            f"</code> · mode {html.escape(str(s['mode']))}"
            f" · flags {html.escape(json.dumps(s.get('flags', {})))}"
            f" · seed {html.escape(str(s.get('seed')))} · proactive_gym {html.escape(str(s.get('version')))}"
            f" ({html.escape(str(git)[:10])})"
            + ("" if s.get("complete", True) else " · <b>incomplete run</b>")
            + "</p>"
        )
        parts.append(_html_table(dh, dr))
    if plots:
        parts.append("<h2>Plots</h2><div class='plots'>")
        for name, path in plots.items():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
        parts.append("</div>")
    blob = embed_json(episode_data(runs, images))
    parts += [
        f"<h2>Episodes</h2><p class='muted' id='image-note'>{html.escape(image_note(runs, images))}</p>"
        "<div class='controls'>"
        "scenario <select id='f-scenario'><option value=''>all</option>"
        "</select> outcome (any run) <select id='f-outcome'><option value=''>all</option></select> "
        "<button id='expand'>open / close all</button> "
        "<span id='count' class='muted'></span></div><div id='episodes'></div>",
        f"<script type='application/json' id='episode-data'>{blob}</script>",
        "<script>" + _JS.replace("%COLORS%", json.dumps(OUTCOME_COLORS)) + "</script></body></html>",
    ]
    return "\n".join(parts)


def write_report(
    run_paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    images_per_scenario: int = 8,
    max_images: int = 400,
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``report.md``, the plots and ``report.html`` for the runs into ``out``.

    ``out`` defaults to ``<first run>/report``. Returns the written files by kind.
    """
    if not run_paths:
        raise ValueError("report needs at least one run directory")
    paths = [Path(p) for p in run_paths]
    labels = _labels(paths)
    runs = [load_run(p, label) for p, label in zip(paths, labels, strict=True)]
    out_dir = Path(out) if out is not None else paths[0] / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    plot_files: dict[str, Path] = {}
    if plots and importlib.util.find_spec("matplotlib") is None:
        log.warning(
            "matplotlib is not installed: the report has no plots (pip install 'proactive_gym[report]')"
        )
        plots = False
    if plots:
        plot_files["acc_per_scenario.png"] = out_dir / "acc_per_scenario.png"
        plot_acc(runs, plot_files["acc_per_scenario.png"])
        plot_files["outcomes_per_turn.png"] = out_dir / "outcomes_per_turn.png"
        plot_outcomes(runs, plot_files["outcomes_per_turn.png"])
        written.update({k.removesuffix(".png"): v for k, v in plot_files.items()})
    md = out_dir / "report.md"
    _write_text(md, markdown(runs, list(plot_files)))
    written["markdown"] = md
    images = render_images(runs, images_per_scenario, max_images) if max_images > 0 else {}
    page = out_dir / "report.html"
    _write_text(page, html_report(runs, plot_files, images))
    written["html"] = page
    return written


__all__ = [
    "write_report",
    "load_run",
    "markdown",
    "html_report",
    "episode_data",
    "plan_images",
    "render_images",
    "image_note",
    "judged_outcome",
    "fmt",
]

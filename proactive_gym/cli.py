"""The ``proactive-gym`` command: ``eval``, ``report``, ``filter``, ``data`` and ``list``.

proactive-gym eval --agent oracle --envs all          # synthetic data when no data root is given
proactive-gym eval --agent hf:Qwen/Qwen2.5-VL-3B-Instruct --envs ROD,COCO --data-root ~/pb --out runs/x
proactive-gym eval ... --out runs/x --resume          # finish an interrupted run
proactive-gym report runs/x runs/y                    # Markdown, plots, one HTML file; runs side by side
proactive-gym filter runs/a runs/b --out ids.json     # the benchmark's filtering step, with your models
proactive-gym list                                    # envs and agent specs
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from proactive_gym.cli_checks import cli_wording, data_root_note, preflight
from proactive_gym.data.errors import DataError
from proactive_gym.evaluation.runner import Progress

EXIT_USAGE = 2

# CLI flag dest -> agent option name; passed to make_agent only when given (INTERFACES.md).
MODEL_OPTIONS = (
    "dtype",
    "device",
    "attn_implementation",
    "adapter",
    "max_new_tokens",
    "base_url",
    "api_key_env",
    "concurrency",
    "timeout",
    "max_retries",
    "temperature",
)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, emoji=False)  # emoji: 'openai:x' stays text
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 150  # piped or logged: do not squeeze the table into 80 columns
    return console


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help only when the help does not already say its default and
    there is a default worth showing (not None, not an off switch)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def printable(text: str) -> str:
    """``text`` safe for any console: a lone surrogate (or other unencodable character) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_exit_status(summary: dict[str, Any], max_error_rate: float) -> int:
    """1 when more than ``max_error_rate`` of the planned episodes ended in an error, else 0."""
    planned = sum(d["planned"] for d in summary["data"].values())
    errors = sum(d.get("errors", 0) for d in summary["data"].values())
    return 1 if planned and errors / planned > max_error_rate else 0


class _AgentsAction(argparse.Action):
    """``--agent A [B ...]``: ``args.agent`` is the first spec, ``args.agents`` all of them."""

    def __call__(
        self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None
    ) -> None:
        namespace.agent, namespace.agents = values[0], list(values)


def add_eval_command(sub: Any) -> None:
    """The ``eval`` subcommand and its flags."""
    p = sub.add_parser(
        "eval",
        help="evaluate an agent and print the paper's Table 1",
        description="Evaluate an agent on ProactiveBench scenarios (synthetic data without a data root).",
        formatter_class=HelpFormatter,
    )
    g = p.add_argument_group("what to run")
    g.add_argument(
        "--agent",
        nargs="+",
        action=_AgentsAction,
        default="oracle",
        help="agent spec (see `proactive-gym list`); several: evaluated one after another into sibling "
        "folders under --out, then one side-by-side report (default: oracle)",
    )
    g.add_argument(
        "--epochs",
        type=_positive_int,
        default=1,
        help="run every episode N times, epoch k with run seed --seed + k, and report the spread",
    )
    g.add_argument("--envs", default="all", help="'all' or a comma list of scenarios, e.g. ROD,COCO")
    g.add_argument(
        "--data-root",
        default=None,
        help="released-format data root (default: $PROACTIVE_GYM_DATA, else synthetic data)",
    )
    g.add_argument("--data", choices=["auto", "released", "synthetic"], default="auto", help="data source")
    g.add_argument("--split", default="test", help="data split")
    g.add_argument("--subset", default="auto", help="'auto', 'all' or 'paper' (the filtered 7,557 samples)")
    g.add_argument("--subset-file", default=None, help="JSON file of sample ids per scenario")
    g.add_argument("--hint", action="store_true", help="append the per-scenario hint to the question")
    g.add_argument("--reference", action="store_true", help="reference setting: one turn, the clear frame")
    g.add_argument("--history", action="store_true", help="keep earlier turns in the dialogue")
    g.add_argument(
        "--icl-examples",
        type=int,
        default=0,
        help="ROD and MVP-N: solved demonstration episodes before the query (the paper: 1 or 3)",
    )
    g.add_argument(
        "--icl-full",
        action="store_true",
        help="in-context demonstrations at full length and the query's image size (default: the paper's "
        "short, resized ones)",
    )
    g.add_argument(
        "--random-options",
        action="store_true",
        help="replace the proactive options with other scenarios' ones (does the model understand them?)",
    )
    g.add_argument("--mode", choices=["mcqa", "open"], default="mcqa", help="multiple choice or open-ended")
    g.add_argument("--judge", default=None, help="open mode judge spec: 'keyword' (default) or an agent spec")
    g.add_argument("--judge-base-url", default=None, help="base URL of the judge's OpenAI-compatible server")
    g.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="episodes in flight per agent call (default 8; also the hf agent's batch size when given)",
    )
    g.add_argument("--max-episodes", type=_positive_int, default=None, help="cap on episodes per scenario")
    g.add_argument(
        "--seed", type=int, default=0, help="run seed (episode reset seeds, random agent, bootstrap)"
    )
    r = p.add_argument_group("results")
    r.add_argument("--out", default=None, help="run directory (default: runs/<agent>-<time>)")
    r.add_argument("--resume", action="store_true", help="finish the interrupted run in --out")
    r.add_argument("--force", action="store_true", help="overwrite the results in --out")
    r.add_argument(
        "--quiet", action="store_true", help="no progress (bars on a terminal, else a line every 30 s)"
    )
    r.add_argument(
        "--max-error-rate",
        type=_rate,
        default=0.0,
        help="exit with status 1 when more than this fraction of the planned episodes ended in an error "
        "(0: any error); --resume runs the errored episodes again",
    )
    m = p.add_argument_group("model options (passed to the agent only when given)")
    m.add_argument("--dtype", default=None, help="hf: torch dtype (bfloat16, float16, float32, auto)")
    m.add_argument("--device", default=None, help="hf: device (cpu, cuda, cuda:1, auto)")
    m.add_argument(
        "--attn-implementation", default=None, help="hf: attention implementation (sdpa, eager, ...)"
    )
    m.add_argument("--adapter", default=None, help="hf: path of a LoRA adapter to load")
    m.add_argument("--max-new-tokens", type=_positive_int, default=None, help="tokens per reply (agents: 50)")
    m.add_argument(
        "--base-url", action="append", default=None, help="openai: server URL (repeat for several)"
    )
    m.add_argument("--api-key-env", default=None, help="openai: environment variable holding the API key")
    m.add_argument("--concurrency", type=_positive_int, default=None, help="openai: requests in flight")
    m.add_argument("--timeout", type=float, default=None, help="openai: seconds per request")
    m.add_argument("--max-retries", type=int, default=None, help="openai: retries per request")
    m.add_argument("--temperature", type=float, default=None, help="sampling temperature (agents: 0)")
    p.set_defaults(func=cmd_eval)


def agent_options(args: argparse.Namespace) -> dict[str, Any]:
    """The agent options given on the command line (only those given)."""
    options: dict[str, Any] = {}
    for name in MODEL_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    if "base_url" in options and len(options["base_url"]) == 1:
        options["base_url"] = options["base_url"][0]
    if args.agent.startswith("hf:") and args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.agent == "random":
        options["seed"] = args.seed
    return options


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The env settings given on the command line (defaults left out, so configs stay comparable)."""
    kwargs: dict[str, Any] = {}
    if args.data_root is not None:
        kwargs["data_root"] = str(Path(args.data_root).expanduser())
    for name, default in (("data", "auto"), ("split", "test"), ("subset", "auto"), ("mode", "mcqa")):
        if getattr(args, name) != default:
            kwargs[name] = getattr(args, name)
    if args.subset_file is not None:
        kwargs["subset_file"] = str(Path(args.subset_file).expanduser())
    for flag in ("hint", "reference", "history", "random_options", "icl_full"):
        if getattr(args, flag):
            kwargs[flag] = True
    if args.icl_examples:
        kwargs["icl_examples"] = args.icl_examples
    return kwargs


def default_out(agent: str) -> Path:
    """``runs/<agent>-<YYYYmmdd-HHMMSS>`` with the agent spec made filesystem-safe."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", agent).strip("_") or "agent"
    return Path("runs") / f"{safe}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


class ProgressStats:
    """Episode counts per scenario and in total, the live turns/s (the last ``window`` seconds) and the ETA
    (remaining episodes at this session's episode rate)."""

    def __init__(self, window: float = 30.0, clock: Any = None) -> None:
        import time

        self.clock = clock or time.monotonic
        self.window = window
        self.planned: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.errors = 0
        self.turns: collections.deque[float] = collections.deque()
        self.turns_total = 0
        self.started = self.clock()
        self.resumed = 0

    def start(self, planned: dict[str, int], done: dict[str, int]) -> None:
        self.planned = dict(planned)
        self.done = {name: done.get(name, 0) for name in planned}
        self.resumed = sum(self.done.values())
        self.started = self.clock()

    def update(self, record: dict[str, Any]) -> None:
        self.done[record["scenario"]] = self.done.get(record["scenario"], 0) + 1
        self.errors += bool(record.get("error"))

    def step(self) -> None:
        now = self.clock()
        self.turns.append(now)
        self.turns_total += 1
        while self.turns and self.turns[0] < now - self.window:
            self.turns.popleft()

    def turns_per_s(self) -> float:
        now = self.clock()
        while self.turns and self.turns[0] < now - self.window:
            self.turns.popleft()
        span = min(self.window, now - self.started)
        return len(self.turns) / span if span > 0 else 0.0

    def eta_s(self) -> float | None:
        finished = sum(self.done.values()) - self.resumed
        left = sum(self.planned.values()) - sum(self.done.values())
        elapsed = self.clock() - self.started
        if finished <= 0 or elapsed <= 0:
            return None
        return left * elapsed / finished

    def line(self) -> str:
        """``412/7557 episodes (5.5%), 3 errors; ROD 200/500, ...; 12.3 turns/s; ETA 0:12:34``."""
        done, planned = sum(self.done.values()), sum(self.planned.values())
        pct = 100 * done / planned if planned else 100.0
        per = ", ".join(f"{n} {self.done.get(n, 0)}/{t}" for n, t in self.planned.items())
        eta = self.eta_s()
        eta_text = "?" if eta is None else _clock(eta)
        errors = f", {self.errors} errors" if self.errors else ""
        return (
            f"{done}/{planned} episodes ({pct:.1f}%){errors}; {per}; {self.turns_per_s():.1f} turns/s; "
            f"ETA {eta_text}"
        )


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RichProgress(Progress):
    """A rich progress bar per scenario with the running acc / psr, and a total bar with the live turns/s
    and the ETA (for a terminal)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.stats: dict[str, list[float]] = {}
        self.counts = ProgressStats()
        self.total: Any = None
        self._last_refresh = 0.0

    def start(self, planned: dict[str, int], done: dict[str, int]) -> None:
        """Create one bar per scenario and the total bar."""
        self.counts.start(planned, done)
        self.progress.start()
        for name, total in planned.items():
            self.stats[name] = [0, 0, 0]  # scored, correct, turns-1
            self.tasks[name] = self.progress.add_task(
                name, total=total, completed=done.get(name, 0), stats=""
            )
        self.total = self.progress.add_task(
            "total", total=sum(planned.values()), completed=sum(done.values()), stats=""
        )

    def update(self, record: dict[str, Any]) -> None:
        """Advance the scenario's bar and the total bar, showing the running numbers."""
        self.counts.update(record)
        name = record["scenario"]
        s = self.stats[name]
        if not record.get("error"):
            s[0] += 1
            s[1] += record.get("outcome") == "correct"
            s[2] += record["turns"] - 1
        text = f"acc {100 * s[1] / s[0]:5.1f}  psr {s[2] / s[0]:.2f}" if s[0] else ""
        self.progress.update(self.tasks[name], advance=1, stats=text)
        self.progress.update(self.total, advance=1, stats=self._total_text())

    def step(self) -> None:
        """Count a turn; refresh the total's turns/s about once a second."""
        self.counts.step()
        now = self.counts.clock()
        if self.total is not None and now - self._last_refresh >= 1.0:
            self._last_refresh = now
            self.progress.update(self.total, stats=self._total_text())

    def _total_text(self) -> str:
        errors = f"  {self.counts.errors} errors" if self.counts.errors else ""
        return f"{self.counts.turns_per_s():.1f} turns/s{errors}"

    def stop(self) -> None:
        """Stop refreshing."""
        self.progress.stop()


class LineProgress(Progress):
    """For output that is not a terminal (nohup, sbatch, a pipe): one plain line every ``every`` seconds
    (from a background thread, so a log shows the run is alive even while no episode finishes), and one
    at the end."""

    def __init__(self, stream: Any, every: float = 30.0) -> None:
        import threading

        self.stream = stream
        self.every = every
        self.counts = ProgressStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def start(self, planned: dict[str, int], done: dict[str, int]) -> None:
        """Start the clock and the printing thread."""
        self.counts.start(planned, done)
        self._thread.start()

    def update(self, record: dict[str, Any]) -> None:
        """Count a finished episode."""
        self.counts.update(record)

    def step(self) -> None:
        """Count a turn."""
        self.counts.step()

    def _print(self) -> None:
        print(f"progress: {self.counts.line()}", file=self.stream, flush=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._print()

    def stop(self) -> None:
        """Stop the thread and print the last line."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self._print()


def cmd_eval(args: argparse.Namespace) -> int:
    """Run ``proactive-gym eval``."""
    specs = getattr(args, "agents", None) or [args.agent]
    if len(specs) > 1 or args.epochs > 1:
        return cmd_sweep(args, specs)
    from rich.panel import Panel

    from proactive_gym.evaluation import evaluate
    from proactive_gym.evaluation.table import rich_details, rich_table

    console = _console()
    out = Path(args.out) if args.out else default_out(args.agent)
    for note in preflight(args, out):
        console.print(f"[yellow]note:[/] {note}", soft_wrap=True)
    judge_options = {"base_url": args.judge_base_url} if args.judge_base_url else {}
    progress: RichProgress | LineProgress | None = None
    if not args.quiet:
        progress = RichProgress(console) if console.is_terminal else LineProgress(sys.stderr)
    try:
        summary = evaluate(
            args.agent,
            envs=args.envs,
            out=out,
            batch_size=args.batch_size or 8,
            env_kwargs=env_kwargs(args),
            seed=args.seed,
            max_episodes=args.max_episodes,
            resume=args.resume,
            force=args.force,
            agent_options=agent_options(args),
            judge=args.judge,
            judge_options=judge_options,
            progress=progress,
        )
    except KeyboardInterrupt:
        extra = "--resume" if args.out else f"--out {out} --resume"
        console.print(
            f"\n[yellow]interrupted[/]: the finished episodes are saved in {out}; to finish the run, repeat "
            f"the command with [bold]{extra}[/]"
        )
        return 130
    finally:
        if progress is not None:
            progress.stop()
    console.print(rich_table([summary.data]))
    console.print(rich_details(summary.data))
    status = error_exit_status(summary.data, args.max_error_rate)
    if summary.errors:
        console.print(
            f"[red]{summary.errors} episode(s) ended in an error[/] (left out of the numbers; see 'error' in "
            f"{out / 'episodes.jsonl'}; the run is incomplete: repeat the command with --resume to run "
            "them again)",
            soft_wrap=True,
        )
    run = summary.data["run"]
    console.print(
        Panel.fit(
            f"results: {out}/  ({run['episodes_this_session']} episodes, "
            f"{run['turns_this_session']} turns in "
            f"{run['wall_s']:.1f} s)\nbrowse:  proactive-gym report {out}",
            border_style="dim",
        )
    )
    if status:
        console.print(
            f"[red]exit status 1[/]: {summary.errors} of {sum(summary.data['data'][n]['planned'] for n in summary.data['data'])} "
            f"episodes errored, more than --max-error-rate {args.max_error_rate:g}",
            soft_wrap=True,
        )
    return status


def cmd_sweep(args: argparse.Namespace, specs: list[str]) -> int:
    """``eval`` with several ``--agent`` specs or ``--epochs`` > 1 (see :mod:`proactive_gym.evaluation.sweep`)."""
    from rich.panel import Panel

    from proactive_gym.evaluation.metrics import fmt
    from proactive_gym.evaluation.sweep import run_name, sweep
    from proactive_gym.evaluation.table import rich_table

    console = _console()
    out = Path(args.out) if args.out else default_out("sweep")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder for the runs: choose another --out")
    for spec in specs:
        one = argparse.Namespace(**{**vars(args), "agent": spec})
        for epoch in range(args.epochs):
            for note in preflight(one, out / run_name(spec, epoch, args.epochs)):
                console.print(f"[yellow]note:[/] {note}", soft_wrap=True)
        if args.epochs > 1 and not args.temperature and spec != "random":
            how = "pass --temperature above 0 to sample" if ":" in spec else "it is deterministic"
            console.print(
                f"[yellow]note:[/] --epochs {args.epochs}: {spec} gives the same replies to the same "
                f"observations in every epoch ({how}); its epochs differ only in reset seeds",
                soft_wrap=True,
            )

    def options_for(spec: str, run_seed: int) -> dict[str, Any]:
        return agent_options(argparse.Namespace(**{**vars(args), "agent": spec, "seed": run_seed}))

    def on_run(run: Any) -> None:
        avg = run.summary.avg
        numbers = "  ".join(
            f"{k} {fmt(avg.get(k), 2 if k == 'psr' else 1)}" for k in ("acc", "psr", "agg") if k in avg
        )
        console.print(f"done: {run.path}  (avg {numbers})", soft_wrap=True)

    def progress() -> Progress | None:
        if args.quiet:
            return None
        return RichProgress(console) if console.is_terminal else LineProgress(sys.stderr)

    try:
        result = sweep(
            specs,
            out=out,
            epochs=args.epochs,
            seed=args.seed,
            agent_options=options_for,
            progress=progress,
            on_run=on_run,
            envs=args.envs,
            batch_size=args.batch_size or 8,
            env_kwargs=env_kwargs(args),
            max_episodes=args.max_episodes,
            resume=args.resume,
            force=args.force,
            judge=args.judge,
            judge_options={"base_url": args.judge_base_url} if args.judge_base_url else {},
        )
    except KeyboardInterrupt:
        console.print(
            f"\n[yellow]interrupted[/]: finished runs and episodes are saved in {out}; to finish, repeat the "
            f"command with [bold]{'--resume' if args.out else f'--out {out} --resume'}[/]"
        )
        return 130
    console.print(rich_table([r.summary.data for r in result.runs], [r.path.name for r in result.runs]))
    if args.epochs > 1:
        console.print(spread_table(result.spread, args.epochs))
    console.print(
        Panel.fit(
            f"runs:   {out}/  ({len(result.runs)} runs, spread in {out / 'sweep.json'})\n"
            f"report: {result.report.get('html', out / 'report')}",
            border_style="dim",
        )
    )
    failed = [r.path.name for r in result.runs if error_exit_status(r.summary.data, args.max_error_rate)]
    if failed:
        console.print(
            f"[red]exit status 1[/]: more than --max-error-rate {args.max_error_rate:g} of the episodes "
            f"errored in {', '.join(failed)} (repeat the command with --resume to run them again)",
            soft_wrap=True,
        )
    return 1 if failed else 0


def spread_table(spread: dict[str, dict[str, dict[str, Any]]], epochs: int) -> Any:
    """A rich table of mean ± sd over epochs per agent and metric (scenarios as columns)."""
    from rich import box
    from rich.table import Table

    from proactive_gym.evaluation.metrics import fmt

    first = next(iter(spread.values()))
    columns = list(first)
    keys = sorted(
        {k.rsplit("_", 1)[0] for row in first.values() for k in row},
        key=["acc", "psr", "ps", "cc", "agg"].index,
    )
    table = Table(
        title=f"spread over {epochs} epochs: mean ± sd",
        title_style="bold",
        header_style="bold cyan",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("agent")
    table.add_column("")
    for column in columns:
        table.add_column(column, justify="right")
    for agent, rows in spread.items():
        for key in keys:
            digits = 2 if key == "psr" else 1
            cells = [
                "-"
                if rows[c].get(f"{key}_mean") is None
                else f"{fmt(rows[c][f'{key}_mean'], digits)} ± {fmt(rows[c][f'{key}_sd'], digits)}"
                for c in columns
            ]
            table.add_row(agent if key == keys[0] else "", key, *cells)
    return table


def add_report_command(sub: Any) -> None:
    """The ``report`` subcommand."""
    p = sub.add_parser(
        "report",
        help="Markdown, plots and an HTML episode browser for one or more runs",
        formatter_class=HelpFormatter,
    )
    p.add_argument("runs", nargs="+", help="run directories (several: compared side by side)")
    p.add_argument("--out", default=None, help="report directory (default: <first run>/report)")
    p.add_argument(
        "--images-per-scenario", type=int, default=8, help="episodes per scenario and run with images"
    )
    p.add_argument("--max-images", type=int, default=400, help="cap on embedded images (0: none)")
    p.add_argument("--no-plots", action="store_true", help="skip the matplotlib plots")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``proactive-gym report``."""
    from proactive_gym.evaluation.report import load_run, write_report
    from proactive_gym.evaluation.table import rich_table

    console = _console()
    files = write_report(
        args.runs,
        out=args.out,
        images_per_scenario=args.images_per_scenario,
        max_images=args.max_images,
        plots=not args.no_plots,
    )
    console.print(rich_table([load_run(p).summary for p in args.runs], [Path(p).name for p in args.runs]))
    for kind, path in files.items():
        console.print(f"{kind:>18}: {path}", soft_wrap=True)  # paths stay whole, to be copied
    return 0


def add_filter_command(sub: Any) -> None:
    """The ``filter`` subcommand: the benchmark's filtering step (proactive_gym.evaluation.filtering)."""
    p = sub.add_parser(
        "filter",
        help="keep the samples few probe models solve on the first turn; write a subset file",
        description="Drop every sample that at least THRESHOLD of the probe runs (one per model, same "
        "data) answered correctly on the first turn; write the kept ids as a --subset-file.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("runs", nargs="+", help="multiple-choice run directories, one per probe model")
    p.add_argument("--threshold", type=float, default=0.25, help="share of models that drops a sample")
    p.add_argument("--out", required=True, help="subset file to write (JSON: scenario -> ids)")
    p.set_defaults(func=cmd_filter)


def cmd_filter(args: argparse.Namespace) -> int:
    """Run ``proactive-gym filter``."""
    from rich.table import Table

    from proactive_gym.evaluation.filtering import filter_runs, stats_rows, write_subset

    result = filter_runs(args.runs, threshold=args.threshold)
    path = write_subset(result, args.out)
    header, rows = stats_rows(result)
    table = Table(
        title=f"first-turn accuracy of {len(result.runs)} probe run(s), threshold {result.threshold:g}",
        header_style="bold cyan",
    )
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console = _console()
    console.print(table)
    console.print(f"subset file: {path}  (use it with --subset-file {path})", soft_wrap=True)
    return 0


def add_list_command(sub: Any) -> None:
    """The ``list`` subcommand."""
    p = sub.add_parser("list", help="list the envs and the agent specs")
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the envs and agent specs."""
    from rich.table import Table

    from proactive_gym.agents import AGENT_SPECS
    from proactive_gym.scenarios import SCENARIOS

    console = _console()
    table = Table(title="envs", header_style="bold cyan")
    for col in ("name", "env id", "released file prefix"):
        table.add_column(col)
    for scenario in SCENARIOS.values():
        table.add_row(scenario.name, scenario.env_id, scenario.prefix)
    console.print(table)
    console.print("[bold cyan]agents[/]: " + ", ".join(AGENT_SPECS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (``data`` commands come from the data package when it is installed)."""
    parser = argparse.ArgumentParser(
        prog="proactive-gym",
        description="ProactiveBench as Gymnasium environments: evaluate agents, write reports, manage data.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{eval,report,filter,data,list}")
    add_eval_command(sub)
    add_report_command(sub)
    add_filter_command(sub)
    try:
        from proactive_gym.data.cli import add_data_commands
    except ModuleNotFoundError as err:
        if err.name != "proactive_gym.data.cli":
            raise
        p = sub.add_parser("data", help="data commands (not available in this installation)")
        p.set_defaults(func=lambda a, _err=err: _missing_data(_err))
    else:
        add_data_commands(sub)
    add_list_command(sub)
    return parser


def _missing_data(err: Exception) -> int:
    _console(stderr=True).print(f"[red]error:[/] the data commands are not available ({err})")
    return EXIT_USAGE


def _cli_wording_filter(record: logging.LogRecord) -> bool:
    """Log messages name CLI flags, not Python keywords (see :func:`cli_wording`)."""
    record.msg, record.args = cli_wording(record.getMessage()), None
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``proactive-gym``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=_console(stderr=True), show_time=False, show_path=False)],
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_cli_wording_filter)
    func = getattr(args, "func", None)
    if func is None:  # a command group called without its subcommand
        parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
        return EXIT_USAGE
    try:
        return int(func(args) or 0)
    except (ValueError, TypeError, OSError, ImportError) as err:
        if args.verbose:
            raise
        from rich.markup import escape

        note = data_root_note(getattr(args, "data_root", None)) if isinstance(err, DataError) else ""
        text = escape(printable(cli_wording(str(err))))
        _console(stderr=True).print(f"[red]error:[/] {text}{note}", soft_wrap=True)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

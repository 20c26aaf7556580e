"""``proactive-gym data synth`` and ``proactive-gym data build``: the data commands of the CLI.

    proactive-gym data synth --out DIR [--split test] [--seed 0] [--size N] [--envs all]
    proactive-gym data build quickdraw --out DIR FILE.ndjson [FILE.ndjson ...] [--per-word N]
    proactive-gym data build coco --out DIR --instances instances.json --images IMAGES_DIR

``add_data_commands(subparsers)`` adds the ``data`` command to the main parser (proactive_gym.cli).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def add_data_commands(subparsers: Any) -> None:
    """Add ``data`` (with ``synth`` and ``build``) to an argparse subparsers object."""
    data = subparsers.add_parser("data", help="generate synthetic data or build episodes from raw data")
    sub = data.add_subparsers(dest="data_command", metavar="{synth,build}")

    synth = sub.add_parser(
        "synth",
        help="write the built-in synthetic scenarios in the released format",
        description="Write one split of the synthetic scenarios ({Prefix}_preprocessed.jsonl + PNG images) "
        "into --out; use it later with data_root=DIR (split test) or as DIR/<split> of a data root.",
    )
    synth.add_argument("--out", required=True, type=Path, help="an empty or new folder")
    synth.add_argument("--split", default="test", help="split name: test, train or any other (default test)")
    synth.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    synth.add_argument(
        "--size", type=int, default=None, help="episodes per scenario (default 100 test, 400 train)"
    )
    synth.add_argument("--envs", default="all", help="comma-separated scenarios (default all)")
    synth.add_argument("--overwrite", action="store_true", help="replace synthetic data written there before")
    synth.set_defaults(func=_synth)

    build = sub.add_parser("build", help="build released-format episodes from raw QuickDraw or COCO data")
    kinds = build.add_subparsers(dest="build_kind", metavar="{quickdraw,coco}")
    qd = kinds.add_parser("quickdraw", help="from QuickDraw simplified .ndjson files")
    qd.add_argument("files", nargs="+", type=Path, help="simplified .ndjson files (one drawing per line)")
    qd.add_argument("--out", required=True, type=Path, help="output data root")
    qd.add_argument("--per-word", type=int, default=None, help="at most N drawings per word")
    qd.add_argument("--min-strokes", type=int, default=2)
    qd.add_argument("--max-strokes", type=int, default=12)
    qd.add_argument("--all-drawings", action="store_true", help="also drawings QuickDraw did not recognise")
    qd.add_argument(
        "--skip-bad", action="store_true", help="leave malformed lines out (listed) instead of failing"
    )
    qd.add_argument("--seed", type=int, default=0)
    qd.set_defaults(func=_build_quickdraw)
    co = kinds.add_parser("coco", help="from COCO-style instance annotations and images")
    co.add_argument("--instances", required=True, type=Path, help="instances_*.json")
    co.add_argument("--images", required=True, type=Path, help="folder holding the images' file_name paths")
    co.add_argument("--out", required=True, type=Path, help="output data root")
    co.add_argument(
        "--min-area", type=float, default=0.05, help="smallest object, as a fraction of the image"
    )
    co.add_argument("--max-images", type=int, default=None)
    co.add_argument(
        "--skip-bad", action="store_true", help="leave missing images out (listed) instead of failing"
    )
    co.add_argument("--seed", type=int, default=0)
    co.set_defaults(func=_build_coco)

    data.set_defaults(func=lambda args: _usage(data))
    build.set_defaults(func=lambda args: _usage(build))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _synth(args: argparse.Namespace) -> int:
    from proactive_gym.data.synthetic import generate
    from proactive_gym.scenarios import parse_scenarios

    names = parse_scenarios(args.envs)
    root = generate(
        args.out, split=args.split, seed=args.seed, size=args.size, scenarios=names, overwrite=args.overwrite
    )
    _console().print(f"wrote synthetic {args.split} data for {', '.join(names)} to {root}")
    return 0


def _report(report: Any, out: Path) -> int:
    console = _console()
    for line in report.skipped[:20]:
        console.print(f"  left out: {line}", highlight=False)
    if len(report.skipped) > 20:
        console.print(f"  ... and {len(report.skipped) - 20} more", highlight=False)
    console.print(f"{report.summary()} to {out}")
    return 0


def _build_quickdraw(args: argparse.Namespace) -> int:
    from proactive_gym.data.builders import build_quickdraw

    report = build_quickdraw(
        args.files,
        args.out,
        per_word=args.per_word,
        min_strokes=args.min_strokes,
        max_strokes=args.max_strokes,
        recognized_only=not args.all_drawings,
        skip_bad=args.skip_bad,
        seed=args.seed,
    )
    return _report(report, args.out)


def _build_coco(args: argparse.Namespace) -> int:
    from proactive_gym.data.builders import build_coco

    report = build_coco(
        args.instances,
        args.images,
        args.out,
        min_area=args.min_area,
        max_images=args.max_images,
        skip_bad=args.skip_bad,
        seed=args.seed,
    )
    return _report(report, args.out)

"""Build QuickDraw episodes in the released format from Google's *simplified* QuickDraw ``.ndjson`` files.

Each line of a simplified file is one drawing: ``{"word": "cat", "countrycode": "US", "timestamp": ...,
"recognized": true, "key_id": "...", "drawing": [[[x0, x1, ...], [y0, y1, ...]], ...]}`` with coordinates
in 0..255. An episode shows the drawing after 1, 2, ... strokes, like the paper: frame k (``{image}``
zero-padded) is the first k + 1 strokes, the first frame is frame 0 and the reference the whole drawing.
The answer is the drawing's word; the three distractors are other words of the input (same-file words
first is not meaningful, so they are drawn at random with the seed).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from proactive_gym.data.errors import DataError
from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, DETAILS_TEXTS, choose, shuffled, write_png

log = logging.getLogger(__name__)
PREFIX = "QuickDraw"
PROMPT = "What is the subject of this drawing?"


@dataclass
class BuildReport:
    """What a builder did: episodes written, and every input item it left out with the reason."""

    written: int = 0
    skipped: list[str] = field(default_factory=list)  # "file:line: reason" for every item left out

    def summary(self) -> str:
        """One line for the CLI."""
        return f"{self.written} episodes written, {len(self.skipped)} input items left out"


def _parse_line(text: str, where: str) -> dict[str, Any]:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(item).__name__}")
    word, drawing = item.get("word"), item.get("drawing")
    if not isinstance(word, str) or not word.strip():
        raise DataError(f"{where}: 'word' must be a non-empty string")
    if not isinstance(drawing, list) or not drawing:
        raise DataError(f"{where}: 'drawing' must be a non-empty list of strokes [[x...], [y...]]")
    for i, stroke in enumerate(drawing):
        ok = isinstance(stroke, list) and len(stroke) >= 2 and all(isinstance(v, list) for v in stroke[:2])
        if not ok or len(stroke[0]) != len(stroke[1]) or not stroke[0]:
            raise DataError(f"{where}: stroke {i} must be [[x...], [y...]] with equal, non-zero lengths")
        if not all(isinstance(v, (int, float)) for v in (*stroke[0], *stroke[1])):
            raise DataError(f"{where}: stroke {i} has a non-numeric coordinate")
    return item


def render_strokes(drawing: list[list[list[float]]], size: int = 256, width: int = 3) -> np.ndarray:
    """Black strokes of a simplified drawing (coordinates 0..255) on a white square of ``size`` pixels."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    scale = (size - 2 * width) / 255.0
    for xs, ys in (s[:2] for s in drawing):
        pts = [(width + x * scale, width + y * scale) for x, y in zip(xs, ys, strict=True)]
        d.line(pts if len(pts) > 1 else pts * 2, fill=(0, 0, 0), width=width, joint="curve")
    return np.asarray(img)


def build_quickdraw(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    per_word: int | None = None,
    min_strokes: int = 2,
    max_strokes: int = 12,
    recognized_only: bool = True,
    skip_bad: bool = False,
    seed: int = 0,
    size: int = 256,
) -> BuildReport:
    """Write ``QuickDraw_preprocessed.jsonl`` and images into ``out_dir`` from simplified ``.ndjson`` files.

    Keeps drawings with ``min_strokes``..``max_strokes`` strokes (and, by default, only those QuickDraw
    recognised), at most ``per_word`` per word. A malformed line raises DataError naming the file and line;
    with ``skip_bad=True`` it is left out instead and listed in the returned report (and logged). Drawings
    left out by the filters are listed in the report too. Needs at least 4 distinct words.
    """
    rng = np.random.default_rng(seed)
    report = BuildReport()
    kept: list[tuple[str, list]] = []
    count: dict[str, int] = {}
    for path in map(Path, inputs):
        if not path.is_file():
            raise DataError(f"{path}: no such file (give QuickDraw simplified .ndjson files)")
        with path.open(encoding="utf-8") as fh:
            for lineno, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    item = _parse_line(text, where)
                except DataError as exc:
                    if not skip_bad:
                        raise DataError(f"{exc} (pass --skip-bad to leave malformed lines out)") from None
                    report.skipped.append(str(exc))
                    log.warning("skipped %s", exc)
                    continue
                word, drawing = item["word"].strip(), item["drawing"]
                reason = None
                if recognized_only and item.get("recognized") is False:
                    reason = "not recognised by QuickDraw"
                elif not min_strokes <= len(drawing) <= max_strokes:
                    reason = f"{len(drawing)} strokes, outside {min_strokes}..{max_strokes}"
                elif per_word is not None and count.get(word, 0) >= per_word:
                    reason = f"more than {per_word} drawings of {word!r}"
                if reason:
                    report.skipped.append(f"{where}: {reason}")
                    continue
                count[word] = count.get(word, 0) + 1
                kept.append((word, drawing))
    words = sorted(count)
    if len(words) < 4:
        raise DataError(f"QuickDraw episodes need 4 distinct words for the 4 choices; the input has {words}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for rid, (word, drawing) in enumerate(kept):
        name = word[:1].upper() + word[1:]
        others = [w[:1].upper() + w[1:] for w in shuffled(rng, [w for w in words if w != word])[:3]]
        rel = f"{PREFIX}/{rid:07d}"
        for k in range(len(drawing)):
            write_png(out / rel / f"{k:04d}.png", render_strokes(drawing[: k + 1], size))
        lines.append(
            json.dumps(
                {
                    "id": rid,
                    "prompt": PROMPT,
                    "options": shuffled(rng, [choose(rng, DETAILS_TEXTS), choose(rng, ABSTAIN_TEXTS)]),
                    "categories": shuffled(rng, [f"{n}." for n in (name, *others)]),
                    "answer": f"{name}.",
                    "image_template": f"{rel}/{{image}}.png",
                    "first_image": 0,
                    "num_images": len(drawing),
                    "reference_image": len(drawing) - 1,
                }
            )
        )
    (out / f"{PREFIX}_preprocessed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.written = len(lines)
    return report

"""GRPO training rows from the authors' train parquet, and the reward of a reply to one of its rows.

The authors' train split (Hugging Face dataset ``tdemin16/ProactiveBench``, split ``train``, files
``data/train-000NN-of-00014.parquet``, 26,879 single-turn QuickDraw + COCO states) declares these columns:

- ``prompt``: chat messages ``[{"role": ..., "content": [{"type": "image" | "text", "text": ...}]}]``
  (image parts have ``text`` null);
- ``ground_truth``: the correct category; ``proactive_actions``: the useful suggestions; ``options``: the
  options; ``images``: the images, in the order of the prompt's image parts.

Other columns (per-model confidences in some versions) are ignored. Whether ``ground_truth``,
``proactive_actions`` and ``options`` carry a letter (``"B. Dog."``) or only the text (``"Dog."``) is not
known here, so every comparison goes through :func:`normalise`, which accepts both. Tested on parquet files
written to the declared schema, not on the real download (not reachable where this was written).

Everything is a pure function of its arguments; pyarrow (installed with ``datasets``) reads the files
directly, so nothing is copied into a ``datasets`` cache.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from proactive_gym.protocol import N_CATEGORIES, evaluate_reply, is_abstain, split_options
from proactive_gym.scenarios import SCENARIOS

REQUIRED_COLUMNS = ("prompt", "ground_truth", "proactive_actions", "options", "images")
EXPECTED = (
    "the authors' train split of the Hugging Face dataset tdemin16/ProactiveBench "
    "(data/train-*.parquet, columns " + ", ".join(REQUIRED_COLUMNS) + ")"
)
#: The scenarios of the authors' train split: they win when option texts fit several scenarios
#: (COCO's "Move the camera to the left." also fits ROD's keywords).
TRAIN_SCENARIOS = ("QuickDraw", "COCO")

_LETTER = re.compile(r"^\s*[A-Z]\.\s+")
_OPTION_LINE = re.compile(r"^([A-Z])\. (.+)$")
#: A hub shard's file name: ``<split>-<shard>-of-<shards>.parquet``.
_SHARD = re.compile(r"^([A-Za-z0-9_.]+?)-\d+-of-\d+\.parquet$")


class ParquetDataError(ValueError):
    """A train parquet that cannot be used: the message names the file (and row) and what is wrong."""


def strip_letter(text: str) -> str:
    """``"B. Dog."`` -> ``"Dog."``; text without a leading ``"<capital letter>. "`` is returned stripped."""
    return _LETTER.sub("", text, count=1).strip()


def normalise(text: str) -> str:
    """Comparison key: no leading ``"<capital letter>. "``, no surrounding spaces or trailing period, any case."""
    return strip_letter(text).rstrip(".").strip().casefold()


def split_of(file: Path) -> str | None:
    """The split a hub shard's name gives (``test-00000-of-00002.parquet`` -> ``"test"``), else None."""
    match = _SHARD.match(file.name)
    return match.group(1) if match else None


def parquet_files(path: str | Path) -> list[Path]:
    """``path`` itself when it is a ``.parquet`` file, else every ``*.parquet`` below it (recursive, sorted)
    except the shards of other splits: a hub snapshot's ``data/`` folder also holds ``test-*.parquet``,
    which must not become training rows (files not named as hub shards are all kept)."""
    path = Path(path)
    if path.is_file():
        if path.suffix != ".parquet":
            raise ParquetDataError(
                f"{path} is not a .parquet file; give {EXPECTED}, or the folder holding it"
            )
        return [path]
    if not path.exists():
        raise ParquetDataError(f"no such file or folder: {path}; give {EXPECTED}, or the folder holding it")
    found = sorted(path.rglob("*.parquet"))
    files = [f for f in found if split_of(f) in (None, "train")]
    if not found:
        raise ParquetDataError(f"no .parquet file under {path}; expected {EXPECTED}")
    if not files:
        others = ", ".join(sorted({str(split_of(f)) for f in found}))
        raise ParquetDataError(
            f"no train .parquet file under {path} (only shards of the split(s) {others}); expected {EXPECTED}"
        )
    return files


def check_columns(files: list[Path]) -> None:
    """Raise :class:`ParquetDataError` when a file lacks a required column (reads the schemas only)."""
    import pyarrow.parquet as pq

    for file in files:
        names = set(pq.read_schema(file).names)
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ParquetDataError(
                f"{file} has no column {', '.join(repr(c) for c in missing)}; expected {EXPECTED}"
            )


def options_in_prompt(text: str) -> list[str] | None:
    """The options a prompt shows (``"Options:\\nA. ...\\nB. ..."``, SPEC section 3), without letters; None if none."""
    if "Options:\n" not in text:
        return None
    options: list[str] = []
    for line in text.rsplit("Options:\n", 1)[1].split("\n"):
        match = _OPTION_LINE.match(line)
        if not match or match.group(1) != chr(65 + len(options)):
            break
        options.append(match.group(2).strip())
    return options or None


def infer_scenario(actions: list[str]) -> str:
    """The scenario whose ``action_keywords`` match every (non-abstain) action text, or ``"unknown"``.

    When several match, the authors' train scenarios (QuickDraw, COCO) win; a tie among others is unknown.
    """
    texts = [strip_letter(a).lower() for a in actions if not is_abstain(a)]
    if not texts:
        return "unknown"
    hits = [
        s.name
        for s in SCENARIOS.values()
        if s.action_keywords and all(any(key in t for key, _ in s.action_keywords) for t in texts)
    ]
    if len(hits) > 1:
        hits = [h for h in hits if h in TRAIN_SCENARIOS]
    return hits[0] if len(hits) == 1 else "unknown"


def _image(value: Any, where: str) -> Any:
    """A PIL image from a parquet image cell (``{"bytes": ..., "path": ...}`` as ``datasets`` writes it)."""
    from PIL import Image

    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
    else:
        data, path = value, None
    if data:
        return Image.open(io.BytesIO(data))
    if path and Path(path).is_file():
        return Image.open(path)
    raise ParquetDataError(f"{where}: an image has neither bytes nor a readable path ({path!r})")


def convert_row(record: dict[str, Any], where: str) -> dict[str, Any]:
    """One parquet record -> one trainer row (the shape of ``build_rows`` in grpo.py).

    Columns: ``prompt`` (chat messages; image parts ``{"type": "image", "text": None}``, text parts
    ``{"type": "text", "text": ...}``), ``images`` (PIL images), ``ground_truth``, ``proactive_actions``
    (JSON list), ``options`` (JSON list of the options shown, without letters: read from the prompt's
    lettered list when it has one, so that a letter reply resolves to what the model saw; else the
    record's ``options``) and ``scenario`` (:func:`infer_scenario`). ``where`` names the row in errors.
    """
    prompt, placeholders, texts = [], 0, []
    for message in record["prompt"]:
        content = message["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        converted = []
        for part in parts:
            if part["type"] == "image":
                placeholders += 1
                converted.append({"type": "image", "text": None})
            elif part["type"] == "text":
                converted.append({"type": "text", "text": part["text"] or ""})
                texts.append(part["text"] or "")
            else:
                raise ParquetDataError(
                    f"{where}: prompt part of type {part['type']!r}; expected image or text"
                )
        prompt.append({"role": message["role"], "content": converted})
    images = [_image(value, where) for value in record["images"] or []]
    if placeholders != len(images):
        raise ParquetDataError(
            f"{where}: the prompt has {placeholders} image part(s) but the row has {len(images)} image(s); "
            "they must match one to one"
        )
    shown = next((o for o in map(options_in_prompt, reversed(texts)) if o), None)
    shown = shown or [strip_letter(o) for o in record["options"]]
    truth = record["ground_truth"]
    if normalise(truth) not in {normalise(o) for o in shown}:
        raise ParquetDataError(f"{where}: ground_truth {truth!r} is not among the options shown {shown}")
    actions = list(record["proactive_actions"] or [])
    return {
        "prompt": prompt,
        "images": images,
        "ground_truth": truth,
        "proactive_actions": json.dumps(actions),
        "options": json.dumps(shown),
        # No useful action (e.g. QuickDraw's last frame): the suggestions still shown tell the scenario.
        "scenario": infer_scenario(actions or split_options(shown)[0]),
    }


def load_parquet_rows(path: str | Path, max_rows: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Trainer rows (:func:`convert_row`) of the train parquet at ``path`` (a file or a folder of them).

    ``max_rows`` draws that many rows without replacement (numpy, seeded by ``seed``) and keeps them in
    file order; the same arguments give the same rows. Raises :class:`ParquetDataError` with the file and
    row index for a missing path, a missing column or a malformed row.
    """
    import numpy as np
    import pyarrow.parquet as pq

    files = parquet_files(path)
    check_columns(files)
    counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
    total = sum(counts)
    if max_rows is not None and max_rows < total:
        chosen = sorted(np.random.default_rng(seed).choice(total, size=max_rows, replace=False).tolist())
    else:
        chosen = list(range(total))
    rows, start = [], 0
    for file, count in zip(files, counts, strict=True):
        local = [i - start for i in chosen if start <= i < start + count]
        if local:
            table = pq.read_table(file, columns=list(REQUIRED_COLUMNS)).take(local)
            for i, record in zip(local, table.to_pylist(), strict=True):
                rows.append(convert_row(record, f"{file}, row {i}"))
        start += count
    return rows


def score_reply(
    reply: str,
    options: list[str],
    ground_truth: str,
    proactive_actions: list[str],
    reward_correct: float = 1.0,
    reward_suggestion: float = 0.5,
) -> tuple[float, str]:
    """Reward and outcome (``proactive_gym.config.OUTCOMES``) of ``reply`` to a row showing ``options``.

    The reply is read by the env's strict parser (``proactive_gym.protocol.evaluate_reply``: option text,
    then option letter, ``options`` lettered A, B, ... in order). The chosen option is then: the ground
    truth -> ``(reward_correct, "correct")``; an abstain option -> ``(0, "abstain")`` (the paper rewards
    abstaining 0 even if the data lists it as an action); one of ``proactive_actions`` ->
    ``(reward_suggestion, "useful_suggestion")``; another of the last four options (the categories, SPEC
    section 3) -> ``(0, "wrong_answer")``; any other option -> ``(0, "useless_suggestion")``. No option ->
    ``(0, "unparsable")``. Ground truth and actions may carry a letter or not (:func:`normalise`).
    """
    options = [strip_letter(o) for o in options]
    truth, useful = normalise(ground_truth), {normalise(a) for a in proactive_actions}
    right = [o for o in options if normalise(o) == truth or normalise(o) in useful]
    verdict, chosen = evaluate_reply(reply, right, options, 0)
    if verdict == "mismatch" or chosen is None:
        return 0.0, "unparsable"
    key = normalise(chosen)
    if key == truth:
        return float(reward_correct), "correct"
    if is_abstain(chosen):
        return 0.0, "abstain"
    if key in useful:
        return float(reward_suggestion), "useful_suggestion"
    if options.index(chosen) >= len(options) - N_CATEGORIES:
        return 0.0, "wrong_answer"
    return 0.0, "useless_suggestion"

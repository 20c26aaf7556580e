"""Episode source for the released format: ``{Prefix}_preprocessed.jsonl`` plus images under a data root.

Entries are read and checked whole when the env is made (nothing half-loaded); images are read lazily,
one per step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.data.errors import RELEASE_HELP, DataError
from proactive_gym.data.subsets import HOW_TO_GET, load_subset_file, paper_subset
from proactive_gym.scenarios import Scenario

SUBSETS = ("auto", "all", "paper")


@dataclass(frozen=True)
class EpisodeSet:
    """The episodes of one scenario: raw entries in data order, and where their images live."""

    scenario: Scenario
    root: Path
    split: str
    subset: str  # what was actually used: "all", "paper" or "file:<path>"
    source: str  # "released" or "synthetic"
    entries: list[dict[str, Any]] = field(repr=False)

    def image_path(self, key: str) -> Path:
        return self.root / key


def split_root(data_root: Path, split: str) -> Path:
    """Split "test" is the data root itself; any other split S lives in ``<data_root>/S``."""
    return data_root if split == "test" else data_root / split


def _check_entry(entry: Any, scenario: Scenario, where: str) -> None:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(entry).__name__}")
    missing = [f for f in scenario.required_fields if f not in entry]
    if missing:
        raise DataError(
            f"{where}: entry {entry.get('id', '?')} lacks {', '.join(missing)} "
            f"(a {scenario.name} entry needs {', '.join(scenario.required_fields)}). "
            "Is this the right file for this scenario, and complete? Re-download it."
        )
    problems = []
    if not isinstance(entry["id"], int):
        problems.append("'id' must be an integer")
    if not (isinstance(entry["options"], list) and all(isinstance(o, str) for o in entry["options"])):
        problems.append("'options' must be a list of strings")
    cats = entry["categories"]
    if not (isinstance(cats, list) and all(isinstance(c, str) for c in cats)):
        problems.append("'categories' must be a list of strings")
    elif entry["answer"] not in cats:
        problems.append(f"'answer' {entry['answer']!r} is not one of the categories")
    if not isinstance(entry["image_template"], str):
        problems.append("'image_template' must be a string")
    if not isinstance(entry["num_images"], int) or entry["num_images"] < 1:
        problems.append("'num_images' must be a positive integer")
    if problems:
        raise DataError(f"{where}: entry {entry.get('id', '?')}: {'; '.join(problems)}")


def read_jsonl(path: Path, scenario: Scenario) -> list[dict[str, Any]]:
    """Read and check every line of a released-format file; raise DataError naming the line."""
    entries = []
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{where}: not valid JSON ({exc.msg} at column {exc.colno}). The file is damaged or "
                    f"truncated: download it again. {RELEASE_HELP}"
                ) from None
            _check_entry(entry, scenario, where)
            entries.append(entry)
    ids = [e["id"] for e in entries]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: sample ids are not unique; the file is damaged: download it again")
    return entries


def _select_subset(
    entries: list[dict[str, Any]], scenario: Scenario, subset: str, subset_file: str | None
) -> tuple[list[dict[str, Any]], str]:
    if subset_file is not None:
        ids = load_subset_file(str(subset_file)).get(scenario.name)
        if ids is None:
            raise DataError(f"subset file {subset_file} has no id list for {scenario.name}")
        return [e for e in entries if e["id"] in ids], f"file:{subset_file}"
    if subset == "all":
        return entries, "all"
    lists = paper_subset()
    if lists is None:
        if subset == "paper":
            raise DataError(f"the paper's subset needs the authors' id lists: {HOW_TO_GET}")
        return entries, "all"
    ids = lists.get(scenario.name)
    if ids is None:
        raise DataError(f"the installed proactivebench package has no id list for {scenario.prefix}")
    return [e for e in entries if e["id"] in ids], "paper"


def load_released(
    scenario: Scenario,
    data_root: str | Path,
    split: str = "test",
    subset: str = "auto",
    subset_file: str | Path | None = None,
    source: str = "released",
) -> EpisodeSet:
    """Load one scenario's episodes from a released-format data root.

    ``subset``: "all" (every line; VSOD strong occlusions only), "paper" (the 7,557-sample benchmark,
    which needs the authors' id lists), or "auto" (the paper's subset when its id lists are available,
    else all; ``EpisodeSet.subset`` says which). ``subset_file`` overrides both with the user's ids.
    """
    if subset not in SUBSETS:
        raise DataError(f"unknown subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    root = split_root(Path(data_root).expanduser(), split)
    if not root.is_dir():
        raise DataError(f"data root {root} (split {split!r}) is not a directory. {RELEASE_HELP}")
    path = root / f"{scenario.prefix}_preprocessed.jsonl"
    if not path.is_file():
        raise DataError(
            f"{path} does not exist: the {scenario.name} scenario needs {path.name} in {root}. {RELEASE_HELP}"
        )
    entries = read_jsonl(path, scenario)
    if scenario.name == "VSOD":
        entries = [e for e in entries if e["strong_occlusions"] is True]
    entries, used = _select_subset(
        entries, scenario, subset, None if subset_file is None else str(subset_file)
    )
    if not entries:
        raise DataError(
            f"{path}: no episodes left after filtering (subset {used}); check the file and subset"
        )
    episodes = EpisodeSet(scenario, root, split, used, source, entries)
    first = entries[0]
    key = scenario.image_key(first, scenario.initial_state(first))
    if not episodes.image_path(key).is_file():
        raise DataError(_missing_image_message(episodes, first, key))
    return episodes


def _missing_image_message(episodes: EpisodeSet, entry: dict[str, Any], key: str) -> str:
    return (
        f"image {episodes.image_path(key)} not found (sample {entry['id']} of "
        f"{episodes.root / (episodes.scenario.prefix + '_preprocessed.jsonl')}, image_template "
        f"{entry['image_template']!r}). The image archives must be unpacked inside {episodes.root} so that "
        f"the templates resolve. {RELEASE_HELP}"
    )


def load_image(
    episodes: EpisodeSet, entry: dict[str, Any], key: str, box: tuple[float, ...] | None = None
) -> np.ndarray:
    """Read one image as a fresh ``uint8`` array of shape (H, W, 3), cropped to ``box`` if given."""
    from PIL import Image, UnidentifiedImageError

    path = episodes.image_path(key)
    try:
        with Image.open(path) as raw:
            img = raw.convert("RGB")
    except FileNotFoundError:
        raise DataError(_missing_image_message(episodes, entry, key)) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(
            f"image {path} (sample {entry['id']}) cannot be decoded: {exc}. Re-extract it."
        ) from None
    if box is not None:
        left, top, right, bottom = box
        img = img.crop((left, top, right, bottom))
    return np.array(img, dtype=np.uint8)

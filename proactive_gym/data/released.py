"""Episode source for the released format: ``{Prefix}_preprocessed.jsonl`` plus images under a data root.

Entries are read and checked whole when the env is made (one pass per file, every bad line reported at
once: see :mod:`proactive_gym.data.schema`); images are read lazily, one per step.

The data root is a boundary: every image path comes from a template checked at make time (relative, no
``..``), and an image is opened only when its real path (symlinks followed) lies inside the real data
root. A symlink inside the root may point anywhere inside the root, never outside it; the root itself may
be a symlink (it is resolved first). To keep images on another disk, make the whole data root live there
(or link the root, not the folders inside it).

:func:`check_images` checks, before the first episode, that every image the planned episodes can show is
a regular, non-empty file inside the root (a ``stat``, no decoding). :func:`load_image` refuses an image
over ``max_pixels`` (``EnvConfig.max_image_pixels``, default 25 M pixels) before decoding it (PIL also
refuses images over about 179 M pixels on its own, whatever the limit), and turns every decode failure into a :class:`DataError` naming the file and the sample.
"""

from __future__ import annotations

import gc
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.config import DEFAULT_MAX_PIXELS
from proactive_gym.data.errors import RELEASE_HELP, DataError
from proactive_gym.data.schema import MAX_REPORTED, check_entry, format_problems, show
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
    lines: dict[int, int] = field(default_factory=dict, repr=False)  # sample id -> line in the JSONL
    max_pixels: int = DEFAULT_MAX_PIXELS
    _real_root: str = field(init=False, repr=False, compare=False)
    _real_dirs: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _inside: set[str] = field(init=False, repr=False, compare=False, default_factory=set)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_root", os.path.realpath(self.root))

    @property
    def jsonl(self) -> Path:
        return self.root / f"{self.scenario.prefix}_preprocessed.jsonl"

    def image_path(self, key: str) -> Path:
        return self.root / key

    def where(self, entry: dict[str, Any]) -> str:
        """``sample 3 (line 4 of /data/QuickDraw_preprocessed.jsonl)``, for messages."""
        line = self.lines.get(entry["id"])
        return f"sample {entry['id']} ({f'line {line} of ' if line else ''}{self.jsonl})"

    def real_path(self, key: str) -> str:
        """The real path of an image (symlinks followed), from a cache of real folder paths."""
        path = os.path.join(self.root, key)
        folder, name = os.path.split(path)
        real_folder = self._real_dirs.get(folder)
        if real_folder is None:
            real_folder = self._real_dirs[folder] = os.path.realpath(folder)
        real = os.path.join(real_folder, name)
        return os.path.realpath(real) if os.path.islink(real) else real

    def is_inside(self, real: str) -> bool:
        return real == self._real_root or real.startswith(self._real_root.rstrip(os.sep) + os.sep)

    def image_file(self, key: str, entry: dict[str, Any]) -> str:
        """The path to open for image ``key``, after checking that it lies inside the data root."""
        path = os.path.join(self.root, key)
        if key not in self._inside:
            real = self.real_path(key)
            if not self.is_inside(real):
                raise DataError(self._outside_message(key, entry, real))
            self._inside.add(key)
        return path

    def _outside_message(self, key: str, entry: dict[str, Any], real: str) -> str:
        return (
            f"image {self.image_path(key)} ({self.where(entry)}) resolves to {real}, outside the data root "
            f"{self._real_root}: a symlink inside the data root may point only inside it. Move or copy the "
            "files into the root (or make the whole root a link to where they are)."
        )


def split_root(data_root: Path, split: str) -> Path:
    """Split "test" is the data root itself; any other split S lives in ``<data_root>/S``."""
    return data_root if split == "test" else data_root / split


def read_entries(path: Path, scenario: Scenario) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Read and check every line of a released-format file in one pass (see :mod:`.schema`).

    Returns the entries and the line of each sample id; raises one :class:`DataError` listing every
    problem of the file (up to ``MAX_REPORTED``) with line, field, what was found and what is expected.
    The garbage collector is paused while the file is parsed (it would otherwise scan the growing list of
    entries again and again: quadratic on large files).
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path} cannot be read ({err}). {RELEASE_HELP}") from None
    entries: list[dict[str, Any]] = []
    lines: dict[int, int] = {}
    problems: list[tuple[int, tuple[str, str, str]]] = []
    paused = gc.isenabled()
    gc.disable()
    try:
        for lineno, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                byte = f"byte 0x{raw[err.start]:02x} at column {err.start + 1}"
                problems.append((lineno, ("", byte, "UTF-8 text")))
                continue
            try:
                entry = json.loads(text)
            except ValueError as err:  # JSONDecodeError, or a number too long to convert
                at = f" at column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
                msg = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
                problems.append(
                    (lineno, ("", f"text that is not valid JSON ({msg}{at})", "one JSON object per line"))
                )
                continue
            except RecursionError:
                problems.append((lineno, ("", "JSON nested too deeply", "one flat JSON object per line")))
                continue
            found = check_entry(entry, scenario)
            if not found and entry["id"] in lines:
                found = [
                    ("id", show(entry["id"]), f"an id not used before (line {lines[entry['id']]} has it)")
                ]
            if found:
                problems.extend((lineno, p) for p in found)
                continue
            lines[entry["id"]] = lineno
            entries.append(entry)
    finally:
        if paused:
            gc.enable()
    if problems:
        fix = (
            "Fix these lines (a file from the release that fails here is damaged or truncated: "
            f"download it again). {RELEASE_HELP}"
        )
        raise DataError(format_problems(path, problems, fix))
    return entries, lines


def read_jsonl(path: Path, scenario: Scenario) -> list[dict[str, Any]]:
    """The checked entries of a released-format file (see :func:`read_entries`)."""
    return read_entries(path, scenario)[0]


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
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> EpisodeSet:
    """Load one scenario's episodes from a released-format data root.

    ``subset``: "all" (every line; VSOD strong occlusions only), "paper" (the 7,557-sample benchmark,
    which needs the authors' id lists), or "auto" (the paper's subset when its id lists are available,
    else all; ``EpisodeSet.subset`` says which). ``subset_file`` overrides both with the user's ids.
    ``max_pixels``: the largest image (width x height) :func:`load_image` decodes.
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
    entries, lines = read_entries(path, scenario)
    if scenario.name == "VSOD":
        entries = [e for e in entries if e["strong_occlusions"] is True]
    entries, used = _select_subset(
        entries, scenario, subset, None if subset_file is None else str(subset_file)
    )
    if not entries:
        raise DataError(
            f"{path}: no episodes left after filtering (subset {used}); check the file and subset"
        )
    episodes = EpisodeSet(scenario, root, split, used, source, entries, lines, max_pixels)
    first = entries[0]
    key = scenario.image_key(first, scenario.initial_state(first))
    if not os.path.isfile(episodes.image_file(key, first)):
        raise DataError(_missing_image_message(episodes, first, key))
    return episodes


def image_keys(scenario: Scenario, entry: dict[str, Any], reference: bool = False) -> list[str]:
    """Every image path (relative to the data root) an episode of ``entry`` can show, in order, once each.

    From the rules of SPEC section 3: ROD and VSOD reach every frame of their circular track; MVP-N shows
    ``valid_images`` turn by turn (the last one informative); ImageNet-C lowers the severity and QuickDraw
    adds a stroke per suggestion; ChangeIt reaches ``first_image`` +- k ``step_size`` (k < ``max_steps``)
    inside the video; COCO has one image. ``reference``: the reference frame only (the reference mode).
    """
    state = scenario.initial_state(entry)
    if reference:
        return [scenario.image_key(entry, state, reference=True)]
    name, n, first = scenario.name, int(entry["num_images"]), entry["first_image"]
    steps: list[tuple[int, int, str | None]] = [(first, 0, None)]  # (frame, turn, last action)
    if name in ("ROD", "VSOD"):
        actions = dict.fromkeys(action for _, action in scenario.action_keywords)
        steps += [(f, 1, a) for f in range(n) for a in actions]
    elif name == "MVP-N":
        steps += [(entry["valid_images"][k], k, None) for k in range(1, n)]
    elif name == "ImageNet-C":
        steps += [(first - k, k, None) for k in range(1, n)]
    elif name == "QuickDraw":
        steps += [(first + k, k, None) for k in range(1, n)]
    elif name == "ChangeIt":
        m, step = int(entry["max_steps"]), int(entry["step_size"])
        steps += [(first + k * step, 1, None) for k in range(1 - m, m) if k and 0 <= first + k * step < n]
    keys: dict[str, None] = {}
    for frame, turn, action in steps:
        state.update(frame=frame, turn=turn, last_action=action)
        keys[scenario.image_key(entry, state)] = None
    return list(keys)


def check_images(
    episodes: EpisodeSet, sample_ids: Iterable[int] | None = None, reference: bool = False
) -> int:
    """Check that every image the episodes ``sample_ids`` (default: all) can show is a regular, non-empty
    file inside the data root: one ``stat`` per image, no decoding. Raises one :class:`DataError` listing
    the bad images (up to ``MAX_REPORTED``); returns the number of images checked.
    """
    by_id = {e["id"]: e for e in episodes.entries}
    wanted = by_id.values() if sample_ids is None else [by_id[i] for i in sample_ids if i in by_id]
    seen: set[str] = set()
    problems: list[str] = []
    count = 0
    for entry in wanted:
        for key in image_keys(episodes.scenario, entry, reference):
            if key in seen:
                continue
            seen.add(key)
            count += 1
            problem = _image_problem(episodes, key)
            if problem is not None:
                problems.append(f"  {episodes.image_path(key)}: {problem} ({episodes.where(entry)})")
    if problems:
        shown = problems[:MAX_REPORTED] + (
            [f"  ... and {len(problems) - MAX_REPORTED} more"] if len(problems) > MAX_REPORTED else []
        )
        raise DataError(
            f"{len(problems)} of the {count} images that the planned {episodes.scenario.name} episodes can "
            "show cannot be used:\n"
            + "\n".join(shown)
            + f"\nThe image archives must be unpacked inside {episodes.root} so that the templates resolve. "
            + RELEASE_HELP
        )
    return count


def _image_problem(episodes: EpisodeSet, key: str) -> str | None:
    real = episodes.real_path(key)
    if not episodes.is_inside(real):
        return f"resolves to {real}, outside the data root (a symlink in the root may point only inside it)"
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return "not found"
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size == 0:
        return "empty (0 bytes)"
    episodes._inside.add(key)
    return None


def _missing_image_message(episodes: EpisodeSet, entry: dict[str, Any], key: str) -> str:
    return (
        f"image {episodes.image_path(key)} not found ({episodes.where(entry)}, image_template "
        f"{entry['image_template']!r}). The image archives must be unpacked inside {episodes.root} so that "
        f"the templates resolve. {RELEASE_HELP}"
    )


def _too_large(episodes: EpisodeSet, entry: dict[str, Any], path: str, what: str, pixels: int) -> DataError:
    return DataError(
        f"image {path} ({episodes.where(entry)}): {what} has {pixels:,} pixels, over the limit of "
        f"{episodes.max_pixels:,} (max_image_pixels); decoding it would take about "
        f"{pixels * 4 / 1e9:.1f} GB. Shrink the image, or raise max_image_pixels if it is genuine."
    )


def load_image(
    episodes: EpisodeSet, entry: dict[str, Any], key: str, box: tuple[float, ...] | None = None
) -> np.ndarray:
    """Read one image as a fresh, read-only ``uint8`` array of shape (H, W, 3), cropped to ``box`` if given.

    One full-frame copy after the decode (PIL's packing into the array); an RGB image is not converted.
    """
    from PIL import Image

    path = episodes.image_file(key, entry)
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > episodes.max_pixels:
                raise _too_large(episodes, entry, path, f"{width}x{height}", width * height)
            if box is not None:
                left, top, right, bottom = box
                area = int(right - left) * int(bottom - top)
                if area > episodes.max_pixels:
                    raise _too_large(episodes, entry, path, f"the crop box {list(box)}", area)
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            if box is not None:
                rgb = rgb.crop((left, top, right, bottom))
            return np.asarray(rgb)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(_missing_image_message(episodes, entry, key)) from None
    except Image.DecompressionBombError as err:
        raise DataError(
            f"image {path} ({episodes.where(entry)}) is a decompression bomb ({err}). Shrink the image."
        ) from None
    except Exception as err:  # noqa: BLE001 - any decoder failure: name the file and the sample
        raise DataError(
            f"image {path} ({episodes.where(entry)}) cannot be decoded ({type(err).__name__}: {err}). "
            "Re-extract it from the image archive."
        ) from None

"""Helpers every synthetic scenario generator shares: seeding, PNG writing, option texts, the record checker.

PNG files are written by :func:`write_png` with the standard library's ``zlib`` at a fixed level and a
fixed row filter, so the bytes depend only on the pixels (not on Pillow's bundled compressor).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.protocol import is_abstain
from proactive_gym.scenarios.base import COMMON_FIELDS

ABSTAIN_TEXTS = ("I cannot tell.", "I do not know.", "I cannot answer.", "I do not have enough information.")
ROTATE_TEXTS = (
    "Rotate the object.",
    "Change the camera angle.",
    "Show me a different view.",
    "Change the orientation of the object.",
    "Show the object from another view.",
)
# each names exactly one of the env's keywords (details, quickdraw, drawing, sketch), as the authors' action
# parser requires
DETAILS_TEXTS = (
    "Add more details.",
    "Add more strokes to the sketch.",
    "Show me more of the drawing.",
    "Please add more details.",
)
REWIND = "Rewind the video."

SPLIT_OFFSETS = {"test": 0, "train": 1_000_000}
DEFAULT_SIZES = {"test": 100, "train": 400}


def split_offset(split: str) -> int:
    """The first record id of a split: test 0, train 1,000,000, any other name a distinct stable block."""
    if split in SPLIT_OFFSETS:
        return SPLIT_OFFSETS[split]
    return 1_000_000 * (2 + zlib.crc32(split.encode()) % 997)


def default_size(split: str) -> int:
    """Episodes per scenario when no size is given: 100 for test (and other splits), 400 for train."""
    return DEFAULT_SIZES.get(split, DEFAULT_SIZES["test"])


def episode_rng(seed: int, scenario: str, split: str, index: int) -> np.random.Generator:
    """The generator for one episode, from (seed, scenario, split, index): independent of every other."""
    key = [int(seed), zlib.crc32(scenario.encode()), zlib.crc32(split.encode()), int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an HxWx3 uint8 array as an 8-bit RGB PNG, byte-for-byte reproducible."""
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"write_png expects an HxWx3 uint8 array, got shape {arr.shape}")
    h, w, _ = arr.shape
    raw = np.zeros((h, w * 3 + 1), dtype=np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = arr.reshape(h, w * 3)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    body = zlib.compress(raw.tobytes(), 6)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def shuffled(rng: np.random.Generator, items: Sequence[str]) -> list[str]:
    """``items`` in a random order drawn from ``rng``."""
    return [items[i] for i in rng.permutation(len(items))]


def choose(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    """One element of ``items`` drawn from ``rng``."""
    return items[int(rng.integers(len(items)))]


def with_period(names: Sequence[str]) -> list[str]:
    """Category names as the release writes them: each ends with a period ("Vase.")."""
    return [n if n.endswith(".") else n + "." for n in names]


@dataclass
class Context:
    """Where and how one episode is written: its id, its folder (relative to the data root) and rng."""

    root: Path
    prefix: str
    record_id: int
    rng: np.random.Generator

    @property
    def rel_dir(self) -> str:
        return f"{self.prefix}/{self.record_id:07d}"

    def save(self, name: str, image: np.ndarray) -> None:
        """Write one image of this episode as ``<prefix>/<id>/<name>``."""
        write_png(self.root / self.rel_dir / name, image)


def check_record(scenario: str, entry: dict[str, Any]) -> None:
    """Raise ValueError if ``entry`` breaks SPEC sections 2 and 3 (the fields every scenario needs)."""
    where = f"{scenario} record {entry.get('id')!r}"
    for key in COMMON_FIELDS:
        if key not in entry:
            raise ValueError(f"{where}: missing field {key!r}")
    cats = entry["categories"]
    if len(cats) != 4 or len(set(cats)) != 4 or not all(isinstance(c, str) and c.endswith(".") for c in cats):
        raise ValueError(f"{where}: categories must be 4 distinct strings ending with '.', got {cats}")
    if entry["answer"] not in cats:
        raise ValueError(f"{where}: answer {entry['answer']!r} not among categories {cats}")
    abstain = [o for o in entry["options"] if is_abstain(o)]
    if len(abstain) != 1:
        raise ValueError(f"{where}: options need exactly one abstain option, got {entry['options']}")
    json.dumps(entry)  # must be JSON-serialisable

"""Tiny hand-made data in the released format, for tests and benchmarks.

Every image encodes where it came from: solid colour ``(frame * 10 % 256, sample id, informative * 255)``
for frame-based scenarios, and a gradient ``(x, y, 128)`` for COCO so that a crop's first pixel gives its
box. The entries cover every rule of SPEC section 3 (ROD's turn-0 rule and circular track with the
corrupted banana frame, VSOD strong occlusions, MVP-N's informative last view, ImageNet-C's single useful
fix, QuickDraw strokes, ChangeIt options vanishing at both ends, COCO zoom / one / two directions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

ABSTAIN = "I cannot tell."
ROD_OPTIONS = ["Move the block to the left.", ABSTAIN, "Move the block to the right."]
VIDEO_OPTIONS = ["Rewind the video.", "I do not know.", "Wait for the occlusion to disappear."]
CHANGEIT_OPTIONS = ["Wait for the object to appear.", ABSTAIN, "Rewind the video."]
FIXES = [
    "Deblur the image.",
    "Increase the brightness.",
    ABSTAIN,
    "Denoise the image.",
    "Increase the contrast.",
]


def _solid(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)


def _gradient(path: Path, width: int = 120, height: int = 90) -> None:
    from PIL import Image

    x = np.tile(np.arange(width, dtype=np.uint8), (height, 1))
    y = np.tile(np.arange(height, dtype=np.uint8)[:, None], (1, width))
    arr = np.stack([x, y, np.full_like(x, 128)], axis=-1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _entry(id: int, prompt: str, options: list[str], answer: str, **fields: Any) -> dict[str, Any]:
    cats = (
        [answer, "Cup.", "Lamp.", "Shoe."]
        if answer not in ("Cup.", "Lamp.", "Shoe.")
        else [
            answer,
            "Vase.",
            "Kite.",
            "Drum.",
        ]
    )
    cats = cats[1:2] + cats[0:1] + cats[2:]  # the answer second: options are pre-shuffled in the data
    return {"id": id, "prompt": prompt, "options": options, "categories": cats, "answer": answer, **fields}


def fixture_entries() -> dict[str, list[dict[str, Any]]]:
    """The fixture entries by released prefix."""
    rod_q = "What is the object behind the blocks?"
    return {
        "Realistic-Occlusion-Dataset": [
            _entry(
                0,
                rod_q,
                ROD_OPTIONS,
                "Vase.",
                image_template="ROD/vase/s{image}.png",
                first_image=7,
                num_images=14,
                reference_image=5,
            ),
            _entry(
                1,
                rod_q,
                ROD_OPTIONS,
                "Banana.",
                image_template="ROD/natural_bluebl_greenr-banana-s{image}.png",
                first_image=7,
                num_images=14,
                reference_image=9,
            ),
        ],
        "OcclusionDataSet-MM20": [
            _entry(
                0,
                "Who is talking?",
                VIDEO_OPTIONS,
                "The man.",
                image_template="VSOD/v0/{image}.png",
                first_image=5,
                num_images=10,
                reference_image=2,
                strong_occlusions=True,
            ),
            _entry(
                1,
                "How many people are there?",
                VIDEO_OPTIONS,
                "Two.",
                image_template="VSOD/v1/{image}.png",
                first_image=1,
                num_images=10,
                reference_image=8,
                strong_occlusions=False,
            ),
            _entry(
                2,
                "Which event is happening?",
                VIDEO_OPTIONS,
                "A party.",
                image_template="VSOD/v2/{image}.png",
                first_image=0,
                num_images=6,
                reference_image=4,
                strong_occlusions=True,
            ),
        ],
        "MVP-N": [
            _entry(
                0,
                "What product is this?",
                ["Rotate the object.", ABSTAIN],
                "Soap.",
                image_template="MVP-N/p0/{image}_{informative}.png",
                first_image=3,
                num_images=3,
                reference_image=1,
                valid_images=[3, 7, 1],
            ),
        ],
        "ImageNet-C": [
            _entry(
                0,
                "What is in the image?",
                FIXES,
                "Goldfish.",
                image_template="ImageNet-C/blur/{level}/x.png",
                first_image=5,
                num_images=5,
                reference_image=1,
                quality_answer="Deblur the image.",
            ),
        ],
        "QuickDraw": [
            _entry(
                0,
                "What is this drawing?",
                ["Add more details.", ABSTAIN],
                "Cat.",
                image_template="QuickDraw/cat/{image}.png",
                first_image=0,
                num_images=4,
                reference_image=3,
            ),
        ],
        "ChangeIt": [
            _entry(
                0,
                "What object is shown in the video?",
                CHANGEIT_OPTIONS,
                "Bike.",
                image_template="ChangeIt/a/{image}.png",
                first_image=1,
                num_images=10,
                reference_image=7,
                step_size=3,
                max_steps=4,
            ),
            _entry(
                1,
                "What object is shown in the video?",
                CHANGEIT_OPTIONS,
                "Bike.",
                image_template="ChangeIt/b/{image}.png",
                first_image=8,
                num_images=10,
                reference_image=2,
                step_size=3,
                max_steps=4,
            ),
            _entry(
                2,
                "What action is shown in the video?",
                ["Wait for the action to appear.", ABSTAIN, "Rewind the video."],
                "Cooking.",
                image_template="ChangeIt/c/{image}.png",
                first_image=1,
                num_images=3,
                reference_image=1,
                step_size=3,
                max_steps=2,
            ),
        ],
        "coco2014": [
            _entry(
                0,
                "What is the object in the image?",
                ["Move farther from the object.", ABSTAIN],
                "Dog.",
                image_template="COCO/img.png",
                first_image=0,
                num_images=1,
                reference_image=0,
                direction="zoom",
                granularity=3,
                horizontal_step=10,
                vertical_step=8,
                crop={"top": 40, "left": 50, "height": 20, "width": 25},
            ),
            _entry(
                1,
                "What is the object in the image?",
                ["Move the camera to the left.", ABSTAIN],
                "Dog.",
                image_template="COCO/img.png",
                first_image=0,
                num_images=1,
                reference_image=0,
                direction="left",
                granularity=3,
                horizontal_step=10,
                vertical_step=0,
                crop={"top": 10, "left": 70, "height": 60, "width": 110},
            ),
            _entry(
                2,
                "What is the object in the image?",
                ["Move the camera up.", ABSTAIN, "Move the camera to the left."],
                "Dog.",
                image_template="COCO/img.png",
                first_image=0,
                num_images=1,
                reference_image=0,
                direction="up_left",
                granularity=2,
                horizontal_step=15,
                vertical_step=12,
                crop={"top": 50, "left": 60, "height": 90, "width": 120},
            ),
        ],
    }


def _frames(entry: dict[str, Any], prefix: str) -> list[tuple[str, tuple[int, int, int]]]:
    """(relative path, colour) of every image an entry can show."""
    template, sid = entry["image_template"], entry["id"]
    out = []
    if prefix == "MVP-N":
        for informative in (0, 1):
            for frame in entry["valid_images"]:
                key = template.format(image=str(frame).zfill(4), informative=informative)
                out.append((key, (frame * 10 % 256, sid, informative * 255)))
    elif prefix == "ImageNet-C":
        for level in range(0, 6):
            out.append((template.format(level=level), (level * 10, sid, 0)))
    elif prefix in ("OcclusionDataSet-MM20", "QuickDraw"):
        for frame in range(entry["num_images"] + 1):
            out.append((template.format(image=str(frame).zfill(4)), (frame * 10 % 256, sid, 0)))
    else:
        for frame in range(entry["num_images"] + 1):
            out.append((template.format(image=frame), (frame * 10 % 256, sid, 0)))
    return out


def write_fixture(root: str | Path, prefixes: list[str] | None = None) -> Path:
    """Write the fixture data set (JSONL files and images) under ``root``; returns ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, entries in fixture_entries().items():
        if prefixes is not None and prefix not in prefixes:
            continue
        with (root / f"{prefix}_preprocessed.jsonl").open("w", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry) + "\n")
        for entry in entries:
            if prefix == "coco2014":
                _gradient(root / entry["image_template"])
                continue
            for key, rgb in _frames(entry, prefix):
                if "banana-s6" in key:
                    continue  # the release's corrupted frame: the env must never show it
                _solid(root / key, rgb)
    return root

"""Build COCO episodes in the released format from COCO-style instance annotations and their images.

Input: an ``instances_*.json`` file (``images`` with ``id``, ``file_name``, ``width``, ``height``;
``annotations`` with ``image_id``, ``category_id``, ``bbox`` [x, y, w, h], ``iscrowd``; ``categories``
with ``id``, ``name``, ``supercategory``) and the folder of its images. Single-object images (exactly one
non-crowd annotation) become episodes: a badly framed first crop with low overlap with the object, and a
direction (zoom, one direction or two) whose moves reveal it, following SPEC section 3's crop rules (see
:func:`plan_crop`). Distractor categories come from the object's supercategory first.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.data.builders.quickdraw import BuildReport
from proactive_gym.data.errors import DataError
from proactive_gym.data.synthetic.coco import OPTION_FOR
from proactive_gym.data.synthetic.common import ABSTAIN_TEXTS, choose, shuffled

log = logging.getLogger(__name__)
PREFIX = "coco2014"
PROMPT = "What is the object in the image?"
DIRECTIONS = ("zoom", "left", "right", "up", "down", "up_left", "up_right", "down_left", "down_right")


def _axis(size: int, o0: float, o1: float, g: int, towards_low: bool) -> tuple[int, int, int] | None:
    """One axis where the crop grows towards the object [o0, o1): (stored moving edge, fixed edge, step)
    with the env's convention, or None when the object is too close to the image edge for it."""
    if not towards_low:  # mirror, solve on the low side, mirror back
        r = _axis(size, size - o1, size - o0, g, True)
        return None if r is None else (size - r[0], size - r[1], r[2])
    length = o1 - o0
    final_edge = max(0, math.floor(o0) - 4)
    first_edge_min = o1 - 0.15 * length  # the first crop overlaps the object by at most 15%
    step = max(1, math.ceil((first_edge_min - final_edge) / (g - 1)))
    first_edge = final_edge + (g - 1) * step
    fixed = min(size, first_edge + max(32, round(0.5 * length)))
    if fixed - first_edge < 32:
        return None
    return first_edge + step, fixed, step


def plan_crop(width: int, height: int, bbox: list[float], direction: str, g: int) -> dict[str, Any] | None:
    """The entry fields (``crop``, ``horizontal_step``, ``vertical_step``) for one direction, or None if
    the object's position does not allow it. For a direction, ``crop.width``/``crop.height`` hold the
    right/bottom edges of the first crop before the first step; for zoom, the size of the central box."""
    x, y, w, h = bbox
    if direction == "zoom":
        cx, cy = x + w / 2, y + h / 2
        room_x, room_y = min(cx, width - cx), min(cy, height - cy)
        h0, v0 = math.floor((room_x - 2) / (g + 1)), math.floor((room_y - 2) / (g + 1))
        # the first crop (central box grown by one step) must sit inside the object
        if h0 < 4 or v0 < 4 or 2 * h0 > 0.6 * w or 2 * v0 > 0.6 * h:
            return None
        left, top = round(cx) - 1, round(cy) - 1
        crop = {"top": top, "left": left, "height": 2, "width": 2}
        return {"crop": crop, "horizontal_step": h0, "vertical_step": v0}
    crop = {
        "left": max(0, math.floor(x) - 8),
        "width": min(width, math.ceil(x + w) + 8),
        "top": max(0, math.floor(y) - 8),
        "height": min(height, math.ceil(y + h) + 8),
    }
    h0 = v0 = 0
    if "left" in direction or "right" in direction:
        r = _axis(width, x, x + w, g, "left" in direction)
        if r is None:
            return None
        moving, fixed, h0 = r
        crop["left" if "left" in direction else "width"] = moving
        crop["width" if "left" in direction else "left"] = fixed
    if "up" in direction or "down" in direction:
        r = _axis(height, y, y + h, g, "up" in direction)
        if r is None:
            return None
        moving, fixed, v0 = r
        crop["top" if "up" in direction else "height"] = moving
        crop["height" if "up" in direction else "top"] = fixed
    return {"crop": {k: int(v) for k, v in crop.items()}, "horizontal_step": h0, "vertical_step": v0}


def _load_instances(path: Path) -> tuple[dict[int, dict], list[dict], dict[int, dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (give a COCO instances_*.json)") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key) if isinstance(data, dict) else None, list):
            raise DataError(f"{path}: expected a COCO instances file with a list '{key}'")
    images, cats = {}, {}
    for i, im in enumerate(data["images"]):
        if not (
            isinstance(im, dict)
            and isinstance(im.get("id"), int)
            and isinstance(im.get("file_name"), str)
            and isinstance(im.get("width"), int)
            and isinstance(im.get("height"), int)
        ):
            raise DataError(f"{path}: images[{i}] needs integer id, width, height and a string file_name")
        images[im["id"]] = im
    for i, c in enumerate(data["categories"]):
        if not (isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str)):
            raise DataError(f"{path}: categories[{i}] needs an integer id and a string name")
        cats[c["id"]] = c
    for i, a in enumerate(data["annotations"]):
        bbox = a.get("bbox") if isinstance(a, dict) else None
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DataError(f"{path}: annotations[{i}] needs a bbox of 4 numbers [x, y, w, h]")
        if a.get("image_id") not in images or a.get("category_id") not in cats:
            raise DataError(f"{path}: annotations[{i}] names an unknown image_id or category_id")
    return images, data["annotations"], cats


def build_coco(
    instances: str | Path,
    images_dir: str | Path,
    out_dir: str | Path,
    min_area: float = 0.05,
    max_images: int | None = None,
    skip_bad: bool = False,
    seed: int = 0,
) -> BuildReport:
    """Write ``coco2014_preprocessed.jsonl`` and copies of the used images into ``out_dir``.

    Uses images with exactly one non-crowd annotation covering at least ``min_area`` of the image. Each
    gets a random granularity (3..5) and a random direction among those its object's position allows. A
    malformed instances file raises DataError naming the file and item; a missing image raises too, or is
    left out and listed in the report with ``skip_bad=True``. Images left out by the rules are listed too.
    """
    path, src = Path(instances), Path(images_dir)
    images, annotations, cats = _load_instances(path)
    per_image: dict[int, list[dict]] = {}
    for a in annotations:
        per_image.setdefault(a["image_id"], []).append(a)
    names = sorted({c["name"] for c in cats.values()})
    if len(names) < 4:
        raise DataError(f"{path}: COCO episodes need at least 4 categories for the 4 choices, found {names}")
    rng = np.random.default_rng(seed)
    report = BuildReport()
    out = Path(out_dir)
    lines: list[str] = []
    for image_id in sorted(images):
        im = images[image_id]
        where = f"{path}: image {image_id} ({im['file_name']})"
        anns = [a for a in per_image.get(image_id, []) if not a.get("iscrowd")]
        if len(anns) != 1:
            report.skipped.append(f"{where}: {len(anns)} objects, not a single-object image")
            continue
        ann = anns[0]
        x, y, w, h = ann["bbox"]
        if w * h < min_area * im["width"] * im["height"]:
            report.skipped.append(f"{where}: object covers less than {min_area:.0%} of the image")
            continue
        file = src / im["file_name"]
        if not file.is_file():
            msg = f"{where}: image file {file} not found"
            if not skip_bad:
                raise DataError(f"{msg} (check the images folder, or pass --skip-bad)")
            report.skipped.append(msg)
            log.warning("skipped %s", msg)
            continue
        g = int(rng.integers(3, 6))
        plans = [(d, p) for d in DIRECTIONS if (p := plan_crop(im["width"], im["height"], ann["bbox"], d, g))]
        if not plans:
            report.skipped.append(f"{where}: no direction fits the object's position")
            continue
        direction, plan = choose(rng, plans)
        cat = cats[ann["category_id"]]
        same = [c["name"] for c in cats.values() if c.get("supercategory") == cat.get("supercategory")]
        pool = [n for n in shuffled(rng, sorted(set(same))) if n != cat["name"]]
        pool += [n for n in shuffled(rng, names) if n != cat["name"] and n not in pool]
        title = [n[:1].upper() + n[1:] + "." for n in (cat["name"], *pool[:3])]
        rel = f"{PREFIX}/{im['file_name']}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, out / rel)
        moves = ["zoom"] if direction == "zoom" else direction.split("_")
        lines.append(
            json.dumps(
                {
                    "id": len(lines),
                    "prompt": PROMPT,
                    "options": shuffled(rng, [*(OPTION_FOR[m] for m in moves), choose(rng, ABSTAIN_TEXTS)]),
                    "categories": shuffled(rng, title),
                    "answer": title[0],
                    "image_template": rel,
                    "first_image": 0,
                    "num_images": 1,
                    "reference_image": 0,
                    "direction": direction,
                    "granularity": g,
                    **plan,
                    "coco_image_id": image_id,
                }
            )
        )
        if max_images is not None and len(lines) >= max_images:
            break
    if not lines:
        raise DataError(
            f"{path}: no usable single-object image; {len(report.skipped)} left out: {report.skipped[:3]}"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{PREFIX}_preprocessed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.written = len(lines)
    return report

"""Builders that turn raw data in public formats into released-format episodes (``proactive-gym data build``).

- :func:`build_quickdraw`: QuickDraw simplified ``.ndjson`` drawings, episodes by stroke count.
- :func:`build_coco`: COCO-style instance annotations + images, single-object images with low-overlap crops.
"""

from __future__ import annotations

from proactive_gym.data.builders.coco import build_coco, plan_crop
from proactive_gym.data.builders.quickdraw import BuildReport, build_quickdraw

__all__ = ["BuildReport", "build_coco", "build_quickdraw", "plan_crop"]

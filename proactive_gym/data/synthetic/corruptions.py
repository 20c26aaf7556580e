"""The real ImageNet-C corruption functions (the ``imagecorruptions`` package), reproducible and working
with numpy 2 and scikit-image >= 0.19.

The package draws from numpy's global random state and calls two APIs that newer libraries removed
(``np.float_`` and skimage's ``gaussian(multichannel=...)``). :func:`corrupt` runs one corruption with the
package's module-level ``np`` and ``gaussian`` swapped, for the duration of the call only, for a proxy whose
``random`` is a private ``RandomState(seed)`` and a ``gaussian`` that maps ``multichannel`` to
``channel_axis``. The global random state is never touched, and site-packages is never edited.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
from PIL import Image

# corruption name -> the quality fix that undoes it (a keyword of the env's ImageNet-C action map each)
FIX_FOR = {
    "gaussian_noise": "Denoise the image.",
    "shot_noise": "Denoise the image.",
    "speckle_noise": "Denoise the image.",
    "defocus_blur": "Deblur the image.",
    "motion_blur": "Deblur the image.",
    "zoom_blur": "Deblur the image.",
    "gaussian_blur": "Deblur the image.",
    "contrast": "Increase the contrast.",
    "brightness": "Decrease the brightness.",
    "jpeg_compression": "Remove JPEG compression.",
    "pixelate": "Increase the resolution.",
    "fog": "Remove the artifacts.",
    "frost": "Remove the artifacts.",
    "snow": "Remove the artifacts.",
    "spatter": "Remove the artifacts.",
    "elastic_transform": "Remove the artifacts.",
}
# every fix text the benchmark offers (distractors are drawn from the ones that do not match)
ALL_FIXES = (
    "Decrease the brightness.",
    "Increase the contrast.",
    "Increase the saturation.",
    "Deblur the image.",
    "Denoise the image.",
    "Remove JPEG compression.",
    "Increase the resolution.",
    "Remove the artifacts.",
)
# glass_blur is left out for cost (~400 ms per image); impulse_noise because skimage draws it from an
# unseeded generator; saturate because its severity 5 (over-saturation) hides nothing.
CORRUPTIONS = tuple(FIX_FOR)

_LOCK = threading.Lock()


class _NumpyProxy:
    """numpy, except ``random`` (a private RandomState) and the alias ``float_`` removed in numpy 2."""

    float_ = np.float64

    def __init__(self, seed: int) -> None:
        self.random = np.random.RandomState(seed)

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


def _gaussian(image: Any, *args: Any, multichannel: bool | None = None, **kwargs: Any) -> Any:
    from skimage.filters import gaussian

    if multichannel is not None and "channel_axis" not in kwargs:
        kwargs["channel_axis"] = -1 if multichannel else None
    return gaussian(image, *args, **kwargs)


def corrupt(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Apply ImageNet-C corruption ``name`` at ``severity`` (1..5) to an HxWx3 uint8 image (>= 32x32),
    with randomness from ``seed`` only. Returns a new uint8 array of the same shape."""
    if name not in CORRUPTIONS:
        raise ValueError(
            f"unknown or unsupported corruption {name!r}; choose one of {', '.join(CORRUPTIONS)}"
        )
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be 1..5, got {severity!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from imagecorruptions import corruptions as module
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the synthetic ImageNet-C scenario needs the 'imagecorruptions' package (with scikit-image, scipy, "
            f"opencv and setuptools<81 for its pkg_resources import): pip install 'proactive_gym[synthetic]' ({exc})"
        ) from exc
    func = getattr(module, name)
    with _LOCK:
        saved = module.np, module.gaussian
        module.np, module.gaussian = _NumpyProxy(seed), _gaussian
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = func(Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)), severity)
        finally:
            module.np, module.gaussian = saved
    arr = np.asarray(out, dtype=np.float64)
    if arr.shape != image.shape:
        raise RuntimeError(f"corruption {name} returned shape {arr.shape} for input {image.shape}")
    # like imagecorruptions.corrupt: values are already in 0..255, the cast truncates
    return np.clip(arr, 0, 255).astype(np.uint8)

"""Gymnasium spaces for free text and images of any size.

Gymnasium's own ``spaces.Text`` only admits a fixed character set (letters and digits by default), so a
reply such as ``"F. Vase."`` or a prompt with newlines would not be a member. ``FreeText`` admits any
Python string up to ``max_length`` characters; ``Image`` admits any ``uint8`` array of shape ``(H, W, 3)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

# Characters that ``FreeText.sample`` draws from: printable ASCII, whitespace, some accented letters,
# CJK, an emoji and the replacement character, so that agents and parsers get exercised on junk.
_SAMPLE_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?()-'\"\n\tàéîõüßñçØ漢字かな😀\ufffd"
)


class FreeText(spaces.Space[str]):
    """Any unicode string of at most ``max_length`` characters.

    ``sample()`` returns junk text (random characters, random length up to ``sample_length``).

    >>> space = FreeText(max_length=10)
    >>> space.contains("F. Vase.")
    True
    >>> space.contains("x" * 11)
    False
    """

    def __init__(self, max_length: int = 100_000, sample_length: int = 64, seed: int | None = None):
        if max_length < 0:
            raise ValueError(f"FreeText max_length must be >= 0, got {max_length}")
        self.max_length = int(max_length)
        self.sample_length = int(min(sample_length, max_length))
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        length = int(self.np_random.integers(0, self.sample_length + 1))
        idx = self.np_random.integers(0, len(_SAMPLE_ALPHABET), size=length)
        return "".join(_SAMPLE_ALPHABET[i] for i in idx)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"FreeText(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FreeText) and other.max_length == self.max_length


class Image(spaces.Space[np.ndarray]):
    """A ``uint8`` RGB image of any height and width: an array of shape ``(H, W, 3)``.

    ``sample()`` returns noise of shape ``sample_shape``.

    >>> import numpy as np
    >>> Image().contains(np.zeros((375, 500, 3), dtype=np.uint8))
    True
    >>> Image().contains(np.zeros((4, 4), dtype=np.uint8))
    False
    """

    def __init__(self, sample_shape: tuple[int, int] = (64, 64), seed: int | None = None):
        self.sample_shape = tuple(int(s) for s in sample_shape)
        super().__init__(shape=None, dtype=np.uint8, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        h, w = self.sample_shape
        return self.np_random.integers(0, 256, size=(h, w, 3), dtype=np.uint8)

    def contains(self, x: Any) -> bool:
        return (
            isinstance(x, np.ndarray)
            and x.dtype == np.uint8
            and x.ndim == 3
            and x.shape[2] == 3
            and x.shape[0] > 0
            and x.shape[1] > 0
        )

    def __repr__(self) -> str:
        return "Image(H, W, 3, uint8)"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Image)

"""Gymnasium spaces for free text and images of any size.

Gymnasium's own ``spaces.Text`` only admits a fixed character set (letters and digits by default), so a
reply such as ``"F. Vase."`` or a prompt with newlines would not be a member. ``FreeText`` admits any
Python string up to ``max_length`` characters; ``Image`` admits any ``uint8`` array of shape ``(H, W, 3)``.

Both register Gymnasium's shared-memory functions, so ``gym.make_vec(id, n, vectorization_mode="async")``
works with its default ``shared_memory=True``: a ``FreeText`` slot holds ``max_length`` code points, an
``Image`` slot ``max_pixels`` pixels (default 1920x1080; a larger observation raises a ValueError that
says to pass ``vector_kwargs={"shared_memory": False}``). Observations with ``history`` (a
``Sequence`` space) have no fixed size, so they need ``shared_memory=False`` as every Gymnasium
``Sequence`` does.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

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

    def __init__(
        self, sample_shape: tuple[int, int] = (64, 64), seed: int | None = None, max_pixels: int = 1920 * 1080
    ):
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.max_pixels = int(max_pixels)  # capacity of one shared-memory slot (vector envs)
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


# ----------------------------------------------------------------------------- shared memory (vector envs)
# Gymnasium's AsyncVectorEnv (shared_memory=True, its default) allocates one fixed-size slot per env and
# space; workers write their observations there. It reads the slots back once, when it is built, and then
# returns deepcopies of that object (copy=True, the default) or the object itself: like a Box's array
# view, the object must show the current contents. Text and images of varying size cannot be such an
# array, so the read returns a SharedBatch: a live sequence whose deepcopy is a plain tuple of the values.


class SharedBatch(Sequence):  # type: ignore[type-arg]
    """A live batch read from shared memory: item ``i`` is decoded from slot ``i`` when accessed.

    ``copy.deepcopy`` (what AsyncVectorEnv returns by default) gives a plain tuple of copies.
    """

    def __init__(self, item: Callable[[int], Any], n: int) -> None:
        self._item, self._n = item, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self._item(i) for i in range(self._n)[index])
        if not -self._n <= index < self._n:
            raise IndexError(index)
        return self._item(index % self._n)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[Any, ...]:
        return tuple(copy.deepcopy(self._item(i)) for i in range(self._n))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedBatch({tuple(self)!r})"


@create_shared_memory.register(FreeText)
def _create_text_memory(space: FreeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array("i", n * (space.max_length + 1))  # per slot: the length, then the code points


@write_to_shared_memory.register(FreeText)
def _write_text_memory(space: FreeText, index: int, value: str, shared_memory: Any) -> None:
    size = space.max_length + 1
    slot = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * size : (index + 1) * size]
    points = np.frombuffer(value.encode("utf-32-le"), dtype=np.int32)
    if len(points) > space.max_length:
        raise ValueError(f"a text of {len(points)} characters does not fit {space!r}")
    slot[0] = len(points)
    slot[1 : 1 + len(points)] = points


@read_from_shared_memory.register(FreeText)
def _read_text_memory(space: FreeText, shared_memory: Any, n: int = 1) -> SharedBatch:
    data = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(n, space.max_length + 1)
    return SharedBatch(lambda i: data[i, 1 : 1 + data[i, 0]].tobytes().decode("utf-32-le"), n)


@create_shared_memory.register(Image)
def _create_image_memory(space: Image, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array("q", 2 * n), ctx.Array("B", n * space.max_pixels * 3)  # (height, width), pixels


@write_to_shared_memory.register(Image)
def _write_image_memory(space: Image, index: int, value: np.ndarray, shared_memory: Any) -> None:
    shapes, pixels = shared_memory
    h, w = int(value.shape[0]), int(value.shape[1])
    if h * w > space.max_pixels:
        raise ValueError(
            f"an image of {h}x{w} pixels does not fit the vector env's shared memory ({space.max_pixels} "
            "pixels a slot): pass vector_kwargs={'shared_memory': False} to gym.make_vec"
        )
    np.frombuffer(shapes.get_obj(), dtype=np.int64)[2 * index : 2 * index + 2] = (h, w)
    size = space.max_pixels * 3
    slot = np.frombuffer(pixels.get_obj(), dtype=np.uint8)[index * size : index * size + h * w * 3]
    slot[:] = np.ascontiguousarray(value, dtype=np.uint8).reshape(-1)


@read_from_shared_memory.register(Image)
def _read_image_memory(space: Image, shared_memory: Any, n: int = 1) -> SharedBatch:
    shapes = np.frombuffer(shared_memory[0].get_obj(), dtype=np.int64).reshape(n, 2)
    pixels = np.frombuffer(shared_memory[1].get_obj(), dtype=np.uint8).reshape(n, space.max_pixels * 3)

    def item(i: int) -> np.ndarray:
        h, w = (int(v) for v in shapes[i])
        return pixels[i, : h * w * 3].reshape(h, w, 3)

    return SharedBatch(item, n)

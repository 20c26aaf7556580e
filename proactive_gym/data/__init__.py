"""Episode sources: the released JSONL format, the paper's subsets, and the built-in synthetic data."""

from proactive_gym.data.errors import DataError
from proactive_gym.data.released import EpisodeSet, load_released

__all__ = ["DataError", "EpisodeSet", "load_released"]

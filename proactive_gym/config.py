"""Frozen configuration of a ProactiveBench env and of its rewards."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = (
    "correct",
    "wrong_answer",
    "abstain",
    "useful_suggestion",
    "useless_suggestion",
    "unparsable",
    "out_of_turns",
)


@dataclass(frozen=True)
class RewardConfig:
    """Reward of one reply by its outcome. The paper's default: 1 for the correct category, 0.5 for a
    useful suggestion, 0 otherwise (SPEC section 6 also tries 0.75 and 1.0 for suggestions)."""

    correct: float = 1.0
    useful_suggestion: float = 0.5
    wrong_answer: float = 0.0
    abstain: float = 0.0
    useless_suggestion: float = 0.0
    unparsable: float = 0.0
    out_of_turns: float = 0.0

    def of(self, outcome: str) -> float:
        return float(getattr(self, outcome))

    @classmethod
    def coerce(cls, value: RewardConfig | dict[str, float] | None) -> RewardConfig:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
            if unknown:
                raise ValueError(f"unknown reward keys {sorted(unknown)}; valid: {list(OUTCOMES)}")
            return cls(**{k: float(v) for k, v in value.items()})
        raise TypeError(f"reward must be a RewardConfig or a dict, got {type(value).__name__}")


MODES = ("mcqa", "open")
DATA_SOURCES = ("auto", "released", "synthetic")
# The largest image (width x height) the env decodes: 25 M pixels, a 5000 x 5000 image (about 75 MB
# decoded). The benchmark's largest images (COCO) are 640 x 640; a bigger one is refused before decoding.
DEFAULT_MAX_PIXELS = 25_000_000


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines a ProactiveBench env besides its scenario (see ``ProactiveEnv``)."""

    data: str = "auto"
    data_root: str | None = None
    split: str = "test"
    subset: str = "auto"
    subset_file: str | None = None
    # The settings of the paper's protocol (proactive_gym.settings; the run summary lists them as flags).
    hint: bool = field(default=False, metadata={"setting": True})
    reference: bool = field(default=False, metadata={"setting": True})
    history: bool = field(default=False, metadata={"setting": True})
    icl_examples: int = field(default=0, metadata={"setting": True})
    icl_full: bool = field(default=False, metadata={"setting": True})
    random_options: bool = field(default=False, metadata={"setting": True})
    mode: str = field(default="mcqa", metadata={"setting": True})
    open_samples: int | None = 100
    synthetic_seed: int = 0
    synthetic_size: int | None = None
    reward: RewardConfig = field(default_factory=RewardConfig)
    max_image_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {DATA_SOURCES}, got {self.data!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "open" and (
            self.reference or self.history or self.icl_examples or self.random_options
        ):
            raise ValueError(
                "open-ended mode is single-turn with no options: it cannot be combined with reference, "
                "history, icl_examples or random_options"
            )
        if self.icl_examples < 0:
            raise ValueError(f"icl_examples must be >= 0 (the paper uses 1 or 3), got {self.icl_examples}")
        if self.icl_full and not self.icl_examples:
            raise ValueError("icl_full=True (full-length demonstrations) needs icl_examples=1 or 3")
        if type(self.max_image_pixels) is not int or self.max_image_pixels < 1:
            raise ValueError(f"max_image_pixels must be a positive integer, got {self.max_image_pixels!r}")
        object.__setattr__(self, "reward", RewardConfig.coerce(self.reward))

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The fields that are settings of the paper's protocol (hint, reference, history, ...)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("setting"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

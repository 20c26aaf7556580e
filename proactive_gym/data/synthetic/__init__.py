"""Built-in synthetic versions of the seven ProactiveBench scenarios, written in the released format.

``generate(out_dir, split, seed, size)`` writes ``{Prefix}_preprocessed.jsonl`` files and PNG images
(SPEC section 2) plus a manifest; ``ensure_synthetic(split, seed, size)`` returns a cached data root,
generating it on first use. The same (seed, split, size) gives the same bytes on every machine with the
same library versions: every episode draws from its own ``numpy`` Generator seeded from
(seed, scenario, split, index), and images are written by a fixed PNG encoder.
"""

from __future__ import annotations

from proactive_gym.data.synthetic.cache import (
    GENERATOR_VERSION,
    MANIFEST,
    SyntheticCacheError,
    cache_root,
    ensure_synthetic,
    verify,
)
from proactive_gym.data.synthetic.generate import SCENARIO_MODULES, generate

__all__ = [
    "GENERATOR_VERSION",
    "MANIFEST",
    "SCENARIO_MODULES",
    "SyntheticCacheError",
    "cache_root",
    "ensure_synthetic",
    "generate",
    "verify",
]

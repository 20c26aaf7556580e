"""The one error type for bad or missing data."""

from __future__ import annotations

RELEASE_HELP = (
    "Get the real benchmark from the Hugging Face dataset tdemin16/ProactiveBench: put the "
    "*_preprocessed.jsonl files in one folder, unpack every image archive beside them (keep the folder "
    "names inside the archives), and pass that folder as data_root= (or set PROACTIVE_GYM_DATA). "
    "Or use the built-in synthetic data: data='synthetic'."
)


class DataError(ValueError):
    """Data that cannot be used as it is: the message names the file (and line), what was expected, and
    how to fix it."""

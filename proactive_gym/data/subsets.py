"""Which samples form the paper's 7,557-sample benchmark.

The id lists are the authors'; this repository does not copy them. They are read from the
``proactivebench`` package when it is installed (its ``data_utils.py`` holds a ``FILTER`` dict), by
parsing the source file, so that its torch dependency is never imported; or from a JSON file the user
gives: ``{"ROD": [0, 1, ...], "coco2014": [...]}`` (keys: short names or released prefixes).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from proactive_gym.data.errors import DataError
from proactive_gym.scenarios import get_scenario

HOW_TO_GET = (
    "install the authors' package next to this one (`pip install proactivebench`, Python >= 3.12; it is "
    "only read, never imported) or pass subset_file=<json mapping scenario -> list of ids>, or use "
    "subset='all'"
)


def proactivebench_file(name: str) -> Path | None:
    """The path of ``proactivebench/<name>`` if the authors' package is installed, without importing it."""
    try:
        spec = importlib.util.find_spec("proactivebench")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / name
        if candidate.is_file():
            return candidate
    return None


def _proactivebench_source() -> Path | None:
    """The path of ``proactivebench/data_utils.py`` (which holds the ``FILTER`` dict), or None."""
    return proactivebench_file("data_utils.py")


def read_literal(path: Path, name: str) -> Any:
    """The value of the top-level literal assignment ``name = ...`` of a Python source file (parsed with
    :mod:`ast`, never imported), or None when the file has no such assignment."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def _filter_from_source(path: Path) -> dict[str, list[int]]:
    """Evaluate the literal ``FILTER = {...}`` assignment of a Python source file."""
    value = read_literal(path, "FILTER")
    if isinstance(value, dict):
        return {str(k): [int(i) for i in v] for k, v in value.items()}
    raise DataError(f"{path}: no literal FILTER dict found; {HOW_TO_GET}")


def _normalise(mapping: dict[str, list[int]], source: str) -> dict[str, frozenset[int]]:
    out: dict[str, frozenset[int]] = {}
    for key, ids in mapping.items():
        try:
            name = get_scenario(key).name
        except ValueError as exc:
            raise DataError(f"{source}: {exc}") from None
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise DataError(f"{source}: the value for {key!r} must be a list of integer sample ids")
        out[name] = frozenset(ids)
    return out


@functools.lru_cache(maxsize=8)
def load_subset_file(path: str) -> dict[str, frozenset[int]]:
    """Read a user-given id file: a JSON object mapping scenario names (or prefixes) to lists of ids."""
    file = Path(path).expanduser()
    try:
        mapping = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"subset file {file} does not exist") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"subset file {file} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(mapping, dict):
        raise DataError(f"subset file {file} must hold a JSON object {{scenario: [ids]}}")
    return _normalise(mapping, str(file))


@functools.lru_cache(maxsize=1)
def paper_subset() -> dict[str, frozenset[int]] | None:
    """The paper's id lists from an installed ``proactivebench``, or None when it is not installed."""
    source = _proactivebench_source()
    if source is None:
        return None
    return _normalise(_filter_from_source(source), str(source))

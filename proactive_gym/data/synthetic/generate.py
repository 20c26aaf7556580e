"""Write one split of the synthetic benchmark into a folder, in the released format, with a manifest."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from proactive_gym.data.synthetic import changeit, coco, imagenet_c, mvpn, quickdraw, rod, vsod
from proactive_gym.data.synthetic.common import Context, check_record, default_size, episode_rng, split_offset

log = logging.getLogger(__name__)

GENERATOR_VERSION = "syn-1"
MANIFEST = "synthetic_manifest.json"
# short name -> generator module (each has PREFIX and make_episode(ctx) -> record), in the contract's order
SCENARIO_MODULES: dict[str, ModuleType] = {
    "ROD": rod,
    "VSOD": vsod,
    "MVP-N": mvpn,
    "ImageNet-C": imagenet_c,
    "QuickDraw": quickdraw,
    "ChangeIt": changeit,
    "COCO": coco,
}


def _resolve(scenarios: Iterable[str] | None) -> list[str]:
    if scenarios is None:
        return list(SCENARIO_MODULES)
    names = []
    lookup = {k.lower(): k for k in SCENARIO_MODULES}
    lookup.update({m.PREFIX.lower(): k for k, m in SCENARIO_MODULES.items()})
    for s in scenarios:
        key = lookup.get(str(s).lower())
        if key is None:
            raise ValueError(f"unknown scenario {s!r}; choose from {', '.join(SCENARIO_MODULES)}")
        if key not in names:
            names.append(key)
    return names


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _prepare_out_dir(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} exists and is not a folder; choose another --out")
    if root.is_dir() and any(root.iterdir()):
        if not (overwrite and (root / MANIFEST).is_file()):
            hint = (
                "" if (root / MANIFEST).is_file() else " (it holds no synthetic manifest, so it is not ours)"
            )
            raise FileExistsError(
                f"{root} is not empty{hint}; give an empty or new folder, or overwrite=True "
                "(--overwrite) to replace synthetic data written there before"
            )
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)


def generate(
    out_dir: str | Path,
    split: str = "test",
    seed: int = 0,
    size: int | None = None,
    scenarios: Iterable[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``size`` episodes per scenario of ``split`` into ``out_dir`` (the data root of that split).

    Writes ``{Prefix}_preprocessed.jsonl`` per scenario, the images under ``{Prefix}/<id>/``, and
    ``synthetic_manifest.json`` (generator version, parameters, size and sha256 of every file). Record ids
    are ``split offset + index`` (test from 0, train from 1,000,000), so splits never share an id.
    ``size`` defaults to 100 episodes per scenario for test and 400 for train. ``out_dir`` must be empty
    or missing; with ``overwrite=True`` a folder written earlier by this function (it has a manifest) is
    emptied first. Returns ``out_dir``.
    """
    if not split or "/" in split or split.startswith("."):
        raise ValueError(f"split must be a plain name such as 'test' or 'train', got {split!r}")
    n = default_size(split) if size is None else int(size)
    if n < 1:
        raise ValueError(f"size must be a positive number of episodes per scenario, got {size!r}")
    names = _resolve(scenarios)
    root = Path(out_dir)
    _prepare_out_dir(root, overwrite)
    offset = split_offset(split)
    for name in names:
        module = SCENARIO_MODULES[name]
        lines = []
        for i in range(n):
            ctx = Context(root, module.PREFIX, offset + i, episode_rng(seed, name, split, i))
            record = module.make_episode(ctx)
            check_record(name, record)
            lines.append(json.dumps(record))
        (root / f"{module.PREFIX}_preprocessed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        log.debug("synthetic %s %s: %d episodes written to %s", name, split, n, root)
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(root).as_posix()
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "split": split,
        "seed": int(seed),
        "size": n,
        "scenarios": names,
        "files": files,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return root

"""The on-disk cache of generated synthetic data: generated once, checked on every use, never half-written.

Layout: ``<cache>/synthetic/<generator version>/seed<seed>-n<size>/<split>/`` where ``<cache>`` is
``$PROACTIVE_GYM_CACHE`` or ``~/.cache/proactive_gym``. A split is generated into a temporary sibling
folder and renamed into place only when complete (a rename is atomic), under a file lock so that two
processes never generate the same split at once. Every use checks the manifest and the size of every file
it lists (cheap); ``verify(full=True)`` also checks every sha256. A folder that fails the check (an
interrupted or corrupted generation, a stale generator version) is regenerated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from proactive_gym.data.errors import DataError
from proactive_gym.data.synthetic.common import default_size
from proactive_gym.data.synthetic.generate import GENERATOR_VERSION, MANIFEST, generate, sha256_file

log = logging.getLogger(__name__)

__all__ = ["GENERATOR_VERSION", "MANIFEST", "SyntheticCacheError", "cache_root", "ensure_synthetic", "verify"]


class SyntheticCacheError(DataError):
    """The synthetic data cache cannot be used (for example, its folder is not writable)."""


def cache_root() -> Path:
    """The cache folder: ``$PROACTIVE_GYM_CACHE`` if set, else ``~/.cache/proactive_gym``."""
    env = os.environ.get("PROACTIVE_GYM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "proactive_gym"


def verify(root: str | Path, full: bool = False) -> list[str]:
    """Problems with a generated data root (empty list: it is complete and current).

    Checks that the manifest exists, names the current generator version, and that every file it lists
    exists with the listed size; with ``full=True`` also that every file's sha256 matches.
    """
    root = Path(root)
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        version = manifest["generator_version"]
    except FileNotFoundError:
        return [f"{path} is missing"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{path} is unreadable: {exc}"]
    if version != GENERATOR_VERSION:
        return [f"{path}: generator version {version!r}, current is {GENERATOR_VERSION!r}"]
    problems = []
    for rel, meta in files.items():
        f = root / rel
        try:
            size = f.stat().st_size
        except OSError:
            problems.append(f"{f} is missing")
            continue
        if size != meta["size"]:
            problems.append(f"{f} has {size} bytes, the manifest says {meta['size']}")
        elif full and sha256_file(f) != meta["sha256"]:
            problems.append(f"{f} does not match its sha256 in the manifest")
    return problems


@contextlib.contextmanager
def _lock(path: Path, timeout: float = 600.0) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (fcntl where available, else a lock-file)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]
    if fcntl is not None:
        with path.open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    deadline = time.monotonic() + timeout  # pragma: no cover
    while True:  # pragma: no cover
        try:
            fd = os.open(path.with_suffix(".lck"), os.O_CREAT | os.O_EXCL)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise SyntheticCacheError(
                    f"timed out waiting for {path}; delete it if no generation runs"
                ) from None
            time.sleep(0.2)
    try:  # pragma: no cover
        yield
    finally:  # pragma: no cover
        os.close(fd)
        os.unlink(path.with_suffix(".lck"))


def ensure_synthetic(
    split: str = "test",
    seed: int = 0,
    size: int | None = None,
    cache_dir: str | Path | None = None,
    full_check: bool = False,
    scenario: str | None = None,
) -> Path:
    """Return a data root holding all seven synthetic scenarios of ``split``, generating it if needed.

    With ``scenario`` (a short name), a data root that holds at least that scenario: the full split when it
    is cached, else that scenario alone (generated in its own folder, with the same bytes as in a full
    run). The env asks for its own scenario only, so an env needs nothing the other scenarios need (the
    ImageNet-C corruptions' dependencies, for instance) and only generates and checks its own files.

    The returned folder itself holds the ``{Prefix}_preprocessed.jsonl`` files of that split (load it as
    split "test" of that root). ``size`` episodes per scenario (default 100 for test, 400 for train).
    ``cache_dir`` overrides ``$PROACTIVE_GYM_CACHE``. A cached folder that fails :func:`verify`
    (``full_check=True``: sha256 of every file) is regenerated. Raises SyntheticCacheError when the cache
    folder cannot be written.
    """
    n = default_size(split) if size is None else int(size)
    base = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    parent = base / "synthetic" / GENERATOR_VERSION / f"seed{int(seed)}-n{n}"
    target, names = parent / split, None
    if target.is_dir() and not verify(target, full=full_check):
        return target
    if scenario is not None:
        from proactive_gym.scenarios import get_scenario

        names = [get_scenario(scenario).name]
        target = parent / f"{split}~{names[0]}"
        if target.is_dir() and not verify(target, full=full_check):
            return target
    label = target.name
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock_path = parent / f".{label}.lock"
        with _lock(lock_path):
            problems = verify(target, full=full_check) if target.exists() else ["not generated yet"]
            if not problems:
                return target  # another process finished it while we waited
            for stale in [*parent.glob(f".{label}-tmp-*"), *parent.glob(f".{label}-old-*")]:
                shutil.rmtree(stale, ignore_errors=True)  # left by a killed process; we hold the lock
            if target.exists():
                log.warning("synthetic data in %s is unusable (%s); regenerating it", target, problems[0])
            else:
                log.info(
                    "generating synthetic %s data (%s, seed %d, %d episodes per scenario) in %s",
                    split,
                    "all scenarios" if names is None else names[0],
                    seed,
                    n,
                    target,
                )
            tmp = Path(tempfile.mkdtemp(prefix=f".{label}-tmp-", dir=parent))
            try:
                generate(tmp, split=split, seed=seed, size=n, scenarios=names)
                if target.exists():
                    trash = Path(tempfile.mkdtemp(prefix=f".{label}-old-", dir=parent))
                    target.rename(trash / "old")
                    shutil.rmtree(trash, ignore_errors=True)
                tmp.rename(target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise SyntheticCacheError(
            f"cannot write the synthetic data cache at {parent}: {exc}. Point PROACTIVE_GYM_CACHE at a "
            "writable folder, or generate the data ahead with `proactive-gym data synth --out DIR` and "
            "pass data_root=DIR."
        ) from exc
    return target

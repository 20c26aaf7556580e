"""A run directory on disk: ``config.json``, ``episodes.jsonl`` and ``summary.json``.

- ``config.json`` is written when a run starts: what decides the numbers (agent spec and options, envs,
  env kwargs, seed, episode cap, mode, judge). A later run pointed at the same directory must have the same
  config to ``--resume`` it; a different config is refused with the difference unless ``--force``.
- ``episodes.jsonl`` gets one line per finished episode, appended and flushed as soon as it finishes, so
  a killed run (even ``kill -9``) loses at most the episodes in flight, which resume runs again. A line
  cut off by the kill is dropped on resume (:func:`repair_jsonl`); episodes are identified by
  ``(scenario, sample_id)``.
- ``summary.json`` is written (atomically) when the run completes: metrics plus everything needed to
  reproduce them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

CONFIG = "config.json"
EPISODES = "episodes.jsonl"
SUMMARY = "summary.json"
LOCK = ".lock"
FORMAT_VERSION = 1


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (different config, corrupt file)."""


def dump_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON atomically (temp file + rename), so readers never see half a file."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somewhere: escape it (see record_line)
        text = json.dumps(data, indent=2, ensure_ascii=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


def load_json(path: Path) -> Any:
    """Read a JSON file, with an error naming the file when it is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path} is not valid JSON ({err}); delete it or rerun with --force") from err


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat if flat or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: data}


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two configs, one ``key: old -> new`` line per changed key."""
    a, b = _flatten(old), _flatten(new)
    missing = object()
    lines = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb:
            sa = "(absent)" if va is missing else json.dumps(va)
            sb = "(absent)" if vb is missing else json.dumps(vb)
            lines.append(f"{key}: {sa} -> {sb}")
    return lines


def record_line(record: dict[str, Any]) -> str:
    """One JSONL line for ``record``, always valid UTF-8: text as is, but when some string cannot be
    written as UTF-8 (a lone surrogate in a model's reply) the line is written with ASCII escapes
    (``\\ud800``), which read back to the same string. NUL bytes and control characters are escaped by
    JSON anyway."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line + "\n"


def repair_jsonl(path: Path) -> int:
    """Drop a cut-off last line (a crash mid-write) from a JSONL file; returns the number of bytes dropped.

    Only the tail after the last newline, or a last line that is not valid JSON, is removed; a bad line
    anywhere else means the file was edited or corrupted otherwise and raises :class:`RunDirError`.
    """
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep > 0:
        start = data.rfind(b"\n", 0, keep - 1) + 1
        try:
            json.loads(data[start:keep])
        except ValueError:
            keep = start
    dropped = len(data) - keep
    if dropped:
        log.warning("%s: dropping a cut-off last line (%d bytes) left by an interrupted run", path, dropped)
        with open(path, "r+b") as f:
            f.truncate(keep)
    return dropped


def _is_int(value: Any) -> bool:
    return type(value) is int


def record_problem(record: Any) -> str | None:
    """What makes a parsed line of ``episodes.jsonl`` not an episode record (None when it is one).

    Checked: the fields that resume, the metrics and the report read: ``scenario`` (a string) and
    ``sample_id`` (an integer); for an episode without ``error`` also ``turns`` (an integer), and where
    present ``outcome`` (a string), ``steps`` (a list of objects with an integer ``turn``), ``min_turns``
    (an integer), ``return`` (a number) and ``judge`` (an object).
    """
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if not isinstance(record.get("scenario"), str):
        return "no 'scenario' string"
    if not _is_int(record.get("sample_id")):
        return "no integer 'sample_id'"
    if record.get("error"):
        return None
    if not (_is_int(record.get("turns")) and record["turns"] >= 0):
        return "no 'turns' count (and no 'error')"
    if record.get("outcome") is not None and not isinstance(record["outcome"], str):
        return "'outcome' is not a string"
    steps = record.get("steps", [])
    if not (isinstance(steps, list) and all(isinstance(s, dict) and _is_int(s.get("turn")) for s in steps)):
        return "'steps' is not a list of steps (objects with an integer 'turn')"
    if record.get("min_turns") is not None and not _is_int(record["min_turns"]):
        return "'min_turns' is not an integer"
    if "return" in record and type(record["return"]) not in (int, float):
        return "'return' is not a number"
    if record.get("judge") is not None and not isinstance(record["judge"], dict):
        return "'judge' is not an object"
    return None


def iter_records(path: Path, tolerate_tail: bool = False) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file, with an error naming the line when one is not valid JSON or not an
    episode record (:func:`record_problem`: ``{}``, a list, a record without its fields...). Such a line
    means the file was edited or damaged: it is reported (never skipped, so no number silently changes).

    With ``tolerate_tail`` a cut-off last line (a run still going, or killed) is skipped instead.
    """
    lines = Path(path).read_bytes().splitlines(keepends=True)
    fix = "the file was edited or damaged: fix or delete that line (resume then runs that episode again)"
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            if tolerate_tail and lineno == len(lines):
                log.warning("%s: skipping a cut-off last line", path)
                return
            raise RunDirError(f"{path}, line {lineno}: not valid JSON ({err}); {fix}") from err
        problem = record_problem(record)
        if problem is not None:
            raise RunDirError(f"{path}, line {lineno}: not an episode record ({problem}); {fix}")
        yield record


def dedupe(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the first record of each ``(scenario, sample_id)``."""
    seen: set[tuple[str, int]] = set()
    out = []
    for record in records:
        key = (record["scenario"], int(record["sample_id"]))
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


class RunDir:
    """The files of one run. ``RunDir(path)`` touches nothing; :meth:`prepare` sets the directory up."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.config_path = self.path / CONFIG
        self.episodes_path = self.path / EPISODES
        self.summary_path = self.path / SUMMARY
        self._file: IO[str] | None = None
        self._lock_fd: int | None = None

    def read_config(self) -> dict[str, Any] | None:
        """The stored config, or None when there is none."""
        return load_json(self.config_path) if self.config_path.exists() else None

    def prepare(
        self, config: dict[str, Any], resume: bool = False, force: bool = False
    ) -> list[dict[str, Any]]:
        """Set the directory up for a run with ``config``; returns the records already done (resume).

        - empty or new directory: write the config, start fresh;
        - same config and ``resume``: repair the JSONL tail, drop the episodes that ended in an error (so
          that they run again: errors are mostly transient, a server down or out of memory), return the
          others;
        - a different config but no results yet (a run that stopped before its first episode, e.g. at
          the server check): overwrite the config;
        - anything else holding results: refuse with :class:`RunDirError` (with the config difference),
          unless ``force``, which deletes the old results first.
        """
        config = json.loads(json.dumps(config))
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            old = self.read_config()
            has_results = self.episodes_path.exists() and self.episodes_path.stat().st_size > 0
            if force:
                for p in (self.episodes_path, self.summary_path):
                    p.unlink(missing_ok=True)
            elif old is not None and old != config and has_results:
                diff = "\n  ".join(config_diff(old, config))
                hint = "choose another --out, or pass --force to overwrite it"
                raise RunDirError(f"{self.path} holds a run with a different config:\n  {diff}\n{hint}")
            elif old is None and has_results:
                raise RunDirError(
                    f"{self.path} holds {EPISODES} but no {CONFIG}; choose another --out or pass --force"
                )
            elif has_results and not resume:
                raise RunDirError(
                    f"{self.path} already holds results of this run; pass --resume to finish it "
                    "or --force to start over"
                )
            dump_json(self.config_path, config)
            if force or not self.episodes_path.exists():
                self.episodes_path.write_text("")
                return []
            self.summary_path.unlink(missing_ok=True)
            return self._resumable_records()
        except BaseException:
            self.close()
            raise

    def _resumable_records(self) -> list[dict[str, Any]]:
        """Repair the JSONL tail, drop error records from the file (atomically), return the rest."""
        repair_jsonl(self.episodes_path)
        records = dedupe(list(iter_records(self.episodes_path)))
        failed = [r for r in records if r.get("error")]
        if failed:
            log.info("resume: running again %d episode(s) that ended in an error", len(failed))
            records = [r for r in records if not r.get("error")]
            tmp = self.episodes_path.with_name(EPISODES + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(record_line(r) for r in records)
            os.replace(tmp, self.episodes_path)
        return records

    def _lock(self) -> None:
        """Hold an exclusive lock on the directory until :meth:`close` (the OS drops it if the process
        dies), so that two runs never append to the same ``episodes.jsonl``."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no protection against concurrent runs
            return
        if self._lock_fd is not None:
            return
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunDirError(
                f"{self.path} is in use by another running evaluation; wait for it to finish "
                "(or stop it) before resuming, or choose another --out"
            ) from None
        self._lock_fd = fd

    def append(self, record: dict[str, Any]) -> None:
        """Append one episode record as a JSON line and flush it to the OS (it survives ``kill -9``).

        Flushing each episode costs well under a microsecond per turn (benchmarks/bench_harness.py), so
        there is no reason to batch writes.
        """
        if self._file is None:
            self._file = open(self.episodes_path, "a", encoding="utf-8")  # noqa: SIM115
        self._file.write(record_line(record))
        self._file.flush()

    def records(self) -> list[dict[str, Any]]:
        """All episode records (first of each episode); a cut-off last line is skipped (file untouched)."""
        if not self.episodes_path.exists():
            raise RunDirError(f"{self.path} has no {EPISODES}: is it a proactive-gym run directory?")
        return dedupe(list(iter_records(self.episodes_path, tolerate_tail=True)))

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` atomically."""
        dump_json(self.summary_path, summary)

    def read_summary(self) -> dict[str, Any] | None:
        """The stored summary, or None for a run that has not completed."""
        return load_json(self.summary_path) if self.summary_path.exists() else None

    def close(self) -> None:
        """Close the JSONL file and release the directory lock."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

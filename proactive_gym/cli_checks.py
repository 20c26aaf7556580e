"""Checks ``proactive-gym eval`` makes before any work starts, and the CLI's wording of library messages.

Each check is a small function of the parsed arguments that raises ``ValueError`` with one line naming the
flag to change, or returns a note to print. :func:`cli_wording` rewrites the Python keyword spellings of
library messages (``api_key_env=NAME``, ``data='synthetic'``) into the flags a CLI user types.
"""

from __future__ import annotations

import argparse
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

DATA_ENV = "PROACTIVE_GYM_DATA"

# Python keyword spelling in library messages -> the CLI flag (first match wins, applied in order).
_FLAG_WORDS: tuple[tuple[str, str], ...] = (
    (r"\bpass api_key_env=NAME\b", "pass --api-key-env NAME"),
    (r"\bapi_key_env=", "--api-key-env "),
    (r"\bdata='(\w+)'", r"--data \1"),
    (r"\bdata_root=(?:DIR|\.\.\.)?", "--data-root DIR"),
    (r"\bsubset_file=", "--subset-file "),
    (r"\bsubset='(\w+)'", r"--subset \1"),
    (r"\boverwrite=True \(--overwrite\)", "--overwrite"),
    (r"\bbase_url\b", "--base-url"),
)


def cli_wording(text: str) -> str:
    """A library message with its keyword spellings replaced by CLI flags.

    >>> cli_wording("set the API key in $OPENAI_API_KEY (or pass api_key_env=NAME)")
    'set the API key in $OPENAI_API_KEY (or pass --api-key-env NAME)'
    >>> cli_wording("Or use the built-in synthetic data: data='synthetic'.")
    'Or use the built-in synthetic data: --data synthetic.'
    """
    for pattern, flag in _FLAG_WORDS:
        text = re.sub(pattern, flag, text)
    return text


def data_root_note(data_root: str | None) -> str:
    """When the data root comes from ``$PROACTIVE_GYM_DATA`` (no ``--data-root``), a sentence saying so."""
    value = os.environ.get(DATA_ENV)
    if data_root is not None or not value:
        return ""
    return f" (the data root {value} comes from ${DATA_ENV}; pass --data-root DIR, or unset it for --data synthetic)"


def check_out(out: Path, resume: bool) -> str | None:
    """``--out`` must be a folder or a new path; ``--resume`` on a folder without a run gets a note."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a run folder: choose another --out")
    if resume and not (out / "config.json").is_file():
        return f"--resume: {out} holds no run to resume (no config.json); starting a fresh run there"
    return None


def check_envs_in_data_root(envs: str, data_root: str | None, data: str, split: str) -> None:
    """``--envs all`` on a data root that holds only some scenarios: name the ``--envs`` that would work."""
    from proactive_gym.scenarios import SCENARIOS

    root_text = data_root if data_root is not None else os.environ.get(DATA_ENV)
    if envs.strip().lower() != "all" or data == "synthetic" or not root_text:
        return
    root = Path(root_text).expanduser()
    root = root if split == "test" else root / split
    if not root.is_dir():
        return  # the loader's own message (with the release help) says what is wrong
    present = [n for n, s in SCENARIOS.items() if (root / f"{s.prefix}_preprocessed.jsonl").is_file()]
    if present and len(present) < len(SCENARIOS):
        missing = [n for n in SCENARIOS if n not in present]
        raise ValueError(
            f"--envs all: the data root {root} holds only {len(present)} of {len(SCENARIOS)} scenarios "
            f"(missing {', '.join(missing)}){data_root_note(data_root)}; run the others with "
            f"--envs {','.join(present)}"
        )


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def check_hf_model(spec: str, timeout: float = 5.0, flag: str = "--agent") -> None:
    """``hf:<id>`` that is neither a local folder nor cached, with the hub out of reach: fail in seconds.

    Looks for a local folder, then the hub cache (``models--org--name/snapshots/*/config.json``); then,
    unless offline mode is set (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``), asks the hub once with
    ``timeout`` seconds (``$HF_ENDPOINT``). Only an unreachable hub is an error here: anything the hub
    itself answers (a gated or missing model) is left to transformers' own message.
    """
    if not spec.startswith("hf:"):
        return
    model = spec[3:].strip()
    if Path(model).expanduser().is_dir():
        return
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        raise ValueError(f"{flag} {spec}: {model} is not a folder (a local model needs its folder's path)")
    snapshots = hf_cache_dir() / ("models--" + model.replace("/", "--")) / "snapshots"
    if any(snapshots.glob("*/config.json")):
        return
    fix = (
        f"download it where there is internet (`hf download {model}`), or pass a local folder: {flag} hf:DIR"
    )
    if _truthy("HF_HUB_OFFLINE") or _truthy("TRANSFORMERS_OFFLINE"):
        raise ValueError(
            f"{flag} {spec}: offline mode is on and {model} is not in the Hugging Face cache "
            f"({hf_cache_dir()}); {fix}"
        )
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        request = urllib.request.Request(f"{endpoint}/api/models/{model}", method="HEAD")
        urllib.request.urlopen(request, timeout=timeout).close()  # noqa: S310 - the hub's own URL
    except urllib.error.HTTPError:
        return  # the hub answered: transformers explains a missing or gated model itself
    except (OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ValueError(
            f"{flag} {spec}: {model} is not a local folder nor in the Hugging Face cache "
            f"({hf_cache_dir()}), and the hub {endpoint} cannot be reached ({reason}); {fix}"
        ) from None


def check_judge(mode: str, judge: str | None, judge_base_url: str | None) -> None:
    """An ``openai:`` judge without ``--judge-base-url`` would call api.openai.com: say so if no key is set."""
    if mode != "open" or not judge or not judge.startswith("openai:") or judge_base_url:
        return
    if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"):
        return
    raise ValueError(
        f"--judge {judge}: no --judge-base-url given, so the judge would call https://api.openai.com/v1, "
        "and $OPENAI_API_KEY is not set: pass --judge-base-url http://HOST:PORT/v1 (your judge's server) "
        "or set OPENAI_API_KEY"
    )


def preflight(args: argparse.Namespace, out: Path) -> list[str]:
    """Run every check on the ``eval`` arguments; returns the notes to print (errors raise ValueError)."""
    notes = [check_out(out, args.resume)]
    check_envs_in_data_root(args.envs, args.data_root, args.data, args.split)
    check_judge(args.mode, args.judge, args.judge_base_url)
    check_hf_model(args.agent)
    if args.mode == "open" and args.judge:
        check_hf_model(args.judge, flag="--judge")
    return [n for n in notes if n]

"""A perception baseline for the synthetic scenarios: a linear image classifier trained on clear frames.

It shows that the synthetic data carries the signal (the reference frame is clear, the first frame is not)
and how far proactiveness alone gets. Per scenario, a ridge-regression classifier on fixed image features
(a colour thumbnail plus a pooled power spectrum) is trained on the *clear* frames of the
synthetic train split only: each episode's reference frame (COCO: the whole image and the last crop).
A second, binary classifier per scenario (the *clarity gate*) learns to tell those clear frames from the
train split's first frames; the category classifier itself never sees an unclear frame. For ImageNet-C a
third classifier learns which quality fix undoes the corruption it sees (from the train split's corrupted
frames and their ``quality_answer``).

:class:`PerceptionAgent` (agent spec ``perception``) answers the best of the four offered categories when
the clarity gate calls the frame clear and the category's probability is at least ``threshold``, and
otherwise makes a suggestion: the first non-abstain option shown, or for
ImageNet-C the offered fix its corruption classifier scores highest. It never reads ``info["oracle"]``.
Training takes about 20 s on a 2-core CPU, with numpy only. The trained classifiers are cached in the
synthetic data cache (``<cache>/perception/<key>.npz``, see :func:`cached_model`), keyed by the train
data's manifest (which lists the sha256 of every file), the scenarios and :data:`MODEL_VERSION`, so a
repeat run loads them in well under a second and different train data never reuses them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from proactive_gym.agents.base import Agent

log = logging.getLogger(__name__)

THUMB = 24


def features(image: np.ndarray) -> np.ndarray:
    """Fixed features of an HxWx3 uint8 image: a THUMBxTHUMB colour thumbnail (where things are) and a
    pooled power spectrum (which textures and line directions there are), each part L2-normalised."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).convert("RGB")
    thumb = (
        np.asarray(img.resize((THUMB, THUMB), Image.Resampling.BILINEAR), dtype=np.float64).ravel() / 255.0
    )
    parts = [thumb, spectrum(img)]
    return np.concatenate([p / (np.linalg.norm(p) + 1e-9) for p in parts])


def spectrum(img: Any, size: int = 128, radial: int = 16, angular: int = 8) -> np.ndarray:
    """Log power spectrum of the grey image pooled in (radial x angular) bins: position-free texture
    features (the period and orientation of stripes, dots, rings)."""
    from PIL import Image

    grey = (
        np.asarray(img.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64) / 255.0
    )
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    yy, xx = np.indices(power.shape) - size // 2
    r = np.hypot(xx, yy) / (size / 2)
    a = (np.arctan2(yy, xx) % np.pi) / np.pi * angular
    keep = (r > 0) & (r < 1)
    ri = np.minimum((r[keep] * radial).astype(int), radial - 1)
    ai = np.minimum(a[keep].astype(int), angular - 1)
    out = np.zeros((radial, angular))
    np.add.at(out, (ri, ai), power[keep])
    return np.log1p(out).ravel()


@dataclass
class Classifier:
    """Ridge regression from :func:`features` onto one-hot labels, solved in closed form (numpy only)."""

    labels: list[str] = field(default_factory=list)
    mean: np.ndarray | None = None
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    ridge: float = 1e-2

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str]) -> Classifier:
        """Fit on images and their label strings."""
        feats = np.stack([features(im) for im in images])
        self.labels = sorted(set(labels))
        index = {lab: i for i, lab in enumerate(self.labels)}
        y = np.zeros((len(labels), len(self.labels)))
        y[np.arange(len(labels)), [index[lab] for lab in labels]] = 1.0
        self.mean = feats.mean(axis=0)
        x = feats - self.mean
        self.bias = y.mean(axis=0)
        self.weights = x.T @ np.linalg.solve(x @ x.T + self.ridge * np.eye(len(x)), y - self.bias)
        return self

    def best(self, image: np.ndarray, candidates: Iterable[str]) -> tuple[str | None, float]:
        """(best candidate, its softmax probability among the candidates the model knows)."""
        if self.weights is None or self.mean is None or self.bias is None:
            raise RuntimeError("Classifier.best called before fit")
        scores = (features(image) - self.mean) @ self.weights + self.bias
        known = [(c, scores[self.labels.index(c)]) for c in candidates if c in self.labels]
        if not known:
            return None, 0.0
        vals = np.array([v for _, v in known], dtype=np.float64) * TEMPERATURE
        p = np.exp(vals - vals.max())
        p /= p.sum()
        i = int(p.argmax())
        return known[i][0], float(p[i])


TEMPERATURE = 10.0  # ridge scores are ~1 for the right label and ~0 otherwise


def _read_entries(root: Path, prefix: str) -> list[dict[str, Any]]:
    path = root / f"{prefix}_preprocessed.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _load(root: Path, key: str, box: tuple[float, ...] | None = None) -> np.ndarray:
    from PIL import Image

    with Image.open(root / key) as raw:
        rgb = raw.convert("RGB")
    if box is not None:
        rgb = rgb.crop((box[0], box[1], box[2], box[3]))
    return np.asarray(rgb, dtype=np.uint8)


def oracle_final_state(scenario: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """The state the scripted oracle reaches before it answers (the frame it answers on)."""
    state = scenario.initial_state(entry)
    for _ in range(scenario.max_turns(entry)):
        move = scenario.oracle_move(entry, state)
        if move is None:
            break
        state = scenario.apply_suggestion(entry, state, scenario.action_of(move))
    return state


def clear_frames(scenario: Any, root: Path, entry: dict[str, Any]) -> list[np.ndarray]:
    """The clear frames of one episode: the reference frame, and for COCO also the last crop."""
    images = [_load(root, scenario.image_key(entry, scenario.initial_state(entry), reference=True))]
    if scenario.name == "COCO":
        state = oracle_final_state(scenario, entry)
        images.append(_load(root, scenario.image_key(entry, state), scenario.crop_box(entry, state)))
    return images


def first_frame(scenario: Any, root: Path, entry: dict[str, Any]) -> np.ndarray:
    """The image the episode starts on (COCO: the first crop)."""
    state = scenario.initial_state(entry)
    return _load(root, scenario.image_key(entry, state), scenario.crop_box(entry, state))


@dataclass
class PerceptionModel:
    """One category classifier per scenario, plus the ImageNet-C corruption-to-fix classifier."""

    categories: dict[str, Classifier] = field(default_factory=dict)
    clarity: dict[str, Classifier] = field(default_factory=dict)
    fixes: Classifier | None = None

    @classmethod
    def train(cls, root: str | Path, scenarios: Iterable[str] | None = None) -> PerceptionModel:
        """Train on the clear frames of the released-format data root ``root`` (a synthetic train split)."""
        from proactive_gym.scenarios import SCENARIOS, get_scenario

        root = Path(root)
        model = cls()
        names = [get_scenario(s).name for s in scenarios] if scenarios is not None else list(SCENARIOS)
        for name in names:
            scenario = SCENARIOS[name]
            images, labels, fix_images, fix_labels, unclear = [], [], [], [], []
            for entry in _read_entries(root, scenario.prefix):
                for image in clear_frames(scenario, root, entry):
                    images.append(image)
                    labels.append(entry["answer"])
                unclear.append(first_frame(scenario, root, entry))
                if name == "ImageNet-C":
                    for level in range(2, int(entry["first_image"]) + 1):
                        fix_images.append(_load(root, str(entry["image_template"]).format(level=level)))
                        fix_labels.append(entry["quality_answer"])
            model.categories[name] = Classifier().fit(images, labels)
            model.clarity[name] = Classifier().fit(
                images + unclear, ["clear"] * len(images) + ["unclear"] * len(unclear)
            )
            if fix_images:
                model.fixes = Classifier().fit(fix_images, fix_labels)
            log.info("perception baseline: %s trained on %d clear frames", name, len(images))
        return model


#: Bump when the features, the classifiers or their training change: older cached models are then ignored.
MODEL_VERSION = "perception-1"


def cache_key(root: str | Path, scenarios: Sequence[str]) -> str | None:
    """The cache key of a model trained on ``root``: a sha256 of the synthetic manifest (which lists every
    file's sha256), the scenarios and :data:`MODEL_VERSION`; None for a folder without a manifest."""
    from proactive_gym.data.synthetic.generate import MANIFEST

    try:
        manifest = (Path(root) / MANIFEST).read_bytes()
    except OSError:
        return None
    h = hashlib.sha256(manifest)
    h.update(json.dumps([MODEL_VERSION, list(scenarios)]).encode())
    return h.hexdigest()[:32]


def save_model(model: PerceptionModel, path: Path) -> None:
    """Write the classifiers to ``path`` (an ``.npz`` of plain arrays, no pickle), atomically."""
    arrays: dict[str, np.ndarray] = {}
    groups = {f"categories/{k}": c for k, c in model.categories.items()}
    groups.update({f"clarity/{k}": c for k, c in model.clarity.items()})
    if model.fixes is not None:
        groups["fixes"] = model.fixes
    for name, clf in groups.items():
        assert clf.mean is not None and clf.weights is not None and clf.bias is not None
        arrays.update({f"{name}/mean": clf.mean, f"{name}/weights": clf.weights, f"{name}/bias": clf.bias})
        arrays[f"{name}/labels"] = np.array(clf.labels)
        arrays[f"{name}/ridge"] = np.array(clf.ridge)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    os.replace(tmp, path)


def load_model(path: Path) -> PerceptionModel:
    """Read classifiers written by :func:`save_model`."""
    model = PerceptionModel()
    with np.load(path, allow_pickle=False) as data:
        names = sorted({k.rsplit("/", 1)[0] for k in data.files})
        for name in names:
            clf = Classifier(
                labels=[str(x) for x in data[f"{name}/labels"]],
                mean=data[f"{name}/mean"],
                weights=data[f"{name}/weights"],
                bias=data[f"{name}/bias"],
                ridge=float(data[f"{name}/ridge"]),
            )
            kind, _, scenario = name.partition("/")
            if kind == "fixes":
                model.fixes = clf
            else:
                getattr(model, kind)[scenario] = clf
    return model


def cached_model(root: str | Path, cache_dir: str | Path | None = None) -> PerceptionModel:
    """The model trained on all scenarios of the data root ``root``, from the cache when it was trained on
    exactly this data before (see :func:`cache_key`), else trained now and cached.

    The cache is ``<cache_dir>/perception/``, by default the synthetic data cache
    (``$PROACTIVE_GYM_CACHE`` or ``~/.cache/proactive_gym``). A folder without a synthetic manifest is
    trained on every time; an unreadable cache file is trained again and replaced.
    """
    import time

    from proactive_gym.data.synthetic import cache_root
    from proactive_gym.scenarios import SCENARIOS

    key = cache_key(root, list(SCENARIOS))
    path = (Path(cache_dir) if cache_dir is not None else cache_root()) / "perception" / f"{key}.npz"
    if key is not None and path.is_file():
        try:
            return load_model(path)
        except (OSError, ValueError, KeyError) as err:
            log.warning(
                "perception baseline: cannot read the cached model %s (%s); training again", path, err
            )
    log.warning(
        "perception baseline: training on %s (first run only: about %s on a 2-core CPU; cached afterwards)",
        root,
        FIRST_TRAINING,
    )
    start = time.perf_counter()
    model = PerceptionModel.train(root)
    log.info("perception baseline trained in %.1f s", time.perf_counter() - start)
    if key is not None:
        try:
            save_model(model, path)
        except OSError as err:
            log.warning("perception baseline: cannot cache the model in %s (%s)", path, err)
    return model


#: Measured training time (benchmarks/bench_synthetic.py), quoted in the first-run log line.
FIRST_TRAINING = "20 s"


class PerceptionAgent(Agent):
    """Answer when the classifier is confident, otherwise make the useful-looking suggestion.

    Options: ``threshold`` (probability of the best offered category needed to answer, default 0.5; the
    frame must also look clear to the clarity gate),
    ``seed`` and ``train_size`` (which synthetic train split to learn from:
    ``ensure_synthetic("train", seed, train_size)``), or ``train_root`` (any released-format folder with
    the seven files). Uses ``info["options"]`` to find the letters, never ``info["oracle"]``.
    """

    name = "perception"

    def __init__(
        self,
        threshold: float = 0.5,
        seed: int = 0,
        train_size: int | None = None,
        train_root: str | Path | None = None,
        model: PerceptionModel | None = None,
    ) -> None:
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.train_size = None if train_size is None else int(train_size)
        self.train_root = train_root
        self._model = model

    @property
    def model(self) -> PerceptionModel:
        """The trained classifiers (on first use: from the cache, or trained and cached; see
        :func:`cached_model`)."""
        if self._model is None:
            root = self.train_root
            if root is None:
                from proactive_gym.data.synthetic import ensure_synthetic

                root = ensure_synthetic("train", seed=self.seed, size=self.train_size)
            self._model = cached_model(root)
        return self._model

    def decide(self, image: np.ndarray, info: dict[str, Any]) -> str:
        """The reply for one observation: ``"<letter>. <option>"``."""
        from proactive_gym.protocol import is_abstain, letter

        options: list[str] = list(info["options"])
        scenario = info["scenario"]
        categories, proactive = options[-4:], options[:-4]
        clf = self.model.categories.get(scenario)
        best, prob = clf.best(image, categories) if clf is not None else (None, 0.0)
        suggestions = [o for o in proactive if not is_abstain(o)]
        gate = self.model.clarity.get(scenario)
        clear = gate is None or gate.best(image, ["clear", "unclear"])[0] == "clear"
        confident = best is not None and clear and prob >= self.threshold
        if scenario == "ImageNet-C" and suggestions and self.model.fixes is not None and not confident:
            fix, _ = self.model.fixes.best(image, suggestions)
            suggestions = [fix] if fix is not None else suggestions
        if confident or not suggestions:
            choice = best if best is not None else categories[0]
        else:
            choice = suggestions[0]
        return f"{letter(options.index(choice))}. {choice}"

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """One reply per observation (see :meth:`decide`)."""
        return [self.decide(obs["image"], info) for obs, info in zip(observations, infos, strict=False)]

    def describe(self) -> dict[str, Any]:
        """Settings recorded in a run summary."""
        out = super().describe()
        out.update(
            threshold=self.threshold,
            seed=self.seed,
            train_size=self.train_size,
            train_root=None if self.train_root is None else str(self.train_root),
        )
        return out


def accuracy_table(model: PerceptionModel, root: str | Path) -> dict[str, dict[str, float]]:
    """Per scenario: accuracy (percent) of choosing the answer among the 4 categories on the reference
    frame and on the first frame of every episode of the data root ``root``; also the episode count."""
    from proactive_gym.scenarios import SCENARIOS

    root = Path(root)
    table = {}
    for name, clf in model.categories.items():
        scenario = SCENARIOS[name]
        entries = _read_entries(root, scenario.prefix)
        hits = {"reference": 0, "first": 0}
        for entry in entries:
            ref = _load(root, scenario.image_key(entry, scenario.initial_state(entry), reference=True))
            for kind, image in (("reference", ref), ("first", first_frame(scenario, root, entry))):
                guess, _ = clf.best(image, entry["categories"])
                hits[kind] += guess == entry["answer"]
        n = len(entries)
        table[name] = {"reference": 100.0 * hits["reference"] / n, "first": 100.0 * hits["first"] / n, "n": n}
    return table

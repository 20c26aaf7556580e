"""ProactiveEnv: one Gymnasium env class for all seven scenarios; the scenario supplies the rules."""

from __future__ import annotations

import dataclasses
import logging
import os
import textwrap
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from proactive_gym.config import EnvConfig, RewardConfig
from proactive_gym.data.errors import RELEASE_HELP, DataError
from proactive_gym.data.released import EpisodeSet, check_images, load_image, load_released
from proactive_gym.protocol import resize_short_edge
from proactive_gym.scenarios import get_scenario
from proactive_gym.settings import HISTORY_SHORT_EDGE, OPEN_HINT, History, InContext, protocol_for
from proactive_gym.spaces import FreeText, Image

logger = logging.getLogger("proactive_gym")

__all__ = ["ProactiveEnv", "OPEN_HINT", "HISTORY_SHORT_EDGE", "sc_reward"]

_announced_synthetic = False


def _coerce_reply(action: Any) -> str | None:
    if isinstance(action, str):
        return action
    if isinstance(action, bytes | bytearray):
        return bytes(action).decode("utf-8", errors="replace")
    return None


class ProactiveEnv(gym.Env[dict, str]):
    """A ProactiveBench scenario as a Gymnasium env: an image the model cannot answer from, a question,
    and options; a proactive model asks for the intervention that helps, then answers.

    ## Description
    One episode is one benchmark sample (SPEC section 3). Each turn the agent sees the current image and the
    multiple-choice user text, and replies with free text: an option letter ("C"), an option's text
    ("C. Vase."), or anything else. The reply is parsed with the paper's strict parser. The correct category
    ends the episode solved; a useful suggestion changes the scene (moves the occluder, rewinds the video,
    fixes the image, adds a stroke, moves the camera...) and the episode goes on; anything else ends it.

    ## Observation
    ``{"image": uint8 array (H, W, 3), "dialogue": str}``: the current image (COCO: the current crop) and the
    exact user text (the image is a fresh array each turn and may be read-only: copy it to draw on it).
    With ``history=True`` (or ``icl_examples``) also ``"history"``: a tuple of ``{"image", "dialogue", "reply"}``
    for the earlier turns (all images then resized to a 224-pixel short edge, except COCO's, as the paper).
    ``proactive_gym.protocol.to_messages(obs)`` turns an observation into chat messages.

    ## Action
    Any ``str`` (``FreeText``). Bytes are decoded as UTF-8; junk or non-text is an "unparsable" outcome.
    ``step`` never raises on a reply; stepping a finished episode raises ``gymnasium.error.ResetNeeded``.

    ## Rewards
    Per reply, by outcome, from ``RewardConfig`` (default: 1 correct, 0.5 useful suggestion, 0 otherwise).

    ## Episode End
    ``terminated`` when a reply ends the episode (correct, wrong answer, abstain, useless suggestion,
    unparsable); ``truncated`` when a useful suggestion comes on the last allowed turn ("out_of_turns").
    Max turns: ``num_images`` (ChangeIt ``max_steps``; COCO by direction and granularity). Reference and
    open-ended modes have one turn.

    ## Information
    ``info`` (JSON-serialisable, deterministic): ``sample_id``, ``scenario``, ``turn`` (replies so far),
    ``max_turns``, ``frame`` (frame id; COCO: the crop box), ``image_path`` (relative to the data root),
    ``options`` (texts shown now, letters A.. in order), ``outcome`` (None after reset, else one of
    ``config.OUTCOMES``, or "unjudged" in open mode), ``chosen`` (the option the reply matched, or None),
    ``solved``, ``suggestions`` (useful suggestions accepted so far), ``min_turns`` (turns the oracle
    needs), ``oracle`` (privileged: the optimal reply now; never show it to a model), ``subset``,
    ``data_source``, ``split``, ``mode``; open mode adds ``acceptable_answers`` and
    ``n_suggestion_answers``.

    ## Arguments
    ``gym.make("ProactiveBench/<Name>-v0", **kwargs)`` with any field of ``EnvConfig``:
    ``data`` ("auto": the real data when ``data_root`` or ``PROACTIVE_GYM_DATA`` is set, else synthetic;
    "released"; "synthetic"), ``data_root``, ``split`` ("test"; other splits live in ``data_root/<split>``),
    ``subset`` ("auto", "all", "paper"), ``subset_file``, ``hint``, ``reference`` (the reference frame with
    only the categories: the upper bound), ``history``, ``icl_examples`` (ROD and MVP-N: 1 or 3 solved
    demonstration episodes of other samples put before the query in ``obs["history"]``), ``icl_full``
    (the demonstrations at full length and the query's image size instead of the paper's short, resized
    ones),
    ``random_options`` (the proactive options replaced with other scenarios' ones; any of them then
    triggers a random action of the scenario, as in the authors' code), ``mode`` ("mcqa" or "open"),
    ``open_samples`` (100), ``reward`` (``RewardConfig`` or dict), ``synthetic_seed``,
    ``synthetic_size``, ``max_image_pixels`` (25,000,000: a larger image is refused before decoding); or
    ``config=EnvConfig(...)``. ``render_mode``: "rgb_array" or "ansi".

    ``reset(seed=...)`` picks an episode with ``self.np_random``; ``reset(options={"sample_id": i})`` pins
    one; ``reset(options={"sample_id": i, "replies": [...]})`` returns the exact state those replies reach.

    ## Settings
    Each setting is one object of :mod:`proactive_gym.settings` that the env consults at a few named
    points: ``self.protocol`` (how a turn is asked and judged: multiple choice, random options, reference or
    open-ended; it gives each turn's question, options and image, judges the reply, names the action a
    useful suggestion triggers, and what ``info`` reports), ``self.history`` (the earlier turns kept, and
    the 224-pixel resize) and ``self.in_context`` (the demonstrations). A useful suggestion is applied by
    ``Scenario.apply_suggestion``, the one place that moves a scene.

    ## Version History
    * v0: the ProactiveBench protocol of arXiv:2603.19466 and its public evaluation code.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}

    def __init__(
        self,
        scenario: str,
        render_mode: str | None = None,
        config: EnvConfig | None = None,
        **kwargs: Any,
    ):
        if config is not None and kwargs:
            raise TypeError("pass either config=EnvConfig(...) or keyword settings, not both")
        if config is None:
            if kwargs.get("data_root") is not None:
                kwargs["data_root"] = str(kwargs["data_root"])
            try:
                config = EnvConfig(**kwargs)
            except TypeError:
                valid = ", ".join(f.name for f in dataclasses.fields(EnvConfig))
                bad = sorted(set(kwargs) - {f.name for f in dataclasses.fields(EnvConfig)})
                raise TypeError(f"unknown env setting(s) {bad}; valid settings: {valid}") from None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.config = config
        self.render_mode = render_mode
        self.scenario = get_scenario(scenario)
        # The settings (proactive_gym.settings): how turns are asked and judged, and the context shown.
        self.protocol = protocol_for(config)
        self.history = History(config.history)
        self.in_context = InContext(config.icl_examples, config.icl_full)
        self.episodes: EpisodeSet = self._load_episodes(config)
        self.in_context.check(self.scenario)
        self._original = {e["id"]: e for e in self.episodes.entries}
        self._by_id = {i: self.protocol.entry(self.scenario, e) for i, e in self._original.items()}
        if all(self._by_id[i] is e for i, e in self._original.items()):
            self._by_id = self._original  # one shared mapping when the protocol plays the samples as released
        self.sample_ids: list[int] = self.protocol.order([e["id"] for e in self.episodes.entries], config)

        obs_spaces: dict[str, spaces.Space] = {"image": Image(), "dialogue": FreeText()}
        if self.history.enabled or self.in_context.n:
            turn = spaces.Dict({"image": Image(), "dialogue": FreeText(), "reply": FreeText()})
            obs_spaces["history"] = spaces.Sequence(turn, stack=False)
        self.observation_space = spaces.Dict(obs_spaces)
        self.action_space = FreeText(max_length=1_000_000)

        self._entry: dict[str, Any] | None = None
        self._min_turns = 0
        self._state: dict[str, Any] = {}
        self._done = True
        self._outcome: str | None = None
        self._chosen: str | None = None
        self._solved = False
        self._suggestions: list[str] = []
        self._history: list[dict[str, Any]] = []
        self._demos: list[dict[str, Any]] = []
        self._image: np.ndarray | None = None
        self._image_handed = False  # whether self._image was already returned in an observation
        self._dialogue = ""
        self._last_reply: str | None = None

    # ----- data ----------------------------------------------------------------------------------------
    def _load_episodes(self, cfg: EnvConfig) -> EpisodeSet:
        global _announced_synthetic
        data_root = cfg.data_root or os.environ.get("PROACTIVE_GYM_DATA") or None
        if cfg.data == "released" and not data_root:
            raise DataError(f"data='released' needs data_root= or PROACTIVE_GYM_DATA. {RELEASE_HELP}")
        if cfg.data == "synthetic" or (cfg.data == "auto" and not data_root):
            if cfg.subset == "paper":
                raise DataError(
                    "subset='paper' (the paper's 7,557 samples) needs the real release (data_root=DIR) and "
                    "the authors' id lists; the synthetic data has no such subset: use subset='all'"
                )
            from proactive_gym.data.synthetic import ensure_synthetic

            root = ensure_synthetic(
                split=cfg.split, seed=cfg.synthetic_seed, size=cfg.synthetic_size, scenario=self.scenario.name
            )
            if cfg.data == "auto" and not _announced_synthetic:
                _announced_synthetic = True
                logger.warning(
                    "No data root configured: using the built-in synthetic scenarios (%s). For the real "
                    "benchmark pass data_root=... or set PROACTIVE_GYM_DATA.",
                    root,
                )
            episodes = load_released(
                self.scenario, root, "test", "all", None, source="synthetic", max_pixels=cfg.max_image_pixels
            )
            return dataclasses.replace(episodes, split=cfg.split)
        assert data_root is not None
        return load_released(
            self.scenario, data_root, cfg.split, cfg.subset, cfg.subset_file, max_pixels=cfg.max_image_pixels
        )

    def check_images(self, sample_ids: Any = None) -> int:
        """Check, before any episode, that every image the episodes ``sample_ids`` (default: all) can show
        is a regular, non-empty file inside the data root (a ``stat`` each, no decoding); raises one
        ``DataError`` listing the bad ones. With ``icl_examples`` every sample's images are checked (the
        demonstrations come from any other sample). Returns the number of images checked."""
        if self.in_context.n:
            sample_ids = None
        return check_images(self.episodes, sample_ids, reference=self.config.reference)

    # ----- gym API ---------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"sample_id", "replies"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: 'sample_id', 'replies'")
        if "sample_id" in options and options["sample_id"] is not None:
            sample_id = options["sample_id"]
            if sample_id not in self._by_id:
                raise ValueError(
                    f"sample_id {sample_id!r} is not an episode of {self.scenario.name} "
                    f"({len(self._by_id)} episodes, ids {self.sample_ids[:5]}...; see env.unwrapped.sample_ids)"
                )
        else:
            sample_id = self.sample_ids[int(self.np_random.integers(len(self.sample_ids)))]
        self._entry = self._by_id[sample_id]
        self._state = self.scenario.initial_state(self._entry)
        self._min_turns = self.protocol.min_turns(self.scenario, self._original[sample_id])
        self._done, self._solved = False, False
        self._outcome, self._chosen, self._last_reply = None, None, None
        self._suggestions, self._history = [], []
        self._demos = self.in_context.demos(
            self.scenario, self.protocol, self._original, self.sample_ids, sample_id, self.config.hint
        )
        replies = list(options.get("replies") or [])
        for k, reply in enumerate(replies):
            if self._done:
                raise ValueError(f"replies[{k - 1}] already ended the episode; pass fewer replies")
            self._advance(reply)
        if self._done:
            raise ValueError(
                f"the replies end the episode ({self._outcome}); a state to continue from needs a reply "
                "sequence that leaves it running"
            )
        self._refresh_observation()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._entry is None or self._done:
            raise gym.error.ResetNeeded("the episode has ended (or never started): call reset() first")
        reward, terminated, truncated = self._advance(action)
        if not self._done:
            self._refresh_observation()
        return self._observation(), reward, terminated, truncated, self._info()

    def score(self, sample_id: Any, replies: list[str], reply: Any) -> tuple[float, dict[str, Any], bool]:
        """Replay one reply without pixels: ``(reward, info, ended)`` of ``reply`` in the state that
        ``replies`` reach in episode ``sample_id``, exactly what ``reset(options={"sample_id": sample_id,
        "replies": replies})`` then ``step(reply)`` give, but no image is decoded (a reward reads none; GRPO
        scores every sampled completion this way). It leaves no observation behind: ``reset()`` before the
        next ``step()``."""

        def no_pixels() -> None:
            return None

        self.__dict__.update(_refresh_observation=no_pixels, _observation=no_pixels)  # this call only
        try:
            self.reset(options={"sample_id": sample_id, "replies": list(replies)})
            reward, terminated, truncated = self._advance(reply)
        finally:
            del self.__dict__["_refresh_observation"], self.__dict__["_observation"]
        return reward, self._info(), terminated or truncated

    # ----- dynamics ----------------------------------------------------------------------------------------
    def _advance(self, action: Any) -> tuple[float, bool, bool]:
        """Judge one reply and move the state on; returns (reward, terminated, truncated)."""
        entry, state, sc, protocol = self._entry, self._state, self.scenario, self.protocol
        assert entry is not None
        reply = _coerce_reply(action)
        self._last_reply = reply if reply is not None else repr(action)[:200]
        shown = self.history.shown(protocol.image(sc, entry, state), self._current_dialogue(), reply)
        outcome, self._chosen, truncated = protocol.judge(sc, entry, state, reply)
        after = None
        if outcome == "useful_suggestion":
            assert self._chosen is not None
            after = sc.apply_suggestion(entry, state, protocol.action(sc, entry, state, self._chosen))
            if not sc.frame_valid(entry, after):  # the move leaves the video (ChangeIt): the episode stops
                after, outcome = None, "useless_suggestion"
            else:
                self._suggestions.append(self._chosen)
                if shown is not None:
                    self._history.append(shown)
        if after is None:  # any other reply costs a turn and changes nothing
            after = {**state, "turn": state["turn"] + 1}
        self._state = after
        self._outcome = outcome
        self._solved = outcome == "correct"
        self._done = outcome != "useful_suggestion"
        terminated = self._done and not truncated
        return sc_reward(self.config.reward, outcome), terminated, truncated

    # ----- observation and info ----------------------------------------------------------------------------------
    def _shown_options(self) -> list[str]:
        assert self._entry is not None
        return self.protocol.options(self.scenario, self._entry, self._state)

    def _current_dialogue(self) -> str:
        assert self._entry is not None
        return self.protocol.dialogue(self.scenario, self._entry, self._state, self.config.hint)

    def _current_image_key(self) -> tuple[str, tuple[float, ...] | None]:
        assert self._entry is not None
        return self.protocol.image(self.scenario, self._entry, self._state)

    def _load(
        self,
        key: str,
        box: tuple[float, ...] | None,
        resize: bool,
        entry: dict[str, Any] | None = None,
        short_edge: int = HISTORY_SHORT_EDGE,
    ) -> np.ndarray:
        entry = entry if entry is not None else self._entry
        assert entry is not None
        array = load_image(self.episodes, entry, key, box)
        if resize and self.scenario.name != "COCO":
            from PIL import Image as PILImage

            array = np.asarray(resize_short_edge(PILImage.fromarray(array), short_edge))
        return array

    def _refresh_observation(self) -> None:
        key, box = self._current_image_key()
        self._image = self._load(key, box, resize=self.history.enabled)
        self._image_handed = False
        self._dialogue = self._current_dialogue()

    def _observation(self) -> dict[str, Any]:
        assert self._image is not None
        # A freshly loaded image is handed over as it is (one copy per turn: the decode's packing); it is
        # copied only when the same image is returned again (the observation after the last step).
        image = self._image.copy() if self._image_handed else self._image
        self._image_handed = True
        obs: dict[str, Any] = {"image": image, "dialogue": self._dialogue}
        if self.history.enabled or self.in_context.n:
            turns = []
            for demo in self._demos:
                if "image" not in demo:
                    key, box = demo["key"]
                    resize, edge = self.in_context.image_size(self.scenario, self.history)
                    demo["image"] = self._load(key, box, resize=resize, entry=demo["entry"], short_edge=edge)
                turns.append(
                    {"image": demo["image"].copy(), "dialogue": demo["dialogue"], "reply": demo["reply"]}
                )
            for turn in self._history:
                if "image" not in turn:
                    key, box = turn["key"]
                    turn["image"] = self._load(key, box, resize=True)
                turns.append(
                    {"image": turn["image"].copy(), "dialogue": turn["dialogue"], "reply": turn["reply"]}
                )
            obs["history"] = tuple(turns)
        return obs

    def _info(self) -> dict[str, Any]:
        entry, sc, state, protocol = self._entry, self.scenario, self._state, self.protocol
        assert entry is not None
        key, _ = self._current_image_key()
        info: dict[str, Any] = {
            "sample_id": entry["id"],
            "scenario": sc.name,
            "turn": state["turn"],
            "max_turns": protocol.max_turns(sc, entry),
            "frame": protocol.frame(sc, entry, state),
            "image_path": key,
            "options": self._shown_options(),
            "outcome": self._outcome,
            "chosen": self._chosen,
            "solved": self._solved,
            "suggestions": list(self._suggestions),
            "min_turns": self._min_turns,
            "oracle": None if self._done else protocol.oracle(sc, entry, state),
            "subset": self.episodes.subset,
            "data_source": self.episodes.source,
            "split": self.episodes.split,
            "mode": self.config.mode,
        }
        info.update(protocol.extra_info(sc, entry))
        return info

    # ----- rendering -------------------------------------------------------------------------------------------------------
    def _render_text(self) -> str:
        assert self._entry is not None
        head = f"[{self.scenario.name} sample {self._entry['id']} turn {self._state['turn']}]"
        lines = [head, self._dialogue]
        if self._last_reply is not None:
            lines.append(f"> {self._last_reply}")
            lines.append(f"= {self._outcome}")
        return "\n".join(lines)

    def render(self) -> Any:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'ansi'")
            return None
        if self._entry is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        text = self._render_text()
        if self.render_mode == "ansi":
            return text
        from PIL import Image as PILImage
        from PIL import ImageDraw

        assert self._image is not None
        image = PILImage.fromarray(self._image)
        panel_w = 420
        height = max(image.height, 240)
        canvas = PILImage.new("RGB", (image.width + panel_w, height), (255, 255, 255))
        canvas.paste(image, (0, 0))
        wrapped = []
        for line in text.encode("ascii", errors="replace").decode("ascii").splitlines():
            wrapped.extend(textwrap.wrap(line, 64) or [""])
        ImageDraw.Draw(canvas).multiline_text((image.width + 8, 8), "\n".join(wrapped), fill=(0, 0, 0))
        return np.array(canvas)


def sc_reward(reward: RewardConfig, outcome: str) -> float:
    """The reward of an outcome; open-ended replies are judged later and earn 0 here."""
    return 0.0 if outcome == "unjudged" else reward.of(outcome)

"""ProactiveEnv: one Gymnasium env class for all seven scenarios; the scenario supplies the rules."""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import textwrap
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from proactive_gym.config import EnvConfig, RewardConfig
from proactive_gym.data.errors import RELEASE_HELP, DataError
from proactive_gym.data.released import EpisodeSet, load_image, load_released
from proactive_gym.protocol import (
    build_question,
    evaluate_reply,
    is_abstain,
    render_prompt,
    resize_short_edge,
)
from proactive_gym.scenarios import get_scenario
from proactive_gym.scenarios.invalid import random_action, randomize_options
from proactive_gym.spaces import FreeText, Image

logger = logging.getLogger("proactive_gym")

OPEN_HINT = "If you cannot answer this question, please tell me what I should do to help you."
HISTORY_SHORT_EDGE = 224
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
    exact user text. With ``history=True`` (or ``icl_examples``) also ``"history"``: a tuple of ``{"image", "dialogue", "reply"}``
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
    ``synthetic_size``; or ``config=EnvConfig(...)``. ``render_mode``: "rgb_array" or "ansi".

    ``reset(seed=...)`` picks an episode with ``self.np_random``; ``reset(options={"sample_id": i})`` pins
    one; ``reset(options={"sample_id": i, "replies": [...]})`` returns the exact state those replies reach.

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
        self.episodes: EpisodeSet = self._load_episodes(config)
        if config.icl_examples and self.scenario.icl_short_edge is None:
            raise ValueError(
                f"in-context examples exist for ROD and MVP-N only (as in the paper), not {self.scenario.name}"
            )
        self._original = {e["id"]: e for e in self.episodes.entries}
        self._by_id = (
            {i: randomize_options(self.scenario, e) for i, e in self._original.items()}
            if config.random_options
            else self._original
        )
        self.sample_ids: list[int] = [e["id"] for e in self.episodes.entries]
        if config.mode == "open":
            # The paper's open-ended subset: a seeded shuffle (seed 0) of the filtered samples, first 100.
            random.Random(0).shuffle(self.sample_ids)
            if config.open_samples is not None:
                self.sample_ids = self.sample_ids[: config.open_samples]

        obs_spaces: dict[str, spaces.Space] = {"image": Image(), "dialogue": FreeText()}
        if config.history or config.icl_examples:
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
            episodes = load_released(self.scenario, root, "test", "all", None, source="synthetic")
            return dataclasses.replace(episodes, split=cfg.split)
        assert data_root is not None
        return load_released(self.scenario, data_root, cfg.split, cfg.subset, cfg.subset_file)

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
        self._min_turns = 1 if self.config.reference else self.scenario.min_turns(self._original[sample_id])
        self._done, self._solved = False, False
        self._outcome, self._chosen, self._last_reply = None, None, None
        self._suggestions, self._history = [], []
        self._demos = self._make_demos(sample_id) if self.config.icl_examples else []
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

    # ----- dynamics ----------------------------------------------------------------------------------------
    def _advance(self, action: Any) -> tuple[float, bool, bool]:
        """Judge one reply and move the state on; returns (reward, terminated, truncated)."""
        entry, state, sc = self._entry, self._state, self.scenario
        assert entry is not None
        reply = _coerce_reply(action)
        self._last_reply = reply if reply is not None else repr(action)[:200]
        shown_turn = None
        if self.config.history:  # what this turn showed, kept if the episode goes on
            key = (sc.image_key(entry, state), sc.crop_box(entry, state))
            shown_turn = {"key": key, "dialogue": self._current_dialogue(), "reply": reply}
        self._chosen = None
        truncated = False
        if self.config.mode == "open":
            outcome = "unjudged"
        elif reply is None:
            outcome = "unparsable"
        elif self.config.reference:
            verdict, self._chosen = evaluate_reply(reply, [entry["answer"]], entry["categories"], 0)
            outcome = {"correct": "correct", "wrong": "wrong_answer"}.get(verdict, "unparsable")
        else:
            outcome, truncated = self._judge_turn(reply)
        state["turn"] += 1
        if outcome == "useful_suggestion":
            assert self._chosen is not None
            before = dict(state)
            if self.config.random_options:
                state["last_action"] = random_action(sc, entry, state["turn"])
            else:
                state["last_action"] = sc.action_of(self._chosen)
            sc.transition(entry, state, state["last_action"])
            if not sc.frame_valid(entry, state):  # the move leaves the video (ChangeIt): the episode stops
                state.clear()
                state.update(before)
                outcome = "useless_suggestion"
            else:
                self._suggestions.append(self._chosen)
                if shown_turn is not None:
                    self._history.append(shown_turn)
        self._outcome = outcome
        self._solved = outcome == "correct"
        self._done = outcome != "useful_suggestion"
        terminated = self._done and not truncated
        return sc_reward(self.config.reward, outcome), terminated, truncated

    def _judge_turn(self, reply: str) -> tuple[str, bool]:
        """The multiple-choice outcome of one reply (the caller applies it); returns (outcome, truncated)."""
        entry, state, sc = self._entry, self._state, self.scenario
        assert entry is not None
        if self.config.random_options:  # no option ever disappears; every proactive one "works"
            valid = list(entry["options"])
            useful = [] if sc.last_turn(entry, state) else [o for o in valid if not is_abstain(o)]
        else:
            valid = sc.valid_options(entry, state)
            useful = sc.useful_options(entry, state)
        right = [entry["answer"]] if sc.category_allowed(entry, state) else []
        act_verdict, act_chosen = evaluate_reply(reply, useful, valid, 0)
        cat_verdict, cat_chosen = evaluate_reply(reply, right, entry["categories"], len(valid))
        if cat_verdict == "correct":
            self._chosen = cat_chosen
            return "correct", False
        if act_verdict == "correct":
            self._chosen = act_chosen
            if state["turn"] + 1 >= sc.max_turns(entry):
                return "out_of_turns", True
            return "useful_suggestion", False
        if act_verdict == "wrong":
            self._chosen = act_chosen
            return ("abstain" if is_abstain(act_chosen or "") else "useless_suggestion"), False
        if cat_verdict == "wrong":
            self._chosen = cat_chosen
            return "wrong_answer", False
        return "unparsable", False

    # ----- observation and info ----------------------------------------------------------------------------------
    def _shown_options(self) -> list[str]:
        assert self._entry is not None
        if self.config.mode == "open":
            return []
        if self.config.reference:
            return list(self._entry["categories"])
        if self.config.random_options:
            return list(self._entry["options"]) + list(self._entry["categories"])
        return self.scenario.shown_options(self._entry, self._state)

    def _question(self, entry: dict[str, Any] | None = None) -> str:
        sc = self.scenario
        entry = entry if entry is not None else self._entry
        assert entry is not None
        prompt = entry["prompt"]
        if self.config.reference and sc.reference_prompt is not None:
            prompt = sc.reference_prompt
        if self.config.mode == "open":
            hint = OPEN_HINT if self.config.hint else None
        else:
            hint = sc.hint_for(entry) if self.config.hint else None
        return build_question(prompt, sc.pre_prompt, hint)

    def _current_dialogue(self) -> str:
        if self.config.mode == "open":
            return self._question()
        return render_prompt(self._question(), self._shown_options())

    def _current_image_key(self) -> tuple[str, tuple[float, ...] | None]:
        entry, sc = self._entry, self.scenario
        assert entry is not None
        if self.config.reference:
            return sc.image_key(entry, self._state, reference=True), None
        return sc.image_key(entry, self._state), sc.crop_box(entry, self._state)

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

            array = np.array(resize_short_edge(PILImage.fromarray(array), short_edge))
        return array

    def _refresh_observation(self) -> None:
        key, box = self._current_image_key()
        self._image = self._load(key, box, resize=self.config.history)
        self._dialogue = self._current_dialogue()

    def _observation(self) -> dict[str, Any]:
        assert self._image is not None
        obs: dict[str, Any] = {"image": self._image.copy(), "dialogue": self._dialogue}
        if self.config.history or self.config.icl_examples:
            turns = []
            for demo in self._demos:
                if "image" not in demo:
                    key, box = demo["key"]
                    if self.config.icl_full:  # the query's own image size
                        resize, edge = self.config.history, HISTORY_SHORT_EDGE
                    else:
                        resize, edge = True, self.scenario.icl_short_edge or HISTORY_SHORT_EDGE
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
        entry, sc, state = self._entry, self.scenario, self._state
        assert entry is not None
        key, _ = self._current_image_key()
        info: dict[str, Any] = {
            "sample_id": entry["id"],
            "scenario": sc.name,
            "turn": state["turn"],
            "max_turns": 1 if (self.config.reference or self.config.mode == "open") else sc.max_turns(entry),
            "frame": entry["reference_image"] if self.config.reference else sc.frame_info(entry, state),
            "image_path": key,
            "options": self._shown_options(),
            "outcome": self._outcome,
            "chosen": self._chosen,
            "solved": self._solved,
            "suggestions": list(self._suggestions),
            "min_turns": self._min_turns,
            "oracle": self._oracle(),
            "subset": self.episodes.subset,
            "data_source": self.episodes.source,
            "split": self.episodes.split,
            "mode": self.config.mode,
        }
        if self.config.mode == "open":
            info["acceptable_answers"] = sc.open_answers(entry)
            info["n_suggestion_answers"] = sc.open_suggestions
        return info

    def _oracle(self) -> str | None:
        entry = self._entry
        assert entry is not None
        if self._done:
            return None
        if self.config.mode == "open":
            return self.scenario.open_answers(entry)[0]
        if self.config.reference:
            cats = list(entry["categories"])
            return f"{chr(65 + cats.index(entry['answer']))}. {entry['answer']}"
        if self.config.random_options:  # the actions are random: answer when the object is visible
            shown, sc = self._shown_options(), self.scenario
            ready = sc.at_reference(entry, self._state) and sc.category_allowed(entry, self._state)
            movable = [o for o in shown[: len(entry["options"])] if not is_abstain(o)] and not sc.last_turn(
                entry, self._state
            )
            target = entry["answer"] if ready or not movable else next(o for o in shown if not is_abstain(o))
            return f"{chr(65 + shown.index(target))}. {target}"
        return self.scenario.oracle_reply(entry, self._state)

    def _make_demos(self, sample_id: int) -> list[dict[str, Any]]:
        """Solved demonstration episodes of other samples, for the in-context-examples setting.

        As the authors' demonstrations (``get_icl_example``): the replies are the bare option or category
        texts. ROD: the first frame, one move picked at random, then the category on the frame that move
        reaches. MVP-N: the first useful option on every turn but the last, then the category. By default
        (the paper's variant) the images are resized (ROD 512, MVP-N 112 pixels on the short edge) and a
        demonstration longer than two turns keeps its first and last turns; ``icl_full=True`` keeps every
        turn at the query's own image size. The samples and the random moves are drawn deterministically
        from the sample id.
        """
        sc = self.scenario
        others = [i for i in self.sample_ids if i != sample_id]
        if len(others) < self.config.icl_examples:
            raise ValueError(
                f"{self.config.icl_examples} in-context examples need more than {len(others)} other samples"
            )
        rng = np.random.default_rng([7, int(sample_id)])
        demos: list[dict[str, Any]] = []
        for i in rng.choice(len(others), size=self.config.icl_examples, replace=False):
            entry = self._original[others[int(i)]]
            state = sc.initial_state(entry)
            steps = []
            while True:
                move = sc.demo_move(entry, state, rng)
                steps.append(
                    {
                        "entry": entry,
                        "key": (sc.image_key(entry, state), sc.crop_box(entry, state)),
                        "dialogue": render_prompt(self._question(entry), sc.shown_options(entry, state)),
                        "reply": move if move is not None else entry["answer"],
                    }
                )
                if move is None or state["turn"] + 1 >= sc.max_turns(entry):
                    break
                state["turn"] += 1
                state["last_action"] = sc.action_of(move)
                sc.transition(entry, state, state["last_action"])
            demos.extend(steps if len(steps) <= 2 or self.config.icl_full else [steps[0], steps[-1]])
        return demos

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

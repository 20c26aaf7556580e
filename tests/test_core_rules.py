"""Every scenario rule of SPEC section 3, on the hand-made fixture data (proactive_gym.data.fixtures)."""

from __future__ import annotations

import gymnasium as gym
import pytest

from proactive_gym.data.fixtures import ABSTAIN, FIXES


def play(env, sample_id, replies):
    """Reset on a sample and step every reply; returns the list of (reward, terminated, truncated, info)."""
    obs, info = env.reset(options={"sample_id": sample_id})
    out = []
    for reply in replies:
        obs, reward, terminated, truncated, info = env.step(reply)
        out.append((reward, terminated, truncated, info))
    return obs, out


def test_rod_dialogue_and_turn_zero_rule(make_env):
    env = make_env("ROD")
    obs, info = env.reset(options={"sample_id": 0})
    assert obs["dialogue"] == (
        "What is the object behind the blocks? Choose from the following options. Options:\n"
        "A. Move the block to the left.\nB. I cannot tell.\nC. Move the block to the right.\n"
        "D. Cup.\nE. Vase.\nF. Lamp.\nG. Shoe.\n"
        "Please only return one of the options without any other words."
    )
    assert info["frame"] == 7 and info["turn"] == 0 and info["max_turns"] == 14
    assert tuple(obs["image"][0, 0]) == (70, 0, 0)
    # the right category at turn 0 is wrong: nothing has moved yet
    _, [(reward, terminated, truncated, info)] = play(env, 0, ["E. Vase."])
    assert (reward, terminated, truncated, info["outcome"], info["solved"]) == (
        0.0,
        True,
        False,
        "wrong_answer",
        False,
    )
    # after one move the same reply is right
    _, steps = play(env, 0, ["A", "E"])
    assert [s[3]["outcome"] for s in steps] == ["useful_suggestion", "correct"]
    assert [s[0] for s in steps] == [0.5, 1.0]
    assert steps[-1][3]["solved"] is True and steps[-1][3]["suggestions"] == ["Move the block to the left."]


def test_rod_circular_track(make_env):
    env = make_env("ROD")
    obs, steps = play(env, 0, ["C"] * 7)
    assert [s[3]["frame"] for s in steps] == [8, 9, 10, 11, 12, 13, 0]
    assert tuple(obs["image"][0, 0]) == (0, 0, 0)
    obs, steps = play(env, 0, ["C"] * 7 + ["A"])
    assert steps[-1][3]["frame"] == 13


def test_rod_corrupted_banana_frame_shows_the_neighbour(make_env):
    env = make_env("ROD")
    obs, steps = play(env, 1, ["A"])  # 7 -> 6, the corrupted frame: show s5
    assert steps[-1][3]["frame"] == 6
    assert steps[-1][3]["image_path"] == "ROD/natural_bluebl_greenr-banana-s5.png"
    assert tuple(obs["image"][0, 0]) == (50, 1, 0)
    obs, steps = play(env, 1, ["A", "A", "C"])  # 5 -> 6 moving right: show s7
    assert steps[-1][3]["image_path"] == "ROD/natural_bluebl_greenr-banana-s7.png"


def test_max_turns_cut_a_useful_suggestion(make_env):
    env = make_env("ROD")
    _, steps = play(env, 0, ["C"] * 14)
    assert [s[3]["outcome"] for s in steps[:13]] == ["useful_suggestion"] * 13
    reward, terminated, truncated, info = steps[-1]
    assert (reward, terminated, truncated, info["outcome"], info["turn"]) == (
        0.0,
        False,
        True,
        "out_of_turns",
        14,
    )
    with pytest.raises(gym.error.ResetNeeded):
        env.step("A")


def test_vsod_keeps_strong_occlusions_only_and_answers_any_turn(make_env):
    env = make_env("VSOD")
    assert env.unwrapped.sample_ids == [0, 2]
    obs, info = env.reset(options={"sample_id": 0})
    assert obs["dialogue"].startswith(
        "This is a frame extracted from a video. Answer the following question. Who is talking? Choose"
    )
    _, [(_, _, _, info)] = play(env, 0, ["E"])
    assert info["outcome"] == "correct"
    _, steps = play(env, 2, ["A", "C", "C"])  # rewind 0 -> 5 (circular), wait 5 -> 0 -> 1
    assert [s[3]["frame"] for s in steps] == [5, 0, 1]
    assert steps[0][3]["image_path"] == "VSOD/v2/0005.png"
    _, [(_, _, _, info)] = play(env, 2, ["B"])
    assert info["outcome"] == "abstain"


def test_mvpn_views_and_informative_last_turn(make_env):
    env = make_env("MVP-N")
    obs, info = env.reset(options={"sample_id": 0})
    assert info["image_path"] == "MVP-N/p0/0003_0.png" and info["max_turns"] == 3
    obs, steps = play(env, 0, ["A", "A"])
    assert [s[3]["image_path"] for s in steps] == ["MVP-N/p0/0007_0.png", "MVP-N/p0/0001_1.png"]
    assert tuple(obs["image"][0, 0]) == (10, 0, 255)
    # on the last turn rotating is no longer useful
    _, steps = play(env, 0, ["A", "A", "A"])
    assert steps[-1][3]["outcome"] == "useless_suggestion" and steps[-1][1] is True
    _, steps = play(env, 0, ["A", "A", "D"])
    assert steps[-1][3]["outcome"] == "correct"


def test_imagenet_c_one_useful_fix_and_last_turn(make_env):
    env = make_env("ImageNet-C")
    obs, info = env.reset(options={"sample_id": 0})
    assert info["options"] == FIXES + ["Cup.", "Goldfish.", "Lamp.", "Shoe."]
    assert info["image_path"] == "ImageNet-C/blur/5/x.png"
    _, [(reward, terminated, _, info)] = play(env, 0, ["B"])  # brightness: a fix that does not help
    assert (reward, terminated, info["outcome"], info["chosen"]) == (
        0.0,
        True,
        "useless_suggestion",
        "Increase the brightness.",
    )
    _, steps = play(env, 0, ["A"] * 4)
    assert [s[3]["image_path"] for s in steps] == [f"ImageNet-C/blur/{k}/x.png" for k in (4, 3, 2, 1)]
    _, steps = play(env, 0, ["A"] * 5)
    assert steps[-1][3]["outcome"] == "useless_suggestion"
    _, [(_, _, _, info)] = play(env, 0, ["C"])
    assert info["outcome"] == "abstain"


def test_quickdraw_strokes_and_last_frame(make_env):
    env = make_env("QuickDraw")
    _, steps = play(env, 0, ["A", "A", "A"])
    assert [s[3]["image_path"] for s in steps] == [
        "QuickDraw/cat/0001.png",
        "QuickDraw/cat/0002.png",
        "QuickDraw/cat/0003.png",
    ]
    _, steps = play(env, 0, ["A", "A", "A", "A"])
    assert steps[-1][3]["outcome"] == "useless_suggestion"
    _, [(_, _, _, info)] = play(env, 0, ["D. Cat."])
    assert info["outcome"] == "correct"


def test_changeit_options_vanish_at_both_ends_and_letters_shift(make_env):
    env = make_env("ChangeIt")
    obs, info = env.reset(options={"sample_id": 0})  # frame 1, step 3: no rewind
    assert info["options"][:2] == ["Wait for the object to appear.", ABSTAIN]
    assert "A. Wait for the object to appear.\nB. I cannot tell.\nC. Cup.\nD. Bike." in obs["dialogue"]
    _, steps = play(env, 0, ["A", "A"])  # 1 -> 4 -> 7
    assert [s[3]["frame"] for s in steps] == [4, 7]
    assert steps[0][3]["options"][:3] == ["Wait for the object to appear.", ABSTAIN, "Rewind the video."]
    # at frame 7 (7 + 3 >= 10) wait disappears and rewind moves from C to B
    assert steps[1][3]["options"][:2] == [ABSTAIN, "Rewind the video."]
    _, steps = play(env, 0, ["A", "A", "B"])
    assert steps[-1][3]["frame"] == 4 and steps[-1][3]["outcome"] == "useful_suggestion"
    _, steps = play(env, 0, ["A", "A", "C"])  # C is now a category
    assert steps[-1][3]["outcome"] == "wrong_answer"
    # frame 8 at the end: rewind only, as B
    obs, info = env.reset(options={"sample_id": 1})
    assert info["options"][:2] == [ABSTAIN, "Rewind the video."]
    # both ends at once: only rewind is removed (as the authors' code)
    obs, info = env.reset(options={"sample_id": 2})
    assert info["options"][:2] == ["Wait for the action to appear.", ABSTAIN]
    assert info["max_turns"] == 2


def test_changeit_max_steps(make_env):
    env = make_env("ChangeIt")
    _, steps = play(env, 0, ["A", "A", "B", "C"])  # 1 -> 4 -> 7 -> 4 -> (turn 4 = max_steps)
    assert steps[-1][3]["outcome"] == "out_of_turns" and steps[-1][2] is True


def test_coco_zoom_crop_boxes(make_env):
    env = make_env("COCO")
    obs, info = env.reset(options={"sample_id": 0})
    # zoom: left - h, top - v, width + h + left, height + v + top with h=10, v=8
    assert info["frame"] == [40.0, 32.0, 85.0, 68.0] and info["max_turns"] == 4
    assert obs["image"].shape == (36, 45, 3) and tuple(obs["image"][0, 0]) == (40, 32, 128)
    _, steps = play(env, 0, ["A", "A", "A"])
    assert [s[3]["frame"] for s in steps] == [
        [30.0, 24.0, 95.0, 76.0],
        [20.0, 16.0, 105.0, 84.0],
        [10.0, 8.0, 115.0, 92.0],
    ]
    # zoom's option disappears at h0 * (granularity + 1) = 40
    assert steps[-1][3]["options"][0] == ABSTAIN
    obs, info = env.reset(options={"sample_id": 0})
    assert "zooming" not in obs["dialogue"]


def test_coco_one_and_two_directions(make_env):
    env = make_env("COCO")
    obs, info = env.reset(options={"sample_id": 1})  # left, g=3, h=10
    assert info["frame"] == [60.0, 10.0, 110.0, 60.0] and info["max_turns"] == 3
    _, steps = play(env, 1, ["A", "A"])
    assert [s[3]["frame"] for s in steps] == [[50.0, 10.0, 110.0, 60.0], [40.0, 10.0, 110.0, 60.0]]
    assert steps[-1][3]["options"][0] == ABSTAIN  # h = 30 = h0 * g: left is gone
    obs, info = env.reset(options={"sample_id": 2})  # up_left, g=2
    assert info["max_turns"] == 4 and info["frame"] == [45.0, 38.0, 120.0, 90.0]
    _, steps = play(env, 2, ["A"])  # up: v 12 -> 24 = v0 * g, up is gone, left moves from C to B
    assert steps[0][3]["frame"] == [45.0, 26.0, 120.0, 90.0]
    assert steps[0][3]["options"][:2] == [ABSTAIN, "Move the camera to the left."]


def test_coco_hints(make_env):
    obs, _ = make_env("COCO", hint=True).reset(options={"sample_id": 0})
    assert (
        "What is the object in the image? Hint: zooming out could help with classification. Choose"
        in obs["dialogue"]
    )
    obs, _ = make_env("COCO", hint=True).reset(options={"sample_id": 1})
    assert "Hint: moving the camera could help with classification." in obs["dialogue"]


@pytest.mark.parametrize(
    "name, hint",
    [
        ("ROD", "Hint: moving the occluding object might reveal what is behind it."),
        (
            "VSOD",
            "Hint: If there is an occlusion, waiting for it to disappear or rewinding the video might reveal what's behind it.",
        ),
        ("MVP-N", "Hint: rotating the object could provide a more informative view."),
        ("ImageNet-C", "Hint: enhancing the image quality could help with classification."),
        ("QuickDraw", "Hint: Adding more details to the quickdraw could help with classification."),
        (
            "ChangeIt",
            "Hint: If you cannot answer the question, waiting for it to appear or rewinding the video could help with classification.",
        ),
    ],
)
def test_hints(make_env, name, hint):
    obs, _ = make_env(name, hint=True).reset(seed=0)
    assert f"? {hint} Choose from the following options." in obs["dialogue"]


def test_oracle_solves_every_fixture_episode_in_min_turns(make_env):
    for name in ("ROD", "VSOD", "MVP-N", "ImageNet-C", "QuickDraw", "ChangeIt", "COCO"):
        env = make_env(name)
        for sid in env.unwrapped.sample_ids:
            obs, info = env.reset(options={"sample_id": sid})
            turns, done = 0, False
            while not done:
                obs, reward, terminated, truncated, info = env.step(info["oracle"])
                turns, done = turns + 1, terminated or truncated
            assert info["solved"], (name, sid)
            assert turns == info["min_turns"], (name, sid)


def test_reward_config(make_env):
    env = make_env("ROD", reward={"useful_suggestion": 0.75, "abstain": -0.25})
    _, steps = play(env, 0, ["A", "B"])
    assert [s[0] for s in steps] == [0.75, -0.25]
    with pytest.raises(ValueError, match="unknown reward keys"):
        make_env("ROD", reward={"sugestion": 1.0})

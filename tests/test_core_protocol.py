"""The strict parser and the prompt text, as pure functions (SPEC section 3)."""

from __future__ import annotations

import pytest

from proactive_gym.protocol import build_question, evaluate_reply, render_prompt, standardize_text

VALID = ["Move the block to the left.", "I cannot tell.", "Move the block to the right."]
CATS = ["Cup.", "Lamp.", "Shoe.", "Vase."]  # letters D E F G; we make "Vase." sit on F below
CATS_F = ["Cup.", "Lamp.", "Vase.", "Shoe."]  # D. Cup. E. Lamp. F. Vase. G. Shoe.


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("F", ("correct", "Vase.")),
        (" f ", ("correct", "Vase.")),
        ("F.", ("correct", "Vase.")),
        ("F. Vase.", ("correct", "Vase.")),
        ("f. vase.", ("correct", "Vase.")),
        ("Vase.", ("correct", "Vase.")),
        ("VASE .", ("correct", "Vase.")),
        ("The answer is F. Vase.", ("correct", "Vase.")),
        ("Vase", ("mismatch", None)),
        ("F)", ("mismatch", None)),
        ("The answer is F", ("mismatch", None)),
        ("(F)", ("mismatch", None)),
        ("", ("mismatch", None)),
        ("D", ("wrong", "Cup.")),
        ("Shoe.", ("wrong", "Shoe.")),
        ("A", ("mismatch", None)),  # A is a proactive option's letter, not a category's
        ("H", ("mismatch", None)),
        ("E. Vase.", ("correct", "Vase.")),  # text match wins over the letter
        ("F. Cup.", ("wrong", "Cup.")),
        ("Sure!\nF. Vase.", ("mismatch", None)),  # the prefix pattern does not cross a newline
        ("\nF. Vase.", ("correct", "Vase.")),  # ... but the letter rule strips it
    ],
)
def test_category_block(reply, expected):
    assert evaluate_reply(reply, ["Vase."], CATS_F, shift=3) == expected


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("A", ("correct", "Move the block to the left.")),
        ("A. Move the block to the left.", ("correct", "Move the block to the left.")),
        ("MOVE the block to the right.", ("correct", "Move the block to the right.")),
        # the authors' prefix pattern eats everything up to "T." here: a faithful quirk
        ("move the block to the RIGHT.", ("mismatch", None)),
        ("B", ("wrong", "I cannot tell.")),
        ("I cannot tell.", ("wrong", "I cannot tell.")),
        ("Move the block to the left", ("mismatch", None)),
        ("D", ("mismatch", None)),
    ],
)
def test_option_block(reply, expected):
    useful = [VALID[0], VALID[2]]
    assert evaluate_reply(reply, useful, VALID, shift=0) == expected


def test_no_right_answer_makes_the_right_category_wrong():
    # ROD at turn 0: the categories block has no correct member
    assert evaluate_reply("F. Vase.", [], CATS_F, shift=3) == ("wrong", "Vase.")
    assert evaluate_reply("F", [], CATS_F, shift=3) == ("wrong", "Vase.")


def test_standardize_text_drops_up_to_the_last_capital_period():
    assert standardize_text("A. B. Move the camera up.") == "movethecameraup."
    assert standardize_text("  Tea Cup.  ") == "teacup."
    assert standardize_text("TV.") == ""


def test_render_prompt_exact_text():
    question = build_question(
        "Who is talking?",
        "This is a frame extracted from a video. Answer the following question.",
        "Hint: x.",
    )
    text = render_prompt(question, ["Rewind the video.", "The man."])
    assert text == (
        "This is a frame extracted from a video. Answer the following question. Who is talking? Hint: x. "
        "Choose from the following options. Options:\nA. Rewind the video.\nB. The man.\n"
        "Please only return one of the options without any other words."
    )
    assert build_question("Q?") == "Q?"

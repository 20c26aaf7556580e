"""Scripted agents and the ``make_agent`` registry (lazy dispatch to model agents)."""

from __future__ import annotations

import sys
import types

import pytest

from proactive_gym.agents import AGENT_SPECS, make_agent
from proactive_gym.agents.base import Agent

OPTIONS = [
    "Move the block to the left.",
    "I cannot tell.",
    "Move the block to the right.",
    "Cup.",
    "Vase.",
    "Lamp.",
    "Shoe.",
]


def info(**kw):
    base = {"scenario": "ROD", "sample_id": 4, "turn": 0, "options": OPTIONS, "oracle": "E. Vase."}
    return {**base, **kw}


def reply(spec, **kw):
    return make_agent(spec).act([{}], [info(**kw)])[0]


def test_oracle_replies_the_privileged_move():
    assert reply("oracle") == "E. Vase."
    assert reply("oracle", oracle="A. Move the block to the left.") == "A. Move the block to the left."


def test_abstain_picks_the_cannot_or_do_not_option():
    assert reply("abstain") == "B. I cannot tell."
    opts = ["Rewind the video.", "I do not know.", "Cat.", "Dog.", "Cow.", "Hen."]
    assert reply("abstain", options=opts) == "B. I do not know."
    assert reply("abstain", options=["Cat.", "Dog.", "Cow.", "Hen."]) == "I cannot tell."  # reference mode


def test_suggest_picks_the_first_non_abstain_proactive_option_else_a_category():
    opts = ["I cannot tell.", "Deblur the image.", "Denoise the image.", "Cat.", "Dog.", "Cow.", "Hen."]
    assert reply("suggest", options=opts) == "B. Deblur the image."
    assert reply("suggest") == "A. Move the block to the left."
    assert reply("suggest", options=["I cannot tell.", "Cat.", "Dog.", "Cow.", "Hen."]) == "B. Cat."


def test_first_guess_answers_the_first_category():
    assert reply("first-guess") == "D. Cup."
    assert reply("first-guess", turn=3) == "D. Cup."


def test_random_is_a_shown_letter_and_depends_only_on_episode_and_turn():
    agent = make_agent("random", seed=1)
    infos = [info(sample_id=s, turn=t) for s in range(30) for t in range(3)]
    replies = agent.act([{}] * len(infos), infos)
    assert set(replies) <= {f"{chr(65 + i)}." for i in range(len(OPTIONS))}
    assert len(set(replies)) > 3
    # same items in another order and batch split: same replies
    again = [agent.act([{}], [i])[0] for i in reversed(infos)][::-1]
    assert again == replies
    assert make_agent("random", seed=2).act([{}] * len(infos), infos) != replies
    assert make_agent("random", seed=1).describe()["seed"] == 1


def test_make_agent_rejects_bad_specs_and_options():
    with pytest.raises(ValueError, match="unknown agent spec 'gpt'; valid specs: oracle, random"):
        make_agent("gpt")
    with pytest.raises(ValueError, match="names no model"):
        make_agent("hf:")
    with pytest.raises(ValueError, match="does not take the options"):
        make_agent("oracle", dtype="bfloat16")
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        make_agent("random", seed=-1)
    assert "hf:<model id or path>" in AGENT_SPECS and "openai:<model>" in AGENT_SPECS


def test_model_specs_dispatch_lazily_with_options(monkeypatch):
    made = {}

    class FakeHF(Agent):
        def __init__(self, model, **options):
            made.update(model=model, options=options)

    module = types.ModuleType("proactive_gym.agents.hf")
    module.HFAgent = FakeHF
    monkeypatch.setitem(sys.modules, "proactive_gym.agents.hf", module)
    agent = make_agent("hf:Qwen/Qwen2.5-VL-3B-Instruct", dtype="bfloat16", max_new_tokens=20)
    assert isinstance(agent, FakeHF) and agent.name == "hf:Qwen/Qwen2.5-VL-3B-Instruct"
    assert made == {
        "model": "Qwen/Qwen2.5-VL-3B-Instruct",
        "options": {"dtype": "bfloat16", "max_new_tokens": 20},
    }


def test_a_missing_optional_module_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "proactive_gym.baselines.perception", None)  # import fails
    with pytest.raises((ValueError, ImportError), match="perception"):
        make_agent("perception")


def test_importing_agents_does_not_import_torch():
    import subprocess

    code = "import proactive_gym.agents, proactive_gym.evaluation, proactive_gym.cli, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

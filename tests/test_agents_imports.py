"""Importing the model agents, the judge and the tiny-model builder stays light (no torch, transformers, httpx)."""

from __future__ import annotations

import subprocess
import sys


def test_model_modules_import_without_heavy_dependencies() -> None:
    code = (
        "import sys\n"
        "import proactive_gym.agents.hf, proactive_gym.agents.openai_agent, proactive_gym.agents.judge\n"
        "import proactive_gym.agents.messages, proactive_gym.models, proactive_gym.models.tiny\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'httpx', 'openai', 'trl', 'peft', 'tokenizers')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

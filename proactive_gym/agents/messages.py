"""Chat messages for model agents: from an observation, and in the OpenAI wire format.

Every model agent starts from :func:`observation_messages`, which is
:func:`proactive_gym.protocol.to_messages` (one user turn with the image and the dialogue text, earlier turns
first when the env shows history or in-context examples). :func:`to_openai_messages` turns such a
conversation into the JSON an OpenAI-compatible server accepts (images as base64 data URLs).
"""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["observation_messages", "image_to_data_url", "to_openai_messages", "conversation_images"]


def observation_messages(obs: dict[str, Any]) -> list[dict[str, Any]]:
    """Chat messages (HF style, PIL images) for one env observation; see ``protocol.to_messages``."""
    if not isinstance(obs, dict) or "image" not in obs or "dialogue" not in obs:
        got = sorted(obs) if isinstance(obs, dict) else type(obs).__name__
        raise ValueError(f"an observation must be a dict with 'image' and 'dialogue' keys, got {got}")
    from proactive_gym.protocol import to_messages

    return to_messages(obs)


def image_to_data_url(image: Any, image_format: str = "png") -> str:
    """Encode a PIL image (or a uint8 HxWx3 array) as a ``data:image/...;base64,...`` URL.

    ``image_format`` is ``"png"`` (lossless, the default: the server sees the exact pixels) or ``"jpeg"``
    (quality 95, smaller requests).
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        import numpy as np

        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    fmt = image_format.lower()
    if fmt not in ("png", "jpeg", "jpg"):
        raise ValueError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    buf = io.BytesIO()
    if fmt == "png":
        image.save(buf, format="PNG", compress_level=1)
        mime = "image/png"
    else:
        image.convert("RGB").save(buf, format="JPEG", quality=95)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def to_openai_messages(messages: list[dict[str, Any]], image_format: str = "png") -> list[dict[str, Any]]:
    """Convert HF-style chat messages to the OpenAI chat-completions format.

    User content parts ``{"type": "image", "image": PIL}`` become ``{"type": "image_url", "image_url":
    {"url": "data:..."}}``; text parts stay. System and assistant turns become plain strings (every server
    accepts those).

    >>> msgs = to_openai_messages([{"role": "system", "content": "Be brief."},
    ...                            {"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    >>> msgs[0], msgs[1]["content"]
    ({'role': 'system', 'content': 'Be brief.'}, [{'type': 'text', 'text': 'Hi'}])
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        role, content = msg["role"], msg["content"]
        if role != "user" or isinstance(content, str):
            out.append({"role": role, "content": _text_of(content)})
            continue
        parts: list[dict[str, Any]] = []
        for part in content:
            kind = part.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": part["text"]})
            elif kind == "image":
                url = image_to_data_url(part["image"], image_format)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                raise ValueError(f"unsupported message part type {kind!r} (expected 'text' or 'image')")
        out.append({"role": role, "content": parts})
    return out


def conversation_images(messages: list[dict[str, Any]]) -> list[Any]:
    """The images of a conversation in the order they appear (the order a processor expects them)."""
    images: list[Any] = []
    for msg in messages:
        if isinstance(msg["content"], str):
            continue
        images.extend(part["image"] for part in msg["content"] if part.get("type") == "image")
    return images

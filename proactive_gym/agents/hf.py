"""``hf:<model>``: any Hugging Face image-text-to-text model with a chat template, run locally.

>>> agent = make_agent("hf:Qwen/Qwen2.5-VL-3B-Instruct", dtype="bfloat16", device="cuda", batch_size=16)
... # doctest: +SKIP

The model is loaded with ``AutoModelForImageTextToText`` and its processor (``AutoProcessor``, or the tiny
offline model's own class, see :func:`proactive_gym.models.load_processor`). Each observation becomes a chat
through :func:`proactive_gym.protocol.to_messages`, is rendered with the model's chat template, and a batch
of episodes is decoded greedily in one ``generate`` call with left padding (the paper: greedy, 50 new
tokens). Only the new tokens are decoded, special tokens skipped. Needs the ``[hf]`` extra.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from proactive_gym.agents.base import Agent
from proactive_gym.agents.messages import conversation_images, observation_messages

logger = logging.getLogger(__name__)

__all__ = ["HFAgent", "DTYPES"]

#: Accepted ``dtype`` values ("auto" = the checkpoint's own dtype).
DTYPES = ("auto", "float32", "bfloat16", "float16")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class HFAgent(Agent):
    """A transformers vision-language model answering with greedy decoding.

    Args:
        model: Hub id (``Qwen/Qwen2.5-VL-3B-Instruct``) or local directory (e.g. one written by
            :func:`proactive_gym.models.build_tiny_qwen3_vl`).
        dtype: One of ``auto``, ``float32``, ``bfloat16``, ``float16``. Default: ``auto`` on a GPU,
            ``float32`` on the CPU.
        device: ``cpu``, ``cuda``, ``cuda:1``, ``mps`` or ``auto`` (spread over all GPUs with
            ``device_map="auto"``). Default: ``cuda`` when available, else ``cpu``.
        attn_implementation: Passed to ``from_pretrained`` (``sdpa``, ``eager``, ``flash_attention_2``).
        adapter: Path or hub id of a PEFT (LoRA) adapter to apply, e.g. one trained by ``training/grpo.py``.
        max_new_tokens: Tokens generated per reply (the paper: 50).
        batch_size: Episodes per ``generate`` call.
        trust_remote_code: Allow model code from the hub (some VLMs need it). Off by default.
        text_only: Accept a model without image support (loaded with ``AutoModelForCausalLM``); used by the
            LLM judge. :meth:`act` then refuses observations.
        sampling: Sample instead of decoding greedily, with these ``generate`` settings (keys ``do_sample``,
            ``temperature``, ``top_p``, ``top_k``), e.g. the paper's judge decoding; None: greedy.

    Other keyword options are ignored with a warning (the CLI passes only the options a user gave).
    """

    def __init__(
        self,
        model: str,
        dtype: str | None = None,
        device: str | None = None,
        attn_implementation: str | None = None,
        adapter: str | None = None,
        max_new_tokens: int = 50,
        batch_size: int = 8,
        trust_remote_code: bool = False,
        text_only: bool = False,
        sampling: dict[str, Any] | None = None,
        **ignored: Any,
    ) -> None:
        if ignored:
            logger.warning("hf agent: ignoring options it does not use: %s", ", ".join(sorted(ignored)))
        if not isinstance(model, str) or not model.strip():
            raise ValueError("hf agent: give a model id or path, e.g. hf:Qwen/Qwen2.5-VL-3B-Instruct")
        if dtype is not None and dtype not in DTYPES:
            raise ValueError(f"hf agent: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        model = model.strip()
        self.model_id = str(Path(model).expanduser()) if model.startswith("~") else model
        self.max_new_tokens = _positive_int("max_new_tokens", max_new_tokens)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.attn_implementation = attn_implementation
        self.adapter = str(Path(adapter).expanduser()) if adapter and adapter.startswith("~") else adapter
        self.text_only = text_only
        unknown = set(sampling or {}) - {"do_sample", "temperature", "top_p", "top_k"}
        if unknown:
            raise ValueError(
                f"hf agent: unknown sampling settings {sorted(unknown)}; use do_sample, temperature, top_p, top_k"
            )
        self.sampling = dict(sampling) if sampling else None
        self._check_local_paths()

        try:
            import torch
            import transformers
        except ModuleNotFoundError as err:
            raise ImportError(f"the hf: agent needs {err.name!r}: pip install 'proactive_gym[hf]'") from err

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"hf agent: device {self.device!r} asked for, but torch sees no CUDA GPU; use cpu"
            )
        on_gpu = self.device == "auto" or self.device.startswith("cuda")
        self.dtype = dtype or ("auto" if on_gpu else "float32")

        # 1. The processor first: cheap, and it tells whether the model can take images and has a template.
        from proactive_gym.models import load_processor

        try:
            self.processor = load_processor(self.model_id, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as err:
            raise ValueError(f"hf agent: cannot load the processor of {self.model_id!r}: {err}") from err
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        has_images = getattr(self.processor, "image_processor", None) is not None
        if not has_images and not text_only:
            raise ValueError(
                f"hf agent: {self.model_id!r} has no image processor, so it cannot see the benchmark's "
                "images; use an image-text-to-text model (e.g. Qwen/Qwen2.5-VL-3B-Instruct)"
            )
        template = getattr(self.processor, "chat_template", None) or getattr(
            self.tokenizer, "chat_template", None
        )
        if not template:
            raise ValueError(
                f"hf agent: {self.model_id!r} has no chat template; use an instruction-tuned (chat) model or "
                "add a chat_template.jinja to the model directory"
            )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._uses_processor = has_images

        # 2. The model.
        loader = (
            transformers.AutoModelForCausalLM if not has_images else transformers.AutoModelForImageTextToText
        )
        load_kwargs: dict[str, Any] = {
            "dtype": "auto" if self.dtype == "auto" else getattr(torch, self.dtype),
            "trust_remote_code": trust_remote_code,
        }
        if attn_implementation:
            load_kwargs["attn_implementation"] = attn_implementation
        if self.device == "auto":
            load_kwargs["device_map"] = "auto"
        try:
            net: Any = loader.from_pretrained(self.model_id, **load_kwargs)
        except ValueError as err:
            raise ValueError(
                f"hf agent: {self.model_id!r} cannot be loaded as {loader.__name__}: {err}. The hf: agent "
                "needs an image-text-to-text model (one that AutoModelForImageTextToText supports)"
            ) from err
        if self.device != "auto":
            net = net.to(self.device)
        if adapter:
            net = self._apply_adapter(net, adapter)
        net.eval()
        self.model: Any = net
        self._input_device = next(net.parameters()).device

        # 3. Greedy decoding, never the image placeholder token (a weak model may emit it).
        suppress = []
        for attr in ("image_token_id", "video_token_id"):
            token_id = getattr(self.processor, attr, None)
            if isinstance(token_id, int):
                suppress.append(token_id)
        self._generate_kwargs: dict[str, Any] = {
            "do_sample": False,
            "temperature": None,
            "top_p": None,
            "top_k": None,
            "num_beams": 1,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if suppress:
            self._generate_kwargs["suppress_tokens"] = suppress
        if self.sampling:
            self._generate_kwargs.update({"do_sample": True, **self.sampling})

    def _check_local_paths(self) -> None:
        """Fail fast, before any heavy import, on a local model or adapter path that cannot work."""
        path = Path(self.model_id)
        if path.exists():
            if not path.is_dir() or not (path / "config.json").is_file():
                raise ValueError(f"hf agent: {path} is not a model directory (no config.json in it)")
        elif self.model_id.startswith((".", "/")):
            raise ValueError(f"hf agent: model directory {self.model_id} does not exist")
        if self.adapter:
            apath = Path(self.adapter).expanduser()
            if apath.exists() and not (apath / "adapter_config.json").is_file():
                raise ValueError(
                    f"hf agent: {apath} is not a PEFT adapter directory (no adapter_config.json)"
                )
            if not apath.exists() and self.adapter.startswith((".", "/", "~")):
                raise ValueError(f"hf agent: adapter directory {self.adapter} does not exist")

    def _apply_adapter(self, net: Any, adapter: str) -> Any:
        try:
            from peft import PeftModel
        except ModuleNotFoundError as err:
            raise ImportError("loading an adapter needs peft: pip install 'proactive_gym[hf]'") from err
        logger.info("hf agent: applying adapter %s", adapter)
        return PeftModel.from_pretrained(net, adapter).merge_and_unload()

    def generate(
        self, conversations: list[list[dict[str, Any]]], max_new_tokens: int | None = None
    ) -> list[str]:
        """Greedy replies for chat conversations (HF message format), ``batch_size`` at a time.

        Each conversation is rendered with the chat template plus the generation prompt; the reply is the
        decoded new tokens only, special tokens skipped.
        """
        replies: list[str] = []
        for start in range(0, len(conversations), self.batch_size):
            replies.extend(
                self._generate_batch(conversations[start : start + self.batch_size], max_new_tokens)
            )
        return replies

    def _generate_batch(
        self, conversations: list[list[dict[str, Any]]], max_new_tokens: int | None
    ) -> list[str]:
        import torch

        if self.model is None:
            raise RuntimeError(f"hf agent: {self.model_id!r} was closed; make a new agent")
        template_owner = self.processor if self._uses_processor else self.tokenizer
        texts = [
            template_owner.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
            for conv in conversations
        ]
        # One list of images per conversation, in order: processors that need to know which images belong
        # to which sample (Idefics3, SmolVLM) get it, and the others flatten it.
        images = [conversation_images(conv) for conv in conversations]
        has_images = any(images)
        if has_images and not self._uses_processor:
            raise ValueError(f"hf agent: {self.model_id!r} was loaded text-only and cannot take images")
        if self._uses_processor:
            inputs = self.processor(
                text=texts, images=images if has_images else None, padding=True, return_tensors="pt"
            )
        else:
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self._input_device)
        prompt_len = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            out = self.model.generate(
                **inputs, max_new_tokens=max_new_tokens or self.max_new_tokens, **self._generate_kwargs
            )
        return self.tokenizer.batch_decode(
            out[:, prompt_len:], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def act(self, observations: list[dict[str, Any]], infos: list[dict[str, Any]]) -> list[str]:
        """One greedy reply per observation (see :meth:`generate`)."""
        if self.text_only:
            raise ValueError(f"hf agent: {self.model_id!r} was loaded text-only and cannot act on images")
        return self.generate([observation_messages(obs) for obs in observations])

    def close(self) -> None:
        """Drop the model (and free GPU memory). Safe to call twice."""
        if getattr(self, "model", None) is None:
            return
        self.model = None
        if self.device != "cpu":
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def describe(self) -> dict[str, Any]:
        """Model, dtype, device, adapter and decoding settings, for the run summary."""
        info = super().describe()
        info.update(
            model=self.model_id,
            dtype=self.dtype,
            device=self.device,
            attn_implementation=self.attn_implementation,
            adapter=self.adapter,
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
            decoding="sample" if self.sampling else "greedy",
        )
        if self.sampling:
            info["sampling"] = dict(self.sampling)
        return info

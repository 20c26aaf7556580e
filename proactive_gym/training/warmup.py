"""Supervised stages before GRPO (the CPU demo uses them): vision pretraining, a knowledge phase and a
format warm-up, so that a random model learns the reply format, not the answers."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from proactive_gym.protocol import N_CATEGORIES, is_abstain, letter
from proactive_gym.training.args import SCENARIO_ORDER, Args
from proactive_gym.training.rows import EnvCache, env_kwargs, make_env, prompt_and_images

logger = logging.getLogger("proactive_gym.training")


def warmup_target(
    options: list[str], oracle: str, oracle_fraction: float, rng: Any, reply_format: str = "text"
) -> str:
    """One warm-up target: the oracle's reply with probability ``oracle_fraction``, else a shown option drawn
    uniformly; written as the option's text (``"Vase."``) or with its letter (``"C. Vase."``).

    Uniform draws teach the format only: every option (suggestions, categories, abstain) is equally likely
    whatever the state. Oracle draws (on the training scenarios only) give the model a head start that
    GRPO can sharpen; keeping the fraction well below 1 leaves GRPO something to learn. In text form the
    first generated token names the choice ("Move", "I", "Vase"), which a small model learns to steer far
    more easily than a letter whose meaning changes with every shuffled option list.
    """

    if rng.random() < oracle_fraction:
        j = next(i for i, option in enumerate(options) if oracle in (f"{letter(i)}. {option}", option))
    else:
        j = int(rng.integers(len(options)))
    return reply_form(options, j, reply_format)


def hint_target(hint: dict[str, Any], rng: Any) -> str:
    """A warm-up target of the ``hint`` form: the letter the recognizer's line names as its answer (``"E."``)
    with probability ``confidence / 9``, else the letter of the suggestion it names (``"A."``).

    A prior, not a policy: "the more confident, the likelier to answer", from the line alone. The draw
    never looks at what is correct or at the reward, so where to draw the line (answer from which
    confidence on) is left to GRPO."""
    if hint["answer"] is not None and rng.random() < hint["confidence"] / 9:
        return f"{hint['answer']}."
    return f"{hint['suggestion']}."


def reply_form(options: list[str], j: int, reply_format: str) -> str:
    """Option ``j`` of ``options`` written in ``reply_format`` (one of :data:`REPLY_FORMATS`): ``"Vase."``
    (text), ``"C. Vase."`` (letter); mixed: the text for one of the last four options (the categories) and
    ``"B."`` for the others; suggest-letter: ``"B."`` for a suggestion (neither a category nor the abstain
    option), the text for the others."""

    category = j >= len(options) - N_CATEGORIES
    if reply_format == "mixed" and not category:
        return f"{letter(j)}."
    if reply_format == "suggest-letter" and not category and not is_abstain(options[j]):
        return f"{letter(j)}."
    if reply_format == "letter":
        return f"{letter(j)}. {options[j]}"
    return options[j]


def knowledge_rows(
    scenarios: list[str], kwargs: dict[str, Any], max_samples: int, seed: int, reply_format: str = "text"
) -> list[dict[str, Any]]:
    """Knowledge-phase rows: the reference setting (clear reference frame, the 4 categories as options) of
    ``max_samples`` seeded episodes per scenario of ``kwargs``' split, with ``target`` = the correct
    category in ``reply_format``. Deterministic; same columns as :func:`build_rows` plus ``target``."""
    import numpy as np

    rows = []
    for scenario in scenarios:
        env = make_env(scenario, {**kwargs, "reference": True})
        ids = list(env.unwrapped.sample_ids)
        if max_samples < len(ids):
            rng = np.random.default_rng([seed, SCENARIO_ORDER.index(scenario), 1])
            ids = sorted(rng.choice(ids, size=max_samples, replace=False).tolist())
        for sample_id in ids:
            obs, info = env.reset(options={"sample_id": sample_id})
            options = list(info["options"])
            j = next(i for i, o in enumerate(options) if info["oracle"] in (f"{letter(i)}. {o}", o))
            prompt, images = prompt_and_images(obs)
            rows.append(
                {
                    "prompt": prompt,
                    "images": images,
                    "scenario": scenario,
                    "sample_id": int(sample_id),
                    "replies": "[]",
                    "options": json.dumps(options),
                    "target": reply_form(options, j, reply_format),
                    "seed": seed,
                }
            )
        env.close()
    return rows


def pooled_image_features(model: Any, encoded: list[dict[str, Any]]) -> Any:
    """The mean vision token of each image, from image-processor outputs (``pixel_values``,
    ``image_grid_thw``), as one ``(len(encoded), out_hidden_size)`` tensor: what the vision head reads."""
    import torch

    features = model.model.get_image_features(
        torch.cat([e["pixel_values"] for e in encoded]), torch.cat([e["image_grid_thw"] for e in encoded])
    ).pooler_output
    return torch.stack([tokens.mean(0) for tokens in features])


def vision_pretrain(
    model_dir: Path,
    knowledge: list[dict[str, Any]],
    args: Args,
    out_dir: Path,
    on_step: Any = None,
) -> Path:
    """Pretrain the vision tower of ``model_dir`` to name the category of the knowledge rows' images.

    A temporary linear head on the mean of each image's vision tokens is trained with cross-entropy over the
    categories of ``knowledge`` (their ``target`` texts), together with every vision-tower parameter; the
    language model is untouched and the head is dropped. Images are preprocessed once. Saves model and
    processor to ``out_dir`` and returns it. Deterministic for a given ``args.seed``.
    ``on_step(step, model, head, classes, processor)``, if given, is called after every optimizer step
    (``benchmarks/probe_vision_pretraining.py`` uses it to measure the head on held-out frames).
    """
    import numpy as np
    import torch
    from transformers import AutoModelForImageTextToText

    from proactive_gym.models import load_processor

    torch.manual_seed(args.seed)
    processor = load_processor(str(model_dir))
    model = AutoModelForImageTextToText.from_pretrained(str(model_dir), dtype=torch.float32)
    classes = sorted({row["target"] for row in knowledge})
    labels = torch.tensor([classes.index(row["target"]) for row in knowledge])
    encoded = [processor.image_processor(images=row["images"], return_tensors="pt") for row in knowledge]
    head = torch.nn.Linear(model.config.vision_config.out_hidden_size, len(classes))
    optimizer = torch.optim.AdamW(
        [*model.model.visual.parameters(), *head.parameters()], lr=args.vision_pretrain_learning_rate
    )
    rng = np.random.default_rng(args.seed + 2)
    model.train()
    start, correct, seen = time.perf_counter(), 0, 0
    for step in range(args.vision_pretrain_steps):
        batch = rng.choice(
            len(knowledge), size=min(args.vision_pretrain_batch_size, len(knowledge)), replace=False
        )
        logits = head(pooled_image_features(model, [encoded[i] for i in batch]))
        loss = torch.nn.functional.cross_entropy(logits, labels[batch])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if on_step is not None:
            on_step(step + 1, model, head, classes, processor)
        if step >= args.vision_pretrain_steps * 0.9:  # training accuracy over the last tenth of the steps
            correct += int((logits.argmax(1) == labels[batch]).sum())
            seen += len(batch)
        if step % 100 == 0 or step == args.vision_pretrain_steps - 1:
            logger.info(
                "vision pretraining step %d/%d loss %.3f (%.0fs)",
                step + 1,
                args.vision_pretrain_steps,
                loss.item(),
                time.perf_counter() - start,
            )
    logger.info(
        "vision pretraining: %d categories, training accuracy over the last tenth %.3f",
        len(classes),
        correct / max(1, seen),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    processor.save_pretrained(str(out_dir))
    return out_dir


def oracle_replies(rows: list[dict[str, Any]], kwargs: dict[str, Any]) -> list[str]:
    """The env's oracle reply (``info["oracle"]``) in the state of every row (privileged: targets only)."""
    envs = EnvCache(kwargs)
    replies = []
    for row in rows:
        _, info = envs(row["scenario"]).reset(
            options={"sample_id": row["sample_id"], "replies": json.loads(row["replies"])}
        )
        replies.append(info["oracle"])
    return replies


def format_warmup(
    model_dir: Path,
    rows: list[dict[str, Any]],
    args: Args,
    out_dir: Path,
    knowledge: list[dict[str, Any]] | None = None,
) -> Path:
    """Supervised warm-up of all parameters on ``rows`` with :func:`warmup_target`; saves to ``out_dir``.

    ``knowledge`` rows (see :func:`knowledge_rows`) join the pool with their fixed ``target``; batches are
    drawn uniformly from the pool. Only the reply tokens (and the end-of-turn token) are trained.
    Returns ``out_dir``.
    """
    import numpy as np
    import torch
    from transformers import AutoModelForImageTextToText

    from proactive_gym.models import load_processor

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    processor = load_processor(str(model_dir))
    model: Any = AutoModelForImageTextToText.from_pretrained(str(model_dir), dtype=torch.float32)
    model = model.to(device)
    model.train()
    oracles = oracle_replies(rows, env_kwargs(args, args.train_split))
    pool = list(rows) + list(knowledge or [])
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.sft_learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / max(1, args.sft_steps)))
    )
    rng = np.random.default_rng(args.seed + 1)
    tokenizer = processor.tokenizer
    start = time.perf_counter()
    for step in range(args.sft_steps):
        batch = rng.choice(len(pool), size=min(args.sft_batch_size, len(pool)), replace=False)
        prompts, fulls, images = [], [], []
        for i in batch:
            prompt = with_images(pool[i]["prompt"], pool[i]["images"])
            if i >= len(rows):
                target = pool[i]["target"]
            elif args.sft_reply_format == "hint":
                target = hint_target(json.loads(rows[i]["hint"]), rng)
            else:
                target = warmup_target(
                    json.loads(rows[i]["options"]),
                    oracles[i],
                    args.sft_oracle_fraction,
                    rng,
                    args.sft_reply_format,
                )
            answer = {"role": "assistant", "content": [{"type": "text", "text": target}]}
            prompts.append(processor.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False))
            fulls.append(processor.apply_chat_template(prompt + [answer], tokenize=False))
            images.append(pool[i]["images"])
        tokenizer.padding_side = "right"
        enc = processor(text=fulls, images=images, return_tensors="pt", padding=True)
        prompt_lengths = [len(ids) for ids in processor(text=prompts, images=images)["input_ids"]]
        tokenizer.padding_side = "left"
        labels = enc["input_ids"].clone()
        for row, length in enumerate(prompt_lengths):
            labels[row, :length] = -100
        labels[enc["attention_mask"] == 0] = -100
        loss = model(**{k: v.to(device) for k, v in enc.items()}, labels=labels.to(device)).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 50 == 0 or step == args.sft_steps - 1:
            logger.info(
                "warm-up step %d/%d loss %.3f (%.0fs)",
                step + 1,
                args.sft_steps,
                loss.item(),
                time.perf_counter() - start,
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    processor.save_pretrained(str(out_dir))
    return out_dir


def with_images(prompt: list[dict[str, Any]], images: list[Any]) -> list[dict[str, Any]]:
    """Fill the prompt's image placeholders with ``images`` (in order), dropping empty text keys."""
    pending = iter(images)
    messages = []
    for message in prompt:
        content = []
        for part in message["content"]:
            if part["type"] == "image":
                content.append({"type": "image", "image": next(pending)})
            else:
                content.append({"type": "text", "text": part["text"]})
        messages.append({"role": message["role"], "content": content})
    return messages

"""Hostile or unlucky input: the data root is a boundary, every bad field is named at make time, images
are checked before the first episode, and no record can break a resume or a report."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import struct
import subprocess
import warnings
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import proactive_gym  # noqa: F401 - registers the envs
from proactive_gym.agents.base import Agent
from proactive_gym.cli import main
from proactive_gym.data import DataError
from proactive_gym.data.errors import RELEASE_HELP
from proactive_gym.data.fixtures import fixture_entries, write_fixture
from proactive_gym.evaluation import evaluate
from proactive_gym.evaluation import metrics as metrics_mod
from proactive_gym.evaluation.report import embed_json, write_report
from proactive_gym.evaluation.results import RunDir, RunDirError
from proactive_gym.scenarios import SCENARIOS

QD = "QuickDraw_preprocessed.jsonl"
FIX = f"Fix these lines (a file from the release that fails here is damaged or truncated: download it again). {RELEASE_HELP}"
UNPACK = "The image archives must be unpacked inside {root} so that the templates resolve. " + RELEASE_HELP


def quickdraw(root: Path, **changes) -> Path:
    """The QuickDraw fixture under ``root`` with ``changes`` applied to its one entry."""
    write_fixture(root, prefixes=["QuickDraw"])
    entry = {**fixture_entries()["QuickDraw"][0], **changes}
    (root / QD).write_text(json.dumps(entry) + "\n")
    return root


def make_qd(root: Path, **kwargs):
    return gym.make("ProactiveBench/QuickDraw-v0", data_root=str(root), subset="all", **kwargs).unwrapped


# ----- confinement -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        ("../../etc/{image}", "no '..' component"),
        ("QuickDraw/../../{image}.png", "no '..' component"),
        ("/etc/passwd{image}", "relative, not absolute"),
        ("C:/data/{image}.png", "relative, not absolute"),
    ],
)
def test_a_template_leaving_the_root_is_refused_at_make(tmp_path, template, rule):
    quickdraw(tmp_path, image_template=template)
    with pytest.raises(DataError) as err:
        make_qd(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / QD}: 1 problem(s) on 1 line(s):\n"
        f"  line 1, field 'image_template': found {json.dumps(template)} (a string), expected a path inside "
        f"the data root (rule: {rule})\n{FIX}"
    )


def test_a_symlink_out_of_the_root_is_never_opened(tmp_path, monkeypatch):
    root = quickdraw(tmp_path / "root")
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 6), (1, 2, 3)).save(outside)
    frame1 = root / "QuickDraw/cat/0001.png"
    frame1.unlink()
    frame1.symlink_to(outside)
    (root / "QuickDraw/cat/0002.png").unlink()
    (root / "QuickDraw/cat/0002.png").symlink_to(root / "QuickDraw/cat/0003.png")  # inside: allowed
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(str(fp)) or real_open(fp, *a, **k))
    env = make_qd(root)
    where = f"sample 0 (line 1 of {root / QD})"
    with pytest.raises(DataError) as err:
        env.check_images()
    assert str(err.value) == (
        "1 of the 4 images that the planned QuickDraw episodes can show cannot be used:\n"
        f"  {frame1}: resolves to {os.path.realpath(outside)}, outside the data root (a symlink in the root "
        f"may point only inside it) ({where})\n" + UNPACK.format(root=root)
    )
    env.reset(seed=0)
    with pytest.raises(DataError) as err:
        env.step("A")  # ask for a stroke: frame 1, the link out of the root
    assert str(err.value) == (
        f"image {frame1} ({where}) resolves to {os.path.realpath(outside)}, outside the data root "
        f"{os.path.realpath(root)}: a symlink inside the data root may point only inside it. Move or copy "
        "the files into the root (or make the whole root a link to where they are)."
    )
    assert opened and not any("secret" in p for p in opened)


def test_the_data_root_itself_may_be_a_symlink(tmp_path):
    real = quickdraw(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    env = make_qd(tmp_path / "link")
    assert env.check_images() == 4
    obs, info = env.reset(seed=0)
    assert tuple(obs["image"][0, 0]) == (0, 0, 0)


# ----- the schema --------------------------------------------------------------------------------------


def test_every_bad_line_of_a_file_is_reported_at_once(tmp_path):
    write_fixture(tmp_path, prefixes=["ChangeIt"])
    good = fixture_entries()["ChangeIt"]
    lines = [json.dumps(good[0]).encode()]

    def bad(**changes):
        entry = {**good[1], "id": 10 + len(lines), **changes}
        lines.append(json.dumps(entry).encode())

    bad(num_images=True)
    bad(step_size=0, options=[])
    bad(image_template="ChangeIt/{0}.png")
    bad(image_template="ChangeIt/{image.png")
    bad(image_template="ChangeIt/{image:>999999999}.png")
    lines.append(json.dumps(good[0]).encode())  # a duplicate id
    lines.append(b'{"id": 3, "prompt": "caf\xe9"}')
    bad(num_images=10**9, max_steps=10**9)
    bad(first_image=12, answer="Car.", prompt=None)
    lines.append(b"[1, 2]")
    lines.append(b'{"id": 4, "prompt": ')
    bad(step_size=1.5, categories=["A.", "A."], reference_image=float("nan"))
    bad(options=["Wait for the object to appear.", "I cannot tell.", "Fly away."])
    (tmp_path / "ChangeIt_preprocessed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError) as err:
        gym.make("ProactiveBench/ChangeIt-v0", data_root=str(tmp_path), subset="all")
    keys = "'rewind the video.', 'wait for the'"
    assert str(err.value) == "\n".join(
        [
            f"{tmp_path / 'ChangeIt_preprocessed.jsonl'}: 19 problem(s) on 13 line(s):",
            "  line 2, field 'num_images': found true (a boolean), expected an integer from 1 to 100000",
            "  line 3, field 'options': found [] (a list), expected a non-empty list of distinct strings",
            "  line 3, field 'step_size': found 0 (an integer), expected an integer from 1 to 100000",
            "  line 4, field 'image_template': found \"ChangeIt/{0}.png\" (a string), expected only the "
            "placeholders {image} (found {0})",
            "  line 5, field 'image_template': found \"ChangeIt/{image.png\" (a string), expected a format "
            "string with balanced braces (expected '}' before end of string)",
            "  line 6, field 'image_template': found \"ChangeIt/{image:>999999999}.png\" (a string), expected "
            "plain placeholders such as {image}, without a format spec or conversion",
            "  line 7, field 'id': found 0 (an integer), expected an id not used before (line 1 has it)",
            "  line 8: found byte 0xe9 at column 25, expected UTF-8 text",
            "  line 9, field 'num_images': found 1000000000 (an integer), expected an integer from 1 to 100000",
            "  line 9, field 'max_steps': found 1000000000 (an integer), expected an integer from 1 to 1000",
            "  line 10, field 'prompt': found null, expected a string",
            "  line 10, field 'answer': found \"Car.\" (a string), expected one of the categories "
            '["Cup.", "Bike.", "Lamp.", "Shoe."]',
            "  line 10, field 'first_image': found 12 (an integer), expected a frame from 0 to 9 (num_images "
            "is 10)",
            "  line 11: found [1, 2] (a list), expected a JSON object",
            "  line 12: found text that is not valid JSON (Expecting value at column 21), expected one JSON "
            "object per line",
            '  line 13, field \'categories\': found ["A.", "A."] (a list), expected a list of at least 2 '
            "distinct strings",
            "  line 13, field 'reference_image': found NaN (a number), expected an integer",
            "  line 13, field 'step_size': found 1.5 (a number), expected an integer from 1 to 100000",
            '  line 14, field \'options\': found ["Wait for the object to appear.", "I cannot tell.", "Fly... '
            f"(a list), expected options that each name one action of ChangeIt ({keys}); 'Fly away.' names "
            "no action",
            FIX,
        ]
    )


def test_the_report_is_capped_and_counts_the_rest(tmp_path):
    quickdraw(tmp_path)
    entry = fixture_entries()["QuickDraw"][0]
    rows = [json.dumps({**entry, "id": i, "num_images": "4"}) for i in range(30)]
    (tmp_path / QD).write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        make_qd(tmp_path)
    text = str(err.value).splitlines()
    assert text[0] == f"{tmp_path / QD}: 30 problem(s) on 30 line(s); the first 20:"
    assert (
        text[20]
        == "  line 20, field 'num_images': found \"4\" (a string), expected an integer from 1 to 1000"
    )
    assert text[21:23] == ["  ... and 10 more", FIX]


@pytest.mark.parametrize(
    ("prefix", "changes", "field", "found", "expected"),
    [
        ("QuickDraw", {"first_image": 1}, "first_image", "1 (an integer)",
         "0: frames run 0 to 3 and each suggestion adds one, up to 3 of them"),
        ("QuickDraw", {"num_images": 5000}, "num_images", "5000 (an integer)", "an integer from 1 to 1000"),
        ("ImageNet-C", {"num_images": 6, "first_image": 5}, "num_images", "6 (an integer)",
         "at most first_image (5): each fix lowers the severity by one, down to 1"),
        ("ImageNet-C", {"quality_answer": "I cannot tell."}, "quality_answer", '"I cannot tell." (a string)',
         "one of the options that is not the abstain option"),
        ("MVP-N", {"valid_images": [3, True, 1]}, "valid_images", "[3, true, 1] (a list)",
         "a list of view ids (integers >= 0), one per turn"),
        ("MVP-N", {"valid_images": [3, 7]}, "valid_images", "[3, 7] (a list)",
         "at least num_images (3) view ids, one per turn"),
        ("MVP-N", {"image_template": "MVP-N/p0/{image}_{level}.png"}, "image_template",
         '"MVP-N/p0/{image}_{level}.png" (a string)', "only the placeholders {image}, {informative} (found {level})"),
        ("OcclusionDataSet-MM20", {"strong_occlusions": 1}, "strong_occlusions", "1 (an integer)", "true or false"),
        ("coco2014", {"crop": {"top": 40, "left": 50, "height": 20, "width": True}}, "crop",
         '{"top": 40, "left": 50, "height": 20, "width": true} (an object)',
         "an object with numbers top, left, height, width (at most 100000 in size)"),
        ("coco2014", {"direction": "left_right"}, "direction", '"left_right" (a string)',
         "one of down, down_left, down_right, left, left_down, left_up, right, right_down, right_up, up, "
         "up_left, up_right, zoom"),
        ("coco2014", {"granularity": 0}, "granularity", "0 (an integer)", "an integer from 1 to 499"),
        ("Realistic-Occlusion-Dataset", {"reference_image": 14}, "reference_image", "14 (an integer)",
         "a frame from 0 to 13 (num_images is 14)"),
        ("Realistic-Occlusion-Dataset", {"options": ["Move it to the left or to the right.", "I cannot tell."]},
         "options", '["Move it to the left or to the right.", "I cannot tell."] (a list)',
         "options that each name one action of ROD ('to the left', 'to the right'); 'Move it to the left or "
         "to the right.' names 2 actions (left, right)"),
        ("Realistic-Occlusion-Dataset", {"categories": ["Vase."] * 30, "answer": "Vase."}, "categories",
         '["Vase.", "Vase.", "Vase.", "Vase.", "Vase.", "Vase.", "V... (a list)',
         "a list of at least 2 distinct strings"),
        ("Realistic-Occlusion-Dataset", {"prompt": "caf\udce9"}, "prompt", '"caf\\udce9" (a string)', "a string"),
    ],
)  # fmt: skip
def test_typed_fields_per_scenario(tmp_path, prefix, changes, field, found, expected):
    write_fixture(tmp_path, prefixes=[prefix])
    entry = {**fixture_entries()[prefix][0], **changes}
    if prefix == "OcclusionDataSet-MM20":
        entry["strong_occlusions"] = changes["strong_occlusions"]
    path = tmp_path / f"{prefix}_preprocessed.jsonl"
    path.write_text(json.dumps(entry) + "\n")
    name = next(s.name for s in SCENARIOS.values() if s.prefix == prefix)
    with pytest.raises(DataError) as err:
        gym.make(f"ProactiveBench/{name}-v0", data_root=str(tmp_path), subset="all")
    problems = str(err.value).splitlines()[1:-1]
    assert f"  line 1, field {field!r}: found {found}, expected {expected}" in problems


HOSTILE = [
    None, True, False, 0, -1, 1, 2, 3, 5, 7, 14, 10**6, 10**12, -(10**12), 0.5, 1e308, float("nan"), float("inf"),
    "", "x", "{0}", "{}", "{image", "image}", "{image}", "../{image}", "/abs/{image}", "{image:>99999999}",
    "{image.real}", "{image[0]}", "{informative}{level}", "a/{image}/{image}", "I cannot tell.",
    "Rewind the video.", "Move the camera to the left.", "Add more details.", "Deblur the image.", "zoom",
    "up_left", [], [1], [True], ["a"], ["a", "a"], ["Cup.", "Cat."], [0, 1, 2, 3, 4], [-1, 2], {},
    {"top": 1}, {"top": 0, "left": 0, "height": 1e9, "width": 1e9}, {"top": 5, "left": 5, "height": 1, "width": 1},
]  # fmt: skip


def _mutate(rng: random.Random, lines: list[str]) -> list[str]:
    lines = list(lines)
    k = rng.randrange(len(lines))
    op = rng.random()
    try:
        entry = json.loads(lines[k])
    except ValueError:
        entry = None
    if op < 0.6 and isinstance(entry, dict):
        keys = [*entry, "id", "crop", "valid_images", "first_image", "num_images"]
        field = rng.choice(keys)
        if rng.random() < 0.15:
            entry.pop(field, None)
        elif field == "crop" and isinstance(entry.get("crop"), dict) and rng.random() < 0.5:
            entry["crop"][rng.choice(["top", "left", "height", "width"])] = rng.choice(HOSTILE)
        else:
            entry[field] = rng.choice(HOSTILE)
        lines[k] = json.dumps(entry)
    elif op < 0.7 or not lines[k]:
        lines[k] = lines[k][: rng.randrange(len(lines[k]) + 1)]
    elif op < 0.8:
        lines.append(lines[k])
    elif op < 0.9:
        lines[k] = rng.choice(["[]", "null", "1e999", '"x"', '{"id": 1}', "{}", "\x00", '{"id": 1e400}'])
    else:
        pos = rng.randrange(len(lines[k]))
        lines[k] = (
            lines[k][:pos] + rng.choice(["\\", '"', "{", "]", "\udcff", "\u2028", ","]) + lines[k][pos:]
        )
    return lines


@pytest.mark.parametrize("prefix", list(fixture_entries()))
def test_random_mutations_of_valid_data_raise_only_data_errors(tmp_path, prefix):
    write_fixture(tmp_path, prefixes=[prefix])
    path = tmp_path / f"{prefix}_preprocessed.jsonl"
    valid = path.read_text().splitlines()
    name = next(s.name for s in SCENARIOS.values() if s.prefix == prefix)
    rng = random.Random(prefix)
    outcomes = {"refused": 0, "played": 0, "data error in play": 0}
    for _ in range(60):
        lines = valid
        for _ in range(rng.randint(1, 2)):
            lines = _mutate(rng, lines)
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
        try:
            env = gym.make(f"ProactiveBench/{name}-v0", data_root=str(tmp_path), subset="all").unwrapped
        except DataError:
            outcomes["refused"] += 1
            continue
        try:
            env.check_images()
            for sid in env.sample_ids:
                obs, info = env.reset(options={"sample_id": sid})
                for _ in range(20):
                    obs, _, terminated, truncated, info = env.step(info["oracle"] or "A")
                    if terminated or truncated:
                        break
            outcomes["played"] += 1
        except DataError:
            outcomes["data error in play"] += 1
    assert outcomes["refused"] >= 20 and outcomes["played"] >= 2, outcomes


# ----- images before the first episode -----------------------------------------------------------------


def test_images_are_checked_before_the_first_episode(tmp_path):
    root = quickdraw(tmp_path / "data")
    cat = root / "QuickDraw/cat"
    (cat / "0001.png").unlink()
    (cat / "0002.png").write_bytes(b"")
    (cat / "0003.png").unlink()
    (cat / "0003.png").mkdir()
    out = tmp_path / "run"
    with pytest.raises(DataError) as err:
        evaluate("oracle", envs="QuickDraw", env_kwargs={"data_root": str(root), "subset": "all"}, out=out)
    where = f"sample 0 (line 1 of {root / QD})"
    assert str(err.value) == (
        "3 of the 4 images that the planned QuickDraw episodes can show cannot be used:\n"
        f"  {cat / '0001.png'}: not found ({where})\n"
        f"  {cat / '0002.png'}: empty (0 bytes) ({where})\n"
        f"  {cat / '0003.png'}: not a regular file ({where})\n" + UNPACK.format(root=root)
    )
    assert not (out / "episodes.jsonl").exists()


def test_reference_mode_checks_only_the_reference_frame(tmp_path):
    root = quickdraw(tmp_path)
    (root / "QuickDraw/cat/0001.png").unlink()
    assert make_qd(root, reference=True).check_images() == 1
    with pytest.raises(DataError, match="1 of the 4 images"):
        make_qd(root).check_images()


def test_a_corrupt_image_is_a_data_error_naming_file_and_sample(tmp_path):
    root = quickdraw(tmp_path)
    frame = root / "QuickDraw/cat/0001.png"
    frame.write_bytes(frame.read_bytes()[:30])  # truncated
    env = make_qd(root)
    env.reset(seed=0)
    with pytest.raises(DataError) as err:
        env.step("A")
    assert str(err.value).startswith(f"image {frame} (sample 0 (line 1 of {root / QD})) cannot be decoded (")
    assert str(err.value).endswith("). Re-extract it from the image archive.")


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG that claims ``width`` x ``height`` pixels (a few hundred bytes: a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (1 + 3 * width) * 2, 9)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_the_pixel_limit_refuses_a_bomb_before_decoding(tmp_path):
    root = quickdraw(tmp_path)
    frame = root / "QuickDraw/cat/0001.png"
    _png_header(frame, 10_000, 10_000)
    env = make_qd(root)
    env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(DataError) as err:
            env.step("A")
    assert str(err.value) == (
        f"image {frame} (sample 0 (line 1 of {root / QD})): 10000x10000 has 100,000,000 pixels, over the "
        "limit of 25,000,000 (max_image_pixels); decoding it would take about 0.4 GB. Shrink the image, or "
        "raise max_image_pixels if it is genuine."
    )
    _png_header(frame, 20_000, 20_000)  # over PIL's own limit: refused by PIL at open, still a DataError
    env.reset(seed=0)
    with pytest.raises(DataError, match=r"0001.png \(sample 0 .*\) is a decompression bomb \(Image size"):
        env.step("A")
    small = make_qd(root, max_image_pixels=47)  # the fixture's frames are 8 x 6 = 48 pixels
    with pytest.raises(DataError, match=r"8x6 has 48 pixels, over the limit of 47 \(max_image_pixels\)"):
        small.reset(seed=0)
    with pytest.raises(ValueError, match="max_image_pixels must be a positive integer, got 0"):
        make_qd(root, max_image_pixels=0)


# ----- records and reports -----------------------------------------------------------------------------

DANGEROUS = [
    "<!--<script>",
    "</script><script>document.body.innerHTML=''</script>",
    "A. line\u2028separator\u2029paragraph",
    "]]> &amp; & <b>bold</b> <!--",
    "</SCRIPT >",
    "<script>",
]


class Dangerous(Agent):
    name = "dangerous"

    def __init__(self) -> None:
        self.k = 0

    def act(self, observations, infos):
        self.k += len(observations)
        return [DANGEROUS[(self.k + i) % len(DANGEROUS)] for i in range(len(observations))]


@pytest.fixture
def dangerous_run(tmp_path, fixture_root):
    out = tmp_path / "run"
    evaluate(Dangerous(), envs="all", env_kwargs={"data_root": str(fixture_root), "subset": "all"}, out=out)
    path = out / "episodes.jsonl"
    records = [json.loads(line) for line in path.read_bytes().splitlines()]  # (str.splitlines splits at U+2028)
    records[0]["steps"][0]["reply"] = "lone \ud800 surrogate"  # as a writer that escapes it stores it
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return out, len(records)


def test_embedded_json_is_inert_for_any_string():
    data = {"s": [*DANGEROUS, "\ud800", "\udfff x"]}
    text = embed_json(data)
    assert text.isascii() and not re.search(r"[<>&]", text) and json.loads(text) == data


def test_html_report_renders_every_episode_for_dangerous_replies(dangerous_run, tmp_path):
    out, n = dangerous_run
    files = write_report([out], out=tmp_path / "report", max_images=0)
    page = files["html"].read_text(encoding="utf-8")
    assert "\\ud800" in page and "<!--<script>" not in page
    assert files["markdown"].read_text(encoding="utf-8").startswith("# ProactiveBench report")
    assert not list((tmp_path / "report").glob(".*.tmp"))
    binary = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if binary is None:
        pytest.skip("chromium is not installed: apt-get install chromium chromium-driver")
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", files["html"].resolve().as_uri() + "#expand"]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=90).stdout
    assert len(re.findall(r'<details class="episode"', dom)) == n == 13
    assert f"{n} episodes shown" in dom
    assert '\u2192 "&lt;!--&lt;script&gt;"' in dom
    assert '\u2192 "lone \\ud800 surrogate"' in dom


def test_a_failing_report_leaves_the_previous_one_whole(dangerous_run, tmp_path, monkeypatch):
    out, _ = dangerous_run
    files = write_report([out], out=tmp_path / "report", max_images=0, plots=False)
    before = files["html"].read_bytes()

    def disk_full(self, text, *args, **kwargs):  # writes half of the file, then fails
        with open(self, "w", encoding="utf-8") as f:
            f.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_report([out], out=tmp_path / "report", max_images=0, plots=False)
    assert files["html"].read_bytes() == before
    assert not list((tmp_path / "report").glob(".*.tmp"))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{}", "no 'scenario' string"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"scenario": "QuickDraw", "sample_id": true, "turns": 1}', "no integer 'sample_id'"),
        ('{"scenario": "QuickDraw", "sample_id": 0}', "no 'turns' count (and no 'error')"),
        ('{"scenario": "QuickDraw", "sample_id": 0, "turns": 1, "steps": [1]}',
         "'steps' is not a list of steps (objects with an integer 'turn')"),
    ],
)  # fmt: skip
def test_a_line_that_is_not_a_record_is_reported_with_its_number(
    tmp_path, fixture_root, capsys, line, problem
):
    out = tmp_path / "run"
    kwargs = {"data_root": str(fixture_root), "subset": "all"}
    evaluate("oracle", envs="ROD", env_kwargs=kwargs, out=out)
    path = out / "episodes.jsonl"
    first, *rest = path.read_text().split("\n")
    path.write_text(first + "\n" + line + "\n" + "\n".join(rest))
    message = (
        f"{path}, line 2: not an episode record ({problem}); the file was edited or damaged: fix or delete "
        "that line (resume then runs that episode again)"
    )
    with pytest.raises(RunDirError) as err:
        evaluate("oracle", envs="ROD", env_kwargs=kwargs, out=out, resume=True)
    assert str(err.value) == message
    with pytest.raises(RunDirError) as err:
        write_report([out], out=tmp_path / "report", max_images=0, plots=False)
    assert str(err.value) == message
    assert main(["report", str(out), "--no-plots"]) == 2
    assert "line 2: not an episode record" in capsys.readouterr().err.replace("\n", "")
    path.write_text(first + "\n" + "\n".join(rest))  # the line removed: resume finishes, nothing counted twice
    summary = evaluate("oracle", envs="ROD", env_kwargs=kwargs, out=out, resume=True)
    assert summary.data["data"]["ROD"]["finished"] == 2 and len(RunDir(out).records()) == 2


# ----- the env's own cost ------------------------------------------------------------------------------


def test_the_observation_image_is_fresh_without_extra_copies(make_env):
    env = make_env("QuickDraw")
    obs, info = env.reset(seed=0)
    image = obs["image"]
    assert not image.flags.writeable and image.base is not None  # PIL's packed pixels, not a copy of them
    obs2, *_ = env.step("A")
    assert not np.shares_memory(image, obs2["image"])
    last, _, terminated, _, _ = env.step("Z")  # ends the episode: the same frame again, as a copy
    assert terminated and np.array_equal(last["image"], obs2["image"])
    assert not np.shares_memory(last["image"], obs2["image"])


def test_bootstrap_in_blocks_gives_the_one_shot_draws(monkeypatch):
    values = np.random.default_rng(3).random(777)
    one_shot = values[np.random.default_rng([0, 9]).integers(0, 777, size=(1000, 777))].mean(axis=1)
    monkeypatch.setattr(metrics_mod, "BOOT_BLOCK", 5000)
    assert np.array_equal(metrics_mod.bootstrap_means(values, seed=[0, 9]), one_shot)


def test_icl_demos_come_from_the_other_samples(make_env):
    env = make_env("ROD", icl_examples=1).unwrapped
    for sid in env.sample_ids:
        env.reset(options={"sample_id": sid})
        assert {d["entry"]["id"] for d in env._demos} == set(env.sample_ids) - {sid}

"""The schema of the released format: one validation pass over each ``*_preprocessed.jsonl`` at make time.

Every line is checked (types per scenario, allowed ranges, templates, answers among the categories,
options that name an action, duplicate ids) and every problem of a file is reported at once, up to
``MAX_REPORTED``, as ``line N, field 'F': found X, expected Y``. ``true`` is not a number, ``NaN`` is not
a number, and nothing in a line may make a later loop run longer than the limits below.

Limits (a line beyond them is refused):

- ``MAX_TURNS`` (1,000): the most turns an episode may last (``num_images`` where it is the turn limit,
  ChangeIt's ``max_steps``, COCO's turns from ``granularity``);
- ``MAX_FRAMES`` (100,000): the most frames of a ChangeIt video (``num_images``), and the largest
  ``step_size``;
- ``MAX_COORD`` (100,000): the largest COCO crop coordinate or step, in pixels;
- ``MAX_LETTERS`` (26): options and categories together, one letter A..Z each.

Paths: ``image_template`` is a path relative to the data root. It may hold only the scenario's
placeholders (``{image}``; MVP-N ``{image}`` and ``{informative}``; ImageNet-C ``{level}``; COCO none,
the template is the path), with no format spec, conversion, index or attribute, and it must stay inside
the root: not absolute, no ``..`` component, no NUL. Frame fields are integers, so a formatted path
stays inside the root too (symlinks are checked when an image is opened: see ``released.py``).
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Callable
from typing import Any

from proactive_gym.protocol import is_abstain
from proactive_gym.scenarios import Scenario

MAX_TURNS = 1_000
MAX_FRAMES = 100_000
MAX_COORD = 100_000
MAX_LETTERS = 26
MAX_REPORTED = 20

# placeholders of each scenario's template; the first one is required (the frame)
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "ROD": ("image",),
    "VSOD": ("image",),
    "MVP-N": ("image", "informative"),
    "ImageNet-C": ("level",),
    "QuickDraw": ("image",),
    "ChangeIt": ("image",),
    "COCO": (),
}
SEVERITIES = (1, 5)  # ImageNet-C levels
HORIZONTAL, VERTICAL = ("left", "right"), ("up", "down")
DIRECTIONS = frozenset(
    ["zoom", *HORIZONTAL, *VERTICAL]
    + [f"{a}_{b}" for a in VERTICAL for b in HORIZONTAL]
    + [f"{b}_{a}" for a in VERTICAL for b in HORIZONTAL]
)
CROP_KEYS = ("top", "left", "height", "width")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[/\\]")

Problem = tuple[str, str, str]  # (field, found, expected); field "" for the line as a whole


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def show(value: Any, width: int = 60) -> str:
    """A short, printable rendering of a JSON value with its kind: ``true (a boolean)``."""
    text = json.dumps(value, ensure_ascii=True)
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text if value is None else f"{text} ({_kind(value)})"


def is_int(value: Any) -> bool:
    """An integer, not a boolean."""
    return type(value) is int


def is_number(value: Any) -> bool:
    """A finite integer or float, not a boolean."""
    return (type(value) is int) or (type(value) is float and math.isfinite(value))


def is_text(value: Any) -> bool:
    """A string of valid Unicode (no lone surrogates, which no writer can encode)."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_list(value: Any, least: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= least
        and all(is_text(v) for v in value)
        and len(set(value)) == len(value)
    )


def template_problem(template: str, scenario: Scenario) -> str | None:
    """What is wrong with an ``image_template`` for ``scenario`` (see the module docstring), or None."""
    allowed = TEMPLATE_FIELDS[scenario.name]
    if allowed:
        try:
            parts = list(string.Formatter().parse(template))
        except ValueError as err:
            return f"a format string with balanced braces ({err})"
        names = []
        for _, name, spec, conversion in parts:
            if name is None:
                continue
            if name not in allowed:
                return f"only the placeholders {', '.join('{' + a + '}' for a in allowed)} (found {{{name}}})"
            if spec or conversion:
                return f"plain placeholders such as {{{name}}}, without a format spec or conversion"
            names.append(name)
        if allowed[0] not in names:
            return f"a path with the {{{allowed[0]}}} placeholder"
        path = "".join(literal + ("0" if name is not None else "") for literal, name, _, _ in parts)
    else:
        path = template
    if not path or "\x00" in path:
        return "a non-empty path without NUL characters"
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        return "a path inside the data root (rule: relative, not absolute)"
    if ".." in _SEPARATORS.split(path):
        return "a path inside the data root (rule: no '..' component)"
    return None


class _Line:
    """The problems of one entry, gathered field by field."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry
        self.problems: list[Problem] = []
        self.bad_fields: set[str] = set()

    def bad(self, field: str, expected: str) -> None:
        found = show(self.entry[field]) if field in self.entry else "nothing"
        self.problems.append((field, found, expected))
        self.bad_fields.add(field)

    def check(self, field: str, good: bool, expected: str) -> None:
        if field not in self.entry or not good:
            self.bad(field, expected)

    def ok(self, *fields: str) -> bool:
        return all(f in self.entry and f not in self.bad_fields for f in fields)


def _int_range(lo: int, hi: int) -> str:
    return f"an integer from {lo} to {hi}"


def check_entry(entry: Any, scenario: Scenario) -> list[Problem]:
    """Every problem of one parsed line for ``scenario``; an empty list when the entry is valid."""
    if not isinstance(entry, dict):
        return [("", show(entry), "a JSON object")]
    line = _Line(entry)
    get: Callable[[str], Any] = entry.get
    name = scenario.name
    line.check("id", is_int(get("id")), "an integer")
    line.check("prompt", is_text(get("prompt")), "a string")
    line.check("options", _text_list(get("options"), 1), "a non-empty list of distinct strings")
    line.check("categories", _text_list(get("categories"), 2), "a list of at least 2 distinct strings")
    line.check("answer", is_text(get("answer")), "a string")
    line.check(
        "image_template", is_text(get("image_template")), "a string (a path relative to the data root)"
    )
    most = MAX_FRAMES if name == "ChangeIt" else MAX_TURNS
    num = get("num_images")
    line.check("num_images", is_int(num) and 1 <= num <= most, _int_range(1, most))
    line.check("first_image", is_int(get("first_image")), "an integer")
    line.check("reference_image", is_int(get("reference_image")), "an integer")
    if line.ok("options", "categories") and len(entry["options"]) + len(entry["categories"]) > MAX_LETTERS:
        line.bad("options", f"at most {MAX_LETTERS} options and categories together (one letter each)")
    if line.ok("answer", "categories") and entry["answer"] not in entry["categories"]:
        line.bad("answer", f"one of the categories {json.dumps(entry['categories'], ensure_ascii=True)}")
    if line.ok("image_template"):
        problem = template_problem(entry["image_template"], scenario)
        if problem is not None:
            line.bad("image_template", problem)
    _check_scenario_fields(line, scenario)
    if line.ok("options") and (name != "ImageNet-C" or line.ok("quality_answer")):
        _check_actions(line, scenario)
    if line.ok("num_images", "first_image", "reference_image"):
        _check_frames(line, scenario)
    return line.problems


def _check_scenario_fields(line: _Line, scenario: Scenario) -> None:
    entry, name = line.entry, scenario.name
    get: Callable[[str], Any] = entry.get
    if name == "VSOD":
        line.check("strong_occlusions", isinstance(get("strong_occlusions"), bool), "true or false")
    elif name == "MVP-N":
        views = get("valid_images")
        good = isinstance(views, list) and all(is_int(v) and v >= 0 for v in views)
        line.check("valid_images", good, "a list of view ids (integers >= 0), one per turn")
    elif name == "ImageNet-C":
        fix = get("quality_answer")
        good = is_text(fix) and line.ok("options") and fix in entry["options"] and not is_abstain(fix)
        line.check("quality_answer", good, "one of the options that is not the abstain option")
    elif name == "ChangeIt":
        line.check(
            "step_size",
            is_int(get("step_size")) and 1 <= get("step_size") <= MAX_FRAMES,
            _int_range(1, MAX_FRAMES),
        )
        line.check(
            "max_steps",
            is_int(get("max_steps")) and 1 <= get("max_steps") <= MAX_TURNS,
            _int_range(1, MAX_TURNS),
        )
    elif name == "COCO":
        line.check("direction", get("direction") in DIRECTIONS, f"one of {', '.join(sorted(DIRECTIONS))}")
        most = (MAX_TURNS - 1) // 2
        line.check(
            "granularity", is_int(get("granularity")) and 1 <= get("granularity") <= most, _int_range(1, most)
        )
        for key in ("horizontal_step", "vertical_step"):
            value = get(key)
            line.check(key, is_number(value) and 0 <= value <= MAX_COORD, f"a number from 0 to {MAX_COORD}")
        crop = get("crop")
        good = isinstance(crop, dict) and all(
            is_number(crop.get(k)) and abs(crop[k]) <= MAX_COORD for k in CROP_KEYS
        )
        line.check(
            "crop", good, f"an object with numbers {', '.join(CROP_KEYS)} (at most {MAX_COORD} in size)"
        )
        if line.ok("crop", "direction", "horizontal_step", "vertical_step"):
            box = scenario.crop_box(entry, {"h": entry["horizontal_step"], "v": entry["vertical_step"]})
            if box is not None and not (box[2] > box[0] and box[3] > box[1]):
                line.bad("crop", "a crop box of positive size (right > left and bottom > top at the start)")


def _check_actions(line: _Line, scenario: Scenario) -> None:
    """Every option that can be a useful suggestion names exactly one of the scenario's actions."""
    entry = line.entry
    if scenario.name == "ImageNet-C":
        useful = [entry["quality_answer"]]
    else:
        useful = [o for o in entry["options"] if not is_abstain(o)]
        if not useful:
            line.bad("options", "at least one proactive option besides the abstain option")
            return
    for option in useful:
        low = option.lower()
        actions = {action for key, action in scenario.action_keywords if key in low}
        if len(actions) != 1:
            keys = ", ".join(repr(k) for k, _ in scenario.action_keywords)
            what = (
                "names no action"
                if not actions
                else f"names {len(actions)} actions ({', '.join(sorted(actions))})"
            )
            line.bad(
                "options", f"options that each name one action of {scenario.name} ({keys}); {option!r} {what}"
            )
            return


def _check_frames(line: _Line, scenario: Scenario) -> None:
    """Frame ids in range, so that every frame an episode can reach exists in the numbering."""
    entry, name = line.entry, scenario.name
    n, first, ref = entry["num_images"], entry["first_image"], entry["reference_image"]
    frames = f"0 to {n - 1}"
    if name in ("ROD", "VSOD", "ChangeIt"):
        if not 0 <= first < n:
            line.bad("first_image", f"a frame from {frames} (num_images is {n})")
        if not 0 <= ref < n:
            line.bad("reference_image", f"a frame from {frames} (num_images is {n})")
    elif name == "QuickDraw":
        if first != 0:
            line.bad(
                "first_image", f"0: frames run {frames} and each suggestion adds one, up to {n - 1} of them"
            )
        if not 0 <= ref < n:
            line.bad("reference_image", f"a frame from {frames} (num_images is {n})")
    elif name == "ImageNet-C":
        lo, hi = SEVERITIES
        if not lo <= first <= hi:
            line.bad("first_image", _int_range(lo, hi) + " (a severity)")
        elif n > first:
            line.bad(
                "num_images", f"at most first_image ({first}): each fix lowers the severity by one, down to 1"
            )
        if not lo <= ref <= hi:
            line.bad("reference_image", _int_range(lo, hi) + " (a severity)")
    elif name == "MVP-N":
        if first < 0:
            line.bad("first_image", "a view id >= 0")
        if ref < 0:
            line.bad("reference_image", "a view id >= 0")
        if line.ok("valid_images") and len(entry["valid_images"]) < n:
            line.bad("valid_images", f"at least num_images ({n}) view ids, one per turn")


def format_problems(path: Any, problems: list[tuple[int, Problem]], fix: str) -> str:
    """One message for the problems of a file: a line each (up to ``MAX_REPORTED``), then ``fix``."""
    lines = {n for n, _ in problems}
    head = f"{path}: {len(problems)} problem(s) on {len(lines)} line(s)" + (
        f"; the first {MAX_REPORTED}:" if len(problems) > MAX_REPORTED else ":"
    )
    out = [head]
    for lineno, (field, found, expected) in problems[:MAX_REPORTED]:
        where = f"line {lineno}" + (f", field {field!r}" if field else "")
        out.append(f"  {where}: found {found}, expected {expected}")
    if len(problems) > MAX_REPORTED:
        out.append(f"  ... and {len(problems) - MAX_REPORTED} more")
    out.append(fix)
    return "\n".join(out)

"""Prompts on any frame of a file (SAM2's idea: a prompt belongs to a frame and an object).

    --box X1,Y1,X2,Y2@FRAME   --point X,Y[:neg]@FRAME   --prompts FILE.json

A prompts file is a JSON list of entries `{"frame": 60, "object": 2, "box": [x1, y1, x2, y2]}`
(or `"points": [[x, y], [x, y, 0]]` with an optional label 1 / 0 per point, or `"text": "..."`).
The first entry of an object creates it at its frame; a later entry for the same object is a
correction, applied from its frame on (`"correction": true` says that an object must already
exist there). `object` may be left out: a new object with the next free id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PromptError

if TYPE_CHECKING:  # the tracker (OpenCV) loads only when prompts are built: `--help` answers at once
    from .tracker import ObjectPrompt, PromptSet

ENTRY_KEYS = {"frame", "object", "points", "labels", "box", "text", "correction"}


@dataclass(frozen=True, slots=True)
class AtFrame:
    """A command-line prompt value with an @FRAME suffix."""

    value: object
    frame: int


def framed(parse):
    """`parse` (options.parse_box, parse_point ...) accepting an optional @FRAME suffix: the plain
    value without one, an `AtFrame` with one."""
    def convert(text: str):
        body, at, frame = text.rpartition("@")
        if not at:
            return parse(text)
        return AtFrame(parse(body), parse_frame(frame, text))
    convert.__name__ = parse.__name__
    return convert


def parse_frame(text: str, whole: str) -> int:
    try:
        frame = int(text)
    except ValueError:
        frame = -1
    if frame < 0:
        raise PromptError(f"{whole!r}: expected @FRAME with a frame number 0, 1, 2 ..., got @{text}")
    return frame


@dataclass(frozen=True, slots=True)
class FramePrompt:
    frame: int
    prompt: ObjectPrompt


@dataclass(frozen=True)
class PromptSchedule:
    """Every prompt of a run with its frame, in frame order (the given order within a frame)."""

    entries: tuple[FramePrompt, ...] = ()
    everything: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(sorted(self.entries, key=lambda e: e.frame)))

    @property
    def later(self) -> bool:
        """Whether any prompt is on a frame after the first (the two-pass file mode)."""
        return any(e.frame > 0 for e in self.entries)

    def first_frames(self) -> dict[int, int]:
        """object id -> the frame it is first prompted on."""
        first: dict[int, int] = {}
        for e in self.entries:
            first.setdefault(e.prompt.object_id, e.frame)
        return first

    def initial(self) -> PromptSet:
        from .tracker import PromptSet

        return self.apply(PromptSet(everything=self.everything or not self.entries), 0)

    def apply(self, prompts: PromptSet, frame: int) -> PromptSet:
        """`prompts` with the entries of `frame` added (corrections replace their object's prompt)."""
        for e in self.entries:
            if e.frame == frame:
                prompts = prompts.add(e.prompt)
        return prompts

    def check_frames(self, frame_count: int | None, source: str = "the video") -> None:
        """A prompt past the end is one clear error, before any work."""
        if not frame_count:
            return
        for e in self.entries:
            if e.frame >= frame_count:
                raise PromptError(f"prompt for object {e.prompt.object_id} at frame {e.frame}: {source} has "
                                  f"{frame_count} frames (0-{frame_count - 1}); give a frame before the end")


def schedule_of(ordered: list[tuple[str, object]], file_entries: list[FramePrompt] = (),
                everything: bool = False) -> PromptSchedule:
    """The schedule of the command line's prompt flags (ids 1, 2 ... in the order given; all
    --point flags of one frame are one object, as without @FRAME) and a prompts file's entries."""
    from .options import object_prompts

    by_frame: dict[int, list[tuple[str, object]]] = {}
    for kind, value in ordered:
        frame = value.frame if isinstance(value, AtFrame) else 0
        by_frame.setdefault(frame, []).append((kind, value.value if isinstance(value, AtFrame) else value))
    entries: list[FramePrompt] = []
    for frame in sorted(by_frame):
        before = len(entries)  # this frame's objects are numbered after the earlier frames' ones
        for prompt in object_prompts(by_frame[frame]):
            entries.append(FramePrompt(frame, replace(prompt, object_id=prompt.object_id + before)))
    taken = {e.prompt.object_id for e in entries}
    clash = sorted(taken & {e.prompt.object_id for e in file_entries})
    if clash:
        raise PromptError(f"--prompts: object {clash[0]} is also a command-line prompt (ids 1-{len(entries)}); "
                          "put every prompt in the file or number the file's objects from "
                          f"{len(entries) + 1}")
    return PromptSchedule(tuple(entries) + tuple(file_entries), everything)


def load_prompts_file(path: str | Path) -> list[FramePrompt]:
    """A prompts file's entries, validated: one-line PromptErrors naming the entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PromptError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PromptError(f"{path}: cannot read it ({err.__class__.__name__})") from None
    except json.JSONDecodeError as err:
        raise PromptError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    if not isinstance(data, list):
        raise PromptError(f"{path}: expected a JSON list of {{\"frame\", \"object\", \"points\" | \"box\" | "
                          f"\"text\"}} entries, got a {type(data).__name__}")
    return parse_entries(data, str(path))


def parse_entries(data: list, where: str = "prompts") -> list[FramePrompt]:
    entries: list[FramePrompt] = []
    first: dict[int, int] = {}  # object id -> first frame, in frame order
    order = sorted(range(len(data)), key=lambda i: _frame(data[i], i, where))
    next_id = 1 + max((e["object"] for e in data if isinstance(e, dict) and isinstance(e.get("object"), int)),
                      default=0)
    for i in order:
        entry = data[i]
        frame = _frame(entry, i, where)
        object_id = entry.get("object")
        if object_id is None:
            object_id, next_id = next_id, next_id + 1
        if not isinstance(object_id, int) or isinstance(object_id, bool) or object_id < 1:
            raise PromptError(f"{where}: entry {i + 1}: \"object\" must be an id 1, 2 ..., got {object_id!r:.40}")
        if entry.get("correction") and (object_id not in first or first[object_id] >= frame):
            known = ", ".join(str(o) for o, f in first.items() if f < frame) or "none"
            raise PromptError(f"{where}: entry {i + 1}: correction of object {object_id} at frame {frame}, but it is "
                              f"not prompted before frame {frame} (objects by then: {known})")
        if any(e.frame == frame and e.prompt.object_id == object_id for e in entries):
            raise PromptError(f"{where}: entry {i + 1}: object {object_id} has two prompts at frame {frame}; "
                              "give one (several points go in one \"points\" list)")
        first.setdefault(object_id, frame)
        entries.append(FramePrompt(frame, _object_prompt(entry, object_id, i, where)))
    return entries


def _frame(entry, i: int, where: str) -> int:
    if not isinstance(entry, dict):
        raise PromptError(f"{where}: entry {i + 1}: expected an object like {{\"frame\": 0, \"object\": 1, "
                          f"\"box\": [x1, y1, x2, y2]}}, got {type(entry).__name__}")
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise PromptError(f"{where}: entry {i + 1}: unknown key {unknown[0]!r:.40}; expected {sorted(ENTRY_KEYS)}")
    frame = entry.get("frame", 0)
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise PromptError(f"{where}: entry {i + 1}: \"frame\" must be a frame number 0, 1, 2 ..., got {frame!r:.40}")
    return frame


def _object_prompt(entry: dict, object_id: int, i: int, where: str) -> ObjectPrompt:
    from .tracker import ObjectPrompt

    try:
        kinds = [k for k in ("points", "box", "text") if k in entry]
        if len(kinds) != 1:
            raise PromptError(f"expected exactly one of \"points\", \"box\" or \"text\", got {kinds or 'none'}")
        if "box" in entry:
            box = entry["box"]
            if not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box)):
                raise PromptError(f"\"box\" must be [x1, y1, x2, y2], got {box!r:.60}")
            return ObjectPrompt(object_id, box=tuple(float(v) for v in box))
        if "text" in entry:
            if not isinstance(entry["text"], str):
                raise PromptError(f"\"text\" must be a string, got {entry['text']!r:.40}")
            return ObjectPrompt(object_id, text=entry["text"])
        points = entry["points"]
        if not (isinstance(points, list) and points and all(
                isinstance(p, list) and len(p) in (2, 3) and all(_number(v) for v in p) for p in points)):
            raise PromptError(f"\"points\" must be a list of [x, y] or [x, y, label], got {points!r:.60}")
        labels = entry.get("labels", [int(p[2]) if len(p) == 3 else 1 for p in points])
        if not isinstance(labels, list):
            raise PromptError(f"\"labels\" must be a list of 1 / 0, got {labels!r:.40}")
        return ObjectPrompt(object_id, points=tuple((float(p[0]), float(p[1])) for p in points),
                            labels=tuple(labels))
    except PromptError as err:
        raise PromptError(f"{where}: entry {i + 1} (frame {entry.get('frame', 0)}): {err}") from None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

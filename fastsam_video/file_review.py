"""Reviewing a video file frame by frame and prompting on any frame (the core of the window's
file player; no Qt). A click on the shown frame prompts on that frame and its mask is shown at
once; `track()` tracks the prompts over the file forwards and backwards (file_annotation's two
passes) and every frame then shows its tracked objects; the prompts are also a `run --prompts`
JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .frame_prompts import FramePrompt, PromptSchedule
from .prompts import select_by_points
from .render import Annotator
from .sources.seeking import SeekableVideo
from .tracker import ObjectPrompt
from .types import Segmentation


class FileReview:
    """`go(n)` shows frame n; `click(x, y)` prompts a new object (or, with `object_id`, adds a
    point to that object's prompt on this frame: `positive=False` for a background point)."""

    def __init__(self, path: str | Path, segmenter, annotator: Annotator | None = None):
        self.video = SeekableVideo(path)
        self.segmenter = segmenter
        self.annotator = annotator or Annotator()
        self.entries: list[FramePrompt] = []
        self.index = 0
        self.image: np.ndarray | None = None
        self._segmentation: tuple[int, Segmentation] | None = None
        self._tracked: dict[int, bytes] = {}  # frame -> packed tracked segmentation (mask windows)

    def __len__(self) -> int:
        return len(self.video)

    @property
    def time(self) -> float:
        return self.video.times[self.index]

    def go(self, n: int) -> np.ndarray:
        """Frame n (clamped to the file), annotated with the prompts made on it."""
        self.index = min(max(n, 0), len(self.video) - 1)
        self.image, _ = self.video.frame(self.index)
        return self.annotated()

    def step(self, delta: int) -> np.ndarray:
        return self.go(self.index + delta)

    def segmentation(self) -> Segmentation:
        """The model's masks of the shown frame (computed once per frame shown)."""
        if self._segmentation is None or self._segmentation[0] != self.index:
            self._segmentation = (self.index, self.segmenter.segment(self.image))
        return self._segmentation[1]

    def selected(self) -> Segmentation:
        """The prompted objects on the shown frame, each its point prompt's mask."""
        here = [e.prompt for e in self.entries if e.frame == self.index]
        if not here:
            return Segmentation.empty(*self.image.shape[:2])
        seg = self.segmentation()
        parts = [select_by_points(seg, p.points, p.labels) for p in here]
        found = [(p.object_id, s) for p, s in zip(here, parts) if len(s)]
        if not found:
            return Segmentation.empty(*self.image.shape[:2])
        return Segmentation.of(np.concatenate([s.masks for _, s in found]), np.concatenate([s.boxes for _, s in found]),
                               np.concatenate([s.scores for _, s in found]), [o for o, _ in found])

    def annotated(self) -> np.ndarray:
        """The shown frame with its tracked objects (after `track`), else the prompts' masks on it."""
        tracked = self.tracked(self.index)
        return self.annotator.annotate(self.image, self.selected() if tracked is None else tracked)

    def track(self) -> None:
        """Tracks the prompts over the whole file, forwards and backwards (file_annotation's two
        passes; seconds to minutes: call it off the UI thread, and prompt no more meanwhile)."""
        from .file_annotation import annotate_file
        from .mask_store import pack_segmentation

        results: dict[int, bytes] = {}
        annotate_file(str(self.video.path), self.segmenter, self.schedule(),
                      [lambda frame, seg: results.__setitem__(frame.index, pack_segmentation(seg))])
        self._tracked = results

    def tracked(self, index: int) -> Segmentation | None:
        """Frame `index`'s tracked objects once `track` ran (None before, or after a new prompt)."""
        from .mask_store import unpack_segmentation

        data = self._tracked.get(index)
        return None if data is None else unpack_segmentation(data)

    def click(self, x: float, y: float, positive: bool = True, object_id: int | None = None) -> int:
        """Prompts on the shown frame; returns the object's id."""
        if object_id is None:
            object_id = 1 + max((e.prompt.object_id for e in self.entries), default=0)
        old = next((e for e in self.entries if e.frame == self.index and e.prompt.object_id == object_id), None)
        points, labels = (old.prompt.points, old.prompt.labels) if old else ((), ())
        prompt = ObjectPrompt(object_id, points=(*points, (float(x), float(y))), labels=(*labels, int(positive)))
        self.entries = [e for e in self.entries if e is not old] + [FramePrompt(self.index, prompt)]
        self._tracked = {}  # a new prompt: the tracked result is out of date
        return object_id

    def schedule(self) -> PromptSchedule:
        return PromptSchedule(tuple(self.entries))

    def save_prompts(self, path: str | Path) -> Path:
        """The prompts as a `run --prompts` file."""
        data = [{"frame": e.frame, "object": e.prompt.object_id,
                 "points": [[x, y, label] for (x, y), label in zip(e.prompt.points, e.prompt.labels)]}
                for e in self.schedule().entries]
        path = Path(path)
        path.write_text(json.dumps(data, indent=1))
        return path

    def close(self) -> None:
        self.video.close()

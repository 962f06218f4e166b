"""Reviewing a video file frame by frame and prompting on any frame (the core of the window's
file player; no Qt). A click on the shown frame prompts on that frame and its mask is shown at
once; `track()` tracks the prompts over the file forwards and backwards (file_annotation's two
passes) and every frame then shows its tracked objects; the prompts are also a `run --prompts`
JSON file.

A correction (a click for an object already tracked, on another frame) shows at once on its
frame, over the other objects' tracked masks; `track()` again re-runs what it affects: the
tracker passes (forwards, and backwards from the correction to where it meets the earlier track)
on the model's masks of the first run, kept by frame (the model does not run twice on a frame).
The tracked result and those masks are kept in bounded memory (mask windows, spilled to disk)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .file_annotation import annotate_file, concat
from .frame_prompts import FramePrompt, PromptSchedule
from .mask_store import FrameStore, SpillStore
from .prompts import select_by_points
from .render import Annotator
from .sources.seeking import SeekableVideo
from .tracker import ObjectPrompt
from .types import Segmentation


class FileReview:
    """`go(n)` shows frame n; `click(x, y)` prompts a new object (or, with `object_id`, adds a
    point to that object's prompt on this frame: `positive=False` for a background point)."""

    def __init__(self, path: str | Path, segmenter, annotator: Annotator | None = None,
                 memory_limit: int = 256 * 2**20, spill_folder: str | Path | None = None):
        self.video = SeekableVideo(path)
        self.segmenter = segmenter
        self.annotator = annotator or Annotator()
        self.entries: list[FramePrompt] = []
        self.index = 0
        self.image: np.ndarray | None = None
        self._segmentation: tuple[int, Segmentation] | None = None
        self._memory_limit, self._spill_folder = memory_limit, spill_folder
        self._tracked: FrameStore | None = None  # frame -> tracked segmentation, after `track`
        self._model = FrameStore(SpillStore(memory_limit, spill_folder))  # frame -> the model's masks
        self.stale = False  # prompts changed since `track`

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
        """The shown frame with its tracked objects (after `track`); objects prompted on this frame
        since show their prompts' masks (a new object or a correction, at once)."""
        tracked = self.tracked(self.index)
        if tracked is None:
            return self.annotator.annotate(self.image, self.selected())
        if self.stale:
            here = self.selected()
            others = tracked.select(~np.isin(tracked.object_ids, [e.prompt.object_id for e in self.entries
                                                                   if e.frame == self.index]))
            tracked = concat([others, here], tracked.shape)
        return self.annotator.annotate(self.image, tracked)

    def track(self) -> None:
        """Tracks the prompts over the whole file, forwards and backwards (file_annotation's two
        passes; the model's masks of an earlier call are reused; seconds to minutes: call it off
        the UI thread, and prompt no more meanwhile)."""
        results = FrameStore(SpillStore(self._memory_limit, self._spill_folder))
        try:
            annotate_file(str(self.video.path), self.segmenter, self.schedule(),
                          [lambda frame, seg: results.put_segmentation("tracked", frame.index, seg)],
                          memory_limit=self._memory_limit, spill_folder=self._spill_folder, model_cache=self._model)
        except BaseException:
            results.store.close()
            raise
        old, self._tracked, self.stale = self._tracked, results, False
        if old is not None:
            old.store.close()

    def tracked(self, index: int) -> Segmentation | None:
        """Frame `index`'s tracked objects once `track` ran (None before; after a new prompt, the
        last tracking's, with `stale` set)."""
        return None if self._tracked is None else self._tracked.segmentation("tracked", index)

    def click(self, x: float, y: float, positive: bool = True, object_id: int | None = None) -> int:
        """Prompts on the shown frame; returns the object's id."""
        if object_id is None:
            object_id = 1 + max((e.prompt.object_id for e in self.entries), default=0)
        old = next((e for e in self.entries if e.frame == self.index and e.prompt.object_id == object_id), None)
        points, labels = (old.prompt.points, old.prompt.labels) if old else ((), ())
        prompt = ObjectPrompt(object_id, points=(*points, (float(x), float(y))), labels=(*labels, int(positive)))
        self.entries = [e for e in self.entries if e is not old] + [FramePrompt(self.index, prompt)]
        self.stale = True  # the tracked result is out of date until `track` runs again
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
        self._model.store.close()
        if self._tracked is not None:
            self._tracked.store.close()

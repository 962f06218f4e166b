"""Annotating a video file with prompts on any frame, tracked forwards and backwards (SAM2's
video predictor, on FastSAM's per-frame masks and the prompt tracker).

    pass 1  forwards: the model on every frame; one tracker applies each prompt at its frame;
            the model's masks (and the frames) up to the last first-prompt frame are kept
    pass 2  backwards: for each frame N on which objects are first prompted, a fresh tracker
            runs from N back to 0 over the kept masks, with those objects' prompts at N
    pass 3  the file is read again and each frame's merged result (backwards before an
            object's first frame, forwards from it on) goes to the recording and the exports

Kept data is bounded: masks as windows, frames as PNG, spilled to disk past `memory_limit`
(mask_store.SpillStore). The tracker is a black box: `PromptTracker.update` in frame order,
with frame indices and times made to increase on the backward pass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .frame_prompts import PromptSchedule
from .mask_store import FrameStore, SpillStore
from .tracker import PromptSet, PromptTracker, TrackerConfig
from .types import Frame, PromptError, Segmentation

log = logging.getLogger(__name__)


def concat(segs: list[Segmentation], shape: tuple[int, int]) -> Segmentation:
    segs = [s for s in segs if len(s)]
    if not segs:
        return Segmentation.empty(*shape)
    return Segmentation(np.concatenate([s.masks for s in segs]), np.concatenate([s.boxes for s in segs]),
                        np.concatenate([s.scores for s in segs]), np.concatenate([s.object_ids for s in segs]))


def keep_ids(seg: Segmentation, ids) -> Segmentation:
    return seg.select(np.isin(seg.object_ids, list(ids)))


@dataclass
class TwoPassTracker:
    """Tracks a schedule of prompts over a file's frames forwards, then backwards from each
    object's first prompt; `result(index)` is the merged segmentation of a frame."""

    schedule: PromptSchedule
    config: TrackerConfig | None = None
    text_encoder: Callable | None = None
    memory_limit: int = 512 * 2**20
    spill_folder: str | Path | None = None
    frames: int = 0
    times: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = FrameStore(SpillStore(self.memory_limit, self.spill_folder))
        self.first = self.schedule.first_frames()
        self.keep_until = max(self.first.values(), default=0)  # frames the backward pass reads
        self.shape: tuple[int, int] | None = None

    def forward(self, frames: Iterable[Frame], segment: Callable[[np.ndarray], Segmentation]) -> None:
        tracker = PromptTracker(self.config, self.text_encoder)
        prompts = PromptSet()
        for frame in frames:
            k, image = frame.index, frame.image
            everything = segment(image)
            self.shape = everything.shape
            prompts = self.schedule.apply(prompts, k)
            tracker.set_prompts(prompts)
            t = frame.pts if frame.pts is not None else frame.t_capture
            track = tracker.update(everything, image, k, t)
            self.store.put_segmentation("forward", k, track.segmentation)
            if k <= self.keep_until:
                self.store.put_segmentation("model", k, everything)
                self.store.put_image(k, image)
                self.times[k] = t
            self.frames = k + 1

    def backward(self) -> int:
        """Tracks each object from its first prompted frame back to frame 0; returns the frames
        the backward trackers went through."""
        groups: dict[int, list[int]] = {}
        for object_id, n in self.first.items():
            if 0 < n < self.frames:
                groups.setdefault(n, []).append(object_id)
        steps = 0
        for n, ids in sorted(groups.items()):
            tracker = PromptTracker(self.config, self.text_encoder)
            tracker.set_prompts(PromptSet(tuple(e.prompt for e in self.schedule.entries
                                                if e.frame == n and e.prompt.object_id in ids)))
            for step, k in enumerate(range(n, -1, -1)):
                track = tracker.update(self.store.segmentation("model", k), self.store.image(k), step,
                                       self.times[n] - self.times[k])
                steps += 1
                if k < n:
                    found = keep_ids(track.segmentation, ids)
                    earlier = self.store.segmentation("backward", k)
                    self.store.put_segmentation("backward", k, concat([earlier, found] if earlier else [found],
                                                                     found.shape))
        for k in range(self.keep_until + 1):  # the model's masks and the frames are done with
            self.store.store.drop(("model", k))
            self.store.store.drop(("image", k))
        return steps

    def result(self, index: int) -> Segmentation:
        forward = self.store.segmentation("forward", index)
        forward = keep_ids(forward, [o for o, n in self.first.items() if n <= index])
        backward = self.store.segmentation("backward", index)
        return forward if backward is None else concat([forward, backward], forward.shape)

    def close(self) -> None:
        self.store.store.close()


@dataclass(frozen=True)
class AnnotationReport:
    frames: int
    backward_steps: int
    seconds: float
    peak_memory_bytes: int
    spilled_bytes: int


def annotate_file(spec: str, segmenter, schedule: PromptSchedule, outputs: list[Callable[[Frame, Segmentation], None]],
                  *, config: TrackerConfig | None = None, text_encoder: Callable | None = None,
                  max_frames: int | None = None, memory_limit: int = 512 * 2**20,
                  spill_folder: str | Path | None = None) -> AnnotationReport:
    """The three passes over the video file `spec`; each output is called with every frame and
    its merged segmentation, in frame order (pass 3)."""
    from .sources import open_source

    started = time.perf_counter()
    tracker = TwoPassTracker(schedule, config, text_encoder, memory_limit, spill_folder)
    try:
        with open_source(spec) as source:
            schedule.check_frames(min(filter(None, (source.frame_count, max_frames)), default=None), spec)
            tracker.forward(_limited(source, max_frames), segmenter.segment)
        store = tracker.store.store
        peak, spilled = store.memory_bytes, store.disk_bytes
        log.info("forward pass: %d frames; kept %.0f MB in memory, %.0f MB on disk", tracker.frames,
                 peak / 2**20, spilled / 2**20)
        steps = tracker.backward()
        log.info("backward pass: %d frames", steps)
        with open_source(spec) as source:
            for frame in _limited(source, tracker.frames):
                seg = tracker.result(frame.index)
                for output in outputs:
                    output(frame, seg)
        return AnnotationReport(tracker.frames, steps, time.perf_counter() - started, peak, spilled)
    finally:
        tracker.close()


def _limited(frames: Iterable[Frame], count: int | None) -> Iterable[Frame]:
    for frame in frames:
        if count is not None and frame.index >= count:
            break
        yield frame


class FileOutputs:
    """The recording and the exports of the two-pass mode, written in frame order (pass 3):
    the same sinks as the streaming pipeline's, the exports on every `export_every`th frame."""

    def __init__(self, output, fps: float | None):
        from .render import Annotator
        from .sinks import CocoExporter, DavisExporter, VideoRecorder, YoloExporter

        self.every = output.export_every
        self.annotator = Annotator()
        self.recorder = VideoRecorder(output.record, fps_hint=fps or 30, low_latency=False) if output.record else None
        self.davis = DavisExporter(output.export_masks) if output.export_masks else None
        self.coco = CocoExporter(output.export_coco) if output.export_coco else None
        self.yolo = YoloExporter(output.export_yolo) if output.export_yolo else None
        self.frames = 0

    def __call__(self, frame: Frame, seg: Segmentation) -> None:
        if self.recorder is not None:
            t = frame.pts if frame.pts is not None else frame.t_capture
            self.recorder.write(self.annotator.annotate(frame.image, seg), t)
        if frame.index % self.every == 0:
            if self.davis is not None:
                self.davis.write(frame.index, seg)
            if self.coco is not None:
                self.coco.write(frame.index, seg)
            if self.yolo is not None:
                self.yolo.write(frame.index, frame.image, seg)
        self.frames += 1

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.recorder and self.recorder.path, self.davis and self.davis.folder,
                            self.coco and self.coco.path, self.yolo and self.yolo.folder) if p]

    def close(self) -> None:
        """Every output finished, even when one fails (the first error is raised)."""
        errors = []
        for sink in (self.recorder, self.davis, self.coco, self.yolo):
            if sink is not None:
                try:
                    sink.close()
                except Exception as err:  # keep closing the others: nothing written is lost
                    errors.append(err)
        if errors:
            raise errors[0]


def run_file(spec: str, load_segmenter: Callable, schedule: PromptSchedule, output, stream,
             text_encoder: Callable[[object], object] | None = None) -> AnnotationReport:
    """The two-pass mode of `run` (prompts on later frames): `output` (OutputOptions) and
    `stream` (StreamOptions) as the streaming pipeline takes them. The source and the prompts'
    frames are checked before `load_segmenter()` loads the model; `text_encoder(segmenter)`:
    the CLIP loader for text prompts."""
    from .sources import open_source

    with open_source(spec) as source:
        if source.live:
            raise PromptError(f"{spec}: prompts on later frames (@FRAME, --prompts) need a video file or an "
                              "image folder, not a live source")
        fps = source.fps
        schedule.check_frames(min(filter(None, (source.frame_count, stream.max_frames)), default=None), spec)
    segmenter = load_segmenter()
    encoder = text_encoder and text_encoder(segmenter)
    if encoder is not None and any(e.prompt.text for e in schedule.entries):
        encoder.load()  # now: a text prompt applies on its own frame, and missing CLIP weights fail at once
    outputs = FileOutputs(output, fps)
    try:
        report = annotate_file(spec, segmenter, schedule, [outputs], config=TrackerConfig(max_lost_seconds=stream.max_lost),
                               text_encoder=encoder, max_frames=stream.max_frames)
    finally:
        outputs.close()
    for path in outputs.paths:
        log.info("wrote %s", path)
    return report

"""Annotating a video file with prompts on any frame, tracked forwards and backwards (SAM2's
video predictor, on FastSAM's per-frame masks and the prompt tracker).

    pass 1  forwards: the model on every frame; one tracker applies each prompt at its frame;
            the model's masks (and the frames) up to each object's last prompt are kept
    pass 2  backwards: for each frame N with prompts, a fresh tracker runs from N back over the
            kept masks, with those prompts: to frame 0 for objects first prompted at N, to the
            object's previous prompt for a correction (TwoPassTracker says how they merge)
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


AGREE_IOU = 0.5  # a correction's backward track and the forward one are the same object from here


def object_iou(a: Segmentation, b: Segmentation) -> float | None:
    """IoU of two segmentations' union masks; None when both are empty (nothing to compare)."""
    x = a.masks.any(0) if len(a) else None
    y = b.masks.any(0) if len(b) else None
    if x is None and y is None:
        return None
    if x is None or y is None:
        return 0.0
    return float((x & y).sum()) / max(float((x | y).sum()), 1.0)


@dataclass
class TwoPassTracker:
    """Tracks a schedule of prompts over a file's frames forwards, then backwards from each
    prompt; `result(index)` is the merged segmentation of a frame.

    Backwards from an object's first prompt: frames 0 to it. Backwards from a correction (a later
    prompt of the object) down to the object's previous prompt: the frames in between had the
    earlier prompt's forward track, which the correction says went wrong somewhere. Walking back
    from the correction, the backward track replaces the forward one until the two agree on a
    frame (mask IoU >= AGREE_IOU): from there back, the forward track is kept. A wrong first
    prompt never agrees: every frame after it then holds the corrected object (and where the
    backward track has lost the object, the frame shows none of it: the correction said the
    earlier track is wrong there).

    `model_cache`: the model's masks by frame from an earlier run over the same file (a review
    tracking again after a correction): the model runs only on frames missing there."""

    schedule: PromptSchedule
    config: TrackerConfig | None = None
    text_encoder: Callable | None = None
    memory_limit: int = 512 * 2**20
    spill_folder: str | Path | None = None
    frames: int = 0
    times: dict[int, float] = field(default_factory=dict)
    model_cache: FrameStore | None = None

    def __post_init__(self) -> None:
        self.store = FrameStore(SpillStore(self.memory_limit, self.spill_folder))
        self.prompt_frames: dict[int, list[int]] = {}
        for e in self.schedule.entries:
            frames = self.prompt_frames.setdefault(e.prompt.object_id, [])
            if e.frame not in frames:
                frames.append(e.frame)
        # object -> inclusive frame ranges where its backward track is shown (set by `backward`)
        self.backward_ranges: dict[int, list[tuple[int, int]]] = {
            o: [(0, frames[0] - 1)] if frames[0] > 0 else [] for o, frames in self.prompt_frames.items()}
        self.splits: dict[tuple[int, int], int] = {}  # (object, correction frame) -> last forward frame
        # the backward passes read the frames up to each object's last prompt (its first, or a correction)
        self.keep_until = max((frames[-1] for frames in self.prompt_frames.values()), default=-1)
        self.shape: tuple[int, int] | None = None

    def forward(self, frames: Iterable[Frame], segment: Callable[[np.ndarray], Segmentation]) -> None:
        tracker = PromptTracker(self.config, self.text_encoder)
        prompts = PromptSet()
        for frame in frames:
            k, image = frame.index, frame.image
            everything = self.model_cache.segmentation("model", k) if self.model_cache is not None else None
            if everything is None:
                everything = segment(image)
                if self.model_cache is not None:
                    self.model_cache.put_segmentation("model", k, everything)
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

    def _jobs(self) -> dict[int, dict[int, int]]:
        """prompt frame -> {object: the frame the backward pass stops after (-1: frame 0 included)}."""
        jobs: dict[int, dict[int, int]] = {}
        for o, frames in self.prompt_frames.items():
            for i, n in enumerate(frames):
                previous = frames[i - 1] if i else -1
                if n < self.frames and n - previous > 1:
                    jobs.setdefault(n, {})[o] = previous
        return jobs

    def backward(self) -> int:
        """Tracks each object back from each of its prompts (see the class); returns the frames
        the backward trackers went through."""
        steps = 0
        for n, stops in sorted(self._jobs().items()):
            tracker = PromptTracker(self.config, self.text_encoder)
            tracker.set_prompts(PromptSet(tuple(e.prompt for e in self.schedule.entries
                                                if e.frame == n and e.prompt.object_id in stops)))
            open_ = dict(stops)  # objects still tracked backwards, with their stop
            for step, k in enumerate(range(n, min(stops.values()), -1)):
                track = tracker.update(self.store.segmentation("model", k), self.store.image(k), step,
                                       self.times[n] - self.times[k])
                steps += 1
                if k == n:
                    continue
                kept = []
                for o, stop in list(open_.items()):
                    if k <= stop:
                        del open_[o]
                        continue
                    found = keep_ids(track.segmentation, [o])
                    if stop >= 0:  # a correction: where it meets the earlier prompt's track, that one stays
                        agreement = object_iou(found, keep_ids(self.store.segmentation("forward", k), [o]))
                        if agreement is not None and agreement >= AGREE_IOU:
                            self.splits[(o, n)] = k
                            del open_[o]
                            continue
                    kept.append(found)
                if kept:
                    earlier = self.store.segmentation("backward", k)
                    self.store.put_segmentation("backward", k, concat(([earlier] if earlier else []) + kept,
                                                                      kept[0].shape))
                if not open_:
                    break
            for o, stop in stops.items():
                if stop >= 0:
                    self.backward_ranges[o].append((self.splits.setdefault((o, n), stop) + 1, n - 1))
        for k in range(self.frames):  # the model's masks and the frames are done with
            self.store.store.drop(("model", k))
            self.store.store.drop(("image", k))
        return steps

    def forward_objects(self, index: int) -> list[int]:
        """The objects whose forward track is shown on frame `index`."""
        return [o for o, frames in self.prompt_frames.items() if frames[0] <= index
                and not any(lo <= index <= hi for lo, hi in self.backward_ranges[o])]

    def result(self, index: int) -> Segmentation:
        forward = keep_ids(self.store.segmentation("forward", index), self.forward_objects(index))
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
                  spill_folder: str | Path | None = None, model_cache: FrameStore | None = None) -> AnnotationReport:
    """The three passes over the video file `spec`; each output is called with every frame and
    its merged segmentation, in frame order (pass 3). `model_cache`: see TwoPassTracker."""
    from .sources import open_source

    started = time.perf_counter()
    tracker = TwoPassTracker(schedule, config, text_encoder, memory_limit, spill_folder, model_cache=model_cache)
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

"""Scoring a tracked run against DAVIS ground truth: J (region IoU), F (boundary F-measure),
J&F, id switches, frames lost, frames to re-acquire after an occlusion, FPS.

A clip folder holds a video (`video.mp4`, or any single video / a `JPEGImages` folder),
`Annotations/00000.png ...` (indexed PNGs, pixel = object id) and optionally `prompts.json`
with first-frame prompts; without it, prompts are derived from the first annotation.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .sinks import read_davis_png
from .tracking import ObjectPrompt, PromptSet, PromptTracker, TrackerConfig
from .types import FastSAMVideoError, Segmentation

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm")


# ---------------------------------------------------------------- metrics

def region_j(pred: np.ndarray, gt: np.ndarray) -> float:
    """DAVIS J: IoU, 1 when both are empty."""
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return (m - cv2.erode(m, np.ones((3, 3), np.uint8))).astype(bool)


def boundary_f(pred: np.ndarray, gt: np.ndarray, tolerance: float = 0.008) -> float:
    """DAVIS F: boundary precision/recall with a tolerance of 0.8% of the image diagonal."""
    pb, gb = _boundary(pred), _boundary(gt)
    if not pb.any() and not gb.any():
        return 1.0
    if not pb.any() or not gb.any():
        return 0.0
    radius = max(1, math.ceil(tolerance * math.hypot(*pred.shape)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    gd = cv2.dilate(gb.astype(np.uint8), disk).astype(bool)
    pd = cv2.dilate(pb.astype(np.uint8), disk).astype(bool)
    precision = (pb & gd).sum() / pb.sum()
    recall = (gb & pd).sum() / gb.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


@dataclass
class ObjectScore:
    object_id: int
    j: float
    f: float
    id_switches: int
    frames_lost: int
    reacquire_frames: list[int]

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


@dataclass
class ClipScore:
    name: str
    frames: int
    fps: float
    objects: list[ObjectScore]

    @property
    def j(self) -> float:
        return float(np.mean([o.j for o in self.objects])) if self.objects else 0.0

    @property
    def f(self) -> float:
        return float(np.mean([o.f for o in self.objects])) if self.objects else 0.0

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def score_sequence(name: str, predicted: list[np.ndarray], truth: list[np.ndarray],
                   seconds: float, min_visible: float = 0.5, min_seen: float = 0.2) -> ClipScore:
    """predicted / truth: per-frame label maps.

    A frame is lost when at least `min_seen` of the object's typical area is visible but its mask
    has J < 0.5. An id switch is a frame where the object is covered (IoU > 0.5) by a mask carrying
    another id, or where the object's id is on something else (over half of its mask off the
    object: an occluder, another object). Re-acquisition: after the object was hidden (visible area
    < `min_visible` of its typical area), the frames from when it is that visible again to when the
    tracker has it again (IoU > 0.5).
    """
    ids = sorted(set(np.unique(truth[0]).tolist()) - {0})
    objects = []
    for oid in ids:
        areas = np.array([(t == oid).sum() for t in truth], float)
        typical = np.median(areas[areas > 0]) if (areas > 0).any() else 1.0
        js, fs, switches, lost_frames, reacq = [], [], 0, 0, []
        hidden, back_at = False, None
        for k, (p, t) in enumerate(zip(predicted, truth)):
            gt, pm = t == oid, p == oid
            js.append(region_j(pm, gt))
            fs.append(boundary_f(pm, gt))
            if areas[k] >= min_seen * typical and js[-1] < 0.5:
                lost_frames += 1
            others = np.unique(p[gt])
            others = others[(others != 0) & (others != oid)]
            if any(region_j(p == other, gt) > 0.5 for other in others) or (pm & ~gt).sum() > pm.sum() / 2:
                switches += 1
            visible = areas[k] >= min_visible * typical
            if not visible:
                hidden, back_at = True, None
            elif hidden:
                back_at = k if back_at is None else back_at
                if region_j(pm, gt) > 0.5:
                    reacq.append(k - back_at)
                    hidden, back_at = False, None
        if hidden and back_at is not None:  # came back, never re-found before the end
            reacq.append(len(truth) - back_at)
        objects.append(ObjectScore(oid, float(np.mean(js)), float(np.mean(fs)), switches, lost_frames, reacq))
    return ClipScore(name, len(truth), len(truth) / max(seconds, 1e-9), objects)


# ---------------------------------------------------------------- running a clip

def clip_video(folder: Path) -> Path:
    videos = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES]
    if (folder / "video.mp4").exists():
        return folder / "video.mp4"
    if videos:
        return videos[0]
    if (folder / "JPEGImages").is_dir():
        return folder / "JPEGImages"
    raise FastSAMVideoError(f"{folder} has no video (video.mp4) nor JPEGImages/ folder: "
                            "an eval clip is a video plus Annotations/ with DAVIS PNGs")


def clip_prompts(folder: Path, first_annotation: np.ndarray, kind: str) -> list[ObjectPrompt]:
    """First-frame prompts from prompts.json, else derived from the first annotation."""
    file = folder / "prompts.json"
    entries = json.loads(file.read_text())["objects"] if file.exists() else []
    if not entries:
        for oid in sorted(set(np.unique(first_annotation).tolist()) - {0}):
            ys, xs = np.nonzero(first_annotation == oid)
            k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
            entries.append({"id": oid, "point": [int(xs[k]), int(ys[k])],
                            "box": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]})
    if kind == "box":
        return [ObjectPrompt(e["id"], box=tuple(e["box"])) for e in entries]
    return [ObjectPrompt(e["id"], points=(tuple(e["point"]),), labels=(1,)) for e in entries]


def parse_miss(text: str) -> tuple[int, tuple[int, ...]]:
    """"ID:START:COUNT" (the model misses object ID from frame START for COUNT frames) ->
    (ID, frames)."""
    try:
        oid, start, count = (int(v) for v in text.split(":"))
        if oid < 1 or start < 0 or count < 1:
            raise ValueError
    except ValueError:
        raise FastSAMVideoError(f"--miss: expected ID:START:COUNT with ID >= 1, START >= 0, COUNT >= 1 "
                                f"(e.g. 1:10:60), got {text!r:.40}") from None
    return oid, tuple(range(start, start + count))


def inject_misses(segment: Callable[[np.ndarray, int], Segmentation], truth: list[np.ndarray],
                  misses: dict[int, tuple[int, ...]]) -> Callable[[np.ndarray, int], Segmentation]:
    """`segment` with the model's masks of objects removed in given frames ({object id: frames}):
    in those frames every mask lying mostly on the object (by the ground truth) goes, as if the
    model had missed it. Works on any clip with annotations, real ones too."""
    drops: dict[int, list[int]] = {}
    for oid, frames in misses.items():
        for k in frames:
            drops.setdefault(int(k), []).append(int(oid))
    if not drops:
        return segment

    def dropped(image: np.ndarray, index: int) -> Segmentation:
        seg = segment(image, index)
        if seg is None or index not in drops or index >= len(truth) or len(seg) == 0:  # None: the model skipped
            return seg
        target = np.isin(truth[index], drops[index])
        on_target = np.array([np.count_nonzero(mask & target) for mask in seg.masks])
        keep = on_target * 2 <= np.array([np.count_nonzero(mask) for mask in seg.masks])
        return seg.select(keep)

    return dropped


def with_dropout(segment: Callable[[np.ndarray, int], Segmentation], folder: Path,
                 truth: list[np.ndarray], misses: dict[int, tuple[int, ...]] | None = None
                 ) -> Callable[[np.ndarray, int], Segmentation]:
    """`segment` with the misses prompts.json lists under "dropout" ({"object id": [frame, ...]})
    and those given in `misses` injected (`inject_misses`)."""
    file = folder / "prompts.json"
    dropout = json.loads(file.read_text()).get("dropout", {}) if file.exists() else {}
    wanted = {int(oid): tuple(frames) for oid, frames in dropout.items()}
    for oid, frames in (misses or {}).items():
        wanted[oid] = tuple(sorted(set(wanted.get(oid, ())) | set(frames)))
    return inject_misses(segment, truth, wanted)


def evaluate_clip(folder: Path, segment: Callable[[np.ndarray, int], Segmentation], prompt_kind: str = "point",
                  config: TrackerConfig | None = None,
                  on_frame: Callable[[int, np.ndarray, Segmentation], None] | None = None,
                  misses: dict[int, tuple[int, ...]] | None = None) -> ClipScore:
    """Run segment + tracker over a clip with first-frame prompts and score it.
    `segment(image, index)` returns the frame's candidate masks; `prompt_kind`: "point" or "box";
    `misses`: {object id: frames} in which the model's masks of that object are removed."""
    return evaluate_kinds(folder, segment, (prompt_kind,), config, on_frame, misses)[0]


def evaluate_kinds(folder: Path, segment: Callable[[np.ndarray, int], Segmentation], prompt_kinds=("point", "box"),
                   config: TrackerConfig | None = None,
                   on_frame: Callable[[int, np.ndarray, Segmentation], None] | None = None,
                   misses: dict[int, tuple[int, ...]] | None = None,
                   tracker: Callable[[TrackerConfig | None], PromptTracker] = PromptTracker) -> list[ClipScore]:
    """`evaluate_clip` for several prompt kinds on one pass of the model (one tracker per kind);
    `on_frame` sees the first kind's results; `tracker` makes a tracker from a config."""
    from .sources import open_source

    for kind in prompt_kinds:
        if kind not in ("point", "box"):
            raise FastSAMVideoError(f"prompt_kind: expected 'point' or 'box', got {kind!r:.40}")
    folder = Path(folder)
    annotations = sorted((folder / "Annotations").glob("*.png"))
    if not annotations:
        raise FastSAMVideoError(f"{folder}/Annotations has no PNG ground truth (one indexed PNG per frame)")
    truth = [read_davis_png(p) for p in annotations]
    segment = with_dropout(segment, folder, truth, misses)
    trackers = []
    for kind in prompt_kinds:
        trackers.append(tracker(config))
        trackers[-1].set_prompts(PromptSet(tuple(clip_prompts(folder, truth[0], kind))))
    predicted: list[list[np.ndarray]] = [[] for _ in trackers]
    seconds = [0.0 for _ in trackers]
    with open_source(str(clip_video(folder))) as source:
        for frame in source:
            if frame.index >= len(truth):
                break
            started = time.perf_counter()
            seg = segment(frame.image, frame.index)
            model = time.perf_counter() - started
            for k, each in enumerate(trackers):
                started = time.perf_counter()
                result = each.update(seg, frame.image, frame.index,
                                     frame.pts if frame.pts is not None else frame.t_capture)
                seconds[k] += model + time.perf_counter() - started
                predicted[k].append(result.segmentation.label_map())
                if on_frame is not None and k == 0:
                    on_frame(frame.index, frame.image, result.segmentation)
    if len(predicted[0]) != len(truth):
        raise FastSAMVideoError(f"{folder}: the video has {len(predicted[0])} frames but there are "
                                f"{len(truth)} annotations: they must match one to one")
    return [score_sequence(folder.name, p, truth, s) for p, s in zip(predicted, seconds)]


def format_scores(scores: list[ClipScore]) -> str:
    lines = [f"{'clip':<16}{'obj':>4}{'J':>7}{'F':>7}{'J&F':>7}{'idsw':>6}{'lost':>6}{'reacq':>7}{'fps':>7}"]
    for clip in scores:
        for o in clip.objects:
            reacq = str(max(o.reacquire_frames)) if o.reacquire_frames else "-"
            lines.append(f"{clip.name:<16}{o.object_id:>4}{o.j:>7.3f}{o.f:>7.3f}{o.jf:>7.3f}"
                         f"{o.id_switches:>6}{o.frames_lost:>6}{reacq:>7}{clip.fps:>7.1f}")
    objects = [o for c in scores for o in c.objects]
    if objects:
        j = np.mean([o.j for o in objects])
        f = np.mean([o.f for o in objects])
        reacq = [r for o in objects for r in o.reacquire_frames]
        frames = sum(c.frames for c in scores)
        fps = frames / sum(c.frames / c.fps for c in scores)
        lines.append(f"{'overall':<16}{len(objects):>4}{j:>7.3f}{f:>7.3f}{(j + f) / 2:>7.3f}"
                     f"{sum(o.id_switches for o in objects):>6}{sum(o.frames_lost for o in objects):>6}"
                     f"{(str(max(reacq)) if reacq else '-'):>7}{fps:>7.1f}")
    return "\n".join(lines)

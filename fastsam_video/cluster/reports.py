"""What a camera actor tells the driver (`CameraReport`, `View`) and how the driver turns it
into what front ends take from any pipeline (`StatsSnapshot`, `Result`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..analytics.analyser import ZoneCount
from ..pipeline import RateMeter, Result, StatsSnapshot
from ..render import LostObject
from ..tracker import ObjectStatus
from ..types import Frame, Segmentation


@dataclass(frozen=True)
class CameraReport:
    """One camera actor's state and counters, as the driver reads them."""

    camera: int
    name: str
    node_id: str
    runs: int  # 1, or more after restarts on other nodes
    live: bool
    frames: int  # frames finished by this run
    model_frames: int | None  # frames of this run that went through the model (None: every frame does)
    frames_done: int  # frames finished by every run (files: where a restart resumes)
    frames_expected: int | None  # a file's frame count from its header
    frame_size: tuple[int, int] | None  # (width, height)
    dropped: int  # live: stale frames replaced before the model could take them
    retries: int  # model calls resent (a replica lost or saturated)
    fps: float  # frames finished per second by this run, from its first result to its last
    latency_p50: float  # seconds, capture to result
    latency_p95: float
    latency_p99: float
    stage_ms: dict  # forward (per batch), decode, track, render, encode
    bytes_to_model: float  # per frame through the model, mean: the resized frame
    bytes_from_model: float  # per frame through the model, mean: raw predictions and prototypes
    objects: tuple[ObjectStatus, ...]
    zones: tuple[ZoneCount, ...]  # each zone's and line's counts as of the last frame
    recording: str | None  # the file being written
    segments: tuple[str, ...]  # this run's recording files
    finished: bool
    error: str | None
    startup: tuple[tuple[str, float], ...]  # (step, wall-clock time it ended): the restart's timeline


@dataclass(frozen=True)
class View:
    """The newest annotated frame as the driver shows it (the web's MJPEG): JPEG, boxes, ids."""

    seq: int  # frames finished by this run when it was made
    index: int
    latency: float  # capture to result, seconds
    jpeg: bytes
    boxes: np.ndarray  # (N, 4) float32 of the shown objects
    scores: np.ndarray
    object_ids: np.ndarray
    lost: tuple[LostObject, ...]
    objects: tuple[ObjectStatus, ...]


def snapshot(report: CameraReport | None, display: RateMeter) -> StatsSnapshot:
    if report is None:
        return StatsSnapshot(0, 0.0, 0.0, display.rate, 0, 0, 0.0, 0.0, 0.0, {}, "cluster", "")
    return StatsSnapshot(report.frames, report.fps, report.fps, display.rate, report.dropped, 0, report.latency_p50,
                         report.latency_p95, report.latency_p99, dict(report.stage_ms),
                         f"cluster (node {report.node_id[:8]}, run {report.runs})", "",
                         model_frames=report.model_frames)


def result_of(camera: int, view: View) -> Result:
    """A `Result` from a camera's view: the annotated frame decoded; the shown objects' boxes,
    scores and ids (their masks stay on the camera's node: the segmentation holds 1x1 masks)."""
    annotated = cv2.imdecode(np.frombuffer(view.jpeg, np.uint8), cv2.IMREAD_COLOR)
    now = time.monotonic()
    n = len(view.object_ids)
    segmentation = Segmentation.of(np.zeros((n, 1, 1), dtype=bool), view.boxes, view.scores, view.object_ids)
    return Result(Frame(annotated, view.index, now - view.latency, source_id=camera), segmentation, annotated,
                  view.lost, view.objects, (), now, camera)

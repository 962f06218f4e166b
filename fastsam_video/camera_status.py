"""What a camera reports: each frame's `Result`, its rates (`RateMeter`, `Stats`) and the frozen
snapshots `status()` hands out (`StatsSnapshot`, `CameraStatus`). Data only: no threads."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analytics.analyser import ZoneCount
from .events import CameraState, Event
from .render import LostObject
from .sources import ConnectionState
from .sources.playback import PlaybackPosition
from .tracker import ObjectStatus
from .types import Frame, Segmentation


@dataclass(frozen=True)
class Result:
    frame: Frame
    segmentation: Segmentation  # what is shown: tracked objects, or every mask in everything mode
    annotated: np.ndarray  # BGR, with overlays, ids and prompt markers
    lost: tuple[LostObject, ...]
    objects: tuple[ObjectStatus, ...]
    events: tuple[Event, ...]
    t_done: float
    camera: int = 0  # the camera's stable id in the pipeline

    @property
    def latency(self) -> float:
        """Seconds from capture to result."""
        return self.t_done - self.frame.t_capture


class RateMeter:
    """Events per second over a sliding window of timestamps."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def mark(self, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        with self._lock:
            self._times.append(t)
            while self._times and self._times[0] < t - self.window:
                self._times.popleft()

    @property
    def rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._times if t >= now - self.window]
        return 0.0 if len(times) < 2 else (len(times) - 1) / max(times[-1] - times[0], 1e-9)


@dataclass(frozen=True)
class StatsSnapshot:
    frames: int
    capture_fps: float
    inference_fps: float
    display_fps: float
    dropped: int  # frames the capture replaced before inference could take them (live sources)
    sink_dropped: int  # results the recorder / exporters could not keep up with (live sources)
    latency_p50: float  # seconds, capture to result
    latency_p95: float
    latency_p99: float
    stage_ms: dict[str, float]
    device: str
    precision: str
    connection: ConnectionState | None = None  # network cameras: connected / reconnecting in N s
    gpu_memory_mb: float | None = None  # CUDA: memory held by PyTorch's allocator
    first_result: float | None = None  # time.monotonic() when the first result was ready
    model_frames: int | None = None  # frames that went through the model (None: every frame does)

    def line(self) -> str:
        stages = " ".join(f"{k} {v:.0f}" for k, v in self.stage_ms.items())
        return (f"{self.frames} frames | capture {self.capture_fps:.1f} fps, inference {self.inference_fps:.1f} fps"
                + (f", display {self.display_fps:.1f} fps" if self.display_fps else "")
                + f" | latency p50 {self.latency_p50 * 1e3:.0f} ms p95 {self.latency_p95 * 1e3:.0f} ms"
                + f" p99 {self.latency_p99 * 1e3:.0f} ms | dropped {self.dropped}"
                + (f" | model on {self.model_frames}/{self.frames} frames" if self.model_frames is not None else "")
                + (f", sinks dropped {self.sink_dropped}" if self.sink_dropped else "")
                + f" | {self.device} {self.precision}"
                + (f" {self.gpu_memory_mb:.0f} MB" if self.gpu_memory_mb is not None else "")
                + (f" | ms: {stages}" if stages else "")
                + (f" | {self.connection.describe()}" if self.connection is not None else ""))

    def hud(self) -> list[str]:
        return [f"capture {self.capture_fps:.1f}  infer {self.inference_fps:.1f}  display {self.display_fps:.1f} fps",
                f"latency p50 {self.latency_p50 * 1e3:.0f} ms  p95 {self.latency_p95 * 1e3:.0f} ms  "
                f"dropped {self.dropped}",
                f"{self.device} {self.precision}"
                + (f"  {self.gpu_memory_mb:.0f} MB" if self.gpu_memory_mb is not None else "")] + (
                    [self.connection.describe()] if self.connection is not None and not self.connection.connected
                    else [])


def gpu_memory_mb(segmenter) -> float | None:
    """Memory the model's CUDA allocator holds; None off CUDA (torch is imported only then)."""
    if segmenter.device_type != "cuda":
        return None
    import torch

    return torch.cuda.memory_reserved(segmenter.device) / 2**20


class Stats:
    """One camera's counters (each field has one writer thread)."""

    def __init__(self, window: int = 300):
        self.frames = 0
        self.inference = RateMeter()
        self.display = RateMeter()
        self.latencies: collections.deque[float] = collections.deque(maxlen=window)
        self.stage_ms: dict[str, float] = {}
        self.encode_ms = 0.0  # recorder thread: mean encode time per frame
        self.encoded = 0
        self.first_result: float | None = None

    def mark_displayed(self) -> None:
        """Called by the display for every result it shows."""
        self.display.mark()


@dataclass(frozen=True)
class CameraStatus:
    """One camera of a pipeline, as front ends show it (`Pipeline.status(camera)`)."""

    camera: int  # the stable id (Event.camera, Result.camera)
    name: str  # display-safe (no password)
    live: bool
    state: CameraState
    stats: StatsSnapshot
    frame_size: tuple[int, int] | None  # (width, height) of the last frame
    recording: Path | None  # the file being written, None when not recording
    recorded: tuple[Path, ...]  # files finished so far
    objects: tuple[ObjectStatus, ...]  # the tracked objects as of the last frame
    error: str | None  # why the camera failed
    sink_errors: tuple[str, ...]  # outputs that failed and were dropped (the camera went on)
    frames_expected: int | None  # a file's frame count from its header
    truncated: str | None  # a file that ended before its header's frame count: says how many came
    zones: tuple[ZoneCount, ...] = ()  # each zone's and line's counts as of the last frame
    playback: PlaybackPosition | None = None  # a file under playback control: frame, time, paused

    @property
    def connection(self) -> ConnectionState | None:
        return self.stats.connection

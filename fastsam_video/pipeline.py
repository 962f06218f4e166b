"""The streaming pipeline: capture thread -> inference thread -> sinks and the display.

    capture (one thread per source)    newest-frame slot (live) / bounded queue (files)
    inference (one thread)             owns the model and the tracker: segment, track, render
    sinks (one thread each)            recorder, DAVIS and COCO exporters, bounded queues
    display                            `on_result` callback with each result (the UI's bridge)

One stop Event; every queue wait has a timeout; a worker's error is re-raised by `wait()` /
`close()` with `raise ... from`. The prompt state is an immutable PromptSet replaced whole by
`set_prompts` from any thread and applied from the next frame on.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .engine import Segmenter
from .render import Annotator, LostObject, draw_hud
from .sinks import CocoExporter, DavisExporter, SinkThread, VideoRecorder
from .sources import CaptureThread, FrameSource
from .tracker import ObjectStatus, PromptSet, PromptTracker, TrackerConfig
from .types import FastSAMVideoError, Frame, Segmentation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    frame: Frame
    segmentation: Segmentation  # what is shown: tracked objects, or every mask in everything mode
    annotated: np.ndarray  # BGR, with overlays, ids and prompt markers
    lost: tuple[LostObject, ...]
    objects: tuple[ObjectStatus, ...]
    events: tuple[str, ...]
    t_done: float

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

    def line(self) -> str:
        stages = " ".join(f"{k} {v:.0f}" for k, v in self.stage_ms.items())
        return (f"{self.frames} frames | capture {self.capture_fps:.1f} fps, inference {self.inference_fps:.1f} fps"
                + (f", display {self.display_fps:.1f} fps" if self.display_fps else "")
                + f" | latency p50 {self.latency_p50 * 1e3:.0f} ms p95 {self.latency_p95 * 1e3:.0f} ms"
                + f" p99 {self.latency_p99 * 1e3:.0f} ms | dropped {self.dropped}"
                + (f", sinks dropped {self.sink_dropped}" if self.sink_dropped else "")
                + f" | {self.device} {self.precision}" + (f" | ms: {stages}" if stages else ""))

    def hud(self) -> list[str]:
        return [f"capture {self.capture_fps:.1f}  infer {self.inference_fps:.1f}  display {self.display_fps:.1f} fps",
                f"latency p50 {self.latency_p50 * 1e3:.0f} ms  p95 {self.latency_p95 * 1e3:.0f} ms  "
                f"dropped {self.dropped}",
                f"{self.device} {self.precision}"]


class Stats:
    """Counters shared by the pipeline's threads (each field has one writer)."""

    def __init__(self, window: int = 300):
        self.frames = 0
        self.inference = RateMeter()
        self.display = RateMeter()
        self.latencies: collections.deque[float] = collections.deque(maxlen=window)
        self.stage_ms: dict[str, float] = {}

    def mark_displayed(self) -> None:
        """Called by the display for every result it shows."""
        self.display.mark()


class Pipeline:
    """Runs one source through the model, the tracker, the renderer and the sinks."""

    def __init__(self, source: FrameSource, segmenter: Segmenter, prompts: PromptSet | None = None, *,
                 record: str | Path | None = None, export_masks: str | Path | None = None,
                 export_coco: str | Path | None = None, max_frames: int | None = None,
                 annotator: Annotator | None = None, tracker_config: TrackerConfig | None = None,
                 text_encoder: Callable | None = None, on_result: Callable[[Result], None] | None = None,
                 hud: bool = False, queue_size: int = 8):
        self.source = source
        self.segmenter = segmenter
        self._prompts = prompts if prompts is not None else PromptSet(everything=True)
        self.max_frames = max_frames
        self.annotator = annotator or Annotator()
        self._faint = Annotator(alpha=0.25, contours=False, labels=False)
        self.tracker = PromptTracker(tracker_config, text_encoder)
        self.on_result = on_result
        self.hud = hud
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.record_path: Path | None = None
        self._recording_request: tuple[Path | None] | None = None  # applied by the inference thread
        self._queue_size = queue_size
        self._sinks: list[tuple[SinkThread, object]] = []
        block = self._block = not source.live  # files: completeness wins; live: never stall inference
        if record:
            self._start_recording(Path(record))
        if export_masks:
            davis = DavisExporter(export_masks)
            self._add_sink("davis export", davis, lambda r: davis.write(r.frame.index, r.segmentation), block)
        if export_coco:
            coco = CocoExporter(export_coco)
            self._add_sink("coco export", coco, lambda r: coco.write(r.frame.index, r.segmentation), block)
        self.capture: CaptureThread | None = None
        self._thread: threading.Thread | None = None

    def _add_sink(self, name: str, sink, write: Callable[[Result], None], block: bool) -> None:
        self._sinks.append((SinkThread(write, name=name, block=block), sink))

    def _start_recording(self, path: Path) -> None:
        recorder = VideoRecorder(path, fps_hint=self.source.fps or 30)
        self._add_sink("recorder", recorder, lambda r: recorder.write(r.annotated, r.frame.t_capture), self._block)
        self.record_path = path

    def _stop_recording(self) -> None:
        for entry in [e for e in self._sinks if e[0].name == "recorder"]:
            self._sinks.remove(entry)
            thread, recorder = entry
            thread.close()  # drains what is queued, so nothing already captured is lost
            recorder.close()
        self.record_path = None

    def set_recording(self, path: str | Path | None) -> None:
        """Start recording to `path`, or stop with None (any thread); applied before the next
        frame by the inference thread, which owns the sinks."""
        self._recording_request = (Path(path) if path else None,)

    def _apply_recording_request(self) -> None:
        request, self._recording_request = self._recording_request, None
        if request is None:
            return
        self._stop_recording()
        if request[0] is not None:
            self._start_recording(request[0])

    # -------------------------------------------------------------- control
    @property
    def prompts(self) -> PromptSet:
        return self._prompts

    def set_prompts(self, prompts: PromptSet) -> None:
        """Replace the prompt snapshot (any thread); applied from the next frame on."""
        self._prompts = prompts  # one reference assignment: atomic

    def start(self) -> Pipeline:
        self.capture = CaptureThread(self.source, self.stop_event, self._queue_size)
        self._thread = threading.Thread(target=self._run, name="inference")
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """True once the source ended (or max_frames was reached); re-raises a worker's error."""
        done = self.finished.wait(timeout)
        self._raise_error()
        return done

    def _raise_error(self) -> None:
        err = self.error
        if err is not None:
            self.error = None
            if isinstance(err, FastSAMVideoError):
                raise type(err)(str(err)) from err
            raise FastSAMVideoError(f"the inference loop failed: {type(err).__name__}: {err}") from err

    def close(self, timeout: float = 10.0) -> None:
        """Stop every thread and finalise the recording and exports (idempotent)."""
        self.stop_event.set()
        if self.capture is not None:
            self.capture.close()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the inference thread did not stop within %.0f s", timeout)
        errors = []
        for thread, sink in self._sinks:
            for close in (thread.close, sink.close):
                try:
                    close()
                except Exception as err:  # keep closing the others: nothing already written is lost
                    errors.append(err)
        self._sinks = []
        self._raise_error()
        if errors:
            raise errors[0]

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> StatsSnapshot:
        latencies = np.array(self.stats.latencies) if self.stats.latencies else np.zeros(1)
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        capture = self.capture
        return StatsSnapshot(
            frames=self.stats.frames, capture_fps=capture.capture_fps if capture else 0.0,
            inference_fps=self.stats.inference.rate, display_fps=self.stats.display.rate,
            dropped=capture.dropped if capture else 0, sink_dropped=sum(t.dropped for t, _ in self._sinks),
            latency_p50=float(p50), latency_p95=float(p95), latency_p99=float(p99),
            stage_ms=dict(self.stats.stage_ms), device=str(self.segmenter.device),
            precision=self.segmenter.precision)

    # -------------------------------------------------------------- inference thread
    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    frame = self.capture.get(timeout=0.1)
                except queue.Empty:
                    continue
                if frame is None:
                    break
                self._apply_recording_request()
                result = self.process(frame)
                for thread, _ in self._sinks:
                    thread.put(result)
                if self.on_result is not None:
                    self.on_result(result)
                if self.max_frames is not None and self.stats.frames >= self.max_frames:
                    break
        except BaseException as err:  # re-raised in the consumer by wait() / close()
            self.error = err
        finally:
            self.finished.set()

    @torch.inference_mode()
    def process(self, frame: Frame) -> Result:
        """One frame through the model, the tracker and the renderer (inference thread only)."""
        t0 = time.perf_counter()
        image = self.segmenter.to_device(frame.image)
        everything = self.segmenter.segment(image)
        prompts = self._prompts  # one snapshot for the whole frame
        t1 = time.perf_counter()
        self.tracker.set_prompts(prompts)
        t = frame.pts if frame.pts is not None else frame.t_capture
        track = self.tracker.update(everything, image, frame.index, t)
        t2 = time.perf_counter()
        if prompts.objects:
            shown = track.segmentation
            scene = self._faint.overlay(image, everything) if prompts.everything else image
        else:
            shown = everything if prompts.everything else track.segmentation
            scene = image
        annotated = self.annotator.annotate(scene, shown, lost=track.lost)
        t3 = time.perf_counter()
        self.stats.stage_ms = {**everything.timings, "track": (t2 - t1) * 1e3, "render": (t3 - t2) * 1e3,
                               "total": (t3 - t0) * 1e3}
        done = time.monotonic()
        self.stats.frames += 1
        self.stats.inference.mark(done)
        self.stats.latencies.append(done - frame.t_capture)
        if self.hud:
            draw_hud(annotated, self.snapshot().hud())
        return Result(frame, shown, annotated, track.lost, track.objects, track.events, done)


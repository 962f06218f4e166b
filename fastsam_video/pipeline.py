"""The streaming pipeline: capture thread -> inference thread -> sinks and the display.

    capture (one thread per source)    newest-frame slot (live) / bounded queue (files)
    inference (one thread)             owns the model: letterbox + forward pass of frame t+1 ...
    results (one thread)               ... while NMS, mask decoding, tracking and rendering of frame t
                                       run here (one-slot hand-off); owns the trackers and the sinks
    sinks (one thread each)            recorder, DAVIS and COCO exporters, bounded queues
    display                            `on_result` callback with each result (the UI's bridge)

One stop Event; every queue wait has a timeout; a worker's error stops the others and is
re-raised by `wait()` / `close()` with `raise ... from`. The prompt state is an immutable
PromptSet replaced whole by `set_prompts` from any thread and applied from the next frame on.
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
from .events import Event
from .queues import STOPPED, get_until_stopped, put_until_stopped
from .render import Annotator, LostObject, draw_hud
from .sinks import CocoExporter, DavisExporter, SegmentedRecorder, SinkThread, VideoRecorder
from .sources import CaptureThread, ConnectionState, FrameSource
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
    events: tuple[Event, ...]
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
    connection: ConnectionState | None = None  # network cameras: connected / reconnecting in N s
    gpu_memory_mb: float | None = None  # CUDA: memory held by PyTorch's allocator

    def line(self) -> str:
        stages = " ".join(f"{k} {v:.0f}" for k, v in self.stage_ms.items())
        return (f"{self.frames} frames | capture {self.capture_fps:.1f} fps, inference {self.inference_fps:.1f} fps"
                + (f", display {self.display_fps:.1f} fps" if self.display_fps else "")
                + f" | latency p50 {self.latency_p50 * 1e3:.0f} ms p95 {self.latency_p95 * 1e3:.0f} ms"
                + f" p99 {self.latency_p99 * 1e3:.0f} ms | dropped {self.dropped}"
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

    def mark_displayed(self) -> None:
        """Called by the display for every result it shows."""
        self.display.mark()


def per_camera_path(path: str | Path | None, index: int, cameras: int) -> Path | None:
    """out.mp4 -> out-cam1.mp4 when there are several cameras (names never hold a URL)."""
    if path is None:
        return None
    path = Path(path)
    return path if cameras == 1 else path.with_name(f"{path.stem}-cam{index + 1}{path.suffix}")


class Channel:
    """One camera: its capture thread, tracker, prompt snapshot, sinks and stats. The capture
    side (`capture`, `submitted`, `done`, `error`) belongs to the inference thread; the tracker,
    sinks and stats to the results thread; `prompts` and the recording request are set from any."""

    def __init__(self, index: int, source: FrameSource, prompts: PromptSet, tracker: PromptTracker,
                 segment_seconds: float | None = None):
        self.index = index
        self.source = source
        self.prompts = prompts
        self.tracker = tracker
        self.stats = Stats()
        self.capture: CaptureThread | None = None
        self.sinks: list[tuple[SinkThread, object]] = []
        self.record_path: Path | None = None
        self.recording_request: tuple[Path | None] | None = None
        self.submitted = 0  # frames sent through the model
        self.done = False  # the source ended, failed, or gave max_frames
        self.error: BaseException | None = None
        self.block = not source.live  # files: completeness wins; live: never stall inference
        self.segment_seconds = segment_seconds
        self.recorded: list[Path] = []  # every file written, for the final report

    def add_sink(self, name: str, sink, write: Callable[[Result], None]) -> None:
        self.sinks.append((SinkThread(write, name=name, block=self.block), sink))

    def start_recording(self, path: Path) -> None:
        fps, live = self.source.fps or 30, self.source.live  # live: no frame waits in the encoder
        recorder = (SegmentedRecorder(path, self.segment_seconds, fps_hint=fps, low_latency=live)
                    if self.segment_seconds else VideoRecorder(path, fps_hint=fps, low_latency=live))
        use_pts = not self.source.live  # live: true capture times (variable rate); files: their own timestamps
        stats = self.stats

        def write(r: Result) -> None:
            t = r.frame.pts if use_pts and r.frame.pts is not None else r.frame.t_capture
            start = time.perf_counter()
            recorder.write(r.annotated, t)
            stats.encode_ms += ((time.perf_counter() - start) * 1e3 - stats.encode_ms) / (stats.encoded + 1)
            stats.encoded += 1

        self.add_sink("recorder", recorder, write)
        self.record_path = path

    def stop_recording(self) -> None:
        for entry in [e for e in self.sinks if e[0].name == "recorder"]:
            self.sinks.remove(entry)
            thread, recorder = entry
            thread.close()  # drains what is queued, so nothing already captured is lost
            recorder.close()
            self.recorded += getattr(recorder, "paths", [recorder.path] if hasattr(recorder, "path") else [])
        self.record_path = None

    def apply_recording_request(self) -> None:
        request, self.recording_request = self.recording_request, None
        if request is not None:
            self.stop_recording()
            if request[0] is not None:
                self.start_recording(request[0])

    def close_sinks(self) -> list[BaseException]:
        errors = []
        try:
            self.stop_recording()
        except Exception as err:
            errors.append(err)
        for thread, sink in self.sinks:
            for close in (thread.close, sink.close):
                try:
                    close()
                except Exception as err:  # keep closing the others: nothing already written is lost
                    errors.append(err)
        self.sinks = []
        return errors


class Pipeline:
    """Runs one or several sources through the model, the trackers, the renderer and the sinks.

    With several sources (cameras), each has its own capture thread, tracker, prompts,
    recordings and stats, and the frames available at each step go through the model in one
    batch. A camera that fails is reported and left out; the others go on."""

    def __init__(self, source: FrameSource | list[FrameSource], segmenter: Segmenter,
                 prompts: PromptSet | None = None, *, record: str | Path | None = None,
                 export_masks: str | Path | None = None, export_coco: str | Path | None = None,
                 max_frames: int | None = None, annotator: Annotator | None = None,
                 tracker_config: TrackerConfig | None = None, text_encoder: Callable | None = None,
                 on_result: Callable[[Result], None] | None = None, hud: bool = False, queue_size: int = 8,
                 segment_seconds: float | None = None):
        sources = list(source) if isinstance(source, (list, tuple)) else [source]
        self.segmenter = segmenter
        self.max_frames = max_frames
        self.annotator = annotator or Annotator()
        self._faint = Annotator(alpha=0.25, contours=False, labels=False)
        self.on_result = on_result
        self.hud = hud
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self._queue_size = queue_size
        self._threads: list[threading.Thread] = []
        # one slot: the model runs one batch ahead of the results thread, never more (live
        # frames stay fresh; a file's frames wait in the capture queue instead)
        self._handoff: queue.Queue = queue.Queue(maxsize=1)
        prompts = prompts if prompts is not None else PromptSet(everything=True)
        self.channels = [Channel(i, src, prompts, PromptTracker(tracker_config, text_encoder), segment_seconds)
                         for i, src in enumerate(sources)]
        n = len(sources)
        for ch in self.channels:
            if record:
                ch.start_recording(per_camera_path(record, ch.index, n))
            if export_masks:
                davis = DavisExporter(per_camera_path(export_masks, ch.index, n))
                ch.add_sink("davis export", davis, lambda r, d=davis: d.write(r.frame.index, r.segmentation))
            if export_coco:
                coco = CocoExporter(per_camera_path(export_coco, ch.index, n))
                ch.add_sink("coco export", coco, lambda r, c=coco: c.write(r.frame.index, r.segmentation))

    # -------------------------------------------------------------- the first camera, for one-source callers
    @property
    def source(self) -> FrameSource:
        return self.channels[0].source

    @property
    def capture(self) -> CaptureThread | None:
        return self.channels[0].capture

    @property
    def stats(self) -> Stats:
        return self.channels[0].stats

    @property
    def tracker(self) -> PromptTracker:
        return self.channels[0].tracker

    @property
    def record_path(self) -> Path | None:
        return self.channels[0].record_path

    @property
    def prompts(self) -> PromptSet:
        return self.channels[0].prompts

    # -------------------------------------------------------------- control (any thread)
    def set_prompts(self, prompts: PromptSet, camera: int = 0) -> None:
        """Replace a camera's prompt snapshot; applied from its next frame on."""
        self.channels[camera].prompts = prompts  # one reference assignment: atomic

    def set_recording(self, path: str | Path | None, camera: int = 0) -> None:
        """Start recording a camera to `path`, or stop with None; applied before the next frame
        by the inference thread, which owns the sinks."""
        self.channels[camera].recording_request = (Path(path) if path else None,)

    def start(self) -> Pipeline:
        for ch in self.channels:
            ch.capture = CaptureThread(ch.source, self.stop_event, self._queue_size)
        self._threads = [threading.Thread(target=self._inference_loop, name="inference"),
                         threading.Thread(target=self._results_loop, name="results")]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """True once every source ended (or max_frames was reached); re-raises a worker's error."""
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
        """Stop every thread and finalise the recordings and exports (idempotent)."""
        self.stop_event.set()
        for ch in self.channels:
            if ch.capture is not None:
                ch.capture.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
            if thread.is_alive():
                log.warning("the %s thread did not stop within %.0f s", thread.name, timeout)
        errors = [err for ch in self.channels for err in ch.close_sinks()]
        self._raise_error()
        if errors:
            raise errors[0]

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self, camera: int = 0) -> StatsSnapshot:
        ch = self.channels[camera]
        latencies = np.array(ch.stats.latencies) if ch.stats.latencies else np.zeros(1)
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        capture = ch.capture
        return StatsSnapshot(
            frames=ch.stats.frames, capture_fps=capture.capture_fps if capture else 0.0,
            inference_fps=ch.stats.inference.rate, display_fps=ch.stats.display.rate,
            dropped=capture.dropped if capture else 0, sink_dropped=sum(t.dropped for t, _ in ch.sinks),
            latency_p50=float(p50), latency_p95=float(p95), latency_p99=float(p99),
            stage_ms=dict(ch.stats.stage_ms), device=str(self.segmenter.device),
            precision=self.segmenter.precision, connection=getattr(ch.source, "connection", None),
            gpu_memory_mb=(torch.cuda.memory_reserved(self.segmenter.device) / 2**20
                           if self.segmenter.device.type == "cuda" else None))

    # -------------------------------------------------------------- inference thread
    def _next_frames(self) -> list[tuple[Channel, Frame]]:
        """One frame from each camera that has one ready (waiting briefly for the first)."""
        batch = []
        for ch in self.channels:
            if ch.done:
                continue
            try:
                frame = ch.capture.get(timeout=0.1 if not batch else 0.005)
            except queue.Empty:
                continue
            except FastSAMVideoError as err:  # this camera failed; the others go on
                ch.done, ch.error = True, err
                log.error("camera %d (%s): %s", ch.index + 1, ch.source.name, err)
                continue
            if frame is None:
                ch.done = True
                continue
            ch.submitted += 1
            ch.done = self.max_frames is not None and ch.submitted >= self.max_frames
            batch.append((ch, frame))
        return batch

    def _fail(self, err: BaseException) -> None:
        """Record the first worker error (re-raised by wait / close) and stop every thread."""
        if self.error is None:
            self.error = err
        self.stop_event.set()

    def _inference_loop(self) -> None:
        try:
            while not self.stop_event.is_set() and not all(ch.done for ch in self.channels):
                batch = self._next_frames()
                if batch:
                    images = [self.segmenter.to_device(frame.image) for _, frame in batch]
                    put_until_stopped(self._handoff, (batch, images, self.segmenter.infer(images)), self.stop_event)
            failed = [ch.error for ch in self.channels if ch.error is not None]
            if failed and len(failed) == len(self.channels):
                raise failed[0]  # every camera failed: nothing left to run
            put_until_stopped(self._handoff, None, self.stop_event)  # the end: the results thread stops
        except BaseException as err:
            self._fail(err)

    # -------------------------------------------------------------- results thread
    def _results_loop(self) -> None:
        try:
            while True:
                item = get_until_stopped(self._handoff, self.stop_event)
                if item is None or item is STOPPED:  # the end, or stopping
                    break
                batch, images, output = item
                for ch, _ in batch:
                    ch.apply_recording_request()
                for (ch, _), result in zip(batch, self._finish(batch, images, self.segmenter.decode(output))):
                    for thread, _ in ch.sinks:
                        thread.put(result)
                    if self.on_result is not None:
                        self.on_result(result)
        except BaseException as err:  # re-raised in the consumer by wait() / close()
            self._fail(err)
        finally:
            self.finished.set()

    @torch.inference_mode()
    def _finish(self, batch: list[tuple[Channel, Frame]], images: list[torch.Tensor],
                segmentations: list[Segmentation]) -> list[Result]:
        """Track and render each camera's frame of a decoded batch."""
        results = []
        for (ch, frame), image, everything in zip(batch, images, segmentations):
            t2 = time.perf_counter()
            prompts = ch.prompts  # one snapshot for the whole frame
            ch.tracker.set_prompts(prompts)
            t = frame.pts if frame.pts is not None else frame.t_capture
            track = ch.tracker.update(everything, image, frame.index, t)
            t3 = time.perf_counter()
            if prompts.objects:
                shown = track.segmentation
                scene = self._faint.overlay(image, everything) if prompts.everything else image
            else:
                shown = everything if prompts.everything else track.segmentation
                scene = image
            annotated = self.annotator.annotate(scene, shown, lost=track.lost,
                                                states={o.object_id: o.state for o in track.objects})
            t4 = time.perf_counter()
            ch.stats.stage_ms = {**everything.timings, "track": (t3 - t2) * 1e3, "render": (t4 - t3) * 1e3}
            done = time.monotonic()
            ch.stats.frames += 1
            ch.stats.inference.mark(done)
            ch.stats.latencies.append(done - frame.t_capture)
            if self.hud:
                draw_hud(annotated, self.snapshot(ch.index).hud())
            events = tuple(e.on_camera(ch.index) for e in track.events)
            results.append(Result(frame, shown, annotated, track.lost, track.objects, events, done))
        return results

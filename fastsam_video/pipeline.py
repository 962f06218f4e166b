"""The streaming pipeline: capture thread -> inference thread -> sinks and the display.

    capture (one thread per source)    newest-frame slot (live) / bounded queue (files)
    inference (one thread)             owns the model: letterbox + forward pass of frame t+1 ...
    results (one thread)               ... while NMS, mask decoding, tracking and rendering of frame t
                                       run here (one-slot hand-off); owns the trackers and the sinks
    sinks (one thread each)            recorder, DAVIS and COCO exporters, bounded queues
    display                            `on_result` callback with each result (the UI's bridge)

One stop Event; every queue wait has a timeout; the threads run on `workers.Worker`; a worker's
error stops the others and is re-raised by `wait()` / `close()` with `raise ... from`. A fault
of one camera (its source, a frame-size change, its tracking, one of its outputs) stays in that
camera: it is reported as an `Event` and in `status(camera)`, and the others go on. The prompt state is an immutable
PromptSet replaced whole by `set_prompts` from any thread and applied from the next frame on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from .analytics.frame_zones import zones_of_frame
from .analytics.geometry import ZoneSet
from .outputs import per_camera_path
from .events import CameraState, Event, EventKind, Subscribers
from .queues import STOPPED, get_until_stopped, put_until_stopped
from .render import Annotator, draw_hud
from .sinks import CocoExporter, DavisExporter, YoloExporter
from .schedule import ScheduleOptions
from .sources import CaptureThread, FrameSource, close_all
from .sources.playback import NotPlayable, PlaybackSource
from .tracker import PromptSet, PromptTracker, TrackerConfig, TrackResult
from .types import FastSAMVideoError, Frame, Segmentation
from .workers import Worker, reason

if TYPE_CHECKING:  # any engine: PyTorch, ONNX Runtime or OpenVINO
    from .engines import SegmentationEngine as Segmenter

log = logging.getLogger(__name__)


from .camera_status import CameraStatus, RateMeter, Result, Stats, StatsSnapshot, gpu_memory_mb  # noqa: F401
from .channel import Channel, FrameRenderer, every_nth, rescaled_prompts  # noqa: F401  (importers' names)


class Pipeline:
    """Runs one or several sources through the model, the trackers, the renderer and the sinks.

    With several sources (cameras), each has its own capture thread, tracker, prompts,
    recordings and stats, and the frames available at each step go through the model in one
    batch. Cameras have stable ids (0, 1, ... in the order added, never reused); cameras can be
    added and removed while running (`add_camera`, `remove_camera`). A camera that fails (its
    source, its tracking, one of its outputs) is reported and left out; the others go on.

    `subscribe(callback)` delivers every `Event` (tracker events with their camera set, and
    camera events: added, connected, reconnecting, resized, ended, failed, recording started /
    stopped, output failed) on the pipeline's threads; keep callbacks short. `status(camera)`
    is a frozen `CameraStatus`. With `stay_open` the pipeline runs until `close()` even when no
    camera is left (a server that adds cameras later); otherwise it finishes when every camera
    ended."""

    def __init__(self, source: FrameSource | list[FrameSource], segmenter: Segmenter,
                 prompts: PromptSet | None = None, *, record: str | Path | None = None,
                 export_masks: str | Path | None = None, export_coco: str | Path | None = None,
                 max_frames: int | None = None, annotator: Annotator | None = None,
                 tracker_config: TrackerConfig | None = None, text_encoder: Callable | None = None,
                 on_result: Callable[[Result], None] | None = None, hud: bool = False, queue_size: int = 8,
                 segment_seconds: float | None = None, stay_open: bool = False, zones: ZoneSet | None = None,
                 export_yolo: str | Path | None = None, export_every: int = 1,
                 schedule: ScheduleOptions | None = None):
        sources = list(source) if isinstance(source, (list, tuple)) else [source]
        # OpenCV's own thread pool off (as ultralytics does): the stages already run on a thread
        # each per camera, and the pool's workers only wait for the cores the model and the other
        # cameras share (--detect-every 3 on the tracker scenarios: 3 % more frames per CPU-second)
        cv2.setNumThreads(0)
        self.segmenter = segmenter
        self.max_frames = max_frames
        self.renderer = FrameRenderer(annotator)
        self.on_result = on_result
        self.hud = hud
        self.stay_open = stay_open
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self._queue_size = queue_size
        self._workers: list[Worker] = []
        self._started = False
        # one slot: the model runs one batch ahead of the results thread, never more (live
        # frames stay fresh; a file's frames wait in the capture queue instead)
        self._handoff: queue.Queue = queue.Queue(maxsize=1)
        self._prompts = prompts if prompts is not None else PromptSet(everything=True)
        self._tracker_config, self._text_encoder = tracker_config, text_encoder
        self._outputs = dict(record=record, export_masks=export_masks, export_coco=export_coco, export_yolo=export_yolo)
        self._export_every = export_every
        self._segment_seconds = segment_seconds
        self._zones = zones  # every camera's zones at the start (`set_zones` changes one camera's)
        self._schedule = schedule or ScheduleOptions(skip_still=False)  # the model on every frame
        self._single = len(sources) == 1  # one camera: outputs keep their names (else NAME-camN)
        self._lock = threading.Lock()  # adding / removing cameras
        self._subscribers = Subscribers()
        self._cameras: dict[int, Channel] = {}  # replaced whole (copy on write): readers need no lock
        self._next_camera = 0
        try:
            for src in sources:
                self._add_channel(src, None)
        except BaseException:
            for ch in self.channels:
                ch.close_sinks()
            raise

    # -------------------------------------------------------------- cameras
    @property
    def channels(self) -> list[Channel]:
        """The cameras, in the order added."""
        return list(self._cameras.values())

    def camera_ids(self) -> list[int]:
        return list(self._cameras)

    def _channel(self, camera: int) -> Channel:
        try:
            return self._cameras[camera]
        except KeyError:
            raise FastSAMVideoError(f"no camera {camera}: expected one of {self.camera_ids()}") from None

    def _add_channel(self, source: FrameSource, prompts: PromptSet | None, camera_id: int | None = None,
                     segment_seconds: float | None = None) -> Channel:
        camera = self._next_camera if camera_id is None else int(camera_id)
        if camera in self._cameras or camera < 0:
            raise FastSAMVideoError(f"camera id {camera} is in use: expected a new id (not {self.camera_ids()})")
        ch = Channel(camera, source, prompts or self._prompts, PromptTracker(self._tracker_config, self._text_encoder),
                     segment_seconds or self._segment_seconds, self._emit, self._zones, self._schedule)
        single = self._single and camera == 0
        try:
            record, masks, coco, yolo = (per_camera_path(self._outputs[k], camera, 1 if single else 2)
                                         for k in ("record", "export_masks", "export_coco", "export_yolo"))
            if record:
                ch.start_recording(record)
            every = self._export_every
            if masks:
                davis = DavisExporter(masks)
                ch.add_sink("davis export", davis, every_nth(every, lambda r, d=davis: d.write(r.frame.index,
                                                                                               r.segmentation)))
            if coco:
                exporter = CocoExporter(coco)
                ch.add_sink("coco export", exporter, every_nth(every, lambda r, c=exporter: c.write(r.frame.index,
                                                                                                    r.segmentation)))
            if yolo:
                labels = YoloExporter(yolo)
                ch.add_sink("yolo export", labels, every_nth(every, lambda r, y=labels: y.write(
                    r.frame.index, r.frame.image, r.segmentation)))
        except BaseException:
            ch.close_sinks()
            raise
        self._next_camera = max(self._next_camera, camera + 1)
        self._cameras = {**self._cameras, camera: ch}
        return ch

    def add_camera(self, source: FrameSource, prompts: PromptSet | None = None, *, camera_id: int | None = None,
                   segment_seconds: float | None = None) -> int:
        """Adds a camera (its outputs named NAME-camN) and starts it if the pipeline runs; returns
        its id (`camera_id`: a given one, e.g. restored after a restart; never one in use).
        `segment_seconds`: its recordings' segment length, if not the pipeline's. The source is
        closed if its outputs cannot be opened."""
        with self._lock:
            if self._started and (self.stop_event.is_set() or self.finished.is_set()):
                source.close()
                raise FastSAMVideoError("cannot add a camera: the pipeline has stopped")
            self._single = False
            try:
                ch = self._add_channel(source, prompts, camera_id, segment_seconds)
            except BaseException:
                source.close()
                raise
            if self._started:
                ch.capture = CaptureThread(source, ch.capture_stop, self._queue_size)
        ch.event(EventKind.CAMERA_ADDED, source.name)
        return ch.camera

    def remove_camera(self, camera: int) -> None:
        """Stops one camera and finishes its recordings and exports (seconds at most: a network
        read in progress returns within its timeout); the others go on. Raises the error of an
        output that failed to finish (after everything was closed)."""
        with self._lock:
            ch = self._channel(camera)
            ch.done = True
            self._cameras = {k: v for k, v in self._cameras.items() if k != camera}
        if ch.capture is not None:
            ch.capture.close()
        else:
            ch.source.close()  # never started: no capture thread owns it
        with ch.lock:
            ch.removed = True
            errors = ch.close_sinks()
        ch.event(EventKind.CAMERA_REMOVED, ch.source.name)
        if errors:
            raise errors[0]

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

    # -------------------------------------------------------------- events
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Calls `callback(event)` for every event from now on (on the pipeline's threads);
        returns the function that unsubscribes it."""
        return self._subscribers.add(callback)

    def _emit(self, event: Event) -> None:
        self._subscribers.emit(event)  # a broken listener is logged; it never stops the cameras

    # -------------------------------------------------------------- control (any thread)
    def set_prompts(self, prompts: PromptSet, camera: int = 0) -> None:
        """Replace a camera's prompt snapshot; applied from its next frame on."""
        self._channel(camera).set_prompts(prompts)

    def set_recording(self, path: str | Path | None, camera: int = 0) -> None:
        """Start recording a camera to `path`, or stop with None; applied before the next frame
        by the results thread, which owns the sinks."""
        self._channel(camera).recording_request = (Path(path) if path else None,)

    def prompts_of(self, camera: int) -> PromptSet:
        """The camera's prompt snapshot as the pipeline holds it (moved and scaled by the pipeline
        after a frame-size change): edit this one, not a copy kept elsewhere."""
        return self._channel(camera).prompts

    def set_zones(self, zones: ZoneSet, camera: int = 0) -> None:
        """Replace a camera's zones and lines; applied from its next frame on (unchanged ones keep
        their state and totals)."""
        self._channel(camera).set_zones(zones)

    def zones_of(self, camera: int) -> ZoneSet:
        return self._channel(camera).zones

    def recording_of(self, camera: int) -> Path | None:
        """The file the camera records to, or will from its next frame; None when not recording
        (also once its recorder failed and was dropped)."""
        ch = self._channel(camera)
        request = ch.recording_request
        return request[0] if request is not None else ch.record_path

    def files_being_written(self, camera: int | None = None) -> set[Path]:
        """The recording files open right now (a segmented recording's current segment), of every
        camera or of one."""
        channels = self.channels if camera is None else [ch for ch in self.channels if ch.camera == camera]
        return {Path(sink.path) for ch in channels for thread, sink in list(ch.sinks)
                if thread.name == "recorder" and getattr(sink, "segments", 1) and hasattr(sink, "path")}

    def playback(self, camera: int = 0) -> PlaybackSource:
        """The camera's playback control (pause, play, step, seek, position: `PlaybackSource`);
        a FastSAMVideoError for a camera that is not a file opened for playback."""
        ch = self._channel(camera)
        if ch.playback is None:
            kind = "a live camera" if ch.source.live else "not a video file opened for playback"
            raise NotPlayable(f"camera {camera} ({ch.source.name}) is {kind}: pause, step and seek need a video "
                              "file camera")
        return ch.playback

    def mark_displayed(self, camera: int = 0) -> None:
        """Called by a display for every result of `camera` it shows (the display FPS)."""
        ch = self._cameras.get(camera)
        if ch is not None:
            ch.stats.mark_displayed()

    def start(self) -> Pipeline:
        with self._lock:
            for ch in self.channels:
                ch.capture = CaptureThread(ch.source, ch.capture_stop, self._queue_size)
            self._workers = [Worker(self._inference_loop, name="inference", on_error=self._fail),
                             Worker(self._results_loop, name="results", on_error=self._fail)]
            for worker in self._workers:
                worker.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Asks every thread to stop (any thread, signal handlers included); `close()` finishes."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every source ended (or max_frames was reached); re-raises a worker's error."""
        done = self.finished.wait(timeout)
        self._raise_error()
        return done

    def _raise_error(self) -> None:
        for worker in self._workers:
            worker.raise_error(FastSAMVideoError, "the inference loop failed")

    def _fail(self, err: BaseException) -> None:
        """A worker failed: stop every thread (its error is re-raised by wait / close). Logged now:
        a server keeps running its web app after the pipeline stopped, and would look frozen."""
        if not self.stop_event.is_set():
            log.error("the pipeline stopped: %s", reason(err), exc_info=err)
        self.stop_event.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop every thread and finalise the recordings and exports (idempotent). Cameras stop
        together: N frozen network cameras take about one read timeout, not N."""
        self.stop_event.set()
        with self._lock:
            channels = self.channels
        for ch in channels:
            ch.capture_stop.set()  # also a camera never started: it stays stopped
        started = time.monotonic()
        close_all(ch.capture for ch in channels if ch.capture is not None)  # every reader told at once
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(deadline=deadline)
        captured = time.monotonic()
        errors = []
        for ch in channels:
            with ch.lock:
                errors += ch.close_sinks()
        log.debug("closed in %.1f s (cameras and threads %.1f s, outputs %.1f s)", time.monotonic() - started,
                  captured - started, time.monotonic() - captured)
        self._raise_error()
        if errors:
            raise errors[0]

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self, camera: int = 0) -> StatsSnapshot:
        ch = self._channel(camera)
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
            gpu_memory_mb=gpu_memory_mb(self.segmenter), first_result=ch.stats.first_result,
            model_frames=None if self._schedule.every_frame else ch.schedule.model_frames)

    def status(self, camera: int = 0) -> CameraStatus:
        """A frozen snapshot of one camera: state, stats, connection, outputs, objects, errors."""
        ch = self._channel(camera)
        stats = self.snapshot(camera)
        expected = None if ch.source.live else ch.source.frame_count
        if ch.error is not None:
            state = CameraState.FAILED
        elif ch.done:
            state = CameraState.ENDED
        elif stats.connection is not None and not stats.connection.connected:
            state = CameraState.RECONNECTING if str(stats.connection.state) == "reconnecting" else CameraState.STARTING
        else:
            state = CameraState.RUNNING if ch.stats.frames else CameraState.STARTING
        return CameraStatus(
            camera=ch.camera, name=ch.source.name, live=ch.source.live, state=state, stats=stats,
            frame_size=ch.frame_size, recording=ch.record_path, recorded=tuple(ch.recorded), objects=ch.objects,
            error=None if ch.error is None else reason(ch.error), sink_errors=tuple(ch.sink_errors),
            frames_expected=expected, truncated=ch.source.truncated, zones=ch.analyser.counts,
            playback=ch.playback_position())

    # -------------------------------------------------------------- inference thread
    def _camera_failed(self, ch: Channel, err: BaseException) -> None:
        ch.done, ch.error = True, err
        log.error("camera %d (%s): %s", ch.camera + 1, ch.source.name, reason(err))
        ch.event(EventKind.CAMERA_FAILED, reason(err))

    def _watch_connections(self, channels: list[Channel]) -> None:
        """Connection changes of network cameras become events."""
        for ch in channels:
            connection = getattr(ch.source, "connection", None)
            if connection is None or str(connection.state) == ch.connection_state:
                continue
            ch.connection_state = str(connection.state)
            if connection.connected:
                ch.event(EventKind.CAMERA_CONNECTED, connection.describe())
            elif ch.connection_state == "reconnecting":
                ch.event(EventKind.CAMERA_RECONNECTING, connection.last_error or "")

    def _next_frames(self, channels: list[Channel]) -> list[tuple[Channel, Frame]]:
        """One frame from each camera that has one ready (waiting briefly for the first)."""
        batch = []
        for ch in channels:
            if ch.done or ch.capture is None:
                continue
            try:
                frame = ch.capture.get(timeout=0.1 if not batch else 0.005)
            except queue.Empty:
                continue
            except FastSAMVideoError as err:  # this camera failed; the others go on
                self._camera_failed(ch, err)
                continue
            if frame is None:
                ch.done = True
                if not self.stop_event.is_set():
                    ch.event(EventKind.CAMERA_ENDED, f"{ch.submitted} frames")
                continue
            if not ch.admit(frame):
                continue  # read before a playback command
            ch.submitted += 1
            ch.done = self.max_frames is not None and ch.submitted >= self.max_frames
            if ch.done:
                ch.event(EventKind.CAMERA_ENDED, f"{ch.submitted} frames (max frames)")
            batch.append((ch, frame))
        return batch

    def _inference_loop(self) -> None:
        while not self.stop_event.is_set():
            channels = self.channels
            if not self.stay_open and all(ch.done for ch in channels):
                break
            self._watch_connections(channels)
            batch = self._next_frames(channels)
            if batch:
                modelled, carried = self._scheduled(batch)
                output = self.segmenter.infer([frame.image for _, frame in modelled]) if modelled else None
                put_until_stopped(self._handoff, (modelled, output, carried), self.stop_event)
            elif all(ch.done for ch in channels):
                self.stop_event.wait(0.05)  # stay_open with no camera running: idle
        failed = [ch.error for ch in self.channels if ch.error is not None]
        if failed and len(failed) == len(self.channels) and not self.stay_open:
            raise failed[0]  # every camera failed: nothing left to run
        put_until_stopped(self._handoff, None, self.stop_event)  # the end: the results thread stops

    def _scheduled(self, batch: list[tuple[Channel, Frame]]):
        """The frames of a batch that go through the model, and those the tracker carries."""
        modelled, carried = [], []
        for ch, frame in batch:
            if ch.prompts is not ch.scheduled_prompts:  # a new prompt: select it on this frame
                ch.scheduled_prompts = ch.prompts
                ch.schedule.request()
            t = frame.pts if frame.pts is not None else frame.t_capture
            (modelled if ch.schedule.run_model(frame.image, t) else carried).append((ch, frame))
        return modelled, carried

    # -------------------------------------------------------------- results thread
    def _results_loop(self) -> None:
        try:
            while True:
                item = get_until_stopped(self._handoff, self.stop_event)
                if item is None or item is STOPPED:  # the end, or stopping
                    break
                modelled, output, carried = item
                decoded = self.segmenter.decode(output) if modelled else []
                # one frame per camera in a batch: the carried ones (everything None) need no order
                for (ch, frame), everything in [*zip(modelled, decoded), *((item, None) for item in carried)]:
                    with ch.lock:
                        if ch.removed:
                            continue
                        if ch.playback is not None and not ch.playback.is_current(frame):
                            continue  # a playback command came meanwhile
                        try:
                            ch.apply_recording_request()
                            result = self._finish(ch, frame, everything)
                            if ch.playback is not None:
                                ch.playback.shown(frame)
                        except Exception as err:  # this camera's tracking or rendering: the others go on
                            if ch.error is None:
                                self._camera_failed(ch, err)
                            continue
                        for event in result.events:
                            self._emit(event)
                        ch.write_sinks(result)
                    if self.on_result is not None:
                        self.on_result(result)
        finally:
            self.finished.set()

    def _resized(self, ch: Channel, size: tuple[int, int]) -> None:
        """The camera's frame size changed: a fresh tracker re-selects its objects from prompts
        moved to where they were last seen, scaled to the new size."""
        old = ch.frame_size
        ch.prompts = rescaled_prompts(ch.prompts, ch.tracker, old, size)
        ch.tracker = PromptTracker(self._tracker_config, self._text_encoder)
        ch.last_everything = None
        log.info("camera %d (%s): frame size %dx%d -> %dx%d", ch.camera + 1, ch.source.name, *old, *size)
        ch.event(EventKind.CAMERA_RESIZED, f"{old[0]}x{old[1]} -> {size[0]}x{size[1]}")

    def _finish(self, ch: Channel, frame: Frame, everything: Segmentation | None) -> Result:
        """Track and render one camera's frame of a decoded batch (`everything` None: the model
        did not run on it, and the tracker carries the objects)."""
        t2 = time.perf_counter()
        image = frame.image
        size = (image.shape[1], image.shape[0])
        if ch.frame_size is not None and size != ch.frame_size:
            self._resized(ch, size)
        ch.frame_size = size
        prompts = ch.prompts  # one snapshot for the whole frame
        ch.tracker.set_prompts(prompts)
        t = frame.pts if frame.pts is not None else frame.t_capture
        track = ch.tracker.update(everything, image, frame.index, t)
        ch.schedule.observe(track.objects, track.segmentation, frame.index)  # lost, new or fast: the model next
        if everything is not None:
            ch.last_everything = everything
        shown_everything = ch.last_everything
        if shown_everything is None or shown_everything.shape != image.shape[:2]:
            shown_everything = Segmentation.empty(*image.shape[:2])
        t3 = time.perf_counter()
        shown, annotated = self.renderer.render(image, prompts, shown_everything, track)
        t4 = time.perf_counter()
        zone_events = self._zones_of_frame(ch, frame, t, track, everything, annotated)
        if zone_events:  # something entered or left a zone: the model looks at the next frame
            ch.schedule.request()
        ch.stats.stage_ms = {**shown_everything.timings,  # a carried frame: the last model run's
                              "track": (t3 - t2) * 1e3, "render": (t4 - t3) * 1e3}
        if len(ch.analyser.zones):
            ch.stats.stage_ms["zones"] = (time.perf_counter() - t4) * 1e3
        done = time.monotonic()
        ch.stats.frames += 1
        ch.stats.first_result = ch.stats.first_result or done
        ch.stats.inference.mark(done)
        ch.stats.latencies.append(done - frame.t_capture)
        if self.hud:
            draw_hud(annotated, self.snapshot(ch.camera).hud())
        ch.objects = track.objects
        events = tuple(e.on_camera(ch.camera) for e in (*track.events, *zone_events))
        return Result(frame, shown, annotated, track.lost, track.objects, events, done, ch.camera)

    @staticmethod
    def _zones_of_frame(ch: Channel, frame: Frame, t: float, track: TrackResult, everything: Segmentation,
                        annotated: np.ndarray) -> tuple[Event, ...]:
        """The camera's zones and lines on this frame (`analytics.frame_zones`); objects a detect_new
        zone found become box-prompted objects from the next frame."""
        events, added = zones_of_frame(ch.analyser, ch.prompts, track, frame.index, t, everything, annotated)
        if added is not None:
            ch.prompts = added
        return events

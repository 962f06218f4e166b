"""A camera as a Ray actor, on the node that records it.

Capture, the model schedule (`--detect-every`, `--skip-still`: schedule.py), resizing to the
network's size, mask decoding, tracking, zones and lines, rendering, recording and the DAVIS / COCO
exports run here; the forward pass goes to the SegmentModel deployment (a frame the schedule skips
never leaves the node: the tracker carries it, as in the local pipeline). A camera has at most one frame at
the model: frame t+1 is in the network while frame t is decoded and tracked here. A live
camera's capture keeps only the newest frame, so when the cluster is short of capacity the
stale ones are dropped (counted in `dropped`) and latency stays bounded; a file's frames wait
in the capture queue and none is lost.

When its node dies, the driver hands the camera to a spare actor started in advance on another
node (`run`: no process start, no imports on the way back). Its adoption reloads the prompts
(so the object ids) and the recording from the registry; a file camera resumes after the last
frame its earlier recording files hold, and the recording goes on in a new file
(NAME-runNN.mp4). The actor never loads the model's weights: it decodes with the replicas'
settings (`DecodeSettings`). A lost or saturated model replica makes the camera wait and resend
the frame, never fail, for up to `retry_seconds`.
"""

from __future__ import annotations

import time

_STARTED = time.time()  # this module's import began (a fresh worker: the imports below are most of a restart)

import collections  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import queue  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray import serve  # noqa: E402

from .. import decoding  # noqa: E402
from ..decoding import Letterbox, letterbox_geometry, resize  # noqa: E402
from ..events import Event, EventKind  # noqa: E402
from ..factory import open_camera  # noqa: E402
from ..analytics.analyser import ZoneAnalyser  # noqa: E402
from ..analytics.frame_zones import zones_of_frame  # noqa: E402
from ..analytics.geometry import ZoneSet  # noqa: E402
from ..pipeline import FrameRenderer, StatsSnapshot  # noqa: E402
from ..render import draw_hud  # noqa: E402
from ..schedule import CameraSchedule, ScheduleOptions  # noqa: E402
from ..sinks import CocoExporter, DavisExporter  # noqa: E402
from ..sources import CaptureThread  # noqa: E402
from ..tracker import ObjectStatus, PromptSet, PromptTracker  # noqa: E402
from ..types import Frame, Segmentation  # noqa: E402
from ..workers import reason  # noqa: E402
from .model import RawOutput  # noqa: E402
from .options import CameraSpec, ClusterError, DecodeSettings  # noqa: E402
from .recording import frames_recorded, open_recorder, recording_file  # noqa: E402
from .reports import CameraReport, View  # noqa: E402

_IMPORTED = time.time()
log = logging.getLogger(__name__)


def model_input(image: np.ndarray, imgsz: int, stride: int) -> tuple[Letterbox, np.ndarray]:
    """What travels to the model, with the frame's letterbox: the frame shrunk as the network sees
    it (longer side = imgsz, uint8 BGR, not padded), or the frame itself when it is smaller than
    that (the replica enlarges it: fewer bytes on the way)."""
    box = letterbox_geometry(image.shape[0], image.shape[1], imgsz, stride)
    return box, image if box.gain >= 1 else resize(image, box.content_w, box.content_h)


def decode_output(settings: DecodeSettings, shape: tuple[int, int], box: Letterbox, out: RawOutput) -> Segmentation:
    """NMS and masks at the frame's resolution from a replica's answer for the resized frame: the
    replica's padding, the frame's own scale (what the local engine gives for the same batch)."""
    lb = out.letterbox
    frame_box = Letterbox(box.gain, lb.pad_left, lb.pad_top, lb.content_h, lb.content_w, lb.input_h, lb.input_w)
    segmentation = decoding.decode(out.raw[None], out.proto[None], (frame_box,), (shape,), settings.decode)[0]
    segmentation.timings.update(out.timings)
    return segmentation


class Camera:
    """One camera's loop, as a Ray actor started by `ClusterPipeline` before it has a camera: its
    process and imports are ready, so the driver can hand it a lost camera at once (`run`)."""

    def __init__(self):
        self._startup = [("process", _process_started()), ("imported", _IMPORTED), ("constructor", time.time())]
        self.node_id = ray.get_runtime_context().get_node_id()
        self.stop_event = threading.Event()
        self._adopted = threading.Event()
        self._adopting = threading.Lock()  # a control call waits while `run` adopts its camera

    def ready(self) -> str:
        """The node it runs on, once the actor is up."""
        return self.node_id

    def _adopt(self, index: int, spec: CameraSpec, settings: DecodeSettings, registry: str, app: str,
               retry_seconds: float) -> None:
        """Becomes camera `index`: its prompts (so its object ids), recording and progress come
        from the registry; a second run (after a lost node) publishes `camera_restarted`."""
        startup = self._startup
        startup.append(("adopted", time.time()))
        self.index = index
        self.spec = spec
        self.retry_seconds = retry_seconds
        self.registry = ray.get_actor(registry)
        state = ray.get(self.registry.join.remote(index, self.node_id))
        startup.append(("registry", time.time()))
        self.runs = state.runs
        self.prompts: PromptSet = state.prompts
        self._record_request: tuple[str | None] | None = (state.recording,) if state.recording else None
        # a shared record folder: resume after the frames the earlier files hold; else (or
        # without a recording) after the frames the registry last heard of
        visible = state.segments and all(Path(p).exists() for p in state.segments)
        self.frames_done = frames_recorded(state.segments) if visible else state.frames_done
        self.finished = state.finished
        self.settings = settings
        self.model = serve.get_deployment_handle("SegmentModel", app_name=app)
        self.tracker = PromptTracker()
        self.renderer = FrameRenderer()
        self.analyser = ZoneAnalyser(state.zones)  # loop thread; `set_zones` swaps the set (any thread)
        self.schedule_options = ScheduleOptions(spec.stream.detect_every, spec.stream.skip_still)
        self.schedule: CameraSchedule | None = None  # once the source says whether it is live
        self._scheduled_prompts: PromptSet | None = None  # the prompts the schedule last saw
        self._last_everything: Segmentation | None = None  # the last model run's, shown on carried frames
        self.frames = self.retries = self._modelled = 0  # frames finished, model calls resent, frames modelled
        self.live = False
        self.frames_expected: int | None = None
        self.frame_size: tuple[int, int] | None = None
        self.error: str | None = None
        self._bytes = [0, 0]
        self._stage_ms: dict[str, float] = {}
        self._latencies: collections.deque[float] = collections.deque(maxlen=300)
        self._t_first = self._t_last = 0.0
        self._objects: tuple[ObjectStatus, ...] = ()
        self._segments: list[str] = []
        self._recorder = None
        self._exports: list[tuple[str, object]] = []  # (name, DAVIS or COCO exporter) on this node
        self._latest = None  # (frame, annotated, tracked segmentation, lost, objects): one reference
        self._capture: CaptureThread | None = None
        startup.append(("ready", time.time()))
        self._adopted.set()
        if self.runs > 1:
            self._publish([Event(EventKind.CAMERA_RESTARTED, camera=index,
                                 detail=f"run {self.runs} on node {self.node_id[:12]}, from frame {self.frames_done}")])

    # ------------------------------------------------------------------ control (any thread)
    # Calls run on the actor's threads in any order, `run` (which adopts the camera) included. The
    # driver stores prompts and recordings in the registry before it sends them here, so a call
    # that comes before the adoption is dropped: the adoption reads the registry after it.
    def set_prompts(self, prompts: PromptSet) -> None:
        with self._adopting:
            if self._adopted.is_set():
                self.prompts = prompts  # one reference assignment; the loop takes it at the next frame

    def set_zones(self, zones: ZoneSet) -> None:
        with self._adopting:
            if self._adopted.is_set():
                self.analyser.set_zones(zones)  # applied at the next frame

    def set_recording(self, path: str | None) -> None:
        with self._adopting:
            if self._adopted.is_set():
                self._record_request = (path,)  # applied by the loop before its next frame

    def stop(self) -> None:
        self.stop_event.set()

    def node(self) -> str:
        return self.node_id

    def file_being_written(self) -> str | None:
        """The recording file open now (a segmented recording's current segment), or None: what
        retention must never delete."""
        recorder = self._recorder if self._adopted.is_set() else None
        if recorder is None or not getattr(recorder, "segments", 1):  # a segmented one before its first frame
            return None
        return str(recorder.path)

    def view(self, after: int = -1, quality: int = 80) -> View | None:
        """The newest annotated frame when it is newer than frame `after` of this run, else None."""
        if not self._adopted.is_set():
            return None
        latest, seq = self._latest, self.frames
        if latest is None or seq <= after:
            return None
        frame, annotated, tracked, lost, objects = latest
        jpeg = cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        return View(seq, frame.index, time.monotonic() - frame.t_capture, jpeg, tracked.boxes, tracked.scores,
                    tracked.object_ids, lost, objects)

    def status(self) -> CameraReport | None:
        """The camera's report; None before it has a camera."""
        if not self._adopted.is_set():
            return None
        fps, p50, p95, p99, dropped = self._rates()
        n = max(self._modelled, 1)  # the bytes of the frames that went to the model
        recorder = self._recorder
        every_frame = self.schedule_options.every_frame
        return CameraReport(
            self.index, self.spec.name, self.node_id, self.runs, self.live, self.frames,
            None if every_frame else self._modelled, self.frames_done, self.frames_expected, self.frame_size,
            dropped, self.retries, fps, p50, p95, p99, dict(self._stage_ms), self._bytes[0] / n, self._bytes[1] / n,
            self._objects, self.analyser.counts, None if recorder is None else str(recorder.path),
            tuple(self._segments), self.finished, self.error, tuple(self._startup))

    # ------------------------------------------------------------------ the loop
    def run(self, index: int, spec: CameraSpec, settings: DecodeSettings, registry: str, app: str,
            retry_seconds: float = 60.0) -> CameraReport:
        """Becomes camera `index` and runs it until its source ends or `stop`; returns its final report."""
        with self._adopting:
            self._adopt(index, spec, settings, registry, app, retry_seconds)
        if self.finished:  # the source had ended before a restart
            return self.status()
        try:
            source = self._open()
        except Exception as err:
            self.error = reason(err)
            self._publish([Event(EventKind.CAMERA_FAILED, camera=self.index, detail=self.error)])
            raise
        self._startup.append(("source", time.time()))
        self.live, self.frames_expected = source.live, None if source.live else source.frame_count
        self.schedule = CameraSchedule(self.schedule_options, live=source.live)
        skip = 0 if source.live else self.frames_done
        capture = self._capture = CaptureThread(source, self.stop_event, queue_size=4)
        pending = None
        try:
            self._open_exports()
            while True:
                self._apply_recording(source)
                frame = self._next(capture)
                limit = self.spec.stream.max_frames
                if limit is not None and self.frames_done + (pending is not None) >= limit:
                    frame = None
                if frame is not None and frame.index < skip:
                    continue
                request = self._submit(frame) if frame is not None else None
                if pending is not None:  # decode frame t while frame t+1 is in the network
                    self._finish(*pending, use_pts=not source.live)
                pending = request
                if frame is None:
                    break
            self.finished = not self.stop_event.is_set()
            if self.finished:
                self._publish([Event(EventKind.CAMERA_ENDED, camera=self.index)])
        except Exception as err:
            self.error = reason(err)
            self._publish([Event(EventKind.CAMERA_FAILED, camera=self.index, detail=self.error)])
            raise
        finally:
            capture.close()
            self._record_request = (None,)
            self._apply_recording(source)
            self._close_exports()
            ray.get(self.registry.update.remote(self.index, frames_done=self.frames_done, finished=self.finished))
        return self.status()

    def _open(self):
        if self.spec.loop:  # the server's demo: a file played in a loop, like a camera
            from ..sources import LoopingSource

            return LoopingSource(self.spec.source, self.index, realtime=self.spec.stream.realtime)
        return open_camera(self.spec.source, self.spec.stream, self.index)

    def _apply_recording(self, source) -> None:
        request, self._record_request = self._record_request, None
        if request is None:
            return
        if self._recorder is not None:
            recorder = self._recorder
            try:
                recorder.close()  # still reported as being written until it is whole
            finally:
                self._recorder = None
            self._publish([Event(EventKind.RECORDING_STOPPED, camera=self.index,
                                 detail=", ".join(map(str, recorder.paths)))])
        if request[0] is not None:
            self._recorder = open_recorder(request[0], self.runs, self.spec.segment_seconds, source.fps or 30,
                                           source.live)
            self._publish([Event(EventKind.RECORDING_STARTED, camera=self.index, detail=str(self._recorder.path))])

    def _open_exports(self) -> None:
        """DAVIS and COCO exporters on this node. DAVIS PNGs are named by frame, so a restart goes on
        in the same folder; a restart's COCO goes to NAME-runNN.json (an earlier run's file stays whole)."""
        if self.spec.export_masks:
            self._exports.append(("davis export", DavisExporter(self.spec.export_masks)))
        if self.spec.export_coco:
            self._exports.append(("coco export", CocoExporter(recording_file(self.spec.export_coco, self.runs))))

    def _export(self, frame_index: int, shown: Segmentation) -> None:
        for name, exporter in list(self._exports):
            try:
                exporter.write(frame_index, shown)
            except Exception as err:  # that output stops, the camera goes on (as in the local pipeline)
                self._exports.remove((name, exporter))
                self._sink_failed(name, exporter, err)

    def _close_exports(self) -> None:
        exports, self._exports = self._exports, []
        for name, exporter in exports:
            try:
                exporter.close()
            except Exception as err:
                self._sink_failed(name, None, err)

    def _sink_failed(self, name: str, exporter, err: Exception) -> None:
        log.warning("camera %d: %s failed: %s", self.index, name, reason(err))
        self._publish([Event(EventKind.SINK_FAILED, camera=self.index, detail=f"{name}: {reason(err)}")])
        if exporter is not None:
            try:
                exporter.close()  # what reached the disk stays readable
            except Exception:
                pass

    def _hud(self) -> list[str]:
        """The HUD's lines from this camera's counters (what `--hud` draws on the recorded frames)."""
        fps, p50, p95, p99, dropped = self._rates()
        return StatsSnapshot(self.frames, fps, fps, 0.0, dropped, 0, p50, p95, p99,
                             dict(self._stage_ms), f"cluster node {self.node_id[:8]}", f"run {self.runs}").hud()

    def _rates(self) -> tuple[float, float, float, float, int]:
        """This run's fps, latency p50 / p95 / p99 (s) and dropped frames: the report's and the HUD's."""
        p50, p95, p99 = np.percentile(np.array(self._latencies or [0.0]), [50, 95, 99])
        fps = (self.frames - 1) / (self._t_last - self._t_first) if self.frames > 1 else 0.0
        dropped = self._capture.dropped if self._capture is not None else 0
        return fps, float(p50), float(p95), float(p99), dropped

    def _next(self, capture: CaptureThread) -> Frame | None:
        while not self.stop_event.is_set():
            try:
                return capture.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _submit(self, frame: Frame):
        """The frame sent to the model, or (the schedule's choice) kept for the tracker to carry."""
        prompts = self.prompts
        if prompts is not self._scheduled_prompts:  # a new prompt: the model selects it on this frame
            self._scheduled_prompts = prompts
            self.schedule.request()
        t = frame.pts if frame.pts is not None else frame.t_capture
        if not self.schedule.run_model(frame.image, t):
            return frame, None, None, None
        box, small = model_input(frame.image, self.settings.imgsz, self.settings.stride)
        return frame, box, small, self.model.remote(small)

    def _result(self, small: np.ndarray, response) -> RawOutput:
        """The replica's answer; a failed call (a replica lost, or back-pressure) is resent."""
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                return response.result(timeout_s=self.retry_seconds)
            except Exception as err:
                if self.stop_event.is_set() or time.monotonic() > deadline:
                    raise ClusterError(f"camera {self.index}: the model did not answer for "
                                       f"{self.retry_seconds:.0f} s ({type(err).__name__}): check the "
                                       "SegmentModel replicas (`serve status`)") from err
                log.warning("camera %d: model call failed (%s); resending", self.index, type(err).__name__)
                self.retries += 1
                time.sleep(0.2)
                response = self.model.remote(small)

    def _finish(self, frame: Frame, box: Letterbox | None, small: np.ndarray | None, response,
                use_pts: bool) -> None:
        """Track, render, record and export one frame (`response` None: the model skipped it and
        the tracker carries its objects)."""
        out = None if response is None else self._result(small, response)
        t0 = time.perf_counter()
        everything = None if out is None else decode_output(self.settings, frame.image.shape[:2], box, out)
        prompts = self.prompts  # one snapshot for the whole frame
        self.tracker.set_prompts(prompts)
        t = frame.pts if frame.pts is not None else frame.t_capture
        t1 = time.perf_counter()
        track = self.tracker.update(everything, frame.image, frame.index, t)
        self.schedule.observe(track.objects, track.segmentation, frame.index)  # lost, new or fast: the model next
        t2 = time.perf_counter()
        if everything is not None:
            self._last_everything = everything
        shown_everything = self._last_everything
        if shown_everything is None or shown_everything.shape != frame.image.shape[:2]:
            shown_everything = Segmentation.empty(*frame.image.shape[:2])
        shown, annotated = self.renderer.render(frame.image, prompts, shown_everything, track)
        zone_events = self._zones_of_frame(frame, t, track, everything, annotated)
        if zone_events:  # something entered or left a zone: the model looks at the next frame
            self.schedule.request()
        if self.spec.hud:
            draw_hud(annotated, self._hud())
        t3 = time.perf_counter()
        recorder = self._recorder
        if recorder is not None:
            recorder.write(annotated, t if use_pts else frame.t_capture)
            for path in map(str, recorder.paths):
                if path not in self._segments:
                    self._segments.append(path)
                    self.registry.add_segment.remote(self.index, path)
                    # where the event store finds this camera's clips (wall clock of this node)
                    self._publish([Event(EventKind.RECORDING_SEGMENT, camera=self.index, pts=frame.pts, detail=path)])
        self._export(frame.index, shown)
        t4 = time.perf_counter()
        self._latest = (frame, annotated, shown, track.lost, track.objects)
        self._objects = track.objects
        self.frame_size = (frame.image.shape[1], frame.image.shape[0])
        model_ms = {"forward": out.timings.get("forward", 0.0), "decode": (t1 - t0) * 1e3} if out is not None else {
            k: v for k, v in self._stage_ms.items() if k in ("forward", "decode")}  # a carried frame: the last run's
        self._stage_ms = {**model_ms, "track": (t2 - t1) * 1e3, "render": (t3 - t2) * 1e3, "encode": (t4 - t3) * 1e3}
        self._t_last = time.monotonic()
        self._t_first = self._t_first or self._t_last
        self._latencies.append(self._t_last - frame.t_capture)
        if out is not None:
            self._bytes[0] += small.nbytes
            self._bytes[1] += out.nbytes
            self._modelled += 1
        self.frames += 1
        self.frames_done += 1
        if self.frames == 1:
            self._startup.append(("first frame", time.time()))
        if track.events or zone_events:
            self._publish([e.on_camera(self.index) for e in (*track.events, *zone_events)])
        if self.frames % 10 == 0:
            self.registry.update.remote(self.index, frames_done=self.frames_done)

    def _zones_of_frame(self, frame: Frame, t: float, track, everything: Segmentation | None,
                        annotated: np.ndarray) -> tuple[Event, ...]:
        """The zones and lines on this frame, as the local pipeline's (`analytics.frame_zones`); new
        objects found by a detect_new zone are tracked from the next frame (and kept by the
        registry, so a restart and the driver's `prompts_of` know them)."""
        events, added = zones_of_frame(self.analyser, self.prompts, track, frame.index, t, everything, annotated)
        if added is not None:
            self.prompts = added
            self.registry.update.remote(self.index, prompts=added)
        return events

    def _publish(self, events: list[Event]) -> None:
        self.registry.publish.remote(events)


def _process_started() -> float:
    """When this worker process started (wall clock), from /proc; the import time when unknown."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _STARTED

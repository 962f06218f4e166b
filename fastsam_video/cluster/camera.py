"""A camera as a Ray actor, on the node that records it.

Capture, resizing to the network's size, mask decoding, tracking, rendering and recording run
here; the forward pass goes to the SegmentModel deployment. A camera has at most one frame at
the model: frame t+1 is in the network while frame t is decoded and tracked here. A live
camera's capture keeps only the newest frame, so when the cluster is short of capacity the
stale ones are dropped (counted in `dropped`) and latency stays bounded; a file's frames wait
in the capture queue and none is lost.

Ray restarts the actor on another node when its node dies (`max_restarts`) and retries `run`
(`max_task_retries`). The constructor reloads the prompts (so the object ids) from the
registry; a file camera resumes after the last frame its earlier recording segments hold, and
the recording goes on in a new segment. A lost or saturated model replica makes the camera wait
and resend the frame, never fail, for up to `retry_seconds`.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import ray
import torch
from ray import serve

from ..engine import Letterbox, NetworkOutput, Segmenter, letterbox_geometry, resize
from ..events import Event, EventKind
from ..render import Annotator
from ..sinks import SegmentedRecorder
from ..sources import CaptureThread, open_source
from ..tracker import ObjectStatus, PromptSet, PromptTracker
from ..types import Frame, Segmentation
from .model import RawOutput
from .options import CameraSpec, ClusterError, ModelOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraStatus:
    """One camera's state and counters, as the driver and the API read them."""

    camera: int
    name: str
    node_id: str
    runs: int  # 1, or more after restarts on other nodes
    frames: int  # frames finished by this run
    frames_done: int  # frames finished by every run (files: where a restart resumes)
    dropped: int  # live: stale frames replaced before the model could take them
    retries: int  # model calls resent (a replica lost or saturated)
    fps: float  # frames finished per second by this run, from its first result to its last
    latency_p50: float  # seconds, capture to result
    latency_p95: float
    bytes_to_model: float  # per frame, mean: the resized frame
    bytes_from_model: float  # per frame, mean: raw predictions and prototypes
    objects: tuple[ObjectStatus, ...]
    segments: tuple[str, ...]  # this run's recording files
    finished: bool


def frames_recorded(paths: tuple[str, ...] | list[str]) -> int:
    """Frames held by recording files, a file cut short by a lost node included (its last
    fragment may be missing: fragments end at keyframes)."""
    total = 0
    for path in paths:
        if not Path(path).exists():
            continue
        try:
            with av.open(str(path)) as container:
                for packet in container.demux(container.streams.video[0]):
                    total += packet.size > 0
        except av.error.FFmpegError:  # truncated mid-fragment: what was read before counts
            pass
    return total


def model_input(image: np.ndarray, imgsz: int, stride: int) -> tuple[Letterbox, np.ndarray]:
    """What travels to the model, with the frame's letterbox: the frame shrunk as the network sees
    it (longer side = imgsz, uint8 BGR, not padded), or the frame itself when it is smaller than
    that (the replica enlarges it: fewer bytes on the way)."""
    box = letterbox_geometry(image.shape[0], image.shape[1], imgsz, stride)
    return box, image if box.gain >= 1 else resize(image, box.content_w, box.content_h)


def decode_output(decoder: Segmenter, shape: tuple[int, int], box: Letterbox, out: RawOutput) -> Segmentation:
    """NMS and masks at the frame's resolution from a replica's answer for the resized frame: the
    replica's padding, the frame's own scale (what the local engine gives for the same batch)."""
    lb = out.letterbox
    frame_box = Letterbox(box.gain, lb.pad_left, lb.pad_top, lb.content_h, lb.content_w, lb.input_h, lb.input_w)
    output = NetworkOutput(torch.from_numpy(out.raw)[None], torch.from_numpy(out.proto)[None], (frame_box,),
                           (shape,), out.timings)
    return decoder.decode(output)[0]


class Camera:
    """One camera's loop; created by `ClusterPipeline` as a restartable, threaded Ray actor."""

    def __init__(self, index: int, spec: CameraSpec, options: ModelOptions, registry: str, app: str,
                 retry_seconds: float = 60.0):
        self.index = index
        self.spec = spec
        self.retry_seconds = retry_seconds
        self.node_id = ray.get_runtime_context().get_node_id()
        self.registry = ray.get_actor(registry)
        state = ray.get(self.registry.join.remote(index, self.node_id))
        self.runs = state.runs
        self.prompts: PromptSet = state.prompts
        # a shared record folder: resume after the frames the earlier segments hold; else (or
        # without a recording) after the frames the registry last heard of
        visible = state.segments and all(Path(p).exists() for p in state.segments)
        self.frames_done = frames_recorded(state.segments) if visible else state.frames_done
        self.finished = state.finished
        # the decoder's share of the model: NMS and masks need its settings, not its forward pass
        self.decoder = Segmenter(options.model, device="cpu", imgsz=options.imgsz, conf=options.conf,
                                 iou=options.iou, warmup=False)
        self.model = serve.get_deployment_handle("SegmentModel", app_name=app)
        self.tracker = PromptTracker()
        self.annotator = Annotator()
        self._faint = Annotator(alpha=0.25, contours=False, labels=False)
        self.stop_event = threading.Event()
        self.frames = self.retries = 0
        self._bytes = [0, 0]
        self._latencies: collections.deque[float] = collections.deque(maxlen=300)
        self._t_first = self._t_last = 0.0
        self._objects: tuple[ObjectStatus, ...] = ()
        self._segments: list[str] = []
        self._latest: np.ndarray | None = None
        self._capture: CaptureThread | None = None
        if self.runs > 1:
            self._publish([Event(EventKind.CAMERA_RESTARTED, camera=index,
                                 detail=f"run {self.runs} on node {self.node_id[:12]}, from frame {self.frames_done}")])

    # ------------------------------------------------------------------ control (any thread)
    def set_prompts(self, prompts: PromptSet) -> None:
        self.prompts = prompts  # one reference assignment; the loop takes it at the next frame

    def stop(self) -> None:
        self.stop_event.set()

    def node(self) -> str:
        return self.node_id

    def jpeg(self, quality: int = 80) -> bytes | None:
        """The newest annotated frame as JPEG (what an API's live view serves)."""
        image = self._latest
        return None if image is None else cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()

    def status(self) -> CameraStatus:
        latencies = np.array(self._latencies) if self._latencies else np.zeros(1)
        p50, p95 = np.percentile(latencies, [50, 95])
        n = max(self.frames, 1)
        fps = (self.frames - 1) / (self._t_last - self._t_first) if self.frames > 1 else 0.0
        dropped = self._capture.dropped if self._capture is not None else 0
        return CameraStatus(self.index, self.spec.name, self.node_id, self.runs, self.frames, self.frames_done,
                            dropped, self.retries, fps, float(p50), float(p95), self._bytes[0] / n,
                            self._bytes[1] / n, self._objects, tuple(self._segments), self.finished)

    # ------------------------------------------------------------------ the loop
    def run(self) -> CameraStatus:
        """Runs the camera until its source ends or `stop`; returns its final status."""
        if self.finished:  # the source had ended before a restart
            return self.status()
        source = open_source(self.spec.source, realtime=self.spec.realtime, source_id=self.index)
        skip = 0 if source.live else self.frames_done
        capture = self._capture = CaptureThread(source, self.stop_event, queue_size=4)
        recorder = None
        if self.spec.record is not None:
            name = f"{self.spec.name}-run{self.runs:02d}-{{index:03d}}.mp4"
            recorder = SegmentedRecorder(Path(self.spec.record) / name, self.spec.segment_seconds,
                                         fps_hint=source.fps or 30, low_latency=source.live)
        pending = None
        try:
            while True:
                frame = self._next(capture)
                limit = self.spec.max_frames
                if limit is not None and self.frames_done + (pending is not None) >= limit:
                    frame = None
                if frame is not None and frame.index < skip:
                    continue
                request = self._submit(frame) if frame is not None else None
                if pending is not None:  # decode frame t while frame t+1 is in the network
                    self._finish(*pending, recorder, use_pts=not source.live)
                pending = request
                if frame is None:
                    break
            self.finished = not self.stop_event.is_set()
            if self.finished:
                self._publish([Event(EventKind.CAMERA_ENDED, camera=self.index)])
        except Exception as err:
            self._publish([Event(EventKind.CAMERA_FAILED, camera=self.index, detail=str(err))])
            raise
        finally:
            capture.close()
            if recorder is not None:
                recorder.close()
            ray.get(self.registry.progress.remote(self.index, self.frames_done, self.finished))
        return self.status()

    def _next(self, capture: CaptureThread) -> Frame | None:
        while not self.stop_event.is_set():
            try:
                return capture.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _submit(self, frame: Frame):
        box, small = model_input(frame.image, self.decoder.imgsz, self.decoder.stride)
        return frame, box, small, self.model.remote(small)

    def _result(self, small: np.ndarray, response) -> RawOutput:
        """The replica's answer; a failed call (a replica lost, or back-pressure) is resent."""
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                return response.result(timeout_s=self.retry_seconds)
            except Exception as err:
                if self.stop_event.is_set() or time.monotonic() > deadline:
                    raise ClusterError(f"camera {self.index + 1}: the model did not answer for "
                                       f"{self.retry_seconds:.0f} s ({type(err).__name__}): check the "
                                       "SegmentModel replicas (`serve status`)") from err
                log.warning("camera %d: model call failed (%s); resending", self.index + 1, type(err).__name__)
                self.retries += 1
                time.sleep(0.2)
                response = self.model.remote(small)

    @torch.inference_mode()
    def _finish(self, frame: Frame, box: Letterbox, small: np.ndarray, response,
                recorder: SegmentedRecorder | None, use_pts: bool) -> None:
        out = self._result(small, response)
        everything = decode_output(self.decoder, frame.image.shape[:2], box, out)
        image = torch.from_numpy(frame.image)
        prompts = self.prompts  # one snapshot for the whole frame
        self.tracker.set_prompts(prompts)
        t = frame.pts if frame.pts is not None else frame.t_capture
        track = self.tracker.update(everything, image, frame.index, t)
        annotated = self._render(frame.image, prompts, everything, track.segmentation, track.lost)
        if recorder is not None:
            recorder.write(annotated, t if use_pts else frame.t_capture)
            if len(recorder.paths) > len(self._segments):
                self._segments.append(str(recorder.paths[-1]))
                self.registry.add_segment.remote(self.index, self._segments[-1])
        self._latest = annotated
        self._objects = track.objects
        self._t_last = time.monotonic()
        self._t_first = self._t_first or self._t_last
        self._latencies.append(self._t_last - frame.t_capture)
        self._bytes[0] += small.nbytes
        self._bytes[1] += out.nbytes
        self.frames += 1
        self.frames_done += 1
        if track.events:
            self._publish([e.on_camera(self.index) for e in track.events])
        if self.frames % 10 == 0:
            self.registry.progress.remote(self.index, self.frames_done)

    def _render(self, image: np.ndarray, prompts: PromptSet, everything: Segmentation, tracked: Segmentation,
                lost) -> np.ndarray:
        if prompts.objects:
            scene = self._faint.overlay(image, everything) if prompts.everything else image
            return self.annotator.annotate(scene, tracked, lost=lost)
        return self.annotator.annotate(image, everything if prompts.everything else tracked, lost=lost)

    def _publish(self, events: list[Event]) -> None:
        self.registry.publish.remote(events)

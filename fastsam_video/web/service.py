"""The live side of the server, without FastAPI: cameras, their prompts, recordings and events.

One `Segmenter` (the model owner) is shared by every camera. Each camera's pipeline calls
`_on_result` on its results thread: the newest result is kept (a reference), handed to the
camera's MJPEG encoder (a reference) and its events to the bus (bounded queues): nothing here
waits, so no viewer or outlet can stall a camera.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..engine import Segmenter
from ..events import Event, EventKind
from ..pipeline import Pipeline, Result
from ..render import color_of
from ..sources import FrameSource, redact_url
from ..tracker import ObjectPrompt, PromptSet, TrackerConfig
from ..types import FastSAMVideoError
from .imaging import BadRequest, NotFound, parse_box, parse_points, parse_text
from .mjpeg import JpegStream
from .outlets import EventBus

log = logging.getLogger(__name__)

RECORDING_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class Conflict(RuntimeError):
    """A request that cannot be answered in the camera's present state (409)."""


@dataclass
class Camera:
    id: int
    name: str  # password-free
    pipeline: Pipeline
    stream: JpegStream
    prompts: PromptSet = field(default_factory=lambda: PromptSet(everything=True))
    latest: Result | None = None
    recording: Path | None = None
    notes: dict[int, Event] = field(default_factory=dict)  # objects whose prompt found nothing or was rejected

    def state(self) -> str:
        """starting / running / reconnecting / ended / failed."""
        ch = self.pipeline.channels[0]
        if self.pipeline.error is not None or ch.error is not None:
            return "failed"
        if self.pipeline.finished.is_set():
            return "ended"
        connection = ch.source.connection
        if connection is not None and not connection.connected and self.latest is not None:
            return "reconnecting"
        return "running" if self.latest is not None else "starting"

    def error(self) -> str | None:
        err = self.pipeline.error or self.pipeline.channels[0].error
        return None if err is None else redact_url(" ".join(str(err).split()))


def prompt_json(prompt: ObjectPrompt) -> dict:
    if prompt.points:
        return {"points": [[x, y, label] for (x, y), label in zip(prompt.points, prompt.labels)]}
    if prompt.box is not None:
        return {"box": list(prompt.box)}
    return {"text": prompt.text}


class LiveService:
    """Cameras added and removed while it runs; each with its prompts, recording and MJPEG."""

    def __init__(self, segmenter: Segmenter, open_source: Callable[[str, int], FrameSource], *,
                 output_dir: str | Path = "output", bus: EventBus | None = None,
                 tracker_config: TrackerConfig | None = None, text_encoder: Callable | None = None,
                 display_fps: float = 15.0):
        self.segmenter = segmenter
        self.bus = bus or EventBus()
        self.output_dir = Path(output_dir).resolve()
        self.display_fps = display_fps
        self._open_source = open_source
        self._tracker_config = tracker_config
        self._text_encoder = text_encoder
        self._cameras: dict[int, Camera] = {}
        self._next_id = 0
        self._lock = threading.Lock()

    # -------------------------------------------------------------- cameras
    def add_camera(self, spec: str, prompts: PromptSet | None = None) -> int:
        if not isinstance(spec, str) or not spec.strip():
            raise BadRequest(f"source: expected a file, webcam index or stream URL, got {spec!r:.60}")
        with self._lock:
            cid, self._next_id = self._next_id, self._next_id + 1
        source = self._open_source(spec, cid)  # SourceError: a 4xx with its one-line message
        stream = JpegStream(f"camera {cid}", threading.Event(), max_fps=self.display_fps)
        prompts = prompts or PromptSet(everything=True)
        try:
            pipeline = Pipeline(source, self.segmenter, prompts, tracker_config=self._tracker_config,
                                text_encoder=self._text_encoder, on_result=lambda r: self._on_result(cid, r),
                                queue_size=2)
        except BaseException:
            source.close()
            stream.close()
            raise
        camera = Camera(cid, redact_url(source.name), pipeline, stream, prompts)
        with self._lock:
            self._cameras[cid] = camera
        pipeline.start()
        log.info("camera %d added: %s", cid, camera.name)
        return cid

    def remove_camera(self, cid: int) -> None:
        with self._lock:
            camera = self._cameras.pop(self._known(cid).id)
        self._close(camera)
        log.info("camera %d removed", cid)

    def _close(self, camera: Camera) -> None:
        camera.stream.close()
        try:
            camera.pipeline.close()
        except FastSAMVideoError as err:  # the camera's own failure, already reported in its state
            log.warning("camera %d: %s", camera.id, err)
        if camera.recording is not None:
            self.bus.publish(Event(EventKind.RECORDING_STOPPED, camera.id, detail=camera.recording.name))

    def _known(self, cid: int) -> Camera:
        camera = self._cameras.get(cid)
        if camera is None:
            raise NotFound(f"unknown camera id {cid}: GET /api/cameras lists the cameras")
        return camera

    def camera(self, cid: int) -> Camera:
        with self._lock:
            return self._known(cid)

    def cameras(self) -> list[Camera]:
        with self._lock:
            return list(self._cameras.values())

    def describe(self, camera: Camera) -> dict:
        snap = camera.pipeline.snapshot()
        connection = camera.pipeline.channels[0].source.connection
        return {"id": camera.id, "name": camera.name, "state": camera.state(), "error": camera.error(),
                "connection": connection.describe() if connection is not None else None,
                "frames": snap.frames, "fps": round(snap.inference_fps, 1), "dropped": snap.dropped,
                "latency_ms": round(snap.latency_p50 * 1e3, 1),
                "everything": camera.prompts.everything, "objects": len(camera.prompts.objects),
                "recording": camera.recording.name if camera.recording else None,
                "viewers": camera.stream.viewers,
                "size": list(camera.latest.frame.shape[::-1]) if camera.latest else None}

    def _on_result(self, cid: int, result: Result) -> None:
        """The results thread of camera `cid`: references only, nothing waits."""
        camera = self._cameras.get(cid)
        if camera is None:
            return
        camera.latest = result
        camera.pipeline.stats.mark_displayed()
        camera.stream.publish(result.annotated)
        for event in result.events:
            if event.kind in (EventKind.OBJECT_NOT_FOUND, EventKind.OBJECT_REJECTED):
                camera.notes[event.object_id] = event
            self.bus.publish(event.on_camera(cid))

    # -------------------------------------------------------------- objects
    def objects(self, cid: int) -> list[dict]:
        camera = self.camera(cid)
        latest = camera.latest
        boxes, states = {}, {}
        if latest is not None:
            seg = latest.segmentation
            boxes = dict(zip(seg.object_ids.tolist(), seg.boxes.tolist()))
            boxes.update({lost.object_id: list(lost.box) for lost in latest.lost})
            states = {o.object_id: o.state.value for o in latest.objects}
        notes = dict(camera.notes)
        return [{"id": p.object_id,
                 "state": states.get(p.object_id) or (notes[p.object_id].kind.value.removeprefix("object_")
                                                      if p.object_id in notes else "pending"),
                 "detail": notes[p.object_id].detail if p.object_id in notes and p.object_id not in states else "",
                 "box": [round(v, 1) for v in boxes[p.object_id]] if p.object_id in boxes else None,
                 "color": "#{2:02x}{1:02x}{0:02x}".format(*color_of(p.object_id)),
                 "prompt": prompt_json(p)} for p in sorted(camera.prompts.objects, key=lambda p: p.object_id)]

    def add_object(self, cid: int, *, points=None, box=None, text=None) -> int:
        """A new tracked object from one prompt; its id."""
        return self._put_object(cid, None, points, box, text)

    def update_object(self, cid: int, oid: int, *, points=None, box=None, text=None) -> None:
        """Replace an object's prompt (e.g. a background point added to its points); same id and colour."""
        self._put_object(cid, oid, points, box, text)

    def _put_object(self, cid: int, oid: int | None, points, box, text) -> int:
        camera = self.camera(cid)
        given = [name for name, value in (("points", points), ("box", box), ("text", text)) if value is not None]
        if len(given) != 1:
            raise BadRequest(f"expected exactly one of points, box or text, got {len(given)}")
        if text is None and camera.latest is None:
            raise Conflict(f"camera {cid} has no frame yet: retry when its state is running")
        if text is None:
            h, w = camera.latest.frame.shape
        with self._lock:
            if oid is None:
                oid = camera.prompts.next_id()
            elif all(p.object_id != oid for p in camera.prompts.objects):
                raise NotFound(f"camera {cid} has no object {oid}: GET /api/cameras/{cid}/objects lists them")
            if points is not None:
                p = parse_points(points, w, h)
                prompt = ObjectPrompt(oid, points=p.points, labels=p.labels)
            elif box is not None:
                prompt = ObjectPrompt(oid, box=parse_box(box, w, h).box)
            else:
                prompt = ObjectPrompt(oid, text=parse_text(text).text)
            camera.notes.pop(oid, None)
            self._set_prompts(camera, camera.prompts.add(prompt))
        return oid

    def remove_object(self, cid: int, oid: int) -> None:
        camera = self.camera(cid)
        with self._lock:
            if all(p.object_id != oid for p in camera.prompts.objects):
                raise NotFound(f"camera {cid} has no object {oid}: GET /api/cameras/{cid}/objects lists them")
            camera.notes.pop(oid, None)
            self._set_prompts(camera, camera.prompts.remove(oid))

    def set_everything(self, cid: int, on: bool) -> None:
        camera = self.camera(cid)
        with self._lock:
            self._set_prompts(camera, PromptSet(camera.prompts.objects, everything=bool(on)))

    @staticmethod
    def _set_prompts(camera: Camera, prompts: PromptSet) -> None:
        camera.prompts = prompts
        camera.pipeline.set_prompts(prompts)

    # -------------------------------------------------------------- recording
    def recording_path(self, cid: int, name: str | None) -> Path:
        """A file inside the output folder: a bare name (letters, digits, . _ -), no folders."""
        if name is None:
            name = f"camera{cid}-{time.strftime('%Y%m%d-%H%M%S')}.mp4"
        if not isinstance(name, str) or not RECORDING_NAME.fullmatch(name) or ".." in name:
            raise BadRequest(f"name: expected a bare file name like clip.mp4 (letters, digits, . _ -; "
                             f"no folders), got {str(name)[:60]!r}")
        if not name.endswith(".mp4"):
            name += ".mp4"
        path = (self.output_dir / name).resolve()
        if path.parent != self.output_dir:
            raise BadRequest(f"name: the recording must stay in the output folder, got {name[:60]!r}")
        return path

    def start_recording(self, cid: int, name: str | None = None) -> Path:
        camera = self.camera(cid)
        path = self.recording_path(cid, name)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if camera.recording is not None:
                raise Conflict(f"camera {cid} is already recording to {camera.recording.name}: "
                               f"DELETE /api/cameras/{cid}/recording first")
            camera.recording = path
            camera.pipeline.set_recording(path)
        self.bus.publish(Event(EventKind.RECORDING_STARTED, cid, detail=path.name))
        return path

    def stop_recording(self, cid: int) -> Path:
        camera = self.camera(cid)
        with self._lock:
            if camera.recording is None:
                raise Conflict(f"camera {cid} is not recording: POST /api/cameras/{cid}/recording starts it")
            path, camera.recording = camera.recording, None
            camera.pipeline.set_recording(None)
        self.bus.publish(Event(EventKind.RECORDING_STOPPED, cid, detail=path.name))
        return path

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        with self._lock:
            cameras, self._cameras = list(self._cameras.values()), {}
        for camera in cameras:
            self._close(camera)

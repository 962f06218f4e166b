"""The live side of the server, without FastAPI: cameras, their prompts, recordings and events.

One `Pipeline` (one model owner, one batched inference for every camera) runs from start to
`close()`; cameras are added to and removed from it while it runs. Its results thread calls
`_on_result` for each camera's frame: the newest result is kept (a reference) and handed to the
camera's MJPEG encoder (a reference); its events go to the bus (bounded queues). Nothing here
waits, so no viewer or outlet can stall the cameras.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..events import Event, EventKind
from ..pipeline import CameraStatus, Pipeline, Result
from ..render import color_of
from ..sources import FrameSource, redact_url
from ..tracker import ObjectPrompt, PromptSet
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
    """What the server keeps of one camera besides the pipeline's own state."""

    id: int
    stream: JpegStream
    latest: Result | None = None
    notes: dict[int, Event] = field(default_factory=dict)  # objects whose prompt found nothing or was rejected


def prompt_json(prompt: ObjectPrompt) -> dict:
    if prompt.points:
        return {"points": [[x, y, label] for (x, y), label in zip(prompt.points, prompt.labels)]}
    if prompt.box is not None:
        return {"box": list(prompt.box)}
    return {"text": prompt.text}


class LiveService:
    """Cameras added and removed while it runs; each with its prompts, recording and MJPEG.
    `pipeline` is a pipeline built with `stay_open=True` and not started: the service becomes
    its `on_result`, subscribes the bus to its events and starts it."""

    def __init__(self, pipeline: Pipeline, open_source: Callable[[str], FrameSource], *,
                 output_dir: str | Path = "output", bus: EventBus | None = None, display_fps: float = 15.0):
        self.pipeline = pipeline
        self.segmenter = pipeline.segmenter
        self.bus = bus or EventBus()
        self.output_dir = Path(output_dir).resolve()
        self.display_fps = display_fps
        self._open_source = open_source
        self._cameras: dict[int, Camera] = {}
        self._lock = threading.Lock()
        pipeline.on_result = self._on_result
        self._unsubscribe = pipeline.subscribe(self._on_event)
        pipeline.start()

    # -------------------------------------------------------------- cameras
    def add_camera(self, spec: str, prompts: PromptSet | None = None) -> int:
        if not isinstance(spec, str) or not spec.strip():
            raise BadRequest(f"source: expected a file, webcam index or stream URL, got {spec!r:.60}")
        source = self._open_source(spec)  # SourceError: a 4xx with its one-line message
        prompts = prompts or PromptSet(everything=True)
        with self._lock:  # the camera is known before its first result comes
            cid = self.pipeline.add_camera(source, prompts)
            self._cameras[cid] = Camera(cid, JpegStream(f"camera {cid}", threading.Event(),
                                                        max_fps=self.display_fps))
        log.info("camera %d added: %s", cid, redact_url(source.name))
        return cid

    def remove_camera(self, cid: int) -> None:
        with self._lock:
            camera = self._cameras.pop(self._known(cid).id)
        camera.stream.close()
        try:
            self.pipeline.remove_camera(cid)
        except FastSAMVideoError as err:  # an output that failed to finish: reported, the camera is gone
            log.warning("camera %d: %s", cid, err)
        log.info("camera %d removed", cid)

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

    def status(self, cid: int) -> CameraStatus:
        try:
            return self.pipeline.status(cid)
        except FastSAMVideoError:  # removed meanwhile
            raise NotFound(f"unknown camera id {cid}: GET /api/cameras lists the cameras") from None

    def brief(self, camera: Camera, status: CameraStatus | None = None) -> dict:
        status = status or self.status(camera.id)
        return {"id": camera.id, "name": redact_url(status.name), "state": status.state.value,
                "error": redact_url(status.error) if status.error else None}

    def describe(self, camera: Camera) -> dict:
        status = self.status(camera.id)
        stats, connection = status.stats, status.connection
        prompts, recording = self.pipeline.prompts_of(camera.id), self.pipeline.recording_of(camera.id)
        return {**self.brief(camera, status),
                "connection": connection.describe() if connection is not None else None,
                "frames": stats.frames, "fps": round(stats.inference_fps, 1), "dropped": stats.dropped,
                "model_frames": stats.model_frames,  # None: the model runs on every frame
                "latency_ms": round(stats.latency_p50 * 1e3, 1),
                "everything": prompts.everything, "objects": len(prompts.objects),
                "recording": recording.name if recording else None,
                "viewers": camera.stream.viewers,
                "size": list(status.frame_size) if status.frame_size else None}

    def _on_result(self, result: Result) -> None:
        """The pipeline's results thread: references only, nothing waits."""
        camera = self._cameras.get(result.camera)
        if camera is None:
            return
        camera.latest = result
        self.pipeline.mark_displayed(result.camera)
        camera.stream.publish(result.annotated)

    def _on_event(self, event: Event) -> None:
        camera = self._cameras.get(event.camera)
        if camera is not None and event.kind in (EventKind.OBJECT_NOT_FOUND, EventKind.OBJECT_REJECTED):
            camera.notes[event.object_id] = event
        self.bus.publish(event)

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
                 "prompt": prompt_json(p)}
                for p in sorted(self.pipeline.prompts_of(cid).objects, key=lambda p: p.object_id)]

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
            prompts = self.pipeline.prompts_of(cid)
            if oid is None:
                oid = prompts.next_id()
            elif all(p.object_id != oid for p in prompts.objects):
                raise NotFound(f"camera {cid} has no object {oid}: GET /api/cameras/{cid}/objects lists them")
            if points is not None:
                p = parse_points(points, w, h)
                prompt = ObjectPrompt(oid, points=p.points, labels=p.labels)
            elif box is not None:
                prompt = ObjectPrompt(oid, box=parse_box(box, w, h).box)
            else:
                prompt = ObjectPrompt(oid, text=parse_text(text).text)
            camera.notes.pop(oid, None)
            self.pipeline.set_prompts(prompts.add(prompt), cid)
        return oid

    def remove_object(self, cid: int, oid: int) -> None:
        camera = self.camera(cid)
        with self._lock:
            prompts = self.pipeline.prompts_of(cid)
            if all(p.object_id != oid for p in prompts.objects):
                raise NotFound(f"camera {cid} has no object {oid}: GET /api/cameras/{cid}/objects lists them")
            camera.notes.pop(oid, None)
            self.pipeline.set_prompts(prompts.remove(oid), cid)

    def set_everything(self, cid: int, on: bool) -> None:
        self.camera(cid)
        with self._lock:
            self.pipeline.set_prompts(PromptSet(self.pipeline.prompts_of(cid).objects, everything=bool(on)), cid)

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
        self.camera(cid)
        path = self.recording_path(cid, name)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            current = self.pipeline.recording_of(cid)
            if current is not None:
                raise Conflict(f"camera {cid} is already recording to {current.name}: "
                               f"DELETE /api/cameras/{cid}/recording first")
            self.pipeline.set_recording(path, cid)
        return path

    def stop_recording(self, cid: int) -> Path:
        self.camera(cid)
        with self._lock:
            path = self.pipeline.recording_of(cid)
            if path is None:
                raise Conflict(f"camera {cid} is not recording: POST /api/cameras/{cid}/recording starts it")
            self.pipeline.set_recording(None, cid)
        return path

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Stops the encoders and the pipeline (recordings finished)."""
        with self._lock:
            cameras, self._cameras = list(self._cameras.values()), {}
        for camera in cameras:
            camera.stream.close()
        self._unsubscribe()
        self.pipeline.close()

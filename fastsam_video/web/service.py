"""The live side of the server, without FastAPI: cameras, their prompts, recordings and events.

One `Pipeline` (one model owner, one batched inference for every camera) runs from start to
`close()`; cameras are added to and removed from it while it runs. Its results thread calls
`_on_result` for each camera's frame: the newest result is kept (a reference) and handed to the
camera's MJPEG encoder (a reference); its events go to the bus (bounded queues). Nothing here
waits, so no viewer or outlet can stall the cameras.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..analytics.geometry import ZoneError, ZoneSet, region_from_dict
from ..events import Event, EventKind
from ..pipeline import CameraStatus, Pipeline, Result
from ..render import color_of
from ..history import Review
from ..sources import FrameSource, redact_url
from ..sources.playback import NotPlayable, PlaybackCommand
from ..tracker import ObjectPrompt, PromptSet
from ..types import FastSAMVideoError
from .imaging import BadRequest, NotFound, parse_box, parse_points, parse_text
from .mjpeg import JpegStream
from .outlets import EventBus

log = logging.getLogger(__name__)

RECORDING_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class Conflict(RuntimeError):
    """A request that cannot be answered in the camera's present state (409)."""


class Unavailable(RuntimeError):
    """A part the request needs cannot be loaded here (503), e.g. CLIP without its weights."""


@dataclass
class Camera:
    """What the server keeps of one camera besides the pipeline's own state."""

    id: int
    stream: JpegStream
    latest: Result | None = None
    notes: dict[int, Event] = field(default_factory=dict)  # objects whose prompt found nothing or was rejected
    spec: str = ""  # the source as given (what a restart reopens)
    name: str | None = None  # the config file's camera name
    record_folder: Path | None = None  # where `record: true` / a restart records it (segments)
    zones: list[dict] = field(default_factory=list)  # zones / lines, to_dict form (kept in the state file)
    segment_seconds: float | None = None  # its recordings' segment length, if not the server's
    opener: Callable[[str], FrameSource] | None = None  # its own source opener (the config's stream options)


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
                 output_dir: str | Path = "output", bus: EventBus | None = None, display_fps: float = 15.0,
                 clip=None, review: Review | None = None, record_cameras: bool = False):
        self.pipeline = pipeline
        self.clip = clip  # a ClipLoader: text prompts load CLIP on the request's thread, never the results thread
        self._listeners: list[Callable[[], None]] = []  # told after every change (the state file)
        self._observers: list[Callable[[Result], None]] = []
        self.review = review  # the event store, snapshots and clips (None: live events only)
        self.record_cameras = record_cameras  # every camera recorded from its start (segments of the pipeline's)
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
    def on_change(self, listener: Callable[[], None]) -> None:
        """`listener()` runs after each change of cameras, objects, everything mode or recording."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def add_camera(self, spec: str, prompts: PromptSet | None = None, *, camera_id: int | None = None,
                   name: str | None = None, open_source: Callable[[str], FrameSource] | None = None,
                   segment_seconds: float | None = None) -> int:
        """A new camera on `spec` (`open_source`: its own opener, e.g. with its config's stream
        options); `camera_id`: a given id (a restart restores the same ones)."""
        if not isinstance(spec, str) or not spec.strip():
            raise BadRequest(f"source: expected a file, webcam index or stream URL, got {spec!r:.60}")
        source = (open_source or self._open_source)(spec)  # SourceError: a 4xx with its one-line message
        prompts = prompts or PromptSet(everything=True)
        with self._lock:  # the camera is known before its first result comes
            given = {k: v for k, v in (("camera_id", camera_id), ("segment_seconds", segment_seconds)) if v is not None}
            cid = self.pipeline.add_camera(source, prompts, **given)
            self._cameras[cid] = Camera(cid, JpegStream(f"camera {cid}", threading.Event(),
                                                        max_fps=self.display_fps), spec=spec, name=name,
                                        segment_seconds=segment_seconds, opener=open_source)
            if self.record_cameras:
                self.output_dir.mkdir(parents=True, exist_ok=True)
                self.pipeline.set_recording(self.output_dir / f"camera{cid}-{{time:%Y%m%d-%H%M%S}}.mp4", cid)
        log.info("camera %d added: %s", cid, redact_url(source.name))
        self._changed()
        return cid

    def remove_camera(self, cid: int, *, changed: bool = True) -> Camera:
        with self._lock:
            camera = self._cameras.pop(self._known(cid).id)
        camera.stream.close()
        try:
            self.pipeline.remove_camera(cid)
        except FastSAMVideoError as err:  # an output that failed to finish: reported, the camera is gone
            log.warning("camera %d: %s", cid, err)
        log.info("camera %d removed", cid)
        if changed:
            self._changed()
        return camera

    def replay(self, cid: int) -> None:
        """A file camera that ended plays again from its start: same id, objects and recording."""
        camera = self.camera(cid)
        status = self.status(cid)
        if getattr(status, "playback", None) is not None:  # under playback control: it never ends, it pauses
            self.playback(cid, PlaybackCommand.play())
            self.playback(cid, PlaybackCommand.seek(0))  # playing: on from the first frame
            return
        if status.state.value != "ended":  # network cameras and webcams reconnect instead: they never end
            raise Conflict(f"camera {cid} is {status.state.value}: only a camera whose file ended can be replayed")
        prompts, recording = self.pipeline.prompts_of(cid), self.pipeline.recording_of(cid)
        zones = self.pipeline.zones_of(cid) if hasattr(self.pipeline, "zones_of") else None
        self.remove_camera(cid, changed=False)
        self.add_camera(camera.spec, prompts, camera_id=cid, name=camera.name, segment_seconds=camera.segment_seconds,
                        open_source=camera.opener)
        self._cameras[cid].record_folder, self._cameras[cid].zones = camera.record_folder, camera.zones
        if zones is not None:
            self.pipeline.set_zones(zones, cid)
        if recording is not None:
            self.start_recording(cid)

    def playback(self, cid: int, command: PlaybackCommand | None = None) -> dict:
        """Runs a playback command on a file camera (None: none); the position asked for, or the
        one shown. A live camera: 409; a frame outside the file: 422 (PlaybackError)."""
        self.camera(cid)
        try:
            control = self.pipeline.playback(cid)
        except (NotPlayable, AttributeError) as err:  # AttributeError: the cluster pipeline has no playback
            raise Conflict(str(err) if isinstance(err, NotPlayable) else
                           "playback runs in the local pipeline: this server runs its cameras on a cluster") from None
        except FastSAMVideoError:
            raise NotFound(f"unknown camera id {cid}: GET /api/cameras lists the cameras") from None
        position = control.apply(command) if command is not None else control.position()
        return position.to_dict()

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
                "size": list(status.frame_size) if status.frame_size else None,
                "zones": [count.to_dict() for count in status.zones],
                "playback": status.playback.to_dict() if getattr(status, "playback", None) else None}

    def _on_result(self, result: Result) -> None:
        """The pipeline's results thread: references only, nothing waits."""
        camera = self._cameras.get(result.camera)
        if camera is None:
            return
        camera.latest = result
        self.pipeline.mark_displayed(result.camera)
        if self.review is not None:
            self.review.on_result(result)
        camera.stream.publish(result.annotated, frame_time(result.frame))
        for observe in self._observers:
            observe(result)

    def observe_results(self, observe: Callable[[Result], None]) -> None:
        """`observe(result)` for every result, on the results thread: it must not wait (the metrics)."""
        self._observers.append(observe)

    def _on_event(self, event: Event) -> None:
        camera = self._cameras.get(event.camera)
        if camera is not None and event.kind in (EventKind.OBJECT_NOT_FOUND, EventKind.OBJECT_REJECTED):
            camera.notes[event.object_id] = event
        if self.review is not None:
            event = self.review.record(event)  # numbered: the SSE, webhooks and MQTT carry its id
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
                 "prompt": prompt_json(p), "pts": p.pts}
                for p in sorted(self.pipeline.prompts_of(cid).objects, key=lambda p: p.object_id)]

    def add_object(self, cid: int, *, points=None, box=None, text=None, pts=None) -> int:
        """A new tracked object from one prompt; its id. `pts`: the time of the frame the prompt
        was given on (X-Frame-Pts of what the viewer saw), else the next frame."""
        return self._put_object(cid, None, points, box, text, pts)

    def update_object(self, cid: int, oid: int, *, points=None, box=None, text=None, pts=None) -> None:
        """Replace an object's prompt (e.g. a background point added to its points); same id and colour."""
        self._put_object(cid, oid, points, box, text, pts)

    def _put_object(self, cid: int, oid: int | None, points, box, text, pts=None) -> int:
        camera = self.camera(cid)
        given = [name for name, value in (("points", points), ("box", box), ("text", text)) if value is not None]
        if len(given) != 1:
            raise BadRequest(f"expected exactly one of points, box or text, got {len(given)}")
        if pts is not None and not math.isfinite(pts):
            raise BadRequest(f"pts: expected the time in seconds of the frame the prompt was drawn on, got {pts}")
        if text is None and camera.latest is None:
            raise Conflict(f"camera {cid} has no frame yet: retry when its state is running")
        if text is not None:
            parse_text(text)
            self._load_clip()
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
                prompt = ObjectPrompt(oid, points=p.points, labels=p.labels, pts=pts)
            elif box is not None:
                prompt = ObjectPrompt(oid, box=parse_box(box, w, h).box, pts=pts)
            else:
                prompt = ObjectPrompt(oid, text=parse_text(text).text)
            camera.notes.pop(oid, None)
            self.pipeline.set_prompts(prompts.add(prompt), cid)
        self._changed()
        return oid

    def _load_clip(self) -> None:
        """CLIP for a text prompt, loaded here (a request thread) so the cameras never wait."""
        if self.clip is None:
            return
        try:
            self.clip.load()
        except FastSAMVideoError as err:
            raise Unavailable(f"text prompts need CLIP, which cannot load: {err}") from None

    def remove_object(self, cid: int, oid: int) -> None:
        camera = self.camera(cid)
        with self._lock:
            prompts = self.pipeline.prompts_of(cid)
            if all(p.object_id != oid for p in prompts.objects):
                raise NotFound(f"camera {cid} has no object {oid}: GET /api/cameras/{cid}/objects lists them")
            camera.notes.pop(oid, None)
            self.pipeline.set_prompts(prompts.remove(oid), cid)
        self._changed()

    def set_everything(self, cid: int, on: bool) -> None:
        self.camera(cid)
        with self._lock:
            self.pipeline.set_prompts(PromptSet(self.pipeline.prompts_of(cid).objects, everything=bool(on)), cid)
        self._changed()

    # -------------------------------------------------------------- zones and lines
    def _zone_set(self, cid: int) -> ZoneSet:
        """The camera's zones (the caller holds `_lock`)."""
        self._known(cid)
        if not hasattr(self.pipeline, "zones_of"):
            raise Conflict("zones run in the local pipeline: this server runs its cameras on a cluster (--ray)")
        return self.pipeline.zones_of(cid)

    def zones(self, cid: int) -> list[dict]:
        """Each zone's and line's definition (normalised coordinates) and its counts."""
        with self._lock:
            zones = self._zone_set(cid)
        counts = {c.name: c.to_dict() for c in self.status(cid).zones}
        return [{**region.to_dict(), "kind": region.kind,
                 "counts": counts.get(region.name, {"name": region.name, "kind": region.kind, "count": 0})}
                for region in zones]

    def put_zone(self, cid: int, data: dict, name: str | None = None) -> dict:
        """Adds a zone or line (`name` None: a new one, 409 when the name is taken) or replaces the
        one called `name` (PUT: created when missing)."""
        if name is not None:
            if data.get("name") not in (None, name):
                raise BadRequest(f"name: the body names {data['name']!r} but the path {name!r}: they must agree")
            data = {**data, "name": name}
        try:
            region = region_from_dict(data)
        except ZoneError as err:
            raise BadRequest(str(err)) from None
        with self._lock:
            zones = self._zone_set(cid)
            if name is None and zones.get(region.name) is not None:
                raise Conflict(f"camera {cid} already has a zone or line {region.name!r}: "
                               f"PUT /api/cameras/{cid}/zones/{region.name} replaces it")
            self.pipeline.set_zones(zones.put(region), cid)
        self._changed()
        return {**region.to_dict(), "kind": region.kind}

    def remove_zone(self, cid: int, name: str) -> None:
        with self._lock:
            zones = self._zone_set(cid)
            if zones.get(name) is None:
                raise NotFound(f"camera {cid} has no zone or line {name!r}: GET /api/cameras/{cid}/zones lists them")
            self.pipeline.set_zones(zones.remove(name), cid)
        self._changed()

    def cooldown_of(self, cid: int, name: str) -> float:
        """The outlets' cooldown of a camera's zone or line (0 when it is gone)."""
        try:
            region = self.pipeline.zones_of(cid).get(name)
        except (FastSAMVideoError, AttributeError):
            return 0.0
        return region.cooldown if region is not None else 0.0

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
        if name is None and camera.record_folder is not None:  # the config's `record: true`: segments there
            path = camera.record_folder
            path.mkdir(parents=True, exist_ok=True)
        else:
            path = self.recording_path(cid, name)
            self.output_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            current = self.pipeline.recording_of(cid)
            if current is not None and self.record_cameras and name is None:
                return current  # recorded from its start already (--record-cameras; a restored state)
            if current is not None:
                raise Conflict(f"camera {cid} is already recording to {current.name}: "
                               f"DELETE /api/cameras/{cid}/recording first")
            self.pipeline.set_recording(path, cid)
        self._changed()
        return path

    def stop_recording(self, cid: int) -> Path:
        self.camera(cid)
        with self._lock:
            path = self.pipeline.recording_of(cid)
            if path is None:
                raise Conflict(f"camera {cid} is not recording: POST /api/cameras/{cid}/recording starts it")
            self.pipeline.set_recording(None, cid)
        self._changed()
        return path

    # -------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Stops the encoders and the pipeline (recordings finished)."""
        with self._lock:
            cameras, self._cameras = list(self._cameras.values()), {}
        for camera in cameras:
            camera.stream.close()
        self._unsubscribe()
        try:
            self.pipeline.close()
        finally:
            if self.review is not None:
                self.review.close()


def frame_time(frame) -> float:
    """A frame's time as the tracker and the viewers see it (X-Frame-Pts, a prompt's pts)."""
    return frame.pts if frame.pts is not None else frame.t_capture

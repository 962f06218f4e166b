"""Typed events and states shared by the tracker, the pipeline and every front end.

Front ends (the CLI log, the window, the web API) consume these records as they are; none of
them parses text. `Event.message()` is the one human-readable wording.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Callable


class _Named(str, Enum):
    """An enum whose value is its lower-case name; compares equal to that string (JSON-friendly)."""

    def __str__(self) -> str:
        return self.value


class ObjectState(_Named):
    TRACKED = "tracked"  # matched to a mask in this frame
    OCCLUDED = "occluded"  # partly hidden: its mask is the union of its visible pieces
    PREDICTED = "predicted"  # no mask fits for a few frames: its mask is carried forward by motion
    LOST = "lost"  # no mask fits; drawn as a dashed predicted box, re-acquired when it is seen again

    @property
    def shown(self) -> bool:
        """Drawn and exported with a mask (every state but lost)."""
        return self is not ObjectState.LOST


class ConnectionStatus(_Named):
    """Where a live source (network camera, webcam) stands."""

    CONNECTING = "connecting"  # the first attempt is under way
    CONNECTED = "connected"  # frames flow
    RECONNECTING = "reconnecting"  # lost or never reached; waiting for or making the next attempt
    CLOSED = "closed"


class CameraState(_Named):
    """Where one camera of a pipeline stands (`Pipeline.status(camera).state`)."""

    STARTING = "starting"  # no frame yet (opening, first connection attempt)
    RUNNING = "running"  # frames flow
    RECONNECTING = "reconnecting"  # a network camera lost its stream and is retrying
    ENDED = "ended"  # the source ended (end of file, max_frames) or the camera was removed
    FAILED = "failed"  # the camera stopped on an error; the others go on


class EventKind(_Named):
    OBJECT_ADDED = "object_added"
    OBJECT_UPDATED = "object_updated"  # its prompt changed
    OBJECT_REMOVED = "object_removed"  # the user removed it
    OBJECT_NOT_FOUND = "object_not_found"  # nothing under its prompt
    OBJECT_REJECTED = "object_rejected"  # the prompt cannot run (e.g. no CLIP weights)
    OBJECT_LOST = "object_lost"
    OBJECT_REACQUIRED = "object_reacquired"
    OBJECT_DROPPED = "object_dropped"  # lost for longer than the tracker keeps objects
    CAMERA_ADDED = "camera_added"
    CAMERA_REMOVED = "camera_removed"
    CAMERA_CONNECTED = "camera_connected"
    CAMERA_RECONNECTING = "camera_reconnecting"
    CAMERA_RESIZED = "camera_resized"  # the frame size changed mid-stream
    CAMERA_ENDED = "camera_ended"
    CAMERA_FAILED = "camera_failed"
    CAMERA_RESTARTED = "camera_restarted"  # a cluster camera came back on another node after a loss
    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    SINK_FAILED = "sink_failed"  # a recorder or exporter of one camera stopped (disk full, file removed)
    ZONE_ENTERED = "zone_entered"  # an object is inside a zone (held `inertia` frames)
    ZONE_LEFT = "zone_left"  # it left the zone (held `inertia` frames outside), or the tracker dropped it there
    LINE_CROSSED = "line_crossed"  # its mask centroid crossed a line (`direction` in / out)
    LOITERING = "loitering"  # it has stayed in a zone for the zone's loiter_seconds


ZONE_KINDS = frozenset({EventKind.ZONE_ENTERED, EventKind.ZONE_LEFT, EventKind.LINE_CROSSED, EventKind.LOITERING})


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to one object or camera. `camera` is the camera's 0-based index
    (its stable id in the pipeline: 0, 1, ... in the order added, never reused), `pts` the frame's time in seconds (presentation time, else capture time),
    `wall_time` time.time(); `detail` the free part of the message (a prompt kind, an error)."""

    kind: EventKind
    camera: int = 0
    object_id: int | None = None
    pts: float | None = None
    wall_time: float = field(default_factory=time.time)
    detail: str = ""
    frames: int | None = None  # re-acquired after this many frames
    zone: str | None = None  # zone events: the zone's or line's name
    direction: str | None = None  # line_crossed: "in" (from the line's left to its right) or "out"
    frame: int | None = None  # zone events: the frame index where it happened

    def message(self) -> str:
        who = f"object {self.object_id}" if self.object_id is not None else f"camera {self.camera + 1}"
        k = EventKind
        text = {
            k.OBJECT_ADDED: f"{who} added ({self.detail})",
            k.OBJECT_UPDATED: f"{who} updated ({self.detail})",
            k.OBJECT_REMOVED: f"{who} removed",
            k.OBJECT_NOT_FOUND: f"{who}: {self.detail}",
            k.OBJECT_REJECTED: f"{who}: {self.detail}",
            k.OBJECT_LOST: f"{who} lost",
            k.OBJECT_REACQUIRED: f"{who} re-acquired after {self.frames} frames",
            k.OBJECT_DROPPED: f"{who} dropped: {self.detail}",
            k.CAMERA_ADDED: f"{who} added",
            k.CAMERA_REMOVED: f"{who} removed",
            k.CAMERA_CONNECTED: f"{who} connected",
            k.CAMERA_RECONNECTING: f"{who} reconnecting",
            k.CAMERA_RESIZED: f"{who} frame size changed",
            k.CAMERA_ENDED: f"{who} ended",
            k.CAMERA_FAILED: f"{who} failed",
            k.CAMERA_RESTARTED: f"{who} restarted",
            k.RECORDING_STARTED: f"{who} recording started",
            k.RECORDING_STOPPED: f"{who} recording stopped",
            k.SINK_FAILED: f"{who} output failed",
            k.ZONE_ENTERED: f"{who} entered {self.zone}",
            k.ZONE_LEFT: f"{who} left {self.zone}",
            k.LINE_CROSSED: f"{who} crossed {self.zone} ({self.direction})",
            k.LOITERING: f"{who} loitering in {self.zone}",
        }[self.kind]
        if self.object_id is None and self.detail and self.kind not in (k.OBJECT_REJECTED, k.OBJECT_NOT_FOUND):
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return self.message()

    def on_camera(self, camera: int) -> Event:
        return replace(self, camera=camera)

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "camera": self.camera, "object_id": self.object_id, "pts": self.pts,
                "wall_time": self.wall_time, "detail": self.detail, "frames": self.frames,
                "zone": self.zone, "direction": self.direction, "frame": self.frame, "message": self.message()}


class Subscribers:
    """Event callbacks (a pipeline's `subscribe`): `add` returns the function that removes the
    callback; `emit` calls each one, and a failing one is logged, never raised (a broken
    listener must not stop the cameras)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: tuple[Callable[[Event], None], ...] = ()

    def add(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def remove() -> None:
            with self._lock:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)
        return remove

    def emit(self, event: Event) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:
                logging.getLogger(__name__).exception("an event subscriber failed on %s", event.kind)

"""The event history (what the review page shows): the event store, a snapshot per event, clips
cut from the recordings.

`Review` is what a server plugs in: `record(event)` (any thread) stores the event and returns it
with its id; `on_result(result)` (the results thread) hands the camera's next frame to the
snapshot writer for the events waiting for one. Neither waits on the disk. No front end inside:
the web app and the window read `store`, `snapshots` and `clip`.
"""

from __future__ import annotations

import collections
from dataclasses import replace
from pathlib import Path

import av

from ..events import Event, EventKind
from .clips import Clip, ClipError, cut_clip
from .snapshots import SnapshotWriter
from .store import EventStore, Segment, StoreError

__all__ = ["Clip", "ClipError", "EventStore", "Review", "Segment", "SnapshotWriter", "StoreError", "cut_clip"]

PRE_S = POST_S = 5.0  # a clip's seconds before and after its event (Frigate's default)
MAX_SPAN_S = 120.0


class Review:
    """The event store at `db_path` and its snapshots folder beside it (`events-snapshots/`)."""

    def __init__(self, db_path: str | Path, snapshots: str | Path | None = None):
        db_path = Path(db_path)
        self.store = EventStore(db_path)
        self.snapshots = SnapshotWriter(snapshots or db_path.with_name(f"{db_path.stem}-snapshots"), self.track_of)
        self._waiting: dict[int, collections.deque[int]] = {}  # camera -> ids of events without a snapshot yet
        self._added: dict[tuple[int, int], int] = {}  # (camera, object id) -> times added (ids come back)

    def track_of(self, camera: int, object_id: int) -> str:
        """The name of an object's track (its thumbnail): unique across runs and reused ids."""
        n = self._added.get((camera, object_id), 1)
        return f"{self.store.run}-{camera}-{object_id}" + (f"-{n}" if n > 1 else "")

    def record(self, event: Event) -> Event:
        if event.object_id is not None and event.kind is EventKind.OBJECT_ADDED:
            key = (event.camera, event.object_id)
            self._added[key] = self._added.get(key, 0) + 1
            self.snapshots.forget(*key)  # a new object with this id: a new best frame
        eid = self.store.add(event, self.track_of(event.camera, event.object_id) if event.object_id is not None
                             else None)
        if event.kind not in (EventKind.CAMERA_REMOVED, EventKind.CAMERA_ENDED, EventKind.RECORDING_SEGMENT):
            self._waiting.setdefault(event.camera, collections.deque()).append(eid)
        return replace(event, id=eid)

    def on_result(self, result) -> None:
        """The results thread: this frame is the snapshot of the camera's events waiting for one
        (the frame they happened on, for the tracker's events, which come just before it)."""
        waiting = self._waiting.get(result.camera)
        ids = []
        while waiting:
            try:
                ids.append(waiting.popleft())
            except IndexError:
                break
        if ids or result.objects:  # a frame with nothing to save or to measure is not queued
            self.snapshots.offer(result, ids)

    def clip(self, eid: int, pre: float = PRE_S, post: float = POST_S) -> tuple[Clip, float]:
        """(the clip around event `eid`, the event's offset in it). ClipError if there is none."""
        where = self.store.segment_of(eid)
        if where is None:
            raise KeyError(eid)
        camera, segment, _, wall = where
        if segment is None:
            raise ClipError(f"event {eid} has no clip: it was not recorded, or its recording was deleted")
        segments = self.store.segments(camera, wall - pre, wall + post)
        if not any(Path(s.path).exists() for s in segments):
            self.store.prune_missing()
            raise ClipError(f"event {eid} has no clip: its recording was deleted")
        try:
            clip = cut_clip([s for s in segments if Path(s.path).exists()], wall - pre, wall + post)
        except (av.error.FFmpegError, OSError, ValueError) as err:  # a damaged file, a full temp folder
            raise ClipError(f"event {eid}: its recording cannot be cut ({type(err).__name__}: {err})") from err
        return clip, clip.offset_of(wall)

    def close(self) -> None:
        self.snapshots.close()
        self.store.close()
